"""Nodes of the fpgrowth pipeline: frequent itemsets and association rules over baskets.

``events_clean`` -> baskets (the distinct products of each session or user, from the
configured event types) -> Spark ML ``FPGrowth`` -> ``frequent_itemsets`` and
``association_rules`` (Delta, CSV reports in MLflow). A second instance mines the events
before cf's time cut-off; the rules are then evaluated as a cross-sell recommender on
the test sessions (hide the last product, ask for the top k from the others) next to cf's
neighbours, popularity and their blend (``hybrid_recommendations``).
"""

from __future__ import annotations

import logging
import time
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd
from pyspark.ml.fpm import FPGrowth
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
from recsys_kedro.pipelines.fpgrowth.crosssell import (
    HYBRID_POOL,
    RuleIndex,
    cf_scores_batch,
    recommend_by_rules,
    recommend_hybrid,
)
from recsys_kedro.pipelines.fpgrowth.params import FpGrowthParams
from recsys_kedro.recommend.quality import check_recommendations
from recsys_kedro.recommend.scoring import NeighbourIndex, Popularity
from recsys_kedro.spark_session import broadcast_value, persist_for_run
from recsys_kedro.tracking import mlflow_metrics

logger = logging.getLogger(__name__)

REC_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.LongType(), False),
        T.StructField("rank", T.IntegerType(), False),
        T.StructField("product_id", T.LongType(), False),
        T.StructField("score", T.DoubleType(), False),
    ]
)
MODELS = ("rules", "item_cosine", "hybrid", "popularity")


class BasketError(ValueError):
    """The events give no basket to mine."""


def build_baskets(
    events: DataFrame, cfg: FpGrowthParams
) -> tuple[DataFrame, dict[str, float]]:
    """The distinct products of each session (or user) from the configured event types.

    Baskets with more than ``max_basket_size`` products (crawlers) are dropped and
    counted: one basket of n products holds 2^n itemsets.

    Args:
        events: ``events_clean`` (or the training part of it).
        cfg: ``params:fpgrowth``.

    Returns:
        ``basket_id, items`` (sorted distinct product ids) and counts for MLflow.

    Raises:
        BasketError: No event of the configured types.
    """
    key = (
        F.xxhash64("user_session") if cfg.basket == "user_session" else F.col("user_id")
    )
    grouped = (
        events.where(F.col("event_type").isin(cfg.event_types))
        .groupBy(key.alias("basket_id"))
        .agg(
            F.array_sort(F.array_distinct(F.collect_list("product_id"))).alias("items")
        )
        .withColumn("size", F.size("items"))
    )
    baskets = persist_for_run(
        grouped.where(F.col("size") <= cfg.max_basket_size).select("basket_id", "items")
    )
    row = grouped.agg(
        F.count("*").alias("all"),
        F.sum((F.col("size") > cfg.max_basket_size).cast("int")).alias("dropped"),
        F.avg(F.when(F.col("size") <= cfg.max_basket_size, F.col("size"))).alias(
            "mean"
        ),
        F.sum((F.col("size") >= 2).cast("int")).alias("multi"),
    ).first()
    if not row["all"]:
        raise BasketError(
            f"No event of the types {cfg.event_types} (fpgrowth.event_types): no basket "
            "to mine"
        )
    kept = row["all"] - (row["dropped"] or 0)
    logger.info(
        "Baskets by %s from %s events: %d kept (mean %.2f products, %d with 2 or more), "
        "%d over %d products dropped",
        cfg.basket,
        "/".join(cfg.event_types),
        kept,
        row["mean"] or 0.0,
        row["multi"],
        row["dropped"] or 0,
        cfg.max_basket_size,
    )
    return baskets, {
        "baskets": float(kept),
        "baskets_dropped_too_large": float(row["dropped"] or 0),
        "baskets_with_2_or_more": float(row["multi"]),
        "mean_basket_size": float(row["mean"] or 0.0),
    }


def _readable(rules: DataFrame) -> DataFrame:
    return rules.withColumn(
        "rule",
        F.format_string(
            "if [%s] then [%s]: confidence %d %%, lift %.1f",
            F.array_join("antecedent", ", "),
            F.array_join("consequent", ", "),
            F.round(F.col("confidence") * 100).cast("int"),
            F.col("lift"),
        ),
    )


def mine_rules(
    baskets: DataFrame, cfg: FpGrowthParams
) -> tuple[DataFrame, DataFrame, dict[str, float]]:
    """Frequent itemsets and association rules with Spark ML ``FPGrowth``.

    The minimum support is a count of baskets; Spark takes a fraction, derived here as
    ``(min_count - 0.5) / baskets`` so that Spark's ``ceil(fraction x baskets)`` is exactly
    ``min_count`` (``min_count / baskets`` can round up to ``min_count + 1``).

    Args:
        baskets: ``basket_id, items``.
        cfg: ``params:fpgrowth``.

    Returns:
        ``frequent_itemsets`` (``items, freq, support``, most frequent first),
        ``association_rules`` (``antecedent, consequent, confidence, lift, support, rule``,
        highest lift first) and counts for MLflow.
    """
    start = time.perf_counter()
    # Not persisted here: build_baskets cached the baskets already, and Spark ML
    # persists the RDD it derives for MLlib only when its input frame is not marked
    # as cached; a persisted frame here made MLlib warn "Input data is not cached".
    baskets = baskets.select("items")
    n = baskets.count()
    if n == 0:
        raise BasketError("No basket left to mine (all over fpgrowth.max_basket_size?)")
    fraction = (cfg.min_count - 0.5) / n
    growth = FPGrowth(
        itemsCol="items",
        minSupport=min(fraction, 1.0),
        minConfidence=cfg.min_confidence,
    )
    if cfg.num_partitions:
        growth = growth.setNumPartitions(cfg.num_partitions)
    model = growth.fit(baskets)
    itemsets = persist_for_run(
        model.freqItemsets.select(
            F.array_sort("items").alias("items"),
            F.col("freq").cast("bigint"),
            (F.col("freq") / F.lit(n)).alias("support"),
        ).orderBy(F.col("freq").desc(), F.size("items"))
    )
    rules = persist_for_run(
        _readable(
            model.associationRules.select(
                F.array_sort("antecedent").alias("antecedent"),
                "consequent",
                "confidence",
                "lift",
                "support",
            )
        ).orderBy(F.col("lift").desc(), F.col("confidence").desc())
    )
    n_itemsets, n_rules = itemsets.count(), rules.count()
    seconds = time.perf_counter() - start
    logger.info(
        "FPGrowth on %d baskets, min count %d (support %.6g), min confidence %.2f: "
        "%d frequent itemsets, %d rules; %.1f s",
        n,
        cfg.min_count,
        fraction,
        cfg.min_confidence,
        n_itemsets,
        n_rules,
        seconds,
    )
    return (
        itemsets,
        rules,
        {
            "min_count": float(cfg.min_count),
            "min_support": fraction,
            "min_confidence": cfg.min_confidence,
            "frequent_itemsets": float(n_itemsets),
            "association_rules": float(n_rules),
            "seconds_mining": seconds,
        },
    )


def rules_reports(
    itemsets: DataFrame,
    rules: DataFrame,
    basket_stats: dict[str, float],
    mining_stats: dict[str, float],
    cfg: FpGrowthParams,
) -> tuple[pd.DataFrame, pd.DataFrame, str, dict[str, Any]]:
    """The CSV reports, the readable top rules and the MLflow metrics.

    Args:
        itemsets: Frequent itemsets.
        rules: Association rules.
        basket_stats: Counts of :func:`build_baskets`.
        mining_stats: Counts of :func:`mine_rules`.
        cfg: ``params:fpgrowth``.

    Returns:
        Itemsets and rules as frames (at most ``artifact_rows`` each, most frequent /
        highest lift first), the top ``top_rules`` rules as text, and the metrics.
    """
    for name, count in (
        ("itemsets", mining_stats["frequent_itemsets"]),
        ("rules", mining_stats["association_rules"]),
    ):
        if count > cfg.artifact_rows:
            logger.warning(
                "The %s report holds the first %d of %d rows (fpgrowth.artifact_rows); "
                "the Delta table has them all",
                name,
                cfg.artifact_rows,
                int(count),
            )
    # A table read back from Delta has no row order: sort before taking the first rows
    # (ties broken by the items, so the report is the same on every run).
    itemsets_pdf = (
        itemsets.orderBy(
            F.col("freq").desc(), F.size("items"), F.col("items").cast("string")
        )
        .limit(cfg.artifact_rows)
        .toPandas()
    )
    itemsets_pdf["items"] = itemsets_pdf["items"].map(lambda x: " ".join(map(str, x)))
    rules_pdf = (
        rules.orderBy(
            F.col("lift").desc(),
            F.col("confidence").desc(),
            F.col("antecedent").cast("string"),
            F.col("consequent").cast("string"),
        )
        .limit(cfg.artifact_rows)
        .toPandas()
    )
    for col in ("antecedent", "consequent"):
        rules_pdf[col] = rules_pdf[col].map(lambda x: " ".join(map(str, x)))
    top = rules_pdf["rule"].head(cfg.top_rules).tolist()
    text = "\n".join(
        [
            f"Top {len(top)} of {int(mining_stats['association_rules'])} rules by lift "
            f"(min count {cfg.min_count} of {int(basket_stats['baskets'])} baskets, "
            f"min confidence {cfg.min_confidence:.0%})",
            *top,
        ]
    )
    metrics = {**basket_stats, **mining_stats}
    return (
        itemsets_pdf,
        rules_pdf,
        text + "\n",
        mlflow_metrics(metrics),
    )


def hybrid_recommendations(
    neighbours: DataFrame, rules: DataFrame, params: FpGrowthParams
) -> DataFrame:
    """Per product: cf neighbour scores blended with the scores of its one-product rules.

    ``score = w x rule + (1 - w) x cosine``, where ``rule`` is ``confidence x lift``
    divided by the product's best rule (so in [0, 1]) and ``w`` is ``blend_weight``.

    Args:
        neighbours: cf's long neighbour table (``product_recommendations_long``).
        rules: Association rules.
        params: ``params:fpgrowth``.

    Returns:
        ``product_id, rank, rec_product_id, score, source`` (``item_cosine``, ``rules``
        or ``both``), top ``hybrid_top_n`` per product.
    """
    cfg = params.crosssell
    w = cfg.blend_weight
    one = rules.where(F.size("antecedent") == 1).select(
        F.col("antecedent")[0].alias("product_id"),
        F.col("consequent")[0].alias("rec_product_id"),
        (F.col("confidence") * F.col("lift")).alias("raw"),
    )
    best = F.max("raw").over(Window.partitionBy("product_id"))
    by_rule = one.withColumn("rule", F.col("raw") / best).drop("raw")
    by_cf = neighbours.select(
        "product_id", "rec_product_id", F.col("score").alias("cosine")
    )
    joined = by_cf.join(by_rule, ["product_id", "rec_product_id"], "full_outer")
    blended = joined.select(
        "product_id",
        "rec_product_id",
        (
            F.lit(w) * F.coalesce("rule", F.lit(0.0))
            + F.lit(1 - w) * F.coalesce("cosine", F.lit(0.0))
        ).alias("score"),
        F.when(F.col("rule").isNull(), "item_cosine")
        .when(F.col("cosine").isNull(), "rules")
        .otherwise("both")
        .alias("source"),
    ).where(F.col("score") > 0)
    order = Window.partitionBy("product_id").orderBy(
        F.col("score").desc(), "rec_product_id"
    )
    ranked = persist_for_run(
        blended.withColumn("rank", F.row_number().over(order).cast("int"))
        .where(F.col("rank") <= cfg.hybrid_top_n)
        .select("product_id", "rank", "rec_product_id", "score", "source")
    )
    rows = check_recommendations(
        ranked,
        "hybrid_recommendations",
        key="product_id",
        item="rec_product_id",
        forbid_self=True,
        allow_empty=True,
    )
    if rows == 0:
        logger.warning(
            "hybrid_recommendations is empty: no association rule and no cf neighbour "
            "with a positive score (short data?)."
        )
    return ranked


def crosssell_queries(test_events: DataFrame, cfg: FpGrowthParams) -> DataFrame:
    """Test sessions with two or more products: the last one hidden, the rest asked.

    Args:
        test_events: Events after the cut-off.
        cfg: ``params:fpgrowth`` (its ``event_types`` put a product in a session).

    Returns:
        ``session_id, query, hidden`` (``query``: the products before the last, in
        order of their first event).
    """
    first = (
        test_events.where(F.col("event_type").isin(cfg.event_types))
        .groupBy(F.xxhash64("user_session").alias("session_id"), "product_id")
        .agg(F.min("event_time").alias("t"))
    )
    per_session = first.groupBy("session_id").agg(
        F.array_sort(F.collect_list(F.struct("t", "product_id"))).alias("seq")
    )
    return per_session.where(F.size("seq") >= 2).select(
        "session_id",
        F.slice(F.col("seq.product_id"), 1, F.size("seq") - 1).alias("query"),
        F.element_at(F.col("seq.product_id"), -1).alias("hidden"),
    )


def _score_sessions(
    queries: DataFrame, model: str, payload: Any, k: int, weight: float
) -> DataFrame:
    shipped = broadcast_value(payload)

    def score(batches):
        rules, index, popular = shipped()
        for batch in batches:
            users, ranks, ids, scores = [], [], [], []
            baskets = [{int(x) for x in query} for query in batch["query"]]
            by_cf = [None] * len(baskets)
            if model in ("item_cosine", "hybrid"):
                pool = k if model == "item_cosine" else HYBRID_POOL
                by_cf = cf_scores_batch(baskets, index, pool)
            for session, basket, top in zip(
                batch["session_id"], baskets, by_cf, strict=True
            ):
                if model == "rules":
                    rec, val = recommend_by_rules(basket, rules, k)
                elif model == "item_cosine":
                    rec = np.array(list(top), dtype=np.int64)
                    val = np.array(list(top.values()), dtype=np.float64)
                elif model == "hybrid":
                    rec, val = recommend_hybrid(
                        basket, rules, index, weight, k, HYBRID_POOL, top
                    )
                else:
                    keep = ~np.isin(popular.product_ids, list(basket))
                    rec, val = popular.product_ids[keep][:k], popular.scores[keep][:k]
                users.append(np.full(len(rec), session, dtype=np.int64))
                ranks.append(np.arange(1, len(rec) + 1, dtype=np.int32))
                ids.append(np.asarray(rec, dtype=np.int64))
                scores.append(np.asarray(val, dtype=np.float64))
            yield pd.DataFrame(
                {
                    "user_id": np.concatenate([np.zeros(0, np.int64), *users]),
                    "rank": np.concatenate([np.zeros(0, np.int32), *ranks]),
                    "product_id": np.concatenate([np.zeros(0, np.int64), *ids]),
                    "score": np.concatenate([np.zeros(0), *scores]),
                }
            )

    return queries.mapInPandas(score, REC_SCHEMA)


def evaluate_crosssell(
    queries: DataFrame,
    train_rules: DataFrame,
    train_neighbours: DataFrame,
    train_popular: DataFrame,
    train_events: DataFrame,
    params: FpGrowthParams,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rules, cf neighbours, their blend and popularity on the same test sessions.

    Every model was fitted before the cut-off. Each session's hidden (last) product is
    the one relevant item. Every metric's difference to popularity gets a paired
    bootstrap interval over sessions (:mod:`recsys_kedro.evaluation.bootstrap`).

    Args:
        queries: :func:`crosssell_queries` of the test period.
        train_rules: Rules mined before the cut-off.
        train_neighbours: cf neighbours fitted before the cut-off.
        train_popular: Popular products before the cut-off.
        train_events: Events before the cut-off (the catalog for coverage).
        params: ``params:fpgrowth``.

    Returns:
        The comparison table (one row per model, with ``<metric>_diff``,
        ``<metric>_diff_low`` and ``<metric>_diff_high``) and its values as MLflow
        metrics.
    """
    cfg = params.crosssell
    queries = persist_for_run(queries)
    n_sessions = queries.count()
    if n_sessions == 0:
        logger.warning(
            "No test session has two or more products of the types %s: the cross-sell "
            "evaluation is empty",
            params.event_types,
        )
        return pd.DataFrame(
            columns=["model", "k", "blend_weight", "users"]
        ), mlflow_metrics({"test_sessions": 0})
    payload = (
        RuleIndex.from_frame(
            train_rules.select(
                "antecedent", "consequent", "confidence", "lift"
            ).toPandas()
        ),
        NeighbourIndex.from_long(
            train_neighbours.select(
                "product_id", "rank", "rec_product_id", "score"
            ).toPandas()
        ),
        Popularity.from_frame(train_popular.toPandas()),
    )
    relevant = queries.select(
        F.lit("all").alias("segment"),
        F.col("session_id").alias("user_id"),
        F.col("hidden").alias("product_id"),
    )
    catalog = train_events.select("product_id").distinct().count()
    start = time.perf_counter()
    recs = persist_for_run(
        reduce(
            DataFrame.unionByName,
            [
                _score_sessions(queries, m, payload, cfg.k, cfg.blend_weight).select(
                    F.lit(m).alias("model"), "user_id", "rank", "product_id"
                )
                for m in MODELS
            ],
        )
    )
    per_session = persist_for_run(per_user_metrics(recs, relevant, cfg.k, list(MODELS)))
    summary = summarise_metrics(per_session, catalog)
    intervals = paired_bootstrap(per_session, USER_METRICS, "popularity", cfg.bootstrap)
    table = summary.merge(intervals, on=["model", "segment"], how="left")
    table = (
        table.assign(_m=table["model"].map({m: i for i, m in enumerate(MODELS)}))
        .sort_values("_m")
        .drop(columns=["_m", "segment"])
        .reset_index(drop=True)
    )
    table.insert(1, "k", cfg.k)
    table.insert(2, "blend_weight", cfg.blend_weight)
    table["seconds"] = time.perf_counter() - start
    for row in table.itertuples():
        logger.info(
            "Cross-sell %s at k=%d (%d sessions): hit rate %.4f (vs popularity %+.4f, "
            "95%% CI %+.4f .. %+.4f)",
            row.model,
            cfg.k,
            row.users,
            row.hit_rate,
            row.hit_rate_diff,
            row.hit_rate_diff_low,
            row.hit_rate_diff_high,
        )
    values: dict[str, float] = {}
    for r in table.to_dict("records"):
        for m in METRICS:
            if m != "users":
                values[f"{r['model']}.{m}_at_{cfg.k}"] = r[m]
        if r["model"] != "popularity":
            for m in ("hit_rate", "ndcg"):
                values[f"{r['model']}.{m}_diff_low"] = r[f"{m}_diff_low"]
                values[f"{r['model']}.{m}_diff_high"] = r[f"{m}_diff_high"]
    return table, mlflow_metrics({**values, "test_sessions": n_sessions})
