"""Which claims ``equivcheck list`` and ``equivcheck run`` see (``--cases``, ``--no-builtin`` and their
environment variables), and the ``list`` sub-command itself."""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from equivcheck.claim import CASES_ENV, NO_BUILTIN_ENV, builtin_from_env, case_dirs_from_env, load_claims
from equivcheck.cli_common import EXIT_OK, UsageProblem


def case_settings(args) -> tuple[list[Path], bool]:
    """(the extra case directories, whether the built-in catalog is included) of ``list`` / ``run``."""
    directories, seen = [], set()
    for folder in [Path(d) for d in (args.cases or [])] + case_dirs_from_env():
        if not str(folder).strip():
            raise UsageProblem("--cases: the directory name is empty")
        if folder.resolve() not in seen:
            seen.add(folder.resolve())
            directories.append(folder)
    builtin = not args.no_builtin and builtin_from_env()
    if not builtin and not directories:
        raise UsageProblem("--no-builtin leaves no claims: give --cases DIR (or $EQUIVCHECK_CASES)")
    return directories, builtin


def load(args) -> dict:
    directories, builtin = case_settings(args)
    claims = load_claims(cases=directories, builtin=builtin)
    if not claims:
        raise UsageProblem(f"no claims in {', '.join(map(str, directories))} (a claim is a .py file with one "
                           f"@claim(...) body; see docs/WRITING_CASES.md)")
    return claims


@contextlib.contextmanager
def cases_for_workers(args):
    """Worker processes load the claims themselves: hand them this run's case directories (absolute)
    and --no-builtin through the environment, for the duration of the run."""
    directories, builtin = case_settings(args)
    wanted = {CASES_ENV: os.pathsep.join(str(d.resolve()) for d in directories), NO_BUILTIN_ENV: "" if builtin else "1"}
    before = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def cmd_list(args) -> int:
    claims = load(args)
    if args.json:
        print(json.dumps([c.to_dict() for c in claims.values()], indent=2, ensure_ascii=False))
        return EXIT_OK
    width = max(len(i) for i in claims)
    for claim in claims.values():
        # one line per claim (its id first); each reference once, in words a reader can look up
        words = list(dict.fromkeys(s.words for s in claim.sources))
        print(f"{claim.id:<{width}}  {claim.title}  (sources: {'; '.join(words)})")
    return EXIT_OK
