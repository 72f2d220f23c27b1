"""Nodes of the sessions pipeline: session sequences, the fitted model, recommendations
for the sessions in progress, and the next-item evaluation of every model.

The model itself (sparse indexes, scoring kernels, tuning, re-ranker) is the library
:mod:`recsys_kedro.next_item`, shared with the benchmark command
(``python -m recsys_kedro.benchmarks.next_item``). Spark builds the sequences and scores
sessions in ``mapInPandas`` with the fitted model broadcast to the workers; only the model
(bounded by ``max_sessions``) and small aggregates reach the driver.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from pyspark import TaskContext
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from recsys_kedro.next_item.baselines import (
    AssociationRules,
    ItemNeighbours,
    PopularityOrder,
    rank_and_top,
)
from recsys_kedro.next_item.evaluation import CUTOFFS
from recsys_kedro.next_item.index import SessionDataError
from recsys_kedro.next_item.model import (
    POP_EPS,
    SessionData,
    SessionModel,
    fit_session_model,
)
from recsys_kedro.next_item.serving import recommend_frame
from recsys_kedro.pipelines.sessions.params import SessionsParams
from recsys_kedro.spark_session import (
    broadcast_value,
    default_parallelism,
    persist_for_run,
)
from recsys_kedro.tracking import mlflow_metrics

logger = logging.getLogger(__name__)

SEQUENCE_COLUMNS = ("user_session", "start_time", "end_time", "n_items", "items")
RECOMMENDATION_SCHEMA = T.StructType(
    [
        T.StructField("user_session", T.StringType(), False),
        T.StructField("rank", T.IntegerType(), False),
        T.StructField("product_id", T.LongType(), False),
        T.StructField("score", T.DoubleType(), True),
        T.StructField("source", T.StringType(), False),
    ]
)
_BOOT_BLOCK = 4096
METRICS = tuple(f"{m}_at_{k}" for k in CUTOFFS for m in ("hit_rate", "mrr"))
_EVAL_SCHEMA = T.StructType(
    [
        T.StructField("kind", T.StringType(), False),
        T.StructField("model", T.StringType(), False),
        T.StructField("rank", T.LongType(), True),
        T.StructField("answered", T.BooleanType(), True),
        T.StructField("shown", T.ArrayType(T.LongType()), True),
        T.StructField("replicate", T.IntegerType(), True),
        T.StructField("metric", T.StringType(), True),
        T.StructField("sum_wv", T.DoubleType(), True),
        T.StructField("sum_w", T.DoubleType(), True),
    ]
)


def session_sequences(events: DataFrame, cfg: SessionsParams) -> DataFrame:
    """Each session's product sequence in time order.

    Events of the configured types count; with ``collapse_repeats`` consecutive events on
    the same product (a view then its cart) are one step, since the next *product* is
    what is predicted. Events at the same instant keep the order of their event type
    (view, cart, remove_from_cart, purchase) and product id.

    Args:
        events: Clean events (or one side of the time split).
        cfg: ``params:sessions``.

    Returns:
        ``user_session, start_time, end_time, n_items, items`` (``items``: product ids).
    """
    type_order = F.create_map(
        *[
            F.lit(x)
            for pair in enumerate(["view", "cart", "remove_from_cart", "purchase"])
            for x in (pair[1], pair[0])
        ]
    )
    picked = events.where(F.col("event_type").isin(cfg.event_types)).select(
        "user_session",
        "event_time",
        "product_id",
        type_order[F.col("event_type")].alias("type_order"),
    )
    order = Window.partitionBy("user_session").orderBy(
        "event_time", "type_order", "product_id"
    )
    stepped = picked.withColumn("step", F.row_number().over(order))
    if cfg.collapse_repeats:
        stepped = stepped.withColumn("previous", F.lag("product_id").over(order)).where(
            F.col("previous").isNull() | (F.col("previous") != F.col("product_id"))
        )
    grouped = stepped.groupBy("user_session").agg(
        F.min("event_time").alias("start_time"),
        F.max("event_time").alias("end_time"),
        F.sort_array(F.collect_list(F.struct("step", "product_id"))).alias("seq"),
    )
    return grouped.select(
        "user_session",
        "start_time",
        "end_time",
        F.size("seq").alias("n_items"),
        F.transform("seq", lambda s: s["product_id"]).alias("items"),
    )


def _session_data(frame: pd.DataFrame) -> SessionData:
    lengths = frame["items"].map(len).to_numpy()
    ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    items = (
        np.concatenate([np.asarray(x, np.int64) for x in frame["items"]])
        if len(frame)
        else np.zeros(0, np.int64)
    )
    return SessionData(ptr, items)


def fit_session_recommender(
    train_sequences: DataFrame, cfg: SessionsParams
) -> tuple[SessionModel, dict[str, Any]]:
    """Tunes and fits the session model on the newest ``max_sessions`` training sessions.

    Args:
        train_sequences: Sequences of the training period.
        cfg: ``params:sessions``.

    Returns:
        The fitted model and its statistics as MLflow metrics.

    Raises:
        SessionDataError: Fewer than two training sessions.
    """
    start = time.perf_counter()
    newest = (
        train_sequences.orderBy(F.col("start_time").desc(), F.col("user_session"))
        .limit(cfg.max_sessions)
        .select("user_session", "start_time", "items")
        .toPandas()
        .sort_values(["start_time", "user_session"], kind="stable")
    )
    if len(newest) < 2:
        raise SessionDataError(
            f"{len(newest)} training session(s) before the cut-off: the session model "
            "needs at least 2; move time_split.cutoff later or give more data"
        )
    model = fit_session_model(_session_data(newest), cfg.model)
    tuning = model.tuning
    stats = {
        "training_sessions": float(len(newest)),
        "training_items": float(model.index.n_items),
        "training_clicks": float(len(model.index.sess_items)),
        "validation_sessions": float(tuning["val_sessions"]),
        "reranker_used": float(model.reranker is not None),
        "seconds_fit": time.perf_counter() - start,
    }
    for name, value in tuning["components"].items():
        stats[f"param.{name}"] = float(value)
    for name, value in tuning["weights"].items():
        stats[f"weight.{name}"] = float(value)
    logger.info(
        "Session model fitted on %d sessions, %d items, in %.1f s (re-ranker: %s)",
        len(newest),
        model.index.n_items,
        stats["seconds_fit"],
        "yes" if model.reranker is not None else tuning.get("rerank", {}).get("reason"),
    )
    return model, _as_metrics(stats)


def recent_session_events(events: DataFrame, cfg: SessionsParams) -> DataFrame:
    """Every event of the sessions active in the last ``recent_days`` of the data.

    Args:
        events: ``events_clean``.
        cfg: ``params:sessions``.

    Returns:
        The events of each session with an event within ``recent_days`` of the last
        event of the data (their items so far, earlier events included).
    """
    last = events.agg(F.max("event_time")).first()[0]
    if last is None:
        return events.limit(0)
    since = last - timedelta(days=cfg.recent_days)
    active = events.where(F.col("event_time") >= F.lit(since)).select("user_session")
    return events.join(active.distinct(), "user_session", "left_semi")


def recommend_sessions(
    model: SessionModel, sessions: DataFrame, cfg: SessionsParams
) -> DataFrame:
    """Next-item recommendations for each session, scored on the workers.

    Args:
        model: The fitted session model.
        sessions: Sequences of the sessions to answer.
        cfg: ``params:sessions``.

    Returns:
        ``user_session, rank, product_id, score, source`` (``source``: ``session``
        where the model used the session's items, ``popular`` where it knew none).
    """
    shared = broadcast_value(model)
    top_n = cfg.top_n

    def score(parts: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        fitted = shared()
        for part in parts:
            if part.empty:
                continue
            frame = recommend_frame(fitted, _session_data(part), top_n, threads=1)
            frame.insert(
                0, "user_session", part["user_session"].to_numpy()[frame["row"]]
            )
            yield frame.drop(columns="row").astype({"rank": "int32"})

    return _spread(sessions.select("user_session", "items")).mapInPandas(
        score, RECOMMENDATION_SCHEMA
    )


def _spread(sessions: DataFrame) -> DataFrame:
    """The sessions hashed by id over as many partitions as the session runs tasks at
    once, for the Python scoring after it: a small table read from one file is one
    partition, and its scoring then runs on one core.

    Args:
        sessions: One row per ``user_session``.

    Returns:
        The same rows.
    """
    return sessions.repartition(
        default_parallelism(sessions.sparkSession), "user_session"
    )


def _neighbour_table(model: SessionModel, neighbours: DataFrame) -> ItemNeighbours:
    """cf's neighbour table (bounded: products x top_n) on the model's item ids."""
    table = neighbours.select("product_id", "rec_product_id", "score").toPandas()
    return ItemNeighbours.from_pairs(
        model.index,
        table["product_id"].to_numpy(np.int64),
        table["rec_product_id"].to_numpy(np.int64),
        table["score"].to_numpy(np.float64),
    )


def _rule_table(model: SessionModel, rules: DataFrame) -> AssociationRules:
    """fpgrowth's rules (bounded by its min support) on the model's item ids."""
    table = rules.select("antecedent", "consequent", "confidence").toPandas()
    return AssociationRules.from_rules(
        model.index,
        [list(a) for a in table["antecedent"]],
        [list(c) for c in table["consequent"]],
        table["confidence"].to_numpy(np.float64),
    )


def _case_values(ranks: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for k in CUTOFFS:
        hit = ranks <= k
        out[f"hit_rate_at_{k}"] = hit.astype(np.float64)
        out[f"mrr_at_{k}"] = np.where(hit, 1.0 / ranks, 0.0)
    return out


def _score_partition(
    payload: dict[str, Any],
    part: pd.DataFrame,
    models: list[str],
    seed: int,
    stream: tuple[int, int] = (0, 0),
) -> pd.DataFrame:
    """Ranks every case of a batch of sessions with every model; partial bootstrap sums
    with Poisson(1) case weights from the batch's own random stream.

    ``stream`` is the batch's (partition, batch number within the partition): each batch
    draws its own weights. Seeded by the partition alone, every Arrow batch of a
    partition drew the same weights, so case i of each batch moved together in every
    replicate and the intervals were not those of independent cases.
    """
    model: SessionModel = payload["model"]
    data = _session_data(part)
    native = [m for m in models if m not in {"item_cosine", "fpgrowth_rules"}]
    results = model.evaluate(data, native, threads=1)
    cases = model.cases(data, all_prefixes=True)
    extra = [m for m in models if m in {"item_cosine", "fpgrowth_rules"}]
    if extra:
        pop = PopularityOrder.of(model.index.clicks)
        scorers = {
            "item_cosine": payload["neighbours"],
            "fpgrowth_rules": payload["rules"],
        }
        for name in extra:
            ranks, tops, answered = [], [], []
            for i in range(len(cases.ptr) - 1):
                seq = cases.items[cases.ptr[i] : cases.ptr[i + 1]]
                for k in range(1, len(seq)):
                    cand, scores = scorers[name].scores(seq[:k])
                    rank, top = rank_and_top(cand, scores, int(seq[k]), pop, POP_EPS)
                    ranks.append(rank)
                    tops.append(top)
                    answered.append(len(cand) > 0)
            results[name] = {
                "ranks": np.array(ranks, np.int64),
                "top": np.array(tops, np.int32).reshape(-1, 20),
                "answered": np.array(answered, bool),
            }
    rows = []
    values = {}
    for name in models:
        r = results[name]
        values[name] = _case_values(r["ranks"])
        shown = np.unique(r["top"][r["top"] >= 0])
        rows.append(
            pd.DataFrame(
                {
                    "kind": "case",
                    "model": name,
                    "rank": r["ranks"],
                    "answered": r["answered"],
                }
            )
        )
        rows.append(
            pd.DataFrame(
                {
                    "kind": ["shown"],
                    "model": [name],
                    "shown": [model.index.item_ids[shown].tolist()],
                }
            )
        )
    replicates = payload["replicates"]
    n_cases = len(next(iter(values.values()))["hit_rate_at_10"]) if values else 0
    if n_cases:
        rng = np.random.default_rng([seed, *stream])
        sum_w = np.zeros(replicates)
        sums = {(n, m): np.zeros(replicates) for n in values for m in values[n]}
        for lo in range(0, n_cases, _BOOT_BLOCK):  # memory: replicates x block
            hi = min(n_cases, lo + _BOOT_BLOCK)
            w = rng.poisson(1.0, size=(replicates, hi - lo)).astype(np.float64)
            sum_w += w.sum(axis=1)
            for name, metric in sums:
                sums[name, metric] += w @ values[name][metric][lo:hi]
        for (name, metric), acc in sums.items():
            rows.append(
                pd.DataFrame(
                    {
                        "kind": "boot",
                        "model": name,
                        "replicate": np.arange(replicates, dtype=np.int32),
                        "metric": metric,
                        "sum_wv": acc,
                        "sum_w": sum_w,
                    }
                )
            )
    frame = pd.concat(rows, ignore_index=True).reindex(
        columns=[f.name for f in _EVAL_SCHEMA.fields]
    )
    frame["shown"] = [x if isinstance(x, list) else None for x in frame["shown"]]
    return frame.astype({"rank": "Int64", "answered": "boolean", "replicate": "Int32"})


def evaluate_session_models(  # noqa: PLR0914
    model: SessionModel,
    test_sequences: DataFrame,
    neighbours: DataFrame,
    rules: DataFrame,
    split: dict[str, Any],
    cfg: SessionsParams,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Next-item evaluation of every model on the test period.

    For every test session and every ``k >= 1``, each model ranks all training items
    given the session's first ``k`` items and the ``(k + 1)``-th is scored: HR@10/20,
    MRR@10/20, catalog coverage@20, the share of cases a model answers from its own
    evidence, and a paired bootstrap 95 % interval of each model's difference to the best
    one (by HR@20).

    Args:
        model: The session model fitted before the cut-off.
        test_sequences: Sequences of the test period.
        neighbours: cf's item neighbours fitted before the cut-off.
        rules: fpgrowth's association rules mined before the cut-off.
        split: The split description.
        cfg: ``params:sessions``.

    Returns:
        The table (one row per model) and its values as MLflow metrics.
    """
    start = time.perf_counter()
    ev = cfg.evaluation
    models = list(ev.models)
    if "reranked" in models and model.reranker is None:
        logger.warning(
            "No re-ranked model to evaluate: tuning did not keep the re-ranker (%s)",
            model.tuning.get("rerank", {}).get("reason", "re-ranking is off"),
        )
        models.remove("reranked")
    payload = {"model": model, "replicates": ev.bootstrap}
    if "item_cosine" in models:
        payload["neighbours"] = _neighbour_table(model, neighbours)
    if "fpgrowth_rules" in models:
        payload["rules"] = _rule_table(model, rules)
    shared = broadcast_value(payload)
    seed = ev.seed

    def score(parts: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        context = TaskContext.get()
        partition = context.partitionId() if context is not None else 0
        for batch, part in enumerate(parts):
            if not part.empty:
                yield _score_partition(shared(), part, models, seed, (partition, batch))

    scored = persist_for_run(
        _spread(
            test_sequences.where(F.col("n_items") >= 2).select("user_session", "items")
        ).mapInPandas(score, _EVAL_SCHEMA)
    )
    cases = scored.where(F.col("kind") == "case")
    aggs = [F.count(F.lit(1)).alias("cases")]
    for k in CUTOFFS:
        aggs.append(
            F.avg((F.col("rank") <= k).cast("double")).alias(f"hit_rate_at_{k}")
        )
        aggs.append(
            F.avg(F.when(F.col("rank") <= k, 1.0 / F.col("rank")).otherwise(0.0)).alias(
                f"mrr_at_{k}"
            )
        )
    aggs.append(F.avg(F.col("answered").cast("double")).alias("answered_share"))
    summary = cases.groupBy("model").agg(*aggs).toPandas().set_index("model")
    shown = (
        scored.where(F.col("kind") == "shown")
        .select("model", F.explode("shown").alias("item"))
        .groupBy("model")
        .agg(F.countDistinct("item").alias("shown"))
        .toPandas()
        .set_index("model")["shown"]
    )
    boot = (
        scored.where(F.col("kind") == "boot")
        .groupBy("model", "metric", "replicate")
        .agg(F.sum("sum_wv").alias("wv"), F.sum("sum_w").alias("w"))
        .toPandas()
    )
    table = _evaluation_table(
        summary, shown, boot, model.index.n_items, models, ev.level
    )
    table.insert(1, "cutoff", split["cutoff"])
    metrics = {
        f"{row['model']}.{m}": float(row[m])
        for _, row in table.iterrows()
        for m in (*METRICS, "coverage_at_20", "answered_share")
    }
    metrics["cases"] = float(table["cases"].iloc[0]) if len(table) else 0.0
    metrics["seconds_evaluation"] = time.perf_counter() - start
    logger.info("Next-item evaluation:\n%s", table.to_string(index=False))
    return table, _as_metrics(metrics)


def _evaluation_table(
    summary: pd.DataFrame,
    shown: pd.Series,
    boot: pd.DataFrame,
    n_items: int,
    models: list[str],
    level: float,
) -> pd.DataFrame:
    """One row per model: metrics, and the difference to the best model with its
    paired bootstrap interval (the same resampled cases for every model)."""
    rows = []
    if summary.empty:
        return pd.DataFrame(columns=["model", "cases", *METRICS])
    best = summary["hit_rate_at_20"].idxmax()
    means = boot.assign(mean=boot["wv"] / boot["w"].clip(lower=1)).pivot_table(
        index=["metric", "replicate"], columns="model", values="mean"
    )
    alpha = (1 - level) / 2
    for name in models:
        if name not in summary.index:
            continue
        s = summary.loc[name]
        row = {"model": name, "cases": int(s["cases"])}
        row.update({m: float(s[m]) for m in METRICS})
        row["coverage_at_20"] = float(shown.get(name, 0)) / n_items if n_items else 0.0
        row["answered_share"] = float(s["answered_share"])
        row["best_model"] = best
        for m in METRICS:
            row[f"{m}_diff"] = float(s[m] - summary.loc[best, m])
            diff = means.loc[m][name] - means.loc[m][best]
            row[f"{m}_diff_low"] = float(np.quantile(diff, alpha))
            row[f"{m}_diff_high"] = float(np.quantile(diff, 1 - alpha))
        rows.append(row)
    return pd.DataFrame(rows)


def _as_metrics(values: dict[str, float]) -> dict[str, Any]:
    return mlflow_metrics(values)
