#!/usr/bin/env bash
# airlock train against Opacus on the adult table (salary > 50K), the same 80/20 split, encoding
# and DP-SGD settings, at epsilon 1, 3 and 8 (delta 1e-5) and without DP: held-out accuracy and
# training throughput on one core (Opacus in float32), each pair measured in the same run. Installs torch and opacus
# from PyPI into target/opacus-venv (several GB) and says so when it cannot.
#
#   crates/airlock-bench/opacus/compare.sh [EPOCHS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
here="$root/crates/airlock-bench/opacus"
venv=${AIRLOCK_OPACUS_VENV:-$root/target/opacus-venv}
epochs=${1:-5}
if ! "$venv/bin/python" -c "import opacus, torch" >/dev/null 2>&1; then
  echo "== installing torch and opacus into $venv"
  python3 -m venv "$venv" && "$venv/bin/pip" install -q torch opacus || {
    echo "cannot install torch and opacus from PyPI: no comparison" >&2
    exit 2
  }
fi
cargo build --release -q -p airlock-cli --manifest-path "$root/Cargo.toml"
airlock="$root/target/release/airlock"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$root/crates/airlock-bench/adult_split.py" "$root/crates/airlock-risk/tests/data/adult/adult.csv" "$work"
common=(--target salary-class --positive '>50K' --epochs "$epochs" --batch-size 256 --clip 1.0)
printf "%-8s %-24s %-24s %s\n" "epsilon" "airlock acc / ex/s" "opacus acc / ex/s" "throughput ratio"
for eps in none 8 3 1; do
  if [ "$eps" = none ]; then a_dp=(--no-dp); o_dp=(); else a_dp=(--epsilon "$eps"); o_dp=(--epsilon "$eps"); fi
  a=$("$airlock" train "$work/train.csv" --test-data "$work/test.csv" "${common[@]}" --learning-rate 0.5 "${a_dp[@]}" -o "$work/m.json" --force --json)
  o=$("$venv/bin/python" -W ignore "$here/opacus_adult.py" "$work/train.csv" "$work/test.csv" "${common[@]}" --lr 0.5 "${o_dp[@]}")
  python3 - "$eps" "$a" "$o" "$epochs" <<'PY'
import json, sys
eps, a, o, epochs = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
# both rates are of the training loop alone (airlock's examples_per_second, Opacus's loop timer)
a_rate = a["examples_per_second"]
print(f"{eps:<8} {a['accuracy']:.4f} / {a_rate:>10,.0f}    {o['accuracy']:.4f} / {o['examples_per_second']:>10,.0f}    {a_rate / o['examples_per_second']:.1f}x")
PY
done
