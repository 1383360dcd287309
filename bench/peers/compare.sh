#!/usr/bin/env bash
# Compare `lrp bench` with Zennit (bench/peers/zennit_bench.py) row by row and print a markdown
# table with lrp/Zennit ratios.  See bench/peers/README.md.
#
#   bench/peers/compare.sh [--models "mlp mnist_cnn"] [--batches "1 16"]
#       [--composites "epsilon_plus_flat epsilon_gamma_box:-3,3 epsilon_alpha2_beta1"]
#       [--runs N] [--warmup W] [--threads T] [--model-dir DIR] [--lrp PATH] [--zennit-src DIR]
#       [--zennit-only | --lrp-only] [--rounds R] [--out FILE.jsonl]
#
# Lists are space-separated (composite specs contain commas).  --runs/--warmup default to
# 100/10 for mlp and mnist_cnn and 5/1 for vgg16 and resnet50 (design doc §4).  --rounds R
# (default 1) runs the whole matrix R times, the two tools alternating row by row in each
# round; the table then gives each tool's fastest round (its median) and the median peak
# memory over the rounds, so a burst of load on a shared host does not decide a row.
# Environment: LRP (binary), LRP_ARGS (extra arguments for `lrp bench`), PYTHON (/usr/bin/python3),
# ZENNIT_SRC (default /tmp/zennit/src), MODEL_DIR (default build/peer_models).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-/usr/bin/python3}"
MODELS="mlp mnist_cnn vgg16 resnet50"
BATCHES="1 16"
COMPOSITES="epsilon_plus_flat epsilon_gamma_box:-3,3 epsilon_alpha2_beta1"
RUNS=""
WARMUP=""
THREADS=2
MODEL_DIR="${MODEL_DIR:-$ROOT/build/peer_models}"
LRP="${LRP:-}"
LRP_ARGS="${LRP_ARGS:-}"
ZENNIT_SRC="${ZENNIT_SRC:-/tmp/zennit/src}"
DO_LRP=1
DO_ZENNIT=1
OUT=""
ROUNDS=1

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --models) MODELS="$2"; shift 2 ;;
    --batches) BATCHES="$2"; shift 2 ;;
    --composites) COMPOSITES="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --model-dir) MODEL_DIR="$2"; shift 2 ;;
    --lrp) LRP="$2"; shift 2 ;;
    --zennit-src) ZENNIT_SRC="$2"; shift 2 ;;
    --zennit-only) DO_LRP=0; shift ;;
    --lrp-only) DO_ZENNIT=0; shift ;;
    --out) OUT="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "compare.sh: unknown argument $1" >&2; usage 2 ;;
  esac
done

if [ "$DO_LRP" = 1 ] && [ -z "$LRP" ]; then
  for candidate in "$ROOT/build/lrp" "$ROOT/build/src/lrp" "$ROOT/build/tools/lrp/lrp"; do
    if [ -x "$candidate" ]; then LRP="$candidate"; break; fi
  done
  [ -n "$LRP" ] || LRP="$(command -v lrp || true)"
  if [ -z "$LRP" ]; then
    echo "compare.sh: no lrp binary (build it, pass --lrp PATH or use --zennit-only)" >&2
    exit 2
  fi
fi

case "$ROUNDS" in
  ''|*[!0-9]*|0) echo "compare.sh: --rounds needs a whole number >= 1, got '$ROUNDS'" >&2; exit 2 ;;
esac

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
RESULTS="${OUT:-$WORK/results.jsonl}"
: > "$RESULTS"

# Append the last stdout line of a run (a JSON object) plus row keys to $RESULTS, or an error record.
record() {  # tool model batch composite logfile exitcode round
  "$PYTHON" - "$@" "$RESULTS" <<'PY'
import json, sys
tool, model, batch, composite, log, code, rnd, results = sys.argv[1:9]
lines = [l for l in open(log, errors='replace').read().splitlines() if l.strip()]
rec = {'tool': tool, 'model': model, 'batch': int(batch), 'composite': composite, 'round': int(rnd)}
try:
    if code != '0':
        raise ValueError(f'exit code {code}')
    data = json.loads(lines[-1])
    if not isinstance(data, dict):
        raise ValueError('last line is not a JSON object')
    for key in ('forward_ms', 'gradient_ms', 'lrp_ms', 'peak_rss_mb'):
        rec[key] = data.get(key)
    rec['raw'] = data
except (ValueError, IndexError) as exc:
    rec['error'] = f'{exc}; last line: {lines[-1] if lines else "(no output)"}'
with open(results, 'a') as fp:
    fp.write(json.dumps(rec) + '\n')
print(f"  {tool:6s} {model} batch {batch} {composite}" + (f" (round {rnd})" if rnd != '1' else '') + ": " +
      (rec['error'] if 'error' in rec else
       f"forward {rec['forward_ms']} ms, gradient {rec['gradient_ms']} ms, LRP {rec['lrp_ms']} ms, "
       f"peak {rec['peak_rss_mb']} MiB"), file=sys.stderr)
PY
}

echo "compare.sh: $(date -u +%FT%TZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), threads $THREADS" >&2
if awk -v n="$(nproc)" '{exit !($1 > 0.25 * n)}' /proc/loadavg; then
  echo "compare.sh: WARNING: the machine is busy (1-min load $(cut -d' ' -f1 /proc/loadavg)); timings will be unreliable" >&2
fi
# Debian's torch multiplies dense layers with whatever libblas.so.3 points to; the reference
# BLAS makes Zennit's small-net rows about 2x slower (the peer must run at its best).
blas="$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)"
if [ "$DO_ZENNIT" = 1 ] && [ -n "$blas" ] && ! echo "$blas" | grep -q -i -e openblas -e mkl -e blis; then
  echo "compare.sh: WARNING: libblas.so.3 is $blas, not an optimised BLAS; PyTorch's dense layers will be slow." \
       "Install libopenblas0-openmp (bench/peers/README.md)" >&2
fi
for round in $(seq 1 "$ROUNDS"); do
  for model in $MODELS; do
    case "$model" in
      mlp|mnist_cnn) runs="${RUNS:-100}"; warmup="${WARMUP:-10}" ;;
      *) runs="${RUNS:-5}"; warmup="${WARMUP:-1}" ;;
    esac
    onnx="$MODEL_DIR/$model.onnx"
    if [ "$DO_LRP" = 1 ] && [ ! -f "$onnx" ]; then
      echo "compare.sh: exporting $onnx" >&2
      "$PYTHON" "$HERE/export_models.py" "$MODEL_DIR" --models "$model" 2>&1 | grep -v -i warning >&2 || true
    fi
    for batch in $BATCHES; do
      for composite in $COMPOSITES; do
        if [ "$DO_LRP" = 1 ]; then
          code=0
          # shellcheck disable=SC2086  # LRP_ARGS is a word list on purpose
          OMP_NUM_THREADS="$THREADS" "$LRP" bench "$onnx" --composite "$composite" --batch "$batch" \
            --runs "$runs" --warmup "$warmup" --json $LRP_ARGS > "$WORK/lrp.log" 2> "$WORK/lrp.err" || code=$?
          record lrp "$model" "$batch" "$composite" "$WORK/lrp.log" "$code" "$round"
        fi
        if [ "$DO_ZENNIT" = 1 ]; then
          code=0
          MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 OMP_NUM_THREADS="$THREADS" \
            "$PYTHON" "$HERE/zennit_bench.py" --model "$model" --composite "$composite" --batch "$batch" \
            --runs "$runs" --warmup "$warmup" --threads "$THREADS" --zennit-src "$ZENNIT_SRC" --json \
            > "$WORK/zennit.log" 2> "$WORK/zennit.err" || code=$?
          [ "$code" = 0 ] || tail -n 3 "$WORK/zennit.err" >&2
          record zennit "$model" "$batch" "$composite" "$WORK/zennit.log" "$code" "$round"
        fi
      done
    done
  done
done

"$PYTHON" - "$RESULTS" <<'PY'
import json, statistics, sys
# rows[key][tool]: that tool's records of the row, one per round.
rows, order = {}, []
for line in open(sys.argv[1]):
    rec = json.loads(line)
    key = (rec['model'], rec['batch'], rec['composite'])
    if key not in rows:
        rows[key] = {}
        order.append(key)
    rows[key].setdefault(rec['tool'], []).append(rec)

def val(recs, key):
    """Times: the fastest round's median; memory: the median over the rounds (None if any round failed)."""
    if not recs or any('error' in r for r in recs):
        return None
    vals = [r.get(key) for r in recs]
    if any(v is None for v in vals):
        return None
    return statistics.median(vals) if key == 'peak_rss_mb' else min(vals)

def fmt(v, digits=2):
    return 'n/a' if v is None else (f'{v:.{digits}f}' if v < 100 else f'{v:.0f}')

def quotient(a, b):
    return 'n/a' if a is None or b is None or b == 0 else f'{a / b:.2f}'

def ratio(a, b):
    q = quotient(a, b)
    return q if q == 'n/a' else q + '×'

print('| model | batch | composite | forward ms lrp / Zennit | gradient ms lrp / Zennit | LRP ms lrp / Zennit '
      '| LRP ratio lrp/Zennit | gradient ratio | peak MiB lrp / Zennit | memory ratio | lrp LRP / forward |')
print('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|')
for key in order:
    lrp, zen = rows[key].get('lrp'), rows[key].get('zennit')
    cells = []
    for k in ('forward_ms', 'gradient_ms', 'lrp_ms'):
        cells.append(f'{fmt(val(lrp, k))} / {fmt(val(zen, k))}')
    cells.append(ratio(val(lrp, 'lrp_ms'), val(zen, 'lrp_ms')))
    cells.append(ratio(val(lrp, 'gradient_ms'), val(zen, 'gradient_ms')))
    cells.append(f'{fmt(val(lrp, "peak_rss_mb"), 0)} / {fmt(val(zen, "peak_rss_mb"), 0)}')
    cells.append(ratio(val(lrp, 'peak_rss_mb'), val(zen, 'peak_rss_mb')))
    # issue 5's own ratio (EPF target <= 2.5): lrp's LRP call against its forward, both as above
    cells.append(quotient(val(lrp, 'lrp_ms'), val(lrp, 'forward_ms')))
    print(f'| {key[0]} | {key[1]} | {key[2]} | ' + ' | '.join(cells) + ' |')
errors = [r for tools in rows.values() for recs in tools.values() for r in recs if 'error' in r]
for r in errors:
    print(f'\n{r["tool"]} {r["model"]} batch {r["batch"]} {r["composite"]}: {r["error"]}')
rounds = max((r.get('round', 1) for tools in rows.values() for recs in tools.values() for r in recs), default=1)
print('\nms per call for the whole batch (medians' + (f'; the fastest of {rounds} rounds, memory the median over them' if rounds > 1 else '') +
      '); ratios < 1 mean lrp is faster / smaller.')
PY
