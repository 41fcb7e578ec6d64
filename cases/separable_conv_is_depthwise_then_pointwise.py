"""A separable conv is a depthwise conv then a 1×1 conv, with one bias: k^d·C·M + C·M·O + O parameters."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import (ONNX_116_AUTO_PAD, ORT_NO_FLOAT64_CONV, claim, native_layer, op_bounds, oracle, run_conv,
                             source, tensor)


@st.composite
def _space(draw):
    rank, s, k = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    return {"n": 1, "c": draw(st.integers(1, 3)), "m": draw(st.integers(1, 2)), "o": draw(st.integers(1, 3)), "k": k,
            "stride": s, "padding": draw(st.sampled_from(["valid", "same"] if s == 1 else ["valid"])),
            "bias": draw(st.booleans()), "spatial": [k + draw(st.integers(0, 3)) for _ in range(rank)]}


@claim(
    title="SeparableConv is DepthwiseConv then a 1×1 Conv with a single bias: k^d·C·M + C·M·O + O parameters",
    statement="Keras SeparableConv{1,2}D equals a DepthwiseConv (multiplier M, no bias) followed by a 1×1 Conv with "
              "one bias, and has k^d·C·M + C·M·O + O parameters; elsewhere it is built from those two convs.",
    sources=[source("arXiv:1610.02357", "a depthwise separable convolution: a spatial convolution performed "
                                        "independently over each channel, followed by a pointwise (1x1) convolution "
                                        "(Xception)"),
             source("ARM-software/CMSIS_5#515", "in Keras there is only one bias in separable conv; the bias is "
                                                "applied on the output of the 1x1 only, so depthwise then pointwise "
                                                "with their own biases cannot replace it directly"),
             source("keras-team/keras#13008", "SeparableConv2D(100, 5, input_shape=(416,416,10)): 1350 parameters; "
                                              "DepthwiseConv2D(5) then Conv2D(100, 1): 1360")],
    examples=[
        # keras#13008: C = 10, k = 5, O = 100 (an 8x8 map here; the counts do not depend on it): 1350 vs 1360
        {"n": 1, "c": 10, "m": 1, "o": 100, "k": 5, "stride": 1, "padding": "valid", "bias": True, "spatial": [8, 8]},
        {"n": 2, "c": 3, "m": 2, "o": 4, "k": 3, "stride": 2, "padding": "valid", "bias": True, "spatial": [7, 6]},
        {"n": 1, "c": 2, "m": 2, "o": 3, "k": 3, "stride": 1, "padding": "same", "bias": False, "spatial": [6]}],
    space=_space(), expected="holds", deviations=[ORT_NO_FLOAT64_CONV, ONNX_116_AUTO_PAD],
    notes={"*": "Checked everywhere: the framework's depthwise conv (groups=C) then its 1×1 conv against the oracle's "
                "composition; where there is a separable layer (Keras), the layer against that composition and its "
                "parameter count. Facts: the count of a depthwise layer + a 1×1 conv layer, two biases.",
           "torch": "torch.nn has no separable layer: the composition of Conv(groups=C) and a 1×1 Conv is checked.",
           "flax": "flax.linen has no separable layer: the composition of Conv(feature_group_count=C) and a 1×1 Conv."},
)
def check(bk, p, ctx):
    rank, c, cm, kw = len(p.spatial), p.c, p.c * p.m, dict(stride=p.stride, padding=p.padding)
    x, dw = ctx.array("x", (p.n, c, *p.spatial)), ctx.array("depthwise", (cm, 1, *(p.k,) * rank))  # dw: c·M + m
    pw, b = ctx.array("pointwise", (p.o, cm, *(1,) * rank)), ctx.array("b", (p.o,)) if p.bias else None
    inner = ctx.numpy(run_conv(bk, x, dw, groups=c, **kw))
    composed = run_conv(bk, inner, pw, b)
    # a composition: the 1×1 conv's bound over the depthwise magnitudes, the two ops' terms added
    bound = dict(magnitude=op_bounds.magnitude(oracle.conv, op_bounds.magnitude(oracle.conv, x, dw, groups=c, **kw), pw,
                                               None if b is None else np.abs(b)),
                 terms=op_bounds.terms(oracle.conv, x, dw, groups=c, **kw) + op_bounds.terms(oracle.conv, inner, pw, b))
    want = oracle.conv(oracle.conv(x, dw, groups=c, **kw), pw, b)
    ctx.close("depthwise (groups=C) then 1×1 conv vs oracle", composed, want, sides=1, **bound)
    ctx.fact(f"a depthwise layer + a 1×1 conv layer, both with bias (C={c}, M={p.m}, O={p.o}, k={p.k}, rank {rank})",
             p.k ** rank * cm + cm + cm * p.o + p.o)
    if (layer := native_layer(bk, "separable", rank=rank, in_channels=c, out_channels=p.o, kernel_size=p.k,
                              depth_multiplier=p.m, use_bias=p.bias, input_shape=x.shape, **kw)) is None:
        return
    layer.set_weights(bk.asarray(dw), tensor(bk, b), pointwise=bk.asarray(pw))
    ctx.close(f"{layer.api} vs depthwise then 1×1 conv", layer(bk.asarray(x)), composed, **bound)
    ctx.equal(f"{layer.api} parameters == k^d·C·M + C·M·O (+ O)", layer.param_count,
              p.k ** rank * cm + cm * p.o + (p.o if p.bias else 0))
