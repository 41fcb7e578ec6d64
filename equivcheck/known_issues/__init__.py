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

Where each part lives (everything is imported from here, ``equivcheck.known_issues``):
:mod:`.record` the record type and the two exceptions; :mod:`.versions` the version ranges and
:func:`affected`; :mod:`.registry` the records themselves (:data:`ISSUES`, :data:`BY_ID`), :func:`notes`
and :func:`missing_kernel`; the guards asked before a framework runs, one module per family, each with
the item's story as the soaks found and shrank it: :mod:`.xla` (jax, flax), :mod:`.tensorflow`
(TensorFlow's own kernels), :mod:`.keras` (Keras on its jax and torch backends), :mod:`.onnx`
(``onnx.reference``).
"""
from __future__ import annotations

from equivcheck.known_issues.keras import check_keras_avg_pool, check_keras_batch_norm, keras_same_avg_pool_replicates
from equivcheck.known_issues.onnx import (
    check_onnx_reference_conv_auto_pad, check_onnx_reference_conv_transpose, check_onnx_reference_max_pool_indices,
    check_onnx_reference_max_unpool)
from equivcheck.known_issues.record import KnownIssue, KnownIssueSkip, UnrecognisedGap
from equivcheck.known_issues.registry import (
    BACKPROP_OPS, BY_ID, ISSUES, ORT_NO_FLOAT64, ORT_NO_FLOAT64_OPS, missing_kernel, notes)
from equivcheck.known_issues.tensorflow import (
    check_tf_conv2d, onednn_one_column_wrong, tf_one_column_affected)
from equivcheck.known_issues.versions import (
    KERAS_BACKEND_SEEN, ONEDNN_ONE_COLUMN, ONNX_REFERENCE_SEEN, OPERAND_SWAP_ABORT, affected, seen_in)
from equivcheck.known_issues.xla import check_program, operand_swap_aborts

__all__ = [
    "BACKPROP_OPS", "BY_ID", "ISSUES", "KERAS_BACKEND_SEEN", "KnownIssue", "KnownIssueSkip", "ONEDNN_ONE_COLUMN",
    "ONNX_REFERENCE_SEEN", "OPERAND_SWAP_ABORT", "ORT_NO_FLOAT64", "ORT_NO_FLOAT64_OPS", "UnrecognisedGap",
    "affected", "check_keras_avg_pool", "check_keras_batch_norm", "check_onnx_reference_conv_auto_pad",
    "check_onnx_reference_conv_transpose", "check_onnx_reference_max_pool_indices", "check_onnx_reference_max_unpool",
    "check_program", "check_tf_conv2d", "keras_same_avg_pool_replicates", "missing_kernel", "notes",
    "onednn_one_column_wrong", "operand_swap_aborts", "seen_in", "tf_one_column_affected",
]
