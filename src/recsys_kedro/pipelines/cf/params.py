"""Typed parameters of the cf pipeline (``parameters_cf.yml``): defined in
:mod:`recsys_kedro.recommend.cf_params`, shared with ``cf_tuning``."""

from recsys_kedro.recommend.cf_params import AlsParams, CfParams, EvaluationParams

__all__ = ["AlsParams", "CfParams", "EvaluationParams"]
