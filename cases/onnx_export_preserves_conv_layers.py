"""torch.onnx.export keeps conv-family layers: the exported model gives, in ONNX, what torch gives.

The torch column checks the torch layer against the oracle; the ONNX columns run the exported model and
compare it with torch (both sides compute, so the bound has two sides); per layer type the exported ops and
their attributes are facts.
"""
import numpy as np
from hypothesis import strategies as st

from equivcheck import oracle
from equivcheck.backends.base import NotApplicable
from equivcheck.claim import claim, source
from equivcheck.tolerance import conv_terms

KINDS = ("conv", "conv_transpose", "pixel_shuffle", "pixel_unshuffle", "max_pool", "avg_pool", "conv_bn_relu")


def _example(kind, rank=2, **params):
    return {"kind": kind, "rank": rank, **params}


@st.composite
def _space(draw):
    kind = draw(st.sampled_from(KINDS))
    rank = 2 if kind in ("pixel_shuffle", "pixel_unshuffle", "conv_bn_relu") else draw(st.integers(1, 3))
    p = {"kind": kind, "rank": rank, "n": draw(st.integers(1, 2)), "size": draw(st.integers(4, 7))}
    if kind in ("conv", "conv_bn_relu"):
        p.update(c_in=draw(st.sampled_from([2, 4])), c_out=draw(st.sampled_from([2, 4])), k=draw(st.integers(1, 3)),
                 groups=draw(st.sampled_from([1, 2])), dilation=draw(st.integers(1, 2)),
                 padding=draw(st.sampled_from([0, 1, "same", "valid"])),
                 padding_mode=draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"])))
        if p["padding"] == "same":
            p["stride"] = 1
        else:
            p["stride"] = draw(st.integers(1, 2))
    elif kind == "conv_transpose":
        p.update(c_in=draw(st.sampled_from([2, 4])), c_out=draw(st.sampled_from([2, 4])), k=draw(st.integers(1, 3)),
                 groups=draw(st.sampled_from([1, 2])), dilation=draw(st.integers(1, 2)),
                 stride=draw(st.integers(1, 3)), padding=draw(st.integers(0, 1)))
        # below the stride: torch accepts output_padding < max(stride, dilation), but ONNX's ConvTranspose rejects
        # output_padding ≥ stride (its own rule; both ONNX engines raise), which is a different claim than this one
        p["output_padding"] = draw(st.integers(0, p["stride"] - 1))
    elif kind in ("pixel_shuffle", "pixel_unshuffle"):
        p.update(c_in=draw(st.sampled_from([1, 2, 3])), r=draw(st.sampled_from([2, 3])))
    else:
        p.update(c_in=draw(st.integers(1, 3)), k=draw(st.integers(2, 3)), stride=draw(st.integers(1, 3)),
                 ceil_mode=draw(st.booleans()))
        p["padding"] = draw(st.integers(0, p["k"] // 2))
        if kind == "max_pool":
            p["return_indices"] = draw(st.booleans())
        else:
            p["count_include_pad"] = draw(st.booleans())
    return p


def _module(torch, p):
    nn, rank = torch.nn, p.rank
    if p.kind == "conv":
        return nn.__dict__[f"Conv{rank}d"](p.c_in, p.c_out, p.k, stride=p.stride, padding=p.padding,
                                           dilation=p.dilation, groups=p.groups, padding_mode=p.padding_mode)
    if p.kind == "conv_bn_relu":
        return nn.Sequential(nn.Conv2d(p.c_in, p.c_out, p.k, stride=p.stride, padding=p.padding,
                                       dilation=p.dilation, groups=p.groups, padding_mode=p.padding_mode),
                             nn.BatchNorm2d(p.c_out), nn.ReLU())
    if p.kind == "conv_transpose":
        return nn.__dict__[f"ConvTranspose{rank}d"](p.c_in, p.c_out, p.k, stride=p.stride, padding=p.padding,
                                                    output_padding=p.output_padding, dilation=p.dilation,
                                                    groups=p.groups)
    if p.kind == "pixel_shuffle":
        return nn.PixelShuffle(p.r)
    if p.kind == "pixel_unshuffle":
        return nn.PixelUnshuffle(p.r)
    if p.kind == "max_pool":
        return nn.__dict__[f"MaxPool{rank}d"](p.k, p.stride, p.padding, ceil_mode=p.ceil_mode,
                                              return_indices=p.return_indices)
    return nn.__dict__[f"AvgPool{rank}d"](p.k, p.stride, p.padding, ceil_mode=p.ceil_mode,
                                          count_include_pad=p.count_include_pad)


#: torch's Conv padding_mode in np.pad's words (the oracle's).
TORCH_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pairs(p):
    """The conv's padding as (before, after) per spatial dim: torch's 'same' puts the odd pixel after."""
    if p.padding == "valid":
        return [(0, 0)] * p.rank
    if p.padding == "same":
        total = p.dilation * (p.k - 1)
        return [(total // 2, total - total // 2)] * p.rank
    return [(p.padding, p.padding)] * p.rank


def _bn_stats(bn):
    return (bn.running_mean.detach().numpy(), bn.running_var.detach().numpy(), bn.weight.detach().numpy(),
            bn.bias.detach().numpy(), bn.eps)


def _input_shape(p):
    channels = p.c_in * p.r * p.r if p.kind == "pixel_shuffle" else p.c_in
    size = p.size * p.r if p.kind == "pixel_unshuffle" else p.size
    return (p.n, channels) + (size,) * p.rank


def _load(torch, module, ctx, dtype):
    """Every parameter and buffer of ``module`` from ``ctx`` (so counterexamples print them); BatchNorm's running
    variance is kept positive."""
    with torch.no_grad():
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            if tensor.dtype.is_floating_point:
                value = ctx.array(name, tuple(tensor.shape))
                if name.endswith("running_var"):
                    value = np.abs(value) + 1.0
                tensor.copy_(torch.as_tensor(value, dtype=dtype))
    return module.eval()


def _magnitude(torch, module, x, dtype):
    """Σ|terms| per output for the comparison: the module run on |x| with |weights| (conv family), the oracle's
    argument for a plain conv (see ctx.agree); for BN the scale is folded in, also in absolute value."""
    absolute = _load_abs(torch, module)
    with torch.no_grad():
        out = absolute(torch.as_tensor(np.abs(x), dtype=dtype))
    return out.detach().numpy().astype(np.float64)


def _load_abs(torch, module):
    import copy

    absolute = copy.deepcopy(module)
    with torch.no_grad():
        for name, tensor in absolute.named_parameters():
            tensor.abs_()
        for submodule in absolute.modules():
            if isinstance(submodule, torch.nn.BatchNorm2d):  # |γ/√(σ²+ε)|·Σ|x·w| + |β| + |μ·γ/√(σ²+ε)|
                submodule.bias.copy_(submodule.bias.abs() + (submodule.running_mean * submodule.weight).abs()
                                     / (submodule.running_var + submodule.eps).sqrt())
                submodule.running_mean.zero_()
    return absolute


@claim(
    title="torch.onnx.export keeps Conv, ConvTranspose, PixelShuffle, MaxPool, AvgPool and Conv→BN→ReLU exactly",
    statement="A torch.nn conv-family layer exported with torch.onnx.export computes in ONNX (ONNX Runtime, the ONNX "
              "reference) what it computes in torch, within rounding: every padding mode of Conv1d/2d/3d, "
              "ConvTranspose with output_padding, dilation and groups, PixelShuffle/PixelUnshuffle, MaxPool with "
              "ceil_mode and return_indices (the same indices), AvgPool with count_include_pad and ceil_mode, and a "
              "Conv→BatchNorm→ReLU block.",
    sources=[
        source("microsoft/onnxruntime#4086", "ConvTranspose auto_pad SAME_UPPER and SAME_LOWER are swapped"),
        source("PINTO0309/onnx2tf#91", "DepthToSpace DCR and CRD modes mixed up by converters"),
        source("https://pytorch.org/docs/stable/onnx.html", "torch.onnx.export(model, args, dynamo=True) exports a "
                                                             "torch.nn.Module to an ONNX graph"),
    ],
    examples=[
        _example("conv", 2, n=1, c_in=4, c_out=4, size=6, k=3, stride=1, padding="same", dilation=1, groups=1,
                 padding_mode="zeros"),
        _example("conv", 1, n=2, c_in=2, c_out=4, size=7, k=3, stride=2, padding=1, dilation=1, groups=2,
                 padding_mode="reflect"),
        _example("conv", 3, n=1, c_in=2, c_out=2, size=4, k=2, stride=1, padding=1, dilation=2, groups=1,
                 padding_mode="circular"),
        _example("conv_transpose", 2, n=2, c_in=4, c_out=2, size=4, k=3, stride=2, padding=1, output_padding=1,
                 dilation=1, groups=2),
        _example("conv_transpose", 1, n=1, c_in=2, c_out=4, size=5, k=3, stride=3, padding=0, output_padding=1,
                 dilation=2, groups=1),
        _example("pixel_shuffle", 2, n=1, c_in=2, size=3, r=2),
        _example("pixel_unshuffle", 2, n=2, c_in=3, size=2, r=2),
        _example("max_pool", 2, n=2, c_in=3, size=7, k=3, stride=2, padding=1, ceil_mode=True, return_indices=True),
        _example("avg_pool", 2, n=1, c_in=2, size=7, k=3, stride=2, padding=1, ceil_mode=True,
                 count_include_pad=False),
        _example("conv_bn_relu", 2, n=1, c_in=2, c_out=4, size=6, k=3, stride=1, padding=1, dilation=1, groups=1,
                 padding_mode="zeros"),
    ],
    space=_space(),
    expected={"*": "n/a", "torch": "holds", "onnxruntime": "holds", "onnx": "holds"},
    notes={
        "*": "The claim is about torch.onnx.export: it runs on the torch column (the torch side: the layer vs the "
             "oracle) and the ONNX columns (the exported model vs torch); elsewhere it is n/a.",
        "onnxruntime": "float64: no Conv/ConvTranspose/AveragePool kernel in ONNX Runtime's CPU provider "
                       "(ort-no-float64-conv), so the conv and average-pool examples are n/a there.",
        "onnx": "Grouped ConvTranspose examples are n/a on the reference (onnx-reference-grouped-conv-transpose), "
                "and so are MaxPool(return_indices=True) exports (onnx-reference-max-pool-unit-stride-indices: the "
                "exporter's kernel-1 MaxPool that recovers per-plane indices meets the reference's stride-1 bug).",
        "torch": "ConvTranspose draws keep output_padding below the stride: ONNX rejects output_padding ≥ stride "
                 "(ONNX Runtime: 'output_padding may be too large for stride'), where torch accepts it below the "
                 "dilation too; that rule is ONNX's, not the exporter's.",
    },
)
def check(bk, p, ctx):
    if bk.framework_name not in ("torch", "onnxruntime", "onnx"):
        raise NotApplicable(f"the claim is about torch.onnx.export; {bk.framework_name} has no part in it")
    try:
        import torch
    except ImportError as exc:
        raise NotApplicable(f"torch.onnx.export needs torch, which is not installed ({exc})") from None
    dtype = getattr(torch, bk.dtype)
    module = _load(torch, _module(torch, p).to(dtype), ctx, dtype)
    x = ctx.array("x", _input_shape(p))
    with torch.no_grad():
        torch_out = module(torch.as_tensor(x, dtype=dtype))
    torch_outs = [t.numpy() for t in (torch_out if isinstance(torch_out, tuple) else (torch_out,))]
    conv_like = p.kind in ("conv", "conv_transpose", "conv_bn_relu", "avg_pool")
    if p.kind in ("conv", "conv_transpose", "conv_bn_relu"):
        weight = module[0].weight if p.kind == "conv_bn_relu" else module.weight
        terms = conv_terms(tuple(weight.shape) if p.kind != "conv_transpose" else
                           (1, weight.shape[0] // p.groups, *weight.shape[2:]), bias=True) + 2
    else:
        terms = p.k ** p.rank if p.kind == "avg_pool" else 1

    if bk.framework_name == "torch":
        if p.kind in ("pixel_shuffle", "pixel_unshuffle"):
            ctx.matches(f"torch.nn.{type(module).__name__} vs oracle", torch_outs[0], getattr(oracle, p.kind), x, p.r)
        elif p.kind == "conv_transpose":
            ctx.matches("torch ConvTranspose vs oracle", torch_outs[0], oracle.conv_transpose, x,
                        module.weight.detach().numpy(), module.bias.detach().numpy(), stride=p.stride,
                        padding=p.padding, output_padding=p.output_padding, dilation=p.dilation, groups=p.groups)
        elif p.kind in ("conv", "conv_bn_relu"):
            conv = module[0] if p.kind == "conv_bn_relu" else module
            # torch pads with padding_mode first (np.pad's word for it), then convolves the padded input
            padded = oracle.pad(x, _pairs(p), TORCH_PAD_MODES[p.padding_mode])
            want = oracle.conv(padded, conv.weight.detach().numpy(), conv.bias.detach().numpy(), stride=p.stride,
                               dilation=p.dilation, groups=p.groups)
            if p.kind == "conv":
                ctx.matches("torch Conv vs oracle (pad, then conv)", torch_outs[0], oracle.conv, padded,
                            conv.weight.detach().numpy(), conv.bias.detach().numpy(), stride=p.stride,
                            dilation=p.dilation, groups=p.groups)
            else:
                bn = module[1]
                # ReLU only clips: the conv+BN bound holds for it (a clipped value moves towards 0, never away)
                ctx.close("torch Conv→BN→ReLU vs oracle", torch_outs[0],
                          np.maximum(oracle.batch_norm(want, *_bn_stats(bn)), 0.0),
                          magnitude=_magnitude(torch, module, x, dtype), terms=terms, sides=1)
        elif p.kind == "max_pool":
            ctx.matches("torch MaxPool vs oracle", torch_outs[0], oracle.max_pool, x, p.k, p.stride, p.padding,
                        ceil_mode=p.ceil_mode)
            if p.return_indices:
                ctx.equal("torch MaxPool indices vs oracle (per (n, c) plane)", torch_outs[1].tolist(),
                          oracle.max_pool(x, p.k, p.stride, p.padding, return_indices=True,
                                          ceil_mode=p.ceil_mode)[1].tolist())
        else:
            ctx.matches("torch AvgPool vs oracle", torch_outs[0], oracle.avg_pool, x, p.k, p.stride, p.padding,
                        count_include_pad=p.count_include_pad, ceil_mode=p.ceil_mode)
        return

    outs, nodes = bk.run_exported(module, x)
    layer = type(module).__name__ if p.kind != "conv_bn_relu" else "Conv2d→BatchNorm2d→ReLU"
    ctx.fact(f"{layer} exported as", [[op, attrs] for op, attrs in nodes])
    agrees = ctx.equal("the exported model has as many outputs as the torch layer", len(outs), len(torch_outs))
    if conv_like:
        # Both sides compute the same sums: Σ|terms| from the module on |x| and |weights| (|BN| folded in)
        agrees &= ctx.close("exported model vs torch", outs[0], torch_outs[0],
                            magnitude=_magnitude(torch, module, x, dtype), terms=terms, sides=2)
    else:
        agrees &= ctx.identical("exported model vs torch (data movement only)", outs[0], torch_outs[0])
    if len(outs) == 2 and len(torch_outs) == 2:
        agrees &= ctx.equal("MaxPool indices: the exported model's == torch's (per (n, c) plane)",
                            np.asarray(outs[1]).tolist(), torch_outs[1].tolist())
    ctx.fact(f"{layer}: the exported model computes what torch does", agrees)
