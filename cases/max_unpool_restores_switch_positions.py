"""Max unpooling puts each pooled maximum back at its switch (argmax) position, zeros elsewhere (seed 004)."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import (ORT_NO_FLOAT64_CONV, argmax_conventions, claim, decode_argmax, distinct_ranks, oracle,
                             source)


@st.composite
def _geometries(draw):
    """Non-overlapping and overlapping windows (stride < kernel), uneven sizes, 1-D to 3-D."""
    rank = draw(st.sampled_from([2, 1, 3]))
    kernel = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    stride = [draw(st.integers(1, kk + 1)) for kk in kernel]
    spatial = [kk + draw(st.integers(0, 4)) for kk in kernel]
    return dict(n=draw(st.integers(1, 2)), c=draw(st.integers(1, 3)), spatial=spatial, kernel=kernel, stride=stride)


@claim(
    title="Max unpooling restores each pooled maximum at its switch position and zeros the rest",
    statement="unpool(pool(x)) puts every window's maximum back at the position max pooling recorded for it (its "
              "argmax, the 'switch') and fills every other position with zero; so unpool(pool(x)) equals x at the "
              "switches, 0 elsewhere, and |unpool(pool(x))| ≤ |x| with equality at the maxima.",
    sources=[
        source("004", "we can obtain an approximate\ninverse by recording the locations of the\nmaxima within each "
                      "pooling region in a set of switch\nvariables. In the deconvnet, the unpooling operation\nuses "
                      "these switches to place the reconstructions from\nthe layer above into appropriate locations"),
        source("004", "In the original paper on unpooling, remaining activations are zeroed."),
        source("004", "the activations are restored back to the locations of maximum activation selections, which "
                      "makes sense, but what about the remaining activations?"),
        source("001", "Max Pooling layer with pool_size (2,2) and step (2,2)\n"
                      "new dimension of throughput = (32, 14, 14)")],
    examples=[
        # seed 001: MNIST's 32x28x28 feature maps, 2x2 max pooling with step 2 → 32x14x14
        dict(n=1, c=32, spatial=[28, 28], kernel=[2, 2], stride=[2, 2], values="normal"),
        # a batch and several channels (the index convention is told apart here), uneven size
        dict(n=2, c=3, spatial=[5, 7], kernel=[2, 2], stride=[2, 2], values="normal"),
        # overlapping 3x3 windows with stride 2 (the pooling of Zeiler & Fergus' net), with ties (small integers)
        dict(n=2, c=3, spatial=[7, 7], kernel=[3, 3], stride=[2, 2], values="int", describe=True),
        dict(n=1, c=2, spatial=[9], kernel=[3], stride=[3], values="int"),  # 1-D
        dict(n=1, c=2, spatial=[4, 4, 5], kernel=[2, 2, 2], stride=[2, 2, 2], values="normal")],  # 3-D
    space=_geometries(), deviations=[ORT_NO_FLOAT64_CONV],
    expected={"*": "holds", "jax": "n/a", "flax": "n/a", "openvino": "n/a", "litert": "n/a"},
)
def check(bk, p, ctx):
    kernel, stride, shape = list(p.kernel), list(p.stride), (p.n, p.c, *p.spatial)
    x = ctx.array("x", shape, kind=p.get("values"))
    # 1. Distinct values: the switch of every window is unambiguous, so the framework's index convention
    #    can be read off against the oracle's argmax, and unpooling must reproduce the oracle exactly.
    xd = distinct_ranks(x)
    values, index = bk.max_pool(bk.asarray(xd), kernel, stride, return_indices=True)
    want_values, want_pos = oracle.max_pool(xd, kernel, stride, return_indices=True)
    ctx.matches("max_pool values vs oracle (distinct values)", values, oracle.max_pool, xd, kernel, stride)
    found = np.rint(ctx.numpy(index)).astype(np.int64)
    matches = [name for name, candidate in argmax_conventions(want_pos, shape).items()
               if found.shape == candidate.shape and np.array_equal(found, candidate)]
    if not ctx.equal("the returned indices follow one of the candidate conventions", bool(matches), True):
        return
    if p.n > 1 and p.c > 1 and len(p.spatial) == 2:  # here the candidates differ from one another
        ctx.equal("exactly one candidate index convention matches", len(matches), 1, support=True)
        ctx.fact("max_pool argmax index convention (2-D)", matches[0])
    restored = bk.max_unpool(values, index, kernel, stride, output_size=list(p.spatial))
    ctx.matches("unpool(pool(x)) vs oracle: maxima at their switches, zeros elsewhere (distinct values)", restored,
                oracle.max_unpool, want_values, want_pos, p.spatial)
    # 2. The example's own values (small integers tie often): whichever maximum the framework picks,
    #    unpool(pool(x)) is x at the recorded switches and 0 elsewhere.
    values, index = bk.max_pool(bk.asarray(x), kernel, stride, return_indices=True)
    restored = ctx.numpy(bk.max_unpool(values, index, kernel, stride, output_size=list(p.spatial)))
    pos = decode_argmax(matches[0], np.rint(ctx.numpy(index)).astype(np.int64), shape)
    plane = int(np.prod(p.spatial))
    if not ctx.equal("every switch lies inside the input plane", bool(((pos >= 0) & (pos < plane)).all()), True):
        return
    # window j of an axis starts at j·s and spans k positions
    starts = [(np.arange(m) * s).reshape((-1,) + (1,) * (len(kernel) - 1 - axis))
              for axis, (m, s) in enumerate(zip(pos.shape[2:], stride))]
    inside = all(((c >= a) & (c < a + kk)).all() for c, a, kk in zip(np.unravel_index(pos, shape[2:]), starts, kernel))
    ctx.equal("every switch lies inside its own pooling window", bool(inside), True)
    switches = pos.reshape(p.n, p.c, -1)
    at_switch = np.take_along_axis(x.reshape(p.n, p.c, plane), switches, axis=-1).reshape(pos.shape)
    ctx.matches("x at each switch is its window's maximum", at_switch, oracle.max_pool, x, kernel, stride)
    mask = np.zeros((p.n, p.c, plane), dtype=bool)
    np.put_along_axis(mask, switches, True, axis=-1)
    mask = mask.reshape(shape)
    ctx.identical("unpool(pool(x)) = x at the switches and 0 elsewhere", restored, np.where(mask, x, 0.0))
    ctx.equal("|unpool(pool(x))| ≤ |x| everywhere", bool((np.abs(restored) <= np.abs(x)).all()), True)
    ctx.equal("number of switch positions ≤ number of windows (windows may share one)", int(mask.sum()) <= pos.size,
              True)
    if p.get("describe"):
        # With overlapping windows one pixel can be the switch of several windows: unpooling must *write* it
        # once (a scatter that adds, like tf.scatter_nd, would double it).
        ctx.fact(f"overlapping {kernel} windows with stride {stride}: windows vs distinct switch positions",
                 {"windows": int(pos.size), "distinct_switch_positions": int(mask.sum())})
