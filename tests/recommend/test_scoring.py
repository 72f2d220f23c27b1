"""Per-user scoring against recommendations worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_kedro.recommend.scoring import (
    NeighbourIndex,
    Popularity,
    recommend,
    recommend_batch,
)

# neighbours: 1 -> 2 (0.5), 3 (0.2);  2 -> 3 (0.8), 1 (0.5)
INDEX = NeighbourIndex.from_long(
    pd.DataFrame(
        {
            "product_id": [2, 1, 2, 1],
            "rank": [2, 1, 1, 2],
            "rec_product_id": [1, 2, 3, 3],
            "score": [0.5, 0.5, 0.8, 0.2],
        }
    )
)
POPULAR = Popularity.from_frame(
    pd.DataFrame(
        {
            "product_id": [3, 7, 8, 9],
            "rank": [1, 2, 3, 4],
            "score": [1.0, 0.6, 0.5, 0.1],
        }
    )
)


def test_weighted_mean_similarity_by_hand():
    # history 1 (w=1), 2 (w=3): 3 <- (0.2*1 + 0.8*3)/4 = 0.65; 2 <- 0.5*1/4; 1 <- 0.5*3/4
    ids, scores, sources = recommend(
        np.array([1, 2]),
        np.array([1.0, 3.0]),
        np.array([], dtype=np.int64),
        INDEX,
        POPULAR,
        3,
    )
    assert ids.tolist() == [3, 1, 2]
    assert scores == pytest.approx([0.65, 0.375, 0.125])
    assert sources.tolist() == ["item_cosine"] * 3


def test_excluded_products_and_popular_fill():
    ids, scores, sources = recommend(
        np.array([1, 2]), np.array([1.0, 3.0]), np.array([3, 2]), INDEX, POPULAR, 4
    )
    # 3 and 2 excluded: cosine gives only 1 (0.375); fill with 7, 8 (3 excluded), 9.
    assert ids.tolist() == [1, 7, 8, 9]
    assert scores == pytest.approx([0.375, 0.6, 0.5, 0.1])
    assert sources.tolist() == ["item_cosine", "popular", "popular", "popular"]


def test_no_usable_history_gets_popular_products():
    for history, weights in (([], []), ([1], [0.0]), ([42], [2.0])):
        ids, _, sources = recommend(
            np.array(history, dtype=np.int64),
            np.array(weights),
            np.array([]),
            INDEX,
            POPULAR,
            2,
        )
        assert ids.tolist() == [3, 7]
        assert set(sources) == {"popular"}


def test_k_larger_than_everything_gives_a_shorter_list():
    ids, _, _ = recommend(
        np.array([1]), np.array([1.0]), np.array([]), INDEX, POPULAR, 50
    )
    assert ids.tolist() == [2, 3, 7, 8, 9]


def test_batch_frame():
    users = pd.DataFrame(
        {
            "user_id": [10, 11],
            "products": [[1, 2], None],
            "weights": [[1.0, 3.0], None],
            "excluded": [[], None],
        }
    )
    out = recommend_batch(users, INDEX, POPULAR, 2)
    assert out.to_dict("list") == {
        "user_id": [10, 10, 11, 11],
        "rank": [1, 2, 1, 2],
        "product_id": [3, 1, 3, 7],
        "score": pytest.approx([0.65, 0.375, 1.0, 0.6]),
        "source": ["item_cosine", "item_cosine", "popular", "popular"],
    }
    empty = recommend_batch(users.iloc[:0], INDEX, POPULAR, 2)
    assert list(empty.columns) == ["user_id", "rank", "product_id", "score", "source"]
    assert len(empty) == 0


def test_repeat_baseline_and_blend_by_hand():
    history, weights = np.array([1, 2]), np.array([1.0, 3.0])
    own = (np.array([1, 2, 5]), np.array([2.0, 4.0, 0.0]))  # 5: no positive engagement
    # w = 1: the user's own products, most engaged first (4/4, 2/4), then popular
    ids, scores, sources = recommend(
        history, weights, np.array([]), INDEX, POPULAR, 3, own, 1.0
    )
    assert ids.tolist() == [2, 1, 3]
    assert scores == pytest.approx([1.0, 0.5, 1.0])
    assert sources.tolist() == ["repeat", "repeat", "popular"]
    # w = 0.5: cosine (3: 0.65, 1: 0.375, 2: 0.125) halved plus repeat halved:
    # 2 <- 0.0625 + 0.5, 1 <- 0.1875 + 0.25, 3 <- 0.325
    ids, scores, sources = recommend(
        history, weights, np.array([1]), INDEX, POPULAR, 3, own, 0.5
    )
    assert ids.tolist() == [2, 3, 7]  # 1 is excluded
    assert scores == pytest.approx([0.5625, 0.325, 0.6])
    assert sources.tolist() == ["repeat", "item_cosine", "popular"]
    # w = 0 with a repeat part is item cosine exactly
    plain = recommend(history, weights, np.array([]), INDEX, POPULAR, 3)
    blended = recommend(history, weights, np.array([]), INDEX, POPULAR, 3, own, 0.0)
    assert all((a == b).all() for a, b in zip(plain, blended, strict=True))
