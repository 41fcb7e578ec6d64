"""What the ONNX columns declare: their layouts and the one gap of ONNX Runtime's CPU provider.

Both engines run the same graphs, so they declare the same conventions.  ONNX's own layouts are the
canonical ones (the operator spec is written in NCHW / OIHW, ConvTranspose's weight is (C, M/group, *k),
Gemm with ``transB=1`` takes B as (N, K) = (out, in), what torch.onnx.export writes for nn.Linear on a
2-D input).

Until :mod:`equivcheck.layouts` carries these entries, the adapters read them from here
(:func:`kernel_layout`, :func:`data_layout`: the table first, this module when the table has no entry
for the column), so moving them into the table changes nothing but where they are written.

>>> kernel_layout("onnxruntime", "conv_transpose", 2, api="ops")
'IOHW'
"""
from __future__ import annotations

from equivcheck import layouts
from equivcheck.backends.base import NotApplicable

FRAMEWORKS = ("onnxruntime", "onnx")

#: Entries for ``layouts.DATA_LAYOUTS``.
DATA_LAYOUTS = {framework: "NC*" for framework in FRAMEWORKS}

#: Entries for ``layouts.KERNEL_LAYOUTS``: api "ops" is the ONNX operator a functional call becomes,
#: "torch.onnx" the torch.nn layer as torch.onnx.export writes it (weights as initializers).
KERNEL_LAYOUTS = {
    (framework, api, op): template
    for framework in FRAMEWORKS
    for api, table in {
        # Conv W (M, C/group, *k); ConvTranspose W (C, M/group, *k); Gemm(transB=1) B (out, in)
        "ops": {"conv": "OI*", "conv_transpose": "IO*", "depthwise": "CM*", "dense": "OI"},
        # the exporter keeps torch's parameters as they are: Conv/ConvTranspose weights, a depthwise
        # Conv(group=C) weight (C·M, 1, *k) (see layouts.depthwise_to_grouped), Linear → Gemm(transB=1)
        "torch.onnx": {"conv": "OI*", "conv_transpose": "IO*", "depthwise": "CM*", "dense": "OI"},
    }.items()
    for op, template in table.items()
}


def data_layout(framework: str, rank: int) -> str:
    """The table's data layout for ``framework``, or this module's until the table has one."""
    if framework in layouts.DATA_LAYOUTS:
        return layouts.data_layout(framework, rank)
    return layouts.expand(DATA_LAYOUTS[framework], rank)


def kernel_layout(framework: str, op: str, rank: int, api: str) -> str:
    """The table's kernel layout for (framework, api, op), or this module's until the table has one."""
    if (framework, api, op) in layouts.KERNEL_LAYOUTS:
        return layouts.kernel_layout(framework, op, rank, api=api)
    template = KERNEL_LAYOUTS[(framework, api, op)]
    return template if "*" not in template else layouts.expand(template, rank)


# ---- the known gap: no float64 kernels for the convolution family in ORT's CPU provider ---------------
#: Ops ONNX Runtime's CPU execution provider registers no double kernel for (seen with onnxruntime 1.32.0 at
#: opsets 11–28; MaxPool, Gemm, MatMul, DepthToSpace, SpaceToDepth, Pad, BatchNormalization, Reshape,
#: Transpose, Concat, Unsqueeze, Flatten and Relu have one).
ORT_NO_FLOAT64 = ("Conv", "ConvTranspose", "AveragePool", "MaxUnpool", "GlobalAveragePool", "LpPool")
ORT_NO_FLOAT64_WORDS = "Could not find an implementation for"
ORT_NO_FLOAT64_SEEN = {"first_seen": "1.32.0", "last_seen": "1.32.0"}

#: The record for equivcheck/known_issues.py (kind "missing kernel"), as the registry writes them.
ORT_NO_FLOAT64_RECORD = dict(
    id="ort-no-float64-conv", kind="missing kernel", framework="onnxruntime", package="onnxruntime",
    first_seen=ORT_NO_FLOAT64_SEEN["first_seen"], last_seen=ORT_NO_FLOAT64_SEEN["last_seen"], device="cpu",
    reason="ONNX Runtime's CPU execution provider has no float64 (tensor(double)) kernel for Conv, "
           "ConvTranspose, AveragePool or MaxUnpool: creating the session raises NOT_IMPLEMENTED 'Could not find "
           "an implementation for Conv(22)' (the number is the op schema's opset version: Conv(11) at opsets "
           "11–21)",
    words=(ORT_NO_FLOAT64_WORDS,),
    pinned_by="tests/test_backend_onnx.py::test_ort_still_has_no_float64_kernel",
)


def classify_session_error(exc: BaseException, op_types, dtype: str, version: str) -> None:
    """Raise NotApplicable when ``exc`` (raised creating an ORT session for a graph of ``op_types``) is the
    known float64 gap; return otherwise (the caller re-raises: the framework's own error).

    >>> try:
    ...     classify_session_error(RuntimeError("NOT_IMPLEMENTED : Could not find an implementation for Conv(22) "
    ...                            "node with name ''"), ["Conv"], "float64", "1.32.0")
    ... except NotApplicable as exc:
    ...     print(str(exc)[:60])
    ONNX Runtime's CPU execution provider has no float64 (tensor
    """
    message = str(exc)
    if ORT_NO_FLOAT64_WORDS not in message or dtype != "float64":
        return
    missing = [op for op in ORT_NO_FLOAT64 if op in op_types and f"implementation for {op}(" in message]
    if missing:
        raise NotApplicable(f"{ORT_NO_FLOAT64_RECORD['reason']} (onnxruntime {version}; "
                            f"{ORT_NO_FLOAT64_RECORD['id']})") from exc


# ---- the reference's grouped ConvTranspose ---------------------------------------------------------------
#: onnx versions seen computing grouped ConvTranspose wrong (onnx/reference/ops/op_conv_transpose.py); older
#: ones are assumed affected too, newer ones run the examples so that a fix shows.
REFERENCE_GROUPED_CONV_TRANSPOSE_SEEN = {"first_seen": "1.23.2", "last_seen": "1.23.2"}

#: The record for equivcheck/known_issues.py (kinds "wrong values" and a raise: guarded before the run).
REFERENCE_GROUPED_CONV_TRANSPOSE_RECORD = dict(
    id="onnx-reference-grouped-conv-transpose", kind="wrong values", framework="onnx", package="onnx",
    first_seen=REFERENCE_GROUPED_CONV_TRANSPOSE_SEEN["first_seen"],
    last_seen=REFERENCE_GROUPED_CONV_TRANSPOSE_SEEN["last_seen"], device="cpu",
    reason="onnx.reference's ConvTranspose with group > 1 slices the weight (C, M/group, *k) by output instead of "
           "input channels, adds the first M/group biases to every group and writes one output channel per group: "
           "a ValueError ('cannot reshape array') unless M/group == 1 and C == M, and then every group gets bias[0] "
           "(minimal graph: X (1, 2, 1), W (2, 1, 1), B [0, 10], group=2 gives [1, 1], not [1, 11])",
    pinned_by="tests/test_backend_onnx.py::test_reference_grouped_conv_transpose_is_still_wrong",
)


def check_reference_conv_transpose(groups: int, version: str) -> None:
    """Raise KnownIssueSkip before the reference runs a grouped ConvTranspose on an affected onnx."""
    from equivcheck.known_issues import KnownIssueSkip, affected

    if int(groups) > 1 and affected(version, REFERENCE_GROUPED_CONV_TRANSPOSE_SEEN):
        record = REFERENCE_GROUPED_CONV_TRANSPOSE_RECORD
        raise KnownIssueSkip(f"not run: onnx {version}'s reference ConvTranspose computes group > 1 wrong or raises "
                             f"(equivcheck/backends/onnx/conventions.py: {record['id']})")


# ---- the reference's MaxUnpool with an output_shape ------------------------------------------------------
REFERENCE_MAX_UNPOOL_SEEN = {"first_seen": "1.23.2", "last_seen": "1.23.2"}

REFERENCE_MAX_UNPOOL_RECORD = dict(
    id="onnx-reference-max-unpool-output-shape", kind="wrong values", framework="onnx", package="onnx",
    first_seen=REFERENCE_MAX_UNPOOL_SEEN["first_seen"], last_seen=REFERENCE_MAX_UNPOOL_SEEN["last_seen"],
    device="cpu",
    reason="onnx.reference's MaxUnpool scatters the indices (flat positions in the output_shape tensor) into a "
           "tensor of the default (inferred) shape and then pads or crops it to output_shape, so an output_shape "
           "other than the default puts values at wrong positions or raises IndexError (minimal graph: X "
           "[[[[7]]]], I [[[[3]]]], kernel_shape (2, 2), strides (2, 2), output_shape (1, 1, 3, 3) puts 7 at (1, 1), "
           "not at (1, 0))",
    pinned_by="tests/test_backend_onnx.py::test_reference_max_unpool_with_output_shape_is_still_wrong",
)


def check_reference_max_unpool(input_shape, kernel, strides, output_shape, version: str) -> None:
    """Raise KnownIssueSkip before the reference runs a MaxUnpool whose output_shape is not the default one."""
    from equivcheck.known_issues import KnownIssueSkip, affected

    if output_shape is None:
        return
    inferred = [(n - 1) * s + k for n, s, k in zip(input_shape[2:], strides, kernel)]
    if list(output_shape[2:]) != inferred and affected(version, REFERENCE_MAX_UNPOOL_SEEN):
        raise KnownIssueSkip(f"not run: onnx {version}'s reference MaxUnpool misplaces values for an output_shape "
                             f"other than the default (equivcheck/backends/onnx/conventions.py: "
                             f"{REFERENCE_MAX_UNPOOL_RECORD['id']})")
