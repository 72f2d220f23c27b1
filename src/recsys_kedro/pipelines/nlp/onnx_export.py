"""The embedding model as an ONNX Runtime graph, exported once per model version and
kept on disk.

The installed weights are exported with ``torch.onnx.export`` (no hub, no network):
the encoder with its mean pooling over the attention mask and the L2 normalisation, so
the graph maps token ids straight to unit vectors. ONNX Runtime's transformer optimizer
then fuses the embedding layer, each layer's attention, bias + GELU and the skip
connections with their layer norms. The graph is fp32: dynamic int8 quantisation was
measured at a mean cosine of 0.992-0.994 to the full-precision vectors on real reviews
(below the 0.999 the project accepts) and is not offered.

The file is keyed by a hash of the model's ``config.json`` and weights plus the
onnxruntime version (whose optimizer wrote it), so a changed model or runtime exports
afresh and a stale file is never used. It is written under a temporary name and moved
into place, so Spark tasks exporting at once on one machine never read a half-written
file. After export the graph is checked against the PyTorch model on a few texts.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
PROBE_TEXTS = [
    "This moisturizer left my skin soft and hydrated.",
    "The mascara clumps and flakes by noon, would not buy again.",
    "ok",
]
# Cosine between the exported graph's vectors and PyTorch's below which the export is
# refused (fp32 graphs agree to about 1e-6).
MIN_EXPORT_COSINE = 0.9999


class OnnxExportError(RuntimeError):
    """The model cannot be exported, or its export disagrees with the model."""


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/recsys_kedro/onnx`` (``~/.cache`` when unset): local disk on
    each machine that runs Spark tasks."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "recsys_kedro" / "onnx"


def model_key(path: Path) -> str:
    """A hash of the model folder's ``config.json`` and weights, and the onnxruntime
    version.

    Args:
        path: The model folder.

    Returns:
        16 hex digits.
    """
    import onnxruntime  # noqa: PLC0415

    digest = hashlib.sha256(onnxruntime.__version__.encode())
    for name in ("config.json", *WEIGHT_FILES):
        file = path / name
        if file.is_file():
            digest.update(name.encode())
            with file.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


def _pooled_module(model: Any, names: list[str]) -> Any:
    """The encoder + mean pooling over the mask + L2 normalisation, taking the
    tokenizer's inputs positionally (as the exporter passes them)."""
    import torch  # noqa: PLC0415

    class Pooled(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder
            self.names = names

        def forward(self, *inputs: Any) -> Any:
            named = dict(zip(self.names, inputs, strict=True))
            hidden = self.encoder(**named).last_hidden_state
            mask = named["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    return Pooled(model)


def _export(path: Path, target: Path) -> None:
    import torch  # noqa: PLC0415
    from onnxruntime.transformers import optimizer  # noqa: PLC0415
    from transformers import AutoModel, AutoTokenizer  # noqa: PLC0415

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    # The eager attention exports as plain MatMul/Softmax, which the optimizer fuses
    # into one Attention operator per layer (the SDPA export does not fuse).
    model = AutoModel.from_pretrained(
        path, local_files_only=True, attn_implementation="eager"
    ).eval()
    example = tokenizer(PROBE_TEXTS[:2], padding=True, return_tensors="pt")
    names = [name for name in tokenizer.model_input_names if name in example]
    wrapper = _pooled_module(model, names)
    probe = tokenizer(PROBE_TEXTS, padding=True, return_tensors="pt")
    # PyTorch's vectors, taken before the export (a traced model is not reused)
    with torch.inference_mode():
        expected = wrapper(*(probe[name] for name in names)).numpy()
    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        raw = Path(tmp) / "raw.onnx"
        torch.onnx.export(
            wrapper,
            tuple(example[name] for name in names),
            str(raw),
            input_names=names,
            output_names=["embedding"],
            dynamic_axes={**axes, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
        config = model.config
        optimized = optimizer.optimize_model(
            str(raw),
            model_type="bert",
            num_heads=int(getattr(config, "num_attention_heads", 0)),
            hidden_size=int(getattr(config, "hidden_size", 0)),
            opt_level=1,
        )
        staged = Path(tmp) / "model.onnx"
        optimized.save_model_to_file(str(staged))
        got = session(staged, 1).run(
            None, {name: probe[name].numpy() for name in names}
        )[0]
        cosine = (expected * got).sum(axis=1)
        if not np.all(cosine >= MIN_EXPORT_COSINE):
            raise OnnxExportError(
                "The ONNX export disagrees with the PyTorch model (cosine "
                f"{cosine.min():.6f} < {MIN_EXPORT_COSINE}); use engine: torch for "
                "this model."
            )
        os.replace(staged, target)
    fused = {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}
    logger.info("Exported %s to %s (fused operators: %s)", path, target, fused)


def session(file: Path, threads: int) -> Any:
    """An ONNX Runtime CPU session on the exported graph.

    Args:
        file: The exported model.
        threads: Intra-op threads (one per Spark task's core).

    Returns:
        An ``onnxruntime.InferenceSession``.
    """
    import onnxruntime as ort  # noqa: PLC0415

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])


def exported_model(path: Path, cache_dir: Path) -> Path:
    """The model's ONNX graph in ``cache_dir``, exported on first use.

    Args:
        path: The model folder (``config.json``, weights, tokenizer).
        cache_dir: Where exported graphs are kept.

    Returns:
        The ``.onnx`` file.

    Raises:
        OnnxExportError: The export failed or disagrees with the model.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"{path.name}-{model_key(path)}.onnx"
    if target.is_file():
        return target
    try:
        _export(path, target)
    except OnnxExportError:
        raise
    except Exception as exc:
        raise OnnxExportError(
            f"Cannot export the embedding model {path} to ONNX: {exc}. Use engine: "
            "torch for this model."
        ) from exc
    return target
