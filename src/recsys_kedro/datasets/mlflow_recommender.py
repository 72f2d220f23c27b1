"""``MlflowRecommenderModelDataset``: logs and registers the cf recommender in MLflow.

kedro-mlflow's ``MlflowModelTrackingDataset`` pickles an in-memory model object. The
recommender's per-user table grows with the users, so it must go from Spark to files
without passing through the driver: this dataset has Spark write the tables as parquet
into a staging folder, then logs them as the artifacts of a pyfunc model
(:class:`recsys_kedro.recommend.cf_model.RecommenderModel`, with this package as its
code) in the active run, and registers it under ``registered_model_name``.

Example catalog entry::

    cf_model:
      type: recsys_kedro.datasets.MlflowRecommenderModelDataset
      name: recommender
      registered_model_name: recsys_kedro_cf
"""

from __future__ import annotations

import json
import logging
from typing import Any

import mlflow
from kedro.io import AbstractDataset
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, DataType, ParamSchema, ParamSpec, Schema

from recsys_kedro.datasets.pyfunc_logging import (
    DEFAULT_ALIAS,
    log_pyfunc_model,
    registered_uri,
)
from recsys_kedro.datasets.staging import staging_folder
from recsys_kedro.recommend.cf_model import RecommenderModel

logger = logging.getLogger(__name__)

_REQUIREMENTS = ("mlflow", "numpy", "pandas", "pyarrow")


def _signature(top_k: int) -> ModelSignature:
    """A query is a ``user_id`` or a ``product_id`` column; the answer for users is
    ``user_id, rank, product_id, score, source`` and for products ``product_id, rank,
    rec_product_id, score, source``, so the columns that only one kind has are optional.
    ``k`` is a parameter (at most the fitted top-k for users). Unity Catalog's registry
    refuses a model without a signature."""
    return ModelSignature(
        inputs=Schema(
            [
                ColSpec(DataType.long, "user_id", required=False),
                ColSpec(DataType.long, "product_id", required=False),
            ]
        ),
        outputs=Schema(
            [
                ColSpec(DataType.long, "user_id", required=False),
                ColSpec(DataType.long, "product_id"),
                ColSpec(DataType.long, "rec_product_id", required=False),
                ColSpec(DataType.integer, "rank"),
                ColSpec(DataType.double, "score"),
                ColSpec(DataType.string, "source"),
            ]
        ),
        params=ParamSchema([ParamSpec("k", DataType.long, top_k)]),
    )


class MlflowRecommenderModelDataset(AbstractDataset[Any, Any]):
    """Saves a ``RecommenderBundle`` as a registered MLflow pyfunc model; loads it back."""

    def __init__(
        self,
        *,
        name: str = "recommender",
        registered_model_name: str | None = None,
        alias: str | None = DEFAULT_ALIAS,
        staging_dir: str | None = None,
        load_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates the dataset.

        Args:
            name: The model's name inside the run.
            registered_model_name: Registry name; each save adds a version
                (``None``: log only).
            alias: Alias each new version gets, and that a load without a model
                URI resolves (``models:/<name>@<alias>``; ``None``: no alias).
            staging_dir: Where Spark writes the tables before MLflow copies them
                (default: the system temporary folder).
            load_args: ``model_uri`` to load (default: the model this dataset saved
                last, else the registered model at ``alias``).
            metadata: Free-form metadata (kedro-viz reads ``kedro-viz.layer``).
        """
        self._name = name
        self._registered = registered_model_name
        self._alias = alias
        self._staging_dir = staging_dir
        self._load_args = dict(load_args or {})
        self._last_uri: str | None = None
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "name": self._name,
            "registered_model_name": self._registered,
            "alias": self._alias,
            "load_args": self._load_args,
        }

    def save(self, data: Any) -> None:
        """Writes the tables with Spark, then logs and registers the model.

        Args:
            data: A ``RecommenderBundle``.
        """
        with staging_folder("cf-model", self._staging_dir) as staging:
            artifacts = {}
            for key in ("neighbours", "popular", "user_recommendations"):
                target = staging / key
                getattr(data, key).write.mode("error").parquet(str(target))
                artifacts[key] = str(target)
            config = staging / "config.json"
            config.write_text(json.dumps({"top_k": data.top_k}))
            artifacts["config"] = str(config)
            self._last_uri = log_pyfunc_model(
                name=self._name,
                python_model=RecommenderModel(),
                artifacts=artifacts,
                requirements=_REQUIREMENTS,
                registered_model_name=self._registered,
                alias=self._alias,
                signature=_signature(data.top_k),
            )
        logger.info("Logged the recommender as %s", self._last_uri)

    def load(self) -> Any:
        """Loads the pyfunc model.

        Returns:
            The ``mlflow.pyfunc.PyFuncModel``.

        Raises:
            DatasetError: There is nothing to load.
        """
        uri = self._load_args.get("model_uri") or self._last_uri
        if uri is None:
            uri = registered_uri(self._registered, self._alias)
        return mlflow.pyfunc.load_model(uri)

    def _exists(self) -> bool:
        return self._last_uri is not None
