"""Project hooks: per-node wall time into MLflow, the short-data tag."""

from __future__ import annotations

import time
from pathlib import Path

import mlflow
from kedro.pipeline import Node

from recsys_kedro.hooks import EvaluationWindowHooks, NodeTimingHooks


def _identity(x):
    return x


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
    assert list(data.metrics) == ["node_seconds.split_node"]
    assert data.metrics["node_seconds.split_node"] >= 0.3
    assert data.tags["evaluation_window"] == "shrunk"
    assert data.tags["evaluation_window_rule"] == "the last 20%"
