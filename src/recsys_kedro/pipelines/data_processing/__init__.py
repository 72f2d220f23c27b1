"""data_processing: validate, clean and quarantine the raw files into Delta tables."""

from recsys_kedro.pipelines.data_processing.pipeline import create_pipeline

__all__ = ["create_pipeline"]
