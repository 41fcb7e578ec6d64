"""The conventions probes of both ONNX columns (``onnxruntime`` and ``onnx``): one set of rows, registered per
column by its ``probes`` module (:func:`register_all`), each run by that column's engine on the ONNX family's
graphs (``bk._run``: the native op, its attributes as given, no layout conversion).

Decoded with :mod:`equivcheck.report.decode`, named with :mod:`equivcheck.conventions`; where the ONNX schema
documents a default (``count_include_pad``, ``auto_pad``), the table value is read from ``onnx.defs``.
"""
from __future__ import annotations

import numpy as np

from equivcheck import conventions, oracle
from equivcheck.backends.base import NotApplicable
from equivcheck.report.decode import (SAME_CASES, error_text, pixel_shuffle_order, same_item,
                                      same_split_from_output)
from equivcheck.report.probe_common import ConvAPI, choice_sizes, output_size_row, register_conv_family
from equivcheck.report.probes import Row, probe


def _row(framework, topic, item, api, value, table=None, agrees=None, detail=""):
    return Row(topic, item, framework, api, value, table=table, agrees=agrees, detail=detail)


def setup(bk):
    import onnx

    return {"bk": bk, "onnx": onnx}


def _run(env, kind, arrays, outputs=1, **attrs):
    return env["bk"]._run(kind, [np.asarray(a) for a in arrays], outputs=outputs, **attrs)


def _schema_default(env, op, attribute):
    from onnx import helper

    value = helper.get_attribute_value(env["onnx"].defs.get_schema(op).attributes[attribute].default_value)
    return value.decode() if isinstance(value, bytes) else value


class OnnxOps(ConvAPI):
    """The ONNX operators (Conv, ConvTranspose, Gemm) a functional call becomes."""

    table_api = "ops"

    def __init__(self, framework):
        self.framework, self.label = framework, f"ONNX ops ({framework})"

    def name(self, op, rank):
        return {"dense": "Gemm(transB=1)", "conv_transpose": "ConvTranspose"}.get(op, "Conv")

    def run(self, env, op, rank, x, w, data_layout):
        channels = x.shape[1] if data_layout[1] == "C" else x.shape[-1]
        if op == "conv_transpose":
            return _run(env, "ConvTranspose", [x, w], strides=(2,) * rank)
        group = {"grouped": 2, "depthwise": channels}.get(op, 1)
        return _run(env, "Conv", [x, w], group=group)

    def same_1d(self, env, x, k, stride):
        w = np.zeros((1, 1, k), np.float32)
        w[..., 0] = 1
        return _run(env, "Conv", [np.asarray(x, np.float32)[None, None], w], strides=(stride,),
                    auto_pad="SAME_UPPER")[0, 0]

    def default_padding(self, env):
        out = _run(env, "Conv", [np.zeros((1, 1, 8, 9)), np.zeros((1, 1, 3, 3))])
        return (f"auto_pad={_schema_default(env, 'Conv', 'auto_pad')!r}, pads absent (0)",
                tuple(int(s) for s in out.shape[2:]))

    def dense(self, env, x, w):
        return _run(env, "linear", [x, w])


def _split_row(framework, op, mode, n, k, s):
    """Where auto_pad=``mode`` puts the odd pixel (Conv), or what it crops (ConvTranspose)."""
    def run(env):
        x = np.arange(1, n + 1, dtype=np.float32)[None, None]
        w = np.zeros((1, 1, k), np.float32)
        w[..., 0] = 1
        if op == "Conv":
            before, after = same_split_from_output(_run(env, "Conv", [x, w], strides=(s,), auto_pad=mode)[0, 0], n, k, s)
            return conventions.describe_split(before, after), None, None
        full = _run(env, "ConvTranspose", [x, w], strides=(s,))[0, 0]
        same = _run(env, "ConvTranspose", [x, w], strides=(s,), auto_pad=mode)[0, 0]
        for start in range(len(full) - len(same) + 1):
            if np.array_equal(full[start:start + len(same)], same):
                cropped = conventions.describe_split(start, len(full) - len(same) - start)
                return f"output {len(same)} = n·s; crops {cropped}", None, None
        return f"output {len(same)}: not a crop of the unpadded output", None, None
    probe(framework, "same_padding", f"auto_pad={mode} {same_item(n, k, s)}", op)(run)


def _transpose_sizes(framework):
    def run(env):
        x, w = np.zeros((1, 1, 3)), np.zeros((1, 1, 3))

        def make(choice):
            key, value = choice
            if key == "output_shape":  # an int-list attribute the builder would take for an input: built by hand
                return _output_shape_size(env, value)
            return int(_run(env, "ConvTranspose", [x, w], strides=(2,), **{key: value}).shape[-1])
        choices = (("pads", (0, 0)), ("pads", (1, 1)), ("output_padding", (1,)), ("output_shape", (8,)),
                   ("auto_pad", "SAME_UPPER"), ("auto_pad", "VALID"))
        return choice_sizes(make, choices, "attribute")
    probe(framework, "output_padding", "3 → 7 or 8 (k=3, s=2)", "ConvTranspose")(run)


def _output_shape_size(env, shape):
    from onnx import TensorProto, helper

    bk = env["bk"]
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2], output_shape=list(shape))
    graph = helper.make_graph([node], "output_shape", [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 3]),
        helper.make_tensor_value_info("w", TensorProto.FLOAT, [1, 1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    from equivcheck.backends.onnx.graphs import OPSET

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    out = bk._compile(model)([np.zeros((1, 1, 3), np.float32), np.zeros((1, 1, 3), np.float32)])[0]
    return int(out.shape[-1])


def _depth_to_space(framework, mode):
    def run(env):
        r, c_out = 2, 3
        x = np.arange(c_out * r * r, dtype=np.float32).reshape(1, c_out * r * r, 1, 1)
        mapping = _run(env, "DepthToSpace", [x], blocksize=r, mode=mode)[0]
        order = pixel_shuffle_order(mapping, c_out, r)
        named = conventions.SHUFFLE_ORDERS[mode].report  # the spec: the mode's word is the order it names
        return order, named, order == named
    probe(framework, "pixel_shuffle", f"DepthToSpace mode={mode}", "DepthToSpace")(run)


def _argmax(framework, storage_order):
    def run(env):
        shape = (2, 3, 4, 4)
        x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
        _, indices = _run(env, "MaxPool", [x], outputs=2, kernel_shape=(2, 2), strides=(2, 2),
                          storage_order=storage_order)
        N, C, H, W = shape
        for convention in conventions.ARGMAX.values():  # every convention: ONNX's is the whole-tensor one
            if all(int(indices[n, c, oh, ow]) == convention.index(n=n, c=c, pos=(2 * oh + 1) * W + 2 * ow + 1,
                                                                  channels=C, plane=H * W)
                   for n, c, oh, ow in np.ndindex(indices.shape)):
                return _row(framework, "argmax", item, "MaxPool", convention.report)
        return _row(framework, "argmax", item, "MaxPool", "none of the known conventions",
                    detail=f"indices of (n, c) = (0, 0): {indices[0, 0].tolist()}")
    item = f"MaxPool 2×2 Indices, storage_order={storage_order}"
    probe(framework, "argmax", item, "MaxPool")(run)


def _pool_divisor(framework, count_include_pad):
    item = "default" if count_include_pad is None else f"count_include_pad={count_include_pad}"

    def run(env):
        attrs = {} if count_include_pad is None else {"count_include_pad": count_include_pad}
        corner = float(_run(env, "AveragePool", [np.ones((1, 1, 4, 4))], kernel_shape=(3, 3), strides=(1, 1),
                            pads=(1, 1, 1, 1), **attrs)[0, 0, 0, 0])
        # a ones input: the corner window holds 4 input pixels of 9 taps
        key = "window" if np.isclose(corner, 4 / 9) else "in_bounds" if np.isclose(corner, 1.0) else None
        declared = _schema_default(env, "AveragePool", "count_include_pad") if count_include_pad is None \
            else count_include_pad
        table = "window" if declared else "in_bounds"
        return _row(framework, "pool_divisor", item, "AveragePool", key or f"corner {corner}", table, key == table,
                    detail=f"schema: count_include_pad={declared}")
    probe(framework, "pool_divisor", item, "AveragePool")(run)


#: Known defects of the ceil_mode rule (records of equivcheck.known_issues), per engine and op: a build in the
#: record's range keeps the last window that starts in the right padding, one output more than the rule.
CEIL_MODE_DEFECTS = {("openvino", "MaxPool"): "openvino-ceil-mode-window-in-padding",
                     ("onnxruntime", "MaxPool"): "ort-ceil-mode-window-in-padding",
                     ("onnxruntime", "AveragePool"): "ort-ceil-mode-window-in-padding",
                     ("onnx", "AveragePool"): "onnx-reference-avg-pool-ceil-window-in-padding"}


def _ceil_mode(framework, op):
    def run(env):
        from equivcheck import known_issues

        misses, kept_window, total = [], 0, 0
        for n in range(4, 9):
            for k in (2, 3):
                for s in (2, 3):
                    for p in range(0, k // 2 + 1):
                        total += 1
                        got = _run(env, op, [np.ones((1, 1, n))], kernel_shape=(k,), strides=(s,), pads=(p, p),
                                   ceil_mode=1).shape[-1]
                        want = oracle.pool_output_size(n, k, s, p, ceil_mode=True)
                        if got != want:
                            misses.append(f"n={n} k={k} s={s} p={p}: {got} (oracle {want})")
                            # the defect's miss: one window more, and that window starts in the right padding
                            kept_window += got == want + 1 and want * s >= n + p
        value = "PyTorch's rule (a last window starting in the right padding is dropped)" if not misses else \
            f"differs from the oracle's (PyTorch's) rule on {len(misses)} of {total}"
        table, agrees = "oracle.pool_output_size(ceil_mode=True)", not misses
        record = known_issues.BY_ID.get(CEIL_MODE_DEFECTS.get((framework, op), ""))
        if record is not None and record.affects(env["bk"].versions()[record.package]):
            # this build is known to keep that window: the row agrees when every miss is exactly that one
            table = f"that rule, but the last window kept where it starts in the right padding ({record.id})"
            agrees = bool(misses) and kept_window == len(misses)
        return _row(framework, "ceil_mode", "ceil_mode=1 output size", op, value, table, agrees,
                    detail="; ".join(misses[:4]))
    probe(framework, "ceil_mode", "ceil_mode=1 output size", op)(run)


def _pad_modes(framework):
    def run(env):
        x = np.arange(1, 6, dtype=np.float32).reshape(1, 1, 5)
        found = []
        lacking = []
        for word in ("constant", "reflect", "edge", "wrap"):
            try:
                out = _run(env, "Pad", [x], mode=word, const_pads=(0, 0, 2, 0, 0, 2))
            except NotApplicable as exc:  # the engine has no such mode (OpenVINO: no 'wrap'): said, not matched
                lacking.append(f"{word}: {exc}")
                continue
            same = [mode for mode in conventions.PAD_MODES if np.array_equal(out, np.pad(x, [(0, 0), (0, 0), (2, 2)],
                                                                                            mode=mode))]
            found.append(f"{word} → {same[0] if same else 'none'}")
        value = ", ".join(found + [f"{item.split(':')[0]} → not supported" for item in lacking])
        return value, None, all(f.split(" → ")[0] == f.split(" → ")[1] for f in found), "; ".join(lacking)
    probe(framework, "pad_modes", "Pad mode words", "Pad")(run)


def _float64(framework, op, arrays, **attrs):
    def run(env):
        from equivcheck.backends import load

        try:
            load(framework, "float64")._run(op, arrays, **attrs)
        except Exception as exc:  # the engine's words (or the known-issue sentence) are the row
            return _row(framework, "precision", f"float64 {op}", op, "no float64 kernel", detail=error_text(exc))
        return "float64 kernel present"
    probe(framework, "precision", f"float64 {op}", op)(run)


def _bn_epsilon(framework):
    def run(env):
        from onnx import helper

        stored = helper.make_attribute("epsilon", 1e-3).f  # what the format keeps of a float64 1e-3
        return _row(framework, "precision", "BatchNormalization epsilon", "BatchNormalization",
                    f"epsilon is a FLOAT attribute: 1e-3 is stored as {stored!r}",
                    detail="a float64 BatchNormalization normalises with eps rounded to float32")
    probe(framework, "precision", "BatchNormalization epsilon", "BatchNormalization")(run)


def _unbatched(framework):
    def run(env):
        try:
            out = _run(env, "Conv", [np.zeros((3, 7, 9)), np.zeros((5, 3, 2, 4))])
        except Exception as exc:
            return Row("unbatched", "Conv on (C, H, W)", framework, "Conv", "rejected", detail=error_text(exc))
        return Row("unbatched", "Conv on (C, H, W)", framework, "Conv", f"accepted → output {tuple(out.shape)}")
    probe(framework, "unbatched", "Conv on (C, H, W)", "Conv")(run)


def _output_size(framework):
    def run(env):
        def conv_len(n, k, s, p, d):
            return int(_run(env, "Conv", [np.zeros((1, 1, n)), np.zeros((1, 1, k))], strides=(s,), dilations=(d,),
                            pads=tuple(p)).shape[-1])
        return output_size_row(framework, "Conv", conv_len)
    probe(framework, "output_size", "explicit padding", "Conv")(run)


#: What torch.onnx.export writes for a torch layer: (topic, the layer as written, its builder, input shape).
EXPORTS = (
    ("pixel_shuffle", "PixelShuffle(2)", lambda nn: nn.PixelShuffle(2), (1, 8, 2, 2)),
    ("argmax", "MaxPool2d(2, return_indices=True)", lambda nn: nn.MaxPool2d(2, return_indices=True), (1, 2, 4, 4)),
    ("pool_divisor", "AvgPool2d(3, stride=1, padding=1)", lambda nn: nn.AvgPool2d(3, stride=1, padding=1),
     (1, 1, 4, 4)),
    ("pad_modes", "Conv2d(1, 1, 3, padding=1, padding_mode='replicate')",
     lambda nn: nn.Conv2d(1, 1, 3, padding=1, padding_mode="replicate"), (1, 1, 5, 5)),
    ("output_padding", "ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1)",
     lambda nn: nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1), (1, 1, 3, 3)),
    ("bn_fold", "Sequential(Conv2d(2, 3, 3), BatchNorm2d(3))",
     lambda nn: nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)), (1, 2, 5, 5)),
)


def _exported(framework, topic, label, build, shape):
    item = f"torch.onnx.export of {label}"

    def run(env):
        try:
            import torch
        except ImportError as exc:
            return f"n/a: the exporter's choices need torch ({exc})"
        from equivcheck.backends.onnx.export import _summary

        # what the exporter writes, not run: the engine's own rows say how it computes those ops
        nodes = _summary(env["bk"]._exporter_for_torch().export_module(build(torch.nn).eval(), shape))
        return _row(framework, topic, item, "torch.onnx.export",
                    " → ".join(f"{op}({', '.join(f'{k}={v}' for k, v in sorted(attrs.items()) if k != 'auto_pad')})"
                               for op, attrs in nodes))
    probe(framework, topic, item, "torch.onnx.export")(run)


def register_all(framework: str) -> None:
    """Every ONNX row for ``framework`` (``onnxruntime`` or ``onnx``)."""
    register_conv_family(framework, [OnnxOps(framework)])
    _output_size(framework)
    for mode in ("SAME_UPPER", "SAME_LOWER"):
        for n, k, s in SAME_CASES[2:]:
            _split_row(framework, "Conv", mode, n, k, s)
        _split_row(framework, "ConvTranspose", mode, 3, 3, 2)  # 7 full → 6: the one cropped pixel's side
    _transpose_sizes(framework)
    for mode in ("DCR", "CRD"):
        _depth_to_space(framework, mode)
    for storage_order in (0, 1):
        _argmax(framework, storage_order)
    for count_include_pad in (None, 0, 1):
        _pool_divisor(framework, count_include_pad)
    for op in ("MaxPool", "AveragePool"):
        _ceil_mode(framework, op)
    _pad_modes(framework)
    _float64(framework, "Conv", [np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 2, 2))])
    _float64(framework, "MaxPool", [np.zeros((1, 1, 4, 4))], kernel_shape=(2, 2))
    _bn_epsilon(framework)
    for topic, label, build, shape in EXPORTS:
        _exported(framework, topic, label, build, shape)
    _unbatched(framework)
