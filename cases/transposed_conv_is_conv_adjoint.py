"""Transposed convolution is the adjoint of convolution, with the same (shared) weights (seed 004)."""
import numpy as np

from equivcheck.case import (claim, conv_example, conv_geometries, conv_with_output, input_grad, native_layer,
                             op_bounds, oracle, run_conv, run_conv_transpose, source, tf_missing_kernel_notes)


@claim(
    title="conv_transpose is the adjoint (and the input-VJP) of conv with the same weights",
    statement="For every x, y: <conv(x, w), y> = <x, conv_transpose(y, w)>, and conv_transpose(y, w) is the "
              "vector-Jacobian product of conv with respect to its input; the deconv layer shares the conv "
              "layer's weights, the same tensor with its in/out channel axes read the other way round.",
    sources=[
        source("004", "A deconvolutional layer is just the transposed of its corresponding conv layer."),
        source("004", "if conv layer's shape is [height, width, previous_layer_fms, next_layer_fms], than the "
                      "deconv layer will have the shape [height, width, next_layer_fms, previous_layer_fms]. "
                      "The weights of conv and deconv layers are shared!"),
        source("004", "Lets say the input is a 3 dimensional RGB image with dimension 3x7x7 The filter has the "
                      "dimension 3x3x3. On convolving with stride set to 2 we will get an output of dimension 3x3.")],
    examples=[  # conv_example(n, c_in, c_out, spatial, k, stride=1, padding=0, dilation=1, groups=1)
        # seed 004: a 3x7x7 RGB input, one 3x3x3 filter, stride 2 → 1x3x3; deconv brings 3x3 back to 3x7x7.
        conv_example(1, 3, 1, [7, 7], 3, 2, layers=True),  # with layers: conv and deconv layer from one weight tensor
        # the same with several output maps ("more than one feature map output" in 004's question)
        conv_example(1, 3, 4, [7, 7], 3, 2, layers=False),
        # everything at once: padded (asymmetrically), dilated, grouped, uneven sizes, stride not dividing
        conv_example(2, 4, 6, [6, 5], [3, 2], [2, 3], [[1, 2], [0, 1]], [1, 2], 2, layers=False),
        conv_example(1, 2, 3, [9], 4, 3, 1, layers=False),
        conv_example(1, 2, 2, [4, 5, 3], [2, 3, 1], [2, 1, 2], 0, [1, 1, 1], layers=False)],
    space=conv_geometries(layers=False),
    expected={"*": "holds", "onnxruntime": "n/a", "onnx": "n/a", "openvino": "n/a", "litert": "n/a"},
    notes=tf_missing_kernel_notes({
        "numpy": "NumPy has no autodiff: the VJP side is the adjoint built by brute force from the definition "
                 "of conv as a gather (every output sends y·w back to the input pixels it read, a scatter-add per "
                 "kernel tap), compared with the oracle's conv_transpose (zero insertion + flipped kernel); the "
                 "inner-product identity compares the oracle's conv with its conv_transpose.",
        "torch": "VJP by torch.autograd.grad.", "tensorflow": "VJP by tf.GradientTape.", "jax": "VJP by jax.vjp.",
        "flax": "VJP by jax.vjp through the Flax column's ops; grouped examples are n/a (linen.ConvTranspose has no "
                "feature_group_count). Shared layer weights: linen.ConvTranspose's kernel is (*k, I_t, O_t), the "
                "conv kernel's shape with in/out swapped as the seed says ([h, w, next, prev]); with Flax's default "
                "transpose_kernel=False it must also be flipped spatially, which the adapter's set_weights does (see "
                "conv_transpose_output_padding for the settings discovered live)."}),
)
def check(bk, p, ctx):
    # One tensor: the conv kernel (O, I/g, *k) is read by conv_transpose as (I_t = O, O_t/g = I/g, *k).
    g, x, w, y = conv_with_output(ctx, p, "y")
    # the output padding that makes conv_transpose land on x's size again
    tr_kw = dict(stride=g.stride, padding=g.pairs, output_padding=g.leftover, dilation=g.dilation, groups=g.groups)
    # The inner products compose the two ops with a sum over every output: Σ conv(|x|, |w|)·|y|
    # (= Σ |x|·conv_transpose(|y|, |w|)), with every product of either op in it.
    terms = max(op_bounds.terms(oracle.conv, x, w), op_bounds.terms(oracle.conv_transpose, y, w, **tr_kw))
    inner = dict(magnitude=np.sum(op_bounds.magnitude(oracle.conv, x, w, **g.conv_kw) * np.abs(y)), sides=2,
                 terms=y.size * terms)
    forward, backward = run_conv(bk, x, w, **g.conv_kw), run_conv_transpose(bk, y, w, **tr_kw)
    ctx.matches("conv vs oracle", forward, oracle.conv, x, w, **g.conv_kw)
    ctx.matches("conv_transpose vs oracle", backward, oracle.conv_transpose, y, w, **tr_kw)
    # <conv(x, w), y> = <x, conv_transpose(y, w)>, both sums taken in float64 of the framework's outputs.
    ctx.close("<conv(x, w), y> = <x, conv_transpose(y, w)>", np.sum(ctx.numpy(forward) * y),
              np.sum(x * ctx.numpy(backward)), **inner)
    how = "brute-force adjoint (scatter)" if bk.framework_name == "numpy" else "autodiff VJP"
    vjp = input_grad(bk, x, w, y, **g.conv_kw)
    ctx.agree(f"conv_transpose(y, w) = {how} of conv w.r.t. x", backward, vjp, oracle.conv_transpose, y, w, **tr_kw)
    if p.layers:
        _shared_layers(bk, p, ctx, x, w, y, g, inner)


def _shared_layers(bk, p, ctx, x, w, y, g, inner):
    """The seed's shared weights, through each framework's layer classes: one canonical tensor is loaded
    into a conv layer (c_in → c_out) and into a deconv layer (c_out → c_in)."""
    # JAX (lax) has no layers (recorded as a fact); the functional identity above is the claim there
    layer_kw = dict(rank=g.rank, kernel_size=g.k, stride=g.stride, padding="valid", dilation=g.dilation,
                    groups=g.groups, use_bias=False, ctx=ctx, fact="shared weights: conv and deconv layers")
    conv_layer = native_layer(bk, "conv", in_channels=p.c_in, out_channels=p.c_out, input_shape=x.shape, **layer_kw)
    deconv_layer = None if conv_layer is None else native_layer(bk, "conv_transpose", in_channels=p.c_out,
                                                                out_channels=p.c_in, input_shape=y.shape, **layer_kw)
    if deconv_layer is None:
        return
    conv_layer.set_weights(w)
    deconv_layer.set_weights(w)
    ctx.fact("shared weights: native kernel shapes of the conv layer and its deconv layer",
             {"conv_api": conv_layer.api, "conv_transpose_api": deconv_layer.api,
              "channels": f"{p.c_in}→{p.c_out}→{p.c_in}", "kernel_size": g.k,
              "conv": list(conv_layer.kernel_shape), "conv_layout": conv_layer.kernel_layout,
              "conv_transpose": list(deconv_layer.kernel_shape), "conv_transpose_layout": deconv_layer.kernel_layout,
              "same_native_shape": list(conv_layer.kernel_shape) == list(deconv_layer.kernel_shape)})
    layer_back = deconv_layer(bk.asarray(y))
    ctx.equal("deconv layer output shape == conv input shape", tuple(ctx.numpy(layer_back).shape), x.shape)
    ctx.close("<conv_layer(x), y> = <x, deconv_layer(y)>", np.sum(ctx.numpy(conv_layer(bk.asarray(x))) * y),
              np.sum(x * ctx.numpy(layer_back)), **inner)
