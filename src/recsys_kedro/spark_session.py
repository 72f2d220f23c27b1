"""One lazily created SparkSession per process, configured from ``conf/<env>/spark.yml``.

On Databricks (or any process that already runs a session) the active session is
used as it is: ``getOrCreate`` returns it and static settings are left to the cluster.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

logger = logging.getLogger(__name__)

_DEFAULTS: dict[str, str] = {
    "spark.app.name": "recsys_kedro",
    "spark.master": "local[*]",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "8",
    # delta-rs reads INT96 timestamps badly; write what the Delta protocol uses.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}

_lock = threading.Lock()
_conf: dict[str, str] = dict(_DEFAULTS)
_persisted: list[DataFrame] = []


def configure(conf: dict[str, Any]) -> None:
    """Sets the configuration used when the session is first created.

    Args:
        conf: Spark settings (``spark.*`` keys) that override the defaults.
    """
    global _conf  # noqa: PLW0603 - module-level configuration, set once per run
    _conf = {**_DEFAULTS, **{k: str(v) for k, v in (conf or {}).items()}}


def get_spark() -> SparkSession:
    """Returns the process's SparkSession, creating it on first call.

    Returns:
        The active SparkSession.
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    with _lock:
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        if str(_conf.get("spark.master", "")).startswith("local"):
            # Local Python workers run this interpreter (the one with the project's
            # packages), not whatever `python3` is first on PATH.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder
        for key, value in _conf.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel(_conf.get("spark.log.level", "WARN"))
        logger.info(
            "Started SparkSession %s (master %s, %s shuffle partitions)",
            spark.version,
            spark.sparkContext.master,
            spark.conf.get("spark.sql.shuffle.partitions"),
        )
        return spark


def has_delta_support(spark: SparkSession) -> bool:
    """Tells whether the session can read and write Delta through Spark itself.

    True on Databricks and on sessions started with the Delta jars and extension.

    Args:
        spark: The session to check.

    Returns:
        Whether ``spark.read.format("delta")`` is available.
    """
    conf = spark.conf
    if conf.get("spark.databricks.clusterUsageTags.clusterId", None):
        return True
    extensions = conf.get("spark.sql.extensions", "") or ""
    return "DeltaSparkSessionExtension" in extensions


def broadcast_value(value: Any) -> Callable[[], Any]:
    """Ships a read-only value to every task once.

    On a classic session the value is a Spark broadcast; on Spark Connect (Databricks
    serverless and shared clusters have no SparkContext) it travels inside the closure
    of the function that reads it.

    Args:
        value: Anything picklable (e.g. neighbour lists, bounded by the catalog).

    Returns:
        A function, to call inside the task, that returns the value.
    """
    try:
        broadcast = get_spark().sparkContext.broadcast(value)
    except Exception:  # noqa: BLE001 - Spark Connect has no SparkContext
        return lambda: value
    return lambda: broadcast.value


def persist_for_run(frame: DataFrame) -> DataFrame:
    """Persists a frame (memory, spilling to disk) until the end of the current run.

    For a frame that feeds several catalog outputs: Kedro saves each output separately,
    and without this each save would recompute the frame from the raw files.

    Args:
        frame: The frame to keep.

    Returns:
        The persisted frame.
    """
    persisted = frame.persist(StorageLevel.MEMORY_AND_DISK)
    _persisted.append(persisted)
    return persisted


def release_persisted() -> int:
    """Unpersists what :func:`persist_for_run` kept; only those, not the session's other
    cached tables (a shared Databricks session may have some).

    Returns:
        How many frames were released.
    """
    released = len(_persisted)
    for frame in _persisted:
        frame.unpersist()
    _persisted.clear()
    return released
