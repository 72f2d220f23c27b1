"""What the pipelines share to evaluate recommenders: the time split and ranking metrics."""

from recsys_kedro.evaluation.ranking import ranking_metrics
from recsys_kedro.evaluation.split import (
    SplitError,
    TimeSplitParams,
    split_events_by_time,
)

__all__ = ["SplitError", "TimeSplitParams", "ranking_metrics", "split_events_by_time"]
