"""``SparkTableDataset``: one catalog entry per table, placed by the environment.

A table entry names the table and its data-layer folder; where the table lives comes
from the environment's ``store`` (the catalog's ``_store``, built from ``globals.yml``):

- a folder or object-store root (``data``, ``s3://bucket/prefix/data``): a Delta table
  at ``<root>/<folder>/<table>`` through
  :class:`~recsys_kedro.datasets.SparkDeltaTableDataset`;
- a Unity Catalog ``catalog`` and ``schema``: the managed table
  ``<catalog>.<schema>.<table>`` through kedro-datasets' ``ManagedTableDataset``
  (:class:`~recsys_kedro.datasets.ManagedCacheTableDataset` where the entry has an
  ``empty_schema``).

So ``conf/cloud`` and ``conf/databricks`` change ``globals.yml`` and never repeat an
entry. Both behave alike when the code changes a table's columns: ``overwrite`` replaces
the table, schema included (kedro-datasets' ``ManagedTableDataset`` always writes with
``overwriteSchema``), while ``append`` refuses a frame whose schema differs. The choice is made once, when the catalog builds the dataset; loads, saves and
``exists`` are the chosen dataset's own.
"""

from __future__ import annotations

from typing import Any

from kedro.io import AbstractDataset, DatasetError
from kedro_datasets.databricks import ManagedTableDataset
from pyspark.sql import DataFrame

from recsys_kedro.datasets.delta_table import SparkDeltaTableDataset
from recsys_kedro.datasets.managed_table import ManagedCacheTableDataset

_MODES = ("overwrite", "append")


class SparkTableDataset(AbstractDataset[DataFrame, DataFrame]):
    """A Spark table: a Delta folder under the store's root, or a Unity Catalog table.

    Example catalog entry::

        _store:                       # once per catalog file set, from globals.yml
          path: ${globals:storage.root}
          credentials: ${globals:storage.credentials}
          catalog: ${globals:storage.catalog}
          schema: ${globals:storage.schema}

        events_clean:
          type: recsys_kedro.datasets.SparkTableDataset
          table: events_clean
          folder: 02_intermediate
          store: ${_store}
          mode: overwrite             # or append
          empty_schema: null          # a DDL schema: load an empty frame until written
    """

    def __init__(  # noqa: PLR0913 - the entry's own keys, all keyword-only
        self,
        *,
        table: str,
        folder: str,
        store: dict[str, Any],
        mode: str = "overwrite",
        empty_schema: str | None = None,
        staging_dir: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Creates the dataset.

        Args:
            table: The table's name (the last part of its folder or UC name).
            folder: Its data-layer folder under a root (``04_feature``...); unused on
                Unity Catalog.
            store: ``path`` (the root folder or URI; named ``path`` so that Kedro
                makes a relative one absolute, as for a notebook run from elsewhere) and
                ``credentials``, or ``catalog`` and ``schema`` (Unity Catalog, which
                wins when both are set).
            mode: ``overwrite`` or ``append``.
            empty_schema: A DDL schema; while there is no table, a load returns an
                empty frame of it (a cache before its first write).
            staging_dir: Where a delta-rs write stages parquet (Delta folders only).
            metadata: Free-form metadata (kedro-viz reads ``kedro-viz.layer``).

        Raises:
            DatasetError: ``mode`` is not overwrite or append, or ``store`` names
                neither a root nor a catalog and schema.
        """
        if mode not in _MODES:
            raise DatasetError(
                f"Table '{table}': mode must be one of {_MODES}, not {mode!r}"
            )
        self.metadata = metadata
        self._table = table
        catalog, schema = store.get("catalog"), store.get("schema")
        if catalog or schema:
            if not (catalog and schema):
                raise DatasetError(
                    f"Table '{table}': a Unity Catalog store needs both catalog and "
                    f"schema (globals.yml storage), got catalog={catalog!r}, "
                    f"schema={schema!r}"
                )
            args = {
                "table": table,
                "catalog": catalog,
                "database": schema,
                "write_mode": mode,
            }
            self.target: AbstractDataset = (
                ManagedCacheTableDataset(empty_schema=empty_schema, **args)
                if empty_schema
                else ManagedTableDataset(**args)
            )
            return
        root = store.get("path")
        if not root:
            raise DatasetError(
                f"Table '{table}': the store has neither a root folder nor a Unity "
                "Catalog catalog and schema (globals.yml storage)"
            )
        self.target = SparkDeltaTableDataset(
            filepath=f"{str(root).rstrip('/')}/{folder}/{table}",
            load_args={"empty_schema": empty_schema} if empty_schema else None,
            save_args={
                "mode": mode,
                "schema_mode": "overwrite" if mode == "overwrite" else None,
            },
            credentials=store.get("credentials"),
            staging_dir=staging_dir,
        )

    @property
    def location(self) -> str:
        """Where the table is: its folder or URI, or ``catalog.schema.table``."""
        if isinstance(self.target, SparkDeltaTableDataset):
            return self.target.filepath
        return self.target._table.full_table_location().replace("`", "")  # noqa: SLF001

    def _describe(self) -> dict[str, Any]:
        return {"table": self._table, "location": self.location}

    def _load(self) -> DataFrame:
        return self.target.load()

    def _save(self, data: DataFrame) -> None:
        self.target.save(data)

    def _exists(self) -> bool:
        return self.target.exists()
