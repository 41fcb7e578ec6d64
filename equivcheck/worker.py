"""One framework per worker process: a crash (an abort in native code) loses one claim, not the run.

Claims (``equivcheck run``) and the conventions report's probes (``Job.kind == "probes"``) run
through the same workers, events and restart loop.

The parent (``equivcheck run``) starts ``python -m equivcheck.worker '<json job>'``
and reads protocol lines from its stdout; anything else a framework prints is
ignored.  Each line is ``@@equivcheck `` + JSON: a ``start`` event before each
claim × dtype, an ``example`` event with the params of each example just before
it runs, then the claim's ``result`` (a :class:`~equivcheck.runner.Result` dict plus
``compute_dtype``, the precision its adapter computed in).  A ``start`` without a ``result`` when the
process ends names the claim that crashed it, and the last ``example`` the
parameters that did (so the crash record carries a reproduce command).
"""
from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass

PREFIX = "@@equivcheck "
CRASH_TYPE = "equivcheck.WorkerCrashed"


@dataclass
class Job:
    framework: str
    #: [(claim_id, dtype), ...]; for probes [(probe_id, "float32"), ...], or None for all the
    #: framework's probes (the worker then emits a ``plan`` event naming them first)
    items: list | None
    examples: int = 0
    seed: int = 0
    device: str = "cpu"
    allow_tf32: bool = False
    params: dict | None = None
    kind: str = "claims"  # or "probes"
    #: probes: the module registering them (default: the framework's folder's ``probes``)
    module: str | None = None

    def to_json(self) -> str:
        return json.dumps(self.__dict__)


def _emit(event: str, **payload) -> None:
    sys.stdout.write(PREFIX + json.dumps({"event": event, **payload}, default=str) + "\n")
    sys.stdout.flush()


def main(argv=None) -> int:
    from equivcheck import backends
    from equivcheck.claim import load_claims
    from equivcheck import runner

    job = Job(**json.loads((argv or sys.argv[1:])[0]))
    backends.SOLO = True
    if job.kind == "probes":
        from equivcheck.report import probes

        return probes.run_items(job, _emit)
    runner.EXAMPLE_HOOK = lambda params: _emit("example", params=params)
    claims = load_claims()
    for claim_id, dtype in job.items:
        _emit("start", claim=claim_id, framework=job.framework, dtype=dtype)
        result = runner.run_claim(claims[claim_id], job.framework, dtype=dtype, examples=job.examples, seed=job.seed,
                           device=job.device, allow_tf32=job.allow_tf32, params=job.params)
        payload = result.to_dict()
        # the precision its comparisons assumed (tf32 for GPU float32 with TF32 allowed), for the results file
        payload.setdefault("compute_dtype", backends.load(job.framework, dtype, job.device, job.allow_tf32).compute_dtype)
        _emit("result", result=payload)
    return 0


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


#: Lines of a dying process's stderr that say why, wherever they are in it (XLA's "Check failed",
#: glog's fatal "F…" lines, CPython's fatal error, C++ terminate/assert).
_CAUSE = re.compile(r"Check failed|^F\d{4} |Fatal Python error|terminate called|Assertion .* failed", re.M)


def crash_excerpt(stderr: str, limit: int = 2000, *, tail: bool = True) -> str:
    """The part of a dead worker's stderr worth keeping: the first line naming the cause, then (``tail``)
    the last ``limit`` characters; without a cause line, the tail alone."""
    end = stderr[-limit:]
    cause = _CAUSE.search(stderr)
    if cause is None:
        return end
    line = stderr[stderr.rfind("\n", 0, cause.start()) + 1:].split("\n", 1)[0][:limit]
    if not tail:
        return line
    return end if line in end else line + "\n…\n" + end


def run_jobs(jobs: list[Job], on_event, parallel: int = 1, env: dict | None = None) -> None:
    """Run ``jobs`` in worker processes (``parallel`` at a time), calling
    ``on_event(kind, payload)`` in the calling thread for every start, result
    and crash.  A crashed worker is restarted on the items it had not reached.
    ``env`` is set in the workers' environment on top of this process's.

    A crash payload names the item (``claim``; None when the worker died before it said which
    items it runs), ``how`` it ended, its ``returncode``, a ``stderr`` excerpt and the last example's
    ``params``.
    """
    extra_env = {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"), **(env or {})}
    events: queue.Queue = queue.Queue()
    pending = list(jobs)
    running = 0

    def supervise(job: Job):
        remaining = None if job.items is None else [tuple(item) for item in job.items]
        while remaining is None or remaining:
            current = example = None
            with tempfile.TemporaryFile(mode="w+") as log:
                process = subprocess.Popen([sys.executable, "-m", "equivcheck.worker", Job(**{**job.__dict__, "items": remaining}).to_json()],
                                           stdout=subprocess.PIPE, stderr=log, text=True,
                                           env={**os.environ, **extra_env})
                for line in process.stdout:
                    if not line.startswith(PREFIX):
                        continue
                    message = json.loads(line[len(PREFIX):])
                    if message["event"] == "plan":
                        remaining = [tuple(item) for item in message["items"]]
                    elif message["event"] == "start":
                        current, example = (message["claim"], message["dtype"]), None
                        events.put(("start", message))
                    elif message["event"] == "example":
                        example = message["params"]
                    else:
                        remaining.remove(current)
                        current = None
                        events.put(("result", message["result"]))
                code = process.wait()
                if current is None and code != 0 and remaining:
                    current = remaining[0]  # died before starting anything (e.g. import failure)
                if current is not None or remaining is None:
                    log.seek(0)
                    events.put(("crash", {"claim": None if current is None else current[0],
                                          "framework": job.framework, "dtype": None if current is None else current[1],
                                          "how": _describe_exit(code), "returncode": code,
                                          "stderr": crash_excerpt(log.read()), "params": example}))
                if remaining is None:  # died before its plan: nothing to resume
                    break
                if current is not None:
                    remaining.remove(current)
        events.put(("done", job.framework))

    threads = []
    while pending or running:
        while pending and running < parallel:
            thread = threading.Thread(target=supervise, args=(pending.pop(0),), daemon=True)
            thread.start()
            threads.append(thread)
            running += 1
        kind, payload = events.get()
        if kind == "done":
            running -= 1
        else:
            on_event(kind, payload)


if __name__ == "__main__":
    sys.exit(main())
