"""PyTorch conventions, probed through ``torch.nn.functional`` and ``torch.nn``.

Tensors cross through the adapter (``bk.asarray`` / ``bk.to_numpy``, float32 on the CPU) and the
kernel-layout layers are the adapter's own (``bk.layer(...).native``); what is probed is called natively.
"""
from __future__ import annotations

import numpy as np

from equivcheck.conventions import patch_order_name
from equivcheck.report.decode import (GROUPS, argmax_convention, error_text, flatten_order_from,
                                      patch_order_from, pixel_shuffle_order, unshuffle_order)
from equivcheck.report.probe_common import ConvAPI, output_size_row, register_conv_family
from equivcheck.report.probes import Row, probe

FRAMEWORK = "torch"


def setup(bk):
    bk.torch.manual_seed(0)
    return {"bk": bk, "torch": bk.torch, "F": bk.F, "nn": bk.torch.nn}


def _t(env, array):
    return env["bk"].asarray(array)


def _np(env, tensor):
    return env["bk"].to_numpy(tensor)


def _op_kwargs(op, x):
    return {"conv": {}, "conv_transpose": {"stride": 2}, "grouped": {"groups": GROUPS},
            "depthwise": {"groups": x.shape[1]}}[op]


class Functional(ConvAPI):
    framework, label, table_api = FRAMEWORK, "torch.nn.functional", "functional"

    def name(self, op, rank):
        if op == "dense":
            return "torch.nn.functional.linear"
        return f"torch.nn.functional.{'conv_transpose' if op == 'conv_transpose' else 'conv'}{rank}d"

    def run(self, env, op, rank, x, w, data_layout):
        fn = getattr(env["F"], f"{'conv_transpose' if op == 'conv_transpose' else 'conv'}{rank}d")
        return _np(env, fn(_t(env, x), _t(env, w), **_op_kwargs(op, x)))

    def same_1d(self, env, x, k, stride):
        w = np.zeros((1, 1, k), np.float32)
        w[..., 0] = 1
        return _np(env, env["F"].conv1d(_t(env, x[None, None]), _t(env, w), padding="same", stride=stride))[0, 0]

    def default_padding(self, env):
        import inspect

        try:
            declared = inspect.signature(env["F"].conv2d).parameters["padding"].default
        except (ValueError, KeyError):  # a builtin without a signature: the docs' default is what runs
            declared = "(no signature)"
        out = env["F"].conv2d(env["torch"].zeros(1, 1, 8, 9), env["torch"].zeros(1, 1, 3, 3))
        return f"padding={declared}", out.shape[2:]

    def dense(self, env, x, w):
        return _np(env, env["F"].linear(_t(env, x), _t(env, w)))


class Layers(ConvAPI):
    framework, label, table_api, is_layer = FRAMEWORK, "torch.nn", "nn", True

    def name(self, op, rank):
        if op == "dense":
            return "torch.nn.Linear"
        base = "ConvTranspose" if op == "conv_transpose" else "Conv"
        extra = {"grouped": "(groups=2)", "depthwise": "(groups=C)"}.get(op, "")
        return f"torch.nn.{base}{rank}d{extra}"

    def kernel_shape(self, env, op, rank):
        return tuple(self.adapter_layer(env, op, rank).weight.shape)

    def run(self, env, op, rank, x, w, data_layout):
        layer = self.adapter_layer(env, op, rank)
        layer.load_state_dict({"weight": _t(env, w)})  # torch's own shape check
        with env["torch"].no_grad():
            return _np(env, layer(_t(env, x)))

    def same_1d(self, env, x, k, stride):
        layer = env["nn"].Conv1d(1, 1, k, padding="same", stride=stride, bias=False)
        w = np.zeros((1, 1, k), np.float32)
        w[..., 0] = 1
        layer.load_state_dict({"weight": _t(env, w)})
        with env["torch"].no_grad():
            return _np(env, layer(_t(env, x[None, None])))[0, 0]

    def default_padding(self, env):
        layer = env["nn"].Conv2d(1, 1, 3)
        with env["torch"].no_grad():
            out = layer(env["torch"].zeros(1, 1, 8, 9))
        return f"padding={layer.padding}", out.shape[2:]

    def dense(self, env, x, w):
        layer = env["nn"].Linear(3, 5, bias=False)
        layer.load_state_dict({"weight": _t(env, w)})
        with env["torch"].no_grad():
            return _np(env, layer(_t(env, x)))


register_conv_family(FRAMEWORK, [Functional(), Layers()])


@probe(FRAMEWORK, "output_size", "explicit padding", "torch.nn.functional.conv1d")
def _output_size(env):
    F, torch = env["F"], env["torch"]

    def conv_len(n, k, s, p, d):
        x = torch.zeros(1, 1, n)
        if p[0] != p[1]:
            x = F.pad(x, p)  # torch's padding= is symmetric; asymmetric pads go through F.pad
            p = (0, 0)
        return F.conv1d(x, torch.zeros(1, 1, k), stride=s, padding=p[0], dilation=d).shape[-1]

    return output_size_row(FRAMEWORK, "torch.nn.functional.conv1d", conv_len)


def _transpose_sizes(make):
    sizes = {}
    for output_padding in (0, 1):
        try:
            sizes[output_padding] = make(output_padding)
        except Exception as exc:
            sizes[output_padding] = error_text(exc)
    return f"output_padding=0 → {sizes[0]}, output_padding=1 → {sizes[1]}"


@probe(FRAMEWORK, "output_padding", "3 → 7 or 8", "torch.nn.functional.conv_transpose1d")
def _output_padding_functional(env):
    F, torch = env["F"], env["torch"]
    return _transpose_sizes(lambda op: F.conv_transpose1d(torch.zeros(1, 1, 3), torch.zeros(1, 1, 3), stride=2,
                                                          output_padding=op).shape[-1])


@probe(FRAMEWORK, "output_padding", "3 → 7 or 8", "torch.nn.ConvTranspose1d")
def _output_padding_layer(env):
    nn, torch = env["nn"], env["torch"]
    return _transpose_sizes(lambda op: nn.ConvTranspose1d(1, 1, 3, stride=2, output_padding=op)(
        torch.zeros(1, 1, 3)).shape[-1])


def _shuffle_mapping(env, channels_out=2, r=2):
    x = env["torch"].arange(channels_out * r * r, dtype=env["torch"].float32).reshape(1, -1, 1, 1)
    return _np(env, env["F"].pixel_shuffle(x, r))[0]


@probe(FRAMEWORK, "pixel_shuffle", "depth → space", "torch.nn.functional.pixel_shuffle")
def _pixel_shuffle(env):
    mapping = _shuffle_mapping(env)
    return Row("pixel_shuffle", "depth → space", FRAMEWORK, "torch.nn.functional.pixel_shuffle",
               pixel_shuffle_order(mapping, 2, 2), detail="8 channels, r=2: output (c, i, j) ← input channel shown in data",
               data={"mapping": mapping.astype(int).tolist(), "channels_out": 2, "r": 2})


@probe(FRAMEWORK, "pixel_shuffle", "space → depth", "torch.nn.functional.pixel_unshuffle")
def _pixel_unshuffle(env):
    torch, F = env["torch"], env["F"]
    x = torch.arange(8, dtype=torch.float32).reshape(1, 2, 2, 2)
    out = _np(env, F.pixel_unshuffle(x, 2))[0, :, 0, 0]
    return unshuffle_order(out, 2, 2)


@probe(FRAMEWORK, "pixel_shuffle", "DCR depth_to_space", "torch")
def _no_depth_to_space(env):
    return "no native op (pixel_shuffle is CRD; DCR needs reshape+permute)"


@probe(FRAMEWORK, "patch_order", "2×3 patches", "torch.nn.functional.unfold")
def _patches(env):
    shape = (1, 2, 3, 4)
    x = env["torch"].arange(np.prod(shape), dtype=env["torch"].float32).reshape(shape)
    columns = _np(env, env["F"].unfold(x, (2, 3)))  # (N, C·kh·kw, L)
    order = patch_order_from(columns[0, :, 0], shape)
    adapter = env["bk"].patch_order
    return order, f"adapter: {adapter}", patch_order_name(adapter) == order


@probe(FRAMEWORK, "flatten_order", "conv map → vector", "torch.nn.Flatten")
def _flatten(env):
    shape = (1, 2, 3, 4)
    x = env["torch"].arange(np.prod(shape), dtype=env["torch"].float32).reshape(shape)  # NCHW is torch's own
    return flatten_order_from(_np(env, env["nn"].Flatten()(x))[0], shape) + " (NCHW map)"


@probe(FRAMEWORK, "argmax", "max_pool2d 2×2", "torch.nn.functional.max_pool2d(return_indices=True)")
def _argmax(env):
    shape = (2, 3, 4, 6)
    x = env["torch"].arange(np.prod(shape), dtype=env["torch"].float32).reshape(shape)
    _, indices = env["F"].max_pool2d(x, 2, return_indices=True)
    return argmax_convention(indices.numpy(), shape)


def _accepts(env, call, shape):
    try:
        out = call()
    except Exception as exc:
        return Row("unbatched", shape, FRAMEWORK, "", "rejected", detail=error_text(exc))
    return Row("unbatched", shape, FRAMEWORK, "", f"accepted → output {tuple(out.shape)}")


def _unbatched(api, item, make):
    def run(env):
        row = _accepts(env, lambda: make(env), item)
        row.api = api
        return row
    return run


for _api, _item, _make in (
    ("torch.nn.functional.conv2d", "conv2d on (C, H, W)",
     lambda env: env["F"].conv2d(env["torch"].zeros(3, 7, 9), env["torch"].zeros(5, 3, 2, 4))),
    ("torch.nn.functional.conv2d", "conv2d on (H, W)",
     lambda env: env["F"].conv2d(env["torch"].zeros(7, 9), env["torch"].zeros(5, 3, 2, 4))),
    ("torch.nn.Conv2d", "conv2d on (C, H, W)",
     lambda env: env["nn"].Conv2d(3, 5, (2, 4))(env["torch"].zeros(3, 7, 9))),
    ("torch.nn.Conv1d", "conv1d on (C, L)",
     lambda env: env["nn"].Conv1d(3, 5, 4)(env["torch"].zeros(3, 9))),
):
    probe(FRAMEWORK, "unbatched", _item, _api)(_unbatched(_api, _item, _make))


def _setting(name, read):
    def run(env):
        try:
            return str(read(env))
        except Exception as exc:
            return f"unreadable: {error_text(exc)}"
    probe(FRAMEWORK, "precision", name, "torch.backends")(run)


_setting("cuda.matmul.allow_tf32", lambda env: env["torch"].backends.cuda.matmul.allow_tf32)
_setting("cudnn.allow_tf32", lambda env: env["torch"].backends.cudnn.allow_tf32)
_setting("float32_matmul_precision", lambda env: env["torch"].get_float32_matmul_precision())
_setting("mkldnn (oneDNN) enabled", lambda env: bool(env["torch"].backends.mkldnn.enabled)
         and env["torch"].backends.mkldnn.is_available())
_setting("fp32_precision (cuda.matmul / cudnn.conv)",
         lambda env: f"{env['torch'].backends.cuda.matmul.fp32_precision} / {env['torch'].backends.cudnn.conv.fp32_precision}")


# The porting-pitfall topics (pool divisor, ceil_mode, padding modes, BN folding, causal, separable).
from equivcheck.backends.torch import pitfall_probes  # noqa: E402,F401  (registers its rows on import)
