"""The cf_tuning pipeline (opt-in: left out of ``__default__``)."""

from kedro.pipeline import Pipeline

from recsys_kedro.pipelines.cf.pipeline import create_tuning_pipeline


def create_pipeline(**kwargs) -> Pipeline:
    """The shared time split, then cf's validation grid on the training events only.

    Returns:
        The pipeline.
    """
    return create_tuning_pipeline(**kwargs)
