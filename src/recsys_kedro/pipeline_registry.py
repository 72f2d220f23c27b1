"""Project pipelines."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

OPT_IN = {"cf_tuning"}


def register_pipelines() -> dict[str, Pipeline]:
    """Registers every pipeline by its folder name; ``__default__`` runs them all but
    the opt-in ones (``cf_tuning``: a grid of fits, run when the data changes).

    Returns:
        A mapping from pipeline names to ``Pipeline`` objects.
    """
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(
        p for name, p in pipelines.items() if name not in OPT_IN
    )
    return pipelines
