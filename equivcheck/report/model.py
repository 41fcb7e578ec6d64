"""The report as data: environments, columns, conventions, verdicts, facts (the JSON format).

Design rules
- An *environment* is one results file (one tox env, say) or the live
  interpreter.  A *column* is one framework at one version signature (plus
  device and TF32 when not the defaults); environments with identical
  versions share a column.
- Every row (a convention, a claim's verdict, a recorded fact or error)
  holds one value per column of its framework and ``differs`` says whether
  those values are not all the same; a row missing in a column where its
  framework was probed counts as a value ("absent"), since an API appearing or
  disappearing between versions is itself a difference.
- Everything is sorted, and nothing depends on time or paths, so a report of
  the same inputs is byte-identical (``docs/CONVENTIONS.md`` relies on it).

>>> build([], [], name="none")["schema"]
'equivcheck-report/1'
"""
from __future__ import annotations

import json
import os
import platform
import re
from importlib import metadata
from pathlib import Path

from equivcheck.backends import ENGINES, FRAMEWORKS  # the one registry
from equivcheck.report.probes import TOPICS
# the results files the report is built from (tests/test_report.py reads them through this module)
from equivcheck.report.results_files import ReportInputError, expand_paths, read_file, record_probes  # noqa: F401
from equivcheck.runner import record_as_expected

SCHEMA = "equivcheck-report/1"
#: Distribution names whose versions identify a framework column (from the registry, ``Engine.identity``).
DISTRIBUTIONS = {name: engine.identity for name, engine in ENGINES.items()}
ABSENT = "absent"
#: Column order of the pivoted kernel table; other items sort naturally.
ITEM_ORDER = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
              "grouped conv2d (groups=2)", "depthwise conv2d", "dense"]


def _dist_version(names) -> str | None:
    for name in (names if isinstance(names, tuple) else (names,)):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def keras_backend() -> str | None:
    """The Keras backend this environment selects (KERAS_BACKEND, keras.json, else tensorflow)."""
    version = _dist_version("keras")
    if version is None:
        return None
    if int(version.split(".")[0]) < 3:
        return "tensorflow"  # Keras 2 is tf.keras
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    config = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "keras.json"
    try:
        return json.loads(config.read_text()).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


def environment_record(name: str, device: str = "cpu", allow_tf32: bool = False, frameworks=None) -> dict:
    """What identifies this interpreter's framework versions (no framework is imported)."""
    packages = {}
    for framework in frameworks or FRAMEWORKS:
        versions = {}
        for names in DISTRIBUTIONS[framework]:
            version = _dist_version(names)
            if version is not None:
                versions[names[0] if isinstance(names, tuple) else names] = version
        if framework == "tensorflow" and "keras" in versions:
            versions["keras_backend"] = keras_backend()
        if versions and all(_dist_version(n) for n in DISTRIBUTIONS[framework][:1]):
            packages[framework] = versions
    return {"kind": "environment", "name": name, "python": ".".join(platform.python_version_tuple()[:2]),
            "device": device, "allow_tf32": bool(allow_tf32), "frameworks": packages}


def version_label(framework: str, versions: dict) -> str:
    """'tensorflow 2.21.0 · keras 3.15.1 (jax backend)' from a versions dict.

    >>> version_label("torch", {"torch": "2.13.0+cpu"})
    'torch 2.13.0+cpu'
    """
    own = [n[0] if isinstance(n, tuple) else n for n in DISTRIBUTIONS.get(framework, ())]
    keys = sorted((k for k in versions if k not in ("keras_backend", "cuda")),
                  key=lambda k: (own.index(k) if k in own else len(own), k))
    parts = [f"{key} {versions[key]}" for key in keys]
    label = " · ".join(parts) or framework
    if versions.get("keras_backend"):
        label += f" ({versions['keras_backend']} backend)"
    return label


# ---------------------------------------------------------------------------
# building the report
# ---------------------------------------------------------------------------
def _column_of(framework: str, versions: dict, device: str = "cpu", tf32: bool = False, precision: str = "") -> dict:
    label = version_label(framework, versions)
    suffix = ""
    if device and device != "cpu":
        suffix += f" · {device}"
    if tf32:
        suffix += " · TF32 allowed"
    if precision:  # an engine run at its own precision instead of the pinned one (OpenVINO's default)
        suffix += f" · precision {precision}"
    column = {"id": f"{framework}: {label}{suffix}", "framework": framework, "label": label + suffix,
              "versions": versions, "device": device or "cpu", "allow_tf32": bool(tf32), "environments": []}
    if precision:
        column["precision"] = precision
    return column


def _result_versions(record: dict, environment: dict | None) -> dict:
    framework = record["framework"]
    if environment and framework in environment.get("frameworks", {}):
        return environment["frameworks"][framework]
    versions = dict(record.get("versions") or {framework: record.get("framework_version", "?")})
    versions.pop("cuda", None)
    return versions


def build(environments: list[dict], sources: list[tuple], name: str = "report") -> dict:
    """The report dict from ``sources``: (environment record, probe rows, result records) per environment."""
    columns: dict[str, dict] = {}
    probed_columns: dict[str, set] = {}
    conventions: dict[tuple, dict] = {}
    verdicts: dict[tuple, dict] = {}
    facts: dict[tuple, dict] = {}
    errors: dict[tuple, dict] = {}
    env_list = []

    def column(framework, versions, device="cpu", tf32=False, env_name=None, precision=""):
        spec = _column_of(framework, versions, device, tf32, precision)
        col = columns.setdefault(spec["id"], spec)
        if env_name and env_name not in col["environments"]:
            col["environments"].append(env_name)
        return col["id"]

    for environment, rows, results in sources:
        env_name = environment["name"]
        env_list.append({k: environment.get(k) for k in ("name", "python", "device", "allow_tf32", "frameworks",
                                                         "source")})
        device, tf32 = environment.get("device", "cpu"), environment.get("allow_tf32", False)
        for row in rows:
            versions = environment.get("frameworks", {}).get(row.framework, {row.framework: "?"})
            col = column(row.framework, versions, device, tf32, env_name)
            probed_columns.setdefault(row.framework, set()).add(col)
            entry = conventions.setdefault(row.key, {"topic": row.topic, "item": row.item, "framework": row.framework,
                                                     "api": row.api, "family": row.data.get("family", row.api),
                                                     "values": {}})
            entry["values"][col] = {"value": row.value, "table": row.table, "agrees": row.agrees,
                                    "detail": row.detail, "data": row.data}
        for record in results:
            framework = record["framework"]
            record_device = record.get("device", device) or "cpu"
            # TF32 allowed: said by the result line (equivcheck run records it and the compute dtype its
            # bound used) or, for older lines, by the environment record; its error/bound is under TF32
            record_tf32 = record.get("compute_dtype") == "tf32" or (
                bool(record.get("allow_tf32", tf32)) and record_device != "cpu")
            col = column(framework, _result_versions(record, environment), record_device, record_tf32, env_name,
                         record.get("precision") or "")
            key = (record["claim"], framework)
            entry = verdicts.setdefault(key, {"claim": record["claim"], "framework": framework, "cells": {}})
            cell = entry["cells"].setdefault(col, {"dtypes": {}})
            cell["dtypes"][record.get("dtype", "?")] = {
                k: record.get(k) for k in ("verdict", "expected", "max_abs_err", "bound", "ratio", "seed",
                                           "examples", "reason", "expected_because", "skipped", "compute_dtype",
                                           "examples_run", "examples_checked", "statement_checks",
                                           "statement_checks_passed", "draws_asked", "draws_run")}
            cell["dtypes"][record.get("dtype", "?")]["as_expected"] = record_as_expected(record)
            for fact_key, value in sorted((record.get("facts") or {}).items()):
                fact = facts.setdefault((record["claim"], framework, fact_key),
                                        {"claim": record["claim"], "framework": framework, "key": fact_key, "values": {}})
                fact["values"][col] = value
            for label, info in sorted((record.get("errors") or {}).items()):
                error = errors.setdefault((record["claim"], framework, label),
                                          {"claim": record["claim"], "framework": framework, "label": label,
                                           "values": {}})
                error["values"][col] = f"{info.get('type', '?')}: {info.get('message', '')}" if isinstance(info, dict) else str(info)

    for entry in verdicts.values():
        for cell in entry["cells"].values():
            _summarise_cell(cell)

    def columns_of(framework, only=None):
        return [c for c in sorted(columns) if columns[c]["framework"] == framework and (only is None or c in only)]

    convention_rows = []
    for key in sorted(conventions, key=lambda k: _row_order(k)):
        entry = conventions[key]
        probed = columns_of(entry["framework"], probed_columns.get(entry["framework"], set()))
        for col in probed:
            entry["values"].setdefault(col, {"value": ABSENT, "table": None, "agrees": None, "detail":
                                             "this API or probe does not exist in this version", "data": {}})
        # the detail carries the framework's error message: a reworded error is a difference too
        distinct = {(v["value"], v.get("detail", "")) for v in entry["values"].values()}
        entry["differs"] = len(distinct) > 1
        entry["columns"] = probed
        convention_rows.append(entry)

    verdict_rows = []
    for key in sorted(verdicts):
        entry = verdicts[key]
        entry["differs"] = len({c["verdict"] for c in entry["cells"].values()}) > 1
        verdict_rows.append(entry)
    fact_rows = []
    for key in sorted(facts):
        entry = facts[key]
        entry["differs"] = len({json.dumps(v, sort_keys=True, default=str) for v in entry["values"].values()}) > 1
        fact_rows.append(entry)
    error_rows = []
    for key in sorted(errors):
        entry = errors[key]
        entry["differs"] = len(set(entry["values"].values())) > 1
        error_rows.append(entry)

    ordered_columns = [columns[c] for c in sorted(columns, key=lambda c: (
        FRAMEWORKS.index(columns[c]["framework"]) if columns[c]["framework"] in FRAMEWORKS else 99,
        _version_key(columns[c]), c))]
    for col in ordered_columns:
        col["environments"].sort()
    return {
        "schema": SCHEMA,
        "name": name,
        "topics": {t: {"title": title, "how": how} for t, (title, how) in TOPICS.items()},
        "environments": sorted(env_list, key=lambda e: e["name"]),
        "columns": ordered_columns,
        "conventions": convention_rows,
        "permutations": permutations(convention_rows, ordered_columns),
        "verdicts": verdict_rows,
        "facts": fact_rows,
        "errors": error_rows,
        "claims": claim_sources(sorted({r["claim"] for r in verdict_rows})),
        "summary": _summary(convention_rows, verdict_rows, fact_rows, error_rows, ordered_columns),
    }


def claim_sources(claim_ids) -> dict:
    """Title and sources in words (:meth:`equivcheck.claim.Source.to_dict`) of each claim a report shows,
    from the catalog (and ``EQUIVCHECK_CASES``); a claim no longer there is left out."""
    if not claim_ids:
        return {}
    from equivcheck.claim import ClaimError, load_claims

    try:
        catalog = load_claims()
    except ClaimError:  # a broken case file: the verdicts still render, the loader's error is reported elsewhere
        return {}
    return {cid: {"title": catalog[cid].title, "sources": [src.to_dict() for src in catalog[cid].sources]}
            for cid in claim_ids if cid in catalog}


def _version_key(column: dict):
    """Newest first: compare the framework's own version numerically."""
    main = next(iter(column["versions"].values()), "0") if column["versions"] else "0"
    parts = []
    for token in str(main).replace("+", ".").split("."):
        parts.append(-int(token) if token.isdigit() else 0)
    return parts


def item_key(item: str):
    """Known items in :data:`ITEM_ORDER`, then natural order (n=8 before n=16)."""
    return (ITEM_ORDER.index(item) if item in ITEM_ORDER else len(ITEM_ORDER),
            [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", item)])


def _row_order(key):
    topic, item, framework, api = key
    topic_index = list(TOPICS).index(topic) if topic in TOPICS else 99
    return (topic_index, FRAMEWORKS.index(framework) if framework in FRAMEWORKS else 99, api, item_key(item))


def _summarise_cell(cell: dict) -> None:
    dtypes = cell["dtypes"]
    priority = {"error": 4, "refuted": 3, "raises": 2, "holds": 1, "n/a": 0}
    cell["verdict"] = "/".join(sorted({d["verdict"] for d in dtypes.values()}, key=lambda v: -priority.get(v, 5)))
    cell["expected"] = "/".join(sorted({d["expected"] for d in dtypes.values() if d.get("expected")}))
    cell["as_expected"] = all(d["as_expected"] for d in dtypes.values())
    cell["known_deviation"] = "; ".join(sorted({f"{dtype}: {d['expected_because']}" for dtype, d in dtypes.items()
                                                if d.get("expected_because")}))
    cell["not_run"] = "; ".join(f"{dtype}, {entry['count']} example{'s' * (entry['count'] != 1)}: {entry['reason']}"
                                for dtype, d in sorted(dtypes.items()) for entry in (d.get("skipped") or []))
    ratios = [d["ratio"] for d in dtypes.values() if d.get("ratio") is not None]
    cell["max_ratio"] = max(ratios) if ratios else None
    cell["checked"] = checked_text(dtypes.values())


def checked_text(results) -> str:
    """``"k of N examples checked"`` over result records that hold with examples that did not run
    (``""`` when every example ran, or for records written before examples were counted).

    >>> checked_text([{"verdict": "holds", "examples_run": 30, "examples_checked": 12}])
    '12 of 30 examples checked'
    """
    counted = [r for r in results if r.get("verdict") == "holds" and r.get("examples_checked") is not None
               and r.get("examples_run")]
    run, checked = sum(r["examples_run"] for r in counted), sum(r["examples_checked"] for r in counted)
    return f"{checked} of {run} examples checked" if counted and checked < run else ""


def permutations(convention_rows: list[dict], columns: list[dict]) -> dict:
    """Kernel permutations between every pair of probed conv2d / conv_transpose2d layouts (newest version)."""
    from equivcheck import layouts

    first_column = {}
    for col in columns:
        first_column.setdefault(col["framework"], col["id"])
    result = {}
    for item in ("conv2d", "conv_transpose2d"):
        sources = []
        for row in convention_rows:
            if row["topic"] != "kernel_layout" or row["item"] != item:
                continue
            value = row["values"].get(first_column.get(row["framework"]))
            found = (value or {}).get("data", {}).get("layouts") or []
            if len(found) == 1:
                sources.append({"framework": row["framework"], "api": row["api"], "layout": found[0],
                                "flipped": bool(value["data"].get("flipped"))})
        matrix = []
        for source in sources:
            cells = []
            for target in sources:
                perm = layouts.permutation(source["layout"], target["layout"])
                flip = source["flipped"] != target["flipped"]
                cells.append({"transpose": list(perm), "flip": flip})
            matrix.append(cells)
        result[item] = {"apis": sources, "matrix": matrix}
    return result


def _summary(conventions, verdicts, facts, errors, columns) -> dict:
    labels = {c["id"]: c["label"] for c in columns}
    disagreements = [f"{r['api']} {r['topic']} {r['item']} ({labels.get(c, c)}): probed {v['value']!r}, "
                     f"table {v['table']!r}"
                     for r in conventions for c, v in sorted(r["values"].items()) if v.get("agrees") is False]
    return {
        "columns": len(columns),
        "convention_rows": len(conventions),
        "convention_rows_differing": sum(r["differs"] for r in conventions),
        "verdict_rows": len(verdicts),
        "verdict_rows_differing": sum(r["differs"] for r in verdicts),
        "fact_rows_differing": sum(r["differs"] for r in facts),
        "error_rows_differing": sum(r["differs"] for r in errors),
        "unexpected_verdicts": sum(not c["as_expected"] for r in verdicts for c in r["cells"].values()),
        "table_disagreements": disagreements,
    }
