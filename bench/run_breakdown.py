"""Where a `kedro run`'s time went: each node's seconds and Spark jobs, from MLflow.

The project's hooks log ``node_seconds.<node>`` (from the node's start to the save of
its last output) and ``node_spark_jobs.<node>`` (the Spark jobs of the node's job group)
to the run's MLflow run. This prints them for the newest run of a tracking store, the
slowest nodes first, with the run's wall time (MLflow's start to end) beside the sum of
the nodes: the difference is start-up (imports, the SparkSession, MLflow) and the loads
of node inputs, which happen before a node's clock starts.

    .venv/bin/kedro run && .venv/bin/python bench/run_breakdown.py --top 15
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path


def breakdown(db: Path, run_id: str | None = None) -> tuple[dict, list[tuple]]:
    """The run's facts and ``(node, seconds, spark_jobs)`` rows, slowest first.

    Args:
        db: An MLflow SQLite store.
        run_id: The run; None: the newest run that logged node times.

    Returns:
        ``{"run_id", "name", "wall_s"}`` and the rows.
    """
    with sqlite3.connect(db) as con:
        if run_id is None:
            found = con.execute(
                "select r.run_uuid from runs r where exists (select 1 from metrics m "
                "where m.run_uuid = r.run_uuid and m.key like 'node_seconds.%') "
                "order by r.start_time desc limit 1"
            ).fetchone()
            if found is None:
                raise SystemExit(f"{db} holds no run with node_seconds metrics")
            run_id = found[0]
        name, start, end = con.execute(
            "select name, start_time, end_time from runs where run_uuid = ?", (run_id,)
        ).fetchone()
        metrics = dict(
            con.execute(
                "select key, value from metrics where run_uuid = ? and "
                "(key like 'node_seconds.%' or key like 'node_spark_jobs.%')",
                (run_id,),
            ).fetchall()
        )
    rows = sorted(
        (
            (
                key.removeprefix("node_seconds."),
                value,
                metrics.get("node_spark_jobs." + key.removeprefix("node_seconds.")),
            )
            for key, value in metrics.items()
            if key.startswith("node_seconds.")
        ),
        key=lambda row: -row[1],
    )
    wall = (end - start) / 1000 if end else None
    return {"run_id": run_id, "name": name, "wall_s": wall}, rows


def main() -> None:
    """Prints the breakdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("mlflow.db"))
    parser.add_argument("--run-id", default=None)
    parser.add_argument("--top", type=int, default=15, help="nodes listed one by one")
    args = parser.parse_args()
    run, rows = breakdown(args.db, args.run_id)
    total = sum(seconds for _, seconds, _ in rows)
    jobs = sum(j or 0 for _, _, j in rows)
    lines = [
        f"MLflow run {run['run_id']} ({run['name']})",
        f"{'node':<45} {'seconds':>8} {'jobs':>5}",
    ]
    for name, seconds, count in rows[: args.top]:
        shown = "-" if count is None else f"{count:.0f}"
        lines.append(f"{name:<45} {seconds:>8.1f} {shown:>5}")
    rest = rows[args.top :]
    if rest:
        lines.append(
            f"{f'the other {len(rest)} nodes':<45} "
            f"{sum(s for _, s, _ in rest):>8.1f} {sum(j or 0 for *_, j in rest):>5.0f}"
        )
    lines.append(f"{f'all {len(rows)} nodes':<45} {total:>8.1f} {jobs:>5.0f}")
    if run["wall_s"] is not None:
        lines.append(f"{'MLflow run, start to end':<45} {run['wall_s']:>8.1f}")
        lines.append(
            f"{'outside the nodes (loads, hooks)':<45} {run['wall_s'] - total:>8.1f}"
        )
    print("\n".join(lines))  # noqa: T201


if __name__ == "__main__":
    main()
