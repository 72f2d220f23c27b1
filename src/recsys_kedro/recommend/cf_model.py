"""The fitted recommender as an MLflow pyfunc model.

Artifacts (written by :class:`recsys_kedro.datasets.MlflowRecommenderModelDataset`):
``neighbours`` (long neighbour table), ``popular`` (fallback list),
``user_recommendations`` (per-user top-k, parquet, read with a filter so only the asked
users are loaded) and ``config`` (``{"top_k": k}``).

Input: a frame with a ``user_id`` column or a ``product_id`` column. Output, per query id
and rank: ``user_id, rank, product_id, score, source`` for users, ``product_id, rank,
rec_product_id, score, source`` for products. Unknown ids get the popular products
(``source = "popular"``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as pads

from recsys_kedro.recommend.scoring import (
    SOURCE_CF,
    SOURCE_POPULAR,
    NeighbourIndex,
    Popularity,
)

ARTIFACTS = ("neighbours", "popular", "user_recommendations", "config")


class RecommenderModel(mlflow.pyfunc.PythonModel):
    """Item-item cosine neighbours with a popularity fallback."""

    def load_context(self, context) -> None:
        """Loads the neighbour index and popular list; opens the user table lazily.

        Args:
            context: MLflow's context with the artifact paths.
        """
        art = context.artifacts
        self._index = NeighbourIndex.from_long(pd.read_parquet(art["neighbours"]))
        self._popular = Popularity.from_frame(pd.read_parquet(art["popular"]))
        self._users = pads.dataset(art["user_recommendations"], format="parquet")
        self._top_k = int(json.loads(Path(art["config"]).read_text())["top_k"])

    def predict(
        self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Top-k products for each user id or product id of the input.

        Args:
            context: MLflow's context (unused).
            model_input: A frame with exactly one of ``user_id`` and ``product_id``.
            params: Optional ``{"k": n}`` (at most the fitted top-k for users).

        Returns:
            The recommendations, best first per query id.

        Raises:
            ValueError: The input has neither or both id columns, or non-integer ids.
        """
        k = int((params or {}).get("k", self._top_k))
        has = [c for c in ("user_id", "product_id") if c in model_input.columns]
        if len(has) != 1:
            raise ValueError(
                "The input must have exactly one of the columns 'user_id' and "
                f"'product_id'; got columns {list(model_input.columns)}"
            )
        try:
            ids = pd.to_numeric(model_input[has[0]], errors="raise").astype(np.int64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"'{has[0]}' must hold integer ids: {exc}") from exc
        if has[0] == "user_id":
            return self._for_users(ids.to_numpy(), k)
        return self._for_products(ids.to_numpy(), k)

    def _popular_rows(
        self, exclude: int | None, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        keep = self._popular.product_ids != exclude
        return self._popular.product_ids[keep][:k], self._popular.scores[keep][:k]

    def _for_products(self, ids: np.ndarray, k: int) -> pd.DataFrame:
        parts = []
        for pid in ids:
            recs, scores = self._index.neighbours(int(pid))
            source = SOURCE_CF
            if len(recs) == 0:
                recs, scores = self._popular_rows(int(pid), k)
                source = SOURCE_POPULAR
            recs, scores = recs[:k], scores[:k]
            parts.append(
                pd.DataFrame(
                    {
                        "product_id": np.int64(pid),
                        "rank": np.arange(1, len(recs) + 1, dtype=np.int32),
                        "rec_product_id": recs,
                        "score": scores,
                        "source": source,
                    }
                )
            )
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def _for_users(self, ids: np.ndarray, k: int) -> pd.DataFrame:
        wanted = np.unique(ids)
        found = (
            self._users.to_table(filter=pc.field("user_id").isin(wanted.tolist()))
            .to_pandas()
            .sort_values(["user_id", "rank"])
        )
        found = found[found["rank"] <= k]
        by_user = dict(tuple(found.groupby("user_id", sort=False)))
        parts = []
        for uid in ids:
            rows = by_user.get(int(uid))
            if rows is None:
                recs, scores = self._popular_rows(None, k)
                rows = pd.DataFrame(
                    {
                        "user_id": np.int64(uid),
                        "rank": np.arange(1, len(recs) + 1, dtype=np.int32),
                        "product_id": recs,
                        "score": scores,
                        "source": SOURCE_POPULAR,
                    }
                )
            parts.append(rows)
        columns = ["user_id", "rank", "product_id", "score", "source"]
        if not parts:
            return pd.DataFrame(columns=columns)
        return pd.concat(parts, ignore_index=True)[columns]
