"""The conventions report: probe decoders, live probes, crash isolation, merging, the three formats."""
from __future__ import annotations

import importlib.util
import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

from equivcheck import layouts, oracle
from equivcheck.report import decode, model, probes
from equivcheck.report.generate import check, render, sources_from_files
from equivcheck.report.probes import Row

ROOT = Path(__file__).resolve().parent.parent


# ---- decoders: each takes what a framework did and names the convention ----------------------
def test_decode_shape_names_every_axis_by_its_distinct_size():
    assert decode.decode_shape((2, 4, 3, 5), {"O": 5, "I": 3, "H": 2, "W": 4}) == "HWIO"
    assert decode.decode_shape((5, 3, 2, 4), {"O": 5, "I": 3, "H": 2, "W": 4}) == "OIHW"
    with pytest.raises(ValueError, match="distinct"):
        decode.decode_shape((3, 3), {"O": 3, "I": 3})


@pytest.mark.parametrize("n,k,stride", [(8, 2, 1), (8, 4, 1), (8, 3, 2), (7, 3, 2), (9, 5, 3)])
def test_same_split_decoded_from_an_impulse_conv_matches_the_oracle(n, k, stride):
    x = np.arange(1, n + 1, dtype=float)[None, None]
    w = np.zeros((1, 1, k))
    w[..., 0] = 1
    y = oracle.conv(x, w, stride=stride, padding="same")[0, 0]
    assert decode.same_split_from_output(y, n, k, stride) == oracle.same_padding(n, k, stride)


def test_same_split_sees_padding_put_at_the_start():
    # a framework padding (1, 0) instead of TF's (0, 1) for n=8, k=2: y[i] = x[i - 1]
    assert decode.same_split_from_output([0, 1, 2, 3, 4, 5, 6, 7], n=8, k=2, stride=1) == (1, 0)


def test_pixel_shuffle_orders_are_told_apart():
    crd = [[[c * 4 + i * 2 + j for j in range(2)] for i in range(2)] for c in range(2)]
    dcr = [[[(i * 2 + j) * 2 + c for j in range(2)] for i in range(2)] for c in range(2)]
    assert decode.pixel_shuffle_order(crd, 2, 2) == "CRD"
    assert decode.pixel_shuffle_order(dcr, 2, 2) == "DCR"
    assert decode.unshuffle_order([0, 4, 1, 5, 2, 6, 3, 7], 2, 2) == "DCR"


def test_order_name_finds_the_lexicographic_axis_order():
    positions = [(c, h, w) for h in range(2) for w in range(3) for c in range(2)]
    assert decode.order_name(positions, ("C", "kh", "kw")) == "kh,kw,C"
    assert decode.order_name([(1, 0, 0), (0, 0, 0)], ("C", "kh", "kw")) == "irregular"


def test_argmax_conventions_are_recognised():
    from equivcheck.report.decode import argmax_convention

    shape = (2, 3, 4, 6)
    n, c, oh, ow = np.indices((2, 3, 2, 3))
    h, w = oh * 2 + 1, ow * 2 + 1
    assert argmax_convention(h * 6 + w, shape) == "h·W + w per (n, c)"
    assert argmax_convention((h * 6 + w) * 3 + c, shape) == "(h·W + w)·C + c, batch excluded"
    assert argmax_convention(np.zeros((2, 3, 2, 3)), shape) == "none of the known conventions"


def test_scrub_drops_log_prefixes_and_addresses():
    assert decode.scrub("F0000 00:00:1795289167.383996   16328 tensor_format.h:428] Check failed: x at 0x7fc6") == \
        "Check failed: x at 0x…"


def test_search_layout_finds_the_order_an_op_computes_in():
    # an op that wants NHWC data and an HWIO kernel, like tf.nn.conv2d
    def hwio_op(x, w, data_layout):
        x = layouts.convert(x, "NHWC", "NCHW")
        return layouts.convert(oracle.conv(x, layouts.convert(w, "HWIO", "OIHW")), "NCHW", "NHWC")

    x = decode.integer_array((2, 3, 7, 9), 0)
    w = decode.integer_array((5, 3, 2, 4), 1)
    found = decode.search_layout(hwio_op, x, w, oracle.conv(x, w), rank=2, kernel_canonical="OIHW")
    assert found == [("NHWC", "HWIO", False)]


# ---- live probes ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def numpy_rows():
    return probes.run_framework("numpy")


def test_oracle_probes_agree_with_the_layout_table(numpy_rows):
    by_key = {(r.topic, r.item): r for r in numpy_rows}
    assert by_key[("data_layout", "conv2d")].value == "NCHW"
    assert by_key[("kernel_layout", "conv_transpose2d")].value == "IOHW"
    assert by_key[("same_padding", "n=8 k=3 s=2")].value == "0+1 (extra at end)"
    assert all(r.agrees is not False for r in numpy_rows), [r for r in numpy_rows if r.agrees is False]


def test_a_wrong_layout_table_entry_shows_as_a_disagreement(monkeypatch):
    """The report compares probes with equivcheck/layouts.py at run time: it cannot silently agree."""
    import equivcheck.backends.numpy.probes as probe_numpy
    from equivcheck.report import probe_common

    monkeypatch.setitem(layouts.KERNEL_LAYOUTS, ("numpy", "oracle", "conv"), "IO*")
    row = probe_common._kernel_row({}, probe_numpy.Oracle(), "conv", 2, "conv2d")
    assert row.value == "OIHW" and row.table == "IOHW" and row.agrees is False
    report = model.build([], [(_env("e"), [row], [])])
    assert any("probed 'OIHW', table 'IOHW'" in d for d in report["summary"]["table_disagreements"])


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_torch_probes_read_kernel_shapes_and_the_strided_same_error():
    rows = {(r.topic, r.item, r.api): r for r in probes.run_framework("torch")}
    conv = rows[("kernel_layout", "conv2d", "torch.nn.Conv2d")]
    assert conv.value == "OIHW" and conv.agrees and "(5, 3, 2, 4)" in conv.detail
    assert rows[("pixel_shuffle", "depth → space", "torch.nn.functional.pixel_shuffle")].value == "CRD"
    strided = rows[("strided_same", "stride 2", "torch.nn.functional.conv1d")]
    assert strided.value == "rejected" and "strided" in strided.detail


def test_a_probe_that_kills_its_process_is_recorded_and_the_rest_still_run(tmp_path, monkeypatch):
    (tmp_path / "crashy_probes.py").write_text(textwrap.dedent("""
        import os
        from equivcheck.report.probes import probe

        def setup(bk):
            return {}

        probe("crashy", "unbatched", "first", "api.a")(lambda env: "fine")
        probe("crashy", "unbatched", "second", "api.b")(lambda env: os.abort())
        probe("crashy", "unbatched", "third", "api.c")(lambda env: ("also fine", "table", True))
        probe("crashy", "unbatched", "fourth", "api.d")(lambda env: 1 / 0)
    """))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    rows = {r.item: r for r in probes.run_framework("crashy", module="crashy_probes")}
    assert rows["first"].value == "fine"
    assert rows["second"].value == "aborts the process" and "died" in rows["second"].detail
    assert (rows["third"].value, rows["third"].agrees) == ("also fine", True)
    assert rows["fourth"].value.startswith("probe failed: ZeroDivisionError")


# ---- merging environments ---------------------------------------------------------------------------
def _env(name, keras="3.15.1", backend="tensorflow"):
    return {"kind": "environment", "name": name, "python": "3.11", "device": "cpu", "allow_tf32": False,
            "frameworks": {"tensorflow": {"tensorflow": "2.21.0" if keras.startswith("3") else "2.15.1",
                                          "keras": keras, "keras_backend": backend},
                           "numpy": {"numpy": "2.4.6"}}}


def _result(claim, framework, verdict, expected=None, ratio=0.1, dtype="float32", **extra):
    versions = {"numpy": {"numpy": "2.4.6"}, "tensorflow": {"tensorflow": "2.21.0", "keras": "3.15.1"}}[framework]
    return {"claim": claim, "framework": framework, "framework_version": versions[framework], "versions": versions,
            "verdict": verdict, "expected": expected or verdict, "max_abs_err": ratio * 1e-6, "bound": 1e-6,
            "ratio": ratio, "counterexample": None, "seed": 0, "dtype": dtype, "examples": 1, "examples_run": 2,
            "device": "cpu", **extra}


def _write(path, environment, rows, results):
    with open(path, "w") as handle:
        for record in results:
            handle.write(json.dumps(record) + "\n")
        if environment:
            handle.write(json.dumps(environment) + "\n")
        for row in rows:
            handle.write(json.dumps(row.to_dict()) + "\n")
    return path


@pytest.fixture()
def two_versions(tmp_path):
    """Keras 3 vs Keras 2 style environments with one differing and one equal convention."""
    new = [Row("flatten_order", "conv map → vector", "tensorflow", "keras.layers.Flatten()", "H,W,C"),
           Row("pixel_shuffle", "depth → space", "tensorflow", "keras.ops.depth_to_space", "DCR"),
           Row("unbatched", "conv2d on (H, W, C)", "tensorflow", "keras.layers.Conv2D", "rejected",
               detail="ValueError: Input 0 … expected min_ndim=4, found ndim=3")]
    old = [Row("flatten_order", "conv map → vector", "tensorflow", "keras.layers.Flatten()", "H,W,C"),
           Row("unbatched", "conv2d on (H, W, C)", "tensorflow", "keras.layers.Conv2D", "rejected",
               detail="ValueError: Input 0 of layer … is incompatible")]
    _write(tmp_path / "latest.jsonl", _env("latest"), new,
           [_result("kernel_layouts", "tensorflow", "holds", facts={"keras_kernel": [7, 7, 8, 16]},
                    skipped=[{"reason": "not run: a known crash", "count": 3, "params": {"k": 2}}],
                    examples_run=5, examples_checked=2, statement_checks=4, statement_checks_passed=4),
            _result("same_padding_is_asymmetric", "tensorflow", "refuted", "holds"),
            _result("kernel_layouts", "numpy", "holds")])
    _write(tmp_path / "oldest.jsonl", _env("oldest", keras="2.15.0"), old,
           [_result("kernel_layouts", "tensorflow", "holds", facts={"keras_kernel": [7, 7, 8, 16]}),
            _result("same_padding_is_asymmetric", "tensorflow", "holds"),
            _result("kernel_layouts", "numpy", "holds", ratio=0.3)])
    _write(tmp_path / "numpy.jsonl", None, [], [_result("kernel_layouts", "numpy", "holds", ratio=0.3)])
    return tmp_path


def _merged(folder):
    sources = sources_from_files([str(folder / "*.jsonl")])
    return model.build([s[0] for s in sources], sources, name="merged")


def test_merge_marks_every_row_that_differs_between_versions(two_versions):
    report = _merged(two_versions)
    columns = [c["id"] for c in report["columns"]]
    assert columns == ["numpy: numpy 2.4.6",
                       "tensorflow: tensorflow 2.21.0 · keras 3.15.1 (tensorflow backend)",
                       "tensorflow: tensorflow 2.15.1 · keras 2.15.0 (tensorflow backend)"]
    # latest, oldest and numpy (no environment record: its Result.versions) share the numpy column
    rows = {(r["topic"], r["api"]): r for r in report["conventions"]}
    assert rows[("flatten_order", "keras.layers.Flatten()")]["differs"] is False
    absent = rows[("pixel_shuffle", "keras.ops.depth_to_space")]
    assert absent["differs"] is True and model.ABSENT in {v["value"] for v in absent["values"].values()}
    verdicts = {(r["claim"], r["framework"]): r for r in report["verdicts"]}
    assert verdicts[("same_padding_is_asymmetric", "tensorflow")]["differs"] is True
    assert verdicts[("kernel_layouts", "tensorflow")]["differs"] is False
    assert report["summary"]["unexpected_verdicts"] == 1
    assert report["facts"][0]["key"] == "keras_kernel" and report["facts"][0]["differs"] is False


def test_markdown_is_deterministic_and_marks_differences(two_versions):
    first, second = render(_merged(two_versions), "md"), render(_merged(two_versions), "md")
    assert first == second
    assert "**≠**" in first and "refuted!" in first and "same in all 2 versions" in first
    # examples that did not run are marked in the cell and listed with their reason
    assert "holds‡" in first and "examples that did not run: float32, 3 examples: not run: a known crash" in first
    # ... and the cell says how much of the claim was checked there
    assert "holds‡ (2 of 5 examples checked)" in first
    assert "differs" in first


def test_json_follows_the_documented_schema(two_versions):
    report = json.loads(render(_merged(two_versions), "json"))
    schema = json.loads((ROOT / "docs" / "report-schema.json").read_text())
    _validate(report, schema, schema, "report")


def _validate(value, schema, root, where):
    """A small JSON Schema subset (type, required, properties, items, additionalProperties, $ref, enum)."""
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].split("/")[-1]]
    kinds = schema.get("type")
    if kinds:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        python = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
                  "number": (int, float), "integer": int}
        assert any(isinstance(value, python[k]) and not (k in ("number", "integer") and isinstance(value, bool))
                   for k in kinds), f"{where}: {value!r} is not {kinds}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, f"{where}: missing {key!r}"
        for key, item in value.items():
            if key in schema.get("properties", {}):
                _validate(item, schema["properties"][key], root, f"{where}.{key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                _validate(item, schema["additionalProperties"], root, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _validate(item, schema["items"], root, f"{where}[{index}]")


def test_html_is_self_contained_with_colours_tooltips_and_grids(two_versions):
    from equivcheck.report.render_html import COLOURS

    page = render(_merged(two_versions), "html")
    assert "<script" not in page and "src=" not in page and "href=" not in page and "@import" not in page
    assert COLOURS["holds"] in page and COLOURS["refuted"] in page
    assert "error/bound = 0.1" in page  # the hover text of a cell
    assert page.count("<svg") == 2 and "pixel_shuffle" in page and "depth_to_space" in page


def test_check_reports_a_stale_or_missing_copy(tmp_path, capsys):
    path = tmp_path / "CONVENTIONS.md"
    assert not check("text\n", path)
    path.write_text("text\n")
    assert check("text\n", path)
    assert not check("new text\n", path)
    assert "stale" in capsys.readouterr().out


def test_recording_probes_keeps_results_and_replaces_old_probes(tmp_path):
    from equivcheck.results import read

    path = _write(tmp_path / "env.jsonl", None, [], [_result("kernel_layouts", "numpy", "holds")])
    rows = [Row("flatten_order", "x", "numpy", "numpy.reshape", "C,H,W")]
    model.record_probes(path, _env("env"), rows)
    model.record_probes(path, _env("env"), rows)
    environment, probed, results = model.read_file(path)
    assert environment["name"] == "env" and len(probed) == 1 and len(results) == 1
    assert len(read(path)) == 1  # results.read skips the probe and environment lines


# ---- the HTML in a real browser ------------------------------------------------------------------
def _screenshot_module():
    spec = importlib.util.spec_from_file_location("screenshot_report", ROOT / "scripts" / "screenshot_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(_screenshot_module().find_chromium() is None,
                    reason="no Chromium to render the HTML report (apt-get install chromium, or set $CHROMIUM)")
def test_html_report_renders_offline_in_headless_chromium(two_versions, tmp_path):
    shots = _screenshot_module()
    html_path = tmp_path / "report.html"
    html_path.write_text(render(_merged(two_versions), "html"), encoding="utf-8")
    png = shots.screenshot(html_path, tmp_path / "report.png", width=1200, height=700)
    ok, summary = shots.check(png, required=("holds", "refuted"), minimum_pixels=300)
    assert ok, summary


def test_png_reader_decodes_every_filter_type(tmp_path):
    """The screenshot check's own PNG decoder, against a PNG written with all five row filters."""
    import struct
    import zlib

    shots = _screenshot_module()
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    raw = bytearray()
    previous = np.zeros(12, dtype=int)
    for y, kind in enumerate((0, 1, 2, 3, 4)):
        line = pixels[y].reshape(-1).astype(int)
        filtered = []
        for i, value in enumerate(line):
            left = line[i - 3] if i >= 3 else 0
            up, upper_left = previous[i], (previous[i - 3] if i >= 3 else 0)
            estimate = left + up - upper_left
            paeth = min((abs(estimate - left), 0, left), (abs(estimate - up), 1, up),
                        (abs(estimate - upper_left), 2, upper_left))[2]
            predictor = (0, left, up, (left + up) // 2, paeth)[kind]
            filtered.append((value - predictor) % 256)
        raw += bytes([kind]) + bytes(filtered)
        previous = line

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 5, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b""))
    (tmp_path / "t.png").write_bytes(png)
    assert np.array_equal(shots.read_png(tmp_path / "t.png"), pixels)


@pytest.mark.skipif(shutil.which("git") is None, reason="git not available")
def test_committed_conventions_doc_is_generated_output():
    """docs/CONVENTIONS.md carries the generator's header (its freshness is CI's --check job)."""
    text = (ROOT / "docs" / "CONVENTIONS.md").read_text(encoding="utf-8")
    assert text.startswith("# Convolution conventions across frameworks, probed live")
    assert "equivcheck report --format md --check docs/CONVENTIONS.md" in text


def test_gpu_results_with_tf32_allowed_get_their_own_column(tmp_path):
    """--allow-tf32 on a GPU: a second column next to the TF32-off one shows what TF32 does to error/bound."""
    def gpu_env(name, tf32):
        return {**_env(name), "device": "gpu", "allow_tf32": tf32}

    _write(tmp_path / "gpu.jsonl", gpu_env("gpu", False), [],
           [_result("one_by_one_conv_is_linear", "numpy", "holds", ratio=0.05, device="gpu")])
    _write(tmp_path / "gpu-tf32.jsonl", gpu_env("gpu-tf32", True), [],
           [_result("one_by_one_conv_is_linear", "numpy", "holds", ratio=0.7, device="gpu")])
    report = _merged(tmp_path)
    cells = report["verdicts"][0]["cells"]
    assert {c: cell["max_ratio"] for c, cell in cells.items()} == {
        "numpy: numpy 2.4.6 · gpu": 0.05, "numpy: numpy 2.4.6 · gpu · TF32 allowed": 0.7}
    page = render(report, "html")
    assert "TF32 allowed" in page and "error/bound = 0.7" in page


def test_check_passes_a_copy_that_differs_only_in_rows_that_depend_on_the_cpu(tmp_path, capsys):
    """TensorFlow's oneDNN is on by default on some x86 CPUs only: a copy made on another CPU differs in
    those rows, and only those may differ."""
    from equivcheck.report import generate

    row = "| tensorflow | tensorflow | oneDNN (MKL) enabled | tensorflow 2.21.0 | {} |  |  | one version probed |\n"
    committed = tmp_path / "CONVENTIONS.md"
    committed.write_text("# t\n" + row.format("True"))
    assert generate.check("# t\n" + row.format("False"), committed)
    assert "depend on this CPU" in capsys.readouterr().out
    assert not generate.check("# t changed\n" + row.format("False"), committed)


def test_the_report_shows_each_claims_sources_in_words():
    from equivcheck.report import model, render_html, render_md

    claims = model.claim_sources(["conv_transpose_padding_crops_output", "no_such_claim"])
    assert list(claims) == ["conv_transpose_padding_crops_output"]
    words = [src["words"] for src in claims["conv_transpose_padding_crops_output"]["sources"]]
    assert "GitHub issue/PR Samsung/TICO#420 — https://github.com/Samsung/TICO/issues/420" in words
    lines = []
    render_md._sources({"claims": claims}, lines)
    assert lines[0] == "## Where the claims come from" and "Samsung/TICO#420" in "\n".join(lines)
    out = []
    render_html._sources({"claims": claims}, out)
    assert "href='https://github.com/Samsung/TICO/issues/420'" in "".join(out)


def test_openvino_at_its_default_precision_gets_its_own_column(tmp_path):
    """EQUIVCHECK_OPENVINO_PRECISION=default: those results are a second openvino column beside the pinned f32
    one, so error/bound at the plugin's default precision shows next to it (like TF32 on a GPU)."""
    versions = {"openvino": "2026.4.1", "onnx": "1.23.2"}

    def ov(ratio, **extra):
        return {"claim": "one_by_one_conv_is_linear", "framework": "openvino", "framework_version": "2026.4.1",
                "versions": versions, "verdict": "holds", "expected": "holds", "max_abs_err": ratio * 1e-6,
                "bound": 1e-6, "ratio": ratio, "counterexample": None, "seed": 0, "dtype": "float32", "examples": 1,
                "examples_run": 2, "device": "cpu", **extra}

    _write(tmp_path / "pinned.jsonl", None, [], [ov(0.05, precision="")])
    _write(tmp_path / "default.jsonl", None, [], [ov(0.4, precision="default (bf16)", compute_dtype="bfloat16")])
    report = _merged(tmp_path)
    cells = report["verdicts"][0]["cells"]
    assert {c: cell["max_ratio"] for c, cell in cells.items()} == {
        "openvino: openvino 2026.4.1 · onnx 1.23.2": 0.05,
        "openvino: openvino 2026.4.1 · onnx 1.23.2 · precision default (bf16)": 0.4}
    schema = json.loads((ROOT / "docs" / "report-schema.json").read_text())
    _validate(json.loads(render(report, "json")), schema, schema, "report")
    assert "precision default (bf16)" in render(report, "md")
