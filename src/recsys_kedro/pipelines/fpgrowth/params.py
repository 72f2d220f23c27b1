"""Typed parameters of the fpgrowth pipeline (``parameters_fpgrowth.yml``).

Checked by :class:`recsys_kedro.hooks.ParameterHooks` before any node runs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from recsys_kedro.evaluation.bootstrap import BootstrapParams


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CrossSellParams(_Strict):
    """Rules as a cross-sell recommender, and their blend with cf."""

    k: int = Field(10, ge=1)
    blend_weight: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Weight of the rule score in the hybrid (cf: 1 - w).",
    )
    hybrid_top_n: int = Field(20, ge=1)
    bootstrap: BootstrapParams = Field(default_factory=BootstrapParams)


class FpGrowthParams(_Strict):
    """Baskets, mining thresholds and reporting."""

    basket: Literal["user_session", "user_id"] = "user_session"
    event_types: list[Literal["view", "cart", "remove_from_cart", "purchase"]] = Field(
        default_factory=lambda: ["cart", "purchase"]
    )
    min_count: int = 10
    min_confidence: float = Field(0.1, gt=0, le=1)
    num_partitions: int | None = Field(None, ge=1)
    max_basket_size: int = Field(50, ge=2)
    artifact_rows: int = Field(100_000, ge=1)
    top_rules: int = Field(20, ge=1)
    crosssell: CrossSellParams = Field(default_factory=CrossSellParams)

    @model_validator(mode="after")
    def _check(self) -> FpGrowthParams:
        if self.min_count < 2:
            raise ValueError(
                f"min_count = {self.min_count}: an itemset must be in at least 2 baskets. "
                "With 1, every subset of every basket is frequent (2^size itemsets for a "
                "basket of that size) and the search explodes"
            )
        if not self.event_types:
            raise ValueError(
                "event_types is empty: no event would put a product in a basket"
            )
        return self
