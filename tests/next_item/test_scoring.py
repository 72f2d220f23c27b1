"""Session kNN, sequential rules, reminders and ranks, worked out by hand.

Training sessions (oldest first), items A=10, B=20, C=30, D=40, E=50:
s0 = [A, B, C], s1 = [B, D], s2 = [A, D, E]. The current session is [A, B].
"""

from __future__ import annotations

import numpy as np
import pytest

from recsys_kedro.next_item.index import SessionDataError, build_index
from recsys_kedro.next_item.scoring import MISS_RANK, Cases, score_cases

A, B, C, D, E = 10, 20, 30, 40, 50
PLAIN = {
    "k": 3,
    "sample_size": 10,
    "pos_power": 1.0,
    "match_power": 0.0,
    "idf_weight": 0.0,
    "nb_power": 0.0,
    "nb_before": 1.0,
    "nb_self": 1.0,
    "recency": 0.0,
    "length_norm": 0.0,
    "sr_len": 1,
    "sr_decay": 0.5,
    "rem_decay": 0.5,
}


@pytest.fixture(scope="module")
def index():
    return build_index(np.array([0, 3, 5, 8]), np.array([A, B, C, B, D, A, D, E]))


def _scores(index, params, weights, session=(A, B)):
    cases = Cases(
        np.array([0, len(session)]), index.to_internal(np.array(session)), False
    )
    _, top, scores = score_cases(index, cases, params, np.array([weights]), top_n=5)
    ids = index.item_ids[top[0, 0]]
    return dict(zip(ids.tolist(), scores[0, 0].tolist(), strict=True))


def test_index_holds_sessions_items_and_rules(index):
    # item -> sessions, newest first; positions are the item's last in the session
    a = index.to_internal(np.array([A]))[0]
    sessions = index.item_sess[index.item_ptr[a] : index.item_ptr[a + 1]]
    assert sessions.tolist() == [2, 0]
    # rules of B (within 10 steps, 1/d): B->C (s0, d=1) and B->D (s1, d=1)
    b = index.to_internal(np.array([B]))[0]
    rules = dict(
        zip(
            index.item_ids[index.rule_items[index.rule_ptr[b] : index.rule_ptr[b + 1]]],
            index.rule_weights[index.rule_ptr[b] : index.rule_ptr[b + 1]],
            strict=True,
        )
    )
    assert rules == {C: 1.0, D: 1.0}
    # A->C is 2 steps apart in s0, A->E 2 in s2: weight 1/2 each; A->B and A->D: 1
    a_rules = dict(
        zip(
            index.item_ids[index.rule_items[index.rule_ptr[a] : index.rule_ptr[a + 1]]],
            index.rule_weights[index.rule_ptr[a] : index.rule_ptr[a + 1]],
            strict=True,
        )
    )
    assert a_rules == {B: 1.0, D: 1.0, C: 0.5, E: 0.5}
    assert index.to_internal(np.array([99, C])).tolist() == [-1, 2]


def test_knn_with_flat_weights(index):
    # q weights: A (pos 0 of 2) 1/2, B 1. sim(s0) = 1.5, sim(s1) = 1, sim(s2) = 0.5.
    # k=2: s0 and s1. Each adds its sim to each of its items:
    # A 1.5, B 1.5 + 1 = 2.5, C 1.5, D 1; divided by the largest (2.5).
    got = _scores(index, {**PLAIN, "k": 2}, [1.0, 0.0, 0.0, 0.0])
    assert got[B] == pytest.approx(1.0)
    assert got[A] == pytest.approx(0.6)
    assert got[C] == pytest.approx(0.6)
    assert got[D] == pytest.approx(0.4)
    assert got[E] == 0.0  # never reached: the list is filled with score 0


def test_knn_with_match_and_neighbour_position_decay(index):
    # match_power 1: s0 and s1 last share B (q's last click): step 1; s2 shares only A:
    # step 2, so s2's base is 0.5 / 2 = 0.25. nb_power 1, nb_before 0.5: items after the
    # shared item weigh 1/d, before it 0.5/d, the shared item itself 1 (nb_self).
    # s0 = [A, B, C] matched at B: A 0.5, B 1, C 1 (x 1.5)
    # s1 = [B, D] matched at B: B 1, D 1 (x 1)
    # s2 = [A, D, E] matched at A: A 1, D 1, E 1/2 (x 0.25)
    # knn: A .75 + .25 = 1, B 2.5, C 1.5, D 1 + .25 = 1.25, E .125
    params = {**PLAIN, "match_power": 1.0, "nb_power": 1.0, "nb_before": 0.5}
    got = _scores(index, params, [1.0, 0.0, 0.0, 0.0])
    assert list(got) == [B, C, D, A, E]
    assert [got[i] for i in (B, C, D, A, E)] == pytest.approx(
        [1.0, 0.6, 0.5, 0.4, 0.05]
    )


def test_sample_size_keeps_the_newest_sessions(index):
    # Of s0, s1, s2 (all share an item with [A, B]) the 2 newest are s1 and s2:
    # sims 1 and 0.5; A .5, B 1, D 1.5, E .5 -> divided by 1.5
    got = _scores(index, {**PLAIN, "sample_size": 2}, [1.0, 0.0, 0.0, 0.0])
    assert got[D] == pytest.approx(1.0)
    assert got[B] == pytest.approx(1 / 1.5)
    assert got[A] == pytest.approx(0.5 / 1.5)
    assert got[E] == pytest.approx(0.5 / 1.5)
    assert got[C] == 0.0


def test_recency_and_length_norm(index):
    # recency tau=1: a session's sim is multiplied by exp(-(age) / 1), age = share of
    # sessions newer than it: s0 2/3, s1 1/3, s2 0. length_norm 1 divides by its length.
    params = {**PLAIN, "recency": 1.0, "length_norm": 1.0, "k": 1}
    s0 = 1.5 * np.exp(-2 / 3) / 3
    s1 = 1.0 * np.exp(-1 / 3) / 2
    s2 = 0.5 / 3
    assert s1 > s0 > s2  # k=1 keeps s1 only: B and D
    got = _scores(index, params, [1.0, 0.0, 0.0, 0.0])
    assert got[B] == pytest.approx(1.0)
    assert got[D] == pytest.approx(1.0)
    assert got[A] == got[C] == 0.0


def test_sequential_rules_reminders_and_blend(index):
    # rules of the last item B: C 1, D 1 (max 1). Reminders with decay 0.5: B 1, A 0.5.
    # knn (k=2, flat): A .6, B 1, C .6, D .4.
    # blend 1 x knn + 1 x sr + 1 x rem: A 1.1, B 2, C 1.6, D 1.4, E 0.
    got = _scores(index, {**PLAIN, "k": 2}, [1.0, 1.0, 1.0, 0.0])
    assert list(got) == [B, C, D, A, E]
    assert [got[i] for i in (B, C, D, A, E)] == pytest.approx([2.0, 1.6, 1.4, 1.1, 0])
    # sr over the last 2 items with decay 0.5: B's rules + 0.5 x A's rules
    # C 1 + .25, D 1 + .5, B .5, E .25 -> divided by 1.5
    got = _scores(index, {**PLAIN, "sr_len": 2}, [0.0, 1.0, 0.0, 0.0])
    assert got[D] == pytest.approx(1.0)
    assert got[C] == pytest.approx(1.25 / 1.5)
    assert got[B] == pytest.approx(0.5 / 1.5)
    assert got[E] == pytest.approx(0.25 / 1.5)


def test_ranks_of_every_prefix_count_ties_against_the_target(index):
    # One test session [A, B, C, E]: cases ([A] -> B), ([A, B] -> C), ([A, B, C] -> E).
    # Blend of the last test (knn + sr + rem, no popularity):
    # [A, B] -> C scores 1.6, only B (2.0) is higher: rank 2.
    # [A, B, C] -> E: E is reached by no component... see below.
    cases = Cases(np.array([0, 4]), index.to_internal(np.array([A, B, C, E])), True)
    ranks, *_ = score_cases(
        index, cases, {**PLAIN, "k": 2}, np.array([[1.0, 1.0, 1.0, 0.0]])
    )
    assert ranks.shape == (3, 1)
    assert ranks[1, 0] == 2
    # [A] -> B: q weight A 1; s0 and s2 share A (sim 1 each, k=2 both):
    # knn A 2, B 1, C 1, D 1, E 1 (/2); sr of A: B 1, D 1, C .5, E .5; rem A 1.
    # f: A 1 + 1 = 2, B .5 + 1 = 1.5, D 1.5, C .5 + .5 = 1, E 1 -> B ties D: rank 3
    assert ranks[0, 0] == 3
    # [A, B, C] -> E: q weights A 1/3, B 2/3, C 1. sims: s0 2, s1 2/3, s2 1/3; k=2:
    # s0, s1 -> E unreached (score 0), all 4 others reached -> rank 5 (the last)
    assert ranks[2, 0] == 5


def test_popularity_breaks_ties_and_ranks_unreached_items(index):
    # weights [0, 0, 0, 1]: popularity alone. Clicks: A 2, B 2, D 2, C 1, E 1.
    # A target with clicks 1 ties with the other click-1 item: rank 3 + 2 = 5.
    cases = Cases(np.array([0, 2]), index.to_internal(np.array([A, C])), True)
    ranks, *_ = score_cases(index, cases, PLAIN, np.array([[0.0, 0.0, 0.0, 1.0]]))
    assert ranks[0, 0] == 5
    cases = Cases(np.array([0, 2]), index.to_internal(np.array([A, B])), True)
    ranks, *_ = score_cases(index, cases, PLAIN, np.array([[0.0, 0.0, 0.0, 1.0]]))
    assert ranks[0, 0] == 3  # B ties A and D at 2 clicks


def test_unknown_items_are_skipped_and_an_unknown_target_is_a_miss(index):
    cases = Cases(np.array([0, 3]), index.to_internal(np.array([99, A, 98])), True)
    ranks, *_ = score_cases(index, cases, PLAIN, np.array([[1.0, 0.0, 0.0, 1e-6]]))
    # ([99] -> A): nothing known, popularity alone: A ties B and D at 2 clicks -> 3;
    # ([99, A] -> 98): an unknown target cannot be ranked: a miss at any length
    assert ranks[:, 0].tolist() == [3, MISS_RANK]


def test_bad_training_sessions_are_refused():
    with pytest.raises(SessionDataError, match="No training sessions"):
        build_index(np.array([0]), np.array([], dtype=np.int64))
    with pytest.raises(SessionDataError, match="at least one item"):
        build_index(np.array([0, 2, 2]), np.array([A, B]))
    with pytest.raises(SessionDataError, match="must start at 0"):
        build_index(np.array([1, 2]), np.array([A, B]))
