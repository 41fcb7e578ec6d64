"""∂L/∂x of a conv is the full correlation of ∂L/∂y with the 180°-rotated kernel (seeds 001, 004)."""
from equivcheck.case import (claim, conv_example, conv_geometries, conv_with_output, input_grad, oracle, run_conv,
                             source, swapped_kernel, tf_missing_kernel_notes, zero_insert_and_pad)


@claim(
    title="The input gradient of a conv is the full correlation of ∂L/∂y with the 180°-rotated kernel",
    statement="∂L/∂x of y = conv(x, w) (stride s, padding p, dilation d, groups g) equals: insert s−1 zeros "
              "between the pixels of ∂L/∂y, pad by d(k−1)−p (plus the rows the forward stride skipped), and "
              "cross-correlate with the kernel rotated by 180° and with its in/out channels swapped (per group); "
              "this holds for multi-channel inputs, where the 'flipped kernel' is O×I×k×k read as I×O×k×k.",
    sources=[
        source("001", "The simple approach is to rotate your stored channel matrix by 180 degrees and then convolve "
                      "it with the gradient."),
        source("004", "Gradient of conv layer = convolution between gradient of next layer\nand weights of this layer"),
        source("004", "So, to calculate the gradient for conv layer we again to calculate the convolution between "
                      "2x2 gradient layer and 2x2x3 weight layer but they are incompatible ."),
        source("004", "I have read that deconvolution is the convolution of the output with flipped kernel.")],
    examples=[  # conv_example(n, c_in, c_out, spatial, k, stride=1, padding=0, dilation=1, groups=1)
        conv_example(1, 1, 1, [3, 3], 2),  # seed 004: the article's 3x3 input, 2x2 filter, 2x2 output (one channel)
        conv_example(1, 3, 1, [3, 3], 2),  # seed 004: its 3-channel generalisation: 3x3x3 input, one 2x2x3 filter
        conv_example(1, 3, 1, [7, 7], 3, 2),  # seed 004: 3x7x7 input, 3x3x3 filter, stride 2, 3x3 output
        conv_example(1, 32, 64, [14, 14], 5, padding=2),  # seed 001: MNIST's second layer (size kept: padding 2)
        # beyond the seeds: asymmetric padding, dilation, groups, uneven sizes, 1-D and 3-D
        conv_example(2, 4, 6, [6, 5], [3, 2], [2, 3], [[1, 2], [0, 1]], [1, 2], 2),
        conv_example(1, 2, 3, [10], 4, 3, 1),
        conv_example(1, 2, 2, [4, 5, 3], [2, 3, 1], [2, 1, 2])],
    space=conv_geometries(),
    expected={"*": "holds", "onnxruntime": "n/a", "onnx": "n/a", "openvino": "n/a", "litert": "n/a"},
    notes=tf_missing_kernel_notes({
        "numpy": "NumPy has no autodiff: the gradient side is ∂L/∂x written out from the definition of the conv "
                 "(every output sends ∂L/∂y·w back to the input pixels it read; a scatter-add per kernel tap), "
                 "compared with the rotated-kernel correlation and the oracle's conv_input_grad.",
        "*": "Autodiff through bk.vjp (torch.autograd / tf.GradientTape / jax.vjp); zero insertion and padding of "
             "∂L/∂y in NumPy (exact), the rotated-kernel correlation through the framework's own conv."}),
)
def check(bk, p, ctx):
    g, x, w, gy = conv_with_output(ctx, p, "grad_y")
    how = "scatter definition" if bk.framework_name == "numpy" else "autodiff"
    grad = input_grad(bk, x, w, gy, **g.conv_kw)
    # "Rotate by 180, then convolve": zero insertion + full padding (NumPy, exact); the rows of x the forward
    # stride never reached (g.leftover) get no gradient from the last output: padded at the end.  Then the
    # framework's conv (a cross-correlation) with the rotated, in/out-swapped kernel.
    _, padded = zero_insert_and_pad(gy, g.stride, g.pairs, g.leftover, g.dilation, g.k)
    by_rotation = run_conv(bk, padded, swapped_kernel(w, g.groups), dilation=g.dilation, groups=g.groups)
    op = (oracle.conv_input_grad, gy, w, x.shape)
    ctx.agree(f"∂L/∂x ({how}) vs correlation of ∂L/∂y with the 180°-rotated, in/out-swapped kernel", grad, by_rotation,
              *op, **g.conv_kw)
    ctx.matches(f"∂L/∂x ({how}) vs oracle conv_input_grad", grad, *op, **g.conv_kw)
