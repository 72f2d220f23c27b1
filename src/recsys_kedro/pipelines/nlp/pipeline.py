"""nlp pipeline: review text -> tokens, lemmas, stems, sentiment, embeddings."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from recsys_kedro.pipelines.nlp.nodes import (
    annotate_reviews,
    embed_new_texts,
    evaluate_sentiment,
    nlp_metrics,
    nlp_report,
    product_sentiment,
    product_text_embeddings,
    resolve_models,
    review_embeddings,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Creates the nlp pipeline.

    Returns:
        The pipeline.
    """
    return Pipeline(
        [
            node(
                resolve_models,
                inputs="params:nlp",
                outputs="nlp_models",
                name="nlp_resolve_models_node",
            ),
            node(
                annotate_reviews,
                inputs=["reviews_clean", "products_clean", "params:nlp", "nlp_models"],
                outputs="reviews_nlp",
                name="annotate_reviews_node",
            ),
            node(
                evaluate_sentiment,
                inputs=["reviews_nlp", "params:nlp"],
                outputs="sentiment_evaluation",
                name="evaluate_sentiment_node",
            ),
            node(
                embed_new_texts,
                inputs=[
                    "reviews_nlp",
                    "products_clean",
                    "embedding_cache",
                    "params:nlp",
                    "nlp_models",
                ],
                outputs=["embedding_cache_updated", "embedding_stats"],
                name="embed_new_texts_node",
            ),
            node(
                review_embeddings,
                inputs=["reviews_nlp", "embedding_cache_updated", "nlp_models"],
                outputs="review_embeddings",
                name="review_embeddings_node",
            ),
            node(
                product_text_embeddings,
                inputs=[
                    "reviews_nlp",
                    "review_embeddings",
                    "products_clean",
                    "embedding_cache_updated",
                    "params:nlp",
                    "nlp_models",
                ],
                outputs="product_text_embeddings",
                name="product_text_embeddings_node",
            ),
            node(
                product_sentiment,
                inputs="reviews_nlp",
                outputs="product_sentiment",
                name="product_sentiment_node",
            ),
            node(
                nlp_metrics,
                inputs=[
                    "reviews_nlp",
                    "review_embeddings",
                    "sentiment_evaluation",
                    "embedding_stats",
                ],
                outputs="nlp_metrics",
                name="nlp_metrics_node",
            ),
            node(
                nlp_report,
                inputs=["sentiment_evaluation", "embedding_stats", "nlp_models"],
                outputs="nlp_report",
                name="nlp_report_node",
            ),
        ]
    )
