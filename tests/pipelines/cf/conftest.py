"""Fixtures for the cf tests: the shipped parameters and tiny event tables."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pyspark.sql import types as T

from recsys_kedro import spark_session

PARAMS_FILE = (
    Path(__file__).resolve().parents[3] / "conf" / "base" / "parameters_cf.yml"
)

EVENT_SCHEMA = T.StructType(
    [
        T.StructField("event_time", T.TimestampType()),
        T.StructField("event_type", T.StringType()),
        T.StructField("product_id", T.LongType()),
        T.StructField("category_id", T.LongType()),
        T.StructField("category_code", T.StringType()),
        T.StructField("brand", T.StringType()),
        T.StructField("price", T.DoubleType()),
        T.StructField("user_id", T.LongType()),
        T.StructField("user_session", T.StringType()),
    ]
)
T0 = datetime(2020, 1, 1)


@pytest.fixture(scope="session")
def cf_params() -> dict:
    """``params:cf`` exactly as the project ships it."""
    return yaml.safe_load(PARAMS_FILE.read_text())["cf"]


@pytest.fixture
def params(cf_params):
    """``params:cf`` with some keys overridden."""

    def make(**overrides) -> dict:
        return {**cf_params, **overrides}

    return make


@pytest.fixture
def events(spark):
    """Events from ``(user, product, type[, day offset[, session]])`` tuples."""

    def make(rows):
        full = []
        for row in rows:
            user, product, kind, *rest = row
            day = rest[0] if rest else 0
            session = rest[1] if len(rest) > 1 else f"s{user}"
            full.append(
                (
                    T0 + timedelta(days=day),
                    kind,
                    product,
                    1,
                    None,
                    None,
                    1.0,
                    user,
                    session,
                )
            )
        return spark.createDataFrame(full, EVENT_SCHEMA)

    return make


@pytest.fixture(autouse=True)
def _release():
    yield
    spark_session.release_persisted()
