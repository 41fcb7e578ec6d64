"""∂L/∂x of a conv is the full correlation of ∂L/∂y with the 180°-rotated kernel (seeds 001, 004)."""
import math

import numpy as np
from hypothesis import strategies as st

from equivcheck import oracle
from equivcheck.claim import claim, source


def _per_dim(value, rank):
    return [int(value)] * rank if isinstance(value, int) else [int(v) for v in value]


def _pairs(padding, rank):
    if isinstance(padding, int):
        return [(padding, padding)] * rank
    return [(int(q), int(q)) if isinstance(q, int) else (int(q[0]), int(q[1])) for q in padding]


@st.composite
def _geometries(draw):
    """Multi-channel, strided, padded (0 ≤ p ≤ d(k−1), also asymmetric), dilated, grouped; 1-D to 3-D."""
    rank = draw(st.sampled_from([2, 1, 3]))
    groups = draw(st.integers(1, 2))
    k = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    stride = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    dilation = draw(st.lists(st.integers(1, 2), min_size=rank, max_size=rank))
    padding, spatial = [], []
    for kk, d in zip(k, dilation):
        reach = d * (kk - 1)
        before, after = draw(st.integers(0, reach)), draw(st.integers(0, reach))
        padding.append([before, after])
        spatial.append(draw(st.integers(max(1, reach + 1 - before - after), reach + 5 - before - after)))
    return {
        "n": draw(st.integers(1, 2)),
        "c_in": groups * draw(st.integers(1, 3)),
        "c_out": groups * draw(st.integers(1, 3)),
        "spatial": spatial, "k": k, "stride": stride, "padding": padding, "dilation": dilation, "groups": groups,
    }


def _scatter_input_grad(gy, w, x_shape, stride, pairs, dilation, groups):
    """∂L/∂x from the definition of the conv as a gather (NumPy, float64): output gy[n, o, p]
    read input pixel p·s + j·d − before with weight w[o, c, j], so it sends gy·w back there."""
    n, out_channels, out = gy.shape[0], gy.shape[1], gy.shape[2:]
    per_group, k = w.shape[1], w.shape[2:]
    og = out_channels // groups
    padded = [size + b + a for size, (b, a) in zip(x_shape[2:], pairs)]
    acc = np.zeros((n, groups, per_group, *padded))
    gyg = gy.reshape(n, groups, og, *out)
    wg = w.reshape(groups, og, per_group, *k)
    lead = (slice(None),) * 3
    for tap in np.ndindex(*k):
        part = np.einsum("ngo...,goc->ngc...", gyg, wg[lead + tap])
        where = tuple(slice(t * d, t * d + (m - 1) * s + 1, s) for t, d, m, s in zip(tap, dilation, out, stride))
        acc[lead + where] += part
    crop = tuple(slice(b, b + size) for size, (b, _) in zip(x_shape[2:], pairs))
    return acc[lead + crop].reshape(x_shape)


_HOW = ("Autodiff through bk.vjp (torch.autograd / tf.GradientTape / jax.vjp); zero insertion and padding of "
        "∂L/∂y in NumPy (exact), the rotated-kernel correlation through the framework's own conv.")

#: What TensorFlow's CPU build cannot run, as observed with TF 2.21 (the notes of the TF column).
_TF_NOTE = ("Where TF's CPU build has no kernel, the example records TF's own error (InvalidArgumentError, through a "
            "supporting ctx.raises) and checks everything else: in float64 TF has no backprop kernel (which is also "
            "conv_transpose) for dilated or grouped convs and no dilated Conv3D; in float32 (oneDNN) none for the "
            "backprop of dilated or grouped 2-D convs with explicit padding; and tf.nn.convolution (1-D, 3-D) rejects "
            "stride > 1 together with dilation > 1 (ValueError). Everything TF does run agrees.")


#: How TensorFlow says it has no kernel for a case (float64 backprop of dilated or grouped convs, float32
#: backprop with explicit padding and dilation/groups, dilated Conv3D in float64, tf.nn.convolution's
#: stride together with dilation).
_TF_MISSING_KERNEL = ("not yet support dilation", "only supports dilated rates of 1",
                      "grouped convolutions are not supported on CPU", "not supported in conjunction with `dilation_rate")


def _unless_missing_kernel(bk, ctx, label, fn):
    """``fn()``; where TensorFlow's CPU build has no kernel for it, the framework's error is recorded instead
    (a supporting ``ctx.raises``) and None returned, so the example checks everything else TF can run."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - only TF's missing-kernel errors are kept; the rest propagate
        if bk.framework_name != "tensorflow" or not any(words in str(exc) for words in _TF_MISSING_KERNEL):
            raise
    ctx.raises(f"TensorFlow CPU {bk.dtype} has no kernel: {label}", fn, support=True)
    return None


@claim(
    title="The input gradient of a conv is the full correlation of ∂L/∂y with the 180°-rotated kernel",
    statement="∂L/∂x of y = conv(x, w) (stride s, padding p, dilation d, groups g) equals: insert s−1 zeros "
              "between the pixels of ∂L/∂y, pad by d(k−1)−p (plus the rows the forward stride skipped), and "
              "cross-correlate with the kernel rotated by 180° and with its in/out channels swapped (per group); "
              "this holds for multi-channel inputs, where the 'flipped kernel' is O×I×k×k read as I×O×k×k.",
    sources=[
        source("001", "The simple approach is to rotate your stored channel matrix by 180 degrees and then convolve "
                      "it with the gradient."),
        source("004", "Gradient of conv layer = convolution between gradient of next layer\nand weights of this layer"),
        source("004", "So, to calculate the gradient for conv layer we again to calculate the convolution between "
                      "2x2 gradient layer and 2x2x3 weight layer but they are incompatible ."),
        source("004", "I have read that deconvolution is the convolution of the output with flipped kernel."),
    ],
    examples=[
        # seed 004: the article's 3x3 input, 2x2 filter, 2x2 output (one channel)
        {"n": 1, "c_in": 1, "c_out": 1, "spatial": [3, 3], "k": 2, "stride": 1, "padding": 0, "dilation": 1,
         "groups": 1},
        # seed 004: its 3-channel generalisation: 3x3x3 input, one 2x2x3 filter, 2x2 output
        {"n": 1, "c_in": 3, "c_out": 1, "spatial": [3, 3], "k": 2, "stride": 1, "padding": 0, "dilation": 1,
         "groups": 1},
        # seed 004: 3x7x7 input, 3x3x3 filter, stride 2, 3x3 output
        {"n": 1, "c_in": 3, "c_out": 1, "spatial": [7, 7], "k": 3, "stride": 2, "padding": 0, "dilation": 1,
         "groups": 1},
        # seed 001: MNIST's second layer, 32x14x14 → 64 maps with 5x5 kernels (size kept: padding 2)
        {"n": 1, "c_in": 32, "c_out": 64, "spatial": [14, 14], "k": 5, "stride": 1, "padding": 2, "dilation": 1,
         "groups": 1},
        # beyond the seeds: asymmetric padding, dilation, groups, uneven sizes, 1-D and 3-D
        {"n": 2, "c_in": 4, "c_out": 6, "spatial": [6, 5], "k": [3, 2], "stride": [2, 3], "padding": [[1, 2], [0, 1]],
         "dilation": [1, 2], "groups": 2},
        {"n": 1, "c_in": 2, "c_out": 3, "spatial": [10], "k": 4, "stride": 3, "padding": 1, "dilation": 1,
         "groups": 1},
        {"n": 1, "c_in": 2, "c_out": 2, "spatial": [4, 5, 3], "k": [2, 3, 1], "stride": [2, 1, 2], "padding": 0,
         "dilation": 1, "groups": 1},
    ],
    space=_geometries(),
    expected="holds",
    notes={
        "numpy": "NumPy has no autodiff: the gradient side is ∂L/∂x written out from the definition of the conv "
                 "(every output sends ∂L/∂y·w back to the input pixels it read; a scatter-add per kernel tap), "
                 "compared with the rotated-kernel correlation and the oracle's conv_input_grad.",
        "*": _HOW,
        "tensorflow": _HOW + " " + _TF_NOTE,
    },
)
def check(bk, p, ctx):
    rank = len(p.spatial)
    k, stride, dilation = _per_dim(p.k, rank), _per_dim(p.stride, rank), _per_dim(p.dilation, rank)
    pairs, groups = _pairs(p.padding, rank), p.groups
    conv_kw = dict(stride=stride, padding=pairs, dilation=dilation, groups=groups)
    out = [oracle.conv_output_size(n, kk, s, pair, d) for n, kk, s, pair, d in zip(p.spatial, k, stride, pairs, dilation)]

    x = ctx.array("x", (p.n, p.c_in, *p.spatial))
    w = ctx.array("w", (p.c_out, p.c_in // groups, *k))
    gy = ctx.array("grad_y", (p.n, p.c_out, *out))
    xt, wt, gyt = bk.asarray(x), bk.asarray(w), bk.asarray(gy)

    if bk.framework_name == "numpy":
        how, grad = "scatter definition", _scatter_input_grad(gy, w, x.shape, stride, pairs, dilation, groups)
    else:
        how, grad = "autodiff", _unless_missing_kernel(
            bk, ctx, "conv input gradient", lambda: bk.vjp(lambda xx: bk.conv(xx, wt, **conv_kw), [xt], gyt)[0])

    # "Rotate by 180, then convolve": zero insertion + full padding (NumPy, exact) ...
    spread = np.zeros(gy.shape[:2] + tuple((m - 1) * s + 1 for m, s in zip(out, stride)))
    spread[(slice(None),) * 2 + tuple(slice(None, None, s) for s in stride)] = gy
    # rows of x the forward stride never reached get no gradient from the last output: pad them at the end
    skipped = [(n + b + a - d * (kk - 1) - 1) % s for n, (b, a), d, kk, s in zip(p.spatial, pairs, dilation, k, stride)]
    full = [(0, 0), (0, 0)] + [(d * (kk - 1) - b, d * (kk - 1) - a + e)
                               for (b, a), d, kk, e in zip(pairs, dilation, k, skipped)]
    padded = np.pad(spread, full)
    # ... then the framework's conv (a cross-correlation) with the rotated, in/out-swapped kernel.
    og, cg = p.c_out // groups, p.c_in // groups
    rotated = np.flip(w.reshape(groups, og, cg, *k).swapaxes(1, 2).reshape(p.c_in, og, *k), axis=tuple(range(2, 2 + rank)))
    by_rotation = _unless_missing_kernel(bk, ctx, "conv", lambda: bk.conv(bk.asarray(padded), bk.asarray(rotated),
                                                                          dilation=dilation, groups=groups))
    if grad is None or by_rotation is None:
        return

    magnitude = oracle.conv_input_grad(np.abs(gy), np.abs(w), x.shape, **conv_kw)
    terms = og * math.prod(k)          # products per element of ∂L/∂x, at most
    ctx.close(f"∂L/∂x ({how}) vs correlation of ∂L/∂y with the 180°-rotated, in/out-swapped kernel",
              grad, by_rotation, magnitude=magnitude, terms=terms, sides=2)
    ctx.close(f"∂L/∂x ({how}) vs oracle conv_input_grad", grad, oracle.conv_input_grad(gy, w, x.shape, **conv_kw),
              magnitude=magnitude, terms=terms, sides=1)
