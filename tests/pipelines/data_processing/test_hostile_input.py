"""Hostile raw input: non-finite and implausible numbers, broken encodings, quoted line
breaks and ISO 8601 times. Each expectation is worked out by hand from the rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from recsys_kedro.datasets import RawCsvDataset
from recsys_kedro.pipelines.data_processing.nodes import (
    build_data_quality_report,
    clean_events,
)
from tests.params import typed

from .conftest import EVENT_HEADER

S = "26dd6e6e-4dac-4778-8d2c-92e149dab885"
GOOD = f"2019-10-01 00:00:48 UTC,view,5802432,1487580009286598681,,runail,3.17,463240011,{S}"


def _row(**fields: str) -> str:
    values = dict(zip(EVENT_HEADER.split(","), GOOD.split(","), strict=True), **fields)
    return ",".join(values.values())


def _reasons(rejected) -> list[str]:
    return sorted(r["reject_reason"] for r in rejected.collect())


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_nonfinite_negative_and_implausible_numbers_are_quarantined(raw_files, params):
    rows = [
        _row(price="NaN"),
        _row(price="inf"),
        _row(price="-Infinity"),
        _row(price="1e400"),  # overflows to infinity
        _row(price="1e20"),  # finite, above price_max
        _row(price="100000"),  # exactly the ceiling: kept
        _row(product_id="-5"),
        _row(user_id="NaN"),
        _row(category_id="-1", user_id="-2"),
        _row(category_id="1e20"),  # a whole number, but no 64-bit id
        _row(product_id="12.5"),
    ]
    raw = raw_files("events", {"a.csv": EVENT_HEADER + "\n" + "\n".join(rows) + "\n"})
    clean, rejected = clean_events(raw, typed("data_processing", params))
    assert _reasons(rejected) == sorted(
        [
            "nonfinite_price",
            "nonfinite_price",
            "nonfinite_price",
            "nonfinite_price",
            "price_above_max",
            "negative_product_id",
            "nonfinite_user_id",
            "negative_category_id; negative_user_id",
            "unparseable_category_id",
            "unparseable_product_id",
        ]
    )
    assert [r["price"] for r in clean.collect()] == [100000.0]

    lower = {**params, "events": {**params["events"], "price_max": 50.0}}
    raw = raw_files("e2", {"a.csv": f"{EVENT_HEADER}\n{_row(price='51')}\n"})
    assert _reasons(clean_events(raw, typed("data_processing", lower))[1]) == [
        "price_above_max"
    ]


def _write_bytes(root: Path, name: str, data: bytes) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(data)


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_undecodable_bytes_and_control_characters_are_counted_and_quarantined(
    spark, tmp_path: Path, params
):
    header = EVENT_HEADER.encode()
    lines = [
        GOOD.encode(),
        _row(brand="caf\xe9").encode("latin-1"),  # a Latin-1 byte in a UTF-8 file
        _row(brand="nul\x00").encode(),
        _row(brand="bell\x07").encode(),
        _row(brand="tab\there").encode(),  # tab is text, not a control problem
        _row(brand="caf\u00e9").encode(),  # valid UTF-8
    ]
    _write_bytes(tmp_path / "events", "a.csv", b"\n".join([header, *lines]) + b"\n")
    raw = RawCsvDataset(path=str(tmp_path / "events")).load()
    clean, rejected = clean_events(raw, typed("data_processing", params))
    assert _reasons(rejected) == [
        "control_character",
        "control_character",
        "invalid_encoding",
    ]
    assert sorted(r["brand"] for r in clean.collect()) == [
        "caf\u00e9",
        "runail",
        "tab\there",
    ]
    report, metrics = _report(raw, clean, rejected)
    file = report["tables"]["events"]["by_file"]["a.csv"]
    assert file["rejected_by_check"] == {"control_character": 2, "invalid_encoding": 1}
    assert metrics["events_rejected_invalid_encoding"]["value"] == 1.0

    keep = {**params, "invalid_text": "keep"}
    clean, rejected = clean_events(raw, typed("data_processing", keep))
    assert rejected.count() == 0
    flagged = sorted(
        (r["brand"], r["invalid_text"]) for r in clean.collect() if r["invalid_text"]
    )
    assert flagged == [("bell\x07", True), ("caf\ufffd", True), ("nul\x00", True)]
    report, _ = _report(raw, clean, rejected, keep)
    events = report["tables"]["events"]
    assert events["by_file"]["a.csv"]["invalid_text_kept"] == 3
    assert any("invalid_text = true" in note for note in events["notes"])


def _report(raw, clean, rejected, params=None):
    """The report with this events table and no other input."""
    empty = RawCsvDataset(path="/nonexistent/m.csv", required=False).load()
    c0, r0 = clean.limit(0), rejected.limit(0)
    others = [empty, c0, r0] * 3
    return build_data_quality_report(
        raw, clean, rejected, *others, typed("data_processing", params)
    )


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_iso_8601_times_are_read_and_zoneless_ones_are_utc_and_counted(
    spark, raw_files, params
):
    times = {
        "2019-12-01 00:00:00 UTC": datetime(2019, 12, 1, 0, 0, tzinfo=UTC),
        "2019-12-01T00:00:00Z": datetime(2019, 12, 1, 0, 0, tzinfo=UTC),
        "2019-12-01T01:30:00+01:00": datetime(2019, 12, 1, 0, 30, tzinfo=UTC),
        "2019-12-01T01:30:00.250+0100": datetime(2019, 12, 1, 0, 30, 0, 250000, UTC),
        "2019-12-01 02:00:00 +02:00": datetime(2019, 12, 1, 0, 0, tzinfo=UTC),
        "2019-12-01 05:00:00": datetime(2019, 12, 1, 5, 0, tzinfo=UTC),
        "2019-12-01T06:00:00": datetime(2019, 12, 1, 6, 0, tzinfo=UTC),
    }
    rows = [_row(event_time=t, product_id=str(i)) for i, t in enumerate(times)]
    rows.append(_row(event_time="2019-12-01T00:00", product_id="99"))  # no seconds
    raw = raw_files("events", {"a.csv": EVENT_HEADER + "\n" + "\n".join(rows) + "\n"})
    previous = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        clean, rejected = clean_events(raw, typed("data_processing", params))
        got = {
            r["product_id"]: r["epoch"]
            for r in clean.selectExpr(
                "product_id", "unix_micros(event_time) AS epoch"
            ).collect()
        }
        report, _ = _report(raw, clean, rejected, params)
    finally:
        spark.conf.set("spark.sql.session.timeZone", previous)
    assert got == {
        i: round(t.timestamp() * 1_000_000) for i, t in enumerate(times.values())
    }
    assert _reasons(rejected) == ["unparseable_event_time"]
    events = report["tables"]["events"]
    assert events["by_file"]["a.csv"]["zoneless_event_time"] == 2
    assert "without a zone are taken as UTC" in events["time_zone_rule"]


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_a_quoted_line_break_is_said_plainly_or_read_whole(spark, tmp_path, params):
    record = _row(brand='"two\nlines"')
    text = f"{EVENT_HEADER}\n{GOOD}\n{record}\n{_row(product_id='7')}\n"
    for name in ("line", "whole"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.csv").write_text(text)

    raw = RawCsvDataset(path=str(tmp_path / "line")).load()
    clean, rejected = clean_events(raw, typed("data_processing", params))
    assert clean.count() == 2
    assert _reasons(rejected) == ["wrong_field_count; unbalanced_quote"] * 2
    report, _ = _report(raw, clean, rejected, params)
    events = report["tables"]["events"]
    assert events["rows_in"] == 4  # 3 records, the middle one in two lines
    assert any("multiline: true" in note for note in events["notes"])

    raw = RawCsvDataset(path=str(tmp_path / "whole"), multiline=True).load()
    clean, rejected = clean_events(raw, typed("data_processing", params))
    assert rejected.count() == 0
    assert sorted(r["brand"] or "" for r in clean.collect()) == [
        "runail",
        "runail",
        "two\nlines",
    ]
