"""Rule and hybrid scoring against values worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from recsys_kedro.pipelines.fpgrowth.crosssell import (
    RuleIndex,
    recommend_by_rules,
    recommend_hybrid,
)
from recsys_kedro.recommend.scoring import NeighbourIndex

RULES = RuleIndex.from_frame(
    pd.DataFrame(
        {
            "antecedent": [[1], [1, 2], [2], [3]],
            "consequent": [[5], [6], [5], [1]],
            "confidence": [0.5, 0.8, 0.2, 0.9],
            "lift": [2.0, 4.0, 10.0, 1.0],
        }
    )
)
# cf: 1 -> 6 (0.4), 7 (0.2);  2 -> 7 (0.6)
INDEX = NeighbourIndex.from_long(
    pd.DataFrame(
        {
            "product_id": [1, 1, 2],
            "rank": [1, 2, 1],
            "rec_product_id": [6, 7, 7],
            "score": [0.4, 0.2, 0.6],
        }
    )
)


def test_rules_that_fire_and_best_score():
    # basket {1, 2}: rules 1->5 (1.0), 1,2->6 (3.2), 2->5 (2.0); 3->1 does not fire
    ids, scores = recommend_by_rules({1, 2}, RULES, 10)
    assert ids.tolist() == [6, 5]
    assert scores.tolist() == pytest.approx([3.2, 2.0])
    # basket {1}: only 1->5; a consequent already in the basket is skipped
    assert recommend_by_rules({1}, RULES, 10)[0].tolist() == [5]
    assert recommend_by_rules({3, 1}, RULES, 10)[0].tolist() == [5]
    assert recommend_by_rules({9}, RULES, 10)[0].tolist() == []


def test_hybrid_blend_by_hand():
    # basket {1, 2}: rules normalised by 3.2: 6 -> 1.0, 5 -> 0.625
    # cf (mean similarity over 2 products): 6 -> 0.4/2 = 0.2, 7 -> (0.2+0.6)/2 = 0.4
    ids, scores = recommend_hybrid({1, 2}, RULES, INDEX, weight=0.5, k=10)
    expected = {6: 0.5 * 1.0 + 0.5 * 0.2, 5: 0.5 * 0.625, 7: 0.5 * 0.4}
    assert ids.tolist() == [6, 5, 7]
    assert scores.tolist() == pytest.approx([expected[i] for i in (6, 5, 7)])
    only_cf = recommend_hybrid({1, 2}, RULES, INDEX, weight=0.0, k=10)
    assert only_cf[0].tolist() == [7, 6]
    only_rules = recommend_hybrid({1, 2}, RULES, INDEX, weight=1.0, k=1)
    assert only_rules[0].tolist() == [6]
