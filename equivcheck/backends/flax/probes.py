"""Flax (``flax.linen``, ``flax.nnx``) conventions, on the JAX probes' helpers (Flax runs on JAX)."""
from __future__ import annotations

import numpy as np

from equivcheck.backends.jax.probes import (_f32, _np, _reshape_flatten, _setting, _sizes, _unbatched,
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


class Linen(ConvAPI):
    framework, label, table_api, is_layer = "flax", "flax.linen", "linen", True

    def name(self, op, rank):
        return _layer_name(self.label, "Dense", op)

    def _module(self, env, op, rank, **extra):
        linen = env["linen"]
        k = KERNEL[rank]
        if op == "conv_transpose":
            return linen.ConvTranspose(5, k, strides=(2,) * rank, padding="VALID", use_bias=False)
        features = {"grouped": 6, "depthwise": 15}.get(op, 5)
        groups = {"grouped": GROUPS, "depthwise": 3}.get(op, 1)
        return linen.Conv(features, k, padding="VALID", feature_group_count=groups, use_bias=False, **extra)

    def kernel_shape(self, env, op, rank):
        channels = 3 * GROUPS if op == "grouped" else 3
        x = np.zeros((2, *([12] * rank), channels), np.float32)
        params = self._module(env, op, rank).init(env["jax"].random.PRNGKey(0), x)
        return tuple(params["params"]["kernel"].shape)

    def run(self, env, op, rank, x, w, data_layout):
        return _np(self._module(env, op, rank).apply({"params": {"kernel": _f32(w)}}, _f32(x)))

    def same_1d(self, env, x, k, stride):
        w = np.zeros((k, 1, 1), np.float32)
        w[0] = 1
        module = env["linen"].Conv(1, (k,), strides=(stride,), padding="SAME", use_bias=False)
        return _np(module.apply({"params": {"kernel": w}}, _f32(x)[None, :, None]))[0, :, 0]

    def default_padding(self, env):
        module = env["linen"].Conv(1, (3, 3))
        x = np.zeros((1, 8, 9, 1), np.float32)
        out = module.apply(module.init(env["jax"].random.PRNGKey(0), x), x)
        return f"padding={module.padding!r}", out.shape[1:3]

    def dense(self, env, x, w):
        return _np(env["linen"].Dense(5, use_bias=False).apply({"params": {"kernel": _f32(w)}}, _f32(x)))


class Nnx(ConvAPI):
    framework, label, table_api, is_layer = "flax", "flax.nnx", "nnx", True

    def name(self, op, rank):
        return _layer_name(self.label, "Linear", op)

    def _layer(self, env, op, rank):
        cache = env.setdefault("_nnx", {})
        if (op, rank) not in cache:
            nnx = env["nnx"]
            if nnx is None:
                raise ImportError(f"flax {env['flax'].__version__} has no flax.nnx")
            k, rngs = KERNEL[rank], nnx.Rngs(0)
            if op == "conv_transpose":
                layer = nnx.ConvTranspose(3, 5, k, strides=(2,) * rank, padding="VALID", use_bias=False, rngs=rngs)
            elif op == "grouped":
                layer = nnx.Conv(3 * GROUPS, 6, k, feature_group_count=GROUPS, padding="VALID", use_bias=False, rngs=rngs)
            elif op == "depthwise":
                layer = nnx.Conv(3, 15, k, feature_group_count=3, padding="VALID", use_bias=False, rngs=rngs)
            else:
                layer = nnx.Conv(3, 5, k, padding="VALID", use_bias=False, rngs=rngs)
            cache[(op, rank)] = layer
        return cache[(op, rank)]

    def kernel_shape(self, env, op, rank):
        return tuple(self._layer(env, op, rank).kernel.value.shape)

    def run(self, env, op, rank, x, w, data_layout):
        layer = self._layer(env, op, rank)
        if tuple(w.shape) != tuple(layer.kernel.value.shape):
            raise ValueError(f"kernel shape {w.shape} ≠ the layer's {layer.kernel.value.shape}")
        layer.kernel.value = env["jnp"].asarray(_f32(w))
        return _np(layer(_f32(x)))

    def same_1d(self, env, x, k, stride):
        nnx = env["nnx"]
        layer = nnx.Conv(1, 1, (k,), strides=(stride,), padding="SAME", use_bias=False, rngs=nnx.Rngs(0))
        w = np.zeros((k, 1, 1), np.float32)
        w[0] = 1
        layer.kernel.value = env["jnp"].asarray(w)
        return _np(layer(_f32(x)[None, :, None]))[0, :, 0]

    def default_padding(self, env):
        nnx = env["nnx"]
        layer = nnx.Conv(1, 1, (3, 3), rngs=nnx.Rngs(0))
        return f"padding={layer.padding!r}", layer(np.zeros((1, 8, 9, 1), np.float32)).shape[1:3]

    def dense(self, env, x, w):
        nnx = env["nnx"]
        layer = nnx.Linear(3, 5, use_bias=False, rngs=nnx.Rngs(0))
        if tuple(w.shape) != tuple(layer.kernel.value.shape):
            raise ValueError(f"kernel shape {w.shape} ≠ the layer's {layer.kernel.value.shape}")
        layer.kernel.value = env["jnp"].asarray(_f32(w))
        return _np(layer(_f32(x)))


register_conv_family("flax", [Linen(), Nnx()])


@probe("flax", "output_padding", "3 → 7 or 8", "flax.linen.ConvTranspose")
def _flax_transpose_sizes(env):
    linen = env["linen"]

    def make(padding):
        module = linen.ConvTranspose(1, (3,), strides=(2,), padding=padding if isinstance(padding, str) else [padding])
        x = np.zeros((1, 3, 1), np.float32)
        return module.apply(module.init(env["jax"].random.PRNGKey(0), x), x).shape[1]
    return "no output_padding; padding of the dilated input chooses: " + _sizes(make, ("VALID", (2, 2), (2, 3)), "padding")


register_without_ops("flax", "flax.linen.max_pool")
probe("flax", "flatten_order", "conv map → vector", "x.reshape((N, -1)) (Flax has no Flatten layer)")(
    _reshape_flatten(True))


def _linen_unbatched(env):
    module = env["linen"].Conv(5, (2, 4), padding="VALID")
    x = np.zeros((7, 9, 3), np.float32)
    return module.apply(module.init(env["jax"].random.PRNGKey(0), x), x)


_unbatched("flax", "flax.linen.Conv", "conv2d on (H, W, C)", _linen_unbatched)
_unbatched("flax", "flax.nnx.Conv", "conv2d on (H, W, C)",
           lambda env: env["nnx"].Conv(3, 5, (2, 4), padding="VALID", rngs=env["nnx"].Rngs(0))(
               np.zeros((7, 9, 3), np.float32)))


register_settings("flax")
_setting("flax", "param_dtype default", "flax.linen.Conv", lambda env: env["linen"].Conv(1, (1,)).param_dtype.__name__
         if hasattr(env["linen"].Conv(1, (1,)).param_dtype, "__name__") else env["linen"].Conv(1, (1,)).param_dtype)
