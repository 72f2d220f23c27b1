"""Association rules as a cross-sell recommender, and their blend with cf neighbours.

Pure Python/numpy, run inside ``mapInPandas`` tasks (cf scores a whole batch of
sessions at once). Given the products already in a
session (or a cart), a rule ``A -> c`` fires when ``A`` is a subset of them; a candidate
``c`` (not already in the session) scores the best ``confidence x lift`` of the rules that
recommend it. The hybrid blends that score, divided by the session's best rule score so it
lies in [0, 1], with the cf score (the mean cosine similarity of ``c`` to the session's
products): ``w * rules + (1 - w) * cf``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys_kedro.recommend.scoring import (
    NeighbourIndex,
    Popularity,
    Ragged,
    UserBatch,
    score_batch,
)

_NO_POPULAR = Popularity(np.zeros(0, dtype=np.int64), np.zeros(0))
HYBRID_POOL = 200  # cf candidates the hybrid considers per session


@dataclass(frozen=True)
class RuleIndex:
    """Rules keyed by the smallest product of their antecedent."""

    by_item: dict[int, list[tuple[frozenset[int], int, float]]]

    @classmethod
    def from_frame(cls, rules: pd.DataFrame) -> RuleIndex:
        """Builds the index from ``antecedent, consequent, confidence, lift`` rows.

        Args:
            rules: Association rules (``consequent`` holds one product).

        Returns:
            The index.
        """
        by_item: dict[int, list[tuple[frozenset[int], int, float]]] = {}
        for antecedent, consequent, confidence, lift in zip(
            rules["antecedent"],
            rules["consequent"],
            rules["confidence"],
            rules["lift"],
            strict=True,
        ):
            items = frozenset(int(x) for x in antecedent)
            for target in consequent:
                by_item.setdefault(min(items), []).append(
                    (items, int(target), float(confidence) * float(lift))
                )
        return cls(by_item)

    def scores(self, basket: set[int]) -> dict[int, float]:
        """Best ``confidence x lift`` per product recommended by the rules that fire.

        Args:
            basket: Products already in the session.

        Returns:
            ``{product: score}`` for products not in the basket.
        """
        best: dict[int, float] = {}
        for item in basket:
            for antecedent, target, score in self.by_item.get(item, ()):
                if target in basket or not antecedent <= basket:
                    continue
                if score > best.get(target, -1.0):
                    best[target] = score
        return best


def _top(scores: dict[int, float], k: int) -> tuple[np.ndarray, np.ndarray]:
    if not scores:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    ids = np.fromiter(scores.keys(), dtype=np.int64, count=len(scores))
    vals = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
    order = np.lexsort((ids, -vals))[:k]
    return ids[order], vals[order]


def recommend_by_rules(
    basket: set[int], rules: RuleIndex, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Consequents of the rules that fire, best ``confidence x lift`` first.

    Args:
        basket: Products already in the session.
        rules: The rule index.
        k: How many to return.

    Returns:
        Product ids and scores.
    """
    return _top(rules.scores(basket), k)


def cf_scores_batch(
    baskets: list[set[int]], index: NeighbourIndex, k: int
) -> list[dict[int, float]]:
    """cf scores of many baskets at once (one :func:`score_batch` call).

    Args:
        baskets: Products already in each session.
        index: cf neighbour lists.
        k: Candidates per basket.

    Returns:
        Per basket, candidate -> mean cosine similarity to the basket's products (the
        basket's own products left out), best first.
    """
    items = [np.fromiter(b, dtype=np.int64, count=len(b)) for b in baskets]
    lengths = np.fromiter((len(i) for i in items), dtype=np.int64, count=len(items))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    values = np.concatenate([np.zeros(0, np.int64), *items])
    basket = Ragged(offsets, values)
    out = score_batch(
        UserBatch(basket, Ragged(offsets, np.ones(len(values))), basket),
        index,
        _NO_POPULAR,
        k,
    )
    bounds = np.searchsorted(out.rows, np.arange(len(baskets) + 1))
    ids, scores = out.product_ids.tolist(), out.scores.tolist()
    return [
        dict(zip(ids[lo:hi], scores[lo:hi], strict=True))
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def cf_scores(basket: set[int], index: NeighbourIndex, k: int) -> dict[int, float]:
    """Mean cosine similarity of candidates to the basket's products (cf scoring)."""
    return cf_scores_batch([basket], index, k)[0]


def recommend_hybrid(
    basket: set[int],
    rules: RuleIndex,
    index: NeighbourIndex,
    weight: float,
    k: int,
    pool: int = HYBRID_POOL,
    by_cf: dict[int, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Blend of normalised rule scores and cf scores.

    Args:
        basket: Products already in the session.
        rules: The rule index.
        index: cf neighbour lists.
        weight: Weight of the rule score (cf gets ``1 - weight``).
        k: How many to return.
        pool: How many cf candidates to consider.
        by_cf: The basket's ``pool`` cf scores where already computed
            (:func:`cf_scores_batch`).

    Returns:
        Product ids and blended scores (in [0, 1]).
    """
    by_rule = rules.scores(basket)
    top_rule = max(by_rule.values(), default=0.0)
    by_cf = cf_scores(basket, index, pool) if by_cf is None else by_cf
    blended = {
        c: weight * (by_rule.get(c, 0.0) / top_rule if top_rule > 0 else 0.0)
        + (1 - weight) * by_cf.get(c, 0.0)
        for c in by_rule.keys() | by_cf.keys()
    }
    return _top({c: s for c, s in blended.items() if s > 0}, k)
