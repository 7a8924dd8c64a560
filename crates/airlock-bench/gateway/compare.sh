#!/usr/bin/env bash
# airlock gateway beside LiteLLM's proxy with its Presidio guardrail, on the same local
# upstream and the same load (airlock-bench --suite gateway --peer). Loopback only; bounded by
# SECONDS_EACH (default 60) per load run.
#
#   cargo build --release --workspace && crates/airlock-bench/gateway/compare.sh
#
# LiteLLM and Presidio come from PyPI into a venv (VENV, default target/litellm-venv).
# spaCy's trained models are not on PyPI, so Presidio runs its pattern recognizers on a blank
# pipeline (no NER): faster than Presidio as deployed, and it finds no names.
set -euo pipefail
cd "$(dirname "$0")/../../.."
VENV=${VENV:-target/litellm-venv}
SECONDS_EACH=${SECONDS_EACH:-60}
UPSTREAM_PORT=${UPSTREAM_PORT:-9911}
PRESIDIO_PORT=${PRESIDIO_PORT:-5002}
LITELLM_PORT=${LITELLM_PORT:-4000}
if [ ! -x "$VENV/bin/litellm" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'litellm[proxy]' presidio-analyzer presidio-anonymizer \
    || { echo "cannot install LiteLLM and Presidio from PyPI" >&2; exit 2; }
fi
work=$(mktemp -d)
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
pids=()
trap cleanup EXIT
"$VENV/bin/python" crates/airlock-bench/gateway/presidio_service.py "$PRESIDIO_PORT" > "$work/presidio.log" 2>&1 &
pids+=($!)
cat > "$work/litellm.yaml" <<YAML
model_list:
  - model_name: bench
    litellm_params:
      model: openai/bench
      api_base: http://127.0.0.1:$UPSTREAM_PORT/v1
      api_key: sk-upstream
guardrails:
  - guardrail_name: presidio-pii
    litellm_params:
      guardrail: presidio
      mode: pre_call
      presidio_analyzer_api_base: http://127.0.0.1:$PRESIDIO_PORT
      presidio_anonymizer_api_base: http://127.0.0.1:$PRESIDIO_PORT
      default_on: true
YAML
export PEER_API_KEY=sk-bench-master-key-0123456789
LITELLM_MASTER_KEY=$PEER_API_KEY "$VENV/bin/litellm" --config "$work/litellm.yaml" \
  --host 127.0.0.1 --port "$LITELLM_PORT" > "$work/litellm.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$LITELLM_PORT/health/liveliness" >/dev/null 2>&1 && \
  grep -q ready "$work/presidio.log" && break
  sleep 2
done
target/release/airlock-bench --suite gateway --rows "$SECONDS_EACH" --json \
  --upstream-port "$UPSTREAM_PORT" --peer "http://127.0.0.1:$LITELLM_PORT/v1"
