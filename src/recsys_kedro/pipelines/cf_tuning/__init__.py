"""``kedro run --pipeline=cf_tuning``: the cf package's tuning pipeline under its own name.

Its node and parameters live with the cf pipeline (``pipelines/cf/tuning.py``,
``CfTuningParams``), whose fitting and scoring functions it reuses; this folder only gives
Kedro a pipeline folder to find, so that a run of this pipeline alone loads it.
"""

from recsys_kedro.pipelines.cf_tuning.pipeline import create_pipeline

__all__ = ["create_pipeline"]
