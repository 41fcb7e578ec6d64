"""padding_mode is np.pad then a VALID conv: reflect='reflect', replicate='edge', circular='wrap', not SYMMETRIC."""
from hypothesis import strategies as st

from equivcheck.case import (ORT_NO_FLOAT64_CONV, NotApplicable, claim, conv_arrays, deviation, native_layer, oracle,
                             source)


@st.composite
def _space(draw):
    # PyTorch's reflect pads less than the size: p < n.  replicate and SYMMETRIC differ from p = 2 on (n >= 3).
    rank, k = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    spatial = [draw(st.integers(max(2, k), 6)) for _ in range(rank)]
    return {"n": 1, "c_in": draw(st.integers(1, 2)), "c_out": draw(st.integers(1, 2)), "spatial": spatial, "k": k,
            "padding": draw(st.integers(1, min(spatial) - 1))}


@claim(
    title="padding_mode is a pad then a VALID conv: replicate is np.pad 'edge', not tf.pad SYMMETRIC",
    statement="PyTorch's padding modes are tf.pad's: reflect is REFLECT and replicate is SYMMETRIC (circular has no "
              "tf.pad mode); a conv with padding_mode equals that pad followed by a VALID conv.",
    sources=[
        source("AlexanderLutsenko/nobuco#49", "PyTorch's reflect and TensorFlow's REFLECT are similar. PyTorch's "
                                              "replicate is similar to TensorFlow's SYMMETRIC. TensorFlow does not "
                                              "have an equivalent for PyTorch's circular mode."),
        source("keras-team/keras#19988", "Keras supports only zero padding in the convolution layer; torch has "
                                         "'reflect', 'replicate' or 'circular' and jax has 'circular'"),
        source("tensorflow/tensorflow#41894", "reflection padding in TF is tf.pad(mode='REFLECT') before a VALID "
                                              "conv (CLAIMS.md §F)"),
        source("pytorch/pytorch#46240", "ReflectionPadNd does not repeat the boundary pixels; TF's SYMMETRIC does"),
    ],
    examples=[
        # the smallest where they part: 3 pixels padded by 2 (replicate a a | a b c, SYMMETRIC b a | a b c)
        {"n": 1, "c_in": 1, "c_out": 1, "spatial": [3], "k": 1, "padding": 2},
        {"n": 1, "c_in": 2, "c_out": 3, "spatial": [4, 5], "k": 3, "padding": 1},  # pad 1: they agree (converters test)
        {"n": 1, "c_in": 2, "c_out": 2, "spatial": [5, 4], "k": 3, "padding": 3},
    ],
    space=_space(),
    expected={"*": "refuted", "openvino": "n/a"},
    # every example runs the conv layers, whose ONNX graphs' Conv has no float64 kernel in ONNX Runtime
    deviations=[deviation("onnxruntime", "refuted", dtype="float64", onnx="1.16.2",
                          reason="with onnx 1.16.2 there are no exported layers (onnx-exporter-needs-onnx-1.17), so no "
                                 "float64 Conv layer is built before the statement's pad check, which runs (float64 "
                                 "Pad exists) and refutes"), ORT_NO_FLOAT64_CONV],
    notes={"*": "The statement is checked on the framework's own pad: its replicate ('edge') against np.pad "
                "'symmetric', or where it has no replicate (tf.pad) its SYMMETRIC against np.pad 'edge'. Supporting: "
                "every mode the framework's pad has equals np.pad's, and every padding_mode its conv layer has "
                "(torch padding_mode, Flax padding='CIRCULAR', ...) equals np.pad then a VALID conv."},
)
def check(bk, p, ctx):
    rank, pad = len(p.spatial), p.padding
    x, w, _ = conv_arrays(ctx, p)
    X, pairs = bk.asarray(x), [(pad, pad)] * rank
    for mode in ("constant", "reflect", "edge", "wrap", "symmetric"):
        try:
            ctx.matches(f"the framework's {mode!r} pad vs np.pad", bk.pad(X, pairs, mode), oracle.pad, x, pairs, mode,
                        support=True)
        except NotApplicable:
            pass
        # zero padding is every conv's own; the modes are what the claim is about
        layer = None if mode == "constant" else native_layer(
            bk, "conv", rank=rank, in_channels=p.c_in, out_channels=p.c_out, kernel_size=p.k, padding=pad,
            padding_mode=mode, use_bias=False, input_shape=x.shape)
        if layer is not None:
            layer.set_weights(bk.asarray(w))
            native = layer.extra.get("padding_mode", mode)
            ctx.fact(f"{layer.api} padding_mode for np.pad {mode!r}", native)
            ctx.matches(f"{layer.api}(padding_mode={native!r}) vs np.pad {mode!r} then VALID conv", layer(X),
                        oracle.conv, oracle.pad(x, pairs, mode), w, support=True)
    try:
        got, mine, other = bk.pad(X, pairs, "edge"), "replicate ('edge')", "symmetric"
    except NotApplicable:
        got, mine, other = bk.pad(X, pairs, "symmetric"), "SYMMETRIC", "edge"
    ctx.matches(f"the framework's {mine} pad vs np.pad {other!r} (replicate = SYMMETRIC)", got, oracle.pad, x, pairs,
                other)
