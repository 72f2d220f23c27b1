"""Per-user scoring against recommendations worked out by hand."""

from __future__ import annotations

from fractions import Fraction

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
    out = recommend_batch(users, INDEX, POPULAR, 2).to_pandas()
    assert out.to_dict("list") == {
        "user_id": [10, 10, 11, 11],
        "rank": [1, 2, 1, 2],
        "product_id": [3, 1, 3, 7],
        "score": pytest.approx([0.65, 0.375, 1.0, 0.6]),
        "source": ["item_cosine", "item_cosine", "popular", "popular"],
    }
    empty = recommend_batch(users.iloc[:0], INDEX, POPULAR, 2).to_pandas()
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


def _reference(user, neighbours, popular, k, repeat_weight):
    """The scoring rule written out per candidate in plain Python, in exact fractions
    (no numpy, no rounding: equal scores tie exactly)."""
    history, weights, excluded, own, own_scores = user
    repeat_weight = Fraction(repeat_weight)
    used = [(h, Fraction(w)) for h, w in zip(history, weights, strict=True) if w > 0]
    total = sum((w for _, w in used), Fraction(0))
    cf: dict[int, Fraction] = {}
    rep: dict[int, Fraction] = {}
    if repeat_weight < 1:
        for h, w in used:
            for rec, sim in neighbours.get(h, []):
                cf[rec] = cf.get(rec, 0) + Fraction(sim) * w / total * (
                    1 - repeat_weight
                )
    if repeat_weight > 0:
        mine = [(p, Fraction(s)) for p, s in zip(own, own_scores, strict=True) if s > 0]
        largest = max((s for _, s in mine), default=1)
        for p, s in mine:
            rep[p] = rep.get(p, 0) + s / largest * repeat_weight
    scored = []
    for c in set(cf) | set(rep):
        value = cf.get(c, 0) + rep.get(c, 0)
        if c not in excluded and value > 0:
            source = "repeat" if rep.get(c, 0) > cf.get(c, 0) else "item_cosine"
            scored.append((-value, c, source))
    scored.sort()
    out = [(c, float(min(-v, 1)), s) for v, c, s in scored[:k]]
    shown = {c for c, _, _ in out} | set(excluded)
    for pid, score in popular:
        if len(out) == k:
            break
        if pid not in shown:
            out.append((pid, score, "popular"))
    return out


@pytest.mark.parametrize("repeat_weight", [0.0, 0.25, 1.0])
def test_batch_matches_the_rule_written_per_candidate(repeat_weight):
    rng = np.random.default_rng(7)
    products = np.arange(100, 160)
    # few distinct similarity values, so that many candidates tie
    neighbours = {
        int(p): [
            (int(r), float(s))
            for r, s in zip(
                rng.choice(products, size=rng.integers(0, 8), replace=False),
                rng.choice([0.25, 0.5, 1.0], size=8),
                strict=False,
            )
        ]
        for p in products[:50]
    }
    long = pd.DataFrame(
        [
            (p, rank, r, s)
            for p, recs in neighbours.items()
            for rank, (r, s) in enumerate(sorted(recs, key=lambda t: -t[1]), start=1)
        ],
        columns=["product_id", "rank", "rec_product_id", "score"],
    )
    neighbours = {
        p: sorted(recs, key=lambda t: -t[1]) for p, recs in neighbours.items()
    }
    popular = [
        (int(p), 1.0 / (i + 1)) for i, p in enumerate(rng.permutation(products)[:12])
    ]
    index = NeighbourIndex.from_long(long)
    fallback = Popularity.from_frame(
        pd.DataFrame(
            {
                "product_id": [p for p, _ in popular],
                "rank": range(1, len(popular) + 1),
                "score": [s for _, s in popular],
            }
        )
    )
    users = []
    for _ in range(300):
        # short histories, and long ones whose many candidates go through the
        # partition of rows longer than k + their excluded products
        size = int(rng.integers(0, 6) if rng.random() < 0.7 else rng.integers(6, 40))
        history = rng.choice(products, size=size).tolist()  # repeats and unknowns
        weights = rng.choice([-1.0, 0.0, 1.0, 2.0, 3.0], size=size).tolist()
        excluded = rng.choice(products, size=int(rng.integers(0, 10))).tolist()
        own = rng.choice(products, size=int(rng.integers(0, 4))).tolist()
        own_scores = rng.choice([0.0, 0.5, 2.0], size=len(own)).tolist()
        users.append((history, weights, excluded, own, own_scores))
    frame = pd.DataFrame(
        users,
        columns=["products", "weights", "excluded", "repeat_products", "repeat_scores"],
    )
    frame.insert(0, "user_id", np.arange(len(users)) + 1000)
    out = recommend_batch(frame, index, fallback, 6, repeat_weight).to_pandas()
    for user_id, user in zip(frame["user_id"], users, strict=True):
        want = _reference(user, neighbours, popular, 6, repeat_weight)
        got = out[out["user_id"] == user_id]
        assert got["rank"].tolist() == list(range(1, len(want) + 1))
        assert got["product_id"].tolist() == [c for c, _, _ in want]
        assert got["score"].tolist() == pytest.approx([s for _, s, _ in want])
        assert got["source"].tolist() == [s for _, _, s in want]


def test_batch_input_errors():
    good = [1, 2]
    frame = pd.DataFrame(
        {
            "user_id": [1],
            "products": [good],
            "weights": [[1.0]],  # one weight for two products
            "excluded": [[]],
        }
    )
    with pytest.raises(ValueError, match="as many weights as products"):
        recommend_batch(frame, INDEX, POPULAR, 2)
    frame["weights"] = [[1.0, 2.0]]
    frame["excluded"] = [[3, None]]
    with pytest.raises(ValueError, match="1 null values inside the lists"):
        recommend_batch(frame, INDEX, POPULAR, 2)
    frame["excluded"] = [[3]]
    with pytest.raises(ValueError, match=r"lacks the columns \['repeat_scores'\]"):
        recommend_batch(frame.assign(repeat_products=[[1]]), INDEX, POPULAR, 2, 0.5)
    with pytest.raises(ValueError, match="as many repeat scores as repeat products"):
        recommend_batch(
            frame.assign(repeat_products=[[1]], repeat_scores=[[]]),
            INDEX,
            POPULAR,
            2,
            0.5,
        )


def test_sums_equal_but_for_rounding_tie_and_do_not_rise_with_rank():
    # product 4 gets 0.3 / 2 = 0.15; product 5 gets 0.1 / 2 + 0.2 / 2, which in floats
    # is 0.15000000000000002: the same score, so the smaller id first, and the scores
    # returned must not rise from rank 1 to rank 2
    index = NeighbourIndex.from_long(
        pd.DataFrame(
            {
                "product_id": [1, 1, 2],
                "rank": [1, 2, 1],
                "rec_product_id": [4, 5, 5],
                "score": [0.3, 0.1, 0.2],
            }
        )
    )
    assert 0.1 / 2 + 0.2 / 2 > 0.3 / 2  # the float sums differ
    ids, scores, _ = recommend(
        np.array([1, 2]), np.array([1.0, 1.0]), np.array([]), index, POPULAR, 2
    )
    assert ids.tolist() == [4, 5]
    assert scores[0] >= scores[1]
    assert scores.tolist() == pytest.approx([0.15, 0.15])
