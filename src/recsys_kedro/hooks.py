"""Project hooks."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.pipeline import Node

from recsys_kedro import spark_session
from recsys_kedro.parameters import parameter_models
from recsys_kedro.pipelines.nlp.models import check_models
from recsys_kedro.run_lock import LOCK_FILE, RunLock

logger = logging.getLogger(__name__)


class SparkHooks:
    """Hands the environment's ``spark.yml`` to the lazily created SparkSession."""

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Reads ``spark*.yml`` of the run's environment; the session starts on first use.

        Starting Spark takes about 20 s, so commands that never touch a Spark dataset
        (``kedro catalog``, ``kedro viz``) do not pay for it.
        """
        spark_session.configure(dict(context.config_loader["spark"]))

    @hook_impl
    def after_pipeline_run(self) -> None:
        """Releases the frames the nodes persisted for this run."""
        spark_session.release_persisted()

    @hook_impl
    def on_pipeline_error(self) -> None:
        """Releases them when the run fails too."""
        spark_session.release_persisted()


class ParameterHooks:
    """Validates each pipeline's parameters before the run starts."""

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline, catalog
    ) -> None:
        """Fails the run at once, naming the bad key, when a parameter block is invalid,
        and, when the run includes the nlp pipeline, when a configured model is not
        installed (checked without loading any weights)."""
        params = catalog.load("parameters")
        parsed = {}
        for key, model in parameter_models().items():
            if key in params:
                try:
                    parsed[key] = model.model_validate(params[key])
                except ValueError as exc:
                    raise ValueError(
                        f"Invalid parameters under '{key}': {exc}"
                    ) from exc
        if "nlp" in parsed and "params:nlp" in pipeline.inputs():
            check_models(parsed["nlp"])


class RunLockHooks:
    """One run at a time per project folder (see :mod:`recsys_kedro.run_lock`)."""

    def __init__(self) -> None:
        self._lock: RunLock | None = None

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        """Takes the lock before any other hook starts anything (an MLflow run).

        Raises:
            RunLockedError: Another run of this project holds it.
        """
        lock = RunLock(Path(run_params["project_path"]) / LOCK_FILE)
        try:
            lock.acquire(
                pipelines=run_params.get("pipeline_names"),
                env=run_params.get("env"),
                run_id=run_params.get("run_id"),
            )
        except (
            PermissionError,
            OSError,
        ) as exc:  # read-only folder (a Databricks repo)
            logger.warning(
                "Cannot take the run lock %s (%s): concurrent runs are not guarded on "
                "this machine.",
                lock.path,
                exc,
            )
            return
        self._lock = lock

    @hook_impl
    def after_pipeline_run(self) -> None:
        """Releases the lock."""
        self._release()

    @hook_impl
    def on_pipeline_error(self) -> None:
        """Releases it when the run fails too."""
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


class EvaluationWindowHooks:
    """Tags the MLflow run when a time split shrank its window for short data (see
    :mod:`recsys_kedro.evaluation.split`)."""

    @hook_impl
    def after_node_run(self, outputs: dict[str, Any]) -> None:
        """Sets ``evaluation_window`` (and its rule) from a split's description."""
        for value in outputs.values():
            if not isinstance(value, dict) or value.get("window") != "shrunk":
                continue
            if mlflow.active_run() is not None:
                mlflow.set_tags(
                    {
                        "evaluation_window": "shrunk",
                        "evaluation_window_rule": value["rule"],
                    }
                )


class NodeTimingHooks:
    """Wall time of every node, from its start to the save of its last output (a Spark
    node's work mostly happens when its lazy outputs are saved), logged once per node to
    MLflow as ``node_seconds.<node name>`` and to the log."""

    def __init__(self) -> None:
        self._start: dict[str, float] = {}
        self._pending: dict[str, set[str]] = {}

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        """Starts the node's clock."""
        self._start[node.name] = time.perf_counter()
        self._pending[node.name] = set(node.outputs)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, node: Node) -> None:
        """Stops it when the node's last output is saved."""
        pending = self._pending.get(node.name)
        if pending is None:
            return
        pending.discard(dataset_name)
        if not pending:
            self._record(node.name)

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        """A node without outputs stops its clock when it returns."""
        if not node.outputs:
            self._record(node.name)

    def _record(self, name: str) -> None:
        seconds = time.perf_counter() - self._start.pop(name)
        self._pending.pop(name, None)
        logger.info("Node %s took %.1f s (outputs saved)", name, seconds)
        if mlflow.active_run() is not None:
            mlflow.log_metric(f"node_seconds.{name}", seconds)
