"""Wall time and peak memory of a pipeline on generated samples of given sizes.

    python bench/bench_pipeline.py --pipeline data_processing --events 200000 4000000 --runs 3
    python bench/bench_pipeline.py --pipeline cf --prepare data_processing --events 4000000

``--prepare P``: runs pipeline P once on the sample (untimed) before the timed runs, for
pipelines that start from its outputs.

For each size: writes the sample once (timed, with its own peak memory), then runs
`kedro run --pipeline=P --params=raw_dir=...` under `/usr/bin/time -v` `--runs` times and
prints the median wall time, the median peak resident memory of the largest process (the
Spark JVM or the Python driver, whichever is larger) and events per second. Results are
appended to data/08_reporting/benchmarks.csv.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _timed(cmd: list[str]) -> tuple[float, int]:
    """Runs a command under /usr/bin/time -v; returns (wall seconds, max RSS in MiB)."""
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "true",
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    started = time.perf_counter()
    result = subprocess.run(
        ["/usr/bin/time", "-v", *cmd],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    rss_kb = int(
        re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(
            1
        )
    )
    return wall, rss_kb // 1024


def main() -> None:
    """Parses arguments, runs the measurements and prints a table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--pipeline", default="data_processing")
    parser.add_argument("--events", type=int, nargs="+", default=[200_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prepare", default=None)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    out_csv = ROOT / "data" / "08_reporting" / "benchmarks.csv"
    rows = []
    with tempfile.TemporaryDirectory(prefix="recsys-bench-") as tmp:
        for events in args.events:
            raw = Path(tmp) / f"raw_{events}"
            gen_wall, gen_rss = _timed(
                [
                    str(BIN / "python"),
                    "-m",
                    "recsys_kedro.sample_data",
                    "--out",
                    str(raw),
                    "--events",
                    str(events),
                    "--seed",
                    str(args.seed),
                ]  # fmt: skip
            )
            if args.prepare:
                _timed(
                    [
                        str(BIN / "kedro"),
                        "run",
                        f"--pipeline={args.prepare}",
                        f"--params=raw_dir={raw}",
                    ]
                )
            walls, rsss = [], []
            for _ in range(args.runs):
                wall, rss = _timed(
                    [
                        str(BIN / "kedro"),
                        "run",
                        f"--pipeline={args.pipeline}",
                        f"--params=raw_dir={raw}",
                    ]
                )
                walls.append(wall)
                rsss.append(rss)
            row = {
                "pipeline": args.pipeline,
                "events": events,
                "runs": args.runs,
                "median_wall_s": round(statistics.median(walls), 1),
                "median_peak_rss_mib": int(statistics.median(rsss)),
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
