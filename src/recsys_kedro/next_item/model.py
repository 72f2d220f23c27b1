"""Fits the next-item recommender: tunes it on a validation split, re-ranks, answers.

``fit_session_model`` is what the ``sessions`` pipeline and the benchmark command both
call. Tuning never sees the test sessions: the newest ``validation_share`` of the
*training* sessions are held out, a model fitted on the older ones is tuned on them
(component parameters by coordinate search over ``search``, then the blend weights over
``weight_grid``, then a LightGBM LambdaRank re-ranker over the blend's best
``rerank_depth`` candidates, its number of trees by early stopping on the newest part of
the validation sessions), and the final indexes are then built on all training sessions.
The objective is HR@20 + MRR@20.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from recsys_kedro.next_item.evaluation import hit_and_rr
from recsys_kedro.next_item.index import SessionDataError, SessionIndex, build_index
from recsys_kedro.next_item.scoring import (
    FEATURE_NAMES,
    MISS_RANK,
    PARAM_NAMES,
    Cases,
    score_cases,
)

logger = logging.getLogger(__name__)

POP_EPS = 1e-6
"""Weight of popularity in the kNN, rules and blend scores: it only breaks ties."""


class SessionModelParams(BaseModel):
    """How the next-item recommender is fitted and tuned (``params:sessions.model``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    components: dict[str, float] = Field(
        default_factory=lambda: {
            "k": 500,
            "sample_size": 5000,
            "pos_power": 2.0,
            "match_power": 1.0,
            "idf_weight": 5.0,
            "nb_power": 0.0,
            "nb_before": 1.0,
            "nb_self": 1.0,
            "recency": 0.0,
            "length_norm": 0.0,
            "sr_len": 1,
            "sr_decay": 0.5,
            "rem_decay": 0.5,
        },
        description="Starting component parameters (V-SkNN's published settings).",
    )
    search: dict[str, list[float]] = Field(
        default_factory=lambda: {
            "pos_power": [1.0, 4.0],
            "match_power": [0.0, 0.5, 2.0],
            "idf_weight": [0.0, 10.0],
            "nb_power": [0.5, 1.0],
            "nb_before": [0.5],
            "nb_self": [0.5, 2.0],
            "length_norm": [0.25, 0.5],
            "k": [100, 1000],
            "sample_size": [1000],
            "recency": [0.25, 0.5],
            "rem_decay": [0.25, 1.0],
        },
        description="Values tried per parameter, one at a time, kept where they help.",
    )
    search_rounds: int = Field(2, ge=0)
    search_cases: int = Field(12000, ge=100, description="Validation cases per try.")
    weight_grid: dict[str, list[float]] = Field(
        default_factory=lambda: {
            "sr": [0.0, 0.05, 0.1, 0.2, 0.4],
            "rem": [0.0, 0.3, 0.6, 1.2, 2.4, 4.8],
        }
    )
    search_weight_grid: dict[str, list[float]] = Field(
        default_factory=lambda: {"sr": [0.0, 0.1, 0.4], "rem": [0.0, 0.6, 2.4]},
        description="Coarser blend weights tried with each component setting (speed).",
    )
    rule_steps: int = Field(10, ge=1)
    rule_top_n: int = Field(200, ge=0)
    co_steps: int = Field(20, ge=1)
    recent_share: float = Field(0.1, gt=0, le=1)
    validation_share: float = Field(0.1, gt=0, lt=1)
    rerank: bool = True
    rerank_depth: int = Field(60, ge=20)
    rerank_max_rounds: int = Field(60, ge=1)
    rerank_learning_rate: float = Field(0.1, gt=0)
    rerank_leaves: int = Field(31, ge=2)
    rerank_max_cases: int = Field(60000, ge=100)
    seed: int = 0
    threads: int | None = Field(None, ge=1)


@dataclass(frozen=True)
class SessionData:
    """Sessions in time order (oldest first), CSR over external item ids."""

    ptr: np.ndarray
    items: np.ndarray

    @property
    def n_sessions(self) -> int:
        """Number of sessions."""
        return int(len(self.ptr) - 1)

    def slice(self, start: int, stop: int) -> SessionData:
        """Sessions ``start .. stop - 1``.

        Args:
            start: First session.
            stop: One past the last session.

        Returns:
            The sessions, offsets rebased to 0.
        """
        lo, hi = self.ptr[start], self.ptr[stop]
        return SessionData(self.ptr[start : stop + 1] - lo, self.items[lo:hi])


@dataclass
class SessionModel:
    """A fitted next-item recommender."""

    index: SessionIndex
    components: dict[str, float]
    weights: np.ndarray
    reranker: Any = None
    rerank_depth: int = 100
    tuning: dict[str, Any] = field(default_factory=dict)

    def cases(self, sessions: SessionData, *, all_prefixes: bool) -> Cases:
        """Cases over ``sessions`` in this model's internal ids."""
        return Cases(sessions.ptr, self.index.to_internal(sessions.items), all_prefixes)

    def evaluate(
        self,
        sessions: SessionData,
        models: list[str],
        *,
        threads: int | None = None,
    ) -> dict[str, dict[str, np.ndarray]]:
        """Ranks every next item of ``sessions`` with each model (all prefixes).

        Args:
            sessions: Test sessions.
            models: Names from :data:`MODEL_NAMES`.
            threads: Scoring threads.

        Returns:
            ``model -> {"ranks", "top", "answered"}``: target ranks, top-20 internal ids
            and whether the model answered from its own evidence.
        """
        unknown = sorted(set(models) - set(MODEL_NAMES))
        if unknown:
            raise ValueError(f"Unknown models {unknown}; choose from {MODEL_NAMES}")
        cases = self.cases(sessions, all_prefixes=True)
        targets = _targets(cases)
        out: dict[str, dict[str, np.ndarray]] = {}
        for name, pop in (
            ("popularity", self.index.clicks),
            ("recent_popularity", self.index.recent_clicks),
        ):
            if name in models:
                out[name] = _popularity_answers(pop, targets)
        if "sequential_rules" in models:
            ranks, top, scores = score_cases(
                self.index,
                cases,
                {**self.components, "k": 0},
                np.array([[0.0, 1.0, 0.0, POP_EPS]]),
                top_n=20,
                threads=threads,
            )
            out["sequential_rules"] = {
                "ranks": ranks[:, 0],
                "top": top[:, 0],
                "answered": scores[:, 0, 0] > POP_EPS * 1.0000001,
            }
        wanted = [m for m in ("blend", "session_knn", "reranked") if m in models]
        if not wanted:
            return {m: out[m] for m in models if m in out}
        rerank = "reranked" in wanted and self.reranker is not None
        weights = np.array([self.weights, [1.0, 0.0, 0.0, POP_EPS]])
        ranks, top, scores, *feats = score_cases(
            self.index,
            cases,
            self.components,
            weights,
            top_n=20,
            features=self.rerank_depth if rerank else 0,
            threads=threads,
        )
        answered = scores[:, :, 0] > POP_EPS * 1.0000001
        for g, name in enumerate(("blend", "session_knn")):
            out[name] = {
                "ranks": ranks[:, g],
                "top": top[:, g],
                "answered": answered[:, g],
            }
        if rerank:
            fi, fx, fn = feats
            pred = _predict(self.reranker, fx, fn, threads)
            new_top = top[:, 0].copy()
            depth = min(20, fi.shape[1])
            order = np.argsort(-pred, axis=1, kind="stable")[:, :depth]
            full = fn >= depth
            new_top[full] = np.take_along_axis(fi, order, axis=1)[full]
            out["reranked"] = {
                "ranks": _rerank_ranks(ranks[:, 0], pred, fi, fn, targets),
                "top": new_top,
                "answered": answered[:, 0],
            }
        return {m: out[m] for m in models if m in out}

    def recommend(
        self, sessions: SessionData, top_n: int, *, threads: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The best ``top_n`` next items for each whole session.

        Args:
            sessions: Sessions in progress (their items so far, in order).
            top_n: Recommendations per session.
            threads: Scoring threads.

        Returns:
            External item ids ``(n_sessions, top_n)`` (``-1`` past the end), scores, and
            whether each row came from the model (``False``: popularity only).
        """
        cases = self.cases(sessions, all_prefixes=False)
        if self.reranker is None or cases.n_cases == 0:
            _, top, scores = score_cases(
                self.index,
                cases,
                self.components,
                self.weights[None, :],
                top_n=top_n,
                threads=threads,
            )
            top, scores = top[:, 0], scores[:, 0]
            answered = scores[:, 0] > POP_EPS * 1.0000001
        else:
            top, scores, answered = self._rerank_top(cases, top_n, threads)
        ids = np.where(top >= 0, self.index.item_ids[np.maximum(top, 0)], -1)
        return ids, scores, answered

    def _features(self, cases: Cases, threads: int | None, top_n: int = 20):
        return score_cases(
            self.index,
            cases,
            self.components,
            self.weights[None, :],
            top_n=top_n,
            features=self.rerank_depth,
            threads=threads,
        )

    def _rerank_top(
        self, cases: Cases, top_n: int, threads: int | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        _, top, scores, fi, fx, fn = self._features(cases, threads, top_n)
        top, scores = top[:, 0], scores[:, 0]
        # the blend's own top score says whether the session's items reached anything
        # (re-ranker scores have no such scale)
        answered = scores[:, 0] > POP_EPS * 1.0000001
        pred = _predict(self.reranker, fx, fn, threads)
        out_i = top.copy()
        out_f = scores.copy()
        for row in range(len(fn)):
            n = int(fn[row])
            if n == 0:
                continue
            order = np.argsort(-pred[row, :n], kind="stable")
            head = fi[row, order][:top_n]
            taken = set(head.tolist())
            rest = [t for t in top[row] if t >= 0 and t not in taken]
            merged = np.concatenate([head, np.array(rest, np.int32)])[:top_n]
            out_i[row, : len(merged)] = merged
            # the re-ranker's scores; items filled in after its candidates have none
            out_f[row] = np.nan
            out_f[row, : len(head)] = pred[row, order][: len(head)]
        return out_i, out_f, answered


MODEL_NAMES = (
    "popularity",
    "recent_popularity",
    "sequential_rules",
    "session_knn",
    "blend",
    "reranked",
)


def _popularity_answers(pop: np.ndarray, targets: np.ndarray) -> dict[str, np.ndarray]:
    """Ranks and top lists of a fixed popularity order (ties count against the target)."""
    n_items = len(pop)
    at_least = n_items - np.searchsorted(np.sort(pop), pop, side="left")
    ranks = np.where(targets >= 0, at_least[np.maximum(targets, 0)], MISS_RANK)
    top = np.argsort(-pop, kind="stable")[:20].astype(np.int32)
    return {
        "ranks": ranks.astype(np.int64),
        "top": np.broadcast_to(top, (len(targets), len(top))),
        "answered": np.ones(len(targets), bool),
    }


def _targets(cases: Cases) -> np.ndarray:
    """Internal id of each case's target (all-prefix cases)."""
    lengths = np.diff(cases.ptr)
    keep = np.ones(len(cases.items), bool)
    keep[cases.ptr[:-1][lengths > 0]] = False
    return cases.items[keep]


def _predict(
    booster, fx: np.ndarray, fn: np.ndarray, threads: int | None
) -> np.ndarray:
    """Re-ranker scores ``(n_cases, depth)``; ``-inf`` past each case's candidates."""
    n, depth, n_feat = fx.shape
    valid = np.arange(depth)[None, :] < fn[:, None]
    pred = np.full((n, depth), -np.inf)
    if valid.any():
        pred[valid] = booster.predict(
            fx.reshape(-1, n_feat)[valid.ravel()], num_threads=threads or 0
        )
    return pred


def _rerank_ranks(
    stage1: np.ndarray,
    pred: np.ndarray,
    fi: np.ndarray,
    fn: np.ndarray,
    targets: np.ndarray,
) -> np.ndarray:
    """Target ranks after re-ranking: within the candidates by the re-ranker's score
    (ties against the target), else the blend's rank (already beyond the candidates).
    """
    hit = (fi == targets[:, None]) & (np.arange(fi.shape[1])[None, :] < fn[:, None])
    has = hit.any(axis=1)
    ranks = stage1.copy()
    if has.any():
        pos = hit[has].argmax(axis=1)
        pt = pred[has, pos]
        ranks[has] = (pred[has] >= pt[:, None]).sum(axis=1)
    return ranks


def _hr_mrr_at_20(preds: np.ndarray, data) -> tuple[str, float, bool]:
    """LightGBM metric: HR@20 + MRR@20 of the one relevant candidate of each group (the
    tuning objective, for early stopping)."""
    label = data.get_label()
    groups = data.get_group().astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(groups)[:-1]])
    group_of = np.repeat(np.arange(len(groups)), groups)
    target = np.zeros(len(groups))
    target[group_of[label > 0]] = preds[label > 0]
    ahead = np.add.reduceat((preds >= target[group_of]).astype(np.int64), starts)
    hit, rr = hit_and_rr(ahead, 20)
    return "hr_mrr_at_20", float(hit.mean() + rr.mean()), True


def _objective(ranks: np.ndarray) -> tuple[float, float]:
    hit, rr = hit_and_rr(ranks, 20)
    return float(hit.mean()), float(rr.mean())


def _subsample(sessions: SessionData, max_cases: int, seed: int) -> SessionData:
    """A random subset of whole sessions with about ``max_cases`` all-prefix cases."""
    per = np.maximum(np.diff(sessions.ptr) - 1, 0)
    if per.sum() <= max_cases:
        return sessions
    rng = np.random.default_rng(seed)
    order = rng.permutation(sessions.n_sessions)
    chosen = np.sort(order[np.cumsum(per[order]) <= max_cases])
    lengths = np.diff(sessions.ptr)[chosen]
    items = np.concatenate(
        [sessions.items[sessions.ptr[s] : sessions.ptr[s + 1]] for s in chosen]
    )
    return SessionData(np.concatenate([[0], np.cumsum(lengths)]), items)


def _build(data: SessionData, cfg: SessionModelParams) -> SessionIndex:
    return build_index(
        data.ptr,
        data.items,
        rule_steps=cfg.rule_steps,
        rule_top_n=cfg.rule_top_n,
        co_steps=cfg.co_steps,
        recent_sessions=cfg.recent_share,
    )


def _search_components(
    index: SessionIndex,
    cases: Cases,
    cfg: SessionModelParams,
    weights: np.ndarray,
) -> tuple[dict[str, float], float, list[dict[str, Any]]]:
    """Coordinate search: each value of ``cfg.search`` in turn, kept when it helps."""
    unknown = sorted(set(cfg.search) - set(PARAM_NAMES))
    if unknown:
        raise ValueError(f"Unknown parameters in search: {unknown}")
    current = dict(cfg.components)
    trail = []

    def objective(params):
        ranks, *_ = score_cases(index, cases, params, weights, threads=cfg.threads)
        best = max(sum(_objective(ranks[:, g])) for g in range(ranks.shape[1]))
        return best

    best = objective(current)
    trail.append({"params": dict(current), "objective": best})
    for _ in range(cfg.search_rounds):
        improved = False
        for name, values in cfg.search.items():
            for value in values:
                if current.get(name) == value:
                    continue
                trial = {**current, name: value}
                score = objective(trial)
                trail.append({"params": {name: value}, "objective": score})
                if score > best + 1e-4:
                    best, current, improved = score, trial, True
        if not improved:
            break
    return current, best, trail


def _weight_rows(grid_of: dict[str, list[float]]) -> np.ndarray:
    grid = itertools.product(grid_of["sr"], grid_of["rem"])
    return np.array([[1.0, sr, rem, POP_EPS] for sr, rem in grid], dtype=np.float64)


def _train_reranker(
    index: SessionIndex,
    val: SessionData,
    components: dict[str, float],
    weights: np.ndarray,
    cfg: SessionModelParams,
) -> tuple[Any, dict[str, Any]]:
    """LightGBM LambdaRank on the validation cases' candidates (older 80 % train it,
    the newest 20 % stop it early)."""
    import lightgbm as lgb  # noqa: PLC0415 - only needed when re-ranking

    split = int(val.n_sessions * 0.8)
    parts = {}
    for name, data in (
        ("train", val.slice(0, split)),
        ("stop", val.slice(split, val.n_sessions)),
    ):
        part = _subsample(data, cfg.rerank_max_cases, cfg.seed)
        cases = Cases(part.ptr, index.to_internal(part.items), True)
        ranks, _, _, fi, fx, fn = score_cases(
            index,
            cases,
            components,
            weights[None, :],
            features=cfg.rerank_depth,
            threads=cfg.threads,
        )
        targets = _targets(cases)
        label = (fi == targets[:, None]) & (
            np.arange(fi.shape[1])[None, :] < fn[:, None]
        )
        keep = label.any(axis=1)
        valid = np.arange(fi.shape[1])[None, :] < fn[keep][:, None]
        parts[name] = (
            fx[keep].reshape(-1, fx.shape[2])[valid.ravel()],
            label[keep][valid].astype(np.float32),
            fn[keep],
            (ranks[:, 0], fi, fx, fn, targets),
        )
    x, y, g, _ = parts["train"]
    xs, ys, gs, stop_eval = parts["stop"]
    if len(g) == 0 or len(gs) == 0:
        return None, {
            "reason": "no validation case has its target among the candidates"
        }
    params = {
        "objective": "lambdarank",
        "metric": "None",
        "learning_rate": cfg.rerank_learning_rate,
        "num_leaves": cfg.rerank_leaves,
        "min_data_in_leaf": 50,
        "feature_fraction": 0.9,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambdarank_truncation_level": 30,
        "verbose": -1,
        "seed": cfg.seed,
        "num_threads": cfg.threads or 0,
        "max_bin": 63,
    }
    train = lgb.Dataset(
        x, y, group=g, feature_name=list(FEATURE_NAMES), params={"max_bin": 63}
    )
    stop = lgb.Dataset(xs, ys, group=gs, reference=train)
    booster = lgb.train(
        params,
        train,
        num_boost_round=cfg.rerank_max_rounds,
        valid_sets=[stop],
        feval=_hr_mrr_at_20,
        callbacks=[lgb.early_stopping(15, verbose=False)],
    )
    stage1, fi, fx, fn, targets = stop_eval
    pred = _predict(booster, fx, fn, cfg.threads)
    before = _objective(stage1)
    after = _objective(_rerank_ranks(stage1, pred, fi, fn, targets))
    info = {
        "trees": int(booster.best_iteration or booster.current_iteration()),
        "train_cases": len(g),
        "stop_cases": len(stop_eval[0]),
        "stop_hr20_mrr20_blend": before,
        "stop_hr20_mrr20_reranked": after,
    }
    if sum(after) <= sum(before):
        info["reason"] = "the re-ranker did not beat the blend on held-out validation"
        return None, info
    return booster, info


def fit_session_model(train: SessionData, cfg: SessionModelParams) -> SessionModel:
    """Tunes on the newest training sessions, then fits on all of them.

    Args:
        train: Training sessions in time order.
        cfg: Fitting and tuning settings.

    Returns:
        The fitted model, with what tuning chose and measured in ``tuning``.

    Raises:
        SessionDataError: Too few sessions to hold out a validation split.
    """
    started = time.perf_counter()
    if train.n_sessions < 2:
        raise SessionDataError(
            f"{train.n_sessions} training session(s): at least 2 are needed (one to "
            "fit, one to validate)"
        )
    n_val = max(1, int(round(train.n_sessions * cfg.validation_share)))
    fit = train.slice(0, train.n_sessions - n_val)
    val = train.slice(train.n_sessions - n_val, train.n_sessions)
    tuning: dict[str, Any] = {"fit_sessions": fit.n_sessions, "val_sessions": n_val}
    index = _build(fit, cfg)
    search_data = _subsample(val, cfg.search_cases, cfg.seed)
    cases = Cases(search_data.ptr, index.to_internal(search_data.items), True)
    tuning["search_cases"] = cases.n_cases
    weights_grid = _weight_rows(cfg.weight_grid)
    components, best, trail = _search_components(
        index, cases, cfg, _weight_rows(cfg.search_weight_grid)
    )
    ranks, *_ = score_cases(index, cases, components, weights_grid, threads=cfg.threads)
    scores = [sum(_objective(ranks[:, g])) for g in range(len(weights_grid))]
    weights = weights_grid[int(np.argmax(scores))]
    tuning.update(
        components=components,
        weights=dict(zip(("knn", "sr", "rem", "pop"), weights.tolist(), strict=True)),
        search_objective=best,
        search_tries=len(trail),
        seconds_search=time.perf_counter() - started,
    )
    logger.info(
        "Session model tuned on %d validation cases in %.1f s: %s, weights %s",
        cases.n_cases,
        tuning["seconds_search"],
        components,
        tuning["weights"],
    )
    reranker = None
    if cfg.rerank:
        reranker, info = _train_reranker(index, val, components, weights, cfg)
        info["seconds"] = time.perf_counter() - started - tuning["seconds_search"]
        tuning["rerank"] = info
        logger.info("Re-ranker: %s", info)
    full = _build(train, cfg)
    tuning["seconds_fit"] = time.perf_counter() - started
    return SessionModel(
        index=full,
        components=components,
        weights=weights,
        reranker=reranker,
        rerank_depth=cfg.rerank_depth,
        tuning=tuning,
    )
