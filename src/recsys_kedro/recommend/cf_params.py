"""Typed parameters of the cf pipeline (``parameters_cf.yml``) and of its tuning
(``parameters_cf_tuning.yml``).

Checked by :class:`recsys_kedro.hooks.ParameterHooks` before any node runs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from recsys_kedro.evaluation.bootstrap import BootstrapParams
from recsys_kedro.evaluation.split import TimeSplitParams


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlsParams(_Strict):
    """Spark ML ALS with implicit feedback, the comparison model."""

    rank: int = Field(32, ge=1)
    max_iter: int = Field(10, ge=1)
    reg_param: float = Field(0.05, ge=0)
    alpha: float = Field(10.0, ge=0)
    seed: int = 42
    candidates: int = Field(
        50, ge=0, description="Extra items asked of ALS so exclusions still leave k."
    )
    max_users: int | None = Field(
        200_000,
        ge=1,
        description="Users ALS is fitted on: every evaluated user (even above this), "
        "then a seeded hash sample of the other training users up to this many; null: "
        "all. "
        "Keeps the fit's cost flat above this size.",
    )


EvaluatedModel = Literal[
    "popularity", "recent_popularity", "repeat", "item_cosine", "blend", "als"
]


class EvaluationParams(_Strict):
    """How the models are compared on the period after ``params:time_split``'s cut-off."""

    k: int = Field(10, ge=1)
    relevant_event_types: list[str] = Field(
        default_factory=lambda: ["view", "cart", "purchase"]
    )
    models: list[EvaluatedModel] = Field(
        default_factory=lambda: [
            "popularity",
            "recent_popularity",
            "repeat",
            "item_cosine",
            "blend",
            "als",
        ]
    )
    exclude: Literal["none", "purchased", "interacted"] = Field(
        "none",
        description="Products no model may recommend to a user, the same for all.",
    )
    recent_days: float = Field(7.0, gt=0)
    repeat_half_life_days: float = Field(14.0, gt=0)
    blend_weight: float = Field(0.5, ge=0, le=1)
    bootstrap: BootstrapParams = Field(default_factory=BootstrapParams)
    als: AlsParams = Field(default_factory=AlsParams)

    @model_validator(mode="after")
    def _baseline(self) -> EvaluationParams:
        if "popularity" not in self.models:
            raise ValueError(
                "evaluation.models must include 'popularity': every model's "
                "difference is measured against it"
            )
        if len(set(self.models)) != len(self.models):
            raise ValueError(f"evaluation.models repeats a model: {self.models}")
        return self


class CfParams(_Strict):
    """Interaction matrix, similarity and per-user recommendations."""

    row: Literal["user_id", "user_session"] = "user_id"
    event_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "view": 1.0,
            "cart": 3.0,
            "remove_from_cart": -1.0,
            "purchase": 5.0,
        }
    )
    half_life_days: float | None = Field(None, gt=0)
    weight_transform: Literal["log1p", "none", "binary"] = "log1p"
    max_products_per_row: int | None = Field(1000, ge=1)
    heavy_rows: Literal["drop", "cap"] = "drop"
    top_n: int = Field(20, ge=1)
    similarity_alpha: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Asymmetric cosine: 0.5 is the cosine, towards 1 P(j | i).",
    )
    min_similarity: float = Field(0.0, ge=0, lt=1)
    blocks: int | None = Field(None, ge=1)
    threads_per_block: int = Field(1, ge=1)
    top_k: int = Field(10, ge=1)
    exclude: Literal["purchased", "interacted", "none"] = "purchased"
    popular_pool: int = Field(100, ge=1)
    evaluation: EvaluationParams = Field(default_factory=EvaluationParams)

    @model_validator(mode="after")
    def _check(self) -> CfParams:
        known = {"view", "cart", "remove_from_cart", "purchase"}
        unknown = sorted(set(self.event_weights) - known)
        if unknown:
            raise ValueError(
                f"event_weights names unknown event types {unknown}; known: {sorted(known)}"
            )
        if self.top_k > self.popular_pool:
            raise ValueError(
                f"top_k ({self.top_k}) must not exceed popular_pool ({self.popular_pool}): "
                "the fallback could not fill a user's list"
            )
        return self


class AlsGrid(_Strict):
    """Spark ML ALS values tried (every combination)."""

    rank: list[int] = Field(default_factory=lambda: [16, 32], min_length=1)
    alpha: list[float] = Field(default_factory=lambda: [1.0, 10.0], min_length=1)
    reg_param: list[float] = Field(default_factory=lambda: [0.05], min_length=1)


class CfGrid(_Strict):
    """Values tried for item cosine (every combination) and the blend."""

    half_life_days: list[float | None] = Field(
        default_factory=lambda: [None, 60.0], min_length=1
    )
    similarity_alpha: list[float] = Field(
        default_factory=lambda: [0.5, 0.7, 0.9], min_length=1
    )
    top_n: list[int] = Field(default_factory=lambda: [20, 50], min_length=1)
    blend_weight: list[float] = Field(
        default_factory=lambda: [0.25, 0.5, 0.75], min_length=1
    )
    als: AlsGrid = Field(default_factory=AlsGrid)


class CfTuningParams(_Strict):
    """The validation window, what is maximised, and the grid."""

    validation: TimeSplitParams = Field(default_factory=TimeSplitParams)
    metric: Literal["hit_rate", "precision", "recall", "ndcg", "map"] = "ndcg"
    segment: Literal["all", "repeat", "new"] = "all"
    grid: CfGrid = Field(default_factory=CfGrid)
