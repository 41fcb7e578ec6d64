"""Known XLA aborts: the predicate matches what the installed jaxlib does, and the adapters guard against it.

An abort cannot be caught, so everything that might abort runs in a subprocess.
When XLA is fixed, ``test_the_minimal_program_still_aborts`` fails and says to
narrow the version range in ``equivcheck/backends/xla_defects.py``.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from equivcheck import backends
from equivcheck.backends import xla_defects
from equivcheck.backends.xla_defects import operand_swap_aborts

pytestmark = pytest.mark.skipif(bool(backends.availability("jax", import_it=False)), reason="jax is not installed")

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


def test_the_minimal_program_still_aborts():
    version = _jaxlib_version()
    if not xla_defects.affected(version):
        pytest.skip(f"jaxlib {version} is newer than the last one seen aborting "
                    f"({xla_defects.OPERAND_SWAP_ABORT['last_seen']}); the guard is off")
    done = _run(_lax_script([_as_lists(OBSERVED[0][0])]))
    assert done.returncode != 0 and "Window dimensions do not match RHS shape" in done.stderr, (
        f"jaxlib {version} compiles the minimal program of equivcheck/backends/xla_defects.py without aborting "
        f"(exit {done.returncode}): XLA is fixed here, so narrow OPERAND_SWAP_ABORT there and rerun the soak.\n"
        f"{done.stdout[-500:]}{done.stderr[-500:]}")


def test_programs_the_predicate_clears_compile_and_the_adapters_guard_the_rest():
    cleared = [_as_lists(geometry) for geometry, aborted in OBSERVED if not aborted]
    # the soak's draw that aborted the worker, through each adapter: guarded, so the process survives
    adapters = textwrap.dedent("""
        import numpy as np
        from equivcheck import backends
        from equivcheck.backends.xla_defects import KnownFrameworkDefect
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
    if xla_defects.affected(_jaxlib_version()):
        assert all(line.startswith("guarded") for line in guarded) and guarded, done.stdout
        assert "jaxlib" in guarded[0] and "xla_defects.py" in guarded[0]
