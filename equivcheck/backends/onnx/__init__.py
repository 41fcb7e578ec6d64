"""ONNX: two columns fed by one graph builder (:mod:`.graphs`): ``onnxruntime`` (ONNX Runtime's
InferenceSession, CPU provider) and ``onnx`` (``onnx.reference.ReferenceEvaluator``); adapters in
:mod:`.adapter`, layers through ``torch.onnx.export`` in :mod:`.export`; their layouts are rows of
:mod:`equivcheck.layouts`, their known gaps records of :mod:`equivcheck.known_issues`.  Importing this package imports onnx (the builder); onnxruntime and torch are
imported when an adapter is made and when a layer is first built."""
from equivcheck.backends.onnx.adapter import OnnxReferenceBackend, OnnxRuntimeBackend

#: The ``onnx`` column's adapter (the registry reads ``Backend`` of the folder named like the column); the
#: ``onnxruntime`` column's is :class:`OnnxRuntimeBackend`.
Backend = OnnxReferenceBackend
