"""A multi-channel conv ≡ per output channel, the sum over input channels of single-channel convs, plus bias."""
import numpy as np
from hypothesis import strategies as st

from equivcheck import oracle
from equivcheck.backends.base import NotApplicable
from equivcheck.claim import claim, source
from equivcheck.tolerance import conv_terms


@st.composite
def _space(draw):
    rank = draw(st.integers(1, 3))
    # at most one of stride/dilation > 1 (tf.nn rejects both); no dilated 3-D conv (TF's CPU Conv3D has
    # none in float64); 'same' only at stride 1 (PyTorch rejects it for strided convs).
    stride, dilation = draw(st.sampled_from([(1, 1), (2, 1), (1, 2)] if rank < 3 else [(1, 1), (2, 1)]))
    padding = draw(st.sampled_from([0, 1, "same"] if stride == 1 else [0, 1]))
    k = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    low = 0 if padding == "same" else 2 * padding
    spatial = [max(1, dilation * (kk - 1) + 1 - low) + draw(st.integers(0, 2)) for kk in k]
    return {"n": draw(st.integers(1, 2)), "c_in": draw(st.integers(1, 3)), "c_out": draw(st.integers(1, 3)),
            "spatial": spatial, "k": k, "stride": stride, "padding": padding, "dilation": dilation,
            "bias": draw(st.booleans())}


@claim(
    title="A multi-channel conv is a sum of single-channel convs: C_in·C_out 2-D kernels",
    statement="Conv2D(C_in→C_out) equals, for each output channel, the sum over the C_in input channels of a "
              "single-channel 2-D convolution of that channel with its own k×k kernel, plus the bias: C_in·C_out "
              "2-D kernels in all (6·16 = 96 for 6→16, 3·32 = 96 for 3→32).",
    sources=[
        source("002", "A 2D convolution layer contains one kernel per input channel, per output channel. So in "
                      "your case, this will be 6*16=96 kernels."),
        source("002", "For one image, one kernel per input channel is first applied. In your case, this results "
                      "in 6 features maps, that are summed together (+ a possible bias) to form 1 of the output "
                      "channel."),
        source("001", "the number of kernels used in each 2D convolutional operation = #input channels * #feature "
                      "maps. In this case, 96 different kernels would be used to produce 32 feature maps."),
    ],
    examples=[
        # seed 002: a 10(w) x 5(h) x 6 image, default 3x3 conv to 16 channels: 6*16 = 96 kernels, 8 x 3 x 16 out
        {"n": 1, "c_in": 6, "c_out": 16, "spatial": [5, 10], "k": [3, 3], "stride": 1, "padding": 0,
         "dilation": 1, "bias": True},
        # seed 001: Input(64, 64, 3) -> Conv2D(32, (3, 3), padding='same'): 3*32 = 96 kernels (on an 8 x 8 map)
        {"n": 1, "c_in": 3, "c_out": 32, "spatial": [8, 8], "k": [3, 3], "stride": 1, "padding": "same",
         "dilation": 1, "bias": True},
        # strided, padded, 1-D and 3-D variants
        {"n": 2, "c_in": 2, "c_out": 3, "spatial": [7, 6], "k": [3, 2], "stride": 2, "padding": 1,
         "dilation": 1, "bias": False},
        {"n": 1, "c_in": 3, "c_out": 2, "spatial": [9], "k": [3], "stride": 1, "padding": 0, "dilation": 2,
         "bias": True},
        {"n": 1, "c_in": 2, "c_out": 2, "spatial": [3, 4, 4], "k": [2, 2, 2], "stride": 1, "padding": 0,
         "dilation": 1, "bias": True},
    ],
    space=_space(),
    expected="holds",
    notes={
        "*": "Each single-channel conv is the framework's own conv on one input channel with one (1, 1, *k) "
             "kernel (C_in·C_out calls); the partial maps are added with the framework's +, the bias added last, "
             "and the output channels concatenated. The count of 2-D kernels is read off the native layer's "
             "kernel shape (prod(shape) / prod(k)).",
        "jax": "lax has no layers: the kernel count is not read off a layer; the per-channel identity is tested.",
    },
)
def check(bk, p, ctx):
    x = ctx.array("x", (p.n, p.c_in, *p.spatial))
    w = ctx.array("w", (p.c_out, p.c_in, *p.k))
    b = ctx.array("b", (p.c_out,)) if p.bias else None
    args = dict(stride=p.stride, padding=p.padding, dilation=p.dilation)
    conv = bk.conv(bk.asarray(x), bk.asarray(w), None if b is None else bk.asarray(b), **args)

    channels = [bk.asarray(x[:, i:i + 1]) for i in range(p.c_in)]
    maps = []
    for o in range(p.c_out):
        total = None
        for i in range(p.c_in):  # one single-channel convolution per (output, input) pair
            part = bk.conv(channels[i], bk.asarray(w[o:o + 1, i:i + 1]), **args)
            total = part if total is None else total + part
        maps.append(total if b is None else total + float(b[o]))
    summed = bk.concat(maps, axis=1)

    magnitude = oracle.conv(np.abs(x), np.abs(w), None if b is None else np.abs(b), **args)
    terms = conv_terms(w.shape, bias=p.bias)
    ctx.close("conv vs Σ over input channels of single-channel convs (+ bias)", conv, summed,
              magnitude=magnitude, terms=terms)
    ctx.close("conv vs oracle", conv, oracle.conv(x, w, b, **args), magnitude=magnitude, terms=terms, sides=1)

    # The count of 2-D kernels, from the native layer (seeds 001/002: 96).
    if p.padding not in ("same", 0):  # Keras layers take 'valid'/'same' only
        return
    try:
        layer = bk.layer("conv", rank=len(p.k), in_channels=p.c_in, out_channels=p.c_out, kernel_size=tuple(p.k),
                         stride=p.stride, padding="valid" if p.padding == 0 else "same", dilation=p.dilation,
                         use_bias=p.bias, input_shape=x.shape)
    except NotApplicable:
        return
    ctx.equal("number of k×k kernels in the layer == C_in·C_out", int(np.prod(layer.kernel_shape)) // int(np.prod(p.k)),
              p.c_in * p.c_out)
