"""Finds the typed model of every parameter block, so adding a pipeline needs no list.

Each pipeline package ``recsys_kedro.pipelines.<name>`` with parameters has a ``params``
module whose ``MODEL`` is the pydantic model of ``params:<name>``; the global time split
(``params:time_split``) is the one block outside the pipelines.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from pydantic import BaseModel

from recsys_kedro import pipelines
from recsys_kedro.evaluation import TimeSplitParams


@cache
def parameter_models() -> dict[str, type[BaseModel]]:
    """Parameter key -> its model, for every pipeline that has one.

    Returns:
        E.g. ``{"cf": CfParams, ..., "time_split": TimeSplitParams}``.

    Raises:
        TypeError: A pipeline's ``params`` module has no ``MODEL``.
    """
    models: dict[str, type[BaseModel]] = {}
    for info in sorted(pkgutil.iter_modules(pipelines.__path__), key=lambda i: i.name):
        name = f"{pipelines.__name__}.{info.name}.params"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # a pipeline without parameters
            raise
        model = getattr(module, "MODEL", None)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError(
                f"{name} must set MODEL to the pydantic model of params:{info.name}"
            )
        models[info.name] = model
    models["time_split"] = TimeSplitParams
    return models
