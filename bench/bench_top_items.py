"""ALS's top-item selection on one core: numpy's argpartition over every product against
recsys_kedro.recommend.factors.top_scores (a threshold from a column subset, then an
exact sort), on random factors of the cf evaluation's shape at 20 million events.

    python bench/bench_top_items.py --items 49984 --users 190000 --rank 16 --n 60 --runs 3

Each run scores one block of users (as a Spark task does: 2^22 scores at a time) and the
time is scaled to ``--users``; medians of ``--runs``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from recsys_kedro.recommend.factors import top_scores


def _argpartition(users: np.ndarray, items: np.ndarray, n: int) -> np.ndarray:
    scores = users @ items.T
    return np.argpartition(-scores, n - 1, axis=1)[:, :n]


def main() -> None:
    """Prints both selections' seconds for ``--users`` users."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=49_984)
    parser.add_argument("--users", type=int, default=190_000)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    items = rng.standard_normal((args.items, args.rank)).astype(np.float32)
    ids = np.arange(args.items)
    block = max(1, (1 << 22) // args.items)
    users = rng.standard_normal((block, args.rank)).astype(np.float32)
    scale = args.users / block
    for name, select in (
        ("argpartition", lambda: _argpartition(users, items, args.n)),
        ("top_scores", lambda: top_scores(users, items, ids, args.n)),
    ):
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            select()
            times.append((time.perf_counter() - start) * scale)
        print(  # noqa: T201 - a command-line report
            f"{name:13s} {statistics.median(times):7.1f} s for {args.users:,} users x "
            f"{args.items:,} items (one core; runs: "
            + " / ".join(f"{t:.1f}" for t in times)
            + ")"
        )


if __name__ == "__main__":
    main()
