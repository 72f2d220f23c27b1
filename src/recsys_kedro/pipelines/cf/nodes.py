"""Nodes of the cf pipeline.

The fitting, scoring and evaluation functions live in
:mod:`recsys_kedro.recommend.cf_training`, because the ``cf_tuning`` pipeline fits and
scores the same models; this module names the ones the cf pipeline runs as nodes.
"""

from recsys_kedro.recommend.cf_training import (
    build_interactions,
    cf_metrics,
    evaluate_recommenders,
    item_similarities,
    popular_products,
    product_recommendations_wide,
    recommend_for_users,
    recommender_model,
)

__all__ = [
    "build_interactions",
    "cf_metrics",
    "evaluate_recommenders",
    "item_similarities",
    "popular_products",
    "product_recommendations_wide",
    "recommend_for_users",
    "recommender_model",
]
