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
        # float32 goes to oneDNN, whose dilated backprop kernels depend on the CPU (known_issues.py)
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


# ---- the porting-pitfall interface: pools, pad, batch_norm, FFT, the new Keras layers ----------------
from equivcheck import op_bounds, tolerance  # noqa: E402


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
