"""'SAME' is not symmetric padding: it pads max((⌈n/s⌉−1)s + d(k−1)+1 − n, 0) in all, the odd pixel last."""
from hypothesis import strategies as st

from equivcheck.case import (ONNX_116_AUTO_PAD, ORT_NO_FLOAT64_CONV, claim, conv_arrays, discover_pads, native_layer,
                             oracle, record_same_split, source)


@st.composite
def _space(draw):
    # Every draw is a candidate counterexample: an odd kernel, stride >= 2, and n mod s != 1 (n mod s == 1 is
    # exactly when they agree).  The smallest draw, what hypothesis shrinks to, is 1-D: n = 2, k = 3, stride 2.
    rank = draw(st.integers(1, 2))
    k = draw(st.lists(st.sampled_from([3, 5]), min_size=rank, max_size=rank))
    stride = draw(st.integers(2, 3))
    spatial = [stride * draw(st.integers(1, 3)) + draw(st.sampled_from([0] + list(range(2, stride))))
               for _ in range(rank)]
    return {"n": 1, "c_in": draw(st.integers(1, 2)), "c_out": draw(st.integers(1, 2)), "spatial": spatial, "k": k,
            "stride": stride, "dilation": draw(st.integers(1, 2))}


#: Shapes (n, k, stride, dilation) whose discovered split is recorded one by one: the seeds' and the
#: smallest counterexample's.  Every other split only feeds the rule fact below.
ILLUSTRATIVE = {(4, 3, 2, 1), (80, 3, 2, 1), (28, 6, 1, 1), (28, 5, 1, 1)}


def _split(ctx, got, x, w, s, d):
    """The framework's 'same' split, discovered from its output ``got`` and recorded, against the formula."""
    pads = discover_pads(ctx, ctx.numpy(got), x, w, s, d)
    if pads is not None:
        record_same_split(ctx, pads, x, w, s, d, ILLUSTRATIVE)
        ctx.equal(f"discovered 'same' split (stride {s}) == formula", pads,
                  [oracle.same_padding(n, k, s, d) for n, k in zip(x.shape[2:], w.shape[2:])], support=True)


@claim(
    title="'SAME' padding is asymmetric: symmetric padding (k−1)/2 differs from it at stride 2 on even sizes",
    statement="For an odd kernel k, padding (k−1)/2 pixels on each side (d(k−1)/2 with dilation d) is the same as "
              "padding='same' ('SAME'), whatever the stride.",
    sources=[
        source("001", "To get the same output dimension as the input dimension, you need to add padding. Padding "
                      "consists of adding the right number of rows and columns on each side of the matrix."),
        source("001", "give the result image again in size 28x28 because we use padding='SAME'"),
        source("000", "These are both strided by 2 × 2, downsampling the sequence in time by a total factor of 4"),
    ],
    examples=[
        # seed 001: tf.nn.conv2d(x, W [5, 5, 1, 32], strides 1, 'SAME') on 28 x 28 stays 28 x 28: here they agree
        {"n": 1, "c_in": 1, "c_out": 32, "spatial": [28, 28], "k": [5, 5], "stride": 1, "dilation": 1},
        # seed 001: Keras Conv2D(32, (3, 3), padding='same') on 64 x 64 x 3 (here 8 x 8): they agree
        {"n": 1, "c_in": 3, "c_out": 32, "spatial": [8, 8], "k": [3, 3], "stride": 1, "dilation": 1},
        # seed 000: T x 80 x 3 mel features, 3x3 strided 2x2 (T = 8): 'same' pads (0, 1), symmetric (1, 1)
        {"n": 1, "c_in": 3, "c_out": 32, "spatial": [8, 80], "k": [3, 3], "stride": 2, "dilation": 1},
        # the smallest counterexample: stride 2 on an even input
        {"n": 1, "c_in": 1, "c_out": 1, "spatial": [4], "k": [3], "stride": 2, "dilation": 1},
    ],
    space=_space(),
    deviations=[ORT_NO_FLOAT64_CONV, ONNX_116_AUTO_PAD],
    expected={"*": "refuted", "torch": "raises"},
    notes={
        "*": "Every example first checks the framework's own 'same' at stride 1 with an even kernel (k+1, dilation "
             "d), where the total padding is odd, against the formula, and discovers the (before, after) split by "
             "trying every split (recorded as facts). Then at the example's stride (dilation 1, since tf.nn rejects "
             "stride > 1 with dilation > 1): the framework's 'same' against the formula and its discovered split, "
             "then the statement (symmetric padding vs 'same'), then the native layer with padding='same' where the "
             "framework has layers.",
        "torch": "PyTorch's padding='same' exists for stride 1 only (where it follows the same formula, odd pixel "
                 "at the end, as the even-kernel check shows); for stride > 1 F.conv{n}d raises RuntimeError "
                 "\"padding='same' is not supported for strided convolutions\", so the strided statement cannot be "
                 "evaluated: verdict raises.",
    },
)
def check(bk, p, ctx):
    x, w, _ = conv_arrays(ctx, p)
    w_even = ctx.array("w_even", (p.c_out, p.c_in, *(k + 1 for k in p.k)))
    X, d, s = bk.asarray(x), p.dilation, p.stride
    # Stride 1, even kernel k+1: the total padding d·k is odd (for odd d): the split shows where the odd pixel goes
    same_even = bk.conv(X, bk.asarray(w_even), padding="same", dilation=d)
    ctx.matches("'same' (stride 1, even kernel) vs the formula", same_even, oracle.conv, x, w_even, padding="same",
                dilation=d, support=True)
    _split(ctx, same_even, x, w_even, 1, d)
    # The example's stride (dilation 1): the framework's own 'same' (PyTorch raises here for stride > 1).
    same = bk.conv(X, bk.asarray(w), stride=s, padding="same")
    ctx.matches(f"'same' (stride {s}) vs the formula", same, oracle.conv, x, w, stride=s, padding="same", support=True)
    _split(ctx, same, x, w, s, 1)
    # The statement, then the native layer with padding='same' (Keras Conv{n}D, Flax Conv 'SAME', torch Conv{n}d)
    half = [(k - 1) // 2 for k in p.k]
    ctx.alike(f"symmetric padding (k-1)//2 vs 'same' (stride {s})", bk.conv(X, bk.asarray(w), stride=s, padding=half),
              same, (oracle.conv, (x, w), dict(stride=s, padding="same")),
              (oracle.conv, (x, w), dict(stride=s, padding=half)))
    layer = native_layer(bk, "conv", rank=len(p.spatial), in_channels=p.c_in, out_channels=p.c_out,
                         kernel_size=tuple(p.k), stride=s, padding="same", use_bias=False, input_shape=x.shape)
    if layer is not None:
        layer.set_weights(bk.asarray(w))
        ctx.agree(f"{layer.api}(padding='same', stride {s}) vs the functional 'same'", layer(X), same, oracle.conv, x,
                  w, stride=s, padding="same", support=True)
