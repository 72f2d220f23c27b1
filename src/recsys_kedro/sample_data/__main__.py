"""``python -m recsys_kedro.sample_data --out DIR --events N --seed S``."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from recsys_kedro.sample_data.generator import (
    SampleConfig,
    existing_raw_files,
    generate,
)

logger = logging.getLogger("recsys_kedro.sample_data")


def main(argv: list[str] | None = None) -> int:
    """Writes the default sample data; returns the process exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m recsys_kedro.sample_data",
        description="Write raw events, reviews and a product mapping shaped like the "
        "public datasets, with planted bundles, view groups and the true mapping "
        "beside the raw folder.",
    )
    parser.add_argument("--out", type=Path, default=Path("data/01_raw"))
    parser.add_argument("--events", type=int, default=SampleConfig.events)
    parser.add_argument("--seed", type=int, default=SampleConfig.seed)
    parser.add_argument("--products", type=int, default=None)
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--reviews", type=int, default=None)
    parser.add_argument("--months", type=int, default=SampleConfig.months)
    parser.add_argument("--start", default=SampleConfig.start)
    parser.add_argument(
        "--taste",
        type=float,
        default=SampleConfig.taste,
        help="share of a regular session's products from the user's favourite "
        "categories (0: the taste-free generator, where a user's future does not "
        "depend on their past)",
    )
    parser.add_argument("--truth", type=Path, default=None, help="default: <out>_truth")
    parser.add_argument(
        "--if-empty",
        action="store_true",
        help="do nothing (and say so) when the folder already holds raw data",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    existing = existing_raw_files(args.out)
    if existing:
        if args.if_empty:
            logger.info(
                "%s already holds raw data (%d file(s)); not writing the sample data.",
                args.out,
                len(existing),
            )
            return 0
        logger.error(
            "%s already holds raw data (%d file(s)); the generator never overwrites "
            "files. Choose an empty --out folder.",
            args.out,
            len(existing),
        )
        return 2
    if args.events < 1:
        parser.error("--events must be at least 1")
    if not 0.0 <= args.taste <= 1.0:
        parser.error("--taste must be in [0, 1]")
    cfg = SampleConfig(
        events=args.events,
        seed=args.seed,
        products=args.products,
        users=args.users,
        reviews=args.reviews,
        months=args.months,
        start=args.start,
        taste=args.taste,
    )
    started = time.perf_counter()
    logger.info(
        "%s holds no raw data: writing the default sample (%d events, seed %d, "
        "taste %.2f)",
        args.out,
        cfg.events,
        cfg.seed,
        cfg.taste,
    )
    summary = generate(cfg, args.out, args.truth)
    logger.info(
        "Wrote %d event rows in %d monthly files, %d reviews of %d products, %d mapping "
        "rows to %s, and the ground truth to %s (%.1f s)",
        sum(summary.event_rows.values()),
        len(summary.event_rows),
        summary.review_rows,
        summary.review_products,
        summary.mapping_rows,
        args.out,
        summary.truth_dir,
        time.perf_counter() - started,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
