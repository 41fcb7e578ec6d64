"""``torch.nn`` layers behind :meth:`TorchBackend.layer`, with canonical-layout I/O.

Design rules
- Each builder makes the module a torch user would write (``Conv2d(padding_mode=...)``,
  ``BatchNorm2d(...).eval()``, ``AvgPool2d(ceil_mode=...)``) and wraps it in a
  :class:`~equivcheck.backends.base.LayerHandle` whose fields are read off that module.
- Kernels cross through the adapter's layout-table conversion (``bk._kernel``), read at call time.
- What torch.nn has no layer for raises :class:`NotApplicable` with a sentence; torch's own errors
  (a padding_mode on ConvTranspose, a pool padding above half the kernel) propagate untouched.
"""
from __future__ import annotations

from equivcheck import layouts
from equivcheck.backends.base import LayerHandle, NotApplicable, padding_pairs, spatial_ints

#: Kinds whose module is built from a layout-table kernel (also their layout-table op names).
KERNEL_KINDS = ("conv", "conv_transpose", "depthwise", "dense")
KINDS = KERNEL_KINDS + ("flatten", "separable", "batch_norm", "avg_pool", "max_pool")
#: ``layer(**options)`` names this adapter understands (each ignored by the kinds it does not concern).
OPTIONS = ("padding_mode", "eps", "ceil_mode", "count_include_pad")

#: NumPy pad-mode word (conventions.PAD_MODES) → torch.nn.Conv*d ``padding_mode``.
CONV_PADDING_MODES = {"constant": "zeros", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


def conv_padding_mode(mode: str, name: str) -> str:
    """torch's ``padding_mode`` word for a NumPy mode name."""
    if mode in CONV_PADDING_MODES:
        return CONV_PADDING_MODES[mode]
    if mode == "symmetric":
        raise NotApplicable(f"torch.nn.{name} has no 'symmetric' padding_mode (mirror repeating the edge "
                            f"pixel); it offers 'zeros', 'reflect', 'replicate' and 'circular'")
    raise ValueError(f"padding_mode must be a NumPy pad mode ({', '.join(CONV_PADDING_MODES)}, symmetric), "
                     f"got {mode!r}")


def build(bk, kind, *, rank, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
          depth_multiplier, use_bias, api, options):
    if kind not in KINDS:
        raise ValueError(f"layer kind must be one of {KINDS}, got {kind!r}")
    if kind == "flatten":
        return flatten_layer(bk, rank)
    if kind == "separable":
        raise NotApplicable("torch.nn has no separable convolution layer; a torch user builds it from a "
                            f"depthwise Conv{rank}d(groups=C) followed by a 1×1 Conv{rank}d")
    if kind == "batch_norm":
        return batch_norm_layer(bk, rank, in_channels, options.get("eps"))
    if kind in ("avg_pool", "max_pool"):
        return pool_layer(bk, kind, rank, kernel_size, stride, padding, dilation, options)
    return kernel_layer(bk, kind, rank=rank, in_channels=in_channels, out_channels=out_channels,
                        kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                        groups=groups, depth_multiplier=depth_multiplier, use_bias=use_bias, api=api,
                        padding_mode=options.get("padding_mode"))


def _spatial_call(bk, module, rank):
    def call(x):
        form = bk._form(x, rank)
        return bk.from_native(module(bk.to_native(x, form)), form)
    return call


def _check_rank(rank, family):
    if rank not in (1, 2, 3):
        raise NotApplicable(f"torch.nn has {family}1d/2d/3d only, no rank-{rank} layer")


def kernel_layer(bk, kind, *, rank, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                 depth_multiplier, use_bias, api, padding_mode):
    nn = bk.torch.nn
    factory = {"dtype": bk._dtype, "device": bk._device}
    if kind == "dense":
        name = "Linear"
        module = nn.Linear(in_channels, out_channels, bias=use_bias, **factory)
    else:
        _check_rank(rank, "Conv")
        if kind == "depthwise":
            # torch's depthwise conv is Conv{n}d with groups=C and C*M outputs.
            name, out_channels, groups = f"Conv{rank}d", in_channels * depth_multiplier, in_channels
        elif kind == "conv":
            name = f"Conv{rank}d"
        else:
            name = f"ConvTranspose{rank}d"
            # ConvTranspose takes no padding strings; torch spells 'valid' as 0
            padding = 0 if padding == "valid" else padding
        if isinstance(padding, str) and padding.lower() == "causal" and kind != "conv_transpose":
            raise NotApplicable("PyTorch has no causal padding; users left-pad by d(k−1) with F.pad")
        extra = {}
        if padding_mode is not None:
            # a mode on ConvTranspose reaches torch, which accepts 'zeros' only and says so
            extra["padding_mode"] = conv_padding_mode(padding_mode, name)
        module = getattr(nn, name)(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                                   dilation=dilation, groups=groups, bias=use_bias, **extra, **factory)
    kernel_rank = 2 if kind == "dense" else rank

    def set_weights(kernel, bias=None):
        """Load canonical weights; bias None means a zero bias (as the functional ops)."""
        state = {"weight": bk._kernel(bk.asarray(kernel), kind, kernel_rank, api=api)}
        if module.bias is not None:
            state["bias"] = bk.torch.zeros_like(module.bias) if bias is None else bk.asarray(bias)
        elif bias is not None:
            raise ValueError(f"torch.nn.{name} was built with bias=False but a bias was given")
        module.load_state_dict(state)  # torch's own shape check ("size mismatch")

    call = module if kind == "dense" else _spatial_call(bk, module, rank)
    extra = {} if kind == "dense" else {"groups": module.groups, "padding_mode": module.padding_mode}
    return LayerHandle(api=f"torch.nn.{name}", kernel_shape=tuple(module.weight.shape),
                       kernel_layout=layouts.kernel_layout("torch", kind, kernel_rank, api=api),
                       param_count=sum(p.numel() for p in module.parameters()),
                       set_weights=set_weights, call=call, native=module, extra=extra)


def batch_norm_layer(bk, rank, channels, eps):
    """``BatchNorm{n}d(C, eps).eval()``: normalises with its running statistics."""
    _check_rank(rank, "BatchNorm")
    name = f"BatchNorm{rank}d"
    kwargs = {} if eps is None else {"eps": eps}
    module = getattr(bk.torch.nn, name)(channels, dtype=bk._dtype, device=bk._device, **kwargs).eval()
    names = {"mean": "running_mean", "var": "running_var", "gamma": "weight", "beta": "bias"}

    def set_weights(*, mean=None, var=None, gamma=None, beta=None):
        """Load inference statistics (None keeps torch's initial value: mean 0, var 1, gamma 1, beta 0)."""
        state = module.state_dict()
        for given, value in (("mean", mean), ("var", var), ("gamma", gamma), ("beta", beta)):
            if value is not None:
                state[names[given]] = bk.asarray(value)
        module.load_state_dict(state)  # torch's own shape check ("size mismatch")

    return LayerHandle(api=f"torch.nn.{name}", kernel_shape=tuple(module.weight.shape), kernel_layout="",
                       param_count=sum(p.numel() for p in module.parameters()), set_weights=set_weights,
                       call=_spatial_call(bk, module, rank), native=module,
                       extra={"eps": module.eps, "training": module.training})


def pool_padding(padding, rank, name):
    """A pool layer's ``padding=``: torch's symmetric per-dimension ints ('valid' is 0)."""
    if isinstance(padding, str) and padding.lower() == "valid":
        return 0
    if isinstance(padding, str) and padding.lower() == "same":
        raise NotApplicable(f"torch.nn.{name} has no 'same' padding; it takes symmetric padding ints "
                            "(at most half the kernel), or F.pad before the pool")
    pairs = padding_pairs(padding, rank)
    if pairs is None:
        return padding  # torch judges it
    if any(before != after for before, after in pairs):
        raise NotApplicable(f"torch.nn.{name} pads symmetrically only (one int per dimension); asymmetric "
                            f"padding {pairs} needs F.pad before the pool")
    return tuple(before for before, _ in pairs)


def pool_layer(bk, kind, rank, kernel_size, stride, padding, dilation, options):
    _check_rank(rank, "AvgPool" if kind == "avg_pool" else "MaxPool")
    ceil_mode = bool(options.get("ceil_mode", False))
    if kind == "avg_pool":
        name = f"AvgPool{rank}d"
        if any(d != 1 for d in spatial_ints(dilation, rank)):
            raise NotApplicable(f"torch.nn.{name} has no dilation (it takes kernel_size, stride, padding, "
                                "ceil_mode, count_include_pad, divisor_override)")
        module = getattr(bk.torch.nn, name)(kernel_size, stride, pool_padding(padding, rank, name),
                                            ceil_mode=ceil_mode,
                                            count_include_pad=bool(options.get("count_include_pad", True)))
    else:
        name = f"MaxPool{rank}d"
        module = getattr(bk.torch.nn, name)(kernel_size, stride, pool_padding(padding, rank, name),
                                            dilation=dilation, ceil_mode=ceil_mode)

    def set_weights(*args, **kwargs):
        """A pool has no weights: nothing to load."""

    return LayerHandle(api=f"torch.nn.{name}", kernel_shape=(), kernel_layout="",
                       param_count=sum(p.numel() for p in module.parameters()), set_weights=set_weights,
                       call=_spatial_call(bk, module, rank), native=module,
                       extra={"ceil_mode": module.ceil_mode})


def flatten_layer(bk, rank):
    """``torch.nn.Flatten()`` (start_dim=1, end_dim=-1), the layer a torch model flattens with.

    Unlike the other handles its input is *not* converted from the canonical layout: ``x`` goes to
    the module exactly as given, ``(N, *rest)`` → ``(N, prod(rest))`` in whatever order torch.nn.Flatten
    produces.  torch's native data layout is ``extra["input_layout"]`` (NCHW for rank 2), so
    ``handle(bk.to_native(x))`` flattens a canonical map as a torch model does; a tensor
    permuted to another layout is flattened as it is (the module has no data_format)."""
    module = bk.torch.nn.Flatten()

    def set_weights(kernel=None, bias=None):
        raise ValueError("torch.nn.Flatten has no weights")

    return LayerHandle(api="torch.nn.Flatten", kernel_shape=(), kernel_layout="",
                       param_count=sum(p.numel() for p in module.parameters()),
                       set_weights=set_weights, call=module, native=module,
                       extra={"input_layout": layouts.data_layout("torch", rank)})
