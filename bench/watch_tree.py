"""A second, independent memory sampler to run beside `make bench`.

    .venv/bin/python bench/watch_tree.py --every 5 > /tmp/watch.log &   # then make bench
    .venv/bin/python bench/watch_tree.py --max /tmp/watch.log           # peak per pipeline

Every ``--every`` seconds it finds the running ``kedro run --pipeline=P`` process and
writes one line: the time, P, and the resident memory of that process (the Python
driver), of its Java descendants (the Spark JVM), of its other descendants (Python
workers) and their sum, in MiB. It shares no code with bench_pipeline.py's 0.2 s
sampler, so the two can be compared: a coarser interval can miss a short peak but never
adds one. ``--max`` prints the largest sum per pipeline in such a log.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import psutil


def _kedro_run() -> psutil.Process | None:
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmd = proc.info["cmdline"] or []
        if (
            proc.info["name"] != "time"
            and "run" in cmd
            and any(a.startswith("--pipeline=") for a in cmd)
        ):
            if any(Path(a).name == "kedro" for a in cmd):
                return proc
    return None


def _line(root: psutil.Process) -> str:
    parts = {"driver": 0, "jvm": 0, "workers": 0}
    for proc in [root, *root.children(recursive=True)]:
        try:
            mib = proc.memory_info().rss >> 20
            name = proc.name()
        except psutil.Error:
            continue
        key = (
            "driver" if proc.pid == root.pid else "jvm" if name == "java" else "workers"
        )
        parts[key] += mib
    pipeline = next(a for a in root.cmdline() if a.startswith("--pipeline="))
    return (
        f"{time.strftime('%H:%M:%S')} {pipeline.split('=', 1)[1]} "
        f"driver={parts['driver']} jvm={parts['jvm']} workers={parts['workers']} "
        f"total={sum(parts.values())}\n"
    )


def _maxima(log: Path) -> dict[str, int]:
    peaks: dict[str, int] = {}
    for line in log.read_text().splitlines():
        fields = line.split()
        if len(fields) == 6 and fields[5].startswith("total="):
            total = int(fields[5].split("=", 1)[1])
            peaks[fields[1]] = max(peaks.get(fields[1], 0), total)
    return peaks


def main() -> None:
    """Samples until killed, or summarises a log with ``--max``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--every", type=float, default=5.0)
    parser.add_argument("--max", type=Path, default=None, help="a log to summarise")
    args = parser.parse_args()
    if args.max is not None:
        for pipeline, peak in _maxima(args.max).items():
            sys.stdout.write(f"{pipeline}: {peak:,} MiB\n")
        return
    while True:
        root = _kedro_run()
        if root is not None:
            try:
                sys.stdout.write(_line(root))
                sys.stdout.flush()
            except (psutil.Error, StopIteration):
                pass  # the run ended while it was being read
        time.sleep(args.every)


if __name__ == "__main__":
    main()
