"""eda pipeline: one node per picture (PNG through kedro-datasets' matplotlib dataset,
logged to MLflow), a summary and the Markdown report linking them."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from recsys_kedro.pipelines.eda.nodes import (
    eda_report,
    eda_summary,
    engagement_over_time,
    event_funnel,
    feature_correlations,
    price_distribution,
    product_popularity,
    rating_distribution,
    sentiment_by_rating,
    sessions_per_user,
    top_brands,
)

# picture name -> (node function, inputs)
PICTURES = {
    "price_distribution": (price_distribution, ["events_engagement"]),
    "rating_distribution": (rating_distribution, ["reviews_nlp"]),
    "event_funnel": (
        event_funnel,
        ["events_engagement", "params:engagement_levels"],
    ),
    "engagement_over_time": (
        engagement_over_time,
        ["events_engagement", "params:engagement_levels"],
    ),
    "sessions_per_user": (sessions_per_user, ["session_features"]),
    "product_popularity": (product_popularity, ["product_event_features"]),
    "feature_correlations": (feature_correlations, ["product_features"]),
    "sentiment_by_rating": (sentiment_by_rating, ["reviews_nlp"]),
    "top_brands": (top_brands, ["events_engagement", "params:eda"]),
}


def create_pipeline(**kwargs) -> Pipeline:
    """Creates the eda pipeline.

    Returns:
        The pipeline.
    """
    pictures = [
        node(
            func,
            inputs,
            [f"eda_{name}_plot", f"eda_{name}_caption"],
            name=f"eda_{name}_node",
        )
        for name, (func, inputs) in PICTURES.items()
    ]
    return Pipeline(
        [
            *pictures,
            node(
                eda_summary,
                ["events_engagement", "reviews_nlp"],
                "eda_summary",
                name="eda_summary_node",
            ),
            node(
                eda_report,
                [
                    "eda_summary",
                    "params:eda",
                    *[f"eda_{name}_caption" for name in PICTURES],
                ],
                "eda_report",
                name="eda_report_node",
            ),
        ]
    )
