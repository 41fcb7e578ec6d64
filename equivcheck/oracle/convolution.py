"""Convolution and what is defined from it: output sizes, ``conv``, ``convolve``, ``flip``,
``conv_transpose`` (the adjoint of ``conv``), its input and weight gradients, and ``unfold``
(im2col).  Every op pads and dilates with the blocks of :mod:`equivcheck.oracle._core` and hands
the contraction to :func:`equivcheck.oracle_fast.correlate`.
"""

import math
import operator

import numpy as np

from equivcheck import oracle_fast as _fast
from equivcheck.oracle._core import (
    OracleError, _budget, _dilate, _f64, _ints, _pad, _pad_pairs, _windows)


# --------------------------------------------------------------------------
# output sizes (public)
# --------------------------------------------------------------------------

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

def _check_ranks(op, x, w, groups, channels):
    """The checks every conv-family call starts with; return ``(nd, groups)``.

    ``channels`` names the input's channel axis in the message: C for ``conv``, I for
    ``conv_transpose`` (whose kernel is ``(I, O // groups, *k)``).
    """
    if x.ndim < 3:
        raise OracleError(f"{op}: input must be (N, {channels}, *spatial) with >= 1 spatial dim, "
                          f"got shape {x.shape}")
    if w.ndim != x.ndim:
        raise OracleError(f"{op}: rank mismatch: input shape {x.shape} has {x.ndim - 2} "
                          f"spatial dims but kernel shape {w.shape} has {w.ndim - 2}")
    g = operator.index(groups)
    if g < 1:
        raise OracleError(f"{op}: groups={groups} must be >= 1")
    return x.ndim - 2, g


def _check_steps(op, w, stride, dilation, nd):
    """A kernel that is not empty; return ``stride`` and ``dilation`` as ``nd`` ints >= 1."""
    if any(kk < 1 for kk in w.shape[2:]):
        raise OracleError(f"{op}: empty kernel, kernel shape {w.shape}")
    return (_ints(stride, nd, "stride", op, minimum=1),
            _ints(dilation, nd, "dilation", op, minimum=1))


def _check_conv(op, x, w, stride, padding, dilation, groups, b=None):
    """Validate a conv call; return ``(stride, dilation, pairs)`` tuples."""
    nd, g = _check_ranks(op, x, w, groups, "C")
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
    s, d = _check_steps(op, w, stride, dilation, nd)
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
    nd, G = _check_ranks(op, x, w, groups, "I")
    I, Og = w.shape[:2]
    k = tuple(w.shape[2:])
    if x.shape[1] != I:
        raise OracleError(f"{op}: input has {x.shape[1]} channels but transposed kernel "
                          f"(I, O/groups, *k) has I={I} (input shape {x.shape}, kernel "
                          f"shape {w.shape})")
    if I % G:
        raise OracleError(f"{op}: input channels {I} not divisible by groups={G} "
                          f"(kernel shape {w.shape})")
    s, d = _check_steps(op, w, stride, dilation, nd)
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
# unfold (im2col)
# --------------------------------------------------------------------------

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
