#!/usr/bin/env bash
# The issue-11 calibration figures on the bundled examples (docs/statistics.md, "Calibration").
#
# Ten runs of `cargo joule -p jouletrace-examples` with a release cargo-joule: the first saved as
# baseline `calibration`, the others compared with it. Each run's results file, terminal output,
# exit code and load average go to OUT; `analyze.py` then prints coverage, verdicts and the window
# share. Not part of the test suite: it takes ten minutes or more, and its figures are the
# machine's, not pass/fail.
#
# Usage (from anywhere inside the workspace):
#   tests/calibration/examples.sh [OUT] [RUNS]
# Environment:
#   CARGO_JOULE    a cargo-joule binary to use (default: build target/release/cargo-joule)
#   KEEP_HISTORY=1 keep the run history this target dir already has (default: start empty, so
#                  the first runs use the meter's prior and the figures start from a known state)
#   JOULE_ARGS     extra arguments for every run (e.g. "--meter estimate")
#
# Take the figures at normal priority while other work on the machine runs at `nice -n 19`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$ROOT/target/calibration/$(date -u +%Y%m%dT%H%M%SZ)}
RUNS=${2:-10}
cd "$ROOT"
TARGET=$ROOT/target
if [ -z "${CARGO_JOULE:-}" ]; then
  nice -n 19 cargo build --release -p cargo-joule
  CARGO_JOULE=$TARGET/release/cargo-joule
fi
mkdir -p "$OUT"
if [ "${KEEP_HISTORY:-0}" != 1 ]; then
  rm -rf "$TARGET/joule/history"
fi
log() { echo "$*" | tee -a "$OUT/log"; }
log "calibration: $RUNS runs of the examples with $CARGO_JOULE ($(git rev-parse --short HEAD 2>/dev/null || echo '?')), $(nproc) CPUs"
for i in $(seq 1 "$RUNS"); do
  if [ "$i" = 1 ]; then extra=(--save-baseline calibration); else extra=(--baseline calibration); fi
  log "run $i start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  set +e
  # shellcheck disable=SC2086
  "$CARGO_JOULE" joule -p jouletrace-examples "${extra[@]}" ${JOULE_ARGS:-} >"$OUT/run$i.txt" 2>&1
  code=$?
  set -e
  log "run $i exit $code end $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
  cp "$TARGET/joule/results.json" "$OUT/run$i.json"
done
python3 "$ROOT/tests/calibration/analyze.py" "$OUT" | tee "$OUT/figures.txt"
