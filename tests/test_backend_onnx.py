"""The ONNX adapters (ONNX Runtime and the ONNX reference) against the NumPy float64 oracle.

Every comparison uses the derived bound of :mod:`equivcheck.tolerance` against the oracle (``sides=1``);
rearrangements (shuffles, pooling values and indices, reshape/transpose) must be exact.  ONNX Runtime's CPU
provider has no float64 kernel for the convolution family: there those ops must be NotApplicable with the
reason, and the pinning test reproduces the gap on plain ONNX Runtime.
"""
import math

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the ONNX columns need the onnx package")

from equivcheck import layouts, oracle  # noqa: E402
from equivcheck.backends.base import NotApplicable  # noqa: E402
from equivcheck.known_issues import KnownIssueSkip  # noqa: E402
from equivcheck import known_issues  # noqa: E402
from equivcheck.backends.onnx import graphs  # noqa: E402
from equivcheck.backends.onnx.adapter import OnnxReferenceBackend, OnnxRuntimeBackend  # noqa: E402
from equivcheck.tolerance import compare, conv_terms  # noqa: E402

ENGINES = {"onnxruntime": OnnxRuntimeBackend, "onnx": OnnxReferenceBackend}
_BACKENDS = {}


def make(engine, dtype):
    if engine == "onnxruntime":
        pytest.importorskip("onnxruntime", reason="the onnxruntime column needs onnxruntime")
    key = (engine, dtype)
    if key not in _BACKENDS:
        _BACKENDS[key] = ENGINES[engine](dtype=dtype)
    return _BACKENDS[key]


@pytest.fixture(params=[(e, d) for e in ENGINES for d in ("float32", "float64")], ids=lambda p: f"{p[0]}-{p[1]}")
def backend(request):
    return make(*request.param)


def lacks_float64(backend, op):
    """Whether ``op`` is one ONNX Runtime's CPU provider has no float64 kernel for (so n/a here)."""
    return backend.framework_name == "onnxruntime" and backend.dtype == "float64" and op in known_issues.ORT_NO_FLOAT64


def data(seed, *shapes, dtype="float64"):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, shape).astype(dtype).astype(np.float64) for shape in shapes]


def assert_close(backend, got, want, magnitude, terms):
    __tracebackhide__ = True
    result = compare(backend.to_numpy(got), want, magnitude=magnitude, terms=terms, dtype=backend.dtype, sides=1)
    assert result.ok, (f"{backend.framework_name} {backend.dtype}: max |err| {result.max_abs_err:.3g} at {result.where} "
                       f"exceeds the bound {result.bound:.3g} ({result.reason or 'ratio %.3g' % result.ratio})")


#: Records of older versions (the oldest tox env) whose guard makes an example n/a; pinned in test_known_issues.py.
OLDER_VERSION_RECORDS = ("onnx-reference-conv-auto-pad", "ort-float64-fused-matmul")


def call(backend, method, *arrays, **kwargs):
    try:
        return getattr(backend, method)(*(backend.asarray(a) if isinstance(a, np.ndarray) else a for a in arrays),
                                        **kwargs)
    except KnownIssueSkip as exc:
        if any(record in str(exc) for record in OLDER_VERSION_RECORDS):
            pytest.skip(str(exc))
        raise


CONV_CASES = [  # (x shape, w shape, kwargs)
    ((2, 3, 9), (4, 3, 3), {}),
    ((2, 4, 10), (6, 2, 3), dict(stride=2, dilation=2, groups=2, padding=1)),
    ((1, 3, 8, 7), (5, 3, 3, 2), dict(stride=(2, 1), padding=((0, 1), (2, 1)))),
    ((2, 4, 9, 9), (4, 1, 3, 3), dict(groups=4, dilation=(1, 2), padding=(1, 2))),
    ((1, 2, 7, 6), (3, 2, 3, 3), dict(padding="valid")),
    ((1, 2, 8, 7), (3, 2, 3, 3), dict(padding="same", stride=2)),
    ((1, 2, 5, 6, 7), (3, 2, 2, 3, 3), dict(stride=(1, 2, 2), padding=1)),
]




@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV_CASES)
def test_conv_matches_oracle(backend, x_shape, w_shape, kwargs):
    x, w, b = data(0, x_shape, w_shape, (w_shape[0],), dtype=backend.dtype)
    if lacks_float64(backend, "Conv"):
        with pytest.raises(NotApplicable, match=r"no float64 .* Conv\(\d+\)"):
            call(backend, "conv", x, w, b, **kwargs)
        return
    got = call(backend, "conv", x, w, b, **kwargs)
    want = oracle.conv(x, w, b, **kwargs)
    magnitude = oracle.magnitude(oracle.conv, x, w, b, **kwargs)
    assert_close(backend, got, want, magnitude, conv_terms(w_shape, bias=True))


def test_conv_same_puts_the_odd_pixel_last(backend):
    if lacks_float64(backend, "Conv"):
        pytest.skip("no float64 Conv in ONNX Runtime's CPU provider")
    x, w = data(1, (1, 1, 4), (1, 1, 3), dtype=backend.dtype)
    got = backend.to_numpy(call(backend, "conv", x, w, stride=2, padding="same"))
    want = dict(x=x, w=w, stride=2, padding=((0, 1),))
    assert_close(backend, got, oracle.conv(**want), oracle.magnitude(oracle.conv, **want), conv_terms(w.shape))
    other = dict(want, padding=((1, 0),))
    assert not compare(got, oracle.conv(**other), magnitude=oracle.magnitude(oracle.conv, **other),
                       terms=conv_terms(w.shape), dtype=backend.dtype, sides=1).ok


def test_conv_unbatched_input_is_onnx_own_error(backend):
    x, w = data(2, (3, 8, 8), (4, 3, 3, 3))
    if lacks_float64(backend, "Conv"):
        pytest.skip("no float64 Conv in ONNX Runtime's CPU provider")
    with pytest.raises(Exception, match="(?i)num_dims|shape") as caught:
        call(backend, "conv", x, w)
    assert not isinstance(caught.value, NotApplicable)


def test_conv_reads_layout_table_at_call_time(backend, monkeypatch):
    if lacks_float64(backend, "Conv"):
        pytest.skip("no float64 Conv in ONNX Runtime's CPU provider")
    x, w = data(4, (1, 3, 6, 6), (3, 3, 3, 3))  # O == I: a swapped layout still runs
    right = backend.to_numpy(call(backend, "conv", x, w))
    monkeypatch.setitem(layouts.KERNEL_LAYOUTS, (backend.framework_name, "ops", "conv"), "IO*")
    wrong = backend.to_numpy(call(backend, "conv", x, w))
    assert np.abs(wrong - right).max() > 1e-2


from _conv_cases import CONV_TRANSPOSE_CASES as CONV_T_CASES  # noqa: E402


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV_T_CASES)
def test_conv_transpose_matches_oracle(backend, x_shape, w_shape, kwargs):
    groups = kwargs.get("groups", 1)
    x, w, b = data(5, x_shape, w_shape, (w_shape[1] * groups,), dtype=backend.dtype)
    if lacks_float64(backend, "ConvTranspose"):
        with pytest.raises(NotApplicable, match=r"ConvTranspose"):
            call(backend, "conv_transpose", x, w, b, **kwargs)
        return
    if backend.framework_name == "onnx" and groups > 1:
        with pytest.raises(KnownIssueSkip, match="onnx-reference-grouped-conv-transpose"):
            call(backend, "conv_transpose", x, w, b, **kwargs)
        return
    got = call(backend, "conv_transpose", x, w, b, **kwargs)
    want = oracle.conv_transpose(x, w, b, **kwargs)
    magnitude = oracle.magnitude(oracle.conv_transpose, x, w, b, **kwargs)
    assert_close(backend, got, want, magnitude, w_shape[0] // groups * math.prod(w_shape[2:]) + 1)


@pytest.mark.parametrize("x_shape", [(3, 7), (3, 5, 7), (7,)])
def test_linear_matches_oracle(backend, x_shape):
    x, w, b = data(6, x_shape, (4, 7), (4,), dtype=backend.dtype)
    got = call(backend, "linear", x, w, b)
    assert_close(backend, got, oracle.linear(x, w, b), oracle.magnitude(oracle.linear, x, w, b), 8)


def test_linear_on_a_matrix_is_gemm_with_transposed_b():
    model = graphs.build(graphs.Signature.of("linear", [(3, 7), (4, 7), (4,)], "float32"))
    assert [(n.op_type, [a.i for a in n.attribute]) for n in model.graph.node] == [("Gemm", [1])]


@pytest.mark.parametrize("method, shape", [("pixel_shuffle", (2, 12, 3, 4)), ("depth_to_space", (2, 12, 3, 4)),
                                           ("pixel_unshuffle", (2, 3, 6, 4)), ("space_to_depth", (2, 3, 6, 4))])
def test_shuffles_are_exact(backend, method, shape):
    (x,) = data(7, shape, dtype=backend.dtype)
    np.testing.assert_array_equal(backend.to_numpy(call(backend, method, x, 2)), getattr(oracle, method)(x, 2))


def test_pixel_shuffle_is_crd_and_depth_to_space_dcr(backend):
    x = np.arange(8.0).reshape(1, 8, 1, 1)
    assert backend.to_numpy(call(backend, "pixel_shuffle", x, 2))[0, 0].tolist() == [[0, 1], [2, 3]]
    assert backend.to_numpy(call(backend, "depth_to_space", x, 2))[0, 0].tolist() == [[0, 2], [4, 6]]


@pytest.mark.parametrize("method", ["pixel_shuffle", "depth_to_space", "pixel_unshuffle", "space_to_depth"])
def test_shuffles_beyond_2d_are_not_applicable_and_unbatched_raise(backend, method):
    with pytest.raises(NotApplicable, match="4-D"):
        call(backend, method, np.zeros((1, 8, 2, 2, 2)), 2)
    with pytest.raises(Exception) as caught:
        call(backend, method, np.zeros((8, 4, 4)), 2)
    assert not isinstance(caught.value, NotApplicable)


POOL_CASES = [
    ((2, 3, 9), 3, None, 1),
    ((1, 2, 7, 8), (2, 3), (2, 2), (1, 1)),
    ((2, 2, 6, 6), 2, None, 0),
    ((1, 1, 5, 6, 7), (2, 3, 2), (1, 2, 2), 0),
]


@pytest.mark.parametrize("shape, kernel, stride, padding", POOL_CASES)
def test_max_pool_values_exact_and_indices_flat_over_the_whole_tensor(backend, shape, kernel, stride, padding):
    (x,) = data(9, shape, dtype=backend.dtype)
    values, indices = call(backend, "max_pool", x, kernel, stride, padding, return_indices=True)
    want_values, per_plane = oracle.max_pool(x, kernel, stride, padding, return_indices=True)
    np.testing.assert_array_equal(backend.to_numpy(values), want_values)
    plane = math.prod(shape[2:])
    offset = (np.arange(shape[0])[:, None] * shape[1] + np.arange(shape[1])[None, :]) * plane
    np.testing.assert_array_equal(indices, per_plane + offset.reshape(offset.shape + (1,) * (len(shape) - 2)))


@pytest.mark.parametrize("shape, kernel, stride", [((2, 3, 9), 3, None), ((2, 2, 7, 8), (2, 3), (2, 2)),
                                                   ((1, 1, 4, 6, 5), 2, None)])
def test_max_unpool_restores_the_switches(backend, shape, kernel, stride):
    (x,) = data(10, shape, dtype=backend.dtype)
    values, indices = call(backend, "max_pool", x, kernel, stride, return_indices=True)
    want_values, per_plane = oracle.max_pool(x, kernel, stride, return_indices=True)
    if lacks_float64(backend, "MaxUnpool"):
        with pytest.raises(NotApplicable, match="MaxUnpool"):
            backend.max_unpool(values, indices, kernel, stride, output_size=shape[2:])
        return
    k = [kernel] * (len(shape) - 2) if isinstance(kernel, int) else list(kernel)
    default = [(n - 1) * s + kk for n, s, kk in zip(values.shape[2:], stride or k, k)]
    if backend.framework_name == "onnx" and default != list(shape[2:]):
        with pytest.raises(KnownIssueSkip, match="onnx-reference-max-unpool-output-shape"):
            backend.max_unpool(values, indices, kernel, stride, output_size=shape[2:])
        return
    restored = backend.max_unpool(values, indices, kernel, stride, output_size=shape[2:])
    np.testing.assert_array_equal(backend.to_numpy(restored), oracle.max_unpool(want_values, per_plane, shape[2:]))


@pytest.mark.parametrize("shape, kernel, stride, padding", POOL_CASES + [((1, 2, 6, 5), 2, 1, ((1, 0), (0, 1)))])
def test_avg_pool_counts_the_padding_like_the_oracle(backend, shape, kernel, stride, padding):
    (x,) = data(11, shape, dtype=backend.dtype)
    if lacks_float64(backend, "AveragePool"):
        with pytest.raises(NotApplicable, match="AveragePool"):
            call(backend, "avg_pool", x, kernel, stride, padding)
        return
    n_terms = math.prod(kernel) if isinstance(kernel, tuple) else kernel ** (len(shape) - 2)
    assert_close(backend, call(backend, "avg_pool", x, kernel, stride, padding), oracle.avg_pool(x, kernel, stride, padding),
                 oracle.avg_pool(np.abs(x), kernel, stride, padding), n_terms)


def test_array_ops_are_exact(backend):
    (x,) = data(12, (2, 3, 4, 5), dtype=backend.dtype)
    X = backend.asarray(x)
    np.testing.assert_array_equal(backend.reshape(X, (2, -1)), x.reshape(2, -1))
    np.testing.assert_array_equal(backend.transpose(X, (0, 2, 3, 1)), x.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(backend.concat([X, X[:, :1]], 1), np.concatenate([x, x[:, :1]], 1))
    np.testing.assert_array_equal(backend.expand_dims(X, 1), x[:, None])
    assert backend.to_native(X) is X and backend.from_native(X) is X  # ONNX's layout is the canonical one


@pytest.mark.parametrize("mode, numpy_mode", [("constant", "constant"), ("reflect", "reflect"), ("edge", "edge"),
                                              ("wrap", "wrap")])
def test_pad_graph_modes(backend, mode, numpy_mode):
    (x,) = data(13, (1, 2, 4, 5), dtype=backend.dtype)
    got = backend._run("Pad", [x], const_pads=(0, 0, 1, 2, 0, 0, 2, 1), mode=mode)
    np.testing.assert_array_equal(got, np.pad(x, ((0, 0), (0, 0), (1, 2), (2, 1)), mode=numpy_mode))


def test_batch_normalization_graph(backend):
    x, scale, bias, mean, var = data(14, (2, 3, 4, 4), (3,), (3,), (3,), (3,), dtype=backend.dtype)
    var = np.abs(var) + 0.5
    got = backend._run("BatchNormalization", [x, scale, bias, mean, var], epsilon=1e-5)
    column, epsilon = (1, 3, 1, 1), float(np.float32(1e-5))  # ONNX float attributes are float32
    want = (x - mean.reshape(column)) / np.sqrt(var.reshape(column) + epsilon) * scale.reshape(column) + bias.reshape(column)
    np.testing.assert_allclose(got, want, rtol=0, atol=50 * np.finfo(backend.dtype).eps * np.abs(want).max())


def test_sessions_are_cached_per_signature(backend):
    x, w = data(15, (1, 2, 5, 5), (3, 2, 3, 3))
    sig = graphs.Signature.of("Conv", [x.shape, w.shape], backend.dtype, kernel_shape=(3, 3), pads=(1, 1, 1, 1))
    if lacks_float64(backend, "Conv"):
        sig = graphs.Signature.of("Relu", [x.shape], backend.dtype)
    assert backend.graphs.get(sig) is backend.graphs.get(sig)
    other = graphs.Signature.of(sig.kind, [(2,) + x.shape[1:]] + list(sig.shapes[1:]), backend.dtype, **dict(sig.attrs))
    assert backend.graphs.get(other) is not backend.graphs.get(sig)
    before = len(backend.graphs)
    for _ in range(3):
        call(backend, "reshape", x, (1, -1))
    assert len(backend.graphs) == before + 1


def test_what_onnx_lacks_is_not_applicable(backend):
    x = backend.asarray(np.zeros((1, 2, 4, 4)))
    with pytest.raises(NotApplicable, match="automatic differentiation"):
        backend.vjp(lambda a: a, [x], x)
    with pytest.raises(NotApplicable, match="Im2Col"):
        backend.extract_patches(x, 2)


# ---- layers: torch.nn exported with torch.onnx.export -----------------------------------------------
@pytest.fixture(scope="module")
def exported_engine():
    pytest.importorskip("torch", reason="the ONNX columns' layers are torch.nn layers exported with torch.onnx.export")
    pytest.importorskip("onnxscript", reason="torch.onnx.export (dynamo) needs onnxscript")
    bk = make("onnxruntime", "float32")
    try:
        bk.layer("dense", in_channels=1, out_channels=1)
    except NotApplicable as exc:  # torch's exporter cannot run with these onnx/onnxscript versions
        pytest.skip(str(exc))
    return bk


def test_conv_layer_through_the_exporter(exported_engine):
    bk = exported_engine
    layer = bk.layer("conv", rank=2, in_channels=4, out_channels=6, kernel_size=(3, 2), stride=(2, 1), padding=1,
                     groups=2, input_shape=(1, 4, 7, 6))
    assert layer.kernel_shape == (6, 2, 3, 2) and layer.kernel_layout == "OIHW"
    assert layer.param_count == 6 * 2 * 3 * 2 + 6
    assert [op for op, _ in layer.extra["exported_ops"]] == ["Conv"]
    x, w, b = data(16, (2, 4, 9, 6), (6, 2, 3, 2), (6,), dtype="float32")  # another batch and size: dynamic axes
    layer.set_weights(w, b)
    kwargs = dict(stride=(2, 1), padding=1, groups=2)
    assert_close(bk, layer(bk.asarray(x)), oracle.conv(x, w, b, **kwargs),
                 oracle.magnitude(oracle.conv, x, w, b, **kwargs), conv_terms(w.shape, bias=True))
    with pytest.raises(ValueError, match="size mismatch"):
        layer.set_weights(np.zeros((6, 4, 3, 2)), b)


def test_dense_and_flatten_layers_through_the_exporter(exported_engine):
    bk = exported_engine
    dense = bk.layer("dense", in_channels=5, out_channels=3)
    assert dense.kernel_shape == (3, 5) and [op for op, _ in dense.extra["exported_ops"]] == ["Gemm"]
    x, w, b = data(17, (4, 5), (3, 5), (3,), dtype="float32")
    dense.set_weights(w, b)
    assert_close(bk, dense(bk.asarray(x)), oracle.linear(x, w, b), oracle.magnitude(oracle.linear, x, w, b), 6)
    flatten = bk.layer("flatten", rank=2, in_channels=3)
    (maps,) = data(18, (2, 3, 4, 5), dtype="float32")
    np.testing.assert_array_equal(flatten(bk.asarray(maps)), maps.reshape(2, -1))


def test_layers_without_torch_are_not_applicable(monkeypatch):
    import sys

    bk = OnnxReferenceBackend("float32")
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(NotApplicable, match="torch is not installed"):
        bk.layer("conv", in_channels=1, out_channels=1)


# ---- the persistent export cache ---------------------------------------------------------------------
def test_export_key_names_every_input_of_the_export():
    torch = pytest.importorskip("torch", reason="the export cache keys torch.nn modules")
    from equivcheck.backends.onnx.export_cache import export_key

    versions = {"torch": "2.13.0", "onnx": "1.23.2", "onnxscript": "0.7.2"}

    def key(module, shape=(1, 2, 6, 6), static=(1,), v=versions):
        return export_key(torch, module, shape, torch.float32, static, v)

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(2, 3, 3)
    same = torch.nn.Conv2d(2, 3, 3)
    same.load_state_dict(conv.state_dict())
    assert key(conv) == key(same)
    assert key(conv) != key(torch.nn.Conv2d(2, 3, 3, padding_mode="reflect", padding=1))
    with torch.no_grad():
        same.weight[0, 0, 0, 0] += 1
    assert key(conv) != key(same)  # the exporter may fold values (BatchNorm into Conv): they are part of the key
    assert key(conv) != key(conv, shape=(1, 2, 7, 7)) != key(conv, static=(0, 1))
    assert key(conv) != key(conv, v={**versions, "torch": "2.14.0"})
    # return_indices is not in MaxPool2d's repr, but it changes the graph: the key must see it
    assert key(torch.nn.MaxPool2d(2)) != key(torch.nn.MaxPool2d(2, return_indices=True))


def test_export_cache_round_trip_and_an_unreadable_entry_is_a_miss(tmp_path):
    from equivcheck.backends.onnx.export_cache import ExportCache, cache_dir

    assert cache_dir("off") is None and cache_dir(str(tmp_path)) == tmp_path
    model = graphs.build(graphs.Signature.of("Relu", [(2, 3)], "float32"))
    cache = ExportCache(tmp_path)
    assert cache.get("ab" * 32) is None and cache.misses == 1
    cache.put("ab" * 32, model)
    assert cache.get("ab" * 32).SerializeToString() == model.SerializeToString() and cache.hits == 1
    cache._path("cd" * 32).parent.mkdir(parents=True, exist_ok=True)
    cache._path("cd" * 32).write_bytes(b"not a model")
    assert cache.get("cd" * 32) is None
    off = ExportCache(None)
    off.put("ab" * 32, model)
    assert off.get("ab" * 32) is None


def test_an_exported_layer_from_the_cache_computes_what_the_export_did(exported_engine, tmp_path, monkeypatch):
    """The cached model is the export's own bytes: a second adapter over the same cache directory reads it back
    (no export) and computes the same values."""
    from equivcheck.backends.onnx.adapter import OnnxRuntimeBackend

    monkeypatch.setenv("EQUIVCHECK_ONNX_EXPORT_CACHE", str(tmp_path))
    x, w, b = data(30, (1, 2, 5, 5), (3, 2, 3, 3), (3,), dtype="float32")
    outputs, counts = [], []
    for _ in range(2):
        bk = OnnxRuntimeBackend(dtype="float32")
        layer = bk.layer("conv", rank=2, in_channels=2, out_channels=3, kernel_size=3, padding=1)
        layer.set_weights(w, b)
        outputs.append(bk.to_numpy(layer(x)))
        counts.append((bk._exporter.cache.hits, bk._exporter.cache.misses))
    assert counts == [(0, 1), (1, 0)]
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert_close(bk, outputs[1], oracle.conv(x, w, b, padding=1), oracle.magnitude(oracle.conv, x, w, b, padding=1),
                 conv_terms(w.shape))


# ---- the porting-pitfall interface: Pad, pools with ceil_mode / count_include_pad / dilations, BatchNormalization ----
@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad_modes_are_numpy_modes(backend, mode):
    (x,) = data(40, (2, 3, 5, 6), dtype=backend.dtype)
    got = backend.to_numpy(call(backend, "pad", x, [(1, 2), (3, 0)], mode))
    np.testing.assert_array_equal(got, oracle.pad(x, [(1, 2), (3, 0)], mode))


def test_pad_symmetric_is_not_applicable_and_a_bad_mode_is_named(backend):
    x = backend.asarray(np.zeros((1, 1, 4)))
    with pytest.raises(NotApplicable, match="no 'symmetric' mode.*'edge' and 'wrap'"):
        backend.pad(x, [(1, 1)], "symmetric")
    with pytest.raises(ValueError, match="pad mode must be a NumPy pad mode.*'replicate'"):
        backend.pad(x, [(1, 1)], "replicate")
    with pytest.raises(ValueError, match=r"one \(before, after\) pair per spatial axis.*\(1, 1, 4\)"):
        backend.pad(x, [(1, 1), (0, 0)], "constant")


POOL_CASES = [  # (x shape, kernel, stride, padding, keywords)
    ((2, 3, 7, 7), 3, 2, 1, dict(ceil_mode=True)),
    ((1, 2, 8, 9), (2, 3), (2, 2), 0, dict(ceil_mode=True)),
    ((1, 2, 9, 9), 2, 2, 1, dict(dilation=2)),
    ((1, 1, 10), 3, 3, 1, dict(ceil_mode=True, dilation=1)),
]


@pytest.mark.parametrize("x_shape, kernel, stride, padding, kwargs", POOL_CASES)
def test_max_pool_with_ceil_mode_and_dilation_matches_oracle(backend, x_shape, kernel, stride, padding, kwargs):
    (x,) = data(41, x_shape, dtype=backend.dtype)
    got = backend.to_numpy(call(backend, "max_pool", x, kernel, stride, padding, **kwargs))
    np.testing.assert_array_equal(got, oracle.max_pool(x, kernel, stride, padding, **kwargs))


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("x_shape, kernel, stride, padding, kwargs", POOL_CASES)
def test_avg_pool_with_ceil_mode_and_divisor_matches_oracle(backend, x_shape, kernel, stride, padding, kwargs,
                                                            count_include_pad):
    (x,) = data(42, x_shape, dtype=backend.dtype)
    if lacks_float64(backend, "AveragePool"):
        with pytest.raises(NotApplicable, match=r"no float64 .* Conv\(\d+\)"):
            call(backend, "avg_pool", x, kernel, stride, padding, count_include_pad=count_include_pad, **kwargs)
        return
    got = call(backend, "avg_pool", x, kernel, stride, padding, count_include_pad=count_include_pad, **kwargs)
    want = dict(kernel=kernel, stride=stride, padding=padding, count_include_pad=count_include_pad, **kwargs)
    window = int(np.prod(kernel if isinstance(kernel, tuple) else (kernel,) * (len(x_shape) - 2)))
    assert_close(backend, got, oracle.avg_pool(x, **want), oracle.avg_pool(np.abs(x), **want), window)


@pytest.mark.parametrize("eps", [1e-3, 2.0 ** -10])
def test_batch_norm_matches_oracle(backend, eps):
    """BatchNormalization's epsilon is a FLOAT attribute (32-bit in the ONNX format): in float64 an eps float32
    cannot hold is n/a with that sentence (the op would normalise with another eps); one it holds runs."""
    from equivcheck import op_bounds

    x, mean, var, gamma, beta = data(43, (2, 3, 4, 5), (3,), (3,), (3,), (3,), dtype=backend.dtype)
    var = np.abs(var) * 1e-2 + 1e-3
    if backend.dtype == "float64" and float(np.float32(eps)) != eps:
        with pytest.raises(NotApplicable, match="32-bit FLOAT attribute: eps=0.001 is stored as 0.00100000004"):
            call(backend, "batch_norm", x, mean, var, gamma, beta, eps)
        return
    got = call(backend, "batch_norm", x, mean, var, gamma, beta, eps)
    args = (x, mean, var, gamma, beta, eps)
    assert_close(backend, got, oracle.batch_norm(*args), op_bounds.magnitude(oracle.batch_norm, *args),
                 op_bounds.terms(oracle.batch_norm, *args))


def test_the_stored_epsilon_is_the_float32_one():
    """What the check above guards against, on the op itself: with eps=1e-3 a float64 BatchNormalization computes
    with float32(1e-3) (pinned on the reference, which both columns' graphs share)."""
    from onnx.reference import ReferenceEvaluator

    x = np.zeros((1, 1, 1))
    feeds = dict(zip(["x0", "x1", "x2", "x3", "x4"], [x, np.ones(1), np.zeros(1), np.zeros(1), np.zeros(1)]))
    sig = graphs.Signature.of("BatchNormalization", [a.shape for a in feeds.values()], "float64", epsilon=1e-3)
    got = ReferenceEvaluator(graphs.build(sig)).run(None, {**feeds, "x0": np.ones((1, 1, 1))})[0].item()
    assert got == 1 / math.sqrt(float(np.float32(1e-3))) != 1 / math.sqrt(1e-3)
