"""conv ≡ im2col (the framework's own patch extraction) followed by one matmul with the flattened filter."""
import numpy as np

from equivcheck.case import (STRIDE_OR_DILATION, claim, conv_arrays, in_patch_order, layouts, oracle, patch_orders,
                             small_convs, source, tensor)


@claim(
    title="A convolution is patch extraction (im2col) followed by one matmul with the flattened filter",
    statement="conv(x, w) equals: extract every kh×kw×C input patch (the framework's own patch extraction), "
              "flatten the filter to a [kh·kw·in, out] matrix in the same feature order as the patches, and "
              "right-multiply each patch vector by it (then add the bias).",
    sources=[source("003", words) for words in (  # the seed's three steps
        "Flattens the filter to a 2-D matrix with shape [filter_height * filter_width * in_channels, output_channels].",
        "Extracts image patches from the input tensor to form a virtual tensor of shape [batch, out_height, "
        "out_width, filter_height * filter_width * in_channels].",
        "For each patch, right-multiplies the filter matrix and the image patch vector.")],
    examples=[
        # seed 003: a (60, 60, 10) input and a (5, 5, 10, 5) filter give 56 x 56 x 5
        dict(n=1, c_in=10, c_out=5, spatial=[60, 60], k=[5, 5], stride=1, padding=0, dilation=1, bias=True),
        # rectangular kernel, stride, padding and dilation: the patch order must still be discovered the same
        dict(n=2, c_in=3, c_out=4, spatial=[7, 9], k=[2, 3], stride=2, padding=1, dilation=2, bias=False)],
    space=small_convs(rank=2, steps=lambda rank: STRIDE_OR_DILATION + [(2, 2)], slack=3),
    expected={"*": "holds", "onnxruntime": "n/a", "onnx": "n/a", "openvino": "n/a", "litert": "n/a"},
    notes={"*": "The patch feature order is discovered, not assumed: every ordering of (C, kh, kw) is tried against "
                "the oracle's patches and the one that matches is recorded; the kernel (O, C, kh, kw) is then "
                "flattened in that order, and the matmul is the framework's Linear on the (N, L, F) patch matrix "
                "(the framework's patches, transposed on the host)."},
)
def check(bk, p, ctx):
    x, w, b = conv_arrays(ctx, p)
    args = dict(stride=p.stride, padding=p.padding, dilation=p.dilation)
    patches = bk.extract_patches(bk.asarray(x), tuple(p.k), **args)                  # (N, F, L), native order
    got = ctx.numpy(patches)
    reference = oracle.unfold(x, tuple(p.k), **args)                                # (C, kh, kw) order
    ctx.equal("patches shape (N, C·kh·kw, L)", got.shape, reference.shape, support=True)
    split = reference.reshape(p.n, p.c_in, *p.k, reference.shape[2])              # (N, C, kh, kw, L)
    order, *others = patch_orders(got, split)  # none exact: the nearest, which the support check below reports
    if not others:  # C == 1 or a 1-wide kernel makes several orders coincide; record unambiguous ones
        ctx.fact("patch feature order (slowest to fastest)", ",".join(order))
        # Is the framework's own conv kernel, flattened row-major over its non-output axes, already that matrix?
        native = layouts.kernel_layout(bk.framework_name, "conv", 2, api=bk.functional_api)
        flattened = tuple({"H": "kh", "W": "kw", "I": "C"}[a] for a in native if a != "O")
        ctx.fact(f"native conv kernel {native} flattened row-major is in the patch order", flattened == order)
    # Some frameworks extract patches as a conv with a one-hot kernel: one nonzero product per output, of |x|.
    ctx.close(f"patches equal the oracle's in order {','.join(order)}", patches, in_patch_order(split, order),
              magnitude=np.abs(reference), terms=1, sides=1, support=True)
    # The filter flattened in the same order, (O, C, kh, kw) -> (O, F) = [F, O]ᵀ, right-multiplies each patch vector
    # (a row of the (N, L, F) patch matrix, transposed on the host: the framework's numbers) by its Linear.
    bias = tensor(bk, b)
    rows = bk.linear(bk.asarray(np.swapaxes(got, 1, 2)), bk.asarray(in_patch_order(w, order)), bias)
    by_matmul = np.swapaxes(ctx.numpy(rows), 1, 2).reshape(oracle.conv(x, w, **args).shape)    # (N, O, H', W')
    conv = bk.conv(bk.asarray(x), bk.asarray(w), bias, **args)
    ctx.agree("conv vs patches @ flattened filter", conv, by_matmul, oracle.conv, x, w, b, **args)
    ctx.matches("patches @ flattened filter vs oracle", by_matmul, oracle.conv, x, w, b, **args)
