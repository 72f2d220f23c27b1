"""MlflowSparkModelDataset: a Spark ML model logged with its signature and pinned
requirements, against a real SQLite MLflow store."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from kedro.io import DatasetError
from pyspark.ml import Pipeline
from pyspark.ml.feature import SQLTransformer

from recsys_kedro.datasets.mlflow_spark_model import (
    MlflowSparkModelDataset,
    SparkModelWithExample,
)


@pytest.fixture
def tracking(tmp_path: Path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    yield tmp_path
    mlflow.set_tracking_uri(None)


def _model(spark) -> SparkModelWithExample:
    frame = spark.createDataFrame([(1.0,), (2.0,)], "x double")
    model = Pipeline(
        stages=[SQLTransformer(statement="SELECT x, x * 2 AS prediction FROM __THIS__")]
    ).fit(frame)
    return SparkModelWithExample(model, pd.DataFrame({"x": [1.0, 3.0]}))


def _logged_requirements(dataset: MlflowSparkModelDataset) -> list[str]:
    folder = mlflow.artifacts.download_artifacts(dataset.model_info.model_uri)
    return (Path(folder) / "requirements.txt").read_text().split()


def test_requirements_are_pinned_to_this_environment_without_inference(spark, tracking):
    """No requirements in save_args: mlflow, the flavor's pyspark and the pyfunc
    wrapper's pandas, numpy and pyarrow at their installed versions (the list MLflow's
    inference found, without its subprocess); the model answers as fitted."""
    dataset = MlflowSparkModelDataset(
        save_args={"name": "m", "dfs_tmpdir": str(tracking / "dfs")}, alias=None
    )
    with mlflow.start_run():
        dataset.save(_model(spark))
    expected = {
        f"{name}=={version(name)}"
        for name in ("mlflow", "pyspark", "pandas", "numpy", "pyarrow")
    }
    assert set(_logged_requirements(dataset)) == expected
    served = mlflow.pyfunc.load_model(dataset.model_info.model_uri)
    assert list(served.predict(pd.DataFrame({"x": [4.0]}))) == [8.0]


def test_requirements_from_save_args_win(spark, tracking):
    dataset = MlflowSparkModelDataset(
        save_args={
            "name": "m",
            "dfs_tmpdir": str(tracking / "dfs"),
            "pip_requirements": ["pyspark"],
        },
        alias=None,
    )
    with mlflow.start_run():
        dataset.save(_model(spark))
    assert set(_logged_requirements(dataset)) == {
        f"mlflow=={version('mlflow')}",
        "pyspark",
    }


def test_a_bare_model_is_refused(spark, tracking):
    dataset = MlflowSparkModelDataset(save_args={"name": "m"}, alias=None)
    with pytest.raises(DatasetError, match="SparkModelWithExample"):
        dataset.save(_model(spark).model)
