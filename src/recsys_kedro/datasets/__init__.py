"""Project datasets: Delta tables on Spark, raw CSV folders, the cf model in MLflow."""

from recsys_kedro.datasets.delta_table import (
    SchemaMismatchError,
    SparkDeltaTableDataset,
)
from recsys_kedro.datasets.mlflow_recommender import MlflowRecommenderModelDataset
from recsys_kedro.datasets.raw_csv import RawCsvDataset

__all__ = [
    "MlflowRecommenderModelDataset",
    "RawCsvDataset",
    "SchemaMismatchError",
    "SparkDeltaTableDataset",
]
