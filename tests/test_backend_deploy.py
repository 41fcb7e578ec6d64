"""The deployment-runtime adapters, OpenVINO and LiteRT, against the NumPy float64 oracle.

Values are compared with the derived bound of :mod:`equivcheck.tolerance` (float32: neither runtime has
float64 kernels, which must be NotApplicable with the sentence); rearrangements must be exact.  Both
compile per program signature: the caches are checked to serve a second identical call.
"""
import numpy as np
import pytest

from equivcheck import op_bounds, oracle
from equivcheck.backends.base import BackendUnavailable, NotApplicable
from equivcheck.tolerance import compare

from _conv_cases import CONV_TRANSPOSE_CASES

ENGINES = {"openvino": ("openvino", "onnx"), "litert": ("ai_edge_litert", "tensorflow")}
_BACKENDS = {}


def make(engine, dtype="float32"):
    for module in ENGINES[engine]:
        pytest.importorskip(module, reason=f"the {engine} column needs {module}")
    key = (engine, dtype)
    if key not in _BACKENDS:
        from equivcheck import backends
        _BACKENDS[key] = backends.load(engine, dtype=dtype, device="cpu")
    return _BACKENDS[key]


@pytest.fixture(params=list(ENGINES))
def backend(request):
    return make(request.param)


def data(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, shape).astype(np.float32).astype(np.float64) for shape in shapes]


def assert_matches(backend, got, op, *args, **kwargs):
    """``got`` equals ``op(*args, **kwargs)`` within the bound derived from the op (:mod:`equivcheck.op_bounds`)."""
    __tracebackhide__ = True
    result = compare(backend.to_numpy(got), op(*args, **kwargs), magnitude=op_bounds.magnitude(op, *args, **kwargs),
                     terms=op_bounds.terms(op, *args, **kwargs), dtype="float32", sides=1)
    assert result.ok, (f"{backend.framework_name}: max |err| {result.max_abs_err:.3g} at {result.where} exceeds "
                       f"the bound {result.bound:.3g} ({result.reason or 'ratio %.3g' % result.ratio})")


def run(backend, method, *arrays, **kwargs):
    return getattr(backend, method)(*(backend.asarray(a) if isinstance(a, np.ndarray) else a for a in arrays),
                                    **kwargs)


@pytest.mark.parametrize("padding", [0, 1, ((1, 0), (0, 2)), "valid", "same"])
@pytest.mark.parametrize("stride", [1, 2])
def test_conv2d_matches_oracle(backend, padding, stride):
    x, w, b = data(1, (2, 3, 6, 7), (4, 3, 3, 2), (4,))
    got = run(backend, "conv", x, w, b, stride=stride, padding=padding)
    assert_matches(backend, got, oracle.conv, x, w, b, stride=stride, padding=padding)


@pytest.mark.parametrize("xs, ws, kw", CONV_TRANSPOSE_CASES, ids=range(len(CONV_TRANSPOSE_CASES)))
def test_conv_transpose_matches_oracle_or_says_why_not(backend, xs, ws, kw):
    x, w = data(2, xs, ws)
    try:
        got = run(backend, "conv_transpose", x, w, **kw)
    except NotApplicable as exc:  # LiteRT: what the converter cannot express as builtins, or a recorded gap
        assert backend.framework_name == "litert", exc
        assert "LiteRT's builtin ops have no" in str(exc) or (
            kw.get("groups", 1) > 1 and "litert-no-grouped-transpose-conv" in str(exc)), exc
        return
    assert_matches(backend, got, oracle.conv_transpose, x, w, **kw)


def test_shuffles_and_array_ops_are_exact(backend):
    (x,) = data(3, (1, 8, 2, 3))
    assert np.array_equal(backend.to_numpy(run(backend, "depth_to_space", x, 2)), oracle.depth_to_space(x, 2))
    assert np.array_equal(backend.to_numpy(run(backend, "pixel_shuffle", x, 2)), oracle.pixel_shuffle(x, 2))
    assert np.array_equal(backend.to_numpy(run(backend, "reshape", x, (1, -1))), x.reshape(1, -1))
    assert np.array_equal(backend.to_numpy(run(backend, "transpose", x, (0, 2, 3, 1))), x.transpose(0, 2, 3, 1))


def test_identical_programs_are_compiled_once(backend):
    x, w = data(4, (1, 2, 5, 5), (3, 2, 3, 3))
    cache = backend.graphs if backend.framework_name == "openvino" else backend._programs
    run(backend, "conv", x, w, padding=1)
    size = len(cache)
    run(backend, "conv", *data(5, (1, 2, 5, 5), (3, 2, 3, 3)), padding=1)
    assert len(cache) == size
    run(backend, "conv", x, w, padding=0)
    assert len(cache) == size + 1


def test_no_autodiff(backend):
    with pytest.raises(NotApplicable, match="automatic differentiation|autodiff"):
        backend.vjp(lambda a: a, [backend.asarray(np.ones(2))], backend.asarray(np.ones(2)))


@pytest.mark.parametrize("engine, words", [("openvino", "OpenVINO's CPU plugin has no float64 kernels"),
                                           ("litert", "LiteRT's builtin kernels have no float64")])
def test_there_is_no_float64_column_and_the_reason_says_why(engine, words):
    make(engine)  # installed (else skipped, with the reason)
    from equivcheck import backends
    with pytest.raises(BackendUnavailable, match=words):
        backends.load(engine, dtype="float64", device="cpu")


def test_openvino_pins_f32_and_records_the_default():
    backend = make("openvino")
    settings = backend.numeric_settings()
    assert settings["inference_precision"] == "f32"
    assert settings["default_inference_precision"] in ("f32", "bf16", "f16")


def test_openvino_at_its_default_precision_is_judged_in_it(monkeypatch):
    """EQUIVCHECK_OPENVINO_PRECISION=default compiles without the f32 pin and judges in the plugin's own
    precision; any other value is a one-line error naming the variable."""
    make("openvino")  # installed (else skipped, with the reason)
    from equivcheck.backends.openvino.adapter import HINTS, OpenvinoBackend
    monkeypatch.setenv("EQUIVCHECK_OPENVINO_PRECISION", "default")
    backend = OpenvinoBackend(dtype="float32")  # a new adapter (backends.load caches one per process)
    hint = backend.default_precision()
    assert backend.config == {} and backend.compute_dtype == HINTS[hint]
    assert backend.precision == f"default ({hint})"
    assert backend.numeric_settings()["inference_precision"] == f"the plugin's default ({hint})"
    (x, w) = data(9, (1, 2, 5, 5), (3, 2, 3, 3))
    result = compare(backend.to_numpy(backend.conv(backend.asarray(x), backend.asarray(w))), oracle.conv(x, w),
                     magnitude=op_bounds.magnitude(oracle.conv, x, w), terms=op_bounds.terms(oracle.conv, x, w),
                     dtype=backend.compute_dtype, sides=1)
    assert result.ok, result  # within the bound of the precision it computes in
    monkeypatch.setenv("EQUIVCHECK_OPENVINO_PRECISION", "bf16")
    with pytest.raises(ValueError, match="EQUIVCHECK_OPENVINO_PRECISION='bf16': use 'f32'"):
        OpenvinoBackend(dtype="float32")
    monkeypatch.delenv("EQUIVCHECK_OPENVINO_PRECISION")
    assert OpenvinoBackend(dtype="float32").precision == ""


def test_litert_missing_builtin_is_named():
    backend = make("litert")
    (x,) = data(7, (1, 2, 4, 4))
    with pytest.raises(NotApplicable, match="MaxPoolWithArgmax"):
        run(backend, "max_pool", x, 2, return_indices=True)


@pytest.mark.parametrize("engine", list(ENGINES))
def test_conv_layer_runs_through_the_export_path(engine):
    backend = make(engine)
    x, w, b = data(8, (1, 2, 5, 6), (3, 2, 3, 3), (3,))
    handle = backend.layer("conv", rank=2, in_channels=2, out_channels=3, kernel_size=3, padding="valid",
                           input_shape=x.shape)
    handle.set_weights(w, b)
    assert_matches(backend, handle(backend.asarray(x)), oracle.conv, x, w, b)
    assert handle.param_count == w.size + b.size
