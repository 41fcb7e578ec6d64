"""∂L/∂w of a conv is the cross-correlation of the stored input with ∂L/∂y (seed 001)."""
import numpy as np

from equivcheck.case import (claim, conv_example, conv_geometries, conv_with_output, oracle, run_conv, source,
                             spatial_crop, tf_missing_kernel_notes, weight_grad)

_NUMPY_HOW = ("NumPy has no autodiff: the gradient side is ∂L/∂w written out from the definition (one shifted, "
              "strided slice of the padded input per kernel tap, contracted with ∂L/∂y), compared with the "
              "input–gradient correlation and the oracle's conv_weight_grad.")


@claim(
    title="The weight gradient of a conv is the correlation of the stored input with ∂L/∂y",
    statement="∂L/∂w of y = conv(x, w) equals the cross-correlation of the (padded) stored input x with ∂L/∂y "
              "used as the kernel: dW[o, c, j] = Σ_n Σ_p ∂L/∂y[n, o, p]·x[n, c, p·s + j·d − p_before], i.e. a conv "
              "with batch and channel axes exchanged and the roles of stride and dilation swapped; per group for "
              "grouped convs.",
    sources=[
        source("001", "A more sophisticated approach is to apply “correlation” between the input gradient and the "
                      "stored channel matrix. Note I specifically said “correlation” as opposed to “convolution” and "
                      "that is key."),
        source("001", "you have the stored input matrix (one channel), you have a gradient from a lower layer in the "
                      "form of a matrix and is the size of the layer kernel, and you need to backpropagate it up to "
                      "the next convolutional layer."),
        source("001", "The simple approach is to rotate your stored channel matrix by 180 degrees and then convolve "
                      "it with the gradient."),
        source("004", "Lets say out input layer is of dimension 3x3x3 and we use 1 filter of dimension 2x2x3 then "
                      "the resultant convolution will again be of dimension 2x2")],
    examples=[  # conv_example(n, c_in, c_out, spatial, k, stride=1, padding=0, dilation=1, groups=1)
        # seed 004: 3x3 input, 2x2 filter, 2x2 output; the seed-001 reading of the 180° recipe is recorded here
        conv_example(1, 1, 1, [3, 3], 2, describe=True),
        conv_example(1, 3, 1, [3, 3], 2),  # seed 004: 3x3x3 input, one 2x2x3 filter
        conv_example(1, 3, 1, [7, 7], 3, 2),  # seed 004: 3x7x7, 3x3x3 filter, stride 2
        conv_example(1, 32, 64, [14, 14], 5, padding=2),  # seed 001: the layer after MNIST's first pooling
        # beyond the seeds: a batch, asymmetric padding, dilation, groups, 1-D and 3-D
        conv_example(2, 4, 6, [6, 5], [3, 2], [2, 3], [[1, 2], [0, 1]], [1, 2], 2),
        conv_example(3, 2, 3, [10], 4, 3, 1),
        conv_example(1, 2, 2, [4, 5, 3], [2, 3, 1], [2, 1, 2])],
    space=conv_geometries(max_n=3),  # batched: n up to 3
    expected={"*": "holds", "onnxruntime": "n/a", "onnx": "n/a", "openvino": "n/a", "litert": "n/a"},
    notes=tf_missing_kernel_notes({"numpy": _NUMPY_HOW,
                                   "*": "Autodiff through bk.vjp (torch.autograd / tf.GradientTape / jax.vjp); the "
                                        "batch/channel exchange and padding of x are done in NumPy (exact), the "
                                        "correlation itself through the framework's conv."}),
)
def check(bk, p, ctx):
    g, x, w, gy = conv_with_output(ctx, p, "grad_y")
    cg, og = p.c_in // g.groups, p.c_out // g.groups
    how = "shift definition" if bk.framework_name == "numpy" else "autodiff"
    grad = weight_grad(bk, x, w, gy, **g.conv_kw)
    # Correlation of the stored input with ∂L/∂y as the kernel.  Rearranged in NumPy (exact):
    # "batch" := the Cg channels of a group, "channels" := (group, sample); kernel := ∂L/∂y as (O, N, *out).
    tail = tuple(range(3, 3 + g.rank))
    xp = np.pad(x, [(0, 0), (0, 0)] + [tuple(pair) for pair in g.pairs])
    stored = xp.reshape(p.n, g.groups, cg, *xp.shape[2:]).transpose((2, 1, 0) + tail).reshape(cg, g.groups * p.n,
                                                                                              *xp.shape[2:])
    kernel = gy.reshape(p.n, g.groups, og, *g.out).transpose((1, 2, 0) + tail).reshape(p.c_out, p.n, *g.out)

    def correlate(data, taps):
        # Stride and dilation swap roles: the taps of ∂L/∂y are s apart, the kernel offsets d apart; the result
        # (Cg, O, *k') is cropped to *k and read as (O, Cg, *k).
        got = ctx.numpy(run_conv(bk, data, taps, stride=g.dilation, dilation=g.stride, groups=g.groups))
        return spatial_crop(got, g.k).swapaxes(0, 1)

    op = (oracle.conv_weight_grad, x, gy, w.shape)
    ctx.agree(f"∂L/∂w ({how}) vs correlation of the stored input with ∂L/∂y", grad, correlate(stored, kernel), *op,
              **g.conv_kw)
    ctx.matches(f"∂L/∂w ({how}) vs oracle conv_weight_grad", grad, *op, **g.conv_kw)
    if p.get("describe"):
        # Seed 001's "simple approach", read literally: rotate the stored matrix by 180°, then *convolve*
        # (true convolution = the framework's correlation with a flipped kernel) with the gradient.
        # Which gradient does it give: ∂L/∂w itself, or ∂L/∂w rotated by 180°?
        spatial_axes = tuple(range(2, 2 + g.rank))
        literal = correlate(np.flip(stored, axis=spatial_axes), np.flip(kernel, axis=spatial_axes))
        grad = ctx.numpy(grad)
        found = [name for name, want in (("∂L/∂w", grad), ("∂L/∂w rotated by 180°", np.flip(grad, axis=spatial_axes)))
                 if ctx.fits(literal, want, *op, **g.conv_kw)]
        ctx.fact("seed 001's 'rotate the stored matrix by 180° and convolve it with the gradient' gives", found)
