"""Typed parameters of the feature_engineering pipeline
(``parameters_feature_engineering.yml``).

Checked by :class:`recsys_kedro.hooks.ParameterHooks` before any node runs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MatcherParams(_Strict):
    """Event products matched to review products when no mapping file is given."""

    threshold: float = Field(
        0.75, ge=0, le=1, description="Lowest match score kept as a mapping pair."
    )
    brand_weight: float = Field(0.5, ge=0)
    price_weight: float = Field(0.5, ge=0)
    category_weight: float = Field(0.0, ge=0)
    price_tolerance: float = Field(
        0.25,
        gt=0,
        description="Relative price difference at which the price score reaches 0.",
    )
    category_pairs: dict[str, str] = Field(
        default_factory=dict,
        description="Event category_code prefix -> review primary_category, for the "
        "category score (the two shops' category trees differ).",
    )

    @model_validator(mode="after")
    def _check(self) -> MatcherParams:
        total = self.brand_weight + self.price_weight + self.category_weight
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"matcher weights must add up to 1, not {total}")
        if self.category_weight > 0 and not self.category_pairs:
            raise ValueError("category_weight > 0 needs category_pairs")
        return self


class FeatureEngineeringParams(_Strict):
    """Matcher and scaling (the engagement levels are ``params:engagement_levels``)."""

    matcher: MatcherParams = Field(default_factory=MatcherParams)
    scaling: Literal["standard", "minmax"] = "standard"
