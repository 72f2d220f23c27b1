"""Sentence embeddings with ``transformers``: mean pooling over the attention mask,
L2-normalised (what sentence-transformers does for all-MiniLM-L6-v2).

Speed on CPU: texts are embedded in batches of similar token length, so a batch is
padded to about its own texts' length rather than to its longest outlier (on review
text about 3x the throughput of batches in arrival order).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


def encoded_batches(
    tokenizer: Any,
    texts: list[str],
    batch_size: int,
    max_length: int,
    sort_by_length: bool = True,
) -> Iterator[tuple[np.ndarray, Any]]:
    """Tokenised batches, each padded to its own longest text and cut at ``max_length``.

    Args:
        tokenizer: A Hugging Face tokenizer.
        texts: Texts.
        batch_size: Texts per batch.
        max_length: Tokens per text; longer texts are truncated.
        sort_by_length: Batch texts of similar length together. Token counts would need
            the tokenizer; character length orders nearly as well and costs nothing.

    Yields:
        The batch's positions in ``texts`` and its PyTorch encoding.
    """
    if sort_by_length:
        order = np.argsort([len(t) for t in texts], kind="stable")
    else:
        order = np.arange(len(texts))
    for start in range(0, len(texts), batch_size):
        idx = order[start : start + batch_size]
        encoding = tokenizer(
            [texts[i] for i in idx],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        yield idx, encoding


class Embedder:
    """A transformer encoder loaded from a local folder.

    Args:
        path: Folder with ``config.json``, the weights and the tokenizer.
        batch_size: Texts per forward pass.
        max_length: Tokens per text; longer texts are truncated, not refused.
        threads: Torch threads.
        sort_by_length: Batch texts of similar length together.
    """

    def __init__(
        self,
        path: str,
        batch_size: int = 64,
        max_length: int = 256,
        threads: int = 1,
        sort_by_length: bool = True,
    ) -> None:
        import torch  # noqa: PLC0415
        from transformers import AutoModel, AutoTokenizer  # noqa: PLC0415

        torch.set_num_threads(threads)
        self._torch = torch
        self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self._model = AutoModel.from_pretrained(path, local_files_only=True).eval()
        limit = getattr(self._model.config, "max_position_embeddings", max_length)
        self.max_length = min(max_length, limit)
        self.dimensions = int(self._model.config.hidden_size)
        self._batch_size = batch_size
        self._sort = sort_by_length

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embeds texts.

        Args:
            texts: Texts (any length: cut at ``max_length`` tokens).

        Returns:
            ``float32`` array of shape (len(texts), dimensions), rows of unit length.
        """
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out
        torch = self._torch
        batches = encoded_batches(
            self._tokenizer, texts, self._batch_size, self.max_length, self._sort
        )
        with torch.inference_mode():
            for idx, enc in batches:
                hidden = self._model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                summed = (hidden * mask).sum(dim=1)
                mean = summed / mask.sum(dim=1).clamp(min=1e-9)
                unit = torch.nn.functional.normalize(mean, p=2, dim=1)
                out[idx] = unit.float().numpy()
        return out
