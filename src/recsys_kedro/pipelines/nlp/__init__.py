"""Review text: cleaning, lemmas, stems, sentiment and transformer embeddings.

``create_pipeline`` is imported on first use only, so the text functions (used inside
Spark's Python workers and by the benchmarks) do not pull in the pipeline's Spark code.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_pipeline"]


def __getattr__(name: str) -> Any:
    if name == "create_pipeline":
        from recsys_kedro.pipelines.nlp.pipeline import create_pipeline  # noqa: PLC0415

        return create_pipeline
    raise AttributeError(name)
