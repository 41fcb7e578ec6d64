"""Guard for the one wrong-value item of TensorFlow's own kernels, as the soaks found and shrank it.

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

import functools
import os

from equivcheck.known_issues.record import KnownIssueSkip
from equivcheck.known_issues.versions import ONEDNN_ONE_COLUMN, affected
from equivcheck.oracle import conv_output_size


def tf_one_column_affected(tf_version: str) -> bool:
    """Whether this TensorFlow, as configured in this process (oneDNN on) and on this CPU, has the
    one-column defect.  oneDNN picks its kernels by the CPU's instruction set, and the defect was seen
    on one machine and not on another (an AMD EPYC without AVX-512 computes it right), so inside the
    version range the minimal program itself decides, run once per process."""
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower() not in ("0", "false")
    return onednn and affected(tf_version, ONEDNN_ONE_COLUMN, older_too=False) and _one_column_reproduces()


@functools.lru_cache(maxsize=None)
def _one_column_reproduces() -> bool:
    """The minimal program on this CPU: a 2×2×2×1 NHWC input 1…8, a 1×2 kernel of ones, strides (1, 3);
    the right answer is [3, 7, 11, 15] (each row's two pixels summed)."""
    import numpy as np
    import tensorflow as tf

    x = np.arange(1, 9, dtype=np.float32).reshape(2, 2, 2, 1)
    got = tf.nn.conv2d(x, np.ones((1, 2, 1, 1), np.float32), strides=[1, 3], padding="VALID").numpy().ravel()
    return not np.array_equal(got, [3.0, 7.0, 11.0, 15.0])


def onednn_one_column_wrong(batch: int, in_channels: int, out_size, window, strides) -> bool:
    """Whether oneDNN's float32 conv2d (TF 2.21) gets this convolution wrong (a superset; see the module docstring).

    ``out_size``: the output's (rows, columns); ``window``: the kernel's (rows, columns) after
    dilation; ``strides``: (rows, columns)."""
    (out_rows, out_cols), (_, window_cols), (row_stride, col_stride) = out_size, window, strides
    return (batch >= 2 and in_channels == 1 and row_stride == 1 and col_stride > 1 and window_cols >= 2
            and out_cols == 1 and out_rows >= 2)


def check_tf_conv2d(x_shape, kernel_shape, strides, padding, dilations, dtype: str, tf_version: str) -> None:
    """Raise :class:`KnownIssueSkip` if this float32 ``tf.nn.conv2d`` (NHWC input, HWIO kernel;
    ``padding`` 'SAME'/'VALID' or the (before, after) pairs of H and W) is one the TF 2.21 oneDNN
    defect computes wrong."""
    if dtype != "float32" or len(x_shape) != 4 or x_shape[0] is None or not tf_one_column_affected(tf_version):
        return
    pads = [padding] * 2 if isinstance(padding, str) else list(padding)
    out = tuple(conv_output_size(n, k, s, p, d)
                for n, k, s, p, d in zip(x_shape[1:3], kernel_shape[:2], strides, pads, dilations))
    window = tuple(d * (k - 1) + 1 for k, d in zip(kernel_shape[:2], dilations))
    if onednn_one_column_wrong(x_shape[0], x_shape[3], out, window, tuple(strides)):
        raise KnownIssueSkip(
            f"not run: TensorFlow {tf_version}'s oneDNN float32 conv2d computes wrong values for such a "
            f"convolution (batch ≥ 2, one input channel, a one-column output at column stride > 1; "
            f"see equivcheck/known_issues/)")
