"""Ranking metrics against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from recsys_kedro.evaluation import ranking_metrics

A, B, C, D, E, F, G, X, Y, Z, Q = range(1, 12)


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_metrics_at_3_by_hand(spark):
    recs = spark.createDataFrame(
        [
            (1, 1, A),
            (1, 2, X),
            (1, 3, B),
            (2, 1, X),
            (2, 2, Y),
            (2, 3, Z),
            (2, 4, C),  # C at rank 4: beyond k
            (3, 1, Y),
            (3, 2, D),
            (5, 1, Q),  # not an evaluated user
        ],
        "user_id long, rank int, product_id long",
    )
    relevant = spark.createDataFrame(
        [(1, A), (1, B), (1, B), (2, C), (3, D), (3, E), (3, F), (3, G), (4, A)],
        "user_id long, product_id long",
    )
    got = ranking_metrics(recs, relevant, k=3, catalog_size=10)
    # user 1: hits at 1 and 3; user 2: none in top 3; user 3: hit at 2; user 4: no recs
    ndcg1 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    ndcg3 = (1 / math.log2(3)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    assert got == pytest.approx(
        {
            "users": 4,
            "hit_rate": 2 / 4,
            "precision": (2 / 3 + 1 / 3) / 4,
            "recall": (1 + 1 / 4) / 4,
            "ndcg": (ndcg1 + ndcg3) / 4,
            "map": ((1 + 2 / 3) / 2 + (1 / 2) / 3) / 4,
            "catalog_coverage": 6 / 10,  # A, X, B, Y, Z, D
        }
    )
