"""Engagement levels, product, session and user features, scaling, and the inferred
mapping between the event and review product ids."""

from recsys_kedro.pipelines.feature_engineering.pipeline import create_pipeline

__all__ = ["create_pipeline"]
