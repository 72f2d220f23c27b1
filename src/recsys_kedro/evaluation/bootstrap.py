"""Paired bootstrap intervals of each model's difference to a baseline, in Spark.

Each resample reweights the evaluated units (users, or sessions for cross-sell) with
Poisson(1) counts, the usual stand-in for drawing n of n with replacement when n is
large (Hanley & MacGibbon 2006; Chamandy et al. 2012, "Estimating uncertainty for
massive data streams"). A unit's count in resample ``b`` comes from a hash of
``(unit, b, seed)``, so:

* it is the same for every model and segment: the intervals are *paired*;
* no per-unit value reaches the driver: each Spark task draws its units' counts for
  every resample at once (numpy, the same hash Spark's ``xxhash64`` computes) and sums
  them with one matrix product per chunk of units; only ``models x segments x
  resamples`` sums leave the tasks and come back;
* the result depends on the seed only, not on partitioning or task order.

The weights are computed in numpy rather than as a Spark cross join of units and
resamples because that join made ``units x models x resamples`` rows (450 million for
the cf evaluation at 20 million events); ``tests/evaluation/test_bootstrap.py`` checks
them against Spark's own hash and the intervals against that cross join.

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


# XXH64's primes, as Spark's org.apache.spark.sql.catalyst.expressions.XXH64 has them.
_P1 = np.uint64(0x9E3779B185EBCA87)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
_P4 = np.uint64(0x85EBCA77C2B2AE63)
_P5 = np.uint64(0x27D4EB2F165667C5)
_INT32 = (-(1 << 31), (1 << 31) - 1)
_POISSON_CDF = np.cumsum(
    [math.exp(-1.0) / math.factorial(j) for j in range(_MAX_COUNT)]
)
# Units whose resample weights are held at once in a task (x resamples x 8 bytes).
_UNITS_PER_CHUNK = 8192


def _rotl(x: np.ndarray, bits: int) -> np.ndarray:
    return (x << np.uint64(bits)) | (x >> np.uint64(64 - bits))


def _fmix(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * _P2
    h = h ^ (h >> np.uint64(29))
    h = h * _P3
    return h ^ (h >> np.uint64(32))


def _hash_long(value: np.ndarray, seed: np.ndarray) -> np.ndarray:
    h = seed + _P5 + np.uint64(8)
    h = h ^ (_rotl(value * _P2, 31) * _P1)
    return _fmix(_rotl(h, 27) * _P1 + _P4)


def _hash_int(value: int, seed: np.ndarray) -> np.ndarray:
    h = seed + _P5 + np.uint64(4)
    h = h ^ (np.uint64(value & 0xFFFFFFFF) * _P1)
    return _fmix(_rotl(h, 23) * _P2 + _P3)


def resample_weights(unit_hash: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Each unit's Poisson(1) count in every resample: what Spark's
    ``poisson_one_counts(uniform(xxhash64(unit, b, seed)))`` gives, in numpy.

    Spark's ``xxhash64(a, b, c)`` hashes ``a`` with seed 42, then ``b`` with that
    hash as seed, then ``c``; ``unit_hash`` is the first step, ``xxhash64(unit)``,
    computed by Spark (any unit type), and the two others (the resample, a long; the
    seed, an int where it fits) are done here with XXH64's integer steps.

    Args:
        unit_hash: ``xxhash64(unit)`` per unit (int64).
        resamples: Resamples ``0 .. resamples - 1``.
        seed: The bootstrap seed.

    Returns:
        Counts, units x resamples (float64).
    """
    with np.errstate(over="ignore"):
        first = np.asarray(unit_hash, np.int64).view(np.uint64)[:, None]
        b = np.arange(resamples, dtype=np.uint64)[None, :]
        h = _hash_long(b, first)
        if _INT32[0] <= seed <= _INT32[1]:
            h = _hash_int(seed, h)
        else:
            h = _hash_long(np.asarray(seed, np.int64).view(np.uint64), h)
    uniform = (h & np.uint64((1 << 53) - 1)).astype(np.float64) / float(1 << 53)
    return np.searchsorted(_POISSON_CDF, uniform, side="right").astype(np.float64)


def _sums_schema(metrics: list[str]) -> str:
    return ", ".join(
        ["model string", "segment string", "_b long", "_n double"]
        + [f"`{m}` double" for m in metrics]
    )


def _resampled_sums(metrics: list[str], cfg: BootstrapParams):
    """A ``mapInPandas`` function: per model and segment of a task's rows, every
    resample's summed weight and weighted metric sums (one matrix product per chunk)."""
    resamples, seed = cfg.resamples, cfg.seed

    def sums(batches):
        totals: dict[tuple[str, str], np.ndarray] = {}
        seen: dict[tuple[str, str], np.ndarray] = {}
        for batch in batches:
            for key, group in batch.groupby(["model", "segment"], sort=False):
                values = group[metrics].to_numpy(np.float64)
                valid = ~np.isnan(values)
                ones = np.ones((len(group), 1))
                table = np.hstack([ones, np.where(valid, values, 0.0)])
                hashes = group["_h"].to_numpy(np.int64)
                acc = totals.setdefault(key, np.zeros((resamples, 1 + len(metrics))))
                for start in range(0, len(group), _UNITS_PER_CHUNK):
                    stop = start + _UNITS_PER_CHUNK
                    weights = resample_weights(hashes[start:stop], resamples, seed)
                    acc += weights.T @ table[start:stop]
                seen[key] = seen.get(key, False) | valid.any(axis=0)
        for (model, segment), acc in totals.items():
            out = {
                "model": model,
                "segment": segment,
                "_b": np.arange(resamples, dtype=np.int64),
                "_n": acc[:, 0],
            }
            for i, m in enumerate(metrics):
                # a metric null for every row stays null, as Spark's sum leaves it
                out[m] = pd.array(
                    acc[:, 1 + i] if seen[(model, segment)][i] else [None] * resamples,
                    dtype="Float64",
                )
            yield pd.DataFrame(out)

    return sums


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
    draws = (
        diffs.select("model", "segment", F.xxhash64(F.col(unit)).alias("_h"), *metrics)
        .mapInPandas(_resampled_sums(metrics, cfg), _sums_schema(metrics))
        .groupBy("model", "segment", "_b")
        .agg(F.sum("_n").alias("_n"), *[F.sum(m).alias(m) for m in metrics])
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
