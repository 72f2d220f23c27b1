"""What the pipelines share to evaluate recommenders: the time split, ranking and
classification metrics."""

from recsys_kedro.evaluation.classification import (
    class_prior_baseline,
    classification_metrics,
    majority_baseline,
)
from recsys_kedro.evaluation.ranking import ranking_metrics
from recsys_kedro.evaluation.split import (
    SplitError,
    TimeSplitParams,
    split_events_by_time,
)

__all__ = [
    "SplitError",
    "TimeSplitParams",
    "class_prior_baseline",
    "classification_metrics",
    "majority_baseline",
    "ranking_metrics",
    "split_events_by_time",
]
