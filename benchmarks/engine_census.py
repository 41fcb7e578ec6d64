"""pytest plugin: a census of the programs the deployment engines build in a run (``-p engine_census``).

The JAX census (``jax_census.py``) counts XLA compiles; the ONNX family and LiteRT have compiles of their
own that no cache within a run avoids the first time a program is needed:

- ``export``: a ``torch.onnx.export`` of a layer (the export cache, when cold, does not spare it);
- ``onnxruntime`` / ``onnx`` / ``openvino``: building a session (ORT), a reference evaluator or a compiled
  model (OpenVINO's CPU plugin) from one ONNX model;
- ``litert``: tracing a TensorFlow program, converting it with the TFLite converter and preparing the
  interpreter.

Active only when ``EQUIVCHECK_CENSUS_DIR`` is set.  Each process writes ``<dir>/engines/<worker>-<pid>.json``
at exit: one record per build, with ``kind``, ``key`` (a hash of the model or flatbuffer the build consumed
or produced, so the same program built in two workers has one key) and ``s`` (wall seconds).  The first
build of each distinct key is the engines' part of the floor in ``benchmarks/run.py``.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import time

_RECORDS: list[dict] = []


def _digest(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def _timed(kind, original, key_of):
    """``original`` wrapped: each call is a record of ``kind`` keyed by ``key_of(args, result)``."""
    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        result = original(*args, **kwargs)
        _RECORDS.append({"kind": kind, "key": key_of(args, result), "s": time.perf_counter() - started})
        return result
    return wrapper


def _install() -> None:
    try:
        from equivcheck.backends.onnx import adapter as onnx_adapter
        from equivcheck.backends.onnx import export as onnx_export
    except ImportError:  # onnx is not installed: nothing of that family runs
        onnx_adapter = onnx_export = None
    if onnx_adapter is not None:
        families = [(onnx_adapter.OnnxRuntimeBackend, "onnxruntime"), (onnx_adapter.OnnxReferenceBackend, "onnx")]
        try:
            from equivcheck.backends.openvino.adapter import OpenvinoBackend
            families.append((OpenvinoBackend, "openvino"))
        except ImportError:
            pass
        for cls, kind in families:
            if "_compile" in vars(cls):  # each class's own build (the subclasses override it)
                cls._compile = _timed(kind, cls._compile, lambda args, result: _digest(args[1].SerializeToString()))
        exporter = onnx_export.Exporter
        exporter._export = _timed("export", exporter._export, lambda args, result: _digest(result.SerializeToString()))
    try:
        from equivcheck.backends.litert.adapter import LitertBackend
    except ImportError:
        return
    converted: list[bytes] = []

    def convert_keeping(original):
        @functools.wraps(original)
        def convert(self, *args, **kwargs):
            flatbuffer = original(self, *args, **kwargs)
            converted.append(flatbuffer)
            return flatbuffer
        return convert

    try:
        import tensorflow as tf
        tf.lite.TFLiteConverter.convert = convert_keeping(tf.lite.TFLiteConverter.convert)
    except Exception:  # noqa: BLE001 - no TFLite converter: LiteRT does not run here
        return
    LitertBackend._convert = _timed("litert", LitertBackend._convert,
                                    lambda args, result: _digest(converted[-1]) if converted else None)


def summarise(records: list[dict]) -> dict:
    """Per kind and in all: builds, distinct keys, and the seconds of each key's first build.

    >>> summarise([{"kind": "export", "key": "a", "s": 2.0}, {"kind": "export", "key": "a", "s": 1.5},
    ...            {"kind": "litert", "key": "b", "s": 0.25}])["distinct_s"]
    2.25
    """
    first: dict = {}
    for record in records:
        first.setdefault((record["kind"], record["key"]), record)
    kinds = sorted({r["kind"] for r in records})
    per_kind = {kind: {"builds": sum(r["kind"] == kind for r in records),
                       "distinct": sum(k == kind for k, _ in first),
                       "distinct_s": sum(r["s"] for (k, _), r in first.items() if k == kind)} for kind in kinds}
    return {"builds": len(records), "distinct": len(first), "distinct_s": sum(r["s"] for r in first.values()),
            "per_kind": per_kind}


def pytest_configure(config):
    if os.environ.get("EQUIVCHECK_CENSUS_DIR"):
        _install()


def pytest_unconfigure(config):
    directory = os.environ.get("EQUIVCHECK_CENSUS_DIR")
    if not directory:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    os.makedirs(os.path.join(directory, "engines"), exist_ok=True)
    path = os.path.join(directory, "engines", f"{worker}-{os.getpid()}.json")
    with open(path, "w") as out:
        json.dump({"worker": worker, "records": _RECORDS}, out)
