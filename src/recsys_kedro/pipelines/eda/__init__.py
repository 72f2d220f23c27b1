"""eda pipeline: pictures of the events and reviews, drawn from Spark aggregates, and a
report that links them."""

from recsys_kedro.pipelines.eda.pipeline import create_pipeline

__all__ = ["create_pipeline"]
