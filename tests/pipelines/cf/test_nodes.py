"""cf nodes on tiny event tables whose results are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from recsys_kedro.recommend.cf_training import (
    InteractionError,
    _als_fit_sample,
    build_interactions,
    item_similarities,
    popular_products,
    product_recommendations_wide,
    recommend_for_users,
)
from recsys_kedro.recommend.quality import (
    RecommendationQualityError,
    check_recommendations,
    screen_recommendations,
)

# Three users; product vectors over (u1, u2, u3) with raw weights (view 1, cart 3, ...):
# u1: 10 view, 20 view;  u2: 10 view, 30 cart (3);  u3: 20 purchase (5), 30 view + cart (4)
ROWS = [
    (1, 10, "view"),
    (1, 20, "view"),
    (2, 10, "view"),
    (2, 30, "cart"),
    (3, 20, "purchase"),
    (3, 30, "view"),
    (3, 30, "cart"),
]
RAW = {"weight_transform": "none"}
# the values worked out by hand assume no time decay and the plain cosine
PLAIN = {"half_life_days": None, "similarity_alpha": 0.5}


def _pairs(frame):
    return {(r.row_id, r.product_id): r.weight for r in frame.collect()}


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_interaction_weights_by_hand(events, params):
    interactions, history, stats = build_interactions(
        events(ROWS), params(**PLAIN, **RAW)
    )
    assert _pairs(interactions) == {
        (1, 10): 1.0,
        (1, 20): 1.0,
        (2, 10): 1.0,
        (2, 30): 3.0,
        (3, 20): 5.0,
        (3, 30): 4.0,
    }
    assert stats["matrix_rows"] == 3 and stats["matrix_products"] == 3
    assert stats["interactions"] == 6
    assert stats["sparsity"] == pytest.approx(1 - 6 / 9)
    hist = {r.user_id: r.asDict() for r in history.collect()}
    assert dict(zip(hist[3]["products"], hist[3]["weights"], strict=True)) == {
        20: 5.0,
        30: 4.0,
    }
    assert hist[3]["excluded"] == [20]  # bought
    assert hist[1]["excluded"] == []


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_log1p_negative_sums_and_sessions(events, params):
    rows = [
        (1, 10, "view", 0, "a"),
        (1, 10, "remove_from_cart", 0, "a"),  # 1 - 1 = 0: no preference
        (1, 20, "cart", 0, "a"),
        (1, 20, "view", 1, "b"),
    ]
    interactions, history, _ = build_interactions(events(rows), params(**PLAIN))
    assert _pairs(interactions) == {(1, 20): pytest.approx(math.log1p(4))}
    by_session, _, stats = build_interactions(
        events(rows), params(**PLAIN, row="user_session")
    )
    assert sorted(_pairs(by_session).values()) == pytest.approx(
        [math.log1p(1), math.log1p(3)]
    )
    assert stats["matrix_rows"] == 2
    (user,) = history.collect()
    assert user.products == [20] and user.weights == pytest.approx([math.log1p(4)])


def test_time_decay_halves_weight_per_half_life(events, params):
    rows = [(1, 10, "view", 0), (1, 20, "view", 10)]  # last event is the reference
    interactions, _, _ = build_interactions(
        events(rows), params(**RAW, similarity_alpha=0.5, half_life_days=10)
    )
    assert _pairs(interactions) == {
        (1, 10): pytest.approx(0.5),
        (1, 20): pytest.approx(1.0),
    }


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_heavy_rows_dropped_or_capped(events, params):
    rows = [*ROWS, (9, 10, "view"), (9, 20, "cart"), (9, 30, "purchase")]
    dropped, _, stats = build_interactions(
        events(rows), params(max_products_per_row=2, **RAW)
    )
    assert {r for r, _ in _pairs(dropped)} == {1, 2, 3}
    assert stats["heavy_rows"] == 1 and stats["heavy_row_pairs"] == 3
    capped, _, _ = build_interactions(
        events(rows), params(max_products_per_row=2, heavy_rows="cap", **RAW)
    )
    assert {p for r, p in _pairs(capped) if r == 9} == {20, 30}  # the two heaviest


@pytest.mark.parametrize(
    ("rows", "overrides", "message"),
    [
        ([], {}, r"No \(row, product\) pair has a positive weight"),
        (
            ROWS,
            {"event_weights": {"view": 0, "cart": 0, "purchase": 0}},
            "every event type",
        ),
        ([(1, 10, "remove_from_cart")], {}, "positive weight"),
    ],
)
def test_no_usable_interaction_is_a_clear_error(
    events, params, rows, overrides, message
):
    with pytest.raises(InteractionError, match=message):
        build_interactions(events(rows), params(**overrides))


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_similarities_by_hand_and_wide_form(events, params):
    # vectors over (u1,u2,u3): 10=(1,1,0), 20=(1,0,5), 30=(0,3,4)
    p = params(**PLAIN, **RAW, top_n=2)
    interactions, _, _ = build_interactions(events(ROWS), p)
    neighbours, stats = item_similarities(interactions, p)
    got = {
        (r.product_id, r.rank): (r.rec_product_id, r.score)
        for r in neighbours.collect()
    }
    c_10_20 = 1 / math.sqrt(2 * 26)
    c_10_30 = 3 / math.sqrt(2 * 25)
    c_20_30 = 20 / math.sqrt(26 * 25)
    expected = {
        (10, 1): (30, c_10_30),
        (10, 2): (20, c_10_20),
        (20, 1): (30, c_20_30),
        (20, 2): (10, c_10_20),
        (30, 1): (20, c_20_30),
        (30, 2): (10, c_10_30),
    }
    assert got.keys() == expected.keys()
    for key, (rec, score) in expected.items():
        assert got[key][0] == rec and got[key][1] == pytest.approx(score, rel=1e-6)
    assert stats["catalog_coverage"] == 1.0
    wide = {
        r.product_id: r.asDict()
        for r in product_recommendations_wide(neighbours, p).collect()
    }
    assert wide[10]["rec_1"] == 30 and wide[10]["rec_2"] == 20
    assert wide[10]["score_1"] == pytest.approx(c_10_30)
    assert list(product_recommendations_wide(neighbours, p).columns) == [
        "product_id",
        "rec_1",
        "rec_2",
        "score_1",
        "score_2",
    ]


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_single_user_n_larger_than_catalog_and_single_product(events, params):
    one_user = events([(1, 10, "view"), (1, 20, "view"), (1, 30, "view")])
    interactions, _, _ = build_interactions(one_user, params(**PLAIN))
    neighbours, _ = item_similarities(interactions, params(**PLAIN, top_n=50))
    rows = neighbours.collect()
    assert len(rows) == 6  # 3 products x the 2 others
    assert all(r.score == pytest.approx(1.0) for r in rows)
    single, _, _ = build_interactions(
        events([(1, 10, "view"), (2, 10, "cart")]), params(**PLAIN)
    )
    with pytest.raises(InteractionError, match="at least 2 products"):
        item_similarities(single, params(**PLAIN))


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_user_recommendations_exclude_purchases_and_fall_back(events, params, spark):
    p = params(**PLAIN, **RAW, top_k=2, popular_pool=3)
    rows = [*ROWS, (4, 30, "remove_from_cart")]  # user 4: no positive history
    interactions, history, _ = build_interactions(events(rows), p)
    neighbours, _ = item_similarities(interactions, p)
    popular = popular_products(interactions, p)
    # totals: 10 -> 2, 20 -> 6, 30 -> 7
    assert [(r.product_id, r.rank) for r in popular.orderBy("rank").collect()] == [
        (30, 1),
        (20, 2),
        (10, 3),
    ]
    assert [r.score for r in popular.orderBy("rank").collect()] == pytest.approx(
        [1, 6 / 7, 2 / 7]
    )
    recs, stats = recommend_for_users(history, neighbours, popular, p)
    by_user = {}
    for r in recs.orderBy("user_id", "rank").collect():
        by_user.setdefault(r.user_id, []).append((r.product_id, r.source))
    assert by_user[4] == [(30, "popular"), (20, "popular")]
    assert all(pid != 20 for pid, _ in by_user[3])  # user 3 bought 20
    assert by_user[3][0][1] == "item_cosine"
    assert stats["users_recommended"] == 4 and stats["users_personalised"] == 3


def _recs(spark, rows, with_source=False):
    schema = (
        "user_id long, rank int, product_id long, score double, source string"
        if with_source
        else "product_id long, rank int, rec_product_id long, score double"
    )
    return spark.createDataFrame(rows, schema)


@pytest.mark.integration  # several seconds: left out of make test-fast
@pytest.mark.parametrize(
    ("rows", "rule"),
    [
        ([], "is empty"),
        ([(1, 1, 2, 1.5)], r"scores in \[0, 1\]"),
        ([(1, 1, None, 0.5)], "no null"),
        ([(1, 1, 2, 0.5), (1, 2, 2, 0.4)], "no duplicate rec_product_id"),
        ([(1, 1, 2, 0.5), (1, 1, 3, 0.4)], "no duplicate rank"),
        ([(1, 1, 2, 0.4), (1, 2, 3, 0.5)], "sorted descending"),
        ([(1, 1, 1, 0.5)], "recommended for itself"),
    ],
)
def test_quality_checks_fail_with_the_rule(spark, rows, rule):
    frame = _recs(spark, rows)
    with pytest.raises(RecommendationQualityError, match=rule):
        check_recommendations(
            frame, "t", "product_id", "rec_product_id", forbid_self=True
        )


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_quality_checks_on_user_tables(spark):
    ok = _recs(spark, [(1, 1, 5, 0.2, "item_cosine"), (1, 2, 6, 0.9, "popular")], True)
    assert (
        check_recommendations(ok, "u", "user_id", "product_id", group_by_source=True)
        == 2
    )
    bad = _recs(spark, [(1, 1, 5, 0.9, "popular"), (1, 2, 6, 0.2, "item_cosine")], True)
    with pytest.raises(RecommendationQualityError, match="before popular"):
        check_recommendations(bad, "u", "user_id", "product_id", group_by_source=True)
    with pytest.raises(RecommendationQualityError, match="missing columns"):
        check_recommendations(
            ok.drop("source"), "u", "user_id", "product_id", group_by_source=True
        )
    assert ok.where(F.col("score") > 1).count() == 0


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_the_one_job_screen_flags_exactly_the_broken_keys(spark):
    rows = [
        # user 1: fine (the popular fill may score above the personalised rows)
        (1, 1, 5, 0.2, "item_cosine"),
        (1, 2, 6, 0.1, "item_cosine"),
        (1, 3, 7, 0.9, "popular"),
        (1, 4, 8, 0.8, "popular"),
        # user 2: its item_cosine rows rise from rank 1 to rank 3 (not adjacent)
        (2, 1, 5, 0.2, "item_cosine"),
        (2, 2, 6, 0.9, "popular"),
        (2, 3, 7, 0.3, "item_cosine"),
        # user 3: product 5 twice; user 4: rank 1 twice
        (3, 1, 5, 0.5, "item_cosine"),
        (3, 2, 5, 0.4, "item_cosine"),
        (4, 1, 5, 0.5, "item_cosine"),
        (4, 1, 6, 0.5, "item_cosine"),
        # user 5: a score above 1 and a null product
        (5, 1, 5, 1.5, "item_cosine"),
        (5, 2, None, 0.4, "item_cosine"),
        # user 6: its scores rise from rank 1 to rank 2
        (6, 1, 5, 0.3, "item_cosine"),
        (6, 2, 6, 0.4, "item_cosine"),
    ]
    n, suspects = screen_recommendations(
        _recs(spark, rows, True), "user_id", "product_id", group_by_source=True
    )
    # user 2's rise across a popular row is flagged as a personalised row after a
    # popular one (its order is then checked by the rule's own query); user 5's null
    # product is one distinct product fewer than its rows (flagged, cleared there too)
    assert (n, suspects) == (
        15,
        {"rows": 1, "duplicates": 3, "order": 1, "sources": 1},
    )
    n, suspects = screen_recommendations(
        _recs(spark, rows[:4], True), "user_id", "product_id", group_by_source=True
    )
    assert (n, suspects) == (4, {"rows": 0, "duplicates": 0, "order": 0, "sources": 0})
    # without sources, every row of a key is one sequence
    _, suspects = screen_recommendations(
        _recs(spark, [(1, 1, 2, 0.5), (1, 2, 3, 0.6), (2, 1, 2, 0.5)]),
        "product_id",
        "rec_product_id",
        forbid_self=True,
    )
    assert suspects == {"rows": 1, "duplicates": 0, "order": 1}


def test_als_is_fitted_on_every_evaluated_user_and_a_sample_up_to_max_users(spark):
    rng = np.random.default_rng(0)
    n_users, evaluated, cap = 20_000, 1_000, 5_000
    ratings = pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(n_users, dtype="int64"), 2),
            "product_id": rng.integers(0, 50, 2 * n_users),
            "weight": 1.0,
        }
    )
    frame = spark.createDataFrame(ratings)
    users = spark.createDataFrame(
        pd.DataFrame({"user_id": np.arange(0, n_users, n_users // evaluated)})
    )
    kept = _als_fit_sample(frame, users, cap, seed=42).toPandas()
    per_user = kept.groupby("user_id").size()
    # every evaluated user, with all their ratings; no user cut in half
    assert set(range(0, n_users, n_users // evaluated)) <= set(per_user.index)
    assert (per_user == 2).all()
    # the others: 19,000 users each kept with p = 4,000 / 19,000 (sd of the count ~56)
    assert abs(len(per_user) - cap) < 300
    # at or under the cap, and with the cap off, every rating stays
    assert _als_fit_sample(frame, users, n_users, seed=42).count() == 2 * n_users
    assert _als_fit_sample(frame, users, None, seed=42).count() == 2 * n_users
