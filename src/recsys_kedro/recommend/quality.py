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

    One Spark job screens the table for every rule at once
    (:func:`screen_recommendations`); only where it finds a suspect does each rule's
    own query run, to count the offending rows and show some.

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
    rows, suspects = screen_recommendations(
        frame, key, item, group_by_source, forbid_self
    )
    if rows == 0:
        if allow_empty:
            return 0
        raise RecommendationQualityError(f"{table}: is empty")
    if not any(suspects.values()):
        return rows
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


def screen_recommendations(
    frame: DataFrame,
    key: str,
    item: str,
    group_by_source: bool = False,
    forbid_self: bool = False,
) -> tuple[int, dict[str, int]]:
    """Counts the table's rows and, per rule of :func:`check_recommendations`, the keys
    that may break it, in one aggregation over the keys (one shuffle).

    A key is a suspect where it has a bad row (a null, a score outside [0, 1], itself
    as item), fewer distinct items or ranks than rows, a score above the one just
    before it in rank order where both are personalised or both popular, or a
    personalised row after a popular one. The screen may flag a key that the rule's own
    query then clears (a null item also counts as a duplicate; a rise between two
    personalised sources is not one within a source); it never misses one: where the
    personalised rows all rank before the popular ones, a row scoring above the previous
    row of its own source has, somewhere between the two, an adjacent pair that rises
    and is all personalised or all popular.

    Args:
        frame: The table (``key, rank, item, score[, source]``).
        key: The column recommendations are for.
        item: The recommended product's column.
        group_by_source: Whether the table has a ``source`` column ordering its rows.
        forbid_self: Whether ``key == item`` is an error.

    Returns:
        The number of rows and the suspect keys per rule (``rows``, ``duplicates``,
        ``order``, ``sources``).
    """
    col = F.col
    bad_row = (
        col(key).isNull()
        | col(item).isNull()
        | col("rank").isNull()
        | col("score").isNull()
        | F.isnan("score")
        | (col("score") < 0)
        | (col("score") > 1)
    )
    if forbid_self:
        bad_row = bad_row | (col(key) == col(item))
    # rank order within each key: the window's shuffle by key also serves the
    # aggregation below (no second exchange)
    in_order = Window.partitionBy(key).orderBy("rank")
    popular = (col("source") == "popular") if group_by_source else F.lit(True)
    rises = F.coalesce(
        (F.lag(popular).over(in_order) == popular)
        & (F.lag("score").over(in_order) < col("score")),
        F.lit(False),
    )
    aggregates = [
        F.count("*").alias("n"),
        F.max(F.coalesce(bad_row, F.lit(True)).cast("int")).alias("bad_row"),
        F.size(F.collect_set(item)).alias("items"),
        F.size(F.collect_set("rank")).alias("ranks"),
        F.max(col("_rises").cast("int")).alias("rises"),
    ]
    if group_by_source:
        aggregates += [
            F.max(F.when(col("source") != "popular", col("rank"))).alias("last_cf"),
            F.min(F.when(col("source") == "popular", col("rank"))).alias("first_pop"),
        ]
    per_key = frame.withColumn("_rises", rises).groupBy(key).agg(*aggregates)
    flags = {
        "rows": col("bad_row") == 1,
        "duplicates": (col("items") != col("n")) | (col("ranks") != col("n")),
        "order": col("rises") == 1,
    }
    if group_by_source:
        flags["sources"] = F.coalesce(col("last_cf") > col("first_pop"), F.lit(False))
    totals = per_key.agg(
        F.sum("n").alias("n"),
        *[F.sum(flag.cast("long")).alias(name) for name, flag in flags.items()],
    ).first()
    return int(totals["n"] or 0), {name: int(totals[name] or 0) for name in flags}
