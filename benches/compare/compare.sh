#!/usr/bin/env bash
# Peer comparison: Ember vs Brian2 (cpp_standalone) on the CUBA benchmark.
#
#   bash benches/compare/compare.sh [--n N] [--brian2-only] [--no-cargo]
#   bash benches/compare/compare.sh --model coba [--n N] [--coba-init both|zero|brian|brian-v|kick|all]
#   bash benches/compare/compare.sh --all [harness.sh options]
#
# --all: every workload (CUBA 4000/16000/64000, Izhikevich 2003) in Ember, Brian2 and
#   NEST, tables written to benches/RESULTS.md: runs harness.sh (see its header).
#
# --model coba: Brian2-only COBA reference (coba_brian2.py, coba_runs.py), every
#   seed in SEEDS (default "12345 1 2 3 4"), ROUNDS timed runs per seed and
#   initial state; prints spike counts, rates and whole-process times.
#
# Environment:
#   ROUNDS=5        interleaved measurement rounds (brian2, ember, brian2, ember, ...)
#   WARMUP=1        untimed runs of each simulator before measuring
#   BRIAN2_SEED=12345  seed baked into the Brian2 binary ("none": fresh seed per run)
#   EMBER_BIN=...   Ember binary (default: <target>/release/ember)
#   PYTHON=python3  interpreter used to create the venv
#   SEEDS="12345 1 2 3 4"  Brian2 seeds for --model coba (one binary per seed)
#
# Everything generated goes under <repo>/target/ (venv, Brian2 project, outputs).
# See README.md beside this file.
set -euo pipefail

HERE0="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
for a in "$@"; do
    if [ "$a" = --all ]; then
        rest=()
        for b in "$@"; do [ "$b" = --all ] || rest+=("$b"); done
        HARNESS_VIA_COMPARE=1 exec bash "$HERE0/harness.sh" ${rest[@]+"${rest[@]}"}
    fi
done

HERE="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(cd -- "$HERE/../.." && pwd -P)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
VENV="$ROOT/target/compare-venv"
WORK="$ROOT/target/compare"
PYTHON="${PYTHON:-python3}"
ROUNDS="${ROUNDS:-5}"
WARMUP="${WARMUP:-1}"
BRIAN2_SEED="${BRIAN2_SEED:-12345}"
EMBER_BIN="${EMBER_BIN:-$TARGET/release/ember}"

N=4000
RUN_EMBER=1
RUN_CARGO=1
MODEL=cuba
COBA_INIT=both
while [ $# -gt 0 ]; do
    case "$1" in
        --model) MODEL="${2:?--model needs a value}"; shift 2 ;;
        --model=*) MODEL="${1#--model=}"; shift ;;
        --coba-init) COBA_INIT="${2:?--coba-init needs a value}"; shift 2 ;;
        --coba-init=*) COBA_INIT="${1#--coba-init=}"; shift ;;
        --n) N="${2:?--n needs a value}"; shift 2 ;;
        --n=*) N="${1#--n=}"; shift ;;
        --brian2-only) RUN_EMBER=0; RUN_CARGO=0; shift ;;
        --no-cargo) RUN_CARGO=0; shift ;;
        -h|--help) sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done
case "$N" in ''|*[!0-9]*) echo "compare.sh: --n must be a positive integer" >&2; exit 2 ;; esac
case "$ROUNDS" in ''|*[!0-9]*|0) echo "compare.sh: ROUNDS must be a positive integer" >&2; exit 2 ;; esac
case "$WARMUP" in ''|*[!0-9]*) echo "compare.sh: WARMUP must be a non-negative integer" >&2; exit 2 ;; esac
case "$MODEL" in cuba|coba) ;; *) echo "compare.sh: --model must be cuba or coba" >&2; exit 2 ;; esac
case "$COBA_INIT" in
    zero|brian|brian-v|kick) ;;
    both) COBA_INIT=zero,brian ;;
    all) COBA_INIT=zero,brian,brian-v,kick ;;
    *) echo "compare.sh: --coba-init must be both, zero, brian, brian-v, kick or all" >&2; exit 2 ;;
esac
if [ "$MODEL" = coba ]; then
    # Brian2 reference only (no cargo, no Ember run).
    RUN_EMBER=0
    RUN_CARGO=0
fi

EMBER_NOTE=""
if [ "$N" != 4000 ] && [ "$RUN_EMBER" = 1 ]; then
    # Ember's default scenario is CUBA with 4000 neurons; other sizes are Brian2-only.
    RUN_EMBER=0
    RUN_CARGO=0
    EMBER_NOTE="not run: --n $N (Ember's default scenario is N=4000)"
fi

log() { printf '==> %s\n' "$*"; }
mkdir -p "$WORK"

# --- (a) Python venv with Brian2 ---------------------------------------------
VPY="$VENV/bin/python"
venv_ok() {
    [ -x "$VPY" ] && "$VPY" - <<'EOF' >/dev/null 2>&1
import brian2, numpy
assert brian2.__version__.startswith("2.9"), brian2.__version__
assert tuple(int(x) for x in numpy.__version__.split(".")[:2]) < (2, 3), numpy.__version__
EOF
}
if venv_ok; then
    log "Brian2 venv ok: $VENV"
else
    log "installing Brian2 into $VENV (one-off)"
    command -v "$PYTHON" >/dev/null || { echo "compare.sh: $PYTHON not found" >&2; exit 1; }
    [ -x "$VPY" ] || "$PYTHON" -m venv "$VENV"
    "$VPY" -m pip install --quiet --disable-pip-version-check 'brian2==2.9.*' 'numpy<2.3'
    venv_ok || { echo "compare.sh: Brian2 does not import in $VENV after install" >&2; exit 1; }
fi
"$VPY" -c 'import brian2, numpy; print("    brian2", brian2.__version__, "numpy", numpy.__version__)'

if [ "$MODEL" = coba ]; then
    exec "$VPY" "$HERE/coba_runs.py" --work "$WORK" --n "$N" --seeds "${SEEDS:-12345 1 2 3 4}" \
        --inits "$COBA_INIT" --rounds "$ROUNDS" --warmup "$WARMUP"
fi

# --- (b) Ember release build --------------------------------------------------
if [ "$RUN_CARGO" = 1 ]; then
    log "building Ember: cargo build --release -p ember-cli"
    if ! command -v cargo >/dev/null; then
        EMBER_NOTE="cargo not found; Ember not built"
    elif ! (cd "$ROOT" && cargo build --release -p ember-cli); then
        EMBER_NOTE="cargo build --release -p ember-cli failed"
    fi
fi
if [ "$RUN_EMBER" = 1 ] && [ -z "$EMBER_NOTE" ] && [ ! -x "$EMBER_BIN" ]; then
    EMBER_NOTE="Ember binary not found at $EMBER_BIN"
fi
if [ -n "$EMBER_NOTE" ]; then
    RUN_EMBER=0
    echo "!!! Ember: $EMBER_NOTE -- reporting Brian2 only" >&2
fi

# --- (c) Brian2 standalone project (built once) -------------------------------
B2DIR="$WORK/brian2_cuba_N$N"
[ "$BRIAN2_SEED" = 12345 ] || B2DIR="${B2DIR}_seed$BRIAN2_SEED"
MANIFEST="$B2DIR/ember_compare_manifest.json"
if [ -x "$B2DIR/main" ] && [ -f "$MANIFEST" ] && [ ! "$HERE/cuba_brian2.py" -nt "$MANIFEST" ]; then
    log "Brian2 standalone project up to date: $B2DIR"
else
    log "building Brian2 standalone CUBA (N=$N) in $B2DIR"
    rm -rf "$B2DIR"
    "$VPY" "$HERE/cuba_brian2.py" --build "$B2DIR" --n "$N" --seed "$BRIAN2_SEED"
fi

# --- (d) interleaved measurements ---------------------------------------------
EMBER_OUT="$WORK/ember_out"
TIMES="$WORK/times_N$N.jsonl"
: > "$TIMES"
rm -f "$EMBER_OUT/summary.json"  # never report a stale summary
# `|| true`: a failed run is reported by timeit_proc.py and leaves no record.
run_brian2() { "$VPY" "$HERE/timeit_proc.py" --label brian2 --cwd "$B2DIR" --log "$WORK/brian2_stdout.txt" "$@" -- ./main || true; }
run_ember() {
    if ! "$VPY" "$HERE/timeit_proc.py" --label ember --log "$WORK/ember_stdout.txt" "$@" \
        -- "$EMBER_BIN" run --no-plot --out "$EMBER_OUT"; then
        echo "    (ember output: $WORK/ember_stdout.txt)"
    fi
}
if [ "$WARMUP" -gt 0 ]; then
    log "warm-up ($WARMUP untimed run(s) each)"
    for ((w = 1; w <= WARMUP; w++)); do
        run_brian2 >/dev/null
        [ "$RUN_EMBER" = 0 ] || run_ember >/dev/null
    done
fi
log "measuring $ROUNDS interleaved round(s)"
for ((r = 1; r <= ROUNDS; r++)); do
    run_brian2 --record "$TIMES"
    [ "$RUN_EMBER" = 0 ] || run_ember --record "$TIMES"
done

# --- (e) table ----------------------------------------------------------------
args=(--times "$TIMES" --brian2-dir "$B2DIR" --rounds "$ROUNDS")
if [ "$RUN_EMBER" = 1 ]; then
    args+=(--ember-summary "$EMBER_OUT/summary.json")
    if ! grep -q '"label": "ember"' "$TIMES"; then
        args+=(--ember-note "every Ember run failed (see $WORK/ember_stdout.txt)")
        echo "!!! every Ember run failed; last lines of its output:" >&2
        tail -n 5 "$WORK/ember_stdout.txt" | sed 's/^/    /' >&2 || true
    fi
elif [ -n "$EMBER_NOTE" ]; then
    args+=(--ember-note "$EMBER_NOTE")
else
    args+=(--ember-note "not run (--brian2-only)")
fi
"$VPY" "$HERE/summarize.py" "${args[@]}"
