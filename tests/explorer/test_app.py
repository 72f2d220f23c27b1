"""The explorer over a real run's outputs (``sample_run``): every page in Streamlit's
AppTest, checked against the tables read directly with delta-rs, bad input and missing
outputs, and the served app in Debian's headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from deltalake import DeltaTable
from streamlit.testing.v1 import AppTest

from recsys_kedro.explorer.outputs import REPORTS, ProjectOutputs, load_outputs
from tests.explorer.chromium import CHROMIUM, Page
from tests.test_run import _free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "src" / "recsys_kedro" / "explorer" / "app.py"


def _table(project: Path, layer: str, name: str) -> pd.DataFrame:
    return DeltaTable(str(project / "data" / layer / name)).to_pandas()


@pytest.fixture(scope="module")
def outputs(sample_run: Path) -> ProjectOutputs:
    return load_outputs(sample_run)


def _cutoff(project: Path, report: str) -> pd.Timestamp:
    """The evaluation cut-off an evaluation table records."""
    table = pd.read_csv(project / "data" / "08_reporting" / report)
    return pd.Timestamp(table["cutoff"].iloc[0], tz="UTC")


def _app(outputs: ProjectOutputs, **query: str) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.session_state["outputs"] = outputs
    for key, value in query.items():
        app.query_params[key] = value
    return app.run()


def _shown(app: AppTest) -> str:
    """Every message, caption and markdown text on the page."""
    parts = [
        *(e.value for e in app.info),
        *(e.value for e in app.warning),
        *(e.value for e in app.error),
        *(e.value for e in app.caption),
        *(e.value for e in app.markdown),
        *(e.value for e in app.subheader),
    ]
    return "\n".join(str(p) for p in parts)


def test_product_page_shows_facts_neighbours_and_rules(
    outputs: ProjectOutputs, sample_run: Path
):
    rules = _table(sample_run, "07_model_output", "association_rules")
    product = int(rules["antecedent"].iloc[0][0])
    app = _app(outputs, page="product", q=str(product))
    assert not app.exception
    assert app.selectbox(key="product").value == product
    long = _table(sample_run, "07_model_output", "product_recommendations_long")
    expected = long[long["product_id"] == product].sort_values("rank").head(10)
    similar = app.table[0].value
    assert similar["rec_product_id"].tolist() == expected["rec_product_id"].tolist()
    np.testing.assert_allclose(similar["score"], expected["score"])
    features = _table(sample_run, "04_feature", "product_event_features")
    row = features[features["product_id"] == product].iloc[0]
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Mean price"] == f"{row['price_mean']:.2f}"
    # one sentence per rule whose condition holds the product, at most five
    starting = rules[rules["antecedent"].map(lambda a: product in set(a))]
    sentences = [m.value for m in app.markdown if "of the baskets with" in m.value]
    assert len(sentences) == min(5, len(starting)) > 0
    assert len(app.dataframe[0].value) == len(starting)


def test_product_search_by_name_brand_and_nothing(
    outputs: ProjectOutputs, sample_run: Path
):
    features = _table(sample_run, "04_feature", "product_event_features")
    products = _table(sample_run, "02_intermediate", "products_clean")
    mapping = _table(sample_run, "03_primary", "product_mapping_inferred")
    named = features.merge(
        mapping[["product_id_events", "product_id_reviews"]],
        left_on="product_id",
        right_on="product_id_events",
        how="left",
    ).merge(
        products[["product_id", "product_name", "brand_name"]].rename(
            columns={"product_id": "product_id_reviews"}
        ),
        on="product_id_reviews",
        how="left",
    )
    word = named["product_name"].dropna().iloc[0].split()[-1].lower()
    brand = named["brand"].fillna(named["brand_name"]).fillna("").str.lower()
    name = named["product_name"].fillna("").str.lower()
    hits = named[
        name.str.contains(word, regex=False) | brand.str.contains(word, regex=False)
    ]
    expected = hits.sort_values("views", ascending=False, kind="stable")["product_id"]
    app = _app(outputs, page="product", q=word.upper())
    assert not app.exception
    shown = [int(o.split(" - ")[0]) for o in app.selectbox(key="product").options]
    views = features.set_index("product_id")["views"]
    # the 25 most viewed matches, most viewed first
    assert len(shown) == min(25, len(expected)) > 0
    assert set(shown) <= set(expected)
    assert views[shown].tolist() == sorted(views[expected].tolist(), reverse=True)[:25]
    for typed in ("no such product xyz", "'; drop table events; --", "%%%"):
        app = _app(outputs, page="product", q=typed)
        assert not app.exception, typed
        assert f"No product matches {typed!r}" in _shown(app)
    app = _app(outputs, page="product", q="")
    assert "Type a product id" in _shown(app)
    # a product no reviewed product maps to: no name, and its brand or "no brand"
    unnamed = named[named["product_id_reviews"].isna()].iloc[0]
    app = _app(outputs, page="product", q=str(unnamed["product_id"]))
    brand = unnamed["brand"] if isinstance(unnamed["brand"], str) else "no brand"
    assert app.selectbox(key="product").options == [
        f"{unnamed['product_id']} - unnamed ({brand})"
    ]
    assert {m.label: m.value for m in app.metric}["Name"] == "-"


def test_user_page_history_recommendations_and_what_came_next(
    outputs: ProjectOutputs, sample_run: Path
):
    events = _table(sample_run, "02_intermediate", "events_clean")
    recs = _table(sample_run, "07_model_output", "user_recommendations")
    cutoff = _cutoff(sample_run, "cf_evaluation.csv")
    times = pd.to_datetime(events["event_time"], utc=True)
    before, after = events[times < cutoff], events[times >= cutoff]
    # a user with one product before the cut-off (a view: weight log1p(1) > 0) and
    # events after it: the train model's top 10 are that product's neighbours by score
    one = before.groupby("user_id")["product_id"].nunique()
    views = before[before["event_type"] == "view"]
    candidates = sorted(
        set(one[one == 1].index)
        & set(after["user_id"])
        & set(views["user_id"])
        - set(before[before["event_type"] == "remove_from_cart"]["user_id"])
    )
    user = candidates[0]
    app = _app(outputs, page="user", user=str(user))
    assert not app.exception
    history, came = (d.value for d in app.dataframe[:2])
    shown_recs = app.table[0].value
    assert len(history) == (events["user_id"] == user).sum()
    assert "show the latest" not in _shown(app)
    # a history longer than history_shown: the latest events only, and a caption
    capped = _app(replace(outputs, history_shown=1), page="user", user=str(user))
    newest = events[events["user_id"] == user].sort_values("event_time").iloc[-1]
    assert capped.dataframe[0].value["product_id"].tolist() == [newest["product_id"]]
    total = (events["user_id"] == user).sum()
    assert f"show the latest 1 of {total:,} events" in _shown(capped)
    mine = recs[recs["user_id"] == user].sort_values("rank")
    assert shown_recs["product_id"].tolist() == mine["product_id"].tolist()
    assert shown_recs["source"].tolist() == mine["source"].tolist()

    own = before.loc[before["user_id"] == user, "product_id"].iloc[0]
    neighbours = _table(sample_run, "06_models", "cf_train_neighbours")
    top = neighbours[neighbours["product_id"] == own].sort_values(
        ["score", "rec_product_id"], ascending=[False, True]
    )["rec_product_id"]
    popular = _table(sample_run, "06_models", "cf_train_popular_products")
    fill = [p for p in popular.sort_values("rank")["product_id"] if p not in set(top)]
    recommended = set([*top, *fill][:10])
    later = after[after["user_id"] == user]
    assert sorted(came["product_id"]) == sorted(later["product_id"].unique())
    expected = {p: ("hit" if p in recommended else "miss") for p in came["product_id"]}
    assert dict(zip(came["product_id"], came["result"], strict=True)) == expected

    for typed, message in (
        ("abc", "is not a user id"),
        ("1 2", "is not a user id"),
        ("999999999999", "No user 999999999999"),
    ):
        app = _app(outputs, page="user", user=typed)
        assert not app.exception, typed
        assert message in _shown(app), typed


def test_session_page_answers_as_the_pipeline_did(
    outputs: ProjectOutputs, sample_run: Path
):
    recs = _table(sample_run, "07_model_output", "session_recommendations")
    sequences = _table(sample_run, "05_model_input", "session_test_sequences")
    events = _table(sample_run, "02_intermediate", "events_clean")
    cutoff = _cutoff(sample_run, "sessions_evaluation.csv")
    first = pd.to_datetime(events.groupby("user_session")["event_time"].min(), utc=True)
    whole = sequences[sequences["user_session"].isin(first[first >= cutoff].index)]
    session = recs[recs["user_session"].isin(whole["user_session"])]["user_session"]
    items = whole.set_index("user_session").loc[session.iloc[0], "items"]
    app = _app(outputs, page="session", items=", ".join(str(i) for i in items))
    assert not app.exception
    mine = recs[recs["user_session"] == session.iloc[0]].sort_values("rank")
    assert app.table[0].value["product_id"].tolist() == mine["product_id"].tolist()

    app = _app(outputs, page="session", items="12, x")
    assert "product ids are whole numbers" in _shown(app)
    app = _app(outputs, page="session", items=f"{items[0]}, 999999999999")
    assert not app.exception
    assert "Not in the event logs (the model ignores them): [999999999999]" in _shown(
        app
    )


def test_models_page_and_a_missing_output(outputs: ProjectOutputs, sample_run: Path):
    app = _app(outputs, page="models")
    assert not app.exception
    shown = _shown(app)
    # the run left engagement out: its table is missing, and the page says what to run
    assert "run `kedro run --pipeline=engagement` first" in shown
    pictures = sorted((sample_run / "data/08_reporting/eda").glob("*.png"))
    assert len(app.get("image")) == len(pictures) > 0
    report = json.loads(
        (sample_run / "data/08_reporting/data_quality_report.json").read_text()
    )
    quality = app.dataframe[-1].value
    for table, facts in report["tables"].items():
        rows = quality[quality["table"] == table]
        assert rows["rows"].sum() == facts["rejected"], table
        assert (rows["rows in"] == facts["rows_in"]).all(), table


def test_pages_say_what_to_run_when_nothing_ran(tmp_path: Path):
    """Outputs placed, none written: each page names the pipeline that writes what it
    needs, and nothing crashes."""
    empty = ProjectOutputs(
        tables={
            name: (str(tmp_path / name), {})
            for name in ("events_clean", "product_event_features", "association_rules")
        },
        reports={name: str(tmp_path / f"{name}.csv") for name in REPORTS},
        eda_dir=str(tmp_path / "eda"),
        models={"cf": "models:/none@champion", "sessions": "models:/none@champion"},
        event_weights={"view": 1.0},
    )
    for page, query, pipeline in (
        ("product", {"q": "x"}, "feature_engineering"),
        ("user", {"user": "5"}, "data_processing"),
        ("session", {"items": "5"}, "feature_engineering"),
        ("models", {}, "cf"),
    ):
        app = _app(empty, page=page, **query)
        assert not app.exception, page
        assert f"run `kedro run --pipeline={pipeline}` first" in _shown(app), page


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed: `make test` as root installs it, or "
    "`sudo apt-get install chromium`",
)
def test_served_app_in_chromium(sample_run: Path, tmp_path: Path):
    """`streamlit run` as `make app` starts it, on 127.0.0.1; a product search in the
    browser shows the product's neighbours."""
    long = _table(sample_run, "07_model_output", "product_recommendations_long")
    product = int(long["product_id"].iloc[0])
    first = long[long["product_id"] == product].sort_values("rank")
    port = _free_port()
    log = (tmp_path / "app.log").open("w")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "streamlit"),
            "run",
            str(APP),
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--",
            "--project",
            str(sample_run),
        ],
        cwd=sample_run,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/_stcore/health", timeout=2
                ) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise AssertionError((tmp_path / "app.log").read_text()) from None
                time.sleep(0.5)
        url = f"http://127.0.0.1:{port}/?page=product&q={product}"
        with Page(url) as page:
            text = page.wait_for(
                "1 match(es)",
                "Funnel",
                "Similar products",
                *(str(p) for p in first["rec_product_id"].head(10)),
            )
            page.screenshot(tmp_path / "product.png")
        assert "Traceback" not in text and "Error" not in text
        assert (tmp_path / "product.png").stat().st_size > 20_000
        shutil.copy(tmp_path / "product.png", sample_run.parent / "product.png")
    finally:
        server.terminate()
        server.wait(timeout=30)
