"""Ranking metrics at K, computed in Spark over the evaluated users.

:func:`per_user_metrics` gives every (model, segment, user) its own values, which
:func:`summarise_metrics` averages and :mod:`recsys_kedro.evaluation.bootstrap` resamples;
:func:`ranking_metrics` is the one-model, one-segment shortcut.
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

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

    Args:
        recommendations: ``model, user_id, rank, product_id`` (rank 1 = best).
        relevant: ``segment, user_id, product_id``: what each evaluated user engaged with
            in the test period, per segment (duplicates ignored). A user is evaluated in
            a segment where they have a relevant product.
        k: Cut-off.
        models: Every model of ``recommendations`` (a model with no row still gets
            its users, all misses).

    Returns:
        ``model, segment, user_id, n_relevant`` and the five metrics (lazy).
    """
    rel = relevant.select("segment", "user_id", "product_id").distinct()
    users = rel.groupBy("segment", "user_id").agg(F.count("*").alias("n_relevant"))
    top = recommendations.where(F.col("rank") <= k).select(
        "model", "user_id", "rank", "product_id"
    )
    hits = (
        top.join(users.select("segment", "user_id"), "user_id")
        .join(
            rel.withColumn("hit", F.lit(1)),
            ["segment", "user_id", "product_id"],
            "left",
        )
        .withColumn("hit", F.coalesce("hit", F.lit(0)))
    )
    cum = F.sum("hit").over(
        Window.partitionBy("model", "segment", "user_id")
        .orderBy("rank")
        .rowsBetween(Window.unboundedPreceding, 0)
    )
    per = (
        hits.withColumn("cum_hits", cum)
        .groupBy("model", "segment", "user_id")
        .agg(
            F.sum("hit").alias("hits"),
            F.sum(F.col("hit") / F.log2(F.col("rank") + 1)).alias("dcg"),
            F.sum(F.when(F.col("hit") == 1, F.col("cum_hits") / F.col("rank"))).alias(
                "ap_sum"
            ),
        )
    )
    spark = recommendations.sparkSession
    grid = users.crossJoin(
        spark.createDataFrame([(m,) for m in models], "model string")
    )
    scored = grid.join(per, ["model", "segment", "user_id"], "left").fillna(
        0, subset=["hits", "dcg", "ap_sum"]
    )
    ideal_hits = F.least(F.col("n_relevant"), F.lit(k))
    idcg = F.aggregate(
        F.sequence(F.lit(1), ideal_hits),
        F.lit(0.0),
        lambda acc, r: acc + 1.0 / F.log2(r + 1),
    )
    return scored.select(
        "model",
        "segment",
        "user_id",
        "n_relevant",
        (F.col("hits") > 0).cast("double").alias("hit_rate"),
        (F.col("hits") / k).alias("precision"),
        (F.col("hits") / F.col("n_relevant")).alias("recall"),
        (F.col("dcg") / idcg).alias("ndcg"),
        (F.col("ap_sum") / ideal_hits).alias("map"),
    )


def summarise_metrics(
    per_user: DataFrame,
    recommendations: DataFrame,
    relevant: DataFrame,
    k: int,
    catalog_size: int,
) -> pd.DataFrame:
    """Means of :func:`per_user_metrics` and catalog coverage, per model and segment.

    Coverage = distinct products in the top ``k`` of the segment's users / ``catalog_size``.

    Args:
        per_user: :func:`per_user_metrics`.
        recommendations: ``model, user_id, rank, product_id``.
        relevant: ``segment, user_id, product_id``.
        k: Cut-off.
        catalog_size: Products that could have been recommended.

    Returns:
        ``model, segment, users`` and the mean of each metric, one row per pair.
    """
    means = per_user.groupBy("model", "segment").agg(
        F.count("*").alias("users"), *[F.avg(m).alias(m) for m in USER_METRICS]
    )
    users = relevant.select("segment", "user_id").distinct()
    covered = (
        recommendations.where(F.col("rank") <= k)
        .join(users, "user_id")
        .groupBy("model", "segment")
        .agg(F.countDistinct("product_id").alias("covered"))
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
    table = summarise_metrics(per_user, recs, rel, k, catalog_size)
    if table.empty:
        return {name: 0.0 for name in METRICS}
    row = table.iloc[0]
    return {name: float(row[name]) for name in METRICS}
