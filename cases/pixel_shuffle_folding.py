"""Folding channels into space: a conv on C²×H×W is a C-times-strided conv on the pixel-shuffled map."""
import itertools

import numpy as np
from hypothesis import strategies as st

from equivcheck.case import ORT_NO_FLOAT64_CONV, NotApplicable, claim, if_applicable, op_bounds, oracle, source

#: The shuffles a framework offers through the backend: PyTorch's pixel_shuffle (CRD: channel c·r² + i·r + j)
#: and TF's depth_to_space (DCR: channel (i·r + j)·C' + c).
ORDERINGS = {"pixel_shuffle (CRD)": "pixel_shuffle", "depth_to_space (DCR)": "depth_to_space"}


@st.composite
def _space(draw):
    kh, kw, pad = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(0, 1))
    # C ≥ 2: C = 1 folds nothing (and TF's depth_to_space refuses block_size 1: "must be at least minimum 2")
    return {"c": draw(st.integers(2, 3)), "m": draw(st.integers(1, 2)), "o": draw(st.integers(1, 3)),
            "k": [kh, kw], "s": draw(st.integers(1, 2)), "p": pad,
            "h": max(draw(st.integers(1, 4)), kh - 2 * pad), "w": max(draw(st.integers(1, 4)), kw - 2 * pad)}


@claim(
    title="A conv on C²×H×W equals a C·S-strided conv on the pixel-shuffled 1×CH×CW map",
    statement="A conv on a C²×H×W feature map with a K×K kernel, stride S and padding P equals a conv on the "
              "pixel-shuffled 1×CH×CW map with the pixel-shuffled CK×CK kernel, stride CS and padding CP (so a "
              "3×3 conv on 256 channels is a 48×48 conv with stride 16 on a 1×16H×16W map), with several output "
              "channels too, provided the map and the kernel are shuffled in the same order.",
    sources=[
        source("000", "Suppose we have a feature map C^2 x H x W. And, we have a K x K x C^2 Conv weight with "
                      "stride S."),
        source("000", "Suppose we have a feature map 1 x CH x CW. And, we have a CK x CK x 1 Conv weight with "
                      "stride CS."),
        source("000", "So, basically Case2 is a pixel-upshuffled version of case1 (both feature-map and Conv "
                      "weight.) As convolutions are simply element-wise multiplication, both operations seem "
                      "identical to me."),
        source("000", "given a 256xHxW feature-map with a 3x3 Conv (as in many deep learning models), performing a "
                      "convolution was simply doing a HUUUGE 48x48 Conv to a 1 x 16*H x 16*W Feature map."),
    ],
    examples=[
        # seed 000: 256 = 16² channels, 3×3 kernel, stride 1 → a 48×48 kernel with stride 16 on 1×16H×16W
        # (H×W = 2×3 with padding 1 → padding 16 on the shuffled map; and 3×4 without padding)
        {"c": 16, "m": 1, "o": 1, "k": [3, 3], "s": 1, "p": 1, "h": 2, "w": 3},
        {"c": 16, "m": 1, "o": 1, "k": [3, 3], "s": 1, "p": 0, "h": 3, "w": 4},
        # several output channels, a rectangular kernel and stride 2
        {"c": 2, "m": 1, "o": 3, "k": [3, 2], "s": 2, "p": 1, "h": 5, "w": 4},
        # beyond the seed: 2·C² channels fold into a 2-channel map (CRD and DCR differ here)
        {"c": 2, "m": 2, "o": 2, "k": [2, 3], "s": 1, "p": 0, "h": 3, "w": 4},
    ],
    space=_space(),
    deviations=[ORT_NO_FLOAT64_CONV],
    expected="holds",
    notes={
        "*": "Map and kernel go through the same backend shuffle: torch's own pixel_shuffle (depth_to_space "
             "composed by reshape+permute), TF's own depth_to_space (pixel_shuffle composed by reshape+transpose), "
             "JAX/Flax compose both with jnp reshape+transpose. The kernel (O, m·C², K, K) is shuffled as a batch "
             "of O maps. Facts: which (map, kernel) shuffle pairs fold correctly, for one and for several shuffled "
             "channels.",
    },
)
def check(bk, p, ctx):
    channels, geo = p.m * p.c * p.c, dict(stride=p.s, padding=p.p)
    x, w = ctx.array("x", (1, channels, p.h, p.w)), ctx.array("w", (p.o, channels, *p.k))
    shuffles = {}
    for name, method in ORDERINGS.items():
        probe = lambda: getattr(bk, method)(bk.asarray(np.zeros((1, p.c * p.c, 1, 1))), p.c)
        if if_applicable(probe, ctx=ctx, fact=f"{name} through the backend") is not None:
            shuffles[name] = getattr(bk, method)
    if not shuffles:
        raise NotApplicable(f"{bk.framework_name} has neither pixel_shuffle nor depth_to_space")
    direct = bk.conv(bk.asarray(x), bk.asarray(w), **geo)
    ctx.matches("conv on the C²×H×W map vs oracle", direct, oracle.conv, x, w, **geo)
    for name, shuffle in shuffles.items():
        folded_x, folded_w = shuffle(bk.asarray(x), p.c), shuffle(bk.asarray(w), p.c)
        ctx.equal(f"{name}: shuffled map shape (1, m, CH, CW)", tuple(folded_x.shape), (1, p.m, p.c * p.h, p.c * p.w))
        ctx.equal(f"{name}: shuffled kernel shape (O, m, CK, CK)", tuple(folded_w.shape),
                  (p.o, p.m, p.c * p.k[0], p.c * p.k[1]))
        # the folded conv sums the same products (m·(Ck)² = C²m·k² terms), so it is the original op's bound
        ctx.agree(f"{name} on map and kernel: stride CS, padding CP conv == the original conv",
                  bk.conv(folded_x, folded_w, stride=p.c * p.s, padding=p.c * p.p), direct, oracle.conv, x, w, **geo)
    # Which (map, kernel) shuffle pairs fold, on generic (normal) values so that a wrong pair cannot match by
    # accident: with one shuffled channel CRD and DCR are the same permutation, so every pair must; with several,
    # only matching pairs may (a mixed pair permutes the kernel's channels: it shows unless every window is padding).
    if len(shuffles) == 2:
        xg, wg = ctx.array("x_generic", x.shape, kind="normal"), ctx.array("w_generic", w.shape, kind="normal")
        want, padding_only = oracle.conv(xg, wg, **geo), not op_bounds.magnitude(oracle.conv, xg, wg, **geo).any()
        folds = []
        for (map_name, map_shuffle), (kernel_name, kernel_shuffle) in itertools.product(shuffles.items(), repeat=2):
            got = ctx.numpy(bk.conv(map_shuffle(bk.asarray(xg), p.c), kernel_shuffle(bk.asarray(wg), p.c),
                                    stride=p.c * p.s, padding=p.c * p.p))
            matched = ctx.fits(got, want, oracle.conv, xg, wg, sides=1, **geo)
            expected = map_name == kernel_name or p.m == 1 or padding_only
            outcome = "folds correctly" if expected else "mixed orders do not fold"
            ctx.equal(f"map by {map_name}, kernel by {kernel_name}: {outcome}", matched, expected, support=True)
            folds += [f"map {map_name} + kernel {kernel_name}"] if matched else []
        key = "one shuffled channel (m=1)" if p.m == 1 else "several shuffled channels (m>1)"
        ctx.fact(f"(map, kernel) shuffles that fold, {key}", sorted(folds))
