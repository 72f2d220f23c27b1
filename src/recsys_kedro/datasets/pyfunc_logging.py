"""Logs a pyfunc model with this package as its code, in the active MLflow run (or a new
one), registers it, and returns the URI to load it back: the part the recommender
datasets share."""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow


def log_pyfunc_model(
    *,
    name: str,
    python_model: mlflow.pyfunc.PythonModel,
    artifacts: dict[str, str],
    requirements: Iterable[str],
    registered_model_name: str | None,
    signature: Any = None,
) -> str:
    """Logs (and registers) a pyfunc model.

    Args:
        name: The model's name inside the run.
        python_model: The pyfunc model.
        artifacts: Artifact name -> local path.
        requirements: Distribution names, pinned to their installed versions.
        registered_model_name: Registry name (``None``: log only).
        signature: The model signature, if any.

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
        return f"models:/{registered_model_name}/{version_}"
    return info.model_uri
