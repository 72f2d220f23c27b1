"""The data_processing pipeline on real rows of the public datasets (from ../shared)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from recsys_kedro.datasets import RawCsvDataset, SparkDeltaTableDataset
from recsys_kedro.pipelines.data_processing import create_pipeline
from tests.params import typed

pytestmark = pytest.mark.integration  # left out of make test-fast


def _csv_rows(paths) -> list[list[str]]:
    rows = []
    for path in paths:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader)
            rows.extend(reader)
    return rows


def _expected_events(raw: Path) -> dict[str, int]:
    """Independent count of the real quirks: prices <= 0, empty sessions, duplicates."""
    rows = _csv_rows(sorted((raw / "events").glob("*.csv")))
    rejected = {"nonpositive_price": 0, "missing_user_session": 0, "exact_duplicate": 0}
    seen = set()
    clean = 0
    for row in rows:
        bad = False
        if float(row[6]) <= 0:
            rejected["nonpositive_price"] += 1
            bad = True
        if row[8].strip() == "":
            rejected["missing_user_session"] += 1
            bad = True
        if bad:
            continue
        if tuple(row) in seen:
            rejected["exact_duplicate"] += 1
            continue
        seen.add(tuple(row))
        clean += 1
    return {
        "rows_in": len(rows),
        "clean": clean,
        **{k: v for k, v in rejected.items() if v},
    }


def _catalog(raw: Path, out: Path, params: dict) -> DataCatalog:
    datasets = {
        "events_raw": RawCsvDataset(path=str(raw / "events")),
        "reviews_raw": RawCsvDataset(
            path=str(raw / "reviews"),
            pattern="reviews_*.csv",
            ignore=["product_info.csv"],
            multiline=True,
        ),
        "products_raw": RawCsvDataset(
            path=str(raw / "reviews"),
            pattern="product_info.csv",
            ignore=["reviews_*.csv"],
            multiline=True,
        ),
        "product_mapping_raw": RawCsvDataset(
            path=str(raw / "product_mapping.csv"), required=False
        ),
        "params:data_processing": MemoryDataset(typed("data_processing", params)),
        "data_quality_report": MemoryDataset(),
        "data_quality_metrics": MemoryDataset(),
    }
    for table in ("events", "reviews", "products", "product_mapping"):
        for kind in ("clean", "rejected"):
            name = f"{table}_{kind}"
            datasets[name] = SparkDeltaTableDataset(filepath=str(out / name))
    return DataCatalog(datasets=datasets)


def test_pipeline_counts_every_real_row_into_clean_or_rejected(
    real_raw_dir: Path, tmp_path: Path, params
):
    catalog = _catalog(real_raw_dir, tmp_path / "out", params)
    SequentialRunner().run(create_pipeline(), catalog)
    report = catalog.load("data_quality_report")["tables"]

    expected = _expected_events(real_raw_dir)
    events = report["events"]
    assert events["rows_in"] == expected["rows_in"] == 10_000
    assert events["clean"] == expected["clean"]
    assert events["rejected_by_check"] == {
        k: v for k, v in expected.items() if k not in ("rows_in", "clean")
    }
    assert catalog.load("events_clean").count() == expected["clean"]
    assert events["files"] == 5 and all(
        f["balanced"] for f in events["by_file"].values()
    )

    reviews = _csv_rows(sorted((real_raw_dir / "reviews").glob("reviews_*.csv")))
    empty_text = sum(1 for r in reviews if r[9].strip() == "")
    assert report["reviews"]["rows_in"] == len(reviews) == 5_000
    assert report["reviews"]["rejected_by_check"] == (
        {"empty_review_text": empty_text} if empty_text else {}
    )
    assert report["reviews"]["clean"] == len(reviews) - empty_text

    products = _csv_rows([real_raw_dir / "reviews" / "product_info.csv"])
    assert report["products"]["rows_in"] == len(products) == 1_000
    assert report["products"]["clean"] == len({r[0] for r in products})

    assert report["product_mapping"]["rows_in"] == 0  # no mapping file: allowed, empty
    clean_reviews = catalog.load("reviews_clean")
    assert clean_reviews.filter("rating < 1 or rating > 5").count() == 0
    assert clean_reviews.select("review_id").distinct().count() == clean_reviews.count()
