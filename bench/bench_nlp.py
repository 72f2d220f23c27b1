"""Throughput of the nlp pipeline's text work, in one process and through Spark.

    python bench/bench_nlp.py --reviews ../shared/data/sephora_sample --runs 3
    python bench/bench_nlp.py --reviews data/01_raw/reviews --runs 3
    python bench/bench_nlp.py --reviews ../shared/data/sephora_sample --engines torch,onnx

``--engines`` times the embedding engines alone, in this process with 2 threads, on the
same ``--embed-texts`` texts with the shipped batch size and token limit (batches of
similar length), and ends with ``texts/s torch=<x> onnx=<y> mean_cosine=<c>`` (the mean
cosine of each text's onnx vector to its torch vector). The ONNX export happens before
timing (and is cached on disk).

Texts are the ``review_text`` of the ``reviews_*.csv`` files in ``--reviews`` (the real
Sephora rows, or the generated sample), cycled up to ``--texts`` (20,000) for the
annotation and ``--embed-texts`` (2,000) for the embeddings. Models are loaded and
warmed up before timing; each figure is the median of ``--runs``.

* ``annotate``: HTML/URL cleaning, special characters, spaCy tokens and lookup lemmas,
  Snowball stems, VADER (the shipped ``parameters_nlp.yml``). In this process (1 core),
  and as the ``annotate_reviews`` node on Spark local[2].
* ``embed``: all-MiniLM-L6-v2 (``transformers``, mean pooling, L2), batch 64, max 256
  tokens. In this process with 2 torch threads, batches in arrival order and batches of
  similar length; and through Spark local[2] (two tasks of 1 thread each), the
  pipeline's ``mapInPandas`` path.

Results are appended to data/08_reporting/benchmarks_nlp.csv.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pandas as pd
import yaml

from recsys_kedro import spark_session
from recsys_kedro.pipelines.nlp import models, nodes
from recsys_kedro.pipelines.nlp.embeddings import Embedder
from recsys_kedro.pipelines.nlp.params import NlpParams
from recsys_kedro.pipelines.nlp.text import normalise_text, strip_special

ROOT = Path(__file__).resolve().parents[1]


def load_texts(folder: Path, n: int) -> list[str]:
    """``review_text`` of the folder's review files, cycled to ``n`` texts."""
    files = sorted(folder.glob("reviews_*.csv"))
    if not files:
        sys.exit(f"no reviews_*.csv in {folder}")
    texts = pd.concat([pd.read_csv(f, usecols=["review_text"]) for f in files])[
        "review_text"
    ].fillna("")
    texts = texts.astype(str).tolist()
    return [texts[i % len(texts)] for i in range(n)]


def timed(fn, runs: int) -> tuple[float, list[float]]:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), seconds


def print_ceiling(path: str, texts: list[str], max_length: int) -> None:
    """The fp32 ceiling of any engine here: this machine's measured matrix-multiply
    rate (numpy, 2 threads, 2048^2) over the multiply-adds of the encoder's dense layers
    for the texts' mean token count (attention, norms and activations not counted, so
    the true ceiling is lower)."""
    import numpy as np  # noqa: PLC0415
    from threadpoolctl import threadpool_limits  # noqa: PLC0415
    from transformers import AutoConfig, AutoTokenizer  # noqa: PLC0415

    config = AutoConfig.from_pretrained(path, local_files_only=True)
    tokens = AutoTokenizer.from_pretrained(path, local_files_only=True)(
        texts, truncation=True, max_length=max_length
    )["input_ids"]
    mean_tokens = sum(map(len, tokens)) / len(tokens)
    h, i = config.hidden_size, config.intermediate_size
    flops = 2 * config.num_hidden_layers * (4 * h * h + 2 * h * i) * mean_tokens
    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    with threadpool_limits(2):
        a @ a
        start = time.perf_counter()
        for _ in range(5):
            a @ a
        rate = 5 * 2 * 2048**3 / (time.perf_counter() - start)
    print(  # noqa: T201
        f"ceiling fp32: {mean_tokens:.1f} tokens per text, {flops / 1e9:.2f} GFLOP "
        f"per text in dense layers, matmul {rate / 1e9:.0f} GFLOP/s on 2 threads: "
        f"at most {rate / flops:.0f} texts/s"
    )


def compare_engines(engines, texts, cfg, runs, record) -> None:
    """Times each engine on the same texts; prints the comparison line last."""
    path = str(models.resolve_hf_model(cfg.embeddings.model, "embedding")[0])
    vectors, speed = {}, {}
    for engine in engines:
        model = Embedder(
            path,
            cfg.embeddings.batch_size,
            cfg.embeddings.max_length,
            2,
            True,
            engine,
            cfg.embeddings.onnx_cache,
        )
        model.embed(texts[:64])

        def embed(model=model, engine=engine) -> None:
            vectors[engine] = model.embed(texts)  # the timed runs' vectors, kept

        median, all_ = timed(embed, runs)
        where = f"{engine}, one process, 2 threads, batch {cfg.embeddings.batch_size}"
        record("embed", where, len(texts), median, all_)
        speed[engine] = len(texts) / median
    print_ceiling(path, texts, cfg.embeddings.max_length)
    line = " ".join(f"{engine}={speed[engine]:.1f}" for engine in engines)
    if len(engines) > 1:
        first, second = (vectors[e] for e in engines[:2])
        line += f" mean_cosine={float((first * second).sum(axis=1).mean()):.5f}"
    print(f"texts/s {line}")  # noqa: T201


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reviews", type=Path, required=True)
    parser.add_argument("--texts", type=int, default=20_000)
    parser.add_argument("--embed-texts", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["process", "spark"], default=None)
    parser.add_argument(
        "--engines", default=None, help="e.g. torch,onnx: compare embedding engines"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="instead of the shipped one"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

    raw = yaml.safe_load((ROOT / "conf/base/parameters_nlp.yml").read_text())["nlp"]
    if args.batch_size:
        raw["embeddings"]["batch_size"] = args.batch_size
    cfg = NlpParams.model_validate(raw)
    texts = load_texts(args.reviews, args.texts)
    series = pd.Series(texts)
    short = texts[: args.embed_texts]
    results: list[dict] = []

    def record(step: str, where: str, n: int, median: float, all_: list[float]):
        results.append(
            {
                "step": step,
                "where": where,
                "texts": n,
                "median_s": round(median, 2),
                "per_second": round(n / median, 1),
                "runs_s": " ".join(f"{s:.2f}" for s in all_),
            }
        )
        print(f"{step:<10} {where:<34} {n / median:>9.1f}/s  ({median:.2f} s)")  # noqa: T201

    if args.engines:
        compare_engines(args.engines.split(","), short, cfg, args.runs, record)
        args.only = "engines"

    if args.only in (None, "process"):
        processor = models.text_processor(
            cfg.lemmatizer.model,
            tuple(cfg.text.keep_stop_words),
            cfg.text.max_chars,
            cfg.stemmer.language,
        )
        vader = models.sentiment_scorer("vader", 32, 512, 1)

        def annotate() -> None:
            text = normalise_text(series)
            processor.process(strip_special(text))
            vader.score(text.tolist())

        record(
            "annotate", "one process, 1 core", len(texts), *timed(annotate, args.runs)
        )
        path = str(models.resolve_hf_model(cfg.embeddings.model, "embedding")[0])
        for sort in (False, True):
            model = Embedder(path, 64, cfg.embeddings.max_length, 2, sort)
            model.embed(short[:64])
            where = f"one process, 2 threads, {'sorted' if sort else 'arrival order'}"
            record(
                "embed",
                where,
                len(short),
                *timed(partial(model.embed, short), args.runs),
            )

    if args.only in (None, "spark"):
        spark_session.configure(
            {
                **yaml.safe_load((ROOT / "conf/base/spark.yml").read_text()),
                "spark.master": "local[2]",
            }
        )
        spark = spark_session.get_spark()
        reviews = spark.createDataFrame(
            pd.DataFrame(
                {
                    "review_id": range(len(texts)),
                    "product_id": "P1",
                    "rating": 5,
                    "is_recommended": True,
                    "helpfulness": 1.0,
                    "total_pos_feedback_count": 1,
                    "review_text": texts,
                }
            )
        ).persist()
        reviews.count()
        products = spark.createDataFrame([("P1",)], "product_id string")

        def noop(frame) -> None:
            frame.write.format("noop").mode("overwrite").save()

        annotated = nodes.annotate_reviews(reviews, products, cfg, {})
        noop(annotated)  # workers start and load their models
        record(
            "annotate",
            "Spark local[2]",
            len(texts),
            *timed(lambda: noop(annotated), args.runs),
        )
        frame = spark.createDataFrame(
            pd.DataFrame({"key": [str(i) for i in range(len(short))], "text": short})
        ).persist()
        frame.count()
        embedded = frame.repartition(2).mapInPandas(
            partial(nodes._embed_batches, params=cfg, model_id="bench"),
            schema=nodes.CACHE_SCHEMA,
        )
        warm = (
            frame.limit(256)
            .repartition(2)
            .mapInPandas(
                partial(nodes._embed_batches, params=cfg, model_id="bench"),
                schema=nodes.CACHE_SCHEMA,
            )
        )
        noop(warm)  # both workers load the model
        record(
            "embed",
            "Spark local[2], 2 x 1 thread",
            len(short),
            *timed(lambda: noop(embedded), args.runs),
        )

    out = ROOT / "data/08_reporting/benchmarks_nlp.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    new = not out.exists()
    with out.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["when", "reviews", *results[0].keys()])
        if new:
            writer.writeheader()
        when = datetime.now(UTC).isoformat(timespec="seconds")
        for row in results:
            writer.writerow({"when": when, "reviews": str(args.reviews), **row})


if __name__ == "__main__":
    main()
