"""Top items of a factor model: by hand, and against Spark ML's own recommendForUserSubset."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.ml.recommendation import ALS

from recsys_kedro.recommend.factors import top_items, top_scores


def test_top_scores_by_hand_with_ties_to_the_smaller_id():
    items = np.array([[1, 0], [0, 1], [1, 1], [2, 0]], np.float32)
    ids = np.array([10, 20, 30, 40])
    users = np.array([[1, 0], [0, 2], [1, 1]], np.float32)
    # user 0: 10->1, 20->0, 30->1, 40->2   -> 40, then 10 and 30 tie at 1: 10 first
    # user 1: 10->0, 20->2, 30->2, 40->0   -> 20, 30 (tie, smaller id first), 10 (0, id)
    # user 2: 10->1, 20->1, 30->2, 40->2   -> 30, 40, 10
    best, scores = top_scores(users, items, ids, 3)
    assert best.tolist() == [[40, 10, 30], [20, 30, 10], [30, 40, 10]]
    assert scores.tolist() == [[2, 1, 1], [2, 2, 0], [2, 2, 1]]


def test_top_scores_asks_for_more_than_there_are_items():
    items = np.array([[1.0], [3.0]], np.float32)
    best, scores = top_scores(np.array([[1.0]], np.float32), items, np.array([5, 6]), 9)
    assert best.tolist() == [[6, 5]]
    assert scores.tolist() == [[3.0, 1.0]]


def test_top_items_equals_spark_mls_recommend_for_user_subset(spark):
    rng = np.random.default_rng(3)
    n = 4000
    ratings = pd.DataFrame(
        {
            "user": rng.integers(0, 300, n).astype("int32"),
            "item": rng.zipf(1.6, n).clip(max=400).astype("int32"),
            "weight": rng.integers(1, 6, n).astype("float32"),
        }
    )
    frame = spark.createDataFrame(ratings).groupBy("user", "item").sum("weight")
    frame = frame.withColumnRenamed("sum(weight)", "weight")
    model = ALS(
        rank=6, maxIter=4, implicitPrefs=True, userCol="user", itemCol="item",
        ratingCol="weight", seed=1,
    ).fit(frame)  # fmt: skip
    users = spark.createDataFrame(pd.DataFrame({"user": list(range(0, 300, 7))}))
    n_top = 25
    theirs = (
        model.recommendForUserSubset(users, n_top)
        .selectExpr("user", "posexplode(recommendations) AS (pos, rec)")
        .selectExpr("user", "pos", "rec.item AS item", "rec.rating AS score")
        .toPandas()
    )
    subset = model.userFactors.join(
        users.withColumnRenamed("user", "id"), "id", "left_semi"
    )
    ours = top_items(subset, model.itemFactors, n_top).toPandas()
    assert len(theirs) == len(ours) > 0
    key = ["user", "pos"]
    merged = theirs.merge(ours, on=key, suffixes=("_spark", "_ours"))
    assert len(merged) == len(theirs)
    # the same scores at every position; the same items wherever a score is not tied
    np.testing.assert_allclose(merged["score_ours"], merged["score_spark"], rtol=1e-5)
    untied = ~ours.duplicated(["user", "score"], keep=False)
    ours_untied = ours[untied].set_index(key)["item"]
    assert (theirs.set_index(key).loc[ours_untied.index, "item"] == ours_untied).all()
    assert untied.mean() > 0.9


def test_top_scores_on_a_large_catalogue_equals_a_full_sort():
    # 20,000 items: the threshold comes from every 4th column; rounded factors make
    # many equal scores, which the smaller id must win
    rng = np.random.default_rng(7)
    items = np.round(rng.standard_normal((20_000, 8)), 1).astype(np.float32)
    users = np.round(rng.standard_normal((40, 8)), 1).astype(np.float32)
    ids = np.arange(20_000) * 2 + 1
    best, scores = top_scores(users, items, ids, 60)
    full = users @ items.T
    for row, got, got_scores in zip(full, best, scores, strict=True):
        order = np.lexsort((ids, -row))[:60]
        assert got.tolist() == ids[order].tolist()
        assert got_scores.tolist() == row[order].tolist()
