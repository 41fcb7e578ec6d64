"""Independent NumPy float64 reference ("oracle") for convolution-family ops.

Every framework under test is compared against this module, so it is kept
small, explicit and free of any framework code.

Design rules
------------
1. Dependencies: NumPy and the standard library only.  Importing this module
   never imports torch, tensorflow, jax, flax or keras.
2. Precision: every computation is carried out in float64.  Inputs are cast
   with ``np.asarray(..., dtype=np.float64)``; results are float64 arrays
   (pooling indices are int64).
3. Layout: channels-first.  Activations are ``(N, C, *spatial)``; conv kernels
   are ``(O, I // groups, *k)``; transposed-conv kernels are
   ``(I, O // groups, *k)`` (the PyTorch convention).
4. One n-D code path, read like JAX's ``lax_reference``: 1-D, 2-D and 3-D
   (and higher) share the same code, built from four blocks -- ``_pad``
   (pad or crop the spatial axes), ``_dilate`` (zero insertion),
   ``_windows`` (strided view of all kernel windows) and ``_correlate``
   (the contraction of the windows with the kernel, the definition of
   every conv-family op).  There are no per-rank branches and no Python
   loops over pixels.
5. Speed lives elsewhere: the conv-family ops hand the contraction to
   :func:`equivcheck.oracle_fast.correlate` (BLAS GEMMs, im2col or shifted,
   chunked so that the gathered columns stay within
   ``IM2COL_BUDGET_BYTES``, overridable per call with ``budget_bytes=``).
   It computes the same sums as ``_correlate``, bit-identical on
   integer-valued data (``tests/test_oracle_fast.py``), to rounding
   otherwise.
6. Derived ops are written as their mathematical identities on top of
   ``conv``: ``conv_transpose`` is the adjoint of ``conv`` (zero insertion,
   padding by ``d*(k-1) - p``, spatially flipped kernel with in/out channels
   swapped); the input gradient is a ``conv_transpose``; the weight gradient
   is a ``conv`` of the input with the output gradient as kernel, with the
   roles of stride and dilation swapped.  ``circular_correlation`` is ``conv`` of the input padded
   with 'wrap' by ``k - 1`` at the end.  Pooling is a reduction over the
   same window view: max over the input padded with -inf, average as the
   window sum of the zero-padded input over the window sum of a mask of ones
   (which ones count is what ``count_include_pad`` decides); ``ceil_mode``
   only extends the padding at the end so that the last window exists.
7. Errors: bad input raises ``OracleError`` (a ``ValueError``) whose message
   names the op, the offending argument and the shapes involved.  Nothing is
   silently broadcast, clipped or truncated.
"""

import math
import operator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from equivcheck import oracle_fast as _fast

__all__ = [
    "IM2COL_BUDGET_BYTES",
    "OracleError",
    "same_padding",
    "conv_output_size",
    "conv_transpose_output_size",
    "conv",
    "convolve",
    "conv_transpose",
    "conv_input_grad",
    "conv_weight_grad",
    "linear",
    "flip",
    "pixel_shuffle",
    "pixel_unshuffle",
    "depth_to_space",
    "space_to_depth",
    "pool_output_size",
    "max_pool",
    "max_unpool",
    "avg_pool",
    "PAD_MODES",
    "pad",
    "batch_norm",
    "circular_correlation",
    "unfold",
    "magnitude",
    "abs_bound_conv",
]

#: Upper bound (bytes) on the columns one GEMM chunk gathers (the im2col matrix,
#: or the shifted copies of the input).
#: Read at call time, so tests may monkeypatch it; ``budget_bytes=`` overrides it.
IM2COL_BUDGET_BYTES = 64 * 2**20


class OracleError(ValueError):
    """Invalid arguments given to an oracle function.

    The message names the op, the offending argument and the shapes.

    >>> try:
    ...     conv(np.zeros((1, 3, 5)), np.zeros((2, 2, 3)))
    ... except OracleError as e:
    ...     print(e)
    conv: input has 3 channels but kernel expects 2 per group × groups=1 (input shape (1, 3, 5), kernel shape (2, 2, 3))
    """


# --------------------------------------------------------------------------
# argument normalisation
# --------------------------------------------------------------------------

def _f64(a, op, name):
    if np.iscomplexobj(a):
        raise OracleError(f"{op}: {name} is complex; the oracle is real float64 only")
    return np.asarray(a, dtype=np.float64)


def _ints(value, nd, name, op, minimum=None):
    """An int or a length-``nd`` sequence of ints -> tuple of ``nd`` ints."""
    if isinstance(value, (str, bytes)):
        raise OracleError(f"{op}: {name}={value!r} must be an int or a sequence of {nd} ints")
    try:
        vals = (operator.index(value),) * nd
    except TypeError:
        try:
            vals = tuple(operator.index(v) for v in value)
        except TypeError:
            raise OracleError(
                f"{op}: {name}={value!r} must be an int or a sequence of {nd} ints") from None
        if len(vals) != nd:
            raise OracleError(
                f"{op}: {name}={value!r} has {len(vals)} entries but there are "
                f"{nd} spatial dims") from None
    if minimum is not None and any(v < minimum for v in vals):
        raise OracleError(f"{op}: {name}={value!r} must be >= {minimum} in every dim")
    return vals


def _pad_pairs(padding, nd, op, spatial=None, k=None, stride=None, dilation=None):
    """Normalise ``padding`` to a tuple of ``nd`` ``(before, after)`` pairs.

    Accepts an int, ``nd`` ints, ``nd`` pairs, ``'valid'`` or (when the
    spatial sizes are given) ``'same'``.
    """
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return ((0, 0),) * nd
        if mode == "same" and spatial is not None:
            return tuple(same_padding(n, kk, s, d)
                         for n, kk, s, d in zip(spatial, k, stride, dilation))
        raise OracleError(
            f"{op}: padding={padding!r} not supported here; use an int, {nd} ints, "
            f"{nd} (before, after) pairs" + (", 'valid' or 'same'" if spatial is not None
                                              else " or 'valid'"))
    bad = OracleError(
        f"{op}: padding={padding!r} must be an int, {nd} ints or {nd} (before, after) "
        f"pairs (one per spatial dim)")
    try:
        p = operator.index(padding)
        pairs = ((p, p),) * nd
    except TypeError:
        try:
            items = list(padding)
        except TypeError:
            raise bad from None
        if len(items) != nd:
            raise bad
        pairs = []
        for item in items:
            try:
                q = operator.index(item)
                pairs.append((q, q))
                continue
            except TypeError:
                pass
            try:
                pair = tuple(operator.index(v) for v in item)
            except TypeError:
                raise bad from None
            if len(pair) != 2:
                raise bad
            pairs.append(pair)
        pairs = tuple(pairs)
    if any(v < 0 for pair in pairs for v in pair):
        raise OracleError(f"{op}: negative padding {padding!r} is not supported")
    return pairs


def _budget(budget_bytes):
    return IM2COL_BUDGET_BYTES if budget_bytes is None else int(budget_bytes)


# --------------------------------------------------------------------------
# the four building blocks
# --------------------------------------------------------------------------

def _pad(x, pairs, value=0.0):
    """Pad the trailing ``len(pairs)`` axes by ``(before, after)`` each.

    Negative entries crop instead of padding (applied after the padding, so a
    crop may eat into padding added at the other end).
    """
    lead = x.ndim - len(pairs)
    widths = ((0, 0),) * lead + tuple((max(b, 0), max(a, 0)) for b, a in pairs)
    if any(w != (0, 0) for w in widths):
        # np.full + one slice assignment: same result as np.pad(mode="constant"), a
        # fraction of its per-call overhead (the suite makes thousands of small calls)
        padded = np.full(tuple(n + b + a for n, (b, a) in zip(x.shape, widths)), value,
                         dtype=x.dtype)
        padded[tuple(slice(b, b + n) for n, (b, a) in zip(x.shape, widths))] = x
        x = padded
    if any(b < 0 or a < 0 for b, a in pairs):
        x = x[(slice(None),) * lead + tuple(
            slice(max(-b, 0), x.shape[lead + i] - max(-a, 0)) for i, (b, a) in enumerate(pairs))]
    return x


def _dilate(x, factors):
    """Zero insertion along the trailing ``len(factors)`` axes.

    ``factors[i] - 1`` zeros go between neighbours: size ``n -> (n-1)*f + 1``.
    """
    if all(f == 1 for f in factors):
        return x
    lead = x.ndim - len(factors)
    shape = x.shape[:lead] + tuple(
        (n - 1) * f + 1 if n > 0 else 0 for n, f in zip(x.shape[lead:], factors))
    out = np.zeros(shape, dtype=x.dtype)
    out[(slice(None),) * lead + tuple(slice(None, None, f) for f in factors)] = x
    return out


def _windows(x, k, stride, dilation):
    """Strided view ``(*lead, *out, *k)`` of every kernel window.

    Windows run over the trailing ``len(k)`` axes of ``x``; no data is copied.
    """
    lead = x.ndim - len(k)
    span = tuple(d * (kk - 1) + 1 for kk, d in zip(k, dilation))
    view = sliding_window_view(x, span, axis=tuple(range(lead, x.ndim)))
    return view[(slice(None),) * lead
                + tuple(slice(None, None, s) for s in stride)
                + tuple(slice(None, None, d) for d in dilation)]


def _correlate(xp, w, stride, dilation, groups):
    """The definition of cross-correlation of a padded ``xp`` ``(N, C, *sp)`` with ``w`` ``(O, C/G, *k)``.

    y[n, g*Og + o, p] = sum over c < C/G and kernel offsets j of
    windows(xp)[n, g*C/G + c, p, j] * w[g*Og + o, c, j]: one contraction of the
    window view per group.  The ops compute this through
    :func:`equivcheck.oracle_fast.correlate`; this plain form is what that is
    tested against.
    """
    N, C = xp.shape[:2]
    O, Cg = w.shape[:2]
    k = tuple(w.shape[2:])
    nd, G = len(k), groups
    win = _windows(xp, k, stride, dilation)                    # (N, C, *o, *k)
    o = win.shape[2:2 + nd]
    win = win.reshape((N, G, Cg) + o + k)
    wg = w.reshape((G, O // G, Cg) + k)
    axes = [1] + list(range(2 + nd, 2 + 2 * nd))               # c and the kernel offsets
    per_group = [np.tensordot(win[:, g], wg[g], axes=(axes, [1] + list(range(2, 2 + nd))))
                 for g in range(G)]                            # each (N, *o, Og)
    return np.moveaxis(np.concatenate(per_group, axis=-1), -1, 1)




# --------------------------------------------------------------------------
# shape helpers (public)
# --------------------------------------------------------------------------

def same_padding(n, k, stride=1, dilation=1):
    """TF-style 'SAME' padding ``(before, after)`` for one spatial dim.

    total = max((ceil(n/s) - 1)*s + d*(k-1) + 1 - n, 0); before = total // 2;
    the odd pixel goes at the end.  The resulting output size is ceil(n/s).

    >>> same_padding(4, 3, stride=2)
    (0, 1)
    >>> same_padding(5, 3)
    (1, 1)
    """
    n, k, s, d = (operator.index(v) for v in (n, k, stride, dilation))
    if n < 0 or k < 1 or s < 1 or d < 1:
        raise OracleError(
            f"same_padding: need n >= 0, k >= 1, stride >= 1, dilation >= 1 "
            f"(got n={n}, k={k}, stride={s}, dilation={d})")
    out = -(-n // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return (total // 2, total - total // 2)


def conv_output_size(n, k, stride=1, padding=0, dilation=1):
    """Output length of a convolution along one dim.

    floor((n + before + after - d*(k-1) - 1) / s) + 1, with ``padding`` an int
    ``p`` (before = after = p), a ``(before, after)`` pair, ``'valid'`` or
    ``'same'``.  A result <= 0 means the kernel does not fit.

    >>> conv_output_size(227, 11, stride=4)
    55
    >>> conv_output_size(4, 3, stride=2, padding=(0, 1))
    2
    """
    op = "conv_output_size"
    (s,), (d,) = _ints(stride, 1, "stride", op, 1), _ints(dilation, 1, "dilation", op, 1)
    (b, a), = _pad_pairs(padding if isinstance(padding, str) or not _is_seq(padding)
                         else [padding], 1, op, (n,), (k,), (s,), (d,))
    return (n + b + a - d * (k - 1) - 1) // s + 1


def _is_seq(p):
    try:
        operator.index(p)
        return False
    except TypeError:
        return True


def conv_transpose_output_size(n, k, stride=1, padding=0, output_padding=0, dilation=1):
    """Output length of a transposed convolution along one dim (PyTorch).

    (n-1)*s - before - after + d*(k-1) + output_padding + 1, ``padding`` an
    int or a ``(before, after)`` pair.

    >>> conv_transpose_output_size(3, 3, stride=2, padding=1)
    5
    >>> conv_transpose_output_size(3, 3, stride=2, padding=0, output_padding=1)
    8
    """
    op = "conv_transpose_output_size"
    (s,), (d,) = _ints(stride, 1, "stride", op, 1), _ints(dilation, 1, "dilation", op, 1)
    (b, a), = _pad_pairs([padding], 1, op)
    return (n - 1) * s - b - a + d * (k - 1) + output_padding + 1


# --------------------------------------------------------------------------
# convolution
# --------------------------------------------------------------------------

def _check_conv(op, x, w, stride, padding, dilation, groups, b=None):
    """Validate a conv call; return ``(stride, dilation, pairs)`` tuples."""
    if x.ndim < 3:
        raise OracleError(f"{op}: input must be (N, C, *spatial) with >= 1 spatial dim, "
                          f"got shape {x.shape}")
    if w.ndim != x.ndim:
        raise OracleError(f"{op}: rank mismatch: input shape {x.shape} has {x.ndim - 2} "
                          f"spatial dims but kernel shape {w.shape} has {w.ndim - 2}")
    nd = x.ndim - 2
    g = operator.index(groups)
    if g < 1:
        raise OracleError(f"{op}: groups={groups} must be >= 1")
    C, O = x.shape[1], w.shape[0]
    if C % g:
        raise OracleError(f"{op}: input channels {C} not divisible by groups={g} "
                          f"(input shape {x.shape})")
    if O % g:
        raise OracleError(f"{op}: output channels {O} not divisible by groups={g} "
                          f"(kernel shape {w.shape})")
    if w.shape[1] * g != C:
        raise OracleError(f"{op}: input has {C} channels but kernel expects {w.shape[1]} per "
                          f"group × groups={g} (input shape {x.shape}, kernel shape {w.shape})")
    if any(kk < 1 for kk in w.shape[2:]):
        raise OracleError(f"{op}: empty kernel, kernel shape {w.shape}")
    s = _ints(stride, nd, "stride", op, minimum=1)
    d = _ints(dilation, nd, "dilation", op, minimum=1)
    pairs = _pad_pairs(padding, nd, op, x.shape[2:], w.shape[2:], s, d)
    for i, (n, kk, (pb, pa)) in enumerate(zip(x.shape[2:], w.shape[2:], pairs)):
        span = d[i] * (kk - 1) + 1
        if n + pb + pa < span:
            raise OracleError(
                f"{op}: kernel larger than padded input in spatial dim {i}: effective kernel "
                f"size {span} > padded size {n + pb + pa} (input shape {x.shape}, kernel "
                f"shape {w.shape}, padding {pairs}, dilation {d})")
    if b is not None and b.shape != (O,):
        raise OracleError(f"{op}: bias shape {b.shape} != ({O},) for kernel shape {w.shape}")
    return s, d, pairs


def _add_bias(out, b):
    if b is not None:
        out += b.reshape((-1,) + (1,) * (out.ndim - 2))
    return out


def conv(x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1, budget_bytes=None):
    """N-D cross-correlation, as ``conv`` in every DL framework.

    x: ``(N, C, *sp)``; w: ``(O, C // groups, *k)``; b: ``(O,)`` or None.
    ``stride``/``dilation``: int or one per spatial dim.  ``padding``: int,
    one int per dim, one ``(before, after)`` pair per dim, ``'valid'`` or
    ``'same'`` (TF semantics: output size ceil(n/s), odd pixel at the end).
    ``budget_bytes`` overrides ``IM2COL_BUDGET_BYTES`` for this call.

    >>> x = np.arange(1., 6.).reshape(1, 1, 5)
    >>> conv(x, np.array([[[1., 2., 3.]]]))
    array([[[14., 20., 26.]]])
    >>> conv(np.ones((2, 4, 8, 8)), np.ones((6, 2, 3, 3)), groups=2,
    ...      stride=2, padding='same').shape
    (2, 6, 4, 4)
    """
    x, w = _f64(x, "conv", "x"), _f64(w, "conv", "w")
    b = None if b is None else _f64(b, "conv", "b")
    s, d, pairs = _check_conv("conv", x, w, stride, padding, dilation, groups, b)
    out = _fast.correlate(_pad(x, pairs), w, s, d, operator.index(groups), _budget(budget_bytes))
    return _add_bias(out, b)


def flip(w):
    """Reverse all spatial axes of a kernel ``(O, I, *k)`` (180° rotation in 2-D).

    >>> flip(np.arange(6.).reshape(1, 1, 2, 3))
    array([[[[5., 4., 3.],
             [2., 1., 0.]]]])
    """
    w = _f64(w, "flip", "w")
    if w.ndim < 3:
        raise OracleError(f"flip: kernel must be (O, I, *k), got shape {w.shape}")
    return np.flip(w, axis=tuple(range(2, w.ndim)))


def convolve(x, w, b=None, **conv_kwargs):
    """True (mathematical) convolution: ``conv`` with the spatially flipped kernel.

    Per channel pair this is ``scipy.signal.convolve(..., 'valid')``, summed
    over input channels.  Keyword arguments are those of ``conv``.

    >>> convolve(np.arange(1., 6.).reshape(1, 1, 5), np.array([[[1., 2., 3.]]]))
    array([[[10., 16., 22.]]])
    """
    return conv(x, flip(w), b, **conv_kwargs)


def conv_transpose(x, w, b=None, *, stride=1, padding=0, output_padding=0, dilation=1,
                   groups=1, budget_bytes=None):
    """Transposed convolution (PyTorch ``conv_transposeNd`` semantics).

    x: ``(N, I, *sp)``; w: ``(I, O // groups, *k)``; output ``(N, O, *out)`` with
    out = (n-1)*s - before - after + d*(k-1) + output_padding + 1.
    ``padding``: int, one int per dim, or one ``(before, after)`` pair per dim
    (``output_padding`` is always added at the end).  Computed as the adjoint
    of ``conv``: zero-insert ``x`` by the stride, pad by ``d*(k-1) - p`` per
    side (cropping when negative), then ``conv`` with the flipped kernel whose
    in/out channels are swapped within each group.

    >>> conv_transpose(np.array([[[1., 2., 3.]]]), np.array([[[1., 2., 4.]]]), stride=2)
    array([[[ 1.,  2.,  6.,  4., 11.,  6., 12.]]])
    >>> conv_transpose(np.ones((1, 4, 3, 3)), np.ones((4, 3, 3, 3)), stride=2, padding=1,
    ...                output_padding=1, groups=2).shape
    (1, 6, 6, 6)
    """
    op = "conv_transpose"
    x, w = _f64(x, op, "x"), _f64(w, op, "w")
    b = None if b is None else _f64(b, op, "b")
    if x.ndim < 3:
        raise OracleError(f"{op}: input must be (N, I, *spatial) with >= 1 spatial dim, "
                          f"got shape {x.shape}")
    if w.ndim != x.ndim:
        raise OracleError(f"{op}: rank mismatch: input shape {x.shape} has {x.ndim - 2} "
                          f"spatial dims but kernel shape {w.shape} has {w.ndim - 2}")
    nd = x.ndim - 2
    G = operator.index(groups)
    if G < 1:
        raise OracleError(f"{op}: groups={groups} must be >= 1")
    I, Og = w.shape[:2]
    k = tuple(w.shape[2:])
    if x.shape[1] != I:
        raise OracleError(f"{op}: input has {x.shape[1]} channels but transposed kernel "
                          f"(I, O/groups, *k) has I={I} (input shape {x.shape}, kernel "
                          f"shape {w.shape})")
    if I % G:
        raise OracleError(f"{op}: input channels {I} not divisible by groups={G} "
                          f"(kernel shape {w.shape})")
    if any(kk < 1 for kk in k):
        raise OracleError(f"{op}: empty kernel, kernel shape {w.shape}")
    s = _ints(stride, nd, "stride", op, minimum=1)
    d = _ints(dilation, nd, "dilation", op, minimum=1)
    op_ = _ints(output_padding, nd, "output_padding", op, minimum=0)
    pairs = _pad_pairs(padding, nd, op)
    for i in range(nd):
        if op_[i] >= max(s[i], d[i]):
            raise OracleError(
                f"{op}: output_padding={op_[i]} in spatial dim {i} must be smaller than "
                f"stride ({s[i]}) or dilation ({d[i]})")
    out_sz = tuple((n - 1) * si - pb - pa + di * (kk - 1) + oi + 1
                   for n, si, (pb, pa), di, kk, oi in zip(x.shape[2:], s, pairs, d, k, op_))
    if any(n < 1 for n in x.shape[2:]) or any(o < 1 for o in out_sz):
        raise OracleError(f"{op}: non-positive output size {out_sz} (input shape {x.shape}, "
                          f"kernel shape {w.shape}, stride {s}, padding {pairs}, "
                          f"dilation {d}, output_padding {op_})")
    O = Og * G
    if b is not None and b.shape != (O,):
        raise OracleError(f"{op}: bias shape {b.shape} != ({O},) for kernel shape {w.shape}"
                          f" and groups={G}")
    # adjoint kernel: (G, I/G, Og, *k) -> (G, Og, I/G, *k) -> (O, I/G, *k), flipped
    wt = flip(w.reshape((G, I // G, Og) + k).swapaxes(1, 2).reshape((O, I // G) + k))
    full = tuple((di * (kk - 1) - pb, di * (kk - 1) - pa + oi)
                 for di, kk, (pb, pa), oi in zip(d, k, pairs, op_))
    xp = _pad(_dilate(x, s), full)
    out = _fast.correlate(xp, wt, (1,) * nd, d, G, _budget(budget_bytes))
    return _add_bias(out, b)


def _grad_shapes(op, full_shape, nd, what):
    shape = tuple(operator.index(v) for v in full_shape)
    if len(shape) not in (nd, nd + 2):
        raise OracleError(f"{op}: {what}={shape} must have {nd + 2} entries "
                          f"(or {nd} spatial sizes)")
    return shape


def conv_input_grad(grad_out, w, input_shape, *, stride=1, padding=0, dilation=1, groups=1,
                    budget_bytes=None):
    """Gradient of ``sum(conv(x, w) * grad_out)`` with respect to ``x``.

    Full correlation of the zero-inserted ``grad_out`` with the 180°-rotated,
    in/out-swapped kernel, i.e. ``conv_transpose`` with the output padding that
    restores ``input_shape`` (``(N, C, *sp)`` or just ``sp``).  ``padding`` as
    in ``conv`` (int, per-dim, pairs, ``'valid'``, ``'same'``).

    >>> conv_input_grad(np.array([[[1., 10.]]]), np.array([[[1., 2., 3.]]]), (1, 1, 5),
    ...                 stride=2)
    array([[[ 1.,  2., 13., 20., 30.]]])
    """
    op = "conv_input_grad"
    gy, w = _f64(grad_out, op, "grad_out"), _f64(w, op, "w")
    nd = w.ndim - 2
    shape = _grad_shapes(op, input_shape, nd, "input_shape")
    if len(shape) == nd:
        shape = (gy.shape[0], w.shape[1] * operator.index(groups)) + shape
    x_stub = np.broadcast_to(np.float64(0), shape)
    s, d, pairs = _check_conv(op, x_stub, w, stride, padding, dilation, groups)
    expect = (shape[0], w.shape[0]) + tuple(
        (n + pb + pa - di * (kk - 1) - 1) // si + 1
        for n, (pb, pa), di, kk, si in zip(shape[2:], pairs, d, w.shape[2:], s))
    if gy.shape != expect:
        raise OracleError(f"{op}: grad_out shape {gy.shape} != conv output shape {expect} "
                          f"for input shape {shape} and kernel shape {w.shape}")
    out_pad = tuple(n + pb + pa - di * (kk - 1) - 1 - (no - 1) * si
                    for n, (pb, pa), di, kk, no, si in zip(shape[2:], pairs, d, w.shape[2:],
                                                           expect[2:], s))
    return conv_transpose(gy, w, stride=s, padding=pairs, output_padding=out_pad,
                          dilation=d, groups=groups, budget_bytes=budget_bytes)


def conv_weight_grad(x, grad_out, kernel_shape, *, stride=1, padding=0, dilation=1, groups=1,
                     budget_bytes=None):
    """Gradient of ``sum(conv(x, w) * grad_out)`` with respect to ``w``.

    dW[o, c, j] = sum_{n, p} grad_out[n, o, p] * x_pad[n, g(o)*Cg + c, p*s + j*d]:
    a cross-correlation of the padded input with ``grad_out`` used as the
    kernel, batch and channel axes exchanged, **stride and dilation roles
    swapped**, cropped to ``kernel_shape`` (``(O, C // groups, *k)`` or ``k``).

    >>> conv_weight_grad(np.arange(1., 6.).reshape(1, 1, 5), np.array([[[1., 10.]]]),
    ...                  (1, 1, 3), stride=2)
    array([[[31., 42., 53.]]])
    """
    op = "conv_weight_grad"
    x, gy = _f64(x, op, "x"), _f64(grad_out, op, "grad_out")
    nd = x.ndim - 2
    kshape = _grad_shapes(op, kernel_shape, nd, "kernel_shape")
    G = operator.index(groups)
    if len(kshape) == nd:
        if gy.ndim < 2:
            raise OracleError(f"{op}: grad_out shape {gy.shape} must be (N, O, *out)")
        kshape = (gy.shape[1], x.shape[1] // max(G, 1)) + kshape
    w_stub = np.broadcast_to(np.float64(0), kshape)
    s, d, pairs = _check_conv(op, x, w_stub, stride, padding, dilation, G)
    N, C = x.shape[:2]
    O, Cg = kshape[:2]
    k = kshape[2:]
    o = tuple((n + pb + pa - di * (kk - 1) - 1) // si + 1
              for n, (pb, pa), di, kk, si in zip(x.shape[2:], pairs, d, k, s))
    if gy.shape != (N, O) + o:
        raise OracleError(f"{op}: grad_out shape {gy.shape} != conv output shape "
                          f"{(N, O) + o} for input shape {x.shape} and kernel shape {kshape}")
    xp = _pad(x, pairs)
    sp = xp.shape[2:]
    tail = tuple(range(3, 3 + nd))
    # "batch" := Cg, "channels" := (G, N); "kernel" := grad_out as (G*Og, N, *o)
    xin = xp.reshape((N, G, Cg) + sp).transpose((2, 1, 0) + tail).reshape((Cg, G * N) + sp)
    kern = gy.reshape((N, G, O // G) + o).transpose((1, 2, 0) + tail).reshape((O, N) + o)
    res = _fast.correlate(xin, kern, d, s, G, _budget(budget_bytes))   # (Cg, O, *k')
    res = res[(slice(None), slice(None)) + tuple(slice(0, kk) for kk in k)]
    return np.ascontiguousarray(res.swapaxes(0, 1))


# --------------------------------------------------------------------------
# dense, shuffles
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# pooling, unfold
# --------------------------------------------------------------------------

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


def unfold(x, kernel, stride=1, padding=0, dilation=1):
    """im2col with ``torch.nn.functional.unfold`` ordering, any number of spatial dims.

    Returns ``(N, C*prod(k), L)``: feature ``c*prod(k) + (row-major kernel offset)``,
    ``L`` row-major over output positions.

    >>> unfold(np.arange(12.).reshape(1, 2, 2, 3), (2, 2)).shape
    (1, 8, 2)
    """
    op = "unfold"
    x = _f64(x, op, "x")
    if x.ndim < 3:
        raise OracleError(f"{op}: input must be (N, C, *spatial), got shape {x.shape}")
    nd = x.ndim - 2
    k = _ints(kernel, nd, "kernel", op, minimum=1)
    w_stub = np.broadcast_to(np.float64(0), (1, x.shape[1]) + k)
    s, d, pairs = _check_conv(op, x, w_stub, stride, padding, dilation, 1)
    win = _windows(_pad(x, pairs), k, s, d)                    # (N, C, *o, *k)
    perm = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
    N, C = x.shape[:2]
    return win.transpose(perm).reshape(N, C * math.prod(k), -1)


# --------------------------------------------------------------------------
# padding modes, inference batch norm, circular correlation
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# magnitudes for the tolerance model
# --------------------------------------------------------------------------

def magnitude(fn, *arrays, **kwargs):
    """``fn`` applied to the absolute values of ``arrays``: the sum of |terms| bound.

    >>> magnitude(linear, np.array([[1., -2.]]), np.array([[3., -4.]]))
    array([[11.]])
    """
    return fn(*(np.abs(_f64(a, "magnitude", "array")) for a in arrays), **kwargs)


def abs_bound_conv(x, w, **conv_kwargs):
    """``conv(|x|, |w|)`` without bias: per output, sum of |x*w| over the window.

    >>> abs_bound_conv(np.array([[[1., -2., 3.]]]), np.array([[[-1., 1.]]]))
    array([[[3., 5.]]])
    """
    if "b" in conv_kwargs:
        raise OracleError("abs_bound_conv: no bias; it is not part of the product magnitude")
    return magnitude(conv, x, w, **conv_kwargs)
