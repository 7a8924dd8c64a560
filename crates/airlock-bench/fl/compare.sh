#!/usr/bin/env bash
# airlock's federated learning against Flower on the adult table: the same split over 5 sites
# by a column, the same encoding (airlock's spec), model (softmax regression), local training
# (one epoch of SGD, batches of 64, learning rate 0.5) and FedAvg, 20 rounds; airlock with its
# secure aggregation (a coordinator and 5 site processes over mutual TLS), Flower's simulation
# runtime with and without its SecAgg+. Accuracy on the same held-out rows and seconds per
# round, measured in the same run. Installs flwr[simulation] from PyPI into
# target/flwr-venv and says so when it cannot.
#
#   crates/airlock-bench/fl/compare.sh [ROUNDS] [SPLIT_COLUMN]
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
here="$root/crates/airlock-bench/fl"
venv=${AIRLOCK_FLWR_VENV:-$root/target/flwr-venv}
rounds=${1:-20}
split=${2:-workclass}
if ! "$venv/bin/python" -c "import flwr, numpy" >/dev/null 2>&1; then
  echo "== installing flwr[simulation] into $venv"
  python3 -m venv "$venv" && "$venv/bin/pip" install -q "flwr[simulation]" numpy || {
    echo "cannot install flwr from PyPI: no comparison" >&2
    exit 2
  }
fi
cargo build --release -q -p airlock-cli --manifest-path "$root/Cargo.toml"
airlock="$root/target/release/airlock"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed 's/;/,/g' "$root/crates/airlock-risk/tests/data/adult/adult.csv" > "$work/adult.csv"
common=(--data "$work/adult.csv" --target salary-class --positive '>50K' --split-by "$split" --sites 5 --rounds "$rounds")
a=$("$airlock" --json fl simulate "${common[@]}" --secure-agg --dir "$work/fed")
f_plain=$("$venv/bin/python" -W ignore "$here/flower_adult.py" "$work/adult.csv" "$work/fed/spec.json" --split-by "$split" --sites 5 --rounds "$rounds" 2>/dev/null | tail -1)
f_sec=$("$venv/bin/python" -W ignore "$here/flower_adult.py" "$work/adult.csv" "$work/fed/spec.json" --split-by "$split" --sites 5 --rounds "$rounds" --secagg 2>/dev/null | tail -1)
python3 - "$a" "$f_plain" "$f_sec" "$rounds" <<'PY'
import json, sys
a, fp, fs = (json.loads(x) for x in sys.argv[1:4])
rounds = int(sys.argv[4])
train = [r for r in a["rounds"] if r["accuracy"] is not None]
a_round = sum(r["seconds"] for r in train) / len(train)
rows = [
    ("airlock, secure aggregation", a["accuracy"], a_round, a["seconds"]),
    ("Flower, SecAgg+", fs["accuracy"], fs["rounds_seconds"] / rounds, fs["total_seconds"]),
    ("Flower, no secure aggregation", fp["accuracy"], fp["rounds_seconds"] / rounds, fp["total_seconds"]),
]
print(f"adult, 5 sites, {rounds} rounds (flwr {fs['flwr']})")
print(f"{'':32} {'accuracy':>9} {'s/round':>9} {'total s':>9} {'per-round ratio':>16}")
for name, acc, per, total in rows:
    print(f"{name:32} {acc:9.4f} {per:9.3f} {total:9.2f} {per / a_round:15.1f}x")
PY
