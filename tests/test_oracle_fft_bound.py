"""The error bound of an FFT-computed circular correlation (tolerance.fft_correlation_bound).

A correct float32 FFT computation of the convolution theorem must lie within it, measured against
the FFT-free oracle; the mistakes the conv_theorem_circular claim is about (no conjugate, i.e. a
convolution; an index off by one) and a perturbation of a single output must not.
"""
import math

import numpy as np
import pytest

from equivcheck import oracle, tolerance

if np.fft.fftn(np.zeros(2, np.float32)).dtype != np.complex64:
    pytest.skip(f"NumPy {np.__version__} computes every FFT in float64 (single precision from NumPy 2 on): "
                "there is no float32 FFT here to measure the bound against", allow_module_level=True)


def _fft_correlation32(x, w):
    """The convolution theorem in float32: ifftn(Σ_c fftn(x_c)·conj(fftn(w_c)))."""
    x32, w32 = x.astype(np.float32), np.zeros(w.shape[:2] + x.shape[2:], np.float32)
    w32[(slice(None),) * 2 + tuple(slice(0, k) for k in w.shape[2:])] = w
    axes = tuple(range(2, x.ndim))
    X, W = np.fft.fftn(x32, axes=axes), np.fft.fftn(w32, axes=axes)
    P = (X[:, None] * np.conj(W)[None]).sum(axis=2)      # (N, O, *sp)
    return np.fft.ifftn(P, axes=axes).real


CASES = [((2, 3, 64), (4, 3, 5)), ((1, 2, 16, 12), (3, 2, 3, 4)), ((1, 1, 5, 6, 7), (2, 1, 2, 3, 2))]


def _inputs(xs, ws, seed):
    rng = np.random.default_rng(seed)
    # float32-representable inputs: the oracle then computes on exactly what the FFT sees
    return (rng.standard_normal(xs).astype(np.float32).astype(float),
            rng.standard_normal(ws).astype(np.float32).astype(float))


@pytest.mark.parametrize("xs, ws", CASES)
def test_a_correct_float32_fft_result_is_within_the_bound(xs, ws):
    for seed in range(3):
        x, w = _inputs(xs, ws, seed)
        result = tolerance.compare_fft_correlation(_fft_correlation32(x, w),
                                                   oracle.circular_correlation(x, w), x, w, "float32")
        assert result.ok, result
        assert result.max_abs_err > 0                    # float32 really rounded something


@pytest.mark.parametrize("xs, ws", CASES)
def test_the_claims_mistakes_are_outside_the_bound(xs, ws):
    x, w = _inputs(xs, ws, 7)
    want = oracle.circular_correlation(x, w)
    fft = _fft_correlation32(x, w)
    # no conjugate: circular *convolution* with the kernel, not correlation
    axes = tuple(range(2, x.ndim))
    wp = np.zeros(w.shape[:2] + x.shape[2:])
    wp[(slice(None),) * 2 + tuple(slice(0, k) for k in w.shape[2:])] = w
    conv = np.fft.ifftn((np.fft.fftn(x, axes=axes)[:, None] * np.fft.fftn(wp, axes=axes)[None]).sum(2),
                        axes=axes).real
    shifted = np.roll(fft, 1, axis=-1)                   # an output index off by one
    poked = fft.copy()
    poked.flat[3] += 1e-2                                # one output off by 1e-2
    for wrong in (conv, shifted, poked):
        assert not tolerance.compare_fft_correlation(wrong, want, x, w, "float32").ok


def test_bound_formula_by_hand():
    # x = ones(8), w = ones(2), float32: t = log2 8 = 3 stages, u = 2^-24, μ = u;
    # η = u + γ4(√2 + u), ρ = 3η/(1 - 3η); ‖x‖₁ = 8, ‖x‖₂ = √8, ‖w‖₁ = 2, ‖w‖₂ = √2; C = 1 (γ0 = 0):
    # bound = ρ·√2·8 + (2ρ + √2·γ2 + 2u)·2·√8
    u = 2.0 ** -24
    g = lambda n: n * u / (1 - n * u)                    # noqa: E731
    eta = u + g(4) * (math.sqrt(2) + u)
    rho = 3 * eta / (1 - 3 * eta)
    want = rho * math.sqrt(2) * 8 + (2 * rho + math.sqrt(2) * g(2) + 2 * u) * 2 * math.sqrt(8)
    got = tolerance.fft_correlation_bound(np.ones((1, 1, 8)), np.ones((1, 1, 2)), "float32")
    assert got.shape == (1, 1, 1)
    assert got.item() == pytest.approx(want, rel=1e-12)
    # by hand: η ≈ (1 + 4√2)u = 6.66u, ρ ≈ 20.0u; ρ·√2·8 ≈ 226u, (2ρ + 2.83u + 2u)·2√8 ≈ 253u;
    # about 479u = 2.86e-5
    assert 2.82e-5 < got.item() < 2.90e-5


def test_bound_grows_with_the_stages_and_the_precision():
    x, w = np.ones((1, 1, 64)), np.ones((1, 1, 2))
    b64 = tolerance.fft_correlation_bound(x, w, "float64").item()
    b32 = tolerance.fft_correlation_bound(x, w, "float32").item()
    # first order in u the bound is linear in u (2^-24 / 2^-53 = 2^29); the γ and ρ denominators
    # add a relative O(t·u) more in float32
    assert b32 / b64 == pytest.approx(2.0 ** 29, rel=1e-5)
    assert b32 / b64 > 2.0 ** 29
    assert tolerance.fft_stages((64,)) == 6 and tolerance.fft_stages((65,)) == 7


def test_bound_bad_input():
    with pytest.raises(ValueError, match=r"need x \(N, C, \*sp\) and w \(O, C, \*k\)"):
        tolerance.fft_correlation_bound(np.ones((1, 2, 8)), np.ones((1, 3, 2)), "float32")
    with pytest.raises(ValueError, match=r"unknown dtype 'int8'"):
        tolerance.fft_correlation_bound(np.ones((1, 1, 8)), np.ones((1, 1, 2)), "int8")
