"""engagement nodes: point-in-time features on hand-worked events (a user with two
sessions a week apart, two events at the same instant), no test-period event in any
training feature, the baselines and metrics by hand, the model's bad inputs."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pandas as pd
import pytest
from pyspark.ml.feature import SQLTransformer

from recsys_kedro.pipelines.engagement.nodes import (
    FEATURES,
    confusion_matrix_figure,
    engagement_examples,
    evaluate_engagement_model,
    train_engagement_model,
)
from recsys_kedro.pipelines.feature_engineering.nodes import engagement_levels
from tests.params import typed

T0 = datetime(2020, 1, 1, 10, 0, 0)
DAY = 86_400
EVENT_SCHEMA = (
    "event_time timestamp, event_type string, product_id long, category_id long, "
    "category_code string, brand string, price double, user_id long, "
    "user_session string"
)

# (seconds after T0, type, product, user, session)
ROWS = [
    (0, "view", 1, 1, "s1"),  # a: user 1's first event
    (30, "view", 1, 2, "s9"),  # user 2 views product 1
    (60, "cart", 1, 1, "s1"),  # b
    (60, "view", 2, 1, "s1"),  # c: same instant as b
    (180, "remove_from_cart", 1, 1, "s1"),  # d
    (7 * DAY, "view", 1, 1, "s2"),  # e: a week later, a new session
    (7 * DAY + 1800, "purchase", 1, 1, "s2"),  # f
]


def _events(spark, rows):
    frame = spark.createDataFrame(
        [
            (T0 + timedelta(seconds=s), kind, p, 10, None, "alpha", 10.0 * p, u, sess)
            for s, kind, p, u, sess in rows
        ],
        EVENT_SCHEMA,
    )
    return engagement_levels(frame, typed("engagement_levels"))


def _row(examples: pd.DataFrame, seconds: int, user: int, product: int) -> dict:
    at = pd.Timestamp(T0 + timedelta(seconds=seconds))
    hit = examples[
        (examples.event_time.dt.tz_localize(None) == at)
        & (examples.user_id == user)
        & (examples.product_id == product)
    ]
    assert len(hit) == 1
    return hit.iloc[0].to_dict()


@pytest.fixture
def examples(spark) -> pd.DataFrame:
    return engagement_examples(_events(spark, ROWS)).toPandas()


def test_one_example_per_event_with_its_level(examples):
    assert len(examples) == len(ROWS)
    assert _row(examples, 0, 1, 1)["engagement_level"] == 0
    assert _row(examples, 60, 1, 1)["engagement_level"] == 1
    assert _row(examples, 180, 1, 1)["engagement_level"] == 2
    assert _row(examples, 7 * DAY + 1800, 1, 1)["engagement_level"] == 3


def test_a_first_event_knows_nothing(examples):
    a = _row(examples, 0, 1, 1)
    for name in FEATURES:
        if name == "price":
            assert a[name] == 10.0
        elif name == "up_last_level":
            assert a[name] == -1
        elif name.endswith(("_since_last", "_since_start")):
            assert math.isnan(a[name]), name
        else:
            assert a[name] == 0, name


def test_events_at_the_same_instant_do_not_count_each_other(examples):
    b = _row(examples, 60, 1, 1)  # cart of product 1
    c = _row(examples, 60, 1, 2)  # view of product 2, same instant
    for row in (b, c):
        assert row["u_events"] == 1  # a only
        assert row["u_views"] == 1
        assert row["u_carts"] == 0
        assert row["u_sessions"] == 1
        assert row["u_hours_since_last"] == pytest.approx(1 / 60)
        assert row["s_events"] == 1
        assert row["s_products"] == 1
        assert row["s_minutes_since_start"] == pytest.approx(1.0)
    # user 1 and product 1 before 60 s: a (user 1) and user 2's view at 30 s
    assert (b["up_events"], b["up_views"], b["up_last_level"]) == (1, 1, 0)
    assert b["up_hours_since_last"] == pytest.approx(1 / 60)
    assert (b["p_events"], b["p_views"], b["p_carts"]) == (2, 2, 0)
    # product 2 has no history
    assert (c["up_events"], c["up_last_level"], c["p_events"]) == (0, -1, 0)
    assert math.isnan(c["up_hours_since_last"])


def test_the_removal_sees_the_cart_and_both_views(examples):
    d = _row(examples, 180, 1, 1)
    assert (d["u_events"], d["u_views"], d["u_carts"], d["u_removes"]) == (3, 2, 1, 0)
    assert (d["up_events"], d["up_carts"], d["up_last_level"]) == (2, 1, 1)
    assert (d["s_events"], d["s_carts"], d["s_products"]) == (3, 1, 2)
    assert d["s_minutes_since_start"] == pytest.approx(3.0)
    assert (d["p_events"], d["p_views"], d["p_carts"]) == (3, 2, 1)


def test_a_new_session_a_week_later(examples):
    e = _row(examples, 7 * DAY, 1, 1)
    assert e["u_events"] == 4
    assert e["u_sessions"] == 1  # s1; s2 starts with this very event
    assert e["u_hours_since_last"] == pytest.approx(7 * 24 - 3 / 60)
    assert (e["up_events"], e["up_removes"], e["up_last_level"]) == (3, 1, 2)
    assert (e["s_events"], e["s_products"]) == (0, 0)
    assert math.isnan(e["s_minutes_since_start"])
    f = _row(examples, 7 * DAY + 1800, 1, 1)
    assert (f["u_events"], f["u_views"], f["u_sessions"]) == (5, 3, 2)
    assert f["u_hours_since_last"] == pytest.approx(0.5)
    assert (f["up_events"], f["up_views"], f["up_last_level"]) == (4, 2, 0)
    assert (f["s_events"], f["s_products"], f["s_minutes_since_start"]) == (1, 1, 30)
    assert (f["p_events"], f["p_views"], f["p_removes"], f["p_purchases"]) == (
        5,
        3,
        1,
        0,
    )


def test_no_test_period_event_reaches_a_training_example(spark):
    """Features of the events before a cut-off are the same whether or not the events
    after it exist, even a burst on the same user, product and session."""
    cutoff = 7 * DAY
    train_rows = [r for r in ROWS if r[0] < cutoff]
    burst = [
        (cutoff + i, kind, 1, 1, "s1")
        for i, kind in enumerate(["purchase", "cart", "purchase", "view"] * 5)
    ]
    without = engagement_examples(_events(spark, train_rows)).toPandas()
    with_test = engagement_examples(_events(spark, ROWS + burst)).toPandas()
    before = with_test[
        with_test.event_time.dt.tz_localize(None) < T0 + timedelta(seconds=cutoff)
    ]
    key = ["event_time", "user_id", "product_id"]
    pd.testing.assert_frame_equal(
        without.sort_values(key).reset_index(drop=True),
        before.sort_values(key).reset_index(drop=True),
    )
    assert len(with_test) == len(ROWS) + len(burst)


def _labelled(spark, rows):
    """rows: (label, u_events); a fixed rule stands in for the model."""
    data = [
        (T0, 1, 1, "s", label, *([float(u)] + [0.0] * (len(FEATURES) - 1)))
        for label, u in rows
    ]
    schema = "event_time timestamp, user_id long, product_id long, user_session " + (
        "string, engagement_level int, " + ", ".join(f"{c} double" for c in FEATURES)
    )
    return spark.createDataFrame(data, schema)


def test_metrics_and_baselines_by_hand(spark, assert_readable):
    # Training shares: view 6/10, cart 2/10, remove 1/10, purchase 1/10.
    train = _labelled(spark, [(0, 0)] * 6 + [(1, 0)] * 2 + [(2, 0), (3, 0)])
    # Test: 4 views, 2 carts, 1 purchase, 1 remove; "model" predicts u_events.
    test = _labelled(
        spark,
        [(0, 0), (0, 0), (0, 0), (0, 1), (1, 1), (1, 3), (3, 3), (2, 2)],
    )
    model = SQLTransformer(
        statement="SELECT *, CAST(u_events AS DOUBLE) AS prediction FROM __THIS__"
    )
    metrics, table, confusion = evaluate_engagement_model(
        model, train, test, {"rows": 10}, typed("engagement_levels")
    )
    rows = table.set_index("predictor")
    # model: view P 3/3 R 3/4; cart P 1/2 R 1/2; remove P 1/1 R 1/1; purchase P 1/2 R 1
    f1 = [2 * 1 * 0.75 / 1.75, 0.5, 1.0, 2 * 0.5 * 1 / 1.5]
    assert rows.loc["model", "accuracy"] == pytest.approx(6 / 8)
    assert rows.loc["model", "precision_purchase"] == pytest.approx(0.5)
    assert rows.loc["model", "recall_view"] == pytest.approx(0.75)
    assert rows.loc["model", "macro_f1"] == pytest.approx(sum(f1) / 4)
    # majority class of the training period: view -> accuracy 4/8, F1 view 2/3
    assert rows.loc["majority_class", "accuracy"] == pytest.approx(0.5)
    assert rows.loc["majority_class", "macro_f1"] == pytest.approx((2 / 3) / 4)
    # class prior: recall_c = train share q_c, precision_c = test share p_c
    p = {"view": 4 / 8, "cart": 2 / 8, "remove_from_cart": 1 / 8, "purchase": 1 / 8}
    q = {"view": 0.6, "cart": 0.2, "remove_from_cart": 0.1, "purchase": 0.1}
    for c, share in p.items():
        assert rows.loc["class_prior", f"recall_{c}"] == pytest.approx(q[c])
        assert rows.loc["class_prior", f"precision_{c}"] == pytest.approx(share)
    assert rows.loc["class_prior", "accuracy"] == pytest.approx(
        sum(p[c] * q[c] for c in p)
    )
    prior_f1 = sum(2 * p[c] * q[c] / (p[c] + q[c]) for c in p) / 4
    assert rows.loc["class_prior", "macro_f1"] == pytest.approx(prior_f1)
    assert metrics["engagement_model_macro_f1"]["value"] == pytest.approx(sum(f1) / 4)
    assert metrics["engagement_test_rows"]["value"] == 8
    grid = confusion.set_index("true")
    assert grid.loc["view", "view"] == 3
    assert grid.loc["view", "cart"] == 1
    assert grid.loc["cart", "purchase"] == 1
    assert int(grid.to_numpy().sum()) == 8
    fig = confusion_matrix_figure(confusion)
    assert_readable(fig)
    assert fig.axes[0].get_title() == "Engagement model on the test period (8 events)"


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_balanced_weights_and_the_fitted_model(spark):
    examples = engagement_examples(
        _events(spark, ROWS + [(8 * DAY + i, "view", 3, 3, "s7") for i in range(3)])
    )
    bundle, info = train_engagement_model(examples, typed("engagement", {}))
    # 4 + 3 views, one cart, one removal, one purchase
    assert info["class_counts"] == {"0": 7, "1": 1, "2": 1, "3": 1}
    # n / (classes x count): 10 / (4 x 7), 10 / 4
    assert info["class_weights"]["0"] == pytest.approx(10 / 28)
    assert info["class_weights"]["3"] == pytest.approx(10 / 4)
    assert list(bundle.input_example.columns) == list(FEATURES)
    assert len(bundle.input_example) == 5
    predicted = bundle.model.transform(examples).select("prediction").toPandas()
    assert set(predicted.prediction) <= {0.0, 1.0, 2.0, 3.0}


def test_one_class_only_is_refused(spark):
    views = [(i, "view", 1, 1, "s1") for i in range(5)]
    with pytest.raises(ValueError, match="engagement levels \\[0\\] only"):
        train_engagement_model(
            engagement_examples(_events(spark, views)), typed("engagement", {})
        )


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_a_sample_of_the_training_rows(spark):
    rows = [(i, ["view", "cart"][i % 2], 1, 1, "s1") for i in range(200)]
    _, info = train_engagement_model(
        engagement_examples(_events(spark, rows)),
        typed("engagement", {"max_train_rows": 50, "classifier": "random_forest"}),
    )
    assert 25 <= info["rows"] <= 75  # a seeded Bernoulli sample of 50/200
    assert info["classifier"] == "random_forest"


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="classifier"):
        typed("engagement", {"classifier": "svm"})
    with pytest.raises(ValueError, match="max_train_rows"):
        typed("engagement", {"max_train_rows": 0})


def test_level_names_follow_the_parameters():
    assert typed("engagement_levels").names() == {
        0: "view",
        1: "cart",
        2: "remove_from_cart",
        3: "purchase",
    }
