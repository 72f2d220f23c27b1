"""Project hooks."""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

import mlflow
import yaml
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.pipeline import Node, Pipeline
from kedro.validation import ParameterValidationError
from pydantic import BaseModel
from pyspark import SparkContext

from recsys_kedro import spark_session
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
    """Typed parameters, parsed once by Kedro, with errors that name their file.

    Kedro builds each ``params:<key>`` a node annotates with a pydantic model (``cfg:
    CfParams``) into that model before the run (``kedro.validation``); no list of models
    is kept here. These hooks add what Kedro does not: the file an invalid key comes
    from, the nlp models' presence, and flattened parameter names in MLflow.
    """

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Validates every pipeline's parameters once, before anything runs.

        Raises:
            ParameterValidationError: A block is invalid; the message adds the
                ``parameters*.yml`` files (or ``--params``) that set each bad key.
        """
        try:
            context.params  # noqa: B018 - Kedro validates and caches on first access
        except ParameterValidationError as exc:
            keys = re.findall(r"Parameter '([^']+)'", str(exc))
            where = [
                f"'{key}' is set in {', '.join(_parameter_sources(context, key))}"
                for key in dict.fromkeys(keys)
            ]
            raise ParameterValidationError(
                f"{exc}\nInvalid parameters: {'; '.join(where)}"
            ) from exc

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        """Stops an nlp run before any node when a configured model is not installed
        (checked without loading any weights)."""
        if "params:nlp" in pipeline.inputs():
            check_models(catalog.load("params:nlp"))

    @hook_impl(tryfirst=True)
    def before_node_run(self, inputs: dict[str, Any]) -> None:
        """Shows the other hooks each parameter model as its dict, so kedro-mlflow, which
        flattens dicts only, logs ``cf.top_n`` rather than the model's text. Kedro hands
        the hooks a copy of the inputs: the node still receives the model."""
        for name, value in inputs.items():
            if name.startswith("params:") and isinstance(value, BaseModel):
                inputs[name] = value.model_dump(mode="json")


def _parameter_sources(context: KedroContext, key: str) -> list[str]:
    """The parameter files of the run's environments that set ``key``'s top block."""
    top = key.split(".", 1)[0]
    loader = context.config_loader
    sources = [
        os.path.relpath(path, Path(loader.conf_source).parent)
        for env in (loader.base_env, loader.env or loader.default_run_env)
        for path in sorted((Path(loader.conf_source) / env).glob("**/parameters*.yml"))
        if top in (yaml.safe_load(path.read_text()) or {})
    ]
    if top in (loader.runtime_params or {}) or any(
        k.split(".", 1)[0] == top for k in (loader.runtime_params or {})
    ):
        sources.append("--params")
    return sources or ["no parameters file"]


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


def _spark_context() -> SparkContext | None:
    """The process's classic SparkContext if one is running (none before the first
    Spark dataset is used, none on Spark Connect); never starts one."""
    return SparkContext._active_spark_context  # noqa: SLF001 - no public getter that does not create one


class NodeTimingHooks:
    """Wall time of every node, from its start to the save of its last output (a Spark
    node's work mostly happens when its lazy outputs are saved), logged once per node to
    MLflow as ``node_seconds.<node name>`` and to the log; with a classic SparkContext
    running, also the Spark jobs the node started (its job group) as
    ``node_spark_jobs.<node name>``."""

    def __init__(self) -> None:
        self._start: dict[str, float] = {}
        self._pending: dict[str, set[str]] = {}
        self._run = ""

    @hook_impl
    def before_pipeline_run(self) -> None:
        """A fresh prefix for the job groups, so a second run in this process (a
        notebook, the tests) does not count the first run's jobs."""
        self._run = uuid.uuid4().hex[:8]

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        """Starts the node's clock and puts the jobs it starts in a group named after it."""
        self._start[node.name] = time.perf_counter()
        self._pending[node.name] = set(node.outputs)
        context = _spark_context()
        if context is not None:
            context.setJobGroup(self._group(node.name), f"kedro node {node.name}")

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
        context = _spark_context()
        jobs = (
            None
            if context is None
            else len(context.statusTracker().getJobIdsForGroup(self._group(name)))
        )
        logger.info(
            "Node %s took %.1f s (outputs saved)%s",
            name,
            seconds,
            "" if jobs is None else f", {jobs} Spark jobs",
        )
        if mlflow.active_run() is not None:
            mlflow.log_metric(f"node_seconds.{name}", seconds)
            if jobs is not None:
                mlflow.log_metric(f"node_spark_jobs.{name}", jobs)

    def _group(self, node_name: str) -> str:
        """The Spark job group of a node's jobs in this run."""
        return f"kedro:{self._run}:{node_name}"
