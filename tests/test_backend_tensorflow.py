"""The TensorFlow adapter (tf.nn + keras.layers) against the NumPy float64 oracle.

Tolerances: a float sum of n products obeys |fl(Σ) − Σ| ≤ γ_n·Σ|terms|, γ_n ≈ n·u
with u = eps/2 (Higham, Accuracy and Stability of Numerical Algorithms, §3.1);
rounding each input to the run dtype adds at most 2u per product.  Hence
``(n + 2)·eps·max Σ|terms|`` bounds the error with a factor-2 margin; Σ|terms|
comes from the oracle on |x|, |w|.  Rearrangements, max pooling and indices are exact.
"""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("keras")

from equivcheck import known_issues, layouts, oracle  # noqa: E402
from equivcheck.backends import NotApplicable, load  # noqa: E402

DTYPES = ("float32", "float64")


@pytest.fixture(scope="module", params=DTYPES)
def backend(request):
    return load("tensorflow", request.param)


def atol(dtype, n_terms, magnitude):
    """Error bound for sums of ``n_terms`` products with Σ|terms| = ``magnitude`` (module doc)."""
    return (n_terms + 2) * np.finfo(dtype).eps * float(np.max(magnitude, initial=0.0))


def data(seed, *shapes, dtype="float64"):
    """Uniform(-1, 1) arrays; ``dtype`` rounds them first, for comparisons that must be exact."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, shape).astype(dtype).astype(np.float64) for shape in shapes]


def run(backend, method, *arrays, **kwargs):
    """``backend.method`` on NumPy arrays crossed into TF; the result back in NumPy."""
    with backend.session():
        out = getattr(backend, method)(*(backend.asarray(a) if isinstance(a, np.ndarray) else a
                                         for a in arrays), **kwargs)
    return tuple(map(backend.to_numpy, out)) if isinstance(out, tuple) else backend.to_numpy(out)


def bias_column(b, rank):
    return np.abs(b).reshape((-1,) + (1,) * rank)


CONV_CASES = [  # (x shape, w shape, kwargs)
    ((2, 3, 9), (4, 3, 3), {}),
    ((2, 4, 11), (6, 2, 3), dict(stride=2, dilation=2, groups=2, padding=2)),
    ((1, 3, 8, 7), (5, 3, 3, 2), dict(stride=(2, 1), padding=((0, 1), (2, 1)))),
    ((2, 4, 9, 8), (6, 2, 3, 3), dict(stride=2, dilation=2, groups=2, padding=1)),
    ((2, 4, 9, 9), (4, 1, 3, 3), dict(groups=4, dilation=(1, 2), padding=(1, 2))),
    ((1, 2, 7, 6), (3, 2, 4, 3), dict(padding="same", stride=2)),  # TF's 'SAME' with stride
    ((1, 2, 7, 6), (3, 2, 3, 3), dict(padding="valid")),
    ((1, 2, 5, 6, 7), (3, 2, 2, 3, 3), dict(stride=(1, 2, 2), padding=1)),
    ((1, 4, 6, 5, 5), (2, 2, 3, 1, 2), dict(groups=2, padding=((1, 0), (0, 0), (0, 1)))),
    # 3-D dilation: float64 tf.nn.conv3d on CPU has none; the adapter goes through tf.nn.convolution
    ((1, 2, 5, 6, 7), (3, 2, 2, 2, 3), dict(dilation=(1, 2, 2), stride=(2, 1, 1), padding=1)),
    ((1, 1, 1, 1, 3), (1, 1, 1, 1, 1), dict(dilation=(1, 1, 2))),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV_CASES)
def test_conv_matches_oracle(backend, x_shape, w_shape, kwargs):
    x, w, b = data(0, x_shape, w_shape, (w_shape[0],))
    got = run(backend, "conv", x, w, b, **kwargs)
    n_terms = math.prod(w_shape[1:]) + 1  # products per output, plus the bias
    mag = oracle.abs_bound_conv(x, w, **kwargs) + bias_column(b, len(x_shape) - 2)
    np.testing.assert_allclose(got, oracle.conv(x, w, b, **kwargs), rtol=0, atol=atol(backend.dtype, n_terms, mag))


def test_grouped_conv_composed_by_split_matches_oracle(backend, monkeypatch):
    # the split+concat route used where a build has no grouped kernel (CPU conv3d), forced in 2-D
    monkeypatch.setattr(backend, "_grouped", {("conv", 2): False})
    x, w = data(2, (1, 6, 7, 7), (6, 2, 3, 3))
    got = run(backend, "conv", x, w, groups=3, padding=1)
    np.testing.assert_allclose(got, oracle.conv(x, w, groups=3, padding=1), rtol=0,
                               atol=atol(backend.dtype, 18, oracle.abs_bound_conv(x, w, groups=3, padding=1)))


def test_float64_really_computes_in_float64():
    # float32 rounding leaves errors ≈ eps32·Σ|x·w|; a true float64 run is orders of magnitude below.
    x, w = data(1, (1, 8, 12, 12), (4, 8, 3, 3))
    mag = oracle.abs_bound_conv(x, w).max()
    err64 = np.abs(run(load("tensorflow", "float64"), "conv", x, w) - oracle.conv(x, w)).max()
    err32 = np.abs(run(load("tensorflow", "float32"), "conv", x, w) - oracle.conv(x, w)).max()
    assert err64 < 1e-3 * np.finfo(np.float32).eps * mag < err32


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_conv_unbatched_input_gets_tensorflow_own_error(backend, rank):
    # TF has no unbatched conv: its shape inference must reject (C, *sp) -- and the process survive
    x, w = data(3, (2,) + (5,) * rank, (3, 2) + (2,) * rank)
    for padding in (0, 1):
        with pytest.raises(ValueError, match=f"rank {rank + 2}"):
            run(backend, "conv", x, w, padding=padding)


def test_conv_filter_must_span_input_depth(backend):
    x, w = data(4, (1, 10, 12, 12), (5, 5, 5, 5))  # seed 003: (5,5,5,5) on 10 channels
    with pytest.raises(Exception, match="divisible"):
        run(backend, "conv", x, w)


def test_conv_reads_layout_table_at_call_time(backend, monkeypatch):
    x, w = data(5, (1, 3, 6, 6), (4, 3, 3, 3))
    good = run(backend, "conv", x, w)
    monkeypatch.setitem(layouts.KERNEL_LAYOUTS, ("tensorflow", "tf.nn", "conv"), "*OI")
    try:
        wrong = run(backend, "conv", x, w)
    except Exception:  # noqa: BLE001 - a shape error is also a visible break
        return
    assert wrong.shape != good.shape or not np.allclose(wrong, good)


CONV_TRANSPOSE_CASES = [  # (x shape, w shape (I, O/g, *k), kwargs)
    ((2, 3, 5), (3, 2, 3), dict(stride=2, padding=1, output_padding=1)),
    ((1, 4, 6), (4, 3, 3), dict(stride=3, padding=2, dilation=2, groups=2)),
    ((2, 4, 4, 5), (4, 3, 3, 3), {}),
    ((1, 4, 4, 5), (4, 3, 3, 2), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ((1, 2, 4, 4), (2, 3, 3, 3), dict(stride=(2, 1), dilation=2, padding=((1, 0), (2, 1)))),
    ((1, 2, 4, 4), (2, 2, 3, 3), dict(dilation=3, output_padding=2, padding=1)),  # output_padding ≥ stride
    ((1, 2, 3, 4, 3), (2, 2, 2, 3, 2), dict(stride=2, padding=1, output_padding=(1, 0, 1))),
    ((1, 4, 3, 3, 3), (4, 1, 2, 2, 2), dict(stride=2, groups=2)),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV_TRANSPOSE_CASES)
def test_conv_transpose_matches_oracle(backend, x_shape, w_shape, kwargs):
    x, w, b = data(6, x_shape, w_shape, (w_shape[1] * kwargs.get("groups", 1),))
    if backend.dtype == "float64" and kwargs.get("dilation", 1) != 1:
        # oneDNN has no float64 kernels; TF's own CPU backprop-input kernel has no dilation
        with pytest.raises(Exception, match="dilation rates larger than 1"):
            run(backend, "conv_transpose", x, w, b, **kwargs)
        return
    try:
        got = run(backend, "conv_transpose", x, w, b, **kwargs)
    except Exception as exc:  # noqa: BLE001 - only a gap the registry knows may skip; anything else fails
        # float32 goes to oneDNN, whose dilated backprop kernels depend on the CPU (equivcheck/known_issues/)
        try:
            known_issues.missing_kernel(backend, "conv_transpose", len(x_shape) - 2, exc,
                                        stride=kwargs.get("stride", 1), dilation=kwargs.get("dilation", 1),
                                        groups=kwargs.get("groups", 1))
        except known_issues.KnownIssueSkip as known:
            pytest.skip(f"{known} (this CPU's oneDNN)")
        raise
    n_terms = w_shape[0] // kwargs.get("groups", 1) * math.prod(w_shape[2:]) + 1
    mag = oracle.magnitude(oracle.conv_transpose, x, w, **kwargs) + bias_column(b, len(x_shape) - 2)
    np.testing.assert_allclose(got, oracle.conv_transpose(x, w, b, **kwargs), rtol=0,
                               atol=atol(backend.dtype, n_terms, mag))


def test_linear_on_last_axis_and_wrong_axis_raises(backend):
    x, w, b = data(7, (3, 4, 5), (2, 5), (2,))
    mag = oracle.magnitude(oracle.linear, x, w) + np.abs(b)
    np.testing.assert_allclose(run(backend, "linear", x, w, b), oracle.linear(x, w, b), rtol=0,
                               atol=atol(backend.dtype, 6, mag))
    with pytest.raises(Exception, match="ncompatible"):  # seed 003: in_features on the wrong axis
        run(backend, "linear", np.zeros((3, 5, 4)), w)


@pytest.mark.parametrize("method, shape", [("pixel_shuffle", (2, 12, 3, 2)), ("pixel_unshuffle", (2, 3, 4, 6)),
                                           ("depth_to_space", (2, 12, 3, 2)), ("space_to_depth", (2, 3, 4, 6))])
def test_shuffles_are_exact(backend, method, shape):
    (x,) = data(8, shape, dtype=backend.dtype)
    np.testing.assert_array_equal(run(backend, method, x, 2), getattr(oracle, method)(x, 2))


def test_pixel_shuffle_differs_from_depth_to_space_beyond_one_channel(backend):
    (x,) = data(9, (1, 8, 2, 2))
    assert not np.array_equal(run(backend, "pixel_shuffle", x, 2), run(backend, "depth_to_space", x, 2))
    (one,) = data(9, (1, 4, 2, 2))
    np.testing.assert_array_equal(run(backend, "pixel_shuffle", one, 2), run(backend, "depth_to_space", one, 2))


POOL_CASES = [((2, 3, 6, 6), 2, None, 0), ((1, 2, 7, 5), 3, 2, 1), ((1, 2, 7, 6), (3, 2), 1, ((1, 0), (0, 1))),
              ((1, 2, 7, 6), 3, 2, "same")]


@pytest.mark.parametrize("shape, kernel, stride, padding", POOL_CASES)
def test_max_pool_argmax_in_tf_convention_and_unpool(backend, shape, kernel, stride, padding):
    (x,) = data(10, shape, dtype=backend.dtype)
    values, indices = run(backend, "max_pool", x, kernel, stride, padding, return_indices=True)
    want_values, torch_indices = oracle.max_pool(x, kernel, stride, padding, return_indices=True)
    np.testing.assert_array_equal(values, want_values)
    channels = np.arange(shape[1]).reshape(1, -1, 1, 1)
    # tf.nn.max_pool_with_argmax: flat (y*W + x)*C + c per batch element; PyTorch's is y*W + x
    np.testing.assert_array_equal(indices, torch_indices * shape[1] + channels)
    with backend.session():
        unpooled = backend.max_unpool(backend.asarray(values), backend.tf.constant(indices.astype(np.int64)),
                                      kernel, stride, output_size=shape[2:])
    np.testing.assert_array_equal(backend.to_numpy(unpooled), oracle.max_unpool(want_values, torch_indices, shape[2:]))


@pytest.mark.parametrize("shape", [(1, 2, 8), (1, 2, 4, 4, 4)])
def test_pools_other_ranks_and_argmax_only_2d(backend, shape):
    (x,) = data(11, shape, dtype=backend.dtype)
    if backend.dtype == "float64" and len(shape) == 5:  # TF's Max/AvgPool3D have no float64 CPU kernel
        with pytest.raises(Exception, match="double is not in the list of allowed values"):
            run(backend, "max_pool", x, 2, 2, 1)
        with pytest.raises(Exception, match="Could not find device for node.*AvgPool3D"):
            run(backend, "avg_pool", x, 2, 2, 1)
    else:
        np.testing.assert_array_equal(run(backend, "max_pool", x, 2, 2, 1), oracle.max_pool(x, 2, 2, 1))
        np.testing.assert_allclose(run(backend, "avg_pool", x, 2, 2, 1), oracle.avg_pool(x, 2, 2, 1), rtol=0,
                                   atol=atol(backend.dtype, 2 ** len(shape), np.abs(x)))
    with pytest.raises(NotApplicable, match="2-D"):
        run(backend, "max_pool", x, 2, return_indices=True)


@pytest.mark.parametrize("shape, kernel, stride, padding", POOL_CASES[:3])
def test_avg_pool_counts_padding_like_oracle(backend, shape, kernel, stride, padding):
    (x,) = data(12, shape)
    k = math.prod((kernel,) * 2 if isinstance(kernel, int) else kernel)
    np.testing.assert_allclose(run(backend, "avg_pool", x, kernel, stride, padding),
                               oracle.avg_pool(x, kernel, stride, padding), rtol=0,
                               atol=atol(backend.dtype, k, np.abs(x)))  # a mean of k terms ≤ max|x|


@pytest.mark.parametrize("shape, kwargs", [((2, 3, 9), dict(kernel=(3,), stride=2, padding=1, dilation=2)),
                                           ((1, 3, 6, 5), dict(kernel=(2, 3), stride=(1, 2), padding=1, dilation=(2, 1))),
                                           ((1, 2, 4, 5, 4), dict(kernel=(2, 2, 3), stride=1, padding=(1, 0, 1)))])
def test_extract_patches_is_unfold_in_k_c_order(backend, shape, kwargs):
    (x,) = data(13, shape, dtype=backend.dtype)
    want = oracle.unfold(x, **kwargs)  # torch order: feature = c*prod(k) + offset
    n, f, length = want.shape
    want_kc = want.reshape(n, shape[1], f // shape[1], length).transpose(0, 2, 1, 3).reshape(n, f, length)
    assert backend.patch_order == "k,C"
    np.testing.assert_array_equal(run(backend, "extract_patches", x, **kwargs), want_kc)


def test_extract_volume_patches_have_no_dilation(backend):
    with pytest.raises(NotApplicable, match="dilation"):
        run(backend, "extract_patches", np.zeros((1, 1, 4, 4, 4)), (2, 2, 2), dilation=2)


def test_vjp_of_conv_gives_oracle_input_and_weight_gradients(backend):
    x, w, g = data(14, (2, 3, 7, 6), (4, 3, 3, 2), (2, 4, 4, 4))
    kwargs = dict(stride=2, padding=1)
    with backend.session():
        grads = backend.vjp(lambda a, k: backend.conv(a, k, **kwargs), [backend.asarray(x), backend.asarray(w)],
                            backend.asarray(g))
    gx, gw = map(backend.to_numpy, grads)
    want_x = oracle.conv_input_grad(g, w, x.shape, **kwargs)
    want_w = oracle.conv_weight_grad(x, g, w.shape, **kwargs)
    np.testing.assert_allclose(gx, want_x, rtol=0, atol=atol(backend.dtype, 4 * 6, oracle.magnitude(
        oracle.conv_input_grad, g, w, input_shape=x.shape, **kwargs)))
    np.testing.assert_allclose(gw, want_w, rtol=0, atol=atol(backend.dtype, 2 * 9, oracle.magnitude(
        oracle.conv_weight_grad, x, g, kernel_shape=w.shape, **kwargs)))


def test_layer_kernel_shapes_and_param_counts_from_seeds(backend):
    conv = backend.layer("conv", rank=2, in_channels=8, out_channels=16, kernel_size=(7, 7))
    assert (conv.api, conv.kernel_shape, conv.kernel_layout) == ("keras.layers.Conv2D", (7, 7, 8, 16), "HWIO")
    assert conv.param_count == 16 * (8 * 49 + 1)
    assert backend.layer("conv", rank=2, in_channels=1, out_channels=32, kernel_size=5).kernel_shape == (5, 5, 1, 32)
    assert backend.layer("conv", rank=2, in_channels=6, out_channels=16, kernel_size=3).param_count == 880
    transposed = backend.layer("conv_transpose", rank=2, in_channels=4, out_channels=6, kernel_size=3)
    assert transposed.kernel_shape == (3, 3, 6, 4)
    depthwise = backend.layer("depthwise", rank=2, in_channels=32, kernel_size=5, depth_multiplier=2)
    assert (depthwise.kernel_shape, depthwise.param_count) == ((5, 5, 32, 2), 32 * 2 * 25 + 64)
    assert backend.layer("dense", in_channels=50, out_channels=1).kernel_shape == (50, 1)


LAYER_CASES = [  # (kind, rank, layer kwargs, canonical input shape)
    ("conv", 1, dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, groups=2), (2, 4, 9)),
    ("conv", 2, dict(in_channels=3, out_channels=5, kernel_size=(3, 2), padding="same"), (1, 3, 6, 5)),
    ("conv", 3, dict(in_channels=2, out_channels=3, kernel_size=2, dilation=2), (1, 2, 5, 5, 4)),
    ("conv_transpose", 1, dict(in_channels=3, out_channels=2, kernel_size=3, stride=2), (1, 3, 4)),
    ("conv_transpose", 2, dict(in_channels=3, out_channels=2, kernel_size=3, stride=2), (1, 3, 4, 3)),
    ("conv_transpose", 3, dict(in_channels=2, out_channels=2, kernel_size=2), (1, 2, 3, 3, 2)),
    ("depthwise", 1, dict(in_channels=3, kernel_size=3, depth_multiplier=2), (2, 3, 7)),
    ("depthwise", 2, dict(in_channels=3, kernel_size=3, depth_multiplier=2, stride=2), (1, 3, 7, 6)),
]


@pytest.mark.parametrize("kind, rank, kwargs, x_shape", LAYER_CASES)
def test_layers_match_oracle(backend, kind, rank, kwargs, x_shape):
    handle = backend.layer(kind, rank=rank, **kwargs)
    c_in, groups = kwargs["in_channels"], kwargs.get("groups", 1)
    m = kwargs.get("depth_multiplier", 1)
    canonical_shape = {"conv": (kwargs.get("out_channels"), c_in // groups),
                       "conv_transpose": (c_in, kwargs.get("out_channels")), "depthwise": (c_in, m)}[kind]
    k = tuple(kwargs["kernel_size"]) if isinstance(kwargs["kernel_size"], tuple) else (kwargs["kernel_size"],) * rank
    out_channels = canonical_shape[1] if kind == "conv_transpose" else (
        c_in * m if kind == "depthwise" else canonical_shape[0])
    x, w, b = data(15, x_shape, canonical_shape + k, (out_channels,))
    handle.set_weights(w, b)
    with backend.session():
        got = backend.to_numpy(handle(backend.asarray(x)))
    conv_args = dict(stride=kwargs.get("stride", 1), dilation=kwargs.get("dilation", 1))
    if kind == "conv_transpose":
        want, mag = oracle.conv_transpose(x, w, b, **conv_args), oracle.magnitude(oracle.conv_transpose, x, w, **conv_args)
    else:
        grouped = layouts.depthwise_to_grouped(w) if kind == "depthwise" else w
        conv_args.update(groups=c_in if kind == "depthwise" else groups, padding=kwargs.get("padding", "valid"))
        want, mag = oracle.conv(x, grouped, b, **conv_args), oracle.abs_bound_conv(x, grouped, **conv_args)
    n_terms = w.size // w.shape[0 if kind == "conv_transpose" else 1] + 1
    np.testing.assert_allclose(got, want, rtol=0, atol=atol(backend.dtype, n_terms, mag + np.abs(b).max()))


def test_layers_tensorflow_lacks(backend):
    with pytest.raises(NotApplicable, match="DepthwiseConv3D"):
        backend.layer("depthwise", rank=3, in_channels=2, kernel_size=2)
    with pytest.raises(NotApplicable, match="groups"):
        backend.layer("conv_transpose", rank=2, in_channels=4, out_channels=4, kernel_size=2, groups=2)


def test_dense_layer_and_unbatched_conv_layer(backend, request):
    if backend.keras_backend == "torch" and backend.dtype == "float64":
        # Keras 3.15 on torch: dtypes.result_type(torch.float64, torch.float64) is 'float32',
        # so keras.ops.matmul (and Dense) computes float64 inputs in float32.
        request.applymarker(pytest.mark.xfail(strict=True, reason="Keras-on-torch matmul downcasts float64"))
    dense = backend.layer("dense", in_channels=5, out_channels=2)
    x, w, b = data(16, (3, 4, 5), (2, 5), (2,))
    dense.set_weights(w, b)
    with backend.session():
        got = backend.to_numpy(dense(backend.asarray(x)))
    np.testing.assert_allclose(got, oracle.linear(x, w, b), rtol=0,
                               atol=atol(backend.dtype, 6, oracle.magnitude(oracle.linear, x, w) + np.abs(b)))
    conv = backend.layer("conv", rank=2, in_channels=3, out_channels=2, kernel_size=2)
    with pytest.raises(ValueError, match="ndim"), backend.session():
        conv(backend.asarray(np.zeros((3, 5, 5))))
    # neither batched nor unbatched (no channel axis either): Keras' own error, not a transpose error
    with pytest.raises(ValueError, match="expected min_ndim=4, found ndim=2"), backend.session():
        conv(backend.asarray(np.zeros((5, 5))))


def test_settings_versions_and_missing_gpu(backend):
    import tensorflow as tf
    settings = backend.numeric_settings()
    assert {"tensor_float_32_execution", "TF_ENABLE_ONEDNN_OPTS", "onednn_enabled", "keras_backend", "device"} <= set(settings)
    assert backend.versions()["tensorflow"] == tf.__version__
    if not tf.config.list_physical_devices("GPU"):
        from equivcheck.backends.tensorflow import TensorflowBackend
        with pytest.raises(RuntimeError, match="no GPU"):
            TensorflowBackend(device="gpu")


SCRIPT = """
import numpy as np
from equivcheck.backends import load
from equivcheck import oracle
x, w = np.random.default_rng(0).uniform(-1, 1, (1, 3, 6, 6)), np.random.default_rng(1).uniform(-1, 1, (4, 3, 3, 3))
for dtype in ("float32", "float64"):
    be = load("tensorflow", dtype)
    handle = be.layer("conv", rank=2, in_channels=3, out_channels=4, kernel_size=3)
    handle.set_weights(w)
    with be.session():
        err = np.abs(be.to_numpy(handle(be.asarray(x))) - oracle.conv(x, w)).max()
    print(be.numeric_settings()["keras_backend"], dtype, err)
"""


@pytest.mark.parametrize("keras_backend", ["jax", "torch"])
def test_keras_layers_on_other_keras_backends(keras_backend):
    """A fresh interpreter per Keras backend (≈ 7 s each, nearly all imports), so it is opt-in here:
    the keras-jax and keras-torch tox envs run every claim through those backends instead."""
    if os.environ.get("EQUIVCHECK_KERAS_BACKENDS") != "1":
        pytest.skip("opt-in (EQUIVCHECK_KERAS_BACKENDS=1; CI sets it): a subprocess per Keras backend; "
                    "tox -e keras-jax,keras-torch runs every claim on those backends")
    keras = pytest.importorskip("keras")
    if int(keras.__version__.split(".")[0]) < 3:
        pytest.skip(f"Keras {keras.__version__} has one backend (TensorFlow); KERAS_BACKEND needs Keras 3")
    pytest.importorskip(keras_backend)
    env = dict(os.environ, KERAS_BACKEND=keras_backend)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [line.split() for line in out.stdout.splitlines()]
    errors = {dtype: float(err) for name, dtype, err in lines if name == keras_backend}
    # 27 products of |x|,|w| ≤ 1 per output: bound (27 + 2)·eps·27 (module doc)
    assert errors["float32"] < 29 * 27 * np.finfo(np.float32).eps
    assert errors["float64"] < 29 * 27 * np.finfo(np.float64).eps  # x64 really on for Keras-on-JAX


# A (1, C=2, H=1, W=2) map: channel 0 holds 0, 1 and channel 1 holds 2, 3.  Flattened channel-major (NCHW,
# x.view(N, -1)) it reads 0, 1, 2, 3; flattened channels-last (NHWC) it reads 0, 2, 1, 3.
TWO_CHANNEL_MAP = np.array([[[[0.0, 1.0]], [[2.0, 3.0]]]])


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 4, 5), (2, 3, 2, 4, 5)])
def test_flatten_layer_is_keras_flatten_of_the_native_map(backend, shape):
    rank = len(shape) - 2
    handle = backend.layer("flatten", rank=rank, in_channels=shape[1])
    assert handle.api == "keras.layers.Flatten" and isinstance(handle.native, backend.keras.layers.Flatten)
    native = layouts.data_layout("tensorflow", rank)
    assert handle.extra["input_layout"] == native and handle.param_count == 0
    assert handle.native.data_format == handle.extra["data_format"] == "channels_last"  # the adapter's NHWC
    x = np.arange(math.prod(shape), dtype=np.float64).reshape(shape)
    with backend.session():
        got = handle(backend.to_native(backend.asarray(x)))
    assert got.dtype == backend.dtype
    # Keras Flatten of the NHWC map: channels vary fastest
    np.testing.assert_array_equal(backend.to_numpy(got), np.moveaxis(x, 1, -1).reshape(shape[0], -1))
    with pytest.raises(ValueError, match="no weights"):
        handle.set_weights(np.zeros(1))


def test_flatten_layer_hand_computed_order(backend):
    handle = backend.layer("flatten", in_channels=2)
    with backend.session():
        got = backend.to_numpy(handle(backend.to_native(backend.asarray(TWO_CHANNEL_MAP))))
    np.testing.assert_array_equal(got, [[0.0, 2.0, 1.0, 3.0]])
