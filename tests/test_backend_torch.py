"""The PyTorch adapter against the NumPy float64 oracle, in float32 and float64.

Tolerances: an output that sums n products satisfies |fl(Σ) − Σ| ≤ γ_n·Σ|terms|
with γ_n ≈ n·u, u = eps/2 (Higham, Accuracy and Stability, Thm 3.1); rounding x
and w to the run dtype adds ≤ 2u per product.  So ``(n + 2)·eps·max Σ|terms|``
is a worst-case bound with a factor-2 margin, computed by :func:`summation_atol`.
Pure rearrangements (shuffles, pooling indices, max) must be exact.
"""
import math

import numpy as np
import pytest

pytest.importorskip("torch")

from equivcheck import layouts, oracle  # noqa: E402
from equivcheck.backends import BackendUnavailable, NotApplicable  # noqa: E402
from equivcheck.backends.torch import TorchBackend  # noqa: E402

DTYPES = ("float32", "float64")


@pytest.fixture(scope="module", params=DTYPES)
def backend(request):
    return TorchBackend(dtype=request.param)


def summation_atol(dtype, n_terms, magnitude):
    """Absolute tolerance for sums of ``n_terms`` products of size ``magnitude`` (see module doc)."""
    return (n_terms + 2) * np.finfo(dtype).eps * float(np.max(magnitude, initial=0.0))


def channel_column(b, rank):
    """Bias (C,) shaped to broadcast over (N, C, *spatial)."""
    return np.abs(b).reshape((-1,) + (1,) * rank)


def data(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, shape) for shape in shapes]


def run(backend, method, *arrays, **kwargs):
    """Call ``backend.method`` with the NumPy arrays among ``arrays`` crossed into torch."""
    out = getattr(backend, method)(*(backend.asarray(a) if isinstance(a, np.ndarray) else a for a in arrays), **kwargs)
    return backend.to_numpy(out)


CONV_CASES = [  # (x shape, w shape, kwargs)
    ((2, 3, 9), (4, 3, 3), {}),
    ((2, 4, 10), (6, 2, 3), dict(stride=2, dilation=2, groups=2, padding=1)),
    ((1, 3, 8, 7), (5, 3, 3, 2), dict(stride=(2, 1), padding=((0, 1), (2, 1)))),
    ((2, 4, 9, 9), (4, 1, 3, 3), dict(groups=4, dilation=(1, 2), padding=(1, 2))),
    ((1, 2, 7, 6), (3, 2, 4, 3), dict(padding="same", dilation=2)),
    ((1, 2, 7, 6), (3, 2, 3, 3), dict(padding="valid")),
    ((1, 2, 5, 6, 7), (3, 2, 2, 3, 3), dict(stride=(1, 2, 2), padding=1)),
    ((1, 4, 6, 5, 5), (2, 2, 3, 1, 2), dict(groups=2, padding=((1, 0), (0, 0), (0, 1)))),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV_CASES)
def test_conv_matches_oracle(backend, x_shape, w_shape, kwargs):
    x, w, b = data(0, x_shape, w_shape, (w_shape[0],))
    got = run(backend, "conv", x, w, b, **kwargs)
    want = oracle.conv(x, w, b, **kwargs)
    n_terms = math.prod(w_shape[1:]) + 1  # products per output, plus the bias
    mag = oracle.abs_bound_conv(x, w, **kwargs) + channel_column(b, len(x_shape) - 2)
    np.testing.assert_allclose(got, want, rtol=0, atol=summation_atol(backend.dtype, n_terms, mag))


def test_float64_really_computes_in_float64():
    # float32 rounding alone would leave errors ≈ eps32·Σ|x·w|; a true float64 run is far below.
    x, w = data(1, (1, 8, 12, 12), (4, 8, 3, 3))
    mag = oracle.abs_bound_conv(x, w).max()
    err64 = np.abs(run(TorchBackend("float64"), "conv", x, w) - oracle.conv(x, w)).max()
    err32 = np.abs(run(TorchBackend("float32"), "conv", x, w) - oracle.conv(x, w)).max()
    assert err64 < 1e-3 * np.finfo(np.float32).eps * mag < err32


def test_conv_unbatched_input_is_torch_unbatched_form(backend):
    x, w = data(2, (3, 8, 8), (4, 3, 3, 3))
    got = run(backend, "conv", x, w, padding=1)
    want = oracle.conv(x[None], w, padding=1)[0]
    mag = oracle.abs_bound_conv(x[None], w, padding=1)[0]
    np.testing.assert_allclose(got, want, rtol=0, atol=summation_atol(backend.dtype, 27, mag))


def test_conv_input_of_other_rank_gets_torch_own_error(backend):
    x, w = data(2, (8, 8), (4, 1, 3, 3))
    with pytest.raises(RuntimeError, match="Expected 3D .unbatched. or 4D .batched. input"):
        run(backend, "conv", x, w)


def test_conv_same_with_stride_raises_torch_error(backend):
    x, w = data(3, (1, 2, 8, 8), (2, 2, 3, 3))
    with pytest.raises(RuntimeError, match="same"):
        run(backend, "conv", x, w, stride=2, padding="same")


def test_conv_reads_layout_table_at_call_time(backend, monkeypatch):
    x, w = data(4, (1, 3, 6, 6), (3, 3, 3, 3))  # O == I: a swapped layout still runs
    right = run(backend, "conv", x, w)
    monkeypatch.setitem(layouts.KERNEL_LAYOUTS, ("torch", "functional", "conv"), "IO*")
    wrong = run(backend, "conv", x, w)
    assert np.abs(wrong - right).max() > 1e-2


from _conv_cases import CONV_TRANSPOSE_CASES as CONV_T_CASES  # noqa: E402


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV_T_CASES)
def test_conv_transpose_matches_oracle(backend, x_shape, w_shape, kwargs):
    groups = kwargs.get("groups", 1)
    x, w, b = data(5, x_shape, w_shape, (w_shape[1] * groups,))
    got = run(backend, "conv_transpose", x, w, b, **kwargs)
    want = oracle.conv_transpose(x, w, b, **kwargs)
    n_terms = w_shape[0] // groups * math.prod(w_shape[2:]) + 1  # upper bound on products per output
    mag = oracle.magnitude(oracle.conv_transpose, x, w, **kwargs) + channel_column(b, x.ndim - 2)
    np.testing.assert_allclose(got, want, rtol=0, atol=summation_atol(backend.dtype, n_terms, mag))


def test_linear_matches_oracle(backend):
    x, w, b = data(6, (3, 5, 7), (4, 7), (4,))
    mag = oracle.magnitude(oracle.linear, x, w, b)
    np.testing.assert_allclose(run(backend, "linear", x, w, b), oracle.linear(x, w, b), rtol=0,
                               atol=summation_atol(backend.dtype, 8, mag))


@pytest.mark.parametrize("method, shape", [("pixel_shuffle", (2, 12, 3, 4)), ("depth_to_space", (2, 12, 3, 4)),
                                           ("pixel_unshuffle", (2, 3, 6, 4)), ("space_to_depth", (2, 3, 6, 4))])
def test_shuffles_are_exact(backend, method, shape):
    (x,) = data(7, shape)
    x = x.astype(backend.dtype)  # exactly representable, so equality is exact
    np.testing.assert_array_equal(run(backend, method, x, 2), getattr(oracle, method)(x, 2))
    np.testing.assert_array_equal(run(backend, method, x[0], 2), getattr(oracle, method)(x, 2)[0])


def test_pixel_shuffle_differs_from_depth_to_space_when_channels_exceed_one(backend):
    (x,) = data(8, (1, 8, 2, 2))
    assert not np.array_equal(run(backend, "pixel_shuffle", x, 2), run(backend, "depth_to_space", x, 2))


@pytest.mark.parametrize("method", ["pixel_shuffle", "depth_to_space", "pixel_unshuffle", "space_to_depth"])
def test_shuffles_beyond_2d_are_not_applicable(backend, method):
    x = backend.asarray(np.zeros((1, 8, 2, 2, 2)))
    with pytest.raises(NotApplicable, match="2-D"):
        getattr(backend, method)(x, 2)


POOL_CASES = [
    ((2, 3, 9), 3, None, 1),
    ((1, 2, 7, 8), (2, 3), (2, 2), (1, 1)),
    ((1, 2, 6, 6), 2, None, 0),
    ((1, 1, 5, 6, 7), (2, 3, 2), (1, 2, 2), 0),
]


@pytest.mark.parametrize("shape, kernel, stride, padding", POOL_CASES)
def test_max_pool_values_and_indices_are_exact(backend, shape, kernel, stride, padding):
    (x,) = data(9, shape)
    x = x.astype(backend.dtype)
    values, indices = backend.max_pool(backend.asarray(x), kernel, stride, padding, return_indices=True)
    want_values, want_indices = oracle.max_pool(x, kernel, stride, padding, return_indices=True)
    np.testing.assert_array_equal(backend.to_numpy(values), want_values)
    np.testing.assert_array_equal(backend.to_numpy(indices), want_indices)
    unpooled = backend.max_unpool(values, indices, kernel, stride, output_size=shape)
    np.testing.assert_array_equal(backend.to_numpy(unpooled), oracle.max_unpool(want_values, want_indices, shape))


def test_max_pool_asymmetric_padding(backend):
    (x,) = data(10, (1, 2, 6, 5))
    got = run(backend, "max_pool", x, 2, 2, ((0, 1), (1, 0)))
    np.testing.assert_array_equal(got, oracle.max_pool(x.astype(backend.dtype), 2, 2, ((0, 1), (1, 0))))
    with pytest.raises(NotApplicable, match="symmetric"):
        backend.max_pool(backend.asarray(x), 2, 2, ((0, 1), (1, 0)), return_indices=True)


@pytest.mark.parametrize("shape, kernel, stride, padding", POOL_CASES + [((1, 2, 6, 5), 2, 1, ((1, 0), (0, 1)))])
def test_avg_pool_matches_oracle(backend, shape, kernel, stride, padding):
    (x,) = data(11, shape)
    want = oracle.avg_pool(x, kernel, stride, padding)
    n_terms = math.prod(kernel) if isinstance(kernel, tuple) else kernel ** (len(shape) - 2)
    mag = oracle.avg_pool(np.abs(x), kernel, stride, padding)
    np.testing.assert_allclose(run(backend, "avg_pool", x, kernel, stride, padding), want, rtol=0,
                               atol=summation_atol(backend.dtype, n_terms, mag))


@pytest.mark.parametrize("kwargs", [dict(), dict(stride=2, padding=1, dilation=(1, 2)), dict(padding=((0, 1), (1, 0)))])
def test_extract_patches_is_unfold_in_c_k_order(backend, kwargs):
    (x,) = data(12, (2, 3, 7, 6))
    x = x.astype(backend.dtype)
    assert backend.patch_order == "C,k"
    got = run(backend, "extract_patches", x, (2, 3), **kwargs)
    np.testing.assert_array_equal(got, oracle.unfold(x, (2, 3), **kwargs))


@pytest.mark.parametrize("shape, kernel", [((1, 2, 8), (3,)), ((1, 2, 4, 4, 4), (2, 2, 2))])
def test_extract_patches_other_ranks_not_applicable(backend, shape, kernel):
    with pytest.raises(NotApplicable, match="2-D patches only"):
        backend.extract_patches(backend.asarray(np.zeros(shape)), kernel)


def test_vjp_of_conv_gives_oracle_input_and_weight_gradients(backend):
    kwargs = dict(stride=2, padding=1, dilation=1, groups=2)
    x, w, cot = data(13, (2, 4, 7, 8), (6, 2, 3, 3), (2, 6, 4, 4))
    grad_x, grad_w = backend.vjp(lambda xx, ww: backend.conv(xx, ww, **kwargs),
                                 [backend.asarray(x), backend.asarray(w)], backend.asarray(cot))
    want_x = oracle.conv_input_grad(cot, w, x.shape, **kwargs)
    want_w = oracle.conv_weight_grad(x, cot, w.shape, **kwargs)
    # input gradient: ≤ O/groups·prod(k) = 27 products; weight gradient: N·prod(out) = 32
    mag_x = oracle.conv_input_grad(np.abs(cot), np.abs(w), x.shape, **kwargs)
    mag_w = oracle.conv_weight_grad(np.abs(x), np.abs(cot), w.shape, **kwargs)
    np.testing.assert_allclose(backend.to_numpy(grad_x), want_x, rtol=0, atol=summation_atol(backend.dtype, 27, mag_x))
    np.testing.assert_allclose(backend.to_numpy(grad_w), want_w, rtol=0, atol=summation_atol(backend.dtype, 32, mag_w))


def test_layer_kernel_shape_and_param_count_from_seed(backend):
    handle = backend.layer("conv", rank=2, in_channels=8, out_channels=16, kernel_size=(7, 7))
    assert handle.api == "torch.nn.Conv2d"
    assert handle.kernel_shape == (16, 8, 7, 7)
    assert handle.kernel_layout == "OIHW"
    assert handle.param_count == 16 * (8 * 7 * 7 + 1)
    assert backend.layer("conv", in_channels=6, out_channels=16, kernel_size=3).native.weight.numel() == 864


@pytest.mark.parametrize("kind, rank, kwargs, x_shape", [
    ("conv", 1, dict(out_channels=4, kernel_size=3, stride=2, padding=1), (2, 3, 9)),
    ("conv", 2, dict(out_channels=4, kernel_size=3, padding="same", dilation=2), (2, 3, 7, 6)),
    ("conv", 3, dict(out_channels=6, kernel_size=(1, 3, 3), groups=3), (1, 3, 4, 5, 5)),
    ("conv_transpose", 1, dict(out_channels=4, kernel_size=3, stride=2, padding=1), (2, 3, 5)),
    ("conv_transpose", 2, dict(out_channels=4, kernel_size=(3, 2), stride=2), (1, 2, 3, 4)),
    ("conv_transpose", 3, dict(out_channels=2, kernel_size=2, stride=2), (1, 2, 2, 3, 2)),
    ("depthwise", 1, dict(kernel_size=3, depth_multiplier=2), (2, 3, 7)),
    ("depthwise", 2, dict(kernel_size=3, depth_multiplier=2, padding="same"), (2, 3, 6, 6)),
    ("depthwise", 3, dict(kernel_size=2, depth_multiplier=1), (1, 3, 3, 4, 4)),
])
def test_layers_match_oracle(backend, kind, rank, kwargs, x_shape):
    handle = backend.layer(kind, rank=rank, in_channels=x_shape[1], **kwargs)
    channels, k = x_shape[1], handle.kernel_shape[2:]
    if kind == "depthwise":
        canonical_shape = (channels, kwargs["depth_multiplier"]) + k
    elif kind == "conv_transpose":
        canonical_shape = (channels, kwargs["out_channels"]) + k
    else:
        canonical_shape = (kwargs["out_channels"], channels // kwargs.get("groups", 1)) + k
    x, w, b = data(14, x_shape, canonical_shape, (handle.native.out_channels,))
    handle.set_weights(backend.asarray(w), backend.asarray(b))
    got = backend.to_numpy(handle(backend.asarray(x)))
    options = {name: value for name, value in kwargs.items() if name in ("stride", "padding", "dilation", "groups")}
    if kind == "conv_transpose":
        want, mag = oracle.conv_transpose(x, w, b, **options), oracle.magnitude(oracle.conv_transpose, x, w, **options)
    else:
        if kind == "depthwise":
            w, options["groups"] = layouts.depthwise_to_grouped(w), channels
        want, mag = oracle.conv(x, w, b, **options), oracle.abs_bound_conv(x, w, **options)
    n_terms = channels * math.prod(k) + 1
    mag = mag + channel_column(b, rank)
    np.testing.assert_allclose(got, want, rtol=0, atol=summation_atol(backend.dtype, n_terms, mag))
    assert handle.param_count == w.size + b.size


def test_dense_layer_and_wrong_kernel_shape(backend):
    handle = backend.layer("dense", in_channels=50, out_channels=1)
    assert handle.kernel_shape == (1, 50) and handle.param_count == 51
    x, w, b = data(15, (4, 6, 50), (1, 50), (1,))
    handle.set_weights(w, b)
    np.testing.assert_allclose(backend.to_numpy(handle(backend.asarray(x))), oracle.linear(x, w, b), rtol=0,
                               atol=summation_atol(backend.dtype, 51, oracle.magnitude(oracle.linear, x, w, b)))
    with pytest.raises(RuntimeError, match="size mismatch"):
        handle.set_weights(w.T, b)
    with pytest.raises(RuntimeError):
        handle(backend.asarray(np.zeros((4, 50, 6))))


def test_settings_versions_and_missing_gpu(backend):
    import torch

    assert backend.versions()["torch"] == torch.__version__
    settings = backend.numeric_settings()
    assert settings["device"] == "cpu" and isinstance(settings["cuda.matmul.allow_tf32"], (bool, str))
    assert {"float32_matmul_precision", "mkldnn.enabled", "num_threads"} <= set(settings)
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailable, match="gpu"):
            TorchBackend(device="gpu")


def test_depthwise_layer_reads_layout_table_at_call_time(backend, monkeypatch):
    handle = backend.layer("depthwise", in_channels=3, kernel_size=3, depth_multiplier=2, use_bias=False)
    assert handle.kernel_shape == (6, 1, 3, 3) and handle.kernel_layout == "CMHW"
    x, w = data(16, (1, 3, 5, 5), (3, 2, 3, 3))
    handle.set_weights(w)
    right = backend.to_numpy(handle(backend.asarray(x)))
    monkeypatch.setitem(layouts.KERNEL_LAYOUTS, ("torch", "nn", "depthwise"), "MC*")
    handle.set_weights(w)
    assert np.abs(backend.to_numpy(handle(backend.asarray(x))) - right).max() > 1e-2


def test_conv_transpose_layer_valid_is_zero_padding_and_same_is_torch_error(backend):
    x = backend.asarray(np.zeros((1, 2, 3, 3)))
    valid = backend.layer("conv_transpose", in_channels=2, out_channels=1, kernel_size=3, stride=2)
    assert valid(x).shape == (1, 1, 7, 7)
    with pytest.raises(TypeError):
        backend.layer("conv_transpose", in_channels=2, out_channels=1, kernel_size=3, padding="same")(x)


def test_asarray_accepts_negative_stride_views(backend):
    kernel = np.arange(6.0).reshape(1, 1, 2, 3)
    flipped = np.flip(kernel, axis=(2, 3))  # a view with negative strides
    assert np.array_equal(backend.to_numpy(backend.asarray(flipped)), flipped)
    single = np.flip(np.ones((1, 1, 1)), axis=2)  # one element: "contiguous", strides still negative
    assert np.array_equal(backend.to_numpy(backend.asarray(single)), single)


# A (1, C=2, H=1, W=2) map: channel 0 holds 0, 1 and channel 1 holds 2, 3.  Flattened channel-major (NCHW,
# x.view(N, -1)) it reads 0, 1, 2, 3; flattened channels-last (NHWC) it reads 0, 2, 1, 3.
TWO_CHANNEL_MAP = np.array([[[[0.0, 1.0]], [[2.0, 3.0]]]])


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 4, 5), (2, 3, 2, 4, 5)])
def test_flatten_layer_is_torch_nn_flatten_over_the_tensor_as_given(backend, shape):
    rank = len(shape) - 2
    handle = backend.layer("flatten", rank=rank, in_channels=shape[1])
    assert handle.api == "torch.nn.Flatten" and isinstance(handle.native, backend.torch.nn.Flatten)
    assert handle.param_count == 0 and handle.extra["input_layout"] == layouts.data_layout("torch", rank)
    x = np.arange(math.prod(shape), dtype=np.float64).reshape(shape)
    got = handle(backend.to_native(backend.asarray(x)))
    assert got.dtype == getattr(backend.torch, backend.dtype)
    np.testing.assert_array_equal(backend.to_numpy(got), x.reshape(shape[0], -1))   # channel-major, NCHW
    # no layout conversion inside the handle: a channels-last tensor is flattened channels-last
    channels_last = backend.transpose(backend.asarray(x), (0, *range(2, rank + 2), 1))
    np.testing.assert_array_equal(backend.to_numpy(handle(channels_last)), np.moveaxis(x, 1, -1).reshape(shape[0], -1))
    with pytest.raises(ValueError, match="no weights"):
        handle.set_weights(np.zeros(1))


def test_flatten_layer_hand_computed_order(backend):
    handle = backend.layer("flatten", in_channels=2)
    got = backend.to_numpy(handle(backend.to_native(backend.asarray(TWO_CHANNEL_MAP))))
    np.testing.assert_array_equal(got, [[0.0, 1.0, 2.0, 3.0]])
