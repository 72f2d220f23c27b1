"""Nodes of the engagement pipeline.

Each event is one example: its label is the event's engagement level, its features are
what was known strictly before it (Spark windows ordered by event time whose frames end
before the event's own timestamp), so no count includes the event itself, anything at
the same instant or anything after it. The model is a Spark ML ``Pipeline`` fitted on
the examples before the global cut-off (``params:time_split``) and scored on the ones
after it; only the classes x classes confusion table reaches the driver.
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
from pyspark.ml.feature import (
    SQLTransformer,
    StandardScaler,
    VectorAssembler,
)
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from recsys_kedro.datasets.mlflow_spark_model import SparkModelWithExample
from recsys_kedro.evaluation import classification_metrics
from recsys_kedro.pipelines.engagement.params import EngagementParams
from recsys_kedro.recommend.levels import EngagementLevels
from recsys_kedro.tracking import mlflow_metrics

logger = logging.getLogger(__name__)

LABEL = "engagement_level"
KEYS = ("event_time", "user_id", "product_id", "user_session")

# Point-in-time features (the model's input columns), all from events strictly before
# the example's own event time. Counts are per event type; *_hours/*_minutes are null
# when there is no earlier event.
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
PRODUCT_FEATURES = ("p_events", "p_views", "p_carts", "p_removes", "p_purchases")
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


def engagement_examples(events_engagement: DataFrame) -> DataFrame:
    """One example per event: the label (its engagement level) and the point-in-time
    user, user x product, session and product features as of just before it.

    Windows are ordered by the event time in microseconds with frames ending at -1, so
    an event never counts itself or any event at the same instant or later.

    Args:
        events_engagement: Events with their engagement level (feature_engineering).

    Returns:
        ``engagement_examples``: the keys, ``engagement_level`` and :data:`FEATURES`.
    """
    t = F.unix_micros(F.col("event_time"))
    events = (
        events_engagement.withColumn("_t", t)
        .withColumn("_session_first", _first_in("user_session"))
        .withColumn("_session_product_first", _first_in("user_session", "product_id"))
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
            F.max_by(LABEL, "_t").over(user_product), F.lit(-1)
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
    }
    out = events.withColumns(columns)
    return out.select(
        *KEYS,
        F.col(LABEL).cast("int").alias(LABEL),
        *[F.col(c).cast("double").alias(c) for c in FEATURES],
    )


def _model_statement() -> str:
    """The model's first stage: log-scaled counts, one-hot last level, filled gaps.

    Counts are heavy-tailed (a few users have thousands of events), so they enter as
    ``log1p``; a missing "time since" (no earlier event) becomes 0 next to a count of 0
    that tells the two apart.
    """
    parts = [f"log1p({c}) AS x_{c}" for c in _COUNTS]
    parts += [
        f"coalesce(log1p({c}), 0.0) AS x_{c}"
        for c in FEATURES
        if c.endswith(("_hours_since_last", "_minutes_since_start"))
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
            f"The training examples hold the engagement levels {sorted(counts)} only: "
            "a classifier needs at least two; move time_split.cutoff later"
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


def evaluate_engagement_model(
    engagement_model: PipelineModel,
    engagement_train: DataFrame,
    engagement_test: DataFrame,
    train_info: dict[str, Any],
    levels: EngagementLevels,
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Scores the test examples and compares the model with two baselines.

    Baselines, both knowing the training period only: the majority class (always the
    most frequent training level) and the class prior (a random level drawn with the
    training shares; its expected confusion is ``test count(t) x train share(p)``).

    Args:
        engagement_model: The fitted model (as logged to MLflow).
        engagement_train: Training examples (for the class shares).
        engagement_test: Test examples.
        train_info: From :func:`train_engagement_model`.
        levels: ``params:engagement_levels`` (names of the levels).

    Returns:
        MLflow metrics, the evaluation table (one row per model: accuracy, macro-F1,
        per-class precision and recall) and the confusion table (true x predicted).
    """
    names = levels.names()
    classes = [names[k] for k in sorted(names)]
    scored = engagement_model.transform(engagement_test)
    confusion_rows = (
        scored.groupBy(F.col(LABEL), F.col("prediction").cast("int").alias("predicted"))
        .count()
        .collect()
    )
    confusion = {
        (names[r[LABEL]], names[r["predicted"]]): int(r["count"])
        for r in confusion_rows
    }
    train_counts = {
        names[int(r[LABEL])]: int(r["count"])
        for r in engagement_train.groupBy(LABEL).count().collect()
    }
    test_counts: dict[str, int] = {}
    for (truth, _), count in confusion.items():
        test_counts[truth] = test_counts.get(truth, 0) + count
    n_train = sum(train_counts.values())
    majority = max(classes, key=lambda c: (train_counts.get(c, 0), c))
    shares = {c: train_counts.get(c, 0) / n_train for c in classes}
    results = {
        "model": classification_metrics(confusion, classes),
        "majority_class": classification_metrics(
            {(c, majority): test_counts.get(c, 0) for c in classes}, classes
        ),
        "class_prior": classification_metrics(
            {
                (t, p): test_counts.get(t, 0) * shares[p]
                for t in classes
                for p in classes
            },
            classes,
        ),
    }
    table = pd.DataFrame.from_dict(results, orient="index")
    table.index.name = "predictor"
    keep = ["n", "accuracy", "macro_f1"] + [
        f"{m}_{c}" for c in classes for m in ("precision", "recall", "f1")
    ]
    table = table[keep].reset_index()
    metrics = mlflow_metrics(
        {
            **{
                f"engagement_{predictor}_{key}": value
                for predictor, values in results.items()
                for key, value in values.items()
                if key != "n"
            },
            "engagement_train_rows": train_info["rows"],
            "engagement_test_rows": sum(test_counts.values()),
        }
    )
    matrix = pd.DataFrame(
        [[confusion.get((t, p), 0) for p in classes] for t in classes],
        index=pd.Index(classes, name="true"),
        columns=pd.Index(classes, name="predicted"),
    )
    logger.info(
        "Engagement model macro-F1 %.3f (majority %.3f, class prior %.3f) on %d "
        "test examples",
        results["model"]["macro_f1"],
        results["majority_class"]["macro_f1"],
        results["class_prior"]["macro_f1"],
        sum(test_counts.values()),
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
    ax.set_xlabel("predicted engagement level")
    ax.set_ylabel("true engagement level")
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
    fig.colorbar(image, ax=ax, label="share of the true level's test events")
    ax.set_title(f"Engagement model on the test period ({int(counts.sum()):,} events)")
    return fig
