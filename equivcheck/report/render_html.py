"""HTML rendering: one self-contained file (inline CSS and SVG, no script, no network).

The verdict matrix is colour-coded (:data:`COLOURS`); hovering a cell shows
each dtype's verdict and its error/bound ratio.  Small drawn grids show where
each input channel lands under pixel_shuffle (CRD) and depth_to_space (DCR),
from the probed mappings when those frameworks were probed.

>>> from equivcheck.report.model import build
>>> render(build([], [], name="empty")).startswith("<!DOCTYPE html>")
True
"""
from __future__ import annotations

import html
import json

from equivcheck.report.model import ABSENT
from equivcheck.report.sections import PIVOTED, lay_out, pivot, ratio_text, topic_sections, verdict_matrix

#: Verdict → cell colour (the screenshot check looks for these).
COLOURS = {"holds": "#1b8a3a", "refuted": "#e8710a", "raises": "#8e44ad", "n/a": "#9aa0a6", "error": "#d93025"}
#: Input-channel colours of the pixel-shuffle grids.
CHANNEL_COLOURS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7"]

CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#202124;max-width:1600px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #dadce0}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #dadce0;padding:3px 6px;vertical-align:top}
th{background:#f1f3f4;text-align:left}code{font:12px ui-monospace,Menlo,Consolas,monospace}
.how{color:#5f6368;font-style:italic;max-width:1100px}
td.v{color:#fff;font-weight:600;text-align:center;position:relative;min-width:70px}
td.v.unexpected{outline:3px dashed #000;outline-offset:-4px}
td.v .r{display:block;font-weight:400;font-size:11px;opacity:.9}
td.v[data-tip]:hover::after{content:attr(data-tip);position:absolute;left:0;top:100%;z-index:9;white-space:pre;
 background:#202124;color:#fff;font:12px ui-monospace,monospace;padding:6px 8px;border-radius:4px;text-align:left}
.ok{color:#1b8a3a;font-weight:700}.bad{color:#d93025;font-weight:700}
.differs{background:#fff3c4}.absent{color:#9aa0a6}
.legend span{display:inline-block;padding:2px 8px;margin-right:6px;color:#fff;border-radius:3px}
.grids{display:flex;gap:40px;flex-wrap:wrap}.grids figure{margin:0}figcaption{font-size:13px;color:#3c4043;max-width:420px}
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _head(report, out) -> None:
    out.append("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
               "<meta name='viewport' content='width=device-width,initial-scale=1'>"
               f"<title>equivcheck report ({_e(report['name'])})</title><style>{CSS}</style></head><body>")
    out.append("<h1>equivcheck: convolution verdicts and conventions, probed live</h1>")
    out.append("<p>Every convention value was read off the installed frameworks by calling their ops and layers on "
               "probe inputs; <span class='ok'>✓</span>/<span class='bad'>✗</span> compare it with "
               "<code>equivcheck/layouts.py</code> or the adapter. Cells on a <span class='differs'>yellow</span> "
               "background differ between versions of a framework.</p>")
    out.append("<h2 id='versions'>Versions</h2><table><tr><th>column</th><th>device</th><th>environments</th></tr>")
    for col in report["columns"]:
        out.append(f"<tr><td>{_e(col['id'])}</td><td>{_e(col['device'])}"
                   f"{' (TF32 allowed)' if col['allow_tf32'] else ''}</td><td>{_e(', '.join(col['environments']))}</td></tr>")
    out.append("</table>")
    summary = report["summary"]
    out.append("<h2 id='summary'>Summary</h2><ul>")
    out.append(f"<li>{summary['convention_rows']} convention rows; {summary['convention_rows_differing']} differ "
               f"between versions.</li>")
    if report["verdicts"]:
        out.append(f"<li>{summary['verdict_rows']} claim × framework rows; {summary['verdict_rows_differing']} "
                   f"verdicts differ between versions; {summary['unexpected_verdicts']} cells are not what the case "
                   f"files expect.</li>")
    if summary["table_disagreements"]:
        out.append("<li>Disagreements with the layout table or adapter:<ul>" +
                   "".join(f"<li>{_e(d)}</li>" for d in summary["table_disagreements"]) + "</ul></li>")
    else:
        out.append("<li>No probed value disagrees with the layout table or the adapters.</li>")
    out.append("</ul>")


def _tip(cell) -> str:
    lines = []
    for dtype, info in sorted(cell["dtypes"].items()):
        line = f"{dtype}: {info['verdict']} (expected {info.get('expected')})"
        if info.get("ratio") is not None:
            line += (f"\n  error/bound = {info['ratio']:.3g}  (max|err| {info.get('max_abs_err') or 0:.3g}"
                     f" / bound {info.get('bound') or 0:.3g})")
        if info.get("reason"):
            line += f"\n  {str(info['reason'])[:90]}"
        if info.get("expected_because"):
            line += f"\n  {str(info['expected_because'])[:160]}"
        if info.get("examples_checked") is not None and info.get("examples_run"):
            line += (f"\n  {info['examples_checked']} of {info['examples_run']} examples checked, "
                     f"{info.get('statement_checks_passed', 0)} of {info.get('statement_checks', 0)} statement checks passed")
        for entry in info.get("skipped") or []:
            line += f"\n  {entry['count']} example(s) did not run: {str(entry['reason'])[:160]}"
        lines.append(line)
    return "\n".join(lines)


def _matrix(report, out) -> None:
    out.append("<h2 id='verdicts'>Verdict matrix</h2>")
    if not report["verdicts"]:
        out.append("<p>No results files were given (<code>equivcheck report --results FILE…</code>), so there "
                   "are no verdicts here, only the conventions below.</p>")
        return
    out.append("<p class='legend'>" + "".join(f"<span style='background:{c}'>{_e(v)}</span>"
                                              for v, c in COLOURS.items()) +
               " dashed outline: not what the case file expects. Hover a cell for each dtype's error/bound "
               "ratio (the tolerance audit; 1 is the bound).</p>")
    columns, matrix = verdict_matrix(report)
    out.append("<table class='matrix'><tr><th>claim</th>" + "".join(f"<th>{_e(c['id'])}</th>" for c in columns) + "</tr>")
    for claim, entries in matrix:
        out.append(f"<tr><th>{_e(claim)}</th>")
        for _, row, cell in entries:
            if cell is None:
                out.append("<td class='absent'>—</td>")
                continue
            first = cell["verdict"].split("/")[0]
            classes = "v" + ("" if cell["as_expected"] else " unexpected")
            tip = _tip(cell)
            ratio = f"<span class='r'>{ratio_text(cell['max_ratio'])}</span>" if cell["max_ratio"] is not None else ""
            differs = "≠ " if row["differs"] else ""
            out.append(f"<td class='{classes}' style='background:{COLOURS.get(first, '#5f6368')}' title='{_e(tip)}' "
                       f"data-tip='{_e(tip)}'>{differs}{_e(cell['verdict'])}{'' if cell['as_expected'] else '!'}"
                       f"{ratio}</td>")
        out.append("</tr>")
    out.append("</table>")


def _mapping_by_definition(order, channels_out=2, r=2):
    mapping = [[[0] * r for _ in range(r)] for _ in range(channels_out)]
    for c in range(channels_out):
        for i in range(r):
            for j in range(r):
                mapping[c][i][j] = c * r * r + i * r + j if order == "CRD" else (i * r + j) * channels_out + c
    return mapping


def _grid_svg(mapping, title) -> str:
    """Input channels (a row of coloured squares) and where each lands in the r×r output blocks."""
    channels_out, r = len(mapping), len(mapping[0])
    size, gap = 34, 44
    n_in = channels_out * r * r
    width = max(n_in * size, channels_out * (r * size + gap)) + 20
    height = size + 40 + r * size + 30
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
             f"aria-label='{_e(title)}'>",
             f"<text x='0' y='12' font-size='12'>input channels 0…{n_in - 1} (each pixel)</text>"]
    for q in range(n_in):
        parts.append(f"<rect x='{q * size}' y='18' width='{size - 2}' height='{size - 2}' "
                     f"fill='{CHANNEL_COLOURS[q % len(CHANNEL_COLOURS)]}'/>"
                     f"<text x='{q * size + size / 2 - 1}' y='{18 + size / 2 + 4}' font-size='13' fill='#fff' "
                     f"text-anchor='middle'>{q}</text>")
    top = size + 44
    parts.append(f"<text x='0' y='{top - 6}' font-size='12'>output: one {r}×{r} block per output channel</text>")
    for c in range(channels_out):
        left = c * (r * size + gap)
        for i in range(r):
            for j in range(r):
                q = int(mapping[c][i][j])
                parts.append(f"<rect x='{left + j * size}' y='{top + i * size}' width='{size - 2}' height='{size - 2}' "
                             f"fill='{CHANNEL_COLOURS[q % len(CHANNEL_COLOURS)]}'/>"
                             f"<text x='{left + j * size + size / 2 - 1}' y='{top + i * size + size / 2 + 4}' "
                             f"font-size='13' fill='#fff' text-anchor='middle'>{q}</text>")
        parts.append(f"<text x='{left}' y='{top + r * size + 14}' font-size='12'>out ch {c}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _pixel_shuffle(report, out) -> None:
    out.append("<h2 id='pixel-shuffle-grids'>Where each input channel lands: pixel_shuffle (CRD) vs depth_to_space (DCR)</h2>")
    out.append("<p>8 input channels, block r=2, 2 output channels. Same colour, same input channel.</p><div class='grids'>")
    wanted = (("torch", "torch.nn.functional.pixel_shuffle", "CRD"), ("tensorflow", "tf.nn.depth_to_space", "DCR"))
    for framework, api, order in wanted:
        probed = None
        for row in report["conventions"]:
            if row["topic"] == "pixel_shuffle" and row["api"] == api:
                ordered = [c["id"] for c in report["columns"] if c["id"] in row["columns"]]  # newest first
                for col in ordered:
                    data = row["values"][col].get("data") or {}
                    if data.get("mapping"):
                        probed = (data["mapping"], row["values"][col]["value"], col)
                        break
            if probed:
                break
        if probed:
            mapping, value, col = probed
            caption = f"{api} — probed in {col}: {value}"
        else:
            mapping, caption = _mapping_by_definition(order), f"{api} — {order} by definition ({framework} not probed)"
        out.append(f"<figure>{_grid_svg(mapping, caption)}<figcaption>{_e(caption)}</figcaption></figure>")
    out.append("</div>")


def _value_cell(value, differs) -> str:
    shown = value["value"]
    mark = {True: " <span class='ok'>✓</span>", False: " <span class='bad'>✗</span>", None: ""}[value.get("agrees")]
    table = ""
    if value.get("agrees") is False and value.get("table"):
        table = f" <small>(table: <code>{_e(value['table'])}</code>)</small>"
    title = " | ".join(t for t in (value.get("detail"), f"table: {value['table']}" if value.get("table") else "") if t)
    classes = " ".join(c for c in ("differs" if differs else "", "absent" if shown == ABSENT else "") if c)
    return (f"<td class='{classes}' title='{_e(title)}'>{'≠ ' if differs else ''}<code>{_e(shown)}</code>"
            f"{mark}{table}</td>")


def _conventions(report, out) -> None:
    columns = {c["id"]: c for c in report["columns"]}
    for topic, info, rows in topic_sections(report):
        out.append(f"<h2 id='{_e(topic)}'>{_e(info['title'])}</h2><p class='how'>{_e(info['how'])}</p>")
        if topic in PIVOTED:
            items, groups = pivot(report, rows)
            out.append("<table><tr><th>framework</th><th>API</th><th>version</th>" +
                       "".join(f"<th>{_e(i)}</th>" for i in items) + "<th>across versions</th></tr>")
            for group in groups:
                for col in group.columns:
                    cells = ["<td></td>" if cell is None else _value_cell(*cell) for cell in group.cells[col]]
                    across = ("one version probed" if len(group.columns) < 2 else
                              "differs: " + ", ".join(group.differing) if group.differing else
                              f"same in all {len(group.columns)} versions")
                    out.append(f"<tr><td>{_e(group.framework)}</td><td>{_e(group.family)}</td>"
                               f"<td>{_e(columns[col]['label'])}</td>" + "".join(cells) + f"<td>{_e(across)}</td></tr>")
            out.append("</table>")
        else:
            out.append("<table><tr><th>framework</th><th>API</th><th>item</th><th>version</th><th>value</th>"
                       "<th>details</th><th>across versions</th></tr>")
            for row in rows:
                for col in row["columns"]:
                    value = row["values"][col]
                    across = ("one version probed" if len(row["columns"]) < 2 else
                              "differs" if row["differs"] else f"same in all {len(row['columns'])} versions")
                    out.append(f"<tr><td>{_e(row['framework'])}</td><td>{_e(row['api'])}</td><td>{_e(row['item'])}</td>"
                               f"<td>{_e(columns[col]['label'])}</td>{_value_cell(value, row['differs'])}"
                               f"<td><small>{_e(value.get('detail', ''))}</small></td><td>{_e(across)}</td></tr>")
            out.append("</table>")


def _recorded(report, key, title, out) -> None:
    rows = report[key]
    if not rows:
        return
    columns = {c["id"]: c for c in report["columns"]}
    label = "key" if key == "facts" else "label"
    out.append(f"<h2 id='{key}'>{_e(title)}</h2><table><tr><th>claim</th><th>framework</th><th>{label}</th>"
               "<th>version</th><th>value</th></tr>")
    for row in rows:
        for col, value in sorted(row["values"].items()):
            shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
            out.append(f"<tr><td>{_e(row['claim'])}</td><td>{_e(row['framework'])}</td><td>{_e(row[label])}</td>"
                       f"<td>{_e(columns[col]['label'])}</td><td class='{'differs' if row['differs'] else ''}'>"
                       f"{'≠ ' if row['differs'] else ''}<code>{_e(shown)}</code></td></tr>")
    out.append("</table>")


def _sources(report, out) -> None:
    """Each claim's sources in words, linked where they have an address."""
    if not report.get("claims"):
        return
    out.append("<h2 id='sources'>Where the claims come from</h2><ul>")
    for claim, entry in report["claims"].items():
        refs = "; ".join((f"<a href='{_e(src['url'])}'>{_e(src['words'])}</a>" if src.get("url") else _e(src["words"]))
                         + f" (“{_e(src['quote'])}”)" for src in entry["sources"])
        out.append(f"<li><b>{_e(claim)}</b>: {_e(entry['title'])}. {refs}</li>")
    out.append("</ul>")


def render(report: dict) -> str:
    """The whole report as one HTML document."""
    out = lay_out(report, (_head, _matrix, _pixel_shuffle, _conventions, _sources), _recorded)
    out.append("</body></html>\n")
    return "\n".join(out)
