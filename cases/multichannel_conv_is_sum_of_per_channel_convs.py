"""A multi-channel conv ≡ per output channel, the sum over input channels of single-channel convs, plus bias."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import (ORT_NO_FLOAT64_CONV, STRIDE_OR_DILATION, claim, conv_arrays, native_layer, oracle,
                             small_convs, source, tensor)


@claim(
    title="A multi-channel conv is a sum of single-channel convs: C_in·C_out 2-D kernels",
    statement="Conv2D(C_in→C_out) equals, for each output channel, the sum over the C_in input channels of a "
              "single-channel 2-D convolution of that channel with its own k×k kernel, plus the bias: C_in·C_out "
              "2-D kernels in all (6·16 = 96 for 6→16, 3·32 = 96 for 3→32).",
    sources=[source("002", "A 2D convolution layer contains one kernel per input channel, per output channel. So in "
                           "your case, this will be 6*16=96 kernels."),
             source("002", "For one image, one kernel per input channel is first applied. In your case, this results "
                           "in 6 features maps, that are summed together (+ a possible bias) to form 1 of the output "
                           "channel."),
             source("001", "the number of kernels used in each 2D convolutional operation = #input channels * #feature "
                           "maps. In this case, 96 different kernels would be used to produce 32 feature maps.")],
    examples=[
        # seed 002: a 10(w) x 5(h) x 6 image, default 3x3 conv to 16 channels: 6*16 = 96 kernels, 8 x 3 x 16 out
        dict(n=1, c_in=6, c_out=16, spatial=[5, 10], k=[3, 3], stride=1, padding=0, dilation=1, bias=True),
        # seed 001: Input(64, 64, 3) -> Conv2D(32, (3, 3), padding='same'): 3*32 = 96 kernels (on an 8 x 8 map)
        dict(n=1, c_in=3, c_out=32, spatial=[8, 8], k=[3, 3], stride=1, padding="same", dilation=1, bias=True),
        # strided and padded, 3-D (the draws add 1-D/2-D/3-D, dilation)
        dict(n=2, c_in=2, c_out=3, spatial=[5, 7, 6], k=[2, 3, 2], stride=2, padding=1, dilation=1, bias=False)],
    space=# no dilated 3-D conv (TF's CPU Conv3D has none in float64); 'same' only at stride 1 (PyTorch rejects it)
    small_convs(rank=st.integers(1, 3), steps=lambda rank: STRIDE_OR_DILATION[:3 if rank < 3 else 2],
                padding=lambda stride: st.sampled_from([0, 1, "same"] if stride == 1 else [0, 1]), padding_first=True),
    deviations=[ORT_NO_FLOAT64_CONV], expected="holds",
    notes={"*": "The C_in·C_out single-channel convs are computed by the framework in one call, a conv with "
                "groups=C_in whose C_in·C_out output maps are conv(x_i, w[o, i]) each (no sum inside); the sum over "
                "i and the bias are then added on the host in float64 and compared with the framework's ordinary "
                "conv. The count of 2-D kernels is read off the native layer's kernel shape (prod(shape)/prod(k))."},
)
def check(bk, p, ctx):
    kw = dict(stride=p.stride, padding=p.padding, dilation=p.dilation)
    x, w, b = conv_arrays(ctx, p)
    conv = bk.conv(bk.asarray(x), bk.asarray(w), tensor(bk, b), **kw)
    # Every single-channel convolution at once, nothing summed: a conv with groups=C_in and the kernels stacked
    # (C_in*C_out, 1, *k) gives output map i*C_out + o = conv(x_i, w[o, i]), for all (i, o).
    singles = np.swapaxes(w, 0, 1).reshape(p.c_in * p.c_out, 1, *p.k)
    maps = ctx.numpy(bk.conv(bk.asarray(x), bk.asarray(singles), groups=p.c_in, **kw))
    ctx.equal("single-channel 2-D convolutions (one per kernel) == C_in·C_out", maps.shape[1], p.c_in * p.c_out)
    sums = maps.reshape(p.n, p.c_in, p.c_out, *maps.shape[2:]).sum(axis=1) + (
        0.0 if b is None else b.reshape((-1,) + (1,) * len(p.k)))
    ctx.agree("conv vs Σ over input channels of single-channel convs (+ bias)", conv, sums, oracle.conv, x, w, b, **kw)
    ctx.matches("conv vs oracle", conv, oracle.conv, x, w, b, **kw)
    # The count of 2-D kernels, from the native layer (seeds 001/002: 96); Keras layers take 'valid'/'same' only.
    if p.padding not in ("same", 0) or (layer := native_layer(
            bk, "conv", rank=len(p.k), in_channels=p.c_in, out_channels=p.c_out, kernel_size=tuple(p.k),
            stride=p.stride, padding="valid" if p.padding == 0 else "same", dilation=p.dilation, use_bias=p.bias,
            input_shape=x.shape)) is None:
        return
    ctx.equal("number of k×k kernels in the layer == C_in·C_out",
              int(np.prod(layer.kernel_shape)) // int(np.prod(p.k)), p.c_in * p.c_out)
