"""Frequent itemsets and association rules, evaluated as a cross-sell recommender."""

from recsys_kedro.pipelines.fpgrowth.pipeline import create_pipeline

__all__ = ["create_pipeline"]
