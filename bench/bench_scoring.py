"""The cf scoring of a batch of users on one core: recsys_kedro.recommend.scoring's
whole-batch ``recommend_batch`` against a loop over the users, on random neighbour
lists and histories of the cf pipeline's shape.

    python bench/bench_scoring.py --users 10000 --runs 3
    # the same, with the loop of an earlier version of the module:
    git show 2e95f70:src/recsys_kedro/recommend/scoring.py > /tmp/old_scoring.py
    python bench/bench_scoring.py --loop-module /tmp/old_scoring.py

The loop calls ``recommend`` once per user, from this module or from ``--loop-module``
(a file defining ``NeighbourIndex``, ``Popularity`` and ``recommend`` with the same
signatures); both see the same users (geometric history lengths, mean about 8, each
product with ``--neighbours`` neighbours among ``--products``). Both answers are
checked equal before timing. Medians of ``--runs``, in microseconds per user.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from recsys_kedro.recommend import scoring


def _module(path: str | None):
    if path is None:
        return scoring
    spec = importlib.util.spec_from_file_location("loop_scoring", Path(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _data(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    p, n = args.products, args.neighbours
    neighbours = pd.DataFrame(
        {
            "product_id": np.repeat(np.arange(p), n),
            "rank": np.tile(np.arange(1, n + 1), p),
            "rec_product_id": rng.integers(0, p, p * n),
            "score": rng.random(p * n),
        }
    )
    popular = pd.DataFrame(
        {
            "product_id": np.arange(100),
            "rank": np.arange(1, 101),
            "score": np.linspace(1, 0.01, 100),
        }
    )
    lengths = rng.geometric(0.12, args.users)
    users = pd.DataFrame(
        {
            "user_id": np.arange(args.users),
            "products": [rng.integers(0, p, m) for m in lengths],
            "weights": [rng.random(m) + 0.1 for m in lengths],
            "excluded": [rng.integers(0, p, 1) for _ in lengths],
        }
    )
    return neighbours, popular, users


def main() -> None:
    """Prints both ways' microseconds per user."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--neighbours", type=int, default=50)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--loop-module", default=None)
    args = parser.parse_args()
    neighbours, popular, users = _data(args)
    loop = _module(args.loop_module)
    loop_index = loop.NeighbourIndex.from_long(neighbours)
    loop_popular = loop.Popularity.from_frame(popular)
    index = scoring.NeighbourIndex.from_long(neighbours)
    fallback = scoring.Popularity.from_frame(popular)
    index.matrix  # noqa: B018 - built once per task in the pipeline, not timed here

    def by_loop() -> list[np.ndarray]:
        return [
            loop.recommend(h, w, e, loop_index, loop_popular, args.k)[0]
            for h, w, e in zip(
                users["products"], users["weights"], users["excluded"], strict=True
            )
        ]

    def by_batch() -> pd.DataFrame:
        return scoring.recommend_batch(users, index, fallback, args.k).to_pandas()

    batch = by_batch()
    expected = np.concatenate(by_loop())
    if not np.array_equal(batch["product_id"].to_numpy(), expected):
        raise SystemExit("the two ways disagree")
    for name, run in (("loop", by_loop), ("batch", by_batch)):
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            run()
            times.append((time.perf_counter() - start) / args.users * 1e6)
        print(  # noqa: T201 - a command-line report
            f"{name:6s} {statistics.median(times):6.1f} us per user ({args.users:,} "
            f"users, {args.products:,} products x {args.neighbours} neighbours; one "
            "core; runs: " + " / ".join(f"{t:.1f}" for t in times) + ")"
        )


if __name__ == "__main__":
    main()
