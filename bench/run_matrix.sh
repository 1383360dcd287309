#!/usr/bin/env bash
# Runs `lrp bench` over models x batches x composites and appends one JSON line per run to OUT
# (the numbers of docs/PERFORMANCE.md). On a shared machine, QUIET=L waits (up to 10 min) for
# the 1-minute load average to drop below L before each run, and REPEAT=K runs every
# configuration K times (keep the fastest median, see bench/summarize.py).
#
#   bench/run_matrix.sh LRP_BINARY OUT.jsonl [extra lrp bench args...]
#   MODELS="synthetic:vgg16 synthetic:resnet50" BATCHES="1 16" \
#   COMPOSITES="epsilon_plus_flat epsilon_gamma_box:-3,3 epsilon_alpha2_beta1" RUNS=5 WARMUP=1 ...
set -euo pipefail
LRP="$1"; OUT="$2"; shift 2
MODELS="${MODELS:-synthetic:mlp synthetic:mnist_cnn synthetic:vgg16 synthetic:resnet50}"
BATCHES="${BATCHES:-1 16}"
COMPOSITES="${COMPOSITES:-epsilon_plus_flat epsilon_gamma_box:-3,3 epsilon_alpha2_beta1}"
THREADS="${THREADS:-2}"
REPEAT="${REPEAT:-1}"
QUIET="${QUIET:-}"

wait_quiet() {
  [ -z "$QUIET" ] && return 0
  for _ in $(seq 120); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    awk "BEGIN{exit !($load < $QUIET)}" && return 0
    sleep 5
  done
}

for rep in $(seq "$REPEAT"); do
  for model in $MODELS; do
    case "$model" in
      *mlp*|*mnist*|*LeNet*) runs="${RUNS_SMALL:-100}"; warmup="${WARMUP_SMALL:-10}" ;;
      *) runs="${RUNS:-5}"; warmup="${WARMUP:-1}" ;;
    esac
    for batch in $BATCHES; do
      for comp in $COMPOSITES; do
        wait_quiet
        line=$("$LRP" bench "$model" --composite "$comp" --batch "$batch" --runs "$runs" --warmup "$warmup" \
               --threads "$THREADS" --json "$@" | tail -n 1)
        echo "{\"load\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"repeat\": $rep, \"result\": $line}" >> "$OUT"
        echo "$model b$batch $comp: $(echo "$line" | /usr/bin/python3 -c 'import json,sys; j=json.load(sys.stdin); print("fwd %.2f grad %.2f lrp %.2f ms, peak %.0f MiB" % (j["forward_ms"], j["gradient_ms"], j["lrp_ms"], j["peak_rss_mb"]))')"
      done
    done
  done
done
