"""The derived bound: never a false alarm on a correct float32 conv; what it can and cannot catch.

A change at one output is caught when it exceeds ``c(n) * u * sum|x*w|`` there (docs/TOLERANCE.md):
a 1e-3 relative change of an output without cancellation is, of one whose value is far below the
magnitude of its terms (|y| << sum|x*w|) it need not be, and must not be, since the rounding a
correct float32 conv may make there is larger than that.
"""
from __future__ import annotations

import numpy as np
import pytest

from equivcheck import oracle, tolerance
from equivcheck.tolerance import compare, conv_terms


def float32_conv_by_torch(x, w, **kwargs):
    torch = pytest.importorskip("torch")
    return torch.nn.functional.conv2d(torch.from_numpy(x.astype(np.float32)),
                                      torch.from_numpy(w.astype(np.float32)), **kwargs).double().numpy()


def float32_conv_case(channels: int, k: int):
    """A float32 conv of normal inputs (exact in float32) by torch, with its float64 oracle value,
    Σ|x·w| and the products per output: (got, want, magnitude, terms)."""
    rng = np.random.default_rng(channels)
    x = rng.standard_normal((2, channels, 12, 12)).astype(np.float32).astype(np.float64)
    w = rng.standard_normal((8, channels, k, k)).astype(np.float32).astype(np.float64)
    return (float32_conv_by_torch(x, w, padding=1), oracle.conv(x, w, padding=1),
            oracle.conv(np.abs(x), np.abs(w), padding=1), conv_terms(w.shape))


@pytest.mark.parametrize("channels, k", [(3, 3), (64, 3), (16, 7)])
def test_correct_float32_passes_and_one_perturbed_output_is_caught(channels, k):
    got, want, magnitude, terms = float32_conv_case(channels, k)
    clean = compare(got, want, magnitude=magnitude, terms=terms, dtype="float32", sides=1)
    assert clean.ok, clean
    assert clean.max_abs_err > 0, "a float32 conv should show some rounding error"

    # Perturb ONE output element by 1e-3 relative: the one of largest |y|.  That is the EASY case for
    # the bound (|y| is close to sum|x*w| there, so 1e-3 |y| is far above c(n) u sum|x*w|); a real
    # convention bug typically moves many elements, this one moves a single one.
    index = np.unravel_index(np.argmax(np.abs(got)), got.shape)
    perturbed = got.copy()
    perturbed[index] *= 1 + 1e-3
    caught = compare(perturbed, want, magnitude=magnitude, terms=terms, dtype="float32", sides=1)
    assert not caught.ok and caught.where == tuple(int(i) for i in index), caught


@pytest.mark.parametrize("channels, k", [(3, 3), (64, 3), (16, 7)])
def test_a_relative_change_of_an_output_with_cancellation_can_be_below_the_bound(channels, k):
    """The hard case: an output whose terms cancel (|y| << sum|x*w|).  The bound is absolute,
    c(n) u sum|x*w| (it cannot know the exact y), so it sees a change there only when the change
    exceeds that: a 1e-3 change *relative to |y|* goes unseen, correctly, since the rounding a
    correct float32 conv may make there (accumulating terms much larger than y) is larger still."""
    got, want, magnitude, terms = float32_conv_case(channels, k)
    limit = tolerance.bound(magnitude, terms, "float32", sides=1)

    # the output with the most cancellation: smallest |y| relative to the magnitude of its terms
    index = np.unravel_index(np.argmin(np.abs(want) / magnitude), want.shape)
    assert abs(want[index]) < 1e-3 * magnitude[index], "the data should have an output with heavy cancellation"
    assert 1e-3 * abs(want[index]) < limit[index] - abs(got[index] - want[index]), \
        "a 1e-3 change relative to |y| must fit under the bound there for this test to say anything"
    perturbed = got.copy()
    perturbed[index] *= 1 + 1e-3
    unseen = compare(perturbed, want, magnitude=magnitude, terms=terms, dtype="float32", sides=1)
    assert unseen.ok, unseen  # below the rounding bound: not a detectable error, by design

    # what the bound does see there: a change larger than c(n) u sum|x*w| at that output
    perturbed[index] = want[index] + 2 * limit[index]
    seen = compare(perturbed, want, magnitude=magnitude, terms=terms, dtype="float32", sides=1)
    assert not seen.ok and seen.where == tuple(int(i) for i in index), seen


def test_tf32_bound_is_float32s_times_two_to_the_mantissa_bits_it_drops():
    # TF32 keeps 10 of float32's 23 mantissa bits; u = 2^-(bits + 1) (round to nearest)
    assert tolerance.UNIT_ROUNDOFF["tf32"] == 2.0 ** -(10 + 1)
    dropped = tolerance.MANTISSA_BITS["float32"] - tolerance.MANTISSA_BITS["tf32"]
    assert dropped == 13
    magnitude, terms = np.array([0.5, 3.0, 40.0]), conv_terms((16, 8, 3, 3))
    for sides in (1, 2):
        tf32 = tolerance.bound(magnitude, terms, "tf32", sides=sides)
        float32 = tolerance.bound(magnitude, terms, "float32", sides=sides)
        np.testing.assert_array_equal(tf32, float32 * 2.0**dropped)
        assert tf32[1] == sides * tolerance.c(terms) * 2.0**-11 * 3.0  # the model's formula, term by term


@pytest.mark.parametrize("dtype, device, allow_tf32, expected", [
    ("float32", "gpu", True, "tf32"),
    ("float32", "gpu", False, "float32"),
    ("float32", "cpu", True, "float32"),  # TF32 exists on GPUs only
    ("float64", "gpu", True, "float64"),  # TF32 replaces float32 arithmetic only
])
def test_a_backend_computes_in_tf32_only_for_gpu_float32_with_tf32_allowed(dtype, device, allow_tf32, expected):
    from equivcheck.backends.base import Backend

    assert tolerance.compute_precision(dtype, device, allow_tf32) == expected
    assert Backend(dtype, device, allow_tf32).compute_dtype == expected  # the base adapter needs no GPU


def test_the_numpy_oracle_keeps_its_float64_arithmetic():
    from equivcheck import backends

    assert backends.load("numpy", "float32").compute_dtype == "float64"


def test_checks_under_tf32_use_the_tf32_bound():
    """A float32 comparison on a GPU with TF32 allowed passes an error only TF32 explains, and the
    same error fails with TF32 off: the checker reads the backend's compute dtype."""
    from equivcheck.backends.base import Backend
    from equivcheck.checker import Checker

    magnitude, terms = np.array([1.0]), 9
    error = 100 * tolerance.bound(magnitude, terms, "float32", sides=1)  # 100× float32's bound, 2^13/100 under TF32's
    assert error < tolerance.bound(magnitude, terms, "tf32", sides=1)
    for allow_tf32, ok in ((True, True), (False, False)):
        bk = Backend("float32", "gpu", allow_tf32)
        ctx = Checker(bk, dtype=bk.dtype, compute_dtype=bk.compute_dtype)
        assert ctx.close("y", np.array([0.5]) + error, np.array([0.5]), magnitude=magnitude, terms=terms,
                         sides=1) is ok


def test_bound_scales_with_unit_roundoff_and_sqrt_n():
    assert tolerance.bound(1.0, 100, "float32", sides=1) == pytest.approx((tolerance.SAFETY * 10 + 1) * 2.0**-24)
    ratio = float(tolerance.bound(1.0, 9, "float32") / tolerance.bound(1.0, 9, "float64"))
    assert ratio == pytest.approx(2.0**29)


def test_shape_mismatch_and_nonfinite_are_reported_with_location():
    assert "shape (2,) != (3,)" in compare([1, 2], [1, 2, 3], magnitude=1, terms=1, dtype="float32").reason
    nan = compare([1.0, np.nan], [1.0, 2.0], magnitude=1, terms=1, dtype="float32")
    assert not nan.ok and nan.where == (1,) and "non-finite value nan in the result at index (1,)" in nan.reason


def test_exact_zero_magnitude_demands_exact_zero():
    assert compare([0.0], [0.0], magnitude=[0.0], terms=1, dtype="float32").ok
    assert not compare([1e-30], [0.0], magnitude=[0.0], terms=1, dtype="float32").ok
