"""ceil_mode: out = ⌈(n + 2p − d(k−1) − 1)/s⌉ + 1, minus one when the last window would start in the right padding."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import (ORT_NO_FLOAT64_CONV, claim, deviation, example_input, known_issues, native_layer, oracle,
                             source)


@st.composite
def _space(draw):
    rank, k, s, d = draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    p = draw(st.integers(0, k // 2))   # PyTorch's limit: padding at most half the kernel
    # dilated: the input spans the dilated kernel, so no window's taps all fall in the padding
    spatial = [max(1, d * (k - 1) + 1 - (2 * p if d == 1 else 0)) + draw(st.integers(0, 4)) for _ in range(rank)]
    return {"n": 1, "c": draw(st.integers(1, 2)), "spatial": spatial, "k": k, "stride": s, "padding": p, "dilation": d}


def ceil_rule(n, k, s, p, d):
    """The statement's output size: the ceiling, minus one when the last window starts at or past n + p."""
    out = -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1
    return out - 1 if (out - 1) * s >= n + p else out


@claim(
    title="Pooling with ceil_mode=True: the ceiling, minus the last window if it would start in the right padding",
    statement="With ceil_mode=True, PyTorch and ONNX pooling give out = ⌈(n + 2p − d(k−1) − 1)/s⌉ + 1 outputs, minus "
              "one when the last window would start in the right padding; the average of a window that runs past "
              "the padding divides by its part inside the padded input (count_include_pad=True) or inside the input.",
    sources=[
        source("pytorch/pytorch#71549", "ONNX: wrong output shape for ceil_mode pooling: AvgPool2d(3, stride 3, "
                                        "padding 1, ceil_mode=True) on a 2x2 input"),
        source("onnx/onnx#5711", "fixed by onnx/onnx#5741: the output size shall not increase fully to the padding "
                                 "part of the input region in ceil mode"),
        source("microsoft/onnxruntime#15446", "ONNX Runtime's ceil_mode pooling output size (CLAIMS.md §F)"),
        source("tracel-ai/burn#5791", "max_pool2d with size 5, kernel 2, stride 2, padding 1, ceil_mode on: PyTorch "
                                      "gives 3 and burn gives 4; the extra window covers only padding"),
        source("pytorch/pytorch#183528", "avg_pool2d(arange(1, 17) as 4x4, 3, stride 2, padding 1, ceil_mode=True, "
                                         "count_include_pad=True): PyTorch's last column 2.0, 6.0, 4.0; the ONNX "
                                         "model in ONNX Runtime 1.3333, 4.0, 1.7778"),
    ],
    examples=[
        {"n": 1, "c": 1, "spatial": [2, 2], "k": 3, "stride": 3, "padding": 1, "dilation": 1, "seen": "pytorch#71549"},
        {"n": 1, "c": 1, "spatial": [5], "k": 2, "stride": 2, "padding": 1, "dilation": 1, "seen": "burn#5791"},
        {"n": 1, "c": 1, "spatial": [4, 4], "k": 3, "stride": 2, "padding": 1, "dilation": 1, "seen": "pytorch#183528",
         "x": np.arange(1.0, 17.0).reshape(4, 4).tolist()},
        {"n": 1, "c": 2, "spatial": [9], "k": 7, "stride": 3, "padding": 3, "dilation": 1, "seen": "onnxruntime#16203"},
        {"n": 1, "c": 1, "spatial": [9, 9], "k": 4, "stride": 4, "padding": 2, "dilation": 1, "seen": "pytorch#116420"},
        # a last window past the end without padding (only x[3] inside): PyTorch and ONNX Runtime give [1, -2]
        {"n": 1, "c": 1, "spatial": [4], "k": 3, "stride": 3, "padding": 0, "dilation": 1, "x": [2.0, 1.0, 0.0, -2.0]},
    ],
    space=_space(),
    # onnx and openvino: the records onnx-reference-avg-pool-ceil-overhang, openvino-ceil-mode-window-in-padding
    expected={"*": "n/a", "numpy": "holds", "torch": "holds", "onnxruntime": "holds", "onnx": "refuted",
              "openvino": "refuted"},
    deviations=[ORT_NO_FLOAT64_CONV, deviation("onnxruntime", "refuted", onnxruntime="1.18.1",
                                               reason=known_issues.BY_ID["ort-ceil-mode-window-in-padding"].reason)],
    notes={"*": "Checked: the output size against the rule, MaxPool (with dilation) and AveragePool (both divisors) "
                "against the oracle, and the native pooling layers with ceil_mode."},
)
def check(bk, p, ctx):
    rank, k, s, pad, d = len(p.spatial), p.k, p.stride, p.padding, p.dilation
    x = example_input(ctx, p, (p.n, p.c, *p.spatial))
    X, want = bk.asarray(x), [ceil_rule(n, k, s, pad, d) for n in p.spatial]
    ctx.equal("the oracle's pool_output_size == the rule", [oracle.pool_output_size(n, k, s, pad, d, ceil_mode=True)
                                                            for n in p.spatial], want, support=True)
    if "seen" in p:  # the sources' shapes (the last window dropped in pytorch#71549, burn#5791, pytorch#116420)
        ctx.fact(f"ceil_mode output size, {p.seen}: n={p.spatial}, k={k}, s={s}, p={pad}", want)
    # AveragePool first, undilated (PyTorch's AvgPool has no dilation): on ONNX Runtime float64, which has no
    # AveragePool kernel, every example is then n/a alike (the deviation)
    for include in (True, False):
        ctx.matches(f"AvgPool(ceil_mode=True, count_include_pad={include}) vs oracle",
                    bk.avg_pool(X, k, s, padding=pad, ceil_mode=True, count_include_pad=include), oracle.avg_pool,
                    x, k, stride=s, padding=pad, ceil_mode=True, count_include_pad=include)
    got = bk.max_pool(X, k, s, padding=pad, ceil_mode=True, dilation=d)
    ctx.equal("MaxPool(ceil_mode=True) output size == the rule", list(ctx.numpy(got).shape[2:]), want)
    ctx.matches("MaxPool(ceil_mode=True) vs oracle", got, oracle.max_pool, x, k, stride=s, padding=pad, dilation=d,
                ceil_mode=True)
    for kind, op, extra in (("max_pool", oracle.max_pool, {"dilation": d}), ("avg_pool", oracle.avg_pool, {})):
        layer = native_layer(bk, kind, rank=rank, in_channels=x.shape[1], kernel_size=k, stride=s, padding=pad,
                             ceil_mode=True, input_shape=x.shape, **extra)
        if layer is not None:
            ctx.matches(f"{layer.api}(ceil_mode=True) vs oracle", layer(X), op, x, k, stride=s, padding=pad,
                        ceil_mode=True, **extra)
