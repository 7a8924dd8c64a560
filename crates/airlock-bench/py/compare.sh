#!/usr/bin/env bash
# The Python API and Spark against the CLI on the demo table (default 5,000,000 rows; its
# policy: tokens, per-patient date shifts, Safe Harbor generalization, notes with surrogates,
# each patient's identifiers gathered across rows): file to file, CSV in and out, on the same 2
# cores, each measured in the same run. The Python API reads the CSV into Arrow, calls
# airlock.deid (2 threads) and writes CSV; Spark local[2] reads, runs airlock.spark.deid and
# writes. Installs maturin, pyarrow, pyspark and pandas into target/py-venv (as the tests do).
# Then, for scale, Presidio's structured anonymizer (bench_presidio.py, its own venv in
# target/presidio-venv) on the first 100,000 rows, its notes pass on the first 10,000; skipped,
# and said, when Presidio cannot be installed.
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
pvenv=${AIRLOCK_PRESIDIO_VENV:-$root/target/presidio-venv}
presidio='{}'
if "$pvenv/bin/python" -c "import presidio_structured, spacy" >/dev/null 2>&1 || {
  python3 -m venv "$pvenv" && "$pvenv/bin/pip" install -q presidio-structured presidio-analyzer \
    presidio-anonymizer "pandas<3"; }; then
  sample=$(( rows < 100000 ? rows : 100000 ))
  presidio=$("$pvenv/bin/python" "$root/crates/airlock-bench/py/bench_presidio.py" "$raw" "$sample" \
    $(( sample < 10000 ? sample : 10000 )) 2>/dev/null) || presidio='{}'
else
  echo "Presidio could not be installed from PyPI: no Presidio line" >&2
fi
python3 - "$cli" "$py" "$presidio" <<'PY'
import json, sys
cli = float(sys.argv[1]); r = json.loads(sys.argv[2]); pr = json.loads(sys.argv[3])
n = r["rows"]
print(f"demo table, {n:,} rows, 2 cores")
print(f"{'':34} {'seconds':>8} {'rows/s':>12} {'vs CLI':>7}")
print(f"{'airlock deid (CLI, 2 threads)':34} {cli:8.1f} {n / cli:12,.0f} {1:7.2f}")
p = r["python"]
print(f"{'Python: read + deid + write':34} {p['total']:8.1f} {n / p['total']:12,.0f} {p['total'] / cli:7.2f}")
print(f"{'  of which airlock.deid':34} {p['deid']:8.1f} {n / p['deid']:12,.0f}")
s = r["spark"]["total"]
print(f"{'Spark local[2]: airlock.spark.deid':34} {s:8.1f} {n / s:12,.0f} {s / cli:7.2f}")
if pr:
    m, t, nr = pr["rows"], pr["structured_s"], pr["note_rows"]
    print(f"Presidio (for scale; its rows/s against the CLI's on the whole table):")
    print(f"{'  structured, ' + format(m, ',') + ' rows, no notes':34} {t:8.1f} {m / t:12,.0f}")
    print(f"{'  notes, ' + format(nr, ',') + ' rows, patterns only':34} {pr['notes_s']:8.1f} {nr / pr['notes_s']:12,.0f}")
    both = 1 / (t / m + pr["notes_s"] / nr)
    print(f"{'  both (per row, summed)':34} {'':8} {both:12,.0f} {(n / both) / cli:7.1f}")
else:
    print("Presidio: not run")
PY
