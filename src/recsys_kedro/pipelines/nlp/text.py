"""Text cleaning, tokens, lemmas and stems: pure functions over pandas Series.

Run inside Spark's Python workers (``mapInPandas``) and by the benchmarks. The spaCy
pipeline and the stemmer are built once per process (:mod:`.models`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

_TAG = re.compile(r"<[^>]{0,200}>")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
# Anything but letters/digits of any script, whitespace and the apostrophe: punctuation,
# symbols and emoji. "_" is a word character for ``re`` but not a letter.
_SPECIAL = re.compile(r"[^\w\s']|_")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'"})


def normalise_text(texts: pd.Series) -> pd.Series:
    """The review as written, made readable: HTML entities decoded, tags and URLs
    removed, whitespace collapsed. Case, punctuation and emoji are kept (sentiment and
    the transformer read them).

    Args:
        texts: Raw texts; nulls allowed.

    Returns:
        Normalised texts; a null becomes an empty string.
    """
    out = texts.astype("object").where(texts.notna(), "")
    out = out.map(lambda s: html.unescape(str(s)))
    out = out.str.replace(_TAG, " ", regex=True).str.replace(_URL, " ", regex=True)
    return out.str.replace(_SPACE, " ", regex=True).str.strip()


def strip_special(texts: pd.Series) -> pd.Series:
    """Lower-cased, with punctuation, symbols and emoji replaced by spaces.

    Args:
        texts: Normalised texts (see :func:`normalise_text`).

    Returns:
        Texts of letters, digits, apostrophes and single spaces.
    """
    out = texts.str.lower().str.translate(_APOSTROPHES)
    out = out.str.replace(_SPECIAL, " ", regex=True)
    # An apostrophe that is not inside a word ("'quoted'") is punctuation too.
    out = out.str.replace(r"(?<!\w)'|'(?!\w)", " ", regex=True)
    return out.str.replace(_SPACE, " ", regex=True).str.strip()


@dataclass(frozen=True)
class TokenFeatures:
    """Token-level features of a batch of texts (aligned with the input)."""

    clean_text: list[str]
    lemmas: list[list[str]]
    stems: list[list[str]]
    truncated: list[bool]


class TextProcessor:
    """Stop words, lemmas and stems with a spaCy pipeline and a Snowball stemmer.

    Args:
        nlp: A spaCy ``Language`` whose pipeline sets ``token.lemma_``.
        stemmer: An object with ``stemWords(list[str]) -> list[str]``.
        keep_stop_words: Stop words to keep (negations).
        max_chars: Texts are cut to this length before spaCy.
    """

    def __init__(
        self, nlp: Any, stemmer: Any, keep_stop_words: list[str], max_chars: int
    ) -> None:
        self._nlp = nlp
        self._stemmer = stemmer
        keep = {w.lower() for w in keep_stop_words}
        self.stop_words = frozenset(
            w.lower() for w in nlp.Defaults.stop_words if w.lower() not in keep
        )
        self._max_chars = max_chars

    def process(self, clean: pd.Series, batch_size: int = 256) -> TokenFeatures:
        """Tokens of texts already passed through :func:`strip_special`.

        A token is kept unless it is a stop word (negations are not), whitespace or
        punctuation; the clean text is the kept tokens' normal forms ("n't" -> "not").

        Args:
            clean: Cleaned texts.
            batch_size: spaCy ``pipe`` batch size.

        Returns:
            Clean text, lemmas, stems and whether the text was cut, per input text.
        """
        texts = clean.tolist()
        truncated = [len(t) > self._max_chars for t in texts]
        cut = [t[: self._max_chars] for t in texts]
        words: list[list[str]] = []
        lemmas: list[list[str]] = []
        for doc in self._nlp.pipe(cut, batch_size=batch_size):
            kept = [
                t
                for t in doc
                if not (t.is_space or t.is_punct) and t.lower_ not in self.stop_words
            ]
            words.append([t.norm_ for t in kept])
            lemmas.append([(t.lemma_ or t.norm_).lower() for t in kept])
        stems = [self._stemmer.stemWords(w) if w else [] for w in words]
        return TokenFeatures(
            clean_text=[" ".join(w) for w in words],
            lemmas=lemmas,
            stems=[list(s) for s in stems],
            truncated=truncated,
        )
