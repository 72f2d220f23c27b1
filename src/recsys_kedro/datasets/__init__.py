"""Project datasets: Delta tables on Spark, raw CSV folders, models in MLflow."""

from recsys_kedro.datasets.delta_table import (
    SchemaMismatchError,
    SparkDeltaTableDataset,
)
from recsys_kedro.datasets.managed_table import ManagedCacheTableDataset
from recsys_kedro.datasets.mlflow_recommender import MlflowRecommenderModelDataset
from recsys_kedro.datasets.mlflow_session_model import MlflowSessionModelDataset
from recsys_kedro.datasets.mlflow_spark_model import (
    MlflowSparkModelDataset,
    SparkModelWithExample,
)
from recsys_kedro.datasets.raw_csv import RawCsvDataset
from recsys_kedro.datasets.table import SparkTableDataset

__all__ = [
    "ManagedCacheTableDataset",
    "MlflowRecommenderModelDataset",
    "MlflowSessionModelDataset",
    "MlflowSparkModelDataset",
    "RawCsvDataset",
    "SchemaMismatchError",
    "SparkDeltaTableDataset",
    "SparkTableDataset",
    "SparkModelWithExample",
]
