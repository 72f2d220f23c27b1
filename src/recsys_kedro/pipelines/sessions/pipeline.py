"""The sessions pipeline: sequences, the tuned session model, recommendations for the
sessions in progress, and the next-item evaluation of every model."""

from kedro.pipeline import Node, Pipeline

from recsys_kedro.evaluation.split import split_node
from recsys_kedro.pipelines.sessions.nodes import (
    evaluate_session_models,
    fit_session_recommender,
    recent_session_events,
    recommend_sessions,
    session_sequences,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Fit on the training period, recommend for the last ``recent_days``, evaluate."""
    return Pipeline(
        [
            split_node(),
            Node(
                func=session_sequences,
                inputs=["train_events", "params:sessions"],
                outputs="session_train_sequences",
                name="session_train_sequences_node",
            ),
            Node(
                func=session_sequences,
                inputs=["test_events", "params:sessions"],
                outputs="session_test_sequences",
                name="session_test_sequences_node",
            ),
            Node(
                func=fit_session_recommender,
                inputs=["session_train_sequences", "params:sessions"],
                outputs=["session_model", "session_model_metrics"],
                name="fit_session_recommender_node",
            ),
            Node(
                func=recent_session_events,
                inputs=["events_clean", "params:sessions"],
                outputs="recent_session_events",
                name="recent_session_events_node",
            ),
            Node(
                func=session_sequences,
                inputs=["recent_session_events", "params:sessions"],
                outputs="recent_session_sequences",
                name="recent_session_sequences_node",
            ),
            Node(
                func=recommend_sessions,
                inputs=["session_model", "recent_session_sequences", "params:sessions"],
                outputs="session_recommendations",
                name="recommend_sessions_node",
            ),
            Node(
                func=evaluate_session_models,
                inputs=[
                    "session_model",
                    "session_test_sequences",
                    "cf_train_neighbours",
                    "fpgrowth_train_rules",
                    "time_split_info",
                    "params:sessions",
                ],
                outputs=["sessions_evaluation_table", "sessions_evaluation_metrics"],
                name="evaluate_session_models_node",
            ),
        ],
        tags="sessions",
    )
