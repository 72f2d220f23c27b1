"""engagement pipeline: a Spark ML model of the engagement level (0 view, 1 cart,
2 remove_from_cart, 3 purchase) of a user's next interaction with a product."""

from recsys_kedro.pipelines.engagement.pipeline import create_pipeline

__all__ = ["create_pipeline"]
