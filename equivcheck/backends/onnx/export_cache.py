"""A persistent cache of ``torch.onnx.export`` results, keyed by everything the export depends on.

An export of one small layer takes 1.5–2.5 s on an idle core (the dynamo exporter traces the module with
torch.export and rebuilds onnxscript's torchlib registry on every call), so the layer claims would spend
nearly all their time exporting.  The entry is the exported ``ModelProto`` itself, the output of a real
``torch.onnx.export`` of the real module: the cache changes how soon a model is there, never what it is.

The key (:func:`export_key`) is a hash of
- the torch, onnx and onnxscript versions and :data:`FORMAT` (the export arguments of :mod:`.export`),
- every submodule's class and plain attributes (``kernel_size``, ``padding_mode``, ``ceil_mode``,
  ``return_indices``, ``training``, ...: its construction signature, which ``repr`` alone does not carry),
- every parameter's and buffer's name, shape, dtype and values (the exporter folds BatchNorm into the
  Conv, so the values are part of what it writes; :mod:`.export` exports layers with fixed probe values
  and loads the claim's weights afterwards, so for layers this is the construction signature again),
- the example input's shape and dtype, and the axes left static.

``EQUIVCHECK_ONNX_EXPORT_CACHE``: unset, empty, ``1``/``on``/``yes``/``true``: on, in
``$XDG_CACHE_HOME/equivcheck/onnx-export`` (default ``~/.cache/equivcheck/onnx-export``);
``0``/``off``/``no``/``false``: off; anything else is the directory.  An unreadable entry is exported
again and replaced.  ``benchmarks/onnx_export.py`` measures the cold and warm costs.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from equivcheck.backends.caches import cache_directory

#: Bump when :mod:`.export` changes the arguments it exports with (every old entry is then a miss).
FORMAT = "dynamo-export-v1: dynamic_shapes with Dim.DYNAMIC (Dim.AUTO fallback), optimize=True, default opset"

_PLAIN = (bool, int, float, str, type(None))


def cache_dir(setting: str | None) -> Path | None:
    """Where entries go, from the variable's value (:func:`equivcheck.backends.caches.cache_directory`);
    None is off.

    >>> cache_dir("off") is None, str(cache_dir("/tmp/oc"))
    (True, '/tmp/oc')
    """
    directory = cache_directory(setting, "onnx-export")
    return None if directory is None else Path(directory)


def _plain(value):
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, (tuple, list)) and all(isinstance(v, _PLAIN + (tuple, list)) for v in value):
        return tuple(_plain(v) for v in value)
    return None


def export_key(torch, module, example_shape, dtype, static_axes, versions: dict) -> str:
    """The hex digest naming ``module``'s export for inputs like ``example_shape`` (see the module docstring)."""
    digest = hashlib.sha256()

    def add(*items):
        for item in items:
            digest.update(repr(item).encode())
            digest.update(b"\0")

    add(FORMAT, sorted(versions.items()), tuple(int(d) for d in example_shape), str(dtype), tuple(sorted(static_axes)))
    for name, submodule in module.named_modules():
        attributes = sorted((k, _plain(v)) for k, v in vars(submodule).items()
                            if not k.startswith("_") and _plain(v) is not None)
        add(name, f"{type(submodule).__module__}.{type(submodule).__qualname__}", attributes)
    for name, tensor in list(module.state_dict().items()):
        array = tensor.detach().cpu().numpy()
        add(name, array.shape, array.dtype.str)
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


class ExportCache:
    """``get(key)`` → the cached ModelProto or None; ``put(key, model)``; off when ``directory`` is None."""

    def __init__(self, directory: Path | None):
        self.directory = directory
        self.hits = self.misses = 0

    @classmethod
    def from_environment(cls) -> "ExportCache":
        return cls(cache_dir(os.environ.get("EQUIVCHECK_ONNX_EXPORT_CACHE")))

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.onnx"

    def get(self, key: str):
        if self.directory is None:
            return None
        path = self._path(key)
        try:
            import onnx

            model = onnx.load_model_from_string(path.read_bytes())
        except Exception:  # noqa: BLE001 - absent or unreadable: export again (and replace it)
            self.misses += 1
            return None
        self.hits += 1
        return model

    def put(self, key: str, model) -> None:
        if self.directory is None:
            return
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # written whole, then renamed: two workers exporting the same layer never leave half a file
            handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(handle, "wb") as stream:
                stream.write(model.SerializeToString())
            os.replace(temporary, path)
        except OSError:
            pass  # a read-only or full cache directory costs time, not correctness
