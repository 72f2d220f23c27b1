"""Typed parameters of the cf_tuning pipeline (``parameters_cf_tuning.yml``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from recsys_kedro.evaluation.split import TimeSplitParams


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
