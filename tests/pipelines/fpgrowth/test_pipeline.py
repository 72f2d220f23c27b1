"""The fpgrowth pipeline (after cf) on generated sample data: planted bundles come back."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from recsys_kedro.datasets import RawCsvDataset
from recsys_kedro.pipelines.cf import create_pipeline as cf_pipeline
from recsys_kedro.pipelines.data_processing.nodes import clean_events
from recsys_kedro.pipelines.fpgrowth import create_pipeline as fp_pipeline
from recsys_kedro.sample_data.generator import SampleConfig, generate
from tests.params import typed

pytestmark = pytest.mark.integration  # left out of make test-fast

CONF = Path(__file__).resolve().parents[3] / "conf" / "base"


@pytest.fixture(scope="module")
def run(spark, fp_params, tmp_path_factory, kept_dataset):
    """Generates 40,000 events, cleans them, runs cf (without ALS and the model) and fpgrowth."""
    raw = tmp_path_factory.mktemp("fp") / "raw"
    generate(SampleConfig(events=40_000, seed=8), raw)
    dp = yaml.safe_load((CONF / "parameters_data_processing.yml").read_text())
    events_raw = RawCsvDataset(path=str(raw / "events"), pattern="*.csv").load()
    events_clean, _ = clean_events(
        events_raw, typed("data_processing", dp["data_processing"])
    )
    cf = yaml.safe_load((CONF / "parameters_cf.yml").read_text())["cf"]
    cf["evaluation"]["models"] = ["popularity"]
    pipeline = (cf_pipeline() + fp_pipeline()).to_outputs(
        "hybrid_recommendations",
        "crosssell_evaluation_table",
        "top_rules",
        "association_rules_report",
    )
    catalog = DataCatalog(
        {
            "events_clean": MemoryDataset(events_clean),
            "params:cf": MemoryDataset(typed("cf", cf)),
            "params:fpgrowth": MemoryDataset(typed("fpgrowth", fp_params)),
            "params:time_split": MemoryDataset(typed("time_split", {"test_days": 20})),
        }
    )
    for name in pipeline.datasets() - pipeline.inputs():
        catalog[name] = kept_dataset(copy_mode="assign")
    outputs = SequentialRunner().run(pipeline, catalog)
    yield catalog, Path(f"{raw}_truth"), outputs


def test_planted_bundles_are_found_and_lead_the_rules(run):
    catalog, truth, _ = run
    bundles = [
        frozenset(g)
        for _, g in pd.read_csv(truth / "bundles.csv").groupby("bundle_id")[
            "product_id"
        ]
    ]
    itemsets = {frozenset(r.items) for r in catalog.load("frequent_itemsets").collect()}
    recall = sum(b in itemsets for b in bundles) / len(bundles)
    assert recall >= 0.9, f"planted bundles found as frequent itemsets: {recall:.2f}"
    top = (
        catalog.load("association_rules")
        .orderBy("lift", ascending=False)
        .limit(20)
        .collect()
    )
    planted = [
        any(frozenset(r.antecedent) | frozenset(r.consequent) <= b for b in bundles)
        for r in top
    ]
    assert sum(planted) / len(planted) >= 0.8
    text = catalog.load("top_rules")
    assert text.splitlines()[1].startswith("if [") and "confidence" in text


def test_crosssell_evaluation_and_hybrid(run):
    catalog, _, outputs = run
    table = catalog.load("crosssell_evaluation_table")
    assert list(table["model"]) == ["rules", "item_cosine", "hybrid", "popularity"]
    assert table["users"].nunique() == 1 and table["users"].iloc[0] > 50
    metrics = ["hit_rate", "ndcg", "precision", "recall", "map", "catalog_coverage"]
    assert ((table[metrics] >= 0) & (table[metrics] <= 1)).all().all()
    # one hidden product per session: recall equals hit rate and precision is hit rate / k
    assert table["recall"].tolist() == pytest.approx(table["hit_rate"].tolist())
    assert (table["precision"] * 10).tolist() == pytest.approx(
        table["hit_rate"].tolist()
    )
    # paired intervals over sessions: popularity's own difference is 0, the others'
    # point difference is the difference of the means and lies inside its interval
    pop = table.set_index("model").loc["popularity"]
    for row in table.itertuples():
        diff = row.hit_rate - pop["hit_rate"]
        assert row.hit_rate_diff == pytest.approx(diff, abs=1e-9)
        assert row.hit_rate_diff_low - 1e-9 <= diff <= row.hit_rate_diff_high + 1e-9
        if row.model == "popularity":
            assert row.ndcg_diff_low == row.ndcg_diff_high == 0
    hybrid = catalog.load("hybrid_recommendations").toPandas()
    sources = set(hybrid["source"])
    # cf proposes most products; the planted bundles' rules add or confirm some
    assert "item_cosine" in sources and sources & {"rules", "both"}
    assert hybrid.groupby("product_id")["rank"].max().max() <= 20


def test_runs_on_real_rows(spark, fp_params, real_raw_dir, kept_dataset):
    """The public rows in ../shared: sparse sessions, few rules; the run must still pass."""
    dp = yaml.safe_load((CONF / "parameters_data_processing.yml").read_text())
    events_raw = RawCsvDataset(
        path=str(real_raw_dir / "events"), pattern="*.csv"
    ).load()
    events_clean, _ = clean_events(
        events_raw, typed("data_processing", dp["data_processing"])
    )
    cf = yaml.safe_load((CONF / "parameters_cf.yml").read_text())["cf"]
    cf["evaluation"]["models"] = ["popularity"]
    pipeline = (cf_pipeline() + fp_pipeline()).to_outputs(
        "hybrid_recommendations", "crosssell_evaluation_table", "top_rules"
    )
    catalog = DataCatalog(
        {
            "events_clean": MemoryDataset(events_clean),
            "params:cf": MemoryDataset(typed("cf", cf)),
            "params:fpgrowth": MemoryDataset(typed("fpgrowth", fp_params)),
            "params:time_split": MemoryDataset(typed("time_split", {"test_days": 30})),
        }
    )
    for name in pipeline.datasets() - pipeline.inputs():
        catalog[name] = kept_dataset(copy_mode="assign")
    SequentialRunner().run(pipeline, catalog)
    baskets = catalog.load("fpgrowth_baskets")
    # independent count: sessions with a cart or purchase event in the clean rows
    clean = events_clean.toPandas()
    sessions = clean[clean["event_type"].isin(["cart", "purchase"])][
        "user_session"
    ].nunique()
    assert baskets.count() == sessions
    assert catalog.load("top_rules").startswith("Top ")
    assert catalog.load("hybrid_recommendations").count() > 0
