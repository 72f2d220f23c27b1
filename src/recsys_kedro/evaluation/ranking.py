"""Ranking metrics at K, computed in Spark over the evaluated users.

:func:`per_user_metrics` gives every (model, segment, user) its own values, which
:func:`summarise_metrics` averages and :mod:`recsys_kedro.evaluation.bootstrap` resamples;
:func:`ranking_metrics` is the one-model, one-segment shortcut.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

METRICS = [
    "hit_rate",
    "precision",
    "recall",
    "ndcg",
    "map",
    "catalog_coverage",
    "users",
]
USER_METRICS = ["hit_rate", "precision", "recall", "ndcg", "map"]


def per_user_metrics(
    recommendations: DataFrame, relevant: DataFrame, k: int, models: list[str]
) -> DataFrame:
    """Each evaluated user's hit, precision, recall, NDCG and average precision at ``k``.

    Definitions (``rel``: the user's relevant products in the segment, ``hit@r``: the
    product at rank ``r`` is relevant): hit = 1 if any of the top ``k`` is relevant;
    precision = hits / k; recall = hits / |rel|; NDCG = sum hit@r / log2(r + 1) over the
    ideal value for min(|rel|, k) hits; AP = sum over hits of (hits up to r) / r,
    divided by min(|rel|, k). A user with no recommendation from a model counts as all
    misses for it.

    Each (model, user)'s top ``k`` and each (segment, user)'s relevant products are
    gathered into arrays first (one shuffle of the recommendations, one of the relevant
    rows), joined per (model, segment, user) and scored in numpy inside the tasks
    (``mapInArrow``), so no shuffle or window runs over the (recommendation x segment)
    rows.

    Args:
        recommendations: ``model, user_id, rank, product_id`` (rank 1 = best).
        relevant: ``segment, user_id, product_id``: what each evaluated user engaged with
            in the test period, per segment (duplicates ignored). A user is evaluated in
            a segment where they have a relevant product.
        k: Cut-off.
        models: Every model of ``recommendations`` (a model with no row still gets
            its users, all misses).

    Returns:
        ``model, segment, user_id, n_relevant``, the five metrics and ``top_products``
        (the user's top ``k`` in rank order, for :func:`summarise_metrics`' coverage)
        (lazy).
    """
    rel = relevant.select("segment", "user_id", "product_id").distinct()
    users = rel.groupBy("segment", "user_id").agg(
        F.collect_list("product_id").alias("rel")
    )
    top = (
        recommendations.where(F.col("rank") <= k)
        .groupBy("model", "user_id")
        .agg(F.array_sort(F.collect_list(F.struct("rank", "product_id"))).alias("top"))
    )
    spark = recommendations.sparkSession
    grid = users.crossJoin(
        spark.createDataFrame([(m,) for m in models], "model string")
    )
    joined = grid.join(top, ["model", "user_id"], "left").select(
        "model", "segment", "user_id", "rel", "top"
    )
    return joined.mapInArrow(
        lambda batches: (_score_batch(b, k) for b in batches), PER_USER_SCHEMA
    )


PER_USER_SCHEMA = T.StructType(
    [
        T.StructField("model", T.StringType()),
        T.StructField("segment", T.StringType()),
        T.StructField("user_id", T.LongType()),
        T.StructField("n_relevant", T.LongType()),
        *[T.StructField(m, T.DoubleType()) for m in USER_METRICS],
        T.StructField("top_products", T.ArrayType(T.LongType())),
    ]
)


def _score_batch(batch: pa.RecordBatch, k: int) -> pa.RecordBatch:
    """The metrics of a batch of (model, segment, user) rows, in whole-array numpy.

    Args:
        batch: ``model, segment, user_id, rel`` (the relevant products) and ``top``
            (``rank, product_id`` structs in rank order; null: no recommendation).
        k: Cut-off.

    Returns:
        The rows of :data:`PER_USER_SCHEMA`.
    """
    n = batch.num_rows
    top = batch.column("top")
    top_len = pc.fill_null(pc.list_value_length(top), 0).to_numpy().astype(np.int64)
    entries = pc.list_flatten(top)
    ranks = entries.field("rank").to_numpy(zero_copy_only=False).astype(np.float64)
    products = entries.field("product_id").to_numpy(zero_copy_only=False)
    rel = batch.column("rel")
    rel_len = pc.fill_null(pc.list_value_length(rel), 0).to_numpy().astype(np.int64)
    relevant = pc.list_flatten(rel).to_numpy(zero_copy_only=False)
    top_rows = np.repeat(np.arange(n), top_len)
    codes, inverse = np.unique(
        np.concatenate([products, relevant]), return_inverse=True
    )
    keys = (
        np.concatenate([top_rows, np.repeat(np.arange(n), rel_len)])
        * max(len(codes), 1)
        + inverse.ravel()
    )
    hit = np.isin(keys[: len(products)], keys[len(products) :]).astype(np.float64)
    hits = np.bincount(top_rows, weights=hit, minlength=n)
    dcg = np.bincount(top_rows, weights=hit / np.log2(ranks + 1), minlength=n)
    # hits up to each entry, counted within its row
    running = np.concatenate([[0.0], np.cumsum(hit)])
    starts = np.cumsum(top_len) - top_len
    within = running[1:] - np.repeat(running[starts], top_len)
    ap_sum = np.bincount(top_rows, weights=hit * within / ranks, minlength=n)
    ideal_hits = np.minimum(rel_len, k)
    idcg = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])
    offsets = np.concatenate([[0], np.cumsum(top_len)]).astype(np.int32)
    with np.errstate(divide="ignore", invalid="ignore"):
        columns = {
            "hit_rate": (hits > 0).astype(np.float64),
            "precision": hits / k,
            "recall": hits / rel_len,
            "ndcg": dcg / idcg[ideal_hits],
            "map": ap_sum / ideal_hits,
        }
    return pa.RecordBatch.from_arrays(
        [
            batch.column("model"),
            batch.column("segment"),
            batch.column("user_id").cast(pa.int64()),
            pa.array(rel_len, pa.int64()),
            *[pa.array(columns[m], pa.float64()) for m in USER_METRICS],
            pa.ListArray.from_arrays(
                pa.array(offsets), pa.array(products.astype(np.int64), pa.int64())
            ),
        ],
        schema=pa.schema(
            [
                ("model", pa.string()),
                ("segment", pa.string()),
                ("user_id", pa.int64()),
                ("n_relevant", pa.int64()),
                *[(m, pa.float64()) for m in USER_METRICS],
                ("top_products", pa.list_(pa.int64())),
            ]
        ),
    )


def summarise_metrics(per_user: DataFrame, catalog_size: int) -> pd.DataFrame:
    """Means of :func:`per_user_metrics` and catalog coverage, per model and segment.

    Coverage = distinct products in the top ``k`` of the segment's users / ``catalog_size``.

    Args:
        per_user: :func:`per_user_metrics`.
        catalog_size: Products that could have been recommended.

    Returns:
        ``model, segment, users`` and the mean of each metric, one row per pair.
    """
    means = per_user.groupBy("model", "segment").agg(
        F.count("*").alias("users"), *[F.avg(m).alias(m) for m in USER_METRICS]
    )
    # exploded within each task and de-duplicated there before any shuffle
    covered = (
        per_user.select("model", "segment", F.explode("top_products").alias("p"))
        .distinct()
        .groupBy("model", "segment")
        .agg(F.count("*").alias("covered"))
    )
    table = means.join(covered, ["model", "segment"], "left").toPandas()
    table["catalog_coverage"] = (
        table["covered"].fillna(0) / catalog_size if catalog_size else 0.0
    )
    table["users"] = table["users"].astype(float)
    return table.drop(columns="covered")


def ranking_metrics(
    recommendations: DataFrame, relevant: DataFrame, k: int, catalog_size: int
) -> dict[str, float]:
    """Hit rate, precision, recall, NDCG, MAP at ``k`` and catalog coverage of one model.

    Each per-user value (:func:`per_user_metrics`) is averaged over the users of
    ``relevant``; coverage = distinct recommended products (top ``k`` of evaluated
    users) / ``catalog_size``.

    Args:
        recommendations: ``user_id, rank, product_id`` (rank 1 = best).
        relevant: ``user_id, product_id``: what each evaluated user engaged with in the
            test period (duplicates ignored).
        k: Cut-off.
        catalog_size: Products that could have been recommended.

    Returns:
        The metrics by name, plus ``users`` (how many were evaluated).
    """
    recs = recommendations.select(
        F.lit("m").alias("model"), "user_id", "rank", "product_id"
    )
    rel = relevant.select(F.lit("all").alias("segment"), "user_id", "product_id")
    per_user = per_user_metrics(recs, rel, k, ["m"])
    table = summarise_metrics(per_user, catalog_size)
    if table.empty:
        return {name: 0.0 for name in METRICS}
    row = table.iloc[0]
    return {name: float(row[name]) for name in METRICS}
