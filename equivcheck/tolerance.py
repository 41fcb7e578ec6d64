"""Bound-based comparison: the tolerance is derived from an error model, never a constant.

For an output that sums ``n`` products in a precision with unit roundoff ``u``,
each computed side obeys::

    |computed - exact| <= c(n) * u * sum_i |x_i * w_i|

- ``sum |x*w|`` (the *magnitude*) is exact information the oracle gives:
  ``conv(|x|, |w|)`` in float64.  Case bodies pass it as ``magnitude``.
- ``c(n) = SAFETY * sqrt(n) + 1``: rounding errors of a length-n dot product
  behave like a random walk, so their sum grows like ``sqrt(n) * u`` (Higham,
  "Accuracy and Stability of Numerical Algorithms", §3.6 / Higham & Mary 2019,
  "A new approach to probabilistic rounding error analysis"); the ``+1`` is the
  final rounding of the output itself.  The worst case ``n * u`` is reachable
  only by adversarial data and would hide real 1e-3 errors for large n.
- ``SAFETY`` was chosen by measurement: the soak script
  (``scripts/soak.py``) records the largest observed ``err / (sqrt(n) u mag)``
  over every claim and framework; the README shows the figure.  With the
  inputs rounded to the run dtype before they reach the oracle (see
  :meth:`equivcheck.checker.Checker.array`), the only error left is the
  framework's accumulation, so the bound stays tight.
- ``dtype`` is the precision the framework *computes* in (:func:`compute_precision`),
  not always the run dtype: a float32 run on a GPU with TF32 allowed
  (``--allow-tf32``) computes convolutions and matmuls in TF32, whose unit
  roundoff is ``2**-11`` instead of ``2**-24``, so its bound is ``2**13`` times
  wider for the same terms and magnitude.
- ``sides``: when both compared values are computed by the framework, their
  errors add (``sides=2``); against the float64 oracle, ``sides=1``.

What the bound can and cannot detect (cancellation, TF32) is in ``docs/TOLERANCE.md``.

>>> r = compare([1.0, 2.0], [1.0, 2.0 + 1e-7], magnitude=[1.0, 2.0], terms=4, dtype="float32")
>>> r.ok, r.max_abs_err > 0
(True, True)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Explicitly stored mantissa (fraction) bits per compute precision.  "tf32" is NVIDIA's TensorFloat-32:
#: float32's exponent with a 10-bit mantissa, used for float32 matmuls/convs on Ampere and later GPUs
#: when TF32 is allowed (inputs rounded to 10 bits, products accumulated in float32).
#: "bfloat16" and "float16" are the inference precisions OpenVINO's CPU plugin picks by default on CPUs
#: with those instructions (a run with EQUIVCHECK_OPENVINO_PRECISION=default is judged in them).
MANTISSA_BITS = {"float32": 23, "float64": 52, "tf32": 10, "bfloat16": 7, "float16": 10}

#: Unit roundoff u = 2**-(mantissa bits + 1) per compute precision (round to nearest).
UNIT_ROUNDOFF = {name: 2.0 ** -(bits + 1) for name, bits in MANTISSA_BITS.items()}



def compute_precision(dtype: str, device: str = "cpu", allow_tf32: bool = False) -> str:
    """The precision a framework computes a ``dtype`` run in: ``"tf32"`` for float32 on a GPU with
    TF32 allowed (cuBLAS/cuDNN then round matmul and conv inputs to 10 mantissa bits), else ``dtype``.

    >>> compute_precision("float32", "gpu", allow_tf32=True), compute_precision("float32", "gpu")
    ('tf32', 'float32')
    >>> compute_precision("float32", "cpu", allow_tf32=True), compute_precision("float64", "gpu", allow_tf32=True)
    ('float32', 'float64')
    """
    return "tf32" if dtype == "float32" and device == "gpu" and allow_tf32 else dtype


#: Multiplier of sqrt(n); see the module docstring for how it was measured.
SAFETY = 4.0


def c(n: int) -> float:
    """The error-growth factor c(n) for a sum of ``n`` products.

    >>> c(1), round(c(576), 1)
    (5.0, 97.0)
    """
    if n < 1:
        raise ValueError(f"c(n): the number of summed terms must be >= 1, got {n}")
    return SAFETY * math.sqrt(n) + 1.0


def bound(magnitude, terms: int, dtype: str, sides: int = 2):
    """Elementwise error bound ``sides * c(n) * u * magnitude``.

    >>> float(bound(1.0, 1, "float64", sides=1)) == 5 * 2.0**-53
    True
    """
    if dtype not in UNIT_ROUNDOFF:
        raise ValueError(f"unknown dtype {dtype!r}; known: {', '.join(UNIT_ROUNDOFF)}")
    return sides * c(terms) * UNIT_ROUNDOFF[dtype] * np.asarray(magnitude, dtype=np.float64)


@dataclass
class Comparison:
    """The outcome of one comparison, with everything a failure message needs."""

    ok: bool
    max_abs_err: float
    bound: float  # the bound at the element with the largest err/bound ratio
    ratio: float  # max over elements of err / bound (0 when both are 0)
    where: tuple | None = None  # index of the worst element
    got: float | None = None
    want: float | None = None
    reason: str = ""  # set for shape mismatches and non-finite values

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def _first_nonfinite(array: np.ndarray):
    bad = np.argwhere(~np.isfinite(array))
    return tuple(int(i) for i in bad[0]) if len(bad) else None


def compare(got, want, *, magnitude, terms: int, dtype: str, sides: int = 2) -> Comparison:
    """Compare ``got`` with ``want`` elementwise against the derived bound.

    >>> compare([1.0], [1.001], magnitude=[1.0], terms=1, dtype="float32").ok
    False
    """
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return Comparison(False, math.inf, 0.0, math.inf, reason=f"shape {got.shape} != {want.shape}")
    for name, array in (("result", got), ("reference", want)):
        location = _first_nonfinite(array)
        if location is not None:
            return Comparison(False, math.inf, 0.0, math.inf, where=location, got=float(got[location]),
                              want=float(want[location]),
                              reason=f"non-finite value {float(array[location])} in the {name} at index {location}")
    limit = bound(magnitude, terms, dtype, sides)
    try:
        limit = np.broadcast_to(limit, got.shape)
    except ValueError:  # both sides agree on a shape that is not the op's (e.g. two results of a wrong op)
        return Comparison(False, math.inf, 0.0, math.inf,
                          reason=f"shape {got.shape} is not the op's output shape {np.shape(limit)}")
    error = np.abs(got - want)
    if error.size == 0:
        return Comparison(True, 0.0, 0.0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(error == 0, 0.0, error / limit)
    worst = np.unravel_index(int(np.argmax(ratios)), ratios.shape)
    ratio = float(ratios[worst])
    return Comparison(
        ok=bool(ratio <= 1.0),
        max_abs_err=float(error.max()),
        bound=float(limit[worst]),
        ratio=ratio,
        where=tuple(int(i) for i in worst),
        got=float(got[worst]),
        want=float(want[worst]),
    )


def conv_terms(kernel_shape, bias: bool = False) -> int:
    """Products summed per conv output: ``(I/groups) * prod(k)``, plus one for a bias.

    Works for canonical conv kernels ``(O, I/groups, *k)`` and dense ``(out, in)``.

    >>> conv_terms((16, 8, 7, 7)), conv_terms((5, 3), bias=True)
    (392, 4)
    """
    per_output = int(math.prod(kernel_shape[1:]))
    return per_output + (1 if bias else 0)


# ---- FFT-computed circular correlation (the convolution theorem) ---------------------------------

def _gamma(n: int, u: float) -> float:
    """Higham's γ_n = n·u / (1 - n·u), the bound on n successive relative roundings."""
    return n * u / (1.0 - n * u)


def fft_stages(spatial) -> int:
    """Butterfly stages of an FFT over ``spatial`` (one 1-D FFT per axis): Σ ceil(log2 N_i).

    >>> fft_stages((64,)), fft_stages((5, 8)), fft_stages((1,))
    (6, 6, 0)
    """
    return sum(max(0, math.ceil(math.log2(n))) for n in spatial)


def fft_correlation_bound(x, w, dtype: str, twiddle_error: float | None = None) -> np.ndarray:
    """Elementwise error bound of an FFT-computed circular correlation ``ifftn(fftn(x)·conj(fftn(w)))``.

    ``x`` ``(N, C, *sp)`` and ``w`` ``(O, C, *k)`` (zero-padded to ``sp`` for the transform), as for
    :func:`equivcheck.oracle.circular_correlation`.  Returns ``(N, O, 1, …)``, broadcastable to the
    output, with, per output plane (n, o) and S_c the channel sums below (docs/TOLERANCE.md derives it)::

        Σ_c [ ρ·‖w_oc‖₂·‖x_nc‖₁ + (2ρ + √2·γ₂ + γ_{C-1} + 2u)·‖w_oc‖₁·‖x_nc‖₂ ]
        ρ = t·η / (1 - t·η),  η = μ + γ₄·(√2 + μ),  t = fft_stages(sp)

    ρ is Higham's bound on the relative 2-norm error of one computed FFT (Accuracy and Stability of
    Numerical Algorithms, 2nd ed., §24.1, Theorem 24.2: radix-2 Cooley-Tukey with n = 2^t, twiddle
    factors accurate to μ; ``twiddle_error`` defaults to u).  The bound is on the 2-norm of the
    plane's error, so on every element of it; it is a worst case (random rounding grows like √t).

    >>> x, w = np.ones((1, 1, 8)), np.ones((1, 1, 2))
    >>> b = fft_correlation_bound(x, w, "float32"); b.shape, bool(0 < b.item() < 1e-4)
    ((1, 1, 1), True)
    """
    if dtype not in UNIT_ROUNDOFF:
        raise ValueError(f"unknown dtype {dtype!r}; known: {', '.join(UNIT_ROUNDOFF)}")
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    if x.ndim < 3 or w.ndim != x.ndim or w.shape[1] != x.shape[1]:
        raise ValueError(f"fft_correlation_bound: need x (N, C, *sp) and w (O, C, *k) of the same rank, "
                         f"got shapes {x.shape} and {w.shape}")
    u = UNIT_ROUNDOFF[dtype]
    mu = u if twiddle_error is None else float(twiddle_error)
    t = fft_stages(x.shape[2:])
    eta = mu + _gamma(4, u) * (math.sqrt(2.0) + mu)
    rho = t * eta / (1.0 - t * eta)
    axes = tuple(range(2, x.ndim))
    x1, x2 = np.abs(x).sum(axis=axes), np.sqrt((x * x).sum(axis=axes))          # (N, C)
    w1, w2 = np.abs(w).sum(axis=axes), np.sqrt((w * w).sum(axis=axes))          # (O, C)
    rest = 2 * rho + math.sqrt(2.0) * _gamma(2, u) + _gamma(max(x.shape[1] - 1, 0), u) + 2 * u
    per_plane = rho * x1 @ w2.T + rest * x2 @ w1.T                               # (N, O)
    return per_plane.reshape(per_plane.shape + (1,) * (x.ndim - 2))


def compare_fft_correlation(got, want, x, w, dtype: str) -> Comparison:
    """:func:`compare`'s verdict for an FFT-computed circular correlation, by :func:`fft_correlation_bound`.

    >>> x, w = np.arange(8.).reshape(1, 1, 8), np.ones((1, 1, 2))
    >>> want = x + np.roll(x, -1, axis=-1)
    >>> compare_fft_correlation(want, want, x, w, "float32").ok, compare_fft_correlation(want + 1, want, x, w, "float32").ok
    (True, False)
    """
    # compare's bound for one term is c(1)·u·magnitude: the FFT bound in those units
    unit = float(bound(1.0, 1, dtype, sides=1))
    return compare(got, want, magnitude=fft_correlation_bound(x, w, dtype) / unit, terms=1, dtype=dtype, sides=1)
