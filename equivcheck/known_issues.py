"""The one registry of known framework behaviour: every item equivcheck knows a framework build does
that is not what its documentation says, with the conditions under which it happens.

Design rules
- One :class:`KnownIssue` record per item: an id, its kind (``process abort``, ``wrong values``,
  ``missing kernel``, ``build deviation``), the framework and the package whose version bounds it,
  the versions it was seen in, the device, the framework's own words where it raises, the reason in
  a sentence, and the test that pins it (``pinned_by``).  The pinning test reproduces the item on
  the installed version without equivcheck: the day a framework is fixed, it fails and names the
  record to narrow.
- **Process aborts and wrong values** are recognised *before* the framework runs the example (the
  adapters call :func:`check_tf_conv2d` and :func:`check_program`); a match raises
  :class:`KnownIssueSkip`: that one example is ``n/a``, counted in the result's ``skipped`` and
  marked ‡ in the report, so a framework bug does not decide a claim that is about something else.
- **Missing kernels** are recognised *after* the framework raised (:func:`missing_kernel`), by its
  words **and** by the op, the parameters and the version the record bounds; both must match for
  the example to be ``n/a``.  The same words outside those bounds are an error of the run
  (:class:`UnrecognisedGap`), never a skip: a new failure that merely looks like a known one is
  looked at, not hidden.
- **Build deviations** (a verdict that differs on one build) are records too; case files refer to
  them with :func:`equivcheck.claim.deviation` and the record's ``reason``.

The two crash and wrong-value items, as the soaks found and shrank them:

**XLA: the convolution operand swap with a base-dilated group dimension**
(jaxlib 0.4.30, 0.10.2 and 0.12.0.1; the compiler *aborts the process*, which nothing can
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

import functools
import os
from dataclasses import dataclass, field
from typing import Callable

from equivcheck.backends.base import NotApplicable
from equivcheck.oracle import conv_output_size


class KnownIssueSkip(NotApplicable):
    """The framework is known to crash the process, to compute wrong values, or to have no kernel for
    this example, so it is not run (verdict ``n/a`` for the example; the claim's verdict comes from its
    other examples)."""


class UnrecognisedGap(RuntimeError):
    """The framework raised the words of a known missing kernel outside the bounds of its record:
    an error of the run (the record may need widening, or this is a new failure), never a skip."""


@dataclass(frozen=True)
class KnownIssue:
    """One item of known framework behaviour (see the module docstring)."""

    id: str
    kind: str  # "process abort" | "wrong values" | "missing kernel" | "build deviation"
    framework: str  # the equivcheck column it affects
    package: str  # the package whose version bounds it
    first_seen: str
    last_seen: str
    reason: str
    pinned_by: str
    #: versions older than ``first_seen`` are assumed affected too (the code is old; a fix shows)
    older_too: bool = True
    device: str = "cpu"
    #: missing kernels: the framework's own words (any of them)
    words: tuple = ()
    #: missing kernels: predicate(op, rank, dtype, stride, dilation, groups) -> bool
    applies: Callable | None = field(default=None, compare=False)

    def affects(self, version: str) -> bool:
        """Whether ``version`` of :attr:`package` is inside the range this item was seen in."""
        return affected(version, {"first_seen": self.first_seen, "last_seen": self.last_seen},
                        older_too=self.older_too)

    def describe(self) -> str:
        since = f"≤ {self.last_seen}" if self.older_too else f"{self.first_seen}–{self.last_seen}"
        return f"{self.id} ({self.kind}, {self.package} {since}, {self.device}): {self.reason}"


#: jaxlib versions seen aborting (inclusive).  Older ones are assumed affected too (the code is
#: years old); newer ones run the examples, so a fix shows, and so does the defect if it is not fixed.
OPERAND_SWAP_ABORT = {"first_seen": "0.4.30", "last_seen": "0.12.0.1"}
#: TensorFlow versions seen computing the wrong values (2.15.1 computes them right).
ONEDNN_ONE_COLUMN = {"first_seen": "2.21.0", "last_seen": "2.21.0"}


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
    """Whether oneDNN's float32 conv2d (TF 2.21) gets this convolution wrong (a superset; see above).

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
            f"see equivcheck/known_issues.py)")


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
    """Raise :class:`KnownIssueSkip` if any convolution in ``jaxpr`` (a traced program,
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
            raise KnownIssueSkip(
                f"not run: jaxlib {jaxlib_version}'s XLA CPU compiler aborts the process on such a convolution "
                f"(operand swap with a base-dilated group dimension; see equivcheck/known_issues.py)")


# ---- missing kernels --------------------------------------------------------------------------
#: The ops a case asks a missing-kernel question about (the backward ops are all TF's backprop kernels).
BACKPROP_OPS = ("conv_transpose", "conv input gradient", "conv weight gradient")


def missing_kernel(bk, op: str, rank: int, exc: BaseException, *, stride=1, dilation=1, groups=1) -> None:
    """Classify an exception ``bk`` raised running ``op`` (a conv, a transposed conv, or a conv's
    gradient) with these parameters: raise :class:`KnownIssueSkip` when a missing-kernel record covers
    it (its words, op, parameters, dtype, device and version), :class:`UnrecognisedGap` when the words
    match a record but the rest does not, and return (the caller re-raises) otherwise.

    >>> class TF:  # a stand-in adapter: TF 2.21.0, float64, CPU
    ...     framework_name, dtype, device = "tensorflow", "float64", "cpu"
    ...     def versions(self): return {"tensorflow": "2.21.0"}
    >>> words = RuntimeError("Current CPU implementations do not yet support dilation rates larger than 1.")
    >>> def outcome(op):
    ...     try:
    ...         missing_kernel(TF(), op, 2, words, dilation=[1, 2])
    ...     except (KnownIssueSkip, UnrecognisedGap) as exc:
    ...         return type(exc).__name__
    >>> outcome("conv_transpose"), outcome("conv")  # the backprop kernel is the gap; a forward conv is not
    ('KnownIssueSkip', 'UnrecognisedGap')
    """
    message = str(exc)
    per_dim = lambda value: [int(value)] * rank if isinstance(value, int) else [int(v) for v in value]  # noqa: E731
    stride, dilation = per_dim(stride), per_dim(dilation)
    for issue in ISSUES:
        if issue.kind != "missing kernel" or issue.framework != bk.framework_name:
            continue
        if not any(words in message for words in issue.words):
            continue
        version = bk.versions().get(issue.package, "0")
        if (issue.affects(version) and issue.device in ("any", bk.device)
                and issue.applies(op, rank, bk.dtype, stride, dilation, groups)):
            raise KnownIssueSkip(f"not run: {issue.reason} (equivcheck/known_issues.py: {issue.id})") from exc
        raise UnrecognisedGap(
            f"{bk.framework_name} raised the words of known issue {issue.id} ({issue.words[0]!r}) outside its "
            f"bounds: op {op}, {rank}-D, {bk.dtype}, {bk.device}, stride {stride}, dilation {dilation}, groups "
            f"{groups}, {issue.package} {version}; widen the record in equivcheck/known_issues.py only if this "
            f"is the same gap") from exc


def _dilated(op, rank, dtype, stride, dilation, groups):
    return max(dilation) > 1


# ---- ONNX (both columns run equivcheck/backends/onnx/graphs.py's graphs) ----------------------------------
#: Ops ONNX Runtime's CPU execution provider registers no double kernel for (seen with onnxruntime 1.32.0 at
#: opsets 11–28; MaxPool, Gemm, MatMul, DepthToSpace, SpaceToDepth, Pad, BatchNormalization, Reshape,
#: Transpose, Concat, Unsqueeze, Flatten and Relu have one).  The op is an ONNX op type.
ORT_NO_FLOAT64 = ("Conv", "ConvTranspose", "AveragePool", "MaxUnpool", "GlobalAveragePool", "LpPool")
#: The same ops in the words case bodies ask :func:`missing_kernel` about (``casekit.run_conv`` and friends).
ORT_NO_FLOAT64_OPS = ORT_NO_FLOAT64 + ("conv", "conv_transpose", "avg_pool", "max_unpool")
#: onnx versions seen with the reference's grouped ConvTranspose and MaxUnpool-with-output_shape bugs.
ONNX_REFERENCE_SEEN = {"first_seen": "1.23.2", "last_seen": "1.23.2"}


def check_onnx_reference_conv_transpose(groups: int, onnx_version: str) -> None:
    """Raise :class:`KnownIssueSkip` before onnx.reference runs a grouped ConvTranspose (wrong or raises)."""
    if int(groups) > 1 and BY_ID["onnx-reference-grouped-conv-transpose"].affects(onnx_version):
        raise KnownIssueSkip(f"not run: onnx {onnx_version}'s reference ConvTranspose computes group > 1 wrong or "
                             f"raises (equivcheck/known_issues.py: onnx-reference-grouped-conv-transpose)")


def check_onnx_reference_conv_auto_pad(auto_pad, onnx_version: str) -> None:
    """Raise :class:`KnownIssueSkip` before an affected onnx.reference runs a Conv with an auto_pad word."""
    if auto_pad in ("VALID", "SAME_UPPER", "SAME_LOWER") and BY_ID["onnx-reference-conv-auto-pad"].affects(onnx_version):
        raise KnownIssueSkip(f"not run: onnx {onnx_version}'s reference Conv pads auto_pad={auto_pad} wrong "
                             f"(equivcheck/known_issues.py: onnx-reference-conv-auto-pad)")


def check_onnx_reference_max_pool_indices(strides, dilations, onnx_version: str) -> None:
    """Raise :class:`KnownIssueSkip` before onnx.reference runs a MaxPool whose Indices are used with every
    stride and dilation 1 (its generic pooling path numbers them per (n, c) plane, not over the tensor)."""
    if (all(int(s) == 1 for s in strides) and all(int(d) == 1 for d in dilations)
            and BY_ID["onnx-reference-max-pool-unit-stride-indices"].affects(onnx_version)):
        raise KnownIssueSkip(f"not run: onnx {onnx_version}'s reference MaxPool numbers the Indices per (n, c) plane "
                             f"at stride 1 (equivcheck/known_issues.py: onnx-reference-max-pool-unit-stride-indices)")


def check_onnx_reference_max_unpool(input_shape, kernel, strides, output_shape, onnx_version: str) -> None:
    """Raise :class:`KnownIssueSkip` before onnx.reference runs a MaxUnpool whose output_shape is not the one
    it infers ((n − 1)·s + k per spatial axis): it scatters into the inferred shape, then pads or crops."""
    if output_shape is None:
        return
    inferred = [(n - 1) * s + k for n, s, k in zip(input_shape[2:], strides, kernel)]
    if (list(output_shape[2:]) != inferred
            and BY_ID["onnx-reference-max-unpool-output-shape"].affects(onnx_version)):
        raise KnownIssueSkip(f"not run: onnx {onnx_version}'s reference MaxUnpool misplaces values for an "
                             f"output_shape other than the default (equivcheck/known_issues.py: "
                             f"onnx-reference-max-unpool-output-shape)")


# ---- Keras 3 on its jax and torch backends (the tensorflow column's Keras path under KERAS_BACKEND) ---------
#: Keras versions seen with the 'same' average-pool and float64 BatchNormalization items below.
KERAS_BACKEND_SEEN = {"first_seen": "3.15.1", "last_seen": "3.15.1"}


def keras_same_avg_pool_replicates(spatial, pool_size, strides) -> bool:
    """Whether a 'same' pool of this (native, channels-last) spatial shape has an odd total padding in
    some axis, where Keras-on-torch pads by replication (TF's rule: total = max((⌈n/s⌉−1)s + k − n, 0))."""
    for n, k, s in zip(spatial, pool_size, strides):
        total = max((-(-int(n) // s) - 1) * s + k - int(n), 0)
        if total % 2:
            return True
    return False


def check_keras_avg_pool(keras_backend: str, padding, spatial, pool_size, strides, keras_version: str) -> None:
    """Raise :class:`KnownIssueSkip` before Keras-on-torch runs a 'same' average pool whose padding is
    uneven: its border windows average replicated edge pixels (keras-torch-same-avg-pool-replicates)."""
    if (keras_backend == "torch" and isinstance(padding, str) and padding.lower() == "same"
            and BY_ID["keras-torch-same-avg-pool-replicates"].affects(keras_version)
            and keras_same_avg_pool_replicates(spatial, pool_size, strides)):
        raise KnownIssueSkip(f"not run: Keras {keras_version} on torch pads an uneven 'same' average pool by "
                             "replicating the edge pixels, which the border averages then count "
                             "(equivcheck/known_issues.py: keras-torch-same-avg-pool-replicates)")


def check_keras_batch_norm(keras_backend: str, dtype: str, keras_version: str) -> None:
    """Raise :class:`KnownIssueSkip` before a float64 Keras BatchNormalization on jax or torch, which computes
    in float32 (keras-float64-batch-norm-in-float32)."""
    if (dtype == "float64" and keras_backend in ("jax", "torch")
            and BY_ID["keras-float64-batch-norm-in-float32"].affects(keras_version)):
        raise KnownIssueSkip(f"not run: Keras {keras_version}'s BatchNormalization on {keras_backend} computes a "
                             "float64 input in float32 (equivcheck/known_issues.py: keras-float64-batch-norm-in-float32)")


ISSUES: tuple[KnownIssue, ...] = (
    KnownIssue(
        id="xla-operand-swap-abort", kind="process abort", framework="jax", package="jaxlib",
        first_seen=OPERAND_SWAP_ABORT["first_seen"], last_seen=OPERAND_SWAP_ABORT["last_seen"], device="cpu",
        reason="XLA's CPU compiler aborts the process on a convolution whose operand swap keeps a base-dilated "
               "group dimension (also flax, which compiles through the same XLA)",
        pinned_by="tests/test_known_issues.py::test_the_minimal_program_still_aborts"),
    KnownIssue(
        id="tf-onednn-one-column", kind="wrong values", framework="tensorflow", package="tensorflow",
        first_seen=ONEDNN_ONE_COLUMN["first_seen"], last_seen=ONEDNN_ONE_COLUMN["last_seen"], older_too=False,
        reason="oneDNN's float32 conv2d computes wrong values for a one-column output (batch ≥ 2, one input "
               "channel, column stride > 1; also Keras Conv2D)",
        pinned_by="tests/test_known_issues.py::test_tf_minimal_program_is_still_wrong_and_the_near_misses_right"),
    KnownIssue(
        id="tf-no-dilated-backprop", kind="missing kernel", framework="tensorflow", package="tensorflow",
        first_seen="2.21.0", last_seen="2.21.0",
        reason="TensorFlow's CPU build has no backprop kernel (conv_transpose, the conv's input and weight "
               "gradients) for a dilated convolution (float64 always; float32 where oneDNN has none for this CPU)",
        words=("Current CPU implementations do not yet support dilation rates larger than 1",
               "Current CPU implementation does not yet support dilation rates larger than 1"),
        applies=lambda op, rank, dtype, stride, dilation, groups: op in BACKPROP_OPS and max(dilation) > 1,
        pinned_by="tests/test_known_issues.py::test_missing_kernel_still_missing[tf-no-dilated-backprop]"),
    KnownIssue(
        id="tf-no-dilated-conv3d", kind="missing kernel", framework="tensorflow", package="tensorflow",
        first_seen="2.21.0", last_seen="2.21.0",
        reason="TensorFlow's CPU Conv3D (and its gradients) has no kernel for dilation rates above 1",
        words=("CPU implementation of Conv3D currently only supports dilated rates of 1",),
        applies=lambda op, rank, dtype, stride, dilation, groups: rank == 3 and max(dilation) > 1,
        pinned_by="tests/test_known_issues.py::test_missing_kernel_still_missing[tf-no-dilated-conv3d]"),
    KnownIssue(
        id="tf-no-grouped-backprop", kind="missing kernel", framework="tensorflow", package="tensorflow",
        first_seen="2.21.0", last_seen="2.21.0",
        reason="TensorFlow's CPU build has no kernel for the input or weight gradient of a grouped convolution "
               "(float64 always; float32 where oneDNN has none for this CPU)",
        words=("Computing grouped convolutions are not supported on CPU", "grouped convolutions are not supported on CPU"),
        applies=lambda op, rank, dtype, stride, dilation, groups: (
            op in ("conv input gradient", "conv weight gradient") and groups > 1 and rank in (1, 2)),
        pinned_by="tests/test_known_issues.py::test_missing_kernel_still_missing[tf-no-grouped-backprop]"),
    KnownIssue(
        id="keras-torch-float64-dense", kind="build deviation", framework="tensorflow", package="keras",
        first_seen="3.15.1", last_seen="3.15.1",
        reason="Keras 3 on the torch backend computes a float64 Dense in float32: keras.ops.matmul casts both "
               "operands to dtypes.result_type(float64, float64), which returns float32 (seen with Keras 3.15.1 "
               "in the keras-torch tox env)",
        pinned_by="the keras-torch tox env: the deviation fails the suite as unexpected the day it is fixed"),
    KnownIssue(
        id="keras-torch-same-avg-pool-replicates", kind="wrong values", framework="tensorflow", package="keras",
        first_seen=KERAS_BACKEND_SEEN["first_seen"], last_seen=KERAS_BACKEND_SEEN["last_seen"],
        reason="Keras 3 on the torch backend pads an average pool with padding='same' and an odd total padding "
               "(before ≠ after) by F.pad(mode='replicate') and then averages over the padded input, so the border "
               "windows count copies of the edge pixels where TensorFlow and JAX leave the padding out (minimal "
               "program: keras.ops.average_pool(arange(1, 7) as (1, 6, 1), 3, 2, 'same') gives [2, 4, 5.667], "
               "not [2, 4, 5.5]; max pooling is unaffected)",
        pinned_by="tests/test_known_issues.py::test_keras_on_other_backends_items_still_there[torch-avg_pool]"),
    KnownIssue(
        id="keras-float64-batch-norm-in-float32", kind="wrong values", framework="tensorflow", package="keras",
        first_seen=KERAS_BACKEND_SEEN["first_seen"], last_seen=KERAS_BACKEND_SEEN["last_seen"],
        reason="Keras 3's BatchNormalization on the jax and torch backends computes a float64 input in float32 "
               "and returns float64: its call casts to backend.result_type(inputs.dtype, 'float32'), which is "
               "float32 there (float64 on TensorFlow); errors ≈ 1e-7 instead of 1e-16 (keras.ops.batch_normalization "
               "itself keeps float64)",
        pinned_by="tests/test_known_issues.py::test_keras_on_other_backends_items_still_there[jax-batch_norm]"),
    KnownIssue(
        id="ort-no-float64-conv", kind="missing kernel", framework="onnxruntime", package="onnxruntime",
        first_seen="1.32.0", last_seen="1.32.0",
        reason="ONNX Runtime's CPU execution provider has no float64 (tensor(double)) kernel for Conv, "
               "ConvTranspose, AveragePool or MaxUnpool: creating the session raises NOT_IMPLEMENTED 'Could not "
               "find an implementation for Conv(22)' (the number is the op schema's opset version)",
        words=("Could not find an implementation for",),
        applies=lambda op, rank, dtype, stride, dilation, groups: dtype == "float64" and op in ORT_NO_FLOAT64_OPS,
        pinned_by="tests/test_known_issues.py::test_ort_still_has_no_float64_kernel"),
    KnownIssue(
        id="ort-output-padding-below-stride", kind="missing kernel", framework="onnxruntime", package="onnxruntime",
        first_seen="1.32.0", last_seen="1.32.0",
        reason="ONNX Runtime's ConvTranspose refuses an output_padding that is not below the stride ('output_padding "
               "(1) may be too large for stride (1)'), which PyTorch accepts when it is below the dilation: such a "
               "transposed conv cannot be run there",
        words=("may be too large for stride",),
        applies=lambda op, rank, dtype, stride, dilation, groups: op in ("conv_transpose", "ConvTranspose")
        and max(dilation) > 1,
        pinned_by="tests/test_known_issues.py::test_ort_still_refuses_output_padding_at_the_stride"),
    KnownIssue(
        id="onnx-reference-grouped-conv-transpose", kind="wrong values", framework="onnx", package="onnx",
        first_seen=ONNX_REFERENCE_SEEN["first_seen"], last_seen=ONNX_REFERENCE_SEEN["last_seen"],
        reason="onnx.reference's ConvTranspose with group > 1 raises 'group=2 != 1 is not implemented yet' "
               "(onnx 1.16) or, in 1.23, slices the weight (C, M/group, *k) by output "
               "instead of input channels, adds the first M/group biases to every group and writes one output "
               "channel per group: a ValueError ('cannot reshape array') unless M/group == 1 and C == M, and then "
               "every group gets bias[0] (minimal graph: X (1, 2, 1), W (2, 1, 1), B [0, 10], group=2 gives "
               "[1, 1], not [1, 11])",
        pinned_by="tests/test_known_issues.py::test_onnx_reference_grouped_conv_transpose_is_still_wrong"),
    KnownIssue(
        id="onnx-reference-max-unpool-output-shape", kind="wrong values", framework="onnx", package="onnx",
        first_seen=ONNX_REFERENCE_SEEN["first_seen"], last_seen=ONNX_REFERENCE_SEEN["last_seen"],
        reason="onnx.reference's MaxUnpool scatters the indices (flat positions in the output_shape tensor) into "
               "a tensor of the default (inferred) shape and then pads or crops it to output_shape, so an "
               "output_shape other than the default puts values at wrong positions or raises IndexError (minimal "
               "graph: X [[[[7]]]], I [[[[3]]]], kernel_shape (2, 2), strides (2, 2), output_shape (1, 1, 3, 3) "
               "puts 7 at (1, 1), not at (1, 0))",
        pinned_by="tests/test_known_issues.py::test_onnx_reference_max_unpool_with_output_shape_is_still_wrong"),
    KnownIssue(
        id="onnx-reference-conv-auto-pad", kind="wrong values", framework="onnx", package="onnx",
        first_seen="1.16.2", last_seen="1.16.2",
        reason="onnx 1.16's reference Conv pads auto_pad=VALID as if it were SAME and puts SAME_UPPER's odd pixel "
               "at the start (minimal graph: X [1, 2, 3], W [1, 1, 1], auto_pad=VALID gives [3, 6, 5], not [6]; "
               "X [1, 2, 3, 4], W [1, 1, 1], strides 2, SAME_UPPER gives [3, 9], not [6, 7]; onnx 1.23.2 is right)",
        pinned_by="tests/test_known_issues.py::test_onnx_reference_conv_auto_pad_is_still_wrong"),
    KnownIssue(
        id="ort-float64-fused-matmul", kind="missing kernel", framework="onnxruntime", package="onnxruntime",
        first_seen="1.18.1", last_seen="1.18.1",
        reason="ONNX Runtime 1.18's graph optimizer fuses Transpose → MatMul into com.microsoft.FusedMatMul, which "
               "has no float64 kernel on the CPU provider: a float64 Linear on an input of rank > 2 fails to load "
               "('Failed to find kernel for com.microsoft.FusedMatMul(1)'; onnxruntime 1.32.0 runs it)",
        words=("Failed to find kernel for com.microsoft.FusedMatMul",),
        applies=lambda op, rank, dtype, stride, dilation, groups: dtype == "float64" and op in ("FusedMatMul",
                                                                                                "linear"),
        pinned_by="tests/test_known_issues.py::test_ort_float64_fused_matmul_still_missing"),
    KnownIssue(
        id="onnx-reference-max-pool-unit-stride-indices", kind="wrong values", framework="onnx", package="onnx",
        first_seen=ONNX_REFERENCE_SEEN["first_seen"], last_seen=ONNX_REFERENCE_SEEN["last_seen"],
        reason="onnx.reference's MaxPool with every stride and dilation 1 takes its generic pooling path, whose "
               "Indices count per (n, c) plane instead of over the whole (N, C, *spatial) tensor as the spec (and "
               "ONNX Runtime, and the reference at stride 2) does, and which raises IndexError for padded 1-D and "
               "3-D inputs; torch.onnx.export writes such a MaxPool (kernel 1, stride 1) for every "
               "MaxPool(return_indices=True), so those exports compute wrong indices in the reference (minimal "
               "graph: X (1, 2, 1, 1) = [5, 7], kernel_shape (1, 1): Indices [0, 0], not [0, 1])",
        pinned_by="tests/test_known_issues.py::test_onnx_reference_max_pool_indices_at_stride_1_are_still_per_plane"),
    KnownIssue(
        id="litert-complex-fft-as-rfft", kind="missing kernel", framework="litert", package="tensorflow",
        first_seen="2.21.0", last_seen="2.21.0",
        reason="LiteRT has no complex FFT kernel: the TFLite converter rewrites tf.signal.fft of a real input cast "
               "to complex as RFFT2D, whose n//2+1 outputs its next RESHAPE cannot take (a power-of-two n: 'RESHAPE "
               "failed to prepare', 5 != 8 for n = 8) and which takes power-of-two lengths only (any other n: "
               "'IsPowerOfTwo ... RFFT2D failed to prepare'); the converted program never runs",
        words=("(RESHAPE) failed to prepare", "(RFFT2D) failed to prepare"),
        applies=lambda op, rank, dtype, stride, dilation, groups: op in ("fftn", "ifftn"),
        pinned_by="tests/test_known_issues.py::test_litert_complex_fft_still_cannot_be_prepared"),
    KnownIssue(
        id="litert-no-grouped-transpose-conv", kind="missing kernel", framework="litert", package="tensorflow",
        first_seen="2.21.0", last_seen="2.21.0",
        reason="LiteRT's TRANSPOSE_CONV and CONV_3D_TRANSPOSE have no groups: the TFLite converter keeps a grouped "
               "transposed conv (a Conv2DBackpropInput or Conv3DBackpropInputV2 whose filter has fewer input channels "
               "than the input) as one such op, which fails its own shape check ('SizeOfDimension(output, 3) != "
               "SizeOfDimension(weights, 0)' when invoked; 3-D: 'shape_data[4] != filter_output_channels' when prepared)",
        words=("(TRANSPOSE_CONV) failed to invoke", "(CONV_3D_TRANSPOSE) failed to prepare"),
        applies=lambda op, rank, dtype, stride, dilation, groups: op == "conv_transpose" and groups > 1,
        pinned_by="tests/test_known_issues.py::test_litert_grouped_transpose_conv_still_fails"),
    KnownIssue(
        id="onnx-reference-avg-pool-ceil-overhang", kind="wrong values", framework="onnx", package="onnx",
        first_seen=ONNX_REFERENCE_SEEN["first_seen"], last_seen=ONNX_REFERENCE_SEEN["last_seen"],
        reason="onnx.reference's AveragePool with ceil_mode=1 splits the extra padding a last window overhanging the "
               "input needs between both ends, which shifts every window: x = 1 2 3 4, kernel 3, stride 3 gives "
               "[1.5, 3] where the spec, PyTorch and ONNX Runtime give [2, 4] (its MaxPool is right). No guard: "
               "pool_ceil_mode_output_size is refuted on the onnx column, with that counterexample",
        pinned_by="tests/test_known_issues.py::test_onnx_reference_ceil_mode_average_pool_still_shifts"),
    KnownIssue(
        id="openvino-ceil-mode-window-in-padding", kind="wrong values", framework="openvino", package="openvino",
        first_seen="2026.4.1", last_seen="2026.4.1",
        reason="OpenVINO's ONNX MaxPool with ceil_mode=1 keeps a last window that starts in the right padding, "
               "which the ONNX spec (and PyTorch, ONNX Runtime, the ONNX reference and OpenVINO's own AveragePool) "
               "drop: a 2×2 input, kernel 3, stride 3, pads 1 max-pools to 2×2, not 1×1 (the pitfall of "
               "pytorch/pytorch#71549). No guard: "
               "pool_ceil_mode_output_size is refuted on this column, with that counterexample",
        pinned_by="tests/test_known_issues.py::test_openvino_ceil_mode_still_keeps_the_window_in_the_padding"),
    KnownIssue(
        id="flax-avg-pool-excluded-pad-dtype", kind="wrong values", framework="flax", package="flax",
        first_seen="0.12.8", last_seen="0.12.8",
        reason="flax.linen.avg_pool(count_include_pad=False) divides by a pool of jnp.ones(...) made in the default "
               "dtype, so the result is promoted: float16/bfloat16 inputs give float32, and float32 inputs give float64 "
               "when x64 is on (count_include_pad=True keeps the input dtype; minimal program: "
               "avg_pool(jnp.ones((1, 4, 4, 1), jnp.float16), (2, 2), padding=((1, 1), (1, 1)), count_include_pad=False)"
               ".dtype is float32). The numbers are right; no claim meets it (float32 runs have x64 off, float64 runs "
               "are float64 throughout), so no guard",
        pinned_by="tests/test_known_issues.py::test_flax_avg_pool_without_pad_count_still_promotes_the_dtype"),
)

BY_ID = {issue.id: issue for issue in ISSUES}


def notes(framework: str, kind: str) -> str:
    """One sentence per record of ``kind`` for ``framework``: what a case's note says about them."""
    return " ".join(f"{issue.reason} ({issue.id}, {issue.package} ≤ {issue.last_seen})."
                    for issue in ISSUES if issue.framework == framework and issue.kind == kind)
