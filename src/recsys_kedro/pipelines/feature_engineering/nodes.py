"""Nodes of the feature_engineering pipeline.

Everything is a Spark aggregation or join; only one-row aggregates (the end of the data,
coverage counts, the scaler's statistics) reach the driver.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from recsys_kedro.pipelines.feature_engineering.params import FeatureEngineeringParams
from recsys_kedro.recommend.levels import EngagementLevels
from recsys_kedro.spark_session import persist_for_run
from recsys_kedro.tracking import mlflow_metrics

logger = logging.getLogger(__name__)

USER_NUMERIC = (
    "recency_days",
    "sessions",
    "events",
    "active_days",
    "purchases",
    "monetary",
)
PRODUCT_NUMERIC = (
    "views",
    "carts",
    "removals",
    "purchases",
    "unique_users",
    "unique_sessions",
    "price_mean",
)


def _count_of(event_type: str) -> Column:
    return F.sum((F.col("event_type") == event_type).cast("long"))


def _most_frequent(frame: DataFrame, key: str, column: str, alias: str) -> DataFrame:
    """Per ``key``, the non-null ``column`` value with the most rows (ties: smallest)."""
    counts = (
        frame.filter(F.col(column).isNotNull() & (F.col(column).cast("string") != ""))
        .groupBy(key, column)
        .count()
    )
    order = Window.partitionBy(key).orderBy(F.col("count").desc(), F.col(column))
    return (
        counts.withColumn("_rank", F.row_number().over(order))
        .filter(F.col("_rank") == 1)
        .select(key, F.col(column).alias(alias))
    )


def engagement_levels(events_clean: DataFrame, levels: EngagementLevels) -> DataFrame:
    """Adds each event's engagement level: 0 view, 1 cart, 2 remove_from_cart
    (disengagement), 3 purchase (``engagement_levels`` parameter).

    Args:
        events_clean: Clean events.
        levels: ``params:engagement_levels``.

    Returns:
        ``events_engagement``.
    """
    pairs = [x for k, v in levels.root.items() for x in (F.lit(k), F.lit(v))]
    return events_clean.withColumn(
        "engagement_level", F.create_map(*pairs)[F.col("event_type")].cast("int")
    )


def session_features(events_engagement: DataFrame) -> DataFrame:
    """Per session: length, duration, distinct products, categories and brands (session
    diversity), highest engagement reached, purchases.

    Args:
        events_engagement: Events with their engagement level.

    Returns:
        ``session_features``.
    """
    brand = F.when(F.col("brand") != "", F.col("brand"))
    return events_engagement.groupBy("user_session", "user_id").agg(
        F.count(F.lit(1)).alias("events"),
        F.min("event_time").alias("session_start"),
        F.max("event_time").alias("session_end"),
        (F.max("event_time").cast("double") - F.min("event_time").cast("double")).alias(
            "duration_seconds"
        ),
        F.countDistinct("product_id").alias("distinct_products"),
        F.countDistinct("category_id").alias("distinct_categories"),
        F.countDistinct(brand).alias("distinct_brands"),
        F.max("engagement_level").alias("max_engagement"),
        _count_of("purchase").alias("purchases"),
    )


def user_features(events_engagement: DataFrame) -> DataFrame:
    """Per user: recency (days from the user's last event to the last event in the
    data, never to today's date), frequency (sessions, events, active days), monetary
    (purchase value) and favourite brand and category (most events; ties: smallest).

    Args:
        events_engagement: Events with their engagement level.

    Returns:
        ``user_features``.
    """
    end = events_engagement.agg(F.max("event_time").cast("double")).first()[0]
    if end is None:
        raise ValueError("events_engagement is empty: no user features to compute")
    purchase = F.col("event_type") == "purchase"
    per_user = events_engagement.groupBy("user_id").agg(
        F.max("event_time").alias("last_event"),
        F.countDistinct("user_session").alias("sessions"),
        F.count(F.lit(1)).alias("events"),
        F.countDistinct(F.to_date("event_time")).alias("active_days"),
        F.sum(purchase.cast("long")).alias("purchases"),
        F.coalesce(F.sum(F.when(purchase, F.col("price"))), F.lit(0.0)).alias(
            "monetary"
        ),
    )
    per_user = per_user.withColumn(
        "recency_days", (F.lit(end) - F.col("last_event").cast("double")) / 86_400.0
    )
    brands = _most_frequent(events_engagement, "user_id", "brand", "favourite_brand")
    categories = _most_frequent(
        events_engagement, "user_id", "category_id", "favourite_category_id"
    )
    return (
        per_user.join(brands, "user_id", "left")
        .join(categories, "user_id", "left")
        .select(
            "user_id",
            *USER_NUMERIC,
            "last_event",
            "favourite_brand",
            "favourite_category_id",
        )
    )


def product_event_features(events_engagement: DataFrame) -> DataFrame:
    """Per event-side product: views, carts, removals, purchases, unique users and
    sessions, view→cart and cart→purchase conversion, price statistics, brand and
    category (most frequent).

    Args:
        events_engagement: Events with their engagement level.

    Returns:
        The products' event features.
    """
    per_product = events_engagement.groupBy("product_id").agg(
        _count_of("view").alias("views"),
        _count_of("cart").alias("carts"),
        _count_of("remove_from_cart").alias("removals"),
        _count_of("purchase").alias("purchases"),
        F.countDistinct("user_id").alias("unique_users"),
        F.countDistinct("user_session").alias("unique_sessions"),
        F.min("price").alias("price_min"),
        F.avg("price").alias("price_mean"),
        F.max("price").alias("price_max"),
        F.stddev_pop("price").alias("price_std"),
    )
    per_product = per_product.withColumn(
        "view_to_cart", F.when(F.col("views") > 0, F.col("carts") / F.col("views"))
    ).withColumn(
        "cart_to_purchase",
        F.when(F.col("carts") > 0, F.col("purchases") / F.col("carts")),
    )
    brands = _most_frequent(events_engagement, "product_id", "brand", "brand")
    categories = _most_frequent(
        events_engagement, "product_id", "category_id", "category_id"
    )
    codes = _most_frequent(
        events_engagement, "product_id", "category_code", "category_code"
    )
    return (
        per_product.join(brands, "product_id", "left")
        .join(categories, "product_id", "left")
        .join(codes, "product_id", "left")
    )


def _norm_brand(column: Column) -> Column:
    return F.lower(F.regexp_replace(column, r"[^0-9A-Za-z]", ""))


def infer_product_mapping(
    product_event_features: DataFrame,
    products_clean: DataFrame,
    params: FeatureEngineeringParams,
) -> DataFrame:
    """Matches event products to review products by normalised brand, price closeness
    and (with ``category_pairs``) category.

    Candidates share a normalised brand (lower case, letters and digits only), which
    also keeps the comparison linear in the catalogue rather than event x review
    products. Score = ``brand_weight`` + ``price_weight`` x price score (1 at equal
    prices, 0 at ``price_tolerance`` relative difference, on the log scale) +
    ``category_weight`` x category match. Pairs at or above ``threshold`` are kept when
    each side is the other's best (ties: closer price, then smaller id), so the mapping
    is one-to-one.

    Args:
        product_event_features: Event-side products (brand, mean price, category).
        products_clean: Review-side products.
        params: ``params:feature_engineering``.

    Returns:
        ``product_mapping_inferred``: ``product_id_events, product_id_reviews,
        match_score, price_events, price_reviews, brand``.
    """
    cfg = params.matcher
    events = product_event_features.filter(
        F.col("brand").isNotNull() & (F.col("price_mean") > 0)
    ).select(
        F.col("product_id").alias("product_id_events"),
        _norm_brand(F.col("brand")).alias("_brand"),
        F.col("price_mean").alias("price_events"),
        F.col("category_code"),
    )
    reviews = products_clean.filter(
        F.col("brand_name").isNotNull() & (F.col("price_usd") > 0)
    ).select(
        F.col("product_id").alias("product_id_reviews"),
        _norm_brand(F.col("brand_name")).alias("_brand"),
        F.col("price_usd").alias("price_reviews"),
        F.col("primary_category"),
    )
    pairs = events.filter(F.col("_brand") != "").join(reviews, "_brand")
    distance = F.abs(F.log(F.col("price_events") / F.col("price_reviews")))
    price_score = F.greatest(
        F.lit(0.0), 1.0 - distance / F.lit(math.log1p(cfg.price_tolerance))
    )
    score = F.lit(cfg.brand_weight) + F.lit(cfg.price_weight) * price_score
    if cfg.category_weight > 0:
        category = F.lit(None).cast("string")
        # Longest prefix first wins: applied last, it overrides shorter ones.
        for prefix, primary in sorted(
            cfg.category_pairs.items(), key=lambda kv: len(kv[0])
        ):
            category = F.when(
                F.col("category_code").startswith(prefix), F.lit(primary)
            ).otherwise(category)
        score = score + F.lit(cfg.category_weight) * (
            category == F.col("primary_category")
        ).cast("double")
    scored = (
        pairs.withColumn("match_score", score)
        .withColumn("_distance", distance)
        .filter(F.col("match_score") >= cfg.threshold)
    )
    by_event = Window.partitionBy("product_id_events").orderBy(
        F.col("match_score").desc(), "_distance", "product_id_reviews"
    )
    by_review = Window.partitionBy("product_id_reviews").orderBy(
        F.col("match_score").desc(), "_distance", "product_id_events"
    )
    best = (
        scored.withColumn("_e", F.row_number().over(by_event))
        .withColumn("_r", F.row_number().over(by_review))
        .filter((F.col("_e") == 1) & (F.col("_r") == 1))
    )
    return best.select(
        "product_id_events",
        "product_id_reviews",
        "match_score",
        "price_events",
        "price_reviews",
        F.col("_brand").alias("brand"),
    )


def resolve_product_mapping(
    product_mapping_clean: DataFrame, product_mapping_inferred: DataFrame
) -> DataFrame:
    """The given mapping when the raw folder has one, else the inferred one.

    Args:
        product_mapping_clean: The mapping file's clean rows (empty without a file).
        product_mapping_inferred: The matcher's pairs.

    Returns:
        ``product_id_events, product_id_reviews, mapping_source``; an event product
        with several review products keeps the smallest review id (counted in the log).
    """
    given = product_mapping_clean.select("product_id_events", "product_id_reviews")
    if given.limit(1).count():
        chosen, source = given, "file"
    else:
        logger.info("No product mapping file: using the inferred mapping")
        chosen = product_mapping_inferred.select(
            "product_id_events", "product_id_reviews"
        )
        source = "inferred"
    first = chosen.groupBy("product_id_events").agg(
        F.min("product_id_reviews").alias("product_id_reviews"),
        F.count(F.lit(1)).alias("_n"),
    )
    return first.select(
        "product_id_events",
        "product_id_reviews",
        F.lit(source).alias("mapping_source"),
        (F.col("_n") - 1).alias("other_review_ids"),
    )


def product_features(
    product_event_features: DataFrame,
    product_mapping: DataFrame,
    product_sentiment: DataFrame,
    product_text_embeddings: DataFrame,
) -> DataFrame:
    """Event features joined through the mapping to the review side: sentiment
    aggregates, mean rating and the text embedding (of the reviews, else of the name and
    description).

    Args:
        product_event_features: Event-side product features.
        product_mapping: :func:`resolve_product_mapping`'s output.
        product_sentiment: nlp's per-product sentiment.
        product_text_embeddings: nlp's per-product embeddings.

    Returns:
        ``product_features``.
    """
    sentiment = product_sentiment.select(
        F.col("product_id").alias("product_id_reviews"),
        "review_count",
        "mean_rating",
        "mean_compound",
        "share_positive",
        "share_recommended",
    )
    text = product_text_embeddings.select(
        F.col("product_id").alias("product_id_reviews"),
        F.coalesce("review_embedding", "description_embedding").alias("text_embedding"),
    )
    mapping = product_mapping.select(
        F.col("product_id_events").alias("product_id"), "product_id_reviews"
    )
    # Persisted: the mapping-quality and the scaling nodes both read it.
    return persist_for_run(
        product_event_features.join(mapping, "product_id", "left")
        .join(sentiment, "product_id_reviews", "left")
        .join(text, "product_id_reviews", "left")
    )


def mapping_quality(
    product_mapping_inferred: DataFrame,
    product_mapping_clean: DataFrame,
    product_features: DataFrame,
) -> dict[str, dict[str, float]]:
    """Coverage of the review features, and the matcher against the mapping file when
    there is one (precision: of the inferred pairs for event products the file covers,
    the share the file has; recall: of the file's pairs, the share inferred).

    Args:
        product_mapping_inferred: The matcher's pairs.
        product_mapping_clean: The mapping file's rows (may be empty).
        product_features: The joined product features.

    Returns:
        ``feature_engineering_metrics`` (MLflow).
    """
    row = product_features.agg(
        F.count(F.lit(1)).alias("products"),
        F.count("product_id_reviews").alias("mapped"),
        F.count("review_count").alias("with_sentiment"),
        F.count("text_embedding").alias("with_text_embedding"),
    ).first()
    products = max(int(row["products"]), 1)
    metrics = {
        "products": float(row["products"]),
        "products_mapped_share": row["mapped"] / products,
        "products_with_sentiment_share": row["with_sentiment"] / products,
        "products_with_text_embedding_share": row["with_text_embedding"] / products,
    }
    given = product_mapping_clean.select("product_id_events", "product_id_reviews")
    inferred = product_mapping_inferred.select(
        "product_id_events", "product_id_reviews"
    )
    n_given, n_inferred = given.count(), inferred.count()
    metrics["mapping_inferred_pairs"] = float(n_inferred)
    if n_given:
        # The file may hold only part of the true mapping: precision is measured on the
        # event products it covers.
        covered = inferred.join(
            given.select("product_id_events").distinct(), "product_id_events"
        ).count()
        correct = inferred.join(
            given, ["product_id_events", "product_id_reviews"]
        ).count()
        metrics["mapping_precision"] = correct / covered if covered else 0.0
        metrics["mapping_recall"] = correct / n_given
    logger.info("feature_engineering: %s", metrics)
    return mlflow_metrics(metrics)


def fit_scaler(
    user_features: DataFrame,
    product_event_features: DataFrame,
    params: FeatureEngineeringParams,
) -> dict[str, Any]:
    """Scaling statistics of the numeric features, from the training period's features
    only (the caller passes features computed on events before the cut-off).

    Args:
        user_features: Training-period user features.
        product_event_features: Training-period product features.
        params: ``params:feature_engineering``.

    Returns:
        ``feature_scaler``: method and, per table and column, the centre and scale
        (standard: mean and population standard deviation; minmax: min and range; a
        zero scale is stored as 1).
    """
    method = params.scaling
    out: dict[str, Any] = {"method": method, "tables": {}}
    for table, frame, columns in (
        ("user_features", user_features, USER_NUMERIC),
        ("product_features", product_event_features, PRODUCT_NUMERIC),
    ):
        aggs = []
        for c in columns:
            value = F.col(c).cast("double")
            if method == "standard":
                aggs += [
                    F.avg(value).alias(f"{c}__c"),
                    F.stddev_pop(value).alias(f"{c}__s"),
                ]
            else:
                aggs += [
                    F.min(value).alias(f"{c}__c"),
                    (F.max(value) - F.min(value)).alias(f"{c}__s"),
                ]
        row = frame.agg(*aggs).first()
        out["tables"][table] = {
            c: {
                "centre": float(row[f"{c}__c"] or 0.0),
                "scale": float(row[f"{c}__s"] or 0.0) or 1.0,
            }
            for c in columns
        }
    return out


def apply_scaler(
    features: DataFrame, feature_scaler: dict[str, Any], table: str
) -> DataFrame:
    """Adds ``<column>_scaled`` = (value − centre) / scale for the scaled columns.

    Args:
        features: A feature table.
        feature_scaler: :func:`fit_scaler`'s output.
        table: Which table's statistics to use.

    Returns:
        The table with the scaled columns.
    """
    stats = feature_scaler["tables"][table]
    return features.select(
        "*",
        *[
            ((F.col(c).cast("double") - s["centre"]) / s["scale"]).alias(f"{c}_scaled")
            for c, s in stats.items()
        ],
    )


def _as_of(features: DataFrame, split: dict[str, Any]) -> DataFrame:
    return features.withColumn("as_of", F.to_timestamp(F.lit(split["cutoff"])))


def scale_user_features(
    user_features: DataFrame, feature_scaler: dict[str, Any], split: dict[str, Any]
) -> DataFrame:
    """``user_features`` as of the cut-off: the training period's user features with
    scaled columns (see :func:`apply_scaler`) and ``as_of`` (the cut-off).

    Args:
        user_features: User features computed on the events before the cut-off.
        feature_scaler: :func:`fit_scaler`'s output (fitted on the same features).
        split: The split's description (``cutoff``).

    Returns:
        ``user_features``.
    """
    return _as_of(apply_scaler(user_features, feature_scaler, "user_features"), split)


def scale_product_features(
    product_features: DataFrame, feature_scaler: dict[str, Any], split: dict[str, Any]
) -> DataFrame:
    """``product_features`` as of the cut-off: the training period's product features
    with scaled columns (see :func:`apply_scaler`) and ``as_of`` (the cut-off).

    Args:
        product_features: Product features computed on the events before the cut-off.
        feature_scaler: :func:`fit_scaler`'s output (fitted on the same features).
        split: The split's description (``cutoff``).

    Returns:
        ``product_features``.
    """
    return _as_of(
        apply_scaler(product_features, feature_scaler, "product_features"), split
    )
