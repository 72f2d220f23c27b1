"""``MlflowSessionModelDataset``: logs and registers the session recommender in MLflow.

The fitted :class:`recsys_kedro.next_item.model.SessionModel` is written as files
(:mod:`recsys_kedro.next_item.storage`: arrays, JSON and LightGBM's text, nothing pickled)
and logged as the artifacts of a pyfunc model
(:class:`recsys_kedro.next_item.serving.SessionRecommenderModel`, with this package as
its code) in the active run, registered under ``registered_model_name``. Within the run
that saved it, ``load`` hands back the fitted object itself; otherwise it reads the model
back from MLflow.

Example catalog entry::

    session_model:
      type: recsys_kedro.datasets.MlflowSessionModelDataset
      name: session_recommender
      registered_model_name: recsys_kedro_sessions
      top_n: 10
"""

from __future__ import annotations

import json
import logging
from typing import Any

import mlflow
from kedro.io import AbstractDataset
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, DataType, ParamSchema, ParamSpec, Schema
from mlflow.types.schema import Array

from recsys_kedro.datasets.pyfunc_logging import (
    DEFAULT_ALIAS,
    log_pyfunc_model,
    registered_uri,
)
from recsys_kedro.datasets.staging import staging_folder
from recsys_kedro.next_item.model import SessionModel
from recsys_kedro.next_item.serving import SessionRecommenderModel
from recsys_kedro.next_item.storage import save_session_model

logger = logging.getLogger(__name__)


def _signature(top_n: int) -> ModelSignature:
    """Inputs, outputs and the ``k`` parameter (Unity Catalog's registry refuses a model
    without a signature)."""
    return ModelSignature(
        inputs=Schema(
            [
                ColSpec(Array(DataType.long), "session_items"),
                ColSpec(DataType.string, "user_session", required=False),
            ]
        ),
        outputs=Schema(
            [
                ColSpec(DataType.long, "row"),
                ColSpec(DataType.string, "user_session", required=False),
                ColSpec(DataType.integer, "rank"),
                ColSpec(DataType.long, "product_id"),
                ColSpec(DataType.double, "score"),
                ColSpec(DataType.string, "source"),
            ]
        ),
        params=ParamSchema([ParamSpec("k", DataType.long, top_n)]),
    )


_REQUIREMENTS = (
    "mlflow",
    "numpy",
    "pandas",
    "pyarrow",
    "scipy",
    "numba",
    "lightgbm",
    "pydantic",
)


class MlflowSessionModelDataset(AbstractDataset[SessionModel, SessionModel]):
    """Saves a ``SessionModel`` as a registered MLflow pyfunc model; loads it back."""

    def __init__(
        self,
        *,
        name: str = "session_recommender",
        registered_model_name: str | None = None,
        alias: str | None = DEFAULT_ALIAS,
        top_n: int = 10,
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
            top_n: Recommendations the served model returns per session by default.
            load_args: ``model_uri`` to load (default: the model this dataset saved
                last, else the registered model at ``alias``).
            metadata: Free-form metadata (kedro-viz reads ``kedro-viz.layer``).
        """
        self._name = name
        self._registered = registered_model_name
        self._alias = alias
        self._top_n = top_n
        self._load_args = dict(load_args or {})
        self._last: SessionModel | None = None
        self._last_uri: str | None = None
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "name": self._name,
            "registered_model_name": self._registered,
            "alias": self._alias,
            "top_n": self._top_n,
            "load_args": self._load_args,
        }

    def save(self, data: SessionModel) -> None:
        """Writes the model files, then logs and registers the pyfunc model.

        Args:
            data: The fitted model.
        """
        with staging_folder("session-model") as staging:
            save_session_model(data, staging / "session_model")
            serving = staging / "serving.json"
            serving.write_text(json.dumps({"top_n": self._top_n}))
            self._last_uri = log_pyfunc_model(
                name=self._name,
                python_model=SessionRecommenderModel(),
                artifacts={
                    "session_model": str(staging / "session_model"),
                    "serving": str(serving),
                },
                requirements=_REQUIREMENTS,
                registered_model_name=self._registered,
                alias=self._alias,
                signature=_signature(self._top_n),
            )
        self._last = data
        logger.info("Logged the session recommender as %s", self._last_uri)

    def load(self) -> SessionModel:
        """The model saved in this run, else the one at ``model_uri`` or at the
        registered model's alias.

        Returns:
            The fitted ``SessionModel``.

        Raises:
            DatasetError: There is nothing to load.
        """
        if self._last is not None and "model_uri" not in self._load_args:
            return self._last
        uri = self._load_args.get("model_uri") or self._last_uri
        if uri is None:
            uri = registered_uri(self._registered, self._alias)
        return mlflow.pyfunc.load_model(uri).unwrap_python_model().model

    def _exists(self) -> bool:
        return self._last is not None
