"""SparkTableDataset: the store picks a Delta folder or a Unity Catalog table."""

from __future__ import annotations

from pathlib import Path

import pytest
from deltalake import DeltaTable
from kedro.io.core import DatasetError
from kedro_datasets.databricks import ManagedTableDataset

from recsys_kedro.datasets import (
    ManagedCacheTableDataset,
    SchemaMismatchError,
    SparkDeltaTableDataset,
    SparkTableDataset,
)

CACHE = "key STRING, n INT"


def test_a_root_store_is_a_delta_folder_that_appends_and_starts_empty(
    spark, tmp_path: Path
):
    store = {"path": str(tmp_path), "credentials": None, "catalog": None}
    cache = SparkTableDataset(
        table="cache", folder="04_feature", store=store, empty_schema=CACHE
    )
    appended = SparkTableDataset(
        table="cache", folder="04_feature", store=store, mode="append"
    )
    assert isinstance(cache.target, SparkDeltaTableDataset)
    assert cache.location == f"{tmp_path}/04_feature/cache"
    assert not cache.exists()
    assert cache.load().count() == 0  # no table yet: an empty frame of the schema

    appended.save(spark.createDataFrame([("a", 1)], CACHE))
    appended.save(spark.createDataFrame([("b", 2)], CACHE))
    assert sorted(tuple(r) for r in cache.load().collect()) == [("a", 1), ("b", 2)]
    assert DeltaTable(cache.location).version() == 1  # two commits to one table


def test_an_overwrite_takes_new_columns_and_an_append_refuses_them(
    spark, tmp_path: Path
):
    """A code change that adds a column to a derived table replaces it on the next run,
    as a Unity Catalog overwrite does; appending a frame of another schema fails."""
    store = {"path": str(tmp_path), "credentials": None, "catalog": None}
    table = SparkTableDataset(table="t", folder="05_model_input", store=store)
    table.save(spark.createDataFrame([("a", 1)], "key STRING, n INT"))
    table.save(spark.createDataFrame([("b", 2, 0.5)], "key STRING, n INT, x DOUBLE"))
    assert [tuple(r) for r in table.load().collect()] == [("b", 2, 0.5)]
    appended = SparkTableDataset(
        table="t", folder="05_model_input", store=store, mode="append"
    )
    with pytest.raises(SchemaMismatchError, match=r"missing columns \['x'\]"):
        appended.save(spark.createDataFrame([("c", 3)], "key STRING, n INT"))
    assert table.load().count() == 1


def test_a_catalog_store_is_a_managed_table(tmp_path: Path):
    store = {"path": str(tmp_path), "catalog": "main", "schema": "shop"}
    table = SparkTableDataset(table="recs", folder="07_model_output", store=store)
    assert type(table.target) is ManagedTableDataset
    assert table.location == "main.shop.recs"
    assert table.target._table.write_mode == "overwrite"
    cache = SparkTableDataset(
        table="cache", folder="04", store=store, mode="append", empty_schema=CACHE
    )
    assert isinstance(cache.target, ManagedCacheTableDataset)
    assert cache.target._table.write_mode == "append"


@pytest.mark.parametrize(
    ("store", "mode", "message"),
    [
        ({"catalog": "main"}, "overwrite", "needs both catalog and schema"),
        ({"path": None}, "overwrite", "neither a root folder nor"),
        ({"path": "data"}, "upsert", "mode must be one of"),
    ],
)
def test_an_incomplete_store_or_unknown_mode_is_named(store, mode, message):
    with pytest.raises(DatasetError, match=message):
        SparkTableDataset(table="t", folder="02", store=store, mode=mode)
