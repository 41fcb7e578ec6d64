"""TensorFlow and Keras conventions: ``tf.nn``, ``keras.layers`` and (Keras 3) ``keras.ops``.

Keras runs on whatever backend ``KERAS_BACKEND`` selects; the environment
record of the report says which, so Keras 3 on jax or torch gets its own column.
"""
from __future__ import annotations

import os

import numpy as np

from equivcheck import backends
from equivcheck.conventions import patch_order_name
from equivcheck.report.decode import (GROUPS, argmax_convention, error_text, flatten_order_from, patch_order_from,
                                      pixel_shuffle_order, unshuffle_order)
from equivcheck.report.probe_common import ConvAPI, choice_sizes as _sizes, output_size_row, register_conv_family
from equivcheck.report.probes import Row, probe

# The probe worker probes this framework only: its modules come from the adapter, which imports them
# as claims run (torch first when installed, TF's C++ logs short), and what Keras offers decides
# which rows are registered.
_BK = backends.load("tensorflow", "float32", "cpu")
tf, keras = _BK.tf, _BK.keras

FRAMEWORK = "tensorflow"
KERAS3 = hasattr(keras, "ops")
KERNEL = {1: (4,), 2: (2, 4), 3: (2, 4, 6)}


def setup(bk):
    keras.utils.set_random_seed(0)
    return {"bk": bk}


def _np(value):
    return _BK.to_numpy(value)


def _f32(array):
    return np.ascontiguousarray(array, dtype=np.float32)


class TfNN(ConvAPI):
    framework, label, table_api, depthwise_style = FRAMEWORK, "tf.nn", "tf.nn", "native"

    def name(self, op, rank):
        if op == "dense":
            return "tf.linalg.matmul"
        if op == "depthwise":
            return "tf.nn.depthwise_conv2d"
        return f"tf.nn.conv{rank}d" + ("_transpose" if op == "conv_transpose" else "")

    def run(self, env, op, rank, x, w, data_layout):
        x, w = _f32(x), _f32(w)
        if op == "depthwise":
            return _np(tf.nn.depthwise_conv2d(x, w, [1, 1, 1, 1], "VALID"))
        if op == "conv_transpose":
            channels_last = data_layout.endswith("C")
            spatial = x.shape[1:-1] if channels_last else x.shape[2:]
            out_channels = 5
            k = KERNEL[rank]
            out_spatial = [(n - 1) * 2 + kk for n, kk in zip(spatial, k)]
            shape = [x.shape[0], *out_spatial, out_channels] if channels_last else [x.shape[0], out_channels, *out_spatial]
            fn = getattr(tf.nn, f"conv{rank}d_transpose")
            return _np(fn(x, w, shape, 2, "VALID"))
        strides = 1 if rank == 1 else [1] * (rank + 2)
        return _np(getattr(tf.nn, f"conv{rank}d")(x, w, strides, "VALID"))

    def same_1d(self, env, x, k, stride):
        w = np.zeros((k, 1, 1), np.float32)
        w[0] = 1
        return _np(tf.nn.conv1d(_f32(x)[None, :, None], w, stride, "SAME"))[0, :, 0]

    def default_padding(self, env):
        import inspect

        parameter = inspect.signature(tf.nn.conv2d).parameters["padding"]
        if parameter.default is inspect.Parameter.empty:
            return "required argument (no default)", None
        return f"padding={parameter.default!r}", tf.nn.conv2d(np.zeros((1, 8, 9, 1), np.float32),
                                                               np.zeros((3, 3, 1, 1), np.float32), 1).shape[1:3]

    def dense(self, env, x, w):
        return _np(tf.linalg.matmul(_f32(x), _f32(w)))  # x @ W, the matmul a Dense layer runs


class KerasLayers(ConvAPI):
    framework, label, table_api, is_layer, depthwise_style = FRAMEWORK, "keras.layers", "keras", True, "native"

    def name(self, op, rank):
        if op == "dense":
            return "keras.layers.Dense"
        if op == "depthwise":
            return f"keras.layers.DepthwiseConv{rank}D"
        return f"keras.layers.Conv{rank}D" + ("Transpose" if op == "conv_transpose" else "") + (
            "(groups=2)" if op == "grouped" else "")

    def kernel_shape(self, env, op, rank):
        return tuple(int(s) for s in _kernel_variable(self.adapter_layer(env, op, rank)).shape)

    def run(self, env, op, rank, x, w, data_layout):
        layer = self.adapter_layer(env, op, rank)
        layer.set_weights([_f32(w)])  # Keras' own shape check
        return _np(layer(_f32(x)))

    def same_1d(self, env, x, k, stride):
        layer = keras.layers.Conv1D(1, k, strides=stride, padding="same", use_bias=False, name="probe_same")
        layer.build((1, len(x), 1))
        w = np.zeros((k, 1, 1), np.float32)
        w[0] = 1
        layer.set_weights([w])
        return _np(layer(_f32(x)[None, :, None]))[0, :, 0]

    def default_padding(self, env):
        layer = keras.layers.Conv2D(1, 3, name="probe_default")
        return f"padding={layer.padding!r}", _np(layer(np.zeros((1, 8, 9, 1), np.float32))).shape[1:3]

    def dense(self, env, x, w):
        layer = keras.layers.Dense(5, use_bias=False, name="probe_dense")
        layer.build((2, 3))
        layer.set_weights([_f32(w)])
        return _np(layer(_f32(x)))


def _kernel_variable(layer):
    """The kernel weight: ``kernel`` (Keras 3), ``depthwise_kernel`` for Keras 2's depthwise layers."""
    for name in ("kernel", "depthwise_kernel"):
        if hasattr(layer, name):
            return getattr(layer, name)
    raise AttributeError(f"{type(layer).__name__} has neither kernel nor depthwise_kernel")


@probe(FRAMEWORK, "kernel_layout", "depthwise kernel attribute", "keras.layers.DepthwiseConv2D")
def _depthwise_attribute(env):
    layer = keras.layers.DepthwiseConv2D(3, name="probe_attribute")
    layer.build((1, 8, 8, 3))
    names = [n for n in ("kernel", "depthwise_kernel") if hasattr(layer, n)]
    return Row("kernel_layout", "depthwise kernel attribute", FRAMEWORK, "keras.layers.DepthwiseConv2D",
               " and ".join(f"layer.{n}" for n in names) or "neither kernel nor depthwise_kernel",
               data={"family": "keras.layers"})


class KerasOps(ConvAPI):
    """Keras 3's backend-agnostic functional ops."""

    framework, label, table_api, depthwise_style = FRAMEWORK, "keras.ops", "keras", "native"

    def name(self, op, rank):
        return {"conv_transpose": "keras.ops.conv_transpose", "depthwise": "keras.ops.depthwise_conv",
                "dense": "keras.ops.matmul"}.get(op, "keras.ops.conv") + ("" if op == "dense" else f" ({rank}-D)")

    def run(self, env, op, rank, x, w, data_layout):
        x, w = _f32(x), _f32(w)
        if op == "depthwise":
            return _np(keras.ops.depthwise_conv(x, w))
        if op == "conv_transpose":
            return _np(keras.ops.conv_transpose(x, w, strides=2))
        return _np(keras.ops.conv(x, w))

    def same_1d(self, env, x, k, stride):
        w = np.zeros((k, 1, 1), np.float32)
        w[0] = 1
        return _np(keras.ops.conv(_f32(x)[None, :, None], w, strides=stride, padding="same"))[0, :, 0]

    def default_padding(self, env):
        import inspect

        declared = inspect.signature(keras.ops.conv).parameters["padding"].default
        return f"padding={declared!r}", _np(keras.ops.conv(np.zeros((1, 8, 9, 1), np.float32),
                                                            np.zeros((3, 3, 1, 1), np.float32))).shape[1:3]

    def dense(self, env, x, w):
        return _np(keras.ops.matmul(_f32(x), _f32(w)))


_APIS = [TfNN(), KerasLayers()] + ([KerasOps()] if KERAS3 else [])
register_conv_family(FRAMEWORK, _APIS)

if not KERAS3:
    @probe(FRAMEWORK, "kernel_layout", "conv2d", "keras.ops.conv (2-D)")
    def _no_ops(env):
        return Row("kernel_layout", "conv2d", FRAMEWORK, "keras.ops.conv (2-D)",
                   f"n/a: Keras {keras.__version__} has no keras.ops (functional ops arrived with Keras 3)",
                   data={"family": "keras.ops"})


@probe(FRAMEWORK, "output_size", "explicit padding", "tf.nn.conv2d")
def _output_size(env):
    def conv_len(n, k, s, p, d):
        out = tf.nn.conv2d(np.zeros((1, 1, n, 1), np.float32), np.zeros((1, k, 1, 1), np.float32), [1, 1, s, 1],
                           [[0, 0], [0, 0], list(p), [0, 0]], dilations=[1, 1, d, 1])
        return out.shape[2]
    return output_size_row(FRAMEWORK, "tf.nn.conv2d", conv_len)


@probe(FRAMEWORK, "output_padding", "3 → 7 or 8", "tf.nn.conv1d_transpose")
def _output_shape(env):
    def make(size):
        return tf.nn.conv1d_transpose(np.zeros((1, 3, 1), np.float32), np.zeros((3, 1, 1), np.float32),
                                      [1, size, 1], 2, "VALID").shape[1]
    return "no output_padding; output_shape chooses: " + _sizes(make, (7, 8), "output_shape")


@probe(FRAMEWORK, "output_padding", "3 → 7 or 8", "keras.layers.Conv1DTranspose")
def _keras_output_padding(env):
    def make(choice):
        layer = keras.layers.Conv1DTranspose(1, 3, strides=2, output_padding=choice, name="probe_op")
        return _np(layer(np.zeros((1, 3, 1), np.float32))).shape[1]
    return _sizes(make, (None, 0, 1), "output_padding")


if KERAS3:
    @probe(FRAMEWORK, "output_padding", "3 → 7 or 8", "keras.ops.conv_transpose (1-D)")
    def _ops_output_padding(env):
        def make(choice):
            return _np(keras.ops.conv_transpose(np.zeros((1, 3, 1), np.float32), np.zeros((3, 1, 1), np.float32),
                                                strides=2, output_padding=choice)).shape[1]
        return _sizes(make, (None, 0, 1), "output_padding")


def _shuffle_row(api, fn):
    x = np.arange(8, dtype=np.float32).reshape(1, 1, 1, 8)
    out = _np(fn(x, 2))[0]  # (2r, 2r, C') in NHWC
    mapping = out.transpose(2, 0, 1)
    return Row("pixel_shuffle", "depth → space", FRAMEWORK, api, pixel_shuffle_order(mapping, 2, 2),
               data={"mapping": mapping.astype(int).tolist(), "channels_out": 2, "r": 2})


def _unshuffle_value(fn):
    x = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2).transpose(0, 2, 3, 1)  # canonical (C,r,r) → NHWC
    return unshuffle_order(_np(fn(np.ascontiguousarray(x), 2))[0, 0, 0], 2, 2)


probe(FRAMEWORK, "pixel_shuffle", "depth → space", "tf.nn.depth_to_space")(
    lambda env: _shuffle_row("tf.nn.depth_to_space", tf.nn.depth_to_space))
probe(FRAMEWORK, "pixel_shuffle", "space → depth", "tf.nn.space_to_depth")(
    lambda env: _unshuffle_value(tf.nn.space_to_depth))
if KERAS3 and hasattr(keras.ops, "depth_to_space"):
    probe(FRAMEWORK, "pixel_shuffle", "depth → space", "keras.ops.depth_to_space")(
        lambda env: _shuffle_row("keras.ops.depth_to_space", keras.ops.depth_to_space))
    probe(FRAMEWORK, "pixel_shuffle", "space → depth", "keras.ops.space_to_depth")(
        lambda env: _unshuffle_value(keras.ops.space_to_depth))
else:
    probe(FRAMEWORK, "pixel_shuffle", "depth → space", "keras.ops.depth_to_space")(
        lambda env: f"n/a: Keras {keras.__version__} has no keras.ops.depth_to_space")


def _patch_value(fn):
    shape = (1, 2, 3, 4)
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape).transpose(0, 2, 3, 1)
    out = _np(fn(np.ascontiguousarray(x)))  # (1, oh, ow, kh·kw·C)
    order = patch_order_from(out[0, 0, 0], shape)
    return order, f"adapter: {_BK.patch_order}", patch_order_name(_BK.patch_order) == order


probe(FRAMEWORK, "patch_order", "2×3 patches", "tf.image.extract_patches")(
    lambda env: _patch_value(lambda x: tf.image.extract_patches(x, [1, 2, 3, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID")))
if KERAS3:
    probe(FRAMEWORK, "patch_order", "2×3 patches", "keras.ops.image.extract_patches")(
        lambda env: _patch_value(lambda x: keras.ops.image.extract_patches(x, (2, 3), strides=(1, 1))))
else:
    probe(FRAMEWORK, "patch_order", "2×3 patches", "keras.ops.image.extract_patches")(
        lambda env: f"n/a: Keras {keras.__version__} has no keras.ops.image.extract_patches")


def _flatten_value(layer_kwargs, channels_first):
    shape = (1, 2, 3, 4)
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    if not channels_first:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    out = _np(keras.layers.Flatten(**layer_kwargs)(x))[0]
    return flatten_order_from(out, shape) + (" (NCHW map)" if channels_first else " (NHWC map)")


probe(FRAMEWORK, "flatten_order", "conv map → vector", "keras.layers.Flatten()")(
    lambda env: _flatten_value({}, channels_first=False))
probe(FRAMEWORK, "flatten_order", "conv map → vector", "keras.layers.Flatten(data_format='channels_first')")(
    lambda env: _flatten_value({"data_format": "channels_first"}, channels_first=True))


@probe(FRAMEWORK, "flatten_order", "conv map → vector", "tf.reshape(x, [N, -1])")
def _reshape_flatten(env):
    shape = (1, 2, 3, 4)
    x = np.ascontiguousarray(np.arange(np.prod(shape), dtype=np.float32).reshape(shape).transpose(0, 2, 3, 1))
    return flatten_order_from(_np(tf.reshape(x, [1, -1]))[0], shape) + " (NHWC map)"


def _argmax_value(include_batch):
    shape = (2, 3, 4, 6)
    x = np.ascontiguousarray(np.arange(np.prod(shape), dtype=np.float32).reshape(shape).transpose(0, 2, 3, 1))
    _, indices = tf.nn.max_pool_with_argmax(x, 2, 2, "VALID", include_batch_in_index=include_batch)
    return argmax_convention(indices.numpy().transpose(0, 3, 1, 2), shape)


probe(FRAMEWORK, "argmax", "max_pool2d 2×2", "tf.nn.max_pool_with_argmax")(lambda env: _argmax_value(False))
probe(FRAMEWORK, "argmax", "max_pool2d 2×2", "tf.nn.max_pool_with_argmax(include_batch_in_index=True)")(
    lambda env: _argmax_value(True))
probe(FRAMEWORK, "argmax", "max_pool2d 2×2", "keras.layers.MaxPooling2D")(
    lambda env: "n/a: returns values only (no argmax indices)")


def _unbatched(api, item, make):
    def run(env):
        try:
            out = make()
        except Exception as exc:
            return Row("unbatched", item, FRAMEWORK, api, "rejected", detail=error_text(exc))
        return Row("unbatched", item, FRAMEWORK, api, f"accepted → output {tuple(int(s) for s in out.shape)}")
    probe(FRAMEWORK, "unbatched", item, api)(run)


_unbatched("tf.nn.conv2d", "conv2d on (H, W, C)",
           lambda: tf.nn.conv2d(np.zeros((7, 9, 3), np.float32), np.zeros((2, 4, 3, 5), np.float32), 1, "VALID"))
_unbatched("keras.layers.Conv2D", "conv2d on (H, W, C)",
           lambda: keras.layers.Conv2D(5, (2, 4), name="probe_unbatched")(np.zeros((7, 9, 3), np.float32)))
_unbatched("keras.layers.Conv1D", "conv1d on (L, C)",
           lambda: keras.layers.Conv1D(5, 4, name="probe_unbatched1")(np.zeros((9, 3), np.float32)))
if KERAS3:
    _unbatched("keras.ops.conv (2-D)", "conv2d on (H, W, C)",
               lambda: keras.ops.conv(np.zeros((7, 9, 3), np.float32), np.zeros((2, 4, 3, 5), np.float32)))


def _setting(name, api, read):
    def run(env):
        try:
            return str(read())
        except Exception as exc:
            return f"unreadable: {error_text(exc)}"
    probe(FRAMEWORK, "precision", name, api)(run)


def _onednn():
    from tensorflow.python.util import _pywrap_util_port

    flag = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    return f"{_pywrap_util_port.IsMklEnabled()} (TF_ENABLE_ONEDNN_OPTS={'unset' if flag is None else flag})"


_setting("tensor_float_32_execution", "tf.config.experimental",
         lambda: tf.config.experimental.tensor_float_32_execution_enabled())
_setting("oneDNN (MKL) enabled", "tensorflow", _onednn)
_setting("floatx", "keras", lambda: keras.backend.floatx())
_setting("image_data_format", "keras", lambda: keras.backend.image_data_format())
_setting("keras backend", "keras", lambda: keras.backend.backend())


# The porting-pitfall topics (pool divisor, ceil_mode, padding modes, BN folding, causal, separable).
from equivcheck.backends.tensorflow import pitfall_probes  # noqa: E402,F401  (registers its rows on import)
