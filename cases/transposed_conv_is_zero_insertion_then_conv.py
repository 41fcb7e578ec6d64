"""Transposed conv = insert zeros between pixels, pad, then convolve with the flipped kernel (seed 004)."""
from equivcheck.case import (ORT_NO_FLOAT64_CONV, claim, conv_example, conv_geometries, oracle, pad_pairs, per_dim,
                             run_conv, run_conv_transpose, source, swapped_kernel, tf_missing_kernel_notes,
                             zero_insert_and_pad)


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
                      "white pieces are simply zeros.")],
    examples=[  # conv_example(n, c_in, c_out, spatial, k, stride=1, padding=0, dilation=1, groups=1, output_padding=…)
        # seed 004: the 1x3x3 output of a 3x3x3 filter with stride 2 on 3x7x7, deconvolved back to 3x7x7
        conv_example(1, 1, 3, [3, 3], 3, 2, output_padding=0, describe=True),
        conv_example(1, 4, 3, [3, 3], 3, 2, output_padding=0),  # several maps in and out: the in/out swap matters
        # padded, output_padding, dilated, grouped, uneven
        conv_example(2, 4, 6, [3, 4], [3, 2], [2, 3], [[1, 2], [0, 1]], [1, 2], 2, output_padding=[1, 2]),
        conv_example(1, 2, 3, [5], 4, 3, 1, output_padding=2),
        conv_example(1, 2, 2, [2, 3, 2], [2, 3, 1], [2, 1, 2], output_padding=[1, 0, 0])],
    space=conv_geometries(output_padding=True), deviations=[ORT_NO_FLOAT64_CONV], expected="holds",
    notes=tf_missing_kernel_notes({"*": "Zero insertion and padding are done in NumPy (exact); conv_transpose and the "
                                        "stride-1 conv on the zero-inserted map both run in the framework."}),
)
def check(bk, p, ctx):
    rank, groups = len(p.spatial), p.groups
    k, stride, dilation, extra = (per_dim(p[key], rank) for key in ("k", "stride", "dilation", "output_padding"))
    pairs = pad_pairs(p.padding, rank)
    tr_kw = dict(stride=stride, padding=pairs, output_padding=extra, dilation=dilation, groups=groups)
    x = ctx.array("x", (p.n, p.c_in, *p.spatial))
    w = ctx.array("w", (p.c_in, p.c_out // groups, *k))   # transposed kernel (I, O/g, *k)
    transposed = run_conv_transpose(bk, x, w, **tr_kw)
    spread, padded = zero_insert_and_pad(x, stride, pairs, extra, dilation, k)
    kernel = swapped_kernel(w, groups)
    by_conv = run_conv(bk, padded, kernel, dilation=dilation, groups=groups)
    ctx.agree("conv_transpose vs zero insertion + padding + conv(flipped, in/out-swapped kernel)",
              transposed, by_conv, oracle.conv_transpose, x, w, **tr_kw)
    ctx.matches("conv_transpose vs oracle", transposed, oracle.conv_transpose, x, w, **tr_kw)
    if p.get("describe"):
        ctx.fact("zero insertion: spatial sizes in → zero-inserted → padded → conv output (seed 004's 3x3 → 7x7)",
                 {"input": list(p.spatial), "zero_inserted": list(spread.shape[2:]), "padded": list(padded.shape[2:]),
                  "kernel": k, "output": list(ctx.numpy(transposed).shape[2:]),
                  "conv_kernel_shape": list(kernel.shape), "transposed_kernel_shape": list(w.shape)})
        # Which kernel transform makes the recipe work: try both shape-compatible candidates.
        candidates = {"rotate 180° + swap in/out": kernel, "swap in/out, no rotation": swapped_kernel(w, groups, False)}
        matching = [name for name, candidate in candidates.items()
                    if ctx.fits(bk.conv(bk.asarray(padded), bk.asarray(candidate), dilation=dilation, groups=groups),
                                transposed, oracle.conv_transpose, x, w, **tr_kw)]
        ctx.fact("zero insertion: kernel transform that reproduces conv_transpose", matching)
