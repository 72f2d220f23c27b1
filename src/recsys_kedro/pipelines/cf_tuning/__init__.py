"""Chooses the cf parameters on a validation window cut from the training period."""

from recsys_kedro.pipelines.cf_tuning.pipeline import create_pipeline

__all__ = ["create_pipeline"]
