"""Property: on hundreds of generated messy raw files, the run never fails with an
unexplained exception, and every record ends clean or rejected with a reason.

Records are counted independently of Spark and of the code under test: the bytes of
each file are split at line ends (``\\n``, ``\\r\\n`` or a lone ``\\r``, as Hadoop's line
reader does), the header line is dropped, and lines holding nothing but spaces or
control characters are not records (Spark skips them: they carry no field).
"""

from __future__ import annotations

import bz2
import gzip
import math
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kedro.io.core import DatasetError
from pyspark.sql import functions as F

from recsys_kedro.datasets import RawCsvDataset
from recsys_kedro.pipelines.data_processing.nodes import (
    HeaderMismatchError,
    build_data_quality_report,
    clean_events,
)
from tests.params import typed

from .conftest import EVENT_HEADER

pytestmark = pytest.mark.integration  # left out of make test-fast

FILES_PER_FOLDER = 25
EXAMPLES = 24  # 600 files
COLUMNS = EVENT_HEADER.split(",")
LINE_END = re.compile(rb"\r\n|\r|\n")
KNOWN_CODES = re.compile(
    r"^(wrong_field_count|unbalanced_quote|exact_duplicate|unknown_event_type|"
    r"nonpositive_price|price_above_max|event_time_out_of_range|invalid_encoding|"
    r"control_character|(missing|unparseable|nonfinite|negative)_[a-z_]+)$"
)

GOOD = {
    "event_time": [
        "2019-10-01 00:00:48 UTC",
        "2019-12-01T00:00:00Z",
        "2020-01-02 03:04:05",
    ],
    "event_type": ["view", "cart", "remove_from_cart", "purchase"],
    "product_id": ["5802432", "4497", "12.0"],
    "category_id": ["1487580009286598681", ""],
    "category_code": ["", "appliances.environment.vacuum"],
    "brand": ["", "runail", "café"],
    "price": ["3.17", "12.5", "100000"],
    "user_id": ["463240011", "0"],
    "user_session": ["26dd6e6e-4dac", "s1"],
}
BAD = {
    "event_time": ["2019-13-45 99:00:00 UTC", "1970-01-01 00:00:00 UTC", "2019-12-01T01:00+01:00", ""],
    "event_type": ["VIEW", "wishlist", ""],
    "product_id": ["-5", "1e20", "NaN", "inf", ""],
    "category_id": ["99999999999999999999", "-1", "1.5"],
    "category_code": ["a\x01b"],
    "brand": ["caf\x00", "caf\ufffd", "a;b"],
    "price": ["0", "-1", "NaN", "inf", "-Infinity", "1e20", "1e400", "3,17", ""],
    "user_id": ["", "-2", "NaN", "x"],
    "user_session": ["", " "],
}  # fmt: skip
noise = st.text(
    alphabet=st.sampled_from(list('ab1 ,;"\t\x00\x07\r\n\u00e9\u2603\ufffd\\')),
    max_size=10,
)


@st.composite
def field(draw, column: str) -> str:
    pick = draw(st.integers(0, 19))
    if pick < 16:
        value = draw(st.sampled_from(GOOD[column]))
    elif pick < 19:
        value = draw(st.sampled_from(BAD[column]))
    else:
        value = draw(noise)
    if draw(st.integers(0, 9)) == 0:  # properly quoted, inner quotes doubled
        value = '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def line(draw) -> bytes:
    kind = draw(st.integers(0, 29))
    if kind == 0:
        return b""  # blank
    if kind == 1:
        return EVENT_HEADER.encode()  # the header again, mid-file
    if kind == 2:
        return draw(st.binary(max_size=12))  # anything at all
    count = draw(st.sampled_from([9] * 12 + [8, 10]))
    fields = [draw(field(COLUMNS[i % 9])) for i in range(count)]
    text = draw(st.sampled_from([","] * 12 + [";"])).join(fields)
    encoding = draw(st.sampled_from(["utf-8"] * 6 + ["latin-1"]))
    return text.encode(encoding, errors="replace")


@st.composite
def raw_file(draw) -> tuple[str, bytes]:
    header = EVENT_HEADER.encode()
    if draw(st.integers(0, 150)) == 0:
        header = draw(st.sampled_from([b"\xef\xbb\xbf" + header, header.upper()]))
    lines = draw(st.lists(line(), max_size=8))
    end = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    data = end.join([header, *lines])
    if draw(st.booleans()):
        data += end
    if lines and draw(st.integers(0, 9)) == 0:  # truncated inside the data
        data = data[: draw(st.integers(len(header) + 1, len(data)))]
    codec = draw(st.sampled_from(["", "", "", ".gz", ".bz2"]))
    if codec == ".gz":
        data = gzip.compress(data)
    elif codec == ".bz2":
        data = bz2.compress(data)
    return codec, data


def _records(data: bytes, codec: str) -> int:
    """Independent count: non-blank lines after the header line."""
    if codec == ".gz":
        data = gzip.decompress(data)
    elif codec == ".bz2":
        data = bz2.decompress(data)
    lines = LINE_END.split(data)
    if lines and lines[-1] == b"":
        lines = lines[:-1]  # the file's final line end
    body = lines[1:]
    return sum(
        1
        for raw in body
        if any(ord(ch) > 0x20 for ch in raw.decode("utf-8", errors="replace"))
    )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@given(files=st.lists(raw_file(), min_size=FILES_PER_FOLDER, max_size=FILES_PER_FOLDER))
def test_messy_files_end_clean_or_rejected_with_a_reason(spark, params, files):
    root = Path(tempfile.mkdtemp(prefix="messy-"))
    try:
        expected = {}
        for i, (codec, data) in enumerate(files):
            name = f"f{i:02d}.csv{codec}"
            (root / name).write_bytes(data)
            expected[name] = _records(data, codec)
        try:
            raw = RawCsvDataset(path=str(root)).load()
            clean, rejected = clean_events(raw, typed("data_processing", params))
        except (HeaderMismatchError, DatasetError) as exc:
            # explained: a header that is not the expected one, named with its file
            assert re.search(r"'f\d\d\.csv(\.gz|\.bz2)?'", str(exc)), exc
            return
        empty = RawCsvDataset(path=str(root / "none.csv"), required=False).load()
        others = [empty, clean.limit(0), rejected.limit(0)] * 3
        report, _ = build_data_quality_report(
            raw, clean, rejected, *others, typed("data_processing", params)
        )
        events = report["tables"]["events"]
        assert events["files"] == FILES_PER_FOLDER
        got = {name: f["rows_in"] for name, f in events["by_file"].items()}
        assert {n: c for n, c in got.items() if c} == {
            n: c for n, c in expected.items() if c
        }
        assert events["balanced"]

        for row in rejected.select("reject_reason").collect():
            codes = row["reject_reason"].split("; ")
            assert codes and all(KNOWN_CODES.match(c) for c in codes), codes
        cfg = params["events"]
        for row in clean.collect():
            assert row["event_type"] in cfg["event_types"]
            assert math.isfinite(row["price"]) and 0 < row["price"] <= cfg["price_max"]
            assert row["product_id"] >= 0 and row["user_id"] >= 0
            assert row["user_session"]
            for column in ("brand", "category_code", "user_session", "event_type"):
                text = row[column] or ""
                assert "\ufffd" not in text, row
                assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text), row
        assert clean.where(F.col("event_time").isNull()).count() == 0
    finally:
        shutil.rmtree(root, ignore_errors=True)
