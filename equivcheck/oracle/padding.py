"""Padding with NumPy's modes (``pad``) and what is defined by one of them:
``circular_correlation``, the 'wrap'-padded valid cross-correlation.
"""

import numpy as np

from equivcheck import oracle_fast as _fast
from equivcheck.oracle._core import OracleError, _budget, _f64, _pad_pairs
from equivcheck.oracle.convolution import _add_bias, _check_conv

#: The padding modes of :func:`pad`, in NumPy's names (``equivcheck.conventions.PAD_MODES`` says
#: what each is called in every framework).
PAD_MODES = ("constant", "reflect", "edge", "wrap", "symmetric")


def pad(x, pads, mode="constant"):
    """Pad the spatial axes of ``(N, C, *sp)`` by per-dim ``(before, after)`` pairs; ``np.pad``'s modes.

    'constant' (zeros), 'reflect' (abc -> cb|abc|ba), 'edge' (aa|abc|cc), 'wrap' (bc|abc|ab),
    'symmetric' (ba|abc|cb).  Pads may exceed the size: the pattern then repeats as ``np.pad``
    defines it (reflect and symmetric keep mirroring, wrap keeps cycling).  ``pads``: an int, one
    int per spatial dim, or one pair per spatial dim, all >= 0.

    >>> pad(np.array([[[1., 2., 3.]]]), [(2, 1)], "reflect")
    array([[[3., 2., 1., 2., 3., 2.]]])
    """
    op = "pad"
    x = _f64(x, op, "x")
    if x.ndim < 3:
        raise OracleError(f"{op}: input must be (N, C, *spatial), got shape {x.shape}")
    if mode not in PAD_MODES:
        raise OracleError(f"{op}: mode={mode!r} is not one of {', '.join(PAD_MODES)} "
                          f"(NumPy's names)")
    pairs = _pad_pairs(pads, x.ndim - 2, op)
    for i, (n, (b, a)) in enumerate(zip(x.shape[2:], pairs)):
        if mode != "constant" and n == 0 and b + a > 0:
            raise OracleError(f"{op}: mode={mode!r} cannot extend the empty spatial dim {i} "
                              f"(input shape {x.shape})")
    return np.pad(x, ((0, 0), (0, 0)) + pairs, mode=mode)


def circular_correlation(x, w, b=None):
    """Circular (periodic) cross-correlation, FFT-free: y[n, o, i] = sum_c sum_k x[n, c, (i+k) mod N] w[o, c, k].

    Any number of spatial dims; the output has the input's spatial size.  Defined as ``pad`` with
    'wrap' by ``k - 1`` at the end of each dim, then the plain (valid, stride 1) cross-correlation.
    The kernel must be no larger than the input in every dim: an N-point circular correlation
    (what the convolution theorem's DFT product computes) has at most N taps per dim.

    >>> circular_correlation(np.array([[[1., 2., 3.]]]), np.array([[[1., 10.]]]))
    array([[[21., 32., 13.]]])
    """
    op = "circular_correlation"
    x, w = _f64(x, op, "x"), _f64(w, op, "w")
    b = None if b is None else _f64(b, op, "b")
    _check_conv(op, x, w, 1, [(0, kk - 1) for kk in w.shape[2:]] if w.ndim == x.ndim else 0,
                1, 1, b)
    for i, (n, kk) in enumerate(zip(x.shape[2:], w.shape[2:])):
        if kk > n:
            raise OracleError(f"{op}: kernel size {kk} exceeds the input size {n} in spatial dim "
                              f"{i} (input shape {x.shape}, kernel shape {w.shape}); an N-point "
                              f"circular correlation has at most N taps")
    nd = x.ndim - 2
    xp = pad(x, [(0, kk - 1) for kk in w.shape[2:]], "wrap")
    return _add_bias(_fast.correlate(xp, w, (1,) * nd, (1,) * nd, 1, _budget(None)), b)
