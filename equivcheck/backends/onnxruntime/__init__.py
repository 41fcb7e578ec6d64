"""ONNX Runtime (the ``onnxruntime`` column): the adapter and graph builder are the ONNX family's
(:mod:`equivcheck.backends.onnx`, shared with the ``onnx`` reference column); this folder names the column's
adapter for the registry and holds its probes (:mod:`.probes`).  Importing it imports onnx (the builder),
not onnxruntime: that is imported when the adapter is made."""
from equivcheck.backends.onnx.adapter import OnnxRuntimeBackend

Backend = OnnxRuntimeBackend
