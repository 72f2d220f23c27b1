"""Next-item metrics and the paired bootstrap, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_kedro.next_item.evaluation import next_item_metrics, paired_bootstrap


def test_metrics_from_ranks_by_hand():
    ranks = np.array([1, 4, 15, 30])
    top = np.array([[0, 1] + [-1] * 18, [1, 2] + [-1] * 18, [3] + [-1] * 19, [-1] * 20])
    got = next_item_metrics(ranks, top, n_items=8, answered=np.array([1, 1, 0, 1]))
    assert got["cases"] == 4
    assert got["hit_rate_at_10"] == pytest.approx(2 / 4)
    assert got["mrr_at_10"] == pytest.approx((1 + 1 / 4) / 4)
    assert got["hit_rate_at_20"] == pytest.approx(3 / 4)
    assert got["mrr_at_20"] == pytest.approx((1 + 1 / 4 + 1 / 15) / 4)
    assert got["coverage_at_20"] == pytest.approx(4 / 8)  # items 0, 1, 2, 3
    assert got["answered_share"] == pytest.approx(3 / 4)


def test_paired_bootstrap_of_a_constant_and_a_null_difference():
    rng = np.random.default_rng(1)
    base = rng.random(500)
    got = paired_bootstrap(
        {"a": base, "b": base + 0.1, "c": base.copy()}, "a", replicates=200, seed=3
    )
    assert got["a"] == (0.0, 0.0, 0.0)
    assert got["b"][0] == pytest.approx(0.1)
    # the same cases for both: a constant difference has no spread at all
    assert got["b"][1] == pytest.approx(0.1) and got["b"][2] == pytest.approx(0.1)
    assert got["c"] == (0.0, 0.0, 0.0)


def test_paired_bootstrap_interval_covers_a_noisy_difference():
    rng = np.random.default_rng(2)
    a = (rng.random(4000) < 0.5).astype(float)
    b = np.where(rng.random(4000) < 0.1, 1 - a, a)  # 10 % of cases flipped
    diff, low, high = paired_bootstrap({"a": a, "b": b}, "a", seed=0)["b"]
    assert diff == pytest.approx((b - a).mean())
    # the standard error of a mean of 4000 values in {-1, 0, 1} with 10 % non-zero
    se = np.sqrt(0.1 / 4000)
    assert low < diff < high
    assert high - low == pytest.approx(2 * 1.96 * se, rel=0.25)
