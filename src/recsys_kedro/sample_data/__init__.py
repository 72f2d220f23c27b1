"""The default sample data: raw files shaped like the public datasets, with planted
structure written beside them as ground truth."""

from recsys_kedro.raw_schemas import (
    EVENT_COLUMNS,
    MAPPING_COLUMNS,
    PRODUCT_INFO_COLUMNS,
    REVIEW_COLUMNS,
)
from recsys_kedro.sample_data.generator import (
    SampleConfig,
    SampleSummary,
    existing_raw_files,
    generate,
)

__all__ = [
    "EVENT_COLUMNS",
    "MAPPING_COLUMNS",
    "PRODUCT_INFO_COLUMNS",
    "REVIEW_COLUMNS",
    "SampleConfig",
    "SampleSummary",
    "existing_raw_files",
    "generate",
]
