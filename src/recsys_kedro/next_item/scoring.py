"""Scores every item for a session in progress: session kNN, sequential rules, reminders.

The kernels are compiled with numba (``cache=True``): a case (the first k items of a
session) touches only the sessions that share an item with it and the rules of its last
items, so its cost grows with the popularity of its items, not with the data. Cases run
in parallel threads (the kernels release the GIL).

Components of the score of item ``j`` for the current session ``q`` (length ``L``):

- **session kNN** (the V-SkNN family). Item ``q[p]`` weighs ``((p + 1) / L) **
  pos_power`` (its latest occurrence). Candidate neighbours are the training sessions
  sharing an item with ``q``, the ``sample_size`` most recent of them. Similarity
  ``sim(n) = sum of the weights of the shared items``, times ``exp(-age(n) / recency)``
  (age: the share of training sessions newer than ``n``; off at 0) and divided by
  ``len(n) ** length_norm``. The ``k`` most similar neighbours each add, for every item
  ``j`` they hold, ``sim(n) * match(n) * near(j, n) * (1 + idf_weight * idf(j))`` where
  ``match(n) = 1 / step ** match_power`` (``step``: 1 + how many clicks ago ``q`` last
  shared an item with ``n``) and ``near(j, n) = 1 / d ** nb_power`` for an item ``d``
  clicks after that shared item in ``n``, ``nb_before / d ** nb_power`` for one ``d``
  clicks before it and ``nb_self`` for the shared item itself (an item counts once per
  neighbour, at its best weight).
- **sequential rules**: ``sum over the last sr_len items q[L-1-h] of sr_decay ** h *
  rule(q[L-1-h], j)``.
- **reminders**: ``sum over the occurrences of j in q of rem_decay ** (L - 1 - p)``.

The blend is ``w_knn * knn / max(knn) + w_sr * sr / max(sr) + w_rem * rem + w_pop * pop /
max(pop)``; items no component reaches keep only the popularity term. The rank of an
item counts every other item whose score is at least as high (ties count against it).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numba import njit

from recsys_kedro.next_item.index import SessionIndex

# Layout of the component parameter vector handed to the kernels.
PARAM_NAMES = (
    "k",
    "sample_size",
    "pos_power",
    "match_power",
    "idf_weight",
    "nb_power",
    "nb_before",
    "nb_self",
    "recency",
    "length_norm",
    "sr_len",
    "sr_decay",
    "rem_decay",
)
WEIGHT_NAMES = ("knn", "sr", "rem", "pop")
MISS_RANK = 1 << 40
"""Rank of a target the model cannot rank (an item never seen in training): a miss at
any list length."""


@dataclass(frozen=True)
class Cases:
    """Sessions to score, CSR: ``items[ptr[i]:ptr[i + 1]]`` is session ``i``.

    With ``all_prefixes``, session ``i`` gives one case per prefix length ``k =
    1 .. len - 1`` whose target is item ``k``; otherwise one case, the whole session,
    without a target. Items are internal ids (``-1``: unknown to the model, skipped).
    """

    ptr: np.ndarray
    items: np.ndarray
    all_prefixes: bool

    @property
    def case_ptr(self) -> np.ndarray:
        """Offset of each session's first case."""
        lengths = np.diff(self.ptr)
        per = np.maximum(lengths - 1, 0) if self.all_prefixes else np.ones_like(lengths)
        return np.concatenate([[0], np.cumsum(per)]).astype(np.int64)

    @property
    def n_cases(self) -> int:
        """Number of cases."""
        return int(self.case_ptr[-1])


@njit(cache=True)
def _case_scores(  # noqa: PLR0912, PLR0913, PLR0914, PLR0915, PLR0917 - a numba kernel takes arrays
    q,
    sess_ptr,
    sess_items,
    item_ptr,
    item_sess,
    item_pos,
    rule_ptr,
    rule_items,
    rule_weights,
    idf,
    prm,
    scratch_i,
    scratch_f,
    s_mark,
    s_sim,
    s_mq,
    s_mn,
    touched,
    i_mark,
    knn,
    sr,
    rem,
    sup,
    cand,
    nb_mark,
    nb_w,
    q_w,
    q_mark,
    stamp,
):
    """Fills ``knn``, ``sr``, ``rem``, ``sup`` for the case ``q``; returns the count.

    ``sup[j]`` is the number of neighbours holding ``j``.

    ``stamp`` must grow by one per call: marks older than it read as empty, so the dense
    scratch arrays never need clearing.
    """
    n_sess = len(sess_ptr) - 1
    k = int(prm[0])
    sample = int(prm[1])
    length = len(q)
    n_cand = 0
    # Weights of the items of q (latest occurrence) and the reminder scores.
    n_q = 0
    for p in range(length):
        it = q[p]
        w = ((p + 1.0) / length) ** prm[2]
        if q_mark[it] != stamp:
            q_mark[it] = stamp
            scratch_i[n_q] = it
            n_q += 1
        q_w[it] = w
        scratch_f[it] = p  # latest position of it in q
        if i_mark[it] != stamp:
            i_mark[it] = stamp
            knn[it] = 0.0
            sr[it] = 0.0
            rem[it] = 0.0
            sup[it] = 0.0
            cand[n_cand] = it
            n_cand += 1
        rem[it] += prm[12] ** (length - 1 - p)
    # Candidate neighbours: sessions sharing an item, the most recent `sample`.
    n_t = 0
    for a in range(n_q if k > 0 else 0):
        it = scratch_i[a]
        w = q_w[it]
        qp = scratch_f[it]
        stop = min(item_ptr[it + 1], item_ptr[it] + sample)
        for j in range(item_ptr[it], stop):
            s = item_sess[j]
            if s_mark[s] != stamp:
                s_mark[s] = stamp
                s_sim[s] = 0.0
                s_mq[s] = -1
                touched[n_t] = s
                n_t += 1
            s_sim[s] += w
            if qp > s_mq[s]:
                s_mq[s] = qp
                s_mn[s] = item_pos[j]
    if n_t > sample:
        newest = np.sort(touched[:n_t])[n_t - sample]
        m = 0
        for a in range(n_t):
            if touched[a] >= newest:
                touched[m] = touched[a]
                m += 1
        n_t = m
    if n_t > 0:
        adj = np.empty(n_t)
        for a in range(n_t):
            s = touched[a]
            v = s_sim[s]
            if prm[8] > 0:
                v *= np.exp(-((n_sess - 1 - s) / n_sess) / prm[8])
            if prm[9] > 0:
                v /= (sess_ptr[s + 1] - sess_ptr[s]) ** prm[9]
            adj[a] = v
        if n_t > k:
            cut = np.partition(adj.copy(), n_t - k)[n_t - k]
        else:
            cut = -1.0
        nb_stamp = 0
        taken = 0
        for a in range(n_t):
            if adj[a] < cut or taken >= k:
                continue
            taken += 1
            s = touched[a]
            step = length - s_mq[s]
            base = adj[a] / step ** prm[3]
            m0 = s_mn[s]
            start = sess_ptr[s]
            nb_stamp += 1
            # best weight per distinct item of the neighbour
            for b in range(start, sess_ptr[s + 1]):
                it = sess_items[b]
                d = (b - start) - m0
                if d == 0:
                    w = prm[7]
                elif d > 0:
                    w = 1.0 / d ** prm[5]
                else:
                    w = prm[6] / (-d) ** prm[5]
                if nb_mark[it] != nb_stamp + stamp * 1_000_003:
                    nb_mark[it] = nb_stamp + stamp * 1_000_003
                    nb_w[it] = w
                elif w > nb_w[it]:
                    nb_w[it] = w
            for b in range(start, sess_ptr[s + 1]):
                it = sess_items[b]
                if nb_mark[it] != nb_stamp + stamp * 1_000_003:
                    continue
                nb_mark[it] = -1
                if i_mark[it] != stamp:
                    i_mark[it] = stamp
                    knn[it] = 0.0
                    sr[it] = 0.0
                    rem[it] = 0.0
                    sup[it] = 0.0
                    cand[n_cand] = it
                    n_cand += 1
                sup[it] += 1.0
                knn[it] += base * nb_w[it] * (1.0 + prm[4] * idf[it])
    # Sequential rules of the last sr_len items.
    for h in range(min(int(prm[10]), length)):
        it = q[length - 1 - h]
        wh = prm[11] ** h
        for j in range(rule_ptr[it], rule_ptr[it + 1]):
            tgt = rule_items[j]
            if i_mark[tgt] != stamp:
                i_mark[tgt] = stamp
                knn[tgt] = 0.0
                sr[tgt] = 0.0
                rem[tgt] = 0.0
                sup[tgt] = 0.0
                cand[n_cand] = tgt
                n_cand += 1
            sr[tgt] += wh * rule_weights[j]
    return n_cand


@njit(cache=True)
def _blend(weights, cand, n_cand, knn, sr, rem, pop_n, out):
    """Blended scores of the candidates into ``out[:n_cand]``."""
    mk = 0.0
    ms = 0.0
    for a in range(n_cand):
        it = cand[a]
        mk = max(mk, knn[it])
        ms = max(ms, sr[it])
    mk = mk if mk > 0 else 1.0
    ms = ms if ms > 0 else 1.0
    for a in range(n_cand):
        it = cand[a]
        out[a] = (
            weights[0] * knn[it] / mk
            + weights[1] * sr[it] / ms
            + weights[2] * rem[it]
            + weights[3] * pop_n[it]
        )


@njit(cache=True)
def _rank(target, w_pop, cand, n_cand, f, i_mark, stamp, pop_n, pop_sorted):  # noqa: PLR0913, PLR0917
    """1-based rank of ``target``: 1 + items scoring at least as high (others)."""
    n_items = len(pop_n)
    if target < 0:
        return MISS_RANK
    inside = i_mark[target] == stamp
    if inside:
        ft = 0.0
        for a in range(n_cand):
            if cand[a] == target:
                ft = f[a]
                break
        x = ft / w_pop if w_pop > 0 else 0.0
    else:
        x = pop_n[target]
        ft = w_pop * x
    rank = 1
    above_pop = 0
    for a in range(n_cand):
        it = cand[a]
        if it != target and f[a] >= ft:
            rank += 1
        if pop_n[it] >= x:
            above_pop += 1
    # Items no component reached score w_pop * pop: count those >= ft (target excluded).
    if w_pop > 0:
        n_ge = n_items - np.searchsorted(pop_sorted, x, side="left")
        rank += n_ge - above_pop - (0 if inside else 1)
    elif ft <= 0:
        rank += n_items - n_cand - (0 if inside else 1)
    return rank


@njit(cache=True)
def _top(top_n, w_pop, cand, n_cand, f, i_mark, stamp, pop_n, pop_order, out_i, out_f):  # noqa: PLR0913, PLR0917
    """The ``top_n`` best items (candidates merged with the popularity order)."""
    order = np.argsort(-f[:n_cand], kind="mergesort")
    a = 0
    b = 0
    m = 0
    n_items = len(pop_order)
    while m < top_n:
        while b < n_items and i_mark[pop_order[b]] == stamp:
            b += 1
        fa = f[order[a]] if a < n_cand else -1.0
        fb = w_pop * pop_n[pop_order[b]] if b < n_items else -1.0
        if a >= n_cand and b >= n_items:
            break
        if a < n_cand and (fa >= fb or b >= n_items):
            out_i[m] = cand[order[a]]
            out_f[m] = fa
            a += 1
        else:
            out_i[m] = pop_order[b]
            out_f[m] = fb
            b += 1
        m += 1
    for r in range(m, top_n):
        out_i[r] = -1
        out_f[r] = np.nan


FEATURE_NAMES = (
    "stage1_score",
    "stage1_rank",
    "knn",
    "sr",
    "reminder",
    "support_share",
    "support",
    "popularity",
    "recent_popularity",
    "idf",
    "session_length",
    "clicks_since_seen",
    "transition_share",
    "knn_raw",
    "candidates",
    "next_share",
    "co_last",
    "co_session",
    "last_seen_age",
    "first_seen_age",
)


@njit(cache=True)
def _features(  # noqa: PLR0913, PLR0914, PLR0917 - a numba kernel takes arrays
    n_top,
    q,
    cand,
    n_cand,
    f,
    knn,
    sr,
    rem,
    sup,
    q_mark,
    scratch_f,
    stamp,
    pop_n,
    rpop_n,
    idf,
    rule_ptr,
    rule_items,
    rule_weights,
    next_ptr,
    next_items,
    next_weights,
    co_ptr,
    co_items,
    co_weights,
    item_ptr,
    item_sess,
    n_sess,
    rl,
    rl_mark,
    nx,
    cl,
    cs,
    out_i,
    out_x,
):
    """Writes the ``n_top`` best candidates (by ``f``) and their features."""
    length = len(q)
    mk = 1e-300
    ms = 1e-300
    mu = 1e-300
    for a in range(n_cand):
        it = cand[a]
        mk = max(mk, knn[it])
        ms = max(ms, sr[it])
        mu = max(mu, sup[it])
    last = q[length - 1]
    total = 0.0
    for j in range(rule_ptr[last], rule_ptr[last + 1]):
        rl_mark[rule_items[j]] = stamp
        rl[rule_items[j]] = rule_weights[j]
        total += rule_weights[j]
    total = total if total > 0 else 1.0
    # 1-step transitions from the last item; co-occurrence (cosine) with the last item
    # and with the whole session (position-weighted).
    nx_total = 0.0
    for j in range(next_ptr[last], next_ptr[last + 1]):
        nx_total += next_weights[j]
    nx_total = nx_total if nx_total > 0 else 1.0
    for j in range(next_ptr[last], next_ptr[last + 1]):
        nx[next_items[j]] += next_weights[j] / nx_total
    wsum = 0.0
    for p in range(length):
        src = q[p]
        wp = (p + 1.0) / length
        wsum += wp
        for j in range(co_ptr[src], co_ptr[src + 1]):
            tgt = co_items[j]
            cs[tgt] += wp * co_weights[j]
            if p == length - 1:
                cl[tgt] += co_weights[j]
    order = np.argsort(-f[:n_cand], kind="mergesort")
    m = min(n_top, n_cand)
    for r in range(m):
        it = cand[order[r]]
        out_i[r] = it
        x = out_x[r]
        x[0] = f[order[r]]
        x[1] = r + 1
        x[2] = knn[it] / mk
        x[3] = sr[it] / ms
        x[4] = rem[it]
        x[5] = sup[it] / mu
        x[6] = sup[it]
        x[7] = pop_n[it]
        x[8] = rpop_n[it]
        x[9] = idf[it]
        x[10] = length
        x[11] = (length - 1 - scratch_f[it]) if q_mark[it] == stamp else -1.0
        x[12] = rl[it] / total if rl_mark[it] == stamp else 0.0
        x[13] = knn[it]
        x[14] = n_cand
        x[15] = nx[it]
        x[16] = cl[it]
        x[17] = cs[it] / wsum
        x[18] = (n_sess - 1 - item_sess[item_ptr[it]]) / n_sess
        x[19] = (n_sess - 1 - item_sess[item_ptr[it + 1] - 1]) / n_sess
    for r in range(m, n_top):
        out_i[r] = -1
    # back to zeros for the next case (only the entries this case wrote)
    for j in range(next_ptr[last], next_ptr[last + 1]):
        nx[next_items[j]] = 0.0
    for p in range(length):
        for j in range(co_ptr[q[p]], co_ptr[q[p] + 1]):
            cl[co_items[j]] = 0.0
            cs[co_items[j]] = 0.0
    return m


@njit(nogil=True, cache=True)
def _run(  # noqa: PLR0913, PLR0914, PLR0917 - a numba kernel takes arrays
    lo,
    hi,
    c_ptr,
    c_items,
    case_ptr,
    all_prefixes,
    sess_ptr,
    sess_items,
    item_ptr,
    item_sess,
    item_pos,
    rule_ptr,
    rule_items,
    rule_weights,
    next_ptr,
    next_items,
    next_weights,
    co_ptr,
    co_items,
    co_weights,
    idf,
    prm,
    weights,
    pop_n,
    pop_sorted,
    pop_order,
    top_n,
    out_rank,
    out_top_i,
    out_top_f,
    feat_top,
    rpop_n,
    out_feat_i,
    out_feat_x,
    out_feat_n,
):
    """Scores the cases of sessions ``lo .. hi - 1`` (one thread's share).

    Ranks of targets per weight row, top lists and re-ranker features for row 0.
    """
    n_sess = len(sess_ptr) - 1
    n_items = len(idf)
    if hi > lo:
        scratch_i = np.empty(n_items, np.int32)
        scratch_f = np.empty(n_items, np.float64)
        s_mark = np.zeros(n_sess, np.int64)
        s_sim = np.empty(n_sess, np.float64)
        s_mq = np.empty(n_sess, np.int32)
        s_mn = np.empty(n_sess, np.int32)
        touched = np.empty(n_sess, np.int32)
        i_mark = np.zeros(n_items, np.int64)
        knn = np.empty(n_items, np.float64)
        sr = np.empty(n_items, np.float64)
        rem = np.empty(n_items, np.float64)
        sup = np.empty(n_items, np.float64)
        cand = np.empty(n_items, np.int32)
        nb_mark = np.full(n_items, -1, np.int64)
        nb_w = np.empty(n_items, np.float64)
        q_w = np.empty(n_items, np.float64)
        q_mark = np.zeros(n_items, np.int64)
        f = np.empty(n_items, np.float64)
        rl = np.empty(n_items if feat_top > 0 else 1, np.float64)
        rl_mark = np.zeros(n_items if feat_top > 0 else 1, np.int64)
        nx = np.zeros(n_items if feat_top > 0 else 1, np.float64)
        cl = np.zeros(n_items if feat_top > 0 else 1, np.float64)
        cs = np.zeros(n_items if feat_top > 0 else 1, np.float64)
        stamp = 0
        for i in range(lo, hi):  # noqa: PLR1702
            start = c_ptr[i]
            end = c_ptr[i + 1]
            raw = c_items[start:end]
            n_cases_i = (end - start - 1) if all_prefixes else 1
            for c in range(n_cases_i):
                upto = (c + 1) if all_prefixes else (end - start)
                known = 0
                for p in range(upto):
                    if raw[p] >= 0:
                        known += 1
                q = np.empty(known, np.int32)
                known = 0
                for p in range(upto):
                    if raw[p] >= 0:
                        q[known] = raw[p]
                        known += 1
                stamp += 1
                n_cand = 0
                if known > 0:
                    n_cand = _case_scores(
                        q,
                        sess_ptr,
                        sess_items,
                        item_ptr,
                        item_sess,
                        item_pos,
                        rule_ptr,
                        rule_items,
                        rule_weights,
                        idf,
                        prm,
                        scratch_i,
                        scratch_f,
                        s_mark,
                        s_sim,
                        s_mq,
                        s_mn,
                        touched,
                        i_mark,
                        knn,
                        sr,
                        rem,
                        sup,
                        cand,
                        nb_mark,
                        nb_w,
                        q_w,
                        q_mark,
                        stamp,
                    )
                row = case_ptr[i] + c
                for g in range(weights.shape[0]):
                    _blend(weights[g], cand, n_cand, knn, sr, rem, pop_n, f)
                    if all_prefixes:
                        out_rank[row, g] = _rank(
                            raw[upto],
                            weights[g, 3],
                            cand,
                            n_cand,
                            f,
                            i_mark,
                            stamp,
                            pop_n,
                            pop_sorted,
                        )
                    if top_n > 0:
                        _top(
                            top_n,
                            weights[g, 3],
                            cand,
                            n_cand,
                            f,
                            i_mark,
                            stamp,
                            pop_n,
                            pop_order,
                            out_top_i[row, g],
                            out_top_f[row, g],
                        )
                if feat_top > 0 and known > 0:
                    _blend(weights[0], cand, n_cand, knn, sr, rem, pop_n, f)
                    out_feat_n[row] = _features(
                        feat_top,
                        q,
                        cand,
                        n_cand,
                        f,
                        knn,
                        sr,
                        rem,
                        sup,
                        q_mark,
                        scratch_f,
                        stamp,
                        pop_n,
                        rpop_n,
                        idf,
                        rule_ptr,
                        rule_items,
                        rule_weights,
                        next_ptr,
                        next_items,
                        next_weights,
                        co_ptr,
                        co_items,
                        co_weights,
                        item_ptr,
                        item_sess,
                        n_sess,
                        rl,
                        rl_mark,
                        nx,
                        cl,
                        cs,
                        out_feat_i[row],
                        out_feat_x[row],
                    )


def params_vector(params: dict[str, float]) -> np.ndarray:
    """The kernel's parameter vector from a name -> value mapping.

    Args:
        params: One value for each name in :data:`PARAM_NAMES`.

    Returns:
        ``float64`` vector in :data:`PARAM_NAMES` order.
    """
    missing = [n for n in PARAM_NAMES if n not in params]
    if missing:
        raise KeyError(f"Missing session model parameters: {missing}")
    return np.array([float(params[n]) for n in PARAM_NAMES], dtype=np.float64)


def score_cases(
    index: SessionIndex,
    cases: Cases,
    params: dict[str, float],
    weights: np.ndarray,
    *,
    popularity: np.ndarray | None = None,
    top_n: int = 0,
    features: int = 0,
    threads: int | None = None,
) -> tuple[np.ndarray, ...]:
    """Scores every case of ``cases`` with the blend(s) in ``weights``.

    Args:
        index: The fitted model.
        cases: The sessions to score.
        params: Component parameters (:data:`PARAM_NAMES`).
        weights: ``(G, 4)`` blend weights (:data:`WEIGHT_NAMES`); one rank column per
            row.
        popularity: Popularity per internal item (default: clicks in training).
        top_n: Length of the top list returned for each weight row (0: none).
        features: With ``features > 0``, also the ``features`` best candidates of the
            first weight row per case with :data:`FEATURE_NAMES` (for a re-ranker).
        threads: Threads scoring cases at once (default: the machine's cores).

    Returns:
        ``ranks`` ``(n_cases, G)`` (with ``all_prefixes``; else empty), ``top_items``
        ``(n_cases, G, top_n)`` internal ids (``-1`` past the end) and their scores; with
        ``features``, then candidate ids ``(n_cases, features)``, their features
        ``(n_cases, features, len(FEATURE_NAMES))`` (``float32``) and the number of
        candidates per case.
    """
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    threads = threads or os.cpu_count() or 1
    pop = index.clicks if popularity is None else np.asarray(popularity, np.float64)
    pop_n = pop / pop.max() if pop.max() > 0 else np.zeros_like(pop)
    pop_sorted = np.sort(pop_n)
    pop_order = np.argsort(-pop_n, kind="stable").astype(np.int32)
    n_cases = cases.n_cases
    ranks = np.zeros((n_cases if cases.all_prefixes else 0, len(weights)), np.int64)
    rows = n_cases if top_n > 0 else 0
    top_i = np.full((rows, len(weights), max(top_n, 1)), -1, np.int32)
    top_f = np.full((rows, len(weights), max(top_n, 1)), np.nan)
    f_rows = n_cases if features > 0 else 0
    feat_i = np.full((f_rows, max(features, 1)), -1, np.int32)
    feat_x = np.zeros((f_rows, max(features, 1), len(FEATURE_NAMES)), np.float32)
    feat_n = np.zeros(f_rows, np.int64)
    rpop = index.recent_clicks
    rpop_n = rpop / rpop.max() if rpop.max() > 0 else np.zeros_like(rpop)
    extra = (feat_i, feat_x, feat_n) if features > 0 else ()
    if n_cases == 0:
        return (ranks, top_i[:, :, :top_n], top_f[:, :, :top_n], *extra)
    args = (
        cases.ptr.astype(np.int64),
        cases.items.astype(np.int32),
        cases.case_ptr,
        cases.all_prefixes,
        index.sess_ptr,
        index.sess_items,
        index.item_ptr,
        index.item_sess,
        index.item_pos,
        index.rule_ptr,
        index.rule_items,
        index.rule_weights,
        index.next_ptr,
        index.next_items,
        index.next_weights,
        index.co_ptr,
        index.co_items,
        index.co_weights,
        index.idf,
        params_vector(params),
        weights,
        pop_n,
        pop_sorted,
        pop_order,
        int(top_n),
        ranks if cases.all_prefixes else np.zeros((1, len(weights)), np.int64),
        top_i,
        top_f,
        int(features),
        rpop_n,
        feat_i,
        feat_x,
        feat_n,
    )
    n_sessions = len(cases.ptr) - 1
    n_blocks = min(n_sessions, 4 * threads)
    bounds = [
        (b * n_sessions // n_blocks, (b + 1) * n_sessions // n_blocks)
        for b in range(n_blocks)
    ]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for done in [pool.submit(_run, lo, hi, *args) for lo, hi in bounds]:
            done.result()
    return (ranks, top_i[:, :, :top_n], top_f[:, :, :top_n], *extra)
