"""Item-item cosine collaborative filtering."""

from recsys_kedro.pipelines.cf.pipeline import create_pipeline

__all__ = ["create_pipeline"]
