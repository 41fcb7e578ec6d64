"""Flax (``flax.linen``, ``flax.nnx``) conventions, on the JAX probes' helpers (Flax runs on JAX).

Arrays cross through the adapter (``bk.asarray`` / ``bk.to_numpy``, float32 on the CPU) and the layers
probed are the adapter's own (``bk.layer(..., api=...).native``, called natively), except where a row
reads a class default (default padding, param_dtype), which needs the class built without arguments.
The porting-pitfall rows are :mod:`.pitfall_probes`."""
from __future__ import annotations

import numpy as np

from equivcheck.backends.jax.probes import (_np, _reshape_flatten, _setting, _sizes, _t, _unbatched,
                                            register_settings, register_without_ops)
from equivcheck.report.decode import GROUPS
from equivcheck.report.probe_common import ConvAPI, register_conv_family
from equivcheck.report.probes import probe

KERNEL = {1: (4,), 2: (2, 4), 3: (2, 4, 6)}


def setup(bk):
    return {"bk": bk, "jax": bk.jax, "jnp": bk.jnp, "lax": bk.lax, "flax": bk.flax, "linen": bk.linen, "nnx": bk.nnx}


def _layer_name(module: str, dense: str, op: str) -> str:
    """The class a probe of ``op`` builds in ``module`` (flax.linen or flax.nnx; their dense layer is ``dense``)."""
    return {"dense": f"{module}.{dense}", "conv_transpose": f"{module}.ConvTranspose",
            "grouped": f"{module}.Conv(feature_group_count=2)",
            "depthwise": f"{module}.Conv(feature_group_count=C)"}.get(op, f"{module}.Conv")


class _OneApi:
    """The adapter with ``layer(api=...)`` fixed: :meth:`ConvAPI.adapter_layer` builds with the adapter's
    default API (linen), so the nnx rows hand it this view, in an env of their own (its layer cache is
    per env)."""

    def __init__(self, bk, api):
        self.bk, self.api = bk, api

    def layer(self, kind, **kwargs):
        return self.bk.layer(kind, api=self.api, **kwargs)


def adapter_layer(env, api, kind, **kwargs):
    """``bk.layer(kind, api=api, use_bias=False, **kwargs).native``: a linen module or an nnx layer."""
    return env["bk"].layer(kind, api=api, use_bias=False, **kwargs).native


def _load(layer, w):
    """Give an nnx layer the kernel ``w`` (native shape checked: a wrong candidate layout is rejected)."""
    from equivcheck.backends.flax.layers import _assign, _read

    if tuple(w.shape) != tuple(_read(layer.kernel).shape):
        raise ValueError(f"kernel shape {w.shape} ≠ the layer's {_read(layer.kernel).shape}")
    _assign(layer.kernel, w)


class Linen(ConvAPI):
    framework, label, table_api, is_layer = "flax", "flax.linen", "linen", True

    def name(self, op, rank):
        return _layer_name(self.label, "Dense", op)

    def kernel_shape(self, env, op, rank):
        channels = 3 * GROUPS if op == "grouped" else 3
        x = _t(env, np.zeros((2, *([12] * rank), channels)))
        params = self.adapter_layer(env, op, rank).init(env["jax"].random.PRNGKey(0), x)
        return tuple(params["params"]["kernel"].shape)

    def run(self, env, op, rank, x, w, data_layout):
        return _np(env, self.adapter_layer(env, op, rank).apply({"params": {"kernel": _t(env, w)}}, _t(env, x)))

    def same_1d(self, env, x, k, stride):
        w = np.zeros((k, 1, 1))
        w[0] = 1
        module = adapter_layer(env, "linen", "conv", rank=1, in_channels=1, out_channels=1, kernel_size=k,
                               stride=stride, padding="same")
        return _np(env, module.apply({"params": {"kernel": _t(env, w)}}, _t(env, x[None, :, None])))[0, :, 0]

    def default_padding(self, env):
        module = env["linen"].Conv(1, (3, 3))  # built natively: the class default is what is read
        x = _t(env, np.zeros((1, 8, 9, 1)))
        out = module.apply(module.init(env["jax"].random.PRNGKey(0), x), x)
        return f"padding={module.padding!r}", out.shape[1:3]

    def dense(self, env, x, w):
        module = adapter_layer(env, "linen", "dense", in_channels=3, out_channels=5)
        return _np(env, module.apply({"params": {"kernel": _t(env, w)}}, _t(env, x)))


class Nnx(ConvAPI):
    framework, label, table_api, is_layer = "flax", "flax.nnx", "nnx", True

    def name(self, op, rank):
        return _layer_name(self.label, "Linear", op)

    def _layer(self, env, op, rank):
        if env["nnx"] is None:
            raise ImportError(f"flax {env['flax'].__version__} has no flax.nnx")
        own = env.setdefault("_nnx_env", {"bk": _OneApi(env["bk"], "nnx")})
        return self.adapter_layer(own, op, rank)

    def kernel_shape(self, env, op, rank):
        from equivcheck.backends.flax.layers import _read

        return tuple(_read(self._layer(env, op, rank).kernel).shape)

    def run(self, env, op, rank, x, w, data_layout):
        layer = self._layer(env, op, rank)
        _load(layer, _t(env, w))
        return _np(env, layer(_t(env, x)))

    def same_1d(self, env, x, k, stride):
        layer = adapter_layer(env, "nnx", "conv", rank=1, in_channels=1, out_channels=1, kernel_size=k,
                              stride=stride, padding="same")
        w = np.zeros((k, 1, 1))
        w[0] = 1
        _load(layer, _t(env, w))
        return _np(env, layer(_t(env, x[None, :, None])))[0, :, 0]

    def default_padding(self, env):
        nnx = env["nnx"]
        layer = nnx.Conv(1, 1, (3, 3), rngs=nnx.Rngs(0))  # built natively: the class default is what is read
        return f"padding={layer.padding!r}", layer(_t(env, np.zeros((1, 8, 9, 1)))).shape[1:3]

    def dense(self, env, x, w):
        layer = adapter_layer(env, "nnx", "dense", in_channels=3, out_channels=5)
        _load(layer, _t(env, w))
        return _np(env, layer(_t(env, x)))


register_conv_family("flax", [Linen(), Nnx()])


@probe("flax", "output_padding", "3 → 7 or 8", "flax.linen.ConvTranspose")
def _flax_transpose_sizes(env):
    def make(padding):
        module = env["bk"].layer("conv_transpose", rank=1, in_channels=1, out_channels=1, kernel_size=3, stride=2,
                                 padding=padding if isinstance(padding, str) else [padding]).native
        x = _t(env, np.zeros((1, 3, 1)))
        return module.apply(module.init(env["jax"].random.PRNGKey(0), x), x).shape[1]
    return "no output_padding; padding of the dilated input chooses: " + _sizes(make, ("VALID", (2, 2), (2, 3)), "padding")


register_without_ops("flax", "flax.linen.max_pool")
probe("flax", "flatten_order", "conv map → vector", "x.reshape((N, -1)) (Flax has no Flatten layer)")(
    _reshape_flatten(True))


def _linen_unbatched(env):
    module = adapter_layer(env, "linen", "conv", in_channels=3, out_channels=5, kernel_size=(2, 4))
    x = _t(env, np.zeros((7, 9, 3)))
    return module.apply(module.init(env["jax"].random.PRNGKey(0), x), x)


_unbatched("flax", "flax.linen.Conv", "conv2d on (H, W, C)", _linen_unbatched)
_unbatched("flax", "flax.nnx.Conv", "conv2d on (H, W, C)",
           lambda env: adapter_layer(env, "nnx", "conv", in_channels=3, out_channels=5, kernel_size=(2, 4))(
               _t(env, np.zeros((7, 9, 3)))))


register_settings("flax")
_setting("flax", "param_dtype default", "flax.linen.Conv", lambda env: env["linen"].Conv(1, (1,)).param_dtype.__name__
         if hasattr(env["linen"].Conv(1, (1,)).param_dtype, "__name__") else env["linen"].Conv(1, (1,)).param_dtype)

from equivcheck.backends.flax import pitfall_probes  # noqa: E402,F401  (registers the flax rows)
