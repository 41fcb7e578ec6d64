"""Max pooling pads with −∞, not zeros: zero-padding first differs wherever a window's inputs are all negative."""
import numpy as np

from equivcheck.case import NotApplicable, claim, example_input, native_layer, oracle, same_pools, source


@claim(
    title="MaxPool's padding is −∞, not zeros: zero-padding then MaxPool differs on negative inputs",
    statement="MaxPool with padding p equals zero-padding the input by p, then a VALID MaxPool.",
    sources=[
        source("pytorch/pytorch#33384", "Max-pooling uses implicit negative infinity padding, not zero-padding as "
                                        "indicated in documentation: the maximum initializes with negative infinity "
                                        "and only considers entries from the original, unpadded input"),
        source("tensorflow/tensorflow#10216", "max_pool of [[1,-1,0],[-1,2,1],[0,2,-2]], 2x2, strides 2, 'SAME' gives "
                                              "[[2,1],[2,-2]]: the last element should be 0 with zero-padding"),
        source("chainer/onnx-chainer PR#45", "exporting a padded max pooling as a zero Pad before MaxPool changes "
                                             "the result on negative inputs (CLAIMS.md §F)"),
        source("opencv/opencv PR#10867", "a pooling layer's padding must not be zeros for max pooling "
                                         "(CLAIMS.md §F)"),
    ],
    examples=[
        # the smallest: one negative pixel, k = 3, pads (1, 1): -1 stays -1; zero-padding gives 0
        {"n": 1, "c": 1, "spatial": [1], "k": 3, "stride": 1, "x": [-1.0]},
        # tensorflow#10216's map and 'SAME' pooling, pads (0, 1): -2 stays -2; zero-padding gives 0
        {"n": 1, "c": 1, "spatial": [3, 3], "k": 2, "stride": 2,
         "x": [[1.0, -1.0, 0.0], [-1.0, 2.0, 1.0], [0.0, 2.0, -2.0]]},
        # pytorch#33384's input [-1, -2], k = 3, pads (1, 1)
        {"n": 1, "c": 1, "spatial": [2], "k": 3, "stride": 1, "x": [-1.0, -2.0]},
        {"n": 1, "c": 2, "spatial": [5, 4], "k": 3, "stride": 1},
    ],
    space=same_pools(1),
    expected="refuted",
    notes={"*": "The pads are the 'SAME' pads of each example, given explicitly where the framework takes them and as "
                "its own 'same' where it does not (tf.nn.max_pool, then also the layer). Supporting: the framework's "
                "MaxPool equals −∞ padding then a VALID MaxPool, and its own zero pad then a VALID MaxPool equals the "
                "oracle's; the native layer (torch MaxPool{n}d(padding), Keras MaxPooling{n}D('same'), ...) agrees."},
)
def check(bk, p, ctx):
    rank, k, s = len(p.spatial), p.k, p.stride
    x = example_input(ctx, p, (p.n, p.c, *p.spatial))
    X, pads = bk.asarray(x), [oracle.same_padding(n, k, s) for n in p.spatial]
    try:
        got, word = bk.max_pool(X, k, s, padding=pads), pads
    except NotApplicable:  # no explicit pool padding (tf.nn.max_pool): the same pads are its 'same'
        got, word = bk.max_pool(X, k, s, padding="same"), "same"
    edges = [(0, 0), (0, 0)] + pads
    ctx.matches(f"MaxPool(padding={word}) vs −∞ padding then VALID MaxPool", got, oracle.max_pool,
                np.pad(x, edges, constant_values=-np.inf), k, stride=s, support=True)
    zero_padded = bk.max_pool(bk.pad(X, pads, "constant"), k, s)
    ctx.matches("the framework's zero Pad then VALID MaxPool vs oracle", zero_padded, oracle.max_pool,
                np.pad(x, edges), k, stride=s, support=True)
    ctx.matches(f"MaxPool(padding={word}) vs zero padding then VALID MaxPool", got, oracle.max_pool, np.pad(x, edges),
                k, stride=s)
    layer = native_layer(bk, "max_pool", rank=rank, in_channels=x.shape[1], kernel_size=k, stride=s, padding=word,
                         input_shape=x.shape)
    if layer is not None:
        ctx.matches(f"{layer.api}(padding={word!r}) vs the functional MaxPool", layer(X), oracle.max_pool, x, k,
                    stride=s, padding=pads, support=True)
