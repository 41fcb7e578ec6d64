"""From options to a rendered report: live probes and/or results files, merged.

>>> sorted(FORMATS)
['html', 'json', 'md']
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from equivcheck.report import model, probes, results_files

FORMATS = {"md": "render_md", "json": "render_json", "html": "render_html"}


def live_environment(frameworks=None, device: str = "cpu", allow_tf32: bool = False, name: str = "installed",
                     progress=None) -> tuple[dict, list]:
    """(environment record, probe rows) of this interpreter; each framework in a child process."""
    started = time.perf_counter()
    wanted = [f for f in (frameworks or model.FRAMEWORKS) if probes.installed(f)]
    if progress:
        print(f"probing {', '.join(wanted) or 'nothing (no framework installed)'} …", file=progress, flush=True)
    rows = probes.probe_all(wanted, device=device, allow_tf32=allow_tf32)
    environment = model.environment_record(name, device=device, allow_tf32=allow_tf32, frameworks=wanted)
    if progress:
        print(f"probed {len(rows)} conventions in {time.perf_counter() - started:.1f}s", file=progress, flush=True)
    return environment, rows


def sources_from_files(patterns) -> list[tuple]:
    """(environment record, probe rows, results) per results file; env name = file stem unless recorded."""
    sources, names = [], set()
    for path in results_files.expand_paths(patterns):
        environment, rows, results = results_files.read_file(path)
        if environment is None:
            environment = {"kind": "environment", "name": path.stem, "frameworks": {}, "device": "cpu",
                           "allow_tf32": False}
        environment = {**environment, "source": str(path)}
        name = environment.get("name") or path.stem
        while name in names:
            name += "'"
        names.add(name)
        environment["name"] = name
        sources.append((environment, rows, results))
    return sources


def make_report(results=None, probe: bool | None = None, frameworks=None, device="cpu", allow_tf32=False,
                progress=None) -> dict:
    """The report dict.  ``probe=None`` probes live unless some results file carries probes."""
    sources = sources_from_files(results) if results else []
    if probe is None:
        probe = not any(rows for _, rows, _ in sources)
    if probe:
        environment, rows = live_environment(frameworks, device, allow_tf32, progress=progress)
        sources.append((environment, rows, []))
    return model.build([s[0] for s in sources], sources, name="merged" if results else "installed")


def render(report: dict, fmt: str) -> str:
    import importlib

    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return importlib.import_module(f"equivcheck.report.{FORMATS[fmt]}").render(report)


#: Rows whose value depends on the CPU the report runs on, not on a framework version: TensorFlow
#: turns oneDNN on by default only on some x86 CPUs (an AMD EPYC without AVX-512 runs without it), and
#: with oneDNN its eager conv2d aborts the process on a rank-3 input where the plain kernel rejects it.
#: A committed copy made on another CPU differs in these rows only; ``check`` says so and passes.
HOST_DEPENDENT_ROWS = ("| oneDNN (MKL) enabled |", ": onednn_enabled |", "| conv2d on (H, W, C) | tensorflow ")


def _host_dependent(line: str) -> bool:
    return line.startswith("| tensorflow |") and any(marker in line for marker in HOST_DEPENDENT_ROWS)


def check(text: str, path: Path, out=None) -> bool:
    r"""Whether ``path`` holds exactly ``text``, up to :data:`HOST_DEPENDENT_ROWS`; prints the start of a
    diff (to stdout) when not.

    >>> import tempfile, pathlib, io
    >>> copy = pathlib.Path(tempfile.mkdtemp()) / "c.md"
    >>> _ = copy.write_text("| tensorflow | tensorflow | oneDNN (MKL) enabled | tf 2.21 | True |\n")
    >>> check("| tensorflow | tensorflow | oneDNN (MKL) enabled | tf 2.21 | False |\n", copy, io.StringIO())
    True
    >>> check("| torch | x | y | z | other |\n", copy, io.StringIO())
    False
    """
    import difflib

    out = out or sys.stdout
    path = Path(path)
    if not path.exists():
        print(f"{path} does not exist; generate it with: equivcheck report --format md -o {path}", file=out)
        return False
    current = path.read_text(encoding="utf-8")
    if current == text:
        print(f"{path} is up to date", file=out)
        return True
    diff = list(difflib.unified_diff(current.splitlines(), text.splitlines(), f"{path} (committed)",
                                     f"{path} (regenerated)", lineterm="", n=1))
    changed = [line[1:] for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    if changed and all(_host_dependent(line) for line in changed):
        print(f"{path} is up to date except {len(changed) // 2 or 1} row(s) that depend on this CPU, not on a "
              f"version (TensorFlow's oneDNN; see equivcheck/report/generate.py HOST_DEPENDENT_ROWS):", file=out)
        for line in diff:
            if line[:1] == "+" and not line.startswith("+++"):
                print(f"  here: {line[1:]}", file=out)
        return True
    print(f"{path} is stale: {len(diff)} diff lines; regenerate with: equivcheck report --format "
          f"{'md' if path.suffix == '.md' else path.suffix.lstrip('.')} -o {path}", file=out)
    for line in diff[:60]:
        print(line, file=out)
    return False
