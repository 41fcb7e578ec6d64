"""The ONE table of axis orders: every framework's data and kernel layouts.

Design rules
- Canonical layouts (what case bodies and the oracle use): data ``NC*``
  (channels first), conv kernels ``OI*``, transposed-conv kernels ``IO*``,
  depthwise kernels ``CM*`` (input channel, multiplier; reshaped to the grouped
  kernel ``(C*M, 1, *k)`` by :func:`depthwise_to_grouped`).
- A layout is a string of one-letter axis names; ``*`` stands for the spatial
  axes and expands to ``W`` (1-D), ``HW`` (2-D) or ``DHW`` (3-D).
- Backends read this table *at call time* through :func:`kernel_layout` and
  :func:`data_layout`, so patching a wrong entry in here makes the suite fail
  (tests/test_layouts.py checks exactly that), and the conventions report reads
  the same table, so it can never disagree with the code.

>>> kernel_layout("tensorflow", "conv", 2)
'HWIO'
>>> permutation("OIHW", "HWIO")
(2, 3, 1, 0)
"""
from __future__ import annotations

SPATIAL = {1: "W", 2: "HW", 3: "DHW"}

#: Canonical layouts used by the oracle and by case bodies.
CANONICAL = {
    "data": "NC*",
    "conv": "OI*",
    "conv_transpose": "IO*",
    "depthwise": "CM*",
    "dense": "OI",
}

#: Activation layout each framework's ops and layers use by default.
DATA_LAYOUTS = {
    "numpy": "NC*",
    "torch": "NC*",
    "tensorflow": "N*C",
    # lax.conv_general_dilated with dimension_numbers=None means NCHW/OIHW.
    "jax": "NC*",
    "flax": "N*C",
    # the ONNX operator spec is written in NCHW (both ONNX columns run the same graphs)
    "onnxruntime": "NC*",
    "onnx": "NC*",
    # OpenVINO runs the ONNX columns' graphs; LiteRT runs TensorFlow programs (tf.nn, Keras) converted
    "openvino": "NC*",
    "litert": "N*C",
}

#: Native kernel layout per (framework, api, op).  ``api`` distinguishes the
#: functional entry point from the layer class when they differ.
KERNEL_LAYOUTS = {
    ("numpy", "oracle", "conv"): "OI*",
    ("numpy", "oracle", "conv_transpose"): "IO*",
    ("numpy", "oracle", "depthwise"): "CM*",
    ("numpy", "oracle", "dense"): "OI",
    # torch.nn.functional.conv{1,2,3}d and torch.nn.Conv{1,2,3}d: (O, I/groups, *k)
    ("torch", "functional", "conv"): "OI*",
    ("torch", "nn", "conv"): "OI*",
    # conv_transpose{n}d weight: (I, O/groups, *k)
    ("torch", "functional", "conv_transpose"): "IO*",
    ("torch", "nn", "conv_transpose"): "IO*",
    # depthwise = Conv2d(groups=C): (C*M, 1, *k), see depthwise_to_grouped
    ("torch", "nn", "depthwise"): "CM*",
    ("torch", "nn", "dense"): "OI",
    ("torch", "functional", "dense"): "OI",
    # tf.nn.conv2d filter [fh, fw, in, out]; keras Conv2D kernel (*k, I/groups, O)
    ("tensorflow", "tf.nn", "conv"): "*IO",
    ("tensorflow", "keras", "conv"): "*IO",
    # tf.nn.conv2d_transpose filter [fh, fw, out, in]; keras Conv2DTranspose (*k, O, I)
    ("tensorflow", "tf.nn", "conv_transpose"): "*OI",
    ("tensorflow", "keras", "conv_transpose"): "*OI",
    # tf.nn.depthwise_conv2d filter / keras DepthwiseConv2D kernel (*k, C, M)
    ("tensorflow", "tf.nn", "depthwise"): "*CM",
    ("tensorflow", "keras", "depthwise"): "*CM",
    ("tensorflow", "keras", "dense"): "IO",
    ("tensorflow", "tf.nn", "dense"): "IO",
    # keras SeparableConv{1,2}D: depthwise_kernel (*k, C, M) and pointwise_kernel (1…, C·M, O)
    ("tensorflow", "keras", "separable_depthwise"): "*CM",
    ("tensorflow", "keras", "separable_pointwise"): "*IO",
    # lax: the layout is whatever dimension_numbers says; we use lax's default
    # for conv_general_dilated (OIHW) and pass the transposed kernel as the
    # forward conv's OIHW kernel with transpose_kernel=True (see backends/jax.py).
    ("jax", "lax", "conv"): "OI*",
    ("jax", "lax", "conv_transpose"): "IO*",
    ("jax", "lax", "depthwise"): "CM*",
    ("jax", "lax", "dense"): "IO",
    # flax linen / nnx Conv kernel (*k, I/groups, O); ConvTranspose (*k, I, O)
    ("flax", "linen", "conv"): "*IO",
    ("flax", "nnx", "conv"): "*IO",
    ("flax", "linen", "conv_transpose"): "*IO",
    ("flax", "nnx", "conv_transpose"): "*IO",
    ("flax", "linen", "depthwise"): "*CM",
    ("flax", "nnx", "depthwise"): "*CM",
    ("flax", "linen", "dense"): "IO",
    ("flax", "nnx", "dense"): "IO",
    # ONNX ("ops": the operator a functional call becomes): Conv W (M, C/group, *k), ConvTranspose W
    # (C, M/group, *k), a depthwise Conv(group=C) W (C·M, 1, *k), Gemm(transB=1) B (out, in);
    # "torch.onnx": torch.nn layers as torch.onnx.export writes them (torch's parameters kept as they are)
    **{(framework, api, op): template
       for framework in ("onnxruntime", "onnx", "openvino") for api in ("ops", "torch.onnx")
       for op, template in (("conv", "OI*"), ("conv_transpose", "IO*"), ("depthwise", "CM*"), ("dense", "OI"))},
}
# LiteRT runs the TensorFlow programs a user converts, so its rows are TensorFlow's (the converter's own
# filter order inside the flatbuffer, OHWI for CONV_2D, is invisible to the program and to its user).
KERNEL_LAYOUTS.update({("litert", api, op): template for (framework, api, op), template in list(KERNEL_LAYOUTS.items())
                       if framework == "tensorflow"})


class LayoutError(KeyError):
    """A layout was asked for that the table does not have."""

    def __str__(self):  # KeyError quotes its message; we want a sentence.
        return str(self.args[0])


def expand(template: str, rank: int) -> str:
    """Replace ``*`` by the spatial axis letters of ``rank``.

    >>> expand("N*C", 3)
    'NDHWC'
    """
    if rank not in SPATIAL:
        raise LayoutError(f"spatial rank must be 1, 2 or 3, got {rank!r}")
    return template.replace("*", SPATIAL[rank])


def data_layout(framework: str, rank: int) -> str:
    """The activation layout a framework uses for ``rank`` spatial dims.

    >>> data_layout("tensorflow", 2)
    'NHWC'
    """
    try:
        return expand(DATA_LAYOUTS[framework], rank)
    except KeyError:
        raise LayoutError(f"no data layout for framework {framework!r}; known: {sorted(DATA_LAYOUTS)}") from None


def kernel_layout(framework: str, op: str, rank: int, api: str | None = None) -> str:
    """Native kernel layout of ``op`` in ``framework`` (``api`` picks functional or layer).

    With ``api=None`` the first entry for (framework, op) in the table is used.

    >>> kernel_layout("torch", "conv_transpose", 2)
    'IOHW'
    >>> kernel_layout("tensorflow", "conv_transpose", 1, api="keras")
    'WOI'
    """
    if api is None:
        for (fw, table_api, table_op), template in KERNEL_LAYOUTS.items():
            if fw == framework and table_op == op:
                return _expand_kernel(template, rank)
        raise LayoutError(f"no kernel layout for {framework}/{op} in equivcheck.layouts.KERNEL_LAYOUTS")
    try:
        template = KERNEL_LAYOUTS[(framework, api, op)]
    except KeyError:
        raise LayoutError(f"no kernel layout for {framework}/{api}/{op} in equivcheck.layouts.KERNEL_LAYOUTS") from None
    return _expand_kernel(template, rank)


def _expand_kernel(template: str, rank: int) -> str:
    return template if "*" not in template else expand(template, rank)


def canonical(op: str, rank: int) -> str:
    """Canonical layout of ``op`` (``data``, ``conv``, ``conv_transpose``, ``depthwise``, ``dense``).

    >>> canonical("conv", 3)
    'OIDHW'
    """
    return _expand_kernel(CANONICAL[op], rank)


def permutation(src: str, dst: str) -> tuple[int, ...]:
    """Axis permutation taking an array laid out as ``src`` to ``dst`` (for ``transpose``).

    >>> permutation("NCHW", "NHWC")
    (0, 2, 3, 1)
    """
    if sorted(src) != sorted(dst) or len(set(src)) != len(src):
        raise LayoutError(f"cannot permute layout {src!r} into {dst!r}: they must name the same distinct axes")
    return tuple(src.index(axis) for axis in dst)


def convert(array, src: str, dst: str):
    """Transpose a NumPy (or any ``.transpose``-able) array from layout ``src`` to ``dst``.

    >>> import numpy as np
    >>> convert(np.zeros((16, 8, 7, 7)), "OIHW", "HWIO").shape
    (7, 7, 8, 16)
    """
    if array.ndim != len(src):
        raise LayoutError(f"array of shape {tuple(array.shape)} does not have the {len(src)} axes of layout {src!r}")
    return array.transpose(permutation(src, dst))


def depthwise_to_grouped(kernel):
    """(C, M, *k) depthwise kernel → the equivalent grouped-conv kernel (C*M, 1, *k).

    Output channel ``c*M + m`` of a groups=C conv is multiplier ``m`` of input
    channel ``c`` (PyTorch's group ordering, which Keras' DepthwiseConv2D shares).

    >>> import numpy as np
    >>> depthwise_to_grouped(np.zeros((32, 2, 5, 5))).shape
    (64, 1, 5, 5)
    """
    channels, multiplier, *k = kernel.shape
    return kernel.reshape(channels * multiplier, 1, *k)


def grouped_to_depthwise(kernel, channels: int):
    """Inverse of :func:`depthwise_to_grouped`.

    >>> import numpy as np
    >>> grouped_to_depthwise(np.zeros((64, 1, 5, 5)), 32).shape
    (32, 2, 5, 5)
    """
    out_channels, one, *k = kernel.shape
    if one != 1 or out_channels % channels:
        raise LayoutError(f"kernel {tuple(kernel.shape)} is not a depthwise kernel for {channels} channels")
    return kernel.reshape(channels, out_channels // channels, *k)
