"""Nodes of the data_processing pipeline: validate, clean and quarantine the raw files.

Every raw row ends in exactly one place: the clean table (typed, snake_case) or the
``*_rejected`` table (raw string values, the raw line of a malformed row, the file it came
from and ``reject_reason``: the failed checks as codes joined by ``"; "``).
``build_data_quality_report`` counts both per file and per check and fails the run if
``rows_in != clean + rejected`` anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from recsys_kedro.datasets.raw_csv import CORRUPT_RECORD, SOURCE_FILE, RawCsvFiles
from recsys_kedro.pipelines.data_processing.params import (
    DataProcessingParams,
    EventsParams,
    ReviewsParams,
    TableParams,
)
from recsys_kedro.raw_schemas import MAPPING_COLUMNS
from recsys_kedro.spark_session import get_spark, persist_for_run

logger = logging.getLogger(__name__)

REASON = "reject_reason"
RAW_LINE = "raw_line"
_REASONS = "_reasons"
_T = "_typed_"  # prefix of parsed columns while a frame is being checked

# Canonical types of the review and product columns (string unless named here).
REVIEW_TYPES: dict[str, str] = {
    "source_index": "bigint",
    "rating": "rating",
    "is_recommended": "boolean",
    "helpfulness": "double",
    "total_feedback_count": "int",
    "total_neg_feedback_count": "int",
    "total_pos_feedback_count": "int",
    "submission_time": "date",
    "price_usd": "double",
}
PRODUCT_TYPES: dict[str, str] = {
    "brand_id": "bigint",
    "loves_count": "bigint",
    "rating": "double",
    "reviews": "double",
    "price_usd": "double",
    "value_price_usd": "double",
    "sale_price_usd": "double",
    "limited_edition": "boolean",
    "new": "boolean",
    "online_only": "boolean",
    "out_of_stock": "boolean",
    "sephora_exclusive": "boolean",
    "child_count": "int",
    "child_max_price": "double",
    "child_min_price": "double",
}


class HeaderMismatchError(ValueError):
    """A raw file's header does not carry the expected columns."""


# -- helpers -----------------------------------------------------------------------------


def parse_params(
    params: Mapping[str, Any] | DataProcessingParams,
) -> DataProcessingParams:
    """Validates ``params:data_processing`` into its typed form.

    Args:
        params: The raw parameter mapping (or an already parsed object).

    Returns:
        The typed parameters.
    """
    if isinstance(params, DataProcessingParams):
        return params
    return DataProcessingParams.model_validate(dict(params))


def _blank(column: Column) -> Column:
    return column.isNull() | (F.trim(column) == "")


def _parse(raw: Column, kind: str, fmt: str | None = None) -> Column:
    """Parses a raw string column; null where the text does not parse."""
    text = F.trim(raw)
    if kind == "timestamp":
        # "2019-10-01 00:00:48 UTC": the zone is honoured; a time without a zone is
        # read in the session time zone (UTC in conf/base/spark.yml).
        zoned = F.try_to_timestamp(text, F.lit(f"{fmt} z"))
        return F.coalesce(zoned, F.try_to_timestamp(text, F.lit(fmt)))
    if kind == "date":
        return F.to_date(F.try_to_timestamp(text, F.lit(fmt or "yyyy-MM-dd")))
    if kind == "boolean":
        lowered = F.lower(text)
        return (
            F.when(lowered.isin("1", "1.0", "true", "t", "yes"), F.lit(True))
            .when(lowered.isin("0", "0.0", "false", "f", "no"), F.lit(False))
            .otherwise(F.lit(None).cast("boolean"))
        )
    if kind == "rating":  # "5", "5.0": a whole number
        number = text.try_cast("double")
        return F.when(number == F.floor(number), number.cast("int"))
    if kind in ("int", "bigint"):  # "12" and "12.0" (pandas writes counts as floats)
        number = text.try_cast("double")
        return F.when(
            number == F.floor(number), text.try_cast("decimal(38,6)").cast(kind)
        )
    return text.try_cast(kind)


def _quarantine(
    frame: DataFrame,
    raw_columns: list[str],
    typed: dict[str, tuple[str, Column]],
    checks: list[tuple[str, Column]],
    duplicate_key: list[str] | None,
) -> tuple[DataFrame, DataFrame]:
    """Marks each row with the checks it fails and splits clean from rejected.

    Args:
        frame: Raw rows (strings, ``source_file``, ``_corrupt_record``).
        raw_columns: The raw columns kept in the rejected table.
        typed: Output column -> (raw column, parsed expression).
        checks: (reason code, condition that is true for a bad row); conditions may use
            the parsed values as ``F.col("_typed_<name>")``.
        duplicate_key: Columns whose identical values make a row an exact duplicate of
            an earlier valid row (``exact_duplicate``); ``None`` skips the check.

    Returns:
        The clean frame (typed columns and ``source_file``) and the rejected frame.
    """
    marked = frame
    for name, (_raw, expression) in typed.items():
        marked = marked.withColumn(f"{_T}{name}", expression)
    reasons = F.array_compact(
        F.array(*[F.when(condition, F.lit(code)) for code, condition in checks])
    )
    marked = marked.withColumn(
        _REASONS,
        F.when(
            F.col(CORRUPT_RECORD).isNotNull(), F.array(F.lit("wrong_field_count"))
        ).otherwise(reasons),
    )
    if duplicate_key:
        is_valid = F.size(_REASONS) == 0
        window = Window.partitionBy(is_valid, *duplicate_key).orderBy(SOURCE_FILE)
        marked = marked.withColumn(
            _REASONS,
            F.when(
                is_valid & (F.row_number().over(window) > 1),
                F.array(F.lit("exact_duplicate")),
            ).otherwise(F.col(_REASONS)),
        )
    # Both outputs come from this one frame: kept (memory, then disk) so the raw files
    # are parsed and shuffled once, not once per output; released when the run ends.
    marked = persist_for_run(marked)
    clean = marked.filter(F.size(_REASONS) == 0).select(
        *[F.col(f"{_T}{name}").alias(name) for name in typed], SOURCE_FILE
    )
    rejected = marked.filter(F.size(_REASONS) > 0).select(
        *[F.col(c).cast("string") for c in raw_columns],
        F.col(CORRUPT_RECORD).alias(RAW_LINE),
        SOURCE_FILE,
        F.concat_ws("; ", _REASONS).alias(REASON),
    )
    return clean, rejected


def _missing_and_unparseable(
    typed: dict[str, tuple[str, Column]], required: list[str]
) -> list[tuple[str, Column]]:
    checks: list[tuple[str, Column]] = []
    for name, (raw, _expr) in typed.items():
        if name in required:
            checks.append((f"missing_{name}", _blank(F.col(raw))))
        checks.append(
            (
                f"unparseable_{name}",
                ~_blank(F.col(raw)) & F.col(f"{_T}{name}").isNull(),
            )
        )
    return checks


def _check_exact_header(raw: RawCsvFiles, expected: list[str], source: str) -> None:
    problems = []
    for file_name, header in raw.headers.items():
        missing = [c for c in expected if c not in header]
        unexpected = [c for c in header if c not in expected]
        duplicated = sorted({c for c in header if header.count(c) > 1})
        if missing or unexpected or duplicated:
            problems.append(
                f"'{file_name}': missing {missing}, unexpected {unexpected}"
                + (f", duplicated {duplicated}" if duplicated else "")
            )
    if problems:
        raise HeaderMismatchError(
            f"{source} file header(s) in '{raw.path}' do not match the expected "
            f"columns {expected}: " + "; ".join(problems)
        )


def _mapped_frame(raw: RawCsvFiles, table: TableParams, source: str) -> DataFrame:
    """Renames source columns to canonical names and checks each file's header.

    Returns a frame with every canonical column (null where a file lacks an optional
    one), ``source_file`` and ``_corrupt_record``.
    """
    mapping = table.column_mapping
    problems = []
    for file_name, header in raw.headers.items():
        canonical = [mapping.get(c, c) for c in header]
        missing = [c for c in table.required if c not in canonical]
        duplicated = sorted({c for c in canonical if canonical.count(c) > 1})
        if missing or duplicated:
            hint = [c for c in header if c not in table.columns and c not in mapping]
            problems.append(
                f"'{file_name}': missing required {missing}"
                + (f", duplicated {duplicated}" if duplicated else "")
                + (f" (columns not in the mapping: {hint})" if hint else "")
            )
        ignored = [c for c in canonical if c not in table.columns]
        if ignored:
            logger.warning(
                "%s file '%s': columns %s are not part of the canonical table and are "
                "not kept (add them to column_mapping to keep them)",
                source,
                file_name,
                ignored,
            )
    if problems:
        raise HeaderMismatchError(
            f"{source} file header(s) in '{raw.path}' lack required columns "
            f"{table.required} (after column_mapping {mapping}): " + "; ".join(problems)
        )
    frame = raw.frame
    assert frame is not None  # noqa: S101 - headers exist, so the frame does
    present = set(frame.columns)
    columns = []
    for name in table.columns:
        sources = [
            s for s, target in mapping.items() if target == name and s in present
        ]
        if sources:
            columns.append(F.col(f"`{sources[0]}`").alias(name))
        elif name in present and name not in mapping:
            columns.append(F.col(f"`{name}`"))
        else:
            columns.append(F.lit(None).cast("string").alias(name))
    return frame.select(*columns, SOURCE_FILE, CORRUPT_RECORD)


# -- nodes -------------------------------------------------------------------------------


def clean_events(
    events_raw: RawCsvFiles, params: Mapping[str, Any]
) -> tuple[DataFrame, DataFrame]:
    """Validates, types and de-duplicates the event logs.

    Args:
        events_raw: The monthly event files.
        params: ``params:data_processing``.

    Returns:
        ``events_clean`` (typed events) and ``events_rejected`` (raw rows and reasons).

    Raises:
        HeaderMismatchError: A file's header is not the 9 expected columns.
    """
    cfg: EventsParams = parse_params(params).events
    _check_exact_header(events_raw, cfg.columns, "Events")
    frame = events_raw.frame
    col = F.col
    typed: dict[str, tuple[str, Column]] = {
        "event_time": (
            "event_time",
            _parse(col("event_time"), "timestamp", cfg.time_format),
        ),
        "event_type": ("event_type", F.trim(col("event_type"))),
        "product_id": ("product_id", _parse(col("product_id"), "bigint")),
        "category_id": ("category_id", _parse(col("category_id"), "bigint")),
        "category_code": ("category_code", F.trim(col("category_code"))),
        "brand": ("brand", F.trim(col("brand"))),
        "price": ("price", _parse(col("price"), "double")),
        "user_id": ("user_id", _parse(col("user_id"), "bigint")),
        "user_session": ("user_session", F.trim(col("user_session"))),
    }
    checks = _missing_and_unparseable(typed, cfg.required)
    checks += [
        (
            "unknown_event_type",
            ~_blank(col("event_type"))
            & ~F.trim(col("event_type")).isin(cfg.event_types),
        ),
        ("nonpositive_price", col(f"{_T}price") <= 0),
        (
            "event_time_out_of_range",
            (col(f"{_T}event_time") < F.lit(cfg.time_min))
            | (col(f"{_T}event_time") >= F.lit(cfg.time_max)),
        ),
    ]
    clean, rejected = _quarantine(frame, cfg.columns, typed, checks, cfg.columns)
    return clean, rejected


def clean_reviews(
    reviews_raw: RawCsvFiles, params: Mapping[str, Any]
) -> tuple[DataFrame, DataFrame]:
    """Validates and types the review files (Sephora's, or another export's through
    ``reviews.column_mapping``).

    Args:
        reviews_raw: The ``reviews_*.csv`` files.
        params: ``params:data_processing``.

    Returns:
        ``reviews_clean`` (with a stable ``review_id``) and ``reviews_rejected``.

    Raises:
        HeaderMismatchError: A file lacks a required column.
    """
    cfg: ReviewsParams = parse_params(params).reviews
    frame = _mapped_frame(reviews_raw, cfg, "Reviews")
    col = F.col
    typed: dict[str, tuple[str, Column]] = {}
    for name in cfg.columns:
        kind = REVIEW_TYPES.get(name)
        fmt = cfg.date_format if kind == "date" else None
        typed[name] = (
            name,
            _parse(col(name), kind, fmt) if kind else F.trim(col(name)),
        )
    checks = _missing_and_unparseable(typed, cfg.required)
    checks += [
        (
            "rating_out_of_range",
            (col(f"{_T}rating") < cfg.rating_min)
            | (col(f"{_T}rating") > cfg.rating_max),
        ),
        ("empty_review_text", _blank(col("review_text")))
        if "review_text" in typed
        else None,
    ]
    checks = [c for c in checks if c is not None]
    # "missing_review_text" and "empty_review_text" would say the same thing twice.
    checks = [c for c in checks if c[0] != "missing_review_text"]
    clean, rejected = _quarantine(frame, cfg.columns, typed, checks, cfg.columns)
    clean = clean.withColumn(
        "review_id",
        F.xxhash64(SOURCE_FILE, *[F.col(c) for c in cfg.columns]),
    ).select("review_id", *cfg.columns, SOURCE_FILE)
    return clean, rejected


def clean_products(
    products_raw: RawCsvFiles, params: Mapping[str, Any]
) -> tuple[DataFrame, DataFrame]:
    """Validates and types the review-side product catalogue (``product_info.csv``).

    Args:
        products_raw: The product file(s).
        params: ``params:data_processing``.

    Returns:
        ``products_clean`` (one row per ``product_id``) and ``products_rejected``.

    Raises:
        HeaderMismatchError: A file lacks a required column.
    """
    cfg = parse_params(params).products
    frame = _mapped_frame(products_raw, cfg, "Products")
    typed: dict[str, tuple[str, Column]] = {}
    for name in cfg.columns:
        kind = PRODUCT_TYPES.get(name)
        typed[name] = (name, _parse(F.col(name), kind) if kind else F.trim(F.col(name)))
    checks = _missing_and_unparseable(typed, cfg.required)
    clean, rejected = _quarantine(frame, cfg.columns, typed, checks, cfg.columns)
    # A second, different row for a product id already seen is quarantined too.
    window = Window.partitionBy("product_id").orderBy(SOURCE_FILE, *cfg.columns)
    ranked = clean.withColumn("_rank", F.row_number().over(window))
    repeated = ranked.filter(F.col("_rank") > 1).select(
        *[F.col(c).cast("string") for c in cfg.columns],
        F.lit(None).cast("string").alias(RAW_LINE),
        SOURCE_FILE,
        F.lit("duplicate_product_id").alias(REASON),
    )
    clean = ranked.filter(F.col("_rank") == 1).drop("_rank")
    return clean, rejected.unionByName(repeated)


MAPPING_SCHEMA = T.StructType(
    [
        T.StructField("product_id_events", T.LongType()),
        T.StructField("product_id_reviews", T.StringType()),
        T.StructField("in_events", T.BooleanType()),
        T.StructField("in_reviews", T.BooleanType()),
        T.StructField(SOURCE_FILE, T.StringType()),
    ]
)
MAPPING_REJECTED_SCHEMA = T.StructType(
    [
        T.StructField("product_id_events", T.StringType()),
        T.StructField("product_id_reviews", T.StringType()),
        T.StructField(RAW_LINE, T.StringType()),
        T.StructField(SOURCE_FILE, T.StringType()),
        T.StructField(REASON, T.StringType()),
    ]
)


def clean_product_mapping(
    mapping_raw: RawCsvFiles,
    events_clean: DataFrame,
    products_clean: DataFrame,
    reviews_clean: DataFrame,
) -> tuple[DataFrame, DataFrame]:
    """Validates the mapping between event product ids and review product ids.

    A pair whose ids exist on neither side is quarantined (``ids_on_neither_side``);
    a pair with one known side is kept, with ``in_events`` / ``in_reviews`` saying
    which. A missing mapping file gives an empty mapping (and a warning).

    Args:
        mapping_raw: ``product_mapping.csv`` (optional).
        events_clean: Clean events (their product ids).
        products_clean: Clean review-side products.
        reviews_clean: Clean reviews (their product ids).

    Returns:
        ``product_mapping_clean`` and ``product_mapping_rejected``.

    Raises:
        HeaderMismatchError: The header is not ``product_id_events,product_id_reviews``.
    """
    spark = get_spark()
    if mapping_raw.is_empty:
        logger.warning(
            "No product mapping at %s: the mapping is empty; feature_engineering can "
            "infer one.",
            mapping_raw.path,
        )
        return (
            spark.createDataFrame([], MAPPING_SCHEMA),
            spark.createDataFrame([], MAPPING_REJECTED_SCHEMA),
        )
    _check_exact_header(mapping_raw, MAPPING_COLUMNS, "Product mapping")
    typed: dict[str, tuple[str, Column]] = {
        "product_id_events": (
            "product_id_events",
            _parse(F.col("product_id_events"), "bigint"),
        ),
        "product_id_reviews": (
            "product_id_reviews",
            F.trim(F.col("product_id_reviews")),
        ),
    }
    event_ids = events_clean.select(F.col("product_id").alias("_e")).distinct()
    review_ids = (
        products_clean.select(F.col("product_id").alias("_r"))
        .unionByName(reviews_clean.select(F.col("product_id").alias("_r")))
        .distinct()
    )
    frame = (
        mapping_raw.frame.withColumn(
            "_e_id", _parse(F.col("product_id_events"), "bigint")
        )
        .join(
            event_ids.withColumn("_in_e", F.lit(True)),
            F.col("_e_id") == F.col("_e"),
            "left",
        )
        .join(
            review_ids.withColumn("_in_r", F.lit(True)),
            F.trim(F.col("product_id_reviews")) == F.col("_r"),
            "left",
        )
    )
    in_events = F.coalesce(F.col("_in_e"), F.lit(False))
    in_reviews = F.coalesce(F.col("_in_r"), F.lit(False))
    typed["in_events"] = ("product_id_events", in_events)
    typed["in_reviews"] = ("product_id_reviews", in_reviews)
    checks = _missing_and_unparseable(
        {k: v for k, v in typed.items() if k in MAPPING_COLUMNS}, MAPPING_COLUMNS
    )
    checks.append(("ids_on_neither_side", ~in_events & ~in_reviews))
    return _quarantine(frame, MAPPING_COLUMNS, typed, checks, MAPPING_COLUMNS)


def _counts(frame: DataFrame, *by: str) -> list[tuple]:
    """A small aggregate (one row per file, or per file and check) to the driver."""
    return [tuple(row) for row in frame.groupBy(*by).count().collect()]


def _table_report(
    raw: RawCsvFiles, clean: DataFrame, rejected: DataFrame
) -> dict[str, Any]:
    rows_in = dict(_counts(raw.frame, SOURCE_FILE)) if not raw.is_empty else {}
    clean_by_file = dict(_counts(clean, SOURCE_FILE))
    reasons = rejected.select(
        SOURCE_FILE, F.explode(F.split(F.col(REASON), "; ")).alias("check")
    )
    rejected_by_file = dict(_counts(rejected, SOURCE_FILE))
    checks_by_file: dict[str, dict[str, int]] = {}
    for file_name, check, count in _counts(reasons, SOURCE_FILE, "check"):
        checks_by_file.setdefault(file_name, {})[check] = count
    by_file = {}
    for file_name in sorted(set(rows_in) | set(clean_by_file) | set(rejected_by_file)):
        n_in = rows_in.get(file_name, 0)
        n_clean = clean_by_file.get(file_name, 0)
        n_rejected = rejected_by_file.get(file_name, 0)
        by_file[file_name] = {
            "rows_in": n_in,
            "clean": n_clean,
            "rejected": n_rejected,
            "balanced": n_in == n_clean + n_rejected,
            "rejected_by_check": dict(
                sorted(checks_by_file.get(file_name, {}).items())
            ),
        }
    by_check: dict[str, int] = {}
    for per_file in checks_by_file.values():
        for check, count in per_file.items():
            by_check[check] = by_check.get(check, 0) + count
    total_in = sum(rows_in.values())
    total_clean = sum(clean_by_file.values())
    total_rejected = sum(rejected_by_file.values())
    return {
        "source": raw.path,
        "files": len(raw.headers),
        "rows_in": total_in,
        "clean": total_clean,
        "rejected": total_rejected,
        "balanced": all(f["balanced"] for f in by_file.values()),
        "rejected_by_check": dict(sorted(by_check.items())),
        "by_file": by_file,
    }


def build_data_quality_report(
    events_raw: RawCsvFiles,
    events_clean: DataFrame,
    events_rejected: DataFrame,
    reviews_raw: RawCsvFiles,
    reviews_clean: DataFrame,
    reviews_rejected: DataFrame,
    products_raw: RawCsvFiles,
    products_clean: DataFrame,
    products_rejected: DataFrame,
    mapping_raw: RawCsvFiles,
    mapping_clean: DataFrame,
    mapping_rejected: DataFrame,
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """Counts every raw row into clean or rejected, per table, file and check.

    Args:
        events_raw: Raw event files; the other ``*_raw`` likewise.
        events_clean: The written clean table; the other ``*_clean`` likewise.
        events_rejected: The written rejected table; the other ``*_rejected`` likewise.
        reviews_raw: Raw review files.
        reviews_clean: Clean reviews.
        reviews_rejected: Rejected reviews.
        products_raw: Raw product file(s).
        products_clean: Clean products.
        products_rejected: Rejected products.
        mapping_raw: Raw mapping file (may be absent).
        mapping_clean: Clean mapping.
        mapping_rejected: Rejected mapping rows.

    Returns:
        The report (JSON) and the same counts as MLflow metrics.

    Raises:
        RuntimeError: Some file's rows_in differs from clean + rejected.
    """
    tables = {
        "events": _table_report(events_raw, events_clean, events_rejected),
        "reviews": _table_report(reviews_raw, reviews_clean, reviews_rejected),
        "products": _table_report(products_raw, products_clean, products_rejected),
        "product_mapping": _table_report(mapping_raw, mapping_clean, mapping_rejected),
    }
    unbalanced = [
        f"{table}/{file_name}: {f['rows_in']} in, {f['clean']} clean, "
        f"{f['rejected']} rejected"
        for table, report in tables.items()
        for file_name, f in report["by_file"].items()
        if not f["balanced"]
    ]
    if unbalanced:
        raise RuntimeError(
            "Rows were lost between raw and clean/rejected: " + "; ".join(unbalanced)
        )
    metrics: dict[str, dict[str, float]] = {}
    for table, report in tables.items():
        for key in ("rows_in", "clean", "rejected"):
            metrics[f"{table}_{key}"] = {"value": float(report[key]), "step": 0}
        for check, count in report["rejected_by_check"].items():
            metrics[f"{table}_rejected_{check}"] = {"value": float(count), "step": 0}
        logger.info(
            "%s: %d rows in, %d clean, %d rejected %s",
            table,
            report["rows_in"],
            report["clean"],
            report["rejected"],
            report["rejected_by_check"],
        )
    return {"tables": tables}, metrics
