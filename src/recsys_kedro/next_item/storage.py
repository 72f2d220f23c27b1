"""Writes a fitted :class:`~recsys_kedro.next_item.model.SessionModel` to a folder and
reads it back: ``index.npz`` (the sparse indexes), ``config.json`` (parameters, weights,
what tuning measured) and ``reranker.txt`` (LightGBM's own text format), nothing pickled.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from recsys_kedro.next_item.index import SessionIndex
from recsys_kedro.next_item.model import SessionModel


def save_session_model(model: SessionModel, folder: str | Path) -> None:
    """Writes ``model`` into ``folder`` (created if needed).

    Args:
        model: The fitted model.
        folder: Target folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        f.name: getattr(model.index, f.name) for f in dataclasses.fields(SessionIndex)
    }
    np.savez(folder / "index.npz", **arrays)
    config = {
        "components": model.components,
        "weights": [float(w) for w in model.weights],
        "rerank_depth": model.rerank_depth,
        "tuning": model.tuning,
        "reranker": model.reranker is not None,
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2, default=_plain))
    if model.reranker is not None:
        (folder / "reranker.txt").write_text(model.reranker.model_to_string())


def load_session_model(folder: str | Path) -> SessionModel:
    """Reads a model written by :func:`save_session_model`.

    Args:
        folder: The folder.

    Returns:
        The model.
    """
    folder = Path(folder)
    with np.load(folder / "index.npz") as data:
        index = SessionIndex(**{k: data[k] for k in data.files})
    config = json.loads((folder / "config.json").read_text())
    reranker = None
    if config["reranker"]:
        import lightgbm as lgb  # noqa: PLC0415 - only with a re-ranker

        reranker = lgb.Booster(model_str=(folder / "reranker.txt").read_text())
    return SessionModel(
        index=index,
        components=config["components"],
        weights=np.array(config["weights"], dtype=np.float64),
        reranker=reranker,
        rerank_depth=int(config["rerank_depth"]),
        tuning=config["tuning"],
    )


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value)}")
