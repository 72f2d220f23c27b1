"""Scores a user's history against the neighbour lists, with a popularity fallback.

Pure numpy/pandas: the ``cf`` pipeline runs it inside ``mapInPandas`` tasks (one user
partition each), and the served MLflow model uses the same neighbour index.

A candidate's score is the weighted mean of its similarity to the products in the
user's history, ``sum_h w_h * sim(h, c) / sum_h w_h``, so it lies in [0, 1]. Slots the
history cannot fill are filled with the most popular products (score: popularity divided
by the top product's, also in [0, 1]), marked ``source = "popular"`` and ranked after
the personalised ones.

For evaluation, a user's own products can be scored too (``repeat``: each product's
recency-weighted engagement divided by the user's largest, in [0, 1]): the final score is
``(1 - w) * cosine + w * repeat``, so ``w = 0`` is item cosine alone, ``w = 1`` the
repeat baseline (the user's own products, most engaged first), and values between blend
the two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SOURCE_CF = "item_cosine"
SOURCE_POPULAR = "popular"
SOURCE_REPEAT = "repeat"
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
    repeat: tuple[np.ndarray, np.ndarray] | None = None,
    repeat_weight: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k products for one user.

    Args:
        history: Products the user engaged with.
        weights: Their (positive) engagement weights.
        excluded: Products never to recommend to this user.
        index: Neighbour lists.
        popular: Fallback list.
        k: How many to return.
        repeat: The user's own products and their (positive) recency-weighted
            engagement, for the repeat part of the score.
        repeat_weight: ``w`` in ``(1 - w) * cosine + w * repeat`` (0: item cosine).

    Returns:
        Product ids, scores and sources (``item_cosine`` or ``repeat``, whichever part
        gave more of the score, first, then ``popular``), at most ``k``; ties broken by
        the smaller product id.
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
    parts_ids: list[np.ndarray] = []
    parts_cf: list[np.ndarray] = []
    parts_rep: list[np.ndarray] = []
    if recs and total > 0 and repeat_weight < 1:
        parts_ids.append(np.concatenate(recs))
        parts_cf.append(np.concatenate(contrib) / total * (1 - repeat_weight))
        parts_rep.append(np.zeros(len(parts_ids[-1])))
    if repeat is not None and repeat_weight > 0:
        own, own_score = (np.asarray(a) for a in repeat)
        positive = own_score > 0
        if positive.any():
            own, own_score = own[positive].astype(np.int64), own_score[positive]
            parts_ids.append(own)
            parts_cf.append(np.zeros(len(own)))
            parts_rep.append(own_score / own_score.max() * repeat_weight)
    chosen = np.zeros(0, dtype=np.int64)
    chosen_score = np.zeros(0, dtype=np.float64)
    chosen_source = np.zeros(0, dtype=object)
    if parts_ids:
        candidates, inverse = np.unique(np.concatenate(parts_ids), return_inverse=True)
        cf_part = np.bincount(inverse, weights=np.concatenate(parts_cf))
        rep_part = np.bincount(inverse, weights=np.concatenate(parts_rep))
        summed = cf_part + rep_part
        keep = ~np.isin(candidates, excluded) & (summed > 0)
        order = np.lexsort((candidates[keep], -summed[keep]))[:k]
        chosen = candidates[keep][order]
        chosen_score = np.minimum(summed[keep][order], 1.0)
        chosen_source = np.where(
            rep_part[keep][order] > cf_part[keep][order], SOURCE_REPEAT, SOURCE_CF
        ).astype(object)
    sources = chosen_source
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
    users: pd.DataFrame,
    index: NeighbourIndex,
    popular: Popularity,
    k: int,
    repeat_weight: float = 0.0,
) -> pd.DataFrame:
    """Recommendations for a batch of users.

    Args:
        users: ``user_id, products, weights, excluded`` (one row per user, the last
            three as arrays), and ``repeat_products, repeat_scores`` where
            ``repeat_weight > 0``.
        index: Neighbour lists.
        popular: Fallback list.
        k: Recommendations per user.
        repeat_weight: See :func:`recommend`.

    Returns:
        ``user_id, rank, product_id, score, source``.
    """
    user_col: list[np.ndarray] = []
    rank_col: list[np.ndarray] = []
    id_col: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    score_col: list[np.ndarray] = [np.zeros(0, dtype=np.float64)]
    source_col: list[np.ndarray] = [np.zeros(0, dtype=object)]
    with_repeat = repeat_weight > 0
    no_repeat = [None] * len(users)
    for user_id, products, weights, excluded, own, own_scores in zip(
        users["user_id"],
        users["products"],
        users["weights"],
        users["excluded"],
        users["repeat_products"] if with_repeat else no_repeat,
        users["repeat_scores"] if with_repeat else no_repeat,
        strict=True,
    ):
        ids, scores, sources = recommend(
            _array(products),
            _array(weights),
            _array(excluded),
            index,
            popular,
            k,
            (_array(own), _array(own_scores)) if with_repeat else None,
            repeat_weight,
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
