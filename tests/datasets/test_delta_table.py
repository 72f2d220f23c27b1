"""SparkDeltaTableDataset on delta-rs: round trip, versions, schema guard, atomicity."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from kedro.io.core import DatasetError
from pyspark.sql import functions as F

from recsys_kedro.datasets import SchemaMismatchError, SparkDeltaTableDataset


def _rows(frame, *order):
    return [tuple(r) for r in frame.orderBy(*order).collect()]


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_round_trip_keeps_values_and_types(spark, tmp_path: Path):
    frame = spark.createDataFrame(
        [(1, "a", 1.5), (2, None, -2.0)], "id bigint, name string, price double"
    ).withColumn("at", F.to_timestamp(F.lit("2019-10-01 00:00:48")))
    dataset = SparkDeltaTableDataset(filepath=str(tmp_path / "t"))
    dataset.save(frame)

    loaded = dataset.load()
    assert loaded.schema.simpleString() == (
        "struct<id:bigint,name:string,price:double,at:timestamp>"
    )
    assert [r[:3] for r in _rows(loaded, "id")] == [(1, "a", 1.5), (2, None, -2.0)]
    assert loaded.select(F.date_format("at", "yyyy-MM-dd HH:mm:ss")).first()[0] == (
        "2019-10-01 00:00:48"
    )
    assert DeltaTable(str(tmp_path / "t")).version() == 0


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_load_reads_only_the_current_version_and_older_versions_on_request(
    spark, tmp_path: Path
):
    path = str(tmp_path / "t")
    SparkDeltaTableDataset(filepath=path).save(
        spark.createDataFrame([(1,), (2,)], "x int")
    )
    SparkDeltaTableDataset(filepath=path).save(spark.createDataFrame([(3,)], "x int"))

    # The folder still holds the removed files: plain parquet sees all three rows.
    assert spark.read.parquet(path).count() == 3
    assert _rows(SparkDeltaTableDataset(filepath=path).load(), "x") == [(3,)]
    old = SparkDeltaTableDataset(filepath=path, load_args={"version": 0})
    assert _rows(old.load(), "x") == [(1,), (2,)]


def test_a_frame_with_another_schema_is_refused_and_the_table_kept(
    spark, tmp_path: Path
):
    path = str(tmp_path / "t")
    dataset = SparkDeltaTableDataset(filepath=path)
    dataset.save(spark.createDataFrame([(1, "a")], "id int, name string"))

    with pytest.raises(SchemaMismatchError) as error:
        dataset.save(spark.createDataFrame([(2, 3.0)], "id int, score double"))
    message = str(error.value)
    assert "missing columns ['name']" in message
    assert "new columns ['score']" in message
    assert DeltaTable(path).version() == 0
    assert _rows(dataset.load(), "id") == [(1, "a")]


def test_changed_column_type_is_named(spark, tmp_path: Path):
    path = str(tmp_path / "t")
    dataset = SparkDeltaTableDataset(filepath=path)
    dataset.save(spark.createDataFrame([(1,)], "id int"))
    with pytest.raises(
        SchemaMismatchError, match=r"changed types \['id \(int32 -> string\)'\]"
    ):
        dataset.save(spark.createDataFrame([("1",)], "id string"))


@pytest.mark.parametrize(
    ("schema_mode", "expected_columns"),
    [("overwrite", ["id", "score"]), ("merge", ["id", "name", "score"])],
)
def test_schema_mode_opts_into_a_new_schema(
    spark, tmp_path, schema_mode, expected_columns
):
    path = str(tmp_path / "t")
    SparkDeltaTableDataset(filepath=path).save(
        spark.createDataFrame([(1, "a")], "id int, name string")
    )
    dataset = SparkDeltaTableDataset(
        filepath=path, save_args={"schema_mode": schema_mode}
    )
    dataset.save(spark.createDataFrame([(2, 3.0)], "id int, score double"))
    loaded = dataset.load()
    assert sorted(loaded.columns) == expected_columns
    assert loaded.count() == 1


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_failed_write_leaves_the_previous_version_readable(spark, tmp_path: Path):
    path = str(tmp_path / "t")
    dataset = SparkDeltaTableDataset(filepath=path)
    dataset.save(spark.createDataFrame([(1,), (2,)], "x int"))

    @F.udf("int")
    def explode_on_three(x):
        if x == 3:
            raise ValueError("boom")
        return x

    failing = spark.createDataFrame([(1,), (3,)], "x int").select(
        explode_on_three("x").alias("x")
    )
    with pytest.raises(DatasetError):
        dataset.save(failing)
    assert DeltaTable(path).version() == 0
    assert _rows(dataset.load(), "x") == [(1,), (2,)]


def test_append_and_partitions(spark, tmp_path: Path):
    path = str(tmp_path / "t")
    dataset = SparkDeltaTableDataset(
        filepath=path, save_args={"mode": "append", "partition_by": ["month"]}
    )
    dataset.save(
        spark.createDataFrame([(1, "2019-10"), (2, "2019-11")], "x int, month string")
    )
    dataset.save(spark.createDataFrame([(3, "2019-11")], "x int, month string"))
    assert _rows(dataset.load(), "x") == [
        (1, "2019-10"),
        (2, "2019-11"),
        (3, "2019-11"),
    ]
    assert (tmp_path / "t" / "month=2019-11").is_dir()


def test_empty_frame_round_trips_with_its_schema(spark, tmp_path: Path):
    dataset = SparkDeltaTableDataset(filepath=str(tmp_path / "t"))
    dataset.save(spark.createDataFrame([], "id bigint, name string"))
    loaded = dataset.load()
    assert loaded.count() == 0
    assert loaded.columns == ["id", "name"]


def test_missing_table_and_bad_arguments_give_clear_errors(spark, tmp_path: Path):
    with pytest.raises(DatasetError, match="No Delta table at .*nothing"):
        SparkDeltaTableDataset(filepath=str(tmp_path / "nothing")).load()
    with pytest.raises(
        DatasetError, match="schema_mode must be null, merge or overwrite"
    ):
        SparkDeltaTableDataset(filepath="x", save_args={"schema_mode": "replace"})
    with pytest.raises(DatasetError, match="takes a Spark DataFrame"):
        SparkDeltaTableDataset(filepath=str(tmp_path / "t")).save([1, 2])


def test_metadata_is_kedros_mapping_for_kedro_viz(tmp_path: Path):
    meta = {"kedro-viz": {"layer": "intermediate"}}
    dataset = SparkDeltaTableDataset(filepath=str(tmp_path / "t"), metadata=meta)
    assert dataset.metadata["kedro-viz"]["layer"] == "intermediate"


@pytest.mark.parametrize(
    ("configuration", "named"),
    [
        ({"delta.enableDeletionVectors": "true"}, "deletionVectors"),
        ({"delta.columnMapping.mode": "name"}, "columnMapping (name)"),
    ],
)
def test_tables_plain_parquet_would_misread_are_refused(
    spark, tmp_path, configuration, named
):
    """Written elsewhere (e.g. by Databricks): their files alone do not give their rows."""
    path = str(tmp_path / "t")
    write_deltalake(path, pa.table({"x": [1, 2]}), configuration=configuration)
    with pytest.raises(
        DatasetError, match=rf"uses \[.*'{re.escape(named)}'.*Spark session with Delta"
    ):
        SparkDeltaTableDataset(filepath=path).load()
