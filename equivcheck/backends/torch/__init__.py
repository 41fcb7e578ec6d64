"""PyTorch: adapter (:mod:`.adapter`) and conventions probes (:mod:`.probes`); torch is imported by neither
until an adapter is made or the probes run."""
from equivcheck.backends.torch.adapter import TorchBackend

Backend = TorchBackend
