"""Staging folders left by killed processes are removed by the next write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from recsys_kedro.datasets import SparkDeltaTableDataset
from recsys_kedro.datasets.staging import ROOT_NAME, staging_folder, sweep

ROOT = Path(__file__).resolve().parents[2]


def _spawn(code: str) -> subprocess.Popen:
    """Runs Python code in its own process group (so the group can be killed)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "SPARK_LOCAL_IP": "127.0.0.1"}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(predicate, process: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if process.poll() is not None:
            raise AssertionError(
                f"process ended early: {process.stdout.read()[-3000:]}"
            )
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            raise AssertionError("timed out")
        time.sleep(0.2)


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_sweep_keeps_live_owners_and_removes_dead_ones(tmp_path: Path):
    root = tmp_path / ROOT_NAME
    holder = _spawn(
        f"""
        import time
        from recsys_kedro.datasets.staging import staging_folder
        with staging_folder("delta", {str(tmp_path)!r}) as folder:
            (folder / "part-0.parquet").write_bytes(b"x")
            time.sleep(600)
        """
    )
    try:
        _wait_for(lambda: any(root.glob("delta-*/part-0.parquet")), holder)
        assert sweep(tmp_path) == []  # its process is alive
        [left] = list(root.glob("delta-*"))
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
    assert left.is_dir()  # kill -9: nothing ran to remove it
    with staging_folder("delta", tmp_path) as mine:
        assert not left.exists()  # the next staging call swept it
        assert mine.is_dir()
    assert not mine.exists()


@pytest.mark.integration  # a killed subprocess: tens of seconds
def test_write_killed_mid_way_keeps_the_table_and_the_next_write_clears_staging(
    spark, tmp_path: Path
):
    table = tmp_path / "events_clean"
    stage = tmp_path / "stage"
    writer = _spawn(
        f"""
        import time
        from pyspark.sql import functions as F, types as T
        from recsys_kedro import spark_session
        from recsys_kedro.datasets import SparkDeltaTableDataset
        spark_session.configure({{"spark.master": "local[1]"}})
        spark = spark_session.get_spark()
        data = SparkDeltaTableDataset(filepath={str(table)!r}, staging_dir={str(stage)!r})
        data.save(spark.range(5))
        print("saved", flush=True)
        slow = F.udf(lambda v: time.sleep(600) or v, T.LongType())
        data.save(spark.range(5, 10).select(slow("id").alias("id")))
        """
    )
    root = stage / ROOT_NAME
    try:
        for line in writer.stdout:  # the first version is committed
            if line.strip() == "saved":
                break
        _wait_for(lambda: any(root.glob("delta-*/parquet")), writer)
    finally:
        os.killpg(writer.pid, signal.SIGKILL)  # the Python driver and its JVM
        writer.wait()
    assert len(list(root.glob("delta-*"))) == 1  # left behind by the kill

    dataset = SparkDeltaTableDataset(filepath=str(table), staging_dir=str(stage))
    assert sorted(r.id for r in dataset.load().collect()) == [0, 1, 2, 3, 4]

    dataset.save(spark.range(20, 22).select(F.col("id")))  # the next run's write
    assert list(root.iterdir()) == []
    assert sorted(r.id for r in dataset.load().collect()) == [20, 21]
