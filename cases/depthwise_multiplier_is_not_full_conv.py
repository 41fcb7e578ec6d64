""""Two kernels per input channel" is a depthwise conv (groups=C, multiplier 2), not the full conv C→2C."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import (ONNX_116_AUTO_PAD, ORT_NO_FLOAT64_CONV, claim, layouts, loaded_layer, native_layer, oracle,
                             slice_convs, source, tensor)


@st.composite
def _space(draw):
    # Smallest draw: 2 channels, multiplier 1, a 1-wide 1-D kernel (already not a full conv). 'same' only at
    # stride 1 (PyTorch rejects it for strided convs); Keras has DepthwiseConv1D/2D only, so rank <= 2.
    rank, stride = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    padding = draw(st.sampled_from(["valid", "same"] if stride == 1 else ["valid"]))
    k = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    spatial = [kk + draw(st.integers(0, 3)) for kk in k]
    return {"n": 1 + draw(st.integers(0, 1)), "c": draw(st.integers(2, 4)), "m": draw(st.integers(1, 2)),
            "spatial": spatial, "k": k, "stride": stride, "padding": padding, "bias": draw(st.booleans())}


@claim(
    title="A layer with M kernels per input channel is a depthwise conv, not a full conv to C·M channels",
    statement="A layer that applies two kernels to each of its 32 input channels to produce 64 channels (5×5 "
              "kernels) is the ordinary full convolution 32→64: the same weights (64·32·25) and the same outputs.",
    sources=[source("001", "In the next layer you specify two kernels per channel. In your example there would be 32 "
                           "input channels, the hidden layer has 2 kernels per channel, and the output would be 64 "
                           "channels."),
             source("001", "you need 64 kernel, each with the size of (32,5,5) ."),
             source("001", "you just copy this 3x3 kernel N times in 3rd dimension")],
    examples=[
        # seed 001: 32×14×14 after pooling, two 5×5 kernels per channel → 64 channels: 32·2·25 weights, not 64·32·25
        dict(n=1, c=32, m=2, spatial=[14, 14], k=[5, 5], stride=1, padding="same", bias=True),
        dict(n=2, c=3, m=2, spatial=[6, 7], k=[3, 2], stride=2, padding="valid", bias=False),  # a small strided one
        dict(n=1, c=2, m=3, spatial=[6], k=[3], stride=1, padding="valid", bias=True)],  # a 1-D one
    space=_space(), deviations=[ORT_NO_FLOAT64_CONV, ONNX_116_AUTO_PAD], expected="refuted",
    notes={"*": "The statement is checked twice: the full C→C·M conv whose kernel is the depthwise kernel copied "
                "across the input depth (the seed's 'copy this kernel N times in 3rd dimension') gives different "
                "outputs, and the native full-conv layer has C times the depthwise layer's weights. Supporting facts "
                "(must hold): the depthwise output equals the grouped conv with groups=C, C single-channel convs with "
                "M kernels each (concatenated on the host), the full conv with a block-diagonal kernel, the native "
                "depthwise layer (Keras DepthwiseConv{1,2}D, torch Conv{n}d(groups=C), Flax "
                "Conv(feature_group_count=C)) loaded with the same weights, and the oracle; the depthwise layer has "
                "C·M·prod(k) (+ C·M bias) weights."},
)
def check(bk, p, ctx):
    C, M, k, args = p.c, p.m, tuple(p.k), dict(stride=p.stride, padding=p.padding)
    x, w = ctx.array("x", (p.n, C, *p.spatial)), ctx.array("w", (C, M, *k))  # canonical depthwise kernel (C, M, *k)
    b = ctx.array("b", (C * M,)) if p.bias else None
    X, bias, grouped_kernel = bk.asarray(x), tensor(bk, b), layouts.depthwise_to_grouped(w)  # (C*M, 1, *k): c*M + m
    depthwise = bk.conv(X, bk.asarray(grouped_kernel), bias, groups=C, **args)
    op = (oracle.conv, x, grouped_kernel, b)
    ctx.matches("depthwise (groups=C) vs oracle", depthwise, *op, groups=C, **args, support=True)
    ctx.agree("depthwise vs C single-channel convs with M kernels each", depthwise,
              slice_convs(ctx, bk, x, grouped_kernel, b, groups=C, **args), *op, groups=C, **args, support=True)
    # A full conv represents it only with a block-diagonal kernel: zero outside each channel's own block.
    block_diagonal = np.zeros((C * M, C, *k))
    block_diagonal[np.arange(C * M), np.arange(C * M) // M] = grouped_kernel[:, 0]  # row c*M + m: w[c, m] at c
    ctx.agree("depthwise vs full conv with the block-diagonal kernel", depthwise,
              bk.conv(X, bk.asarray(block_diagonal), bias, **args), oracle.conv, x, block_diagonal, b, **args,
              support=True)
    # The statement: the full conv C -> C*M whose output channel c*M + m uses kernel w[c, m] over the whole depth.
    copied = np.repeat(grouped_kernel, C, axis=1)        # (C*M, C, *k)
    # Two different ops compared: the bound covers the larger magnitude of the two, the full conv's terms.
    ctx.alike("depthwise vs full conv (kernel copied across the input depth)", depthwise,
              bk.conv(X, bk.asarray(copied), bias, **args), (op[0], op[1:], dict(groups=C, **args)),
              (oracle.conv, (x, copied, b), args))
    layer_kw = dict(rank=len(k), in_channels=C, kernel_size=k, use_bias=p.bias, input_shape=x.shape, **args)
    dw_layer = loaded_layer(bk, "depthwise", w, bias, depth_multiplier=M, **layer_kw)
    if dw_layer is None or (full_layer := native_layer(bk, "conv", out_channels=C * M, **layer_kw)) is None:
        return
    bias_count = C * M if p.bias else 0
    ctx.equal("depthwise layer weights == C·M·prod(k) (+ C·M bias)", dw_layer.param_count,
              C * M * int(np.prod(k)) + bias_count, support=True)
    ctx.equal("full conv layer weights == C·M·C·prod(k) (+ C·M bias)", full_layer.param_count,
              C * M * C * int(np.prod(k)) + bias_count, support=True)
    ctx.agree("native depthwise layer vs grouped conv", dw_layer(X), depthwise, *op, groups=C, **args, support=True)
    ctx.fact("depthwise layer class", dw_layer.api)
    ctx.fact(f"depthwise layer native kernel shape for C={C}, M={M}, k={list(k)}", list(dw_layer.kernel_shape))
    ctx.equal("weight count: depthwise layer == full conv layer (the statement)", dw_layer.param_count,
              full_layer.param_count)
