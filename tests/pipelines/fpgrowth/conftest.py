"""Fixtures for the fpgrowth tests: the shipped parameters."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

CONF = Path(__file__).resolve().parents[3] / "conf" / "base"


@pytest.fixture(scope="session")
def fp_params() -> dict:
    """``params:fpgrowth`` exactly as the project ships it."""
    return yaml.safe_load((CONF / "parameters_fpgrowth.yml").read_text())["fpgrowth"]
