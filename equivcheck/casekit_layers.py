"""Native layers and ops for a case's side checks: the framework's result, or None where it lacks them.

Design rules (those of :mod:`equivcheck.casekit`): nothing here decides a verdict.  Only the
framework's ``NotApplicable`` (it lacks the layer, or a converter lacks its op) turns into None, with
the reason recorded as a fact where the case names one; every other exception propagates unchanged.

>>> from equivcheck.checker import Checker
>>> class NoLayers:
...     def layer(self, kind, **layer_kw):
...         raise NotApplicable(f"no {kind} layer here")
>>> ctx = Checker(backend=None, dtype="float64", compute_dtype="float64", values="int")
>>> native_layer(NoLayers(), "conv", ctx=ctx, fact="conv layer"), ctx.facts
(None, {'conv layer': 'n/a: no conv layer here'})
"""
from __future__ import annotations

from equivcheck.backends.base import NotApplicable
from equivcheck.casekit import tensor


def native_layer(bk, kind, *, ctx=None, fact=None, **layer_kw):
    """The framework's native ``kind`` layer, ``bk.layer(kind, **layer_kw)``, or None where it has none for these
    arguments (its ``NotApplicable``), the reason recorded as fact ``fact`` (``"n/a: <reason>"``) when one is
    named: for a case's side checks of native layers, which it goes on without."""
    return if_applicable(lambda: bk.layer(kind, **layer_kw), ctx=ctx, fact=fact)


def native_layer_output(bk, kind, x, *, weights=None, ctx=None, fact=None, **layer_kw):
    """``(layer, layer(x))``: the native ``kind`` layer built for the NumPy input ``x`` (``input_shape``), with
    ``weights`` loaded when given, applied to ``x``; None where the framework cannot build, load or run it (its
    ``NotApplicable``: no such layer, a converter without the op), recorded as in :func:`native_layer`."""
    def run():
        layer = bk.layer(kind, input_shape=x.shape, **layer_kw)
        if weights is not None:
            layer.set_weights(weights)
        return layer, layer(tensor(bk, x))
    return if_applicable(run, ctx=ctx, fact=fact)


def if_applicable(fn, *, ctx=None, fact=None):
    """``fn()``, or None where the framework lacks what it needs (its ``NotApplicable``), the reason recorded as
    fact ``fact`` (``"n/a: <reason>"``) when one is named; every other exception propagates."""
    try:
        return fn()
    except NotApplicable as exc:
        if fact is not None:
            ctx.fact(fact, f"n/a: {exc}")
        return None
