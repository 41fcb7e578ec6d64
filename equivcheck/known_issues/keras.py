"""Guards for Keras 3 on its jax and torch backends (the tensorflow column's Keras path under
``KERAS_BACKEND``), asked before Keras runs the layer; each is bounded by its record's versions."""
from __future__ import annotations

from equivcheck.known_issues.record import KnownIssueSkip
from equivcheck.known_issues.registry import BY_ID


def keras_same_avg_pool_replicates(spatial, pool_size, strides) -> bool:
    """Whether a 'same' pool of this (native, channels-last) spatial shape has an odd total padding in
    some axis, where Keras-on-torch pads by replication (TF's rule: total = max((⌈n/s⌉−1)s + k − n, 0))."""
    for n, k, s in zip(spatial, pool_size, strides):
        total = max((-(-int(n) // s) - 1) * s + k - int(n), 0)
        if total % 2:
            return True
    return False


def check_keras_avg_pool(keras_backend: str, padding, spatial, pool_size, strides, keras_version: str) -> None:
    """Raise :class:`KnownIssueSkip` before Keras-on-torch runs a 'same' average pool whose padding is
    uneven: its border windows average replicated edge pixels (keras-torch-same-avg-pool-replicates)."""
    if (keras_backend == "torch" and isinstance(padding, str) and padding.lower() == "same"
            and BY_ID["keras-torch-same-avg-pool-replicates"].affects(keras_version)
            and keras_same_avg_pool_replicates(spatial, pool_size, strides)):
        raise KnownIssueSkip(f"not run: Keras {keras_version} on torch pads an uneven 'same' average pool by "
                             "replicating the edge pixels, which the border averages then count "
                             "(equivcheck/known_issues/: keras-torch-same-avg-pool-replicates)")


def check_keras_batch_norm(keras_backend: str, dtype: str, keras_version: str) -> None:
    """Raise :class:`KnownIssueSkip` before a float64 Keras BatchNormalization on jax or torch, which computes
    in float32 (keras-float64-batch-norm-in-float32)."""
    if (dtype == "float64" and keras_backend in ("jax", "torch")
            and BY_ID["keras-float64-batch-norm-in-float32"].affects(keras_version)):
        raise KnownIssueSkip(f"not run: Keras {keras_version}'s BatchNormalization on {keras_backend} computes a "
                             "float64 input in float32 (equivcheck/known_issues/: keras-float64-batch-norm-in-float32)")
