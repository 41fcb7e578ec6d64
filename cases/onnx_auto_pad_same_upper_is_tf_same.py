"""ONNX auto_pad=SAME_UPPER is TF's 'SAME' (odd pixel last); SAME_LOWER is its mirror; SAME ConvTranspose gives n·s."""
from hypothesis import strategies as st

from equivcheck.case import (ONNX_116_AUTO_PAD, ORT_NO_FLOAT64_CONV, STRIDE_OR_DILATION, claim, conv_arrays, oracle,
                             run_conv, run_conv_transpose, source)

#: The frameworks whose conv_transpose takes a 'same' word (PyTorch's and the oracle's take integer padding only).
SAME_TRANSPOSE = ("tensorflow", "jax", "flax", "onnxruntime", "onnx")
#: The frameworks with a native SAME_LOWER (ONNX's auto_pad); the rest spell it with explicit pads.
SAME_LOWER = ("onnxruntime", "onnx")


@st.composite
def _space(draw):
    rank = draw(st.integers(1, 2))
    stride, dilation = draw(st.sampled_from(STRIDE_OR_DILATION + [(3, 1)]))
    k = draw(st.integers(1, 4))
    return {"n": 1, "c_in": draw(st.integers(1, 2)), "c_out": draw(st.integers(1, 2)), "k": k, "stride": stride,
            "dilation": dilation, "spatial": [draw(st.integers(1, 7)) for _ in range(rank)]}


@claim(
    title="ONNX SAME_UPPER is TF 'SAME' (odd pixel at the end), SAME_LOWER its mirror; SAME ConvTranspose gives n·s",
    statement="ONNX auto_pad=SAME_UPPER pads like TF/Keras/Flax/lax 'SAME': total max((⌈n/s⌉−1)s + d(k−1) + 1 − n, 0), "
              "the odd pixel at the end; SAME_LOWER puts it at the start; a 'SAME' ConvTranspose gives n·s outputs, "
              "the full output cropped by ⌊t/2⌋ at the start for SAME_UPPER (t = d(k−1) + 1 − s).",
    sources=[
        source("microsoft/onnxruntime PR#5368", "if auto_pads == 'SAME_UPPER': pad_head = paddings / 2 (smaller one), "
                                                "pad_tail = the larger one; SAME_LOWER the reverse; ConvTranspose had "
                                                "the two swapped"),
        source("microsoft/onnxruntime#4086", "ConvTranspose with auto_pad=SAME_UPPER on a 1x1x2x2 input and a 3x3 "
                                             "kernel gave (1, 1, 4, 4); it should have been the input's shape"),
        source("onnx/onnx#4299", "ONNX's SAME_UPPER/SAME_LOWER definition for Conv and ConvTranspose (CLAIMS.md §F)"),
        source("onnx/onnx-tensorflow#969", "converting ONNX SAME_LOWER to TF 'SAME' misplaces the odd pixel "
                                           "(CLAIMS.md §F)"),
    ],
    examples=[
        # onnxruntime#4086: x 1x1x2x2, w 3x3, stride 1: SAME ConvTranspose keeps 2x2 (conv: total 2, even)
        {"n": 1, "c_in": 1, "c_out": 1, "spatial": [2, 2], "k": 3, "stride": 1, "dilation": 1},
        {"n": 1, "c_in": 1, "c_out": 1, "spatial": [2], "k": 2, "stride": 1, "dilation": 1},  # SAME (0, 1), LOWER (1,0)
        # strided: n = 6 -> total 1 (odd), n = 7 -> total 2; dilated, total 4
        {"n": 1, "c_in": 2, "c_out": 3, "spatial": [6, 7], "k": 3, "stride": 2, "dilation": 1},
        {"n": 1, "c_in": 2, "c_out": 2, "spatial": [5], "k": 3, "stride": 1, "dilation": 2},
    ],
    space=_space(),
    deviations=[ORT_NO_FLOAT64_CONV, ONNX_116_AUTO_PAD],
    expected={"*": "holds", "torch": "raises"},
    notes={"*": "SAME_LOWER is ONNX's auto_pad word on the ONNX engines and explicit mirrored pads (after, before) "
                "elsewhere (no other framework has it); the pads of each are recorded as facts.",
           "torch": "PyTorch's padding='same' raises for strided convs (RuntimeError), and its conv_transpose takes "
                    "integer padding only: the strided fixed example raises.",
           "numpy": "The oracle's conv_transpose takes PyTorch's integer padding: no SAME ConvTranspose check."},
)
def check(bk, p, ctx):
    rank, s, d = len(p.spatial), p.stride, p.dilation
    x, w, _ = conv_arrays(ctx, p)
    upper = [oracle.same_padding(n, p.k, s, d) for n in p.spatial]
    lower = [(after, before) for before, after in upper]
    ctx.fact(f"SAME_UPPER / SAME_LOWER pads (before, after) for n={p.spatial}, k={p.k}, s={s}, d={d}", [upper, lower])
    ctx.matches("'same' vs pads with the odd pixel at the end",
                run_conv(bk, x, w, stride=s, padding="same", dilation=d), oracle.conv, x, w, stride=s, padding=upper,
                dilation=d)
    native = "SAME_LOWER" if bk.framework_name in SAME_LOWER else lower
    ctx.matches(f"SAME_LOWER as {native!r} vs pads with the odd pixel at the start",
                run_conv(bk, x, w, stride=s, padding=native, dilation=d), oracle.conv, x, w, stride=s, padding=lower,
                dilation=d)
    t = d * (p.k - 1) + 1 - s
    if bk.framework_name not in SAME_TRANSPOSE or t < 0:
        return
    wt = ctx.array("w_transpose", (p.c_in, p.c_out, *(p.k,) * rank))
    crops = {"same": [(t // 2, t - t // 2)] * rank}
    if bk.framework_name in SAME_LOWER:
        crops["SAME_LOWER"] = [(t - t // 2, t // 2)] * rank
    for word, crop in crops.items():
        got = run_conv_transpose(bk, x, wt, stride=s, padding=word, dilation=d)
        ctx.equal(f"conv_transpose({word!r}) output size == n·s", list(ctx.numpy(got).shape[2:]),
                  [n * s for n in p.spatial])
        ctx.matches(f"conv_transpose({word!r}) == full output cropped by {crop[0]}", got, oracle.conv_transpose, x, wt,
                    stride=s, padding=crop, dilation=d)
