"""The ``onnx`` column's conventions probes: the ONNX family's rows (:mod:`equivcheck.backends.onnx.probe_rows`)
run by this column's engine."""
from equivcheck.backends.onnx.probe_rows import register_all, setup  # noqa: F401  (setup: the probe worker's)

register_all("onnx")
