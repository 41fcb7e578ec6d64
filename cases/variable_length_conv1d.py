"""One Conv1D with fixed weights runs on sequences of any length; Flatten+Dense does not."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import (KERAS_TORCH_FLOAT64_DENSE, ONNX_116_NO_LAYERS, ORT_NO_FLOAT64_CONV, checked_flatten, claim,
                             conv_layers, dense_layer, layouts, op_bounds, oracle, row_major_flatten, source)


def _length(out, k, s, d, extra):
    """An input length whose 'valid' conv output has ``out`` positions (``extra`` < s spare steps)."""
    return (out - 1) * s + d * (k - 1) + 1 + extra


@st.composite
def _space(draw):
    k, s = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    d = draw(st.integers(1, 2)) if s == 1 else 1  # Keras Conv1D refuses strides > 1 with dilation_rate > 1
    outs = draw(st.lists(st.integers(1, 4), min_size=2, max_size=2, unique=True))
    return {"dim": draw(st.integers(1, 4)), "filters": draw(st.integers(1, 3)), "k": k, "s": s, "d": d,
            "lengths": [_length(o, k, s, d, draw(st.integers(0, s - 1))) for o in outs],
            "units": draw(st.integers(1, 3)), "pools": [draw(st.sampled_from(["max", "avg"]))]}


@claim(
    title="A Conv1D runs on sequences of any length; Flatten+Dense needs a fixed length",
    statement="One Conv1D layer with fixed weights (Keras input_shape=(None, dim)) runs on sequences of different "
              "lengths: each output equals running that sequence alone, in a zero-padded batch the positions "
              "untouched by the padding equal the unpadded run, and global max/average pooling gives the same "
              "output size whatever the length; Flatten followed by Dense, built for one length, raises on another.",
    sources=[
        source("003", "Keras supports variable lengths by using None in the respective dimension when defining the "
                      "model."),
        source("003", "All you need to make this model accept variable lengths is use None in the steps "
                      "dimension:\ninput_shape=(None, input_dim)"),
        source("003", "Pad your sequences with dummy values until they all reach the same size so you can put them "
                      "into a numpy array of shape (batch_size, length, input_dim)."),
        source("003", "In convolutional models using variable sizes, you can't for instance, use Flatten, the "
                      "result of the flatten would have a variable size if this were possible. And the following "
                      "Dense layers would not be able to have a constant number of weights."),
        source("003", "So, instead of Flatten, you should start using GlobalMaxPooling1D or GlobalAveragePooling1D "
                      "layers."),
    ],
    examples=[
        # seed 003: a.shape = (100, 100), b.shape = (200, 100): lengths 100 and 200 of 100-dim vectors
        {"dim": 100, "filters": 8, "k": 3, "s": 1, "d": 1, "lengths": [100, 200], "units": 5, "pools": ["max", "avg"]},
        # three lengths with stride 2 (one with a spare step); two with dilation 2
        {"dim": 3, "filters": 2, "k": 3, "s": 2, "d": 1, "lengths": [9, 6, 12], "units": 2, "pools": ["max"]},
        {"dim": 2, "filters": 3, "k": 2, "s": 1, "d": 2, "lengths": [7, 4], "units": 1, "pools": ["avg"]},
    ],
    space=_space(), expected="holds", deviations=[ORT_NO_FLOAT64_CONV, *ONNX_116_NO_LAYERS, KERAS_TORCH_FLOAT64_DENSE],
    notes={
        "*": "Every framework's Conv1d/Conv1D layer is built once (TF: keras Conv1D built for (None, None, dim), "
             "i.e. input_shape=(None, dim)) and called on each length; global pooling is max/avg pooling whose "
             "window is the whole output length.  Flatten is the framework's Flatten layer (torch.nn.Flatten, "
             "keras.layers.Flatten; where it has none, its reshape: np.reshape, jnp.reshape, Flax's "
             "x.reshape((x.shape[0], -1))) fed each conv output in the framework's native layout (NCW for torch, "
             "NumPy and lax, NWC for Keras and Flax) and checked bit for bit (support) against the row-major "
             "flatten of that layout's axes; the Dense layer after it is built for the first length. Stride > 1 "
             "never meets dilation > 1 here: Keras Conv1D refuses that pair (\"`strides > 1` not supported in "
             "conjunction with `dilation_rate > 1`\"), a restriction of Keras, not of variable lengths.",
    },
)
def check(bk, p, ctx):
    w, b = ctx.array("w", (p.filters, p.dim, p.k)), ctx.array("b", (p.filters,))
    w_dense = ctx.array("w_dense", (p.units, p.filters * oracle.conv_output_size(p.lengths[0], p.k, p.s, 0, p.d)))
    xs = [ctx.array(f"x{i}", (1, p.dim, length)) for i, length in enumerate(p.lengths)]
    batch = np.zeros((len(xs), p.dim, max(p.lengths)))
    for i, x in enumerate(xs):
        batch[i, :, :x.shape[2]] = x
    conv_kw = dict(stride=p.s, dilation=p.d)
    native = layouts.data_layout(bk.framework_name, 1)                       # NCW or NWC
    # each layer API's conv, Flatten and Dense, or (no layers) the functional conv with fixed weight arrays,
    # the framework's reshape as the flatten handle and its linear op
    for api, conv in conv_layers(bk, w, b, functional=bk.functional_api, rank=1, kernel_size=p.k, **conv_kw):
        name, api_kw = (conv.api, {"api": api}) if bk.layer_apis else (api, {})
        flatten = bk.layer("flatten", rank=1, in_channels=p.filters, **api_kw)
        dense = dense_layer(bk, w_dense, use_bias=False, **api_kw)
        outs = [conv(bk.asarray(x)) for x in xs]
        for x, y in zip(xs, outs):
            ctx.matches(f"{name}: length {x.shape[2]} vs that sequence alone (oracle)", y, oracle.conv, x, w, b,
                        **conv_kw)
        ctx.fact(f"{name}: one layer, fixed weights, output lengths",
                 {str(x.shape[2]): int(y.shape[2]) for x, y in zip(xs, outs)})

        padded = ctx.numpy(conv(bk.asarray(batch)))
        for i, y in enumerate(outs):
            ctx.agree(f"{name}: zero-padded batch row {i}, positions untouched by padding, vs the unpadded run",
                      padded[i:i + 1, :, :y.shape[2]], y, oracle.conv, xs[i], w, b, **conv_kw)

        for pool in p.pools:
            sizes = set()
            for x, y in zip(xs, outs):
                length = int(y.shape[2])
                pooled = (bk.max_pool if pool == "max" else bk.avg_pool)(y, length, length)
                sizes.add(tuple(pooled.shape))
                # pooling composed with the conv: the conv's terms plus the window's, its largest magnitude
                want = (np.max if pool == "max" else np.mean)(oracle.conv(x, w, b, **conv_kw), axis=2, keepdims=True)
                magnitude = op_bounds.magnitude(oracle.conv, x, w, b, **conv_kw).max(axis=2, keepdims=True)
                ctx.close(f"{name}: global {pool} pooling of length {length} vs oracle", pooled, want,
                          magnitude=magnitude, terms=op_bounds.terms(oracle.conv, x, w, b) + length, sides=1)
            ctx.equal(f"{name}: global {pool} pooling output size is the same for every length", sorted(sizes),
                      [(1, p.filters, 1)])

        # Flatten: the framework's Flatten fed each conv output in the native layout, as a model in that
        # framework flattens; the Dense after it is built for the first length and refuses the others
        flat = [checked_flatten(ctx, flatten, bk.to_native(y), ctx.numpy(y), native,
                                f"output of length {int(y.shape[2])}", prefix=f"{name}: ") for y in outs]
        ctx.matches(f"{name}: Flatten+Dense on the length it was built for", dense(flat[0]), oracle.linear,
                    row_major_flatten(ctx.numpy(outs[0]), native), w_dense)
        for v in flat[1:]:
            ctx.raises(f"{name}: Flatten+Dense built for one length, called on another", dense, v, support=True)
