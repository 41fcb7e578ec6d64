"""A stride-r transposed conv is a stride-1 conv with r² times the channels, then pixel_shuffle (arXiv:1609.07009)."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import (ORT_NO_FLOAT64_CONV, claim, fold_phases, kernel_phases, oracle, pick_shuffle, source,
                             spatial_crop)

_RULE = ("W'[ch(o, φh, φw), c, bh, bw] = w[c, o, (m−1−bh)·r + φh, (m−1−bw)·r + φw], m = ⌈k/r⌉, "
         "zero taps beyond k")


def _lr_kernel(w, r, order):
    """The transposed kernel (I, O, k, k) as the LR-space conv kernel (O·r², I, m, m) in a shuffle's order."""
    v = kernel_phases(w, r).swapaxes(0, 1)                  # (O, I, φh, φw, bh, bw) = w[c, o, bh·r+φh, bw·r+φw]
    return fold_phases(np.flip(v, axis=(4, 5)), order)      # bh → m−1−bh


@st.composite
def _space(draw):
    r, k = draw(st.integers(2, 3)), draw(st.lists(st.integers(1, 5), min_size=2, max_size=2))
    return {"n": draw(st.integers(1, 2)), "c_in": draw(st.integers(1, 3)), "c_out": draw(st.integers(1, 2)),
            "spatial": draw(st.lists(st.integers(1, 3), min_size=2, max_size=2)), "k": k, "r": r,
            "padding": draw(st.integers(0, max(0, min(k) - 1) // 2))}


@claim(
    title="Transposed conv with stride r = conv in low-resolution space with r²·O channels + pixel_shuffle(r)",
    statement="A stride-r transposed convolution equals a stride-1 convolution in the low-resolution space with r² "
              "times the output channels followed by pixel_shuffle(r), with the kernel rearranged: " + _RULE +
              ", padding m−1, and the transposed conv's padding p cropped from the shuffled result.",
    sources=[source("arXiv:1609.07009",
                    "Shi et al., 'Is the deconvolution layer the same as a convolutional layer?': the different sets "
                    "of weights in the deconvolution kernel (1, 1, 4, 4) are activated independently of each other, "
                    "so they can be broken into a (4, 1, 2, 2) kernel convolved with the LR input directly, followed "
                    "by the periodic shuffle.")],
    examples=[
        # the note's example: a (1, 1, 4, 4) deconvolution kernel with r = 2 is a (4, 1, 2, 2) LR-space conv
        dict(n=1, c_in=1, c_out=1, spatial=[3, 3], k=[4, 4], r=2, padding=0, describe=True),
        # k not a multiple of r (zero taps appended), several channels, a cropped padding
        dict(n=1, c_in=2, c_out=3, spatial=[2, 3], k=[3, 5], r=2, padding=1),
        dict(n=2, c_in=3, c_out=2, spatial=[2, 2], k=[3, 3], r=3, padding=0)],
    space=_space(), expected="holds", deviations=[ORT_NO_FLOAT64_CONV],
    notes={"*": "The kernel rearrangement and the crop are done on the host (exact); conv_transpose, the LR-space "
                "conv and the shuffle run in the framework (pixel_shuffle, or depth_to_space with the kernel's "
                "channels in DCR order where the framework has only that)."},
)
def check(bk, p, ctx):
    r, pad = p.r, p.padding
    x = ctx.array("x", (p.n, p.c_in, *p.spatial))
    w = ctx.array("w", (p.c_in, p.c_out, *p.k))               # transposed kernel (I, O, k, k)
    X, tr_kw = bk.asarray(x), dict(stride=r, padding=pad)
    transposed = bk.conv_transpose(X, bk.asarray(w), **tr_kw)
    ctx.matches("conv_transpose vs oracle", transposed, oracle.conv_transpose, x, w, **tr_kw, support=True)
    name, shuffle, order = pick_shuffle(bk, ("pixel_shuffle", "depth_to_space"), r * r, r)
    kernel = _lr_kernel(w, r, order)
    lr = bk.conv(X, bk.asarray(kernel), padding=[(m - 1, m - 1) for m in kernel.shape[2:]])
    out = [(n - 1) * r + k - 2 * pad for n, k in zip(p.spatial, p.k)]
    crop = spatial_crop(ctx.numpy(shuffle(lr, r)), out, pad)
    ctx.agree(f"conv_transpose(stride r) == {name}(conv in LR space with r²·O channels)", crop, transposed,
              oracle.conv_transpose, x, w, **tr_kw)
    if p.get("describe"):
        ctx.fact("sub-pixel conv: transposed kernel (I, O, k, k) → LR conv kernel (O·r², I, ⌈k/r⌉, ⌈k/r⌉)",
                 {"transposed": list(w.shape), "lr_conv": list(kernel.shape), "channel_order": order, "rule": _RULE})
