"""Paired bootstrap intervals of each model's difference to a baseline, in Spark.

Each resample reweights the evaluated units (users, or sessions for cross-sell) with
Poisson(1) counts, the usual stand-in for drawing n of n with replacement when n is
large (Hanley & MacGibbon 2006; Chamandy et al. 2012, "Estimating uncertainty for
massive data streams"). A unit's count in resample ``b`` comes from a hash of
``(unit, b, seed)``, so:

* it is the same for every model and segment: the intervals are *paired*;
* no per-unit value reaches the driver: the units x resamples rows are aggregated in
  Spark, and only ``models x segments x resamples`` means come back;
* the result depends on the seed only, not on partitioning or task order.

The interval is the percentile interval of the resampled mean differences.
"""

from __future__ import annotations

import math
from functools import reduce

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

_MAX_COUNT = 12


class BootstrapParams(BaseModel):
    """How the confidence intervals are drawn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resamples: int = Field(200, ge=20)
    level: float = Field(0.95, gt=0, lt=1)
    seed: int = 0


def poisson_one_counts(uniform: Column) -> Column:
    """Poisson(1) draws from a uniform [0, 1) column, by inverting the CDF.

    Args:
        uniform: Values in [0, 1).

    Returns:
        Integer counts 0 .. 12 (P(X > 12) < 1e-10) with Poisson(1) probabilities.
    """
    cdf = np.cumsum(
        [math.exp(-1.0) / math.factorial(j) for j in range(_MAX_COUNT)]
    ).tolist()
    return reduce(
        lambda expr, jc: expr.when(uniform < F.lit(jc[1]), F.lit(jc[0])),
        list(enumerate(cdf))[1:],
        F.when(uniform < F.lit(cdf[0]), F.lit(0)),
    ).otherwise(F.lit(_MAX_COUNT))


def _uniform(unit: str, resample: str, seed: int) -> Column:
    bits = F.xxhash64(F.col(unit), F.col(resample), F.lit(seed)).bitwiseAND(
        F.lit((1 << 53) - 1)
    )
    return bits.cast("double") / float(1 << 53)


def paired_bootstrap(
    per_unit: DataFrame,
    metrics: list[str],
    baseline: str,
    cfg: BootstrapParams,
    unit: str = "user_id",
) -> pd.DataFrame:
    """Mean difference of every model to ``baseline`` and its bootstrap interval.

    Args:
        per_unit: ``model, segment, <unit>`` and one column per metric (one row per
            model, segment and unit; every model has the same units in a segment).
        metrics: The metric columns.
        baseline: The model the others are compared with.
        cfg: Resamples, level and seed.
        unit: The resampled unit's column.

    Returns:
        ``model, segment`` and ``<metric>_diff``, ``<metric>_diff_low``,
        ``<metric>_diff_high`` for each metric; the baseline's own rows are all 0.
    """
    base = per_unit.where(F.col("model") == baseline).select(
        "segment", unit, *[F.col(m).alias(f"_base_{m}") for m in metrics]
    )
    diffs = (
        per_unit.where(F.col("model") != baseline)
        .join(base, ["segment", unit])
        .select(
            "model",
            "segment",
            unit,
            *[(F.col(m) - F.col(f"_base_{m}")).alias(m) for m in metrics],
        )
    )
    spark = per_unit.sparkSession
    resamples = spark.range(cfg.resamples).withColumnRenamed("id", "_b")
    weighted = diffs.crossJoin(resamples).withColumn(
        "_w", poisson_one_counts(_uniform(unit, "_b", cfg.seed)).cast("double")
    )
    draws = (
        weighted.groupBy("model", "segment", "_b")
        .agg(
            F.sum("_w").alias("_n"),
            *[F.sum(F.col("_w") * F.col(m)).alias(m) for m in metrics],
        )
        .toPandas()
    )
    point = (
        diffs.groupBy("model", "segment")
        .agg(*[F.avg(m).alias(m) for m in metrics])
        .toPandas()
    )
    low_q, high_q = (1 - cfg.level) / 2, 1 - (1 - cfg.level) / 2
    rows = []
    for (model, segment), group in draws.groupby(["model", "segment"], sort=True):
        kept = group[group["_n"] > 0]
        row: dict[str, object] = {"model": model, "segment": segment}
        mean = point[(point["model"] == model) & (point["segment"] == segment)]
        for m in metrics:
            values = (kept[m] / kept["_n"]).to_numpy()
            row[f"{m}_diff"] = float(mean[m].iloc[0])
            row[f"{m}_diff_low"] = float(np.quantile(values, low_q))
            row[f"{m}_diff_high"] = float(np.quantile(values, high_q))
        rows.append(row)
    for segment in sorted(point["segment"].unique()) if len(point) else []:
        rows.append(
            {
                "model": baseline,
                "segment": segment,
                **{f"{m}_diff{s}": 0.0 for m in metrics for s in ("", "_low", "_high")},
            }
        )
    columns = ["model", "segment"] + [
        f"{m}_diff{s}" for m in metrics for s in ("", "_low", "_high")
    ]
    return pd.DataFrame(rows, columns=columns)
