"""The order of the job's tasks, from the pipelines themselves."""

from __future__ import annotations

from collections.abc import Mapping

from kedro.pipeline import Pipeline

from recsys_kedro.pipeline_registry import OPT_IN


def pipeline_dependencies(pipelines: Mapping[str, Pipeline]) -> dict[str, set[str]]:
    """For each registered pipeline, the pipelines that write one of its free inputs.

    Args:
        pipelines: The registry (``__default__`` and the opt-in pipelines, e.g.
            ``cf_tuning``, are skipped: the job runs what ``kedro run`` runs).

    Returns:
        Pipeline name -> the names it must run after.
    """
    named = {
        k: p for k, p in pipelines.items() if k != "__default__" and k not in OPT_IN
    }
    outputs = {k: p.all_outputs() for k, p in named.items()}
    return {
        name: {
            other for other in named if other != name and outputs[other] & p.inputs()
        }
        for name, p in named.items()
    }
