"""The cf pipeline: fit on all events, evaluate on a time split, log the model."""

from kedro.pipeline import Node, Pipeline

from recsys_kedro.evaluation.split import split_node
from recsys_kedro.pipelines.cf.nodes import (
    build_interactions,
    cf_metrics,
    evaluate_recommenders,
    item_similarities,
    popular_products,
    product_recommendations_wide,
    recommend_for_users,
    recommender_model,
)


def _fit(events: str) -> Pipeline:
    """Interactions -> neighbours and popular products, from ``events``."""
    return Pipeline(
        [
            Node(
                func=build_interactions,
                inputs=[events, "params:cf"],
                outputs=["cf_interactions", "cf_user_history", "cf_interaction_stats"],
                name="build_interactions_node",
            ),
            Node(
                func=item_similarities,
                inputs=["cf_interactions", "params:cf"],
                outputs=["product_recommendations_long", "cf_similarity_stats"],
                name="item_similarities_node",
            ),
            Node(
                func=popular_products,
                inputs=["cf_interactions", "params:cf"],
                outputs="popular_products",
                name="popular_products_node",
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Neighbours, user recommendations, evaluation and the MLflow model."""
    fit_all = _fit("events_clean")
    fit_train = Pipeline(
        _fit("events"),
        namespace="cf_evaluation",
        inputs={"events": "train_events"},
        outputs={
            "cf_interactions": "cf_train_interactions",
            "cf_user_history": "cf_train_user_history",
            "cf_interaction_stats": "cf_train_interaction_stats",
            "product_recommendations_long": "cf_train_neighbours",
            "cf_similarity_stats": "cf_train_similarity_stats",
            "popular_products": "cf_train_popular_products",
        },
        parameters={"params:cf": "params:cf"},
        prefix_datasets_with_namespace=True,
    )
    serve = Pipeline(
        [
            Node(
                func=product_recommendations_wide,
                inputs=["product_recommendations_long", "params:cf"],
                outputs="product_recommendations",
                name="product_recommendations_wide_node",
            ),
            Node(
                func=recommend_for_users,
                inputs=[
                    "cf_user_history",
                    "product_recommendations_long",
                    "popular_products",
                    "params:cf",
                ],
                outputs=["user_recommendations", "cf_user_stats"],
                name="recommend_for_users_node",
            ),
            Node(
                func=recommender_model,
                inputs=[
                    "product_recommendations_long",
                    "popular_products",
                    "user_recommendations",
                    "params:cf",
                ],
                outputs="cf_model",
                name="recommender_model_node",
            ),
            Node(
                func=cf_metrics,
                inputs=[
                    "cf_interaction_stats",
                    "cf_similarity_stats",
                    "cf_user_stats",
                ],
                outputs="cf_metrics",
                name="cf_metrics_node",
            ),
        ]
    )
    evaluate = Pipeline(
        [
            split_node(),
            Node(
                func=evaluate_recommenders,
                inputs=[
                    "cf_train_interactions",
                    "cf_train_user_history",
                    "cf_train_neighbours",
                    "cf_train_popular_products",
                    "train_events",
                    "test_events",
                    "time_split_info",
                    "params:cf",
                ],
                outputs=["cf_evaluation_table", "cf_evaluation_metrics"],
                name="evaluate_recommenders_node",
            ),
        ]
    )
    return Pipeline([fit_all, serve, fit_train, evaluate], tags="cf")
