"""A Conv3D with a (1, kh, kw) kernel ≡ the same Conv2D applied to every time step (TimeDistributed)."""
from hypothesis import strategies as st

from equivcheck.case import ORT_NO_FLOAT64_CONV, claim, depth_axis_kw, loaded_layer, oracle, source


@st.composite
def _space(draw):
    # PyTorch rejects padding='same' with stride > 1, so the draws stay inside what every framework accepts;
    # no dilation: TF's CPU Conv3D has no float64 kernel for it (see notes).
    stride, dilation = draw(st.sampled_from([1, 2])), 1
    padding = draw(st.sampled_from(["valid", "same", 1] if stride == 1 else ["valid", 1]))
    k = draw(st.lists(st.integers(1, 3), min_size=2, max_size=2))
    spatial = [dilation * (kk - 1) + 1 + draw(st.integers(0, 3)) for kk in k]
    return {"n": draw(st.integers(1, 2)), "c_in": draw(st.integers(1, 3)), "c_out": draw(st.integers(1, 3)),
            "t": draw(st.integers(1, 3)), "spatial": spatial, "k": k, "stride": stride, "padding": padding,
            "dilation": dilation, "bias": draw(st.booleans()), "layers": False}


@claim(
    title="A Conv3D with a 1×k×k kernel is a Conv2D applied to every time step (TimeDistributed)",
    statement="On a (batch, time, H, W, channels) input, Conv3D with kernel (1, kh, kw) (stride, padding and "
              "dilation 1/0/1 along time) equals the same Conv2D with kernel (kh, kw), the same weights and bias, "
              "applied to every time step independently (TimeDistributed(Conv2D)).",
    sources=[source("002", "I tried a (1,3,3) conv3d filter and a (3,3) timedistributed conv2d filter separately. "
                           "The performance is different."),
             source("002", "So my input are shape of (batchsize x timesteps x 32 x 32)")],
    examples=[
        # seed 002: (batch x timesteps x 32 x 32) series, a (1,3,3) Conv3D vs a (3,3) TimeDistributed Conv2D
        {"n": 2, "c_in": 1, "c_out": 4, "t": 4, "spatial": [32, 32], "k": [3, 3], "stride": 1,
         "padding": "valid", "dilation": 1, "bias": True, "layers": True},
        # the same with 'same' padding and several channels (the draws add strides and integer padding)
        {"n": 1, "c_in": 3, "c_out": 2, "t": 3, "spatial": [6, 7], "k": [3, 3], "stride": 1, "padding": "same",
         "dilation": 1, "bias": False, "layers": True}],
    space=_space(), deviations=[ORT_NO_FLOAT64_CONV], expected="holds",
    notes={"*": "TimeDistributed is composed by hand, in the way keras.layers.TimeDistributed is documented to work: "
                "time moved next to the batch and folded into it (on the host: a transpose + row-major reshape of the "
                "input, exact), one Conv2D call of the framework on all N·T frames, and the output unfolded the same "
                "way. The backend interface has no TimeDistributed wrapper, so Keras' own TimeDistributed layer is not "
                "called: this checks the composition, not the layer.",
           "tensorflow": "No dilation in the draws: TF's CPU Conv3D has no dilated kernel (equivcheck/known_issues/: "
                         "tf-no-dilated-conv3d), a TF limitation, not part of this claim."},
)
def check(bk, p, ctx):
    x, w = ctx.array("x", (p.n, p.c_in, p.t, *p.spatial)), ctx.array("w", (p.c_out, p.c_in, *p.k))
    bias = ctx.tensor("b", (p.c_out,)) if p.bias else None
    w3, args2 = w[:, :, None], dict(stride=p.stride, padding=p.padding, dilation=p.dilation)  # w3: (O, C, 1, kh, kw)
    args3 = depth_axis_kw(2, **args2)                                # time: stride 1, padding 0, dilation 1
    conv3d = bk.conv(bk.asarray(x), bk.asarray(w3), bias, **args3)                  # (N, O, T, H', W')
    out_shape = ctx.numpy(conv3d).shape
    ctx.equal("Conv3D keeps the time axis", out_shape[2], p.t)
    # TimeDistributed(Conv2D): every time step becomes an image of the batch (time folded into the batch,
    # row-major: image n*T + t is step t of sample n), one Conv2D call on all of them, then unfolded.
    frames = x.transpose(0, 2, 1, 3, 4).reshape(p.n * p.t, p.c_in, *p.spatial)
    def unfold(folded):  # (N*T, O, H', W') -> (N, O, T, H', W')
        return ctx.numpy(folded).reshape(p.n, p.t, p.c_out, *out_shape[3:]).transpose(0, 2, 1, 3, 4)
    distributed = unfold(bk.conv(bk.asarray(frames), bk.asarray(w), bias, **args2))
    op = (oracle.conv, x, w3, bias)
    ctx.agree("Conv3D (1,kh,kw) vs TimeDistributed Conv2D (time folded into batch)", conv3d, distributed, *op, **args3)
    ctx.matches("Conv3D (1,kh,kw) vs oracle", conv3d, *op, **args3)
    # The layers of the seed's question, sharing one set of weights (string paddings only: Keras has no ints).
    if not p.layers or not isinstance(p.padding, str):
        return
    kw = dict(in_channels=p.c_in, out_channels=p.c_out, use_bias=p.bias)  # args3's padding is args2's word
    layer3 = loaded_layer(bk, "conv", w3, bias, rank=3, kernel_size=(1, *p.k), input_shape=x.shape, **args3, **kw)
    layer2 = loaded_layer(bk, "conv", w, bias, rank=2, kernel_size=tuple(p.k), input_shape=frames.shape, **args2, **kw)
    if layer3 is None or layer2 is None:
        return
    ctx.equal("parameter count: Conv3D (1,kh,kw) layer == Conv2D (kh,kw) layer", layer3.param_count,
              layer2.param_count, support=True)
    by2d = unfold(layer2(bk.asarray(frames)))
    ctx.agree("Conv3D layer vs TimeDistributed Conv2D layer (same weights)", layer3(bk.asarray(x)), by2d, *op, **args3)
