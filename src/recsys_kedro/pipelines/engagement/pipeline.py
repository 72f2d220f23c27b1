"""engagement pipeline: point-in-time examples, a time split, a Spark ML classifier
logged and registered in MLflow, and its evaluation against two baselines."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from recsys_kedro.evaluation import split_events_by_time
from recsys_kedro.pipelines.engagement.nodes import (
    confusion_matrix_figure,
    engagement_examples,
    evaluate_engagement_model,
    train_engagement_model,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Creates the engagement pipeline.

    Returns:
        The pipeline.
    """
    return Pipeline(
        [
            node(
                engagement_examples,
                "events_engagement",
                "engagement_examples",
                name="engagement_examples_node",
            ),
            node(
                split_events_by_time,
                ["engagement_examples", "params:time_split"],
                ["engagement_train", "engagement_test", "engagement_split"],
                name="engagement_split_node",
            ),
            node(
                train_engagement_model,
                ["engagement_train", "params:engagement"],
                ["engagement_model", "engagement_train_info"],
                name="train_engagement_model_node",
            ),
            node(
                evaluate_engagement_model,
                [
                    "engagement_model",
                    "engagement_train",
                    "engagement_test",
                    "engagement_train_info",
                    "params:engagement_levels",
                ],
                [
                    "engagement_metrics",
                    "engagement_evaluation",
                    "engagement_confusion",
                ],
                name="evaluate_engagement_model_node",
            ),
            node(
                confusion_matrix_figure,
                "engagement_confusion",
                "engagement_confusion_matrix",
                name="engagement_confusion_matrix_node",
            ),
        ]
    )
