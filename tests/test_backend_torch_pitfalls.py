"""The PyTorch adapter's porting-pitfall ops (pools with ceil_mode/count_include_pad/dilation, pad modes,
inference BatchNorm, FFT, the new layer kinds), in float32 and float64.

References: hand-computed literals (worked below each), ``np.pad`` for the pad modes, and the oracle's
conv / max_pool / avg_pool.  Data-movement results (pad, max) must be bit-identical; sums are compared
through :func:`equivcheck.tolerance.compare` with the magnitude and term count of
:mod:`equivcheck.op_bounds`.  Literals built from dyadic numbers (halves, quarters, square roots of
4 and 16) are exact in both dtypes, so those are compared for equality.
"""
import numpy as np
import pytest

pytest.importorskip("torch")

from equivcheck import op_bounds, oracle, tolerance  # noqa: E402
from equivcheck.backends import NotApplicable  # noqa: E402
from equivcheck.backends.torch import TorchBackend  # noqa: E402


@pytest.fixture(scope="module", params=("float32", "float64"))
def backend(request):
    return TorchBackend(dtype=request.param)


def run(backend, method, *arrays, **kwargs):
    out = getattr(backend, method)(*(backend.asarray(a) if isinstance(a, np.ndarray) else a for a in arrays), **kwargs)
    return backend.to_numpy(out)


def assert_within_bound(backend, got, op, *args, **kwargs):
    """``got`` against ``op(*args, **kwargs)`` within the error model's bound at the backend's precision."""
    outcome = tolerance.compare(got, op(*args, **kwargs), magnitude=op_bounds.magnitude(op, *args, **kwargs),
                                terms=op_bounds.terms(op, *args, **kwargs), dtype=backend.compute_dtype)
    assert outcome.ok, outcome


def line(*values):
    return np.array(values, dtype=float)[None, None]


# ---- pad ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode, want", [  # 0 1 2 3 4 padded by (2, 1)
    ("constant", [0, 0, 0, 1, 2, 3, 4, 0]),
    ("reflect", [2, 1, 0, 1, 2, 3, 4, 3]),  # mirror, edge not repeated
    ("edge", [0, 0, 0, 1, 2, 3, 4, 4]),  # torch 'replicate'
    ("wrap", [3, 4, 0, 1, 2, 3, 4, 0]),  # torch 'circular'
])
def test_pad_modes_hand_computed(backend, mode, want):
    np.testing.assert_array_equal(run(backend, "pad", line(0, 1, 2, 3, 4), [(2, 1)], mode), line(*want))


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
@pytest.mark.parametrize("shape, pads", [((2, 3, 6, 5), [(1, 2), (3, 0)]), ((1, 2, 4, 5, 3), [(0, 1), (2, 2), (1, 0)])])
def test_pad_modes_equal_np_pad(backend, mode, shape, pads):
    x = np.random.default_rng(0).uniform(-1, 1, shape).astype(backend.dtype)
    want = np.pad(x, [(0, 0), (0, 0), *pads], mode=mode)
    np.testing.assert_array_equal(run(backend, "pad", x, pads, mode), want)


def test_pad_odd_inputs(backend):
    x = backend.asarray(line(0, 1, 2, 3, 4))
    with pytest.raises(NotApplicable, match="no 'symmetric' mode.*'replicate'"):
        backend.pad(x, [(1, 1)], "symmetric")
    with pytest.raises(ValueError, match="NumPy pad mode.*'replicate'"):
        backend.pad(x, [(1, 1)], "replicate")  # torch's word, not the canonical one
    with pytest.raises(ValueError, match=r"one \(before, after\) pair per spatial axis.*\(1, 1, 5\)"):
        backend.pad(x, [(1, 1), (1, 1)], "constant")
    with pytest.raises(RuntimeError, match="Padding size should be less than"):  # torch's own reflect limit
        backend.pad(x, [(5, 0)], "reflect")
    with pytest.raises(RuntimeError, match="wrapping around more than once"):  # torch's own circular limit
        backend.pad(x, [(6, 0)], "wrap")


# ---- pools -------------------------------------------------------------------------------------------
# 1 2 3 4 5 6, k=3, s=2, p=1: floor mode gives floor((6+2-3)/2)+1 = 3 windows; ceil mode ceil(5/2)+1 = 4,
# the 4th starting at padded index 6 (input element 6, inside the input), so it is kept.  Padded
# [p 1 2 3 4 5 6 p]: windows [p 1 2] [2 3 4] [4 5 6] [6 p].  The last average: torch clips the window to
# input + padding (2 places) for count_include_pad=True, to the input (1 place) for False.
CEIL_X = line(1, 2, 3, 4, 5, 6)


def test_max_pool_ceil_mode_hand_computed(backend):
    np.testing.assert_array_equal(run(backend, "max_pool", CEIL_X, 3, 2, 1, ceil_mode=True), line(2, 4, 6, 6))
    np.testing.assert_array_equal(run(backend, "max_pool", CEIL_X, 3, 2, 1), line(2, 4, 6))
    # 1..5, k=2, s=2, p=1: ceil((5+2-2)/2)+1 = 4, but the 4th window would start at padded index 6, in
    # the right padding, so it is dropped: [p 1] [2 3] [4 5] → 3 outputs either way.
    np.testing.assert_array_equal(run(backend, "max_pool", line(1, 2, 3, 4, 5), 2, 2, 1, ceil_mode=True), line(1, 3, 5))


@pytest.mark.parametrize("count_include_pad, want", [
    (True, (3 / 3, 9 / 3, 15 / 3, 6 / 2)),
    (False, (3 / 2, 9 / 3, 15 / 3, 6 / 1)),
])
def test_avg_pool_ceil_mode_and_divisor_hand_computed(backend, count_include_pad, want):
    got = run(backend, "avg_pool", CEIL_X, 3, 2, 1, ceil_mode=True, count_include_pad=count_include_pad)
    magnitude = line(*want)  # all inputs positive: Σ|x| / divisor is the result itself
    outcome = tolerance.compare(got, line(*want), magnitude=magnitude, terms=3, dtype=backend.compute_dtype)
    assert outcome.ok, outcome


@pytest.mark.parametrize("shape, kernel, stride, padding", [
    ((2, 3, 9), 3, 2, 1), ((1, 2, 7, 8), (2, 3), (2, 2), (1, 1)), ((1, 1, 5, 6, 7), 3, 2, 1)])
def test_avg_pool_count_include_pad_false_is_sum_over_in_bounds_count(backend, shape, kernel, stride, padding):
    # Excluding the padding divides the window sum by its in-bounds count, which is the ones input's
    # padded average times the window size: avg_excl(x) = avg_incl(x) / avg_incl(1).
    x = np.random.default_rng(1).uniform(-1, 1, shape)
    got = run(backend, "avg_pool", x, kernel, stride, padding, count_include_pad=False)
    in_bounds = oracle.avg_pool(np.ones(shape), kernel, stride, padding)
    want = oracle.avg_pool(x, kernel, stride, padding) / in_bounds
    terms = op_bounds.terms(oracle.avg_pool, x, kernel, stride, padding)
    magnitude = op_bounds.magnitude(oracle.avg_pool, x, kernel, stride, padding) / in_bounds
    outcome = tolerance.compare(got, want, magnitude=magnitude, terms=terms, dtype=backend.compute_dtype)
    assert outcome.ok, outcome


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", [
    ((2, 3, 11), 3, 1, 1, 2), ((1, 2, 9, 8), (2, 3), (2, 1), (1, 1), (3, 2)), ((1, 1, 7, 6, 7), 2, 2, 1, 2)])
def test_max_pool_dilation_matches_oracle(backend, shape, kernel, stride, padding, dilation):
    x = np.random.default_rng(2).uniform(-1, 1, shape).astype(backend.dtype)
    got = run(backend, "max_pool", x, kernel, stride, padding, dilation=dilation)
    np.testing.assert_array_equal(got, oracle.max_pool(x, kernel, stride, padding, dilation=dilation))


def test_avg_pool_defaults_unchanged_with_asymmetric_padding(backend):
    # count_include_pad=True and floor mode: F.pad's zeros then an unpadded pool is the same pool
    x = np.random.default_rng(3).uniform(-1, 1, (1, 2, 6, 5))
    assert_within_bound(backend, run(backend, "avg_pool", x, 2, 1, ((1, 0), (0, 1))),
                        oracle.avg_pool, x, 2, 1, ((1, 0), (0, 1)))


@pytest.mark.parametrize("method, kwargs, match", [
    ("avg_pool", dict(dilation=2), "avg_pool has no dilation"),
    ("avg_pool", dict(padding="same"), "no 'same' padding"),
    ("max_pool", dict(padding="same"), "no 'same' padding"),
    ("avg_pool", dict(padding=((0, 1),), count_include_pad=False), "zeros would count in the divisor"),
    ("avg_pool", dict(padding=((0, 1),), ceil_mode=True), "ceil_mode's last-window rule"),
    ("max_pool", dict(padding=((0, 1),), ceil_mode=True), "ceil_mode's last-window rule"),
])
def test_pool_not_applicable_sentences(backend, method, kwargs, match):
    with pytest.raises(NotApplicable, match=match):
        getattr(backend, method)(backend.asarray(CEIL_X), 2, 2, **kwargs)


def test_pool_padding_above_half_the_kernel_is_torch_error(backend):
    with pytest.raises(RuntimeError, match="pad should be"):
        backend.avg_pool(backend.asarray(CEIL_X), 2, 2, 2)


# ---- batch norm --------------------------------------------------------------------------------------
# channel 0: (x − 1)/√(3 + 1)·2 + 0.5 on [1, 3] → [0.5, 2.5]; channel 1: (x − 2)/√(15 + 1)·0.5 − 1 on
# [−2, 6] → [−1.5, −0.5].
BN_X = np.array([[[1.0, 3.0], [-2.0, 6.0]]])
BN_STATS = dict(mean=np.array([1.0, 2.0]), var=np.array([3.0, 15.0]), gamma=np.array([2.0, 0.5]),
                beta=np.array([0.5, -1.0]))
BN_WANT = np.array([[[0.5, 2.5], [-1.5, -0.5]]])


def test_batch_norm_hand_computed(backend):
    s = {name: backend.asarray(value) for name, value in BN_STATS.items()}
    got = run(backend, "batch_norm", BN_X, s["mean"], s["var"], s["gamma"], s["beta"], eps=1.0)
    np.testing.assert_array_equal(got, BN_WANT)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_batch_norm_layer_is_eval_mode_with_loaded_statistics(backend, rank):
    handle = backend.layer("batch_norm", rank=rank, in_channels=2, eps=1.0)
    handle.set_weights(**BN_STATS)
    x = BN_X.reshape((1, 2) + (1,) * (rank - 1) + (2,))
    for _ in range(2):  # in eval mode a call leaves the running statistics as loaded
        np.testing.assert_array_equal(backend.to_numpy(handle(backend.asarray(x))), BN_WANT.reshape(x.shape))
    assert handle.api == f"torch.nn.BatchNorm{rank}d" and not handle.native.training
    assert handle.param_count == 4 and handle.kernel_shape == (2,)  # weight and bias; the statistics are buffers
    with pytest.raises(RuntimeError, match="size mismatch"):
        handle.set_weights(mean=np.zeros(3))


# ---- FFT ---------------------------------------------------------------------------------------------
def test_fft_hand_computed_and_complex_crossing(backend):
    # DFT of 0 1 2 3: X_k = Σ n·(−i)^{nk} = 6, −2+2i, −2, −2−2i
    x = backend.asarray(np.arange(4.0))
    spectrum = backend.fftn(x, (0,))
    np.testing.assert_array_equal(backend.to_numpy(spectrum), [6, -2 + 2j, -2, -2 - 2j])
    conj = backend.to_numpy(backend.conj(spectrum))
    assert conj.dtype == np.complex128
    np.testing.assert_array_equal(conj, [6, -2 - 2j, -2, -2 + 2j])
    back = backend.real(backend.ifftn(spectrum, (0,)))
    assert str(back.dtype) == f"torch.{backend.dtype}"  # the run dtype again
    np.testing.assert_array_equal(backend.to_numpy(back), [0, 1, 2, 3])
    assert backend.to_numpy(x).dtype == np.float64  # real tensors cross as before


# ---- layers ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode, torch_word", [("constant", "zeros"), ("reflect", "reflect"), ("edge", "replicate"),
                                              ("wrap", "circular")])
@pytest.mark.parametrize("rank", [1, 2])
def test_conv_layer_padding_mode_is_np_pad_then_valid_conv(backend, mode, torch_word, rank):
    shape, k = (2, 3) + (6, 7)[:rank], (3, 2)[:rank]
    handle = backend.layer("conv", rank=rank, in_channels=3, out_channels=4, kernel_size=k, padding=1,
                           padding_mode=mode)
    rng = np.random.default_rng(4)
    x, w, b = rng.uniform(-1, 1, shape), rng.uniform(-1, 1, (4, 3) + k), rng.uniform(-1, 1, 4)
    handle.set_weights(w, b)
    padded = np.pad(x, [(0, 0), (0, 0)] + [(1, 1)] * rank, mode=mode)
    assert_within_bound(backend, backend.to_numpy(handle(backend.asarray(x))), oracle.conv, padded, w, b)
    assert handle.native.padding_mode == handle.extra["padding_mode"] == torch_word


@pytest.mark.parametrize("kind, kwargs, error, match", [
    ("conv", dict(padding="causal"), NotApplicable, "PyTorch has no causal padding"),
    ("separable", {}, NotApplicable, "no separable convolution layer"),
    ("conv", dict(padding=1, padding_mode="symmetric"), NotApplicable, "no 'symmetric' padding_mode"),
    ("conv", dict(padding_mode="replicate"), ValueError, "NumPy pad mode"),
    ("conv_transpose", dict(padding_mode="reflect"), ValueError, "Only \"zeros\" padding mode"),  # torch's own
    ("avg_pool", dict(padding="same"), NotApplicable, "no 'same' padding"),
    ("max_pool", dict(padding=((0, 1),)), NotApplicable, "pads symmetrically only"),
    ("avg_pool", dict(dilation=2), NotApplicable, "AvgPool1d has no dilation"),
    ("max_pool", dict(ceil=True), ValueError, "unknown option 'ceil'"),
])
def test_layer_odd_requests(backend, kind, kwargs, error, match):
    with pytest.raises(error, match=match):
        backend.layer(kind, rank=1, in_channels=2, out_channels=2, kernel_size=3, **kwargs)


@pytest.mark.parametrize("kind, options, want", [
    ("max_pool", dict(ceil_mode=True), (2, 4, 6, 6)),
    ("max_pool", dict(), (2, 4, 6)),
    ("avg_pool", dict(ceil_mode=True), (3 / 3, 9 / 3, 15 / 3, 6 / 2)),
    ("avg_pool", dict(ceil_mode=True, count_include_pad=False), (3 / 2, 9 / 3, 15 / 3, 6 / 1)),
])
def test_pool_layers_hand_computed(backend, kind, options, want):
    handle = backend.layer(kind, rank=1, in_channels=1, kernel_size=3, stride=2, padding=1, **options)
    got = backend.to_numpy(handle(backend.asarray(CEIL_X)))
    if kind == "max_pool":
        np.testing.assert_array_equal(got, line(*want))
    else:
        outcome = tolerance.compare(got, line(*want), magnitude=line(*want), terms=3, dtype=backend.compute_dtype)
        assert outcome.ok, outcome
    assert handle.api == f"torch.nn.{'AvgPool' if kind == 'avg_pool' else 'MaxPool'}1d"
    assert handle.kernel_shape == () and handle.param_count == 0 and handle.kernel_layout == ""



# ---- against the oracle's pitfall ops ----------------------------------------------------------------
@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
@pytest.mark.parametrize("shape, pads", [((2, 3, 7), [(3, 1)]), ((1, 2, 5, 6), [(0, 4), (2, 3)]),
                                         ((1, 1, 3, 4, 5), [(2, 0), (1, 3), (4, 4)])])
def test_pad_matches_oracle(backend, mode, shape, pads):
    x = np.random.default_rng(5).uniform(-1, 1, shape).astype(backend.dtype)
    np.testing.assert_array_equal(run(backend, "pad", x, pads, mode), oracle.pad(x, pads, mode))


@pytest.mark.parametrize("shape", [(3, 4), (2, 4, 5), (2, 4, 3, 5), (1, 4, 2, 3, 2)])
def test_batch_norm_matches_oracle(backend, shape):
    rng = np.random.default_rng(6)
    x = rng.uniform(-2, 2, shape)
    mean, beta = rng.uniform(-1, 1, (2, 4))
    var, gamma = rng.uniform(0.1, 2, (2, 4))
    stats = [backend.asarray(v) for v in (mean, var, gamma, beta)]
    got = run(backend, "batch_norm", x, *stats, eps=1e-3)
    assert_within_bound(backend, got, oracle.batch_norm, x, mean, var, gamma, beta, 1e-3)
    if len(shape) > 2:
        handle = backend.layer("batch_norm", rank=len(shape) - 2, in_channels=4, eps=1e-3)
        handle.set_weights(mean=mean, var=var, gamma=gamma, beta=beta)
        assert_within_bound(backend, backend.to_numpy(handle(backend.asarray(x))),
                            oracle.batch_norm, x, mean, var, gamma, beta, 1e-3)


POOL_PITFALL_CASES = [  # (shape, kernel, stride, padding, dilation): ceil_mode adds or drops a window
    ((2, 3, 6), 3, 2, 1, 1),
    ((1, 2, 5), 2, 2, 1, 1),
    ((1, 2, 7, 8), (3, 2), (2, 3), (1, 1), 1),
    ((1, 2, 9, 7), 3, 2, 1, (2, 1)),
    ((1, 1, 5, 6, 7), (2, 3, 3), (2, 2, 3), (1, 1, 0), 1),
]


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", POOL_PITFALL_CASES)
def test_max_pool_ceil_mode_matches_oracle(backend, shape, kernel, stride, padding, dilation, ceil_mode):
    x = np.random.default_rng(7).uniform(-1, 1, shape).astype(backend.dtype)
    kwargs = dict(dilation=dilation, ceil_mode=ceil_mode)
    values, indices = backend.max_pool(backend.asarray(x), kernel, stride, padding, return_indices=True, **kwargs)
    want_values, want_indices = oracle.max_pool(x, kernel, stride, padding, return_indices=True, **kwargs)
    np.testing.assert_array_equal(backend.to_numpy(values), want_values)
    np.testing.assert_array_equal(backend.to_numpy(indices), want_indices)
    rank = len(shape) - 2
    handle = backend.layer("max_pool", rank=rank, in_channels=shape[1], kernel_size=kernel, stride=stride,
                           padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    np.testing.assert_array_equal(backend.to_numpy(handle(backend.asarray(x))), want_values)


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", [c for c in POOL_PITFALL_CASES if c[-1] == 1])
def test_avg_pool_ceil_mode_and_divisor_match_oracle(backend, shape, kernel, stride, padding, dilation, ceil_mode,
                                                     count_include_pad):
    x = np.random.default_rng(8).uniform(-1, 1, shape)
    kwargs = dict(count_include_pad=count_include_pad, ceil_mode=ceil_mode)
    assert_within_bound(backend, run(backend, "avg_pool", x, kernel, stride, padding, **kwargs),
                        oracle.avg_pool, x, kernel, stride, padding, **kwargs)
    handle = backend.layer("avg_pool", rank=len(shape) - 2, in_channels=shape[1], kernel_size=kernel, stride=stride,
                           padding=padding, **kwargs)
    assert_within_bound(backend, backend.to_numpy(handle(backend.asarray(x))),
                        oracle.avg_pool, x, kernel, stride, padding, **kwargs)

# ---- report probes -----------------------------------------------------------------------------------
from equivcheck.backends.torch import pitfall_probes  # noqa: E402
from equivcheck.conventions import PAD_MODES  # noqa: E402

PITFALL_TOPICS = ("pool_divisor", "ceil_mode", "pad_modes", "bn_fold", "causal", "separable")


def test_pad_probe_input_tells_every_numpy_mode_apart():
    for mode in PAD_MODES:
        padded = np.pad(pitfall_probes.PAD_INPUT, pitfall_probes.PAD_WIDTH, mode=mode)
        assert pitfall_probes.numpy_modes_of(padded) == [mode]
    assert pitfall_probes.numpy_modes_of(np.zeros(10)) == []


def test_divisor_decoder_on_made_up_averages():
    candidates = {"window": 9, "in_bounds": 4}
    assert pitfall_probes.divisor_of(4 / 9, candidates, 9) == "window"
    assert pitfall_probes.divisor_of(1.0, candidates, 9) == "in_bounds"
    assert pitfall_probes.divisor_of(0.5, candidates, 9) == "neither: divides by 8"


def test_ceil_grid_row_names_the_configurations_that_differ():
    value, _, agrees, detail = pitfall_probes.ceil_grid_row(pitfall_probes.ceil_output_size)
    assert value.startswith("holds") and agrees
    # the floor rule differs wherever the ceiling adds a window, first n=3, k=2, s=2, p=0: ⌊1/2⌋+1 = 1 vs
    # ⌈1/2⌉+1 = 2 (the 2nd window starts at 2 < n + p = 3: kept)
    floor = lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s + 1  # noqa: E731
    value, _, agrees, detail = pitfall_probes.ceil_grid_row(floor)
    assert value.startswith("differs in") and agrees is False and "n=3 k=2 s=2 p=0 d=1: 1 ≠ 2" in detail


def test_pitfall_probe_rows_run_and_agree_with_the_adapter():
    from equivcheck.backends.torch import probes as torch_probes
    from equivcheck.report.probes import REGISTRY, _run_one

    env = torch_probes.setup(TorchBackend("float32"))
    rows = [_run_one(spec, env) for spec in REGISTRY["torch"] if spec.topic in PITFALL_TOPICS]
    assert {row.topic for row in rows} == set(PITFALL_TOPICS)
    for row in rows:
        assert not row.value.startswith("probe failed"), row
        assert row.agrees is not False, row
