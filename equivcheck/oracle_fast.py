"""Speed strategies behind the oracle's definition of cross-correlation.

:mod:`equivcheck.oracle` defines every conv-family op by pad, dilate, windows and one contraction
(``oracle._correlate``: y[n, o, p] = Σ_{c, j} windows(x)[n, g(o)·Cg + c, p, j] · w[o, c, j], in
``equivcheck/oracle/_core.py``).  This module computes exactly that contraction, faster and within
a memory budget; it changes only the speed and memory profile, never the sums.
``tests/test_oracle_fast.py`` checks it against the definition bit for bit on integer-valued
inputs (exact in float64 whatever the summation order).

:func:`correlate` picks whichever of two BLAS GEMM strategies gathers fewer bytes:

- *shifted GEMMs* (stride 1, 3-D and up): with the spatial axes flattened, every kernel offset is a
  fixed shift of the input, so only ``k[-1]`` shifted copies are gathered, one GEMM applies every
  leading kernel offset to them, and each offset's result is added in at its shift
  (:func:`_gemm_shifted`);
- *im2col* (any stride, and long kernels such as the weight gradient): the strided window view is
  gathered into one column matrix (kernel-major or positions-major, whichever gives the longer
  contiguous copies) and multiplied once (:func:`_gemm_im2col`).

The gathered columns are bounded by ``budget`` bytes; larger problems are processed in chunks over
the batch, then over the first output spatial axis.  Results agree with the definition to rounding
(BLAS may order a dot product differently for a different matrix shape) and are bit-identical on
integer-valued data.

Dependencies: NumPy, the standard library and :mod:`equivcheck.oracle._core` (for its window view).
"""

import math

import numpy as np

# the definition's building blocks (its window view), read at call time: the oracle's conv-family
# modules import this one, and neither side touches the other's names while it is being imported
from equivcheck.oracle import _core as _definition

__all__ = ["correlate"]


def _contract(chunk, wmat, positions_major):
    """The GEMM of a window view with the kernel matrix (the im2col strategy).

    ``wmat`` is ``(G, Og, Cg*K)``.  ``chunk`` is a window view laid out either
    ``(G, Cg, *k, n, *o)`` (kernel-major) or ``(G, n, *o, Cg, *k)``
    (positions-major); it is gathered into a contiguous column matrix (the
    only large temporary) and multiplied by BLAS once per group.  Returns
    ``(n, G, Og, *o)``.  Both layouts compute the same sums; the caller picks
    the one whose innermost axis is longer, so the gather copies long runs.
    """
    G, Og, CK = wmat.shape
    nd = (chunk.ndim - 3) // 2
    if positions_major:
        n, o = chunk.shape[1], chunk.shape[2:2 + nd]
        cols = np.ascontiguousarray(chunk).reshape(G, n * math.prod(o), CK)
        res = np.matmul(cols, wmat.transpose(0, 2, 1))           # (G, n*P, Og)
        res = res.reshape((G, n) + o + (Og,))
        return res.transpose((1, 0, 2 + nd) + tuple(range(2, 2 + nd)))
    n, o = chunk.shape[2 + nd], chunk.shape[3 + nd:]
    cols = np.ascontiguousarray(chunk).reshape(G, CK, n * math.prod(o))
    res = np.matmul(wmat, cols).reshape((G, Og, n) + o)          # (G, Og, n, *o)
    return np.moveaxis(res, 2, 0)


def _gemm_im2col(xs, w, stride, dilation, groups):
    """Cross-correlation of a padded ``xs`` by one GEMM over the gathered windows.

    Any stride and dilation.  The column matrix holds ``C*prod(k)`` float64
    per output position.  Returns ``(N, G, Og, *o)``.
    """
    N, C = xs.shape[:2]
    O, Cg = w.shape[:2]
    k = tuple(w.shape[2:])
    nd = len(k)
    G = groups
    win = _definition._windows(xs, k, stride, dilation)           # (N, C, *o, *k)
    o = tuple(win.shape[2:2 + nd])
    win = win.reshape((N, G, Cg) + o + k)             # split channels into groups
    o_axes, k_axes = tuple(range(3, 3 + nd)), tuple(range(3 + nd, 3 + 2 * nd))
    positions_major = k[-1] > o[-1]                   # e.g. the weight gradient
    if positions_major:                               # (G, N, *o, Cg, *k)
        win = win.transpose((1, 0) + o_axes + (2,) + k_axes)
    else:                                             # (G, Cg, *k, N, *o)
        win = win.transpose((1, 2) + k_axes + (0,) + o_axes)
    return _contract(win, w.reshape(G, O // G, Cg * math.prod(k)), positions_major)


def _gemm_shifted(xs, w, dilation, groups):
    """Stride-1 cross-correlation of a padded ``xs`` as one GEMM plus shifted sums.

    With the spatial axes flattened row-major, the input a kernel offset
    ``j`` meets at output position ``p`` sits at flat index ``p + f(j)``, one
    fixed shift per offset, when ``p`` also runs over the padded widths of
    the inner axes (the extra positions wrap around a row and are cut off at
    the end).  So only the last kernel axis is gathered (``k[-1]`` shifted
    copies of the input, instead of ``prod(k)`` for im2col); one GEMM applies
    the kernel slices of all the leading offsets at once (stacked along the
    output channels), and each offset's block is added in at its shift.
    Returns ``(N, G, Og, *o)``.
    """
    N, C = xs.shape[:2]
    S = tuple(xs.shape[2:])
    O, Cg = w.shape[:2]
    k = tuple(w.shape[2:])
    G, Og = groups, O // groups
    o = tuple(n - d * (kk - 1) for n, kk, d in zip(S, k, dilation))
    row = tuple(math.prod(S[i + 1:]) for i in range(len(S)))      # flat strides
    used = sum((oi - 1) * ri for oi, ri in zip(o, row)) + 1         # last valid position + 1
    total = math.prod(S)
    kd, dd = k[-1], dilation[-1]
    width = total - (kd - 1) * dd
    flat = xs.reshape(N, C, total)
    if kd == 1:
        cols = flat.reshape(N, G, Cg, total)
    else:
        cols = np.empty((N, C, kd, width))
        for j in range(kd):
            cols[:, :, j] = flat[:, :, j * dd:j * dd + width]
        cols = cols.reshape(N, G, Cg * kd, width)
    lead = math.prod(k[:-1])
    stacked = w.reshape(G, Og, Cg, lead, kd).transpose(0, 3, 1, 2, 4).reshape(G, lead * Og, Cg * kd)
    # one spare tail so that block 0 can be reshaped to (o[0], *S[1:]) in place
    blocks = np.empty((N, G, lead * Og, max(width, o[0] * row[0])))
    np.matmul(stacked, cols, out=blocks[..., :width])
    acc = blocks[:, :, :Og]                                         # offset 0 has shift 0
    for i, offset in enumerate(np.ndindex(*k[:-1])):
        if i:
            shift = sum(j * d * r for j, d, r in zip(offset, dilation, row))
            acc[..., :used] += blocks[:, :, i * Og:(i + 1) * Og, shift:shift + used]
    res = acc[..., :o[0] * row[0]].reshape((N, G, Og, o[0]) + S[1:])
    return res[(slice(None),) * 4 + tuple(slice(0, oi) for oi in o[1:])]


def _split(total, step):
    """Balanced chunk boundaries ``[0, ..., total]``, at most ``max(step, 1)`` apart."""
    count = max(1, -(-total // max(step, 1)))
    return [total * i // count for i in range(count + 1)]


#: The shifted-GEMM strategy keeps one output-sized block per offset of the
#: leading kernel axes (and adds them one by one); above this many, im2col is used.
_MAX_SHIFTS = 64


def correlate(xp, w, stride, dilation, groups, budget):
    """Cross-correlate an already padded ``xp`` ``(N, C, *sp)`` with ``w`` ``(O, C/G, *k)``.

    Picks the strategy that gathers fewer bytes: shifted GEMMs (stride 1
    only, and only when the wrapped-around positions it also computes are
    few) or im2col.  Then splits the work over the batch, then over the first
    output axis, so that one chunk's temporaries (gathered columns and GEMM
    results) stay within ``budget`` bytes, or one output row when that is
    more.
    """
    N, C = xp.shape[:2]
    O = w.shape[0]
    k = tuple(w.shape[2:])
    S = tuple(xp.shape[2:])
    o = tuple((n - d * (kk - 1) - 1) // s + 1 for n, kk, s, d in zip(S, k, stride, dilation))
    inner = math.prod(S[1:])
    span0 = dilation[0] * (k[0] - 1) + 1
    wrapped = o[0] * inner / max(1, math.prod(o))               # positions computed / kept
    # measured (benchmarks/oracle_bench.py, one thread): in 2-D, im2col's one GEMM with K = C·kh·kw
    # beats the shifted GEMM (K = C·kw) plus its shifted sums; in 3-D the shifted gather's savings win
    shifted = (len(k) >= 3 and all(s == 1 for s in stride) and math.prod(k[:-1]) <= _MAX_SHIFTS
               and k[-1] * inner <= math.prod(k) * math.prod(o[1:]) and wrapped <= 1.5)
    if shifted:
        # rows r need r + span0 - 1 input rows: a flattened copy plus k[-1] shifted
        # ones, and the GEMM result, one output-sized block per leading offset
        lead = math.prod(k[:-1])

        def cost(rows):
            return 8 * inner * (C * (k[-1] + 1) + lead * O) * (rows + span0 - 1)
    else:
        # the column matrix and the GEMM result
        def cost(rows):
            return 8 * math.prod(o[1:]) * (C * math.prod(k) + O) * rows
    per_sample = max(1, cost(o[0]))
    if N * per_sample <= budget:
        n_bounds, r_bounds = _split(N, N), _split(o[0], o[0])
    elif per_sample <= budget:
        n_bounds, r_bounds = _split(N, budget // per_sample), _split(o[0], o[0])
    else:
        rows = max(1, (budget - cost(0)) // max(1, cost(1) - cost(0)))   # cost is linear
        n_bounds, r_bounds = _split(N, 1), _split(o[0], rows)
    out = np.empty((N, O) + o, dtype=np.float64)
    out_groups = out.reshape((N, groups, O // groups) + o)           # a view of out
    for n0, n1 in zip(n_bounds, n_bounds[1:]):
        for r0, r1 in zip(r_bounds, r_bounds[1:]):
            xs = xp[n0:n1, :, r0 * stride[0]:(r1 - 1) * stride[0] + span0]
            if shifted:
                out_groups[n0:n1, :, :, r0:r1] = _gemm_shifted(xs, w, dilation, groups)
            else:
                out_groups[n0:n1, :, :, r0:r1] = _gemm_im2col(xs, w, stride, dilation, groups)
    return out
