"""Chooses the cf parameters on a validation window inside the training period.

It fits and scores with the same functions as the cf pipeline, from
:mod:`recsys_kedro.recommend.cf_training` (shared code lives outside ``pipelines/``).
"""

from recsys_kedro.pipelines.cf_tuning.pipeline import create_pipeline

__all__ = ["create_pipeline"]
