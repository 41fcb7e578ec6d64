"""JAX (``jax.lax``): adapter (:mod:`.adapter`) and conventions probes (:mod:`.probes`)."""
from equivcheck.backends.jax.adapter import JaxBackend

Backend = JaxBackend
