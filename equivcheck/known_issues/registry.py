"""The records of known framework behaviour (:data:`ISSUES`, by id :data:`BY_ID`), what case notes say
about them (:func:`notes`), and the matcher that tells a known missing kernel from a new failure
(:func:`missing_kernel`)."""
from __future__ import annotations

from equivcheck.known_issues.record import KnownIssue, KnownIssueSkip, UnrecognisedGap
from equivcheck.known_issues.versions import (
    KERAS_BACKEND_SEEN, ONEDNN_ONE_COLUMN, ONNX_REFERENCE_SEEN, OPERAND_SWAP_ABORT, seen_in)

#: The ops a case asks a missing-kernel question about (the backward ops are all TF's backprop kernels).
BACKPROP_OPS = ("conv_transpose", "conv input gradient", "conv weight gradient")
#: Ops ONNX Runtime's CPU execution provider registers no double kernel for (seen with onnxruntime 1.32.0 at
#: opsets 11–28; MaxPool, Gemm, MatMul, DepthToSpace, SpaceToDepth, Pad, BatchNormalization, Reshape,
#: Transpose, Concat, Unsqueeze, Flatten and Relu have one).  The op is an ONNX op type.
ORT_NO_FLOAT64 = ("Conv", "ConvTranspose", "AveragePool", "MaxUnpool", "GlobalAveragePool", "LpPool")
#: The same ops in the words case bodies ask :func:`missing_kernel` about (``casekit.run_conv`` and friends).
ORT_NO_FLOAT64_OPS = ORT_NO_FLOAT64 + ("conv", "conv_transpose", "avg_pool", "max_unpool")

ISSUES: tuple[KnownIssue, ...] = (
    KnownIssue(
        id="xla-operand-swap-abort", kind="process abort", framework="jax", package="jaxlib",
        **OPERAND_SWAP_ABORT, device="cpu",
        reason="XLA's CPU compiler aborts the process on a convolution whose operand swap keeps a base-dilated "
               "group dimension (also flax, which compiles through the same XLA)",
        pinned_by="tests/test_known_issues.py::test_the_minimal_program_still_aborts"),
    KnownIssue(
        id="tf-onednn-one-column", kind="wrong values", framework="tensorflow", package="tensorflow",
        **ONEDNN_ONE_COLUMN, older_too=False,
        reason="oneDNN's float32 conv2d computes wrong values for a one-column output (batch ≥ 2, one input "
               "channel, column stride > 1; also Keras Conv2D)",
        pinned_by="tests/test_known_issues.py::test_tf_minimal_program_is_still_wrong_and_the_near_misses_right"),
    KnownIssue(
        id="tf-no-dilated-backprop", kind="missing kernel", framework="tensorflow", package="tensorflow",
        **seen_in("2.21.0"),
        reason="TensorFlow's CPU build has no backprop kernel (conv_transpose, the conv's input and weight "
               "gradients) for a dilated convolution (float64 always; float32 where oneDNN has none for this CPU)",
        words=("Current CPU implementations do not yet support dilation rates larger than 1",
               "Current CPU implementation does not yet support dilation rates larger than 1"),
        applies=lambda op, rank, dtype, stride, dilation, groups: op in BACKPROP_OPS and max(dilation) > 1,
        pinned_by="tests/test_known_issues.py::test_missing_kernel_still_missing[tf-no-dilated-backprop]"),
    KnownIssue(
        id="tf-no-dilated-conv3d", kind="missing kernel", framework="tensorflow", package="tensorflow",
        **seen_in("2.21.0"),
        reason="TensorFlow's CPU Conv3D (and its gradients) has no kernel for dilation rates above 1",
        words=("CPU implementation of Conv3D currently only supports dilated rates of 1",),
        applies=lambda op, rank, dtype, stride, dilation, groups: rank == 3 and max(dilation) > 1,
        pinned_by="tests/test_known_issues.py::test_missing_kernel_still_missing[tf-no-dilated-conv3d]"),
    KnownIssue(
        id="tf-no-grouped-backprop", kind="missing kernel", framework="tensorflow", package="tensorflow",
        **seen_in("2.21.0"),
        reason="TensorFlow's CPU build has no kernel for the input or weight gradient of a grouped convolution "
               "(float64 always; float32 where oneDNN has none for this CPU)",
        words=("Computing grouped convolutions are not supported on CPU", "grouped convolutions are not supported on CPU"),
        applies=lambda op, rank, dtype, stride, dilation, groups: (
            op in ("conv input gradient", "conv weight gradient") and groups > 1 and rank in (1, 2)),
        pinned_by="tests/test_known_issues.py::test_missing_kernel_still_missing[tf-no-grouped-backprop]"),
    KnownIssue(
        id="keras-torch-float64-dense", kind="build deviation", framework="tensorflow", package="keras",
        **seen_in("3.15.1"),
        reason="Keras 3 on the torch backend computes a float64 Dense in float32: keras.ops.matmul casts both "
               "operands to dtypes.result_type(float64, float64), which returns float32 (seen with Keras 3.15.1 "
               "in the keras-torch tox env)",
        pinned_by="the keras-torch tox env: the deviation fails the suite as unexpected the day it is fixed"),
    KnownIssue(
        id="keras-torch-same-avg-pool-replicates", kind="wrong values", framework="tensorflow", package="keras",
        **KERAS_BACKEND_SEEN,
        reason="Keras 3 on the torch backend pads an average pool with padding='same' and an odd total padding "
               "(before ≠ after) by F.pad(mode='replicate') and then averages over the padded input, so the border "
               "windows count copies of the edge pixels where TensorFlow and JAX leave the padding out (minimal "
               "program: keras.ops.average_pool(arange(1, 7) as (1, 6, 1), 3, 2, 'same') gives [2, 4, 5.667], "
               "not [2, 4, 5.5]; max pooling is unaffected)",
        pinned_by="tests/test_known_issues.py::test_keras_on_other_backends_items_still_there[torch-avg_pool]"),
    KnownIssue(
        id="keras-torch-pad-symmetric-is-replicate", kind="wrong values", framework="tensorflow", package="keras",
        **KERAS_BACKEND_SEEN,
        reason="Keras 3 on the torch backend pads keras.ops.pad(mode='symmetric') by replication: its pad maps "
               "'symmetric' to F.pad's 'replicate', so the border repeats the edge element instead of mirroring "
               "it (minimal program: keras.ops.pad(arange(1, 7) as (1, 6), [[0, 0], [2, 2]], 'symmetric') gives "
               "[1, 1, 1, 2, ..., 6, 6, 6], NumPy's and TensorFlow's 'symmetric' [2, 1, 1, 2, ..., 6, 6, 5]); "
               "equivcheck's adapter pads with tf.pad, so only the conventions report meets it",
        pinned_by="tests/test_known_issues.py::test_keras_on_other_backends_items_still_there[torch-pad_symmetric]"),
    KnownIssue(
        id="keras-torch-ops-conv-causal-is-valid", kind="wrong values", framework="tensorflow", package="keras",
        **KERAS_BACKEND_SEEN,
        reason="Keras 3 on the torch backend runs keras.ops.conv(padding='causal') as 'valid', without a word: its "
               "conv pads only for 'same' and takes any other word as no padding (keras.ops.conv documents "
               "'valid' and 'same'; on the TensorFlow backend 'causal' pads d(k−1) on the left, as Conv1D does; "
               "minimal program: keras.ops.conv of a (1, 8, 1) input with a (3, 1, 1) kernel, dilation 2, "
               "padding='causal' gives 4 outputs, not 8); equivcheck's adapter uses the Conv1D layer, so only the "
               "conventions report meets it",
        pinned_by="tests/test_known_issues.py::test_keras_on_other_backends_items_still_there[torch-conv_causal]"),
    KnownIssue(
        id="keras-float64-batch-norm-in-float32", kind="wrong values", framework="tensorflow", package="keras",
        **KERAS_BACKEND_SEEN,
        reason="Keras 3's BatchNormalization on the jax and torch backends computes a float64 input in float32 "
               "and returns float64: its call casts to backend.result_type(inputs.dtype, 'float32'), which is "
               "float32 there (float64 on TensorFlow); errors ≈ 1e-7 instead of 1e-16 (keras.ops.batch_normalization "
               "itself keeps float64)",
        pinned_by="tests/test_known_issues.py::test_keras_on_other_backends_items_still_there[jax-batch_norm]"),
    KnownIssue(
        id="ort-no-float64-conv", kind="missing kernel", framework="onnxruntime", package="onnxruntime",
        **seen_in("1.32.0"),
        reason="ONNX Runtime's CPU execution provider has no float64 (tensor(double)) kernel for Conv, "
               "ConvTranspose, AveragePool or MaxUnpool: creating the session raises NOT_IMPLEMENTED 'Could not "
               "find an implementation for Conv(22)' (the number is the op schema's opset version)",
        words=("Could not find an implementation for",),
        applies=lambda op, rank, dtype, stride, dilation, groups: dtype == "float64" and op in ORT_NO_FLOAT64_OPS,
        pinned_by="tests/test_known_issues.py::test_ort_still_has_no_float64_kernel"),
    KnownIssue(
        id="ort-conv-rank-mismatch-abort", kind="process abort", framework="onnxruntime", package="onnxruntime",
        **seen_in("1.18.1"),
        reason="ONNX Runtime 1.18's session for a Conv whose input has one axis fewer than its weight (an unbatched "
               "(C, H, W) image, X (3, 7, 9), W (5, 3, 2, 4)) aborts the process (a std::vector bounds assertion, "
               "SIGABRT) where 1.32.0 fails shape inference ('Number of spatial dimensions in the weight tensor (2) "
               "does not match ...'). No guard: claims build batched graphs; the conventions probe of unbatched "
               "input meets it in its worker, which records the abort",
        pinned_by="tests/test_known_issues.py::test_ort_118_still_aborts_on_a_conv_one_axis_short"),
    KnownIssue(
        id="ort-no-dilated-auto-pad-same", kind="missing kernel", framework="onnxruntime", package="onnxruntime",
        **seen_in("1.32.0"),
        reason="ONNX Runtime's Conv refuses auto_pad SAME_UPPER or SAME_LOWER together with dilations > 1 when it "
               "runs ('Dilation not supported for AutoPadType::SAME_UPPER or AutoPadType::SAME_LOWER'; the ONNX "
               "spec and the reference have it): such a conv cannot be run there, where an exporter writes "
               "explicit pads instead",
        words=("Dilation not supported for AutoPadType",),
        applies=lambda op, rank, dtype, stride, dilation, groups: op in ("conv", "Conv") and max(dilation) > 1,
        pinned_by="tests/test_known_issues.py::test_ort_still_refuses_dilated_same_auto_pad"),
    KnownIssue(
        id="onnx-reference-output-padding-beyond-stride", kind="missing kernel", framework="onnx", package="onnx",
        **seen_in("1.23.2"),
        reason="onnx.reference's ConvTranspose fails (ValueError 'expected size of input's dimension 2 to match the "
               "calculated number of sliding blocks') when an output_padding is not below its stride, which PyTorch "
               "accepts below the dilation (minimal graph: X (1, 1, 1), W (1, 1, 2), dilations 2, output_padding 1: "
               "PyTorch gives [1, 0, 1, 0]); such a transposed conv cannot be run there",
        words=("to match the calculated number of sliding blocks",),
        applies=lambda op, rank, dtype, stride, dilation, groups: op in ("conv_transpose", "ConvTranspose")
        and max(dilation) > 1,
        pinned_by="tests/test_known_issues.py::test_onnx_reference_still_fails_output_padding_beyond_the_stride"),
    KnownIssue(
        id="ort-output-padding-below-stride", kind="missing kernel", framework="onnxruntime", package="onnxruntime",
        **seen_in("1.32.0"), older_too=False,
        reason="ONNX Runtime's ConvTranspose refuses an output_padding that is not below the stride ('output_padding "
               "(1) may be too large for stride (1)'), which PyTorch accepts when it is below the dilation: such a "
               "transposed conv cannot be run there (onnxruntime 1.18.1 runs it, and right)",
        words=("may be too large for stride",),
        applies=lambda op, rank, dtype, stride, dilation, groups: op in ("conv_transpose", "ConvTranspose")
        and max(dilation) > 1,
        pinned_by="tests/test_known_issues.py::test_ort_still_refuses_output_padding_at_the_stride"),
    KnownIssue(
        id="onnx-reference-grouped-conv-transpose", kind="wrong values", framework="onnx", package="onnx",
        **ONNX_REFERENCE_SEEN,
        reason="onnx.reference's ConvTranspose with group > 1 raises 'group=2 != 1 is not implemented yet' "
               "(onnx 1.16) or, in 1.23, slices the weight (C, M/group, *k) by output "
               "instead of input channels, adds the first M/group biases to every group and writes one output "
               "channel per group: a ValueError ('cannot reshape array') unless M/group == 1 and C == M, and then "
               "every group gets bias[0] (minimal graph: X (1, 2, 1), W (2, 1, 1), B [0, 10], group=2 gives "
               "[1, 1], not [1, 11])",
        pinned_by="tests/test_known_issues.py::test_onnx_reference_grouped_conv_transpose_is_still_wrong"),
    KnownIssue(
        id="onnx-reference-max-unpool-output-shape", kind="wrong values", framework="onnx", package="onnx",
        **ONNX_REFERENCE_SEEN,
        reason="onnx.reference's MaxUnpool scatters the indices (flat positions in the output_shape tensor) into "
               "a tensor of the default (inferred) shape and then pads or crops it to output_shape, so an "
               "output_shape other than the default puts values at wrong positions or raises IndexError (minimal "
               "graph: X [[[[7]]]], I [[[[3]]]], kernel_shape (2, 2), strides (2, 2), output_shape (1, 1, 3, 3) "
               "puts 7 at (1, 1), not at (1, 0))",
        pinned_by="tests/test_known_issues.py::test_onnx_reference_max_unpool_with_output_shape_is_still_wrong"),
    KnownIssue(
        id="onnx-reference-conv-auto-pad", kind="wrong values", framework="onnx", package="onnx",
        **seen_in("1.16.2"),
        reason="onnx 1.16's reference Conv pads auto_pad=VALID as if it were SAME and puts SAME_UPPER's odd pixel "
               "at the start (minimal graph: X [1, 2, 3], W [1, 1, 1], auto_pad=VALID gives [3, 6, 5], not [6]; "
               "X [1, 2, 3, 4], W [1, 1, 1], strides 2, SAME_UPPER gives [3, 9], not [6, 7]; onnx 1.23.2 is right)",
        pinned_by="tests/test_known_issues.py::test_onnx_reference_conv_auto_pad_is_still_wrong"),
    KnownIssue(
        id="onnx-exporter-needs-onnx-1.17", kind="build deviation", framework="onnxruntime", package="onnx",
        **seen_in("1.16.2"),
        reason="torch.onnx.export of torch 2.11 and later imports onnxscript._framework_apis.torch_2_11, which "
               "onnxscript has from 0.6 on, and onnxscript 0.6 needs onnx ≥ 1.17: with onnx 1.16 (onnxscript 0.5.7 "
               "installs) no torch.nn layer can be exported, so the ONNX columns' layers are n/a (both columns; the "
               "functional graphs run)",
        pinned_by="tests/test_known_issues.py::test_the_exporter_still_needs_an_onnxscript_onnx_1_16_lacks"),
    KnownIssue(
        id="onnx-reference-avg-pool-ceil-window-in-padding", kind="wrong values", framework="onnx", package="onnx",
        **seen_in("1.16.2"),
        reason="onnx 1.16's reference AveragePool with ceil_mode=1 keeps a last window that starts in the right "
               "padding and averages it to NaN (the mean of no input): x = 1 2 3 4 5, kernel 2, stride 2, pads 1 "
               "gives [1, 2.5, 4.5, nan], not [1, 2.5, 4.5] (its MaxPool is right; onnx 1.23.2 is right). No guard: "
               "pool_ceil_mode_output_size is refuted on the onnx column anyway (onnx-reference-avg-pool-ceil-overhang)",
        pinned_by="tests/test_known_issues.py::test_onnx_116_reference_ceil_mode_average_pool_still_keeps_the_window"),
    KnownIssue(
        id="ort-float64-fused-matmul", kind="missing kernel", framework="onnxruntime", package="onnxruntime",
        **seen_in("1.18.1"),
        reason="ONNX Runtime 1.18's graph optimizer fuses Transpose → MatMul into com.microsoft.FusedMatMul, which "
               "has no float64 kernel on the CPU provider: a float64 Linear on an input of rank > 2 fails to load "
               "('Failed to find kernel for com.microsoft.FusedMatMul(1)'; onnxruntime 1.32.0 runs it)",
        words=("Failed to find kernel for com.microsoft.FusedMatMul",),
        applies=lambda op, rank, dtype, stride, dilation, groups: dtype == "float64" and op in ("FusedMatMul",
                                                                                                "linear"),
        pinned_by="tests/test_known_issues.py::test_ort_float64_fused_matmul_still_missing"),
    KnownIssue(
        id="onnx-reference-max-pool-unit-stride-indices", kind="wrong values", framework="onnx", package="onnx",
        **ONNX_REFERENCE_SEEN,
        reason="onnx.reference's MaxPool with every stride and dilation 1 takes its generic pooling path, whose "
               "Indices count per (n, c) plane instead of over the whole (N, C, *spatial) tensor as the spec (and "
               "ONNX Runtime, and the reference at stride 2) does, and which raises IndexError for padded 1-D and "
               "3-D inputs; torch.onnx.export writes such a MaxPool (kernel 1, stride 1) for every "
               "MaxPool(return_indices=True), so those exports compute wrong indices in the reference (minimal "
               "graph: X (1, 2, 1, 1) = [5, 7], kernel_shape (1, 1): Indices [0, 0], not [0, 1])",
        pinned_by="tests/test_known_issues.py::test_onnx_reference_max_pool_indices_at_stride_1_are_still_per_plane"),
    KnownIssue(
        id="litert-complex-fft-as-rfft", kind="missing kernel", framework="litert", package="tensorflow",
        **seen_in("2.21.0"),
        reason="LiteRT has no complex FFT kernel: the TFLite converter rewrites tf.signal.fft of a real input cast "
               "to complex as RFFT2D, whose n//2+1 outputs its next RESHAPE cannot take (a power-of-two n: 'RESHAPE "
               "failed to prepare', 5 != 8 for n = 8) and which takes power-of-two lengths only (any other n: "
               "'IsPowerOfTwo ... RFFT2D failed to prepare'); the converted program never runs",
        words=("(RESHAPE) failed to prepare", "(RFFT2D) failed to prepare"),
        applies=lambda op, rank, dtype, stride, dilation, groups: op in ("fftn", "ifftn"),
        pinned_by="tests/test_known_issues.py::test_litert_complex_fft_still_cannot_be_prepared"),
    KnownIssue(
        id="litert-no-grouped-transpose-conv", kind="missing kernel", framework="litert", package="tensorflow",
        **seen_in("2.21.0"),
        reason="LiteRT's TRANSPOSE_CONV and CONV_3D_TRANSPOSE have no groups: the TFLite converter keeps a grouped "
               "transposed conv (a Conv2DBackpropInput or Conv3DBackpropInputV2 whose filter has fewer input channels "
               "than the input) as one such op, which fails its own shape check ('SizeOfDimension(output, 3) != "
               "SizeOfDimension(weights, 0)' when invoked; 3-D: 'shape_data[4] != filter_output_channels' when prepared)",
        words=("(TRANSPOSE_CONV) failed to invoke", "(CONV_3D_TRANSPOSE) failed to prepare"),
        applies=lambda op, rank, dtype, stride, dilation, groups: op == "conv_transpose" and groups > 1,
        pinned_by="tests/test_known_issues.py::test_litert_grouped_transpose_conv_still_fails"),
    KnownIssue(
        id="onnx-reference-avg-pool-ceil-overhang", kind="wrong values", framework="onnx", package="onnx",
        first_seen="1.16.2", last_seen=ONNX_REFERENCE_SEEN["last_seen"],
        reason="onnx.reference's AveragePool with ceil_mode=1 splits the extra padding a last window overhanging the "
               "input needs between both ends, which shifts every window: x = 1 2 3 4, kernel 3, stride 3 gives "
               "[1.5, 3] (onnx 1.23.2; 1.16.2: [1.5, 3.5]) where the spec, PyTorch and ONNX Runtime give [2, 4] (its "
               "MaxPool is right; onnx 1.16.2's node test for a 3-D dilated ceil-mode AveragePool stores this "
               "defect's output). No guard: "
               "pool_ceil_mode_output_size is refuted on the onnx column, with that counterexample",
        pinned_by="tests/test_known_issues.py::test_onnx_reference_ceil_mode_average_pool_still_shifts"),
    KnownIssue(
        id="openvino-ceil-mode-window-in-padding", kind="wrong values", framework="openvino", package="openvino",
        **seen_in("2026.4.1"),
        reason="OpenVINO's ONNX MaxPool with ceil_mode=1 keeps a last window that starts in the right padding, "
               "which the ONNX spec (and PyTorch, ONNX Runtime, the ONNX reference and OpenVINO's own AveragePool) "
               "drop: a 2×2 input, kernel 3, stride 3, pads 1 max-pools to 2×2, not 1×1 (the pitfall of "
               "pytorch/pytorch#71549). No guard: "
               "pool_ceil_mode_output_size is refuted on this column, with that counterexample",
        pinned_by="tests/test_known_issues.py::test_openvino_ceil_mode_still_keeps_the_window_in_the_padding"),
    KnownIssue(
        id="ort-ceil-mode-window-in-padding", kind="wrong values", framework="onnxruntime", package="onnxruntime",
        **seen_in("1.18.1"),
        reason="ONNX Runtime 1.18's MaxPool and AveragePool with ceil_mode=1 keep a last window that starts in the "
               "right padding, which the spec drops, and return it beyond the shape its own shape inference gives "
               "('Expected shape from model of {1,1,3} does not match actual shape of {1,1,4}'): x = 1 2 3 4 5, "
               "kernel 2, stride 2, pads 1 gives MaxPool [1, 3, 5, -3.4e38] and AveragePool [1, 2.5, 4.5, 0], not "
               "[1, 3, 5] and [1, 2.5, 4.5] (onnxruntime 1.32.0 is right). No guard: pool_ceil_mode_output_size is "
               "refuted on this column in that version, with its counterexample",
        pinned_by="tests/test_known_issues.py::test_ort_ceil_mode_still_keeps_the_window_in_the_padding"),
    KnownIssue(
        id="flax-avg-pool-excluded-pad-dtype", kind="wrong values", framework="flax", package="flax",
        **seen_in("0.12.8"),
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
            raise KnownIssueSkip(f"not run: {issue.reason} (equivcheck/known_issues/: {issue.id})") from exc
        raise UnrecognisedGap(
            f"{bk.framework_name} raised the words of known issue {issue.id} ({issue.words[0]!r}) outside its "
            f"bounds: op {op}, {rank}-D, {bk.dtype}, {bk.device}, stride {stride}, dilation {dilation}, groups "
            f"{groups}, {issue.package} {version}; widen the record in equivcheck/known_issues/ only if this "
            f"is the same gap") from exc
