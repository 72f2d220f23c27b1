"""What the project hands kedro-mlflow, in one shape, and the per-node wall time."""

from __future__ import annotations

from collections.abc import Mapping

MetricDict = dict[str, dict[str, float]]


def mlflow_metrics(values: Mapping[str, float]) -> MetricDict:
    """Flat ``{name: number}`` to the format of kedro-mlflow's
    ``MlflowMetricsHistoryDataset`` (one step), names sorted.

    Args:
        values: Metric name -> value (anything ``float`` takes).

    Returns:
        ``{name: {"value": float, "step": 0}}``.
    """
    return {name: {"value": float(v), "step": 0} for name, v in sorted(values.items())}
