"""A malformed case file fails at load time with an error naming the file and the field."""
from __future__ import annotations

import json
import textwrap

import pytest

from equivcheck.backends import FRAMEWORKS
from equivcheck.claim import ClaimError, load_claims, load_file

GOOD = """
from equivcheck.claim import claim, source

@claim(
    title="t",
    statement="s",
    sources=[source("000", "words")],
    examples=[{"a": 1}],
    expected={expected},
)
def check(bk, p, ctx):
    ctx.equal("a", p.a, 1)
"""


def write_case(folder, name, text):
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return path


def test_good_case_loads_with_id_from_file_stem(tmp_path):
    path = write_case(tmp_path, "my_claim", GOOD.replace("{expected}", '"holds"'))
    loaded = load_file(path)
    assert loaded.id == "my_claim"
    assert loaded.expected == {framework: "holds" for framework in FRAMEWORKS}
    assert {"numpy", "torch", "tensorflow", "jax", "flax"} <= set(loaded.expected)


@pytest.mark.parametrize("expected, field, words", [
    ('"maybe"', "expected", "unknown verdict 'maybe'"),
    ('{"pytorch": "holds", "*": "holds"}', "expected", "unknown framework 'pytorch'"),
    ('{"torch": "holds"}', "expected", "no verdict for 'numpy'"),
])
def test_bad_expected_names_file_and_field(tmp_path, expected, field, words):
    path = write_case(tmp_path, "bad", GOOD.replace("{expected}", expected))
    with pytest.raises(ClaimError) as info:
        load_file(path)
    assert str(path) in str(info.value) and f"field '{field}'" in str(info.value) and words in str(info.value)


@pytest.mark.parametrize("edit, field", [
    (('    title="t",\n', ""), "title"),
    (('    sources=[source("000", "words")],\n', ""), "sources"),
    (('    sources=[source("000", "words")],\n', '    sources=[source("009", "words")],\n'), "sources"),
    (('    examples=[{"a": 1}],\n', "    examples=[],\n"), "examples"),
    (('    title="t",\n', '    title="t",\n    colour="red",\n'), "colour"),
])
def test_missing_or_wrong_field_names_it(tmp_path, edit, field):
    text = GOOD.replace("{expected}", '"holds"')
    assert edit[0] in text
    path = write_case(tmp_path, "bad", text.replace(*edit))
    with pytest.raises(ClaimError, match=rf"bad\.py: field '{field}'"):
        load_file(path)


def test_file_without_claim_or_with_two(tmp_path):
    empty = write_case(tmp_path, "empty", "x = 1\n")
    with pytest.raises(ClaimError, match=r"empty\.py: field 'claim': expected exactly one"):
        load_file(empty)
    body = GOOD.replace("{expected}", '"holds"')
    twice = write_case(tmp_path, "twice", body + body.split("\n", 2)[2])
    with pytest.raises(ClaimError, match="found 2"):
        load_file(twice)


def test_import_error_in_case_names_file(tmp_path):
    path = write_case(tmp_path, "broken", "import no_such_module_anywhere\n")
    with pytest.raises(ClaimError, match=r"broken\.py: the case file failed to import: ModuleNotFoundError"):
        load_file(path)


def test_duplicate_ids_are_an_error(tmp_path, monkeypatch):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    write_case(first, "same_id", GOOD.replace("{expected}", '"holds"'))
    write_case(second, "same_id", GOOD.replace("{expected}", '"holds"'))
    monkeypatch.setenv("EQUIVCHECK_EXTRA_CASES", str(second))
    with pytest.raises(ClaimError, match="duplicate claim id 'same_id'"):
        load_claims(first)


def test_repository_cases_all_load():
    claims = load_claims()
    assert "one_by_one_conv_is_linear" in claims
    for loaded in claims.values():
        assert loaded.sources and loaded.examples, loaded.id


@pytest.mark.parametrize("deviations, words", [
    ('[("torch", "refuted")]', "must be a list of deviation("),
    ('[deviation("pytorch", "refuted", reason="r")]', "unknown framework 'pytorch'"),
    ('[deviation("torch", "broken", reason="r")]', "unknown verdict 'broken'"),
    ('[deviation("torch", "refuted", dtype="float16", reason="r")]', "unknown dtype 'float16'"),
    ('[deviation("torch", "refuted", reason=" ")]', "the reason is empty"),
])
def test_bad_deviation_names_file_and_field(tmp_path, deviations, words):
    text = GOOD.replace("{expected}", '"holds"').replace(
        "from equivcheck.claim import claim, source", "from equivcheck.claim import claim, deviation, source")
    path = write_case(tmp_path, "bad", text.replace('    examples=[{"a": 1}],\n',
                                                     f'    examples=[{{"a": 1}}],\n    deviations={deviations},\n'))
    with pytest.raises(ClaimError) as info:
        load_file(path)
    assert str(path) in str(info.value) and "field 'deviations'" in str(info.value) and words in str(info.value)


def _with_source(tmp_path, ref, quote="words"):
    line = '    sources=[source("000", "words")],\n'
    text = GOOD.replace("{expected}", '"holds"')
    assert line in text
    return write_case(tmp_path, "cited", text.replace(line, f"    sources=[source({ref!r}, {quote!r})],\n"))


@pytest.mark.parametrize("ref, kind, words", [
    ("002", "seed", "seed thread 002"),
    ("pytorch/pytorch#1333", "issue",
     "GitHub issue/PR pytorch/pytorch#1333 — https://github.com/pytorch/pytorch/issues/1333"),
    ("microsoft/onnxruntime PR#5368", "pull request",
     "GitHub PR microsoft/onnxruntime#5368 — https://github.com/microsoft/onnxruntime/pull/5368"),
    ("onnx/onnx-tensorflow#969", "issue",
     "GitHub issue/PR onnx/onnx-tensorflow#969 — https://github.com/onnx/onnx-tensorflow/issues/969"),
    ("arXiv:1609.03499", "paper", "paper arXiv:1609.03499 — https://arxiv.org/abs/1609.03499"),
    ("arXiv:1609.03499v2", "paper", "paper arXiv:1609.03499v2 — https://arxiv.org/abs/1609.03499v2"),
    ("Deconvolution and Checkerboard Artifacts", "paper", 'paper "Deconvolution and Checkerboard Artifacts"'),
    ("https://pytorch.org/docs/stable/generated/torch.nn.AvgPool2d.html", "documentation",
     "documentation https://pytorch.org/docs/stable/generated/torch.nn.AvgPool2d.html"),
])
def test_a_source_is_any_reference_a_reader_can_look_up(tmp_path, ref, kind, words):
    loaded = load_file(_with_source(tmp_path, ref, "what it says"))
    (cited,) = loaded.sources
    assert (cited.kind, cited.words, cited.quote) == (kind, words, "what it says")
    assert cited.to_dict() == {"seed": ref, "kind": kind, "url": cited.url, "words": words, "quote": "what it says"}
    assert cited.url is None if kind == "seed" or words.startswith('paper "') else cited.url in words


@pytest.mark.parametrize("ref, words", [
    ("005", "unknown seed '005'; the seeds are 000, 001, 002, 003, 004"),
    ("pytorch#12", "'pytorch#12' is not an issue or pull request reference: write owner/repo#number"),
    ("pytorch/pytorch#", "is not an issue or pull request reference"),
    ("arXiv:12", "'arXiv:12' is not an arXiv id: write arXiv:YYMM.NNNNN"),
    ("arxiv 1609.03499", "is not an arXiv id"),
    ("http//pytorch.org", "is not a reference a reader can look up"),
    ("https://", "is not a URL"),
    ("notes", "'notes' is not a reference a reader can look up: give a seed"),
    ("   ", "the reference must be a non-empty string"),
])
def test_a_malformed_source_is_one_line_naming_file_and_field(tmp_path, ref, words):
    path = _with_source(tmp_path, ref)
    with pytest.raises(ClaimError) as info:
        load_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: field 'sources': ") and words in message and "\n" not in message


def test_a_source_without_what_it_says_is_an_error(tmp_path):
    with pytest.raises(ClaimError, match=r"cited\.py: field 'sources': GitHub issue/PR pytorch/pytorch#1 .*"
                                         r"the quote \(what the source says\) is empty"):
        load_file(_with_source(tmp_path, "pytorch/pytorch#1", " "))


def test_list_shows_each_source_in_words_on_the_claims_line(tmp_path, capsys):
    from equivcheck.cli import main

    (tmp_path / "mine").mkdir()
    _with_source(tmp_path / "mine", "arXiv:1610.02357")
    assert main(["list", "--cases", str(tmp_path / "mine"), "--no-builtin"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "cited  t  (sources: paper arXiv:1610.02357 — https://arxiv.org/abs/1610.02357)"]
    assert main(["list", "--json", "--cases", str(tmp_path / "mine"), "--no-builtin"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["sources"] == [{"seed": "arXiv:1610.02357", "kind": "paper", "url": "https://arxiv.org/abs/1610.02357",
                                  "words": "paper arXiv:1610.02357 — https://arxiv.org/abs/1610.02357",
                                  "quote": "words"}]
