"""The ops that are not windowed: ``linear`` (a dense layer on the last axis) and inference
``batch_norm`` (per channel, axis 1).
"""

import math

import numpy as np

from equivcheck.oracle._core import OracleError, _f64


def linear(x, w, b=None):
    """Dense layer on the last axis: ``x @ w.T + b`` with w ``(out, in)``.

    >>> linear(np.ones((2, 5, 3)), np.ones((4, 3)), np.zeros(4)).shape
    (2, 5, 4)
    """
    x, w = _f64(x, "linear", "x"), _f64(w, "linear", "w")
    if w.ndim != 2:
        raise OracleError(f"linear: weight must be (out, in), got shape {w.shape}")
    if x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise OracleError(f"linear: input shape {x.shape} last dim != in_features "
                          f"{w.shape[1]} of weight shape {w.shape}")
    out = x @ w.T
    if b is not None:
        b = _f64(b, "linear", "b")
        if b.shape != (w.shape[0],):
            raise OracleError(f"linear: bias shape {b.shape} != ({w.shape[0]},) "
                              f"for weight shape {w.shape}")
        out = out + b
    return out


def _channel_vector(op, name, v, C, x_shape):
    v = _f64(v, op, name)
    if v.shape != (C,):
        raise OracleError(f"{op}: {name} shape {v.shape} != ({C},) for input shape {x_shape}")
    return v.reshape((C,) + (1,) * (len(x_shape) - 2))


def batch_norm(x, mean, var, gamma, beta, eps):
    """Inference batch normalisation over axis 1: (x - mean) / sqrt(var + eps) * gamma + beta.

    ``x``: ``(N, C, *sp)`` (or ``(N, C)``); the statistics and the affine parameters are ``(C,)``.

    >>> batch_norm(np.array([[[1., 3.]], [[5., 7.]]]), [2.], [3.], [2.], [1.], 1.)
    array([[[0., 2.]],
    <BLANKLINE>
           [[4., 6.]]])
    """
    op = "batch_norm"
    x = _f64(x, op, "x")
    if x.ndim < 2:
        raise OracleError(f"{op}: input must be (N, C, *spatial), got shape {x.shape}")
    C = x.shape[1]
    mean, var, gamma, beta = (_channel_vector(op, name, v, C, x.shape) for name, v in
                              (("mean", mean), ("var", var), ("gamma", gamma), ("beta", beta)))
    eps = float(eps)
    if not (eps >= 0 and math.isfinite(eps)):
        raise OracleError(f"{op}: eps={eps!r} must be finite and >= 0")
    if (var < 0).any() or (var + eps <= 0).any():
        raise OracleError(f"{op}: var must be >= 0 with var + eps > 0 (var "
                          f"{var.ravel().tolist()}, eps {eps})")
    return (x - mean) / np.sqrt(var + eps) * gamma + beta
