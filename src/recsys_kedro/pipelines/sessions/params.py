"""Typed parameters of the sessions pipeline (``parameters_sessions.yml``).

Checked by :class:`recsys_kedro.hooks.ParameterHooks` before any node runs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from recsys_kedro.next_item.model import SessionModelParams

EVALUATED_MODELS = (
    "popularity",
    "recent_popularity",
    "item_cosine",
    "fpgrowth_rules",
    "sequential_rules",
    "session_knn",
    "blend",
    "reranked",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionEvaluationParams(_Strict):
    """Next-item evaluation on the test period of ``params:time_split``."""

    models: list[Literal[EVALUATED_MODELS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(EVALUATED_MODELS)
    )
    bootstrap: int = Field(1000, ge=10, description="Paired bootstrap resamples.")
    level: float = Field(0.95, gt=0, lt=1)
    seed: int = 0


class SessionsParams(_Strict):
    """Session sequences, the fitted model and the recommendations it writes."""

    event_types: list[Literal["view", "cart", "remove_from_cart", "purchase"]] = Field(
        default_factory=lambda: ["view", "cart", "remove_from_cart", "purchase"]
    )
    collapse_repeats: bool = Field(
        True, description="Merge consecutive events on the same product into one."
    )
    max_sessions: int = Field(
        1_000_000,
        ge=2,
        description="Newest training sessions the model keeps (bounds its size).",
    )
    recent_days: float = Field(1.0, gt=0)
    top_n: int = Field(10, ge=1)
    model: SessionModelParams = Field(default_factory=SessionModelParams)
    evaluation: SessionEvaluationParams = Field(default_factory=SessionEvaluationParams)
