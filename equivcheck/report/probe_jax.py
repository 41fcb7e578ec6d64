"""JAX (``jax.lax``) and Flax (``flax.linen``, ``flax.nnx``) conventions."""
from __future__ import annotations

import numpy as np

from equivcheck.report.probe_common import (ConvAPI, adapter_patch_order, flatten_order_from, output_size_row,
                                            patch_order_from, register_conv_family)
from equivcheck.report.probes import GROUPS, Row, error_text, probe

KERNEL = {1: (4,), 2: (2, 4), 3: (2, 4, 6)}


def setup(framework, device):
    import jax
    import jax.numpy as jnp
    from jax import lax

    env = {"jax": jax, "jnp": jnp, "lax": lax, "device": device}
    if framework == "flax":
        import flax
        from flax import linen

        env.update(flax=flax, linen=linen)
        try:
            from flax import nnx

            env["nnx"] = nnx
        except ImportError:
            env["nnx"] = None
    return env


def _np(value):
    return np.asarray(value, dtype=np.float64)


def _f32(array):
    return np.ascontiguousarray(array, dtype=np.float32)


def _groups(op, x, data_layout):
    channels = x.shape[1] if data_layout[1] == "C" else x.shape[-1]
    return {"grouped": GROUPS, "depthwise": channels}.get(op, 1)


class Lax(ConvAPI):
    framework, label, table_api = "jax", "jax.lax", "lax"

    def name(self, op, rank):
        if op == "dense":
            return "jax.numpy.matmul"
        if op == "conv_transpose":
            # lax takes the layout as an argument; these are the dimension numbers equivcheck's
            # adapter passes (lax's own defaults, dimension_numbers=None and transpose_kernel=False,
            # would mean an N*C input and a spatially flipped *IO kernel)
            return "jax.lax.conv_transpose(dimension_numbers=NC*/OI*/NC*, transpose_kernel=True)"
        return "jax.lax.conv_general_dilated"

    def run(self, env, op, rank, x, w, data_layout):
        lax = env["lax"]
        if op == "conv_transpose":
            spatial = "DHW"[3 - rank:]
            return _np(lax.conv_transpose(_f32(x), _f32(w), (2,) * rank, "VALID", transpose_kernel=True,
                                          dimension_numbers=("NC" + spatial, "OI" + spatial, "NC" + spatial)))
        return _np(lax.conv_general_dilated(_f32(x), _f32(w), (1,) * rank, "VALID",
                                            feature_group_count=_groups(op, x, data_layout)))

    def same_1d(self, env, x, k, stride):
        w = np.zeros((1, 1, k), np.float32)
        w[..., 0] = 1
        return _np(env["lax"].conv_general_dilated(_f32(x)[None, None], w, (stride,), "SAME"))[0, 0]

    def default_padding(self, env):
        import inspect

        parameter = inspect.signature(env["lax"].conv_general_dilated).parameters["padding"]
        if parameter.default is inspect.Parameter.empty:
            return "required argument (no default)", None
        return f"padding={parameter.default!r}", None

    def dense(self, env, x, w):
        return _np(env["jnp"].matmul(_f32(x), _f32(w)))


class Linen(ConvAPI):
    framework, label, table_api, is_layer = "flax", "flax.linen", "linen", True

    def name(self, op, rank):
        return {"dense": "flax.linen.Dense", "conv_transpose": "flax.linen.ConvTranspose",
                "grouped": "flax.linen.Conv(feature_group_count=2)",
                "depthwise": "flax.linen.Conv(feature_group_count=C)"}.get(op, "flax.linen.Conv")

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
        return {"dense": "flax.nnx.Linear", "conv_transpose": "flax.nnx.ConvTranspose",
                "grouped": "flax.nnx.Conv(feature_group_count=2)",
                "depthwise": "flax.nnx.Conv(feature_group_count=C)"}.get(op, "flax.nnx.Conv")

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


register_conv_family("jax", [Lax()])
register_conv_family("flax", [Linen(), Nnx()])


@probe("jax", "output_size", "explicit padding", "jax.lax.conv_general_dilated")
def _output_size(env):
    lax = env["lax"]

    def conv_len(n, k, s, p, d):
        return lax.conv_general_dilated(np.zeros((1, 1, n), np.float32), np.zeros((1, 1, k), np.float32), (s,),
                                        [tuple(p)], rhs_dilation=(d,)).shape[-1]
    return output_size_row("jax", "jax.lax.conv_general_dilated", conv_len)


def _sizes(make, choices, label):
    parts = []
    for choice in choices:
        try:
            parts.append(f"{label}={choice} → {make(choice)}")
        except Exception as exc:
            parts.append(f"{label}={choice} → {error_text(exc)}")
    return ", ".join(parts)


@probe("jax", "output_padding", "3 → 7 or 8", "jax.lax.conv_transpose")
def _lax_transpose_sizes(env):
    lax = env["lax"]

    def make(padding):
        return lax.conv_transpose(np.zeros((1, 3, 1), np.float32), np.zeros((3, 1, 1), np.float32), (2,),
                                  padding if isinstance(padding, str) else [padding]).shape[1]
    return "no output_padding; padding of the dilated input chooses: " + _sizes(make, ("VALID", (2, 2), (2, 3)), "padding")


@probe("flax", "output_padding", "3 → 7 or 8", "flax.linen.ConvTranspose")
def _flax_transpose_sizes(env):
    linen = env["linen"]

    def make(padding):
        module = linen.ConvTranspose(1, (3,), strides=(2,), padding=padding if isinstance(padding, str) else [padding])
        x = np.zeros((1, 3, 1), np.float32)
        return module.apply(module.init(env["jax"].random.PRNGKey(0), x), x).shape[1]
    return "no output_padding; padding of the dilated input chooses: " + _sizes(make, ("VALID", (2, 2), (2, 3)), "padding")


for _framework in ("jax", "flax"):
    probe(_framework, "pixel_shuffle", "depth → space", "jax")(
        lambda env: "no native op (composed with reshape+transpose, e.g. einops)")
    probe(_framework, "argmax", "max_pool2d 2×2", "jax" if _framework == "jax" else "flax.linen.max_pool")(
        lambda env: "n/a: max pooling returns values only (no argmax indices)")


@probe("jax", "patch_order", "2×3 patches", "jax.lax.conv_general_dilated_patches")
def _patches(env):
    shape = (1, 2, 3, 4)
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    out = _np(env["lax"].conv_general_dilated_patches(x, (2, 3), (1, 1), "VALID"))  # (N, C·kh·kw, oh, ow)
    order = patch_order_from(out[0, :, 0, 0], shape)
    try:
        from equivcheck.backends.jax import JaxBackend

        adapter = JaxBackend.patch_order
    except Exception:
        adapter = None
    table = adapter_patch_order(adapter)
    return order, (f"adapter: {adapter}" if adapter else None), (None if table is None else table == order)


def _reshape_flatten(channels_last):
    def run(env):
        shape = (1, 2, 3, 4)
        x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
        if channels_last:
            x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        flat = _np(env["jnp"].reshape(x, (1, -1)))[0]
        return flatten_order_from(flat, shape) + (" (NHWC map)" if channels_last else " (NCHW map)")
    return run


probe("jax", "flatten_order", "conv map → vector", "jax.numpy.reshape(x, (N, -1))")(_reshape_flatten(False))
probe("flax", "flatten_order", "conv map → vector", "x.reshape((N, -1)) (Flax has no Flatten layer)")(
    _reshape_flatten(True))


def _unbatched(framework, api, item, make):
    def run(env):
        try:
            out = make(env)
        except Exception as exc:
            return Row("unbatched", item, framework, api, "rejected", detail=error_text(exc))
        return Row("unbatched", item, framework, api, f"accepted → output {tuple(int(s) for s in out.shape)}")
    probe(framework, "unbatched", item, api)(run)


_unbatched("jax", "jax.lax.conv_general_dilated", "conv2d on (C, H, W)",
           lambda env: env["lax"].conv_general_dilated(np.zeros((3, 7, 9), np.float32),
                                                       np.zeros((5, 3, 2, 4), np.float32), (1, 1), "VALID"))


def _linen_unbatched(env):
    module = env["linen"].Conv(5, (2, 4), padding="VALID")
    x = np.zeros((7, 9, 3), np.float32)
    return module.apply(module.init(env["jax"].random.PRNGKey(0), x), x)


_unbatched("flax", "flax.linen.Conv", "conv2d on (H, W, C)", _linen_unbatched)
_unbatched("flax", "flax.nnx.Conv", "conv2d on (H, W, C)",
           lambda env: env["nnx"].Conv(3, 5, (2, 4), padding="VALID", rngs=env["nnx"].Rngs(0))(
               np.zeros((7, 9, 3), np.float32)))


def _setting(framework, name, api, read):
    def run(env):
        try:
            return str(read(env))
        except Exception as exc:
            return f"unreadable: {error_text(exc)}"
    probe(framework, "precision", name, api)(run)


for _framework in ("jax", "flax"):
    _setting(_framework, "jax_default_matmul_precision", "jax.config",
             lambda env: env["jax"].config.jax_default_matmul_precision)
    _setting(_framework, "jax_enable_x64", "jax.config", lambda env: env["jax"].config.jax_enable_x64)
    _setting(_framework, "platform", "jax", lambda env: env["jax"].default_backend())
_setting("flax", "param_dtype default", "flax.linen.Conv", lambda env: env["linen"].Conv(1, (1,)).param_dtype.__name__
         if hasattr(env["linen"].Conv(1, (1,)).param_dtype, "__name__") else env["linen"].Conv(1, (1,)).param_dtype)
