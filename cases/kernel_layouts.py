"""Native kernel layouts of conv, transposed-conv and depthwise layers, per framework and API."""
import numpy as np
from hypothesis import strategies as st

from equivcheck.case import (ORT_NO_FLOAT64_CONV, NotApplicable, claim, functional_kernel_shape, kernel_dims,
                             kernel_shape, layout_shape, layouts, out_channels, reference_op, source,
                             wrong_permutation_checks)

_TORCH = {"conv": "OI*", "conv_transpose": "IO*", "depthwise": "OI*"}
_KERAS = {"conv": "*IO", "conv_transpose": "*OI", "depthwise": "*CM"}
#: The documented native kernel layouts (the claim's statement), per framework and op.  Letters: O out, I in
#: (per group), C channels and M multiplier of a depthwise kernel, '*' the spatial axes.  PyTorch and Flax
#: have no depthwise class: theirs is a grouped conv (groups = C), whose kernel is OI* / *IO with I = 1 and
#: O = C·M.  The ONNX columns' and OpenVINO's layers are torch.nn layers through torch.onnx.export: the
#: initializers keep torch's layouts; LiteRT's are Keras layers, converted.
DOCUMENTED = {"numpy": {**_TORCH, "depthwise": "CM*"}, "torch": _TORCH, "tensorflow": _KERAS, "jax": {},
              "flax": {"conv": "*IO", "conv_transpose": "*IO", "depthwise": "*IO"},
              "onnxruntime": _TORCH, "onnx": _TORCH, "openvino": _TORCH, "litert": _KERAS}
_OI, _TF = {"conv": "OI*", "conv_transpose": "IO*"}, {"conv": "*IO", "conv_transpose": "*OI"}
#: Functional entry points: torch.nn.functional, tf.nn (conv2d filter [fh, fw, in, out], conv2d_transpose
#: filter [fh, fw, out, in]), lax.conv_general_dilated with its default dimension_numbers (OIHW), Flax's
#: linen modules; the ONNX operator spec (Conv W (M, C/group, kH, kW), ConvTranspose W (C, M/group, kH, kW)),
#: whose graphs OpenVINO runs; LiteRT runs the tf.nn programs, converted.
DOCUMENTED_FUNCTIONAL = {"numpy": _OI, "torch": _OI, "tensorflow": _TF, "jax": _OI,
                         "flax": {"conv": "*IO", "conv_transpose": "*IO"},
                         "onnxruntime": _OI, "onnx": _OI, "openvino": _OI, "litert": _TF}


def _documented(table, fw, op):
    """The documented layout of ``op`` for ``fw`` in ``table``; an engine the table has no entry for is n/a."""
    try:
        return table[fw][op]
    except KeyError:
        raise NotApplicable(f"cases/kernel_layouts.py documents no {op} kernel layout for {fw} (DOCUMENTED / "
                            "DOCUMENTED_FUNCTIONAL): the documented layout is what this claim checks") from None


@st.composite
def _space(draw):
    op = draw(st.sampled_from(["conv", "conv_transpose", "depthwise"]))
    k = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(1, 2 if op == "depthwise" else 3)))]
    groups = draw(st.sampled_from([1, 1, 2])) if op == "conv" else 1
    return _example(op, groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3)), k,
                    mult=draw(st.integers(1, 3)), groups=groups, spatial=[kk + draw(st.integers(0, 2)) for kk in k])


def _example(op, c_in, c_out, k, spatial, mult=1, groups=1, **extra):
    return {"op": op, "c_in": c_in, "c_out": c_out, "mult": mult, "groups": groups, "k": k, "spatial": spatial,
            **extra}


@claim(
    title="Native kernel layouts: PyTorch OI*, TF/Keras/Flax *IO; transposed and depthwise variants",
    statement="PyTorch Conv{1,2,3}d kernels are (O, I/groups, *k) and TF/Keras/Flax kernels are (*k, I/groups, O); "
              "transposed: PyTorch (I, O/groups, *k), Keras Conv2DTranspose and tf.nn.conv2d_transpose (*k, O, I), "
              "Flax ConvTranspose (*k, I, O); Keras DepthwiseConv2D (*k, I, multiplier). A kernel converted with the "
              "documented permutation gives identical outputs; a wrong permutation gives different outputs or "
              "shapes. Keras Conv2D(16, (7,7)) after 8 channels has kernel (7,7,8,16).",
    sources=[
        source("002", "I expect the second conv layer to have 16 kernels of size (7x7), and thus kernel weights of "
                      "size (7x7x16). Why then are its weights actually size (7x7x8x16)?"),
        source("001", "Its weight tensor will have a shape of [5, 5, 1, 32]. The first two dimensions are the patch "
                      "size, the next is the number of input channels, and the last is the number of output "
                      "channels."),
        source("003", "julia> c = Conv((5,5), 10 => 5); # make a layer, 10 channels to 5\njulia> c.weight |> "
                      "summary\n\"5×5×10×5 Array{Float32, 4}\""),
        source("001", "The ordering of dimensions in the data tensors is different from the ordering of dimensions "
                      "in the convolution weight tensors."),
    ],
    examples=[
        # seed 002: Sequential([InputLayer((101,101,1)), Conv2D(8,(11,11)), Conv2D(16,(7,7))]): second layer
        _example("conv", 8, 16, [7, 7], [8, 9], seed="002 Keras Conv2D(16,(7,7)) after Conv2D(8,(11,11))"),
        # seed 001: TF MNIST W_conv1 = weight_variable([5, 5, 1, 32])
        _example("conv", 1, 32, [5, 5], [6, 5], seed="001 TF MNIST W_conv1"),
        # seed 003: Flux Conv((5,5), 10 => 5), weight 5×5×10×5 (Flux is not run: a documented fact)
        _example("conv", 10, 5, [5, 5], [6, 7], seed="003 Conv((5,5), 10 => 5)", flux="5×5×10×5"),
        # square I == O with kh != kw: the I/O transpose loads silently (and must differ), the H/W swap must not load
        _example("conv", 4, 4, [2, 3], [4, 4]), _example("conv", 4, 6, [3, 2], [4, 5], groups=2),
        _example("conv", 3, 2, [3], [5]), _example("conv", 2, 3, [2, 3, 2], [3, 4, 3]),
        _example("conv_transpose", 3, 3, [2, 3], [3, 2]), _example("conv_transpose", 2, 4, [3], [4]),
        _example("conv_transpose", 3, 2, [2, 1, 3], [2, 2, 2]),
        _example("depthwise", 3, 0, [3, 2], [4, 4], mult=2), _example("depthwise", 2, 0, [3], [5], mult=2),
    ],
    space=_space(), deviations=[ORT_NO_FLOAT64_CONV], expected="holds",
    notes={
        "torch": "A depthwise conv is Conv{n}d(groups=C, out=C·M): native kernel (C·M, 1, *k), the (C, M, *k) "
                 "depthwise kernel reshaped (channel c·M + m).",
        "flax": "A depthwise conv is nn.Conv(feature_group_count=C, features=C·M): native kernel (*k, 1, C·M). "
                "Flax ConvTranspose (transpose_kernel=False) is (*k, I, O) and correlates with the kernel as given.",
        "*": "Facts: native kernel shape and layout string per API, op and rank. Wrong permutations are the I/O "
             "(or C/M) swap and the first two spatial axes swapped, applied where both sizes are ≥ 2.",
    },
)
def check(bk, p, ctx):
    rank, fw = len(p.k), bk.framework_name
    w, x = ctx.array("w", kernel_shape(p)), ctx.array("x", (1, p.c_in, *p.spatial))
    b = ctx.array("b", (out_channels(p),))
    op, args, kwargs = reference_op(p, x, w, b)
    x_perm = ctx.array("x_perm", x.shape, kind="normal")  # generic inputs for the wrong permutations
    zeros = np.zeros(out_channels(p))
    if "flux" in p:
        ctx.fact("Flux Conv((5,5), 10 => 5) weight (seed 003, documented only, not run)",
                 {"summary": p.flux, "layout": "WHIO (Flux: W, H, in, out; data WHCN)"})

    # The functional entry point: its layout, the canonical kernel through it, and wrong permutations.
    if p.op in ("conv", "conv_transpose"):
        api, fn = bk.functional_api, bk.conv if p.op == "conv" else bk.conv_transpose
        documented = layouts.expand(_documented(DOCUMENTED_FUNCTIONAL, fw, p.op), rank)
        native = layouts.kernel_layout(fw, p.op, rank, api=api)
        ctx.equal(f"{api} {p.op}: layout table == documented layout", native, documented)
        ctx.fact(f"{api}.{p.op}{rank}d kernel layout", native)
        if "seed" in p:
            ctx.fact(f"seed {p.seed}: {api} {p.op} kernel", functional_kernel_shape(bk, p.op, w))
        ctx.matches(f"{api} {p.op} with the kernel through the layout table vs oracle",
                    fn(bk.asarray(x), bk.asarray(w), bk.asarray(b), **kwargs), op, *args, **kwargs)
        wrong_permutation_checks(ctx, f"{api} {p.op}", native, p, lambda kernel: fn(
            bk.asarray(x_perm), bk.asarray(kernel), bk.asarray(zeros), **kwargs), x_perm)

    # Every layer API: the native kernel's shape as documented, and weights loaded through the table.
    if p.op == "depthwise" and not bk.layer_apis:
        raise NotApplicable(f"{fw} has no layer API, so no depthwise layer; its functional depthwise conv is a "
                            f"grouped conv (groups = C), whose kernel layout is checked with op 'conv'")
    for api in bk.layer_apis:
        try:
            layer = bk.layer(p.op, rank=rank, in_channels=p.c_in, out_channels=p.c_out, kernel_size=tuple(p.k),
                             groups=p.groups, depth_multiplier=p.mult, api=api, input_shape=x.shape)
        except NotApplicable as exc:
            if p.op == "conv" or (api == bk.layer_apis[-1] and not ctx.statement_checks):
                raise  # a conv layer is the claim's; otherwise only when nothing of the example was checked
            ctx.fact(f"{api}.{p.op}{rank}d", f"n/a: {exc}")
            continue
        documented = layouts.expand(_documented(DOCUMENTED, fw, p.op), rank)
        ctx.equal(f"{layer.api}: native kernel shape == documented {documented}", tuple(layer.kernel_shape),
                  layout_shape(documented, rank, kernel_dims(p)))
        ctx.fact(f"{api}.{p.op}{rank}d", {"class": layer.api, "native layout": documented,
                                          "layout table entry": layer.kernel_layout})
        if p.op != "depthwise":  # the table's depthwise entry is the (C, M) kernel the adapter reshapes
            ctx.equal(f"{layer.api}: layout table entry == documented layout", layer.kernel_layout, documented)
        if "seed" in p:
            ctx.fact(f"seed {p.seed}: {layer.api} kernel", list(layer.kernel_shape))
        layer.set_weights(w, b)
        ctx.matches(f"{layer.api} with canonical weights loaded through the layout table vs oracle",
                    layer(bk.asarray(x)), op, *args, **kwargs)

        def run(kernel, layer=layer):
            layer.set_weights(kernel, zeros)
            return layer(bk.asarray(x_perm))

        wrong_permutation_checks(ctx, layer.api, layer.kernel_layout, p, run, x_perm)
