"""LiteRT conventions: ``tf.nn`` programs converted with the TFLite converter and run by LiteRT's interpreter.

Each row runs a converted program (:meth:`LitertBackend._convert`) on native arrays, so what is decoded is
what LiteRT computes for the TensorFlow program a user converts.
"""
from __future__ import annotations

import numpy as np

from equivcheck import backends
from equivcheck.report.decode import error_text, pixel_shuffle_order
from equivcheck.report.probe_common import ConvAPI, register_conv_family
from equivcheck.report.probes import Row, probe

FRAMEWORK = "litert"
_BK = backends.load(FRAMEWORK, "float32", "cpu")
tf = _BK.tf
KERNEL = {1: (4,), 2: (2, 4), 3: (2, 4, 6)}


def setup(bk):
    return {"bk": bk}


def _f32(array):
    return np.ascontiguousarray(array, dtype=np.float32)


def converted(fn, *arrays):
    """``fn`` (TensorFlow ops on the arrays) converted for LiteRT and run on ``arrays``: its one output."""
    arrays = [_f32(a) for a in arrays]
    runner = _BK._convert(lambda *t: (fn(*t),), [tf.TensorSpec(a.shape, tf.float32) for a in arrays])
    return _BK._invoke(runner, arrays)[0]


class LitertNN(ConvAPI):
    """``tf.nn`` conv ops as converted LiteRT programs (CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV, CONV_3D)."""

    framework, label, table_api, depthwise_style = FRAMEWORK, "tf.nn → LiteRT", "tf.nn", "native"

    def name(self, op, rank):
        written = {"dense": "tf.linalg.matmul", "depthwise": "tf.nn.depthwise_conv2d",
                   "conv_transpose": f"tf.nn.conv{rank}d_transpose"}.get(op, f"tf.nn.conv{rank}d")
        return f"{written} → LiteRT"

    def run(self, env, op, rank, x, w, data_layout):
        if op == "depthwise":
            return converted(lambda a, b: tf.nn.depthwise_conv2d(a, b, [1, 1, 1, 1], "VALID"), x, w)
        if op == "conv_transpose":
            channels_last = data_layout.endswith("C")
            spatial = x.shape[1:-1] if channels_last else x.shape[2:]
            out_spatial = [(n - 1) * 2 + kk for n, kk in zip(spatial, KERNEL[rank])]
            shape = [x.shape[0], *out_spatial, 5] if channels_last else [x.shape[0], 5, *out_spatial]
            fn = getattr(tf.nn, f"conv{rank}d_transpose")
            return converted(lambda a, b: fn(a, b, shape, 2, "VALID"), x, w)
        strides = 1 if rank == 1 else [1] * (rank + 2)
        fn = getattr(tf.nn, f"conv{rank}d")
        return converted(lambda a, b: fn(a, b, strides, "VALID"), x, w)

    def same_1d(self, env, x, k, stride):
        w = np.zeros((k, 1, 1), np.float32)
        w[0] = 1
        return converted(lambda a, b: tf.nn.conv1d(a, b, stride, "SAME"), _f32(x)[None, :, None], w)[0, :, 0]

    def default_padding(self, env):
        return "required argument (no default: tf.nn.conv2d's padding)", None

    def dense(self, env, x, w):
        return converted(lambda a, b: tf.linalg.matmul(a, b), x, w)


register_conv_family(FRAMEWORK, [LitertNN()])


@probe(FRAMEWORK, "pixel_shuffle", "depth → space", "tf.nn.depth_to_space → LiteRT")
def _depth_to_space(env):
    x = np.arange(8, dtype=np.float32).reshape(1, 1, 1, 8)  # NHWC: channel c holds c
    out = converted(lambda a: tf.nn.depth_to_space(a, 2), x)[0]
    mapping = out.transpose(2, 0, 1)
    return Row("pixel_shuffle", "depth → space", FRAMEWORK, "tf.nn.depth_to_space → LiteRT",
               pixel_shuffle_order(mapping, 2, 2), data={"mapping": mapping.astype(int).tolist(), "channels_out": 2, "r": 2})


@probe(FRAMEWORK, "pool_divisor", "'SAME' average pool border", "tf.nn.avg_pool2d → LiteRT")
def _pool_divisor(env):
    out = converted(lambda a: tf.nn.avg_pool2d(a, 3, 1, "SAME"), np.ones((1, 4, 4, 1), np.float32))
    corner = float(out[0, 0, 0, 0])  # a ones input: 1 when the divisor counts in-bounds pixels, 4/9 for k²
    key = "in_bounds" if np.isclose(corner, 1.0) else "window" if np.isclose(corner, 4 / 9) else None
    return key or f"other (corner {corner})", None, None, f"corner of a ones 4×4 input: {corner:.4g}"


@probe(FRAMEWORK, "precision", "float64 conv", "TFLite converter")
def _float64(env):
    try:
        runner = _BK._convert(lambda a, b: (tf.nn.conv2d(a, b, 1, "VALID"),),
                              [tf.TensorSpec((1, 3, 3, 1), tf.float64), tf.TensorSpec((2, 2, 1, 1), tf.float64)])
    except Exception as exc:
        return f"not supported: {error_text(exc)}"
    del runner
    return "supported"


@probe(FRAMEWORK, "precision", "interpreter", "ai_edge_litert")
def _interpreter(env):
    return (f"ai-edge-litert {_BK.versions()['ai-edge-litert']}; the interpreter's default CPU delegate "
            f"(XNNPACK); converter defaults (no quantization, no float16 weights)")
