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
from recsys_kedro.tracking import mlflow_metrics

logger = logging.getLogger(__name__)

REASON = "reject_reason"
RAW_LINE = "raw_line"
# In the clean tables when params invalid_text is "keep": the row held undecodable bytes
# or control characters.
INVALID_TEXT = "invalid_text"
# What Spark's UTF-8 decoder puts in place of bytes it cannot decode.
REPLACEMENT_CHARACTER = "\ufffd"
# C0 controls and DEL, except tab, line feed and carriage return (quoted line breaks).
CONTROL_CHARACTERS = "[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F]"
TIME_ZONE_RULE = (
    "event times with a zone (' UTC', ' +01:00', ISO 8601 'Z' or '+01:00') are "
    "converted to UTC; times without a zone are taken as UTC"
)
_ISO_ZONED = ("yyyy-MM-dd HH:mm:ss[.SSSSSSSSS]XXX", "yyyy-MM-dd HH:mm:ss[.SSSSSSSSS]XX")
_ISO_UTC = "yyyy-MM-dd HH:mm:ss[.SSSSSSSSS] z"
_NUMERIC = ("double", "int", "bigint", "rating")
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


def _blank(column: Column) -> Column:
    return column.isNull() | (F.trim(column) == "")


def event_time(raw: Column, fmt: str) -> tuple[Column, Column]:
    """Parses event times in the unambiguous common forms (see ``TIME_ZONE_RULE``).

    Accepted: ``fmt`` followed by a zone (the dataset's ``2019-10-01 00:00:48 UTC``,
    ``... +01:00``), ISO 8601 with ``Z`` or an offset (``2019-12-01T00:00:00Z``,
    ``...T01:00:00.5+01:00``), and either form without a zone, which is read as UTC
    whatever the Spark session's time zone.

    Args:
        raw: The raw text.
        fmt: The dataset's pattern without the zone (``params``'s ``time_format``).

    Returns:
        The timestamp (null where nothing parses) and whether the text had no zone.
    """
    text = F.trim(raw)
    iso = F.regexp_replace(text, r"^(\d{4}-\d{2}-\d{2})T", "$1 ")
    zoned = F.coalesce(
        F.try_to_timestamp(text, F.lit(f"{fmt} z")),
        *[F.try_to_timestamp(iso, F.lit(pattern)) for pattern in _ISO_ZONED],
    )
    # No zone: the text parses once " UTC" is appended (a zoned text then would not).
    as_utc = F.concat(iso, F.lit(" UTC"))
    zoneless = F.coalesce(
        F.try_to_timestamp(F.concat(text, F.lit(" UTC")), F.lit(f"{fmt} z")),
        F.try_to_timestamp(as_utc, F.lit(_ISO_UTC)),
    )
    return F.coalesce(zoned, zoneless), zoned.isNull() & zoneless.isNotNull()


def _quoted(name: str) -> str:
    """A column name as a Spark SQL identifier."""
    return "`" + name.replace("`", "``") + "`"


def _try_cast(name: str, kind: str, inner: str | None = None) -> Column:
    """``try_cast`` of a raw column's trimmed text: null where it does not convert.

    Written as SQL (``try_cast(trim(`name`) AS kind)``) rather than ``Column.try_cast``,
    which Spark 3.5 (Databricks Runtime 16.4 LTS) does not have; the SQL form means the
    same on 3.5 and 4.x, ANSI mode or not.

    Args:
        name: The raw column's name.
        kind: The Spark SQL type to convert to.
        inner: A type to convert to first (e.g. ``decimal(38,6)`` before ``bigint``).
    """
    text = f"trim({_quoted(name)})"
    if inner:
        text = f"try_cast({text} AS {inner})"
    return F.expr(f"try_cast({text} AS {kind})")


def _parse(name: str, kind: str, fmt: str | None = None) -> Column:
    """Parses a raw string column; null where the text does not parse."""
    raw = F.col(_quoted(name))
    text = F.trim(raw)
    if kind == "timestamp":
        return event_time(raw, fmt or "yyyy-MM-dd HH:mm:ss")[0]
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
        number = _try_cast(name, "double")
        return F.when(number == F.floor(number), number.cast("int"))
    if kind in ("int", "bigint"):  # "12" and "12.0" (pandas writes counts as floats)
        number = _try_cast(name, "double")
        # try_cast all the way: 1e20 is whole but no bigint (ANSI casts would raise).
        return F.when(number == F.floor(number), _try_cast(name, kind, "decimal(38,6)"))
    return _try_cast(name, kind)


def _nonfinite(name: str) -> Column:
    """True where the raw column's text is a number that is NaN or infinite (``NaN``,
    ``inf``, ``1e400``)."""
    number = _try_cast(name, "double")
    return F.coalesce(F.isnan(number) | (F.abs(number) == float("inf")), F.lit(False))


def _text_problems(columns: list[str]) -> tuple[Column, Column]:
    """Whether any of the raw columns holds an undecodable byte (U+FFFD) or a control
    character (besides tab and line breaks)."""
    joined = F.concat_ws("|", *[F.col(f"`{c}`") for c in columns])
    undecodable = F.coalesce(F.instr(joined, REPLACEMENT_CHARACTER) > 0, F.lit(False))
    control = F.coalesce(joined.rlike(CONTROL_CHARACTERS), F.lit(False))
    return undecodable, control


def _odd_quotes(line: Column) -> Column:
    """True where a raw line holds an odd number of double quotes: one piece of a
    record whose quoted field spans lines (files read line by line)."""
    quotes = F.length(line) - F.length(F.regexp_replace(line, '"', ""))
    return quotes % 2 == 1


def _quarantine(
    frame: DataFrame,
    raw_columns: list[str],
    typed: dict[str, tuple[str, Column]],
    checks: list[tuple[str, Column]],
    duplicate_key: list[str] | None,
    invalid_text: str = "quarantine",
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
        invalid_text: ``quarantine`` rejects rows whose raw text holds undecodable
            bytes (``invalid_encoding``) or control characters
            (``control_character``); ``keep`` keeps them, with ``invalid_text`` true.

    Returns:
        The clean frame (typed columns and ``source_file``, plus ``invalid_text``
        when kept) and the rejected frame.
    """
    marked = frame
    for name, (_raw, expression) in typed.items():
        marked = marked.withColumn(f"{_T}{name}", expression)
    undecodable, control = _text_problems(raw_columns)
    if invalid_text == "quarantine":
        checks = [
            *checks,
            ("invalid_encoding", undecodable),
            ("control_character", control),
        ]
    else:
        marked = marked.withColumn(INVALID_TEXT, undecodable | control)
    reasons = F.array_compact(
        F.array(*[F.when(condition, F.lit(code)) for code, condition in checks])
    )
    corrupt = F.col(CORRUPT_RECORD)
    marked = marked.withColumn(
        _REASONS,
        F.when(
            corrupt.isNotNull(),
            F.array_compact(
                F.array(
                    F.lit("wrong_field_count"),
                    F.when(_odd_quotes(corrupt), F.lit("unbalanced_quote")),
                )
            ),
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
        *[F.col(f"{_T}{name}").alias(name) for name in typed],
        SOURCE_FILE,
        *([INVALID_TEXT] if invalid_text == "keep" else []),
    )
    rejected = marked.filter(F.size(_REASONS) > 0).select(
        *[F.col(c).cast("string") for c in raw_columns],
        F.col(CORRUPT_RECORD).alias(RAW_LINE),
        SOURCE_FILE,
        F.concat_ws("; ", _REASONS).alias(REASON),
    )
    return clean, rejected


def _missing_and_unparseable(
    typed: dict[str, tuple[str, Column]],
    required: list[str],
    numeric: set[str] | frozenset[str] = frozenset(),
) -> list[tuple[str, Column]]:
    """``missing_<col>`` for blank required columns, ``nonfinite_<col>`` for numeric
    columns holding NaN or infinity, ``unparseable_<col>`` for any other text that does
    not parse."""
    checks: list[tuple[str, Column]] = []
    for name, (raw, _expr) in typed.items():
        if name in required:
            checks.append((f"missing_{name}", _blank(F.col(raw))))
        unparseable = ~_blank(F.col(raw)) & F.col(f"{_T}{name}").isNull()
        if name in numeric:
            nonfinite = _nonfinite(raw)
            checks.append((f"nonfinite_{name}", nonfinite))
            unparseable = unparseable & ~nonfinite
        checks.append((f"unparseable_{name}", unparseable))
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
    events_raw: RawCsvFiles, params: DataProcessingParams
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
    all_params = params
    cfg: EventsParams = all_params.events
    _check_exact_header(events_raw, cfg.columns, "Events")
    frame = events_raw.frame
    col = F.col
    typed: dict[str, tuple[str, Column]] = {
        "event_time": (
            "event_time",
            event_time(col("event_time"), cfg.time_format)[0],
        ),
        "event_type": ("event_type", F.trim(col("event_type"))),
        "product_id": ("product_id", _parse("product_id", "bigint")),
        "category_id": ("category_id", _parse("category_id", "bigint")),
        "category_code": ("category_code", F.trim(col("category_code"))),
        "brand": ("brand", F.trim(col("brand"))),
        "price": ("price", _parse("price", "double")),
        "user_id": ("user_id", _parse("user_id", "bigint")),
        "user_session": ("user_session", F.trim(col("user_session"))),
    }
    ids = ("product_id", "category_id", "user_id")
    checks = _missing_and_unparseable(typed, cfg.required, {*ids, "price"})
    checks += [(f"negative_{name}", col(f"{_T}{name}") < 0) for name in ids]
    price = col(f"{_T}price")
    # NaN > x is true in Spark SQL: NaN and -inf are nonfinite_price alone.
    finite = ~F.isnan(price) & (F.abs(price) != float("inf"))
    checks += [
        (
            "unknown_event_type",
            ~_blank(col("event_type"))
            & ~F.trim(col("event_type")).isin(cfg.event_types),
        ),
        ("nonpositive_price", (price <= 0) & finite),
        ("price_above_max", (price > cfg.price_max) & finite),
        (
            "event_time_out_of_range",
            (col(f"{_T}event_time") < F.lit(cfg.time_min))
            | (col(f"{_T}event_time") >= F.lit(cfg.time_max)),
        ),
    ]
    clean, rejected = _quarantine(
        frame, cfg.columns, typed, checks, cfg.columns, all_params.invalid_text
    )
    return clean, rejected


def clean_reviews(
    reviews_raw: RawCsvFiles, params: DataProcessingParams
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
    all_params = params
    cfg: ReviewsParams = all_params.reviews
    frame = _mapped_frame(reviews_raw, cfg, "Reviews")
    col = F.col
    typed: dict[str, tuple[str, Column]] = {}
    for name in cfg.columns:
        kind = REVIEW_TYPES.get(name)
        fmt = cfg.date_format if kind == "date" else None
        typed[name] = (
            name,
            _parse(name, kind, fmt) if kind else F.trim(col(name)),
        )
    numeric = {n for n in cfg.columns if REVIEW_TYPES.get(n) in _NUMERIC}
    checks = _missing_and_unparseable(typed, cfg.required, numeric)
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
    clean, rejected = _quarantine(
        frame, cfg.columns, typed, checks, cfg.columns, all_params.invalid_text
    )
    flag = [INVALID_TEXT] if all_params.invalid_text == "keep" else []
    clean = clean.withColumn(
        "review_id",
        F.xxhash64(SOURCE_FILE, *[F.col(c) for c in cfg.columns]),
    ).select("review_id", *cfg.columns, SOURCE_FILE, *flag)
    return clean, rejected


def clean_products(
    products_raw: RawCsvFiles, params: DataProcessingParams
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
    all_params = params
    cfg = all_params.products
    frame = _mapped_frame(products_raw, cfg, "Products")
    typed: dict[str, tuple[str, Column]] = {}
    for name in cfg.columns:
        kind = PRODUCT_TYPES.get(name)
        typed[name] = (name, _parse(name, kind) if kind else F.trim(F.col(name)))
    numeric = {n for n in cfg.columns if PRODUCT_TYPES.get(n) in _NUMERIC}
    checks = _missing_and_unparseable(typed, cfg.required, numeric)
    clean, rejected = _quarantine(
        frame, cfg.columns, typed, checks, cfg.columns, all_params.invalid_text
    )
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
            _parse("product_id_events", "bigint"),
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
        mapping_raw.frame.withColumn("_e_id", _parse("product_id_events", "bigint"))
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


def _raw_counts(
    raw: RawCsvFiles, flags: Mapping[str, Column]
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Rows per file, and per file how many raw rows each flag is true for."""
    if raw.is_empty:
        return {}, {}
    sums = [F.sum(F.when(c, 1).otherwise(0)).alias(name) for name, c in flags.items()]
    rows = raw.frame.groupBy(SOURCE_FILE).agg(F.count(F.lit(1)).alias("_n"), *sums)
    rows_in, flagged = {}, {}
    for row in rows.collect():
        rows_in[row[SOURCE_FILE]] = row["_n"]
        flagged[row[SOURCE_FILE]] = {name: int(row[name]) for name in flags}
    return rows_in, flagged


def _table_report(
    raw: RawCsvFiles,
    clean: DataFrame,
    rejected: DataFrame,
    raw_flags: Mapping[str, Column] | None = None,
) -> dict[str, Any]:
    rows_in, flagged = _raw_counts(raw, raw_flags or {})
    clean_by_file = dict(_counts(clean, SOURCE_FILE))
    kept_invalid: dict[str, int] = {}
    if INVALID_TEXT in clean.columns:
        kept_invalid = dict(_counts(clean.filter(F.col(INVALID_TEXT)), SOURCE_FILE))
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
            **flagged.get(file_name, {}),
        }
        if INVALID_TEXT in clean.columns:
            by_file[file_name]["invalid_text_kept"] = kept_invalid.get(file_name, 0)
    by_check: dict[str, int] = {}
    for per_file in checks_by_file.values():
        for check, count in per_file.items():
            by_check[check] = by_check.get(check, 0) + count
    total_in = sum(rows_in.values())
    total_clean = sum(clean_by_file.values())
    total_rejected = sum(rejected_by_file.values())
    notes = []
    if by_check.get("unbalanced_quote") and not raw.multiline:
        notes.append(
            f"{by_check['unbalanced_quote']} line(s) hold an unbalanced quote. A "
            "quoted field holding a line break splits its record into such lines, "
            "each counted and rejected here; set `multiline: true` on the catalog "
            "entry to read such records whole."
        )
    if kept_invalid:
        notes.append(
            f"{sum(kept_invalid.values())} clean row(s) hold undecodable bytes or "
            f"control characters, kept with {INVALID_TEXT} = true (params "
            "invalid_text: keep)."
        )
    return {
        "source": raw.path,
        "files": len(raw.headers) + len(raw.not_read),
        "files_read": sorted(raw.headers),
        "files_not_read": dict(sorted(raw.not_read.items())),
        "rows_in": total_in,
        "clean": total_clean,
        "rejected": total_rejected,
        "balanced": all(f["balanced"] for f in by_file.values()),
        "rejected_by_check": dict(sorted(by_check.items())),
        "by_file": by_file,
        "notes": notes,
    }


def build_data_quality_report(  # noqa: PLR0913, PLR0917 - a node with one input per raw, clean and rejected table
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
    params: DataProcessingParams | None = None,
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
        params: ``params:data_processing`` (the event time format; defaults if
            omitted).

    Returns:
        The report (JSON) and the same counts as MLflow metrics.

    Raises:
        RuntimeError: Some file's rows_in differs from clean + rejected.
    """
    fmt = params.events.time_format if params else "yyyy-MM-dd HH:mm:ss"
    zoneless = {}
    if not events_raw.is_empty and "event_time" in events_raw.frame.columns:
        zoneless = {"zoneless_event_time": event_time(F.col("event_time"), fmt)[1]}
    tables = {
        "events": {
            **_table_report(events_raw, events_clean, events_rejected, zoneless),
            "time_zone_rule": TIME_ZONE_RULE,
        },
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
    values: dict[str, float] = {}
    for table, report in tables.items():
        for key in ("rows_in", "clean", "rejected"):
            values[f"{table}_{key}"] = report[key]
        for check, count in report["rejected_by_check"].items():
            values[f"{table}_rejected_{check}"] = count
        logger.info(
            "%s: %d rows in, %d clean, %d rejected %s",
            table,
            report["rows_in"],
            report["clean"],
            report["rejected"],
            report["rejected_by_check"],
        )
    return {"tables": tables}, mlflow_metrics(values)
