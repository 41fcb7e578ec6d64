"""The Flax adapter (linen functional ops, linen and nnx layers) against the NumPy oracle.

Tolerances as in test_backend_jax.py, explained in _jax_common.py (:func:`bound`:
``n·eps·max Σ|terms|``, a worst-case bound with a factor-2 margin).
"""
import math
import traceback

import numpy as np
import pytest

jax = pytest.importorskip("jax")
pytest.importorskip("flax")

from equivcheck import layouts, oracle  # noqa: E402
from equivcheck.backends import NotApplicable  # noqa: E402
from equivcheck.backends.flax import FlaxBackend  # noqa: E402
from equivcheck.backends.flax.layers import FLAX_REFLECT_SINCE  # noqa: E402
from equivcheck.known_issues.versions import at_least  # noqa: E402

from _jax_common import (  # noqa: E402
    DTYPES, PITFALL_POOL_CASES, POOL_CASES, assert_pitfall_pooling_matches_oracle, assert_pooling_matches_oracle,
    assert_within_model, bias_column, bn_statistics, bound, data, run, session_fixture)

APIS = ("linen", "nnx")
bk = session_fixture(FlaxBackend)


def assert_conv_close(dtype, got, x, w, b=None, **kwargs):
    n_terms = math.prod(w.shape[1:]) + 1
    mag = oracle.abs_bound_conv(x, w, **kwargs) + (0 if b is None else bias_column(b, x.ndim - 2))
    np.testing.assert_allclose(got, oracle.conv(x, w, b, **kwargs), rtol=0, atol=bound(dtype, n_terms, mag))


CONV_CASES = [  # (x shape, w shape, kwargs)
    ((2, 3, 9), (4, 3, 3), {}),
    ((2, 4, 10), (6, 2, 3), dict(stride=2, dilation=2, groups=2, padding=1)),
    ((1, 3, 8, 7), (5, 3, 3, 2), dict(stride=(2, 1), padding=((0, 1), (2, 1)))),
    ((2, 4, 9, 9), (4, 1, 3, 3), dict(groups=4, dilation=(1, 2), padding=(1, 2))),
    ((1, 2, 8, 6), (3, 2, 3, 3), dict(padding="same", stride=2)),  # Flax 'SAME' = TF rule
    ((1, 2, 7, 6), (3, 2, 3, 3), dict(padding="valid")),
    ((1, 2, 5, 6, 7), (3, 2, 2, 3, 3), dict(stride=(1, 2, 2), padding=1)),
    ((1, 4, 6, 5, 5), (2, 2, 3, 1, 2), dict(groups=2, padding=((1, 0), (0, 0), (0, 1)))),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV_CASES)
def test_conv_matches_oracle(bk, x_shape, w_shape, kwargs):
    x, w, b = data(bk, 0, x_shape, w_shape, (w_shape[0],))
    assert bk.conv(bk.asarray(x), bk.asarray(w), **kwargs).dtype == bk.dtype
    assert_conv_close(bk.dtype, run(bk, "conv", x, w, b, **kwargs), x, w, b, **kwargs)


def test_float64_really_computes_in_float64():
    # float32 arithmetic leaves errors ≈ eps32·Σ|x·w|; a true float64 run is far below that.
    errors = {}
    x, w = data(FlaxBackend("float32"), 1, (1, 8, 12, 12), (4, 8, 3, 3))  # float32-exact in both runs
    for dtype in DTYPES:
        backend = FlaxBackend(dtype)
        with backend.session():
            errors[dtype] = np.abs(run(backend, "conv", x, w) - oracle.conv(x, w)).max()
    mag = oracle.abs_bound_conv(x, w).max()
    assert errors["float64"] < 1e-3 * np.finfo(np.float32).eps * mag < errors["float32"]
    assert not jax.config.jax_enable_x64


def test_unbatched_input_is_accepted_by_flax(bk):
    x, w = data(bk, 2, (3, 8, 7), (4, 3, 3, 3))
    assert_conv_close(bk.dtype, run(bk, "conv", x, w, padding=1)[None], x[None], w, padding=1)
    # an int kernel means rank x.ndim − 2, so unbatched pooling spells the kernel per dim
    np.testing.assert_array_equal(run(bk, "max_pool", x, (2, 2)), oracle.max_pool(x[None], 2)[0])


def test_conv_input_of_other_rank_reaches_flax_untouched(bk):
    # (H, W) for a 2-D conv is neither (N, C, H, W) nor (C, H, W): Flax's own error, raised inside Flax
    x, w = data(bk, 3, (6, 7), (2, 1, 3, 3))
    with pytest.raises(Exception) as info:
        run(bk, "conv", x, w)
    assert "flax" in traceback.extract_tb(info.value.__traceback__)[-1].filename


def test_conv_reads_layout_table_at_call_time(bk, monkeypatch):
    x, w = data(bk, 4, (1, 3, 6, 6), (3, 3, 3, 3))  # O == I: a swapped layout still runs
    right = run(bk, "conv", x, w)
    monkeypatch.setitem(layouts.KERNEL_LAYOUTS, ("flax", "linen", "conv"), "*OI")
    assert np.abs(run(bk, "conv", x, w) - right).max() > 1e-2


CONV_T_CASES = [
    ((1, 2, 3), (2, 3, 3), dict(stride=2, output_padding=1)),
    ((2, 4, 5), (4, 2, 3), dict(stride=3, padding=1, dilation=2, output_padding=2)),
    ((1, 3, 4, 5), (3, 2, 3, 3), dict(stride=2, padding=1, output_padding=(1, 0))),
    ((1, 3, 4, 5), (3, 2, 3, 3), dict(stride=2, padding=3)),  # p > d(k−1): negative pads crop
    ((1, 4, 3, 4), (4, 1, 2, 3), dict(stride=(1, 2), padding=((1, 0), (2, 1)), output_padding=(0, 1))),
    ((1, 2, 3, 3, 4), (2, 2, 2, 2, 3), dict(stride=2, padding=(0, 1, 1), dilation=(1, 1, 2))),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV_T_CASES)
def test_conv_transpose_matches_oracle(bk, x_shape, w_shape, kwargs):
    x, w, b = data(bk, 5, x_shape, w_shape, (w_shape[1],))
    got = run(bk, "conv_transpose", x, w, b, **kwargs)
    n_terms = w_shape[0] * math.prod(w_shape[2:]) + 1  # upper bound on products per output
    mag = oracle.magnitude(oracle.conv_transpose, x, w, **kwargs) + bias_column(b, x.ndim - 2)
    np.testing.assert_allclose(got, oracle.conv_transpose(x, w, b, **kwargs), rtol=0, atol=bound(bk.dtype, n_terms, mag))


def test_grouped_conv_transpose_is_not_applicable(bk):
    x, w = data(bk, 5, (1, 4, 3), (4, 1, 3))
    with pytest.raises(NotApplicable, match="feature_group_count"):
        run(bk, "conv_transpose", x, w, groups=2)
    with pytest.raises(NotApplicable, match="feature_group_count"):
        bk.layer("conv_transpose", in_channels=4, out_channels=2, kernel_size=3, groups=2)


def test_transpose_kernel_true_needs_no_flip_and_is_k_O_I(bk):
    """The docstring's other setting: ConvTranspose(transpose_kernel=True) takes the
    PyTorch kernel permuted to (*k, O, I), unflipped, with the same padding pairs."""
    x, w = data(bk, 6, (1, 3, 4, 5), (3, 2, 3, 3))
    module = bk.linen.ConvTranspose(features=2, kernel_size=(3, 3), strides=(2, 2), padding=((1, 2), (1, 2)),
                                    transpose_kernel=True, use_bias=False, dtype=bk.dtype, param_dtype=bk.dtype)
    native_x = bk.asarray(x.transpose(0, 2, 3, 1))
    assert jax.eval_shape(module.init, jax.random.PRNGKey(0), native_x)["params"]["kernel"].shape == (3, 3, 2, 3)
    got = module.apply({"params": {"kernel": bk.asarray(w.transpose(2, 3, 1, 0))}}, native_x)
    want = oracle.conv_transpose(x, w, stride=2, padding=1, output_padding=1)  # pads d(k−1)−p = 1, +1 after
    mag = oracle.magnitude(oracle.conv_transpose, x, w, stride=2, padding=1, output_padding=1)
    np.testing.assert_allclose(bk.to_numpy(got).transpose(0, 3, 1, 2), want, rtol=0, atol=bound(bk.dtype, 28, mag))


def test_linear_matches_oracle(bk):
    x, w, b = data(bk, 6, (3, 5, 7), (4, 7), (4,))
    mag = oracle.magnitude(oracle.linear, x, w, b)
    np.testing.assert_allclose(run(bk, "linear", x, w, b), oracle.linear(x, w, b), rtol=0, atol=bound(bk.dtype, 8, mag))


@pytest.mark.parametrize("shape, kernel, stride, padding", POOL_CASES)
def test_pooling_matches_oracle(bk, shape, kernel, stride, padding):
    assert_pooling_matches_oracle(bk, shape, kernel, stride, padding)


def test_inherited_jax_ops_and_not_applicable(bk):
    (x,) = data(bk, 10, (1, 8, 4, 4))
    np.testing.assert_array_equal(run(bk, "depth_to_space", x, 2), oracle.depth_to_space(x, 2))
    np.testing.assert_array_equal(run(bk, "extract_patches", x, 2), oracle.unfold(x, 2))
    with pytest.raises(NotApplicable, match="argmax"):
        bk.max_pool(bk.asarray(x), 2, return_indices=True)
    t = bk.asarray(x)
    assert bk.to_native(t).shape == (1, 4, 4, 8)  # Flax's N*C
    np.testing.assert_array_equal(bk.to_numpy(bk.from_native(bk.to_native(t))), x)


def test_vjp_through_a_linen_conv(bk):
    x, w = data(bk, 11, (2, 3, 7, 6), (4, 3, 3, 3))
    cot = data(bk, 12, (2, 4, 3, 2))[0]
    grad_x, grad_w = bk.vjp(lambda a, k: bk.conv(a, k, stride=2), [bk.asarray(x), bk.asarray(w)], bk.asarray(cot))
    mag_x = oracle.conv_input_grad(np.abs(cot), np.abs(w), x.shape, stride=2)
    np.testing.assert_allclose(bk.to_numpy(grad_x), oracle.conv_input_grad(cot, w, x.shape, stride=2), rtol=0,
                               atol=bound(bk.dtype, 4 * 9, mag_x))
    mag_w = oracle.conv_weight_grad(np.abs(x), np.abs(cot), w.shape, stride=2)
    np.testing.assert_allclose(bk.to_numpy(grad_w), oracle.conv_weight_grad(x, cot, w.shape, stride=2), rtol=0,
                               atol=bound(bk.dtype, 2 * 3 * 2, mag_w))


# ---- layers ---------------------------------------------------------------------------
LAYER_CASES = [  # (kind, layer kwargs, native kernel shape, parameter count)
    ("conv", dict(in_channels=8, out_channels=16, kernel_size=7), (7, 7, 8, 16), 16 * (8 * 49 + 1)),  # seed 002
    ("conv", dict(rank=1, in_channels=4, out_channels=6, kernel_size=3, stride=2, padding="same", groups=2),
     (3, 2, 6), 6 * (2 * 3 + 1)),
    ("conv", dict(rank=3, in_channels=2, out_channels=3, kernel_size=(1, 2, 3), dilation=(1, 2, 1)),
     (1, 2, 3, 2, 3), 3 * (2 * 6 + 1)),
    ("conv_transpose", dict(in_channels=3, out_channels=2, kernel_size=3, stride=2), (3, 3, 3, 2), 3 * 2 * 9 + 2),
    ("depthwise", dict(in_channels=4, depth_multiplier=2, kernel_size=3), (3, 3, 1, 8), 8 * 9 + 8),
    ("depthwise", dict(rank=1, in_channels=3, depth_multiplier=2, kernel_size=3, use_bias=False), (3, 1, 6), 18),
    ("dense", dict(in_channels=5, out_channels=3), (5, 3), 18),
]


def canonical_weights(bk, kind, kw):
    rank, cin = kw.get("rank", 2), kw["in_channels"]
    k = kw.get("kernel_size", 1)
    k = (k,) * rank if isinstance(k, int) else tuple(k)
    shape = {"conv": lambda: (kw.get("out_channels"), cin // kw.get("groups", 1)) + k,
             "conv_transpose": lambda: (cin, kw.get("out_channels")) + k,
             "depthwise": lambda: (cin, kw.get("depth_multiplier", 1)) + k,
             "dense": lambda: (kw.get("out_channels"), cin)}[kind]()
    bias = None if not kw.get("use_bias", True) else (shape[0] * shape[1] if kind == "depthwise" else
                                                       shape[1] if kind == "conv_transpose" else shape[0])
    arrays = data(bk, 20, shape, (bias or 1,))
    return arrays[0], (arrays[1] if bias else None), rank


def reference(kind, kw, x, kernel, bias, rank):
    """The oracle output, and n (products per output) for the bound."""
    pad = kw.get("padding", "valid")
    common = dict(stride=kw.get("stride", 1), dilation=kw.get("dilation", 1))
    if kind == "dense":
        return oracle.linear(x, kernel, bias), oracle.linear(np.abs(x), np.abs(kernel)), kernel.shape[1] + 1
    if kind == "conv_transpose":  # 'valid' is PyTorch's padding=0 (stride ≤ k here)
        return (oracle.conv_transpose(x, kernel, bias, **common),
                oracle.magnitude(oracle.conv_transpose, x, kernel, **common), math.prod(kernel.shape) + 1)
    groups = kw.get("groups", 1) if kind == "conv" else kw["in_channels"]
    grouped = kernel if kind == "conv" else layouts.depthwise_to_grouped(kernel)
    common.update(padding=pad, groups=groups)
    return (oracle.conv(x, grouped, bias, **common), oracle.abs_bound_conv(x, grouped, **common),
            math.prod(grouped.shape[1:]) + 1)


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("kind, kw, native_shape, count", LAYER_CASES)
def test_layer_shapes_counts_and_outputs(bk, api, kind, kw, native_shape, count):
    handle = bk.layer(kind, api=api, **kw)
    assert handle.api.startswith(f"flax.{api}.")
    assert handle.kernel_shape == native_shape and handle.param_count == count
    rank = kw.get("rank", 2)
    assert handle.kernel_layout == layouts.kernel_layout("flax", kind, rank, api=api)
    kernel, bias, rank = canonical_weights(bk, kind, kw)
    handle.set_weights(kernel, bias)
    x_shape = (2, 3, kw["in_channels"]) if kind == "dense" else (2, kw["in_channels"]) + (7,) * rank
    (x,) = data(bk, 21, x_shape)
    got = bk.to_numpy(handle(bk.asarray(x)))
    want, mag, n_terms = reference(kind, kw, x, kernel, bias, rank)
    if bias is not None:
        mag = mag + (np.abs(bias) if kind == "dense" else bias_column(bias, rank))
    np.testing.assert_allclose(got, want, rtol=0, atol=bound(bk.dtype, n_terms, mag))


@pytest.mark.parametrize("api", APIS)
def test_layer_params_follow_run_dtype_and_unbatched_input(bk, api):
    handle = bk.layer("conv", api=api, in_channels=3, out_channels=2, kernel_size=3, padding="same")
    kernel = handle.native.kernel[...] if api == "nnx" else None
    if kernel is not None:
        assert kernel.dtype == bk.dtype
    w, b = data(bk, 22, (2, 3, 3, 3), (2,))
    handle.set_weights(w, b)
    (x,) = data(bk, 23, (3, 5, 4))
    got = handle(bk.asarray(x))
    assert got.dtype == bk.dtype and got.shape == (2, 5, 4)
    assert_conv_close(bk.dtype, bk.to_numpy(got)[None], x[None], w, b, padding="same")


@pytest.mark.parametrize("api", APIS)
def test_depthwise_layer_reads_the_table(bk, api, monkeypatch):
    handle = bk.layer("depthwise", api=api, in_channels=3, depth_multiplier=2, kernel_size=3, use_bias=False)
    kernel, _, _ = canonical_weights(bk, "depthwise", dict(in_channels=3, depth_multiplier=2, kernel_size=3))
    (x,) = data(bk, 24, (1, 3, 6, 6))
    handle.set_weights(kernel)
    right = bk.to_numpy(handle(bk.asarray(x)))
    monkeypatch.setitem(layouts.KERNEL_LAYOUTS, ("flax", api, "depthwise"), "*MC")
    handle.set_weights(kernel)
    assert np.abs(bk.to_numpy(handle(bk.asarray(x))) - right).max() > 1e-2


def test_float64_layer_built_outside_the_session_is_refused():
    backend = FlaxBackend("float64")
    with pytest.raises(RuntimeError, match="session"):
        backend.layer("dense", in_channels=2, out_channels=2)


def test_versions_and_settings(bk):
    import json

    import flax

    assert bk.versions()["flax"] == flax.__version__ and "jax" in bk.versions()
    json.dumps(bk.numeric_settings())
    assert bk.layer_apis == APIS and bk.functional_api == "linen"


@pytest.mark.parametrize("api", APIS)
def test_layer_input_without_batch_and_channel_axes_reaches_flax_untouched(bk, api):
    # (H, W) for a 2-D conv is neither (N, C, H, W) nor (C, H, W): no layout permutation is applied,
    # so the error is Flax's own, not a transpose of the wrong rank in the adapter.
    handle = bk.layer("conv", api=api, in_channels=1, out_channels=1, kernel_size=3)
    with pytest.raises(Exception) as info:
        handle(bk.asarray(np.zeros((6, 7))))
    assert "out of bounds" not in str(info.value) and "permutation" not in str(info.value)


def test_linen_layers_with_equal_settings_share_one_compiled_apply(bk):
    first = bk.layer("conv", api="linen", in_channels=2, out_channels=3, kernel_size=2)
    cached = len(bk._compiled)
    second = bk.layer("conv", api="linen", in_channels=2, out_channels=3, kernel_size=2)
    assert len(bk._compiled) == cached
    w, b = data(bk, 30, (3, 2, 2, 2), (3,))
    (x,) = data(bk, 31, (1, 2, 4, 5))
    first.set_weights(w, b)
    second.set_weights(-w, b)  # separate parameters, shared compiled function
    got_first, got_second = bk.to_numpy(first(bk.asarray(x))), bk.to_numpy(second(bk.asarray(x)))
    assert_conv_close(bk.dtype, got_first, x, w, b)
    assert_conv_close(bk.dtype, got_second, x, -w, b)


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 4, 5), (2, 3, 2, 4, 5)])
def test_flatten_handle_is_the_reshape_flax_examples_use(bk, api, shape):
    rank = len(shape) - 2
    assert not hasattr(getattr(bk, api), "Flatten")  # the day Flax gets one, the handle should call it
    handle = bk.layer("flatten", rank=rank, in_channels=shape[1], api=api)
    assert handle.api == "jax.Array.reshape" and "Flax has no Flatten layer" in handle.extra["note"]
    assert handle.extra["input_layout"] == layouts.data_layout("flax", rank) and handle.param_count == 0
    x = np.arange(math.prod(shape), dtype=np.float64).reshape(shape)
    got = handle(bk.to_native(bk.asarray(x)))
    assert got.dtype == bk.dtype
    np.testing.assert_array_equal(bk.to_numpy(got), np.moveaxis(x, 1, -1).reshape(shape[0], -1))  # NHWC map
    # hand-computed: channel 0 holds 0, 1 and channel 1 holds 2, 3 → channels-last 0, 2, 1, 3
    two = np.array([[[[0.0, 1.0]], [[2.0, 3.0]]]])
    flat = bk.layer("flatten", in_channels=2, api=api)(bk.to_native(bk.asarray(two)))
    np.testing.assert_array_equal(bk.to_numpy(flat), [[0.0, 2.0, 1.0, 3.0]])


# ---- the porting-pitfall ops ------------------------------------------------------------------------
@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", [c for c in PITFALL_POOL_CASES if c[-1] == 1])
def test_linen_pools_with_count_include_pad_match_oracle(bk, shape, kernel, stride, padding, dilation):
    assert_pitfall_pooling_matches_oracle(bk, shape, kernel, stride, padding, dilation)


def test_linen_pools_have_no_dilation_and_no_ceil_mode(bk):
    t = bk.asarray(np.zeros((1, 1, 6)))
    with pytest.raises(NotApplicable, match="avg_pool has no window dilation"):
        bk.avg_pool(t, 2, dilation=2)
    with pytest.raises(NotApplicable, match="max_pool has no ceil_mode"):
        bk.max_pool(t, 2, ceil_mode=True)


def test_batch_norm_is_linen_batch_norm(bk):
    (x,) = data(bk, 31, (2, 3, 4, 5))
    stats = bn_statistics(bk, 3)
    assert_within_model(bk, bk.to_numpy(bk.batch_norm(bk.asarray(x), *map(bk.asarray, stats), 1e-3)),
                        oracle.batch_norm, x, *stats, 1e-3)


@pytest.mark.parametrize("api", APIS)
def test_batch_norm_layer_runs_inference_with_loaded_statistics(bk, api):
    handle = bk.layer("batch_norm", api=api, in_channels=3, eps=1e-3)
    assert handle.api == f"flax.{api}.BatchNorm" and handle.param_count == 6  # Flax's params: scale, bias
    (x,) = data(bk, 32, (2, 3, 4, 5))
    assert_within_model(bk, bk.to_numpy(handle(bk.asarray(x))), oracle.batch_norm, x, np.zeros(3), np.ones(3),
                        np.ones(3), np.zeros(3), 1e-3)  # Flax's initial statistics until loaded
    mean, var, gamma, beta = bn_statistics(bk, 3)
    handle.set_weights(mean=mean, var=var, gamma=gamma, beta=beta)
    assert_within_model(bk, bk.to_numpy(handle(bk.asarray(x))), oracle.batch_norm, x, mean, var, gamma, beta, 1e-3)


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("mode, kw", [("wrap", dict(padding=1)), ("reflect", dict(padding="same", dilation=2)),
                                      ("wrap", dict(padding=((0, 1), (0, 1)), kernel_size=2))])
def test_conv_padding_modes_are_circular_and_reflect(bk, api, mode, kw):
    kw = {"kernel_size": 3, **kw}
    if mode == "reflect" and not at_least(bk.flax.__version__, FLAX_REFLECT_SINCE):  # tox env oldest: flax 0.8.5
        with pytest.raises(NotApplicable, match=rf"flax {bk.flax.__version__}'s Conv has no padding='REFLECT'"):
            bk.layer("conv", api=api, in_channels=2, out_channels=3, padding_mode=mode, **kw)
        return
    handle = bk.layer("conv", api=api, in_channels=2, out_channels=3, padding_mode=mode, **kw)
    assert handle.extra["padding"] == {"wrap": "CIRCULAR", "reflect": "REFLECT"}[mode]
    k, d = kw["kernel_size"], kw.get("dilation", 1)
    x, w, b = data(bk, 33, (1, 2, 6, 7), (3, 2, k, k), (3,))
    handle.set_weights(w, b)
    pads = [(d * (k - 1) // 2, (d * (k - 1) + 1) // 2)] * 2
    padded = oracle.pad(x, pads, mode)
    assert_within_model(bk, bk.to_numpy(handle(bk.asarray(x))), oracle.conv, padded, w, b, dilation=d)


def test_conv_padding_modes_flax_cannot_say(bk):
    with pytest.raises(NotApplicable, match="no 'edge' padding"):
        bk.layer("conv", in_channels=2, out_channels=2, kernel_size=3, padding=1, padding_mode="edge")
    with pytest.raises(NotApplicable, match=r"always pads .* cannot pad 2"):
        bk.layer("conv", in_channels=2, out_channels=2, kernel_size=3, padding=2, padding_mode="wrap")
    with pytest.raises(NotApplicable, match="whatever the stride"):
        bk.layer("conv", in_channels=2, out_channels=2, kernel_size=3, stride=2, padding="same", padding_mode="wrap")
    with pytest.raises(ValueError, match="unknown option 'pad_mode'"):
        bk.layer("conv", in_channels=2, out_channels=2, pad_mode="wrap")


@pytest.mark.parametrize("api", APIS)
def test_causal_conv1d_is_left_padded_and_flax_refuses_2d(bk, api):
    handle = bk.layer("conv", api=api, rank=1, in_channels=2, out_channels=3, kernel_size=3, dilation=2,
                      padding="causal")
    x, w, b = data(bk, 34, (2, 2, 9), (3, 2, 3), (3,))
    handle.set_weights(w, b)
    assert_within_model(bk, bk.to_numpy(handle(bk.asarray(x))), oracle.conv, x, w, b, padding=[(4, 0)], dilation=2)
    with pytest.raises(ValueError, match="only implemented for 1D") as info:  # Flax's own error (build or call)
        bk.layer("conv", api=api, in_channels=2, out_channels=3, kernel_size=3, padding="causal")(
            bk.asarray(np.zeros((1, 2, 5, 5))))
    assert "flax" in traceback.extract_tb(info.value.__traceback__)[-1].filename


@pytest.mark.parametrize("api", APIS)
def test_pool_layer_kinds_are_the_linen_functions_and_no_separable(bk, api):
    (x,) = data(bk, 35, (1, 2, 7, 6))
    pool = bk.layer("avg_pool", api=api, in_channels=2, kernel_size=3, stride=2, padding=1, count_include_pad=False)
    assert pool.api == f"flax.{api}.avg_pool" and "no pooling layer class" in pool.extra["note"]
    assert_within_model(bk, bk.to_numpy(pool(bk.asarray(x))), oracle.avg_pool, x, 3, 2, 1, count_include_pad=False)
    pool = bk.layer("max_pool", api=api, in_channels=2, kernel_size=2, padding=((1, 0), (0, 1)))
    # layer(stride=1) is the signature's default, as for every layer kind (the functional pools' is the kernel)
    assert_within_model(bk, bk.to_numpy(pool(bk.asarray(x))), oracle.max_pool, x, 2, 1, ((1, 0), (0, 1)))
    with pytest.raises(NotApplicable, match="ceil_mode"):
        bk.layer("max_pool", api=api, in_channels=2, kernel_size=2, ceil_mode=True)
    with pytest.raises(NotApplicable, match="no separable conv layer"):
        bk.layer("separable", api=api, in_channels=2, out_channels=3, kernel_size=3)
