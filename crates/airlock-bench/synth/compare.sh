#!/usr/bin/env bash
# airlock synth beside smartnoise-synth's MST (epsilon 1 and 5, the same delta, every column
# categorical) and SDV's GaussianCopula (no privacy) on adult (an 80/20 split: fitted on the 80%,
# utility scored on the 20%), every output measured by the same `airlock synth report`: average
# two-way total variation distance, and accuracy and AUC of logistic regression trained on the
# synthetic rows; and fit+sample time (one core for airlock; the peers as they run). Installs
# smartnoise-synth and sdv from PyPI into target/synth-venv and says so when it cannot.
#
#   crates/airlock-bench/synth/compare.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
here="$root/crates/airlock-bench/synth"
venv=${AIRLOCK_SYNTH_VENV:-$root/target/synth-venv}
if ! "$venv/bin/python" -c "import snsynth, sdv" >/dev/null 2>&1; then
  echo "== installing smartnoise-synth and sdv into $venv"
  python3 -m venv "$venv" && "$venv/bin/pip" install -q smartnoise-synth sdv || {
    echo "cannot install smartnoise-synth and sdv from PyPI: no comparison" >&2
    exit 2
  }
fi
cargo build --release -q -p airlock-cli --manifest-path "$root/Cargo.toml"
airlock="$root/target/release/airlock"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$root/crates/airlock-bench/adult_split.py" "$root/crates/airlock-risk/tests/data/adult/adult.csv" "$work"
measure() { # name seconds synthetic.csv
  "$airlock" --json synth report --real "$work/train.csv" --synthetic "$3" --holdout "$work/test.csv" \
    --target salary-class --positive '>50K' 2>/dev/null |
    python3 -c "import json,sys; d=json.load(sys.stdin); u=d['utility']; print(f\"{sys.argv[1]:<28} {d['mean_two_way_tvd']:.4f}        {u['synthetic_accuracy']:.4f} / {u['synthetic_auc']:.4f}    {float(sys.argv[2]):8.2f}\")" "$1" "$2"
}
echo "rows: $(($(wc -l < "$work/train.csv") - 1)) fitted, $(($(wc -l < "$work/test.csv") - 1)) held out"
printf "%-28s %-13s %-20s %s\n" "synthesizer" "2-way TVD" "TSTR acc / AUC" "seconds"
for eps in 1 5; do
  start=$(date +%s.%N)
  "$airlock" synth fit "$work/train.csv" -o "$work/a.json" --epsilon "$eps" --delta 1e-6 --force >/dev/null 2>&1
  "$airlock" synth sample "$work/a.json" -n "$(($(wc -l < "$work/train.csv") - 1))" -o "$work/a.csv" --force >/dev/null
  secs=$(python3 -c "print($(date +%s.%N) - $start)")
  measure "airlock MST, epsilon $eps" "$secs" "$work/a.csv"
  m=$("$venv/bin/python" "$here/peers.py" mst "$work/train.csv" "$work/m.csv" "$eps" 1e-6)
  measure "smartnoise MST, epsilon $eps" "$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['seconds'])" "$m")" "$work/m.csv"
done
g=$("$venv/bin/python" "$here/peers.py" gaussiancopula "$work/train.csv" "$work/g.csv")
measure "SDV GaussianCopula (no DP)" "$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['seconds'])" "$g")" "$work/g.csv"
