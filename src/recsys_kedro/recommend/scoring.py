"""Scores a user's history against the neighbour lists, with a popularity fallback.

Pure numpy/pandas: the ``cf`` pipeline runs it inside ``mapInPandas`` tasks (one user
partition each), and the served MLflow model uses the same neighbour index.

A candidate's score is the weighted mean of its similarity to the products in the
user's history, ``sum_h w_h * sim(h, c) / sum_h w_h``, so it lies in [0, 1]. Slots the
history cannot fill are filled with the most popular products (score: popularity divided
by the top product's, also in [0, 1]), marked ``source = "popular"`` and ranked after
the personalised ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SOURCE_CF = "item_cosine"
SOURCE_POPULAR = "popular"
USER_REC_COLUMNS = ["user_id", "rank", "product_id", "score", "source"]


@dataclass(frozen=True)
class NeighbourIndex:
    """The long neighbour table as sorted arrays, for fast lookups of many products."""

    product_ids: np.ndarray
    offsets: np.ndarray
    rec_product_ids: np.ndarray
    scores: np.ndarray

    @classmethod
    def from_long(cls, frame: pd.DataFrame) -> NeighbourIndex:
        """Builds the index from ``product_id, rank, rec_product_id, score`` rows.

        Args:
            frame: The long neighbour table (any row order).

        Returns:
            The index.
        """
        frame = frame.sort_values(["product_id", "rank"], kind="stable")
        pids = frame["product_id"].to_numpy(np.int64)
        products, starts = np.unique(pids, return_index=True)
        return cls(
            product_ids=products,
            offsets=np.r_[starts, len(pids)].astype(np.int64),
            rec_product_ids=frame["rec_product_id"].to_numpy(np.int64),
            scores=frame["score"].to_numpy(np.float64),
        )

    def neighbours(self, product_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Neighbours of one product (empty arrays for an unknown one).

        Args:
            product_id: The product.

        Returns:
            Neighbour ids and scores, best first.
        """
        pos = np.searchsorted(self.product_ids, product_id)
        if pos >= len(self.product_ids) or self.product_ids[pos] != product_id:
            return self.rec_product_ids[:0], self.scores[:0]
        lo, hi = self.offsets[pos], self.offsets[pos + 1]
        return self.rec_product_ids[lo:hi], self.scores[lo:hi]


@dataclass(frozen=True)
class Popularity:
    """Popular products, best first, with scores in [0, 1]."""

    product_ids: np.ndarray
    scores: np.ndarray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Popularity:
        """Builds it from ``product_id, rank, score`` rows.

        Args:
            frame: The popular-products table.

        Returns:
            The popularity list.
        """
        frame = frame.sort_values("rank", kind="stable")
        return cls(
            frame["product_id"].to_numpy(np.int64),
            frame["score"].to_numpy(np.float64),
        )


def recommend(
    history: np.ndarray,
    weights: np.ndarray,
    excluded: np.ndarray,
    index: NeighbourIndex,
    popular: Popularity,
    k: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k products for one user.

    Args:
        history: Products the user engaged with.
        weights: Their (positive) engagement weights.
        excluded: Products never to recommend to this user.
        index: Neighbour lists.
        popular: Fallback list.
        k: How many to return.

    Returns:
        Product ids, scores and sources (``item_cosine`` first, then ``popular``), at
        most ``k``; ties broken by the smaller product id.
    """
    history = np.asarray(history, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float64)
    excluded = np.asarray(excluded, dtype=np.int64)
    recs: list[np.ndarray] = []
    contrib: list[np.ndarray] = []
    for product, weight in zip(history, weights, strict=True):
        if weight <= 0:
            continue
        rec, score = index.neighbours(product)
        recs.append(rec)
        contrib.append(score * weight)
    total = weights[weights > 0].sum()
    chosen = np.zeros(0, dtype=np.int64)
    chosen_score = np.zeros(0, dtype=np.float64)
    if recs and total > 0:
        all_recs = np.concatenate(recs)
        candidates, inverse = np.unique(all_recs, return_inverse=True)
        summed = np.bincount(inverse, weights=np.concatenate(contrib)) / total
        keep = ~np.isin(candidates, excluded) & (summed > 0)
        candidates, summed = candidates[keep], np.minimum(summed[keep], 1.0)
        order = np.lexsort((candidates, -summed))[:k]
        chosen, chosen_score = candidates[order], summed[order]
    sources = np.full(len(chosen), SOURCE_CF, dtype=object)
    missing = k - len(chosen)
    if missing > 0:
        fill = ~np.isin(popular.product_ids, np.r_[chosen, excluded])
        fill_ids = popular.product_ids[fill][:missing]
        fill_scores = popular.scores[fill][:missing]
        chosen = np.r_[chosen, fill_ids]
        chosen_score = np.r_[chosen_score, fill_scores]
        sources = np.r_[sources, np.full(len(fill_ids), SOURCE_POPULAR, dtype=object)]
    return chosen, chosen_score, sources


def recommend_batch(
    users: pd.DataFrame, index: NeighbourIndex, popular: Popularity, k: int
) -> pd.DataFrame:
    """Recommendations for a batch of users.

    Args:
        users: ``user_id, products, weights, excluded`` (one row per user, the last
            three as arrays).
        index: Neighbour lists.
        popular: Fallback list.
        k: Recommendations per user.

    Returns:
        ``user_id, rank, product_id, score, source``.
    """
    user_col: list[np.ndarray] = []
    rank_col: list[np.ndarray] = []
    id_col: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    score_col: list[np.ndarray] = [np.zeros(0, dtype=np.float64)]
    source_col: list[np.ndarray] = [np.zeros(0, dtype=object)]
    for user_id, products, weights, excluded in zip(
        users["user_id"],
        users["products"],
        users["weights"],
        users["excluded"],
        strict=True,
    ):
        ids, scores, sources = recommend(
            _array(products), _array(weights), _array(excluded), index, popular, k
        )
        user_col.append(np.full(len(ids), user_id, dtype=np.int64))
        rank_col.append(np.arange(1, len(ids) + 1, dtype=np.int32))
        id_col.append(ids.astype(np.int64))
        score_col.append(scores.astype(np.float64))
        source_col.append(sources)
    return pd.DataFrame(
        {
            "user_id": np.concatenate([np.zeros(0, dtype=np.int64), *user_col]),
            "rank": np.concatenate([np.zeros(0, dtype=np.int32), *rank_col]),
            "product_id": np.concatenate(id_col),
            "score": np.concatenate(score_col),
            "source": np.concatenate(source_col).astype(str),
        },
        columns=USER_REC_COLUMNS,
    )


def _array(value) -> np.ndarray:
    return np.zeros(0) if value is None else np.asarray(value)
