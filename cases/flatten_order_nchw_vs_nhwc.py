"""Porting the Linear after x.view(-1, 16*5*5) from NCHW to an NHWC Flatten+Dense needs a column permutation."""
import itertools
import math

import numpy as np
from hypothesis import strategies as st

from equivcheck.case import (KERAS_TORCH_FLOAT64, ONNX_116_NO_LAYERS, checked_flatten, claim, column_order_rule,
                             columns_in_order, dense_layer, deviation, layouts, oracle, source)


@claim(
    title="Copying a Linear's weight from an NCHW flatten to an NHWC Flatten+Dense changes the outputs",
    statement="The Linear that follows a conv in an NCHW model (x = x.view(-1, 16*5*5); x = self.fc1(x)) can be "
              "ported to an NHWC framework's Flatten+Dense by copying its weight matrix as it is (only transposed "
              "to the Dense kernel's (in, out) layout): the two models give the same outputs.",
    sources=[
        source("003", "x = x.view(-1, 16 * 5 * 5)\nx = F.relu(self.fc1(x))"),
        source("003", "Is this why we use the command “x = x.view(-1, 16 * 5 * 5)” before inserting x into the "
                      "fully-connected layers?"),
        source("003", "flatten the 64 channels [turn a matrix into a vector by stacking the columns or rows], and "
                      "pass it as a column vector into a fully connected network"),
    ],
    examples=[
        # seed 003: the PyTorch tutorial's conv2 output 16×5×5 flattened into fc1 = Linear(400, 120)
        {"n": 1, "c": 16, "spatial": [5, 5], "out": 120, "discover": True},
        # the same with a batch of 4 and a 1-D and a 3-D feature map
        {"n": 4, "c": 16, "spatial": [5, 5], "out": 120}, {"n": 2, "c": 3, "spatial": [7], "out": 4, "discover": True},
        {"n": 1, "c": 2, "spatial": [2, 3, 4], "out": 3, "discover": True},
    ],
    # Only maps where the two flatten orders differ (C >= 2 and more than one pixel); 1-D, 2-D and 3-D.
    space=st.fixed_dictionaries({
        "n": st.integers(1, 2), "c": st.integers(2, 4),
        "spatial": st.lists(st.integers(1, 3), min_size=1, max_size=3).filter(lambda s: math.prod(s) > 1),
        "out": st.integers(1, 3)}),
    expected="refuted",
    # the bug also breaks the supporting check "NHWC Flatten+Dense with permuted columns == NCHW model"
    deviations=[deviation("tensorflow", "refuted", dtype="float64", keras_backend="torch", supporting=True,
                          reason=KERAS_TORCH_FLOAT64), *ONNX_116_NO_LAYERS],
    notes={
        "*": "The NCHW source model: the (N, C, *spatial) maps flattened channel-major (x.view(-1, C·H·W)), then a "
             "linear map with weight (out, C·H·W); the maps are the drawn ones plus every one-hot map, and the "
             "weight's columns are distinct (noise + 8·column), so the refutation never hinges on a lucky draw.  "
             "The NHWC port: the same maps in channels-last order, flattened, then a Dense with the weight copied "
             "as is.  The check labels name the flatten that ran (the Flatten layer, or the reshape where there is "
             "none); every flatten is checked bit for bit (support=True) against the row-major flatten of "
             "its input's axes, (C, *spatial) on the source side and (*spatial, C) on the port side, so a Flatten "
             "layer that flattened in another order fails that check.  The repair, with support=True: the "
             "weight's input columns permuted from (C, *spatial) to (*spatial, C) order, which gives identical "
             "outputs; the fact 'column_order' is found by trying every axis order.",
    },
)
def check(bk, p, ctx):
    rank, features, shape = len(p.spatial), p.c * math.prod(p.spatial), (p.c, *p.spatial)
    x = ctx.array("x", (p.n, *shape))                           # the conv's output feature map, canonical NCHW
    # The drawn maps, then every one-hot map (each single feature on), so that a weight that only works
    # for these particular maps cannot pass by accident.
    maps = np.concatenate([x, np.eye(features).reshape(features, *shape)])
    batch, xt = maps.shape[0], bk.asarray(maps)
    flat = maps.reshape(batch, features)                         # (C, *spatial) order, row-major
    # fc1 of the NCHW model, (out, C·H·W).  Its columns are made distinct (noise + 8·column, rounded to the
    # run dtype), as a trained layer's are: a weight with two equal columns would be blind to their order.
    w = (ctx.array("w_noise", (p.out, features)) + 8.0 * np.arange(features)).astype(ctx.dtype).astype(np.float64)
    canonical = layouts.canonical("data", rank)                  # e.g. NCHW
    channels_last = canonical.replace("C", "") + "C"             # e.g. NHWC
    native = layouts.data_layout(bk.framework_name, rank)
    # The framework's Flatten (torch.nn.Flatten, keras.layers.Flatten) or, where it has none, its reshape.
    # The handle flattens the tensor it is given as it is: what it is fed is said at each call.
    flatten = bk.layer("flatten", rank=rank, in_channels=p.c)

    # The NCHW source model: x.view(-1, C·H·W) then Linear.  An NCHW-native framework runs it with its own
    # Flatten on its native tensor and its Linear layer (torch.nn.Flatten + torch.nn.Linear); an NHWC one
    # writes the NCHW model with its reshape of the canonical tensor and its linear op.
    if native == canonical:
        source_flat = checked_flatten(ctx, flatten, bk.to_native(xt), maps, canonical, prefix="source side: ")
        source_out = dense_layer(bk, w, use_bias=False)(source_flat)
    else:
        source_flat = checked_flatten(ctx, lambda t: bk.reshape(t, (batch, features)), xt, maps, canonical,
                                      prefix="source side: ", api=f"{bk.framework_name}'s reshape")
        source_out = bk.linear(source_flat, bk.asarray(w))
    # The same maps in the NHWC framework: its native tensor when the framework is channels-last (its Flatten
    # then reads the layout it was built for), otherwise the canonical maps permuted to channels-last
    # (porting *to* an NHWC framework).
    nhwc = bk.to_native(xt) if native == channels_last else bk.transpose(
        xt, layouts.permutation(canonical, channels_last))
    nhwc_flat = checked_flatten(ctx, flatten, nhwc, maps, channels_last, prefix="NHWC side: ")
    port_dense = dense_layer(bk, w, use_bias=False)              # built once, weights loaded per variant

    def dense(weight):
        port_dense.set_weights(weight)
        return port_dense(nhwc_flat)

    ctx.matches("NCHW source model vs oracle", source_out, oracle.linear, flat, w, support=True)
    # The statement: copy the weight as it is.  It compares the ported model with the source model, two
    # different products if the statement is wrong: the bound is the source model's op's.
    ported_as_is = dense(w)
    ctx.agree("NHWC Flatten+Dense with the weight copied as is == NCHW model (drawn maps)",
              bk.to_numpy(ported_as_is)[:p.n], bk.to_numpy(source_out)[:p.n], oracle.linear, flat[:p.n], w)
    ctx.agree("NHWC Flatten+Dense with the weight copied as is == NCHW model (one-hot maps)", ported_as_is,
              source_out, oracle.linear, flat, w)

    # The repair: permute the weight's input columns from (C, *spatial) to (*spatial, C) order, the
    # permutation taken from the layout table (canonical data layout → channels-last, without N).
    src, dst = canonical.replace("N", ""), channels_last.replace("N", "")
    ctx.agree("NHWC Flatten+Dense with permuted columns == NCHW model", dense(columns_in_order(w, src, shape, dst)),
              source_out, oracle.linear, flat, w, support=True)

    # The column order, found live on the fixed examples: try every axis order for the ported weight and
    # keep those that reproduce the NCHW model within the same derived bound.
    if p.get("discover"):
        reference = bk.to_numpy(source_out)
        matches = ["".join(order) for order in itertools.permutations(src)
                   if ctx.fits(dense(columns_in_order(w, src, shape, order)), reference, oracle.linear, flat, w)]
        ctx.equal("exactly one column order reproduces the NCHW model", len(matches), 1, support=True)
        if len(matches) == 1:
            ctx.fact(f"column_order.{rank}d", column_order_rule(src, matches[0]))
