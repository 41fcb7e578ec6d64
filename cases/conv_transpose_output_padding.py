"""With stride > 1 several input sizes share one conv output size; output_padding picks which one
conv_transpose goes back to (seed 004: 3x7x7 and 3x8x8 both give 3x3 with k=3, s=2)."""
from hypothesis import strategies as st

from equivcheck.case import (ORT_NO_FLOAT64_CONV, claim, conv_transpose_settings, oracle, run_conv, run_conv_transpose,
                             source, spatial_crop, tf_missing_kernel_notes)


@st.composite
def _geometries(draw):
    """One (k, s, p, d) for every spatial dim, conv output sizes m per dim; 1-D or 2-D."""
    rank = draw(st.integers(1, 2))
    k, stride, dilation = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    padding = draw(st.integers(0, dilation * (k - 1)))
    # the smallest input giving m outputs is (m−1)s + d(k−1) + 1 − 2p; keep it ≥ 1
    low = 1 + max(0, -(-(2 * padding - dilation * (k - 1)) // stride))
    out = draw(st.lists(st.integers(low, low + 2), min_size=rank, max_size=rank))
    return dict(n=draw(st.integers(1, 2)), c_in=draw(st.integers(1, 3)), c_out=draw(st.integers(1, 3)), out=out, k=k,
                stride=stride, padding=padding, dilation=dilation)


@claim(
    title="output_padding picks which of the input sizes that share a conv output size conv_transpose restores",
    statement="With stride s > 1, the s input sizes n = (m−1)s + d(k−1) + 1 − 2p + r (r = 0 … s−1) all give the same "
              "conv output size m; conv_transpose of m gives (m−1)s − 2p + d(k−1) + output_padding + 1, so it "
              "recovers the input size n exactly when output_padding = r = (n + 2p − d(k−1) − 1) mod s, and "
              "output_padding only appends rows at the end.  Seed 004: 3x7x7 and 3x8x8 both give 3x3 with k=3, "
              "s=2 (p=0); the deconvolution gives 7 with output_padding 0 and 8 with output_padding 1.",
    sources=[
        source("004", "Lets say the input is a 3 dimensional RGB image with dimension 3x7x7 The filter has the "
                      "dimension 3x3x3. On convolving with stride set to 2 we will get an output of dimension 3x3."),
        source("004", "But on flipping the kernel, it will still be of dimension 3x3x3 and output is of dimension 3x3 "
                      "which . The input was of dimension 3x7x7 . So, how is deconvolution calculated ?"),
        source("004", "How could these feature maps be combined together in order to achieve the activation map with "
                      "same resolution as original input?")],
    examples=[  # first, seed 004: k=3, s=2, p=0: inputs 7x7 and 8x8 both give 3x3; RGB in, one filter out
        dict(n=1, c_in=3, c_out=1, out=[3, 3], k=3, stride=2, padding=0, dilation=1, describe=True),
        # padded (p=1: inputs 5 and 6 give 3), stride 3 (three sizes), dilation, 1-D and non-square
        dict(n=2, c_in=2, c_out=3, out=[3, 4], k=3, stride=2, padding=1, dilation=1),
        dict(n=1, c_in=2, c_out=2, out=[4], k=4, stride=3, padding=1, dilation=1),
        dict(n=1, c_in=1, c_out=2, out=[2, 3], k=2, stride=3, padding=2, dilation=2)],
    space=_geometries(), deviations=[ORT_NO_FLOAT64_CONV], expected="holds",
    notes=tf_missing_kernel_notes({
        "tensorflow": "TF spells output_padding through conv{n}d_transpose's output_shape (the adapter).",
        "*": "The framework's conv_transpose is called with PyTorch's (padding, output_padding); each adapter spells "
             "it natively (TF: the output_shape argument; lax/Flax: explicit pads of the zero-inserted input).",
        "jax": "The settings of lax.conv_transpose that reproduce PyTorch's output_padding are discovered live on the "
               "seed example (transpose_kernel, kernel arrangement, padding candidates) and recorded as a fact.",
        "flax": "The settings of flax.linen.ConvTranspose that reproduce PyTorch's conv_transpose (padding pairs, "
                "transpose_kernel, kernel layout and flip) are discovered live on the seed example and recorded as a "
                "fact."}),
)
def check(bk, p, ctx):
    rank, k, s, pad, d = len(p.out), p.k, p.stride, p.padding, p.dilation
    smallest = [(m - 1) * s + d * (k - 1) + 1 - 2 * pad for m in p.out]
    conv_kw = dict(stride=s, padding=pad, dilation=d)
    w = ctx.array("w", (p.c_out, p.c_in, *(k,) * rank))   # conv (O, I, *k) = conv_transpose (I_t, O_t, *k)
    y0 = ctx.array("y", (p.n, p.c_out, *p.out))
    wt, yt = bk.asarray(w), bk.asarray(y0)
    # conv_transpose with every output_padding: the size grows by one row per unit, at the end only
    outs = []
    for extra in range(s):
        got = run_conv_transpose(bk, yt, wt, **conv_kw, output_padding=extra)
        outs.append(ctx.numpy(got))
        ctx.equal(f"conv_transpose output size with output_padding={extra}", list(outs[-1].shape[2:]),
                  [n + extra for n in smallest])
        ctx.matches(f"conv_transpose(output_padding={extra}) vs oracle", got, oracle.conv_transpose, y0, w, **conv_kw,
                    output_padding=extra)
        if extra:
            ctx.agree(f"output_padding={extra} only appends rows: the first rows equal output_padding=0's",
                      spatial_crop(outs[-1], smallest), outs[0], oracle.conv_transpose, y0, w, **conv_kw, support=True)
    restoring = {}
    for r in range(s):
        x = ctx.array(f"x_{r}", (p.n, p.c_in, *(n + r for n in smallest)))
        size = list(x.shape[2:])
        y = run_conv(bk, x, wt, **conv_kw)
        ctx.equal(f"input size {size} gives conv output size {p.out}", list(ctx.numpy(y).shape[2:]), list(p.out))
        # the output_padding values whose conv_transpose lands on x's size: exactly r
        restoring[str(x.shape[2])] = restores = [extra for extra, out in enumerate(outs) if list(out.shape[2:]) == size]
        ctx.equal(f"output_padding that restores input size {size}", restores, [r])
        back = bk.conv_transpose(y, wt, **conv_kw, output_padding=r)
        ctx.equal(f"conv_transpose(conv(x), output_padding={r}) has x's shape", list(ctx.numpy(back).shape),
                  list(x.shape))
    if p.get("describe"):
        ctx.fact(f"output_padding that restores each input size (k={k}, s={s}, p={pad}, d={d}; conv output {p.out[0]})",
                 restoring)
        if bk.framework_name in ("jax", "flax"):
            api = "lax.conv_transpose" if bk.framework_name == "jax" else "flax.linen.ConvTranspose"
            ctx.fact(f"{api} settings that equal PyTorch's conv_transpose (k={k}, s={s}, p={pad}, d={d})",
                     conv_transpose_settings(bk, ctx, y0, w, p))
