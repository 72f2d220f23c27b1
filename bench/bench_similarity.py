"""The similarity step at the real dataset's size, next to implicit's CosineRecommender.

    pip install -c constraints.txt -e ".[bench]"      # adds implicit
    python bench/bench_similarity.py --events 20000000 --products 54000 --users 1600000 --runs 3

1. Writes a sample of that size with the project's generator (or reuses ``--raw DIR``)
   and turns it into the users x products matrix exactly as the cf pipeline weighs it
   (shipped ``parameters_cf.yml``: event weights, log1p, rows over
   ``max_products_per_row`` dropped). Untimed.
2. ``ours``: L2-normalise + ``sparse_dot_topn`` top-N over all products (the kernel the
   pipeline's Spark tasks run), and ``implicit``: ``CosineRecommender(K=N+1).fit``, each
   in its own process under ``/usr/bin/time -v``, ``--runs`` times, same thread count.
   Wall time is the fit alone (timed inside); peak memory is the process's.
3. Overlap: for each product, the share of our top-N that implicit also has.

Results are appended to data/08_reporting/benchmarks_similarity.csv.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import yaml
from scipy import sparse

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def build_matrix(raw: Path, out: Path) -> dict:
    """Users x products matrix of the sample, weighted as the cf pipeline does."""
    cfg = yaml.safe_load((ROOT / "conf/base/parameters_cf.yml").read_text())["cf"]
    users, products, weights = [], [], []
    for path in sorted((raw / "events").glob("*.csv")):
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                include_columns=["event_type", "product_id", "user_id"]
            ),
        )
        kind = table["event_type"].to_numpy(zero_copy_only=False)
        w = np.zeros(len(kind), dtype=np.float32)
        for name, value in cfg["event_weights"].items():
            w[kind == name] = value
        users.append(table["user_id"].to_numpy())
        products.append(table["product_id"].to_numpy())
        weights.append(w)
    user_ids, u = np.unique(np.concatenate(users), return_inverse=True)
    product_ids, p = np.unique(np.concatenate(products), return_inverse=True)
    matrix = sparse.csr_matrix(
        (np.concatenate(weights), (u, p)), shape=(len(user_ids), len(product_ids))
    )
    matrix.sum_duplicates()
    matrix.data[matrix.data < 0] = 0
    matrix.eliminate_zeros()
    if cfg["weight_transform"] == "log1p":
        matrix.data = np.log1p(matrix.data)
    heavy = np.diff(matrix.indptr) > cfg["max_products_per_row"]
    matrix = matrix[~heavy]
    sparse.save_npz(out, matrix.astype(np.float32))
    return {
        "users": int(matrix.shape[0]),
        "products": int(matrix.shape[1]),
        "nnz": int(matrix.nnz),
        "heavy_rows_dropped": int(heavy.sum()),
    }


def fit_ours(matrix_path: Path, out: Path, top_n: int, threads: int) -> float:
    """The cf pipeline's kernel over every product; returns seconds."""
    # imported in the child only: each process loads just the library it measures
    from recsys_kedro.recommend.similarity import (  # noqa: PLC0415
        cosine_topn,
        l2_normalise_rows,
    )

    user_items = sparse.load_npz(matrix_path).tocsr()
    start = time.perf_counter()
    items = l2_normalise_rows(user_items.T.tocsr())
    rows, cols, _ = cosine_topn(
        items, np.arange(items.shape[0]), top_n, 0.0, threads if threads > 1 else None
    )
    seconds = time.perf_counter() - start
    np.savez(out, rows=rows, cols=cols)
    return seconds


def fit_implicit(matrix_path: Path, out: Path, top_n: int, threads: int) -> float:
    """implicit's CosineRecommender on the same matrix; returns seconds."""
    from implicit.nearest_neighbours import CosineRecommender  # noqa: PLC0415

    user_items = sparse.load_npz(matrix_path).tocsr()
    start = time.perf_counter()
    model = CosineRecommender(K=top_n + 1, num_threads=threads)
    model.fit(user_items, show_progress=False)
    seconds = time.perf_counter() - start
    sim = model.similarity.tocoo()
    keep = sim.row != sim.col
    np.savez(out, rows=sim.row[keep], cols=sim.col[keep], scores=sim.data[keep])
    return seconds


def overlap(ours: Path, theirs: Path, top_n: int) -> float:
    """Mean share of our top-N per product that implicit's top-N also holds."""
    a, b = np.load(ours), np.load(theirs)
    # implicit keeps K incl. the product itself; keep its best top_n others per row
    order = np.lexsort((-b["scores"], b["rows"]))
    rows, cols = b["rows"][order], b["cols"][order]
    starts = np.r_[0, np.flatnonzero(np.diff(rows)) + 1]
    rank = np.arange(len(rows)) - np.repeat(starts, np.diff(np.r_[starts, len(rows)]))
    theirs_pairs = set(
        zip(rows[rank < top_n].tolist(), cols[rank < top_n].tolist(), strict=True)
    )
    ours_rows = a["rows"].tolist()
    hits: dict[int, int] = {}
    sizes: dict[int, int] = {}
    for r, c in zip(ours_rows, a["cols"].tolist(), strict=True):
        sizes[r] = sizes.get(r, 0) + 1
        hits[r] = hits.get(r, 0) + ((r, c) in theirs_pairs)
    return float(np.mean([hits[r] / sizes[r] for r in sizes])) if sizes else 0.0


def _timed(args: list[str]) -> tuple[dict, int]:
    result = subprocess.run(
        ["/usr/bin/time", "-v", str(BIN / "python"), __file__, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"failed: {args}")
    rss = int(
        re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(
            1
        )
    )
    return json.loads(result.stdout.strip().splitlines()[-1]), rss // 1024


def main() -> None:
    """Runs the stages and prints the comparison."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--products", type=int, default=54_000)
    parser.add_argument("--users", type=int, default=1_600_000)
    parser.add_argument("--top-n", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--raw", type=Path, default=None)
    parser.add_argument("--stage", choices=["ours", "implicit"], default=None)
    parser.add_argument("--matrix", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.stage:  # a child process: one fit, result as JSON on the last line
        fit = fit_ours if args.stage == "ours" else fit_implicit
        seconds = fit(args.matrix, args.out, args.top_n, args.threads)
        print(json.dumps({"seconds": seconds}))  # noqa: T201 - read by the parent
        return
    with tempfile.TemporaryDirectory(prefix="recsys-sim-") as tmp:
        raw = args.raw
        if raw is None:
            raw = Path(tmp) / "raw"
            subprocess.run(
                [str(BIN / "python"), "-m", "recsys_kedro.sample_data", "--out", str(raw),
                 "--events", str(args.events), "--products", str(args.products),
                 "--users", str(args.users), "--seed", str(args.seed)],
                check=True, cwd=ROOT, env={**os.environ},
            )  # fmt: skip
        matrix = Path(tmp) / "matrix.npz"
        shape = build_matrix(raw, matrix)
        print("matrix:", shape, flush=True)  # noqa: T201
        results = {}
        for stage in ("ours", "implicit"):
            secs, rss = [], []
            for _ in range(args.runs):
                out, peak = _timed(
                    ["--stage", stage, "--matrix", str(matrix), "--out",
                     str(Path(tmp) / f"{stage}.npz"), "--top-n", str(args.top_n),
                     "--threads", str(args.threads)]
                )  # fmt: skip
                secs.append(out["seconds"])
                rss.append(peak)
            results[stage] = (secs, rss)
        agree = overlap(Path(tmp) / "ours.npz", Path(tmp) / "implicit.npz", args.top_n)
    row = {
        "events": args.events,
        **shape,
        "top_n": args.top_n,
        "threads": args.threads,
        "runs": args.runs,
        "ours_median_s": round(statistics.median(results["ours"][0]), 1),
        "ours_median_peak_mib": int(statistics.median(results["ours"][1])),
        "implicit_median_s": round(statistics.median(results["implicit"][0]), 1),
        "implicit_median_peak_mib": int(statistics.median(results["implicit"][1])),
        "overlap": round(agree, 4),
        "ours_all_s": " ".join(f"{x:.2f}" for x in results["ours"][0]),
        "implicit_all_s": " ".join(f"{x:.2f}" for x in results["implicit"][0]),
    }
    print(row)  # noqa: T201
    out_csv = ROOT / "data" / "08_reporting" / "benchmarks_similarity.csv"
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    new = not out_csv.exists()
    with out_csv.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


if __name__ == "__main__":
    main()
