"""The Flax adapter: linen modules for the functional ops, linen and nnx layers.

Design rules
- ``flax`` is imported in ``__init__``; this module imports no framework.
- All JAX plumbing (asarray, session with x64, vjp, jit cache, composed
  pixel shuffles, patches) is inherited from :class:`JaxBackend`: a Flax user
  reaches for ``jax.numpy``/``lax`` for what Flax lacks.
- Functional ops run a ``flax.linen`` module (``Conv``, ``ConvTranspose``,
  ``Dense``) applied to parameters made from the canonical weights through
  :mod:`equivcheck.layouts` (read at call time); data goes in Flax's ``N*C``.
- ``dtype`` and ``param_dtype`` follow the run dtype; float64 layers must be
  built inside :meth:`session` (x64), which ``layer`` checks.
- Unbatched ``(C, *sp)`` input is passed on as ``(*sp, C)``: Flax itself adds
  and removes the batch axis.
- PyTorch's ConvTranspose is reproduced by ``ConvTranspose(transpose_kernel=False)``
  (Flax's default, kernel ``(*k, I, O)``) with the kernel spatially flipped and
  explicit padding pairs (d(k−1)−p, d(k−1)−p+output_padding) of the stride-dilated
  input.  ``transpose_kernel=True`` would flip and swap I/O itself, making the
  kernel ``(*k, O, I)`` with no flip.  Flax's ConvTranspose has no
  feature_group_count, so grouped transposed convs are n/a.
- Layers are built abstractly (``eval_shape``) with zero parameters made on the host, so
  no random initializer compiles per kernel shape; ``set_weights`` converts the claim's
  weights on the host and loads them.  A layer call, with its layout transposes, is one
  jitted program (nnx as ``nnx.merge(graphdef, state)(x)``), so a new input shape costs
  one XLA compile instead of one per eager op.
- Depthwise is ``Conv(features=C*M, feature_group_count=C)``: the native kernel
  is ``(*k, 1, C*M)``, the table's ``*CM`` layout reshaped (channel c*M + m).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from equivcheck import layouts
from equivcheck.backends.base import LayerHandle, NotApplicable, padding_spec, spatial_ints, transpose_padding
from equivcheck.backends.jax.adapter import JaxBackend

_KINDS = ("conv", "conv_transpose", "depthwise", "dense")


class FlaxBackend(JaxBackend):
    """Flax linen/nnx on canonical tensors; every array is a ``jax.Array``."""

    framework_name = "flax"
    functional_api = "linen"
    layer_apis = ("linen", "nnx")

    def __init__(self, dtype: str = "float32", device: str = "cpu", allow_tf32: bool = False):
        super().__init__(dtype, device, allow_tf32)
        import flax
        from flax import linen, nnx

        self.flax, self.linen, self.nnx = flax, linen, nnx

    def versions(self):
        return {**super().versions(), "flax": self.flax.__version__}

    # ---- functional ops through linen modules ----------------------------------
    def _spatial_axes(self, layout: str, rank: int) -> tuple[int, ...]:
        return tuple(i for i, axis in enumerate(layout) if axis in layouts.SPATIAL[rank])

    def _run_module(self, cls_name: str, op: str, x, w, b, rank: int, config: dict):
        """Apply ``linen.<cls_name>(**config)`` to ``x`` with the canonical kernel ``w``, bias ``b``."""
        perms = self._data_perms("flax", x.ndim, rank) if op != "dense" else ((), ())
        native_kernel = layouts.kernel_layout("flax", op, rank, api="linen")
        kernel_perm = self._kernel_perm("flax", "linen", op, rank)
        flip = self._spatial_axes(native_kernel, rank) if op == "conv_transpose" else ()
        config = {**config, "use_bias": b is not None, "dtype": self.dtype, "param_dtype": self.dtype}

        def build():
            module = getattr(self.linen, cls_name)(**config)
            to_native, from_native = perms

            def run(x, w, b):
                kernel = self._permute(w, kernel_perm)
                if flip:  # transpose_kernel=False correlates with the kernel as given
                    kernel = self.jnp.flip(kernel, flip)
                params = {"kernel": kernel} if b is None else {"kernel": kernel, "bias": b}
                y = module.apply({"params": params}, self._permute(x, to_native) if to_native else x)
                return self._permute(y, from_native) if from_native else y
            return run

        key = ("linen", cls_name, perms, kernel_perm, flip, tuple(sorted(config.items())))
        return self._jit(key, build, guard=op == "conv_transpose")(x, w, b)

    def conv(self, x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
        """``flax.linen.Conv``; 'same' is Flax's (lax's) 'SAME', the TF rule."""
        rank = w.ndim - 2
        return self._run_module("Conv", "conv", x, w, b, rank, dict(
            features=int(w.shape[0]), kernel_size=tuple(int(k) for k in w.shape[2:]), strides=spatial_ints(stride, rank),
            padding=padding_spec(padding, rank), kernel_dilation=spatial_ints(dilation, rank), feature_group_count=int(groups)))

    def conv_transpose(self, x, w, b=None, *, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
        """``flax.linen.ConvTranspose`` (transpose_kernel=False, flipped kernel, explicit pads)."""
        if int(groups) != 1:
            raise NotApplicable("flax ConvTranspose has no feature_group_count, so it cannot express a "
                                "grouped transposed convolution")
        rank = w.ndim - 2
        kernel, dilations = tuple(int(k) for k in w.shape[2:]), spatial_ints(dilation, rank)
        return self._run_module("ConvTranspose", "conv_transpose", x, w, b, rank, dict(
            features=int(w.shape[1]), kernel_size=kernel, strides=spatial_ints(stride, rank),
            padding=transpose_padding(padding, output_padding, kernel, dilations, rank,
                                      op="lax.conv_transpose"), kernel_dilation=dilations))

    def linear(self, x, w, b=None):
        """``flax.linen.Dense`` on the last axis; kernel in the table's dense layout (IO)."""
        return self._run_module("Dense", "dense", x, w, b, 0, dict(features=int(w.shape[0])))

    # ---- pooling through flax.linen.{max,avg}_pool ---------------------------------------
    def max_pool(self, x, kernel, stride=None, padding=0, return_indices=False):
        if return_indices:
            raise NotApplicable("Flax has no max-pool-with-argmax (flax.linen.max_pool returns values only), "
                                "so there are no switch indices to record or unpool with")
        return self._pool("max_pool", x, *self._pool_config(x, kernel, stride, padding))

    def max_unpool(self, y, indices, kernel, stride=None, output_size=None):
        raise NotApplicable("Flax has no max-unpool op (and no max-pool argmax to feed one)")

    def avg_pool(self, x, kernel, stride=None, padding=0):
        """``flax.linen.avg_pool`` with its default count_include_pad=True."""
        return self._pool("avg_pool", x, *self._pool_config(x, kernel, stride, padding))

    def _pool(self, name, x, rank, kernel, strides, pads):
        to_native, from_native = self._data_perms("flax", x.ndim, rank)

        def build():
            pool = getattr(self.linen, name)

            def run(x):
                return self._permute(pool(self._permute(x, to_native), kernel, strides, pads), from_native)
            return run

        return self._jit(("flax", name, to_native, from_native, kernel, strides, pads), build)(x)

    # ---- layers -----------------------------------------------------------------------------
    def layer(self, kind, *, rank=2, in_channels, out_channels=None, kernel_size=1, stride=1, padding="valid",
              dilation=1, groups=1, depth_multiplier=1, use_bias=True, api=None, input_shape=None):
        """``flax.linen.{Conv,ConvTranspose,Dense}`` or ``flax.nnx.{Conv,ConvTranspose,Linear}``; ``flatten``
        is a reshape (Flax has no Flatten layer; see :meth:`JaxBackend._reshape_flatten`)."""
        self._require_session()
        api = api or self.layer_apis[0]
        if api not in self.layer_apis:
            raise ValueError(f"flax layer api must be one of {self.layer_apis}, got {api!r}")
        if kind == "flatten":
            # neither flax.linen nor flax.nnx has a Flatten layer; Flax's own CNN examples flatten with
            # x.reshape((x.shape[0], -1)) on the NHWC map, which is what this handle runs
            return self._reshape_flatten(rank, "jax.Array.reshape",
                                         f"Flax has no Flatten layer (flax.{api} offers none): "
                                         "x.reshape((x.shape[0], -1)), as Flax's CNN examples flatten")
        if kind not in _KINDS:
            raise ValueError(f"layer kind must be one of {_KINDS + ('flatten',)}, got {kind!r}")
        if kind == "conv_transpose" and groups != 1:
            raise NotApplicable("flax ConvTranspose has no feature_group_count (grouped transposed conv)")
        k, s, d = spatial_ints(kernel_size, rank), spatial_ints(stride, rank), spatial_ints(dilation, rank)
        options = dict(use_bias=use_bias, dtype=self.dtype, param_dtype=self.dtype)
        if kind != "dense":
            options.update(kernel_size=k, strides=s, kernel_dilation=d,
                           padding=padding.upper() if isinstance(padding, str) else padding)
        features = in_channels * depth_multiplier if kind == "depthwise" else out_channels
        if kind in ("conv", "depthwise"):
            options["feature_group_count"] = in_channels if kind == "depthwise" else groups
        cls_name = {"conv": "Conv", "depthwise": "Conv", "conv_transpose": "ConvTranspose",
                    "dense": "Dense" if api == "linen" else "Linear"}[kind]
        if api == "linen":
            built = self._linen_layer(cls_name, kind, rank, in_channels, features, options, input_shape)
        else:
            built = self._nnx_layer(cls_name, in_channels, features, options)
        kernel_shape = built.kernel_shape
        layout = layouts.kernel_layout("flax", kind, rank, api=api)
        flip = self._spatial_axes(layout, rank) if kind == "conv_transpose" else ()

        def native_kernel(kernel, np_or_jnp):
            """Canonical → native kernel (a traced kernel with jnp, anything else on the host),
            through the table as it is when the weights are loaded."""
            kernel = np_or_jnp.transpose(kernel, self._kernel_perm("flax", api, kind, rank))
            if flip:  # transpose_kernel=False: see the module docstring
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

            # the layer call with its layout transposes is one jitted program per configuration
            return self._jit(built.key + (to_native, from_native), build,
                             guard=kind == "conv_transpose")(built.state(), x)

        extra = {"note": "Flax has no depthwise class: Conv(feature_group_count=C, features=C*M), "
                          "kernel (*k, 1, C*M) = the table's *CM reshaped"} if kind == "depthwise" else {}
        return LayerHandle(api=f"flax.{api}.{cls_name}", kernel_shape=tuple(kernel_shape), kernel_layout=layout,
                           param_count=built.param_count, set_weights=set_weights, call=run, native=built.module,
                           extra=extra)

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
    """Set an nnx Variable: ``v[...] = x`` on current Flax, ``v.value = x`` where
    Variables have no item assignment (flax 0.8–0.10, the 'oldest' tox env)."""
    try:
        variable[...] = value
    except (TypeError, AttributeError):
        variable.value = value


def _read(variable):
    """An nnx Variable's array (``v[...]`` now, ``v.value`` on flax 0.8–0.10)."""
    try:
        return variable[...]
    except (TypeError, AttributeError):
        return variable.value
