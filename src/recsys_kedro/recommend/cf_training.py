"""Nodes of the cf pipeline: item-item cosine collaborative filtering.

``events_clean`` -> engagement-weighted interactions (user or session x product) ->
top-N cosine neighbours per product (blockwise ``sparse_dot_topn`` inside Spark tasks) ->
per-user recommendations (``mapInArrow`` over user partitions, neighbour lists
broadcast) with a popularity fallback. A second instance of the fitting nodes runs on
the events before a global time cut-off and is compared with popularity and Spark ML
ALS on the period after it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from typing import Any

import pandas as pd
from pyspark.ml.recommendation import ALS
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from recsys_kedro.evaluation.bootstrap import paired_bootstrap
from recsys_kedro.evaluation.ranking import (
    METRICS,
    USER_METRICS,
    per_user_metrics,
    summarise_metrics,
)
from recsys_kedro.recommend.cf_params import CfParams
from recsys_kedro.recommend.factors import top_items
from recsys_kedro.recommend.quality import check_recommendations
from recsys_kedro.recommend.scoring import (
    NeighbourIndex,
    Popularity,
    recommend_batch,
)
from recsys_kedro.recommend.similarity import NEIGHBOUR_COLUMNS, block_neighbours
from recsys_kedro.spark_session import (
    broadcast_value,
    default_parallelism,
    get_spark,
    persist_for_run,
)
from recsys_kedro.tracking import mlflow_metrics

logger = logging.getLogger(__name__)

INT32_MAX = 2**31 - 1

NEIGHBOUR_SCHEMA = T.StructType(
    [
        T.StructField("product_id", T.LongType(), False),
        T.StructField("rank", T.IntegerType(), False),
        T.StructField("rec_product_id", T.LongType(), False),
        T.StructField("score", T.DoubleType(), False),
    ]
)
USER_REC_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.LongType(), False),
        T.StructField("rank", T.IntegerType(), False),
        T.StructField("product_id", T.LongType(), False),
        T.StructField("score", T.DoubleType(), False),
        T.StructField("source", T.StringType(), False),
    ]
)


class InteractionError(ValueError):
    """The events give no interaction the cf pipeline can work with."""


@dataclass(frozen=True)
class RecommenderBundle:
    """What the served model is made of (saved by ``MlflowRecommenderModelDataset``).

    Attributes:
        neighbours: Long neighbour table (products x N).
        popular: Popular products (``product_id, rank, score``).
        user_recommendations: Per-user top-k (``user_id, rank, product_id, score, source``).
        top_k: How many products the model returns per query.
    """

    neighbours: DataFrame
    popular: DataFrame
    user_recommendations: DataFrame
    top_k: int


def _weighted_events(events: DataFrame, cfg: CfParams) -> DataFrame:
    """Events with a ``weight`` column: event-type weight times the time decay."""
    weights = F.create_map(
        *[x for kv in cfg.event_weights.items() for x in (F.lit(kv[0]), F.lit(kv[1]))]
    )
    weight = F.coalesce(weights[F.col("event_type")], F.lit(0.0))
    if cfg.half_life_days is not None:
        reference = events.agg(F.max("event_time")).first()[0]
        if reference is not None:
            age_days = (
                F.lit(reference).cast("timestamp").cast("double")
                - F.col("event_time").cast("double")
            ) / 86400.0
            weight = weight * F.pow(F.lit(0.5), age_days / cfg.half_life_days)
    return events.withColumn("weight", weight.cast("double"))


def _transform(weight, cfg: CfParams):
    """Damps a positive (row, product) weight sum: one crawler-like pair with hundreds of
    views must not outweigh the rest of its row in the cosine."""
    if cfg.weight_transform == "log1p":
        return F.log1p(weight)
    if cfg.weight_transform == "binary":
        return F.lit(1.0)
    return weight


def build_interactions(
    events: DataFrame, cfg: CfParams
) -> tuple[DataFrame, DataFrame, dict[str, float]]:
    """Engagement-weighted interactions and each user's history.

    A (row, product) weight is the sum of its events' weights (times the decay), then
    damped by ``weight_transform`` (default ``log1p``); pairs whose sum is not positive
    carry no preference and are left out. Rows (users or
    sessions) with more than ``max_products_per_row`` distinct products are dropped
    (``heavy_rows: drop``) or cut to their heaviest products (``cap``): a few hundred
    crawlers otherwise make most of the pair work.

    Args:
        events: ``events_clean`` (or the training part of it).
        cfg: ``params:cf``.

    Returns:
        ``interactions`` (``row_id, product_id, weight``), ``user_history`` (one row per
        user of the events: ``user_id, products, weights, excluded``; users without a
        positive weight have empty arrays) and counts for MLflow.

    Raises:
        InteractionError: No (row, product) pair has a positive weight.
    """
    start = time.perf_counter()
    weighted = _weighted_events(events, cfg)
    row_key = (
        F.col("user_id")
        if cfg.row == "user_id"
        else F.xxhash64("user_session")  # 64-bit key: no collision at 10^8 sessions
    )
    pairs = (
        weighted.groupBy(row_key.alias("row_id"), "product_id")
        .agg(F.sum("weight").alias("weight"))
        .where(F.col("weight") > 0)
        .withColumn("weight", _transform(F.col("weight"), cfg))
    )
    per_row = Window.partitionBy("row_id")
    # persisted: the statistics and the interactions below both read it, so the events
    # are aggregated once
    pairs = persist_for_run(
        pairs.withColumn("row_products", F.count("*").over(per_row))
    )
    heavy = F.col("row_products") > F.lit(cfg.max_products_per_row or 2**62)
    if cfg.heavy_rows == "drop":
        kept = pairs.where(~heavy)
    else:
        order = Window.partitionBy("row_id").orderBy(
            F.col("weight").desc(), "product_id"
        )
        kept = pairs.withColumn("_r", F.row_number().over(order)).where(
            F.col("_r") <= F.lit(cfg.max_products_per_row or 2**62)
        )
    interactions = kept.select("row_id", "product_id", "weight")
    stats_row = pairs.agg(
        F.count("*").alias("pairs"),
        F.countDistinct(F.when(heavy, F.col("row_id"))).alias("heavy_rows"),
        F.sum(F.when(heavy, 1).otherwise(0)).alias("heavy_pairs"),
    ).first()
    shape = interactions.agg(
        F.count("*").alias("nnz"),
        F.countDistinct("row_id").alias("rows"),
        F.countDistinct("product_id").alias("products"),
    ).first()
    if shape["nnz"] == 0:
        raise InteractionError(
            "No (row, product) pair has a positive weight: the events are empty, every "
            f"event type has weight <= 0 (cf.event_weights = {cfg.event_weights}), or "
            "every row was dropped as heavy (cf.max_products_per_row = "
            f"{cfg.max_products_per_row})"
        )
    history = _user_history(weighted, cfg)
    seconds = time.perf_counter() - start
    stats = {
        "matrix_rows": float(shape["rows"]),
        "matrix_products": float(shape["products"]),
        "interactions": float(shape["nnz"]),
        "sparsity": 1.0 - shape["nnz"] / (shape["rows"] * shape["products"]),
        "heavy_rows": float(stats_row["heavy_rows"]),
        "heavy_row_pairs": float(stats_row["heavy_pairs"]),
        "seconds_interactions": seconds,
    }
    logger.info(
        "Interaction matrix: %d %s rows x %d products, %d non-zeros (sparsity %.6f); "
        "%d heavy rows (%d pairs) %s; %.1f s",
        shape["rows"],
        cfg.row,
        shape["products"],
        shape["nnz"],
        stats["sparsity"],
        stats_row["heavy_rows"],
        stats_row["heavy_pairs"],
        "dropped" if cfg.heavy_rows == "drop" else "capped",
        seconds,
    )
    return interactions, history, stats


def _excluded(rule: str):
    """Aggregate of a user's (product, purchased) rows: the products never to recommend
    to them under ``rule`` (``purchased``, ``interacted`` or ``none``)."""
    if rule == "purchased":
        return F.collect_list(F.when(F.col("purchased") == 1, F.col("product_id")))
    if rule == "interacted":
        return F.collect_list("product_id")
    return F.array().cast("array<bigint>")


def _user_history(weighted: DataFrame, cfg: CfParams) -> DataFrame:
    """One row per user: positive-weight products, their weights, products to exclude."""
    per_pair = weighted.groupBy("user_id", "product_id").agg(
        F.sum("weight").alias("weight"),
        F.max((F.col("event_type") == "purchase").cast("int")).alias("purchased"),
    )
    excluded = _excluded(cfg.exclude)
    positive = F.col("weight") > 0
    history = per_pair.groupBy("user_id").agg(
        F.collect_list(
            F.when(
                positive,
                F.struct(
                    "product_id", _transform(F.col("weight"), cfg).alias("weight")
                ),
            )
        ).alias("_h"),
        excluded.alias("excluded"),
    )
    return persist_for_run(
        history.select(
            "user_id",
            F.col("_h.product_id").alias("products"),
            F.col("_h.weight").alias("weights"),
            "excluded",
        )
    )


def item_similarities(
    interactions: DataFrame, cfg: CfParams
) -> tuple[DataFrame, dict[str, float]]:
    """Top-N cosine neighbours of every product.

    The interactions are replicated to ``blocks`` Spark tasks (default: the session's
    parallelism); each builds the sparse products x rows matrix, L2-normalises it and
    multiplies its share of the products (every ``blocks``-th) by the whole matrix with
    ``sparse_dot_topn``, keeping the best N per product during the multiply.

    Args:
        interactions: ``row_id, product_id, weight``.
        cfg: ``params:cf``.

    Returns:
        The long table ``product_id, rank, rec_product_id, score`` (rank 1 = most
        similar, the product itself never included) and statistics for MLflow.

    Raises:
        InteractionError: Fewer than two products have interactions.
        RecommendationQualityError: The result breaks an output rule.
    """
    start = time.perf_counter()
    spark = get_spark()
    n_products = interactions.select("product_id").distinct().count()
    if n_products < 2:
        raise InteractionError(
            f"Item-item similarity needs at least 2 products with interactions, got "
            f"{n_products}"
        )
    if cfg.top_n >= n_products:
        logger.warning(
            "cf.top_n = %d but only %d products have interactions: each product gets "
            "at most %d neighbours",
            cfg.top_n,
            n_products,
            n_products - 1,
        )
    n_blocks = min(cfg.blocks or default_parallelism(spark), n_products)
    blocks = spark.range(n_blocks).withColumnRenamed("id", "block")
    top_n, min_score, alpha = cfg.top_n, cfg.min_similarity, cfg.similarity_alpha
    n_threads = cfg.threads_per_block if cfg.threads_per_block > 1 else None

    def compute(key: tuple, frame: pd.DataFrame) -> pd.DataFrame:
        return block_neighbours(
            frame, int(key[0]), n_blocks, top_n, min_score, n_threads, alpha
        )

    neighbours = persist_for_run(
        interactions.select("row_id", "product_id", "weight")
        .crossJoin(blocks)
        .repartition(n_blocks, "block")
        .groupBy("block")
        .applyInPandas(compute, NEIGHBOUR_SCHEMA)
    )
    if alpha != 0.5:
        # the asymmetric cosine is not bounded by 1: divided by its largest value, the
        # scores lie in [0, 1] and keep their order and ratios
        largest = neighbours.agg(F.max("score")).first()[0] or 1.0
        neighbours = neighbours.withColumn("score", F.col("score") / F.lit(largest))
    rows = check_recommendations(
        neighbours,
        "product_recommendations",
        key="product_id",
        item="rec_product_id",
        forbid_self=True,
        allow_empty=True,
    )
    if rows == 0:
        logger.warning(
            "No two of the %d products share a %s with a positive weight: the "
            "neighbour table is empty (short data?); recommendations fall back to "
            "popular products.",
            n_products,
            cfg.row,
        )
    q = neighbours.approxQuantile("score", [0.1, 0.5, 0.9], 0.001) or [float("nan")] * 3
    summary = neighbours.agg(
        F.avg("score").alias("mean"),
        F.countDistinct("product_id").alias("with_neighbours"),
        F.countDistinct("rec_product_id").alias("recommended"),
    ).first()
    seconds = time.perf_counter() - start
    stats = {
        "neighbour_rows": float(rows),
        "similarity_blocks": float(n_blocks),
        "score_mean": float("nan") if rows == 0 else float(summary["mean"]),
        "score_p10": q[0],
        "score_p50": q[1],
        "score_p90": q[2],
        "products_with_neighbours": float(summary["with_neighbours"]),
        "catalog_coverage": summary["recommended"] / n_products,
        "seconds_similarity": seconds,
    }
    logger.info(
        "Neighbours: %d rows for %d of %d products in %d blocks, median score %.3f, "
        "%.1f%% of products recommended somewhere; %.1f s",
        rows,
        summary["with_neighbours"],
        n_products,
        n_blocks,
        q[1],
        100 * stats["catalog_coverage"],
        seconds,
    )
    return neighbours, stats


def product_recommendations_wide(neighbours: DataFrame, params: CfParams) -> DataFrame:
    """The neighbour table in the wide form: ``product_id, rec_1 .. rec_N, score_1 ..
    score_N`` (nulls where a product has fewer than N neighbours).

    Args:
        neighbours: The long table.
        params: ``params:cf``.

    Returns:
        One row per product.
    """
    n = params.top_n
    rec_cols = [
        F.max(F.when(F.col("rank") == i, F.col("rec_product_id"))).alias(f"rec_{i}")
        for i in range(1, n + 1)
    ]
    score_cols = [
        F.max(F.when(F.col("rank") == i, F.col("score"))).alias(f"score_{i}")
        for i in range(1, n + 1)
    ]
    return neighbours.groupBy("product_id").agg(*rec_cols, *score_cols)


def popular_products(interactions: DataFrame, cfg: CfParams) -> DataFrame:
    """The most engaged-with products: the fallback for users without history.

    Args:
        interactions: ``row_id, product_id, weight``.
        cfg: ``params:cf``.

    Returns:
        ``product_id, rank, score`` for the ``popular_pool`` products with the largest
        summed weight; score = weight / the top product's weight.
    """
    totals = interactions.groupBy("product_id").agg(F.sum("weight").alias("total"))
    # At most popular_pool rows (a parameter, not the data's size) reach the driver: a
    # window over them would move them to one partition anyway, with Spark's warning.
    top = (
        totals.orderBy(F.col("total").desc(), "product_id")
        .limit(cfg.popular_pool)
        .collect()
    )
    best = top[0]["total"] if top else 1.0
    return get_spark().createDataFrame(
        [
            (int(row["product_id"]), rank, float(row["total"] / best))
            for rank, row in enumerate(top, start=1)
        ],
        "product_id bigint, rank int, score double",
    )


def score_users(
    user_history: DataFrame,
    neighbours: DataFrame,
    popular: DataFrame,
    k: int,
    repeat_weight: float = 0.0,
) -> DataFrame:
    """Per-user top-k, distributed over user partitions.

    The neighbour lists (products x N, bounded by the catalog, not by users or events)
    and the popular list are broadcast; each task scores its users' Arrow batches in
    whole-array operations (:func:`recsys_kedro.recommend.scoring.recommend_batch`).

    Args:
        user_history: ``user_id, products, weights, excluded`` (and ``repeat_products,
            repeat_scores`` where ``repeat_weight > 0``).
        neighbours: Long neighbour table.
        popular: ``product_id, rank, score``.
        k: Recommendations per user.
        repeat_weight: Weight of the user's own products in the score
            (:func:`recsys_kedro.recommend.scoring.recommend`).

    Returns:
        ``user_id, rank, product_id, score, source`` (lazy).
    """
    index = NeighbourIndex.from_long(neighbours.select(*NEIGHBOUR_COLUMNS).toPandas())
    fallback = Popularity.from_frame(popular.toPandas())
    shipped = broadcast_value((index, fallback))

    def score(batches):
        idx, pop = shipped()
        for batch in batches:
            yield recommend_batch(batch, idx, pop, k, repeat_weight)

    return user_history.mapInArrow(score, USER_REC_SCHEMA)


def recommend_for_users(
    user_history: DataFrame,
    neighbours: DataFrame,
    popular: DataFrame,
    cfg: CfParams,
) -> tuple[DataFrame, dict[str, float]]:
    """``user_recommendations``: every user's top-k with its source.

    Args:
        user_history: ``user_id, products, weights, excluded``.
        neighbours: Long neighbour table.
        popular: ``product_id, rank, score``.
        cfg: ``params:cf``.

    Returns:
        ``user_id, rank, product_id, score, source`` and statistics for MLflow.

    Raises:
        RecommendationQualityError: The result breaks an output rule.
    """
    start = time.perf_counter()
    recs = persist_for_run(score_users(user_history, neighbours, popular, cfg.top_k))
    rows = check_recommendations(
        recs,
        "user_recommendations",
        key="user_id",
        item="product_id",
        group_by_source=True,
    )
    per_user = recs.groupBy("user_id").agg(
        F.max((F.col("source") == "item_cosine").cast("int")).alias("personal")
    )
    counts = per_user.agg(
        F.count("*").alias("users"), F.sum("personal").alias("personal")
    ).first()
    seconds = time.perf_counter() - start
    logger.info(
        "User recommendations: %d rows for %d users, %d with personalised items, "
        "%d on popular products only; %.1f s",
        rows,
        counts["users"],
        counts["personal"],
        counts["users"] - counts["personal"],
        seconds,
    )
    return recs, {
        "users_recommended": float(counts["users"]),
        "users_personalised": float(counts["personal"]),
        "user_recommendation_rows": float(rows),
        "seconds_user_recommendations": seconds,
    }


def _relevant(test_events: DataFrame, types: list[str]) -> DataFrame:
    return (
        test_events.where(F.col("event_type").isin(types))
        .select("user_id", "product_id")
        .distinct()
    )


def _event_weight(cfg: CfParams):
    weights = F.create_map(
        *[x for kv in cfg.event_weights.items() for x in (F.lit(kv[0]), F.lit(kv[1]))]
    )
    return F.coalesce(weights[F.col("event_type")], F.lit(0.0))


def _own_products(
    train_events: DataFrame, users: DataFrame, cutoff: datetime, cfg: CfParams
) -> DataFrame:
    """Per evaluated user: their own products scored for the repeat baseline, and the
    products no model may recommend to them (``evaluation.exclude``).

    A product's repeat score is the sum of its events' weights, each halved every
    ``evaluation.repeat_half_life_days`` before the cut-off.
    """
    ev = cfg.evaluation
    age_days = (
        F.lit(cutoff).cast("double") - F.col("event_time").cast("double")
    ) / 86400.0
    decayed = _event_weight(cfg) * F.pow(
        F.lit(0.5), age_days / ev.repeat_half_life_days
    )
    per_pair = (
        train_events.join(users, "user_id", "left_semi")
        .groupBy("user_id", "product_id")
        .agg(
            F.sum(decayed).alias("score"),
            F.max((F.col("event_type") == "purchase").cast("int")).alias("purchased"),
        )
    )
    excluded = _excluded(ev.exclude)
    own = per_pair.groupBy("user_id").agg(
        F.collect_list(
            F.when(F.col("score") > 0, F.struct("product_id", "score"))
        ).alias("_own"),
        excluded.alias("excluded"),
    )
    return own.select(
        "user_id",
        F.col("_own.product_id").alias("repeat_products"),
        F.col("_own.score").alias("repeat_scores"),
        "excluded",
    )


def _recent_popular(train_events: DataFrame, cutoff: Any, cfg: CfParams) -> DataFrame:
    """Popular products of the last ``evaluation.recent_days`` before the cut-off,
    weighted as the interactions are (event weights, ``weight_transform``)."""
    since = cutoff - timedelta(days=cfg.evaluation.recent_days)
    recent = (
        train_events.where(F.col("event_time") >= F.lit(since))
        .groupBy(F.col("user_id").alias("row_id"), "product_id")
        .agg(F.sum(_event_weight(cfg)).alias("weight"))
        .where(F.col("weight") > 0)
        .withColumn("weight", _transform(F.col("weight"), cfg))
    )
    return popular_products(recent, cfg)


def _als_fit_sample(
    ratings: DataFrame, users: DataFrame, max_users: int | None, seed: int
) -> DataFrame:
    """The ratings of every evaluated user (all of them, even where they alone exceed
    ``max_users``) and of a seeded hash sample of the other training users that fills
    up to ``max_users`` (each kept with the same probability).

    ALS's fit costs time in proportion to the ratings it sees; above ``max_users``
    training users this keeps it flat, while every evaluated user still gets factors
    of their own.
    """
    if max_users is None:
        return ratings
    # the count below and the sample of the others both read it: computed once
    everyone = persist_for_run(ratings.select("user_id").distinct())
    marked = users.select("user_id").distinct().withColumn("_evaluated", F.lit(1))
    counts = (
        everyone.join(marked, "user_id", "left")
        .agg(F.count("*").alias("total"), F.count("_evaluated").alias("evaluated"))
        .first()
    )
    total, evaluated = counts["total"], counts["evaluated"]
    if total <= max_users:
        return ratings
    share = max(max_users - evaluated, 0) / max(total - evaluated, 1)
    bits = F.xxhash64("user_id", F.lit(seed)).bitwiseAND(F.lit((1 << 53) - 1))
    draw = bits.cast("double") / float(1 << 53)
    others = everyone.join(users, "user_id", "left_anti").where(draw < share)
    kept = users.select("user_id").unionByName(others)
    logger.info(
        "ALS is fitted on the %d evaluated users and about %d of the other %d training "
        "users (cf.evaluation.als.max_users %d)",
        evaluated,
        round(share * (total - evaluated)),
        total - evaluated,
        max_users,
    )
    return ratings.join(kept, "user_id", "left_semi")


def _als_recommendations(
    ratings: DataFrame, users: DataFrame, excluded: DataFrame, cfg: CfParams
) -> DataFrame:
    """Top-k of Spark ML ALS (implicit feedback) for ``users``, exclusions applied.

    Args:
        ratings: ``user_id, product_id, weight`` (the interactions item cosine sees).
        users: ``user_id`` of the evaluated users.
        excluded: ``user_id, product_id`` never to recommend.
        cfg: ``params:cf``.
    """
    ev = cfg.evaluation
    bounds = ratings.agg(
        F.max("user_id"), F.max("product_id"), F.min("user_id"), F.min("product_id")
    ).first()
    if max(bounds[0], bounds[1]) > INT32_MAX or min(bounds[2], bounds[3]) < 0:
        raise InteractionError(
            "Spark ML ALS needs user and product ids in [0, 2^31 - 1]; these ids are "
            f"in [{min(bounds[2], bounds[3])}, {max(bounds[0], bounds[1])}]. Leave "
            "'als' out of cf.evaluation.models for this data"
        )
    ratings = _als_fit_sample(ratings, users, ev.als.max_users, ev.als.seed)
    als = ALS(
        rank=ev.als.rank,
        maxIter=ev.als.max_iter,
        regParam=ev.als.reg_param,
        alpha=ev.als.alpha,
        implicitPrefs=True,
        userCol="user",
        itemCol="item",
        ratingCol="weight",
        coldStartStrategy="drop",
        seed=ev.als.seed,
    )
    model = als.fit(
        ratings.select(
            F.col("user_id").cast("int").alias("user"),
            F.col("product_id").cast("int").alias("item"),
            F.col("weight").cast("float").alias("weight"),
        )
    )
    subset = model.userFactors.join(
        users.select(F.col("user_id").cast("int").alias("id")), "id", "left_semi"
    )
    raw = top_items(subset, model.itemFactors, ev.k + ev.als.candidates)
    kept = raw.select(
        F.col("user").cast("bigint").alias("user_id"),
        "pos",
        F.col("item").cast("bigint").alias("product_id"),
    ).join(excluded, ["user_id", "product_id"], "left_anti")
    order = Window.partitionBy("user_id").orderBy("pos")
    return kept.withColumn("rank", F.row_number().over(order)).where(
        F.col("rank") <= ev.k
    )


SEGMENTS = ("all", "repeat", "new")
INTERVAL_METRICS = ("hit_rate", "ndcg")


def _segmented(
    relevant: DataFrame, train_events: DataFrame, users: DataFrame
) -> DataFrame:
    """``segment, user_id, product_id``: every relevant product under ``all``, and
    under ``repeat`` (touched by the user before the cut-off) or ``new`` (not)."""
    seen = (
        train_events.join(users, "user_id", "left_semi")
        .select("user_id", "product_id")
        .distinct()
        .withColumn("_seen", F.lit(True))
    )
    labelled = relevant.join(seen, ["user_id", "product_id"], "left")
    return labelled.select(
        F.explode(
            F.array(
                F.lit("all"),
                F.when(F.col("_seen"), F.lit("repeat")).otherwise(F.lit("new")),
            )
        ).alias("segment"),
        "user_id",
        "product_id",
    )


def evaluation_inputs(
    train_history: DataFrame,
    train_events: DataFrame,
    test_events: DataFrame,
    cutoff: datetime,
    cfg: CfParams,
) -> tuple[DataFrame, DataFrame, DataFrame, int]:
    """The evaluated users, their relevant products by segment and their histories.

    Args:
        train_history: User histories before the cut-off.
        train_events: Events before the cut-off.
        test_events: Events from the cut-off.
        cutoff: The cut-off.
        cfg: ``params:cf``.

    Returns:
        ``users`` (``user_id``: a positive-weight product before the cut-off and a
        relevant event after it), the relevant products (``segment, user_id,
        product_id``), the users' histories with their repeat scores and exclusions,
        and the number of test users with a relevant event (cold start included).
    """
    ev = cfg.evaluation
    active = train_history.where(F.size("products") > 0)
    relevant_all = _relevant(test_events, ev.relevant_event_types)
    test_users = relevant_all.select("user_id").distinct()
    users = persist_for_run(
        test_users.join(active.select("user_id"), "user_id", "left_semi")
    )
    relevant = persist_for_run(
        _segmented(
            relevant_all.join(users, "user_id", "left_semi"), train_events, users
        )
    )
    own = _own_products(train_events, users, cutoff, cfg)
    eval_history = persist_for_run(
        active.select("user_id", "products", "weights").join(own, "user_id")
    )
    return users, relevant, eval_history, test_users.count()


@dataclass(frozen=True)
class TrainingFit:
    """What the cf fitting nodes made of the events before a cut-off.

    Attributes:
        interactions: Interactions (ALS's ratings, the same item cosine sees, where
            rows are users).
        history: User histories.
        neighbours: Neighbours.
        popular: Popular products.
        events: The events themselves.
        cutoff: The cut-off.
    """

    interactions: DataFrame
    history: DataFrame
    neighbours: DataFrame
    popular: DataFrame
    events: DataFrame
    cutoff: datetime


def model_recommendations(
    model: str,
    eval_history: DataFrame,
    users: DataFrame,
    fit: TrainingFit,
    cfg: CfParams,
) -> DataFrame:
    """One evaluated model's top-k for the evaluated users (lazy).

    Args:
        model: A name of ``evaluation.models``.
        eval_history: :func:`evaluation_inputs`' histories.
        users: The evaluated users.
        fit: The models' training data and fitted parts.
        cfg: ``params:cf``.

    Returns:
        ``user_id, rank, product_id``.
    """
    ev = cfg.evaluation
    train_neighbours, train_popular = fit.neighbours, fit.popular
    empty = train_neighbours.limit(0)
    if model == "popularity":
        return score_users(eval_history, empty, train_popular, ev.k)
    if model == "recent_popularity":
        recent = _recent_popular(fit.events, fit.cutoff, cfg)
        return score_users(eval_history, empty, recent, ev.k)
    if model == "repeat":
        return score_users(eval_history, empty, train_popular, ev.k, 1.0)
    if model == "item_cosine":
        return score_users(eval_history, train_neighbours, train_popular, ev.k)
    if model == "blend":
        return score_users(
            eval_history, train_neighbours, train_popular, ev.k, ev.blend_weight
        )
    ratings = (
        fit.interactions.select(
            F.col("row_id").alias("user_id"), "product_id", "weight"
        )
        if cfg.row == "user_id"
        else fit.history.select(
            "user_id", F.explode(F.arrays_zip("products", "weights")).alias("p")
        )
        .select("user_id", "p.products", "p.weights")
        .toDF("user_id", "product_id", "weight")
    )
    excluded = eval_history.select("user_id", F.explode("excluded").alias("product_id"))
    return _als_recommendations(ratings, users, excluded, cfg)


def evaluate_recommenders(
    train_interactions: DataFrame,
    train_history: DataFrame,
    train_neighbours: DataFrame,
    train_popular: DataFrame,
    train_events: DataFrame,
    test_events: DataFrame,
    split: dict[str, Any],
    cfg: CfParams,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Compares every model on the test period, on all, repeat and new products.

    All models are fitted on the events before the cut-off only, and one exclusion rule
    (``evaluation.exclude``) applies to all of them. Evaluated users are those with a
    positive-weight product before the cut-off and a relevant event
    (``relevant_event_types``) after it; test users without training history
    (cold start) get popular products from every model and are counted, not compared.
    Each model's top-k is scored three ways: against all the user's relevant
    products, against those they touched before the cut-off (``repeat``) and against
    the others (``new``); a user counts in a segment where they have a relevant
    product. Every metric's difference to popularity gets a paired bootstrap interval
    over users (:mod:`recsys_kedro.evaluation.bootstrap`).

    Args:
        train_interactions: Interactions before the cut-off.
        train_history: User histories before the cut-off.
        train_neighbours: Neighbours fitted before the cut-off.
        train_popular: Popular products before the cut-off.
        train_events: Events before the cut-off.
        test_events: Events of the test period.
        split: The split description.
        cfg: ``params:cf``.

    Returns:
        The comparison table (one row per model and segment, with ``<metric>_diff``,
        ``<metric>_diff_low`` and ``<metric>_diff_high``) and MLflow metrics
        (``<model>.<segment>.<metric>_at_<k>``, the interval bounds of hit rate and
        NDCG, cold-start counts).
    """
    start = time.perf_counter()
    ev = cfg.evaluation
    cutoff = datetime.fromisoformat(split["cutoff"])
    users, relevant, eval_history, n_test_users = evaluation_inputs(
        train_history, train_events, test_events, cutoff, cfg
    )
    n_users = users.count()
    fit = TrainingFit(
        train_interactions,
        train_history,
        train_neighbours,
        train_popular,
        train_events,
        cutoff,
    )
    parts = [
        model_recommendations(model, eval_history, users, fit, cfg).select(
            F.lit(model).alias("model"), "user_id", "rank", "product_id"
        )
        for model in ev.models
    ]
    all_recs = persist_for_run(reduce(DataFrame.unionByName, parts))
    per_user = persist_for_run(
        per_user_metrics(all_recs, relevant, ev.k, list(ev.models))
    )
    catalog_size = train_interactions.select("product_id").distinct().count()
    summary = summarise_metrics(per_user, catalog_size)
    # every model and segment gets a row; one no user falls in (short data) has 0
    # users and no metric, not a misleading 0
    grid = pd.MultiIndex.from_product(
        [list(ev.models), list(SEGMENTS)], names=["model", "segment"]
    )
    summary = summary.set_index(["model", "segment"]).reindex(grid).reset_index()
    summary["users"] = summary["users"].fillna(0.0)
    if n_users == 0:
        logger.warning(
            "No test user has training history and a relevant event after the "
            "cut-off: the cf evaluation has no user (its metrics are empty)"
        )
    intervals = paired_bootstrap(per_user, USER_METRICS, "popularity", ev.bootstrap)
    table = summary.merge(intervals, on=["model", "segment"], how="left")
    table["_m"] = table["model"].map({m: i for i, m in enumerate(ev.models)})
    table["_s"] = table["segment"].map({s: i for i, s in enumerate(SEGMENTS)})
    table = table.sort_values(["_s", "_m"]).drop(columns=["_m", "_s"])
    table.insert(2, "k", ev.k)
    table.insert(3, "cutoff", split["cutoff"])
    table = table.reset_index(drop=True)
    for row in table.itertuples():
        logger.info(
            "Evaluation %s / %s at k=%d (%d users): hit rate %.4f (vs popularity "
            "%+.4f, 95%% CI %+.4f .. %+.4f), ndcg %.4f",
            row.model,
            row.segment,
            ev.k,
            row.users,
            row.hit_rate,
            row.hit_rate_diff,
            row.hit_rate_diff_low,
            row.hit_rate_diff_high,
            row.ndcg,
        )
    out: dict[str, float] = {}
    for r in table.to_dict("records"):
        key = f"{r['model']}.{r['segment']}"
        values = {f"{key}.{m}_at_{ev.k}": r[m] for m in METRICS}
        if r["model"] != "popularity":
            for m in INTERVAL_METRICS:
                values[f"{key}.{m}_diff_low"] = r[f"{m}_diff_low"]
                values[f"{key}.{m}_diff_high"] = r[f"{m}_diff_high"]
        out.update({k: float(v) for k, v in values.items() if pd.notna(v)})
    cold = n_test_users - n_users
    logger.info(
        "Evaluated %d test users with training history; %d (%.1f%%) are cold start "
        "(no positive-weight product before the cut-off): every model gives them the "
        "popular products, so they are not compared",
        n_users,
        cold,
        100 * cold / max(n_test_users, 1),
    )
    out["evaluated_users"] = float(n_users)
    out["cold_start_users"] = float(cold)
    out["cold_start_share"] = cold / n_test_users if n_test_users else 0.0
    out["seconds_evaluation"] = time.perf_counter() - start
    return table, cf_metrics(out)


def recommender_model(
    neighbours: DataFrame,
    popular: DataFrame,
    user_recommendations: DataFrame,
    params: CfParams,
) -> RecommenderBundle:
    """Bundles the fitted recommender for ``MlflowRecommenderModelDataset``.

    Args:
        neighbours: Long neighbour table.
        popular: Popular products.
        user_recommendations: Per-user top-k.
        params: ``params:cf``.

    Returns:
        The bundle the dataset logs and registers as an MLflow pyfunc model.
    """
    return RecommenderBundle(
        neighbours=neighbours,
        popular=popular,
        user_recommendations=user_recommendations,
        top_k=params.top_k,
    )


def cf_metrics(*stats: dict[str, float]) -> dict[str, Any]:
    """Merges the nodes' statistics into the MLflow metrics format.

    Args:
        *stats: Statistics dicts of the cf nodes.

    Returns:
        ``{name: {"value": v, "step": 0}}``.
    """
    merged: dict[str, float] = {}
    for part in stats:
        merged.update(part)
    return mlflow_metrics(merged)
