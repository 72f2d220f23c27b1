"""One lazily created SparkSession per process, configured from ``conf/<env>/spark.yml``.

On Databricks (or any process that already runs a session) the active session is
used as it is: ``getOrCreate`` returns it and static settings are left to the cluster.

The session may be a classic one (a JVM beside the driver) or a Spark Connect client
(Databricks serverless and standard access mode; locally ``spark.api.mode: connect``,
``conf/connect``). Connect has no ``SparkContext``: the few things that need one
(parallelism, broadcasts, the log level) go through this module, which asks by session
type, and caching falls back to recomputing where the server refuses it.
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
_adapted_sessions: set[int] = set()


def configure(conf: dict[str, Any]) -> None:
    """Sets the configuration used when the session is first created.

    Args:
        conf: Spark settings (``spark.*`` keys) that override the defaults.
    """
    global _conf  # noqa: PLW0603 - module-level configuration, set once per run
    _conf = {**_DEFAULTS, **{k: str(v) for k, v in (conf or {}).items()}}


def is_connect(spark: SparkSession) -> bool:
    """Whether ``spark`` is a Spark Connect client (no SparkContext, no RDDs).

    Args:
        spark: A session.

    Returns:
        True for a Spark Connect session.
    """
    return type(spark).__module__.startswith("pyspark.sql.connect")


def default_parallelism(spark: SparkSession) -> int:
    """How many tasks the session runs at once, without a SparkContext on Connect.

    Classic: ``sparkContext.defaultParallelism``. Connect: ``spark.default.parallelism``
    when set, else the N of a ``local[N]`` master (``local[*]``: this machine's cores),
    else the shuffle partitions.

    Args:
        spark: A session.

    Returns:
        At least 1.
    """
    if not is_connect(spark):
        return max(1, spark.sparkContext.defaultParallelism)
    conf = spark.conf
    configured = conf.get("spark.default.parallelism", None)
    if configured:
        return max(1, int(configured))
    cores = local_cores(str(conf.get("spark.master", "") or ""))
    return cores or max(1, int(conf.get("spark.sql.shuffle.partitions", "8")))


def local_cores(master: str) -> int | None:
    """The cores of a local master: ``local`` 1, ``local[N]`` and ``local[N,F]`` N,
    ``local[*]`` this machine's; ``None`` for any other master.

    Args:
        master: ``spark.master``.

    Returns:
        The core count, or ``None``.
    """
    if not master.startswith("local"):
        return None
    if "[" not in master:
        return 1
    cores = (
        master[master.find("[") + 1 : master.find("]")]
        .split(",", maxsplit=1)[0]
        .strip()
    )
    return max(1, os.cpu_count() or 1) if cores == "*" else max(1, int(cores))


# Spark 3.5 (Databricks Runtime 16.4 LTS's Spark, which `make test-dbr` runs on):
# - it enumerates the alternatives of aliased output expressions (``multiTransform``,
#   capped by this limit); on the data_processing nodes' wide projections of the reviews
#   that ran the driver out of heap, and with one candidate it does not;
# - its time parser policy ``EXCEPTION`` makes ``try_to_timestamp`` raise on a text the
#   pre-3.0 parser would have read, where the data_processing nodes need a null to
#   quarantine the row; ``CORRECTED`` is Spark 4's default.
_SPARK_3_SETTINGS = {
    "spark.sql.optimizer.expressionProjectionCandidateLimit": "1",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
}


def _adapted(spark: SparkSession) -> SparkSession:
    """Gives a Spark 3 session the settings above, once per session, whether this
    package started it or found it (a Databricks cluster's): both are runtime SQL
    settings. A value set in ``spark.yml`` wins."""
    if id(spark) in _adapted_sessions:
        return spark
    _adapted_sessions.add(id(spark))
    if int(str(spark.version).split(".")[0]) < 4:
        for key, value in _SPARK_3_SETTINGS.items():
            if key not in _conf:
                spark.conf.set(key, value)
                logger.info("Spark %s session: set %s=%s", spark.version, key, value)
    return spark


def get_spark() -> SparkSession:
    """Returns the process's SparkSession, creating it on first call.

    Returns:
        The active SparkSession.
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return _adapted(active)
    with _lock:
        active = SparkSession.getActiveSession()
        if active is not None:
            return _adapted(active)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        if str(_conf.get("spark.master", "")).startswith("local"):
            # Local Python workers run this interpreter (the one with the project's
            # packages), not whatever `python3` is first on PATH.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder
        for key, value in _conf.items():
            builder = builder.config(key, value)
        spark = _adapted(builder.getOrCreate())
        if not is_connect(spark):  # a Connect server takes spark.log.level as set
            spark.sparkContext.setLogLevel(_conf.get("spark.log.level", "WARN"))
        logger.info(
            "Started %sSparkSession %s (master %s, %s shuffle partitions)",
            "Spark Connect " if is_connect(spark) else "",
            spark.version,
            spark.conf.get("spark.master", _conf.get("spark.master")),
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
    spark = get_spark()
    if is_connect(spark):
        return lambda: value
    broadcast = spark.sparkContext.broadcast(value)
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
    try:
        persisted = frame.persist(StorageLevel.MEMORY_AND_DISK)
    except Exception as error:  # noqa: BLE001 - serverless Connect refuses caching
        logger.warning(
            "Spark refused to cache a frame (%s): each output that reads it recomputes "
            "it instead",
            str(error).splitlines()[0][:200],
        )
        return frame
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
