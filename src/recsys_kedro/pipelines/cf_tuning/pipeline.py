"""The cf_tuning pipeline (opt-in: left out of ``__default__``)."""

from kedro.pipeline import Node, Pipeline

from recsys_kedro.evaluation.split import split_node
from recsys_kedro.pipelines.cf_tuning.nodes import tune_cf


def create_pipeline(**kwargs) -> Pipeline:
    """The shared time split, then cf's validation grid on the training events only.

    Returns:
        The pipeline.
    """
    return Pipeline(
        [
            split_node(),
            Node(
                func=tune_cf,
                inputs=["train_events", "params:cf", "params:cf_tuning"],
                outputs=["cf_tuning_table", "cf_tuned_parameters", "cf_tuning_metrics"],
                name="tune_cf_node",
            ),
        ],
        tags="cf_tuning",
    )
