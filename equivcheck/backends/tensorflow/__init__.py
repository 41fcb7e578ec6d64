"""TensorFlow and Keras: adapter (:mod:`.adapter`) and conventions probes (:mod:`.probes`, imported only
in the probe worker: it imports TensorFlow)."""
from equivcheck.backends.tensorflow.adapter import TensorflowBackend

Backend = TensorflowBackend
