"""engagement pipeline: one example per first view of a product in a session, its
features from before the view, a time split, a Spark ML classifier of the session's
outcome logged and registered in MLflow, and its evaluation against three baselines."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from recsys_kedro.pipelines.engagement.nodes import (
    confusion_matrix_figure,
    engagement_examples,
    evaluate_engagement_model,
    split_engagement_examples,
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
                split_engagement_examples,
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
                    "params:engagement",
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
