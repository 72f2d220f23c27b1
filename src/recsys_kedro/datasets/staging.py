"""Scratch folders that a killed run cannot leave behind for good.

A Delta write through delta-rs, a model logged to MLflow and S3 objects copied for Spark
all stage files in a local folder first, removed when the write ends. ``kill -9`` (or
an out-of-memory kill) skips that removal. So every such folder lives under one root,
``<tmp>/recsys-kedro-staging``, and holds an ``.owner`` file its process keeps locked
(``flock``) while it uses the folder. The kernel drops the lock when the process dies,
however it dies, so the next staging call, in any later run, finds the folders nobody
holds and removes them. The standard library has no such sweep (``tempfile`` cleans up
only in a process that exits normally), hence this module.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

ROOT_NAME = "recsys-kedro-staging"
OWNER = ".owner"
# A folder without an owner file is one being created right now, unless it is older.
_UNOWNED_GRACE_S = 600.0


def staging_root(base: str | os.PathLike | None = None) -> Path:
    """The folder that holds every staging folder (created if need be).

    Args:
        base: Where to put it; default: the system temporary folder.
    """
    root = Path(base or tempfile.gettempdir()) / ROOT_NAME
    root.mkdir(parents=True, exist_ok=True)
    return root


def sweep(base: str | os.PathLike | None = None) -> list[Path]:
    """Removes the staging folders whose process is gone.

    Args:
        base: As for :func:`staging_root`.

    Returns:
        The folders removed.
    """
    removed = []
    for folder in sorted(staging_root(base).iterdir()):
        if not folder.is_dir():
            continue
        owner = folder / OWNER
        try:
            handle = open(owner, "r+")  # noqa: SIM115 - held for the check below
        except FileNotFoundError:
            try:
                age = time.time() - folder.stat().st_mtime
            except FileNotFoundError:
                continue
            if age > _UNOWNED_GRACE_S:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
            continue
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its process is alive and using it
            except OSError:
                continue  # no flock on this filesystem: whose it is cannot be told
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        logger.warning(
            "Removed %d staging folder(s) left by killed runs: %s",
            len(removed),
            ", ".join(p.name for p in removed),
        )
    return removed


def _claim(prefix: str, base: str | os.PathLike | None) -> tuple[Path, IO[str]]:
    sweep(base)
    folder = Path(
        tempfile.mkdtemp(prefix=f"{prefix}-{os.getpid()}-", dir=staging_root(base))
    )
    handle = open(folder / OWNER, "w")  # noqa: SIM115 - the lock lives as long as it
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
    except OSError as exc:  # a filesystem without flock (some FUSE mounts)
        logger.warning(
            "Cannot lock %s (%s): a kill -9 of this run would leave this staging "
            "folder behind.",
            folder,
            exc,
        )
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return folder, handle


def _release(folder: Path, handle: IO[str]) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    handle.close()


@contextmanager
def staging_folder(
    prefix: str, base: str | os.PathLike | None = None
) -> Iterator[Path]:
    """A new empty folder, removed on exit (and by a later run if this one is killed).

    Args:
        prefix: Start of the folder's name (what stages there).
        base: As for :func:`staging_root`.

    Yields:
        The folder.
    """
    folder, handle = _claim(prefix, base)
    try:
        yield folder
    finally:
        _release(folder, handle)


def process_folder(prefix: str, base: str | os.PathLike | None = None) -> Path:
    """A folder kept for the life of this process, removed when it exits (and by a
    later run if it is killed).

    Args:
        prefix: Start of the folder's name.
        base: As for :func:`staging_root`.
    """
    folder, handle = _claim(prefix, base)
    atexit.register(_release, folder, handle)
    return folder
