"""Typed parameters of the engagement pipeline (``parameters_engagement.yml``).

Checked by :class:`recsys_kedro.hooks.ParameterHooks` before any node runs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogisticRegressionParams(_Strict):
    """Spark ML ``LogisticRegression`` (multinomial)."""

    max_iter: int = Field(100, ge=1)
    reg_param: float = Field(0.0, ge=0)
    elastic_net_param: float = Field(0.0, ge=0, le=1)


class RandomForestParams(_Strict):
    """Spark ML ``RandomForestClassifier``."""

    num_trees: int = Field(50, ge=1)
    max_depth: int = Field(8, ge=1, le=30)
    min_instances_per_node: int = Field(1, ge=1)


class EngagementParams(_Strict):
    """Which classifier, how the classes are weighted, how many training rows."""

    classifier: Literal["logistic_regression", "random_forest"] = "logistic_regression"
    class_weights: Literal["balanced", "none"] = Field(
        "balanced",
        description="balanced: each class weighs n / (classes x class count) in "
        "training, so the rare levels (remove, purchase) count as much as views.",
    )
    max_train_rows: int | None = Field(
        None,
        ge=1,
        description="Uniform sample of the training rows (seeded); null: all of them.",
    )
    seed: int = 42
    product_baseline_smoothing: float = Field(
        10.0,
        gt=0,
        description="Pseudo-views at the training outcome shares added to each "
        "product's counts in the product-conversion baseline.",
    )
    logistic_regression: LogisticRegressionParams = Field(
        default_factory=LogisticRegressionParams
    )
    random_forest: RandomForestParams = Field(default_factory=RandomForestParams)
