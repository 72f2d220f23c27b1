"""The fitted next-item model: sparse indexes over training sessions, no Kedro, no Spark.

A :class:`SessionIndex` holds, for training sessions in time order (oldest first):

- ``session -> items``: each session's product sequence (CSR: ``sess_ptr``, ``sess_items``);
- ``item -> sessions``: the distinct sessions holding each item, newest first, with the
  item's last position there (CSR: ``item_ptr``, ``item_sess``, ``item_pos``);
- ``item -> following items``: sequential rules, the items that follow an item within
  ``rule_steps`` clicks of a session, weighted ``1 / distance`` (CSR: ``rule_ptr``,
  ``rule_items``, ``rule_weights``), pruned to the ``rule_top_n`` strongest per item;
- per item: the number of sessions holding it (for IDF) and its clicks overall and in the
  most recent sessions (popularity).

Everything is sparse: memory grows with clicks plus items x ``rule_top_n``, never with
items x items or sessions x sessions. Items are numbered ``0 .. n_items - 1`` internally
(``item_ids[i]`` is item ``i``'s external id).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


class SessionDataError(ValueError):
    """Session data that cannot make a model (empty, or not in the expected shape)."""


@dataclass(frozen=True)
class SessionIndex:
    """Sparse indexes over the training sessions (see the module docstring)."""

    item_ids: np.ndarray
    sess_ptr: np.ndarray
    sess_items: np.ndarray
    item_ptr: np.ndarray
    item_sess: np.ndarray
    item_pos: np.ndarray
    rule_ptr: np.ndarray
    rule_items: np.ndarray
    rule_weights: np.ndarray
    next_ptr: np.ndarray
    next_items: np.ndarray
    next_weights: np.ndarray
    co_ptr: np.ndarray
    co_items: np.ndarray
    co_weights: np.ndarray
    idf: np.ndarray
    clicks: np.ndarray
    recent_clicks: np.ndarray

    @property
    def n_items(self) -> int:
        """Number of distinct training items."""
        return int(len(self.item_ids))

    @property
    def n_sessions(self) -> int:
        """Number of training sessions."""
        return int(len(self.sess_ptr) - 1)

    def to_internal(self, external: np.ndarray) -> np.ndarray:
        """Maps external item ids to internal ones; unknown ids become ``-1``.

        Args:
            external: External item ids.

        Returns:
            ``int32`` internal ids, ``-1`` where the item never occurs in training.
        """
        external = np.asarray(external, dtype=np.int64)
        pos = np.searchsorted(self.item_ids, external)
        pos = np.minimum(pos, max(self.n_items - 1, 0))
        found = self.item_ids[pos] == external if self.n_items else pos < 0
        return np.where(found, pos, -1).astype(np.int32)


def build_index(
    session_ptr: np.ndarray,
    items: np.ndarray,
    *,
    rule_steps: int = 10,
    rule_top_n: int = 200,
    co_steps: int = 20,
    recent_sessions: float = 0.1,
) -> SessionIndex:
    """Builds the indexes from training sessions.

    Args:
        session_ptr: ``n_sessions + 1`` offsets into ``items``; session ``s`` is
            ``items[session_ptr[s]:session_ptr[s + 1]]``, sessions in time order
            (oldest first).
        items: External item ids, each session's clicks in order.
        rule_steps: Furthest distance (in clicks) a sequential rule spans.
        rule_top_n: Strongest rules (and co-occurrences, and 1-step transitions) kept
            per item (0: all).
        co_steps: Furthest distance (in clicks) two items co-occur at.
        recent_sessions: Share of the newest sessions counted as "recent" for the
            recent-popularity baseline.

    Returns:
        The fitted :class:`SessionIndex`.

    Raises:
        SessionDataError: No sessions, an empty session, or offsets that do not fit.
    """
    session_ptr = np.asarray(session_ptr, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    if len(session_ptr) < 2 or len(items) == 0:
        raise SessionDataError("No training sessions: the model needs at least one")
    if session_ptr[0] != 0 or session_ptr[-1] != len(items):
        raise SessionDataError("session_ptr must start at 0 and end at len(items)")
    lengths = np.diff(session_ptr)
    if (lengths <= 0).any():
        raise SessionDataError("Every training session needs at least one item")
    n_sess = len(lengths)
    item_ids, internal = np.unique(items, return_inverse=True)
    internal = internal.astype(np.int32)
    n_items = len(item_ids)
    sess_of = np.repeat(np.arange(n_sess, dtype=np.int32), lengths)
    pos = (np.arange(len(items)) - np.repeat(session_ptr[:-1], lengths)).astype(
        np.int32
    )

    # item -> sessions (newest first), with the item's last position in the session.
    order = np.lexsort((-pos, -sess_of.astype(np.int64), internal))
    it_sorted, s_sorted, p_sorted = internal[order], sess_of[order], pos[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (it_sorted[1:] != it_sorted[:-1]) | (s_sorted[1:] != s_sorted[:-1])
    item_sess, item_pos = s_sorted[first], p_sorted[first]
    df = np.bincount(it_sorted[first], minlength=n_items)
    item_ptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
    idf = np.log(n_sess / df)
    idf = idf / idf.max() if idf.max() > 0 else np.zeros(n_items)

    clicks = np.bincount(internal, minlength=n_items).astype(np.float64)
    newest = max(1, int(np.ceil(n_sess * recent_sessions)))
    recent = sess_of >= n_sess - newest
    recent_clicks = np.bincount(internal[recent], minlength=n_items).astype(np.float64)

    rule_ptr, rule_items, rule_weights = _top_n_per_row(
        _pairs(internal, sess_of, n_items, rule_steps, both=False, div=True),
        rule_top_n,
    )
    next_ptr, next_items, next_weights = _top_n_per_row(
        _pairs(internal, sess_of, n_items, 1, both=False, div=False), rule_top_n
    )
    co = _pairs(internal, sess_of, n_items, co_steps, both=True, div=False)
    co = co.tocoo()
    norm = np.sqrt(df[co.row].astype(np.float64) * df[co.col])
    co = sp.csr_matrix((co.data / norm, (co.row, co.col)), shape=co.shape)
    co_ptr, co_items, co_weights = _top_n_per_row(co, rule_top_n)
    return SessionIndex(
        item_ids=item_ids.astype(np.int64),
        sess_ptr=session_ptr,
        sess_items=internal,
        item_ptr=item_ptr,
        item_sess=item_sess.astype(np.int32),
        item_pos=item_pos.astype(np.int32),
        rule_ptr=rule_ptr,
        rule_items=rule_items,
        rule_weights=rule_weights,
        next_ptr=next_ptr,
        next_items=next_items,
        next_weights=next_weights,
        co_ptr=co_ptr,
        co_items=co_items,
        co_weights=co_weights,
        idf=idf.astype(np.float64),
        clicks=clicks,
        recent_clicks=recent_clicks,
    )


def _pairs(
    internal: np.ndarray,
    sess_of: np.ndarray,
    n_items: int,
    steps: int,
    *,
    both: bool,
    div: bool,
) -> sp.csr_matrix:
    """Sums a weight over every pair (a, b) of items ``d <= steps`` clicks apart.

    Args:
        internal: Internal item ids of all clicks, sessions in order.
        sess_of: The session of each click.
        n_items: Number of items.
        steps: Furthest distance.
        both: Count (b, a) too (co-occurrence); else only a before b (rules).
        div: Weigh a pair ``1 / d``; else 1.

    Returns:
        The summed ``n_items x n_items`` sparse matrix (pairs of an item with itself
        left out).
    """
    rows, cols, vals = [], [], []
    for d in range(1, max(1, steps) + 1):
        if d >= len(internal):
            break
        same = sess_of[d:] == sess_of[:-d]
        a, b = internal[:-d][same], internal[d:][same]
        keep = a != b
        a, b = a[keep], b[keep]
        w = np.full(len(a), 1.0 / d if div else 1.0)
        rows.append(a)
        cols.append(b)
        vals.append(w)
        if both:
            rows.append(b)
            cols.append(a)
            vals.append(w)
    if rows:
        r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    else:
        r = c = np.zeros(0, dtype=np.int32)
        v = np.zeros(0)
    mat = sp.csr_matrix((v, (r, c)), shape=(n_items, n_items))
    mat.sum_duplicates()
    return mat


def _top_n_per_row(
    mat: sp.csr_matrix, top_n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keeps the ``top_n`` largest entries of each row, largest first.

    Args:
        mat: A CSR matrix with summed duplicates.
        top_n: Entries kept per row (0: all).

    Returns:
        Offsets, column indices and values.
    """
    n_rows = mat.shape[0]
    row_of = np.repeat(np.arange(n_rows), np.diff(mat.indptr))
    order = np.lexsort((mat.indices, -mat.data, row_of))
    cols, vals, row_sorted = mat.indices[order], mat.data[order], row_of[order]
    rank = np.arange(len(order)) - np.repeat(mat.indptr[:-1], np.diff(mat.indptr))
    keep = rank < top_n if top_n > 0 else np.ones(len(order), dtype=bool)
    counts = np.bincount(row_sorted[keep], minlength=n_rows)
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return ptr, cols[keep].astype(np.int32), vals[keep].astype(np.float64)
