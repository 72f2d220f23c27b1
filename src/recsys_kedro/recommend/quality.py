"""Output checks of the cf pipeline: a bad recommendation table fails the run."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


class RecommendationQualityError(ValueError):
    """A recommendation table broke one of the output rules."""


def _fail(table: str, rule: str, bad: DataFrame, count: int) -> None:
    examples = [row.asDict() for row in bad.limit(3).collect()]
    raise RecommendationQualityError(
        f"{table}: {count} row(s) break '{rule}', e.g. {examples}"
    )


def check_recommendations(
    frame: DataFrame,
    table: str,
    key: str,
    item: str,
    group_by_source: bool = False,
    forbid_self: bool = False,
    allow_empty: bool = False,
) -> int:
    """Checks a long recommendation table and returns its row count.

    Rules: non-empty; the expected columns; no null ``key``/``item``/``rank``/``score``;
    no item twice for one key and no rank twice; scores in [0, 1]; scores not increasing
    with rank (within one ``source`` when ``group_by_source``, where every
    ``item_cosine`` row must also rank before every ``popular`` row); no item
    recommended for itself when ``forbid_self``.

    Args:
        frame: The table (``key, rank, item, score[, source]``).
        table: Its name, for the message.
        key: The column recommendations are for (``product_id``, ``user_id``).
        item: The recommended product's column.
        group_by_source: Whether the table has a ``source`` column ordering its rows.
        forbid_self: Whether ``key == item`` is an error.
        allow_empty: Whether an empty table is a legitimate result (neighbours of
            a few hours of events, where no two products share a row).

    Returns:
        The number of rows.

    Raises:
        RecommendationQualityError: A rule is broken; the message names it, the count of
            offending rows and a few of them.
    """
    expected = [key, "rank", item, "score"] + (["source"] if group_by_source else [])
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise RecommendationQualityError(
            f"{table}: missing columns {missing}; has {frame.columns}"
        )
    rows = frame.count()
    if rows == 0:
        if allow_empty:
            return 0
        raise RecommendationQualityError(f"{table}: is empty")
    col = F.col
    order_key = [key, "source"] if group_by_source else [key]
    prev = F.lag("score").over(Window.partitionBy(*order_key).orderBy("rank"))
    rules: list[tuple[str, DataFrame]] = [
        (
            "no null ids, ranks or scores",
            frame.where(
                col(key).isNull()
                | col(item).isNull()
                | col("rank").isNull()
                | col("score").isNull()
            ),
        ),
        (
            "numeric scores in [0, 1]",
            frame.where(F.isnan("score") | (col("score") < 0) | (col("score") > 1)),
        ),
        (
            f"no duplicate {item} per {key}",
            frame.groupBy(key, item).count().where(col("count") > 1),
        ),
        (
            f"no duplicate rank per {key}",
            frame.groupBy(key, "rank").count().where(col("count") > 1),
        ),
        (
            "scores sorted descending by rank",
            frame.withColumn("previous_score", prev).where(
                col("previous_score") < col("score")
            ),
        ),
    ]
    if forbid_self:
        rules.append(
            ("no product recommended for itself", frame.where(col(key) == col(item)))
        )
    if group_by_source:
        per_key = frame.groupBy(key).agg(
            F.max(F.when(col("source") != "popular", col("rank"))).alias("last_cf"),
            F.min(F.when(col("source") == "popular", col("rank"))).alias(
                "first_popular"
            ),
        )
        rules.append(
            (
                "personalised rows rank before popular fallback rows",
                per_key.where(col("last_cf") > col("first_popular")),
            )
        )
    for rule, bad in rules:
        count = bad.count()
        if count:
            _fail(table, rule, bad, count)
    return rows
