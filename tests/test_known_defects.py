"""Known framework defects: each predicate matches what the installed framework does, and the adapters guard.

When a framework is fixed, the "still" test of its defect fails and says to
narrow the version range in ``equivcheck/backends/known_defects.py``.  An XLA
abort cannot be caught, so everything that might abort runs in a subprocess.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import numpy as np

from equivcheck import backends
from equivcheck.backends import known_defects
from equivcheck.backends.known_defects import onednn_one_column_wrong, operand_swap_aborts

needs_jax = pytest.mark.skipif(bool(backends.availability("jax", import_it=False)), reason="jax is not installed")
needs_tf = pytest.mark.skipif(bool(backends.availability("tensorflow", import_it=False)),
                              reason="tensorflow is not installed")

#: Geometries tried on jaxlib 0.4.30 and 0.10.2 while shrinking the soak's crash
#: (spatial sizes, window, strides, padding, lhs_dilation, rhs_dilation) → whether it aborted.
OBSERVED = [
    (((1, 3), (2, 2), (1, 1), ((0, 1), (0, 0)), (1, 2), (1, 1)), True),     # the minimal program
    (((1, 3, 2), (2, 2, 2), (1, 1, 1), ((0, 1), (0, 0), (0, 0)), (1, 2, 1), (1, 1, 1)), True),
    (((1, 3, 2), (2, 2, 2), (1, 1, 1), ((0, 1), (0, 0), (0, 0)), (1, 1, 1), (1, 1, 1)), False),  # no base dilation
    (((1, 3, 2), (2, 2, 2), (1, 1, 1), ((0, 1), (0, 0), (0, 0)), (1, 1, 2), (1, 1, 1)), False),
    (((2, 3, 2), (2, 2, 2), (1, 1, 1), ((0, 0), (0, 0), (0, 0)), (1, 2, 1), (1, 1, 1)), False),  # no swap
    (((1, 1), (2, 3), (1, 1), ((0, 0), (1, 1)), (2, 1), (1, 1)), False),   # group dim of size 1: dilation no-op
    (((1, 2), (2, 2), (1, 1), ((0, 1), (0, 0)), (1, 2), (1, 1)), False),   # group dim as wide as its window
]


@pytest.mark.parametrize("geometry,aborted", OBSERVED, ids=[f"case{i}" for i in range(len(OBSERVED))])
def test_predicate_matches_what_was_observed(geometry, aborted):
    assert operand_swap_aborts(*geometry) is aborted


def _as_lists(geometry) -> list:
    return json.loads(json.dumps(geometry))


def _lax_script(geometries) -> str:
    return textwrap.dedent(f"""
        import json, numpy as np, jax
        from jax import lax
        for sizes, window, strides, padding, lhs, rhs in json.loads({json.dumps(json.dumps(geometries))}):
            spec = {{1: ("NCH", "OIH", "NCH"), 2: ("NCHW", "OIHW", "NCHW"), 3: ("NCDHW", "OIDHW", "NCDHW")}}[len(sizes)]
            x, w = np.ones([1, 1] + sizes, np.float32), np.ones([1, 1] + window, np.float32)
            f = jax.jit(lambda a, b: lax.conv_general_dilated(a, b, strides, [tuple(p) for p in padding],
                        lhs_dilation=lhs, rhs_dilation=rhs, dimension_numbers=spec))
            print("compiled", f(x, w).shape, flush=True)
    """)


def _run(script: str):
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)


def _jaxlib_version() -> str:
    import jaxlib

    return jaxlib.__version__


@needs_jax
def test_the_minimal_program_still_aborts():
    version = _jaxlib_version()
    if not known_defects.affected(version):
        pytest.skip(f"jaxlib {version} is newer than the last one seen aborting "
                    f"({known_defects.OPERAND_SWAP_ABORT['last_seen']}); the guard is off")
    done = _run(_lax_script([_as_lists(OBSERVED[0][0])]))
    assert done.returncode != 0 and "Window dimensions do not match RHS shape" in done.stderr, (
        f"jaxlib {version} compiles the minimal program of equivcheck/backends/known_defects.py without aborting "
        f"(exit {done.returncode}): XLA is fixed here, so narrow OPERAND_SWAP_ABORT there and rerun the soak.\n"
        f"{done.stdout[-500:]}{done.stderr[-500:]}")


@needs_jax
def test_programs_the_predicate_clears_compile_and_the_adapters_guard_the_rest():
    cleared = [_as_lists(geometry) for geometry, aborted in OBSERVED if not aborted]
    # the soak's draw that aborted the worker, through each adapter: guarded, so the process survives
    adapters = textwrap.dedent("""
        import numpy as np
        from equivcheck import backends
        from equivcheck.backends.known_defects import KnownFrameworkDefect
        x, w = np.ones((1, 1, 2, 4, 3), np.float32), np.ones((1, 2, 3, 3, 2), np.float32)
        kw = dict(stride=(3, 3, 2), padding=[[2, 3], [2, 2], [1, 1]], output_padding=(1, 0, 0),
                  dilation=(2, 1, 1), groups=1)
        for framework in ("jax", "flax"):
            if backends.availability(framework, import_it=False):
                continue
            bk = backends.load(framework, "float32")
            try:
                with bk.session():
                    bk.conv_transpose(bk.asarray(x), bk.asarray(w), **kw)
            except KnownFrameworkDefect as exc:
                print("guarded", framework, exc, flush=True)
            else:
                print("ran", framework, flush=True)
    """)
    done = _run(_lax_script(cleared) + adapters)
    assert done.returncode == 0, f"a program the predicate calls safe aborted:\n{done.stdout}{done.stderr[-1500:]}"
    assert done.stdout.count("compiled") == len(cleared)
    guarded = [line for line in done.stdout.splitlines() if line.startswith(("guarded", "ran"))]
    if known_defects.affected(_jaxlib_version()):
        assert all(line.startswith("guarded") for line in guarded) and guarded, done.stdout
        assert "jaxlib" in guarded[0] and "known_defects.py" in guarded[0]


# ---- TensorFlow 2.21 + oneDNN: float32 conv2d with a one-column output ----------------------------
#: (batch, in channels, output (rows, cols), window (rows, cols), strides) → wrong on TF 2.21.0 float32,
#: from the soak's draw and a scan of small convs (NHWC, 'VALID').
TF_OBSERVED = [
    ((2, 1, (2, 1), (1, 2), (1, 3)), True),    # the minimal program: 2×2 input, 1×2 kernel
    ((3, 1, (2, 1), (1, 3), (1, 4)), True),
    ((2, 1, (2, 1), (3, 2), (1, 3)), True),
    ((1, 1, (2, 1), (1, 2), (1, 3)), False),   # a batch of one
    ((2, 2, (2, 1), (1, 2), (1, 3)), False),   # two input channels
    ((2, 1, (2, 1), (1, 1), (1, 3)), False),   # a 1-wide kernel
    ((2, 1, (1, 1), (1, 2), (2, 3)), False),   # row stride 2
    ((2, 1, (2, 2), (1, 2), (1, 1)), False),   # column stride 1
]


@pytest.mark.parametrize("geometry,wrong", TF_OBSERVED, ids=[f"tf{i}" for i in range(len(TF_OBSERVED))])
def test_tf_predicate_matches_what_was_observed(geometry, wrong):
    assert onednn_one_column_wrong(*geometry) is wrong


def _tf_conv(tf, batch, channels, height, width, kernel, strides):
    x = np.arange(1, batch * channels * height * width + 1, dtype=np.float32).reshape(batch, height, width, channels)
    w = np.linspace(-1, 1, kernel[0] * kernel[1] * channels, dtype=np.float32).reshape(*kernel, channels, 1)
    got = tf.nn.conv2d(x, w, [1, *strides, 1], "VALID").numpy()
    out_rows, out_cols = (height - kernel[0]) // strides[0] + 1, (width - kernel[1]) // strides[1] + 1
    want = np.array([[[np.sum(x[b, i * strides[0]:i * strides[0] + kernel[0], j * strides[1]:j * strides[1] + kernel[1]]
                              .astype(np.float64) * w[..., 0]) for j in range(out_cols)] for i in range(out_rows)]
                     for b in range(batch)])[..., None]
    return bool(np.allclose(got, want, rtol=0, atol=1e-4 * np.abs(want).max()))


@needs_tf
def test_tf_minimal_program_is_still_wrong_and_the_near_misses_right():
    import tensorflow as tf

    right = _tf_conv(tf, 2, 1, 2, 2, (1, 2), (1, 3))
    if known_defects.tf_one_column_affected(tf.__version__):
        assert not right, (f"TensorFlow {tf.__version__} now computes the minimal program of "
                           f"equivcheck/backends/known_defects.py right: narrow ONEDNN_ONE_COLUMN there")
    for batch, channels, kernel, strides in ((1, 1, (1, 2), (1, 3)), (2, 2, (1, 2), (1, 3)), (2, 1, (1, 1), (1, 3))):
        assert _tf_conv(tf, batch, channels, 2, 2, kernel, strides), (batch, channels, kernel, strides)


@needs_tf
def test_tf_adapter_guards_the_soaks_draw():
    bk = backends.load("tensorflow", "float32")
    x, w = np.ones((2, 1, 2, 2), np.float32), np.ones((1, 1, 1, 2), np.float32)   # NCHW, OIHW
    if not known_defects.tf_one_column_affected(bk.versions()["tensorflow"]):
        pytest.skip("this TensorFlow is outside the defect's version range (or oneDNN is off)")
    with bk.session(), pytest.raises(known_defects.KnownFrameworkDefect, match="oneDNN float32 conv2d"):
        bk.conv(bk.asarray(x), bk.asarray(w), stride=(1, 3))
    with bk.session():  # a batch of one runs
        assert bk.to_numpy(bk.conv(bk.asarray(x[:1]), bk.asarray(w), stride=(1, 3))).shape == (1, 1, 2, 1)
