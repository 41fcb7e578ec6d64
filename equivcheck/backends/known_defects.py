"""Known framework defects, recognised before the framework runs the example.

Each entry here is a real bug of a framework build, found by the soak, shrunk
to a minimal program, and pinned by ``tests/test_known_defects.py``, which
reproduces it outside equivcheck on the installed version: when the framework
is fixed, that test fails and says to narrow the version range here.  The
adapters ask this module before running such an op; a match raises
:class:`KnownFrameworkDefect` (verdict ``n/a`` for that one example, counted in
the result's ``skipped``, marked ‡ in the report) instead of letting the
defect decide a claim that is about something else.

**XLA: the convolution operand swap with a base-dilated group dimension**
(jaxlib 0.4.30 and 0.10.2; the compiler *aborts the process*, which nothing can
catch).  XLA's algebraic simplifier swaps a convolution's input and kernel
when the kernel's window is the larger one (the product of the window sizes
over the dimensions that are not skipped is larger than the product of the
input sizes).  It skips ("keeps as is") two kinds of spatial dimension: a pure
contraction dimension (window size = input size, no padding, no dilation,
stride 1) and what it calls a group dimension (no padding, no window
dilation, base dilation = window size, stride = window size − 1: a window of
2 over an input dilated by 2 at stride 1).  A kept group dimension whose input
size differs from its window size makes the swapped convolution invalid
("Window dimensions do not match RHS shape") and the compiler aborts with
``Check failed: computation->Accept(this)``.  A base dilation on a size-1
dimension is a no-op and does not count.  A user meets it with
``lax.conv_transpose`` (or ``flax.linen.ConvTranspose``) at stride 2 with a
2-wide kernel and padding 1 in one dimension, and a kernel wider than the
(padded) input in another.  Minimal program, 2-D, NCHW/OIHW: input 1×1×1×3,
kernel 1×1×2×2, padding ((0, 1), (0, 0)), lhs_dilation (1, 2).  The JAX and
Flax adapters trace each new transposed-conv program and check every
convolution in it (:func:`check_program`).

**TensorFlow 2.21 + oneDNN: float32 ``tf.nn.conv2d`` with a one-column output**
(*wrong values*: rows after the first read zeros or uninitialised memory).
A batch of two or more, one input channel, row stride 1, column stride > 1, a
kernel at least 2 columns wide, and an output one column wide and at least two
rows high.  Minimal program: a 2×2×2×1 input (NHWC), a 1×2×1×1 kernel, strides
(1, 3): 4 outputs of which 2 are wrong.  Correct with ``TF_ENABLE_ONEDNN_OPTS=0``,
in float64 (no oneDNN kernel), for a batch of one, and in TF 2.15.  The
condition is a superset: a scan of 4000 random small convs found no wrong one
outside it, and some inside it compute correctly (it depends on the width and
the stride in a way not pinned down).  The TensorFlow adapter checks it before
each ``tf.nn.conv2d`` (:func:`check_tf_conv2d`).
"""
from __future__ import annotations

import os

from equivcheck.backends.base import NotApplicable
from equivcheck.oracle import conv_output_size

#: jaxlib versions seen aborting (inclusive).  Older ones are assumed affected too (the code is
#: years old); newer ones run the examples, so a fix shows, and so does the defect if it is not fixed.
OPERAND_SWAP_ABORT = {"first_seen": "0.4.30", "last_seen": "0.10.2"}
#: TensorFlow versions seen computing the wrong values (2.15.1 computes them right).
ONEDNN_ONE_COLUMN = {"first_seen": "2.21.0", "last_seen": "2.21.0"}


class KnownFrameworkDefect(NotApplicable):
    """The framework is known to crash the process or to compute wrong values on this example, so it
    is not run (verdict ``n/a`` for the example; the claim's verdict comes from its other examples)."""


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def affected(version: str, seen: dict = OPERAND_SWAP_ABORT, *, older_too: bool = True) -> bool:
    """Whether ``version`` is inside the range a defect was ``seen`` in (``older_too``: anything older
    than the last version seen)."""
    v = _version_tuple(version)
    return (older_too or v >= _version_tuple(seen["first_seen"])) and v <= _version_tuple(seen["last_seen"])


def tf_one_column_affected(tf_version: str) -> bool:
    """Whether this TensorFlow, as configured in this process (oneDNN on), has the one-column defect."""
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower() not in ("0", "false")
    return onednn and affected(tf_version, ONEDNN_ONE_COLUMN, older_too=False)


def onednn_one_column_wrong(batch: int, in_channels: int, out_size, window, strides) -> bool:
    """Whether oneDNN's float32 conv2d (TF 2.21) gets this convolution wrong (a superset; see above).

    ``out_size``: the output's (rows, columns); ``window``: the kernel's (rows, columns) after
    dilation; ``strides``: (rows, columns)."""
    (out_rows, out_cols), (_, window_cols), (row_stride, col_stride) = out_size, window, strides
    return (batch >= 2 and in_channels == 1 and row_stride == 1 and col_stride > 1 and window_cols >= 2
            and out_cols == 1 and out_rows >= 2)


def check_tf_conv2d(x_shape, kernel_shape, strides, padding, dilations, dtype: str, tf_version: str) -> None:
    """Raise :class:`KnownFrameworkDefect` if this float32 ``tf.nn.conv2d`` (NHWC input, HWIO kernel;
    ``padding`` 'SAME'/'VALID' or the (before, after) pairs of H and W) is one the TF 2.21 oneDNN
    defect computes wrong."""
    if dtype != "float32" or len(x_shape) != 4 or x_shape[0] is None or not tf_one_column_affected(tf_version):
        return
    pads = [padding] * 2 if isinstance(padding, str) else list(padding)
    out = tuple(conv_output_size(n, k, s, p, d)
                for n, k, s, p, d in zip(x_shape[1:3], kernel_shape[:2], strides, pads, dilations))
    window = tuple(d * (k - 1) + 1 for k, d in zip(kernel_shape[:2], dilations))
    if onednn_one_column_wrong(x_shape[0], x_shape[3], out, window, tuple(strides)):
        raise KnownFrameworkDefect(
            f"not run: TensorFlow {tf_version}'s oneDNN float32 conv2d computes wrong values for such a "
            f"convolution (batch ≥ 2, one input channel, a one-column output at column stride > 1; "
            f"see equivcheck/backends/known_defects.py)")


def operand_swap_aborts(sizes, window, strides, padding, lhs_dilation, rhs_dilation,
                        feature_group_count: int = 1, batch_group_count: int = 1) -> bool:
    """Whether XLA's operand swap breaks this convolution (see the module docstring).

    ``sizes``/``window``: the input's and the kernel's spatial sizes; the rest per spatial
    dimension as ``lax.conv_general_dilated`` takes them.  Window reversal is taken as absent
    (jax expresses a kernel flip as a separate reverse op).
    """
    if feature_group_count > 1 or batch_group_count > 1:
        return False
    kernel_product = swapped_product = 1
    broken_group_dim = False
    for n, k, stride, (low, high), base, dil in zip(sizes, window, strides, padding, lhs_dilation, rhs_dilation):
        base = 1 if n == 1 else base          # dilating a single pixel changes nothing
        plain = low == 0 and high == 0 and dil == 1
        if plain and base == k and stride == k - 1:        # kept: a "group" dimension
            broken_group_dim |= n != k
            continue
        if plain and k == n and base == 1 and stride == 1:  # kept: a pure contraction dimension
            continue
        kernel_product *= k
        full_padding = n == 1 and stride == 1 and dil == 1 and low == high == k - 1
        swapped_product *= k if full_padding else n
    return kernel_product > swapped_product and broken_group_dim


def _sub_jaxprs(value):
    if hasattr(value, "eqns"):
        yield value
    elif hasattr(value, "jaxpr") and hasattr(value.jaxpr, "eqns"):
        yield value.jaxpr
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _sub_jaxprs(item)


def _convolutions(jaxpr):
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "conv_general_dilated":
            yield eqn
        for value in eqn.params.values():
            for sub in _sub_jaxprs(value):
                yield from _convolutions(sub)


def check_program(jaxpr, jaxlib_version: str) -> None:
    """Raise :class:`KnownFrameworkDefect` if any convolution in ``jaxpr`` (a traced program,
    nested calls included) would make this jaxlib's compiler abort."""
    if not affected(jaxlib_version):
        return
    for eqn in _convolutions(jaxpr):
        p = eqn.params
        lhs, rhs = (v.aval.shape for v in eqn.invars[:2])
        lhs_spec, rhs_spec = p["dimension_numbers"].lhs_spec, p["dimension_numbers"].rhs_spec
        sizes = [lhs[axis] for axis in lhs_spec[2:]]
        window = [rhs[axis] for axis in rhs_spec[2:]]
        if operand_swap_aborts(sizes, window, p["window_strides"], p["padding"], p["lhs_dilation"],
                               p["rhs_dilation"], p["feature_group_count"], p["batch_group_count"]):
            # one wording per defect and version, so results group the examples it stopped
            raise KnownFrameworkDefect(
                f"not run: jaxlib {jaxlib_version}'s XLA CPU compiler aborts the process on such a convolution "
                f"(operand swap with a base-dilated group dimension; see equivcheck/backends/known_defects.py)")
