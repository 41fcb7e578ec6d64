"""The derived bound: never a false alarm on a correct float32 conv, always catches a 1e-3 error."""
from __future__ import annotations

import numpy as np
import pytest

from equivcheck import oracle, tolerance
from equivcheck.tolerance import compare, conv_terms


def float32_conv_by_torch(x, w, **kwargs):
    torch = pytest.importorskip("torch")
    return torch.nn.functional.conv2d(torch.from_numpy(x.astype(np.float32)),
                                      torch.from_numpy(w.astype(np.float32)), **kwargs).double().numpy()


@pytest.mark.parametrize("channels, k", [(3, 3), (64, 3), (16, 7)])
def test_correct_float32_passes_and_one_perturbed_output_is_caught(channels, k):
    rng = np.random.default_rng(channels)
    x = rng.standard_normal((2, channels, 12, 12)).astype(np.float32).astype(np.float64)
    w = rng.standard_normal((8, channels, k, k)).astype(np.float32).astype(np.float64)
    got = float32_conv_by_torch(x, w, padding=1)
    want = oracle.conv(x, w, padding=1)
    magnitude = oracle.conv(np.abs(x), np.abs(w), padding=1)
    terms = conv_terms(w.shape)
    clean = compare(got, want, magnitude=magnitude, terms=terms, dtype="float32", sides=1)
    assert clean.ok, clean
    assert clean.max_abs_err > 0, "a float32 conv should show some rounding error"

    # Perturb ONE output element by 1e-3 relative (the one of largest magnitude, as a
    # real convention bug would typically hit every element, this is the hard case).
    index = np.unravel_index(np.argmax(np.abs(got)), got.shape)
    perturbed = got.copy()
    perturbed[index] *= 1 + 1e-3
    caught = compare(perturbed, want, magnitude=magnitude, terms=terms, dtype="float32", sides=1)
    assert not caught.ok and caught.where == tuple(int(i) for i in index), caught


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
