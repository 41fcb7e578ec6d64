"""torch.onnx.export keeps conv-family layers: the exported model gives, in ONNX, what torch gives.

The torch column checks the torch layer against the oracle; the ONNX columns run the exported model and
compare it with torch (both sides compute, so the bound has two sides); per layer type the exported ops and
their attributes are facts.
"""
import numpy as np

from equivcheck.case import (ONNX_116_NO_LAYERS, SUMMING, NotApplicable, abs_magnitude, bn_stats, claim, import_torch,
                             layer_example as _example, layer_input_shape, load_parameters, oracle, run_torch, source,
                             summed_terms, torch_layers, torch_module, torch_oracle)


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
    space=torch_layers(),
    expected={"*": "n/a", "torch": "holds", "onnxruntime": "holds", "onnx": "holds"}, deviations=ONNX_116_NO_LAYERS,
    notes={
        "*": "The claim is about torch.onnx.export: it runs on the torch column (the torch side: the layer vs the "
             "oracle) and the ONNX columns (the exported model vs torch); elsewhere it is n/a.",
        "torch": "ConvTranspose draws keep output_padding below the stride: ONNX rejects output_padding ≥ stride "
                 "(ONNX Runtime: 'output_padding may be too large for stride'), where torch accepts it below the "
                 "dilation too; that rule is ONNX's, not the exporter's.",
    },
)
def check(bk, p, ctx):
    if bk.framework_name not in ("torch", "onnxruntime", "onnx"):
        raise NotApplicable(f"the claim is about torch.onnx.export; {bk.framework_name} has no part in it")
    torch = import_torch()
    dtype = getattr(torch, bk.dtype)
    module = load_parameters(torch, torch_module(torch, p).to(dtype), ctx, dtype)
    x = ctx.array("x", layer_input_shape(p))
    torch_outs = run_torch(torch, module, x, dtype)
    if bk.framework_name == "torch":
        label, op, args, kwargs = torch_oracle(p, module, x)
        if p.kind == "conv_bn_relu":
            # ReLU only clips: the conv+BN bound holds for it (a clipped value moves towards 0, never away)
            ctx.close("torch Conv→BN→ReLU vs oracle", torch_outs[0],
                      np.maximum(oracle.batch_norm(op(*args, **kwargs), *bn_stats(module[1])), 0.0),
                      magnitude=abs_magnitude(torch, module, x, dtype), terms=summed_terms(p, module), sides=1)
        else:
            ctx.matches(label, torch_outs[0], op, *args, **kwargs)
        if p.get("return_indices"):
            indices = oracle.max_pool(x, p.k, p.stride, p.padding, return_indices=True, ceil_mode=p.ceil_mode)[1]
            ctx.equal("torch MaxPool indices vs oracle (per (n, c) plane)", torch_outs[1].tolist(), indices.tolist())
        return

    outs, nodes = bk.run_exported(module, x)
    layer = type(module).__name__ if p.kind != "conv_bn_relu" else "Conv2d→BatchNorm2d→ReLU"
    ctx.fact(f"{layer} exported as", [[op, attrs] for op, attrs in nodes])
    agrees = ctx.equal("the exported model has as many outputs as the torch layer", len(outs), len(torch_outs))
    if p.kind in SUMMING:
        # Both sides compute the same sums: Σ|terms| from the module on |x| and |weights| (|BN| folded in)
        agrees &= ctx.close("exported model vs torch", outs[0], torch_outs[0],
                            magnitude=abs_magnitude(torch, module, x, dtype), terms=summed_terms(p, module), sides=2)
    else:
        agrees &= ctx.identical("exported model vs torch (data movement only)", outs[0], torch_outs[0])
    if len(outs) == 2 and len(torch_outs) == 2:
        agrees &= ctx.equal("MaxPool indices: the exported model's == torch's (per (n, c) plane)",
                            np.asarray(outs[1]).tolist(), torch_outs[1].tolist())
    ctx.fact(f"{layer}: the exported model computes what torch does", agrees)
