"""The ONNX graph builder both ONNX columns share: one small ``onnx.helper`` model per functional op.

Design rules
- A graph is named by its :class:`Signature`: the builder, its attributes, the input shapes and the
  element types.  The same signature always builds the same model, so an engine compiles it once
  (:class:`GraphCache`) and a claim never rebuilds identical sessions.
- Data inputs are graph inputs with their full static shape (part of the signature); integer operands
  an op takes as tensors (Reshape's shape, Pad's pads, Unsqueeze's axes) are initializers, named in
  the signature's attributes.  Weights are inputs too: the functional ops take them per call.
- The opset is the newest the installed ``onnx`` defines (:data:`OPSET`); every op is the standard
  (``ai.onnx``) domain's.
- Nothing here imports onnxruntime: the builder is the ``onnx`` column's as much as ORT's.

>>> model = build(Signature.of("Conv", [(1, 3, 8, 8), (4, 3, 3, 3)], "float32", strides=(2, 2)))
>>> [node.op_type for node in model.graph.node], [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
(['Conv'], [1, 3, 8, 8])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

#: The newest opset of the default domain the installed onnx defines.
OPSET = onnx.defs.onnx_opset_version()

ELEMENT_TYPES = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE, "int64": TensorProto.INT64}


def _freeze(value):
    """Attributes as hashable values (lists → tuples, arrays → (dtype, shape, bytes))."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class Signature:
    """What determines a graph: ``kind`` (an ONNX op type, or a composite in :data:`COMPOSITES`),
    attributes, input shapes and element types (one per input: ``"float32"``, ``"float64"``, ``"int64"``),
    and the number of outputs."""

    kind: str
    attrs: tuple
    shapes: tuple
    types: tuple
    outputs: int = 1

    @classmethod
    def of(cls, kind: str, shapes, dtype, outputs: int = 1, **attrs) -> "Signature":
        """``dtype`` is one element type for every input or one per input.

        >>> Signature.of("Relu", [(2, 3)], "float64").types
        ('float64',)
        """
        shapes = tuple(tuple(int(d) for d in shape) for shape in shapes)
        types = (dtype,) * len(shapes) if isinstance(dtype, str) else tuple(dtype)
        return cls(kind, tuple(sorted((k, _freeze(v)) for k, v in attrs.items() if v is not None)), shapes,
                   types, outputs)

    def attributes(self) -> dict:
        return {k: (np.frombuffer(v[3], dtype=v[1]).reshape(v[2]) if isinstance(v, tuple) and v[:1] == ("array",)
                    else v) for k, v in self.attrs}


def _input_names(count):
    return [f"x{i}" for i in range(count)]


def _const(name, values, dtype=np.int64):
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name=name)


def _plain_node(sig: Signature, names):
    """One node of op type ``sig.kind``; attributes whose name starts with ``const_`` become int64
    initializer inputs appended after the data inputs (in attribute-name order)."""
    attrs, inputs, initializers = {}, list(names), []
    for key, value in sorted(sig.attributes().items()):
        if key.startswith("const_"):
            initializers.append(_const(key, value))
            inputs.append(key)
        else:
            attrs[key] = list(value) if isinstance(value, tuple) else value
    outputs = [f"y{i}" for i in range(sig.outputs)]
    return [helper.make_node(sig.kind, inputs, outputs, **attrs)], initializers, outputs


def _linear(sig: Signature, names):
    """Dense on the last axis, w (out, in): Gemm(transB=1) for a 2-D input (what torch.onnx.export
    writes for nn.Linear), else Transpose(w) → MatMul (→ Add bias)."""
    x, w, *b = names
    if len(sig.shapes[0]) == 2:
        return [helper.make_node("Gemm", [x, w, *b], ["y0"], transB=1)], [], ["y0"]
    nodes = [helper.make_node("Transpose", [w], ["w_t"], perm=[1, 0]),
             helper.make_node("MatMul", [x, "w_t"], ["y0" if not b else "xw"])]
    if b:
        nodes.append(helper.make_node("Add", ["xw", b[0]], ["y0"]))
    return nodes, [], ["y0"]


def _pixel_unshuffle(sig: Signature, names):
    """CRD space-to-depth (torch's pixel_unshuffle): ONNX's SpaceToDepth is DCR only, so Reshape →
    Transpose → Reshape, the nodes torch.onnx.export writes for nn.PixelUnshuffle."""
    r = dict(sig.attrs)["blocksize"]
    n, c, h, w = sig.shapes[0]
    nodes = [helper.make_node("Reshape", [names[0], "split"], ["split_x"]),
             helper.make_node("Transpose", ["split_x"], ["moved"], perm=[0, 1, 3, 5, 2, 4]),
             helper.make_node("Reshape", ["moved", "merged"], ["y0"])]
    return nodes, [_const("split", [n, c, h // r, r, w // r, r]), _const("merged", [n, c * r * r, h // r, w // r])], \
        ["y0"]


#: Graphs of more than one node, by signature kind.
COMPOSITES: dict[str, Callable] = {"linear": _linear, "pixel_unshuffle": _pixel_unshuffle}

#: Element type of each output, by kind and output position, where it is not the first input's.
OUTPUT_TYPES = {("MaxPool", 1): "int64"}


def build(sig: Signature, opset: int = OPSET) -> onnx.ModelProto:
    """The model of ``sig``: inputs ``x0, x1, …`` with static shapes, outputs ``y0, …``.

    >>> sig = Signature.of("pixel_unshuffle", [(1, 2, 4, 4)], "float32", blocksize=2)
    >>> [n.op_type for n in build(sig).graph.node]
    ['Reshape', 'Transpose', 'Reshape']
    """
    names = _input_names(len(sig.shapes))
    nodes, initializers, outputs = COMPOSITES.get(sig.kind, _plain_node)(sig, names)
    inputs = [helper.make_tensor_value_info(name, ELEMENT_TYPES[t], list(shape))
              for name, t, shape in zip(names, sig.types, sig.shapes)]
    output_info = [helper.make_tensor_value_info(name, ELEMENT_TYPES[OUTPUT_TYPES.get((sig.kind, i), sig.types[0])],
                                                 None) for i, name in enumerate(outputs)]
    graph = helper.make_graph(nodes, f"equivcheck_{sig.kind}", inputs, output_info, initializer=initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             producer_name="equivcheck")


class GraphCache:
    """Compiled graphs per :class:`Signature`: ``compile(model)`` runs once per signature.

    >>> cache = GraphCache(lambda model: object())
    >>> sig = Signature.of("Relu", [(2,)], "float32")
    >>> cache.get(sig) is cache.get(sig), len(cache)
    (True, 1)
    """

    def __init__(self, compile: Callable[[onnx.ModelProto], object]):
        self._compile = compile
        self._compiled: dict[Signature, object] = {}

    def get(self, sig: Signature):
        if sig not in self._compiled:
            self._compiled[sig] = self._compile(build(sig))
        return self._compiled[sig]

    def __len__(self):
        return len(self._compiled)
