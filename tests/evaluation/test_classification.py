"""Classification metrics on a hand-worked confusion table."""

from __future__ import annotations

import pytest

from recsys_kedro.evaluation import (
    class_prior_baseline,
    classification_metrics,
    majority_baseline,
)

# truth positive: 8 predicted positive, 1 negative, 1 neutral;
# truth negative: 2 predicted positive, 3 negative.
CONFUSION = {
    ("pos", "pos"): 8,
    ("pos", "neg"): 1,
    ("pos", "neutral"): 1,
    ("neg", "pos"): 2,
    ("neg", "neg"): 3,
}


def test_metrics_by_hand():
    m = classification_metrics(CONFUSION, ["pos", "neg"])
    assert m["n"] == 15
    assert m["accuracy"] == pytest.approx(11 / 15)
    # pos: precision 8/10, recall 8/10, F1 0.8; neg: precision 3/4, recall 3/5,
    # F1 = 2 * 0.75 * 0.6 / 1.35 = 2/3.
    assert m["precision_pos"] == pytest.approx(0.8)
    assert m["recall_pos"] == pytest.approx(0.8)
    assert m["precision_neg"] == pytest.approx(0.75)
    assert m["recall_neg"] == pytest.approx(0.6)
    assert m["f1_neg"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)


def test_majority_and_class_prior_baselines():
    counts = {"pos": 10, "neg": 5}
    majority = majority_baseline(counts, ["pos", "neg"])
    # Always "pos": accuracy 10/15; pos precision 10/15, recall 1, F1 0.8; neg F1 0.
    assert majority["accuracy"] == pytest.approx(2 / 3)
    assert majority["macro_f1"] == pytest.approx(0.4)
    prior = class_prior_baseline(counts, ["pos", "neg"])
    assert prior["accuracy"] == pytest.approx((2 / 3) ** 2 + (1 / 3) ** 2)
    assert prior["recall_neg"] == pytest.approx(1 / 3)
    assert prior["macro_f1"] == pytest.approx(0.5)
