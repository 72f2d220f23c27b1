"""data_processing nodes on hand-written rows: every bad-input path, worked out by hand."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from recsys_kedro.datasets import RawCsvDataset
from recsys_kedro.pipelines.data_processing.nodes import (
    HeaderMismatchError,
    build_data_quality_report,
    clean_events,
    clean_product_mapping,
    clean_products,
    clean_reviews,
)
from tests.params import typed

from .conftest import EVENT_HEADER, PRODUCT_HEADER, REVIEW_HEADER

S = "26dd6e6e-4dac-4778-8d2c-92e149dab885"
EVENT_ROWS = [
    # clean
    f"2019-10-01 00:00:48 UTC,view,5802432,1487580009286598681,,runail,3.17,463240011,{S}",
    # exact duplicate of the row above
    f"2019-10-01 00:00:48 UTC,view,5802432,1487580009286598681,,runail,3.17,463240011,{S}",
    # wrong field count
    "2019-10-01 00:00:49 UTC,view,5802432",
    # unparseable timestamp
    f"2019-13-45 99:00:00 UTC,view,5802432,1487580009286598681,,,3.17,463240011,{S}",
    # unparseable product id and a non-positive price: two reasons
    f"2019-10-01 00:01:00 UTC,cart,abc,1487580009286598681,,,0,463240011,{S}",
    # missing user id
    f"2019-10-01 00:02:00 UTC,cart,5802432,1487580009286598681,,,3.17,,{S}",
    # unknown event type
    f"2019-10-01 00:03:00 UTC,wishlist,5802432,1487580009286598681,,,3.17,463240011,{S}",
    # negative price
    f"2019-10-01 00:04:00 UTC,purchase,5802432,1487580009286598681,,,-5.5,463240011,{S}",
    # outside the configured time range
    f"2035-01-01 00:00:00 UTC,view,5802432,1487580009286598681,,,3.17,463240011,{S}",
    # missing session
    "2019-10-01 00:05:00 UTC,view,5802432,1487580009286598681,,,3.17,463240011,",
    # clean, with a category code and no brand
    f"2019-10-02 10:00:00 UTC,purchase,4497,2195085258272014535,appliances.environment.vacuum,,12.5,289267186,{S}",
    # unparseable price (quoted comma)
    f'2019-10-01 00:06:00 UTC,view,5802432,1487580009286598681,,,"3,17",463240011,{S}',
]


def _by_reason(rejected):
    return sorted((r["reject_reason"], r["raw_line"]) for r in rejected.collect())


def test_clean_events_quarantines_each_bad_row_with_its_reason(raw_files, params):
    raw = raw_files(
        "events", {"2019-Oct.csv": EVENT_HEADER + "\n" + "\n".join(EVENT_ROWS) + "\n"}
    )
    clean, rejected = clean_events(raw, typed("data_processing", params))

    rows = sorted(tuple(r) for r in clean.collect())
    assert rows == [
        (
            datetime(2019, 10, 1, 0, 0, 48),
            "view", 5802432, 1487580009286598681, None, "runail", 3.17, 463240011, S, "2019-Oct.csv",
        ),
        (
            datetime(2019, 10, 2, 10, 0, 0),
            "purchase", 4497, 2195085258272014535, "appliances.environment.vacuum", None, 12.5,
            289267186, S, "2019-Oct.csv",
        ),
    ]  # fmt: skip
    assert [f.dataType.simpleString() for f in clean.schema.fields] == [
        "timestamp", "string", "bigint", "bigint", "string", "string", "double", "bigint",
        "string", "string",
    ]  # fmt: skip
    assert _by_reason(rejected) == sorted(
        [
            ("exact_duplicate", None),
            ("wrong_field_count", "2019-10-01 00:00:49 UTC,view,5802432"),
            ("unparseable_event_time", None),
            ("unparseable_product_id; nonpositive_price", None),
            ("missing_user_id", None),
            ("unknown_event_type", None),
            ("nonpositive_price", None),
            ("event_time_out_of_range", None),
            ("missing_user_session", None),
            ("unparseable_price", None),
        ]
    )
    # The rejected table keeps the raw text of each field.
    wishlist = rejected.filter("reject_reason = 'unknown_event_type'").first()
    assert (wishlist["event_type"], wishlist["price"], wishlist["source_file"]) == (
        "wishlist", "3.17", "2019-Oct.csv",
    )  # fmt: skip
    assert clean.count() + rejected.count() == len(EVENT_ROWS)


def test_event_time_is_utc_whatever_the_session_zone(spark, raw_files, params):
    raw = raw_files("events", {"a.csv": EVENT_HEADER + "\n" + EVENT_ROWS[0] + "\n"})
    clean, _ = clean_events(raw, typed("data_processing", params))
    epoch = clean.selectExpr("unix_timestamp(event_time)").first()[0]
    assert epoch == int(datetime(2019, 10, 1, 0, 0, 48, tzinfo=UTC).timestamp())


def test_duplicates_across_monthly_files_keep_one_copy(raw_files, params):
    row = EVENT_ROWS[0]
    raw = raw_files(
        "events",
        {
            "2019-Oct.csv": f"{EVENT_HEADER}\n{row}\n",
            "2019-Nov.csv": f"{EVENT_HEADER}\n{row}\n",
        },
    )
    clean, rejected = clean_events(raw, typed("data_processing", params))
    assert [r["source_file"] for r in clean.collect()] == ["2019-Nov.csv"]
    assert [(r["source_file"], r["reject_reason"]) for r in rejected.collect()] == [
        ("2019-Oct.csv", "exact_duplicate")
    ]


def test_event_header_mismatch_names_the_file_and_the_columns(raw_files, params):
    good = EVENT_HEADER + "\n" + EVENT_ROWS[0] + "\n"
    bad = EVENT_HEADER.replace("price", "prize") + ",extra\n"
    raw = raw_files("events", {"2019-Oct.csv": good, "2019-Nov.csv": bad})
    with pytest.raises(HeaderMismatchError) as error:
        clean_events(raw, typed("data_processing", params))
    message = str(error.value)
    assert "'2019-Nov.csv': missing ['price'], unexpected ['prize', 'extra']" in message
    assert "2019-Oct.csv" not in message


REVIEW_ROWS = [
    # clean
    '1,5206987927,5,1.0,1.0,10,0,10,2020-05-01,"Love it, so soft.",Love this,fair,brown,combination,black,P445951,Face Oil,Kiehl\'s,30.0',
    # exact duplicate
    '1,5206987927,5,1.0,1.0,10,0,10,2020-05-01,"Love it, so soft.",Love this,fair,brown,combination,black,P445951,Face Oil,Kiehl\'s,30.0',
    # rating outside 1..5
    "2,11,7,1.0,,0,0,0,2021-08-31,Great,,light,,,,P415771,Essence,Tatcha,110.0",
    # unparseable rating
    "3,12,five,1.0,,0,0,0,2021-08-31,Great,,light,,,,P415771,Essence,Tatcha,110.0",
    # empty review text
    "4,13,4,1.0,,0,0,0,2021-08-31,,,light,,,,P415771,Essence,Tatcha,110.0",
    # missing product id
    "5,14,4,1.0,,0,0,0,2021-08-31,Fine,,light,,,,,Essence,Tatcha,110.0",
    # impossible date
    "6,15,2,0.0,0.5,4,2,2,2022-02-30,Did nothing,,fair,hazel,oily,brown,P467655,Acid,INKEY,9.99",
    # clean, multi-line text, no recommendation given
    '7,16,2,,0.5,4,2,2,2022-03-09,"Did nothing.\nWorse.",,fair,hazel,oily,brown,P467655,Acid,INKEY,9.99',
]


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_clean_reviews_types_and_quarantines(raw_files, params):
    raw = raw_files(
        "reviews",
        {"reviews_0-250.csv": REVIEW_HEADER + "\n" + "\n".join(REVIEW_ROWS) + "\n"},
        pattern="reviews_*.csv",
        multiline=True,
    )
    clean, rejected = clean_reviews(raw, typed("data_processing", params))
    got = sorted(
        (
            r["source_index"],
            r["rating"],
            r["is_recommended"],
            r["submission_time"],
            r["review_text"],
        )
        for r in clean.collect()
    )
    assert got == [
        (1, 5, True, date(2020, 5, 1), "Love it, so soft."),
        (7, 2, None, date(2022, 3, 9), "Did nothing.\nWorse."),
    ]
    assert clean.select("review_id").distinct().count() == 2
    assert sorted(r["reject_reason"] for r in rejected.collect()) == [
        "empty_review_text",
        "exact_duplicate",
        "missing_product_id",
        "rating_out_of_range",
        "unparseable_rating",
        "unparseable_submission_time",
    ]


def test_reviews_from_another_export_load_through_the_column_mapping(raw_files, params):
    other = dict(params)
    other["reviews"] = {
        **params["reviews"],
        "column_mapping": {"review_rating": "rating", "reviewed_at": "submission_time"},
    }
    text = (
        "product_id,brand_name,review_title,review_text,review_rating,reviewed_at,reviewer\n"
        "C-1,Acme,Nice,Works well,4.0,2021-01-02,ann\n"
        "C-2,Acme,Bad,,1,2021-01-03,bob\n"
    )
    raw = raw_files(
        "other", {"reviews_export.csv": text}, pattern="reviews_*.csv", multiline=True
    )
    clean, rejected = clean_reviews(raw, typed("data_processing", other))
    rows = [r.asDict() for r in clean.collect()]
    assert len(rows) == 1
    assert (rows[0]["product_id"], rows[0]["rating"], rows[0]["submission_time"]) == (
        "C-1", 4, date(2021, 1, 2),
    )  # fmt: skip
    assert rows[0]["author_id"] is None and rows[0]["skin_type"] is None
    assert [r["reject_reason"] for r in rejected.collect()] == ["empty_review_text"]


def test_review_file_without_a_required_column_is_named(raw_files, params):
    text = "product_id,review_text,stars\nP1,ok,5\n"
    raw = raw_files("r", {"reviews_x.csv": text}, pattern="reviews_*.csv")
    with pytest.raises(
        HeaderMismatchError,
        match=r"'reviews_x.csv': missing required \['rating'\].*\['stars'\]",
    ):
        clean_reviews(raw, typed("data_processing", params))


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_clean_products_rejects_repeated_ids_and_bad_numbers(raw_files, params):
    fill = ",".join([""] * 14)  # the 14 columns after price_usd
    rows = [
        f"P1,Oil,6304,Virtue,10,4.5,3.0,,,,,,40.0,{fill}",
        f"P1,Oil v2,6304,Virtue,11,4.5,3.0,,,,,,41.0,{fill}",  # same id, other values
        f"P2,Balm,6305,Tatcha,x,4.0,1.0,,,,,,12.0,{fill}",  # unparseable loves_count
        f"P3,,6305,Tatcha,1,4.0,1.0,,,,,,12.0,{fill}",  # missing product_name
        f"P4,Mask,6305,Tatcha,1,4.0,1.0,,,,,,abc,{fill}",  # unparseable price_usd
    ]
    raw = raw_files(
        "p", {"product_info.csv": PRODUCT_HEADER + "\n" + "\n".join(rows) + "\n"}
    )
    clean, rejected = clean_products(raw, typed("data_processing", params))
    assert [
        (r["product_id"], r["product_name"], r["price_usd"]) for r in clean.collect()
    ] == [("P1", "Oil", 40.0)]
    assert sorted(
        (r["product_id"], r["reject_reason"]) for r in rejected.collect()
    ) == [
        ("P1", "duplicate_product_id"),
        ("P2", "unparseable_loves_count"),
        ("P3", "missing_product_name"),
        ("P4", "unparseable_price_usd"),
    ]


def test_mapping_keeps_pairs_with_one_known_side_and_quarantines_the_rest(
    spark, raw_files
):
    events = spark.createDataFrame([(100,), (100,), (200,)], "product_id bigint")
    products = spark.createDataFrame([("P1",)], "product_id string")
    reviews = spark.createDataFrame([("P2",)], "product_id string")
    text = "product_id_events,product_id_reviews\n100,P1\n200,P9\n999,P2\n999,P9\nabc,P1\n100,\n100,P1\n"
    raw = raw_files("m", {"product_mapping.csv": text})
    clean, rejected = clean_product_mapping(raw, events, products, reviews)
    assert sorted(tuple(r)[:4] for r in clean.collect()) == [
        (100, "P1", True, True),
        (200, "P9", True, False),
        (999, "P2", False, True),
    ]
    assert sorted(
        (r["product_id_events"], r["reject_reason"]) for r in rejected.collect()
    ) == [
        ("100", "exact_duplicate"),
        ("100", "missing_product_id_reviews"),
        ("999", "ids_on_neither_side"),
        ("abc", "unparseable_product_id_events"),
    ]


def test_missing_mapping_file_is_an_empty_mapping_and_a_warning(
    spark, tmp_path, caplog
):
    raw = RawCsvDataset(
        path=str(tmp_path / "product_mapping.csv"), required=False
    ).load()
    empty = spark.createDataFrame([], "product_id string")
    with caplog.at_level(logging.WARNING):
        clean, rejected = clean_product_mapping(raw, empty, empty, empty)
    assert clean.count() == 0 and rejected.count() == 0
    assert clean.columns[:2] == ["product_id_events", "product_id_reviews"]
    assert "No product mapping" in caplog.text


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_report_counts_every_row_and_fails_when_one_is_lost(spark, raw_files, params):
    events = raw_files(
        "events", {"2019-Oct.csv": EVENT_HEADER + "\n" + "\n".join(EVENT_ROWS) + "\n"}
    )
    reviews = raw_files(
        "reviews",
        {"reviews_1.csv": REVIEW_HEADER + "\n" + "\n".join(REVIEW_ROWS) + "\n"},
        pattern="reviews_*.csv",
        multiline=True,
    )
    fill = ",".join([""] * 14)
    products = raw_files(
        "p",
        {"product_info.csv": f"{PRODUCT_HEADER}\nP1,Oil,1,V,1,4,1,,,,,,4.0,{fill}\n"},
    )
    mapping = raw_files(
        "m",
        {
            "product_mapping.csv": "product_id_events,product_id_reviews\n5802432,P1\n1,P0\n"
        },
    )
    ev_c, ev_r = clean_events(events, typed("data_processing", params))
    rv_c, rv_r = clean_reviews(reviews, typed("data_processing", params))
    pr_c, pr_r = clean_products(products, typed("data_processing", params))
    mp_c, mp_r = clean_product_mapping(mapping, ev_c, pr_c, rv_c)

    inputs = [
        events,
        ev_c,
        ev_r,
        reviews,
        rv_c,
        rv_r,
        products,
        pr_c,
        pr_r,
        mapping,
        mp_c,
        mp_r,
    ]
    report, metrics = build_data_quality_report(*inputs)
    ev = report["tables"]["events"]
    assert (ev["rows_in"], ev["clean"], ev["rejected"]) == (12, 2, 10)
    assert ev["rejected_by_check"]["nonpositive_price"] == 2
    assert ev["rejected_by_check"]["unparseable_product_id"] == 1
    assert ev["by_file"]["2019-Oct.csv"]["balanced"] is True
    rv = report["tables"]["reviews"]
    assert (rv["rows_in"], rv["clean"], rv["rejected"]) == (8, 2, 6)
    mp = report["tables"]["product_mapping"]
    assert (mp["rows_in"], mp["clean"], mp["rejected"]) == (2, 1, 1)
    assert metrics["events_rejected_exact_duplicate"] == {"value": 1.0, "step": 0}
    assert metrics["reviews_rows_in"]["value"] == 8.0

    with pytest.raises(
        RuntimeError, match=r"events/2019-Oct.csv: 12 in, 1 clean, 10 rejected"
    ):
        # One clean event lost between raw and the tables.
        build_data_quality_report(*inputs[:1], ev_c.limit(1), *inputs[2:])


def test_bad_parameters_fail_before_any_work(params):
    with pytest.raises(ValidationError, match="time_min must be before"):
        typed(
            "data_processing",
            {
                **params,
                "events": {**params["events"], "time_min": "2040-01-01T00:00:00"},
            },
        )
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        typed(
            "data_processing",
            {**params, "events": {**params["events"], "evnt_types": ["view"]}},
        )
    with pytest.raises(
        ValidationError, match=r"required columns \['stars'\] are not in columns"
    ):
        typed(
            "data_processing",
            {**params, "reviews": {**params["reviews"], "required": ["stars"]}},
        )
