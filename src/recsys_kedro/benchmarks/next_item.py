"""Next-item benchmark on the standard session format, with the pipeline's model code.

Usage::

    python -m recsys_kedro.benchmarks.next_item --sessions DIR [--models m1,m2 ...]
        [--out FILE]

``DIR`` holds ``train_sessions.csv[.gz]`` and ``test_sessions.csv[.gz]`` with the columns
``session_id,item_id,position`` (integers; a session's clicks ordered by ``position``;
training sessions in time order, earliest first, as they first appear in the file). The
protocol: for every test session and every ``k >= 1``, every training item is ranked given
its first ``k`` clicks and the ``(k + 1)``-th is scored (a target never seen in training
counts as a miss). Tuning happens inside, on the newest training sessions
(:func:`recsys_kedro.next_item.model.fit_session_model`); the test sessions are read once,
for the final numbers.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from recsys_kedro.next_item.evaluation import next_item_metrics
from recsys_kedro.next_item.model import (
    MODEL_NAMES,
    SessionData,
    SessionModelParams,
    fit_session_model,
)

logger = logging.getLogger(__name__)

COLUMNS = ("session_id", "item_id", "position")


class BenchmarkInputError(ValueError):
    """A sessions file that does not follow the benchmark format."""


def _find(directory: Path, stem: str) -> Path:
    for name in (f"{stem}.csv", f"{stem}.csv.gz"):
        if (directory / name).is_file():
            return directory / name
    raise BenchmarkInputError(f"{directory} has neither {stem}.csv nor {stem}.csv.gz")


def read_sessions(path: Path) -> SessionData:
    """Reads one sessions file into sessions in file order.

    Args:
        path: A ``session_id,item_id,position`` CSV (optionally gzip-compressed).

    Returns:
        The sessions, in the order their first row appears, clicks by position.

    Raises:
        BenchmarkInputError: Empty file, a missing column, a non-integer or missing
            value, or a position repeated within a session.
    """
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as exc:
        raise BenchmarkInputError(f"{path} is empty") from exc
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise BenchmarkInputError(
            f"{path} lacks the column(s) {missing}; it has {list(frame.columns)} "
            f"(expected {', '.join(COLUMNS)})"
        )
    if frame.empty:
        raise BenchmarkInputError(f"{path} has a header but no rows")
    values = {}
    for column in COLUMNS:
        text = frame[column].str.strip()
        bad = ~text.str.fullmatch(r"[+-]?\d+")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise BenchmarkInputError(
                f"{path}: {int(bad.sum())} row(s) with a non-integer {column}, the "
                f"first at data row {row + 1}: {frame[column].iloc[row]!r}"
            )
        values[column] = text.astype(np.int64).to_numpy()
    sessions = pd.DataFrame(values)
    dup = sessions.duplicated(["session_id", "position"])
    if dup.any():
        first = sessions[dup].iloc[0]
        raise BenchmarkInputError(
            f"{path}: {int(dup.sum())} repeated (session_id, position) pair(s), e.g. "
            f"session {first.session_id} position {first.position}"
        )
    first_seen = sessions.drop_duplicates("session_id")["session_id"]
    order = pd.Series(np.arange(len(first_seen)), index=first_seen.to_numpy())
    sessions["order"] = sessions["session_id"].map(order)
    sessions = sessions.sort_values(["order", "position"], kind="stable")
    lengths = sessions.groupby("order", sort=True).size().to_numpy()
    ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return SessionData(ptr, sessions["item_id"].to_numpy(np.int64))


def run_benchmark(
    directory: Path,
    models: list[str],
    cfg: SessionModelParams | None = None,
) -> dict:
    """Tunes and fits on the training sessions, then scores the test sessions.

    Args:
        directory: The folder with the two sessions files.
        models: Models to report (:data:`MODEL_NAMES`).
        cfg: Fitting settings (default: :class:`SessionModelParams`'s).

    Returns:
        ``{"cases", "seconds", "models": {name: metrics}, "tuning": ...}``.
    """
    started = time.perf_counter()
    cfg = cfg or SessionModelParams()
    unknown = sorted(set(models) - set(MODEL_NAMES))
    if unknown:
        raise BenchmarkInputError(
            f"Unknown models {unknown}; choose from {MODEL_NAMES}"
        )
    train = read_sessions(_find(directory, "train_sessions"))
    test = read_sessions(_find(directory, "test_sessions"))
    wants_rerank = "reranked" in models
    model = fit_session_model(train, cfg.model_copy(update={"rerank": wants_rerank}))
    results = model.evaluate(test, models, threads=cfg.threads)
    n_cases = int(np.maximum(np.diff(test.ptr) - 1, 0).sum())
    report = {
        "cases": n_cases,
        "seconds": 0.0,
        "models": {
            name: next_item_metrics(
                r["ranks"], r["top"], model.index.n_items, r["answered"]
            )
            for name, r in results.items()
        },
        "tuning": model.tuning,
    }
    if wants_rerank and "reranked" not in results:
        report["models"]["reranked"] = None
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def main(argv: list[str] | None = None) -> int:
    """Command line entry point.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status (0 ok, 2 bad input).
    """
    parser = argparse.ArgumentParser(
        prog="python -m recsys_kedro.benchmarks.next_item",
        description="Next-item benchmark (all prefixes of every test session, full "
        "ranking over every training item) on session_id,item_id,position files.",
    )
    parser.add_argument(
        "--sessions",
        required=True,
        type=Path,
        help="Folder with train_sessions.csv[.gz] and test_sessions.csv[.gz]",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=list(MODEL_NAMES),
        help=f"Models (space- or comma-separated) from {', '.join(MODEL_NAMES)}",
    )
    parser.add_argument("--out", type=Path, help="Write the results as JSON here")
    parser.add_argument("--threads", type=int, help="Scoring threads (default: cores)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    models = [m for part in args.models for m in part.split(",") if m]
    try:
        report = run_benchmark(
            args.sessions, models, SessionModelParams(threads=args.threads)
        )
    except (BenchmarkInputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    header = f"{'model':<18} {'HR@10':>7} {'MRR@10':>7} {'HR@20':>7} {'MRR@20':>7} {'cov@20':>7}"
    lines = [f"{report['cases']} cases, {report['seconds']} s", header]
    for name, m in report["models"].items():
        if m is None:
            lines.append(
                f"{name:<18} (not used: {report['tuning']['rerank'].get('reason')})"
            )
            continue
        lines.append(
            f"{name:<18} {m['hit_rate_at_10']:7.4f} {m['mrr_at_10']:7.4f} "
            f"{m['hit_rate_at_20']:7.4f} {m['mrr_at_20']:7.4f} {m['coverage_at_20']:7.4f}"
        )
    print("\n".join(lines))  # noqa: T201
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    return 0


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value)}")


if __name__ == "__main__":
    raise SystemExit(main())
