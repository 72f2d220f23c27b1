"""Nodes of the sessions pipeline on tiny hand-written sessions."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from pyspark.sql import types as T

from recsys_kedro.next_item.index import SessionDataError
from recsys_kedro.next_item.model import SessionData
from recsys_kedro.pipelines.sessions.nodes import (
    _score_partition,
    evaluate_session_models,
    fit_session_recommender,
    recent_session_events,
    recommend_sessions,
    session_sequences,
)
from tests.conftest import EVENT_SCHEMA
from tests.params import typed

PARAMS = yaml.safe_load(
    (
        Path(__file__).resolve().parents[3]
        / "conf"
        / "base"
        / "parameters_sessions.yml"
    ).read_text()
)["sessions"]
T0 = datetime(2020, 1, 1)
SEQUENCE_SCHEMA = T.StructType(
    [
        T.StructField("user_session", T.StringType()),
        T.StructField("start_time", T.TimestampType()),
        T.StructField("end_time", T.TimestampType()),
        T.StructField("n_items", T.IntegerType()),
        T.StructField("items", T.ArrayType(T.LongType())),
    ]
)
# Small enough to fit in a test: no search, no re-ranker.
QUICK = {**PARAMS, "model": {"search": {}, "rerank": False}}


def _events(spark, rows):
    """Events from (session, hours after T0, type, product)."""
    return spark.createDataFrame(
        [
            (T0 + timedelta(hours=h), kind, product, 1, None, None, 1.0, 7, session)
            for session, h, kind, product in rows
        ],
        EVENT_SCHEMA,
    )


def _sequences(spark, sessions):
    rows = [
        (f"t{i}", T0 + timedelta(hours=i), T0 + timedelta(hours=i), len(s), list(s))
        for i, s in enumerate(sessions)
    ]
    return spark.createDataFrame(rows, SEQUENCE_SCHEMA)


def _collect(frame):
    return {r["user_session"]: list(r["items"]) for r in frame.collect()}


def test_sequences_collapse_repeats_and_order_same_instant_events(spark):
    events = _events(
        spark,
        [
            ("a", 0, "view", 1),
            ("a", 1, "cart", 1),  # same product right after: one step
            ("a", 2, "view", 2),
            ("a", 3, "purchase", 2),
            ("a", 4, "view", 1),  # back to 1: a new step
            ("b", 0, "cart", 3),  # same instant as the view of 5: view first
            ("b", 0, "view", 5),
        ],
    )
    got = _collect(session_sequences(events, typed("sessions", PARAMS)))
    assert got == {"a": [1, 2, 1], "b": [5, 3]}
    every = _collect(
        session_sequences(
            events, typed("sessions", {**PARAMS, "collapse_repeats": False})
        )
    )
    assert every == {"a": [1, 1, 2, 2, 1], "b": [5, 3]}
    views = _collect(
        session_sequences(
            events, typed("sessions", {**PARAMS, "event_types": ["view"]})
        )
    )
    assert views == {"a": [1, 2, 1], "b": [5]}
    row = (
        session_sequences(events, typed("sessions", PARAMS))
        .where("user_session = 'a'")
        .first()
    )
    assert (row["start_time"], row["end_time"], row["n_items"]) == (
        T0,
        T0 + timedelta(hours=4),
        3,
    )


def test_recent_session_events_keep_whole_sessions_active_at_the_end(spark):
    events = _events(
        spark,
        [
            ("old", 0, "view", 1),
            ("late", 10, "view", 2),  # an early event of a session still active
            ("late", 40, "view", 3),
            ("end", 47, "view", 4),
        ],
    )
    got = recent_session_events(
        events, typed("sessions", {**PARAMS, "recent_days": 0.5})
    )
    assert sorted((r["user_session"], r["product_id"]) for r in got.collect()) == [
        ("end", 4),
        ("late", 2),
        ("late", 3),
    ]


TRAIN = [[1, 2, 3], [2, 4], [1, 2], [2, 3, 4], [5, 2], [4, 5], [1, 2, 3, 4]]


@pytest.fixture(scope="module")
def fitted(spark):
    model, stats = fit_session_recommender(
        _sequences(spark, TRAIN), typed("sessions", QUICK)
    )
    return model, stats


def test_fit_keeps_the_newest_sessions_in_time_order(spark, fitted):
    model, stats = fitted
    assert stats["training_sessions"]["value"] == 7
    assert stats["training_items"]["value"] == 5
    assert stats["reranker_used"]["value"] == 0
    # sessions in start-time order: the first is [1, 2, 3]
    ix = model.index
    assert ix.item_ids[ix.sess_items[ix.sess_ptr[0] : ix.sess_ptr[1]]].tolist() == [
        1,
        2,
        3,
    ]
    small, _ = fit_session_recommender(
        _sequences(spark, TRAIN), typed("sessions", {**QUICK, "max_sessions": 3})
    )
    newest = small.index
    assert newest.n_sessions == 3
    assert newest.item_ids[newest.sess_items[:2]].tolist() == [5, 2]  # TRAIN[4]


def test_fit_needs_two_sessions(spark):
    with pytest.raises(SessionDataError, match="1 training session"):
        fit_session_recommender(_sequences(spark, [[1, 2]]), typed("sessions", QUICK))


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_recommendations_on_the_workers_match_the_model(spark, fitted):
    model, _ = fitted
    sessions = _sequences(spark, [[1, 2], [99], [4]])
    got = recommend_sessions(
        model, sessions, typed("sessions", {**QUICK, "top_n": 3})
    ).toPandas()
    ids, _, answered = model.recommend(
        SessionData(np.array([0, 2, 3, 4]), np.array([1, 2, 99, 4])), 3
    )
    for i, session in enumerate(["t0", "t1", "t2"]):
        mine = got[got["user_session"] == session].sort_values("rank")
        assert mine["product_id"].tolist() == ids[i].tolist()
        assert mine["rank"].tolist() == [1, 2, 3]
        assert set(mine["source"]) == {"session" if answered[i] else "popular"}
    # an unknown product only: the popular products, most clicked first (2: 6 clicks)
    assert got[got["user_session"] == "t1"]["source"].tolist() == ["popular"] * 3
    assert (
        got[got["user_session"] == "t1"].sort_values("rank")["product_id"].iloc[0] == 2
    )


def test_evaluation_by_hand(spark, fitted):
    model, _ = fitted
    test = _sequences(spark, [[1, 2, 3], [7], [2, 99]])
    neighbours = spark.createDataFrame(
        pd.DataFrame(
            {
                "product_id": [1, 2],
                "rank": [1, 1],
                "rec_product_id": [2, 3],
                "score": [0.9, 0.8],
            }
        )
    )
    rules = spark.createDataFrame(
        [([1], [3], 0.5)],
        "antecedent array<long>, consequent array<long>, confidence double",
    )
    params = {
        **QUICK,
        "evaluation": {
            # the model has no re-ranker (QUICK): its row is left out, not an error
            "models": [
                "popularity",
                "item_cosine",
                "fpgrowth_rules",
                "session_knn",
                "reranked",
            ],
            "bootstrap": 50,
        },
    }
    table, metrics = evaluate_session_models(
        model,
        test,
        neighbours,
        rules,
        {"cutoff": "2020-01-02"},
        typed("sessions", params),
    )
    rows = table.set_index("model")
    assert list(rows.index) == [
        "popularity",
        "item_cosine",
        "fpgrowth_rules",
        "session_knn",
    ]
    # 3 cases: [1] -> 2, [1, 2] -> 3, [2] -> 99 (unknown: a miss for every model)
    assert (rows["cases"] == 3).all()
    # clicks: 2 six, 4 four, 1 and 3 three, 5 two. Popularity ranks 2 first (rank 1);
    # 3 ties with 1 behind 2 and 4 (rank 4).
    assert rows.loc["popularity", "hit_rate_at_10"] == pytest.approx(2 / 3)
    assert rows.loc["popularity", "mrr_at_10"] == pytest.approx((1 + 1 / 4) / 3)
    assert rows.loc["popularity", "coverage_at_20"] == pytest.approx(1.0)
    # item cosine: [1] -> 2 scores 0.9 (rank 1); [1, 2]: 2 0.9, 3 0.8 -> rank 2
    assert rows.loc["item_cosine", "mrr_at_10"] == pytest.approx((1 + 1 / 2) / 3)
    # rules: [1] fires 1 -> 3; for [1] -> 2: 3 first, then 2 (most clicked): rank 2;
    # [1, 2] -> 3: rank 1
    assert rows.loc["fpgrowth_rules", "mrr_at_10"] == pytest.approx((1 / 2 + 1) / 3)
    assert rows.loc["fpgrowth_rules", "answered_share"] == pytest.approx(2 / 3)
    best = rows["best_model"].iloc[0]
    assert rows.loc[best, "hit_rate_at_20_diff"] == 0.0
    assert rows.loc[best, "hit_rate_at_20_diff_low"] == 0.0
    for name in rows.index:
        assert (
            rows.loc[name, "mrr_at_10_diff_low"]
            <= rows.loc[name, "mrr_at_10_diff"]
            <= rows.loc[name, "mrr_at_10_diff_high"]
        )
    assert metrics["item_cosine.mrr_at_10"]["value"] == pytest.approx(0.5)
    assert metrics["cases"]["value"] == 3


def test_each_arrow_batch_draws_its_own_bootstrap_weights(fitted):
    """The Poisson weights come from the batch's (partition, batch) stream: two batches
    of one partition no longer draw the same weights (they did when seeded by the
    partition alone), and the same batch draws the same ones again."""
    model, _ = fitted
    part = pd.DataFrame({"user_session": ["s"], "items": [[1, 2]]})  # one case

    def weights(stream):
        frame = _score_partition(
            {"model": model, "replicates": 200}, part, ["popularity"], 7, stream
        )
        boot = frame[(frame["kind"] == "boot") & (frame["metric"] == "mrr_at_10")]
        return boot.sort_values("replicate")["sum_w"].to_numpy()

    first, again = weights((0, 0)), weights((0, 0))
    other_batch, other_partition = weights((0, 1)), weights((1, 0))
    np.testing.assert_array_equal(first, again)
    # one case: each replicate's weight is one Poisson(1) draw
    assert set(np.unique(first)) <= set(range(20)) and 0.7 < first.mean() < 1.3
    assert not np.array_equal(first, other_batch)
    assert not np.array_equal(first, other_partition)
    assert not np.array_equal(other_batch, other_partition)
