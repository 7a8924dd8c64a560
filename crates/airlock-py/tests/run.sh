#!/usr/bin/env bash
# Builds the Python package (a wheel for CPython >= 3.9, by maturin) into a virtual environment
# and runs its tests: the API against the CLI (test_api.py) and airlock.spark in Spark local mode
# (test_spark.py). Installs what they need: maturin, pyarrow, pytest, pandas and pyspark from
# PyPI into target/py-venv, and Java from Debian when it is missing and this user may install
# it. Run by the workspace's test command (crates/airlock-cli/tests/python.rs), or by hand:
#
#   AIRLOCK_BIN=target/debug/airlock crates/airlock-py/tests/run.sh [PYTEST ARGS]
#
# Exit 77 (and the reason on stderr) when a prerequisite cannot be had outside CI; under CI
# (CI set) that is a failure instead.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
venv=${AIRLOCK_PY_VENV:-$target/py-venv}
cannot() {
  echo "cannot run the Python tests: $*" >&2
  if [ -n "${CI:-}" ]; then exit 1; else exit 77; fi
}
command -v python3 >/dev/null || cannot "python3 is not installed"
if ! "$venv/bin/python" -c "import maturin, pyarrow, pytest, pandas, pyspark" >/dev/null 2>&1; then
  echo "== installing maturin, pyarrow, pytest, pandas and pyspark into $venv" >&2
  python3 -m venv "$venv" || cannot "python3 cannot make a virtual environment (python3-venv)"
  "$venv/bin/pip" install -q maturin pyarrow pytest "pandas<3" pyspark \
    || cannot "pip could not install maturin, pyarrow, pytest, pandas and pyspark from PyPI"
fi
if ! command -v java >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Java (openjdk-17-jre-headless) for Spark" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null) \
      || echo "could not install Java from Debian" >&2
  fi
fi
if [ -n "${CI:-}" ]; then
  export AIRLOCK_REQUIRE_SPARK=1
fi
# its own target folder: the workspace's is held by the cargo that runs this
export CARGO_TARGET_DIR="$target/py-build"
wheels="$target/py-wheels"
rm -rf "$wheels"
"$venv/bin/maturin" build --quiet --profile dev -m "$root/crates/airlock-py/Cargo.toml" \
  -i "$venv/bin/python" -o "$wheels" >&2
"$venv/bin/pip" install -q --force-reinstall --no-deps "$wheels"/airlock-*.whl
cd "$root/crates/airlock-py/tests"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider -W ignore::FutureWarning "$@"
