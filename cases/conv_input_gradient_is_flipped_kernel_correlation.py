"""∂L/∂x of a conv is the full correlation of ∂L/∂y with the 180°-rotated kernel (seeds 001, 004)."""
import numpy as np

from equivcheck import oracle
from equivcheck.casekit import (TF_MISSING_KERNEL_NOTE, conv_geometries, conv_geometry, scatter_input_grad,
                                unless_missing_kernel)
from equivcheck.claim import claim, source


_HOW = ("Autodiff through bk.vjp (torch.autograd / tf.GradientTape / jax.vjp); zero insertion and padding of "
        "∂L/∂y in NumPy (exact), the rotated-kernel correlation through the framework's own conv.")


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
    space=conv_geometries(),
    expected="holds",
    notes={
        "numpy": "NumPy has no autodiff: the gradient side is ∂L/∂x written out from the definition of the conv "
                 "(every output sends ∂L/∂y·w back to the input pixels it read; a scatter-add per kernel tap), "
                 "compared with the rotated-kernel correlation and the oracle's conv_input_grad.",
        "*": _HOW,
        "tensorflow": _HOW + " " + TF_MISSING_KERNEL_NOTE,
    },
)
def check(bk, p, ctx):
    g = conv_geometry(p)
    x = ctx.array("x", (p.n, p.c_in, *p.spatial))
    w = ctx.array("w", (p.c_out, p.c_in // g.groups, *g.k))
    gy = ctx.array("grad_y", (p.n, p.c_out, *g.out))
    xt, wt, gyt = bk.asarray(x), bk.asarray(w), bk.asarray(gy)

    if bk.framework_name == "numpy":
        how, grad = "scatter definition", scatter_input_grad(gy, w, x.shape, g.stride, g.pairs, g.dilation, g.groups)
    else:
        how, grad = "autodiff", unless_missing_kernel(
            bk, "conv input gradient", lambda: bk.vjp(lambda xx: bk.conv(xx, wt, **g.conv_kw), [xt], gyt)[0],
            rank=g.rank, **g.conv_kw)

    # "Rotate by 180, then convolve": zero insertion + full padding (NumPy, exact) ...
    spread = np.zeros(gy.shape[:2] + tuple((m - 1) * s + 1 for m, s in zip(g.out, g.stride)))
    spread[(slice(None),) * 2 + tuple(slice(None, None, s) for s in g.stride)] = gy
    # rows of x the forward stride never reached (g.leftover) get no gradient from the last output: pad them
    # at the end
    full = [(0, 0), (0, 0)] + [(d * (kk - 1) - b, d * (kk - 1) - a + e)
                               for (b, a), d, kk, e in zip(g.pairs, g.dilation, g.k, g.leftover)]
    padded = np.pad(spread, full)
    # ... then the framework's conv (a cross-correlation) with the rotated, in/out-swapped kernel.
    og, cg = p.c_out // g.groups, p.c_in // g.groups
    rotated = np.flip(w.reshape(g.groups, og, cg, *g.k).swapaxes(1, 2).reshape(p.c_in, og, *g.k),
                      axis=tuple(range(2, 2 + g.rank)))
    by_rotation = unless_missing_kernel(bk, "conv", lambda: bk.conv(bk.asarray(padded), bk.asarray(rotated),
                                                                    dilation=g.dilation, groups=g.groups),
                                        rank=g.rank, dilation=g.dilation, groups=g.groups)

    ctx.agree(f"∂L/∂x ({how}) vs correlation of ∂L/∂y with the 180°-rotated, in/out-swapped kernel",
              grad, by_rotation, oracle.conv_input_grad, gy, w, x.shape, **g.conv_kw)
    ctx.matches(f"∂L/∂x ({how}) vs oracle conv_input_grad", grad, oracle.conv_input_grad, gy, w, x.shape, **g.conv_kw)
