"""Project datasets: Delta tables on Spark and raw CSV folders."""

from recsys_kedro.datasets.delta_table import (
    SchemaMismatchError,
    SparkDeltaTableDataset,
)
from recsys_kedro.datasets.raw_csv import RawCsvDataset

__all__ = ["RawCsvDataset", "SchemaMismatchError", "SparkDeltaTableDataset"]
