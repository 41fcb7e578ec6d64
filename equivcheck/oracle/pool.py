"""Pooling: ``pool_output_size`` (PyTorch's and ONNX's ceil_mode rule), ``max_pool`` (with
PyTorch's indices), ``max_unpool`` (their inverse) and ``avg_pool``.  Both pools reduce over the
window view of :mod:`equivcheck.oracle._core`: max over the input padded with -inf, average as the
window sum of the zero-padded input over the window sum of a mask of ones.
"""

import math
import operator

import numpy as np

from equivcheck.oracle._core import OracleError, _f64, _ints, _pad, _pad_pairs, _windows


def pool_output_size(n, k, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Output length of a pooling along one dim (PyTorch's and ONNX's rule).

    floor((n + before + after - d*(k-1) - 1) / s) + 1 (``stride`` defaults to ``k``); with
    ``ceil_mode`` the division is a ceiling, minus one when the last window would start in the
    right padding, i.e. when (out-1)*s >= n + before (PyTorch's pooling docs: windows "that would
    start in the right padded region are ignored"; ONNX's ``op_pool_common`` applies the same
    test).  ``padding`` an int or a ``(before, after)`` pair.  A result <= 0 means the kernel does
    not fit (with ``ceil_mode`` too: the ceiling is taken only when it does).

    >>> pool_output_size(5, 2), pool_output_size(5, 2, ceil_mode=True)
    (2, 3)
    >>> pool_output_size(4, 2, padding=1, ceil_mode=True), pool_output_size(4, 3, 2, 1, ceil_mode=True)
    (3, 3)
    """
    op = "pool_output_size"
    n, k = operator.index(n), operator.index(k)
    (s,) = (k,) if stride is None else _ints(stride, 1, "stride", op, 1)
    (d,) = _ints(dilation, 1, "dilation", op, 1)
    if n < 0 or k < 1:
        raise OracleError(f"{op}: need n >= 0 and k >= 1 (got n={n}, k={k})")
    (b, a), = _pad_pairs([padding], 1, op)
    free = n + b + a - d * (k - 1) - 1
    if not ceil_mode or free < 0:
        return free // s + 1
    out = -(-free // s) + 1
    return out - 1 if (out - 1) * s >= n + b else out


def _pool_args(op, x, kernel, stride, padding, dilation, ceil_mode, allow_same):
    """Validate a pooling call; return ``x, k, s, d, pairs, out, overhang``.

    ``overhang[i]`` is how far the last window reaches beyond the padded input (ceil_mode only).
    Any padding is accepted (the frameworks that limit it to half the kernel raise themselves).
    """
    x = _f64(x, op, "x")
    if x.ndim < 3:
        raise OracleError(f"{op}: input must be (N, C, *spatial), got shape {x.shape}")
    nd = x.ndim - 2
    k = _ints(kernel, nd, "kernel", op, minimum=1)
    s = k if stride is None else _ints(stride, nd, "stride", op, minimum=1)
    d = _ints(dilation, nd, "dilation", op, minimum=1)
    if isinstance(padding, str) and padding.lower() == "same" and not allow_same:
        raise OracleError(f"{op}: padding='same' not supported (TF excludes the padding "
                          f"from the average, count_include_pad=True would not)")
    pairs = _pad_pairs(padding, nd, op, x.shape[2:], k, s, d)
    out, overhang = [], []
    for i, (n, kk, (pb, pa)) in enumerate(zip(x.shape[2:], k, pairs)):
        if n + pb + pa < d[i] * (kk - 1) + 1:
            raise OracleError(f"{op}: kernel {k} (dilation {d}) larger than padded input in "
                              f"spatial dim {i} (input shape {x.shape}, padding {pairs})")
        out.append(pool_output_size(n, kk, s[i], (pb, pa), d[i], ceil_mode))
        overhang.append(max(0, (out[i] - 1) * s[i] + d[i] * (kk - 1) + 1 - (n + pb + pa)))
    return x, k, s, d, pairs, tuple(out), tuple(overhang)


def _no_input_in_some_window(op, x, k, s, d, pairs, out, why):
    """Raise when a window holds no input element in some dim (all padding or overhang)."""
    for i in range(len(k)):
        taps = np.arange(out[i])[:, None] * s[i] - pairs[i][0] + d[i] * np.arange(k[i])
        if not ((taps >= 0) & (taps < x.shape[2 + i])).any(axis=1).all():
            raise OracleError(f"{op}: some windows lie entirely in the padding in spatial "
                              f"dim {i} (input shape {x.shape}, kernel {k}, stride {s}, "
                              f"padding {pairs}, dilation {d}){why}")


def max_pool(x, kernel, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
    """Max pooling over ``(N, C, *sp)``: the max over each window of the input padded with -inf.

    ``stride`` defaults to ``kernel``; ``padding``: int, per dim, pairs, 'valid', 'same' (TF's),
    any size.  ``ceil_mode``: :func:`pool_output_size`'s ceil rule; the last window may then reach
    past the padded input, and the overhang is -inf too.  A window holding no input element (all
    padding) has no defined maximum and raises (PyTorch forbids such padding; ONNX's reference
    takes the max of an empty set).

    With ``return_indices`` also returns int64 indices in the PyTorch
    convention: row-major flat index into each (n, c) input spatial plane.
    Ties go to the first maximum in row-major window order (NaN wins and the
    first NaN is reported).

    >>> x = np.array([[[[1., 3, 2, 4], [5, 0, 6, 1], [7, 8, 1, 1], [2, 9, 0, 3]]]])
    >>> v, i = max_pool(x, 2, return_indices=True)
    >>> v[0, 0], i[0, 0]
    (array([[5., 6.],
           [9., 3.]]), array([[ 4,  6],
           [13, 15]]))
    """
    x, k, s, d, pairs, o, extra = _pool_args("max_pool", x, kernel, stride, padding, dilation,
                                             ceil_mode, True)
    nd = len(k)
    _no_input_in_some_window("max_pool", x, k, s, d, pairs, o, "")
    xp = _pad(x, [(pb, pa + e) for (pb, pa), e in zip(pairs, extra)], -np.inf)
    win = _windows(xp, k, s, d)[(slice(None),) * 2 + tuple(slice(0, oi) for oi in o)]
    flat = win.reshape(win.shape[:2 + nd] + (-1,))
    vals = flat.max(axis=-1)
    if not return_indices:
        return vals
    arg = flat.argmax(axis=-1)
    offs = np.unravel_index(arg, k)
    coords = []
    for i in range(nd):
        start = (np.arange(o[i]) * s[i] - pairs[i][0]).reshape(
            (1, 1) + tuple(-1 if j == i else 1 for j in range(nd)))
        c = start + offs[i] * d[i]
        # a window whose real pixels are all -inf may "pick" a padded slot:
        # report the first real pixel instead (as PyTorch does)
        first = start + (-(start // d[i])).clip(min=0) * d[i]
        coords.append((c, first))
    bad = np.zeros(vals.shape, dtype=bool)
    for i, (c, _) in enumerate(coords):
        bad |= (c < 0) | (c >= x.shape[2 + i])
    coords = [np.where(bad, first, c) for c, first in coords]
    idx = np.ravel_multi_index(tuple(np.broadcast_arrays(*coords)), x.shape[2:])
    return vals, idx.astype(np.int64)


def max_unpool(y, indices, output_size):
    """Inverse of ``max_pool``: scatter ``y`` to ``indices`` (PyTorch convention), zeros elsewhere.

    ``output_size`` is the spatial size (or the full ``(N, C, *sp)`` shape).

    >>> max_unpool(np.array([[[5., 6.]]]), np.array([[[1, 2]]]), (4,))
    array([[[0., 5., 6., 0.]]])
    """
    op = "max_unpool"
    y = _f64(y, op, "y")
    idx = np.asarray(indices)
    if y.ndim < 3:
        raise OracleError(f"{op}: input must be (N, C, *spatial), got shape {y.shape}")
    if idx.shape != y.shape or not np.issubdtype(idx.dtype, np.integer):
        raise OracleError(f"{op}: indices shape {idx.shape} (dtype {idx.dtype}) must be an "
                          f"integer array of the input shape {y.shape}")
    nd = y.ndim - 2
    size = tuple(operator.index(v) for v in output_size)
    if len(size) == nd + 2:
        if size[:2] != y.shape[:2]:
            raise OracleError(f"{op}: output_size {size} does not match (N, C) of input "
                              f"shape {y.shape}")
        size = size[2:]
    if len(size) != nd:
        raise OracleError(f"{op}: output_size {size} must have {nd} spatial sizes "
                          f"(input shape {y.shape})")
    M = math.prod(size)
    flat_idx = idx.reshape(y.shape[:2] + (-1,))
    if flat_idx.size and (flat_idx.min() < 0 or flat_idx.max() >= M):
        raise OracleError(f"{op}: indices out of range [0, {M}) for output_size {size}")
    out = np.zeros(y.shape[:2] + (M,), dtype=np.float64)
    np.put_along_axis(out, flat_idx, y.reshape(flat_idx.shape), axis=-1)
    return out.reshape(y.shape[:2] + size)


def avg_pool(x, kernel, stride=None, padding=0, dilation=1, count_include_pad=True,
             ceil_mode=False):
    """Average pooling: each window's sum of the zero-padded input over its divisor.

    The divisor is the window's number of taps inside the padded input
    (``count_include_pad=True``: padding counts, the ceil_mode overhang beyond
    it does not) or inside the input itself (``count_include_pad=False``).
    That is, it is the same window sum of a mask of ones.  Both are PyTorch's
    rule (``avg_pool2d``: the window clipped to the padded input, then, without
    count_include_pad, to the input) and ONNX's reference (taps at or past
    ``n + before + after`` dropped; padding NaN and excluded when
    ``count_include_pad=0``).  ``stride`` defaults to ``kernel``; ``dilation``
    spaces the taps; any padding; ``ceil_mode`` as in :func:`max_pool`.
    ``padding='same'`` only with ``count_include_pad=False`` (TF's average).
    With ``count_include_pad=False`` a window of padding only has no average and raises.

    >>> avg_pool(np.array([[[1., 3., 3.]]]), 2, stride=1, padding=1)
    array([[[0.5, 2. , 3. , 1.5]]])
    >>> avg_pool(np.array([[[1., 3., 3.]]]), 2, stride=1, padding=1, count_include_pad=False)
    array([[[1., 2., 3., 3.]]])
    """
    op = "avg_pool"
    x, k, s, d, pairs, o, extra = _pool_args(op, x, kernel, stride, padding, dilation,
                                             ceil_mode, not count_include_pad)
    nd = len(k)
    if not count_include_pad:
        _no_input_in_some_window(op, x, k, s, d, pairs, o,
                                 ": with count_include_pad=False their average is 0/0")
    full = [(pb, pa + e) for (pb, pa), e in zip(pairs, extra)]
    ones = np.ones((1, 1) + x.shape[2:])
    if count_include_pad:
        mask = _pad(_pad(ones, pairs, 1.0), [(0, e) for e in extra])
    else:
        mask = _pad(ones, full)
    keep = (slice(None),) * 2 + tuple(slice(0, oi) for oi in o)
    axes = tuple(range(-nd, 0))
    total = _windows(_pad(x, full), k, s, d)[keep].sum(axis=axes)
    count = _windows(mask, k, s, d)[keep].sum(axis=axes)
    return total / count
