"""--shard K/N: disjoint, deterministic parts whose results together equal the unsharded run."""
from __future__ import annotations

import json

import pytest

from equivcheck.cli import EXIT_OK, EXIT_USAGE, main, shard_of

CLAIMS = "conv_output_size,one_by_one_conv_is_linear,pixel_shuffle_vs_depth_to_space,kernel_layouts"


def _run(path, *extra):
    assert main(["run", "--in-process", "-q", "--frameworks", "numpy", "--claims", CLAIMS, "--examples", "2",
                 "--seed", "7", "--results", str(path), *extra]) == EXIT_OK


def _results(path):
    records = [json.loads(line) for line in path.read_text().splitlines()]
    header, results = records[0], records[1:]
    for record in results:
        record.pop("duration_s")
    return header, results


def _key(record):
    return record["claim"], record["framework"], record["dtype"]


def test_the_parts_of_a_sharded_run_merge_into_the_unsharded_run(tmp_path, capsys):
    _run(tmp_path / "all.jsonl")
    _, everything = _results(tmp_path / "all.jsonl")
    parts = []
    for k in (1, 2, 3):
        _run(tmp_path / f"part{k}.jsonl", "--shard", f"{k}/3")
        header, results = _results(tmp_path / f"part{k}.jsonl")
        assert header["shard"] == f"{k}/3" and results, f"shard {k}/3 ran nothing"
        parts.append(results)
    assert "(shard 3/3: " in capsys.readouterr().out
    merged = [record for part in parts for record in part]
    assert len(merged) == len(everything) == 8
    assert sorted(merged, key=_key) == sorted(everything, key=_key)
    # the parts are disjoint, and the same command gives the same part again
    assert len({_key(r) for r in merged}) == 8
    _run(tmp_path / "again.jsonl", "--shard", "2/3")
    assert _results(tmp_path / "again.jsonl")[1] == parts[1]
    capsys.readouterr()
    # the report merges the parts into one environment column, every claim present
    assert main(["report", "--no-probe", "-q", "--format", "json", "--results",
                 str(tmp_path / "part*.jsonl")]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert {row["claim"] for row in report["verdicts"]} == set(CLAIMS.split(","))
    assert {len(row["cells"]) for row in report["verdicts"]} == {1}


def test_resume_refuses_a_file_of_another_shard(tmp_path, capsys):
    path = tmp_path / "part.jsonl"
    _run(path, "--shard", "1/2")
    capsys.readouterr()
    assert main(["run", "--in-process", "-q", "--frameworks", "numpy", "--claims", CLAIMS, "--examples", "2",
                 "--seed", "7", "--results", str(path), "--resume", "--shard", "2/2"]) == EXIT_USAGE
    assert "was written with --shard 1/2, this run has --shard 2/2" in capsys.readouterr().err


def test_shard_of_is_a_balanced_partition():
    items = [(f"claim{i}", fw, dt) for i in range(29) for fw in ("numpy", "torch", "jax") for dt in ("a", "b")]
    parts = [shard_of(items, (k, 5)) for k in range(1, 6)]
    assert sorted(sum(parts, [])) == sorted(items)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert all(part == [item for item in items if item in part] for part in parts)  # in run order


@pytest.mark.parametrize("value, words", [
    ("3/2", "expected K/N with 1 <= K <= N, got '3/2'"),
    ("0/2", "expected K/N with 1 <= K <= N, got '0/2'"),
    ("two", "expected K/N such as 1/4, got 'two'"),
])
def test_a_bad_shard_is_a_one_line_usage_error(value, words, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["run", "--shard", value])
    err = capsys.readouterr().err
    assert stop.value.code == EXIT_USAGE and err.count("\n") == 1 and words in err
