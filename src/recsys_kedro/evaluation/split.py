"""One global time cut-off shared by every evaluation (``params:time_split``).

cf and fpgrowth are evaluated on the same split: everything before the cut-off trains a
model, the ``test_days`` from it test it, so no test event informs any model.

Data shorter than the window (a few days of logs, ``test_days`` 30) would leave nothing
to train on. Then, unless ``cutoff`` is set, the window shrinks by one documented rule:
the test period becomes the last ``short_data_test_share`` of the events' time span
(one day of logs: the last 4.8 hours by default), with one warning, and the split's
description says so (``window: shrunk``; the MLflow run gets the tag
``evaluation_window``). Every pipeline still fits, recommends and evaluates. Only data
whose events all share one instant cannot be split at all.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from kedro.pipeline import Node
from pydantic import BaseModel, ConfigDict, Field
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

logger = logging.getLogger(__name__)


class TimeSplitParams(BaseModel):
    """Where the test period starts and how long it lasts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cutoff: datetime | None = Field(
        None,
        description="First instant of the test period; null: last event - test_days.",
    )
    test_days: float = Field(30.0, gt=0)
    short_data_test_share: float = Field(
        0.2,
        gt=0,
        lt=1,
        description=(
            "With cutoff null and events spanning no more than test_days, the test "
            "period is this share of their span."
        ),
    )


class SplitError(ValueError):
    """The cut-off leaves one side of the split empty."""


def split_events_by_time(
    events: DataFrame, cfg: TimeSplitParams
) -> tuple[DataFrame, DataFrame, dict[str, Any]]:
    """Splits the events at one global time cut-off.

    Events before the cut-off train; the ``test_days`` from it (end included) test. By
    default the cut-off is ``test_days`` before the last event, so the test period ends
    with it. Where the events span no more than ``test_days`` (and ``cutoff`` is not
    set), the test period is the last ``short_data_test_share`` of their span instead.

    Args:
        events: ``events_clean``.
        cfg: ``params:time_split``.

    Returns:
        Train events, test events and a description of the split.

    Raises:
        SplitError: Either side of the cut-off is empty: a ``cutoff`` outside the
            events, or events that all share one instant.
    """
    bounds = events.agg(F.min("event_time"), F.max("event_time")).first()
    if bounds[0] is None:
        raise SplitError("events_clean is empty: nothing to split for evaluation")
    window = {"window": "configured", "test_days": cfg.test_days}
    test_period = timedelta(days=cfg.test_days)
    span = bounds[1] - bounds[0]
    if cfg.cutoff is None and span <= test_period:
        test_period = span * cfg.short_data_test_share
        window = {
            "window": "shrunk",
            "test_days": test_period.total_seconds() / 86_400,
            "configured_test_days": cfg.test_days,
            "rule": (
                f"the events span {span}, no more than test_days ({cfg.test_days}): "
                f"the test period is their last {cfg.short_data_test_share:.0%}"
            ),
        }
        logger.warning(
            "Evaluation window shrunk: %s, %s from %s.",
            window["rule"],
            test_period,
            bounds[1] - test_period,
        )
    cutoff = cfg.cutoff or (bounds[1] - test_period)
    end = cutoff + test_period
    train = events.where(F.col("event_time") < F.lit(cutoff))
    test = events.where(
        (F.col("event_time") >= F.lit(cutoff)) & (F.col("event_time") <= F.lit(end))
    )
    n_train, n_test = train.count(), test.count()
    if n_train == 0 or n_test == 0:
        raise SplitError(
            f"The cut-off {cutoff} leaves {n_train} training and {n_test} test events "
            f"(events span {bounds[0]} .. {bounds[1]}); set time_split.cutoff or "
            "time_split.test_days so both sides have events"
        )
    logger.info(
        "Evaluation split at %s: %d training events, %d test events (until %s)",
        cutoff,
        n_train,
        n_test,
        end,
    )
    return (
        train,
        test,
        {
            "cutoff": str(cutoff),
            "test_end": str(end),
            "train": n_train,
            "test": n_test,
            **window,
        },
    )


def split_node() -> Node:
    """The one split node every evaluating pipeline shares (Kedro runs it once when
    several of them run together): ``train_events``, ``test_events``,
    ``time_split_info`` from ``events_clean`` and ``params:time_split``."""
    return Node(
        func=split_events_by_time,
        inputs=["events_clean", "params:time_split"],
        outputs=["train_events", "test_events", "time_split_info"],
        name="split_events_by_time_node",
    )
