"""Fixtures and helpers shared by the tests of the JAX-family adapters (test_backend_jax.py,
test_backend_flax.py): both run every op in float32 and float64 inside the adapter's session.

Tolerances: a computed sum of n products obeys |fl(Σ) − Σ| ≤ γ_n·Σ|terms|, γ_n ≈ n·u with
u = eps/2 (Higham, Accuracy and Stability of Numerical Algorithms, §3.1).  The inputs are
rounded to the run dtype before the oracle sees them (:func:`data`), so that is the only
error: ``n·eps·max Σ|terms|`` (:func:`bound`) is a worst-case bound with a factor-2 margin.
"""
import math

import numpy as np
import pytest

from equivcheck import oracle

DTYPES = ("float32", "float64")


def session_fixture(backend_class):
    """A ``bk`` fixture over :data:`DTYPES` for ``backend_class``: one adapter per dtype, kept for the
    test module that assigns it (``bk = session_fixture(JaxBackend)``), yielded inside its session."""
    made = {}

    @pytest.fixture(params=DTYPES)
    def bk(request):
        """The adapter for one dtype, inside its session (x64 on for float64 only)."""
        backend = made.setdefault(request.param, backend_class(dtype=request.param))
        with backend.session():
            yield backend

    return bk


def data(backend, seed, *shapes):
    """Uniform(−1, 1) arrays, rounded to the run dtype (so the oracle sees what the framework sees)."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, shape).astype(backend.dtype).astype(np.float64) for shape in shapes]


def bound(dtype, n_terms, magnitude):
    """n·eps·max Σ|terms|: see the module docstring."""
    return n_terms * np.finfo(dtype).eps * float(np.max(magnitude, initial=0.0))


def run(backend, method, *arrays, **kwargs):
    """``backend.method`` with the NumPy arrays among ``arrays`` crossed into the framework; the result as NumPy."""
    out = getattr(backend, method)(*(backend.asarray(a) if isinstance(a, np.ndarray) else a for a in arrays), **kwargs)
    return backend.to_numpy(out)


def bias_column(b, rank):
    """|bias| (C,) shaped to broadcast over (N, C, *spatial)."""
    return np.abs(b).reshape((-1,) + (1,) * rank)


#: (input shape, kernel, stride, padding) of :func:`assert_pooling_matches_oracle`.
POOL_CASES = [
    ((2, 3, 9), 3, None, 1),
    ((1, 2, 7, 8), (2, 3), (2, 2), (1, 1)),
    ((1, 2, 6, 5), 2, 1, ((1, 0), (0, 1))),
    ((1, 1, 5, 6, 7), (2, 3, 2), (1, 2, 2), 0),
]


def assert_pooling_matches_oracle(bk, shape, kernel, stride, padding):
    """max_pool is exact; avg_pool within :func:`bound` (a sum of prod(kernel) terms, then the division)."""
    (x,) = data(bk, 9, shape)
    np.testing.assert_array_equal(run(bk, "max_pool", x, kernel, stride, padding),
                                  oracle.max_pool(x, kernel, stride, padding))
    n_terms = math.prod(kernel) if isinstance(kernel, tuple) else kernel ** (len(shape) - 2)
    mag = oracle.avg_pool(np.abs(x), kernel, stride, padding)
    np.testing.assert_allclose(run(bk, "avg_pool", x, kernel, stride, padding), oracle.avg_pool(x, kernel, stride, padding),
                               rtol=0, atol=bound(bk.dtype, n_terms + 1, mag))  # +1: the division
