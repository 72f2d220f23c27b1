"""Item-item cosine collaborative filtering.

``create_pipeline`` is imported on first use only, so the served MLflow model (which
imports :mod:`recsys_kedro.pipelines.cf.model` and ``scoring``) and the benchmarks (the
``similarity`` kernel) do not pull in Spark.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_pipeline"]


def __getattr__(name: str) -> Any:
    if name == "create_pipeline":
        from recsys_kedro.pipelines.cf.pipeline import create_pipeline  # noqa: PLC0415

        return create_pipeline
    raise AttributeError(name)
