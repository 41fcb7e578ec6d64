"""A malformed case file fails at load time with an error naming the file and the field."""
from __future__ import annotations

import textwrap

import pytest

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
    assert loaded.expected == {"numpy": "holds", "torch": "holds", "tensorflow": "holds", "jax": "holds", "flax": "holds"}


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
