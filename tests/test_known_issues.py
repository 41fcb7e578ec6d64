"""The registry of known framework behaviour: each record matches what the installed framework does.

Every record of ``equivcheck/known_issues/registry.py`` names the test here that pins it.
When a framework is fixed, that test fails and says which record to narrow.
The crash and wrong-value guards are checked against the installed framework
(an XLA abort cannot be caught, so everything that might abort runs in a
subprocess); the missing kernels are reproduced with TensorFlow alone, and a
failure with the same words outside a record's bounds is shown to be an error.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import warnings

import pytest

import numpy as np

from equivcheck import backends
from equivcheck import known_issues
from equivcheck.known_issues import onednn_one_column_wrong, operand_swap_aborts

needs_jax = pytest.mark.skipif(bool(backends.availability("jax", import_it=False)), reason="jax is not installed")
needs_tf = pytest.mark.skipif(bool(backends.availability("tensorflow", import_it=False)),
                              reason="tensorflow is not installed")

#: Geometries tried on jaxlib 0.4.30 and 0.10.2 while shrinking the soak's crash
#: (spatial sizes, window, strides, padding, lhs_dilation, rhs_dilation) → whether it aborted.
OBSERVED = [
    (((1, 3), (2, 2), (1, 1), ((0, 1), (0, 0)), (1, 2), (1, 1)), True),     # the minimal program
    (((1, 3, 2), (2, 2, 2), (1, 1, 1), ((0, 1), (0, 0), (0, 0)), (1, 2, 1), (1, 1, 1)), True),
    (((1, 3, 2), (2, 2, 2), (1, 1, 1), ((0, 1), (0, 0), (0, 0)), (1, 1, 1), (1, 1, 1)), False),  # no base dilation
    (((1, 3, 2), (2, 2, 2), (1, 1, 1), ((0, 1), (0, 0), (0, 0)), (1, 1, 2), (1, 1, 1)), False),
    (((2, 3, 2), (2, 2, 2), (1, 1, 1), ((0, 0), (0, 0), (0, 0)), (1, 2, 1), (1, 1, 1)), False),  # no swap
    (((1, 1), (2, 3), (1, 1), ((0, 0), (1, 1)), (2, 1), (1, 1)), False),   # group dim of size 1: dilation no-op
    (((1, 2), (2, 2), (1, 1), ((0, 1), (0, 0)), (1, 2), (1, 1)), False),   # group dim as wide as its window
]


@pytest.mark.parametrize("geometry,aborted", OBSERVED, ids=[f"case{i}" for i in range(len(OBSERVED))])
def test_predicate_matches_what_was_observed(geometry, aborted):
    assert operand_swap_aborts(*geometry) is aborted


def _as_lists(geometry) -> list:
    return json.loads(json.dumps(geometry))


def _lax_script(geometries) -> str:
    return textwrap.dedent(f"""
        import json, numpy as np, jax
        from jax import lax
        for sizes, window, strides, padding, lhs, rhs in json.loads({json.dumps(json.dumps(geometries))}):
            spec = {{1: ("NCH", "OIH", "NCH"), 2: ("NCHW", "OIHW", "NCHW"), 3: ("NCDHW", "OIDHW", "NCDHW")}}[len(sizes)]
            x, w = np.ones([1, 1] + sizes, np.float32), np.ones([1, 1] + window, np.float32)
            f = jax.jit(lambda a, b: lax.conv_general_dilated(a, b, strides, [tuple(p) for p in padding],
                        lhs_dilation=lhs, rhs_dilation=rhs, dimension_numbers=spec))
            print("compiled", f(x, w).shape, flush=True)
    """)


def _run(script: str):
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)


def _jaxlib_version() -> str:
    import jaxlib

    return jaxlib.__version__


@needs_jax
def test_the_minimal_program_still_aborts():
    version = _jaxlib_version()
    if not known_issues.affected(version):
        pytest.skip(f"jaxlib {version} is newer than the last one seen aborting "
                    f"({known_issues.OPERAND_SWAP_ABORT['last_seen']}); the guard is off")
    done = _run(_lax_script([_as_lists(OBSERVED[0][0])]))
    assert done.returncode != 0 and "Window dimensions do not match RHS shape" in done.stderr, (
        f"jaxlib {version} compiles the minimal program of equivcheck/known_issues/xla.py without aborting "
        f"(exit {done.returncode}): XLA is fixed here, so narrow OPERAND_SWAP_ABORT in known_issues/versions.py "
        f"and rerun the soak.\n"
        f"{done.stdout[-500:]}{done.stderr[-500:]}")


@needs_jax
def test_programs_the_predicate_clears_compile_and_the_adapters_guard_the_rest():
    cleared = [_as_lists(geometry) for geometry, aborted in OBSERVED if not aborted]
    # the soak's draw that aborted the worker, through each adapter: guarded, so the process survives
    adapters = textwrap.dedent("""
        import numpy as np
        from equivcheck import backends
        from equivcheck.known_issues import KnownIssueSkip
        x, w = np.ones((1, 1, 2, 4, 3), np.float32), np.ones((1, 2, 3, 3, 2), np.float32)
        kw = dict(stride=(3, 3, 2), padding=[[2, 3], [2, 2], [1, 1]], output_padding=(1, 0, 0),
                  dilation=(2, 1, 1), groups=1)
        for framework in ("jax", "flax"):
            if backends.availability(framework, import_it=False):
                continue
            bk = backends.load(framework, "float32")
            try:
                with bk.session():
                    bk.conv_transpose(bk.asarray(x), bk.asarray(w), **kw)
            except KnownIssueSkip as exc:
                print("guarded", framework, exc, flush=True)
            else:
                print("ran", framework, flush=True)
    """)
    done = _run(_lax_script(cleared) + adapters)
    assert done.returncode == 0, f"a program the predicate calls safe aborted:\n{done.stdout}{done.stderr[-1500:]}"
    assert done.stdout.count("compiled") == len(cleared)
    guarded = [line for line in done.stdout.splitlines() if line.startswith(("guarded", "ran"))]
    if known_issues.affected(_jaxlib_version()):
        assert all(line.startswith("guarded") for line in guarded) and guarded, done.stdout
        assert "jaxlib" in guarded[0] and "equivcheck/known_issues/" in guarded[0]


# ---- TensorFlow 2.21 + oneDNN: float32 conv2d with a one-column output ----------------------------
#: (batch, in channels, output (rows, cols), window (rows, cols), strides) → wrong on TF 2.21.0 float32,
#: from the soak's draw and a scan of small convs (NHWC, 'VALID').
TF_OBSERVED = [
    ((2, 1, (2, 1), (1, 2), (1, 3)), True),    # the minimal program: 2×2 input, 1×2 kernel
    ((3, 1, (2, 1), (1, 3), (1, 4)), True),
    ((2, 1, (2, 1), (3, 2), (1, 3)), True),
    ((1, 1, (2, 1), (1, 2), (1, 3)), False),   # a batch of one
    ((2, 2, (2, 1), (1, 2), (1, 3)), False),   # two input channels
    ((2, 1, (2, 1), (1, 1), (1, 3)), False),   # a 1-wide kernel
    ((2, 1, (1, 1), (1, 2), (2, 3)), False),   # row stride 2
    ((2, 1, (2, 2), (1, 2), (1, 1)), False),   # column stride 1
]


@pytest.mark.parametrize("geometry,wrong", TF_OBSERVED, ids=[f"tf{i}" for i in range(len(TF_OBSERVED))])
def test_tf_predicate_matches_what_was_observed(geometry, wrong):
    assert onednn_one_column_wrong(*geometry) is wrong


def _tf_conv(tf, batch, channels, height, width, kernel, strides):
    x = np.arange(1, batch * channels * height * width + 1, dtype=np.float32).reshape(batch, height, width, channels)
    w = np.linspace(-1, 1, kernel[0] * kernel[1] * channels, dtype=np.float32).reshape(*kernel, channels, 1)
    got = tf.nn.conv2d(x, w, [1, *strides, 1], "VALID").numpy()
    out_rows, out_cols = (height - kernel[0]) // strides[0] + 1, (width - kernel[1]) // strides[1] + 1
    want = np.array([[[np.sum(x[b, i * strides[0]:i * strides[0] + kernel[0], j * strides[1]:j * strides[1] + kernel[1]]
                              .astype(np.float64) * w[..., 0]) for j in range(out_cols)] for i in range(out_rows)]
                     for b in range(batch)])[..., None]
    return bool(np.allclose(got, want, rtol=0, atol=1e-4 * np.abs(want).max()))


@needs_tf
def test_tf_minimal_program_is_still_wrong_and_the_near_misses_right():
    import tensorflow as tf

    right = _tf_conv(tf, 2, 1, 2, 2, (1, 2), (1, 3))
    in_range = known_issues.affected(tf.__version__, known_issues.ONEDNN_ONE_COLUMN, older_too=False)
    # the guard is on exactly where the minimal program computes wrong values (oneDNN's kernel depends on the CPU)
    assert known_issues.tf_one_column_affected(tf.__version__) == (in_range and not right)
    for batch, channels, kernel, strides in ((1, 1, (1, 2), (1, 3)), (2, 2, (1, 2), (1, 3)), (2, 1, (1, 1), (1, 3))):
        assert _tf_conv(tf, batch, channels, 2, 2, kernel, strides), (batch, channels, kernel, strides)
    if in_range and right:
        pytest.skip(f"TensorFlow {tf.__version__}'s oneDNN computes the minimal program right on this CPU (the "
                    f"defect was seen on another one): the guard is off here, the near misses are right")
    if not in_range and not right:
        pytest.fail(f"TensorFlow {tf.__version__} computes the minimal program of equivcheck/known_issues/tensorflow.py "
                    f"wrong outside ONEDNN_ONE_COLUMN's range: widen it in known_issues/versions.py")


@needs_tf
def test_tf_adapter_guards_the_soaks_draw():
    bk = backends.load("tensorflow", "float32")
    x, w = np.ones((2, 1, 2, 2), np.float32), np.ones((1, 1, 1, 2), np.float32)   # NCHW, OIHW
    if not known_issues.tf_one_column_affected(bk.versions()["tensorflow"]):
        pytest.skip("the guard is off here: this TensorFlow is outside the defect's version range, oneDNN is off, or this CPU computes the minimal program right")
    with bk.session(), pytest.raises(known_issues.KnownIssueSkip, match="oneDNN float32 conv2d"):
        bk.conv(bk.asarray(x), bk.asarray(w), stride=(1, 3))
    with bk.session():  # a batch of one runs
        assert bk.to_numpy(bk.conv(bk.asarray(x[:1]), bk.asarray(w), stride=(1, 3))).shape == (1, 1, 2, 1)


# ---- missing kernels -------------------------------------------------------------------------
def _tf_programs(tf):
    """A minimal TensorFlow program per missing-kernel record (float64 and float32 alike)."""
    def input_gradient(dtype):
        x, w = tf.ones((1, 3, 3, 4), dtype), tf.ones((1, 1, 2, 4), dtype)   # 4 channels, filter depth 2: groups 2
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.conv2d(x, w, strides=1, padding="VALID")
        return tape.gradient(y, x)

    return {
        "tf-no-dilated-backprop": lambda dtype: tf.nn.conv2d_transpose(
            tf.ones((1, 3, 3, 1), dtype), tf.ones((2, 2, 1, 1), dtype), (1, 5, 5, 1), 1, "VALID", dilations=2),
        "tf-no-dilated-conv3d": lambda dtype: tf.nn.conv3d(
            tf.ones((1, 5, 5, 5, 1), dtype), tf.ones((2, 2, 2, 1, 1), dtype), [1] * 5, "VALID",
            dilations=[1, 2, 2, 2, 1]),
        "tf-no-grouped-backprop": input_gradient,
    }


MISSING_KERNELS = [issue.id for issue in known_issues.ISSUES if issue.kind == "missing kernel"
                   and issue.framework == "tensorflow"]  # the ONNX Runtime record is pinned below


def test_every_record_names_its_pinning_test_and_every_missing_kernel_has_a_program():
    import inspect

    source = inspect.getsource(__import__(__name__))
    for issue in known_issues.ISSUES:
        assert issue.kind in ("process abort", "wrong values", "missing kernel", "build deviation"), issue.id
        assert issue.reason and issue.pinned_by, issue.id
        if issue.pinned_by.startswith("tests/test_known_issues.py::"):
            name = issue.pinned_by.split("::")[1].split("[")[0]
            assert f"def {name}(" in source, f"{issue.id}: its pinning test {name} does not exist"
    assert set(MISSING_KERNELS) == set(_tf_programs(type("tf", (), {})).keys())


@needs_tf
@pytest.mark.parametrize("record", MISSING_KERNELS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_missing_kernel_still_missing(record, dtype):
    import tensorflow as tf

    issue = known_issues.BY_ID[record]
    if not issue.affects(tf.__version__):
        pytest.skip(f"TensorFlow {tf.__version__} is outside {record}'s range (≤ {issue.last_seen}): the record is off")
    try:
        _tf_programs(tf)[record](getattr(tf, dtype))
    except Exception as exc:  # noqa: BLE001 - the words are what is pinned
        assert any(words in str(exc) for words in issue.words), (
            f"{record}: TensorFlow {tf.__version__} fails with other words now: {exc}")
        return
    if dtype == "float32":
        # float32 CPU convs go to oneDNN, whose kernels depend on the CPU: one machine has this kernel, another
        # (an AMD EPYC without AVX-512) has not.  float64 has no oneDNN kernel, so it pins the record.
        pytest.skip(f"this CPU's oneDNN runs the float32 program of {record}; the record stays for CPUs without it")
    pytest.fail(f"TensorFlow {tf.__version__} now runs the minimal program of {record} ({dtype}): the kernel exists, "
                f"so narrow that record's last_seen in equivcheck/known_issues/registry.py")


class _FakeTF:
    framework_name, dtype, device = "tensorflow", "float64", "cpu"

    def __init__(self, version="2.21.0"):
        self.version = version

    def versions(self):
        return {"tensorflow": self.version}


WORDS = RuntimeError("Current CPU implementations do not yet support dilation rates larger than 1.")


def test_a_missing_kernel_inside_its_bounds_is_an_example_that_did_not_run():
    with pytest.raises(known_issues.KnownIssueSkip, match="tf-no-dilated-backprop"):
        known_issues.missing_kernel(_FakeTF(), "conv_transpose", 2, WORDS, dilation=[2, 1])


@pytest.mark.parametrize("op,dilation,version", [
    ("conv", [2, 1], "2.21.0"),              # a forward 2-D conv has its dilated kernel
    ("conv_transpose", [1, 1], "2.21.0"),    # not dilated: these words mean something new
    ("conv_transpose", [2, 1], "2.22.0"),    # a newer TensorFlow than the record has seen
])
def test_the_same_words_outside_the_bounds_are_an_error_not_a_skip(op, dilation, version):
    with pytest.raises(known_issues.UnrecognisedGap, match="outside its bounds"):
        known_issues.missing_kernel(_FakeTF(version), op, 2, WORDS, dilation=dilation)


def test_other_errors_and_other_frameworks_pass_through():
    other = RuntimeError("shape mismatch")
    assert known_issues.missing_kernel(_FakeTF(), "conv_transpose", 2, other, dilation=[2, 1]) is None
    torch_like = type("T", (_FakeTF,), {"framework_name": "torch"})()
    assert known_issues.missing_kernel(torch_like, "conv_transpose", 2, WORDS, dilation=[2, 1]) is None


# ---- ONNX: the records pinned on plain ONNX Runtime / onnx.reference (graphs from the ONNX columns' builder) ----
needs_onnx = pytest.mark.skipif(bool(backends.availability("onnx", import_it=False)), reason="onnx is not installed")


@needs_onnx
@pytest.mark.parametrize("op_type, inputs", [("Conv", [(1, 1, 4, 4), (1, 1, 2, 2)]),
                                             ("ConvTranspose", [(1, 1, 4, 4), (1, 1, 2, 2)]),
                                             ("AveragePool", [(1, 1, 4, 4)]),
                                             ("MaxUnpool", [(1, 1, 2, 2), (1, 1, 2, 2)])])
def test_ort_still_has_no_float64_kernel(op_type, inputs):
    """Pins ort-no-float64-conv: fails (naming the record) the day ONNX Runtime's CPU provider gains the kernel."""
    ort = pytest.importorskip("onnxruntime", reason="the onnxruntime column needs onnxruntime")
    from equivcheck.backends.onnx import graphs

    issue = known_issues.BY_ID["ort-no-float64-conv"]
    if not issue.affects(ort.__version__):
        pytest.skip(f"onnxruntime {ort.__version__} is outside {issue.id}'s range (≤ {issue.last_seen})")
    attrs = {"kernel_shape": (2, 2)} if op_type in ("AveragePool", "MaxUnpool") else {}
    types = ("float64", "int64") if op_type == "MaxUnpool" else "float64"
    model = graphs.build(graphs.Signature.of(op_type, inputs, types, **attrs))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - the words are what is pinned
        assert f"{issue.words[0]} {op_type}(" in str(exc), f"{issue.id}: other words now: {exc}"
    else:
        pytest.fail(f"onnxruntime {ort.__version__} now has a float64 {op_type} kernel: narrow {issue.id} "
                    f"in equivcheck/known_issues/registry.py")


@needs_onnx
@pytest.mark.parametrize("x, w, b, wrong", [
    ([[[1.0], [1.0]]], [[[1.0]], [[1.0]]], [0.0, 10.0], [1.0, 1.0]),  # every group gets bias[0]
    ([[[1.0], [1.0]]], [[[1.0], [1.0]], [[1.0], [1.0]]], None, ValueError),  # M/group = 2
    ([[[0.0], [1.0], [2.0], [3.0]]], [[[1.0]], [[2.0]], [[3.0]], [[4.0]]], None, ValueError),  # C = 4, M = 2
])
def test_onnx_reference_grouped_conv_transpose_is_still_wrong(x, w, b, wrong):
    """Pins onnx-reference-grouped-conv-transpose on plain onnx.reference (group=2); the right values are
    the oracle's (X (1, 2, 1), W (2, 1, 1) of ones, B [0, 10] → [1, 11])."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    from equivcheck import oracle
    from equivcheck.backends.onnx import graphs

    record = "onnx-reference-grouped-conv-transpose"
    if not known_issues.BY_ID[record].affects(onnx.__version__):
        pytest.skip(f"onnx {onnx.__version__} is outside {record}'s range")
    arrays = [np.array(a, dtype=np.float32) for a in (x, w, b) if a is not None]
    model = graphs.build(graphs.Signature.of("ConvTranspose", [a.shape for a in arrays], "float32", group=2))
    right = oracle.conv_transpose(*arrays, groups=2).ravel().tolist()
    try:
        got = ReferenceEvaluator(model).run(None, dict(zip(["x0", "x1", "x2"], arrays)))[0].ravel().tolist()
    except RuntimeError as exc:  # onnx 1.16: not implemented at all (the same record: the reference cannot do it)
        assert "is not implemented yet" in str(exc), f"onnx {onnx.__version__}: other words now ({exc}); see {record}"
        return
    except ValueError:
        assert wrong is ValueError, f"onnx {onnx.__version__}: the reference raises now; narrow {record}"
        return
    assert got != right, f"onnx {onnx.__version__} computes grouped ConvTranspose right now: narrow {record}"
    assert got == wrong


@needs_onnx
def test_onnx_reference_max_unpool_with_output_shape_is_still_wrong():
    """Pins onnx-reference-max-unpool-output-shape on plain onnx.reference: flat index 3 of a (1, 1, 3, 3)
    output_shape is row 1, column 0."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    from equivcheck.backends.onnx import graphs

    record = "onnx-reference-max-unpool-output-shape"
    if not known_issues.BY_ID[record].affects(onnx.__version__):
        pytest.skip(f"onnx {onnx.__version__} is outside {record}'s range")
    sig = graphs.Signature.of("MaxUnpool", [(1, 1, 1, 1), (1, 1, 1, 1)], ("float32", "int64"), kernel_shape=(2, 2),
                              strides=(2, 2), const_output_shape=(1, 1, 3, 3))
    got = ReferenceEvaluator(graphs.build(sig)).run(None, {"x0": np.full((1, 1, 1, 1), 7, np.float32),
                                                           "x1": np.full((1, 1, 1, 1), 3, np.int64)})[0]
    assert got[0, 0, 1, 0] != 7, f"onnx {onnx.__version__}'s MaxUnpool places flat index 3 at (1, 0) now: narrow {record}"
    assert got[0, 0, 1, 1] == 7


@needs_onnx
def test_onnx_reference_conv_auto_pad_is_still_wrong():
    """Pins onnx-reference-conv-auto-pad where the installed onnx is in its range (the oldest tox env)."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    from equivcheck.backends.onnx import graphs

    record = "onnx-reference-conv-auto-pad"
    if not known_issues.BY_ID[record].affects(onnx.__version__):
        pytest.skip(f"onnx {onnx.__version__} is outside {record}'s range (≤ {known_issues.BY_ID[record].last_seen})")
    sig = graphs.Signature.of("Conv", [(1, 1, 3), (1, 1, 3)], "float32", auto_pad="VALID")
    feeds = {"x0": np.array([[[1.0, 2, 3]]], np.float32), "x1": np.ones((1, 1, 3), np.float32)}
    got = ReferenceEvaluator(graphs.build(sig)).run(None, feeds)[0].ravel().tolist()
    assert got != [6.0], f"onnx {onnx.__version__}'s reference pads auto_pad=VALID right now: narrow {record}"
    assert got == [3.0, 6.0, 5.0]


def test_ort_float64_fused_matmul_still_missing():
    """Pins ort-float64-fused-matmul where the installed onnxruntime is in its range (the oldest tox env)."""
    ort = pytest.importorskip("onnxruntime", reason="the onnxruntime column needs onnxruntime")
    from equivcheck.backends.onnx import graphs

    issue = known_issues.BY_ID["ort-float64-fused-matmul"]
    if not issue.affects(ort.__version__):
        pytest.skip(f"onnxruntime {ort.__version__} is outside {issue.id}'s range (≤ {issue.last_seen})")
    model = graphs.build(graphs.Signature.of("linear", [(2, 3, 4), (5, 4)], "float64"))  # Transpose → MatMul
    try:
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - the words are what is pinned
        assert issue.words[0] in str(exc), f"{issue.id}: other words now: {exc}"
    else:
        pytest.fail(f"onnxruntime {ort.__version__} now loads a float64 Transpose → MatMul: narrow {issue.id}")


def test_onnx_guards_skip_only_inside_their_conditions():
    """The adapters' guards: a grouped ConvTranspose and a non-default MaxUnpool output_shape are skipped on an
    affected onnx, the ungrouped / default-shaped ones and a newer onnx run."""
    with pytest.raises(known_issues.KnownIssueSkip, match="onnx-reference-grouped-conv-transpose"):
        known_issues.check_onnx_reference_conv_transpose(2, "1.23.2")
    assert known_issues.check_onnx_reference_conv_transpose(1, "1.23.2") is None
    assert known_issues.check_onnx_reference_conv_transpose(2, "1.24.0") is None
    with pytest.raises(known_issues.KnownIssueSkip, match="onnx-reference-max-unpool-output-shape"):
        known_issues.check_onnx_reference_max_unpool((1, 1, 1, 1), (2, 2), (2, 2), (1, 1, 3, 3), "1.23.2")
    assert known_issues.check_onnx_reference_max_unpool((1, 1, 1, 1), (2, 2), (2, 2), (1, 1, 2, 2), "1.23.2") is None
    assert known_issues.check_onnx_reference_max_unpool((1, 1, 1, 1), (2, 2), (2, 2), None, "1.23.2") is None


class _FakeOrt:
    framework_name, dtype, device = "onnxruntime", "float64", "cpu"

    def versions(self):
        return {"onnxruntime": "1.32.0", "onnx": "1.23.2"}


def test_ort_missing_kernel_words_outside_float64_are_an_error_not_a_skip():
    words = RuntimeError("NOT_IMPLEMENTED : Could not find an implementation for Conv(22) node with name ''")
    with pytest.raises(known_issues.KnownIssueSkip, match="ort-no-float64-conv"):
        known_issues.missing_kernel(_FakeOrt(), "Conv", 0, words)
    float32 = type("F32", (_FakeOrt,), {"dtype": "float32"})()
    with pytest.raises(known_issues.UnrecognisedGap, match="outside its bounds"):
        known_issues.missing_kernel(float32, "Conv", 0, words)
    with pytest.raises(known_issues.UnrecognisedGap):
        known_issues.missing_kernel(_FakeOrt(), "MaxPool", 0, words)  # ORT has a float64 MaxPool


def test_flax_avg_pool_without_pad_count_still_promotes_the_dtype():
    """flax-avg-pool-excluded-pad-dtype: the divisor's jnp.ones takes the default dtype.  Fails the day
    Flax keeps the input dtype: narrow the record's last_seen."""
    pytest.importorskip("flax")
    import flax
    import jax
    import jax.numpy as jnp
    from flax import linen

    issue = known_issues.BY_ID["flax-avg-pool-excluded-pad-dtype"]
    if not issue.affects(flax.__version__):
        pytest.skip(f"flax {flax.__version__} is outside the record's range (≤ {issue.last_seen})")
    pads = ((1, 1), (1, 1))
    half = jnp.ones((1, 4, 4, 1), jnp.float16)
    assert linen.avg_pool(half, (2, 2), padding=pads).dtype == jnp.float16  # the divisor prod(window) keeps it
    assert linen.avg_pool(half, (2, 2), padding=pads, count_include_pad=False).dtype == jnp.float32
    if hasattr(jax, "enable_x64"):
        x64 = jax.enable_x64(True)
    else:  # jax 0.4.x (the oldest tox env)
        from jax.experimental import enable_x64

        x64 = enable_x64()
    with x64:
        single = jnp.ones((1, 4, 4, 1), jnp.float32)
        assert linen.avg_pool(single, (2, 2), padding=pads, count_include_pad=False).dtype == jnp.float64


@needs_onnx
def test_onnx_reference_max_pool_indices_at_stride_1_are_still_per_plane():
    """Pins onnx-reference-max-pool-unit-stride-indices on plain onnx.reference: the spec's Indices of channel 1
    of a (1, 2, 1, 1) input are 1 (the flat position in the tensor), as at stride 2 and in ONNX Runtime."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    from equivcheck.backends.onnx import graphs

    record = "onnx-reference-max-pool-unit-stride-indices"
    if not known_issues.BY_ID[record].affects(onnx.__version__):
        pytest.skip(f"onnx {onnx.__version__} is outside {record}'s range")
    x = {"x0": np.array([[[[5.0]], [[7.0]]]], np.float32)}

    def indices(**strides):
        sig = graphs.Signature.of("MaxPool", [(1, 2, 1, 1)], "float32", outputs=2, kernel_shape=(1, 1), **strides)
        return ReferenceEvaluator(graphs.build(sig)).run(None, x)[1].ravel().tolist()

    assert indices(strides=(2, 2)) == [0, 1]  # the spec's numbering, on the strided path
    assert indices() == [0, 0], f"onnx {onnx.__version__} numbers stride-1 MaxPool Indices over the tensor now: narrow {record}"
    with pytest.raises(known_issues.KnownIssueSkip, match=record):
        known_issues.check_onnx_reference_max_pool_indices((1, 1), (1, 1), onnx.__version__)
    assert known_issues.check_onnx_reference_max_pool_indices((2, 1), (1, 1), onnx.__version__) is None


# ---- Keras 3 on its jax and torch backends (the tensorflow column's Keras path) -----------------------
KERAS_BACKEND_PROGRAMS = {
    # keras-torch-same-avg-pool-replicates: n=6, k=3, s=2 'same' pads 0+1; the last window holds 5, 6 and
    # padding, so its in-bounds mean is 5.5 (TF and JAX); Keras-on-torch prints 5.6667 = (5+6+6)/3
    "avg_pool": "import numpy as np, keras\n"
                "x = np.arange(1, 7, dtype='float32').reshape(1, 6, 1)\n"
                "print(float(keras.ops.convert_to_numpy(keras.ops.average_pool(x, 3, 2, 'same'))[0, -1, 0]))\n",
    # keras-float64-batch-norm-in-float32: a float64 BatchNormalization against the float64 formula
    "batch_norm": "import os, numpy as np, keras\n"
                  "if keras.backend.backend() == 'jax':\n"
                  "    import jax; jax.config.update('jax_enable_x64', True)\n"
                  "bn = keras.layers.BatchNormalization(dtype='float64', epsilon=1e-2)\n"
                  "bn.build((None, 3))\n"
                  "rng = np.random.default_rng(0)\n"
                  "m, v, g, b = (rng.uniform(0.5, 2, 3) for _ in range(4))\n"
                  "for var, value in zip((bn.moving_mean, bn.moving_variance, bn.gamma, bn.beta), (m, v, g, b)):\n"
                  "    var.assign(value)\n"
                  "x = rng.normal(size=(4, 3))\n"
                  "y = keras.ops.convert_to_numpy(bn(keras.ops.convert_to_tensor(x, dtype='float64'), training=False))\n"
                  "print(float(np.abs(y - ((x - m) / np.sqrt(v + 1e-2) * g + b)).max()))\n",
    # keras-torch-pad-symmetric-is-replicate: 1..6 padded by 2 on each side, 'symmetric'
    "pad_symmetric": "import numpy as np, keras\n"
                     "x = np.arange(1, 7, dtype='float32').reshape(1, 6)\n"
                     "print(*keras.ops.convert_to_numpy(keras.ops.pad(x, [[0, 0], [2, 2]], mode='symmetric'))[0])\n",
    # keras-torch-ops-conv-causal-is-valid: the output length of a 'causal' conv (8 = causal, 4 = valid)
    "conv_causal": "import numpy as np, keras\n"
                   "x, w = np.ones((1, 8, 1), 'float32'), np.ones((3, 1, 1), 'float32')\n"
                   "y = keras.ops.conv(x, w, dilation_rate=2, padding='causal')\n"
                   "print(keras.ops.convert_to_numpy(y).shape[1])\n",
}


@pytest.mark.parametrize("keras_backend, program", [("torch", "avg_pool"), ("jax", "batch_norm"),
                                                    ("torch", "batch_norm"), ("torch", "pad_symmetric"),
                                                    ("torch", "conv_causal")])
def test_keras_on_other_backends_items_still_there(keras_backend, program):
    """A fresh interpreter per Keras backend (≈ 7 s each), opt-in like tests/test_backend_tensorflow.py's
    other-backend test (EQUIVCHECK_KERAS_BACKENDS=1; CI sets it)."""
    import os

    if os.environ.get("EQUIVCHECK_KERAS_BACKENDS") != "1":
        pytest.skip("opt-in (EQUIVCHECK_KERAS_BACKENDS=1; CI sets it): a subprocess per Keras backend")
    keras = pytest.importorskip("keras")
    pytest.importorskip(keras_backend)
    record = {"avg_pool": "keras-torch-same-avg-pool-replicates", "batch_norm": "keras-float64-batch-norm-in-float32",
              "pad_symmetric": "keras-torch-pad-symmetric-is-replicate",
              "conv_causal": "keras-torch-ops-conv-causal-is-valid"}[program]
    if not known_issues.BY_ID[record].affects(keras.__version__):
        pytest.skip(f"Keras {keras.__version__} is outside {record}'s range: the record is off")
    env = dict(os.environ, KERAS_BACKEND=keras_backend, TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, "-c", KERAS_BACKEND_PROGRAMS[program]], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    if program == "pad_symmetric":
        padded = [float(v) for v in out.stdout.split()]
        assert padded == [1, 1, 1, 2, 3, 4, 5, 6, 6, 6], (
            f"{record}: Keras now pads 'symmetric' as {padded} (fixed: NumPy's [2, 1, 1, 2, ..., 6, 6, 5]?)")
        return
    value = float(out.stdout.split()[-1])
    if program == "conv_causal":
        assert value == 4, f"{record}: Keras now gives {value:g} outputs for a 'causal' conv of 8 (fixed: 8?)"
        return
    if program == "avg_pool":
        assert value == pytest.approx(17 / 3, abs=1e-6), f"{record}: Keras now gives {value} (fixed: 5.5?)"
    else:  # float32 rounding (≈ 1e-7), not float64's (≈ 1e-16): fixed the day this drops below 1e-12
        assert value > 1e-12, f"{record}: Keras now computes a float64 BatchNormalization in float64 ({value})"


def test_keras_guards_skip_only_inside_their_conditions():
    from equivcheck.known_issues import KnownIssueSkip, check_keras_avg_pool, check_keras_batch_norm

    seen = known_issues.KERAS_BACKEND_SEEN["last_seen"]
    # n=6, k=3, s=2: total 1 (uneven); n=5, k=3, s=2: total 2 (1+1); n=4, k=2, s=2: no padding
    assert known_issues.keras_same_avg_pool_replicates((6,), (3,), (2,))
    assert not known_issues.keras_same_avg_pool_replicates((5, 4), (3, 2), (2, 2))
    with pytest.raises(KnownIssueSkip, match="keras-torch-same-avg-pool-replicates"):
        check_keras_avg_pool("torch", "same", (5, 6), (3, 3), (2, 2), seen)
    for backend, padding, version in (("tensorflow", "same", seen), ("jax", "same", seen), ("torch", "valid", seen),
                                      ("torch", "same", "3.99.0")):
        check_keras_avg_pool(backend, padding, (6,), (3,), (2,), version)
    for backend in ("jax", "torch"):
        with pytest.raises(KnownIssueSkip, match="keras-float64-batch-norm-in-float32"):
            check_keras_batch_norm(backend, "float64", seen)
        check_keras_batch_norm(backend, "float32", seen)
    check_keras_batch_norm("tensorflow", "float64", seen)


@pytest.mark.parametrize("n, words", [(8, "(RESHAPE) failed to prepare"), (5, "(RFFT2D) failed to prepare")])
def test_litert_complex_fft_still_cannot_be_prepared(n, words):
    """Pins litert-complex-fft-as-rfft with TensorFlow's converter and LiteRT alone: the complex FFT of a
    real input converts to a program the interpreter cannot prepare.  Fails the day it runs: narrow
    the record's last_seen."""
    pytest.importorskip("ai_edge_litert", reason="the litert column needs ai-edge-litert")
    tf = pytest.importorskip("tensorflow")
    from ai_edge_litert.interpreter import Interpreter

    issue = known_issues.BY_ID["litert-complex-fft-as-rfft"]
    if not issue.affects(tf.__version__):
        pytest.skip(f"tensorflow {tf.__version__} is outside {issue.id}'s range (≤ {issue.last_seen})")
    function = tf.function(lambda x: tf.signal.fft(tf.cast(x, tf.complex64)),
                           input_signature=[tf.TensorSpec((n,), tf.float32)], autograph=False)
    flatbuffer = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()],
                                                                 function).convert()
    with pytest.raises(RuntimeError, match=re.escape(words)):
        Interpreter(model_content=flatbuffer).allocate_tensors()


def test_litert_grouped_transpose_conv_still_fails():
    """Pins litert-no-grouped-transpose-conv with TensorFlow's converter and LiteRT alone: a grouped
    Conv2DBackpropInput (2 input channels, filter of 1) converts, then fails when invoked.  Fails the day
    LiteRT runs it: narrow the record's last_seen."""
    pytest.importorskip("ai_edge_litert", reason="the litert column needs ai-edge-litert")
    tf = pytest.importorskip("tensorflow")
    from ai_edge_litert.interpreter import Interpreter

    issue = known_issues.BY_ID["litert-no-grouped-transpose-conv"]
    if not issue.affects(tf.__version__):
        pytest.skip(f"tensorflow {tf.__version__} is outside {issue.id}'s range (≤ {issue.last_seen})")

    def grouped(x, w):  # NHWC (1, 1, 1, 2) input, HWOI (1, 1, 1, 2) filter: two groups of one channel
        return tf.raw_ops.Conv2DBackpropInput(input_sizes=[1, 1, 1, 2], filter=w, out_backprop=x,
                                              strides=[1, 1, 1, 1], padding="VALID")
    function = tf.function(grouped, input_signature=[tf.TensorSpec((1, 1, 1, 2), tf.float32),
                                                     tf.TensorSpec((1, 1, 1, 2), tf.float32)], autograph=False)
    flatbuffer = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()],
                                                                 function).convert()
    runner = Interpreter(model_content=flatbuffer)
    runner.allocate_tensors()
    for detail in runner.get_input_details():
        runner.set_tensor(detail["index"], np.ones(detail["shape"], np.float32))
    with pytest.raises(RuntimeError, match=re.escape(issue.words[0])):
        runner.invoke()


@pytest.mark.parametrize("op_type", ["MaxPool", "AveragePool"])
def test_openvino_ceil_mode_still_keeps_the_window_in_the_padding(op_type):  # AveragePool: the right answer
    """Pins openvino-ceil-mode-window-in-padding with OpenVINO and onnx alone: a 2×2 input, kernel 3, stride 3,
    pads 1, ceil_mode 1.  The spec's size is ⌈(2 + 2 − 3)/3⌉ + 1 = 2, minus the window starting at 3 ≥ 2 + 1
    (in the right padding): 1.  Fails the day OpenVINO gives 1×1: narrow the record's last_seen."""
    ov = pytest.importorskip("openvino", reason="the openvino column needs openvino")
    from onnx import TensorProto, helper

    issue = known_issues.BY_ID["openvino-ceil-mode-window-in-padding"]
    version = ov.__version__.split("-")[0]
    if not issue.affects(version):
        pytest.skip(f"openvino {version} is outside {issue.id}'s range (≤ {issue.last_seen})")
    node = helper.make_node(op_type, ["x"], ["y"], kernel_shape=[3, 3], strides=[3, 3], pads=[1, 1, 1, 1],
                            ceil_mode=1)
    graph = helper.make_graph([node], "ceil", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    core = ov.Core()
    compiled = core.compile_model(core.read_model(model.SerializeToString(), b""), "CPU")
    out = compiled([np.ones((1, 1, 2, 2), np.float32)])[compiled.outputs[0]]
    if op_type == "AveragePool":  # the same plugin drops the window here: the defect is MaxPool's
        assert out.shape == (1, 1, 1, 1), f"OpenVINO's AveragePool now pools to {out.shape}, like its MaxPool"
    else:
        assert out.shape == (1, 1, 2, 2), f"{issue.id}: OpenVINO now pools to {out.shape} (the spec: (1, 1, 1, 1))"


def test_onnx_reference_ceil_mode_average_pool_still_shifts():
    """Pins onnx-reference-avg-pool-ceil-overhang with onnx alone: x = 1 2 3 4, AveragePool kernel 3, stride 3,
    ceil_mode 1.  The windows are [1 2 3] and [4] (the overhang is no input): [2, 4].  Fails the day the
    reference gives that: narrow the record's last_seen."""
    onnx = pytest.importorskip("onnx", reason="the onnx column needs onnx")
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    issue = known_issues.BY_ID["onnx-reference-avg-pool-ceil-overhang"]
    if not issue.affects(onnx.__version__):
        pytest.skip(f"onnx {onnx.__version__} is outside {issue.id}'s range (≤ {issue.last_seen})")
    node = helper.make_node("AveragePool", ["X"], ["Y"], kernel_shape=[3], strides=[3], ceil_mode=1)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
    got = ReferenceEvaluator(model).run(None, {"X": np.array([[[1., 2., 3., 4.]]], np.float32)})[0].ravel().tolist()
    seen = {"1.16.2": [1.5, 3.5]}.get(onnx.__version__, [1.5, 3.0])  # the shift differs by release
    assert got == seen, f"{issue.id}: the reference now gives {got}, not {seen} (the spec: [2.0, 4.0])"


def test_ort_ceil_mode_still_keeps_the_window_in_the_padding():
    """Pins ort-ceil-mode-window-in-padding with ONNX Runtime and onnx alone: x = 1 2 3 4 5, kernel 2, stride 2,
    pads 1, ceil_mode 1.  The spec's output is [1, 3, 5] (MaxPool) and [1, 2.5, 4.5] (AveragePool, padding not
    counted); the last window would start in the right padding.  Fails the day ORT drops it: narrow the record."""
    ort = pytest.importorskip("onnxruntime", reason="the onnxruntime column needs onnxruntime")
    from onnx import TensorProto, helper

    issue = known_issues.BY_ID["ort-ceil-mode-window-in-padding"]
    x = np.arange(1, 6, dtype=np.float32).reshape(1, 1, 5)
    got = {}
    for op in ("MaxPool", "AveragePool"):
        node = helper.make_node(op, ["X"], ["Y"], kernel_shape=[2], strides=[2], pads=[1, 1], ceil_mode=1)
        graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, 5])],
                                  [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
        model.ir_version = 9  # ONNX Runtime 1.18 reads IR ≤ 9
        options = ort.SessionOptions()
        options.log_severity_level = 4  # its shape-mismatch warning is the symptom, not news
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        got[op] = session.run(None, {"X": x})[0].ravel().tolist()
    spec = {"MaxPool": [1.0, 3.0, 5.0], "AveragePool": [1.0, 2.5, 4.5]}
    if issue.affects(ort.__version__):
        assert got["MaxPool"][:3] == spec["MaxPool"] and len(got["MaxPool"]) == 4, \
            f"{issue.id}: onnxruntime {ort.__version__} now gives {got}: narrow the record's last_seen"
        assert got["AveragePool"] == spec["AveragePool"] + [0.0], got
    else:
        assert got == spec, f"onnxruntime {ort.__version__} keeps the window in the padding: widen {issue.id}"


def test_ort_still_refuses_output_padding_at_the_stride():
    """Pins ort-output-padding-below-stride with ONNX Runtime and onnx alone: ConvTranspose of a 1-pixel input,
    kernel 1, stride 1, dilation 2, output_padding 1 (PyTorch computes it: 2 outputs).  Fails the day ORT
    runs it: narrow the record's last_seen."""
    ort = pytest.importorskip("onnxruntime", reason="the onnxruntime column needs onnxruntime")
    from onnx import TensorProto, helper

    issue = known_issues.BY_ID["ort-output-padding-below-stride"]
    if not issue.affects(ort.__version__):
        pytest.skip(f"onnxruntime {ort.__version__} is outside {issue.id}'s range ({issue.first_seen}–{issue.last_seen})")
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[1], dilations=[2], output_padding=[1])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1]),
                                            helper.make_tensor_value_info("w", TensorProto.FLOAT, [1, 1, 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    options = ort.SessionOptions()
    options.log_severity_level = 4
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match=re.escape(issue.words[0])):
        session.run(None, {"x": np.ones((1, 1, 1), np.float32), "w": np.ones((1, 1, 1), np.float32)})


def test_litert_grouped_3d_transpose_conv_still_fails_to_prepare():
    """Pins the 3-D half of litert-no-grouped-transpose-conv: a grouped Conv3DBackpropInputV2 (2 input channels,
    filter of 1) converts, then fails to prepare.  Fails the day LiteRT prepares it."""
    pytest.importorskip("ai_edge_litert", reason="the litert column needs ai-edge-litert")
    tf = pytest.importorskip("tensorflow")
    from ai_edge_litert.interpreter import Interpreter

    issue = known_issues.BY_ID["litert-no-grouped-transpose-conv"]
    if not issue.affects(tf.__version__):
        pytest.skip(f"tensorflow {tf.__version__} is outside {issue.id}'s range (≤ {issue.last_seen})")

    def grouped(x, w):  # NDHWC (1, 1, 1, 1, 2) input, a (1, 1, 1, 1, 2) filter: one input channel per group
        return tf.raw_ops.Conv3DBackpropInputV2(input_sizes=[1, 1, 1, 1, 2], filter=w, out_backprop=x,
                                                strides=[1, 1, 1, 1, 1], padding="VALID")
    function = tf.function(grouped, input_signature=[tf.TensorSpec((1, 1, 1, 1, 2), tf.float32),
                                                     tf.TensorSpec((1, 1, 1, 1, 2), tf.float32)], autograph=False)
    flatbuffer = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()],
                                                                 function).convert()
    with pytest.raises(RuntimeError, match=re.escape(issue.words[1])):
        Interpreter(model_content=flatbuffer).allocate_tensors()


def test_the_exporter_still_needs_an_onnxscript_onnx_1_16_lacks():
    """Pins onnx-exporter-needs-onnx-1.17 where the installed onnx is in its range (tox env onnx-oldest): exporting
    a torch.nn.Linear for the ONNX columns is n/a with the exporter's missing onnxscript module named.  Fails the
    day an onnxscript that torch's exporter can use installs beside that onnx: narrow the record."""
    onnx = pytest.importorskip("onnx", reason="the ONNX columns need onnx")
    pytest.importorskip("onnxruntime", reason="the onnxruntime column needs onnxruntime")
    pytest.importorskip("torch", reason="the ONNX columns' layers are exported torch.nn layers")
    issue = known_issues.BY_ID["onnx-exporter-needs-onnx-1.17"]
    if not issue.affects(onnx.__version__):
        pytest.skip(f"onnx {onnx.__version__} is outside {issue.id}'s range (≤ {issue.last_seen})")
    import torch

    from equivcheck.backends.onnx.export import has_dynamo_exporter
    if not has_dynamo_exporter(torch):
        pytest.skip(f"torch {torch.__version__} has no dynamo exporter (torch ≥ 2.5), so {issue.id} cannot show: "
                    "the layers are n/a for that reason first (tox env oldest)")
    from equivcheck.backends.base import NotApplicable
    from equivcheck.backends.onnx.adapter import OnnxRuntimeBackend

    with pytest.raises(NotApplicable, match=r"cannot run with the installed onnxscript \S+ \(no module onnxscript"):
        OnnxRuntimeBackend(dtype="float32").layer("dense", in_channels=1, out_channels=1)


def test_onnx_116_reference_ceil_mode_average_pool_still_keeps_the_window():
    """Pins onnx-reference-avg-pool-ceil-window-in-padding with onnx alone: x = 1 2 3 4 5, AveragePool kernel 2,
    stride 2, pads 1, ceil_mode 1: the spec's [1, 2.5, 4.5]; inside the record's range the reference adds a NaN
    window.  Fails the day it does not: narrow the record."""
    onnx = pytest.importorskip("onnx", reason="the onnx column needs onnx")
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    issue = known_issues.BY_ID["onnx-reference-avg-pool-ceil-window-in-padding"]
    node = helper.make_node("AveragePool", ["X"], ["Y"], kernel_shape=[2], strides=[2], pads=[1, 1], ceil_mode=1)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, 5])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the empty window's mean is the symptom
        got = ReferenceEvaluator(model).run(None, {"X": np.arange(1, 6, dtype=np.float32).reshape(1, 1, 5)})[0]
    got = got.ravel().tolist()
    if issue.affects(onnx.__version__):
        assert got[:3] == [1.0, 2.5, 4.5] and len(got) == 4 and np.isnan(got[3]), \
            f"{issue.id}: onnx {onnx.__version__} now gives {got}: narrow the record's last_seen"
    else:
        assert got == [1.0, 2.5, 4.5], f"onnx {onnx.__version__} keeps the window in the padding: widen {issue.id}"


def test_ort_still_refuses_dilated_same_auto_pad():
    """Pins ort-no-dilated-auto-pad-same with ONNX Runtime and onnx alone: Conv of x (1, 1, 5), w (1, 1, 2),
    dilations 2, auto_pad SAME_UPPER (the spec: 5 outputs).  Fails the day ORT runs it: narrow the record."""
    ort = pytest.importorskip("onnxruntime", reason="the onnxruntime column needs onnxruntime")
    from onnx import TensorProto, helper

    issue = known_issues.BY_ID["ort-no-dilated-auto-pad-same"]
    if not issue.affects(ort.__version__):
        pytest.skip(f"onnxruntime {ort.__version__} is outside {issue.id}'s range (≤ {issue.last_seen})")
    node = helper.make_node("Conv", ["x", "w"], ["y"], dilations=[2], auto_pad="SAME_UPPER")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 5]),
                                            helper.make_tensor_value_info("w", TensorProto.FLOAT, [1, 1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9  # ONNX Runtime 1.18 reads IR ≤ 9
    options = ort.SessionOptions()
    options.log_severity_level = 4
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match=re.escape(issue.words[0])):
        session.run(None, {"x": np.ones((1, 1, 5), np.float32), "w": np.ones((1, 1, 2), np.float32)})


_ORT_CONV_ONE_AXIS_SHORT = """
import numpy as np, onnxruntime as ort
from onnx import TensorProto, helper
node = helper.make_node("Conv", ["x", "w"], ["y"])
graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 7, 9]),
                                        helper.make_tensor_value_info("w", TensorProto.FLOAT, [5, 3, 2, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
model.ir_version = 9
options = ort.SessionOptions()
options.log_severity_level = 4
try:
    ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    print("built")
except Exception as exc:
    print("rejected:", exc)
"""


def test_ort_118_still_aborts_on_a_conv_one_axis_short():
    """Pins ort-conv-rank-mismatch-abort in a subprocess with ONNX Runtime and onnx alone: a session for Conv of X
    (3, 7, 9) with W (5, 3, 2, 4).  Inside the record's range the process dies of SIGABRT; outside it the session
    is rejected with a shape-inference error.  Fails the day that changes: narrow or widen the record."""
    ort = pytest.importorskip("onnxruntime", reason="the onnxruntime column needs onnxruntime")
    issue = known_issues.BY_ID["ort-conv-rank-mismatch-abort"]
    done = subprocess.run([sys.executable, "-c", _ORT_CONV_ONE_AXIS_SHORT], capture_output=True, text=True,
                          timeout=120)
    if issue.affects(ort.__version__):
        assert done.returncode < 0 or done.returncode == 134, \
            f"{issue.id}: onnxruntime {ort.__version__} no longer aborts ({done.stdout.strip()}): narrow the record"
    else:
        assert done.returncode == 0 and done.stdout.startswith("rejected:"), \
            f"onnxruntime {ort.__version__}: {done.returncode} {done.stdout} {done.stderr[-300:]} (widen {issue.id}?)"


def test_onnx_reference_still_fails_output_padding_beyond_the_stride():
    """Pins onnx-reference-output-padding-beyond-stride with onnx alone: ConvTranspose of X (1, 1, 1), W (1, 1, 2),
    dilations 2, output_padding 1 (PyTorch: [1, 0, 1, 0]).  Fails the day the reference runs it: narrow the record."""
    onnx = pytest.importorskip("onnx", reason="the onnx column needs onnx")
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    issue = known_issues.BY_ID["onnx-reference-output-padding-beyond-stride"]
    if not issue.affects(onnx.__version__):
        pytest.skip(f"onnx {onnx.__version__} is outside {issue.id}'s range (≤ {issue.last_seen})")
    node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], dilations=[2], output_padding=[1])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, None),
                                            helper.make_tensor_value_info("W", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
    with pytest.raises(ValueError, match=issue.words[0]):
        ReferenceEvaluator(model).run(None, {"X": np.ones((1, 1, 1), np.float32), "W": np.ones((1, 1, 2), np.float32)})
