"""Project hooks: per-node wall time into MLflow, the short-data tag, typed parameters."""

from __future__ import annotations

import time
from pathlib import Path

import mlflow
import pytest
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project
from kedro.pipeline import Node
from kedro.validation import ParameterValidationError, ParameterValidator

from recsys_kedro.evaluation import TimeSplitParams
from recsys_kedro.hooks import EvaluationWindowHooks, NodeTimingHooks, ParameterHooks
from recsys_kedro.recommend.cf_params import CfParams

ROOT = Path(__file__).resolve().parents[1]


def _identity(x):
    return x


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_node_time_runs_until_its_last_output_is_saved(tmp_path: Path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        hooks = NodeTimingHooks()
        node = Node(_identity, "a", ["b", "c"], name="split_node")
        with mlflow.start_run() as run:
            hooks.before_node_run(node)
            hooks.after_node_run(node)
            hooks.after_dataset_saved("b", node)
            time.sleep(0.3)  # the lazy work of saving "c"
            hooks.after_dataset_saved("c", node)
            EvaluationWindowHooks().after_node_run(
                {"split": {"window": "shrunk", "rule": "the last 20%"}, "x": 1}
            )
        data = mlflow.get_run(run.info.run_id).data
    finally:
        mlflow.set_tracking_uri(None)
    # (and node_spark_jobs.split_node, 0, where another test started Spark already)
    assert data.metrics.get("node_spark_jobs.split_node", 0) == 0
    assert set(data.metrics) - {"node_spark_jobs.split_node"} == {
        "node_seconds.split_node"
    }
    assert data.metrics["node_seconds.split_node"] >= 0.3
    assert data.tags["evaluation_window"] == "shrunk"
    assert data.tags["evaluation_window_rule"] == "the last 20%"


@pytest.mark.integration
def test_spark_jobs_are_counted_per_node_and_per_run(spark, tmp_path: Path):
    """Each RDD action below is one Spark job: the first node starts two, the second
    one; the same node in a later run of this process counts only its own."""
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    numbers = spark.sparkContext.parallelize(range(10), 2)
    try:
        hooks = NodeTimingHooks()
        first = Node(_identity, "a", "b", name="first_node")
        second = Node(_identity, "b", "c", name="second_node")
        with mlflow.start_run() as run:
            hooks.before_pipeline_run()
            hooks.before_node_run(first)
            assert numbers.count() == 10
            assert numbers.sum() == 45
            hooks.after_dataset_saved("b", first)
            hooks.before_node_run(second)
            assert numbers.max() == 9
            hooks.after_dataset_saved("c", second)
            hooks.before_pipeline_run()
            hooks.before_node_run(first)
            hooks.after_dataset_saved("b", first)
        client = mlflow.MlflowClient()
        history = {
            name: [m.value for m in client.get_metric_history(run.info.run_id, name)]
            for name in ("node_spark_jobs.first_node", "node_spark_jobs.second_node")
        }
    finally:
        mlflow.set_tracking_uri(None)
    assert history == {
        "node_spark_jobs.first_node": [2.0, 0.0],
        "node_spark_jobs.second_node": [1.0],
    }


def test_kedro_builds_the_models_and_mlflow_sees_their_fields(tmp_path: Path):
    """Kedro's validation turns each annotated block into its model before a run; the
    hook shows MLflow's hook the fields (a copy), while the node gets the model."""
    bootstrap_project(ROOT)
    validated = ParameterValidator(dict(pipelines)).validate_raw_params(
        {"cf": {"top_n": 7}, "time_split": {"test_days": 3}, "raw_only": {"a": 1}}
    )
    assert isinstance(validated["cf"], CfParams) and validated["cf"].top_n == 7
    assert isinstance(validated["time_split"], TimeSplitParams)
    assert validated["raw_only"] == {"a": 1}  # no node types it: left as it is
    with pytest.raises(ParameterValidationError, match="Parameter 'cf'"):
        ParameterValidator(dict(pipelines)).validate_raw_params({"cf": {"top_n": 0}})

    node_inputs = {"params:cf": validated["cf"], "events": "frame"}
    hook_inputs = dict(node_inputs)  # Kedro hands the hooks a copy
    ParameterHooks().before_node_run(hook_inputs)
    assert hook_inputs["params:cf"]["top_n"] == 7
    assert hook_inputs["events"] == "frame"
    assert node_inputs["params:cf"] is validated["cf"]
