"""Ranking metrics at K, computed in Spark over the evaluated users."""

from __future__ import annotations

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


def ranking_metrics(
    recommendations: DataFrame, relevant: DataFrame, k: int, catalog_size: int
) -> dict[str, float]:
    """Hit rate, precision, recall, NDCG, MAP at ``k`` and catalog coverage.

    Definitions (``rel``: the user's relevant products, ``hit@r``: the product at rank
    ``r`` is relevant): hit rate = share of users with a hit in the top ``k``;
    precision = hits / k; recall = hits / |rel|; NDCG = sum hit@r / log2(r + 1) over the
    ideal value for min(|rel|, k) hits; MAP = sum over hits of (hits up to r) / r,
    divided by min(|rel|, k). Each is averaged over the users of ``relevant``; a user
    with no recommendation counts as all misses. Coverage = distinct recommended
    products (top ``k`` of evaluated users) / ``catalog_size``.

    Args:
        recommendations: ``user_id, rank, product_id`` (rank 1 = best).
        relevant: ``user_id, product_id``: what each evaluated user engaged with in the
            test period (duplicates ignored).
        k: Cut-off.
        catalog_size: Products that could have been recommended.

    Returns:
        The metrics by name, plus ``users`` (how many were evaluated).
    """
    rel = relevant.select("user_id", "product_id").distinct()
    users = rel.groupBy("user_id").agg(F.count("*").alias("n_rel"))
    top = (
        recommendations.where(F.col("rank") <= k)
        .select("user_id", "rank", "product_id")
        .join(users.select("user_id"), "user_id", "left_semi")
    )
    hits = top.join(
        rel.withColumn("hit", F.lit(1)), ["user_id", "product_id"], "left"
    ).withColumn("hit", F.coalesce("hit", F.lit(0)))
    cum = F.sum("hit").over(
        Window.partitionBy("user_id")
        .orderBy("rank")
        .rowsBetween(Window.unboundedPreceding, 0)
    )
    hits = hits.withColumn("cum_hits", cum)
    per_user = hits.groupBy("user_id").agg(
        F.sum("hit").alias("hits"),
        F.sum(F.col("hit") / F.log2(F.col("rank") + 1)).alias("dcg"),
        F.sum(F.when(F.col("hit") == 1, F.col("cum_hits") / F.col("rank"))).alias(
            "ap_sum"
        ),
    )
    scored = users.join(per_user, "user_id", "left").fillna(
        0, subset=["hits", "dcg", "ap_sum"]
    )
    ideal_hits = F.least(F.col("n_rel"), F.lit(k))
    idcg = F.aggregate(
        F.sequence(F.lit(1), ideal_hits),
        F.lit(0.0),
        lambda acc, r: acc + 1.0 / F.log2(r + 1),
    )
    row = scored.agg(
        F.count("*").alias("users"),
        F.avg((F.col("hits") > 0).cast("double")).alias("hit_rate"),
        F.avg(F.col("hits") / k).alias("precision"),
        F.avg(F.col("hits") / F.col("n_rel")).alias("recall"),
        F.avg(F.col("dcg") / idcg).alias("ndcg"),
        F.avg(F.col("ap_sum") / ideal_hits).alias("map"),
    ).first()
    covered = top.select("product_id").distinct().count()
    result = {
        name: float(row[name] or 0.0)
        for name in ("hit_rate", "precision", "recall", "ndcg", "map")
    }
    result["users"] = float(row["users"])
    result["catalog_coverage"] = covered / catalog_size if catalog_size else 0.0
    return result
