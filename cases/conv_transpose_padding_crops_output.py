"""PyTorch's conv_transpose padding=p crops the output; a converter that pads the input instead is wrong."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import (ORT_NO_FLOAT64_CONV, claim, native_layer, op_bounds, oracle, run_conv_transpose, source,
                             spatial_crop)


@st.composite
def _space(draw):
    # p >= 1 (p = 0 has nothing to crop); the smallest draw is 1-D, k = 2, s = 1, p = 1, one input pixel.
    rank, k, s, d = draw(st.integers(1, 2)), draw(st.integers(2, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    p, op = draw(st.integers(1, d * (k - 1))), draw(st.integers(0, max(s, d) - 1))
    low = 1 + max(0, -(-(2 * p - op - d * (k - 1)) // s))    # output (n−1)s + d(k−1) + 1 − 2p + op >= 1
    return dict(n=1, c_in=draw(st.integers(1, 2)), c_out=draw(st.integers(1, 2)), k=k, stride=s, padding=p,
                output_padding=op, dilation=d, spatial=[low + draw(st.integers(0, 2)) for _ in range(rank)])


@claim(
    title="conv_transpose padding=p is a crop of the full output, not a pad of the input",
    statement="PyTorch's ConvTranspose padding=p pads the input: it equals inserting a Pad(p) node before a "
              "ConvTranspose with padding 0 whose output is cut to the same shape (its first rows).",
    sources=[
        source("Samsung/TICO#420", "ConvTranspose2d padding was treated as input padding ... PyTorch's padding does "
                                   "not represent input padding, instead it represents a symmetric output crop"),
        source("NVIDIA-AI-IOT/torch2trt#734", "torch2trt's ConvTranspose converter maps PyTorch's padding and "
                                              "output_padding to TensorRT pre/post padding (CLAIMS.md §F)"),
        source("ml-explore/mlx#1423", "passing the same parameters to ConvTranspose2d does not revert Conv2d in "
                                      "shape; PyTorch's docs: padding adds dilation*(kernel_size-1)-padding zero "
                                      "padding to both sides of the input"),
        source("jax-ml/jax#11252", "lax.conv_transpose takes explicit pads of the dilated input, so PyTorch's "
                                   "(p, output_padding) become (d(k-1)-p, d(k-1)-p+output_padding) (CLAIMS.md §F)")],
    examples=[
        # the smallest: one pixel, k = 3, p = 1 -> one output x·w[1]; the converter gives 0
        dict(n=1, c_in=1, c_out=1, spatial=[1], k=3, stride=1, padding=1, output_padding=0, dilation=1),
        # the usual 2x upsampler ConvTranspose2d(k=4, s=2, p=1), and k=3, s=2, p=1, output_padding=1 (PyTorch docs)
        dict(n=1, c_in=2, c_out=3, spatial=[4, 4], k=4, stride=2, padding=1, output_padding=0, dilation=1),
        dict(n=2, c_in=2, c_out=2, spatial=[3, 5], k=3, stride=2, padding=1, output_padding=1, dilation=1)],
    space=_space(), deviations=[ORT_NO_FLOAT64_CONV], expected="refuted",
    notes={"*": "Supporting checks (must hold): conv_transpose(p, output_padding) equals the full (p = 0) transposed "
                "conv with p rows removed at each end and output_padding rows added at the end (zeros beyond the "
                "full output), and the native layer built as that framework's users write it equals the functional "
                "op (output_padding 0 examples).",
           "flax": "flax.linen.ConvTranspose's integer padding is lax's (pads of the dilated input), so the layer is "
                   "built with padding (d(k−1)−p, d(k−1)−p) per dimension, as a Flax user porting PyTorch must.",
           "tensorflow": "Keras Conv{n}DTranspose takes 'valid' or 'same' only, no integer padding: no layer check; "
                         "tf.nn.conv{n}d_transpose gets the size through output_shape and the crop (the adapter)."},
)
def check(bk, p, ctx):
    rank, pad, extra = len(p.spatial), p.padding, p.output_padding
    x = ctx.array("x", (p.n, p.c_in, *p.spatial))
    w = ctx.array("w", (p.c_in, p.c_out, *(p.k,) * rank))
    kw = dict(stride=p.stride, dilation=p.dilation)
    cropped = dict(padding=pad, output_padding=extra, **kw)
    got = ctx.numpy(run_conv_transpose(bk, x, w, **cropped))
    ctx.matches("conv_transpose(padding=p, output_padding) vs oracle", got, oracle.conv_transpose, x, w, **cropped,
                support=True)
    out = got.shape[2:]
    # the crop: the full output without p rows at each end, output_padding rows (zeros past the end) appended
    full = ctx.numpy(run_conv_transpose(bk, x, w, **kw))
    crop = spatial_crop(np.pad(full, [(0, 0)] * 2 + [(0, max(0, extra - pad))] * rank), out, pad)
    ctx.agree("conv_transpose(p) == full output cropped by p (output_padding appended)", got, crop,
              oracle.conv_transpose, x, w, **cropped, support=True)
    # the statement: Pad(p) before a ConvTranspose with padding 0, cut to the same shape
    xp = np.pad(x, [(0, 0)] * 2 + [(pad, pad)] * rank)
    converted = spatial_crop(ctx.numpy(run_conv_transpose(bk, xp, w, output_padding=extra, **kw)), out)
    # two different ops compared: the bound covers the larger magnitude of the two (equal shapes by the cut)
    mag_padded = op_bounds.magnitude(oracle.conv_transpose, xp, w, output_padding=extra, **kw)
    magnitude = np.maximum(op_bounds.magnitude(oracle.conv_transpose, x, w, **cropped), spatial_crop(mag_padded, out))
    ctx.close("conv_transpose(padding=p) vs Pad(p) then conv_transpose(padding=0), first rows", got, converted,
              magnitude=magnitude, terms=op_bounds.terms(oracle.conv_transpose, x, w))
    span = p.dilation * (p.k - 1)
    native = [(span - pad, span - pad)] * rank if bk.framework_name == "flax" else pad
    layer = None if extra else native_layer(bk, "conv_transpose", rank=rank, in_channels=p.c_in, out_channels=p.c_out,
                                            kernel_size=p.k, padding=native, use_bias=False, input_shape=x.shape, **kw)
    if layer is not None:
        layer.set_weights(bk.asarray(w))
        ctx.agree(f"{layer.api}(padding={native}) vs the functional op", layer(bk.asarray(x)), got,
                  oracle.conv_transpose, x, w, padding=pad, **kw, support=True)
