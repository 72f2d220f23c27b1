"""Comparison models scored like the session model: item neighbours and association rules.

Both answer a session from tables other pipelines fit (cf's item-item cosine neighbours,
fpgrowth's association rules), mapped to the session model's internal item ids; items they
do not reach are ordered by training popularity with a vanishing weight, as in the session
model, so every model ranks every item and ties count against the target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys_kedro.next_item.index import SessionIndex
from recsys_kedro.next_item.scoring import MISS_RANK


@dataclass(frozen=True)
class ItemNeighbours:
    """``item -> (neighbour, weight)`` lists over internal ids (CSR)."""

    ptr: np.ndarray
    items: np.ndarray
    weights: np.ndarray

    @classmethod
    def from_pairs(
        cls,
        index: SessionIndex,
        source: np.ndarray,
        target: np.ndarray,
        weight: np.ndarray,
    ) -> ItemNeighbours:
        """Builds the lists from external-id pairs; pairs with an unknown item are dropped.

        Args:
            index: The session model (its item ids).
            source: External id of the item a neighbour belongs to.
            target: External id of the neighbour.
            weight: Similarity.

        Returns:
            The neighbour lists.
        """
        s, t = index.to_internal(source), index.to_internal(target)
        keep = (s >= 0) & (t >= 0)
        s, t, w = s[keep], t[keep], np.asarray(weight, np.float64)[keep]
        order = np.argsort(s, kind="stable")
        counts = np.bincount(s, minlength=index.n_items)
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(ptr, t[order].astype(np.int32), w[order])

    def scores(self, session: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sum of the similarities of each item to the session's distinct items.

        Args:
            session: Internal ids of the session so far (``-1`` ignored).

        Returns:
            Candidate ids and their scores.
        """
        known = np.unique(session[session >= 0])
        if len(known) == 0:
            return np.zeros(0, np.int32), np.zeros(0)
        parts = [np.arange(self.ptr[i], self.ptr[i + 1]) for i in known]
        idx = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        cand, inverse = np.unique(self.items[idx], return_inverse=True)
        return cand, np.bincount(inverse, weights=self.weights[idx])


@dataclass(frozen=True)
class AssociationRules:
    """Rules ``antecedent set -> consequent`` with their confidence, internal ids."""

    antecedents: list[np.ndarray]
    consequents: np.ndarray
    confidence: np.ndarray
    by_item: dict[int, np.ndarray]

    @classmethod
    def from_rules(
        cls,
        index: SessionIndex,
        antecedents: list[list[int]],
        consequents: list[list[int]],
        confidence: np.ndarray,
    ) -> AssociationRules:
        """Keeps the rules whose items are all known to the session model.

        Args:
            index: The session model.
            antecedents: External ids of each rule's antecedent.
            consequents: External ids of each rule's consequent (one rule per item).
            confidence: Each rule's confidence.

        Returns:
            The rules, indexed by each antecedent item.
        """
        ants, cons, conf = [], [], []
        for a, c, f in zip(antecedents, consequents, confidence, strict=True):
            ai = index.to_internal(np.asarray(a, np.int64))
            ci = index.to_internal(np.asarray(c, np.int64))
            if len(ai) == 0 or (ai < 0).any():
                continue
            for item in ci[ci >= 0]:
                ants.append(np.unique(ai))
                cons.append(int(item))
                conf.append(float(f))
        by_item: dict[int, list[int]] = {}
        for r, a in enumerate(ants):
            for item in a:
                by_item.setdefault(int(item), []).append(r)
        return cls(
            ants,
            np.array(cons, np.int32),
            np.array(conf, np.float64),
            {k: np.array(v, np.int64) for k, v in by_item.items()},
        )

    def scores(self, session: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Highest confidence of a rule whose antecedent the session holds, per consequent.

        Args:
            session: Internal ids of the session so far (``-1`` ignored).

        Returns:
            Candidate ids and their scores.
        """
        have = set(session[session >= 0].tolist())
        fired: dict[int, float] = {}
        seen: set[int] = set()
        for item in have:
            for r in self.by_item.get(item, ()):
                if r in seen:
                    continue
                seen.add(r)
                if set(self.antecedents[r].tolist()) <= have:
                    c = int(self.consequents[r])
                    fired[c] = max(fired.get(c, 0.0), float(self.confidence[r]))
        cand = np.array(list(fired), np.int32)
        return cand, np.array([fired[c] for c in fired], np.float64)


@dataclass(frozen=True)
class PopularityOrder:
    """Training popularity scaled to at most 1, sorted, and the items best first."""

    pop_n: np.ndarray
    sorted_pop: np.ndarray
    order: np.ndarray

    @classmethod
    def of(cls, clicks: np.ndarray) -> PopularityOrder:
        """From click counts per internal item."""
        top = clicks.max() if len(clicks) else 0.0
        pop_n = clicks / top if top > 0 else np.zeros(len(clicks))
        return cls(pop_n, np.sort(pop_n), np.argsort(-pop_n, kind="stable"))


def rank_and_top(
    cand: np.ndarray,
    scores: np.ndarray,
    target: int,
    pop: PopularityOrder,
    pop_weight: float,
    top_n: int = 20,
) -> tuple[int, np.ndarray]:
    """Rank of ``target`` and the top list when candidates score ``score + w * pop``
    and every other item ``w * pop`` (cost: the candidates, not the catalogue).

    Args:
        cand: Distinct candidate internal ids.
        scores: Their scores (> 0).
        target: Internal id of the true next item (``-1``: unknown, ranked
            :data:`~recsys_kedro.next_item.scoring.MISS_RANK`).
        pop: Popularity order.
        pop_weight: The popularity tie-break weight (> 0).
        top_n: Length of the top list.

    Returns:
        The 1-based rank (others scoring at least as high, plus one) and the top list
        (``-1`` past the catalogue's end).
    """
    n_items = len(pop.pop_n)
    f = scores + pop_weight * pop.pop_n[cand]
    order = np.argsort(-f, kind="stable")
    head = cand[order[:top_n]]
    if len(head) < top_n:
        taken = set(cand.tolist())
        rest = [i for i in pop.order[: top_n + len(cand)] if i not in taken]
        head = np.concatenate([head, np.array(rest[: top_n - len(head)], np.int64)])
    top = np.full(top_n, -1, np.int32)
    top[: len(head)] = head
    if target < 0:
        return MISS_RANK, top
    hit = np.flatnonzero(cand == target)
    if len(hit):
        ft = f[hit[0]]
        x = ft / pop_weight
    else:
        x = pop.pop_n[target]
        ft = pop_weight * x
    others_cand = int((f >= ft).sum()) - (1 if len(hit) else 0)
    outside_ge = n_items - int(np.searchsorted(pop.sorted_pop, x, side="left"))
    outside_ge -= int((pop.pop_n[cand] >= x).sum())
    if not len(hit):
        outside_ge -= 1
    return 1 + others_cand + outside_ge, top
