"""Sentiment scorers: VADER (rule- and lexicon-based) or a Hugging Face classifier.

Both return, per text, ``compound`` in [-1, 1] and ``positive``/``negative``/``neutral``
shares. For VADER these are its own scores; for a classifier they are the class
probabilities and ``compound = p(positive) - p(negative)``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from recsys_kedro.pipelines.nlp.embeddings import encoded_batches

SCORE_COLUMNS = ("compound", "positive", "negative", "neutral")
POSITIVE, NEGATIVE, NEUTRAL = "positive", "negative", "neutral"


class SentimentScorer(Protocol):
    """What the pipeline needs of a sentiment model."""

    name: str

    def score(self, texts: list[str]) -> pd.DataFrame:
        """Scores non-empty texts; returns the :data:`SCORE_COLUMNS`."""


class VaderScorer:
    """VADER, with the lexicon shipped inside the ``vaderSentiment`` package."""

    name = "vader"

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import (  # noqa: PLC0415
            SentimentIntensityAnalyzer,
        )

        self._analyzer = SentimentIntensityAnalyzer()

    def score(self, texts: list[str]) -> pd.DataFrame:
        """Scores texts with VADER's ``polarity_scores``.

        Args:
            texts: Texts with case, punctuation and emoji (VADER reads them).

        Returns:
            One row per text.
        """
        rows = [self._analyzer.polarity_scores(t) for t in texts]
        return pd.DataFrame(
            {
                "compound": [r["compound"] for r in rows],
                "positive": [r["pos"] for r in rows],
                "negative": [r["neg"] for r in rows],
                "neutral": [r["neu"] for r in rows],
            },
            dtype="float64",
        )


def _label_kinds(id2label: dict[int, str]) -> list[str]:
    """Maps a classifier's labels to positive/negative/neutral.

    Named labels ("POSITIVE", "neg", ...) are read by name; generic ones ("LABEL_0")
    follow the usual order: 2 classes negative, positive; 3 classes negative, neutral,
    positive.
    """
    names = [str(id2label[i]).lower() for i in range(len(id2label))]
    kinds = []
    for name in names:
        if name.startswith("pos"):
            kinds.append(POSITIVE)
        elif name.startswith("neg"):
            kinds.append(NEGATIVE)
        elif name.startswith("neu"):
            kinds.append(NEUTRAL)
        else:
            kinds.append("")
    if all(kinds):
        return kinds
    if len(names) == 2:
        return [NEGATIVE, POSITIVE]
    if len(names) == 3:
        return [NEGATIVE, NEUTRAL, POSITIVE]
    raise ValueError(
        f"Cannot tell which of the classifier's labels {names} are positive and "
        "negative: name them positive/negative(/neutral) in the model's config.json"
    )


class TransformerSentimentScorer:
    """A Hugging Face sequence-classification model from a local folder.

    Args:
        path: Folder with ``config.json``, the weights and the tokenizer.
        name: The model's name as configured (for the run's records).
        batch_size: Texts per forward pass.
        max_length: Tokens per text; longer texts are truncated.
        threads: Torch threads.
    """

    def __init__(
        self, path: str, name: str, batch_size: int, max_length: int, threads: int
    ) -> None:
        import torch  # noqa: PLC0415
        from transformers import (  # noqa: PLC0415
            AutoModelForSequenceClassification,
            AutoTokenizer,
        )

        torch.set_num_threads(threads)
        self.name = name
        self._torch = torch
        self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self._model = AutoModelForSequenceClassification.from_pretrained(
            path, local_files_only=True
        ).eval()
        self._kinds = _label_kinds(self._model.config.id2label)
        self._batch_size = batch_size
        self._max_length = max_length

    def score(self, texts: list[str]) -> pd.DataFrame:
        """Class probabilities per text (batches of similar length).

        Args:
            texts: Texts.

        Returns:
            One row per text.
        """
        probs = np.zeros((len(texts), len(self._kinds)), dtype=np.float64)
        batches = encoded_batches(
            self._tokenizer, texts, self._batch_size, self._max_length
        )
        with self._torch.inference_mode():
            for idx, enc in batches:
                logits = self._model(**enc).logits
                probs[idx] = self._torch.softmax(logits, dim=-1).double().numpy()

        def share(kind: str) -> np.ndarray:
            cols = [i for i, k in enumerate(self._kinds) if k == kind]
            return probs[:, cols].sum(axis=1) if cols else np.zeros(len(texts))

        positive, negative, neutral = share(POSITIVE), share(NEGATIVE), share(NEUTRAL)
        return pd.DataFrame(
            {
                "compound": positive - negative,
                "positive": positive,
                "negative": negative,
                "neutral": neutral,
            }
        )


def sentiment_labels(
    compound: pd.Series, positive_threshold: float, negative_threshold: float
) -> pd.Series:
    """VADER's usual reading of the compound score.

    Args:
        compound: Scores in [-1, 1]; nulls (no text) stay null.
        positive_threshold: At or above: positive.
        negative_threshold: At or below: negative; in between: neutral.

    Returns:
        ``positive``, ``negative``, ``neutral`` or null.
    """
    labels = np.where(
        compound >= positive_threshold,
        POSITIVE,
        np.where(compound <= negative_threshold, NEGATIVE, NEUTRAL),
    ).astype(object)
    labels[compound.isna().to_numpy()] = None
    return pd.Series(labels, index=compound.index, dtype="object")
