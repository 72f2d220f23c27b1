"""Scores a user's history against the neighbour lists, with a popularity fallback.

Pure numpy/scipy: the ``cf`` pipeline runs it inside ``mapInArrow`` tasks, one Arrow
batch of users at a time (:func:`recommend_batch`), and the served MLflow model uses the
same neighbour index. A batch is scored in whole-array operations, not user by user:
the weighted histories (a sparse users x products matrix) times the neighbour matrix
give every candidate's score, and each user's top k comes from a partition of their
row (:func:`score_batch`): about 33 us per user on one core against 167 us for the
earlier loop over users (``bench/bench_scoring.py``, docs/benchmarks.md).

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
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

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

    @cached_property
    def codes(self) -> np.ndarray:
        """Every product of the index (with or as a neighbour), sorted: the rows and
        columns of :attr:`matrix`."""
        return np.unique(np.r_[self.product_ids, self.rec_product_ids]).astype(np.int64)

    @cached_property
    def matrix(self) -> sparse.csr_matrix:
        """The neighbour lists as a sparse products x products matrix of scores."""
        rows = np.repeat(
            np.searchsorted(self.codes, self.product_ids), np.diff(self.offsets)
        )
        return sparse.csr_matrix(
            (self.scores, (rows, np.searchsorted(self.codes, self.rec_product_ids))),
            shape=(len(self.codes), len(self.codes)),
        )


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


@dataclass(frozen=True)
class Ragged:
    """Per-user variable-length arrays, flattened: user ``i`` owns
    ``values[offsets[i]:offsets[i + 1]]``."""

    offsets: np.ndarray
    values: np.ndarray

    @classmethod
    def from_arrow(cls, column: pa.Array, dtype) -> Ragged:
        """Flattens an Arrow list column (a null list: empty).

        Args:
            column: The list column.
            dtype: The values' numpy dtype.

        Returns:
            The flattened column.

        Raises:
            ValueError: A list holds a null value.
        """
        if pa.types.is_null(column.type):  # no list at all
            return cls(np.zeros(len(column) + 1, dtype=np.int64), np.zeros(0, dtype))
        lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy()
        values = pc.list_flatten(column)
        if values.null_count:
            raise ValueError(f"{values.null_count} null values inside the lists")
        flat = (
            np.zeros(0, dtype)
            if pa.types.is_null(values.type)
            else values.to_numpy(zero_copy_only=False).astype(dtype, copy=False)
        )
        return cls(np.r_[0, np.cumsum(lengths)].astype(np.int64), flat)

    @property
    def rows(self) -> np.ndarray:
        """The user (row position) of each value."""
        return np.repeat(
            np.arange(len(self.offsets) - 1, dtype=np.int64), np.diff(self.offsets)
        )


@dataclass(frozen=True)
class UserBatch:
    """The inputs of :func:`score_batch` for a batch of users, flattened.

    Attributes:
        history: Products each user engaged with.
        weights: Their engagement weights (aligned with ``history``; only positive
            ones count).
        excluded: Products never to recommend to each user.
        repeat: The user's own products for the repeat part of the score, or None.
        repeat_scores: Their recency-weighted engagement (aligned with ``repeat``;
            only positive ones count).
    """

    history: Ragged
    weights: Ragged
    excluded: Ragged
    repeat: Ragged | None = None
    repeat_scores: Ragged | None = None

    def __post_init__(self) -> None:
        n = len(self.history.offsets)
        pairs = [("products", self.history, "weights", self.weights)]
        if self.repeat is not None or self.repeat_scores is not None:
            if self.repeat is None or self.repeat_scores is None:
                raise ValueError("repeat products and repeat scores come together")
            pairs.append(
                ("repeat products", self.repeat, "repeat scores", self.repeat_scores)
            )
        for name, ids, other, values in pairs:
            if not np.array_equal(ids.offsets, values.offsets):
                raise ValueError(f"each user needs as many {other} as {name}")
        if len(self.excluded.offsets) != n:
            raise ValueError("excluded products need one list per user")

    @property
    def size(self) -> int:
        """Number of users."""
        return len(self.history.offsets) - 1


@dataclass(frozen=True)
class BatchRecommendations:
    """Top-k of a batch of users, ordered by user position then rank."""

    rows: np.ndarray
    ranks: np.ndarray
    product_ids: np.ndarray
    scores: np.ndarray
    sources: np.ndarray


def score_batch(
    users: UserBatch,
    index: NeighbourIndex,
    popular: Popularity,
    k: int,
    repeat_weight: float = 0.0,
) -> BatchRecommendations:
    """Top-k products for every user of a batch, in whole-array operations.

    Each user's candidates are the neighbours of their positive-weight products (score:
    ``(1 - w) * sum_h w_h * sim(h, c) / sum_h w_h``) and, where ``w > 0``, their own
    products (score: ``w * repeat / the user's largest repeat``). The two parts are
    sparse matrices (users x products; the first is the weighted histories times the
    neighbour matrix), summed; the excluded products and those scoring 0 are dropped and
    each user's k best kept. Scores are rounded to 12 decimals before ranking (and
    returned so), so sums that are equal but were added in another order tie, and ties
    go to the smaller product id. Missing
    slots are filled with the popular products the user was neither recommended nor
    excluded from, in popularity order.

    Args:
        users: The batch's histories, exclusions and repeat products.
        index: Neighbour lists.
        popular: Fallback list.
        k: How many per user.
        repeat_weight: ``w`` (0: item cosine alone; 1: the repeat baseline).

    Returns:
        Per user at most ``k`` rows; the source of a row is ``repeat`` or
        ``item_cosine`` (whichever part gave more of its score), or ``popular``.
    """
    n = users.size
    columns = _Columns(index.codes, users)
    shape = (n, len(columns.ids))
    cf = rep = None
    if repeat_weight < 1 and index.matrix.nnz:
        weighted = _weighted_histories(users, index, shape, 1 - repeat_weight)
        product = (weighted @ index.matrix).tocsr()
        # the batch's own products (columns after the index's) get no cosine score
        cf = sparse.csr_matrix(
            (product.data, product.indices, product.indptr), shape=shape
        )
    if users.repeat is not None and repeat_weight > 0:
        rep = _repeat_scores(users, columns, shape, repeat_weight)
    parts = [m for m in (cf, rep) if m is not None]
    total = (parts[0] + parts[1] if len(parts) == 2 else parts[0]) if parts else None
    total = sparse.csr_matrix(shape) if total is None else total.tocsr()
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(total.indptr))
    positive = total.data > 0
    chosen = _top_per_row(
        rows[positive],
        total.indices[positive],
        total.data[positive],
        columns,
        users.excluded,
        k,
    )
    rep_at = _values_at(rep, chosen.rows, chosen.columns)
    cf_at = np.zeros(len(rep_at))
    mixed = np.flatnonzero(rep_at > 0)
    cf_at[mixed] = _values_at(cf, chosen.rows[mixed], chosen.columns[mixed])
    chosen = BatchRecommendations(
        rows=chosen.rows,
        ranks=chosen.ranks,
        product_ids=chosen.product_ids,
        scores=chosen.scores,
        sources=np.where(rep_at > cf_at, SOURCE_REPEAT, SOURCE_CF).astype(object),
    )
    fill = _popular_fill(n, chosen, users.excluded, popular, k)

    def both(name: str) -> np.ndarray:
        return np.concatenate([getattr(chosen, name), getattr(fill, name)])

    rows = both("rows")
    order = np.lexsort((both("ranks"), rows))
    return BatchRecommendations(
        rows=rows[order],
        ranks=both("ranks")[order].astype(np.int32),
        product_ids=both("product_ids")[order].astype(np.int64),
        scores=both("scores")[order].astype(np.float64),
        sources=both("sources")[order],
    )


class _Columns:
    """The batch's product columns: the neighbour index's products (sorted ids), then
    the batch's other repeat and excluded products."""

    def __init__(self, codes: np.ndarray, users: UserBatch) -> None:
        own = [users.excluded.values]
        if users.repeat is not None:
            own.append(users.repeat.values)
        others = np.concatenate(own).astype(np.int64)
        self._codes = codes
        self._extra = np.unique(others[~_member(codes, others)])
        self.ids = np.concatenate([codes, self._extra]).astype(np.int64)

    def of(self, ids: np.ndarray) -> np.ndarray:
        """Column of each id (every id must be an index or batch product)."""
        ids = np.asarray(ids, dtype=np.int64)
        known = _member(self._codes, ids)
        out = np.searchsorted(self._codes, ids)
        out[~known] = len(self._codes) + np.searchsorted(self._extra, ids[~known])
        return out


def _member(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Whether each id is in the sorted array."""
    if len(sorted_ids) == 0:
        return np.zeros(len(ids), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return sorted_ids[at] == ids


def _weighted_histories(
    users: UserBatch, index: NeighbourIndex, shape: tuple[int, int], scale: float
) -> sparse.csr_matrix:
    """Users x index products: ``scale`` x each positive weight over the user's
    positive total (products without neighbours left out)."""
    rows = users.history.rows
    products = users.history.values.astype(np.int64)
    weights = users.weights.values.astype(np.float64)
    positive = weights > 0
    rows, products, weights = rows[positive], products[positive], weights[positive]
    total = np.bincount(rows, weights=weights, minlength=users.size)
    known = _member(index.codes, products)
    rows, products, weights = rows[known], products[known], weights[known]
    return sparse.csr_matrix(
        (
            weights / total[rows] * scale,
            (rows, np.searchsorted(index.codes, products)),
        ),
        shape=(shape[0], len(index.codes)),
    )


def _repeat_scores(
    users: UserBatch, columns: _Columns, shape: tuple[int, int], scale: float
) -> sparse.csr_matrix:
    """Users x products: ``scale`` x each positive repeat score over the user's
    largest."""
    rows = users.repeat.rows
    scores = users.repeat_scores.values.astype(np.float64)
    positive = scores > 0
    rows, scores = rows[positive], scores[positive]
    ids = users.repeat.values[positive]
    largest = np.zeros(users.size)
    np.maximum.at(largest, rows, scores)
    return sparse.csr_matrix(
        (scores / largest[rows] * scale, (rows, columns.of(ids))), shape=shape
    )


def _values_at(
    matrix: sparse.csr_matrix | None, rows: np.ndarray, columns: np.ndarray
) -> np.ndarray:
    """The matrix's entries at (row, column) pairs (0 where none is stored)."""
    if matrix is None or len(rows) == 0:
        return np.zeros(len(rows))
    return np.asarray(matrix[rows, columns]).ravel()


@dataclass(frozen=True)
class _Chosen:
    rows: np.ndarray
    ranks: np.ndarray
    columns: np.ndarray
    product_ids: np.ndarray
    scores: np.ndarray


def _top_per_row(
    rows: np.ndarray,
    columns: np.ndarray,
    scores: np.ndarray,
    products: _Columns,
    excluded: Ragged,
    k: int,
) -> _Chosen:
    """Each row's k largest entries that are not excluded (rounded to 12 decimals,
    ties: the smaller id).

    A row with ``e`` excluded products keeps its entries at or above its ``(k + e)``-th
    largest value (found by one ``np.partition`` per group of rows of similar length
    and the same ``k + e``, padded to the group's longest), so at least ``k`` remain
    once the excluded are dropped; only those are sorted.

    Args:
        rows: Row of each entry, ascending.
        columns: Column of each entry.
        scores: Value of each entry.
        products: The columns' products.
        excluded: Each row's excluded products.
        k: Entries per row.
    """
    n = len(excluded.offsets) - 1
    values = np.round(scores, 12)
    counts = np.bincount(rows, minlength=n)
    starts = np.cumsum(counts) - counts
    kth = k + np.diff(excluded.offsets)
    threshold = np.full(n, -np.inf)
    long_rows = np.flatnonzero(counts > kth)
    if len(long_rows):
        group_of = np.ceil(np.log2(counts[long_rows])).astype(np.int64) << 32
        group_of += kth[long_rows]
        for group_key in np.unique(group_of):
            group = long_rows[group_of == group_key]
            lengths = counts[group]
            padded = np.full((len(group), int(lengths.max())), np.inf)
            at = np.arange(lengths.sum()) - np.repeat(
                np.cumsum(lengths) - lengths, lengths
            )
            padded[np.repeat(np.arange(len(group)), lengths), at] = -values[
                np.repeat(starts[group], lengths) + at
            ]
            nth = int(kth[group[0]]) - 1
            threshold[group] = -np.partition(padded, nth, axis=1)[:, nth]
    keep = values >= threshold[rows]
    rows, columns, values, scores = (
        rows[keep],
        columns[keep],
        values[keep],
        scores[keep],
    )
    width = len(products.ids)
    excluded_keys = np.unique(excluded.rows * width + products.of(excluded.values))
    allowed = ~_member(excluded_keys, rows * width + columns)
    rows, columns, values, scores = (
        rows[allowed],
        columns[allowed],
        values[allowed],
        scores[allowed],
    )
    product_ids = products.ids[columns]
    order = np.lexsort((product_ids, -values, rows))
    rows = rows[order]
    ranks = np.arange(len(rows)) - np.searchsorted(rows, rows) + 1
    top = ranks <= k
    order = order[top]
    return _Chosen(
        rows=rows[top],
        ranks=ranks[top],
        columns=columns[order],
        product_ids=product_ids[order],
        # the ranked (rounded) values, so scores never rise with rank
        scores=np.minimum(values[order], 1.0),
    )


def _popular_fill(
    n: int,
    chosen: BatchRecommendations,
    excluded: Ragged,
    popular: Popularity,
    k: int,
) -> BatchRecommendations:
    """For each row with fewer than k recommendations, the popular products it was
    neither recommended nor excluded from, in popularity order."""
    missing = k - np.bincount(chosen.rows, minlength=n)
    short = np.flatnonzero(missing > 0)
    pool = len(popular.product_ids)
    empty = BatchRecommendations(
        *(np.zeros(0, np.int64),) * 3, np.zeros(0), np.zeros(0, dtype=object)
    )
    if pool == 0 or len(short) == 0:
        return empty
    slot = np.full(n, -1, dtype=np.int64)
    slot[short] = np.arange(len(short))
    by_id = np.argsort(popular.product_ids, kind="stable")
    sorted_ids = popular.product_ids[by_id]
    blocked = np.zeros((len(short), pool), dtype=bool)
    for rows, ids in (
        (chosen.rows, chosen.product_ids),
        (excluded.rows, excluded.values),
    ):
        at = np.searchsorted(sorted_ids, ids)
        clipped = np.minimum(at, pool - 1)
        hit = (at < pool) & (sorted_ids[clipped] == ids) & (slot[rows] >= 0)
        blocked[slot[rows[hit]], by_id[clipped[hit]]] = True
    free = ~blocked
    taken = np.cumsum(free, axis=1)
    take = free & (taken <= missing[short][:, None])
    which, position = np.nonzero(take)
    rows = short[which]
    done = k - missing[short][which]
    return BatchRecommendations(
        rows=rows,
        ranks=done + taken[which, position],
        product_ids=popular.product_ids[position],
        scores=popular.scores[position],
        sources=np.full(len(rows), SOURCE_POPULAR, dtype=object),
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
    """Top-k products for one user (:func:`score_batch` for a batch of one).

    Args:
        history: Products the user engaged with.
        weights: Their engagement weights (only positive ones count).
        excluded: Products never to recommend to this user.
        index: Neighbour lists.
        popular: Fallback list.
        k: How many to return.
        repeat: The user's own products and their recency-weighted engagement, for
            the repeat part of the score.
        repeat_weight: ``w`` in ``(1 - w) * cosine + w * repeat`` (0: item cosine).

    Returns:
        Product ids, scores and sources, at most ``k``, best first.
    """

    def one(values, dtype) -> Ragged:
        values = np.asarray(values, dtype=dtype)
        return Ragged(np.array([0, len(values)], dtype=np.int64), values)

    batch = UserBatch(
        history=one(history, np.int64),
        weights=one(weights, np.float64),
        excluded=one(excluded, np.int64),
        repeat=None if repeat is None else one(repeat[0], np.int64),
        repeat_scores=None if repeat is None else one(repeat[1], np.float64),
    )
    out = score_batch(batch, index, popular, k, repeat_weight)
    return out.product_ids, out.scores, out.sources


def recommend_batch(
    users: pa.RecordBatch | pd.DataFrame,
    index: NeighbourIndex,
    popular: Popularity,
    k: int,
    repeat_weight: float = 0.0,
) -> pa.RecordBatch:
    """Recommendations for a batch of users (the body of the ``mapInArrow`` tasks).

    Args:
        users: ``user_id, products, weights, excluded`` (one row per user, the last
            three lists), and ``repeat_products, repeat_scores`` where
            ``repeat_weight > 0``.
        index: Neighbour lists.
        popular: Fallback list.
        k: Recommendations per user.
        repeat_weight: See :func:`score_batch`.

    Returns:
        ``user_id, rank, product_id, score, source``.

    Raises:
        ValueError: A column is missing, a list holds a null, or a user's lists of
            products and their weights (or scores) differ in length.
    """
    if isinstance(users, pd.DataFrame):
        users = pa.RecordBatch.from_pandas(users, preserve_index=False)
    with_repeat = repeat_weight > 0
    needed = ["user_id", "products", "weights", "excluded"]
    needed += ["repeat_products", "repeat_scores"] if with_repeat else []
    missing = [c for c in needed if c not in users.schema.names]
    if missing:
        raise ValueError(f"The users' batch lacks the columns {missing}")

    def flat(name: str, dtype) -> Ragged:
        return Ragged.from_arrow(users.column(name), dtype)

    batch = UserBatch(
        history=flat("products", np.int64),
        weights=flat("weights", np.float64),
        excluded=flat("excluded", np.int64),
        repeat=flat("repeat_products", np.int64) if with_repeat else None,
        repeat_scores=flat("repeat_scores", np.float64) if with_repeat else None,
    )
    out = score_batch(batch, index, popular, k, repeat_weight)
    user_ids = users.column("user_id").to_numpy(zero_copy_only=False)
    return pa.RecordBatch.from_arrays(
        [
            pa.array(user_ids.astype(np.int64)[out.rows], pa.int64()),
            pa.array(out.ranks, pa.int32()),
            pa.array(out.product_ids, pa.int64()),
            pa.array(out.scores, pa.float64()),
            pa.array(out.sources.astype(str), pa.string()),
        ],
        names=USER_REC_COLUMNS,
    )
