"""eda nodes on hand-made rows: each aggregate by hand, each picture readable (title,
axis labels, no overlapping tick labels), the report linking every picture."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from recsys_kedro.pipelines.eda.nodes import (
    eda_report,
    eda_summary,
    engagement_over_time,
    event_funnel,
    feature_correlations,
    log_histogram,
    price_distribution,
    product_popularity,
    rating_distribution,
    sentiment_by_rating,
    sessions_per_user,
    top_brands,
)
from recsys_kedro.pipelines.feature_engineering.nodes import (
    engagement_levels,
    product_event_features,
    session_features,
)
from tests.params import typed

T0 = datetime(2020, 1, 1, 10, 0, 0)
EVENT_SCHEMA = (
    "event_time timestamp, event_type string, product_id long, category_id long, "
    "category_code string, brand string, price double, user_id long, "
    "user_session string"
)
# (day, type, product, brand, price, user, session)
ROWS = [
    (0, "view", 1, "alpha", 1.0, 1, "s1"),
    (0, "cart", 1, "alpha", 1.0, 1, "s1"),
    (0, "purchase", 1, "alpha", 1.0, 1, "s1"),
    (0, "view", 2, "beta", 12.0, 1, "s1"),
    (1, "view", 2, "beta", 12.0, 2, "s2"),
    (1, "cart", 2, "beta", 12.0, 2, "s2"),
    (1, "remove_from_cart", 2, "beta", 12.0, 2, "s2"),
    (2, "view", 3, None, 0.0, 2, "s3"),
    (2, "view", 3, "", 150.0, 3, "s4"),
    (2, "view", 1, "alpha", 1.5, 3, "s4"),
]


@pytest.fixture
def events(spark):
    frame = spark.createDataFrame(
        [
            (T0 + timedelta(days=d, minutes=i), t, p, 5, None, b, price, u, s)
            for i, (d, t, p, b, price, u, s) in enumerate(ROWS)
        ],
        EVENT_SCHEMA,
    )
    return engagement_levels(frame, typed("engagement_levels"))


@pytest.fixture
def reviews(spark):
    rows = [(1, -0.5), (1, -0.9), (1, 0.2), (4, 0.6), (5, 0.9), (5, 0.8), (5, None)]
    return spark.createDataFrame(rows, "rating int, sentiment_compound double")


def test_log_histogram_by_hand(events):
    hist, other = log_histogram(events, "price")
    # 10 bins per decade: 1.0 -> 0, 1.5 -> floor(1.76) = 1, 12 -> floor(10.8) = 10,
    # 150 -> floor(21.8) = 21; the price 0 is not binned.
    assert dict(zip(hist["bin"], hist["count"], strict=True)) == {
        0: 3,
        1: 1,
        10: 4,
        21: 1,
    }
    assert other == 1
    assert hist.loc[hist["bin"] == 10, "low"].item() == pytest.approx(10.0)
    assert hist.loc[hist["bin"] == 10, "high"].item() == pytest.approx(10**1.1)


def test_price_picture(events, assert_readable):
    fig, caption = price_distribution(events)
    assert_readable(fig)
    assert caption["text"].startswith("9 events with a positive price")
    # the median (5th of 9) lies in the bin [10, 12.59): geometric centre 11.22
    assert "median about 11.22 USD" in caption["text"]
    assert "1 with price 0 or missing" in caption["text"]


def test_funnel_by_hand(events, assert_readable):
    fig, caption = event_funnel(events, typed("engagement_levels"))
    assert_readable(fig)
    # 4 sessions: all have a view, s1 and s2 a cart, s1 a purchase
    assert caption["text"] == (
        "10 events in 4 sessions; 50.0% of sessions add to cart, 25.0% purchase."
    )
    left = fig.axes[0]
    widths = {t.get_text(): p.get_width() for t, p in zip(
        left.get_yticklabels(), left.patches, strict=True
    )}  # fmt: skip
    assert widths == {"purchase": 1, "remove_from_cart": 1, "cart": 2, "view": 6}


def test_levels_over_time_by_hand(events, assert_readable):
    fig, caption = engagement_over_time(events, typed("engagement_levels"))
    assert_readable(fig)
    assert caption["text"].startswith("3 days from 2020-01-01 to 2020-01-03")
    assert (
        "view 60.0%, cart 20.0%, remove_from_cart 10.0%, purchase 10.0%"
        in (caption["text"])
    )
    lines = {line.get_label(): list(line.get_ydata()) for line in fig.axes[0].lines}
    assert lines["0 view"] == [2, 1, 3]
    assert lines["3 purchase"] == [1, 0, 0]


def test_sessions_per_user_by_hand(events, assert_readable):
    fig, caption = sessions_per_user(session_features(events))
    assert_readable(fig)
    # user 1: 1 session, user 2: 2 sessions, user 3: 1 session
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights[:3] == [2, 1, 0]
    assert caption["text"].startswith("3 users; 67% have a single session")


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_popularity_by_hand(events, assert_readable):
    fig, caption = product_popularity(product_event_features(events))
    assert_readable(fig)
    # product 1: 4 events, product 2: 4, product 3: 2 -> median 4, max 4
    assert caption["text"] == (
        "3 products with events; median 4 events, the most popular 4."
    )


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_correlations_by_hand(spark, assert_readable):
    rows = [(float(i), float(i * i), float(10 - i)) for i in range(1, 6)]
    frame = spark.createDataFrame(rows, "views double, carts double, price_mean double")
    fig, caption = feature_correlations(frame)
    assert_readable(fig)
    # views and carts rank identically (rho 1); price_mean in reverse (rho -1): the
    # first pair found with |rho| = 1 in column order is reported
    assert "(ρ = 1.00)" in caption["text"] or "(ρ = -1.00)" in caption["text"]
    image = fig.axes[0].images[0].get_array()
    assert image[0, 1] == pytest.approx(1.0)
    assert image[0, 2] == pytest.approx(-1.0)
    few, caption = feature_correlations(frame.limit(2))
    assert caption["text"] == "Only 2 products."


def test_ratings_and_sentiment_by_hand(reviews, assert_readable):
    fig, caption = rating_distribution(reviews)
    assert_readable(fig)
    assert caption["text"].startswith("7 reviews, mean rating 3.14")
    fig, caption = sentiment_by_rating(reviews)
    assert_readable(fig)
    # medians: 1 star of (-0.9, -0.5, 0.2) -> -0.5; 4 -> 0.6; 5 of (0.8, 0.9) -> 0.8
    assert caption["text"] == (
        "Median compound score per rating: 1★ -0.50, 4★ +0.60, 5★ +0.80."
    )


def test_top_brands_by_hand(events, assert_readable):
    fig, caption = top_brands(events, typed("eda", {"top_brands": 1}))
    assert_readable(fig)
    # alpha 4 events (1 purchase), beta 4 (0): ties by name -> alpha; 2 unbranded
    assert caption["text"] == (
        "Top brand alpha (4 events, 1 purchases); 2 events have no brand and are not "
        "drawn."
    )
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["alpha"]


def test_the_report_links_every_picture(events, reviews):
    summary = eda_summary(events, reviews)
    assert summary == {
        "events": 10,
        "users": 3,
        "sessions": 4,
        "products": 3,
        "first_event": "2020-01-01 10:00:00",
        "last_event": "2020-01-03 10:09:00",
        "reviews": 7,
    }
    captions = [
        {"name": "a_picture", "title": "A", "text": "first"},
        {"name": "b_picture", "title": "B", "text": "second"},
    ]
    report = eda_report(summary, typed("eda", {"pictures_href": "eda/"}), *captions)
    assert "![A](eda/a_picture.png)" in report
    assert "![B](eda/b_picture.png)" in report
    assert report.index("first") < report.index("second")
    assert "10 events from 2020-01-01 10:00:00" in report
