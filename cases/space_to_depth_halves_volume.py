"""Stride-2 downsampling with channel doubling halves the feature volume; space-to-depth keeps it, bijectively."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import ORT_NO_FLOAT64_CONV, NotApplicable, claim, oracle, source


@claim(
    title="Stride-2 + channel doubling halves the feature volume; space-to-depth (block 2) keeps it and is a bijection",
    statement="A ResNet-style stride-2 convolution that doubles the channels (C×H×W → 2C×H/2×W/2) halves the volume "
              "of the feature map, while folding space into channels with space-to-depth of block 2 "
              "(C×H×W → 4C×H/2×W/2) keeps the volume and loses nothing: depth-to-space undoes it exactly.",
    sources=[
        source("000", "You can, in a sense, think of \"folding\" spatial information into the channel dimension."),
        source("000", "In the ResNet case whenever they sample x2 in space they increase feature space x2. However, "
                      "since you have two spatial dimensions and you sample x2 in both you effectively reduce the "
                      "\"volume\" of the feature map by x0.5."),
    ],
    examples=[
        # seed 000's ResNet remark at ResNet's own stage change: 64×56×56 → 128×28×28 (1×1 stride-2 projection)
        {"n": 1, "c": 64, "h": 56, "w": 56, "k": 1, "crd": True},
        # the same with the 3×3 stride-2 conv of a ResNet block (padding 1), on a smaller map
        {"n": 1, "c": 64, "h": 8, "w": 8, "k": 3, "crd": True},
    ],
    # Other batch sizes, channel counts, non-square even maps and both kernel sizes.  Only even H, W (the
    # ResNet case: with odd sizes a stride-2 output has ceil(n/2) rows and the ratio is not exactly 1/2).
    # Three configurations only: each new shape costs JAX a conv compile (0.1-0.6 s measured).
    space=st.sampled_from([{"n": 2, "c": 3, "h": 4, "w": 6, "k": 3}, {"n": 1, "c": 1, "h": 2, "w": 2, "k": 1},
                           {"n": 1, "c": 5, "h": 6, "w": 2, "k": 3}]),
    deviations=[ORT_NO_FLOAT64_CONV],
    expected="holds",
)
def check(bk, p, ctx):
    x, w = ctx.array("x", (p.n, p.c, p.h, p.w)), ctx.array("w", (2 * p.c, p.c, p.k, p.k))
    xt, pad, volume, half = bk.asarray(x), (p.k - 1) // 2, p.c * p.h * p.w, (p.h // 2, p.w // 2)  # volume per sample
    y = bk.conv(xt, bk.asarray(w), stride=2, padding=pad)
    ctx.matches("stride-2 conv vs oracle", y, oracle.conv, x, w, stride=2, padding=pad, support=True)
    y_shape = tuple(bk.to_numpy(y).shape)
    ctx.equal("stride-2 conv output shape (N, 2C, H/2, W/2)", y_shape, (p.n, 2 * p.c, *half))
    ctx.equal("stride 2 + channel doubling: 2 × output volume == input volume", 2 * int(np.prod(y_shape[1:])), volume)
    s2d = bk.space_to_depth(xt, 2)
    s2d_np = bk.to_numpy(s2d)
    ctx.equal("space_to_depth output shape (N, 4C, H/2, W/2)", s2d_np.shape, (p.n, 4 * p.c, *half))
    ctx.equal("space_to_depth keeps the volume", int(np.prod(s2d_np.shape[1:])), volume)
    ctx.identical("space_to_depth vs oracle (exact)", s2d_np, oracle.space_to_depth(x, 2))
    ctx.identical("depth_to_space(space_to_depth(x)) == x (exact)", bk.to_numpy(bk.depth_to_space(s2d, 2)), x)
    # Bijection: on distinct values (an arange), the output holds every input value exactly once.
    labels = np.arange(x.size, dtype=np.float64).reshape(x.shape)
    moved = bk.to_numpy(bk.space_to_depth(bk.asarray(labels), 2))
    ctx.identical("space_to_depth is a permutation of the elements", np.sort(moved.ravel()), labels.ravel())
    # The CRD pair (pixel_unshuffle / pixel_shuffle) on the fixed examples only (two more compiles per shape in JAX)
    if not p.get("crd"):
        return
    try:
        unshuffled = bk.pixel_unshuffle(xt, 2)
    except NotApplicable as exc:
        ctx.fact("pixel_unshuffle", {"available": False, "reason": str(exc)})
        return
    ctx.equal("pixel_unshuffle keeps the volume", int(np.prod(bk.to_numpy(unshuffled).shape[1:])), volume)
    ctx.identical("pixel_shuffle(pixel_unshuffle(x)) == x (exact)", bk.to_numpy(bk.pixel_shuffle(unshuffled, 2)), x)
    ctx.fact("pixel_unshuffle", {"available": True})
