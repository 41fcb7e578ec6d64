"""Flax (linen, nnx), on the JAX adapter: adapter (:mod:`.adapter`) and conventions probes (:mod:`.probes`)."""
from equivcheck.backends.flax.adapter import FlaxBackend

Backend = FlaxBackend
