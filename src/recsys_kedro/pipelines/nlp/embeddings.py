"""Sentence embeddings: mean pooling over the attention mask, L2-normalised (what
sentence-transformers does for all-MiniLM-L6-v2), run by PyTorch (``transformers``) or by
ONNX Runtime on the same weights exported once (:mod:`.onnx_export`).

Speed on CPU: texts are embedded in batches of similar token length, so a batch is
padded to about its own texts' length rather than to its longest outlier (on review
text about 3x the throughput of batches in arrival order).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np


def encoded_batches(
    tokenizer: Any,
    texts: list[str],
    batch_size: int,
    max_length: int,
    sort_by_length: bool = True,
    tensors: Literal["pt", "np"] = "pt",
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
            return_tensors=tensors,
        )
        yield idx, encoding


class Embedder:
    """A transformer encoder loaded from a local folder.

    Args:
        path: Folder with ``config.json``, the weights and the tokenizer.
        batch_size: Texts per forward pass.
        max_length: Tokens per text; longer texts are truncated, not refused.
        threads: Threads of the engine (per Spark task).
        sort_by_length: Batch texts of similar length together.
        engine: ``torch``, or ``onnx``: ONNX Runtime on the graph exported from the
            same weights (fp32, fused operators; the same vectors to about 1e-6).
        onnx_cache: Folder of exported graphs (``onnx`` only); default
            :func:`.onnx_export.default_cache_dir`.
    """

    def __init__(
        self,
        path: str,
        batch_size: int = 64,
        max_length: int = 256,
        threads: int = 1,
        sort_by_length: bool = True,
        engine: Literal["torch", "onnx"] = "torch",
        onnx_cache: str | None = None,
    ) -> None:
        from transformers import AutoConfig, AutoTokenizer  # noqa: PLC0415

        self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        config = AutoConfig.from_pretrained(path, local_files_only=True)
        limit = getattr(config, "max_position_embeddings", max_length)
        self.max_length = min(max_length, limit)
        self.dimensions = int(config.hidden_size)
        self.engine = engine
        self._batch_size = batch_size
        self._sort = sort_by_length
        if engine == "onnx":
            from recsys_kedro.pipelines.nlp import onnx_export  # noqa: PLC0415

            cache = Path(onnx_cache) if onnx_cache else onnx_export.default_cache_dir()
            self.onnx_file = onnx_export.exported_model(Path(path), cache)
            self._session = onnx_export.session(self.onnx_file, threads)
            self._inputs = [i.name for i in self._session.get_inputs()]
        elif engine == "torch":
            import torch  # noqa: PLC0415
            from transformers import AutoModel  # noqa: PLC0415

            torch.set_num_threads(threads)
            self._torch = torch
            self._model = AutoModel.from_pretrained(path, local_files_only=True).eval()
        else:
            raise ValueError(f"Unknown embedding engine {engine!r}: torch or onnx")

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
        if self.engine == "onnx":
            batches = encoded_batches(
                self._tokenizer,
                texts,
                self._batch_size,
                self.max_length,
                self._sort,
                tensors="np",
            )
            for idx, enc in batches:
                feed = {name: enc[name].astype(np.int64) for name in self._inputs}
                out[idx] = self._session.run(None, feed)[0]
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
