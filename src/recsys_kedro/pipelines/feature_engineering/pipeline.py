"""feature_engineering pipeline: engagement levels, session features, descriptive user
and product features over the whole period, the inferred product mapping, and the
model-ready user and product features as of the cut-off (training events only), scaled
with statistics of those same features."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from recsys_kedro.evaluation import split_events_by_time
from recsys_kedro.pipelines.feature_engineering.nodes import (
    engagement_levels,
    fit_scaler,
    infer_product_mapping,
    mapping_quality,
    product_event_features,
    product_features,
    resolve_product_mapping,
    scale_product_features,
    scale_user_features,
    session_features,
    user_features,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Creates the feature_engineering pipeline.

    Returns:
        The pipeline.
    """
    return Pipeline(
        [
            node(
                engagement_levels,
                ["events_clean", "params:engagement_levels"],
                "events_engagement",
                name="engagement_levels_node",
            ),
            node(
                session_features,
                "events_engagement",
                "session_features",
                name="session_features_node",
            ),
            node(
                product_event_features,
                "events_engagement",
                "product_event_features",
                name="product_event_features_node",
            ),
            node(
                infer_product_mapping,
                [
                    "product_event_features",
                    "products_clean",
                    "params:feature_engineering",
                ],
                "product_mapping_inferred",
                name="infer_product_mapping_node",
            ),
            node(
                resolve_product_mapping,
                ["product_mapping_clean", "product_mapping_inferred"],
                "product_mapping",
                name="resolve_product_mapping_node",
            ),
            node(
                product_features,
                [
                    "product_event_features",
                    "product_mapping",
                    "product_sentiment",
                    "product_text_embeddings",
                ],
                "product_features_unscaled",
                name="product_features_node",
            ),
            node(
                mapping_quality,
                [
                    "product_mapping_inferred",
                    "product_mapping_clean",
                    "product_features_unscaled",
                ],
                "feature_engineering_metrics",
                name="mapping_quality_node",
            ),
            # What a model may use: features of the events before the global cut-off
            # (params:time_split) only, scaled with their own statistics.
            node(
                split_events_by_time,
                ["events_engagement", "params:time_split"],
                ["fe_train_events", "fe_test_events", "fe_time_split"],
                name="fe_split_events_by_time_node",
            ),
            node(
                user_features,
                "fe_train_events",
                "fe_train_user_features",
                name="fe_train_user_features_node",
            ),
            node(
                product_event_features,
                "fe_train_events",
                "fe_train_product_event_features",
                name="fe_train_product_event_features_node",
            ),
            node(
                product_features,
                [
                    "fe_train_product_event_features",
                    "product_mapping",
                    "product_sentiment",
                    "product_text_embeddings",
                ],
                "fe_train_product_features",
                name="fe_train_product_features_node",
            ),
            node(
                fit_scaler,
                [
                    "fe_train_user_features",
                    "fe_train_product_event_features",
                    "params:feature_engineering",
                ],
                "feature_scaler",
                name="fit_scaler_node",
            ),
            node(
                scale_user_features,
                ["fe_train_user_features", "feature_scaler", "fe_time_split"],
                "user_features",
                name="scale_user_features_node",
            ),
            node(
                scale_product_features,
                ["fe_train_product_features", "feature_scaler", "fe_time_split"],
                "product_features",
                name="scale_product_features_node",
            ),
        ]
    )
