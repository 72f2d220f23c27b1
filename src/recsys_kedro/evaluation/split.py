"""One global time cut-off shared by every evaluation (``params:time_split``).

cf and fpgrowth are evaluated on the same split: everything before the cut-off trains a
model, the ``test_days`` from it test it, so no test event informs any model.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

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


class SplitError(ValueError):
    """The cut-off leaves one side of the split empty."""


def split_events_by_time(
    events: DataFrame, params: Mapping[str, Any]
) -> tuple[DataFrame, DataFrame, dict[str, Any]]:
    """Splits the events at one global time cut-off.

    Events before the cut-off train; the ``test_days`` from it (end included) test. By
    default the cut-off is ``test_days`` before the last event, so the test period ends
    with it.

    Args:
        events: ``events_clean``.
        params: ``params:time_split``.

    Returns:
        Train events, test events and a description of the split.

    Raises:
        SplitError: Either side of the cut-off is empty.
    """
    cfg = TimeSplitParams.model_validate(params)
    bounds = events.agg(F.min("event_time"), F.max("event_time")).first()
    if bounds[0] is None:
        raise SplitError("events_clean is empty: nothing to split for evaluation")
    cutoff = cfg.cutoff or (bounds[1] - timedelta(days=cfg.test_days))
    end = cutoff + timedelta(days=cfg.test_days)
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
        {"cutoff": str(cutoff), "test_end": str(end), "train": n_train, "test": n_test},
    )
