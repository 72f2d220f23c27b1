"""``MlflowSparkModelDataset``: kedro-mlflow's model dataset for Spark ML models, with
the input rows MLflow needs to infer the model's signature.

kedro-mlflow's ``MlflowModelTrackingDataset`` calls ``mlflow.spark.log_model(model,
**save_args)``; ``save_args`` come from YAML, so they cannot carry a signature or input
rows, and Unity Catalog's model registry (``databricks-uc``) refuses a model without a
signature. A node returns :class:`SparkModelWithExample`; this dataset passes the rows
as ``input_example`` (MLflow infers the signature from them and stores them with the
model) and logs and registers the model through the parent class. Loading returns the
``PipelineModel`` of the last save (or of ``load_args.model_uri``).

Unless ``save_args`` name the requirements (``pip_requirements``,
``extra_pip_requirements`` or ``conda_env``), the model's are pinned here: the flavor's
own (``pyspark``) and the libraries its pyfunc wrapper reads with, at their installed
versions. Left to itself MLflow infers them by loading the model in a subprocess, which
for a Spark model starts a second Spark driver: 19 s of the 35 s the engagement model
took to fit and log on the default sample.

Example catalog entry::

    engagement_model:
      type: recsys_kedro.datasets.MlflowSparkModelDataset
      save_args:
        name: engagement_model
        registered_model_name: recsys_kedro_engagement
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any, NamedTuple

import mlflow.spark
import pandas as pd
from kedro.io import DatasetError
from kedro_mlflow.io.models import MlflowModelTrackingDataset

from recsys_kedro.datasets.pyfunc_logging import DEFAULT_ALIAS, set_alias

# What the pyfunc wrapper of a Spark model imports to read its input and answer, beside
# the flavor's pyspark (the list MLflow's own inference found, less its transitive
# imports).
PYFUNC_REQUIREMENTS = ("pandas", "numpy", "pyarrow")
_REQUIREMENT_ARGS = ("pip_requirements", "extra_pip_requirements", "conda_env")


def spark_model_requirements() -> list[str]:
    """The pip requirements logged with a Spark ML model, pinned to this environment.

    Returns:
        The flavor's defaults (``pyspark``, pinned the way MLflow pins it on Databricks
        too) and :data:`PYFUNC_REQUIREMENTS` at their installed versions; a library
        without distribution metadata is left out (MLflow adds ``mlflow`` itself).
    """
    pinned = list(mlflow.spark.get_default_pip_requirements())
    for name in PYFUNC_REQUIREMENTS:
        try:
            pinned.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return pinned


class SparkModelWithExample(NamedTuple):
    """A fitted Spark ML model and a few rows of its input columns."""

    model: Any
    input_example: pd.DataFrame


class MlflowSparkModelDataset(MlflowModelTrackingDataset):
    """Logs a Spark ML model with its signature, registers it, loads it back."""

    def __init__(
        self,
        *,
        save_args: dict[str, Any] | None = None,
        load_args: dict[str, Any] | None = None,
        alias: str | None = DEFAULT_ALIAS,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates the dataset (flavor ``mlflow.spark``).

        Args:
            save_args: Arguments of ``mlflow.spark.log_model`` (``name``,
                ``registered_model_name``, ``pip_requirements``, ``dfs_tmpdir``...).
            load_args: ``model_uri`` and arguments of ``mlflow.spark.load_model``.
            alias: Alias each registered version gets (``models:/<name>@<alias>``;
                Unity Catalog has no ``latest``); ``None``: none.
            metadata: Free-form metadata (kedro-viz reads ``kedro-viz.layer``).
        """
        self._alias = alias
        super().__init__(
            flavor="mlflow.spark",
            save_args=save_args,
            load_args=load_args,
            metadata=metadata,
        )

    def _save(self, data: SparkModelWithExample) -> None:
        if not isinstance(data, SparkModelWithExample):
            raise DatasetError(
                f"{type(self).__name__} saves a SparkModelWithExample (model + input "
                f"rows for the signature), not a {type(data).__name__}"
            )
        if data.input_example.empty:
            raise DatasetError("The model's input example has no rows")
        base = dict(self._save_args)
        args = {**base, "input_example": data.input_example}
        if not any(key in args for key in _REQUIREMENT_ARGS):
            args["pip_requirements"] = spark_model_requirements()
        # mlflow.spark.log_model still names the model by ``artifact_path``.
        args.setdefault("artifact_path", args.pop("name", "model"))
        args.pop("name", None)
        self._save_args = args
        try:
            super()._save(data.model)
        finally:
            self._save_args = base
        registered = base.get("registered_model_name")
        version = getattr(self.model_info, "registered_model_version", None)
        if registered and version:
            set_alias(registered, version, self._alias)
