"""The ``cf_tuning`` pipeline's node: each cf parameter chosen on validation data.

The events before the evaluation cut-off (``train_events``) are split again, at
``cf_tuning.validation``: models are fitted on the part before that second cut-off and
scored on the part after it, so the test period of ``params:time_split`` is never read.
The grid is small and explicit (``parameters_cf_tuning.yml``):

1. item cosine: every (``half_life_days``, ``similarity_alpha``) pair is fitted once with
   the largest ``top_n``; smaller ``top_n`` values are its prefixes, so they cost only
   the scoring;
2. the blend weight, on the best item cosine;
3. ALS's rank, alpha and regularisation, on the interactions of the best half-life (the
   interactions item cosine sees).

The result is the whole ``cf`` parameter block with the chosen values, written where a
user copies it to ``conf/local/parameters_cf.yml``; the cf pipeline itself never tunes.
"""

from __future__ import annotations

import itertools
import logging
import time
from datetime import datetime
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from recsys_kedro.evaluation import split_events_by_time
from recsys_kedro.evaluation.ranking import per_user_metrics
from recsys_kedro.recommend.cf_params import CfParams, CfTuningParams
from recsys_kedro.recommend.cf_training import (
    TrainingFit,
    build_interactions,
    evaluation_inputs,
    item_similarities,
    model_recommendations,
    popular_products,
)
from recsys_kedro.tracking import mlflow_metrics

logger = logging.getLogger(__name__)


def _score(
    recs: DataFrame, relevant: DataFrame, k: int, tuning: CfTuningParams
) -> tuple[float, int]:
    """Mean of the tuned metric over the segment's users, and their number."""
    per_user = per_user_metrics(
        recs.select(F.lit("m").alias("model"), "user_id", "rank", "product_id"),
        relevant.where(F.col("segment") == tuning.segment),
        k,
        ["m"],
    )
    row = per_user.agg(F.avg(tuning.metric), F.count("*")).first()
    return float(row[0] or 0.0), int(row[1])


def _update(cfg: CfParams, **values: Any) -> CfParams:
    """``cfg`` with some top-level or ``evaluation`` values replaced, re-validated."""
    data = cfg.model_dump()
    for key, value in values.items():
        if key == "blend_weight":
            data["evaluation"]["blend_weight"] = value
        elif key in {"rank", "alpha", "reg_param"}:
            data["evaluation"]["als"][key] = value
        else:
            data[key] = value
    return CfParams.model_validate(data)


def tune_cf(
    train_events: DataFrame, cf: CfParams, tuning: CfTuningParams
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """Chooses item cosine's half-life, asymmetry and neighbour count, the blend weight
    and ALS's rank, alpha and regularisation on a validation window.

    Args:
        train_events: Events before the evaluation cut-off.
        cf: ``params:cf`` (the values not tuned are kept).
        tuning: ``params:cf_tuning``.

    Returns:
        Every grid point's validation score (``model`` and the values tried, ``score``,
        ``users``), ``{"cf": <the cf block with the chosen values>}`` and MLflow metrics.
    """
    start = time.perf_counter()
    fit_events, valid_events, info = split_events_by_time(
        train_events, tuning.validation
    )
    cutoff = datetime.fromisoformat(info["cutoff"])
    grid, k = tuning.grid, cf.evaluation.k
    rows: list[dict[str, Any]] = []
    fits: dict[Any, tuple[TrainingFit, DataFrame, DataFrame, DataFrame]] = {}
    for half_life, alpha in itertools.product(
        grid.half_life_days, grid.similarity_alpha
    ):
        cfg = _update(
            cf, half_life_days=half_life, similarity_alpha=alpha, top_n=max(grid.top_n)
        )
        interactions, history, _ = build_interactions(fit_events, cfg)
        neighbours, _ = item_similarities(interactions, cfg)
        popular = popular_products(interactions, cfg)
        if half_life not in {key[0] for key in fits}:
            users, relevant, eval_history, _ = evaluation_inputs(
                history, fit_events, valid_events, cutoff, cfg
            )
        else:
            users, relevant, eval_history = next(
                v[1:] for key, v in fits.items() if key[0] == half_life
            )
        for top_n in sorted(grid.top_n):
            fit = TrainingFit(
                interactions,
                history,
                neighbours.where(F.col("rank") <= top_n),
                popular,
                fit_events,
                cutoff,
            )
            fits[(half_life, alpha, top_n)] = (fit, users, relevant, eval_history)
            recs = model_recommendations("item_cosine", eval_history, users, fit, cfg)
            score, n = _score(recs, relevant, k, tuning)
            rows.append(
                {
                    "model": "item_cosine",
                    "half_life_days": half_life,
                    "similarity_alpha": alpha,
                    "top_n": top_n,
                    "score": score,
                    "users": n,
                }
            )
            logger.info("Validation %s: %s", tuning.metric, rows[-1])
    table = pd.DataFrame(rows)
    best = table.sort_values("score", ascending=False, kind="stable").iloc[0]
    chosen: dict[str, Any] = {
        "half_life_days": None
        if pd.isna(best["half_life_days"])
        else float(best["half_life_days"]),
        "similarity_alpha": float(best["similarity_alpha"]),
        "top_n": int(best["top_n"]),
    }
    fit, users, relevant, eval_history = fits[
        (chosen["half_life_days"], chosen["similarity_alpha"], chosen["top_n"])
    ]
    cfg = _update(cf, **chosen)
    for weight in grid.blend_weight:
        recs = model_recommendations(
            "blend", eval_history, users, fit, _update(cfg, blend_weight=weight)
        )
        score, n = _score(recs, relevant, k, tuning)
        rows.append(
            {
                "model": "blend",
                **chosen,
                "blend_weight": weight,
                "score": score,
                "users": n,
            }
        )
    for rank, als_alpha, reg in itertools.product(
        grid.als.rank, grid.als.alpha, grid.als.reg_param
    ):
        als_cfg = _update(cfg, rank=rank, alpha=als_alpha, reg_param=reg)
        recs = model_recommendations("als", eval_history, users, fit, als_cfg)
        score, n = _score(recs, relevant, k, tuning)
        rows.append(
            {
                "model": "als",
                "half_life_days": chosen["half_life_days"],
                "als_rank": rank,
                "als_alpha": als_alpha,
                "als_reg_param": reg,
                "score": score,
                "users": n,
            }
        )
    table = pd.DataFrame(rows)
    blend = table[table["model"] == "blend"].sort_values(
        "score", ascending=False, kind="stable"
    )
    als = table[table["model"] == "als"].sort_values(
        "score", ascending=False, kind="stable"
    )
    tuned = _update(
        cfg,
        blend_weight=float(blend.iloc[0]["blend_weight"]),
        rank=int(als.iloc[0]["als_rank"]),
        alpha=float(als.iloc[0]["als_alpha"]),
        reg_param=float(als.iloc[0]["als_reg_param"]),
    )
    table.insert(1, "metric", f"{tuning.metric}@{k} ({tuning.segment})")
    table.insert(2, "validation_cutoff", info["cutoff"])
    seconds = time.perf_counter() - start
    logger.info(
        "cf tuned on the validation window from %s (%d users): half_life_days=%s, "
        "similarity_alpha=%s, top_n=%d, blend_weight=%s, als rank=%d alpha=%s "
        "reg_param=%s; %.0f s",
        info["cutoff"],
        int(best["users"]),
        tuned.half_life_days,
        tuned.similarity_alpha,
        tuned.top_n,
        tuned.evaluation.blend_weight,
        tuned.evaluation.als.rank,
        tuned.evaluation.als.alpha,
        tuned.evaluation.als.reg_param,
        seconds,
    )
    metrics = {
        "best_item_cosine_score": float(best["score"]),
        "best_blend_score": float(blend.iloc[0]["score"]),
        "best_als_score": float(als.iloc[0]["score"]),
        "validation_users": float(best["users"]),
        "similarity_alpha": tuned.similarity_alpha,
        "top_n": float(tuned.top_n),
        "half_life_days": tuned.half_life_days or 0.0,
        "blend_weight": tuned.evaluation.blend_weight,
        "seconds_tuning": seconds,
    }
    return table, {"cf": tuned.model_dump(mode="json")}, mlflow_metrics(metrics)
