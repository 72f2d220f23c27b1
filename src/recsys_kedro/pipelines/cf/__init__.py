"""Item-item cosine collaborative filtering.

``create_pipeline`` is imported on first use only, so the benchmarks (the ``similarity``
kernel) do not pull in Spark. The served model is :mod:`recsys_kedro.recommend.cf_model`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_pipeline"]


def __getattr__(name: str) -> Any:
    if name == "create_pipeline":
        from recsys_kedro.pipelines.cf.pipeline import create_pipeline  # noqa: PLC0415

        return create_pipeline
    raise AttributeError(name)
