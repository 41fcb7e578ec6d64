"""A conv with groups g is g independent convs on channel slices, concatenated (PyTorch/Keras `groups` docs)."""
import numpy as np

from equivcheck import oracle
from equivcheck.backends.base import NotApplicable
from equivcheck.casekit import TF_MISSING_KERNEL_NOTE, conv_geometries, conv_geometry, unless_missing_kernel
from equivcheck.casekit_pitfalls import ORT_NO_FLOAT64_CONV
from equivcheck.claim import claim, source

_DOCS = "https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html"


@claim(
    title="groups=g is g convs on consecutive channel slices, concatenated; output channels grouped in order",
    statement="A convolution with groups g equals g independent convolutions, the j-th on input channels "
              "j·I/g … (j+1)·I/g − 1 with output channels j·O/g … (j+1)·O/g − 1 of the kernel, concatenated along "
              "the channel axis.",
    sources=[
        source(_DOCS, "At groups=2, the operation becomes equivalent to having two conv layers side by side, each "
                      "seeing half the input channels and producing half the output channels, and both subsequently "
                      "concatenated."),
        source("https://keras.io/api/layers/convolution_layers/convolution2d/",
               "groups: A positive int specifying the number of groups in which the input is split along the channel "
               "axis. Each group is convolved separately with filters // groups filters. The output is the "
               "concatenation of all the groups results along the channel axis."),
    ],
    examples=[
        # the documentation's groups=2, and one with three groups and unequal kernel sizes
        {"n": 1, "c_in": 4, "c_out": 6, "spatial": [5, 5], "k": [3, 3], "stride": [1, 1], "padding": [[0, 0], [0, 0]],
         "dilation": [1, 1], "groups": 2, "describe": True},
        {"n": 2, "c_in": 6, "c_out": 3, "spatial": [6], "k": [2], "stride": [2], "padding": [[0, 1]],
         "dilation": [1], "groups": 3},
    ],
    space=conv_geometries(),
    expected="holds",
    deviations=[ORT_NO_FLOAT64_CONV],
    notes={
        "*": "The g slice convs run in the framework and are concatenated on the host; the native layer with "
             "groups (torch Conv{n}d(groups), Keras Conv{n}D(groups), Flax Conv(feature_group_count)) is checked "
             "where the framework builds it. Fact: which kernel order (contiguous blocks or interleaved) the "
             "grouped conv uses.",
        "tensorflow": TF_MISSING_KERNEL_NOTE,
    },
)
def check(bk, p, ctx):
    g = conv_geometry(p)
    kw, G = g.conv_kw, p.groups
    x = ctx.array("x", (p.n, p.c_in, *p.spatial))
    w = ctx.array("w", (p.c_out, p.c_in // G, *g.k))
    grouped = unless_missing_kernel(bk, "conv", lambda: bk.conv(bk.asarray(x), bk.asarray(w), **kw), rank=g.rank, **kw)
    ctx.matches("grouped conv vs oracle", grouped, oracle.conv, x, w, **kw, support=True)

    i, o = p.c_in // G, p.c_out // G
    plain = {**kw, "groups": 1}
    slices = np.concatenate([ctx.numpy(unless_missing_kernel(
        bk, "conv", lambda j=j: bk.conv(bk.asarray(x[:, j * i:(j + 1) * i]), bk.asarray(w[j * o:(j + 1) * o]), **plain),
        rank=g.rank, **plain)) for j in range(G)], axis=1)
    ctx.agree("groups=g conv == g slice convs concatenated", grouped, slices, oracle.conv, x, w, **kw)

    if p.get("describe"):
        interleaved = w.reshape(o, G, *w.shape[1:]).swapaxes(0, 1).reshape(w.shape)  # output o·g + j instead
        ctx.fact("grouped conv: kernel output channels per group", {
            "contiguous blocks (j·O/g + m)": ctx.fits(grouped, oracle.conv(x, w, **kw), oracle.conv, x, w, sides=1,
                                                      **kw),
            "interleaved (m·g + j)": ctx.fits(grouped, oracle.conv(x, interleaved, **kw), oracle.conv, x, interleaved,
                                              sides=1, **kw)})
    if g.rank > 2 or any(g.pairs[i] != (0, 0) for i in range(g.rank)):
        return  # Keras layers take 'valid'/'same' only: the layer is checked unpadded, the functional op everywhere
    try:
        layer = bk.layer("conv", rank=g.rank, in_channels=p.c_in, out_channels=p.c_out, kernel_size=g.k,
                         stride=g.stride, padding="valid", dilation=g.dilation, groups=G, use_bias=False,
                         input_shape=x.shape)
    except NotApplicable as exc:
        ctx.fact("native grouped layer", f"n/a: {exc}")
        return
    layer.set_weights(bk.asarray(w), None)
    native = unless_missing_kernel(bk, "conv", lambda: layer(bk.asarray(x)), rank=g.rank, **kw)
    ctx.agree(f"native {layer.api}(groups={G}) vs functional grouped conv", native, grouped, oracle.conv, x, w, **kw)
