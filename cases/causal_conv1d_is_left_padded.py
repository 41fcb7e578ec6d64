"""Keras Conv1D(padding='causal') = left-pad d(k−1), VALID conv; output t sees inputs ≤ t only (WaveNet)."""
from hypothesis import strategies as st

from equivcheck.case import ORT_NO_FLOAT64_CONV, NotApplicable, claim, oracle, source, tensor

_SPACE = st.fixed_dictionaries({
    "n": st.integers(1, 2), "c_in": st.integers(1, 2), "c_out": st.integers(1, 2), "k": st.integers(1, 3),
    "dilation": st.integers(1, 3), "extra": st.integers(2, 5), "bias": st.booleans(), "t": st.integers(0, 8)})


@claim(
    title="Causal Conv1D = left-padding by d(k−1) + VALID conv; output t depends only on inputs ≤ t",
    statement="Keras Conv1D(padding='causal', dilation_rate=d) equals left-padding the sequence by d(k−1) zeros "
              "followed by a VALID convolution, so the output at time t depends only on the inputs at times ≤ t: "
              "changing the future leaves it unchanged.",
    sources=[
        source("arXiv:1609.03499", "van den Oord et al., 'WaveNet': by using causal convolutions, we make sure the "
                                   "model cannot violate the ordering in which we model the data: the prediction "
                                   "emitted by the model at timestep t cannot depend on any of the future timesteps."),
        source("pytorch/pytorch#1333", "'Is there currently a way to specify causal convolutions in PyTorch? Keras "
                                       "has a way to specify a \"causal\" padding in a conv layer' — answered: use "
                                       "F.pad and prepend the dilation amount to the sequence."),
    ],
    examples=[
        # WaveNet's stack: kernel 2, dilations 1, 2, 4 on 8 steps (receptive fields 2, 3, 5); perturb after t = 3
        {"n": 1, "c_in": 1, "c_out": 1, "k": 2, "dilation": 1, "extra": 7, "bias": False, "t": 3},
        {"n": 1, "c_in": 1, "c_out": 1, "k": 2, "dilation": 2, "extra": 6, "bias": False, "t": 3},
        {"n": 1, "c_in": 2, "c_out": 3, "k": 2, "dilation": 4, "extra": 4, "bias": True, "t": 3, "describe": True},
    ],
    space=_SPACE,
    expected="holds",
    deviations=[ORT_NO_FLOAT64_CONV],
    notes={"*": "Where the framework has a causal conv layer (Keras Conv1D padding='causal'; Flax Conv "
                "padding='CAUSAL') it is checked; elsewhere (PyTorch, lax, ONNX) no causal padding exists and the "
                "claim checks the equivalent people write, the framework's own zero pad of d(k−1) on the left (F.pad, "
                "jnp.pad, ONNX Pad) followed by a VALID conv, or an asymmetric conv padding ((d(k−1), 0)) where it has "
                "no pad op. Causality is checked on whichever of the two runs."},
)
def check(bk, p, ctx):
    reach, length = p.dilation * (p.k - 1), p.dilation * (p.k - 1) + p.extra
    t = min(p.t, length - 2)
    x, w = ctx.array("x", (p.n, p.c_in, length)), ctx.array("w", (p.c_out, p.c_in, p.k))
    b = ctx.array("b", (p.c_out,)) if p.bias else None
    causal, bias = dict(padding=[(reach, 0)], dilation=p.dilation), tensor(bk, b)

    def functional(v):
        try:
            return bk.conv(bk.pad(bk.asarray(v), [(reach, 0)], "constant"), bk.asarray(w), bias, dilation=p.dilation)
        except NotApplicable:
            return bk.conv(bk.asarray(v), bk.asarray(w), bias, **causal)

    run, how = functional, "left pad d(k−1) + VALID conv"
    try:
        layer = bk.layer("conv", rank=1, in_channels=p.c_in, out_channels=p.c_out, kernel_size=p.k, padding="causal",
                         dilation=p.dilation, use_bias=p.bias, input_shape=x.shape)
        layer.set_weights(bk.asarray(w), bias)
        run, how = (lambda v: layer(bk.asarray(v))), f"{layer.api}(padding='causal')"
        ctx.agree(f"{how} == left pad d(k−1) + VALID conv", run(x), functional(x), oracle.conv, x, w, b, **causal)
    except NotApplicable as exc:
        ctx.fact("causal conv layer", f"n/a: {exc}")
    y = run(x)
    ctx.matches(f"{how} vs oracle conv with padding (d(k−1), 0)", y, oracle.conv, x, w, b, **causal)

    future = x.copy()
    future[..., t + 1:] = ctx.array("x_future", x[..., t + 1:].shape)
    ctx.agree(f"{how}: outputs ≤ t={t} unchanged when the inputs after t change", ctx.numpy(run(future))[..., :t + 1],
              ctx.numpy(y)[..., :t + 1], oracle.conv, x[..., :t + 1], w, b, **causal)
    if p.get("describe"):
        ctx.fact("causal conv (k=2, d=4): padding and receptive field of output t",
                 {"left_padding": reach, "right_padding": 0, "receptive_field": f"inputs t−{reach} … t"})
