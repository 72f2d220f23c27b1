"""The cf_tuning grid on a small generated sample: what it tries, what it picks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project

from recsys_kedro.datasets import RawCsvDataset
from recsys_kedro.evaluation import split_events_by_time
from recsys_kedro.pipeline_registry import register_pipelines
from recsys_kedro.pipelines.cf_tuning.nodes import tune_cf
from recsys_kedro.pipelines.data_processing.nodes import clean_events
from recsys_kedro.recommend.cf_params import CfParams
from recsys_kedro.sample_data.generator import SampleConfig, generate
from tests.params import shipped, typed

pytestmark = pytest.mark.integration  # a grid of Spark fits: left out of make test-fast

ROOT = Path(__file__).resolve().parents[3]
GRID = {
    "half_life_days": [None],
    "similarity_alpha": [0.5, 0.9],
    "top_n": [5, 10],
    "blend_weight": [0.3, 0.7],
    "als": {"rank": [4], "alpha": [1.0], "reg_param": [0.1]},
}


@pytest.fixture(scope="module")
def tuned(spark, tmp_path_factory):
    raw = tmp_path_factory.mktemp("tune") / "raw"
    generate(SampleConfig(events=20_000, seed=11), raw)
    events, _ = clean_events(
        RawCsvDataset(path=str(raw / "events"), pattern="*.csv").load(),
        typed("data_processing"),
    )
    train, _, info = split_events_by_time(events, typed("time_split"))
    cfg = typed("cf_tuning", {**shipped("cf_tuning"), "grid": GRID})
    table, block, metrics = tune_cf(train, typed("cf"), cfg)
    return table, block, metrics, info, train


def test_every_grid_point_is_scored_and_the_best_is_chosen(tuned):
    table, block, metrics, _, _ = tuned
    cosine = table[table["model"] == "item_cosine"]
    assert len(cosine) == 1 * 2 * 2 and len(table) == 4 + 2 + 1
    assert ((table["score"] >= 0) & (table["score"] <= 1)).all()
    assert table["users"].nunique() == 1 and table["users"].iloc[0] > 20
    best = cosine.loc[cosine["score"].idxmax()]
    chosen = CfParams.model_validate(block["cf"])
    assert chosen.similarity_alpha == best["similarity_alpha"]
    assert chosen.top_n == best["top_n"]
    blend = table[table["model"] == "blend"]
    assert (
        chosen.evaluation.blend_weight
        == blend.loc[blend["score"].idxmax(), "blend_weight"]
    )
    assert (chosen.evaluation.als.rank, chosen.evaluation.als.reg_param) == (4, 0.1)
    # every value not in the grid is the shipped one
    rest = {"similarity_alpha", "top_n", "half_life_days", "evaluation"}
    assert {k: v for k, v in block["cf"].items() if k not in rest} == {
        k: v for k, v in typed("cf").model_dump(mode="json").items() if k not in rest
    }
    assert yaml.safe_load(yaml.safe_dump(block)) == block  # writable as parameters
    assert metrics["best_item_cosine_score"]["value"] == pytest.approx(best["score"])


def test_the_validation_window_lies_inside_the_training_period(tuned):
    table, _, _, info, train = tuned
    validation = pd.Timestamp(table["validation_cutoff"].iloc[0])
    assert validation < pd.Timestamp(info["cutoff"])
    last_train = train.agg({"event_time": "max"}).first()[0]
    assert validation < pd.Timestamp(last_train)


def test_tuning_is_opt_in_and_found_on_its_own():
    bootstrap_project(ROOT)
    registry = register_pipelines()
    assert "tune_cf_node" in {n.name for n in registry["cf_tuning"].nodes}
    assert "tune_cf_node" not in {n.name for n in registry["__default__"].nodes}
    # `kedro run --pipeline=cf_tuning` loads only the requested pipeline folder
    try:
        pipelines.set_requested(["cf_tuning"])
        assert "tune_cf_node" in {n.name for n in pipelines["cf_tuning"].nodes}
    finally:
        pipelines.set_requested(None)
