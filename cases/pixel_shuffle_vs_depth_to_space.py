"""PyTorch's pixel_shuffle (CRD) and TF's depth_to_space (DCR) agree only for one output channel (seed 000)."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import SHUFFLE_PERMUTATIONS, claim, oracle, shuffle_order, source


@claim(
    title="pixel_shuffle (CRD) equals depth_to_space (DCR) only when the output has one channel",
    statement="PyTorch's pixel_shuffle and TensorFlow's depth_to_space are the same operation: for any C'·r² × H × W "
              "input they give the same C' × rH × rW output.",
    sources=[
        source("000", "So, basically Case2 is a pixel-upshuffled version of case1 (both feature-map and Conv weight.)"),
        source("000", "f_map = pixelshuffle(f_map, scale=C)"),
        source("000", "given a 256xHxW feature-map with a 3x3 Conv (as in many deep learning models), performing a "
                      "convolution was simply doing a HUUUGE 48x48 Conv to a 1 x 16*H x 16*W Feature map."),
    ],
    examples=[dict(n=1, c_out=1, r=16, h=2, w=2),  # seed 000: 256 channels → 1 x 16H x 16W (r = 16, C' = 1): agree
              # three output channels (an RGB upscaler's last layer), r = 2: they disagree; the orders are read here
              dict(n=1, c_out=3, r=2, h=2, w=3, describe=True),
              dict(n=1, c_out=2, r=2, h=1, w=1)],  # the smallest disagreement: 8 channels, one pixel
    # Draws have C' ≥ 2 and r ≥ 2, where the statement is at stake (C' = 1 is checked in every example, on the
    # first r² channels); hypothesis shrinks towards the smallest disagreement.
    space=st.fixed_dictionaries({"n": st.integers(1, 2), "c_out": st.integers(2, 4), "r": st.integers(2, 3),
                                 "h": st.integers(1, 3), "w": st.integers(1, 3)}),
    expected="refuted",
)
def check(bk, p, ctx):
    r, c_out, block, n, h, w = p.r, p.c_out, p.r * p.r, p.n, p.h, p.w
    x = ctx.array("x", (n, c_out * block, h, w))
    xt = bk.asarray(x)
    shuffled, d2s = bk.pixel_shuffle(xt, r), bk.depth_to_space(xt, r)
    # The statement; then what holds anyway
    ctx.alike("pixel_shuffle(x, r) = depth_to_space(x, r)", shuffled, d2s, (oracle.pixel_shuffle, (x, r), {}),
              (oracle.depth_to_space, (x, r), {}))
    ctx.matches("pixel_shuffle vs oracle (CRD)", shuffled, oracle.pixel_shuffle, x, r, support=True)
    ctx.matches("depth_to_space vs oracle (DCR)", d2s, oracle.depth_to_space, x, r, support=True)
    one = bk.asarray(x[:, :block])      # seed 000's case: one output channel
    ctx.agree("equal when the output has one channel (C' = 1)", bk.pixel_shuffle(one, r), bk.depth_to_space(one, r),
              oracle.pixel_shuffle, x[:, :block], r, support=True)
    matching = [name for name, make in SHUFFLE_PERMUTATIONS.items()
                if ctx.fits(bk.depth_to_space(bk.asarray(x[:, make(c_out, block)]), r), shuffled,
                            oracle.pixel_shuffle, x, r)]
    if c_out > 1 and r > 1:  # here the candidates differ from one another
        ctx.equal("exactly one candidate channel permutation makes depth_to_space equal pixel_shuffle",
                  len(matching), 1, support=True)
        ctx.fact("depth_to_space(x[:, perm]) = pixel_shuffle(x) for", matching)
    # The permutation as a user applies it: regroup the channels (C', r², H, W) → (r², C', H, W), reshape + transpose
    regroup = lambda groups: bk.reshape(bk.transpose(bk.reshape(xt, (n, *groups, h, w)), (0, 2, 1, 3, 4)), x.shape)
    ctx.agree("depth_to_space(channels regrouped (C', r²) → (r², C')) = pixel_shuffle",
              bk.depth_to_space(regroup((c_out, block)), r), shuffled, oracle.pixel_shuffle, x, r, support=True)
    ctx.agree("pixel_shuffle(channels regrouped (r², C') → (C', r²)) = depth_to_space",
              bk.pixel_shuffle(regroup((block, c_out)), r), d2s, oracle.depth_to_space, x, r, support=True)
    ctx.identical("pixel_unshuffle(pixel_shuffle(x)) = x", bk.pixel_unshuffle(shuffled, r), x, support=True)
    ctx.identical("space_to_depth(depth_to_space(x)) = x", bk.space_to_depth(d2s, r), x, support=True)
    z = ctx.array("z", (n, c_out, h * r, w * r))
    zt = bk.asarray(z)
    ctx.identical("pixel_shuffle(pixel_unshuffle(z)) = z", bk.pixel_shuffle(bk.pixel_unshuffle(zt, r), r), z,
                  support=True)
    ctx.identical("depth_to_space(space_to_depth(z)) = z", bk.depth_to_space(bk.space_to_depth(zt, r), r), z,
                  support=True)
    if p.get("describe"):  # which channel order each op follows, read off an input whose values are its channel index
        index = bk.asarray(np.broadcast_to(np.arange(c_out * block, dtype=np.float64).reshape(1, -1, 1, 1),
                                           (1, c_out * block, h, w)).copy())
        for name in ("pixel_shuffle", "depth_to_space"):
            ctx.fact(f"channel order: {name} out[c, h·r+i, w·r+j] =",
                     shuffle_order(ctx, getattr(bk, name)(index, r), r, c_out))
