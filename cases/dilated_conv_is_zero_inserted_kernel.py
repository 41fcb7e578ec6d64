"""Dilation d is a dilation-1 conv whose kernel has d−1 zeros between taps (arXiv:1511.07122), conv and transposed."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import (ORT_NO_FLOAT64_CONV, TF_MISSING_KERNEL_NOTE, claim, conv_example, conv_geometries,
                             conv_geometry, oracle, per_dim, run_conv, run_conv_transpose, source)


def _spread(w, dilation):
    """The kernel with d−1 zeros between neighbouring taps: size d(k−1)+1 per spatial dim (NumPy, exact)."""
    out = np.zeros(w.shape[:2] + tuple(d * (k - 1) + 1 for k, d in zip(w.shape[2:], dilation)))
    out[(slice(None),) * 2 + tuple(slice(None, None, d) for d in dilation)] = w
    return out


def _transposed(example):
    # the dilation-1 form needs output_padding < stride (torch: "output padding must be smaller than either stride
    # or dilation"), so it is kept below the stride; _fits keeps the examples whose output has ≥ 1 element
    extra = [min(e, s - 1) for e, s in zip(example["output_padding"], example["stride"])]
    return {**example, "output_padding": extra}


def _fits(example):
    return all((n - 1) * s + d * (k - 1) - b - a + e + 1 >= 1 for n, s, d, k, (b, a), e in zip(
        *(example[key] for key in ("spatial", "stride", "dilation", "k", "padding", "output_padding"))))


@claim(
    title="A dilated conv (and transposed conv) is a dilation-1 one with d−1 zeros inserted between kernel taps",
    statement="A convolution with dilation d equals a convolution with dilation 1 whose kernel has d−1 zeros "
              "inserted between neighbouring taps (size d(k−1)+1), with the same stride and padding; the same "
              "holds for transposed convolutions.",
    sources=[source("arXiv:1511.07122",
                    "Yu and Koltun, 'Multi-Scale Context Aggregation by Dilated Convolutions', define the "
                    "l-dilated convolution (F *_l k)(p) = Σ_{s+lt=p} F(s) k(t): the kernel's taps are l apart.")],
    examples=[
        conv_example(1, 1, 1, [7], [3], [1], [[0, 0]], [2], transposed=False, describe=True),  # 3 taps, d = 2: 5 wide
        conv_example(1, 2, 4, [6, 7], [3, 2], [1, 2], [[2, 1], [0, 1]], [2, 3], 2, transposed=False),
        conv_example(1, 2, 2, [3, 4], [3, 2], [2, 1], [[1, 0], [0, 2]], [2, 3], output_padding=[1, 0],
                     transposed=True)],
    space=st.one_of(conv_geometries(transposed=False),
                    conv_geometries(output_padding=True, transposed=True).map(_transposed).filter(_fits)),
    expected="holds", deviations=[ORT_NO_FLOAT64_CONV],
    notes={"*": "The zeros are inserted on the host (exact); both convs run in the framework.",
           "tensorflow": TF_MISSING_KERNEL_NOTE},
)
def check(bk, p, ctx):
    g = conv_geometry(p)
    x = ctx.array("x", (p.n, p.c_in, *p.spatial))
    if p.transposed:
        kw = {**g.conv_kw, "output_padding": per_dim(p.output_padding, g.rank)}
        w = ctx.array("w", (p.c_in, p.c_out // p.groups, *g.k))
        op, run, name = oracle.conv_transpose, run_conv_transpose, "conv_transpose"
    else:
        kw, op, run, name = g.conv_kw, oracle.conv, run_conv, "conv"
        w = ctx.array("w", (p.c_out, p.c_in // p.groups, *g.k))
    spread = _spread(w, g.dilation)
    dilated, undilated = run(bk, x, w, **kw), run(bk, x, spread, **{**kw, "dilation": 1})
    ctx.matches(f"dilated {name} vs oracle", dilated, op, x, w, **kw, support=True)
    ctx.agree(f"dilation d {name} == dilation 1 {name} with d−1 zeros between kernel taps", undilated, dilated,
              op, x, w, **kw)
    if p.get("describe"):
        ctx.fact("dilated kernel: taps k, dilation d → zero-inserted size d(k−1)+1",
                 {"k": g.k, "d": g.dilation, "zero_inserted": list(spread.shape[2:]), "taps": spread[0, 0].tolist()})
