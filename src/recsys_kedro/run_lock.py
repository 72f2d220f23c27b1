"""One ``kedro run`` at a time per project folder.

Two runs writing the same Delta tables at once would each replace what the other wrote
(delta-rs commits an overwrite whatever happened in between), and the data-quality
report of one would describe the tables of the other. So a run takes an exclusive lock
on ``data/.kedro-run.lock`` before its first node, and a second run stops at once,
saying which run holds it. The lock is an ``flock``: the kernel drops it when the holding
process ends, however it ends (``kill -9`` included), so a killed run never leaves a
stale lock behind. It guards one machine; tables on object storage shared by several
machines rely on Delta's optimistic concurrency (Spark Delta on Databricks).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)

LOCK_FILE = Path("data") / ".kedro-run.lock"


class RunLockedError(RuntimeError):
    """Another run holds the project's run lock."""


class RunLock:
    """An exclusive, non-blocking lock on a file, with who holds it written inside."""

    def __init__(self, path: str | os.PathLike) -> None:
        """Creates the lock (nothing is locked yet).

        Args:
            path: The lock file; its folder is created when missing.
        """
        self.path = Path(path)
        self._handle: IO[str] | None = None

    def acquire(self, **about: Any) -> None:
        """Takes the lock, or stops at once if another process holds it.

        Args:
            about: What this run is (pipeline, environment), written for the next one.

        Raises:
            RunLockedError: Another process holds it; the message says which.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "(not yet written)"
            handle.close()
            raise RunLockedError(
                f"Another kedro run is writing this project's tables: it holds "
                f"{self.path} ({holder}). Two runs writing the same tables at once "
                "would overwrite each other's results, so this run stops before its "
                "first node. Run again when that one has finished."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "started": datetime.now(UTC).isoformat(timespec="seconds"),
                    **about,
                },
                default=str,
            )
        )
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        """Lets the lock go (the file stays; its content is the last holder)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._handle is not None
