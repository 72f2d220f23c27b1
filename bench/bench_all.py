"""`make bench`: every pipeline at several sample sizes, one table and one picture.

    python bench/bench_all.py --events 1000000 4000000 20000000 --runs 3

For each size: writes a sample (seed 42) under ``--work`` (kept, reused when present),
runs data_processing once untimed, then each pipeline in the order of their data
(cf, fpgrowth, sessions, nlp, feature_engineering, engagement, eda), ``--runs`` times each, with
`kedro run --pipeline=P --params=raw_dir=<sample>`. nlp starts cold every run (its
embedding cache is removed first). Wall time, the peak resident memory of the whole
process tree (driver, Spark JVM, Python workers; see bench_pipeline.py) and events per
second go to data/08_reporting/benchmarks.csv (medians over the runs; one row per
pipeline and size, replacing earlier rows of the same pipeline, size and runs), and
data/08_reporting/benchmarks.png plots time and memory against size.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import sys
from pathlib import Path

from bench_pipeline import BIN, ROOT, _timed, sample_command
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

PIPELINES = (
    "data_processing",
    "cf",
    "fpgrowth",
    "sessions",
    "nlp",
    "feature_engineering",
    "engagement",
    "eda",
)
CLEAR = {"nlp": ["data/04_feature/embedding_cache"]}
FIELDS = (
    "pipeline",
    "events",
    "runs",
    "median_wall_s",
    "median_peak_tree_rss_mib",
    "median_peak_driver_rss_mib",
    "events_per_s",
    "all_walls_s",
)
OUT = ROOT / "data" / "08_reporting"


def _sample(work: Path, events: int, seed: int) -> Path:
    raw = work / f"raw_{events}"
    if not (raw / "events").is_dir():
        _timed(sample_command(raw, events, seed))
    return raw


def _kedro_run(pipeline: str, raw: Path, extra: list[str]) -> tuple[float, int, int]:
    for folder in CLEAR.get(pipeline, []):
        shutil.rmtree(ROOT / folder, ignore_errors=True)
    return _timed(
        [
            str(BIN / "kedro"),
            "run",
            f"--pipeline={pipeline}",
            f"--params=raw_dir={raw}",
            *extra,
        ]
    )


def _save(rows: list[dict]) -> None:
    path = OUT / "benchmarks.csv"
    OUT.mkdir(parents=True, exist_ok=True)
    old = []
    if path.exists():
        with path.open() as handle:
            # rows of this command only (bench_pipeline.py writes its own file)
            old = [r for r in csv.DictReader(handle) if set(r) == set(FIELDS)]
    new_keys = {(r["pipeline"], str(r["events"]), str(r["runs"])) for r in rows}
    kept = [r for r in old if (r["pipeline"], r["events"], r["runs"]) not in new_keys]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(kept + rows)
    _plot(kept + rows)


def _plot(rows: list[dict]) -> None:
    fig = Figure(figsize=(12, 5), layout="constrained")
    wall_ax, mem_ax = fig.subplots(1, 2)
    for pipeline in PIPELINES:
        points = sorted(
            (
                int(r["events"]),
                float(r["median_wall_s"]),
                int(r["median_peak_tree_rss_mib"]),
            )
            for r in rows
            if r["pipeline"] == pipeline
        )
        if not points:
            continue
        sizes = [p[0] / 1e6 for p in points]
        wall_ax.plot(sizes, [p[1] for p in points], marker="o", label=pipeline)
        mem_ax.plot(sizes, [p[2] / 1024 for p in points], marker="o", label=pipeline)
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    for ax in (wall_ax, mem_ax):
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 4.0)))
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("events (millions, log scale)")
        ax.grid(True, alpha=0.3)
    wall_ax.set_yscale("log")
    wall_ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    wall_ax.yaxis.set_major_formatter(plain)
    wall_ax.yaxis.set_minor_formatter(NullFormatter())
    wall_ax.set_ylabel("median wall time of `kedro run --pipeline` (s, log scale)")
    mem_ax.set_ylabel("peak memory, whole process tree (GiB)")
    wall_ax.set_title("Time against size")
    mem_ax.set_title("Memory against size")
    mem_ax.legend(title="pipeline", fontsize=9)
    fig.suptitle("recsys_kedro on 2 cores: every pipeline at each sample size")
    fig.savefig(OUT / "benchmarks.png", dpi=110)


def main() -> None:
    """Parses arguments, runs everything, writes the table and the picture."""
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--events", type=int, nargs="+", default=[1_000_000, 4_000_000, 20_000_000]
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pipelines", default=",".join(PIPELINES))
    parser.add_argument("--work", type=Path, default=Path("/tmp/recsys-bench"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--plot-only", action="store_true", help="redraw the picture from the table"
    )
    args = parser.parse_args()
    if args.plot_only:
        with (OUT / "benchmarks.csv").open() as handle:
            _plot(list(csv.DictReader(handle)))
        return
    chosen = [p for p in PIPELINES if p in args.pipelines.split(",")]
    args.work.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for events in args.events:
        raw = _sample(args.work, events, args.seed)
        if "data_processing" not in chosen:
            _kedro_run("data_processing", raw, [])
        for pipeline in chosen:
            walls, trees, drivers = [], [], []
            for _ in range(args.runs):
                wall, tree, driver = _kedro_run(pipeline, raw, [])
                walls.append(wall)
                trees.append(tree)
                drivers.append(driver)
            wall = statistics.median(walls)
            row = {
                "pipeline": pipeline,
                "events": events,
                "runs": args.runs,
                "median_wall_s": round(wall, 1),
                "median_peak_tree_rss_mib": int(statistics.median(trees)),
                "median_peak_driver_rss_mib": int(statistics.median(drivers)),
                "events_per_s": int(events / wall),
                "all_walls_s": " ".join(f"{w:.1f}" for w in walls),
            }
            rows.append(row)
            sys.stdout.write(f"{row}\n")
            sys.stdout.flush()
            _save(rows)


if __name__ == "__main__":
    main()
