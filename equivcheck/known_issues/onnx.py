"""Guards for the wrong values of ``onnx.reference`` (the onnx column), asked before the reference runs
a node of equivcheck/backends/onnx/graphs.py's graphs; each is bounded by its record's versions."""
from __future__ import annotations

from equivcheck.known_issues.record import KnownIssueSkip
from equivcheck.known_issues.registry import BY_ID


def check_onnx_reference_conv_transpose(groups: int, onnx_version: str) -> None:
    """Raise :class:`KnownIssueSkip` before onnx.reference runs a grouped ConvTranspose (wrong or raises)."""
    if int(groups) > 1 and BY_ID["onnx-reference-grouped-conv-transpose"].affects(onnx_version):
        raise KnownIssueSkip(f"not run: onnx {onnx_version}'s reference ConvTranspose computes group > 1 wrong or "
                             f"raises (equivcheck/known_issues/: onnx-reference-grouped-conv-transpose)")


def check_onnx_reference_conv_auto_pad(auto_pad, onnx_version: str) -> None:
    """Raise :class:`KnownIssueSkip` before an affected onnx.reference runs a Conv with an auto_pad word."""
    if auto_pad in ("VALID", "SAME_UPPER", "SAME_LOWER") and BY_ID["onnx-reference-conv-auto-pad"].affects(onnx_version):
        raise KnownIssueSkip(f"not run: onnx {onnx_version}'s reference Conv pads auto_pad={auto_pad} wrong "
                             f"(equivcheck/known_issues/: onnx-reference-conv-auto-pad)")


def check_onnx_reference_max_pool_indices(strides, dilations, onnx_version: str, *, indices: bool = True,
                                           pads=()) -> None:
    """Raise :class:`KnownIssueSkip` before onnx.reference runs a MaxPool with every stride and dilation 1 on its
    generic pooling path, where it numbers the Indices per (n, c) plane, not over the tensor (when ``indices``
    are used), and raises IndexError for a padded 1-D or 3-D input (with or without them)."""
    if not (all(int(s) == 1 for s in strides) and all(int(d) == 1 for d in dilations)
            and BY_ID["onnx-reference-max-pool-unit-stride-indices"].affects(onnx_version)):
        return
    if indices:
        raise KnownIssueSkip(f"not run: onnx {onnx_version}'s reference MaxPool numbers the Indices per (n, c) plane "
                             f"at stride 1 (equivcheck/known_issues/: onnx-reference-max-pool-unit-stride-indices)")
    if len(strides) in (1, 3) and any(int(p) for p in pads):
        raise KnownIssueSkip(f"not run: onnx {onnx_version}'s reference MaxPool raises IndexError for a padded "
                             f"{len(strides)}-D input at stride 1 (equivcheck/known_issues/: "
                             f"onnx-reference-max-pool-unit-stride-indices)")


def check_onnx_reference_max_unpool(input_shape, kernel, strides, output_shape, onnx_version: str) -> None:
    """Raise :class:`KnownIssueSkip` before onnx.reference runs a MaxUnpool whose output_shape is not the one
    it infers ((n − 1)·s + k per spatial axis): it scatters into the inferred shape, then pads or crops."""
    if output_shape is None:
        return
    inferred = [(n - 1) * s + k for n, s, k in zip(input_shape[2:], strides, kernel)]
    if (list(output_shape[2:]) != inferred
            and BY_ID["onnx-reference-max-unpool-output-shape"].affects(onnx_version)):
        raise KnownIssueSkip(f"not run: onnx {onnx_version}'s reference MaxUnpool misplaces values for an "
                             f"output_shape other than the default (equivcheck/known_issues/: "
                             f"onnx-reference-max-unpool-output-shape)")
