"""Flax's layers behind :meth:`FlaxBackend.layer`: linen and nnx modules with canonical-layout I/O.

A mixin of :class:`equivcheck.backends.flax.adapter.FlaxBackend` (it uses the adapter's modules, jit
cache, layout permutations and functional pools).

Design rules
- Layers are built abstractly (``eval_shape``) with parameters made on the host, so no random
  initializer compiles per kernel shape; ``set_weights`` converts the claim's weights on the host and
  loads them.  A layer call, with its layout transposes, is one jitted program (nnx as
  ``nnx.merge(graphdef, state)(x)``), so a new input shape costs one XLA compile.
- Depthwise is ``Conv(features=C*M, feature_group_count=C)``: the native kernel is ``(*k, 1, C*M)``,
  the table's ``*CM`` layout reshaped (channel c*M + m).
- ConvTranspose runs with ``transpose_kernel=False`` and a spatially flipped kernel (see the adapter).
- Conv padding words are Flax's own: ``padding_mode`` 'wrap' is ``padding='CIRCULAR'`` and 'reflect'
  ``padding='REFLECT'`` (both pad ((k_d−1)//2, k_d//2) of the dilated kernel k_d, then VALID);
  ``padding='causal'`` is ``padding='CAUSAL'`` (d(k−1) on the left; Flax raises for rank > 1).
- BatchNorm is ``BatchNorm(use_running_average=True)`` with the given statistics; pools are the
  functions ``flax.linen.avg_pool``/``max_pool`` (Flax has no pooling class); Flax has no separable
  conv layer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from equivcheck import layouts
from equivcheck.backends.base import LayerHandle, NotApplicable, padding_pairs, spatial_ints
from equivcheck.conventions import PAD_MODES
from equivcheck.known_issues.versions import at_least

_KINDS = ("conv", "conv_transpose", "depthwise", "dense")
_OTHER_KINDS = ("flatten", "separable", "batch_norm", "avg_pool", "max_pool")
#: ``layer(**options)`` names Flax's layers understand (each ignored by the kinds it does not concern).
OPTIONS = ("padding_mode", "eps", "ceil_mode", "count_include_pad")
#: canonical padding mode → Flax Conv's padding word (the others Flax's Conv does not offer)
FLAX_PAD_WORDS = {"wrap": "CIRCULAR", "reflect": "REFLECT"}
#: The first flax whose Conv takes padding='REFLECT' (0.10.4's passes it on to lax, which rejects it).
FLAX_REFLECT_SINCE = "0.10.5"


def conv_padding(padding, mode, kernel, strides, dilations, flax_version="0.12.8"):
    """Flax Conv's ``padding`` for a canonical ``padding`` and ``padding_mode`` (NotApplicable with a
    sentence where Flax's words cannot say it, in the installed ``flax_version``).

    >>> conv_padding(1, "wrap", (3,), (1,), (1,)), conv_padding("causal", "constant", (3,), (1,), (2,))
    ('CIRCULAR', 'CAUSAL')
    """
    if isinstance(padding, str) and padding.lower() == "causal":
        if mode != "constant":
            raise NotApplicable(f"Flax's padding='CAUSAL' pads with zeros only, not padding_mode={mode!r}")
        return "CAUSAL"
    if mode == "constant":
        return padding.upper() if isinstance(padding, str) else padding
    if mode not in PAD_MODES:
        raise ValueError(f"padding_mode must be one of {', '.join(PAD_MODES)}, got {mode!r}")
    if mode not in FLAX_PAD_WORDS:
        raise NotApplicable(f"Flax's Conv offers padding='CIRCULAR' (wrap) and 'REFLECT' (reflect) besides zeros; "
                            f"it has no {mode!r} padding ({PAD_MODES[mode].split(' (')[0]})")
    if mode == "reflect" and not at_least(flax_version, FLAX_REFLECT_SINCE):
        raise NotApplicable(f"flax {flax_version}'s Conv has no padding='REFLECT' (Flax added it in "
                            f"{FLAX_REFLECT_SINCE}); it offers 'CIRCULAR' (wrap) besides zeros")
    word = FLAX_PAD_WORDS[mode]
    fixed = [((d * (k - 1)) // 2, (d * (k - 1) + 1) // 2) for k, d in zip(kernel, dilations)]
    if isinstance(padding, str) and padding.lower() == "same" and all(s == 1 for s in strides):
        return word
    if padding_pairs(padding, len(kernel)) == fixed:
        return word
    raise NotApplicable(f"Flax's padding={word!r} always pads ((k_d−1)//2, k_d//2) of the dilated kernel "
                        f"(here {fixed}), whatever the stride; it cannot pad {padding!r} at stride {strides}")


class FlaxLayers:
    """``layer()`` for linen and nnx."""

    def layer(self, kind, *, rank=2, in_channels, out_channels=None, kernel_size=1, stride=1, padding="valid",
              dilation=1, groups=1, depth_multiplier=1, use_bias=True, api=None, input_shape=None, **options):
        """``flax.linen.{Conv,ConvTranspose,Dense,BatchNorm}`` or ``flax.nnx.{Conv,ConvTranspose,Linear,BatchNorm}``;
        ``flatten`` is a reshape and the pools are Flax's pool functions (Flax has no such layer classes)."""
        self._require_session()
        api = self.layer_api(api, options, OPTIONS)
        if kind == "flatten":
            # neither flax.linen nor flax.nnx has a Flatten layer; Flax's own CNN examples flatten with
            # x.reshape((x.shape[0], -1)) on the NHWC map, which is what this handle runs
            return self._reshape_flatten(rank, "jax.Array.reshape",
                                         f"Flax has no Flatten layer (flax.{api} offers none): "
                                         "x.reshape((x.shape[0], -1)), as Flax's CNN examples flatten")
        if kind == "separable":
            raise NotApplicable(f"Flax has no separable conv layer (flax.{api} offers none): a Flax model composes "
                                "Conv(feature_group_count=C) and a 1×1 Conv")
        if kind in ("avg_pool", "max_pool"):
            return self._pool_layer(kind, api, rank, kernel_size, stride, padding, dilation, options)
        if kind == "batch_norm":
            return self._batch_norm_layer(api, rank, in_channels, float(options.get("eps", 1e-5)))
        if kind not in _KINDS:
            raise ValueError(f"layer kind must be one of {_KINDS + _OTHER_KINDS}, got {kind!r}")
        if kind == "conv_transpose" and groups != 1:
            raise NotApplicable("flax ConvTranspose has no feature_group_count (grouped transposed conv)")
        k, s, d = spatial_ints(kernel_size, rank), spatial_ints(stride, rank), spatial_ints(dilation, rank)
        options_native = dict(use_bias=use_bias, dtype=self.dtype, param_dtype=self.dtype)
        if kind != "dense":
            mode = options.get("padding_mode") or "constant"
            if kind in ("conv", "depthwise"):
                native_padding = conv_padding(padding, mode, k, s, d, self.flax.__version__)
            else:
                native_padding = padding.upper() if isinstance(padding, str) else padding
            options_native.update(kernel_size=k, strides=s, kernel_dilation=d, padding=native_padding)
        features = in_channels * depth_multiplier if kind == "depthwise" else out_channels
        if kind in ("conv", "depthwise"):
            options_native["feature_group_count"] = in_channels if kind == "depthwise" else groups
        cls_name = {"conv": "Conv", "depthwise": "Conv", "conv_transpose": "ConvTranspose",
                    "dense": "Dense" if api == "linen" else "Linear"}[kind]
        if api == "linen":
            built = self._linen_layer(cls_name, kind, rank, in_channels, features, options_native, input_shape)
        else:
            built = self._nnx_layer(cls_name, in_channels, features, options_native)
        kernel_shape = built.kernel_shape
        layout = layouts.kernel_layout("flax", kind, rank, api=api)
        flip = self._spatial_axes(layout, rank) if kind == "conv_transpose" else ()

        def native_kernel(kernel, np_or_jnp):
            """Canonical → native kernel (a traced kernel with jnp, anything else on the host),
            through the table as it is when the weights are loaded."""
            kernel = np_or_jnp.transpose(kernel, self._kernel_perm("flax", api, kind, rank))
            if flip:  # transpose_kernel=False: see the adapter's docstring
                kernel = np_or_jnp.flip(kernel, flip)
            if kind == "depthwise":  # (*k, C, M) → Flax's grouped (*k, 1, C*M)
                kernel = np_or_jnp.reshape(kernel, kernel_shape)
            return kernel

        def set_weights(kernel, bias=None):
            if not use_bias and bias is not None:
                raise ValueError("this layer was built with use_bias=False but set_weights got a bias")
            if isinstance(kernel, self.jax.core.Tracer):
                kernel = native_kernel(kernel, self.jnp)
            else:  # on the host: loading weights compiles nothing
                kernel = self.asarray(native_kernel(np.asarray(kernel), np))
            if use_bias:  # no bias given: a zero bias computes the same as none
                bias = np.zeros(features) if bias is None else bias
                bias = bias if isinstance(bias, self.jax.core.Tracer) else self.asarray(np.asarray(bias))
            built.load(kernel, bias)

        extra = {"note": "Flax has no depthwise class: Conv(feature_group_count=C, features=C*M), "
                          "kernel (*k, 1, C*M) = the table's *CM reshaped"} if kind == "depthwise" else {}
        if kind != "dense" and isinstance(options_native["padding"], str) and options_native["padding"] in (
                "CIRCULAR", "REFLECT", "CAUSAL"):
            extra["padding"] = options_native["padding"]
        return LayerHandle(api=f"flax.{api}.{cls_name}", kernel_shape=tuple(kernel_shape), kernel_layout=layout,
                           param_count=built.param_count, set_weights=set_weights,
                           call=self._layer_call(built, kind, rank), native=built.module, extra=extra)

    def _layer_call(self, built, kind, rank):
        """The handle's call: canonical → native, the layer, native → canonical, as one jitted program."""
        def run(x):
            if kind == "dense" or x.ndim not in (rank + 1, rank + 2):
                # dense, or neither (N, C, *sp) nor (C, *sp): no layout to convert, Flax judges the input
                to_native = from_native = tuple(range(x.ndim))
            else:
                to_native, from_native = self._data_perms("flax", x.ndim, rank)

            def build():
                def call(state, x):
                    return self._permute(built.apply(state, self._permute(x, to_native)), from_native)
                return call

            return self._jit(built.key + (to_native, from_native), build,
                             guard=kind == "conv_transpose")(built.state(), x)
        return run

    def _pool_layer(self, kind, api, rank, kernel_size, stride, padding, dilation, options):
        """Flax has no pooling class: the handle runs ``flax.linen.{avg,max}_pool`` (nnx re-exports the same
        functions), as a Flax model calls it in its ``__call__``."""
        kernel = spatial_ints(kernel_size, rank)
        ceil_mode, count_include_pad = bool(options.get("ceil_mode", False)), bool(options.get("count_include_pad", True))
        if kind == "avg_pool":
            def call(x):
                return self.avg_pool(x, kernel, stride, padding, count_include_pad=count_include_pad,
                                     ceil_mode=ceil_mode, dilation=dilation)
        else:
            def call(x):
                return self.max_pool(x, kernel, stride, padding, ceil_mode=ceil_mode, dilation=dilation)
        self._pool_options(kind, ceil_mode, spatial_ints(dilation, rank))  # n/a at build, as a layer would be

        def set_weights(*args, **kwargs):
            """A pool has no weights: nothing to load."""

        return LayerHandle(api=f"flax.{api}.{kind}", kernel_shape=(), kernel_layout="", param_count=0,
                           set_weights=set_weights, call=call,
                           extra={"note": f"Flax has no pooling layer class: flax.{api}.{kind} is the function "
                                          "Flax models call"})

    def _batch_norm_layer(self, api, rank, channels, eps):
        """``BatchNorm(use_running_average=True, epsilon=eps)`` on the channel axis (Flax's -1)."""
        options = dict(use_running_average=True, axis=-1, epsilon=eps, dtype=self.dtype, param_dtype=self.dtype)
        # Flax's initial values (scale 1, bias 0, mean 0, var 1), made on the host
        initial = {"mean": np.zeros(channels), "var": np.ones(channels), "scale": np.ones(channels),
                   "bias": np.zeros(channels)}
        if api == "linen":
            module = self.linen.BatchNorm(**options)
            variables = {"params": {}, "batch_stats": {}}

            def load(name, value):
                variables["batch_stats" if name in ("mean", "var") else "params"][name] = value
            key, state, apply = ("linen.layer", module), (lambda: variables), module.apply
        else:
            nnx = self.nnx
            module = nnx.eval_shape(lambda: nnx.BatchNorm(channels, **options, rngs=nnx.Rngs(0)))

            def load(name, value):
                _assign(getattr(module, name), value)
            graphdef = None
            key = ("nnx.layer", "BatchNorm", channels, repr(sorted(options.items())))

            def state():
                return nnx.split(module)[1]

            def apply(state, x):
                return nnx.merge(graphdef, state)(x)
        for name, value in initial.items():
            load(name, self.asarray(value))
        if api == "nnx":
            graphdef = nnx.split(module)[0]
            count = sum(int(leaf.size) for leaf in self.jax.tree_util.tree_leaves(nnx.state(module, nnx.Param)))
        else:
            count = sum(int(leaf.size) for leaf in self.jax.tree_util.tree_leaves(variables["params"]))

        def set_weights(*, mean=None, var=None, gamma=None, beta=None):
            """Load inference statistics (None keeps the current value; Flax's scale is gamma, its bias beta)."""
            for name, value in (("mean", mean), ("var", var), ("scale", gamma), ("bias", beta)):
                if value is not None:
                    load(name, value if isinstance(value, self.jax.core.Tracer) else self.asarray(np.asarray(value)))

        built = _Built(module, (channels,), count, None, state, apply, key)
        return LayerHandle(api=f"flax.{api}.BatchNorm", kernel_shape=(channels,), kernel_layout="",
                           param_count=count, set_weights=set_weights, call=self._layer_call(built, "batch_norm", rank),
                           native=module, extra={"eps": eps, "note": "param_count is Flax's params (scale, bias); "
                                                 "mean and var are its batch_stats"})

    def _zeros_like(self, abstract):
        """Zero parameters of the abstract shapes, made on the host: layers are built by
        ``eval_shape`` (Flax's random initializers would compile op by op for every new
        kernel shape), and ``set_weights`` loads the real ones."""
        return self.jax.tree_util.tree_map(lambda leaf: self.asarray(np.zeros(leaf.shape, leaf.dtype)), abstract)

    def _linen_layer(self, cls_name, kind, rank, in_channels, features, options, input_shape):
        """A linen layer with zero parameters, called as ``module.apply(params, x)``."""
        module = getattr(self.linen, cls_name)(features=features, **options)
        if kind == "dense":
            dummy_shape = (1, in_channels)
        elif input_shape is not None:
            dummy_shape = (1, *tuple(input_shape)[2:], in_channels)
        else:  # any spatial size the kernel fits in: only in_channels shapes the parameters
            dummy_shape = (1, *(di * (ki - 1) + 1 for ki, di in zip(options["kernel_size"], options["kernel_dilation"])),
                           in_channels)
        dummy = self.jax.ShapeDtypeStruct(dummy_shape, np.dtype(self.dtype))
        abstract = self.jax.eval_shape(module.init, self.jax.random.PRNGKey(0), dummy)["params"]
        params = {"params": self._zeros_like(abstract)}

        def load(kernel, bias):
            params["params"] = {"kernel": kernel} if bias is None else {"kernel": kernel, "bias": bias}
        count = sum(int(leaf.size) for leaf in self.jax.tree_util.tree_leaves(params["params"]))
        # linen modules hash by their fields: a layer rebuilt with the same settings reuses the compiled call
        return _Built(module, tuple(params["params"]["kernel"].shape), count, load, lambda: params, module.apply,
                      ("linen.layer", module))

    def _nnx_layer(self, cls_name, in_channels, features, options):
        """An nnx layer with zero parameters, called as ``nnx.merge(graphdef, state)(x)`` under jit."""
        nnx = self.nnx
        module = nnx.eval_shape(lambda: getattr(nnx, cls_name)(in_channels, features, **options, rngs=nnx.Rngs(0)))
        nnx.update(module, self._zeros_like(nnx.state(module, nnx.Param)))
        graphdef = nnx.split(module)[0]

        def load(kernel, bias):
            _assign(module.kernel, kernel)
            if bias is not None:
                _assign(module.bias, bias)
        count = sum(int(leaf.size) for leaf in self.jax.tree_util.tree_leaves(nnx.state(module, nnx.Param)))
        return _Built(module, tuple(_read(module.kernel).shape), count, load, lambda: nnx.split(module)[1],
                      lambda state, x: nnx.merge(graphdef, state)(x),
                      ("nnx.layer", cls_name, in_channels, features, repr(sorted(options.items()))))


@dataclass
class _Built:
    """A Flax layer with zero parameters: ``load(kernel, bias)`` sets its native parameters,
    ``apply(state(), x)`` is its pure call (jitted by the caller under ``key``)."""

    module: object
    kernel_shape: tuple
    param_count: int
    load: Callable
    state: Callable
    apply: Callable
    key: tuple


def _assign(variable, value):
    """Set an nnx Variable: ``v[...] = x`` on current Flax, ``v.set_value(x)`` for one holding an abstract
    value, ``v.value = x`` where Variables have neither (flax 0.8–0.10, the 'oldest' tox env)."""
    try:
        variable[...] = value
    except (TypeError, AttributeError):  # also an abstract (eval_shape) Variable, on current Flax: set_value
        if hasattr(variable, "set_value"):
            variable.set_value(value)
        else:
            variable.value = value


def _read(variable):
    """An nnx Variable's array (``v[...]`` now, ``v.value`` on flax 0.8–0.10)."""
    try:
        return variable[...]
    except (TypeError, AttributeError):
        return variable.value
