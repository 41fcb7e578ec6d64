"""Inference BatchNorm folds into the conv before it along the kernel's output axis: 0 for OI*, 1 for IO*."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import (ORT_NO_FLOAT64_CONV, claim, native_layer, op_bounds, oracle, run_conv, run_conv_transpose,
                             source)


@st.composite
def _space(draw):
    rank, k, s = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    return {"n": 1, "c_in": draw(st.integers(1, 3)), "c": draw(st.integers(2, 3)), "k": k, "stride": s,
            "padding": draw(st.integers(0, k // 2)), "spatial": [k + draw(st.integers(0, 3)) for _ in range(rank)]}


def _close(ctx, label, got, want, x, w, b, worst, support=False, **kw):
    """conv-then-BN against the folded op: the folded conv's bound with the bias term's magnitude taken before
    cancellation (``worst`` = |b|·s + |μ|·s + |β|) and three more rounding steps (BN's subtract, scale, shift)."""
    op = oracle.conv_transpose if "transposed" in label else oracle.conv
    ctx.close(label, got, want, magnitude=op_bounds.magnitude(op, x, w, worst, **kw),
              terms=op_bounds.terms(op, x, w, b, **kw) + 3, support=support)


@claim(
    title="BatchNorm folds into the preceding conv along the kernel's output-channel axis (axis 1 of an IO* kernel)",
    statement="A conv or transposed conv followed by inference BatchNorm equals one conv with the kernel scaled by "
              "γ/√(σ²+ε) along axis 0 and the bias (b − μ)·γ/√(σ²+ε) + β.",
    sources=[
        source("arXiv:1712.05877", "batch normalization folded into the weights for inference: w·γ/σ per output "
                                   "channel and a folded bias (Jacob et al., integer-arithmetic-only inference)"),
        source("google-ai-edge/litert-torch#28", "BatchNorm folding into a transposed conv scales the wrong kernel "
                                                 "axis (CLAIMS.md §F)"),
        source("tenstorrent/tt-metal PR#5317", "weight = weight * (scale / torch.sqrt(running_var + eps))[:, None, "
                                               "None, None]; bias = (bias - running_mean) * (scale / "
                                               "torch.sqrt(running_var + eps)) + shift"),
        source("Samsung/ONE#3565", "fusion of Convolution and BN is already done by the compiler; going further, see "
                                   "if it is possible to fuse with TCONV (transposed convolution)")],
    examples=[
        dict(n=1, c_in=1, c=2, spatial=[1], k=1, stride=1, padding=0),     # the smallest
        dict(n=2, c_in=3, c=4, spatial=[5, 6], k=3, stride=1, padding=1),  # a ResNet conv-BN block
        dict(n=1, c_in=2, c=3, spatial=[4, 4], k=4, stride=2, padding=1)],  # a DCGAN ConvT-BN block
    space=_space(), expected="refuted", deviations=[ORT_NO_FLOAT64_CONV],
    notes={"*": "The transposed conv has c → c channels, so scaling axis 0 of its (I, O, *k) kernel broadcasts "
                "silently (the porting bug). Supporting: the conv fold along axis 0, the transposed fold along axis 1, "
                "the framework's functional batch_norm and its native BN layer in inference mode (torch "
                "BatchNorm{n}d.eval(), Keras BatchNormalization(training=False), Flax BatchNorm(use_running_average)) "
                "against the oracle. The variance is v² + 1 (v drawn); ε = 2⁻¹⁰, exact in float32 (ONNX's epsilon "
                "attribute is 32-bit)."},
)
def check(bk, p, ctx):
    # eps exact in float32: ONNX's epsilon is a FLOAT (32-bit) attribute, so 1e-3 would reach a float64 run
    # of the ONNX reference as 0.0010000000475 (an error of ~1e-10 against the float64 oracle)
    rank, c, eps = len(p.spatial), p.c, 2.0 ** -10
    kw = dict(stride=p.stride, padding=p.padding)
    x, xt = ctx.array("x", (p.n, p.c_in, *p.spatial)), ctx.array("x_t", (p.n, c, *p.spatial))
    w, wt = ctx.array("w", (c, p.c_in, *(p.k,) * rank)), ctx.array("w_t", (c, c, *(p.k,) * rank))
    b, mean, gamma, beta = (ctx.array(name, (c,)) for name in ("b", "mean", "gamma", "beta"))
    var = ctx.array("v", (c,)) ** 2 + 1                  # var = v² + 1 > 0
    scale = gamma / np.sqrt(var + eps)
    along = [scale.reshape((-1,) + (1,) * (rank + 1)), scale.reshape((1, -1) + (1,) * rank)]  # kernel axis 0, 1
    folded_b, worst = (b - mean) * scale + beta, np.abs(b) * np.abs(scale) + np.abs(mean) * np.abs(scale) + np.abs(beta)
    bn_args = [bk.asarray(v) for v in (mean, var, gamma, beta)] + [eps]
    y = ctx.numpy(run_conv(bk, x, w, b, **kw))
    bn = bk.batch_norm(bk.asarray(y), *bn_args)
    ctx.matches("the framework's batch_norm vs oracle", bn, oracle.batch_norm, y, mean, var, gamma, beta, eps,
                support=True)
    _close(ctx, "conv → BN vs the conv folded along axis 0", bn, run_conv(bk, x, w * along[0], folded_b, **kw),
           x, w * along[0], b, worst, **kw)
    bn_t = bk.batch_norm(bk.asarray(ctx.numpy(run_conv_transpose(bk, xt, wt, b, **kw))), *bn_args)
    for axis, support in ((1, True), (0, False)):
        _close(ctx, f"transposed conv → BN vs the transposed conv folded along axis {axis}", bn_t,
               run_conv_transpose(bk, xt, wt * along[axis], folded_b, **kw), xt, wt * along[axis], b, worst,
               support=support, **kw)
    layer = native_layer(bk, "batch_norm", rank=rank, in_channels=c, eps=eps, input_shape=y.shape)
    if layer is not None:
        layer.set_weights(mean=bn_args[0], var=bn_args[1], gamma=bn_args[2], beta=bn_args[3])
        ctx.fact("native inference BatchNorm", layer.api)
        ctx.matches(f"{layer.api} (inference) vs oracle", layer(bk.asarray(y)), oracle.batch_norm, y, mean, var,
                    gamma, beta, eps, support=True)
