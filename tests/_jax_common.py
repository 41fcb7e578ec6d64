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


def assert_within_model(bk, got, op, *args, **kwargs):
    """``got`` (NumPy) equals the oracle ``op(*args, **kwargs)`` within the error model of
    :mod:`equivcheck.tolerance` (magnitude and term count from :mod:`equivcheck.op_bounds`; an exact op
    must be bit-identical)."""
    from equivcheck import op_bounds, tolerance

    want = op(*args, **kwargs)
    terms = op_bounds.terms(op, *args, **kwargs)
    if terms is None:
        np.testing.assert_array_equal(got, want)
        return
    result = tolerance.compare(got, want, magnitude=op_bounds.magnitude(op, *args, **kwargs), terms=terms,
                               dtype=bk.compute_dtype)
    assert result.ok, result


#: (input shape, kernel, stride, padding, dilation) of the porting-pitfall pooling tests: symmetric and
#: asymmetric explicit pads, pads beyond k//2, window dilation
PITFALL_POOL_CASES = [
    ((1, 2, 7, 8), 3, 2, 1, 1),
    ((1, 2, 9, 8), (2, 3), 1, ((1, 0), (0, 2)), (2, 1)),
    ((2, 1, 9), 2, 2, 1, 3),
]


def assert_pitfall_pooling_matches_oracle(bk, shape, kernel, stride, padding, dilation, *, max_pool=True):
    """max_pool and avg_pool both ways against the oracle (``dilation`` passed to both)."""
    (x,) = data(bk, 21, shape)
    t = bk.asarray(x)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    if max_pool:
        assert_within_model(bk, bk.to_numpy(bk.max_pool(t, kernel, stride, padding, dilation=dilation)),
                            oracle.max_pool, x, kernel, **kw)
    for include in (True, False):
        got = bk.to_numpy(bk.avg_pool(t, kernel, stride, padding, count_include_pad=include, dilation=dilation))
        assert_within_model(bk, got, oracle.avg_pool, x, kernel, count_include_pad=include, **kw)


def bn_statistics(backend, channels, seed=30):
    """mean, var (> 0), gamma, beta of ``channels``, rounded to the run dtype."""
    rng = np.random.default_rng(seed)
    stats = [rng.uniform(-1, 1, channels), rng.uniform(0.25, 2, channels), rng.uniform(-2, 2, channels),
             rng.uniform(-1, 1, channels)]
    return [s.astype(backend.dtype).astype(np.float64) for s in stats]
