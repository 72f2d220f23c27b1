"""Fixtures for the cf tests: the shipped parameters."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from recsys_kedro.recommend.cf_params import CfParams
from tests.params import typed

PARAMS_FILE = (
    Path(__file__).resolve().parents[3] / "conf" / "base" / "parameters_cf.yml"
)


@pytest.fixture(scope="session")
def cf_params() -> dict:
    """``params:cf`` exactly as the project ships it."""
    return yaml.safe_load(PARAMS_FILE.read_text())["cf"]


@pytest.fixture
def params(cf_params):
    """``params:cf``'s model with some keys overridden."""

    def make(**overrides) -> CfParams:
        return typed("cf", {**cf_params, **overrides})

    return make
