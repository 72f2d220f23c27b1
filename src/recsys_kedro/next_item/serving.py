"""The session recommender as an MLflow pyfunc model.

Input: a frame with a ``session_items`` column, each value the product ids of a session so
far in order (a list, or a JSON text of one), and optionally ``user_session``. Output, per
input row and rank: ``row`` (the input row's position), ``user_session`` (when given),
``rank, product_id, score, source``; ``source`` is ``session`` where the model answered
from the session's items, ``popular`` where it knew none of them.
"""

from __future__ import annotations

import json
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from recsys_kedro.next_item.model import SessionData, SessionModel
from recsys_kedro.next_item.storage import load_session_model

SOURCE_SESSION = "session"
SOURCE_POPULAR = "popular"


def sessions_from_lists(values: list[Any]) -> SessionData:
    """Sessions from lists of product ids.

    Args:
        values: One list (or JSON text of a list) of integer product ids per session.

    Returns:
        The sessions.

    Raises:
        ValueError: A value that is not a list of integers.
    """
    lists = []
    for pos, raw in enumerate(values):
        value = raw
        if isinstance(raw, str):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"session_items of row {pos} is not a JSON list: {raw!r}"
                ) from exc
        if (
            value is None
            or isinstance(value, (int, float))
            or not hasattr(value, "__iter__")
        ):
            raise ValueError(
                f"session_items of row {pos} must be a list, got {value!r}"
            )
        items = list(value)
        if not all(
            isinstance(v, (int, np.integer))
            and not isinstance(v, bool)
            or (isinstance(v, float) and v.is_integer())
            for v in items
        ):
            raise ValueError(
                f"session_items of row {pos} must hold integer product ids: {items!r}"
            )
        lists.append(np.asarray(items, dtype=np.int64))
    lengths = [len(x) for x in lists]
    ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    items = np.concatenate(lists) if lists else np.zeros(0, np.int64)
    return SessionData(ptr, items)


def recommend_frame(
    model: SessionModel, sessions: SessionData, top_n: int, threads: int | None = None
) -> pd.DataFrame:
    """Long table of recommendations for each session.

    Args:
        model: The fitted model.
        sessions: Sessions in progress.
        top_n: Recommendations per session.
        threads: Scoring threads.

    Returns:
        ``row, rank, product_id, score, source`` (rows without any item left out).
    """
    ids, scores, answered = model.recommend(sessions, top_n, threads=threads)
    n = len(ids)
    frame = pd.DataFrame(
        {
            "row": np.repeat(np.arange(n), top_n),
            "rank": np.tile(np.arange(1, top_n + 1, dtype=np.int32), n),
            "product_id": ids.reshape(-1),
            "score": scores.reshape(-1),
            "source": np.repeat(
                np.where(answered, SOURCE_SESSION, SOURCE_POPULAR), top_n
            ),
        }
    )
    return frame[frame["product_id"] >= 0].reset_index(drop=True)


class SessionRecommenderModel(mlflow.pyfunc.PythonModel):
    """Next-item recommendations for sessions in progress."""

    def load_context(self, context) -> None:
        """Loads the model folder.

        Args:
            context: MLflow's context with the artifact paths.
        """
        self._model = load_session_model(context.artifacts["session_model"])
        config = json.loads(open(context.artifacts["serving"]).read())  # noqa: PTH123
        self._top_n = int(config["top_n"])

    @property
    def model(self) -> SessionModel:
        """The fitted model (after ``load_context``)."""
        return self._model

    def predict(
        self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Top-n next products for each input session.

        Args:
            context: MLflow's context (unused).
            model_input: A frame with a ``session_items`` column.
            params: Optional ``{"k": n}``.

        Returns:
            The recommendations, best first per row.

        Raises:
            ValueError: No ``session_items`` column, or a value that is not a list of
                integer ids.
        """
        if "session_items" not in model_input.columns:
            raise ValueError(
                "The input needs a 'session_items' column (the product ids of each "
                f"session so far, in order); got columns {list(model_input.columns)}"
            )
        k = int((params or {}).get("k", self._top_n))
        sessions = sessions_from_lists(list(model_input["session_items"]))
        frame = recommend_frame(self._model, sessions, k)
        if "user_session" in model_input.columns:
            frame.insert(
                1, "user_session", model_input["user_session"].to_numpy()[frame["row"]]
            )
        return frame
