"""``equivcheck report``: the conventions report (probed live or from results files), written or checked."""
from __future__ import annotations

import sys
from pathlib import Path

from equivcheck import backends
from equivcheck.cli_common import EXIT_OK, EXIT_UNEXPECTED, UsageProblem, names


def cmd_report(args) -> int:
    from equivcheck.report import generate, model, results_files

    frameworks = None if args.frameworks is None else backends.check_names(
        names(args.frameworks, "--frameworks", "framework", "leave it out to probe every installed one"),
        "--frameworks")
    if args.check and args.output:
        raise UsageProblem("--check compares with a file and writes nothing; drop -o")
    if args.record and args.probe is False:
        raise UsageProblem("--record stores live probes; it cannot be combined with --no-probe")
    progress = None if args.quiet else sys.stderr
    probe = True if args.record else args.probe
    if args.record:
        environment, rows = generate.live_environment(frameworks, args.device, args.allow_tf32,
                                                      name=Path(args.record).stem, progress=progress)
        try:
            results_files.record_probes(args.record, environment, rows)
        except OSError as exc:
            raise UsageProblem(f"--record: cannot write {args.record}: {exc.strerror or exc}") from None
        sources = generate.sources_from_files(args.results) if args.results else []
        if not any(s[0].get("source") and Path(s[0]["source"]).resolve() == Path(args.record).resolve()
                   for s in sources):
            sources += generate.sources_from_files([args.record])
        report = model.build([s[0] for s in sources], sources, name="merged" if args.results else "installed")
    else:
        report = generate.make_report(args.results, probe=probe, frameworks=frameworks, device=args.device,
                                      allow_tf32=args.allow_tf32, progress=progress)
    text = generate.render(report, args.format)
    if args.check:
        return EXIT_OK if generate.check(text, Path(args.check)) else EXIT_UNEXPECTED
    if args.output:
        try:
            Path(args.output).parent.mkdir(parents=True, exist_ok=True)
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageProblem(f"-o: cannot write {args.output}: {exc.strerror or exc}") from None
        if progress:
            print(f"wrote {args.output} ({args.format})", file=progress)
    else:
        sys.stdout.write(text)
    return EXIT_OK
