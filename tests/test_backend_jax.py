"""The JAX (lax) adapter against the NumPy float64 oracle, in float32 and float64.

Tolerances as explained in _jax_common.py (:func:`bound`: ``n·eps·max Σ|terms|``, a worst-case
bound with a factor-2 margin).  Pure rearrangements (shuffles, max, patches) must be exact.
"""
import math
import traceback

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from equivcheck import layouts, oracle  # noqa: E402
from equivcheck.backends import NotApplicable  # noqa: E402
from equivcheck.backends.jax import JaxBackend  # noqa: E402

from _jax_common import (  # noqa: E402
    DTYPES, PITFALL_POOL_CASES, POOL_CASES, assert_pitfall_pooling_matches_oracle, assert_pooling_matches_oracle,
    assert_within_model, bias_column, bn_statistics, bound, data, run, session_fixture)

bk = session_fixture(JaxBackend)


CONV_CASES = [  # (x shape, w shape, kwargs)
    ((2, 3, 9), (4, 3, 3), {}),
    ((2, 4, 10), (6, 2, 3), dict(stride=2, dilation=2, groups=2, padding=1)),
    ((1, 3, 8, 7), (5, 3, 3, 2), dict(stride=(2, 1), padding=((0, 1), (2, 1)))),
    ((2, 4, 9, 9), (4, 1, 3, 3), dict(groups=4, dilation=(1, 2), padding=(1, 2))),
    ((1, 2, 8, 6), (3, 2, 3, 3), dict(padding="same", stride=2)),  # lax 'SAME' = TF rule, odd pad at the end
    ((1, 2, 7, 6), (3, 2, 4, 3), dict(padding="same", dilation=2)),
    ((1, 2, 7, 6), (3, 2, 3, 3), dict(padding="valid")),
    ((1, 2, 5, 6, 7), (3, 2, 2, 3, 3), dict(stride=(1, 2, 2), padding=1)),
    ((1, 4, 6, 5, 5), (2, 2, 3, 1, 2), dict(groups=2, padding=((1, 0), (0, 0), (0, 1)))),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV_CASES)
def test_conv_matches_oracle(bk, x_shape, w_shape, kwargs):
    x, w, b = data(bk, 0, x_shape, w_shape, (w_shape[0],))
    got = run(bk, "conv", x, w, b, **kwargs)
    assert got.dtype == np.float64 and bk.conv(bk.asarray(x), bk.asarray(w), **kwargs).dtype == bk.dtype
    n_terms = math.prod(w_shape[1:]) + 1  # products per output, plus the bias
    mag = oracle.abs_bound_conv(x, w, **kwargs) + bias_column(b, len(x_shape) - 2)
    np.testing.assert_allclose(got, oracle.conv(x, w, b, **kwargs), rtol=0, atol=bound(bk.dtype, n_terms, mag))


def test_float64_really_computes_in_float64():
    # float32 arithmetic leaves errors ≈ eps32·Σ|x·w|; a true float64 run is far below that.
    errors = {}
    for dtype in DTYPES:
        backend = JaxBackend(dtype)
        with backend.session():
            x, w = data(JaxBackend("float32"), 1, (1, 8, 12, 12), (4, 8, 3, 3))  # float32-exact inputs in both runs
            errors[dtype] = np.abs(run(backend, "conv", x, w) - oracle.conv(x, w)).max()
    mag = oracle.abs_bound_conv(x, w).max()
    assert errors["float64"] < 1e-3 * np.finfo(np.float32).eps * mag < errors["float32"]


def test_x64_is_enabled_only_inside_the_float64_session():
    float64, float32 = JaxBackend("float64"), JaxBackend("float32")
    with float64.session():
        assert jax.config.jax_enable_x64
        assert float64.conv(float64.asarray(np.ones((1, 1, 5))), float64.asarray(np.ones((1, 1, 3)))).dtype == np.float64
    assert not jax.config.jax_enable_x64
    with float32.session():
        assert not jax.config.jax_enable_x64
        y = float32.conv(float32.asarray(np.ones((1, 1, 5))), float32.asarray(np.ones((1, 1, 3))))
        assert y.dtype == np.float32
    with pytest.raises(RuntimeError, match="session"):
        float64.asarray(np.ones(3))  # outside the session JAX would silently make float32


def test_conv_unbatched_input_gets_lax_own_error(bk):
    x, w = data(bk, 2, (3, 8, 8), (4, 3, 3, 3))
    with pytest.raises(TypeError, match="ndim to be equal") as info:
        run(bk, "conv", x, w)
    # traceback filtering is off in the session: the error is JAX's, so the runner says 'raises'
    assert "jax" in traceback.extract_tb(info.value.__traceback__)[-1].filename


def test_conv_reads_layout_table_at_call_time(bk, monkeypatch):
    x, w = data(bk, 4, (1, 3, 6, 6), (3, 3, 3, 3))  # O == I: a swapped layout still runs
    right = run(bk, "conv", x, w)
    monkeypatch.setitem(layouts.KERNEL_LAYOUTS, ("jax", "lax", "conv"), "IO*")
    assert np.abs(run(bk, "conv", x, w) - right).max() > 1e-2
    monkeypatch.undo()
    monkeypatch.setitem(layouts.DATA_LAYOUTS, "jax", "N*C")
    with pytest.raises(Exception):  # lax is still told NC*: the channels no longer match
        run(bk, "conv", x, w)


CONV_T_CASES = [
    ((1, 2, 3), (2, 3, 3), dict(stride=2, output_padding=1)),
    ((2, 4, 5), (4, 2, 3), dict(stride=3, padding=1, dilation=2, groups=2, output_padding=2)),
    ((1, 3, 4, 5), (3, 2, 3, 3), dict(stride=2, padding=1, output_padding=(1, 0))),
    ((1, 3, 4, 5), (3, 2, 3, 3), dict(stride=2, padding=3)),  # p > d(k−1): negative pads crop
    ((1, 4, 3, 4), (4, 1, 2, 3), dict(stride=(1, 2), groups=2, padding=((1, 0), (2, 1)), output_padding=(0, 1))),
    ((1, 2, 3, 3, 4), (2, 2, 2, 2, 3), dict(stride=2, padding=(0, 1, 1), dilation=(1, 1, 2))),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV_T_CASES)
def test_conv_transpose_matches_oracle(bk, x_shape, w_shape, kwargs):
    groups = kwargs.get("groups", 1)
    x, w, b = data(bk, 5, x_shape, w_shape, (w_shape[1] * groups,))
    got = run(bk, "conv_transpose", x, w, b, **kwargs)
    n_terms = w_shape[0] // groups * math.prod(w_shape[2:]) + 1  # upper bound on products per output
    mag = oracle.magnitude(oracle.conv_transpose, x, w, **kwargs) + bias_column(b, x.ndim - 2)
    np.testing.assert_allclose(got, oracle.conv_transpose(x, w, b, **kwargs), rtol=0,
                               atol=bound(bk.dtype, n_terms, mag))


def test_grouped_conv_transpose_with_another_kernel_size_and_the_same_pads(bk):
    """The soak's find: k=2 with padding 1 and k=1 with padding 0 give the same lax pads (0, 0); the
    grouped composition's reshape depends on the kernel size, so the cached program must not be shared."""
    for k, padding in ((2, 1), (1, 0)):
        x, w = data(bk, 3, (1, 2, 3), (2, 1, k))
        got = run(bk, "conv_transpose", x, w, groups=2, padding=padding)
        mag = oracle.magnitude(oracle.conv_transpose, x, w, groups=2, padding=padding)
        np.testing.assert_allclose(got, oracle.conv_transpose(x, w, groups=2, padding=padding), rtol=0,
                                   atol=bound(bk.dtype, k, mag))


def test_conv_transpose_string_padding_has_no_output_padding(bk):
    x, w = data(bk, 5, (1, 2, 4), (2, 2, 3))
    assert run(bk, "conv_transpose", x, w, stride=2, padding="same").shape == (1, 2, 8)  # lax's own 'SAME'
    with pytest.raises(NotApplicable, match="output_padding"):
        run(bk, "conv_transpose", x, w, stride=2, padding="same", output_padding=1)
    with pytest.raises(NotApplicable, match="feature_group_count"):
        run(bk, "conv_transpose", x, w[:, :1], stride=2, padding="valid", groups=2)


def test_conv_transpose_is_vjp_of_conv(bk):
    x, w = data(bk, 6, (2, 3, 9, 8), (4, 3, 3, 3))
    kwargs = dict(stride=2, padding=1, dilation=1)
    cot = data(bk, 7, (2, 4, 5, 4))[0]
    grad_x, grad_w = bk.vjp(lambda a, k: bk.conv(a, k, **kwargs), [bk.asarray(x), bk.asarray(w)], bk.asarray(cot))
    mag_x = oracle.conv_input_grad(np.abs(cot), np.abs(w), x.shape, **kwargs)
    np.testing.assert_allclose(bk.to_numpy(grad_x), oracle.conv_input_grad(cot, w, x.shape, **kwargs), rtol=0,
                               atol=bound(bk.dtype, 4 * 9, mag_x))
    mag_w = oracle.conv_weight_grad(np.abs(x), np.abs(cot), w.shape, **kwargs)
    np.testing.assert_allclose(bk.to_numpy(grad_w), oracle.conv_weight_grad(x, cot, w.shape, **kwargs), rtol=0,
                               atol=bound(bk.dtype, 2 * 5 * 4, mag_w))


def test_linear_matches_oracle(bk):
    x, w, b = data(bk, 6, (3, 5, 7), (4, 7), (4,))
    mag = oracle.magnitude(oracle.linear, x, w, b)
    np.testing.assert_allclose(run(bk, "linear", x, w, b), oracle.linear(x, w, b), rtol=0, atol=bound(bk.dtype, 8, mag))


@pytest.mark.parametrize("method", ["pixel_shuffle", "depth_to_space", "pixel_unshuffle", "space_to_depth"])
@pytest.mark.parametrize("shape", [(2, 8, 4), (2, 12, 4, 6), (1, 16, 2, 4, 2)])
def test_composed_shuffles_are_exact(bk, method, shape):
    (x,) = data(bk, 7, shape)
    np.testing.assert_array_equal(run(bk, method, x, 2), getattr(oracle, method)(x, 2))


def test_pixel_shuffle_and_depth_to_space_differ_for_several_channels(bk):
    (x,) = data(bk, 8, (1, 8, 2, 2))
    assert not np.array_equal(run(bk, "pixel_shuffle", x, 2), run(bk, "depth_to_space", x, 2))


@pytest.mark.parametrize("shape, kernel, stride, padding", POOL_CASES)
def test_pooling_matches_oracle(bk, shape, kernel, stride, padding):
    assert_pooling_matches_oracle(bk, shape, kernel, stride, padding)


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", PITFALL_POOL_CASES)
def test_pools_with_count_include_pad_and_dilation_match_oracle(bk, shape, kernel, stride, padding, dilation):
    assert_pitfall_pooling_matches_oracle(bk, shape, kernel, stride, padding, dilation)


def test_same_pools_are_tf_split_pads(bk):
    """lax's 'SAME' words: the TF split (odd pixel at the end), the window dilated; both divisors."""
    (x,) = data(bk, 22, (1, 2, 8, 7))
    pads = [oracle.same_padding(n, 3, 2, 2) for n in (8, 7)]
    t = bk.asarray(x)
    assert_within_model(bk, bk.to_numpy(bk.max_pool(t, 3, 2, "same", dilation=2)), oracle.max_pool, x, 3, 2, pads, 2)
    for include in (True, False):
        got = bk.to_numpy(bk.avg_pool(t, 3, 2, "same", count_include_pad=include, dilation=2))
        assert_within_model(bk, got, oracle.avg_pool, x, 3, 2, pads, 2, count_include_pad=include)


def test_ceil_mode_is_not_applicable_with_the_reason(bk):
    t = bk.asarray(np.zeros((1, 1, 5)))
    for call in (lambda: bk.max_pool(t, 2, 2, ceil_mode=True), lambda: bk.avg_pool(t, 2, 2, ceil_mode=True)):
        with pytest.raises(NotApplicable, match="lax.reduce_window has no ceil_mode.*test equivcheck, not JAX"):
            call()


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap", "symmetric"])
def test_pad_is_jnp_pad_in_numpy_words(bk, mode):
    (x,) = data(bk, 23, (1, 2, 5, 4))
    pads = [(2, 1), (0, 3)]  # asymmetric, and 3 = n - 1 on a length-4 axis
    got = run(bk, "pad", x, pads, mode)
    assert got.shape == (1, 2, 8, 7)
    assert_within_model(bk, got, oracle.pad, x, pads, mode)


def test_pad_with_an_unknown_mode_gets_jnp_own_error(bk):
    with pytest.raises(NotImplementedError, match="replicate") as info:
        run(bk, "pad", np.zeros((1, 1, 3)), [(1, 1)], "replicate")  # torch's word, not NumPy's
    assert "jax" in traceback.extract_tb(info.value.__traceback__)[-1].filename


def test_batch_norm_is_jax_nn_standardize_with_the_given_statistics(bk):
    (x,) = data(bk, 24, (2, 3, 4, 5))
    stats = bn_statistics(bk, 3)
    got = bk.to_numpy(bk.batch_norm(bk.asarray(x), *map(bk.asarray, stats), 1e-3))
    assert_within_model(bk, got, oracle.batch_norm, x, *stats, 1e-3)


def test_fft_ops_match_numpy_and_to_numpy_keeps_complex(bk):
    """jnp.fft against np.fft (NumPy, not a framework): each output sums n unit-modulus terms, so the
    elementwise error is within the model's bound for n terms of magnitude Σ|x| (an FFT's log2(n) stages
    are fewer)."""
    from equivcheck import tolerance

    (x,) = data(bk, 25, (2, 3, 4, 6))
    axes = (2, 3)
    f = bk.fftn(bk.asarray(x), axes)
    got = bk.to_numpy(f)
    assert got.dtype == np.complex128 and run(bk, "real", x).dtype == np.float64
    want = np.fft.fftn(x, axes=axes)
    magnitude = np.broadcast_to(np.abs(x).sum(axis=axes, keepdims=True), want.shape)
    for part in (np.real, np.imag):
        assert tolerance.compare(part(got), part(want), magnitude=magnitude, terms=24, dtype=bk.compute_dtype).ok
    back = bk.to_numpy(bk.real(bk.ifftn(f, axes)))
    assert tolerance.compare(back, x, magnitude=2 * magnitude, terms=48, dtype=bk.compute_dtype).ok
    np.testing.assert_array_equal(bk.to_numpy(bk.conj(f)), np.conj(got))  # exact: a sign flip
    np.testing.assert_array_equal(bk.to_numpy(bk.real(f)), np.real(got))


def test_max_pool_indices_and_unpool_are_not_applicable(bk):
    x = bk.asarray(np.zeros((1, 1, 4, 4)))
    with pytest.raises(NotApplicable, match="argmax"):
        bk.max_pool(x, 2, return_indices=True)
    with pytest.raises(NotApplicable, match="unpool"):
        bk.max_unpool(x, x, 2)


@pytest.mark.parametrize("kwargs", [dict(), dict(stride=2, padding=1, dilation=(1, 2)), dict(padding=((0, 1), (1, 0)))])
def test_extract_patches_is_unfold_in_c_k_order(bk, kwargs):
    (x,) = data(bk, 12, (2, 3, 7, 6))
    assert bk.patch_order == "C,k"
    np.testing.assert_array_equal(run(bk, "extract_patches", x, (2, 3), **kwargs), oracle.unfold(x, (2, 3), **kwargs))


def test_array_ops_and_native_layout(bk):
    (x,) = data(bk, 13, (2, 3, 4))
    t = bk.asarray(x)
    assert np.array_equal(bk.to_numpy(bk.reshape(t, (2, 12))), x.reshape(2, 12))
    assert np.array_equal(bk.to_numpy(bk.transpose(t, (2, 0, 1))), x.transpose(2, 0, 1))
    assert np.array_equal(bk.to_numpy(bk.concat([t, t], 1)), np.concatenate([x, x], 1))
    assert np.array_equal(bk.to_numpy(bk.expand_dims(t, 1)), x[:, None])
    assert np.array_equal(bk.to_numpy(bk.from_native(bk.to_native(t))), x)  # lax's NC* is canonical


def test_no_layers(bk):
    for kind in ("conv", "conv_transpose", "depthwise", "dense", "separable", "batch_norm", "avg_pool", "max_pool"):
        with pytest.raises(NotApplicable, match="flax column"):
            bk.layer(kind, in_channels=2, out_channels=2)


def test_jitted_ops_are_cached_per_configuration(bk):
    x, w = data(bk, 14, (1, 2, 6), (2, 2, 3))
    run(bk, "conv", x, w, stride=2)
    size = len(bk._compiled)
    run(bk, "conv", x, w, stride=2)
    run(bk, "conv", x[:, :, :5], w, stride=2)  # a new shape reuses the callable (jit retraces inside)
    assert len(bk._compiled) == size


def test_versions_and_settings_are_flat_json(bk):
    import json

    assert bk.versions()["jax"] == jax.__version__
    settings = bk.numeric_settings()
    json.dumps(settings)
    assert settings["jax_enable_x64"] == (bk.dtype == "float64")
    assert settings["platform"] == "cpu" and "jax_default_matmul_precision" in settings


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="a GPU/TPU is present")
def test_gpu_request_without_a_gpu_fails_clearly():
    with pytest.raises(RuntimeError, match="JAX finds no gpu device"):
        JaxBackend(device="gpu")


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 4, 5), (2, 3, 2, 4, 5)])
def test_flatten_handle_is_jnp_reshape_of_the_tensor_as_given(bk, shape):
    rank = len(shape) - 2
    handle = bk.layer("flatten", rank=rank, in_channels=shape[1])
    assert handle.api == "jax.numpy.reshape" and "no Flatten layer" in handle.extra["note"]
    assert handle.extra["input_layout"] == layouts.data_layout("jax", rank) and handle.param_count == 0
    x = np.arange(math.prod(shape), dtype=np.float64).reshape(shape)
    got = handle(bk.to_native(bk.asarray(x)))
    assert got.dtype == bk.dtype
    np.testing.assert_array_equal(bk.to_numpy(got), x.reshape(shape[0], -1))   # lax's NC* map, channel-major
    # hand-computed: channel 0 holds 0, 1 and channel 1 holds 2, 3 → 0, 1, 2, 3
    two = np.array([[[[0.0, 1.0]], [[2.0, 3.0]]]])
    np.testing.assert_array_equal(bk.to_numpy(bk.layer("flatten", in_channels=2)(bk.to_native(bk.asarray(two)))),
                                  [[0.0, 1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="no weights"):
        handle.set_weights(np.zeros(1))
