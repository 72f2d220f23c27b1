"""Nodes of the engagement pipeline: a question asked before the outcome.

At a user's first view of a product in a session, predict the highest level the user
reaches with that product in that session: ``view_only``, ``cart`` (a cart or a removal
from the cart) or ``purchase``. One example per (session, user, product) with a view;
its time is that first view. Its features are what was known strictly before the view
(Spark windows ordered by event time in microseconds whose frames end at -1): nothing at
the view's instant or after it, so no gap to a later event and no count of the events
the label is made of. The view's own time only sets the "as of" (hours since the user's
last earlier event, say). The label is read from the pair's events from the view on.

The model is a Spark ML ``Pipeline`` fitted on the examples before the global cut-off
(``params:time_split``) whose outcome is complete before it, and scored on the ones after
it; only small tables (confusion counts, per-product outcome counts are joined in Spark)
reach the driver.
"""

from __future__ import annotations

import logging
import textwrap
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import (
    LogisticRegression,
    RandomForestClassifier,
)
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import (
    SQLTransformer,
    StandardScaler,
    VectorAssembler,
)
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from recsys_kedro.datasets.mlflow_spark_model import SparkModelWithExample
from recsys_kedro.evaluation import (
    TimeSplitParams,
    classification_metrics,
    split_events_by_time,
)
from recsys_kedro.pipelines.engagement.params import EngagementParams
from recsys_kedro.spark_session import persist_for_run
from recsys_kedro.tracking import mlflow_metrics

logger = logging.getLogger(__name__)

LABEL = "outcome"
# The classes, by label: the highest level reached with the product in the session.
OUTCOMES = ("view_only", "cart", "purchase")
PURCHASE = OUTCOMES.index("purchase")
KEYS = ("event_time", "user_id", "product_id", "user_session")

# Point-in-time features (the model's input columns), all from events strictly before
# the example's view. Counts are per event type; *_hours/*_minutes are null when there
# is no earlier event.
USER_FEATURES = (
    "u_events",
    "u_views",
    "u_carts",
    "u_removes",
    "u_purchases",
    "u_sessions",
    "u_hours_since_last",
)
USER_PRODUCT_FEATURES = (
    "up_events",
    "up_views",
    "up_carts",
    "up_removes",
    "up_purchases",
    "up_last_level",
    "up_hours_since_last",
)
SESSION_FEATURES = (
    "s_events",
    "s_carts",
    "s_removes",
    "s_purchases",
    "s_products",
    "s_minutes_since_start",
)
PRODUCT_FEATURES = (
    "p_events",
    "p_views",
    "p_carts",
    "p_removes",
    "p_purchases",
    # Sessions (with any user) in which the product was viewed / carted / bought.
    "p_view_sessions",
    "p_cart_sessions",
    "p_purchase_sessions",
)
EVENT_FEATURES = ("price",)
FEATURES = (
    USER_FEATURES
    + USER_PRODUCT_FEATURES
    + SESSION_FEATURES
    + PRODUCT_FEATURES
    + EVENT_FEATURES
)
_COUNTS = tuple(
    c
    for c in FEATURES
    if c not in {"up_last_level", "price"}
    and not c.endswith(("_hours_since_last", "_minutes_since_start"))
)
# Conversion rates the first model stage derives from the counts (0 without a view).
_RATES = {
    "p_cart_rate": ("p_carts", "p_views"),
    "p_purchase_rate": ("p_purchases", "p_views"),
    "p_session_cart_rate": ("p_cart_sessions", "p_view_sessions"),
    "p_session_purchase_rate": ("p_purchase_sessions", "p_view_sessions"),
    "u_purchase_rate": ("u_purchases", "u_views"),
}


def _before(*keys: str) -> Window:
    """Per ``keys``, the events strictly earlier than the current one (by microsecond)."""
    return (
        Window.partitionBy(*keys)
        .orderBy("_t")
        .rangeBetween(Window.unboundedPreceding, -1)
    )


def _count(frame_window: Window, event_type: str | None = None) -> Column:
    flag = F.lit(1) if event_type is None else (F.col("event_type") == event_type)
    return F.coalesce(F.sum(flag.cast("long")).over(frame_window), F.lit(0)).cast(
        "long"
    )


def _first_in(*keys: str) -> Column:
    """1 on the first event of each ``keys`` group (by time; ties broken stably)."""
    order = Window.partitionBy(*keys).orderBy("_t", "event_type", "product_id")
    return (F.row_number().over(order) == 1).cast("long")


def _outcome_rank() -> Column:
    """An event's level on the outcome scale (null for an unknown event type)."""
    kind = F.col("event_type")
    return (
        F.when(kind == "purchase", F.lit(OUTCOMES.index("purchase")))
        .when(kind.isin("cart", "remove_from_cart"), F.lit(OUTCOMES.index("cart")))
        .when(kind == "view", F.lit(OUTCOMES.index("view_only")))
    )


def engagement_examples(events_engagement: DataFrame) -> DataFrame:
    """One example per (session, user, product) with a view, at the first such view:
    the outcome (highest level reached with the product in the session from the view
    on) and the user, user x product, session and product features as of just before
    the view.

    Every event counts in the features of the examples after it (all users' events, all
    sessions), so an event is never lost; pairs with no view (a cart straight from a
    list page) make no example, as the question is asked at a view.

    Args:
        events_engagement: Events with their engagement level (feature_engineering).

    Returns:
        ``engagement_examples``: the keys (``event_time`` is the view's), ``outcome``,
        ``outcome_until`` (the pair's last event: the label is complete then) and
        :data:`FEATURES`.
    """
    is_view = F.col("event_type") == "view"
    pair_keys = ("user_session", "user_id", "product_id")
    pair = Window.partitionBy(*pair_keys)
    events = (
        events_engagement.withColumn("_t", F.unix_micros(F.col("event_time")))
        .withColumn("_session_first", _first_in("user_session"))
        .withColumn("_session_product_first", _first_in("user_session", "product_id"))
        .withColumn(
            "_session_product_type_first",
            _first_in("user_session", "product_id", "event_type"),
        )
        .withColumn("_first_view", F.min(F.when(is_view, F.col("_t"))).over(pair))
    )
    first_view = is_view & (F.col("_t") == F.col("_first_view"))
    events = events.withColumns(
        {
            LABEL: F.max(
                F.when(F.col("_t") >= F.col("_first_view"), _outcome_rank())
            ).over(pair),
            "outcome_until": F.max("event_time").over(pair),
            # Two views at the view's very instant: one example (the lower price).
            "_pick": F.row_number().over(
                pair.orderBy(F.when(first_view, 0).otherwise(1), "price")
            ),
        }
    )
    user = _before("user_id")
    user_product = _before("user_id", "product_id")
    session = _before("user_session")
    product = _before("product_id")
    hours = 3_600_000_000.0

    def since(window: Window, how: str, unit: float) -> Column:
        edge = F.max("_t") if how == "last" else F.min("_t")
        return (F.col("_t") - edge.over(window)) / unit

    columns: dict[str, Column] = {
        "u_events": _count(user),
        "u_views": _count(user, "view"),
        "u_carts": _count(user, "cart"),
        "u_removes": _count(user, "remove_from_cart"),
        "u_purchases": _count(user, "purchase"),
        "u_sessions": F.coalesce(F.sum("_session_first").over(user), F.lit(0)),
        "u_hours_since_last": since(user, "last", hours),
        "up_events": _count(user_product),
        "up_views": _count(user_product, "view"),
        "up_carts": _count(user_product, "cart"),
        "up_removes": _count(user_product, "remove_from_cart"),
        "up_purchases": _count(user_product, "purchase"),
        # The level of the latest earlier interaction with the product (-1: none).
        "up_last_level": F.coalesce(
            F.max_by("engagement_level", "_t").over(user_product), F.lit(-1)
        ),
        "up_hours_since_last": since(user_product, "last", hours),
        "s_events": _count(session),
        "s_carts": _count(session, "cart"),
        "s_removes": _count(session, "remove_from_cart"),
        "s_purchases": _count(session, "purchase"),
        "s_products": F.coalesce(
            F.sum("_session_product_first").over(session), F.lit(0)
        ),
        "s_minutes_since_start": since(session, "first", 60_000_000.0),
        "p_events": _count(product),
        "p_views": _count(product, "view"),
        "p_carts": _count(product, "cart"),
        "p_removes": _count(product, "remove_from_cart"),
        "p_purchases": _count(product, "purchase"),
        **{
            f"p_{kind}_sessions": F.coalesce(
                F.sum(
                    F.when(
                        F.col("event_type") == event_type,
                        F.col("_session_product_type_first"),
                    )
                ).over(product),
                F.lit(0),
            )
            for kind, event_type in (
                ("view", "view"),
                ("cart", "cart"),
                ("purchase", "purchase"),
            )
        },
    }
    out = events.withColumns(columns).where(first_view & (F.col("_pick") == 1))
    return out.select(
        *KEYS,
        F.col(LABEL).cast("int").alias(LABEL),
        "outcome_until",
        *[F.col(c).cast("double").alias(c) for c in FEATURES],
    )


def split_engagement_examples(
    engagement_examples: DataFrame, cfg: TimeSplitParams
) -> tuple[DataFrame, DataFrame, dict[str, Any]]:
    """The global time split of the examples by their view's time, where a training
    example also needs its outcome complete before the cut-off: a view just before it
    whose cart or purchase came after it would teach the model a test-period event.

    Args:
        engagement_examples: From :func:`engagement_examples`.
        cfg: ``params:time_split`` (the cut-off every evaluation shares).

    Returns:
        Training examples, test examples and the split's description with
        ``train_outcome_after_cutoff``: the views before the cut-off left out of
        training for that reason (counted, never silently).
    """
    train, test, info = split_events_by_time(engagement_examples, cfg)
    cutoff = F.to_timestamp(F.lit(info["cutoff"]))
    complete = train.where(F.col("outcome_until") < cutoff)
    left_out = info["train"] - complete.count()
    if left_out:
        logger.info(
            "engagement: %d views before the cut-off %s have their outcome after it "
            "and do not train the model",
            left_out,
            info["cutoff"],
        )
    return complete, test, {**info, "train_outcome_after_cutoff": left_out}


def _model_statement() -> str:
    """The model's first stage: log-scaled counts, conversion rates, one-hot last
    level, filled gaps.

    Counts are heavy-tailed (a few users have thousands of events), so they enter as
    ``log1p``; a missing "time since" (no earlier event) becomes 0 next to a count of 0
    that tells the two apart, whether it comes as null (Spark) or NaN (pandas).
    """
    parts = [f"log1p({c}) AS x_{c}" for c in _COUNTS]
    # nanvl: served from pandas (MLflow's pyfunc, its input example), a missing value
    # arrives as NaN, not null
    parts += [
        f"coalesce(log1p(nanvl({c}, CAST(NULL AS DOUBLE))), 0.0) AS x_{c}"
        for c in FEATURES
        if c.endswith(("_hours_since_last", "_minutes_since_start"))
    ]
    parts += [
        f"coalesce({num} / nullif({den}, 0.0), 0.0) AS x_{name}"
        for name, (num, den) in _RATES.items()
    ]
    parts += [f"CAST(up_last_level = {k} AS DOUBLE) AS x_up_last_{k}" for k in range(4)]
    parts.append("log1p(greatest(price, 0.0)) AS x_price")
    return "SELECT *, " + ", ".join(parts) + " FROM __THIS__"


def _model_inputs() -> list[str]:
    out = [f"x_{c}" for c in _COUNTS]
    out += [
        f"x_{c}"
        for c in FEATURES
        if c.endswith(("_hours_since_last", "_minutes_since_start"))
    ]
    out += [f"x_{name}" for name in _RATES]
    out += [f"x_up_last_{k}" for k in range(4)]
    out.append("x_price")
    return out


def train_engagement_model(
    engagement_train: DataFrame, cfg: EngagementParams
) -> tuple[SparkModelWithExample, dict[str, Any]]:
    """Fits the Spark ML pipeline (SQL feature transform, assembler, standard scaler,
    classifier) on the training examples only.

    With ``class_weights: balanced`` each row weighs ``n / (classes x its class count)``
    (counts from the training rows), so the rare levels matter as much as views.

    Args:
        engagement_train: Examples before the cut-off.
        cfg: ``params:engagement``.

    Returns:
        The fitted model with five input rows (MLflow infers the signature from them)
        and a description of the training set (rows, class counts, weights).

    Raises:
        ValueError: The training examples hold fewer than two classes.
    """
    train = engagement_train
    if cfg.max_train_rows is not None:
        total = train.count()
        if total > cfg.max_train_rows:
            train = train.sample(fraction=cfg.max_train_rows / total, seed=cfg.seed)
    counts = {
        int(row[LABEL]): int(row["count"])
        for row in train.groupBy(LABEL).count().collect()
    }
    if len(counts) < 2:
        raise ValueError(
            f"The training examples hold the outcomes {sorted(counts)} only "
            f"({', '.join(OUTCOMES[k] for k in sorted(counts))}): a classifier needs "
            "at least two; move time_split.cutoff later"
        )
    n = sum(counts.values())
    weights = {
        level: (n / (len(counts) * c) if cfg.class_weights == "balanced" else 1.0)
        for level, c in counts.items()
    }
    weight = F.create_map(*[F.lit(x) for kv in weights.items() for x in kv])
    train = train.withColumn("weight", weight[F.col(LABEL)])
    if cfg.classifier == "logistic_regression":
        lr = cfg.logistic_regression
        classifier = LogisticRegression(
            featuresCol="features",
            labelCol=LABEL,
            weightCol="weight",
            family="multinomial",
            maxIter=lr.max_iter,
            regParam=lr.reg_param,
            elasticNetParam=lr.elastic_net_param,
        )
    else:
        rf = cfg.random_forest
        classifier = RandomForestClassifier(
            featuresCol="features",
            labelCol=LABEL,
            weightCol="weight",
            numTrees=rf.num_trees,
            maxDepth=rf.max_depth,
            minInstancesPerNode=rf.min_instances_per_node,
            seed=cfg.seed,
        )
    pipeline = Pipeline(
        stages=[
            SQLTransformer(statement=_model_statement()),
            VectorAssembler(inputCols=_model_inputs(), outputCol="raw_features"),
            StandardScaler(
                inputCol="raw_features",
                outputCol="features",
                withMean=True,
                withStd=True,
            ),
            classifier,
        ]
    )
    model = pipeline.fit(train)
    example = train.select(*FEATURES).limit(5).toPandas()
    info = {
        "rows": n,
        "class_counts": {str(k): v for k, v in sorted(counts.items())},
        "class_weights": {str(k): w for k, w in sorted(weights.items())},
        "classifier": cfg.classifier,
    }
    logger.info("Engagement model (%s) fitted on %d examples", cfg.classifier, n)
    return SparkModelWithExample(model=model, input_example=example), info


def _pr_auc(scored: DataFrame, score: str, purchases: int) -> float:
    """Area under the precision-recall curve of ``score`` for purchase against the
    rest (Spark ML's ``areaUnderPR``: trapezoids between the curve's points, computed
    where the rows are); NaN without a purchase among the ``scored`` rows, where
    recall is undefined."""
    if purchases == 0:
        return float("nan")
    labelled = scored.select(
        (F.col(LABEL) == PURCHASE).cast("double").alias("_is_purchase"),
        F.col(score).cast("double").alias("_score"),
    )
    evaluator = BinaryClassificationEvaluator(
        rawPredictionCol="_score", labelCol="_is_purchase", metricName="areaUnderPR"
    )
    return float(evaluator.evaluate(labelled))


def _confusion(scored: DataFrame, predicted: str) -> dict[tuple[str, str], int]:
    rows = (
        scored.groupBy(F.col(LABEL), F.col(predicted).cast("int").alias("_p"))
        .count()
        .collect()
    )
    return {(OUTCOMES[r[LABEL]], OUTCOMES[r["_p"]]): int(r["count"]) for r in rows}


def product_conversion_baseline(
    engagement_train: DataFrame,
    engagement_test: DataFrame,
    shares: dict[int, float],
    cfg: EngagementParams,
) -> DataFrame:
    """The test examples scored by their product's outcome shares in training.

    Per product, the share of its training views that ended in each outcome, smoothed
    towards the training shares ``q`` with ``m = product_baseline_smoothing``
    pseudo-views: ``(n_c + m q_c) / (n + m)``; a product unseen in training gets ``q``.
    The purchase share is the score; the predicted outcome is the one whose share most
    exceeds its prior (``share / q``, as the balanced model weighs classes) or, with
    ``class_weights: none``, the largest share; ties go to the lower level.

    Args:
        engagement_train: Training examples.
        engagement_test: Test examples.
        shares: Training share of each outcome (label -> share).
        cfg: ``params:engagement``.

    Returns:
        The test examples with ``baseline_score`` and ``baseline_prediction``.
    """
    m = cfg.product_baseline_smoothing
    per_product = engagement_train.groupBy("product_id").agg(
        F.count(F.lit(1)).alias("_n"),
        *[
            F.sum((F.col(LABEL) == k).cast("double")).alias(f"_n{k}")
            for k in range(len(OUTCOMES))
        ],
    )
    scored = engagement_test.join(per_product, "product_id", "left")
    share = {
        k: (F.coalesce(F.col(f"_n{k}"), F.lit(0.0)) + F.lit(m * q))
        / (F.coalesce(F.col("_n"), F.lit(0.0)) + F.lit(m))
        for k, q in shares.items()
    }
    weigh = cfg.class_weights == "balanced"
    value = {
        k: (s / F.lit(shares[k]) if weigh and shares[k] > 0 else s)
        for k, s in share.items()
    }
    best = F.greatest(*value.values())
    prediction = F.lit(None).cast("int")
    for k in sorted(value, reverse=True):  # the lowest tied level is set last
        prediction = F.when(value[k] >= best, F.lit(k)).otherwise(prediction)
    return scored.withColumns(
        {"baseline_score": share[PURCHASE], "baseline_prediction": prediction}
    )


def evaluate_engagement_model(
    engagement_model: PipelineModel,
    engagement_train: DataFrame,
    engagement_test: DataFrame,
    train_info: dict[str, Any],
    cfg: EngagementParams,
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Scores the test examples and compares the model with three baselines, all
    knowing the training period only.

    - ``product_conversion``: the product's smoothed outcome shares in training
      (:func:`product_conversion_baseline`);
    - ``class_prior``: a random outcome drawn with the training shares (expected
      confusion ``test count(t) x train share(p)``); its purchase score is a constant,
      so its PR-AUC is the test share of purchases;
    - ``majority_class``: always the most frequent training outcome (PR-AUC as the
      prior's).

    Args:
        engagement_model: The fitted model (as logged to MLflow).
        engagement_train: Training examples (for the shares and product rates).
        engagement_test: Test examples.
        train_info: From :func:`train_engagement_model`.
        cfg: ``params:engagement``.

    Returns:
        MLflow metrics, the evaluation table (one row per predictor: accuracy,
        macro-F1, PR-AUC for purchase, per-class precision, recall and F1) and the
        model's confusion table (true x predicted).
    """
    classes = list(OUTCOMES)
    train_counts = {
        int(r[LABEL]): int(r["count"])
        for r in engagement_train.groupBy(LABEL).count().collect()
    }
    n_train = sum(train_counts.values())
    shares = {k: train_counts.get(k, 0) / n_train for k in range(len(OUTCOMES))}
    scored = engagement_model.transform(engagement_test)
    if "probability" in scored.columns:
        # A model trained without a purchase has no purchase probability: score 0.
        scored = scored.withColumn(
            "_model_score",
            F.coalesce(F.get(vector_to_array("probability"), PURCHASE), F.lit(0.0)),
        )
    else:  # a model without probabilities (tests): its prediction ranks
        scored = scored.withColumn(
            "_model_score", (F.col("prediction") == PURCHASE).cast("double")
        )
    # Each predictor is read twice (confusion, PR-AUC): keep its three columns once.
    scored = persist_for_run(scored.select(LABEL, "prediction", "_model_score"))
    confusion = _confusion(scored, "prediction")
    test_counts: dict[str, int] = {}
    for (truth, _), count in confusion.items():
        test_counts[truth] = test_counts.get(truth, 0) + count
    n_test = sum(test_counts.values())
    purchases = test_counts.get("purchase", 0)
    purchase_share = purchases / n_test if purchases else float("nan")
    for where, count in (
        ("training", train_counts.get(PURCHASE, 0)),
        ("test", purchases),
    ):
        if count == 0:
            logger.warning(
                "engagement: no %s view was followed by a purchase in its session "
                "(outcomes %s); purchase PR-AUC is %s",
                where,
                train_counts if where == "training" else test_counts,
                "undefined"
                if where == "test"
                else "that of a model that never predicts a purchase",
            )
    baseline = persist_for_run(
        product_conversion_baseline(
            engagement_train, engagement_test, shares, cfg
        ).select(LABEL, "baseline_prediction", "baseline_score")
    )
    majority = OUTCOMES[max(shares, key=lambda k: (shares[k], -k))]
    results = {
        "model": {
            **classification_metrics(confusion, classes),
            "pr_auc_purchase": _pr_auc(scored, "_model_score", purchases),
        },
        "product_conversion": {
            **classification_metrics(
                _confusion(baseline, "baseline_prediction"), classes
            ),
            "pr_auc_purchase": _pr_auc(baseline, "baseline_score", purchases),
        },
        "class_prior": {
            **classification_metrics(
                {
                    (t, p): test_counts.get(t, 0) * shares[OUTCOMES.index(p)]
                    for t in classes
                    for p in classes
                },
                classes,
            ),
            "pr_auc_purchase": purchase_share,
        },
        "majority_class": {
            **classification_metrics(
                {(c, majority): test_counts.get(c, 0) for c in classes}, classes
            ),
            "pr_auc_purchase": purchase_share,
        },
    }
    table = pd.DataFrame.from_dict(results, orient="index")
    table.index.name = "predictor"
    keep = ["n", "accuracy", "macro_f1", "pr_auc_purchase"] + [
        f"{m}_{c}" for c in classes for m in ("precision", "recall", "f1")
    ]
    table = table[keep].reset_index()
    metrics = mlflow_metrics(
        {
            **{
                f"engagement_{predictor}_{key}": value
                for predictor, values in results.items()
                for key, value in values.items()
                if key != "n" and not np.isnan(value)  # undefined: not logged
            },
            "engagement_train_rows": train_info["rows"],
            "engagement_test_rows": n_test,
        }
    )
    matrix = pd.DataFrame(
        [[confusion.get((t, p), 0) for p in classes] for t in classes],
        index=pd.Index(classes, name="true"),
        columns=pd.Index(classes, name="predicted"),
    )
    logger.info(
        "Engagement model: macro-F1 %.3f, purchase PR-AUC %.3f (product conversion "
        "%.3f / %.3f, class prior %.3f / %.3f) on %d test views",
        results["model"]["macro_f1"],
        results["model"]["pr_auc_purchase"],
        results["product_conversion"]["macro_f1"],
        results["product_conversion"]["pr_auc_purchase"],
        results["class_prior"]["macro_f1"],
        results["class_prior"]["pr_auc_purchase"],
        n_test,
    )
    return metrics, table, matrix.reset_index()


def confusion_matrix_figure(confusion: pd.DataFrame) -> Figure:
    """The test-period confusion matrix: counts, coloured by the share of each true
    level (row-normalised), so the rare levels read as clearly as views.

    Args:
        confusion: From :func:`evaluate_engagement_model` (``true`` + one column per
            predicted level).

    Returns:
        The figure.
    """
    matrix = confusion.set_index("true")
    counts = matrix.to_numpy(dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    fig = Figure(figsize=(7, 6), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    labels = ["\n".join(textwrap.wrap(c.replace("_", " "), 10)) for c in matrix.columns]
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(matrix.index)), list(matrix.index))
    ax.set_xlabel("predicted outcome")
    ax.set_ylabel("true outcome")
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            ax.text(
                j,
                i,
                f"{int(counts[i, j]):,}\n{shares[i, j]:.0%}",
                ha="center",
                va="center",
                color="white" if shares[i, j] > 0.5 else "black",
                fontsize=9,
            )
    fig.colorbar(image, ax=ax, label="share of the true outcome's test views")
    ax.set_title(f"Engagement model on the test period ({int(counts.sum()):,} views)")
    return fig
