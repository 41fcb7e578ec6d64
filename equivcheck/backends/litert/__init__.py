"""LiteRT (TensorFlow Lite): adapter (:mod:`.adapter`) and conventions probes (:mod:`.probes`, imported only
in the probe worker)."""
from equivcheck.backends.litert.adapter import LitertBackend

Backend = LitertBackend
