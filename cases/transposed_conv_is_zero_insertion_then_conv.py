"""Transposed conv = insert zeros between pixels, pad, then convolve with the flipped kernel (seed 004)."""
import numpy as np

from equivcheck import op_bounds, oracle, tolerance
from equivcheck.casekit import TF_MISSING_KERNEL_NOTE, conv_geometries, pad_pairs, per_dim, unless_missing_kernel
from equivcheck.claim import claim, source


def _zero_insert_and_pad(x, stride, pairs, output_padding, dilation, k):
    """NumPy, exact: s−1 zeros between neighbouring pixels, then d(k−1)−p zeros around
    (d(k−1)−p_after+output_padding at the end)."""
    rank = len(stride)
    spread = np.zeros(x.shape[:2] + tuple((n - 1) * s + 1 for n, s in zip(x.shape[2:], stride)))
    spread[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)] = x
    widths = [(0, 0), (0, 0)] + [(d * (kk - 1) - b, d * (kk - 1) - a + e)
                                 for (b, a), e, d, kk in zip(pairs, output_padding, dilation, k)]
    assert all(v >= 0 for pair in widths for v in pair), widths  # the space keeps p ≤ d(k−1)
    return spread, np.pad(spread, widths[:2 + rank])


def _conv_kernel(w, groups, flip=True):
    """The transposed kernel (I, O/g, *k) as a conv kernel (O, I/g, *k): in/out swapped within each
    group and, for the claim, spatially flipped (rotated by 180° in 2-D)."""
    i, og, *k = w.shape
    swapped = w.reshape(groups, i // groups, og, *k).swapaxes(1, 2).reshape(groups * og, i // groups, *k)
    return np.flip(swapped, axis=tuple(range(2, w.ndim))) if flip else swapped


_HOW = ("Zero insertion and padding are done in NumPy (exact); conv_transpose and the stride-1 conv on the "
        "zero-inserted map both run in the framework.")


@claim(
    title="conv_transpose = zero insertion + padding d(k−1)−p + conv with the flipped, in/out-swapped kernel",
    statement="A transposed convolution with stride s and padding p is the same as inserting s−1 zeros between "
              "the input pixels, padding the result with d(k−1)−p zeros (plus output_padding at the end), and "
              "applying an ordinary stride-1 convolution whose kernel is the transposed kernel rotated by 180° "
              "with its input and output channels swapped.",
    sources=[
        source("004", "Deconvolution works like this:\nYou add padding around each pixel\nYou apply a convolution"),
        source("004", "the original blue image is padded with zeros (white), the gray convolution filter is "
                      "applied to get the green output."),
        source("004", "I have read that deconvolution is the convolution of the output with flipped kernel. But on "
                      "flipping the kernel, it will still be of dimension 3x3x3 and output is of dimension 3x3"),
        source("004", "Here is a nice visualisation how convolution and deconvolution (transposed convolution). The "
                      "white pieces are simply zeros."),
    ],
    examples=[
        # seed 004: the 1x3x3 output of a 3x3x3 filter with stride 2 on 3x7x7, deconvolved back to 3x7x7
        {"n": 1, "c_in": 1, "c_out": 3, "spatial": [3, 3], "k": 3, "stride": 2, "padding": 0, "output_padding": 0,
         "dilation": 1, "groups": 1, "describe": True},
        # the same with several maps in and out, where the in/out swap of the kernel matters
        {"n": 1, "c_in": 4, "c_out": 3, "spatial": [3, 3], "k": 3, "stride": 2, "padding": 0, "output_padding": 0,
         "dilation": 1, "groups": 1},
        # padded, output_padding, dilated, grouped, uneven
        {"n": 2, "c_in": 4, "c_out": 6, "spatial": [3, 4], "k": [3, 2], "stride": [2, 3], "padding": [[1, 2], [0, 1]],
         "output_padding": [1, 2], "dilation": [1, 2], "groups": 2},
        {"n": 1, "c_in": 2, "c_out": 3, "spatial": [5], "k": 4, "stride": 3, "padding": 1, "output_padding": 2,
         "dilation": 1, "groups": 1},
        {"n": 1, "c_in": 2, "c_out": 2, "spatial": [2, 3, 2], "k": [2, 3, 1], "stride": [2, 1, 2], "padding": 0,
         "output_padding": [1, 0, 0], "dilation": 1, "groups": 1},
    ],
    space=conv_geometries(output_padding=True),  # transposed-conv geometries, with output_padding
    expected="holds",
    notes={
        "*": _HOW,
        "tensorflow": _HOW + " " + TF_MISSING_KERNEL_NOTE,
    },
)
def check(bk, p, ctx):
    rank = len(p.spatial)
    k, stride, dilation = per_dim(p.k, rank), per_dim(p.stride, rank), per_dim(p.dilation, rank)
    extra, pairs, groups = per_dim(p.output_padding, rank), pad_pairs(p.padding, rank), p.groups
    tr_kw = dict(stride=stride, padding=pairs, output_padding=extra, dilation=dilation, groups=groups)

    x = ctx.array("x", (p.n, p.c_in, *p.spatial))
    w = ctx.array("w", (p.c_in, p.c_out // groups, *k))   # transposed kernel (I, O/g, *k)
    transposed = unless_missing_kernel(bk, "conv_transpose",
                                       lambda: bk.conv_transpose(bk.asarray(x), bk.asarray(w), **tr_kw),
                                       rank=rank, **tr_kw)

    spread, padded = _zero_insert_and_pad(x, stride, pairs, extra, dilation, k)
    kernel = _conv_kernel(w, groups)
    by_conv = unless_missing_kernel(bk, "conv", lambda: bk.conv(bk.asarray(padded), bk.asarray(kernel),
                                                                dilation=dilation, groups=groups),
                                    rank=rank, dilation=dilation, groups=groups)

    ctx.agree("conv_transpose vs zero insertion + padding + conv(flipped, in/out-swapped kernel)",
              transposed, by_conv, oracle.conv_transpose, x, w, **tr_kw)
    ctx.matches("conv_transpose vs oracle", transposed, oracle.conv_transpose, x, w, **tr_kw)

    if p.get("describe"):
        ctx.fact("zero insertion: spatial sizes in → zero-inserted → padded → conv output (seed 004's 3x3 → 7x7)",
                 {"input": list(p.spatial), "zero_inserted": list(spread.shape[2:]), "padded": list(padded.shape[2:]),
                  "kernel": k, "output": list(ctx.numpy(transposed).shape[2:]),
                  "conv_kernel_shape": list(kernel.shape), "transposed_kernel_shape": list(w.shape)})
        # Which kernel transform makes the recipe work: try both shape-compatible candidates.
        candidates = {"rotate 180° + swap in/out": kernel, "swap in/out, no rotation": _conv_kernel(w, groups, False)}
        matching = []
        for name, candidate in candidates.items():
            attempt = bk.conv(bk.asarray(padded), bk.asarray(candidate), dilation=dilation, groups=groups)
            if tolerance.compare(ctx.numpy(attempt), ctx.numpy(transposed), dtype=ctx.compute_dtype,
                                 magnitude=op_bounds.magnitude(oracle.conv_transpose, x, w, **tr_kw),
                                 terms=op_bounds.terms(oracle.conv_transpose, x, w, **tr_kw)).ok:
                matching.append(name)
        ctx.fact("zero insertion: kernel transform that reproduces conv_transpose", matching)
