"""A stride-s conv is the stride-1 conv sampled every s-th output; stride 2 is space_to_depth(2) + a 1-stride conv."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import (ORT_NO_FLOAT64_CONV, TF_MISSING_KERNEL_NOTE, claim, conv_example, conv_geometry,
                             fold_phases, kernel_phases, oracle, pick_shuffle, run_conv, source)


@st.composite
def _space(draw):
    rank, stride = draw(st.sampled_from([2, 1])), draw(st.integers(1, 3))
    k, dilation = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank)), draw(st.integers(1, 2))
    padding = [[draw(st.integers(0, 1)), draw(st.integers(0, 1))] for _ in k]
    spatial = [max(1, dilation * (kk - 1) + 1 - sum(pad)) + draw(st.integers(0, 4)) for kk, pad in zip(k, padding)]
    return conv_example(draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3)), spatial, k,
                        [stride] * rank, padding, [dilation] * rank)


@claim(
    title="Stride s = the stride-1 conv sampled every s-th output; stride 2 = space_to_depth(2) + unstrided conv",
    statement="A stride-s convolution equals the stride-1 convolution (same padding) sampled at every s-th output, "
              "y_s[i] = y_1[s·i]; and a stride-2 convolution equals space_to_depth(2) of the padded input followed by "
              "a stride-1 VALID convolution with the kernel split into its 2×2 phases, W'[o, (c, φh, φw), bh, bw] = "
              "w[o, c, 2bh + φh, 2bw + φw] (zero taps beyond k), channels in the shuffle's order.",
    sources=[source("arXiv:1904.11486", "Zhang, 'Making Convolutional Networks Shift-Invariant Again': commonly used "
                                        "downsampling methods, such as max-pooling, strided-convolution, and "
                                        "average-pooling, ignore the sampling theorem (a strided conv is a dense conv "
                                        "followed by subsampling)."),
             source("arXiv:1712.02502", "cited in the catalog (CLAIMS.md claim 43) for a strided conv rewritten as "
                                        "space-to-depth followed by an unstrided conv; its wording was not checked "
                                        "here.")],
    examples=[
        # 3×3 stride 2 on 6×6, padding 1: the ResNet stem's downsampling; and a 1-D stride 3
        conv_example(1, 2, 3, [6, 6], [3, 3], [2, 2], [[1, 1], [1, 1]], [1, 1], describe=True),
        conv_example(1, 1, 2, [8], [2], [3], [[0, 1]], [1]),
        conv_example(2, 3, 2, [5, 7], [2, 3], [2, 2], [[0, 1], [1, 0]], [1, 1])],
    space=_space(), expected="holds", deviations=[ORT_NO_FLOAT64_CONV],
    notes={"*": "Subsampling, padding to even sizes and cropping are done on the host (exact); the convs and the "
                "space_to_depth (or pixel_unshuffle, whichever the framework has; the kernel's channels follow its "
                "order) run in the framework. The space_to_depth form is checked for 2-D, stride 2, dilation 1.",
           "tensorflow": TF_MISSING_KERNEL_NOTE},
)
def check(bk, p, ctx):
    g = conv_geometry(p)
    x, w, kw = ctx.array("x", (p.n, p.c_in, *p.spatial)), ctx.array("w", (p.c_out, p.c_in, *g.k)), g.conv_kw
    strided = run_conv(bk, x, w, **kw)
    dense = ctx.numpy(bk.conv(bk.asarray(x), bk.asarray(w), padding=g.pairs, dilation=g.dilation))
    nth = (slice(None),) * 2 + tuple(slice(None, None, s) for s in g.stride)
    ctx.matches("strided conv vs oracle", strided, oracle.conv, x, w, **kw, support=True)
    ctx.agree("stride-s conv == stride-1 conv sampled every s-th output", dense[nth], strided, oracle.conv, x, w, **kw)
    if g.rank != 2 or g.stride != [2, 2] or g.dilation != [1, 1]:
        return
    name, s2d, order = pick_shuffle(bk, ("space_to_depth", "pixel_unshuffle"), p.c_in, 2)
    padded = np.pad(x, [(0, 0), (0, 0)] + [(b, a + (n + b + a) % 2) for n, (b, a) in zip(p.spatial, g.pairs)])
    kernel = fold_phases(kernel_phases(w, 2).swapaxes(0, 1), order).swapaxes(0, 1)  # (O, 4C, ⌈k/2⌉, ⌈k/2⌉)
    folded = ctx.numpy(bk.conv(s2d(bk.asarray(padded), 2), bk.asarray(kernel)))
    crop = folded[(slice(None),) * 2 + tuple(slice(0, o) for o in g.out)]
    ctx.agree(f"stride-2 conv == {name}(2) + stride-1 VALID conv with the 2×2-phase kernel", crop, strided,
              oracle.conv, x, w, **kw)
    if p.get("describe"):
        ctx.fact(f"strided conv as {name}(2) + conv: kernel (O, C, kh, kw) → (O, 4C, ⌈kh/2⌉, ⌈kw/2⌉)",
                 {"kernel": list(w.shape), "rearranged": list(kernel.shape), "channel_order": order,
                  "rule": "W'[o, ch(c, φh, φw), bh, bw] = w[o, c, 2bh+φh, 2bw+φw]"})
