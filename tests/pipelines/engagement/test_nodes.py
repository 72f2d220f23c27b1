"""engagement nodes on hand-worked events: one example per first view of a product in a
session, its outcome from the view on, its features from strictly before the view (shown
by replacing everything from the view onwards), the split that keeps open outcomes out
of training, the baselines and metrics by hand, the model's bad inputs."""

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
    product_conversion_baseline,
    split_engagement_examples,
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
    (0, "view", 1, 1, "s1"),  # a: user 1's first event; example (s1, 1): cart
    (30, "view", 1, 2, "s9"),  # user 2 views product 1; example (s9, 1): view only
    (60, "cart", 1, 1, "s1"),  # b
    (60, "view", 2, 1, "s1"),  # c: same instant as b; example (s1, 2): view only
    (180, "remove_from_cart", 1, 1, "s1"),  # d
    (200, "cart", 3, 3, "s3"),  # user 3 carts product 3 before viewing it
    (300, "view", 3, 3, "s3"),  # example (s3, 3): view only (the cart came before)
    (300, "view", 3, 3, "s3"),  # the same view twice: still one example
    (400, "purchase", 4, 3, "s3"),  # bought without a view: no example, but counted
    (7 * DAY, "view", 1, 1, "s2"),  # e: a week later; example (s2, 1): purchase
    (7 * DAY + 1800, "purchase", 1, 1, "s2"),  # f
]
# (session, product) -> (view time, outcome: 0 view only, 1 cart, 2 purchase)
EXPECTED = {
    ("s1", 1): (0, 1),
    ("s9", 1): (30, 0),
    ("s1", 2): (60, 0),
    ("s3", 3): (300, 0),
    ("s2", 1): (7 * DAY, 2),
}


def _events(spark, rows):
    frame = spark.createDataFrame(
        [
            (T0 + timedelta(seconds=s), kind, p, 10, None, "alpha", 10.0 * p, u, sess)
            for s, kind, p, u, sess in rows
        ],
        EVENT_SCHEMA,
    )
    return engagement_levels(frame, typed("engagement_levels"))


def _row(examples: pd.DataFrame, session: str, product: int) -> dict:
    hit = examples[
        (examples.user_session == session) & (examples.product_id == product)
    ]
    assert len(hit) == 1
    return hit.iloc[0].to_dict()


@pytest.fixture
def examples(spark) -> pd.DataFrame:
    return engagement_examples(_events(spark, ROWS)).toPandas()


def test_one_example_per_first_view_with_its_outcome(examples):
    assert len(examples) == len(EXPECTED)
    for (session, product), (seconds, outcome) in EXPECTED.items():
        row = _row(examples, session, product)
        assert row["event_time"].tz_localize(None) == pd.Timestamp(
            T0 + timedelta(seconds=seconds)
        )
        assert row["outcome"] == outcome, (session, product)
    # the label is complete at the pair's last event
    until = _row(examples, "s1", 1)["outcome_until"].tz_localize(None)
    assert until == pd.Timestamp(T0 + timedelta(seconds=180))


def test_a_first_view_knows_nothing(examples):
    a = _row(examples, "s1", 1)
    for name in FEATURES:
        if name == "price":
            assert a[name] == 10.0
        elif name == "up_last_level":
            assert a[name] == -1
        elif name.endswith(("_since_last", "_since_start")):
            assert math.isnan(a[name]), name
        else:
            assert a[name] == 0, name


def test_events_at_the_view_s_instant_do_not_count(examples):
    c = _row(examples, "s1", 2)  # view of product 2 at 60 s, with the cart b
    assert (c["u_events"], c["u_views"], c["u_carts"]) == (1, 1, 0)  # a only
    assert c["u_sessions"] == 1
    assert c["u_hours_since_last"] == pytest.approx(1 / 60)
    assert (c["s_events"], c["s_carts"], c["s_products"]) == (1, 0, 1)
    assert c["s_minutes_since_start"] == pytest.approx(1.0)
    assert (c["up_events"], c["up_last_level"], c["p_events"]) == (0, -1, 0)
    assert math.isnan(c["up_hours_since_last"])


def test_what_came_before_the_view_counts_even_in_its_own_pair(examples):
    g = _row(examples, "s3", 3)  # user 3 carted product 3 at 200 s, views it at 300 s
    assert (g["up_events"], g["up_carts"], g["up_last_level"]) == (1, 1, 1)
    assert (g["s_events"], g["s_carts"], g["s_products"]) == (1, 1, 1)
    assert (g["p_events"], g["p_carts"], g["p_cart_sessions"]) == (1, 1, 1)
    assert g["p_view_sessions"] == 0


def test_a_new_session_a_week_later(examples):
    e = _row(examples, "s2", 1)
    assert e["u_events"] == 4  # a, b, c, d
    assert e["u_sessions"] == 1  # s1; s2 starts with this very view
    assert e["u_hours_since_last"] == pytest.approx(7 * 24 - 3 / 60)
    assert (e["up_events"], e["up_removes"], e["up_last_level"]) == (3, 1, 2)
    assert (e["s_events"], e["s_products"]) == (0, 0)
    assert math.isnan(e["s_minutes_since_start"])
    # product 1 before: views a and user 2's, the cart b, the removal d; sessions
    # s1 and s9 viewed it, s1 carted it, none bought it
    assert (e["p_events"], e["p_views"], e["p_carts"], e["p_removes"]) == (4, 2, 1, 1)
    assert (e["p_view_sessions"], e["p_cart_sessions"]) == (2, 1)
    assert (e["p_purchases"], e["p_purchase_sessions"]) == (0, 0)


def test_nothing_from_the_view_onwards_reaches_its_features(spark, examples):
    """For every example, keep only the events strictly before its view and the view
    itself, then add a burst at and after the view (carts, purchases and views by the
    same user, of the same product, in the same session, and by another user): the
    example's features do not move, only its outcome may."""
    for (session, product), (seconds, _) in EXPECTED.items():
        user = next(r[3] for r in ROWS if r[4] == session)
        before = [r for r in ROWS if r[0] < seconds]
        view = (seconds, "view", product, user, session)
        burst = [
            (seconds + i, kind, product, who, sess)
            for i, (kind, who, sess) in enumerate(
                [
                    ("purchase", user, session),
                    ("cart", user, session),
                    ("view", 99, "s99"),
                    ("purchase", 99, "s99"),
                    ("view", user, "s100"),
                ]
            )
        ]
        changed = engagement_examples(
            _events(spark, before + [view] + burst)
        ).toPandas()
        got = _row(changed, session, product)
        want = _row(examples, session, product)
        for name in FEATURES:
            assert got[name] == pytest.approx(want[name], nan_ok=True), (
                session,
                product,
                name,
            )
        assert got["outcome"] == 2  # the burst's purchase is the outcome


def test_a_training_view_whose_outcome_comes_later_does_not_train(spark):
    """Split at 7 days: the views of s1, s9, s3 train; a view just before the cut-off
    whose purchase comes after it is left out and counted; s2's view tests."""
    cutoff = T0 + timedelta(seconds=7 * DAY)
    rows = ROWS + [
        (7 * DAY - 60, "view", 5, 4, "s5"),
        (7 * DAY + 60, "purchase", 5, 4, "s5"),
    ]
    examples = engagement_examples(_events(spark, rows))
    train, test, info = split_engagement_examples(
        examples, typed("time_split", {"cutoff": cutoff, "test_days": 1})
    )
    pairs = {(r.user_session, r.product_id) for r in train.collect()}
    assert pairs == {("s1", 1), ("s9", 1), ("s1", 2), ("s3", 3)}
    assert [(r.user_session, r.outcome) for r in test.collect()] == [("s2", 2)]
    assert info["train"] == 5
    assert info["train_outcome_after_cutoff"] == 1


def _labelled(spark, rows):
    """rows: (product, outcome, u_events); a fixed rule stands in for the model."""
    data = [
        (T0, 1, product, "s", outcome, T0, *([float(u)] + [0.0] * (len(FEATURES) - 1)))
        for product, outcome, u in rows
    ]
    schema = "event_time timestamp, user_id long, product_id long, user_session " + (
        "string, outcome int, outcome_until timestamp, "
        + ", ".join(f"{c} double" for c in FEATURES)
    )
    return spark.createDataFrame(data, schema)


def test_metrics_and_baselines_by_hand(spark, assert_readable):
    # Training outcomes per product: 1 -> view, view, purchase, purchase;
    # 2 -> cart, cart, cart, view; 3 -> view, view. Shares q = (0.5, 0.3, 0.2).
    train = _labelled(
        spark,
        [(1, 0, 0), (1, 0, 0), (1, 2, 0), (1, 2, 0)]
        + [(2, 1, 0), (2, 1, 0), (2, 1, 0), (2, 0, 0)]
        + [(3, 0, 0), (3, 0, 0)],
    )
    # Test (product, outcome, the "model"'s prediction); product 9 is new.
    test = _labelled(
        spark, [(1, 2, 2), (1, 0, 0), (2, 1, 1), (3, 0, 0), (9, 2, 2), (2, 0, 1)]
    )
    model = SQLTransformer(
        statement="SELECT *, CAST(u_events AS DOUBLE) AS prediction FROM __THIS__"
    )
    metrics, table, confusion = evaluate_engagement_model(
        model,
        train,
        test,
        {"rows": 10},
        typed("engagement", {"product_baseline_smoothing": 1.0}),
    )
    rows = table.set_index("predictor")
    # model: view P 2/2 R 2/3; cart P 1/2 R 1; purchase P 2/2 R 1
    model_f1 = [0.8, 2 / 3, 1.0]
    assert rows.loc["model", "accuracy"] == pytest.approx(5 / 6)
    assert rows.loc["model", "recall_view_only"] == pytest.approx(2 / 3)
    assert rows.loc["model", "macro_f1"] == pytest.approx(sum(model_f1) / 3)
    # its purchase score is its purchase prediction: both purchases ranked first
    assert rows.loc["model", "pr_auc_purchase"] == pytest.approx(1.0)
    # product baseline, m = 1: shares (n_c + q_c) / (n + 1); predicted: largest
    # share / q. Product 1: (.5, .06, .44) -> purchase; 2: (.3, .66, .04) -> cart;
    # 3: (.833, .1, .067) -> view; 9: q -> a tie, the lowest level (view).
    base = rows.loc["product_conversion"]
    assert base["accuracy"] == pytest.approx(3 / 6)
    assert (base["precision_view_only"], base["recall_view_only"]) == pytest.approx(
        (1 / 2, 1 / 3)
    )
    assert (base["precision_cart"], base["recall_cart"]) == pytest.approx((1 / 2, 1))
    assert base["f1_purchase"] == pytest.approx(0.5)
    assert base["macro_f1"] == pytest.approx((0.4 + 2 / 3 + 0.5) / 3)
    # Scores .44 (+), .44 (-), .2 (+), .067 (-), .04 (-), .04 (-): the curve
    # (0, .5), (.5, .5), (1, 2/3), then recall 1; trapezoids .25 + .2917.
    assert base["pr_auc_purchase"] == pytest.approx(0.25 + (0.5 + 2 / 3) / 4)
    # majority class of the training period: view -> accuracy 3/6, F1 view 2/3
    assert rows.loc["majority_class", "accuracy"] == pytest.approx(0.5)
    assert rows.loc["majority_class", "macro_f1"] == pytest.approx((2 / 3) / 3)
    # class prior: recall_c = train share q_c, precision_c = test share p_c
    p = {"view_only": 3 / 6, "cart": 1 / 6, "purchase": 2 / 6}
    q = {"view_only": 0.5, "cart": 0.3, "purchase": 0.2}
    for c, share in p.items():
        assert rows.loc["class_prior", f"recall_{c}"] == pytest.approx(q[c])
        assert rows.loc["class_prior", f"precision_{c}"] == pytest.approx(share)
    prior_f1 = sum(2 * p[c] * q[c] / (p[c] + q[c]) for c in p) / 3
    assert rows.loc["class_prior", "macro_f1"] == pytest.approx(prior_f1)
    # a constant score ranks nothing: PR-AUC is the test share of purchases
    assert rows.loc["class_prior", "pr_auc_purchase"] == pytest.approx(2 / 6)
    assert metrics["engagement_model_macro_f1"]["value"] == pytest.approx(
        sum(model_f1) / 3
    )
    assert metrics["engagement_product_conversion_pr_auc_purchase"][
        "value"
    ] == pytest.approx(base["pr_auc_purchase"])
    assert metrics["engagement_test_rows"]["value"] == 6
    grid = confusion.set_index("true")
    assert grid.loc["view_only", "view_only"] == 2
    assert grid.loc["view_only", "cart"] == 1
    assert grid.loc["purchase", "purchase"] == 2
    assert int(grid.to_numpy().sum()) == 6
    fig = confusion_matrix_figure(confusion)
    assert_readable(fig)
    assert fig.axes[0].get_title() == "Engagement model on the test period (6 views)"


def test_the_product_baseline_without_class_weights_predicts_the_largest_share(spark):
    """class_weights none: the largest smoothed share wins, not the largest ratio to
    the prior (the shares of the hand-worked test above, m = 1)."""
    train = _labelled(
        spark,
        [(1, 0, 0), (1, 0, 0), (1, 2, 0), (1, 2, 0)]
        + [(2, 1, 0), (2, 1, 0), (2, 1, 0), (2, 0, 0)]
        + [(3, 0, 0), (3, 0, 0)],
    )
    test = _labelled(spark, [(1, 2, 0), (2, 1, 0), (3, 0, 0), (9, 2, 0)])
    cfg = typed(
        "engagement", {"product_baseline_smoothing": 1.0, "class_weights": "none"}
    )
    rows = product_conversion_baseline(train, test, {0: 0.5, 1: 0.3, 2: 0.2}, cfg)
    got = {
        r.product_id: (r.baseline_prediction, r.baseline_score) for r in rows.collect()
    }
    # 1: (.5, .06, .44) -> view (balanced: purchase); 2: (.3, .66, .04) -> cart;
    # 3: (.833, .1, .067) -> view; 9: the prior (.5, .3, .2) -> view
    assert {p: g[0] for p, g in got.items()} == {1: 0, 2: 1, 3: 0, 9: 0}
    assert {p: g[1] for p, g in got.items()} == pytest.approx(
        {1: 0.44, 2: 0.04, 3: 0.2 / 3, 9: 0.2}
    )


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_balanced_weights_and_the_fitted_model(spark):
    examples = engagement_examples(
        _events(spark, ROWS + [(8 * DAY, "view", p, 3, "s7") for p in (5, 6, 7)])
    )
    bundle, info = train_engagement_model(examples, typed("engagement", {}))
    # outcomes: 3 + 3 view only, one cart, one purchase
    assert info["class_counts"] == {"0": 6, "1": 1, "2": 1}
    # n / (classes x count): 8 / (3 x 6), 8 / 3
    assert info["class_weights"]["0"] == pytest.approx(8 / 18)
    assert info["class_weights"]["2"] == pytest.approx(8 / 3)
    assert list(bundle.input_example.columns) == list(FEATURES)
    assert len(bundle.input_example) == 5
    predicted = bundle.model.transform(examples).select("prediction").toPandas()
    assert set(predicted.prediction) <= {0.0, 1.0, 2.0}
    # served from pandas (MLflow's pyfunc and its check of the input example), a
    # missing "time since" is NaN: the first view of each pair has none
    # (a session without Arrow, as MLflow's own, keeps NaN a NaN; Arrow makes it null)
    example = bundle.input_example
    assert example["up_hours_since_last"].isna().any()
    arrow = "spark.sql.execution.arrow.pyspark.enabled"
    before = spark.conf.get(arrow)
    spark.conf.set(arrow, "false")
    try:
        served = bundle.model.transform(spark.createDataFrame(example)).toPandas()
    finally:
        spark.conf.set(arrow, before)
    assert len(served) == len(example)
    assert set(served.prediction) <= {0.0, 1.0, 2.0}


def test_one_class_only_is_refused(spark):
    views = [(0, "view", p, 1, "s1") for p in range(5)]
    with pytest.raises(ValueError, match=r"outcomes \[0\] only \(view_only\)"):
        train_engagement_model(
            engagement_examples(_events(spark, views)), typed("engagement", {})
        )


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_a_sample_of_the_training_rows(spark):
    rows = [(i, "view", i, 1, "s1") for i in range(200)]
    rows += [(i + 1, "cart", i, 1, "s1") for i in range(0, 200, 2)]
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
    with pytest.raises(ValueError, match="product_baseline_smoothing"):
        typed("engagement", {"product_baseline_smoothing": 0})


def test_level_names_follow_the_parameters():
    assert typed("engagement_levels").names() == {
        0: "view",
        1: "cart",
        2: "remove_from_cart",
        3: "purchase",
    }
