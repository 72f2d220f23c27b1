"""The cosine kernel against similarities worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from recsys_kedro.recommend.similarity import block_neighbours

# users x products:  u1: A=1, B=1;  u2: A=1, C=2;  u3: B=2, C=2
# product vectors over (u1, u2, u3): A=(1,1,0), B=(1,0,2), C=(0,2,2)
# cos(A,B) = 1/sqrt(2*5), cos(A,C) = 2/sqrt(2*8) = 0.5, cos(B,C) = 4/sqrt(5*8)
A, B, C = 101, 202, 303
AB, AC, BC = 1 / math.sqrt(10), 0.5, 4 / math.sqrt(40)
INTERACTIONS = pd.DataFrame(
    {
        "row_id": [1, 1, 2, 2, 3, 3],
        "product_id": [A, B, A, C, B, C],
        "weight": [1.0, 1.0, 1.0, 2.0, 2.0, 2.0],
    }
)


def _as_lists(frame: pd.DataFrame) -> dict[int, list[tuple[int, float]]]:
    out: dict[int, list[tuple[int, float]]] = {}
    for row in frame.sort_values(["product_id", "rank"]).itertuples():
        out.setdefault(row.product_id, []).append((row.rec_product_id, row.score))
    return out


def test_all_neighbours_by_hand():
    result = block_neighbours(
        INTERACTIONS, 0, 1, top_n=5, min_score=0.0, n_threads=None
    )
    got = _as_lists(result)
    expected = {A: [(C, AC), (B, AB)], B: [(C, BC), (A, AB)], C: [(B, BC), (A, AC)]}
    assert got.keys() == expected.keys()
    for product, recs in expected.items():
        assert [r for r, _ in got[product]] == [r for r, _ in recs]
        assert [s for _, s in got[product]] == pytest.approx(
            [s for _, s in recs], rel=1e-6
        )
    assert list(result["rank"]) == [1, 2, 1, 2, 1, 2]


def test_top_one_and_blocks_split_the_products_without_changing_them():
    one = block_neighbours(INTERACTIONS, 0, 1, top_n=1, min_score=0.0, n_threads=None)
    assert _as_lists(one) == {
        A: [(C, pytest.approx(AC))],
        B: [(C, pytest.approx(BC))],
        C: [(B, pytest.approx(BC))],
    }
    parts = [
        block_neighbours(INTERACTIONS, b, 2, top_n=1, min_score=0.0, n_threads=None)
        for b in range(2)
    ]
    assert sorted(parts[0]["product_id"]) == [A, C]  # positions 0 and 2
    assert sorted(parts[1]["product_id"]) == [B]
    merged = pd.concat(parts).sort_values("product_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(
        merged, one.sort_values("product_id").reset_index(drop=True)
    )


def test_min_score_and_products_with_no_co_occurrence():
    extra = pd.concat(
        [
            INTERACTIONS,
            pd.DataFrame({"row_id": [9], "product_id": [404], "weight": [1.0]}),
        ]
    )
    result = block_neighbours(extra, 0, 1, top_n=5, min_score=0.4, n_threads=None)
    got = _as_lists(result)
    # A-B (0.316) is under the threshold; product 404 shares no user with anyone.
    assert {p: [r for r, _ in recs] for p, recs in got.items()} == {
        A: [C],
        B: [C],
        C: [B, A],
    }


def test_duplicate_pairs_are_summed_and_threads_agree():
    split = pd.DataFrame(
        {
            "row_id": [1, 1, 1, 2, 2, 3, 3, 3],
            "product_id": [A, B, B, A, C, B, C, C],
            "weight": [1.0, 0.5, 0.5, 1.0, 2.0, 2.0, 1.0, 1.0],
        }
    )
    single = block_neighbours(split, 0, 1, top_n=5, min_score=0.0, n_threads=None)
    threaded = block_neighbours(split, 0, 1, top_n=5, min_score=0.0, n_threads=2)
    expected = block_neighbours(
        INTERACTIONS, 0, 1, top_n=5, min_score=0.0, n_threads=None
    )
    pd.testing.assert_frame_equal(single, expected)
    pd.testing.assert_frame_equal(threaded, expected)
    assert np.isclose(single["score"].max(), BC)


def test_asymmetric_cosine_by_hand():
    # |A|^2 = 2, |B|^2 = 5, |C|^2 = 8; A.B = 1, A.C = 2, B.C = 4
    # alpha = 1: sim(i, j) = x_i . x_j / |x_i|^2 (how much of i's mass j shares)
    result = block_neighbours(
        INTERACTIONS, 0, 1, top_n=5, min_score=0.0, n_threads=None, alpha=1.0
    )
    got = _as_lists(result)
    assert got[A] == [(C, pytest.approx(1.0)), (B, pytest.approx(0.5))]
    assert got[B] == [(C, pytest.approx(0.8)), (A, pytest.approx(0.2))]
    assert got[C] == [(B, pytest.approx(0.5)), (A, pytest.approx(0.25))]
    # alpha = 0.75: x_i . x_j / (|x_i|^1.5 |x_j|^0.5)
    got = _as_lists(
        block_neighbours(
            INTERACTIONS, 0, 1, top_n=1, min_score=0.0, n_threads=None, alpha=0.75
        )
    )
    assert got[A] == [(C, pytest.approx(2 / (2**0.75 * 8**0.25), rel=1e-6))]
    assert got[B] == [(C, pytest.approx(4 / (5**0.75 * 8**0.25), rel=1e-6))]
    # alpha = 0.5 is the cosine
    half = block_neighbours(
        INTERACTIONS, 0, 1, top_n=5, min_score=0.0, n_threads=None, alpha=0.5
    )
    assert _as_lists(half)[A] == [(C, pytest.approx(AC)), (B, pytest.approx(AB))]
