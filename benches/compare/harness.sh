#!/usr/bin/env bash
# Peer comparison, every workload: Ember vs Brian2 (cpp_standalone) vs NEST.
#
#   bash benches/compare/harness.sh [--no-cargo] [--no-nest] [--no-c] [--sizes "4000 16000 64000"]
#                                   [--only cuba|izhikevich] [--results FILE]
#   bash benches/compare/compare.sh --all [same options]      (the same thing)
#
# 1. Sets up (once) the venv target/compare-venv with Brian2 2.9 and, if a wheel installs,
#    NEST 3 (PyPI nest-simulator); if NEST cannot be installed it says why and goes on
#    without it (the failure is remembered in target/compare/nest_install_failed.txt;
#    NEST_RETRY=1 tries again).
# 2. Builds Ember: cargo build --release -p ember-cli.
# 3. Runs CUBA at each size (Ember 1 and 2 threads, Brian2, NEST 1 and 2 threads, and the
#    plain single-thread C loop benches/compare/cuba_c.c if gcc is installed) and the
#    Izhikevich 2003 network (Ember 1 and 2 threads, Brian2), interleaved rounds, and
#    prints one table per workload (harness.py).
# 4. Writes the tables and the machine description to benches/RESULTS.md (--results FILE
#    to write elsewhere, --results none for no file).
#
# Environment:
#   ROUNDS=3        interleaved measurement rounds (medians over them)
#   WARMUP=1        untimed runs of each participant first
#   BRIAN2_SEED=12345  seed baked into the Brian2 binaries
#   EMBER_BIN=...   Ember binary (default: <target>/release/ember)
#   PYTHON=python3  interpreter used to create the venv
#   NEST_RETRY=1    retry a NEST installation that failed before
#
# Everything generated goes under <repo>/target/ (venv, projects, outputs, raw timings).
set -euo pipefail

HERE="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
ROOT="$(cd -- "$HERE/../.." && pwd -P)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
VENV="$ROOT/target/compare-venv"
WORK="$ROOT/target/compare"
PYTHON="${PYTHON:-python3}"
ROUNDS="${ROUNDS:-3}"
WARMUP="${WARMUP:-1}"
BRIAN2_SEED="${BRIAN2_SEED:-12345}"
EMBER_BIN="${EMBER_BIN:-$TARGET/release/ember}"

RUN_CARGO=1
RUN_NEST=1
RUN_C=1
SIZES="4000 16000 64000"
ONLY="cuba,izhikevich"
RESULTS="$ROOT/benches/RESULTS.md"
CMDLINE="bash benches/compare/harness.sh${*:+ $*}"
[ -z "${HARNESS_VIA_COMPARE:-}" ] || CMDLINE="bash benches/compare/compare.sh --all${*:+ $*}"
while [ $# -gt 0 ]; do
    case "$1" in
        --no-cargo) RUN_CARGO=0; shift ;;
        --no-nest) RUN_NEST=0; shift ;;
        --no-c) RUN_C=0; shift ;;
        --sizes) SIZES="${2:?--sizes needs a value}"; shift 2 ;;
        --sizes=*) SIZES="${1#--sizes=}"; shift ;;
        --only) ONLY="${2:?--only needs a value}"; shift 2 ;;
        --only=*) ONLY="${1#--only=}"; shift ;;
        --results) RESULTS="${2:?--results needs a value}"; shift 2 ;;
        --results=*) RESULTS="${1#--results=}"; shift ;;
        -h|--help) sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "harness.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done
case "$RESULTS" in /*|none) ;; *) RESULTS="$PWD/$RESULTS" ;; esac
for n in $SIZES; do
    case "$n" in ''|*[!0-9]*) echo "harness.sh: --sizes must be positive integers" >&2; exit 2 ;; esac
done
case "$ROUNDS" in ''|*[!0-9]*|0) echo "harness.sh: ROUNDS must be a positive integer" >&2; exit 2 ;; esac
case "$WARMUP" in ''|*[!0-9]*) echo "harness.sh: WARMUP must be a non-negative integer" >&2; exit 2 ;; esac

log() { printf '==> %s\n' "$*"; }
mkdir -p "$WORK"
START=$(date +%s)

# --- (a) venv: Brian2 (required) ----------------------------------------------------------
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
    command -v "$PYTHON" >/dev/null || { echo "harness.sh: $PYTHON not found" >&2; exit 1; }
    [ -x "$VPY" ] || "$PYTHON" -m venv "$VENV"
    "$VPY" -m pip install --quiet --disable-pip-version-check 'brian2==2.9.*' 'numpy<2.3'
    venv_ok || { echo "harness.sh: Brian2 does not import in $VENV after install" >&2; exit 1; }
fi

# --- (b) venv: NEST (optional) -------------------------------------------------------------
export PYNEST_QUIET=1
NEST_NOTE=""
NEST_FAILED="$WORK/nest_install_failed.txt"
nest_ok() { (cd "$WORK" && timeout 120 "$VPY" -c 'import nest' >/dev/null 2>&1); }
if [ "$RUN_NEST" = 0 ]; then
    NEST_NOTE="not run (--no-nest)"
elif nest_ok; then
    log "NEST ok in $VENV"
elif [ -f "$NEST_FAILED" ] && [ -z "${NEST_RETRY:-}" ]; then
    NEST_NOTE="not available: installation failed before ($(head -n 1 "$NEST_FAILED")); NEST_RETRY=1 to try again"
else
    log "installing NEST (PyPI nest-simulator) into $VENV (one-off, at most 10 minutes)"
    # numpy<2.3 again so that the NEST install cannot break Brian2.
    if timeout 600 "$VPY" -m pip install --quiet --disable-pip-version-check \
        'nest-simulator>=3,<4' 'numpy<2.3' >"$WORK/nest_install.log" 2>&1 && nest_ok; then
        rm -f "$NEST_FAILED"
        log "NEST installed"
    else
        why="$(grep -m1 -iE 'error|no matching distribution' "$WORK/nest_install.log" || true)"
        [ -n "$why" ] || why="pip install nest-simulator failed or 'import nest' fails after it"
        printf '%s\n(see %s)\n' "$why" "$WORK/nest_install.log" >"$NEST_FAILED"
        NEST_NOTE="not available: $why"
    fi
    venv_ok || { echo "harness.sh: Brian2 no longer imports after the NEST install" >&2; exit 1; }
fi
[ -z "$NEST_NOTE" ] || echo "!!! NEST: $NEST_NOTE -- continuing without NEST" >&2
"$VPY" - <<'EOF'
import brian2, numpy, sys
try:
    import nest
    nv = nest.__version__
except Exception:
    nv = "-"
print(f"    python {sys.version.split()[0]}  brian2 {brian2.__version__}  numpy {numpy.__version__}  nest {nv}")
EOF

# --- (c) Ember release build ---------------------------------------------------------------
EMBER_NOTE=""
if [ "$RUN_CARGO" = 1 ]; then
    log "building Ember: cargo build --release -p ember-cli"
    if ! command -v cargo >/dev/null; then
        EMBER_NOTE="cargo not found; Ember not built"
    elif ! (cd "$ROOT" && cargo build --release -p ember-cli); then
        EMBER_NOTE="cargo build --release -p ember-cli failed"
    fi
fi
if [ -z "$EMBER_NOTE" ] && [ ! -x "$EMBER_BIN" ]; then
    EMBER_NOTE="Ember binary not found at $EMBER_BIN"
fi
[ -z "$EMBER_NOTE" ] || echo "!!! Ember: $EMBER_NOTE -- reporting the peers only" >&2

# --- (d) measurements, tables, RESULTS.md ---------------------------------------------------
args=(--work "$WORK" --ember "$EMBER_BIN" --sizes "$SIZES" --only "$ONLY"
      --rounds "$ROUNDS" --warmup "$WARMUP" --brian2-seed "$BRIAN2_SEED" --command "$CMDLINE")
[ -z "$EMBER_NOTE" ] || args+=(--ember-note "$EMBER_NOTE")
[ -z "$NEST_NOTE" ] || args+=(--nest-note "$NEST_NOTE")
[ "$RESULTS" = none ] || args+=(--results "$RESULTS")
[ "$RUN_C" = 1 ] || args+=(--no-c)
"$VPY" "$HERE/harness.py" "${args[@]}"
log "done in $(( $(date +%s) - START )) s"
