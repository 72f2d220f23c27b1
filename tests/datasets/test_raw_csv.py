"""RawCsvDataset: missing inputs stop the run clearly; nothing is dropped on read."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import pytest
from kedro.io.core import DatasetError

from recsys_kedro.datasets import RawCsvDataset
from recsys_kedro.datasets.raw_csv import RawFolderError


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_missing_folder_names_the_path_and_the_layout(spark, tmp_path: Path):
    dataset = RawCsvDataset(
        path=str(tmp_path / "raw" / "events"), layout="events/*.csv: monthly logs"
    )
    with pytest.raises(DatasetError) as error:
        dataset.load()
    message = str(error.value)
    assert str(tmp_path / "raw" / "events") in message
    assert "does not exist" in message
    assert "events/*.csv: monthly logs" in message
    assert "--params=raw_dir=" in message


def test_empty_folder_and_no_matching_file_stop_the_run(spark, tmp_path: Path):
    (tmp_path / "events").mkdir()
    with pytest.raises(DatasetError, match="holds no file matching"):
        RawCsvDataset(path=str(tmp_path / "events")).load()
    _write(tmp_path / "reviews" / "product_info.csv", "x")
    with pytest.raises(DatasetError, match=r"no file matching 'reviews_\*\.csv'"):
        RawCsvDataset(
            path=str(tmp_path / "reviews"),
            pattern="reviews_*.csv",
            ignore=["product_info.csv"],
        ).load()


def test_file_without_header_line_is_an_error(spark, tmp_path: Path):
    _write(tmp_path / "events" / "2019-Oct.csv", "")
    with pytest.raises(DatasetError, match=r"\['2019-Oct.csv'\].*empty"):
        RawCsvDataset(path=str(tmp_path / "events")).load()


def test_optional_missing_file_loads_empty(spark, tmp_path: Path):
    raw = RawCsvDataset(
        path=str(tmp_path / "product_mapping.csv"), required=False
    ).load()
    assert raw.is_empty
    assert raw.frame is None


def test_rows_are_strings_and_malformed_rows_keep_their_raw_line(spark, tmp_path: Path):
    _write(
        tmp_path / "events" / "a.csv",
        'x,y,z\n1,2,3\n4,5\n6,7,8,9\n"q,r",s,t\n',
    )
    _write(tmp_path / "events" / "b.csv", "x,y,z\n10,11,12\n")
    raw = RawCsvDataset(path=str(tmp_path / "events")).load()
    assert raw.headers == {"a.csv": ["x", "y", "z"], "b.csv": ["x", "y", "z"]}
    rows = sorted(
        tuple(r)
        for r in raw.frame.select(
            "source_file", "x", "y", "z", "_corrupt_record"
        ).collect()
    )
    assert rows == [
        ("a.csv", "1", "2", "3", None),
        ("a.csv", "4", "5", None, "4,5"),
        ("a.csv", "6", "7", "8", "6,7,8,9"),
        ("a.csv", "q,r", "s", "t", None),
        ("b.csv", "10", "11", "12", None),
    ]
    assert {f.dataType.simpleString() for f in raw.frame.schema.fields} == {"string"}


def test_multiline_quoted_fields_stay_one_row(spark, tmp_path: Path):
    _write(
        tmp_path / "r" / "reviews_0.csv",
        'id,text\n1,"line one\nline two"\n2,"say ""hi"""\n',
    )
    raw = RawCsvDataset(
        path=str(tmp_path / "r"), pattern="reviews_*.csv", multiline=True
    ).load()
    assert sorted(tuple(r) for r in raw.frame.select("id", "text").collect()) == [
        ("1", "line one\nline two"),
        ("2", 'say "hi"'),
    ]


def test_saving_raw_input_is_refused(tmp_path: Path):
    with pytest.raises(DatasetError, match="raw input"):
        RawCsvDataset(path=str(tmp_path)).save("anything")


def test_malformed_rows_are_caught_even_where_the_session_prunes_csv_columns(
    spark, tmp_path: Path
):
    """Spark's default (column pruning on) hides a wrong field count when only some
    columns are read; a session we did not configure (Databricks) has that default."""
    _write(tmp_path / "e" / "a.csv", "x,y,z\n1,2,3\n4,5\n")
    key = "spark.sql.csv.parser.columnPruning.enabled"
    before = spark.conf.get(key)
    spark.conf.set(key, "true")
    try:
        raw = RawCsvDataset(path=str(tmp_path / "e")).load()
        rows = sorted(
            tuple(r) for r in raw.frame.select("x", "_corrupt_record").collect()
        )
    finally:
        spark.conf.set(key, before)
    assert rows == [("1", None), ("4", "4,5")]


def test_compressed_files_are_read_beside_plain_ones(spark, tmp_path: Path):
    folder = tmp_path / "events"
    _write(folder / "2019-Oct.csv", "x,y\n1,2\n")
    (folder / "2019-Nov.csv.gz").write_bytes(gzip.compress(b"x,y\n3,4\n5,6\n"))
    (folder / "2019-Dec.csv.bz2").write_bytes(bz2.compress(b"x,y\n7,8\n"))
    raw = RawCsvDataset(path=str(folder)).load()
    assert sorted(raw.headers) == [
        "2019-Dec.csv.bz2",
        "2019-Nov.csv.gz",
        "2019-Oct.csv",
    ]
    rows = sorted(tuple(r) for r in raw.frame.select("source_file", "x", "y").collect())
    assert rows == [
        ("2019-Dec.csv.bz2", "7", "8"),
        ("2019-Nov.csv.gz", "3", "4"),
        ("2019-Nov.csv.gz", "5", "6"),
        ("2019-Oct.csv", "1", "2"),
    ]


def test_files_the_dataset_would_not_read_stop_the_run_by_name(spark, tmp_path: Path):
    folder = tmp_path / "events"
    _write(folder / "2019-Oct.csv", "x,y\n1,2\n")
    _write(folder / "2019-Nov.csv.zip", "PK")
    _write(folder / "notes.txt", "hello")
    with pytest.raises(RawFolderError) as error:
        RawCsvDataset(path=str(folder)).load()
    message = str(error.value)
    assert "'2019-Nov.csv.zip': a zip archive" in message
    assert "'notes.txt': matches neither '*.csv'" in message
    assert "2019-Oct.csv'" not in message


def test_ignored_files_are_listed_as_not_read(spark, tmp_path: Path):
    folder = tmp_path / "reviews"
    _write(folder / "reviews_0.csv", "a\n1\n")
    _write(folder / "product_info.csv", "b\n2\n")
    raw = RawCsvDataset(
        path=str(folder), pattern="reviews_*.csv", ignore=["product_info.csv"]
    ).load()
    assert list(raw.headers) == ["reviews_0.csv"]
    assert list(raw.not_read) == ["product_info.csv"]


def test_header_that_is_not_utf8_is_named(spark, tmp_path: Path):
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "a.csv").write_bytes(b"caf\xe9,x\n1,2\n")
    with pytest.raises(DatasetError, match=r"'a.csv'.*not valid UTF-8"):
        RawCsvDataset(path=str(folder)).load()
