#!/usr/bin/env bash
# The Python API and Spark against the CLI on the demo table (default 5,000,000 rows; its
# policy: tokens, per-patient date shifts, Safe Harbor generalization, notes with surrogates,
# each patient's identifiers gathered across rows): file to file, CSV in and out, on the same 2
# cores, each measured in the same run. The Python API reads the CSV into Arrow, calls
# airlock.deid (2 threads) and writes CSV; Spark local[2] reads, runs airlock.spark.deid and
# writes. Installs maturin, pyarrow, pyspark and pandas into target/py-venv (as the tests do).
#
#   crates/airlock-bench/py/compare.sh [ROWS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
rows=${1:-5000000}
venv=${AIRLOCK_PY_VENV:-$root/target/py-venv}
if ! "$venv/bin/python" -c "import maturin, pyarrow, pyspark, pandas" >/dev/null 2>&1; then
  python3 -m venv "$venv" && "$venv/bin/pip" install -q maturin pyarrow "pandas<3" pyspark || {
    echo "cannot install maturin, pyarrow and pyspark from PyPI: no comparison" >&2
    exit 2
  }
fi
cargo build --release -q -p airlock-cli --manifest-path "$root/Cargo.toml"
CARGO_TARGET_DIR="$root/target/py-release" "$venv/bin/maturin" build --quiet --release \
  -m "$root/crates/airlock-py/Cargo.toml" -i "$venv/bin/python" -o "$root/target/py-release-wheels" >&2
"$venv/bin/pip" install -q --force-reinstall --no-deps "$root"/target/py-release-wheels/airlock-*.whl
airlock="$root/target/release/airlock"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$airlock" demo --dir "$work/demo" --rows "$rows" >/dev/null
raw="$work/demo/raw/encounters.csv"
start=$(date +%s.%N)
"$airlock" deid "$raw" --policy "$work/demo/policy.toml" -o "$work/cli.csv" \
  --key-file "$work/demo/.airlock/secret" --threads 2 --max-findings 100000000 >/dev/null
cli=$(echo "$(date +%s.%N) - $start" | bc)
py=$("$venv/bin/python" "$root/crates/airlock-bench/py/bench_py.py" "$raw" "$work/demo/policy.toml" \
  "$work/demo/.airlock/secret" "$work" --spark --threads 2)
python3 - "$cli" "$py" <<'PY'
import json, sys
cli = float(sys.argv[1]); r = json.loads(sys.argv[2])
n = r["rows"]
print(f"demo table, {n:,} rows, 2 cores")
print(f"{'':34} {'seconds':>8} {'rows/s':>12} {'vs CLI':>7}")
print(f"{'airlock deid (CLI, 2 threads)':34} {cli:8.1f} {n / cli:12,.0f} {1:7.2f}")
p = r["python"]
print(f"{'Python: read + deid + write':34} {p['total']:8.1f} {n / p['total']:12,.0f} {p['total'] / cli:7.2f}")
print(f"{'  of which airlock.deid':34} {p['deid']:8.1f} {n / p['deid']:12,.0f}")
s = r["spark"]["total"]
print(f"{'Spark local[2]: airlock.spark.deid':34} {s:8.1f} {n / s:12,.0f} {s / cli:7.2f}")
PY
