"""The NumPy oracle as a framework column: adapter (:mod:`.adapter`) and probes (:mod:`.probes`)."""
from equivcheck.backends.numpy.adapter import NumpyBackend

Backend = NumpyBackend
