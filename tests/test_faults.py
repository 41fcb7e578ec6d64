"""Fault injection: patch a framework's own op into a plausible wrong convention; the suite must fail.

Each meta-test installs one fault with ``monkeypatch`` (so it is undone after
the test), runs the claims on the faulty framework, and asserts that a claim's
verdict stops being the expected one.  By default it stops at the first claim
that catches the fault (that is the proof; every further claim would only
repeat it, and on JAX re-trace and re-compile its programs under the fault);
``--all-catchers`` runs the whole catalog and names every claim that catches
it.  A fault's ``try_first`` claims (the catchers an ``--all-catchers`` run
found) run first, then the rest in catalog order: the order only saves time,
a fault they miss is still looked for in every claim.  The catchers are recorded as the test's ``caught_by`` property
and printed in the terminal summary (see equivcheck/pytest_plugin.py).  These tests patch frameworks, not
equivcheck: they prove the claims can see a framework change its convention.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

from equivcheck import backends
from equivcheck.claim import load_claims
from equivcheck.runner import run_claim

pytestmark = pytest.mark.meta

#: hypothesis draws per claim on top of the fixed examples (see test_injected_fault_is_caught)
FAULT_EXAMPLES = 0


@dataclass
class Fault:
    name: str
    framework: str
    description: str
    install: Callable  # install(monkeypatch) -> None
    try_first: tuple = ()  # claim ids to run before the catalog order (see the module docstring)

    def __str__(self):
        return self.name


def _wrap(monkeypatch, owner, attribute, make):
    """Replace ``owner.attribute`` by ``make(original)``."""
    monkeypatch.setattr(owner, attribute, make(getattr(owner, attribute)))


# ---- torch -------------------------------------------------------------------
def torch_kernel_flipped(mp):
    import torch.nn.functional as F
    _wrap(mp, F, "conv2d", lambda conv: lambda x, w, *a, **k: conv(x, w.flip(-2, -1), *a, **k))


def torch_output_padding_ignored(mp):
    import torch.nn.functional as F
    for name in ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d"):
        def make(op):
            def faulty(x, w, bias=None, stride=1, padding=0, output_padding=0, *a, **k):
                return op(x, w, bias, stride, padding, 0, *a, **k)
            return faulty
        _wrap(mp, F, name, make)


def torch_pixel_shuffle_in_dcr_order(mp):
    import torch.nn.functional as F

    def dcr(x, r):
        n, c, h, w = x.shape[-4:] if x.ndim == 4 else (1, *x.shape)
        out = x.reshape(n, r, r, c // (r * r), h, w).permute(0, 3, 4, 1, 5, 2)
        return out.reshape(*x.shape[:-3], c // (r * r), h * r, w * r)
    mp.setattr(F, "pixel_shuffle", dcr)


def torch_linear_untransposed_when_square(mp):
    import torch.nn.functional as F
    _wrap(mp, F, "linear", lambda op: lambda x, w, b=None: op(x, w.T if w.shape[0] == w.shape[1] else w, b))


def torch_unpool_indices_column_major(mp):
    import torch.nn.functional as F

    def make(op):
        def faulty(y, indices, kernel_size, stride=None, padding=0, output_size=None):
            height, width = output_size[-2:]
            rows, cols = indices // width, indices % width
            return op(y, cols * height + rows, kernel_size, stride, padding, output_size)
        return faulty
    _wrap(mp, F, "max_unpool2d", make)


def torch_conv1d_scaled(mp):
    import torch.nn.functional as F
    _wrap(mp, F, "conv1d", lambda op: lambda *a, **k: op(*a, **k) * (1 + 1e-3))


# ---- tensorflow --------------------------------------------------------------
def tf_same_odd_pixel_first(mp):
    import tensorflow as tf

    def make(op):
        def faulty(x, filters, strides, padding, data_format="NHWC", dilations=None, name=None):
            if padding != "SAME":
                return op(x, filters, strides, padding, data_format, dilations, name)
            pads = [(0, 0)]
            s = strides if isinstance(strides, (list, tuple)) else [strides] * 2
            s = s[-3:-1] if len(s) == 4 else s
            for n, k, st in zip(x.shape[1:3], filters.shape[:2], s):
                total = max((-(-n // st) - 1) * st + k - n, 0)
                pads.append((total - total // 2, total // 2))  # odd pixel at the START
            return op(x, filters, strides, pads + [(0, 0)], data_format, dilations, name)
        return faulty
    _wrap(mp, tf.nn, "conv2d", make)


def tf_depth_to_space_crd(mp):
    import tensorflow as tf

    def crd(x, r, data_format="NHWC", name=None):
        n, h, w, c = x.shape
        out = tf.reshape(x, (n, h, w, c // (r * r), r, r))
        return tf.reshape(tf.transpose(out, (0, 1, 4, 2, 5, 3)), (n, h * r, w * r, c // (r * r)))
    mp.setattr(tf.nn, "depth_to_space", crd)


def tf_dilation_ignored(mp):
    import tensorflow as tf
    for name in ("conv1d", "conv2d", "conv3d"):
        def make(op, name=name):
            def faulty(*a, **k):
                if "dilations" in k:
                    k["dilations"] = 1 if name == "conv1d" else [1] * len(np.atleast_1d(k["dilations"]))
                return op(*a, **k)
            return faulty
        _wrap(mp, tf.nn, name, make)


def tf_transpose_kernel_read_as_io(mp):
    import tensorflow as tf

    def make(op):
        def faulty(x, filters, *a, **k):
            axes = list(range(len(filters.shape)))
            axes[-2], axes[-1] = axes[-1], axes[-2]
            square = filters.shape[-1] == filters.shape[-2]
            return op(x, tf.transpose(filters, axes) if square else filters, *a, **k)
        return faulty
    _wrap(mp, tf.nn, "conv2d_transpose", make)


# ---- jax ---------------------------------------------------------------------
def jax_strides_swapped(mp):
    from jax import lax

    def make(op):
        def faulty(lhs, rhs, window_strides, *a, **k):
            return op(lhs, rhs, tuple(reversed(tuple(window_strides))), *a, **k)
        return faulty
    _wrap(mp, lax, "conv_general_dilated", make)


def jax_one_output_perturbed(mp):
    from jax import lax

    def make(op):
        def faulty(*a, **k):
            out = op(*a, **k)
            flat = out.reshape(-1)
            return flat.at[flat.size // 2].multiply(1 + 1e-3).reshape(out.shape)
        return faulty
    _wrap(mp, lax, "conv_general_dilated", make)


# ---- flax ----------------------------------------------------------------------
def _wrap_linen_lax(monkeypatch, attribute, make):
    """Give flax.linen.linear a ``lax`` whose ``attribute`` is ``make(original)``; every other name is the real lax's."""
    import flax.linen.linear as linen_linear
    real_lax = linen_linear.lax

    class Lax:
        def __getattr__(self, name):
            return getattr(real_lax, name)

    setattr(Lax, attribute, staticmethod(make(getattr(real_lax, attribute))))
    monkeypatch.setattr(linen_linear, "lax", Lax())


def flax_conv_transpose_kernel_in_out_swapped(mp):
    """Flax's linen ConvTranspose reading its (*k, I, O) kernel as (*k, O, I) when square."""
    def make(op):
        def faulty(lhs, rhs, *a, **k):
            if rhs.shape[-1] == rhs.shape[-2]:
                rhs = rhs.swapaxes(-1, -2)
            return op(lhs, rhs, *a, **k)
        return faulty
    _wrap_linen_lax(mp, "conv_transpose", make)


def flax_dense_scaled(mp):
    """Flax's linen Dense off by a factor (1 + 1e-3): a precision bug in its dot_general."""
    _wrap_linen_lax(mp, "dot_general", lambda op: lambda *a, **k: op(*a, **k) * (1 + 1e-3))


FAULTS = [
    Fault("torch-kernel-flipped", "torch", "F.conv2d computes a true convolution (kernel flipped)", torch_kernel_flipped),
    Fault("torch-output-padding-ignored", "torch", "F.conv_transpose*d ignores output_padding", torch_output_padding_ignored,
          try_first=("conv_transpose_output_padding",)),
    Fault("torch-pixel-shuffle-dcr", "torch", "F.pixel_shuffle uses DCR instead of CRD order", torch_pixel_shuffle_in_dcr_order,
          try_first=("pixel_shuffle_folding",)),
    Fault("torch-linear-untransposed", "torch", "F.linear uses W instead of Wᵀ when W is square", torch_linear_untransposed_when_square,
          try_first=("one_by_one_conv_is_linear",)),
    Fault("torch-unpool-indices-column-major", "torch", "max_unpool2d reads indices as w·H+h", torch_unpool_indices_column_major,
          try_first=("max_unpool_restores_switch_positions",)),
    Fault("torch-conv1d-scaled", "torch", "F.conv1d output scaled by (1+1e-3)", torch_conv1d_scaled),
    Fault("tensorflow-same-odd-pixel-first", "tensorflow", "tf.nn.conv2d 'SAME' puts the odd pixel first", tf_same_odd_pixel_first,
          try_first=("same_padding_is_asymmetric",)),
    Fault("tensorflow-depth-to-space-crd", "tensorflow", "tf.nn.depth_to_space uses CRD instead of DCR", tf_depth_to_space_crd,
          try_first=("pixel_shuffle_folding",)),
    Fault("tensorflow-dilation-ignored", "tensorflow", "tf.nn.conv{1,2,3}d ignore dilations", tf_dilation_ignored),
    Fault("tensorflow-transpose-kernel-io", "tensorflow", "tf.nn.conv2d_transpose reads its filter as (*k, I, O)", tf_transpose_kernel_read_as_io,
          try_first=("kernel_layouts",)),
    Fault("jax-strides-swapped", "jax", "lax.conv_general_dilated swaps its window strides", jax_strides_swapped),
    Fault("jax-one-output-perturbed", "jax", "lax.conv_general_dilated: one output element off by 1e-3 relative", jax_one_output_perturbed),
    Fault("flax-conv-transpose-kernel-swapped", "flax", "linen ConvTranspose reads its kernel as (*k, O, I)", flax_conv_transpose_kernel_in_out_swapped,
          try_first=("conv_transpose_output_padding",)),
    Fault("flax-dense-scaled", "flax", "linen Dense off by (1+1e-3)", flax_dense_scaled,
          try_first=("conv_is_im2col_matmul",)),
]


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_injected_fault_is_caught(fault, monkeypatch, record_property, request):
    reason = backends.availability(fault.framework)
    if reason:
        pytest.skip(reason)
    # Fresh adapters: their cached jitted callables must be traced with the fault in place.
    monkeypatch.setattr(backends, "_CACHE", {})
    fault.install(monkeypatch)
    claims = load_claims()
    unknown = [claim_id for claim_id in fault.try_first if claim_id not in claims]
    assert not unknown, f"fault {fault.name}: try_first names no such claim: {unknown}"
    order = [claims[claim_id] for claim_id in fault.try_first] + [
        claim for claim in claims.values() if claim.id not in fault.try_first]
    sweep = request.config.getoption("all_catchers")
    caught, ran = [], 0
    for claim in order:
        ran += 1
        result = run_claim(claim, fault.framework, dtype="float32", examples=FAULT_EXAMPLES, seed=0)
        if not result.as_expected:
            caught.append(f"{claim.id} ({result.verdict})")
            if not sweep:
                break
    scope = (f"all {len(claims)} claims run" if sweep else
             f"stopped at the first catch, after {ran} of {len(claims)} claims; --all-catchers runs them all")
    record_property("caught_by", f"{fault.name}: {', '.join(caught) or 'NOTHING'} [{scope}]")
    assert caught, (f"fault '{fault.description}' on {fault.framework} went unnoticed by all {len(claims)} claims")
