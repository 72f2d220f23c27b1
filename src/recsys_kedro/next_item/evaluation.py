"""Next-item metrics from target ranks, and paired bootstrap intervals between models.

A model's answer to a case is a full ranking of the training items; what it needs here is
the 1-based rank of the true next item (``scoring.MISS_RANK`` where the model cannot
rank it) and, for catalog coverage, its top list.
"""

from __future__ import annotations

import numpy as np

CUTOFFS = (10, 20)


def hit_and_rr(ranks: np.ndarray, cutoff: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-case hit (target in the top ``cutoff``) and reciprocal rank within it.

    Args:
        ranks: 1-based target ranks.
        cutoff: List length.

    Returns:
        ``float64`` hits (0/1) and reciprocal ranks (0 beyond the cutoff).
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    hit = ranks <= cutoff
    return hit.astype(np.float64), np.where(hit, 1.0 / ranks, 0.0)


def next_item_metrics(
    ranks: np.ndarray,
    top_items: np.ndarray,
    n_items: int,
    answered: np.ndarray | None = None,
) -> dict[str, float]:
    """HR@10/20, MRR@10/20, catalog coverage@20 and the share of answered cases.

    Args:
        ranks: 1-based target rank of each case.
        top_items: ``(n_cases, >= 20)`` internal ids of each case's top list (``-1``:
            none).
        n_items: Catalogue size (training items).
        answered: Per case, whether the model had anything of its own to say (not only
            its popularity fallback); default all.

    Returns:
        ``cases``, ``hit_rate_at_{10,20}``, ``mrr_at_{10,20}``, ``coverage_at_20``,
        ``answered_share``.
    """
    ranks = np.asarray(ranks)
    out: dict[str, float] = {"cases": float(len(ranks))}
    for k in CUTOFFS:
        hit, rr = hit_and_rr(ranks, k)
        out[f"hit_rate_at_{k}"] = float(hit.mean()) if len(ranks) else 0.0
        out[f"mrr_at_{k}"] = float(rr.mean()) if len(ranks) else 0.0
    top = np.asarray(top_items)[:, :20]
    shown = np.unique(top[top >= 0])
    out["coverage_at_20"] = float(len(shown) / n_items) if n_items else 0.0
    if answered is None:
        out["answered_share"] = 1.0
    else:
        out["answered_share"] = float(np.mean(answered)) if len(answered) else 0.0
    return out


def paired_bootstrap(
    values: dict[str, np.ndarray],
    reference: str,
    *,
    replicates: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float, float]]:
    """Mean difference of each model to ``reference`` with a paired bootstrap interval.

    Cases are resampled with replacement (the same resample for every model), so the
    interval is of the difference on the same cases, not of two independent means.

    Args:
        values: Per-case metric values of each model (same cases, same order).
        reference: The model the others are compared with.
        replicates: Bootstrap resamples.
        seed: Seed of the resampling.
        level: Confidence level.

    Returns:
        ``model -> (difference, low, high)`` (model minus reference).
    """
    ref = np.asarray(values[reference], dtype=np.float64)
    n = len(ref)
    rng = np.random.default_rng(seed)
    alpha = (1.0 - level) / 2.0
    diffs = {m: np.asarray(v, dtype=np.float64) - ref for m, v in values.items()}
    sums = {m: np.zeros(replicates) for m in diffs}
    # Poisson(1) weights: the resample of a case count, drawn in blocks so memory stays
    # flat as the cases grow.
    totals = np.zeros(replicates)
    block = 4096
    for start in range(0, n, block):
        w = rng.poisson(1.0, size=(replicates, min(block, n - start)))
        totals += w.sum(axis=1)
        for m, d in diffs.items():
            sums[m] += w @ d[start : start + block]
    out = {}
    for m, d in diffs.items():
        boot = sums[m] / np.maximum(totals, 1)
        out[m] = (
            float(d.mean()) if n else 0.0,
            float(np.quantile(boot, alpha)),
            float(np.quantile(boot, 1.0 - alpha)),
        )
    return out
