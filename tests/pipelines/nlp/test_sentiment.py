"""Sentiment: VADER on hand-written texts, labels, and a Hugging Face classifier read
from a local folder."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from recsys_kedro.pipelines.nlp import models
from recsys_kedro.pipelines.nlp.sentiment import _label_kinds, sentiment_labels


def test_vader_reads_praise_complaints_negation_and_emoji():
    scorer = models.sentiment_scorer("vader", 32, 512, 1)
    scores = scorer.score(
        [
            "I love this, it is wonderful",
            "Terrible product, I hate it",
            "not good at all",
            "good",
            "This is a lipstick",
            "😍",
        ]
    )
    compound = scores["compound"].tolist()
    assert compound[0] > 0.5 and compound[1] < -0.5
    # The negation turns "good" (positive) negative.
    assert compound[3] > 0.05 and compound[2] < -0.05
    assert compound[4] == 0.0
    assert compound[5] > 0.05  # VADER reads emoji through its emoji lexicon
    shares = scores[["positive", "negative", "neutral"]].sum(axis=1)
    assert shares.round(2).eq(1.0).all()


def test_labels_follow_the_thresholds_and_keep_nulls():
    compound = pd.Series([0.05, 0.049, -0.05, -0.5, None, 0.9])
    assert sentiment_labels(compound, 0.05, -0.05).tolist() == [
        "positive",
        "neutral",
        "negative",
        "negative",
        None,
        "positive",
    ]


def test_classifier_label_names():
    assert _label_kinds({0: "NEGATIVE", 1: "POSITIVE"}) == ["negative", "positive"]
    assert _label_kinds({0: "pos", 1: "neu", 2: "neg"}) == [
        "positive",
        "neutral",
        "negative",
    ]
    assert _label_kinds({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}) == [
        "negative",
        "neutral",
        "positive",
    ]
    with pytest.raises(ValueError, match="Cannot tell"):
        _label_kinds({i: f"LABEL_{i}" for i in range(5)})


def test_a_local_hugging_face_classifier(tmp_path, minilm_path):
    """A tiny classifier saved to a folder: its output layer ignores the text and
    always gives logits (0, 2) for (NEGATIVE, POSITIVE), so p(positive) = e^2/(1+e^2)."""
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=2,
        id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1},
    )
    model = BertForSequenceClassification(config)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([0.0, 2.0]))
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)

    scorer = models.sentiment_scorer(str(tmp_path), 2, 64, 1)
    scores = scorer.score(["short", "a much longer text " * 50, "x"])
    p = math.exp(2) / (1 + math.exp(2))
    assert scores["positive"].tolist() == pytest.approx([p] * 3, abs=1e-6)
    assert scores["negative"].tolist() == pytest.approx([1 - p] * 3, abs=1e-6)
    assert scores["compound"].tolist() == pytest.approx([2 * p - 1] * 3, abs=1e-6)
    assert scores["neutral"].tolist() == [0.0] * 3
