"""The explorer's reading of a user's history as cf weighs it, by hand-worked values."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from recsys_kedro.explorer.outputs import ProjectOutputs

CUTOFF = pd.Timestamp("2020-01-10", tz="UTC")


def _outputs(tmp_path: Path, **weighting) -> ProjectOutputs:
    report = tmp_path / "cf_evaluation.csv"
    pd.DataFrame({"model": ["popularity"], "cutoff": ["2020-01-10 00:00:00"]}).to_csv(
        report, index=False
    )
    return ProjectOutputs(
        tables={},
        reports={"cf_evaluation": str(report)},
        eda_dir=str(tmp_path),
        models={},
        event_weights={"view": 1.0, "cart": 3.0, "remove_from_cart": -1.0},
        **weighting,
    )


def _history() -> tuple[pd.DataFrame, pd.Series]:
    events = pd.DataFrame(
        {
            "event_type": ["view", "cart", "remove_from_cart", "purchase"],
            "product_id": [1, 1, 2, 3],
            "event_time": [
                CUTOFF - pd.Timedelta(days=2),
                CUTOFF - pd.Timedelta(days=4),
                CUTOFF - pd.Timedelta(days=1),
                CUTOFF - pd.Timedelta(days=1),
            ],
        }
    )
    return events, events["event_time"]


@pytest.mark.parametrize(
    ("weighting", "expected"),
    [
        # 1 view + 3 cart = 4; product 2 only removed (-1) and 3's purchase unweighted: out
        ({}, {1: math.log1p(4.0)}),
        ({"weight_transform": "none"}, {1: 4.0}),
        ({"weight_transform": "binary"}, {1: 1.0}),
        # halved every 2 days before the cut-off: 1 * 0.5 + 3 * 0.25
        ({"half_life_days": 2.0, "weight_transform": "none"}, {1: 1.25}),
        ({"half_life_days": 2.0}, {1: math.log1p(1.25)}),
    ],
)
def testhistory_weights_as_cf_weighs_them(tmp_path: Path, weighting, expected):
    outputs = _outputs(tmp_path, **weighting)
    assert outputs.cutoff == CUTOFF
    events, times = _history()
    weights = outputs.history_weights(events, times)
    assert weights.to_dict() == pytest.approx(expected)
