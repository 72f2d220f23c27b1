"""feature_engineering nodes on hand-worked events: a session of 5 events, a user with
two sessions a week apart, product counts, the scaler seeing the training period only."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from recsys_kedro.evaluation import split_events_by_time
from recsys_kedro.pipelines.feature_engineering.nodes import (
    engagement_levels,
    fit_scaler,
    product_event_features,
    scale_user_features,
    session_features,
    user_features,
)
from tests.params import typed

T0 = datetime(2020, 1, 1, 10, 0, 0)
EVENT_SCHEMA = (
    "event_time timestamp, event_type string, product_id long, category_id long, "
    "category_code string, brand string, price double, user_id long, "
    "user_session string"
)
PARAMS = {"scaling": "standard"}


def _events(spark, rows):
    """rows: (seconds after T0, type, product, category, brand, price, user, session)."""
    return spark.createDataFrame(
        [
            (T0 + timedelta(seconds=s), kind, p, cat, None, brand, price, u, sess)
            for s, kind, p, cat, brand, price, u, sess in rows
        ],
        EVENT_SCHEMA,
    )


DAY = 86_400
ROWS = [
    # user 1, one session of 5 events over 10 minutes
    (0, "view", 1, 10, "alpha", 10.0, 1, "s1"),
    (60, "cart", 1, 10, "alpha", 10.0, 1, "s1"),
    (120, "view", 2, 10, "beta", 20.0, 1, "s1"),
    (300, "remove_from_cart", 1, 10, "alpha", 10.0, 1, "s1"),
    (600, "purchase", 2, 10, "beta", 20.0, 1, "s1"),
    # user 2: two sessions a week apart
    (0, "view", 1, 10, "alpha", 10.0, 2, "s2"),
    (30, "purchase", 1, 10, "alpha", 10.0, 2, "s2"),
    (7 * DAY, "view", 2, 20, "beta", 20.0, 2, "s3"),
    (7 * DAY + 30, "cart", 2, 20, "beta", 20.0, 2, "s3"),
    # user 3: the last event in the data, 10 days after T0
    (10 * DAY, "view", 3, 20, None, 5.0, 3, "s4"),
]


@pytest.fixture
def events(spark):
    return engagement_levels(_events(spark, ROWS), typed("engagement_levels"))


def test_engagement_levels(events):
    levels = {r.event_type: r.engagement_level for r in events.collect()}
    assert levels == {"view": 0, "cart": 1, "remove_from_cart": 2, "purchase": 3}


def test_a_session_of_five_events(events):
    s1 = session_features(events).filter("user_session = 's1'").first()
    assert s1.user_id == 1 and s1.events == 5
    assert s1.duration_seconds == 600.0
    assert s1.distinct_products == 2 and s1.distinct_categories == 1
    assert s1.distinct_brands == 2
    assert s1.max_engagement == 3 and s1.purchases == 1
    s4 = session_features(events).filter("user_session = 's4'").first()
    assert s4.distinct_brands == 0 and s4.duration_seconds == 0.0


def test_a_user_with_two_sessions_a_week_apart(events):
    users = {r.user_id: r for r in user_features(events).collect()}
    u2 = users[2]
    # Last event at day 7 + 30 s; the data ends at day 10 (user 3), not today.
    assert u2.recency_days == pytest.approx(3 - 30 / DAY)
    assert u2.sessions == 2 and u2.events == 4 and u2.active_days == 2
    assert u2.purchases == 1 and u2.monetary == 10.0
    # alpha and beta have two events each: the tie goes to the smaller name.
    assert u2.favourite_brand == "alpha"
    assert u2.favourite_category_id == 10
    assert users[3].recency_days == 0.0 and users[3].favourite_brand is None
    assert users[1].monetary == 20.0 and users[1].favourite_brand == "alpha"


def test_product_counts_conversion_and_price(events):
    products = {r.product_id: r for r in product_event_features(events).collect()}
    p1 = products[1]
    assert (p1.views, p1.carts, p1.removals, p1.purchases) == (2, 1, 1, 1)
    assert p1.unique_users == 2 and p1.unique_sessions == 2
    assert p1.view_to_cart == 0.5 and p1.cart_to_purchase == 1.0
    assert p1.brand == "alpha" and p1.price_mean == 10.0 and p1.price_std == 0.0
    p3 = products[3]
    assert p3.carts == 0 and p3.cart_to_purchase is None and p3.brand is None


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_the_scaler_and_the_feature_tables_see_only_the_training_period(events, spark):
    train, _, split = split_events_by_time(
        events, typed("time_split", {"cutoff": "2020-01-05T00:00:00", "test_days": 30})
    )
    scaler = fit_scaler(
        user_features(train),
        product_event_features(train),
        typed("feature_engineering", PARAMS),
    )
    stats = scaler["tables"]["user_features"]["events"]
    # Before the cut-off: user 1 has 5 events, user 2 has 2.
    assert stats["centre"] == pytest.approx(3.5)
    assert stats["scale"] == pytest.approx(1.5)
    # A burst of test-period events changes nothing in the scaler.
    burst = engagement_levels(
        _events(
            spark,
            [(9 * DAY + i, "view", 9, 20, "beta", 1.0, 9, "s9") for i in range(50)],
        ),
        typed("engagement_levels"),
    )
    more, _, _ = split_events_by_time(
        events.unionByName(burst),
        typed("time_split", {"cutoff": "2020-01-05T00:00:00", "test_days": 30}),
    )
    again = fit_scaler(
        user_features(more),
        product_event_features(more),
        typed("feature_engineering", PARAMS),
    )
    assert again == scaler
    # user_features as of the cut-off: the training period's, scaled, stamped
    rows = scale_user_features(user_features(train), scaler, split).collect()
    scaled = {r.user_id: r.events_scaled for r in rows}
    assert scaled == pytest.approx({1: (5 - 3.5) / 1.5, 2: (2 - 3.5) / 1.5})
    assert {r.as_of for r in rows} == {datetime(2020, 1, 5)}
