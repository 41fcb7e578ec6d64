"""The TensorFlow adapter's porting-pitfall interface (pools with 'same', dilation and both divisors, pad
modes, inference batch_norm, FFT, the Keras separable / batch_norm / causal / pool layers), in float32
and float64, and its report probes.

References: the oracle (max_pool, avg_pool, pad, batch_norm, conv) and, for the FFT, a hand-written DFT
of size-2 axes (sums and differences, exact on integers).  Data-movement results (pad, max) must be
bit-identical; sums are compared through :func:`equivcheck.tolerance.compare` with the magnitude and
term count of :mod:`equivcheck.op_bounds` (inputs are rounded to the run dtype first, so only TF's side
rounds: ``sides=1``).
"""
import math

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("keras")

from equivcheck import known_issues, op_bounds, oracle, tolerance  # noqa: E402
from equivcheck.backends import NotApplicable, load  # noqa: E402


@pytest.fixture(scope="module", params=("float32", "float64"))
def backend(request):
    return load("tensorflow", request.param)


def data(seed, *shapes, dtype="float64"):
    """Uniform(-1, 1) arrays; ``dtype`` rounds them first, for comparisons that must be exact."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, shape).astype(dtype).astype(np.float64) for shape in shapes]


def run(backend, method, *arrays, **kwargs):
    """``backend.method`` on NumPy arrays crossed into TF; the result back in NumPy."""
    with backend.session():
        out = getattr(backend, method)(*(backend.asarray(a) if isinstance(a, np.ndarray) else a
                                         for a in arrays), **kwargs)
    return backend.to_numpy(out)


def matches(backend, got, op, *args, **kwargs):
    """``got`` against the oracle ``op``: exact for a data-moving op, else within the op_bounds model
    (inputs already rounded to the run dtype, so only the framework's side rounds: sides=1)."""
    want = op(*args, **kwargs)
    n = op_bounds.terms(op, *args, **kwargs)
    if n is None:
        np.testing.assert_array_equal(got, want)
        return
    result = tolerance.compare(got, want, magnitude=op_bounds.magnitude(op, *args, **kwargs), terms=n,
                               dtype=backend.compute_dtype, sides=1)
    assert result.ok, result


PITFALL_POOLS = [  # (x shape, kernel, stride, padding, dilation)
    ((2, 3, 9), 3, 2, "same", 1),
    ((1, 2, 7, 8), (3, 2), (2, 3), "same", 1),
    ((1, 2, 9, 10), 3, 2, ((2, 1), (0, 2)), 2),  # dilation with stride: stride 1 then every 2nd output
    ((2, 2, 11), 3, 1, "valid", 3),
    ((1, 1, 5, 6, 7), 2, (1, 2, 1), 1, (2, 1, 2)),
]


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", PITFALL_POOLS)
def test_max_pool_same_and_dilated_match_oracle(backend, shape, kernel, stride, padding, dilation):
    x, = data(20, shape)
    x = (x - 2.0).astype(backend.dtype).astype(np.float64)  # all negative: zero padding instead of -inf shows
    if backend.dtype == "float64" and len(shape) == 5:  # TF's MaxPool3D has no float64 kernel (as above)
        with pytest.raises(Exception, match="double is not in the list of allowed values"):
            run(backend, "max_pool", x, kernel, stride, padding, dilation=dilation)
        return
    got = run(backend, "max_pool", x, kernel, stride, padding, dilation=dilation)
    matches(backend, got, oracle.max_pool, x, kernel, stride, padding, dilation=dilation)


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", PITFALL_POOLS)
def test_avg_pool_divisor_both_ways_matches_oracle(backend, shape, kernel, stride, padding, dilation):
    # TF's 'SAME' leaves the padding out (count_include_pad=False); explicit pads are tf.pad's zeros (True)
    x, = data(21, shape, dtype=backend.dtype)
    include = not (isinstance(padding, str) and padding == "same")
    if backend.dtype == "float64" and len(shape) == 5:  # TF's AvgPool3D has no float64 kernel (as above)
        with pytest.raises(Exception, match="Could not find device for node.*AvgPool3D"):
            run(backend, "avg_pool", x, kernel, stride, padding, dilation=dilation, count_include_pad=include)
        return
    got = run(backend, "avg_pool", x, kernel, stride, padding, dilation=dilation, count_include_pad=include)
    matches(backend, got, oracle.avg_pool, x, kernel, stride, padding, dilation=dilation, count_include_pad=include)


def test_pool_arguments_tensorflow_lacks(backend):
    x, = data(22, (1, 1, 6, 6))
    cases = [
        (dict(method="max_pool", ceil_mode=True), "TensorFlow/Keras pooling has no ceil_mode; 'SAME' is what they offer"),
        (dict(method="avg_pool", ceil_mode=True), "no ceil_mode"),
        (dict(method="avg_pool", padding="same"), "'SAME' always leaves the padding out of the divisor"),
        (dict(method="avg_pool", padding=1, count_include_pad=False), "only 'SAME' leaves the padding out"),
        (dict(method="max_pool", dilation=2, return_indices=True), "max_pool_with_argmax has no dilation"),
    ]
    for kwargs, sentence in cases:
        kwargs = dict(kwargs)
        with pytest.raises(NotApplicable, match=sentence.replace("(", r"\(").replace(")", r"\)")):
            run(backend, kwargs.pop("method"), x, 2, kwargs.pop("stride", 2), kwargs.pop("padding", 0), **kwargs)
    # 'SAME' with dilation is tf.nn.pool's to refuse, with its own error
    with pytest.raises(ValueError, match="not supported in conjunction with|not implemented"):
        run(backend, "max_pool", x, 2, 2, "same", dilation=2)


def test_pools_call_tf_nn_at_call_time(backend, monkeypatch):
    x, = data(23, (1, 2, 8, 8))
    calls = []
    real = backend.tf.nn.pool
    monkeypatch.setattr(backend.tf.nn, "pool", lambda *a, **k: calls.append(k) or real(*a, **k))
    run(backend, "avg_pool", x, 2, 2, dilation=2)
    assert calls and calls[0]["dilations"] == [2, 2]


@pytest.mark.parametrize("mode", ["constant", "reflect", "symmetric"])
@pytest.mark.parametrize("shape, pads", [((2, 3, 6), [(2, 3)]), ((1, 2, 4, 5), [(1, 0), (3, 2)]),
                                          ((1, 1, 3, 4, 5), 2)])
def test_pad_modes_match_oracle(backend, mode, shape, pads):
    x, = data(24, shape, dtype=backend.dtype)
    matches(backend, run(backend, "pad", x, pads, mode), oracle.pad, x, pads, mode)


def test_pad_modes_tf_pad_lacks_and_its_own_errors(backend):
    x, = data(25, (1, 2, 3, 3))
    for mode in ("edge", "wrap"):
        with pytest.raises(NotApplicable, match=f"tf.pad has no '{mode}' mode; its three modes are CONSTANT, "
                                                "REFLECT and SYMMETRIC"):
            run(backend, "pad", x, 1, mode)
    with pytest.raises(ValueError, match="pad mode must be a NumPy pad mode"):
        run(backend, "pad", x, 1, "replicate")
    with pytest.raises(ValueError, match=r"one \(before, after\) pair per spatial axis"):
        run(backend, "pad", x, [(1, 1)] * 3, "constant")
    # REFLECT needs pads below the size: TF itself says so (the oracle would keep mirroring)
    with pytest.raises(backend.tf.errors.InvalidArgumentError):
        run(backend, "pad", x, 3, "reflect")


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 5), (2, 3, 4, 5), (1, 3, 2, 3, 4)])
def test_batch_norm_matches_oracle(backend, shape):
    rng = np.random.default_rng(26)
    x, mean, beta = data(26, shape, (3,), (3,), dtype=backend.dtype)
    var, gamma = (rng.uniform(0.25, 2, 3).astype(backend.dtype).astype(np.float64) for _ in range(2))
    got = run(backend, "batch_norm", x, mean, var, gamma, beta, 1e-3)
    matches(backend, got, oracle.batch_norm, x, mean, var, gamma, beta, 1e-3)


def _dft2(x, axes):
    """The DFT over size-2 axes: sums and differences, exact on integers (hand-written, no FFT)."""
    out = x.astype(np.complex128)
    for axis in axes:
        assert out.shape[axis] == 2
        a, b = np.take(out, 0, axis=axis), np.take(out, 1, axis=axis)
        out = np.stack([a + b, a - b], axis=axis)
    return out


@pytest.mark.parametrize("axes", [(-1,), (0, 2), (3, 1), (0, 2, 3), (1, 2, 3)])
def test_fftn_over_any_axes_exact_on_size_two(backend, axes):
    # the transformed axes have size 2, the others 3: a transform over the wrong axes changes the values
    shape = [3, 3, 3, 3]
    for axis in axes:
        shape[axis] = 2
    x = np.random.default_rng(27).integers(-4, 5, shape).astype(np.float64)
    with backend.session():
        y = backend.fftn(backend.asarray(x), axes)
        back = backend.real(backend.ifftn(y, axes))
    assert y.dtype == (backend.tf.complex64 if backend.dtype == "float32" else backend.tf.complex128)
    assert back.dtype == backend.dtype
    got = backend.to_numpy(y)
    assert got.dtype == np.complex128
    np.testing.assert_array_equal(got, _dft2(x, axes))
    np.testing.assert_array_equal(backend.to_numpy(backend.conj(y)), np.conj(_dft2(x, axes)))
    np.testing.assert_array_equal(backend.to_numpy(back), x)  # the size-2 inverse halves exactly


def test_fft_beyond_three_axes_and_complex_input(backend):
    x = np.ones((2, 2, 2, 2))
    with pytest.raises(NotApplicable, match="innermost 1, 2 or 3 axes only"):
        backend.fftn(backend.asarray(x), (0, 1, 2, 3))
    z = np.array([[1 + 2j, -3j]])
    with backend.session():
        t = backend.asarray(z)
    assert t.dtype.is_complex
    np.testing.assert_array_equal(backend.to_numpy(t), z)
    assert backend.to_numpy(backend.asarray(np.ones(2))).dtype == np.float64  # real tensors as before


def test_separable_layer_is_depthwise_then_pointwise(backend):
    C, M, O, k = 3, 2, 4, (3, 2)
    x, dw, pw, b = data(28, (2, C, 7, 6), (C * M, 1, *k), (O, C * M, 1, 1), (O,), dtype=backend.dtype)
    handle = backend.layer("separable", rank=2, in_channels=C, out_channels=O, kernel_size=k, depth_multiplier=M)
    assert handle.api == "keras.layers.SeparableConv2D"
    assert handle.kernel_shape == (3, 2, C, M) and handle.kernel_layout == "HWCM"
    assert handle.extra["pointwise_shape"] == (1, 1, C * M, O) and handle.extra["bias_vectors"] == 1
    assert handle.param_count == math.prod(k) * C * M + C * M * O + O
    handle.set_weights(dw, b, pointwise=pw)
    with backend.session():
        got = backend.to_numpy(handle(backend.asarray(x)))
    want = oracle.conv(oracle.conv(x, dw, groups=C), pw, b)
    # two nested sums: per output, prod(k) depthwise products feed C·M pointwise ones, plus the bias
    magnitude = oracle.conv(oracle.conv(np.abs(x), np.abs(dw), groups=C), np.abs(pw), np.abs(b))
    result = tolerance.compare(got, want, magnitude=magnitude, terms=math.prod(k) + C * M + 1,
                               dtype=backend.compute_dtype, sides=1)
    assert result.ok, result


def test_batch_norm_layer_runs_in_inference_mode(backend):
    x, mean, beta = data(29, (2, 3, 4, 5), (3,), (3,), dtype=backend.dtype)
    var, gamma = (np.random.default_rng(29).uniform(0.25, 2, 3).astype(backend.dtype).astype(np.float64)
                  for _ in range(2))
    try:  # tox envs keras-jax and keras-torch: a float64 BatchNormalization is known to compute in float32
        known_issues.check_keras_batch_norm(backend.keras_backend, backend.dtype, backend.keras.__version__)
    except known_issues.KnownIssueSkip:
        with pytest.raises(known_issues.KnownIssueSkip, match="keras-float64-batch-norm-in-float32"):
            with backend.session():
                backend.layer("batch_norm", rank=2, in_channels=3, eps=1e-2)(backend.asarray(x))
        return
    handle = backend.layer("batch_norm", rank=2, in_channels=3, eps=1e-2)
    assert handle.api == "keras.layers.BatchNormalization" and handle.extra["axis"] == -1
    handle.set_weights(mean=mean, var=var, gamma=gamma, beta=beta)
    with backend.session():
        got = backend.to_numpy(handle(backend.asarray(x)))
    matches(backend, got, oracle.batch_norm, x, mean, var, gamma, beta, 1e-2)


def test_causal_conv1d_layer_is_left_padded_conv(backend):
    x, w, b = data(30, (2, 3, 9), (4, 3, 3), (4,), dtype=backend.dtype)
    handle = backend.layer("conv", rank=1, in_channels=3, out_channels=4, kernel_size=3, dilation=2,
                           padding="causal")
    handle.set_weights(w, b)
    with backend.session():
        got = backend.to_numpy(handle(backend.asarray(x)))
    matches(backend, got, oracle.conv, x, w, b, dilation=2, padding=[(4, 0)])


@pytest.mark.parametrize("kind, padding, include", [("max_pool", "same", True), ("max_pool", "valid", True),
                                                    ("avg_pool", "same", False), ("avg_pool", 0, True)])
def test_pool_layers_match_oracle(backend, kind, padding, include):
    x, = data(31, (2, 3, 7, 8), dtype=backend.dtype)
    handle = backend.layer(kind, rank=2, in_channels=3, kernel_size=3, stride=2, padding=padding,
                           count_include_pad=include)
    if kind == "avg_pool":
        try:  # tox env keras-torch: an uneven 'same' average pool is known to count replicated edge pixels
            known_issues.check_keras_avg_pool(backend.keras_backend, padding, (7, 8), (3, 3), (2, 2),
                                              backend.keras.__version__)
        except known_issues.KnownIssueSkip:
            with pytest.raises(known_issues.KnownIssueSkip, match="keras-torch-same-avg-pool-replicates"):
                with backend.session():
                    handle(backend.asarray(x))
            return
    with backend.session():
        got = backend.to_numpy(handle(backend.asarray(x)))
    op = oracle.max_pool if kind == "max_pool" else oracle.avg_pool
    kwargs = {} if kind == "max_pool" else {"count_include_pad": include}
    matches(backend, got, op, x, 3, 2, padding, **kwargs)


def test_new_layer_options_keras_lacks(backend):
    cases = [
        (dict(kind="conv", rank=2, padding="causal"), "keras.layers.Conv2D has no padding='causal'; only Conv1D"),
        (dict(kind="conv", rank=1, padding_mode="wrap"), "keras.layers.Conv1D pads with zeros only"),
        (dict(kind="separable", rank=3), "no keras.layers.SeparableConv3D"),
        (dict(kind="avg_pool", rank=2, padding="same"), "always leaves the padding out of the divisor"),
        (dict(kind="max_pool", rank=2, padding=1), "takes padding 'valid' or 'same' only"),
        (dict(kind="max_pool", rank=1, ceil_mode=True), "TensorFlow/Keras pooling has no ceil_mode"),
        (dict(kind="avg_pool", rank=2, dilation=2), "AveragePooling2D has no dilation"),
    ]
    for kwargs, sentence in cases:
        with pytest.raises(NotApplicable, match=sentence):
            backend.layer(in_channels=2, out_channels=2, kernel_size=2, **kwargs)
    with pytest.raises(ValueError, match="unknown option 'padding_modes'"):
        backend.layer("conv", in_channels=2, out_channels=2, padding_modes="reflect")


# ---- report probes -----------------------------------------------------------------------------------
PITFALL_TOPICS = ("pool_divisor", "ceil_mode", "pad_modes", "bn_fold", "causal", "separable")


def test_pad_probe_input_tells_every_numpy_mode_apart():
    from equivcheck.backends.tensorflow import pitfall_probes
    from equivcheck.conventions import PAD_MODES

    for mode in PAD_MODES:
        padded = np.pad(pitfall_probes.PAD_INPUT, pitfall_probes.PAD_WIDTH, mode=mode)
        assert pitfall_probes.numpy_modes_of(padded) == [mode]
    assert pitfall_probes.numpy_modes_of(np.zeros(10)) == []


def test_divisor_decoder_on_made_up_averages():
    from equivcheck.backends.tensorflow import pitfall_probes

    # the corner of a 3×3 window at padding 1 holds 4 ones: 4/9 counts the padding, 4/4 does not
    assert pitfall_probes.divisor_name(4 / 9) == "window"
    assert pitfall_probes.divisor_name(1.0) == "in_bounds"
    assert pitfall_probes.divisor_name(0.5) == "neither: divides by 8"
    # 'same' on 1..6 with k=3, s=2 pads 0+1: the last window (5, 6, pad) is 5.5 in bounds, 11/3 with a zero,
    # 17/3 with the edge pixel repeated (Keras 3.15.1 on torch)
    assert pitfall_probes.uneven_name(5.5) == "in_bounds"
    assert pitfall_probes.uneven_name(11 / 3) == "window"
    assert pitfall_probes.uneven_name(17 / 3) == "edge-padded window (np.pad 'edge')"
    assert pitfall_probes.uneven_name(5.0) == "neither: 5"


def test_pitfall_probe_rows_run_and_agree_with_the_adapter():
    from equivcheck.backends.tensorflow import probes as tf_probes
    from equivcheck.report.probes import REGISTRY, _run_one

    env = tf_probes.setup(load("tensorflow", "float32"))
    rows = [_run_one(spec, env) for spec in REGISTRY["tensorflow"] if spec.topic in PITFALL_TOPICS]
    assert {row.topic for row in rows} == set(PITFALL_TOPICS)
    for row in rows:
        assert not row.value.startswith("probe failed"), row
        assert row.agrees is not False, row
    by_key = {(row.topic, row.item, row.api): row.value for row in rows}
    assert by_key[("pool_divisor", "3×3, 'SAME'", "tf.nn.avg_pool2d")] == "in_bounds"
    assert by_key[("causal", "padding='causal', k=3, d=2", "keras.layers.Conv1D")] == "4+0 (extra at start)"
    assert by_key[("bn_fold", "conv_transpose2d + BatchNormalization (inference)",
                   "keras.layers.Conv2DTranspose")] == "axis 2 (O of HWOI)"
