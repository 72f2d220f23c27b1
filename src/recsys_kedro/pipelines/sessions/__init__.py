"""sessions: next-item recommendations for the session in progress.

``create_pipeline`` is imported on first use only, so code that needs the parameters
alone does not pull in Spark.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_pipeline"]


def __getattr__(name: str) -> Any:
    if name == "create_pipeline":
        from recsys_kedro.pipelines.sessions.pipeline import create_pipeline  # noqa: PLC0415

        return create_pipeline
    raise AttributeError(name)
