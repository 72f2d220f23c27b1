"""The whole cf pipeline on generated sample data: planted groups, honest split, model."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from recsys_kedro.datasets import MlflowRecommenderModelDataset, RawCsvDataset
from recsys_kedro.pipelines.cf import create_pipeline
from recsys_kedro.pipelines.data_processing.nodes import clean_events
from recsys_kedro.sample_data.generator import SampleConfig, generate
from tests.params import typed

pytestmark = pytest.mark.integration  # left out of make test-fast

DP_PARAMS = (
    Path(__file__).resolve().parents[3]
    / "conf"
    / "base"
    / "parameters_data_processing.yml"
)


@pytest.fixture(scope="module")
def run(spark, cf_params, tmp_path_factory, kept_dataset):
    """Generates 40,000 events, cleans them and runs the cf pipeline once."""
    root = tmp_path_factory.mktemp("cf")
    raw = root / "raw"
    generate(SampleConfig(events=40_000, seed=5), raw)
    dp = yaml.safe_load(DP_PARAMS.read_text())["data_processing"]
    events_raw = RawCsvDataset(path=str(raw / "events"), pattern="*.csv").load()
    events_clean, _ = clean_events(events_raw, typed("data_processing", dp))
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    params = {**cf_params, "top_n": 10}
    catalog = DataCatalog(
        {
            "events_clean": MemoryDataset(events_clean),
            "params:cf": MemoryDataset(typed("cf", params)),
            "params:time_split": MemoryDataset(typed("time_split", {"test_days": 20})),
            "cf_model": MlflowRecommenderModelDataset(
                registered_model_name="cf_test", staging_dir=str(root)
            ),
        }
    )
    pipeline = create_pipeline()
    for name in pipeline.datasets() - pipeline.inputs() - {"cf_model"}:
        catalog[name] = kept_dataset(copy_mode="assign")
    with mlflow.start_run():
        SequentialRunner().run(create_pipeline(), catalog)
    yield {
        "catalog": catalog,
        "raw": raw,
        "truth": Path(f"{raw}_truth"),
        "events": events_clean,
    }
    mlflow.set_tracking_uri(None)


def test_planted_view_groups_come_back_as_top_neighbours(run):
    neighbours = run["catalog"].load("product_recommendations").toPandas()
    groups = pd.read_csv(run["truth"] / "view_groups.csv")
    top = {r.product_id: r for r in neighbours.itertuples()}
    n = 3
    recalls = []
    for _, group in groups.groupby("group_id")["product_id"]:
        members = set(group)
        for product in members:
            row = top.get(product)
            recs = {getattr(row, f"rec_{i}") for i in range(1, n + 1)} if row else set()
            recalls.append(len(recs & (members - {product})) / n)
    chance = n / neighbours["product_id"].nunique()
    mean = sum(recalls) / len(recalls)
    assert mean >= 0.8, f"group members in the top {n}: {mean:.2f}"
    assert mean > 20 * chance


def test_evaluation_compares_three_models_on_one_split(run):
    table = run["catalog"].load("cf_evaluation_table")
    assert list(table["model"]) == ["popularity", "item_cosine", "als"]
    assert table["users"].nunique() == 1 and table["users"].iloc[0] > 100
    metrics = ["hit_rate", "precision", "recall", "ndcg", "map", "catalog_coverage"]
    assert ((table[metrics] >= 0) & (table[metrics] <= 1)).all().all()
    assert (table["hit_rate"] > 0.05).all()
    # precision <= hit rate and ndcg <= hit rate hold for any ranking
    assert (table["precision"] <= table["hit_rate"]).all()
    assert (table["ndcg"] <= table["hit_rate"] + 1e-12).all()


def test_popularity_uses_training_events_only(run):
    events = run["events"].toPandas()
    cutoff = pd.Timestamp(run["catalog"].load("time_split_info")["cutoff"])
    train = events[events["event_time"].dt.tz_localize(None) < cutoff]
    weights = train["event_type"].map(
        {"view": 1.0, "cart": 3.0, "remove_from_cart": -1.0, "purchase": 5.0}
    )
    pairs = train.assign(w=weights).groupby(["user_id", "product_id"])["w"].sum()
    heavy = pairs.groupby(level=0).transform("size") > 1000
    totals = np.log1p(pairs[(pairs > 0) & ~heavy]).groupby(level=1).sum()
    expected = totals.sort_values(ascending=False, kind="stable").head(10)
    got = (
        run["catalog"]
        .load("cf_train_popular_products")
        .orderBy("rank")
        .toPandas()
        .head(10)
    )
    assert got["score"].tolist() == pytest.approx(
        (expected / expected.iloc[0]).tolist()
    )


def test_registered_model_answers_users_and_products(run):
    model = mlflow.pyfunc.load_model("models:/cf_test/1")
    recs = run["catalog"].load("user_recommendations").toPandas()
    user = int(recs["user_id"].iloc[0])
    out = model.predict(pd.DataFrame({"user_id": [user, -1]}))
    mine = recs[recs["user_id"] == user].sort_values("rank")
    assert (
        out[out["user_id"] == user]["product_id"].tolist()
        == mine["product_id"].tolist()
    )
    unknown = out[out["user_id"] == -1]
    popular = run["catalog"].load("popular_products").orderBy("rank").toPandas()
    assert unknown["product_id"].tolist() == popular["product_id"].head(10).tolist()
    assert set(unknown["source"]) == {"popular"}
    neighbours = run["catalog"].load("product_recommendations_long").toPandas()
    product = int(neighbours["product_id"].iloc[0])
    by_product = model.predict(pd.DataFrame({"product_id": [product]}))
    expected = (
        neighbours[neighbours["product_id"] == product].sort_values("rank").head(10)
    )
    assert by_product["rec_product_id"].tolist() == expected["rec_product_id"].tolist()
    with pytest.raises(ValueError, match="exactly one of the columns"):
        model.predict(pd.DataFrame({"item": [1]}))
    # Logged with a signature (Unity Catalog's registry refuses a model without one).
    signature = model.metadata.signature
    assert signature.inputs.input_names() == ["user_id", "product_id"]
    assert signature.params.params[0].name == "k"
    assert {c.name for c in signature.outputs.inputs} >= set(out.columns)
    assert {c.name for c in signature.outputs.inputs} >= set(by_product.columns)
    assert len(model.predict(pd.DataFrame({"user_id": [user]}), params={"k": 3})) == 3
