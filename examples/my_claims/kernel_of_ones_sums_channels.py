"""A claim of your own, in the catalog's form (docs/WRITING_CASES.md is the guide).

    equivcheck run --cases examples/my_claims --no-builtin
    python -m pytest --equivcheck --cases examples/my_claims --no-builtin
"""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import claim, oracle, source


@claim(
    title="a 1x1 kernel of ones sums the channels",
    statement="A 1x1 convolution from C channels to one, with every weight 1, sums the channels at every pixel.",
    sources=[source("arXiv:1312.4400", "Network In Network: 1x1 convolutions mix the channels at each pixel")],
    examples=[{"n": 1, "c": 3, "h": 4, "w": 5}],
    space=st.fixed_dictionaries({"n": st.integers(1, 2), "c": st.integers(1, 8), "h": st.integers(1, 6),
                                 "w": st.integers(1, 6)}),
    expected="holds",
)
def check(bk, p, ctx):
    x = ctx.array("x", (p.n, p.c, p.h, p.w))
    ones = np.ones((1, p.c, 1, 1))
    got = bk.to_numpy(bk.conv(bk.asarray(x), bk.asarray(ones)))
    # the oracle's conv of |x| and |w| is Σ|x·w| per output: the scale of the bound
    ctx.close("1x1 conv of ones vs the channel sum", got, x.sum(axis=1, keepdims=True),
              magnitude=oracle.conv(np.abs(x), ones), terms=p.c, sides=1)
