"""One run at a time: a second run stops with a clear message; a kill leaves no lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recsys_kedro.run_lock import RunLock, RunLockedError

ROOT = Path(__file__).resolve().parents[1]


def _hold(path: Path) -> subprocess.Popen:
    """Another process that takes the lock and keeps it."""
    code = (
        "import sys, time\n"
        "from recsys_kedro.run_lock import RunLock\n"
        "lock = RunLock(sys.argv[1])\n"
        "lock.acquire(pipelines=['cf'])\n"
        "print('held', flush=True)\n"
        "time.sleep(600)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(path)],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_second_holder_is_refused_and_a_killed_holder_leaves_no_lock(tmp_path: Path):
    path = tmp_path / "data" / ".kedro-run.lock"
    holder = _hold(path)
    try:
        with pytest.raises(RunLockedError) as error:
            RunLock(path).acquire()
        message = str(error.value)
        assert f'"pid": {holder.pid}' in message and '"cf"' in message
        assert "Run again when that one has finished" in message
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    lock = RunLock(path)
    lock.acquire(pipelines=["data_processing"])  # the kill released it
    assert lock.held
    assert json.loads(path.read_text())["pid"] == os.getpid()
    lock.release()
    again = RunLock(path)
    again.acquire()
    again.release()


@pytest.mark.slow
def test_kedro_run_stops_while_another_run_holds_the_project(project: Path):
    from tests.test_run import _kedro  # noqa: PLC0415 - the CLI helper of the run tests

    holder = _hold(project / "data" / ".kedro-run.lock")
    try:
        started = time.monotonic()
        result = _kedro(project, "run", "--pipeline=data_processing")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert result.returncode != 0
    output = " ".join((result.stdout + result.stderr).replace("│", " ").split())
    assert "Another kedro run is writing this project's tables" in output
    assert f'"pid": {holder.pid}' in output
    assert "Running node" not in output
    assert time.monotonic() - started < 300
