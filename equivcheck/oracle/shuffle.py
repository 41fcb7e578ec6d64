"""Sub-pixel rearrangements, any number of spatial dims: PyTorch's ``pixel_shuffle`` (CRD order),
TF's ``depth_to_space`` (DCR order) and their inverses, all channels-first.
"""

import math

import numpy as np

from equivcheck.oracle._core import OracleError, _f64, _ints


def _shuffle_args(op, x, r):
    x = _f64(x, op, "x")
    if x.ndim < 3:
        raise OracleError(f"{op}: input must be (N, C, *spatial), got shape {x.shape}")
    rs = _ints(r, x.ndim - 2, "r", op, minimum=1)
    return x, rs


def _interleave(x, rs):
    """(N, C, *r, *sp) -> (N, C, sp0*r0, sp1*r1, ...)."""
    nd = len(rs)
    N, C = x.shape[:2]
    sp = x.shape[2 + nd:]
    perm = (0, 1) + tuple(a for i in range(nd) for a in (2 + nd + i, 2 + i))
    return x.transpose(perm).reshape((N, C) + tuple(n * r for n, r in zip(sp, rs)))


def _deinterleave(op, x, rs):
    """(N, C, sp0*r0, ...) -> (N, C, *r, *sp)."""
    nd = len(rs)
    N, C = x.shape[:2]
    for i, (n, r) in enumerate(zip(x.shape[2:], rs)):
        if n % r:
            raise OracleError(f"{op}: spatial dim {i} of input shape {x.shape} not "
                              f"divisible by r={r}")
    sp = tuple(n // r for n, r in zip(x.shape[2:], rs))
    x = x.reshape((N, C) + tuple(v for pair in zip(sp, rs) for v in pair))
    perm = (0, 1) + tuple(3 + 2 * i for i in range(nd)) + tuple(2 + 2 * i for i in range(nd))
    return x.transpose(perm), sp


def _split_channels(op, x, R):
    if x.shape[1] % R:
        raise OracleError(f"{op}: channels {x.shape[1]} of input shape {x.shape} not "
                          f"divisible by r**ndim={R}")
    return x.shape[1] // R


def pixel_shuffle(x, r):
    """PyTorch pixel shuffle (CRD order), any number of spatial dims.

    out[n, c, h*r+i, w*r+j] = x[n, c*r*r + i*r + j, h, w]; ``r`` is an int or
    one factor per spatial dim (channel factor prod(r)).

    >>> pixel_shuffle(np.arange(8.).reshape(1, 8, 1, 1), 2)[0]
    array([[[0., 1.],
            [2., 3.]],
    <BLANKLINE>
           [[4., 5.],
            [6., 7.]]])
    """
    x, rs = _shuffle_args("pixel_shuffle", x, r)
    Cout = _split_channels("pixel_shuffle", x, math.prod(rs))
    return _interleave(x.reshape((x.shape[0], Cout) + rs + x.shape[2:]), rs)


def pixel_unshuffle(x, r):
    """Inverse of ``pixel_shuffle``: (N, C, *sp*r) -> (N, C*prod(r), *sp).

    >>> pixel_unshuffle(np.zeros((2, 3, 8, 6)), 2).shape
    (2, 12, 4, 3)
    """
    x, rs = _shuffle_args("pixel_unshuffle", x, r)
    y, sp = _deinterleave("pixel_unshuffle", x, rs)            # (N, C, *r, *sp)
    return y.reshape((x.shape[0], x.shape[1] * math.prod(rs)) + sp)


def depth_to_space(x, r):
    """TF ``depth_to_space`` (DCR order) with channels-first input and output.

    out[n, c, h*r+i, w*r+j] = x[n, (i*r + j)*C_out + c, h, w].

    >>> depth_to_space(np.arange(8.).reshape(1, 8, 1, 1), 2)[0]
    array([[[0., 2.],
            [4., 6.]],
    <BLANKLINE>
           [[1., 3.],
            [5., 7.]]])
    """
    x, rs = _shuffle_args("depth_to_space", x, r)
    nd = len(rs)
    Cout = _split_channels("depth_to_space", x, math.prod(rs))
    y = x.reshape((x.shape[0],) + rs + (Cout,) + x.shape[2:])   # (N, *r, C, *sp)
    y = np.moveaxis(y, 1 + nd, 1)                                # (N, C, *r, *sp)
    return _interleave(y, rs)


def space_to_depth(x, r):
    """Inverse of ``depth_to_space``: (N, C, *sp*r) -> (N, prod(r)*C, *sp), DCR order.

    >>> space_to_depth(np.zeros((2, 3, 8, 6)), 2).shape
    (2, 12, 4, 3)
    """
    x, rs = _shuffle_args("space_to_depth", x, r)
    y, sp = _deinterleave("space_to_depth", x, rs)             # (N, C, *r, *sp)
    y = np.moveaxis(y, 1, 1 + len(rs))                           # (N, *r, C, *sp)
    return y.reshape((x.shape[0], x.shape[1] * math.prod(rs)) + sp)
