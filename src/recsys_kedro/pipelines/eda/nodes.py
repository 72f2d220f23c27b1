"""Nodes of the eda pipeline: one picture each, and a report that links them.

Every picture is drawn from an aggregate Spark computes (a histogram's bins, a day x
level table, percentiles per star rating, a correlation matrix); at most a few hundred
rows reach the driver, never the events. Each node returns the figure (saved as PNG and
logged to MLflow by the catalog) and a caption for the report.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.stat import Correlation
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from recsys_kedro.pipelines.eda.params import EdaParams
from recsys_kedro.recommend.levels import EngagementLevels

Caption = dict[str, str]
BINS_PER_DECADE = 10
SESSION_BINS = ((1, 1), (2, 2), (3, 3), (4, 5), (6, 10), (11, 20), (21, 50), (51, None))
CORRELATED = (
    "views",
    "carts",
    "removals",
    "purchases",
    "unique_users",
    "unique_sessions",
    "price_mean",
    "view_to_cart",
    "cart_to_purchase",
)
_THOUSANDS = FuncFormatter(lambda v, _: f"{v:,.0f}")


def _plain_log(axis: Any) -> None:
    """Log-scale ticks at 1, 2, 5 x 10^k written as plain numbers (1,000 not 10^3)."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(
        FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}")
    )
    axis.set_minor_formatter(NullFormatter())


def _figure(width: float = 8.0, height: float = 5.0) -> tuple[Figure, Any]:
    """A figure without pyplot's global registry (nothing to close, nothing leaks)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots()


def _caption(name: str, title: str, text: str) -> Caption:
    return {"name": name, "title": title, "text": text}


def log_histogram(frame: DataFrame, column: str) -> tuple[pd.DataFrame, int]:
    """Counts per log10-spaced bin (``BINS_PER_DECADE`` per decade) of a positive column.

    Args:
        frame: Any frame with ``column``.
        column: A numeric column.

    Returns:
        ``bin, low, high, count`` per non-empty bin of the positive values, sorted; and
        how many values are <= 0 or null (not binned).
    """
    value = F.col(column).cast("double")
    bin_ = F.when(value > 0, F.floor(F.log10(value) * BINS_PER_DECADE).cast("int"))
    counts = frame.groupBy(bin_.alias("bin")).count().toPandas()
    other = int(counts.loc[counts["bin"].isna(), "count"].sum())
    hist = counts[counts["bin"].notna()].astype({"bin": int, "count": int})
    hist = hist.sort_values("bin").reset_index(drop=True)
    hist["low"] = 10.0 ** (hist["bin"] / BINS_PER_DECADE)
    hist["high"] = 10.0 ** ((hist["bin"] + 1) / BINS_PER_DECADE)
    return hist[["bin", "low", "high", "count"]], other


def _log_bars(ax: Any, hist: pd.DataFrame, color: str) -> None:
    ax.bar(
        hist["low"],
        hist["count"],
        width=hist["high"] - hist["low"],
        align="edge",
        color=color,
        edgecolor="white",
        linewidth=0.4,
    )
    ax.set_xscale("log")
    _plain_log(ax.xaxis)


def price_distribution(events_engagement: DataFrame) -> tuple[Figure, Caption]:
    """Histogram of the event prices on a log scale (a price per event, so popular
    products weigh by their events).

    Args:
        events_engagement: Events.

    Returns:
        The figure and its caption.
    """
    hist, non_positive = log_histogram(events_engagement, "price")
    total = int(hist["count"].sum())
    fig, ax = _figure()
    _log_bars(ax, hist, "#4C72B0")
    ax.yaxis.set_major_formatter(_THOUSANDS)
    ax.set_xlabel("price (USD, log scale)")
    ax.set_ylabel("events")
    title = "Event prices"
    ax.set_title(f"{title}: {total:,} events with a price > 0")
    if not total:
        text = f"No positive prices ({non_positive:,} events with price 0 or missing)."
        return fig, _caption("price_distribution", title, text)
    median = _binned_median(hist)
    ax.axvline(median, color="black", linestyle="--", linewidth=1)
    ax.annotate(
        f"median ≈ {median:,.2f} USD",
        xy=(median, 0.95),
        xycoords=("data", "axes fraction"),
        xytext=(5, 0),
        textcoords="offset points",
        va="top",
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8},
    )
    text = (
        f"{total:,} events with a positive price (median about {median:,.2f} USD, "
        f"from the log bins); {non_positive:,} with price 0 or missing, not drawn."
    )
    return fig, _caption("price_distribution", title, text)


def _binned_median(bins: pd.DataFrame) -> float:
    """The geometric centre of the bin holding the median."""
    cumulative = bins["count"].cumsum()
    half = bins["count"].sum() / 2
    row = bins[cumulative >= half].iloc[0]
    return float(math.sqrt(row["low"] * row["high"]))


def rating_distribution(reviews_nlp: DataFrame) -> tuple[Figure, Caption]:
    """Reviews per star rating.

    Args:
        reviews_nlp: Reviews with their rating.

    Returns:
        The figure and its caption.
    """
    counts = (
        reviews_nlp.groupBy("rating").count().toPandas().dropna().astype(int)
    ).set_index("rating")
    stars = list(range(1, 6))
    values = [int(counts["count"].get(s, 0)) for s in stars]
    total = sum(values)
    fig, ax = _figure(7, 4.5)
    bars = ax.bar([str(s) for s in stars], values, color="#DD8452")
    for bar, value in zip(bars, values, strict=True):
        share = value / total if total else 0.0
        ax.annotate(
            f"{value:,}\n{share:.0%}",
            xy=(bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=9,
        )
    ax.set_ylim(0, max(values + [1]) * 1.2)
    ax.yaxis.set_major_formatter(_THOUSANDS)
    ax.set_xlabel("star rating")
    ax.set_ylabel("reviews")
    title = "Review ratings"
    ax.set_title(f"{title}: {total:,} reviews")
    mean = (
        sum(s * v for s, v in zip(stars, values, strict=True)) / total if total else 0
    )
    text = f"{total:,} reviews, mean rating {mean:.2f}; " + ", ".join(
        f"{s}★ {v / total:.0%}" if total else f"{s}★ 0"
        for s, v in zip(stars, values, strict=True)
    )
    return fig, _caption("rating_distribution", title, text + ".")


def _annotated_bars(
    ax: Any,
    labels: list[str],
    values: list[int],
    texts: list[str],
    *,
    color: str,
    room: float,
) -> None:
    """Horizontal bars, first label on top, each with its text at the bar's end.

    Args:
        ax: Where to draw.
        labels: One per bar.
        values: Bar lengths.
        texts: Written right of each bar.
        color: Bar colour.
        room: The x axis ends at the longest bar times this, to leave room for text.
    """
    ax.barh(labels[::-1], values[::-1], color=color)
    for y, (value, text) in enumerate(zip(values[::-1], texts[::-1], strict=True)):
        ax.annotate(
            text,
            xy=(value, y),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
        )
    ax.set_xlim(0, max([*values, 1]) * room)
    ax.xaxis.set_major_formatter(_THOUSANDS)
    ax.tick_params(axis="x", labelrotation=30)


def event_funnel(
    events_engagement: DataFrame, levels: EngagementLevels
) -> tuple[Figure, Caption]:
    """Events per type, and sessions reaching each step (view, cart, purchase).

    Args:
        events_engagement: Events.
        levels: ``params:engagement_levels`` (the level names).

    Returns:
        The figure and its caption.
    """
    types = list(levels.names().values())
    per_type = {
        r["event_type"]: int(r["count"])
        for r in events_engagement.groupBy("event_type").count().collect()
    }
    flags = [
        F.max((F.col("event_type") == t).cast("int")).alias(t)
        for t in ("view", "cart", "purchase")
    ]
    sessions = events_engagement.groupBy("user_session").agg(*flags)
    reached = sessions.agg(
        F.count(F.lit(1)).alias("sessions"),
        *[F.sum(t).alias(t) for t in ("view", "cart", "purchase")],
    ).first()
    n_sessions = int(reached["sessions"] or 0)
    steps = {t: int(reached[t] or 0) for t in ("view", "cart", "purchase")}
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    left, right = fig.subplots(1, 2)
    values = [per_type.get(t, 0) for t in types]
    views = per_type.get("view", 0)
    _annotated_bars(
        left,
        types,
        values,
        [f"{v:,} ({v / views:.0%} of views)" if views else f"{v:,}" for v in values],
        color="#55A868",
        room=1.6,
    )
    left.set_xlabel("events")
    left.set_ylabel("event type")
    left.set_title("Events per type")
    labels = ["sessions", "with a view", "with a cart", "with a purchase"]
    counts = [n_sessions, steps["view"], steps["cart"], steps["purchase"]]
    _annotated_bars(
        right,
        labels,
        counts,
        [f"{v:,} ({v / n_sessions:.0%})" if n_sessions else "0" for v in counts],
        color="#8172B3",
        room=1.45,
    )
    right.set_xlabel("sessions")
    right.set_ylabel("funnel step")
    right.set_title("Sessions reaching each step")
    title = "Event funnel"
    fig.suptitle(title)
    text = (
        f"{sum(values):,} events in {n_sessions:,} sessions; "
        f"{steps['cart'] / n_sessions:.1%} of sessions add to cart, "
        f"{steps['purchase'] / n_sessions:.1%} purchase."
        if n_sessions
        else "No events."
    )
    return fig, _caption("event_funnel", title, text)


def engagement_over_time(
    events_engagement: DataFrame, levels: EngagementLevels
) -> tuple[Figure, Caption]:
    """Events per day at each engagement level (log scale: purchases are ~6 % of the
    events, views half).

    Args:
        events_engagement: Events with their engagement level.
        levels: ``params:engagement_levels`` (the level names).

    Returns:
        The figure and its caption.
    """
    names = levels.names()
    daily = (
        events_engagement.groupBy(
            F.to_date("event_time").alias("day"), "engagement_level"
        )
        .count()
        .toPandas()
    )
    table = (
        daily.pivot_table(
            index="day", columns="engagement_level", values="count", fill_value=0
        )
        .sort_index()
        .astype(int)
    )
    fig, ax = _figure(10, 5)
    for level, name in names.items():
        if level in table.columns:
            ax.plot(pd.to_datetime(table.index), table[level], label=f"{level} {name}")
    ax.set_yscale("log")
    _plain_log(ax.yaxis)
    ax.set_xlabel("day (UTC)")
    ax.set_ylabel("events per day (log scale)")
    ax.legend(
        title="engagement level", loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9
    )
    fig.autofmt_xdate()
    title = "Engagement levels over time"
    days = len(table)
    ax.set_title(f"{title} ({days} days)")
    if days:
        share = table.sum() / table.to_numpy().sum()
        text = f"{days} days from {table.index.min()} to {table.index.max()}; " + (
            ", ".join(f"{names[k]} {share[k]:.1%}" for k in share.index)
        )
    else:
        text = "No events."
    return fig, _caption("engagement_over_time", title, text + ".")


def _session_label(low: int, high: int | None) -> str:
    if high is None:
        return f"{low}+"
    return str(low) if low == high else f"{low}-{high}"


def sessions_per_user(session_features: DataFrame) -> tuple[Figure, Caption]:
    """Users by their number of sessions, in widening bins.

    Args:
        session_features: One row per session with its ``user_id``.

    Returns:
        The figure and its caption.
    """
    per_user = session_features.groupBy("user_id").agg(F.count(F.lit(1)).alias("n"))
    bin_ = F.lit(None).cast("string")
    for low, high in reversed(SESSION_BINS):
        condition = F.col("n") >= low if high is None else F.col("n").between(low, high)
        bin_ = F.when(condition, F.lit(_session_label(low, high))).otherwise(bin_)
    counts = {
        r["bin"]: int(r["count"])
        for r in per_user.groupBy(bin_.alias("bin")).count().collect()
    }
    labels = [_session_label(low, high) for low, high in SESSION_BINS]
    values = [counts.get(label, 0) for label in labels]
    users = sum(values)
    fig, ax = _figure(8, 4.5)
    ax.bar(labels, values, color="#C44E52")
    ax.set_yscale("log")
    _plain_log(ax.yaxis)
    ax.set_xlabel("sessions per user")
    ax.set_ylabel("users (log scale)")
    title = "Sessions per user"
    ax.set_title(f"{title}: {users:,} users")
    one = values[0] / users if users else 0.0
    text = f"{users:,} users; {one:.0%} have a single session, " + (
        f"{values[-1]:,} more than {SESSION_BINS[-1][0] - 1}."
    )
    return fig, _caption("sessions_per_user", title, text)


def product_popularity(product_event_features: DataFrame) -> tuple[Figure, Caption]:
    """Products by their number of events, log-log (a long tail).

    Args:
        product_event_features: One row per product with its event counts.

    Returns:
        The figure and its caption.
    """
    frame = product_event_features.withColumn(
        "events",
        F.col("views") + F.col("carts") + F.col("removals") + F.col("purchases"),
    )
    hist, _ = log_histogram(frame, "events")
    totals = frame.agg(
        F.count(F.lit(1)).alias("products"),
        F.sum("events").alias("events"),
        F.expr("percentile_approx(events, 0.5)").alias("median"),
        F.max("events").alias("max"),
    ).first()
    fig, ax = _figure()
    _log_bars(ax, hist, "#937860")
    ax.set_yscale("log")
    _plain_log(ax.yaxis)
    ax.set_xlabel("events per product (log scale)")
    ax.set_ylabel("products (log scale)")
    title = "Product popularity"
    products = int(totals["products"] or 0)
    ax.set_title(f"{title}: {products:,} products")
    text = (
        f"{products:,} products with events; median {int(totals['median'] or 0):,} "
        f"events, the most popular {int(totals['max'] or 0):,}."
        if len(hist)
        else "No products."
    )
    return fig, _caption("product_popularity", title, text)


def feature_correlations(product_features: DataFrame) -> tuple[Figure, Caption]:
    """Spearman rank correlation of the products' numeric features (ranks, so the long
    tails of the counts do not dominate), over the products where all are defined.

    Args:
        product_features: ``product_features``.

    Returns:
        The figure and its caption.
    """
    columns = [c for c in CORRELATED if c in product_features.columns]
    complete = product_features.select(
        *[F.col(c).cast("double") for c in columns]
    ).dropna()
    n = complete.count()
    fig, ax = _figure(8.5, 7)
    title = "Correlation of the product features"
    if n < 3:
        ax.text(0.5, 0.5, f"{n} complete products: too few", ha="center")
        ax.set_axis_off()
        ax.set_title(title)
        return fig, _caption("feature_correlations", title, f"Only {n} products.")
    vectors = VectorAssembler(inputCols=columns, outputCol="v").transform(complete)
    matrix = Correlation.corr(vectors, "v", method="spearman").first()[0].toArray()
    matrix = np.nan_to_num(matrix)
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
    ax.set_yticks(range(len(columns)), columns)
    ax.set_xlabel("product feature")
    ax.set_ylabel("product feature")
    for i in range(len(columns)):
        for j in range(len(columns)):
            ax.text(
                j,
                i,
                f"{matrix[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if abs(matrix[i, j]) > 0.6 else "black",
            )
    fig.colorbar(image, ax=ax, label="Spearman rank correlation")
    ax.set_title(f"{title} ({n:,} products)")
    pairs = [
        (abs(matrix[i, j]), columns[i], columns[j], matrix[i, j])
        for i in range(len(columns))
        for j in range(i + 1, len(columns))
    ]
    _, a, b, rho = max(pairs)
    text = f"Over {n:,} products with every feature defined; strongest pair {a} / {b} (ρ = {rho:.2f})."
    return fig, _caption("feature_correlations", title, text)


def sentiment_by_rating(reviews_nlp: DataFrame) -> tuple[Figure, Caption]:
    """The VADER compound score's spread per star rating (box: quartiles, whiskers:
    10th and 90th percentiles, computed by Spark's ``percentile_approx``).

    Args:
        reviews_nlp: Reviews with ``rating`` and ``sentiment_compound``.

    Returns:
        The figure and its caption.
    """
    stats = (
        reviews_nlp.where(F.col("sentiment_compound").isNotNull())
        .groupBy("rating")
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.percentile_approx(
                "sentiment_compound", [0.1, 0.25, 0.5, 0.75, 0.9], 10_000
            ).alias("q"),
            F.avg("sentiment_compound").alias("mean"),
        )
        .toPandas()
        .dropna(subset=["rating"])
        .sort_values("rating")
    )
    boxes = [
        {
            "label": f"{int(r.rating)}★\n(n={int(r.n):,})",
            "whislo": r.q[0],
            "q1": r.q[1],
            "med": r.q[2],
            "q3": r.q[3],
            "whishi": r.q[4],
            "mean": r.mean,
            "fliers": [],
        }
        for r in stats.itertuples()
    ]
    fig, ax = _figure(8, 5)
    title = "Sentiment against star rating"
    if boxes:
        ax.bxp(boxes, showmeans=True, patch_artist=True)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("star rating")
    ax.set_ylabel("sentiment compound score (-1 negative .. +1 positive)")
    ax.set_title(f"{title} ({int(stats['n'].sum()) if len(stats) else 0:,} reviews)")
    text = (
        "Median compound score per rating: "
        + ", ".join(f"{int(r.rating)}★ {r.q[2]:+.2f}" for r in stats.itertuples())
        + "."
        if len(stats)
        else "No scored reviews."
    )
    return fig, _caption("sentiment_by_rating", title, text)


def top_brands(
    events_engagement: DataFrame, params: EdaParams
) -> tuple[Figure, Caption]:
    """The brands with the most events, with their purchases.

    Args:
        events_engagement: Events.
        params: ``params:eda`` (``top_brands``).

    Returns:
        The figure and its caption.
    """
    k = params.top_brands
    branded = F.col("brand").isNotNull() & (F.trim(F.col("brand")) != "")
    per_brand = (
        events_engagement.where(branded)
        .groupBy("brand")
        .agg(
            F.count(F.lit(1)).alias("events"),
            F.sum((F.col("event_type") == "purchase").cast("long")).alias("purchases"),
        )
        .orderBy(F.col("events").desc(), "brand")
        .limit(k)
        .toPandas()
    )
    unbranded = events_engagement.where(~branded | F.col("brand").isNull()).count()
    fig, ax = _figure(9, max(4.0, 0.32 * len(per_brand) + 1.5))
    ordered = per_brand.iloc[::-1]
    ax.barh(ordered["brand"], ordered["events"], color="#4C72B0", label="events")
    ax.barh(ordered["brand"], ordered["purchases"], color="#DD8452", label="purchases")
    ax.xaxis.set_major_formatter(_THOUSANDS)
    ax.tick_params(axis="x", labelrotation=30)
    ax.set_xlabel("events (purchases overlaid)")
    ax.set_ylabel("brand")
    ax.legend(loc="lower right")
    title = "Top brands"
    ax.set_title(f"{title}: the {len(per_brand)} brands with the most events")
    text = (
        f"Top brand {per_brand['brand'].iloc[0]} ({int(per_brand['events'].iloc[0]):,} "
        f"events, {int(per_brand['purchases'].iloc[0]):,} purchases); "
        f"{unbranded:,} events have no brand and are not drawn."
        if len(per_brand)
        else f"No branded events ({unbranded:,} without a brand)."
    )
    return fig, _caption("top_brands", title, text)


def eda_summary(events_engagement: DataFrame, reviews_nlp: DataFrame) -> dict[str, Any]:
    """Headline counts for the report.

    Args:
        events_engagement: Events.
        reviews_nlp: Reviews.

    Returns:
        Events, users, sessions, products, first and last event, reviews.
    """
    row = events_engagement.agg(
        F.count(F.lit(1)).alias("events"),
        F.countDistinct("user_id").alias("users"),
        F.countDistinct("user_session").alias("sessions"),
        F.countDistinct("product_id").alias("products"),
        F.min("event_time").alias("first"),
        F.max("event_time").alias("last"),
    ).first()
    return {
        "events": int(row["events"]),
        "users": int(row["users"]),
        "sessions": int(row["sessions"]),
        "products": int(row["products"]),
        "first_event": str(row["first"]),
        "last_event": str(row["last"]),
        "reviews": int(reviews_nlp.count()),
    }


def eda_report(summary: dict[str, Any], params: EdaParams, *captions: Caption) -> str:
    """A Markdown report: the headline counts, then each picture with its caption.

    Args:
        summary: From :func:`eda_summary`.
        params: ``params:eda`` (``pictures_href``: the pictures' folder, relative to
            the report).
        *captions: One per picture.

    Returns:
        The report's text.
    """
    href = params.pictures_href.rstrip("/")
    lines = [
        "# Exploratory data analysis",
        "",
        f"{summary['events']:,} events from {summary['first_event']} to "
        f"{summary['last_event']}: {summary['users']:,} users, "
        f"{summary['sessions']:,} sessions, {summary['products']:,} products; "
        f"{summary['reviews']:,} reviews.",
        "",
        "Every picture is drawn from an aggregate computed by Spark "
        "(`kedro run --pipeline=eda`).",
        "",
    ]
    for caption in captions:
        lines += [
            f"## {caption['title']}",
            "",
            f"![{caption['title']}]({href}/{caption['name']}.png)",
            "",
            caption["text"],
            "",
        ]
    return "\n".join(lines)
