"""Logs a pyfunc model with this package as its code, in the active MLflow run (or a new
one), registers it, points an alias at the new version, and returns the URI to load it
back: the part the model datasets share.

Unity Catalog's registry (``databricks-uc``) refuses a model without a signature and has
no ``latest`` version URI: models are loaded by version or by alias
(``models:/<name>@champion``), so every registered version gets the dataset's alias.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
from kedro.io import DatasetError
from mlflow import MlflowClient

DEFAULT_ALIAS = "champion"


def set_alias(name: str, version: str | int, alias: str | None) -> None:
    """Points ``alias`` of the registered model ``name`` at ``version`` (no-op without
    an alias).

    Args:
        name: Registered model name.
        version: The version just registered.
        alias: The alias (``champion``...), or ``None``.
    """
    if alias:
        MlflowClient().set_registered_model_alias(name, alias, str(version))


def registered_uri(name: str | None, alias: str | None) -> str:
    """``models:/<name>@<alias>``: what a dataset loads when it saved nothing.

    Args:
        name: Registered model name.
        alias: Its alias.

    Returns:
        The model URI.

    Raises:
        DatasetError: No name or no alias to load by.
    """
    if not name or not alias:
        raise DatasetError(
            "No model to load: set load_args.model_uri, or registered_model_name and "
            "alias (Unity Catalog has no 'latest' version to fall back on)"
        )
    return f"models:/{name}@{alias}"


def log_pyfunc_model(
    *,
    name: str,
    python_model: mlflow.pyfunc.PythonModel,
    artifacts: dict[str, str],
    requirements: Iterable[str],
    registered_model_name: str | None,
    signature: Any,
    alias: str | None = DEFAULT_ALIAS,
) -> str:
    """Logs (and registers) a pyfunc model.

    Args:
        name: The model's name inside the run.
        python_model: The pyfunc model.
        artifacts: Artifact name -> local path.
        requirements: Distribution names, pinned to their installed versions.
        registered_model_name: Registry name (``None``: log only).
        signature: The model signature (Unity Catalog requires one).
        alias: Alias pointed at the registered version (``None``: none).

    Returns:
        ``models:/<name>/<version>`` when registered, else the run's model URI.
    """
    package = Path(__file__).resolve().parents[1]
    started = mlflow.active_run() is None
    if started:
        mlflow.start_run()
    try:
        info = mlflow.pyfunc.log_model(
            name=name,
            python_model=python_model,
            artifacts=artifacts,
            code_paths=[str(package)],
            pip_requirements=[f"{p}=={version(p)}" for p in requirements],
            registered_model_name=registered_model_name,
            signature=signature,
        )
    finally:
        if started:
            mlflow.end_run()
    version_ = getattr(info, "registered_model_version", None)
    if registered_model_name and version_:
        set_alias(registered_model_name, version_, alias)
        return f"models:/{registered_model_name}/{version_}"
    return info.model_uri
