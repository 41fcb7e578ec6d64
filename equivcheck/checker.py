"""The ``ctx`` a claim body receives: input arrays, checks, and recorded facts.

Design rules
- A body never asserts; it *records* checks through ``ctx``.  Any failed check
  makes the example's verdict ``refuted``; the first failed check becomes the
  counterexample.
- Inputs come from :meth:`Checker.array`, already rounded to the run dtype, so
  the float64 oracle sees exactly the numbers the framework sees and the only
  error left is the framework's own arithmetic (see :mod:`equivcheck.tolerance`).
- Convention facts a claim discovers go to :meth:`Checker.fact` (structured, for
  the report); framework error messages a claim provokes on purpose go through
  :meth:`Checker.raises`.

>>> import numpy as np
>>> ctx = Checker(backend=None, dtype="float32", compute_dtype="float32", values="int", value_seed=0)
>>> ctx.array("x", (2, 3)).shape
(2, 3)
>>> ctx.equal("shape", (7, 7, 8, 16), (7, 7, 8, 16))
True
"""
from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from equivcheck import op_bounds, tolerance

#: Arrays with at most this many elements are printed in counterexamples.
PRINT_LIMIT = 64
#: Small-integer values span [-INT_RANGE, INT_RANGE]: exact in every dtype.
INT_RANGE = 3


#: What :func:`_fingerprint` returns for an argument it cannot fingerprint (the call is then not memoised).
_NO_KEY = object()


def _fingerprint(value):
    """A hashable stand-in for an oracle op's argument, equal exactly when the argument is: arrays by shape,
    dtype and bytes (so an array changed in place is a new argument), lists and tuples by their items,
    scalars and strings as they are; :data:`_NO_KEY` for anything else."""
    if isinstance(value, np.ndarray):
        return ("ndarray", value.shape, value.dtype.str, value.tobytes())
    if isinstance(value, (list, tuple)):
        parts = tuple(_fingerprint(item) for item in value)
        return _NO_KEY if any(part is _NO_KEY for part in parts) else (type(value).__name__, parts)
    if value is None or isinstance(value, (str, int, float, bool, np.generic)):
        return (type(value).__name__, value)
    return _NO_KEY


class Params(dict):
    """The parameters of one example: a dict that also allows ``p.stride``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"example has no parameter {name!r}; it has {sorted(self)}") from None


def error_info(exc: BaseException) -> dict:
    """Type and message of an exception, in the form results and reports carry."""
    kind = type(exc)
    message = str(exc).strip()
    # TF error messages can run to pages of graph dumps; the first lines say it.
    lines = message.splitlines()
    if len(lines) > 6:
        message = "\n".join(lines[:6]) + f"\n… ({len(lines) - 6} more lines)"
    return {"type": f"{kind.__module__}.{kind.__qualname__}", "message": message}


class Checker:
    """Records what one example of a claim body found."""

    def __init__(self, backend, dtype: str, compute_dtype: str, values: str = "normal", value_seed: int = 0,
                 case_dir: str | Path | None = None):
        self.bk = backend
        #: The folder of the case file whose body runs (its frames are the harness's, not the framework's).
        self.case_dir = case_dir
        self.dtype = dtype  # the run dtype: inputs are representable in it
        self.compute_dtype = compute_dtype  # the precision the framework computes in
        self.values = values
        self.rng = np.random.default_rng(value_seed)
        self.arrays: dict[str, np.ndarray] = {}
        self.checks: list[dict] = []
        self.failures: list[dict] = []
        #: Failed *supporting* checks: facts that must hold even inside a refutation.
        self.broken: list[dict] = []
        self.facts: dict[str, Any] = {}
        self.errors: dict[str, dict] = {}
        self.worst: tolerance.Comparison | None = None
        #: Oracle values and magnitudes already computed in this example (see :meth:`_derived`).
        self._memo: dict = {}

    # ---- inputs ------------------------------------------------------------
    def array(self, name: str, shape, *, kind: str | None = None) -> np.ndarray:
        """A float64 array of ``shape`` whose values are exact in the run dtype.

        ``kind`` is ``"int"`` (small integers, exact everywhere) or ``"normal"``
        (standard normal rounded to the run dtype); default: the example's kind.
        """
        kind = kind or self.values
        shape = tuple(int(s) for s in shape)
        if kind == "int":
            values = self.rng.integers(-INT_RANGE, INT_RANGE + 1, size=shape).astype(np.float64)
        elif kind == "normal":
            values = self.rng.standard_normal(shape).astype(self.dtype).astype(np.float64)
        else:
            raise ValueError(f"ctx.array: kind must be 'int' or 'normal', got {kind!r}")
        self.arrays[name] = values
        return values

    def tensor(self, name: str, shape, **kwargs):
        """:meth:`array` handed to the backend (``bk.asarray``)."""
        return self.bk.asarray(self.array(name, shape, **kwargs))

    def numpy(self, value) -> np.ndarray:
        """A framework tensor (or anything array-like) as float64 NumPy."""
        if isinstance(value, np.ndarray):
            return value.astype(np.float64, copy=False)
        if self.bk is not None and not isinstance(value, (list, tuple, float, int)):
            return self.bk.to_numpy(value)
        return np.asarray(value, dtype=np.float64)

    # ---- checks --------------------------------------------------------------
    def _record(self, record: dict, support: bool) -> None:
        record["support"] = support
        self.checks.append(record)
        if not record["ok"]:
            (self.broken if support else self.failures).append(record)

    def close(self, label: str, got, want, *, magnitude, terms: int, sides: int = 2, support: bool = False) -> bool:
        """``got`` ≈ ``want`` within the derived bound (see :mod:`equivcheck.tolerance`).

        For a comparison with an oracle op use :meth:`matches` (or :meth:`agree` for two framework
        results of one op), which derive both numbers from the op; ``close`` is for the rare claim
        about an unusual composition, with a comment saying why its numbers are right.
        ``magnitude`` is Σ|x·w| per output element (``oracle.conv(|x|, |w|)``),
        ``terms`` the number of summed products, ``sides`` 2 when both values
        are computed by the framework, 1 when ``want`` is the float64 oracle.
        ``support=True`` marks a fact that must hold even where the claim's
        statement is refuted: its failure never counts as the verdict, it fails the suite.
        """
        result = tolerance.compare(self.numpy(got), self.numpy(want), magnitude=magnitude, terms=terms,
                                   dtype=self.compute_dtype, sides=sides)
        record = {"label": label, "kind": "close", **result.to_dict()}
        self._record(record, support)
        if self.worst is None or result.ratio > self.worst.ratio:
            self.worst = result
        return result.ok

    def _host(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """An op's arguments with framework tensors (e.g. from :meth:`tensor`) as float64 NumPy: the
        inputs are exact in the run dtype, so the oracle sees the very numbers the framework saw."""
        def host(value):
            if value is None or isinstance(value, (np.ndarray, np.generic, str, int, float, bool, tuple, list, dict)):
                return value
            return self.numpy(value)
        return tuple(host(a) for a in args), {k: host(v) for k, v in kwargs.items()}

    def _derived(self, what: str, op: Callable, args: tuple, kwargs: dict):
        """``op(*args, **kwargs)`` (``what="value"``) or its magnitude Σ|x·w| (``"magnitude"``), each computed
        once per example for the same op and arguments: a body compares several results with one oracle
        op (a layer and the functional op, a candidate convention after another), and the derived
        numbers are the same every time.  The cached arrays are read-only."""
        key = _fingerprint((args, tuple(sorted(kwargs.items()))))
        compute = op if what == "value" else (lambda *a, **k: op_bounds.magnitude(op, *a, **k))
        if key is _NO_KEY:
            return compute(*args, **kwargs)
        key = (what, op, key)
        if key not in self._memo:
            value = compute(*args, **kwargs)
            if isinstance(value, np.ndarray):
                value = value.view()
                value.flags.writeable = False
            self._memo[key] = value
        return self._memo[key]

    def matches(self, label: str, got, op: Callable, *args, support: bool = False, **kwargs) -> bool:
        """``got`` equals the oracle op ``op(*args, **kwargs)``: the expected value, Σ|x·w| and the number
        of summed products all come from the op (:mod:`equivcheck.op_bounds`); ``sides=1``.  An op that
        only moves data (``oracle.max_pool``, ``oracle.pixel_shuffle``, …) must match bit for bit
        (:meth:`identical`).  Arguments may be NumPy arrays or the framework's tensors of :meth:`tensor`.

        >>> ctx = Checker(backend=None, dtype="float64", compute_dtype="float64", values="int")
        >>> from equivcheck import oracle
        >>> x, w = ctx.array("x", (1, 2, 5)), ctx.array("w", (3, 2, 2))
        >>> ctx.matches("conv vs oracle", oracle.conv(x, w), oracle.conv, x, w), ctx.checks[-1]["kind"]
        (True, 'close')
        """
        args, kwargs = self._host(args, kwargs)
        want = self._derived("value", op, args, kwargs)
        terms = op_bounds.terms(op, *args, **kwargs)
        if terms is None:
            return self.identical(label, got, want, support=support)
        return self.close(label, got, want, magnitude=self._derived("magnitude", op, args, kwargs), terms=terms,
                          sides=1, support=support)

    def agree(self, label: str, got, other, op: Callable, *args, support: bool = False, **kwargs) -> bool:
        """Two framework results ``got`` and ``other`` that both compute the oracle op ``op(*args, **kwargs)``
        agree within the bound of that op (Σ|x·w| and terms from :mod:`equivcheck.op_bounds`, ``sides=2``:
        both carry rounding errors).  For an op that only moves data they must be identical."""
        args, kwargs = self._host(args, kwargs)
        terms = op_bounds.terms(op, *args, **kwargs)
        if terms is None:
            return self.identical(label, got, other, support=support)
        return self.close(label, got, other, magnitude=self._derived("magnitude", op, args, kwargs), terms=terms,
                          sides=2, support=support)

    def alike(self, label: str, got, want, *ops: tuple, sides: int = 2, support: bool = False) -> bool:
        """``got`` ≈ ``want`` where they are the results of *different* oracle ops, as a statement says they are
        alike (two paddings, a conv and a convolution, two channel orders): each of ``ops`` is
        ``(op, args, kwargs)``; the bound takes the elementwise larger magnitude of the ops (an op whose
        output has another shape is left out of it) and the most terms among them (1 for ops that only move
        data).  ``sides=1`` when ``want`` is the float64 oracle's.

        >>> ctx = Checker(backend=None, dtype="float64", compute_dtype="float64", values="int")
        >>> from equivcheck import oracle
        >>> x, w = ctx.array("x", (1, 1, 4)), np.array([[[1.0, 1.0]]])
        >>> ctx.alike("conv = convolution", oracle.conv(x, w), oracle.convolve(x, w),
        ...           (oracle.conv, (x, w), {}), (oracle.convolve, (x, w), {}), sides=1)
        True
        """
        magnitude, terms = None, 1
        for op, args, kwargs in ops:
            args, kwargs = self._host(tuple(args), dict(kwargs))
            size = self._derived("magnitude", op, args, kwargs)
            if magnitude is None:
                magnitude = size
            elif size.shape == magnitude.shape:
                magnitude = np.maximum(magnitude, size)
            terms = max(terms, op_bounds.terms(op, *args, **kwargs) or 1)
        return self.close(label, got, want, magnitude=magnitude, terms=terms, sides=sides, support=support)

    def fits(self, got, want, op: Callable, *args, sides: int = 2, **kwargs) -> bool:
        """Whether ``got`` equals ``want`` within the bound of the oracle op ``op(*args, **kwargs)`` (Σ|x·w| and
        terms from :mod:`equivcheck.op_bounds`; bit for bit for an op that only moves data), recording
        nothing: for trying candidate conventions (a padding split, a column order, a kernel arrangement)
        and keeping those that fit.  The verdict still comes from the checks the body records.

        >>> ctx = Checker(backend=None, dtype="float64", compute_dtype="float64", values="int")
        >>> from equivcheck import oracle
        >>> x, w = ctx.array("x", (1, 1, 4)), ctx.array("w", (1, 1, 2))
        >>> ctx.fits(oracle.conv(x, w), oracle.conv(x, w), oracle.conv, x, w), ctx.checks
        (True, [])
        """
        args, kwargs = self._host(args, kwargs)
        got, want = self.numpy(got), self.numpy(want)
        terms = op_bounds.terms(op, *args, **kwargs)
        if terms is None:
            return got.shape == want.shape and bool(np.array_equal(got, want))
        return tolerance.compare(got, want, magnitude=self._derived("magnitude", op, args, kwargs), terms=terms,
                                 dtype=self.compute_dtype, sides=sides).ok

    def equal(self, label: str, got, want, *, support: bool = False) -> bool:
        """Exact equality of shapes, counts, strings or integer arrays."""
        got_plain, want_plain = _plain(got), _plain(want)
        ok = got_plain == want_plain
        self._record({"label": label, "kind": "equal", "ok": ok, "got": got_plain, "want": want_plain}, support)
        return ok

    def identical(self, label: str, got, want, *, support: bool = False) -> bool:
        """Bit-for-bit equality of two arrays (pure data movement: reshape, permute,
        shuffle), recorded as a summary rather than as the full arrays."""
        got, want = self.numpy(got), self.numpy(want)
        record = {"label": label, "kind": "identical", "got": list(got.shape), "want": list(want.shape)}
        if got.shape != want.shape:
            record.update(ok=False, reason=f"shape {got.shape} != {want.shape}")
        else:
            differ = np.argwhere(got != want)
            record["ok"] = not len(differ)
            if len(differ):
                where = tuple(int(i) for i in differ[0])
                record.update(where=list(where), got=float(got[where]), want=float(want[where]),
                              reason=f"{len(differ)} of {got.size} elements differ")
        self._record(record, support)
        return record["ok"]

    def raises(self, label: str, fn: Callable, *args, support: bool = False, **kwargs):
        """Expect ``fn(*args, **kwargs)`` to raise; record the framework's error.

        Only the framework's own exceptions count (see :func:`is_framework_error`): a
        :class:`~equivcheck.backends.base.NotApplicable` (the example does not run) and an error of
        the harness or the case body (a ``NameError``, say) pass through unchanged, so they can never
        stand in for "the framework rejected the input".  Returns the exception (or None, which also
        records a failed check).
        """
        from equivcheck.backends.base import NotApplicable

        try:
            fn(*args, **kwargs)
        except NotApplicable:
            raise
        except Exception as exc:  # the framework's own error is the datum here; anything else propagates
            if not is_framework_error(exc, self.case_dir):
                raise
            info = error_info(exc)
            self.errors[label] = info
            self._record({"label": label, "kind": "raises", "ok": True, **info}, support)
            return exc
        self._record({"label": label, "kind": "raises", "ok": False, "got": "no exception", "want": "an exception"},
                     support)
        return None

    def fact_outcome(self, key: str, fn: Callable, *args, flag: str = "accepted", **kwargs) -> bool:
        """Record as fact ``key`` what ``fn(*args, **kwargs)`` does with an input (a side fact, not a check):
        ``{flag: True, "output_shape": […]}`` when it runs, ``{flag: False, "type": …, "message": …}`` with the
        framework's own error when it refuses.  As in :meth:`raises`, a ``NotApplicable`` and an error of the
        harness or the case body propagate.  Returns whether it ran."""
        from equivcheck.backends.base import NotApplicable

        try:
            shape = list(self.numpy(fn(*args, **kwargs)).shape)
        except NotApplicable:
            raise
        except Exception as exc:  # the framework's own rejection is the datum; anything else propagates
            if not is_framework_error(exc, self.case_dir):
                raise
            self.fact(key, {flag: False, **error_info(exc)})
            return False
        self.fact(key, {flag: True, "output_shape": shape})
        return True

    # ---- evidence --------------------------------------------------------------
    @property
    def statement_checks(self) -> int:
        """Checks of the claim's statement (not ``support=True``) this example made."""
        return sum(1 for record in self.checks if not record["support"])

    @property
    def statement_checks_passed(self) -> int:
        return sum(1 for record in self.checks if not record["support"] and record["ok"])

    def fact(self, key: str, value) -> None:
        """Record a convention fact (JSON-able) for the report."""
        self.facts[key] = _plain(value)

    def printable_arrays(self) -> dict:
        return {name: a.tolist() for name, a in self.arrays.items() if a.size <= PRINT_LIMIT}


def _plain(value):
    """JSON-able, comparable form of shapes, numbers and arrays."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "as_list"):  # tf.TensorShape
        return [_plain(v) for v in value.as_list()]
    return value


PACKAGE_DIR = Path(__file__).resolve().parent
#: Code inside the package whose exceptions count as "the framework raised": the oracle (the numpy
#: column's framework) and the adapters, whose lines call C-implemented framework functions (torch's
#: F.conv2d has no Python frame of its own, so its RuntimeError surfaces on the adapter's line).
FRAMEWORK_CODE = (str(PACKAGE_DIR / "oracle") + "/", str(PACKAGE_DIR / "backends") + "/")
#: Exception types that are always a bug of the code that raised them when that code is equivcheck's
#: own (an adapter or the oracle included): Python's complaints about the program, not the input.
HARNESS_BUGS = (NameError, SyntaxError, ImportError, AssertionError)


def is_framework_error(exc: BaseException, case_dir: str | Path | None = None) -> bool:
    """Whether ``exc`` is the framework's own reaction to its input (verdict material) rather than a bug
    of equivcheck or of a case body (a harness error).

    - Raised in an adapter or the oracle: the framework's, except Python's own complaints about the
      program (:data:`HARNESS_BUGS`, e.g. a ``NameError``).
    - Raised in equivcheck's core or in the case file: the harness's.
    - Raised in third-party code: the framework's only when the call went through an adapter, the
      oracle or a framework package (not NumPy called straight from a case body: that is the case's
      own arithmetic failing).

    >>> try:
    ...     undefined_name
    ... except NameError as exc:
    ...     is_framework_error(exc)
    False
    """
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return False
    ours = (str(PACKAGE_DIR),) + ((str(Path(case_dir).resolve()),) if case_dir else ())
    where = frames[-1].filename
    if where.startswith(FRAMEWORK_CODE):
        return not isinstance(exc, HARNESS_BUGS)
    if where.startswith(ours):
        return False
    return any(f.filename.startswith(FRAMEWORK_CODE) or _framework_package(f.filename) for f in frames[:-1]) \
        or _framework_package(where)


#: Top-level packages whose code is a framework under test (a case may call one directly).
FRAMEWORK_PACKAGES = ("torch", "tensorflow", "keras", "tf_keras", "jax", "jaxlib", "flax", "onnx", "onnxruntime",
                      "openvino", "ai_edge_litert")


def _framework_package(filename: str) -> bool:
    parts = Path(filename).parts
    return any(part in ("site-packages", "dist-packages") and index + 1 < len(parts)
               and parts[index + 1] in FRAMEWORK_PACKAGES for index, part in enumerate(parts))
