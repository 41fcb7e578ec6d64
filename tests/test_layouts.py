"""The layout table is load-bearing: patch a wrong permutation into it and the suite fails."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from equivcheck import backends, layouts
from equivcheck.claim import load_claims
from equivcheck.runner import run_claim

#: (table key, a plausible wrong template) per framework: in/out swapped.
WRONG = {
    "torch": (("torch", "functional", "conv"), "IO*"),
    "tensorflow": (("tensorflow", "tf.nn", "conv"), "*OI"),
    "jax": (("jax", "lax", "conv"), "IO*"),
    "flax": (("flax", "linen", "conv"), "*OI"),
    "onnxruntime": (("onnxruntime", "ops", "conv"), "IO*"),
    "onnx": (("onnx", "ops", "conv"), "IO*"),
    "openvino": (("openvino", "ops", "conv"), "IO*"),
    # LiteRT converts the TensorFlow adapter's programs, which read TensorFlow's rows (a wrong one is caught in
    # that column); LiteRT's own rows are what its report probes are checked against
    "litert": None,
    "numpy": None,
}


def test_permutations_round_trip():
    for template in set(layouts.KERNEL_LAYOUTS.values()) | set(layouts.DATA_LAYOUTS.values()):
        for rank in (1, 2, 3):
            src = layouts.expand(template, rank) if "*" in template else template
            dst = "".join(sorted(src))
            array = np.arange(np.prod(range(2, 2 + len(src)))).reshape(range(2, 2 + len(src)))
            back = layouts.convert(layouts.convert(array, src, dst), dst, src)
            assert np.array_equal(back, array)


def test_seed_002_keras_kernel_is_conv_kernel_in_hwio():
    kernel = np.zeros((16, 8, 7, 7))  # PyTorch Conv2d(8, 16, 7).weight
    native = layouts.convert(kernel, layouts.canonical("conv", 2), layouts.kernel_layout("tensorflow", "conv", 2, "keras"))
    assert native.shape == (7, 7, 8, 16)


def test_bad_layout_requests_are_clear():
    with pytest.raises(layouts.LayoutError, match="cannot permute layout 'OIHW' into 'HWIO0'"):
        layouts.permutation("OIHW", "HWIO0")
    with pytest.raises(layouts.LayoutError, match="no kernel layout for torch/keras/conv"):
        layouts.kernel_layout("torch", "conv", 2, api="keras")
    with pytest.raises(layouts.LayoutError, match="spatial rank must be 1, 2 or 3"):
        layouts.expand("N*C", 4)


@pytest.mark.parametrize("framework", [f for f in backends.FRAMEWORKS if WRONG[f]])
def test_wrong_permutation_in_table_makes_claim_fail(framework, monkeypatch):
    reason = backends.availability(framework)
    if reason:
        pytest.skip(reason)
    claim = load_claims()["one_by_one_conv_is_linear"]
    assert run_claim(claim, framework, examples=2).as_expected
    key, wrong = WRONG[framework]
    monkeypatch.setitem(layouts.KERNEL_LAYOUTS, key, wrong)
    result = run_claim(claim, framework, examples=2)
    assert not result.as_expected, f"{framework}: a wrong {key} layout went unnoticed: {result}"
    assert result.verdict in ("refuted", "raises")


def test_wrong_permutation_fails_the_pytest_suite(tmp_path):
    """End to end: a pytest run of the claims with a patched table exits 1."""
    if backends.availability("torch"):
        pytest.skip("torch is not installed")
    plugin = tmp_path / "wrong_layout_plugin.py"
    plugin.write_text(textwrap.dedent("""
        from equivcheck import layouts
        def pytest_configure(config):
            layouts.KERNEL_LAYOUTS[("torch", "functional", "conv")] = "IO*"
    """))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", "pytest", "-p", "wrong_layout_plugin", "-p", "no:xdist", "-q",
               os.path.join(root, "tests", "test_claims.py"), "--claims", "one_by_one_conv_is_linear",
               "--frameworks", "torch", "--examples", "1"]
    run = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert "one_by_one_conv_is_linear on torch" in run.stdout and "reproduce: equivcheck run" in run.stdout
