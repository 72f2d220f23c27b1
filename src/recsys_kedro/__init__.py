"""recsys_kedro: product recommendations from e-commerce events and reviews."""

__version__ = "0.1.0"
