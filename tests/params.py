"""Parameters for tests that call nodes or run pipelines without a Kedro session.

In a run, Kedro builds each ``params:<key>`` into the model its nodes annotate
(``kedro.validation``). Tests that call a node directly get the same model here, from
the same type hints, so a test cannot pass what a run never would.
"""

from __future__ import annotations

import types
from functools import cache
from pathlib import Path
from typing import Any, get_args

import yaml
from kedro.framework.startup import bootstrap_project
from kedro.io import MemoryDataset
from kedro.validation import TypeExtractor
from pydantic import BaseModel

from recsys_kedro.pipeline_registry import register_pipelines

CONF = Path(__file__).resolve().parents[1] / "conf" / "base"


@cache
def models() -> dict[str, type[BaseModel]]:
    """Parameter key -> the model the project's nodes annotate it with."""
    bootstrap_project(CONF.parents[1])
    found = TypeExtractor(register_pipelines()).extract_types_from_pipelines()
    return {key: _model(hint) for key, hint in found.items()}


def _model(hint: Any) -> type[BaseModel]:
    """``X`` of ``X | None`` (a node whose parameters are optional)."""
    if isinstance(hint, types.UnionType):
        return next(a for a in get_args(hint) if a is not type(None))
    return hint


def shipped(key: str) -> Any:
    """``params:<key>`` as conf/base ships it (a fresh copy)."""
    for path in (CONF / f"parameters_{key}.yml", CONF / "parameters.yml"):
        if path.exists() and key in (blocks := yaml.safe_load(path.read_text())):
            return blocks[key]
    raise KeyError(key)


def typed(key: str, raw: Any = None, **overrides: Any) -> BaseModel:
    """The model of ``params:<key>`` from ``raw`` (default: the shipped block)."""
    value = shipped(key) if raw is None else raw
    if overrides:
        value = {**value, **overrides}
    return models()[key].model_validate(value)


def param_datasets(**blocks: Any) -> dict[str, MemoryDataset]:
    """``params:<key>`` datasets holding each block's model, e.g.
    ``param_datasets(cf=raw_cf, time_split={"test_days": 20})``."""
    return {
        f"params:{key}": MemoryDataset(typed(key, raw)) for key, raw in blocks.items()
    }
