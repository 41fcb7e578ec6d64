"""OpenVINO: adapter (:mod:`.adapter`, on the ONNX family's graphs) and conventions probes (:mod:`.probes`,
imported only in the probe worker)."""
from equivcheck.backends.openvino.adapter import OpenvinoBackend

Backend = OpenvinoBackend
