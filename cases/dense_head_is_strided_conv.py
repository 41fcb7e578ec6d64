"""A Dense head on non-overlapping blocks is a strided conv; on the whole map, a map-sized conv
(fully convolutional nets)."""
import math

import numpy as np
from hypothesis import strategies as st

from equivcheck.case import (KERAS_TORCH_FLOAT64_DENSE, ONNX_116_NO_LAYERS, ORT_NO_FLOAT64_CONV, blocks_last,
                             checked_flatten, claim, columns_in_order, dense_layer, layouts, oracle, source)


@claim(
    title="A Dense head on non-overlapping blocks is a strided conv; on the flattened map it is a map-sized conv",
    statement="A Dense layer (n_dim outputs) applied to each non-overlapping 4×4×C block of a 16×16 feature map "
              "equals a 4×4 convolution with stride 4 and n_dim filters (16×16 → 4×4×5 for n_dim = 5); a Dense on "
              "the whole flattened map equals a convolution whose kernel covers the whole map.  Flatten+Dense "
              "raises on a larger input, where the convolution still runs and gives a larger output map.",
    sources=[
        source("001", "Fully connected layers have a fixed size input. Thus, changing the input size will cause a "
                      "wrong-size error."),
        source("001", "Assuming for example the conv layer's output is of size 16X16, you can create a \"classifier "
                      "layer\" of size 4x4 with stride 4, that would output for each of the 4 4x4 squares "
                      "comprising the 16x16 feature map, a single value per dimension. Such filter would be of size "
                      "4x4xn_dim, in your case n_dim will be 5, and the final output would be of size 4x4x5"),
        source("001", "If I change image size to [455 x 256]\nlhs shape= [4608,1024] rhs shape= [2048,1024]\n"
                      "error occurred."),
    ],
    examples=[
        # seed 001: a 16×16 map, 4×4 blocks with stride 4, n_dim = 5 → 4×4×5 (C = 8 chosen); larger input 20×24
        {"n": 1, "c": 8, "block": [4, 4], "grid": [4, 4], "out": 5, "grow": [4, 8], "seed_sizes": True},
        # seed 001's error numbers: a Dense built for 2048 = 8·8·32 inputs gets 4608 = 12·12·32 (the larger
        # image); 1024 outputs in the seed, 2 here (the output width does not change the error)
        {"n": 1, "c": 32, "block": [4, 4], "grid": [2, 2], "out": 2, "grow": [4, 4], "seed_sizes": True},
    ],
    # 1-D, non-square 2-D and 3-D maps, uneven blocks, growth along some axes only.  Three configurations,
    # because each new shape costs JAX a compile of every op (conv, dense) in the body.
    space=st.sampled_from([{"n": 2, "c": 2, "block": [3], "grid": [2], "out": 2, "grow": [2]},
                           {"n": 1, "c": 3, "block": [2, 3], "grid": [2, 1], "out": 3, "grow": [1, 0]},
                           {"n": 1, "c": 1, "block": [1, 2, 2], "grid": [2, 1, 2], "out": 1, "grow": [0, 1, 1]}]),
    expected="holds",
    # Keras' Dense on its torch backend computes float64 in float32: every Dense check of normal-valued draws
    deviations=[ORT_NO_FLOAT64_CONV, *ONNX_116_NO_LAYERS, KERAS_TORCH_FLOAT64_DENSE],
    notes={
        "*": "Dense is the framework's Dense/Linear layer (JAX: its linear op) and Flatten its Flatten layer "
             "(where it has none, its reshape; the check labels name it) fed the map in the framework's "
             "native layout, as a model in that framework flattens after a conv.  The per-block Dense: every "
             "non-overlapping block is cut out and flattened in (C, *block) order (reshape+transpose, done in "
             "NumPy: pure data movement), then the Dense layer; the conv (the functional op) has the same weight "
             "reshaped to (out, C, *block).  The whole-map Dense: its weight is the map-sized kernel with its "
             "columns in the row-major order of the native layout's axes, which is the order the Flatten is "
             "checked (support, bit for bit) to produce.  The wrong-size error is the Dense layer's own, raised "
             "on the Flatten of the larger map.",
    },
)
def check(bk, p, ctx):
    block, rank = tuple(p.block), len(p.block)
    size = tuple(g * b for g, b in zip(p.grid, block))
    x, w = ctx.array("x", (p.n, p.c, *size)), ctx.array("w", (p.out, p.c * math.prod(block)))
    b = ctx.array("b", (p.out,))
    xt, bt = bk.asarray(x), bk.asarray(b)

    # 1. Dense on every non-overlapping block == block-sized conv with stride = block.
    kernel = w.reshape(p.out, p.c, *block)
    flat_blocks, grid = blocks_last(x, block)
    per_block = np.moveaxis(bk.to_numpy(dense_layer(bk, w, b)(bk.asarray(flat_blocks))), -1, 1)  # (N, out, *grid)
    strided = bk.conv(xt, bk.asarray(kernel), bt, stride=block)
    ctx.equal("strided conv output shape (N, n_dim, *grid)", tuple(bk.to_numpy(strided).shape), (p.n, p.out, *grid))
    ctx.agree("Dense per block == conv(kernel = block, stride = block)", per_block, strided, oracle.conv, x, kernel, b,
              stride=block)
    ctx.matches("strided conv vs oracle", strided, oracle.conv, x, kernel, b, stride=block)

    # 2. Flatten+Dense on the whole map == conv whose kernel is the whole map (output 1×…×1).  Flatten is the
    # framework's, fed its native-layout map; the Dense weight is the map-sized kernel with its columns in
    # the row-major order of that layout's axes (N dropped), e.g. (H, W, C) for NHWC.
    native = layouts.data_layout(bk.framework_name, rank)
    flatten = bk.layer("flatten", rank=rank, in_channels=p.c)
    flat = checked_flatten(ctx, flatten, bk.to_native(xt), x, native)
    w_map = ctx.array("w_map", (p.out, p.c * math.prod(size)))
    kernel_map = w_map.reshape(p.out, p.c, *size)
    canonical = layouts.canonical("data", rank)
    head = dense_layer(bk, columns_in_order(w_map, canonical[1:], (p.c, *size), native[1:]), b)
    whole = bk.conv(xt, bk.asarray(kernel_map), bt)                             # (N, out, 1, …)
    dense = bk.to_numpy(head(flat)).reshape(ctx.numpy(whole).shape)             # (N, out) as (N, out, 1, …)
    ctx.agree("Flatten+Dense == conv with a map-sized kernel", whole, dense, oracle.conv, x, kernel_map, b)

    # 3. A larger input: Flatten+Dense raises (the Dense layer's wrong-size error), the conv runs and slides over it.
    big = ctx.array("x_big", (p.n, p.c, *(s + g for s, g in zip(size, p.grow))))
    big_t = bk.asarray(big)
    big_flat = flatten(bk.to_native(big_t))
    ctx.equal(f"{flatten.api} of the larger map: features", tuple(bk.to_numpy(big_flat).shape), (p.n, big[0].size),
              support=True)
    # (The seed's own sizes get their own error label; every drawn size shares one.)
    label = (f"Flatten+Dense: {big[0].size} inputs into a Dense built for {x[0].size}" if p.get("seed_sizes")
             else "Flatten+Dense on a larger (drawn) input")
    ctx.raises(label, head, big_flat, support=True)
    slid = bk.conv(big_t, bk.asarray(kernel_map), bt)
    ctx.equal("map-sized conv on the larger input: output (N, n_dim, grow+1 …)", tuple(bk.to_numpy(slid).shape),
              (p.n, p.out, *(g + 1 for g in p.grow)))
    ctx.matches("map-sized conv on the larger input vs oracle", slid, oracle.conv, big, kernel_map, b)
    # Its first output is the Dense applied to the top-left crop of the larger input.
    crop = big[(slice(None), slice(None)) + tuple(slice(0, s) for s in size)]
    corner = bk.to_numpy(slid)[(slice(None), slice(None)) + (0,) * rank]
    ctx.matches("conv output at the origin == Dense on the top-left crop", corner, oracle.linear, crop.reshape(p.n, -1),
                w_map, b)
