"""A conv with groups g is g independent convs on channel slices, concatenated (PyTorch/Keras `groups` docs)."""
from equivcheck.case import (ORT_NO_FLOAT64_CONV, TF_MISSING_KERNEL_NOTE, claim, conv_example, conv_geometries,
                             conv_geometry, native_layer, oracle, run_conv, slice_convs, source, unless_missing_kernel)

_DOCS = "https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html"


@claim(
    title="groups=g is g convs on consecutive channel slices, concatenated; output channels grouped in order",
    statement="A convolution with groups g equals g independent convolutions, the j-th on input channels "
              "j·I/g … (j+1)·I/g − 1 with output channels j·O/g … (j+1)·O/g − 1 of the kernel, concatenated along "
              "the channel axis.",
    sources=[source(_DOCS, "At groups=2, the operation becomes equivalent to having two conv layers side by side, each "
                           "seeing half the input channels and producing half the output channels, and both "
                           "subsequently concatenated."),
             source("https://keras.io/api/layers/convolution_layers/convolution2d/",
                    "groups: A positive int specifying the number of groups in which the input is split along the "
                    "channel axis. Each group is convolved separately with filters // groups filters. The output is "
                    "the concatenation of all the groups results along the channel axis.")],
    examples=[
        conv_example(1, 4, 6, [5, 5], [3, 3], [1, 1], [[0, 0], [0, 0]], [1, 1], 2, describe=True),  # the docs' groups=2
        conv_example(2, 6, 3, [6], [2], [2], [[0, 1]], [1], 3)],  # three groups, 1-D, strided and padded
    space=conv_geometries(), expected="holds", deviations=[ORT_NO_FLOAT64_CONV],
    notes={"*": "The g slice convs run in the framework and are concatenated on the host; the native layer with groups "
                "(torch Conv{n}d(groups), Keras Conv{n}D(groups), Flax Conv(feature_group_count)) is checked where the "
                "framework builds it. Fact: which kernel order (contiguous blocks or interleaved) the grouped conv "
                "uses.",
           "tensorflow": TF_MISSING_KERNEL_NOTE},
)
def check(bk, p, ctx):
    g = conv_geometry(p)
    kw, G = g.conv_kw, p.groups
    x, w = ctx.array("x", (p.n, p.c_in, *p.spatial)), ctx.array("w", (p.c_out, p.c_in // G, *g.k))
    grouped = run_conv(bk, x, w, **kw)
    ctx.matches("grouped conv vs oracle", grouped, oracle.conv, x, w, **kw, support=True)
    ctx.agree("groups=g conv == g slice convs concatenated", grouped, slice_convs(ctx, bk, x, w, **kw), oracle.conv,
              x, w, **kw)
    if p.get("describe"):
        orders = {"contiguous blocks (j·O/g + m)": w,
                  "interleaved (m·g + j)": w.reshape(-1, G, *w.shape[1:]).swapaxes(0, 1).reshape(w.shape)}
        ctx.fact("grouped conv: kernel output channels per group", {order: ctx.fits(
            grouped, oracle.conv(x, v, **kw), oracle.conv, x, v, sides=1, **kw) for order, v in orders.items()})
    # Keras layers take 'valid'/'same' only: the layer is checked unpadded, the functional op everywhere
    if g.rank > 2 or any(pair != (0, 0) for pair in g.pairs) or (layer := native_layer(
            bk, "conv", ctx=ctx, fact="native grouped layer", rank=g.rank, in_channels=p.c_in, out_channels=p.c_out,
            kernel_size=g.k, stride=g.stride, padding="valid", dilation=g.dilation, groups=G, use_bias=False,
            input_shape=x.shape)) is None:
        return
    layer.set_weights(bk.asarray(w), None)
    native = unless_missing_kernel(bk, "conv", lambda: layer(bk.asarray(x)), rank=g.rank, **kw)
    ctx.agree(f"native {layer.api}(groups={G}) vs functional grouped conv", native, grouped, oracle.conv, x, w, **kw)
