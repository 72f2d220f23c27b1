"""Wall time and peak memory of a pipeline on generated samples of given sizes.

    python bench/bench_pipeline.py --pipeline data_processing --events 200000 4000000 --runs 3
    python bench/bench_pipeline.py --pipeline cf --prepare data_processing --events 4000000
    python bench/bench_pipeline.py --pipeline nlp --prepare data_processing --events 200000 --clear data/04_feature/embedding_cache
    python bench/bench_pipeline.py --pipeline fpgrowth --events 4000000 --raw /tmp/b4/raw "--kedro-args=--nodes=build_baskets_node,mine_rules_node"

``--prepare P``: runs pipeline P (or several, ``P1,P2``) once on the sample (untimed) before
the timed runs, for pipelines that start from their outputs. ``--clear PATH``: a folder (relative to the project)
removed before each timed run, e.g. the nlp pipeline's embedding cache, so every run starts
cold.

For each size: writes the sample once (timed, with its own peak memory), then runs
`kedro run --pipeline=P --params=raw_dir=...` under `/usr/bin/time -v` `--runs` times and
prints the median wall time, the median peak resident memory of the whole process tree
(Python driver + Spark JVM + Python workers, sampled every 0.2 s with psutil, children
caught between spawn and exec left out, see ``_tree_rss``; the JVM is
not a process `time` waits for, so its own maximum covers the driver only, reported
beside it) and events per second. Results are appended to
data/08_reporting/benchmarks_pipeline.csv.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


SPAWN_GRACE_S = 1.0


def _tree_rss(root: psutil.Process) -> int:
    """Resident memory of a process and all its descendants, in bytes.

    A child that is still a copy of its parent is left out: the JVM starts helper
    commands (e.g. Hadoop's local-filesystem shell calls) with posix_spawn, and for
    the few milliseconds before the exec the child shares the JVM's memory and
    reports the JVM's whole resident set as its own, which would count the JVM
    twice. Such a child has its parent's command line and is younger than
    ``SPAWN_GRACE_S``; a Python worker forked by pyspark's daemon is counted once it
    is older.
    """
    total = 0
    now = time.time()
    for proc in [root, *root.children(recursive=True)]:
        try:
            if proc.pid != root.pid and now - proc.create_time() < SPAWN_GRACE_S:
                parent = proc.parent()
                if parent is not None and parent.cmdline() == proc.cmdline():
                    continue
            total += proc.memory_info().rss
        except psutil.Error:
            pass  # exited between listing and reading
    return total


def sample_command(out: Path, events: int, seed: int) -> list[str]:
    """The command that writes a sample of ``events`` events to ``out``."""
    return [
        str(BIN / "python"),
        "-m",
        "recsys_kedro.sample_data",
        "--out",
        str(out),
        "--events",
        str(events),
        "--seed",
        str(seed),
    ]


def _timed(cmd: list[str]) -> tuple[float, int, int]:
    """Runs a command under /usr/bin/time -v.

    Returns:
        Wall seconds; the peak of the whole process tree's resident memory (the Python
        driver, the Spark JVM and its Python workers together, sampled every 0.2 s), in
        MiB; and /usr/bin/time's maximum resident set, in MiB. The latter covers only
        the processes the command waits for, which leaves out the Spark JVM.
    """
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "true",
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    started = time.perf_counter()
    proc = subprocess.Popen(
        ["/usr/bin/time", "-v", *cmd],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                peak = max(peak, _tree_rss(root))
            except psutil.Error:
                return
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    stop.set()
    sampler.join()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(stdout[-4000:] + stderr[-4000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    rss_kb = int(
        re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr).group(1)
    )
    return wall, peak // 2**20, rss_kb // 1024


def main() -> None:
    """Parses arguments, runs the measurements and prints a table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipeline", default="data_processing")
    parser.add_argument("--events", type=int, nargs="+", default=[200_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prepare", default=None)
    parser.add_argument(
        "--raw",
        type=Path,
        default=None,
        help="an existing sample (of --events events) to use instead of writing one",
    )
    parser.add_argument(
        "--kedro-args",
        default="",
        help="extra arguments for the timed kedro run; pass as --kedro-args='--nodes=a,b'",
    )
    parser.add_argument(
        "--clear",
        type=Path,
        action="append",
        default=[],
        help="a folder under the project removed before each timed run (repeatable)",
    )
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    out_csv = ROOT / "data" / "08_reporting" / "benchmarks_pipeline.csv"
    rows = []
    with tempfile.TemporaryDirectory(prefix="recsys-bench-") as tmp:
        for events in args.events:
            raw = args.raw or Path(tmp) / f"raw_{events}"
            gen_wall, gen_rss = 0.0, 0
            if args.raw is None:
                gen_wall, gen_rss, _ = _timed(sample_command(raw, events, args.seed))
            if args.prepare:
                _timed(
                    [
                        str(BIN / "kedro"),
                        "run",
                        # several pipelines, comma-separated: kedro's --pipelines
                        f"--pipelines={args.prepare}"
                        if "," in args.prepare
                        else f"--pipeline={args.prepare}",
                        f"--params=raw_dir={raw}",
                    ]
                )
            walls, rsss, drivers = [], [], []
            for _ in range(args.runs):
                for folder in args.clear:
                    shutil.rmtree(ROOT / folder, ignore_errors=True)
                wall, rss, driver = _timed(
                    [
                        str(BIN / "kedro"),
                        "run",
                        f"--pipeline={args.pipeline}",
                        f"--params=raw_dir={raw}",
                        *args.kedro_args.split(),
                    ]
                )
                walls.append(wall)
                rsss.append(rss)
                drivers.append(driver)
            row = {
                "pipeline": args.pipeline,
                "events": events,
                "runs": args.runs,
                "median_wall_s": round(statistics.median(walls), 1),
                "kedro_args": " ".join(
                    [args.kedro_args, *[f"(cleared {c})" for c in args.clear]]
                ).strip(),
                "median_peak_tree_rss_mib": int(statistics.median(rsss)),
                "median_peak_driver_rss_mib": int(statistics.median(drivers)),
                "events_per_s": int(events / statistics.median(walls)),
                "sample_write_s": round(gen_wall, 1),
                "sample_peak_rss_mib": gen_rss,
                "all_walls_s": " ".join(f"{w:.1f}" for w in walls),
            }
            rows.append(row)
            print(row, flush=True)  # noqa: T201 - a benchmark prints its results
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    new = not out_csv.exists()
    with out_csv.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        if new:
            writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
