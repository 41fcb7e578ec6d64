"""JAX (``jax.lax``) conventions; the helpers here serve Flax's probes too (Flax runs on JAX).

Arrays cross through the adapter (``bk.asarray`` float32 on the CPU, ``bk.to_numpy``); what is probed
(``lax``, ``jnp``) is called natively.  The porting-pitfall rows are :mod:`.pitfall_probes`."""
from __future__ import annotations

import numpy as np

from equivcheck.conventions import patch_order_name
from equivcheck.report.decode import GROUPS, error_text, flatten_order_from, patch_order_from
from equivcheck.report.probe_common import ConvAPI, choice_sizes as _sizes, output_size_row, register_conv_family
from equivcheck.report.probes import Row, probe

KERNEL = {1: (4,), 2: (2, 4), 3: (2, 4, 6)}


def setup(bk):
    return {"bk": bk, "jax": bk.jax, "jnp": bk.jnp, "lax": bk.lax}


def _t(env, array):
    return env["bk"].asarray(array)


def _np(env, tensor):
    return env["bk"].to_numpy(tensor)


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
            return _np(env, lax.conv_transpose(_t(env, x), _t(env, w), (2,) * rank, "VALID", transpose_kernel=True,
                                               dimension_numbers=("NC" + spatial, "OI" + spatial, "NC" + spatial)))
        return _np(env, lax.conv_general_dilated(_t(env, x), _t(env, w), (1,) * rank, "VALID",
                                                 feature_group_count=_groups(op, x, data_layout)))

    def same_1d(self, env, x, k, stride):
        w = np.zeros((1, 1, k), np.float32)
        w[..., 0] = 1
        return _np(env, env["lax"].conv_general_dilated(_t(env, x[None, None]), _t(env, w), (stride,), "SAME"))[0, 0]

    def default_padding(self, env):
        import inspect

        parameter = inspect.signature(env["lax"].conv_general_dilated).parameters["padding"]
        if parameter.default is inspect.Parameter.empty:
            return "required argument (no default)", None
        return f"padding={parameter.default!r}", None

    def dense(self, env, x, w):
        return _np(env, env["jnp"].matmul(_t(env, x), _t(env, w)))


register_conv_family("jax", [Lax()])


@probe("jax", "output_size", "explicit padding", "jax.lax.conv_general_dilated")
def _output_size(env):
    lax = env["lax"]

    def conv_len(n, k, s, p, d):
        return lax.conv_general_dilated(_t(env, np.zeros((1, 1, n))), _t(env, np.zeros((1, 1, k))), (s,),
                                        [tuple(p)], rhs_dilation=(d,)).shape[-1]
    return output_size_row("jax", "jax.lax.conv_general_dilated", conv_len)


@probe("jax", "output_padding", "3 → 7 or 8", "jax.lax.conv_transpose")
def _lax_transpose_sizes(env):
    lax = env["lax"]

    def make(padding):
        return lax.conv_transpose(_t(env, np.zeros((1, 3, 1))), _t(env, np.zeros((3, 1, 1))), (2,),
                                  padding if isinstance(padding, str) else [padding]).shape[1]
    return "no output_padding; padding of the dilated input chooses: " + _sizes(make, ("VALID", (2, 2), (2, 3)), "padding")


def register_without_ops(framework: str, pool_api: str) -> None:
    """Rows of what JAX (and Flax, which adds none of them) has no op for."""
    probe(framework, "pixel_shuffle", "depth → space", "jax")(
        lambda env: "no native op (composed with reshape+transpose, e.g. einops)")
    probe(framework, "argmax", "max_pool2d 2×2", pool_api)(
        lambda env: "n/a: max pooling returns values only (no argmax indices)")


register_without_ops("jax", "jax")


@probe("jax", "patch_order", "2×3 patches", "jax.lax.conv_general_dilated_patches")
def _patches(env):
    shape = (1, 2, 3, 4)
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    out = _np(env, env["lax"].conv_general_dilated_patches(_t(env, x), (2, 3), (1, 1), "VALID"))  # (N, C·kh·kw, oh, ow)
    order = patch_order_from(out[0, :, 0, 0], shape)
    adapter = env["bk"].patch_order
    return order, f"adapter: {adapter}", patch_order_name(adapter) == order


def _reshape_flatten(channels_last):
    def run(env):
        shape = (1, 2, 3, 4)
        x = _t(env, np.arange(np.prod(shape), dtype=np.float32).reshape(shape))
        if channels_last:  # the adapter's native layout (NHWC for Flax): a conv map as the framework holds it
            x = env["bk"].to_native(x)
        flat = _np(env, env["jnp"].reshape(x, (1, -1)))[0]
        return flatten_order_from(flat, shape) + (" (NHWC map)" if channels_last else " (NCHW map)")
    return run


probe("jax", "flatten_order", "conv map → vector", "jax.numpy.reshape(x, (N, -1))")(_reshape_flatten(False))


def _unbatched(framework, api, item, make):
    def run(env):
        try:
            out = make(env)
        except Exception as exc:
            return Row("unbatched", item, framework, api, "rejected", detail=error_text(exc))
        return Row("unbatched", item, framework, api, f"accepted → output {tuple(int(s) for s in out.shape)}")
    probe(framework, "unbatched", item, api)(run)


_unbatched("jax", "jax.lax.conv_general_dilated", "conv2d on (C, H, W)",
           lambda env: env["lax"].conv_general_dilated(_t(env, np.zeros((3, 7, 9))),
                                                       _t(env, np.zeros((5, 3, 2, 4))), (1, 1), "VALID"))


def _setting(framework, name, api, read):
    def run(env):
        try:
            return str(read(env))
        except Exception as exc:
            return f"unreadable: {error_text(exc)}"
    probe(framework, "precision", name, api)(run)


def register_settings(framework: str) -> None:
    """The jax.config precision rows (Flax computes through the same JAX)."""
    _setting(framework, "jax_default_matmul_precision", "jax.config",
             lambda env: env["jax"].config.jax_default_matmul_precision)
    _setting(framework, "jax_enable_x64", "jax.config", lambda env: env["jax"].config.jax_enable_x64)
    _setting(framework, "platform", "jax", lambda env: env["jax"].default_backend())


register_settings("jax")

from equivcheck.backends.jax import pitfall_probes  # noqa: E402,F401  (registers the jax rows)
