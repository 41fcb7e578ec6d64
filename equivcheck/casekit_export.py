"""torch.nn layers for the claims about exporting them (``torch.onnx.export``): a hypothesis space of conv-family
layer descriptions, the module one describes with its parameters drawn from ``ctx``, the oracle op the layer
computes, and the two numbers of the error bound between two engines that both run it.

A layer description is a dict: ``kind`` (one of :data:`KINDS`), ``rank``, ``n`` (batch), ``size`` (each spatial
size of the input, of the output for PixelUnshuffle) and the layer's own arguments (``c_in``, ``c_out``, ``k``,
``stride``, ``padding``, ...).  Design rules are :mod:`equivcheck.casekit`'s: nothing here decides a verdict, every
check stays in the case body.

>>> from equivcheck.checker import Params
>>> layer_input_shape(Params(kind="pixel_shuffle", rank=2, n=1, c_in=2, size=3, r=2))
(1, 8, 3, 3)
"""
from __future__ import annotations

import copy

import numpy as np
from hypothesis import strategies as st

from equivcheck import oracle
from equivcheck.backends.base import NotApplicable
from equivcheck.tolerance import conv_terms

KINDS = ("conv", "conv_transpose", "pixel_shuffle", "pixel_unshuffle", "max_pool", "avg_pool", "conv_bn_relu")
#: The kinds that sum products (compared within a bound); the shuffles and MaxPool only move data (bit for bit).
SUMMING = ("conv", "conv_transpose", "conv_bn_relu", "avg_pool")
#: torch's Conv padding_mode in np.pad's words (the oracle's).
TORCH_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def layer_example(kind, rank=2, **params):
    """A fixed layer description on one line."""
    return {"kind": kind, "rank": rank, **params}


@st.composite
def torch_layers(draw):
    """Layer descriptions of every kind: Conv1d/2d/3d with each padding (int, 'same', 'valid') and padding_mode,
    ConvTranspose with output_padding below the stride, PixelShuffle/Unshuffle, MaxPool/AvgPool with ceil_mode,
    and a Conv2d→BatchNorm2d→ReLU block."""
    kind = draw(st.sampled_from(KINDS))
    rank = 2 if kind in ("pixel_shuffle", "pixel_unshuffle", "conv_bn_relu") else draw(st.integers(1, 3))
    p = {"kind": kind, "rank": rank, "n": draw(st.integers(1, 2)), "size": draw(st.integers(4, 7))}
    if kind in ("conv", "conv_bn_relu"):
        p.update(c_in=draw(st.sampled_from([2, 4])), c_out=draw(st.sampled_from([2, 4])), k=draw(st.integers(1, 3)),
                 groups=draw(st.sampled_from([1, 2])), dilation=draw(st.integers(1, 2)),
                 padding=draw(st.sampled_from([0, 1, "same", "valid"])),
                 padding_mode=draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"])))
        p["stride"] = 1 if p["padding"] == "same" else draw(st.integers(1, 2))
        p["size"] = max(p["size"], p["dilation"] * (p["k"] - 1) + 1)  # unpadded, the dilated kernel must fit
    elif kind == "conv_transpose":
        p.update(c_in=draw(st.sampled_from([2, 4])), c_out=draw(st.sampled_from([2, 4])), k=draw(st.integers(1, 3)),
                 groups=draw(st.sampled_from([1, 2])), dilation=draw(st.integers(1, 2)),
                 stride=draw(st.integers(1, 3)), padding=draw(st.integers(0, 1)))
        # below the stride: torch accepts output_padding < max(stride, dilation), but ONNX's ConvTranspose rejects
        # output_padding ≥ stride (its own rule; both ONNX engines raise), which is a different claim
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


def import_torch():
    """The torch module, or :class:`NotApplicable` saying that exporting a torch layer needs it."""
    try:
        import torch
    except ImportError as exc:
        raise NotApplicable(f"torch.onnx.export needs torch, which is not installed ({exc})") from None
    return torch


def torch_module(torch, p):
    """The torch.nn module that layer description ``p`` names (default initialisation)."""
    nn, rank = torch.nn, p.rank
    if p.kind in ("conv", "conv_bn_relu"):
        conv = nn.__dict__[f"Conv{rank}d"](p.c_in, p.c_out, p.k, stride=p.stride, padding=p.padding,
                                           dilation=p.dilation, groups=p.groups, padding_mode=p.padding_mode)
        return conv if p.kind == "conv" else nn.Sequential(conv, nn.BatchNorm2d(p.c_out), nn.ReLU())
    if p.kind == "conv_transpose":
        return nn.__dict__[f"ConvTranspose{rank}d"](p.c_in, p.c_out, p.k, stride=p.stride, padding=p.padding,
                                                    output_padding=p.output_padding, dilation=p.dilation,
                                                    groups=p.groups)
    if p.kind in ("pixel_shuffle", "pixel_unshuffle"):
        return nn.PixelShuffle(p.r) if p.kind == "pixel_shuffle" else nn.PixelUnshuffle(p.r)
    if p.kind == "max_pool":
        return nn.__dict__[f"MaxPool{rank}d"](p.k, p.stride, p.padding, ceil_mode=p.ceil_mode,
                                              return_indices=p.return_indices)
    return nn.__dict__[f"AvgPool{rank}d"](p.k, p.stride, p.padding, ceil_mode=p.ceil_mode,
                                          count_include_pad=p.count_include_pad)


def load_parameters(torch, module, ctx, dtype):
    """``module`` in eval mode with every floating parameter and buffer drawn from ``ctx`` under its own name
    (so counterexamples print them); BatchNorm's running variance is kept positive."""
    with torch.no_grad():
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            if tensor.dtype.is_floating_point:
                value = ctx.array(name, tuple(tensor.shape))
                if name.endswith("running_var"):
                    value = np.abs(value) + 1.0
                tensor.copy_(torch.as_tensor(value, dtype=dtype))
    return module.eval()


def layer_input_shape(p):
    """The input shape of layer description ``p``: a shuffle's input has r² times the channels (PixelShuffle) or
    r times the size (PixelUnshuffle)."""
    channels = p.c_in * p.r * p.r if p.kind == "pixel_shuffle" else p.c_in
    size = p.size * p.r if p.kind == "pixel_unshuffle" else p.size
    return (p.n, channels) + (size,) * p.rank


def run_torch(torch, module, x, dtype):
    """``module`` on the NumPy ``x`` without autograd: its outputs as a list of NumPy arrays (two with indices)."""
    with torch.no_grad():
        out = module(torch.as_tensor(x, dtype=dtype))
    return [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]


def conv_pad_pairs(p):
    """The conv's padding as (before, after) per spatial dim: torch's 'same' puts the odd pixel after."""
    if p.padding == "valid":
        return [(0, 0)] * p.rank
    if p.padding == "same":
        total = p.dilation * (p.k - 1)
        return [(total // 2, total - total // 2)] * p.rank
    return [(p.padding, p.padding)] * p.rank


def torch_oracle(p, module, x):
    """What the torch layer computes on ``x``, as ``(label, oracle op, args, kwargs)`` for ``ctx.matches``; for
    Conv→BN→ReLU its conv.  A Conv pads with its padding_mode first (np.pad's word), then convolves."""
    if p.kind in ("pixel_shuffle", "pixel_unshuffle"):
        return f"torch.nn.{type(module).__name__} vs oracle", getattr(oracle, p.kind), (x, p.r), {}
    if p.kind == "conv_transpose":
        return ("torch ConvTranspose vs oracle", oracle.conv_transpose,
                (x, module.weight.detach().numpy(), module.bias.detach().numpy()),
                dict(stride=p.stride, padding=p.padding, output_padding=p.output_padding, dilation=p.dilation,
                     groups=p.groups))
    if p.kind in ("conv", "conv_bn_relu"):
        conv = module[0] if p.kind == "conv_bn_relu" else module
        padded = oracle.pad(x, conv_pad_pairs(p), TORCH_PAD_MODES[p.padding_mode])
        return ("torch Conv vs oracle (pad, then conv)", oracle.conv,
                (padded, conv.weight.detach().numpy(), conv.bias.detach().numpy()),
                dict(stride=p.stride, dilation=p.dilation, groups=p.groups))
    if p.kind == "max_pool":
        return "torch MaxPool vs oracle", oracle.max_pool, (x, p.k, p.stride, p.padding), dict(ceil_mode=p.ceil_mode)
    return ("torch AvgPool vs oracle", oracle.avg_pool, (x, p.k, p.stride, p.padding),
            dict(count_include_pad=p.count_include_pad, ceil_mode=p.ceil_mode))


def bn_stats(bn):
    """A BatchNorm module's (running mean, running variance, γ, β, ε), the arguments of ``oracle.batch_norm``."""
    return (bn.running_mean.detach().numpy(), bn.running_var.detach().numpy(), bn.weight.detach().numpy(),
            bn.bias.detach().numpy(), bn.eps)


def abs_magnitude(torch, module, x, dtype):
    """Σ|terms| per output: a copy of ``module`` with |weights| run on |x|; a BatchNorm's scale is folded in, also
    in absolute value (|γ/√(σ²+ε)|·Σ|x·w| + |β| + |μ·γ/√(σ²+ε)|)."""
    absolute = copy.deepcopy(module)
    with torch.no_grad():
        for _, tensor in absolute.named_parameters():
            tensor.abs_()
        for bn in absolute.modules():
            if isinstance(bn, torch.nn.BatchNorm2d):
                bn.bias.copy_(bn.bias.abs() + (bn.running_mean * bn.weight).abs() / (bn.running_var + bn.eps).sqrt())
                bn.running_mean.zero_()
        out = absolute(torch.as_tensor(np.abs(x), dtype=dtype))
    return out.detach().numpy().astype(np.float64)


def summed_terms(p, module):
    """Products summed per output of the layer: a conv's (I/groups)·prod(k) + 1 for its bias, + 2 for the
    BatchNorm's scale and shift (added to every conv alike); AvgPool's prod(k); 1 for data movement."""
    if p.kind in ("conv", "conv_transpose", "conv_bn_relu"):
        weight = module[0].weight if p.kind == "conv_bn_relu" else module.weight
        return conv_terms(tuple(weight.shape) if p.kind != "conv_transpose" else
                          (1, weight.shape[0] // p.groups, *weight.shape[2:]), bias=True) + 2
    return p.k ** p.rank if p.kind == "avg_pool" else 1
