"""Paired bootstrap: the resample weights against Spark's own hash, and the intervals
against the same bootstrap written as one Spark query (a cross join of units and
resamples)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from recsys_kedro.evaluation.bootstrap import (
    BootstrapParams,
    _uniform,
    paired_bootstrap,
    poisson_one_counts,
    resample_weights,
)


@pytest.mark.parametrize("seed", [0, 7, -3, 2**31 - 1, 2**40])
@pytest.mark.parametrize("kind", ["bigint", "string"])
def test_resample_weights_are_sparks_hash_counts(spark, seed, kind):
    units = spark.range(300).select(F.col("id").cast(kind).alias("unit"))
    resamples = spark.range(50).withColumnRenamed("id", "_b")
    theirs = (
        units.crossJoin(resamples)
        .select(
            "unit",
            "_b",
            F.xxhash64("unit").alias("h"),
            poisson_one_counts(_uniform("unit", "_b", seed)).alias("w"),
        )
        .toPandas()
        .sort_values(["unit", "_b"])
    )
    hashes = theirs.groupby("unit", sort=True)["h"].first()
    ours = resample_weights(hashes.to_numpy(), 50, seed)
    expected = theirs.pivot(index="unit", columns="_b", values="w").loc[hashes.index]
    np.testing.assert_array_equal(ours, expected.to_numpy(np.float64))
    # Poisson(1): mean and variance 1
    assert abs(ours.mean() - 1) < 0.05
    assert abs(ours.var() - 1) < 0.1


def _reference(per_unit, metrics, baseline, cfg, unit="user_id") -> pd.DataFrame:
    """The same bootstrap as one Spark query: per (model, segment, resample) the
    weighted sums of the differences, then percentiles in pandas."""
    base = per_unit.where(F.col("model") == baseline).select(
        "segment", unit, *[F.col(m).alias(f"b_{m}") for m in metrics]
    )
    diffs = (
        per_unit.where(F.col("model") != baseline)
        .join(base, ["segment", unit])
        .select(
            "model",
            "segment",
            unit,
            *[(F.col(m) - F.col(f"b_{m}")).alias(m) for m in metrics],
        )
    )
    resamples = per_unit.sparkSession.range(cfg.resamples).withColumnRenamed("id", "b")
    w = poisson_one_counts(_uniform(unit, "b", cfg.seed)).cast("double")
    draws = (
        diffs.crossJoin(resamples)
        .withColumn("w", w)
        .groupBy("model", "segment", "b")
        .agg(
            F.sum("w").alias("n"),
            *[F.sum(F.col("w") * F.col(m)).alias(m) for m in metrics],
        )
        .toPandas()
    )
    rows = []
    for (model, segment), group in draws.groupby(["model", "segment"]):
        g = group[group["n"] > 0]
        row = {"model": model, "segment": segment}
        for m in metrics:
            v = (g[m] / g["n"]).to_numpy()
            row[f"{m}_diff_low"] = np.quantile(v, (1 - cfg.level) / 2)
            row[f"{m}_diff_high"] = np.quantile(v, 1 - (1 - cfg.level) / 2)
        rows.append(row)
    return pd.DataFrame(rows)


def test_intervals_equal_the_cross_join_bootstrap(spark):
    rng = np.random.default_rng(1)
    users = np.arange(2_000)
    frames = []
    for model, lift in [("popularity", 0.0), ("a", 0.05), ("b", -0.02)]:
        for segment in ["all", "new"]:
            kept = users if segment == "all" else users[users % 3 == 0]
            hit = (rng.random(len(kept)) < 0.3 + lift).astype(float)
            ndcg = hit * rng.random(len(kept))
            # some rows without a value: Spark's sums leave them out
            ndcg[rng.random(len(kept)) < 0.1] = np.nan
            frames.append(
                pd.DataFrame(
                    {
                        "model": model,
                        "segment": segment,
                        "user_id": kept,
                        "hit": hit,
                        "ndcg": ndcg,
                    }
                )
            )
    per_unit = spark.createDataFrame(pd.concat(frames)).replace(float("nan"), None)
    per_unit = per_unit.repartition(3)
    cfg = BootstrapParams(resamples=100, seed=5)
    ours = paired_bootstrap(per_unit, ["hit", "ndcg"], "popularity", cfg)
    ours = ours[ours["model"] != "popularity"].sort_values(["model", "segment"])
    theirs = _reference(per_unit, ["hit", "ndcg"], "popularity", cfg)
    theirs = theirs.sort_values(["model", "segment"])
    for column in theirs.columns[2:]:
        np.testing.assert_allclose(ours[column], theirs[column], rtol=1e-9, atol=1e-12)
    # the point estimates: mean differences worked out in pandas
    frame = pd.concat(frames)
    base = frame[frame["model"] == "popularity"].set_index(["segment", "user_id"])
    a = frame[frame["model"] == "a"].set_index(["segment", "user_id"])
    expected = (a["hit"] - base["hit"]).groupby(level=0).mean()
    got = ours[ours["model"] == "a"].set_index("segment")["hit_diff"]
    np.testing.assert_allclose(got.loc[expected.index], expected, rtol=1e-12)


def test_a_metric_with_no_value_has_no_interval(spark):
    frame = pd.DataFrame(
        {
            "model": ["popularity", "popularity", "a", "a"],
            "segment": "all",
            "user_id": [1, 2, 1, 2],
            "hit": [0.0, 1.0, 1.0, 1.0],
            "ndcg": [None, None, None, None],
        }
    )
    per_unit = spark.createDataFrame(
        frame, "model string, segment string, user_id long, hit double, ndcg double"
    )
    got = paired_bootstrap(
        per_unit, ["hit", "ndcg"], "popularity", BootstrapParams(resamples=50)
    )
    row = got[got["model"] == "a"].iloc[0]
    assert row["hit_diff"] == 0.5
    assert np.isnan(row["ndcg_diff_low"]) and np.isnan(row["ndcg_diff_high"])
