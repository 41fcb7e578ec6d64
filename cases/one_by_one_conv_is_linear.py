"""1×1 convolution ≡ Linear on every pixel (Network in Network's cross-channel parametric pooling)."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import ONNX_116_NO_LAYERS, ORT_NO_FLOAT64_CONV, claim, oracle, source


@claim(
    title="A 1×1 convolution is a Linear layer applied to every pixel",
    statement="A 1x1 convolution from C to C' channels equals one Linear/Dense layer (C→C') applied to "
              "every pixel's channel vector, and the two have the same parameter count C'·(C+1).",
    sources=[source("000", "the cross channel parametric pooling layer is also equivalent to convolution layer with "
                           "1x1 convolution kernel"),
             source("002", "This is equivalent to applying a single fully connected layer to one pixel of the input "
                           "feature map"),
             source("001", "This operation would use a total of 256 kernels (32*8) to generate 8 feature maps.")],
    examples=[
        dict(n=1, c_in=32, c_out=8, spatial=[6, 6], bias=True),  # seed 001: 32 maps to 8 (256 = 32·8 weights)
        dict(n=2, c_in=3, c_out=5, spatial=[4, 7], bias=False),  # seed 000/002: C×H×W → C'×H×W, rectangular
        dict(n=1, c_in=4, c_out=2, spatial=[9], bias=True),  # 1-D
        dict(n=1, c_in=2, c_out=3, spatial=[2, 3, 4], bias=True),  # 3-D
        dict(n=1, c_in=8, c_out=8, spatial=[3, 3], bias=True)],  # C → C: W and Wᵀ of one shape, told apart by values
    space=st.fixed_dictionaries(dict(n=st.integers(1, 3), c_in=st.integers(1, 16), c_out=st.integers(1, 16),
                                     spatial=st.lists(st.integers(1, 6), min_size=1, max_size=3), bias=st.booleans())),
    deviations=[ORT_NO_FLOAT64_CONV, *ONNX_116_NO_LAYERS], expected="holds",
)
def check(bk, p, ctx):
    rank, x = len(p.spatial), ctx.tensor("x", (p.n, p.c_in, *p.spatial))
    weight = ctx.array("weight", (p.c_out, p.c_in))
    bias = ctx.tensor("bias", (p.c_out,)) if p.bias else None
    kernel = weight.reshape(p.c_out, p.c_in, *([1] * rank))
    by_conv = bk.conv(x, bk.asarray(kernel), bias)
    # Linear on each pixel: move channels last, apply the Linear, move them back.
    channels_last = (0, *range(2, rank + 2), 1)
    by_linear = bk.transpose(bk.linear(bk.transpose(x, channels_last), bk.asarray(weight), bias),
                             np.argsort(channels_last))
    ctx.agree("1x1 conv vs per-pixel Linear", by_conv, by_linear, oracle.conv, x, kernel, bias)
    ctx.matches("1x1 conv vs oracle", by_conv, oracle.conv, x, kernel, bias)
    if not bk.layer_apis:  # lax has no layer classes: the parameter count is the flax column's job
        return
    conv_layer = bk.layer("conv", rank=rank, in_channels=p.c_in, out_channels=p.c_out, kernel_size=1,
                          use_bias=p.bias, input_shape=(p.n, p.c_in, *p.spatial))
    dense_layer = bk.layer("dense", in_channels=p.c_in, out_channels=p.c_out, use_bias=p.bias)
    ctx.equal("parameter count: 1x1 conv == Linear", conv_layer.param_count, dense_layer.param_count)
    ctx.equal("parameter count == C'(C+1)", conv_layer.param_count, p.c_out * (p.c_in + (1 if p.bias else 0)))
