#!/usr/bin/env bash
# The install a user gets: build the wheel, install it with its [test] extra (NumPy, no framework)
# into a fresh venv per Python, and from an empty directory check that
#   equivcheck list                          shows the whole catalog,
#   equivcheck run --frameworks numpy        exits 0,
#   a claim of the user's own in ./my_claims/ runs with --cases my_claims, and under pytest --equivcheck.
#
#   bash scripts/check_wheel.sh [VERSION ...]     e.g. 3.10 3.13 (default: python3's); .ci/run passes 3.10-3.13
# A version that is not installed (as pythonX.Y or under pyenv) is skipped, saying so.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/equivcheck-wheel.XXXXXX")"
trap 'rm -rf "$work"' EXIT
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=("$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')")

find_python() {  # pythonX.Y on PATH, else pyenv's newest X.Y.*
  if "python$1" -c '' 2>/dev/null; then echo "python$1"; return; fi
  if command -v pyenv >/dev/null; then
    local found; found=$(pyenv versions --bare | grep -E "^$1(\.|$)" | tail -n 1)
    [ -n "$found" ] && [ -x "$(pyenv root)/versions/$found/bin/python$1" ] && echo "$(pyenv root)/versions/$found/bin/python$1"
  fi
  return 0
}

python3 -m pip wheel -q --no-deps -w "$work/dist" "$repo"
wheel="$(ls "$work"/dist/equivcheck-*.whl)"
echo "built $(basename "$wheel")"
want_claims=$(ls "$repo"/cases/*.py | grep -vc '/_')

for version in "${versions[@]}"; do
  python=$(find_python "$version")
  if [ -z "$python" ]; then echo "skip: Python $version is not installed"; continue; fi
  venv="$work/venv-$version"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q "$wheel[test]"
  # numpy only: no framework came with it
  "$venv/bin/python" -c 'import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in ("torch", "tensorflow", "jax")))' \
    || { echo "FAIL ($version): a framework is installed in the fresh venv"; exit 1; }
  empty="$work/empty-$version"
  mkdir -p "$empty/my_claims"
  cp "$repo/examples/my_claims/kernel_of_ones_sums_channels.py" "$empty/my_claims/"
  (
    cd "$empty"
    export PATH="$venv/bin:$PATH"
    unset EQUIVCHECK_FRAMEWORKS EQUIVCHECK_CASES EQUIVCHECK_EXTRA_CASES EQUIVCHECK_NO_BUILTIN
    listed=$(equivcheck list | wc -l)
    [ "$listed" -eq "$want_claims" ] || { echo "FAIL ($version): equivcheck list shows $listed claims, cases/ has $want_claims"; exit 1; }
    equivcheck run --frameworks numpy -q --results results/numpy.jsonl > run.txt \
      || { cat run.txt; echo "FAIL ($version): equivcheck run --frameworks numpy"; exit 1; }
    equivcheck run --cases my_claims --no-builtin --frameworks numpy -q > mine.txt \
      || { cat mine.txt; echo "FAIL ($version): equivcheck run --cases my_claims"; exit 1; }
    grep -q "kernel_of_ones_sums_channels  holds" mine.txt
    python -m pytest -q -p no:cacheprovider --equivcheck --cases my_claims --no-builtin --frameworks numpy > pytest.txt \
      || { cat pytest.txt; echo "FAIL ($version): pytest --equivcheck --cases my_claims"; exit 1; }
    grep -qE "(^| )1 passed" pytest.txt  # the claim ran on numpy (the other frameworks skip: not installed)
    echo "python $version: the wheel lists $listed claims, runs them on numpy ($(grep -m1 ' results in ' run.txt | cut -d';' -f1)), runs ./my_claims with --cases and under pytest --equivcheck"
  )
done
