"""``ManagedCacheTableDataset``: kedro-datasets' Unity Catalog ``ManagedTableDataset``
that loads as an empty frame of a given schema while the table does not exist yet.

The nlp pipeline's embedding cache is read before the run that first writes it; on a
laptop :class:`~recsys_kedro.datasets.SparkDeltaTableDataset` does this with
``load_args.empty_schema``, and on Databricks this subclass does the same for a managed
table. Everything else is ``ManagedTableDataset``'s.
"""

from __future__ import annotations

from typing import Any

from kedro_datasets.databricks import ManagedTableDataset
from pyspark.sql import DataFrame

from recsys_kedro.spark_session import get_spark


class ManagedCacheTableDataset(ManagedTableDataset):
    """A managed Delta table that loads empty (with ``empty_schema``) until it exists."""

    def __init__(self, *, empty_schema: str, **kwargs: Any) -> None:
        """Creates the dataset.

        Args:
            empty_schema: DDL schema of the frame loaded while there is no table.
            **kwargs: ``ManagedTableDataset``'s arguments (``table``, ``catalog``,
                ``database``, ``write_mode``...).
        """
        super().__init__(**kwargs)
        self._empty_schema = empty_schema

    def _load(self) -> DataFrame:
        if not self._exists():
            return get_spark().createDataFrame([], self._empty_schema)
        return super()._load()
