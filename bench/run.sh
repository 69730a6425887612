#!/usr/bin/env bash
# `make bench`: builds the release binaries, makes what the peers need (the
# .venv-bench venv, the Debian documents, the model), runs every benchmark
# side by side, and writes docs/benchmarks.md. Never part of `make test`.
#
#   bash bench/run.sh                     # everything (< 20 min on 2 cores once the venv exists)
#   BENCH_QUICK=1 bash bench/run.sh       # smoke run: fewer repetitions, one document per format,
#                                         # not recorded in bench/history.json
#   BENCH_ARM64=1 bash bench/run.sh       # also arm64 sizes via cargo-lambda (a second full build)
#   BENCH_LABEL="features split" ...      # name this run in the before/after table
#   BENCH_SKIP_BUILD=1 ...                # use the binaries already built (.aws-sam/build, target/)
#   BENCH_RECORD=0 ...                    # do not append this run to bench/history.json
#   BENCH_NOTE="..." ...                  # a remark shown with the run in docs/benchmarks.md
#
# Results (JSON, logs) go to target/bench/; the steps run one after another so
# no benchmark shares the 2 cores with another (setup that only downloads runs
# during the build). A step that fails is reported as "not measured" with its
# reason; the others still run.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

CARGO="${CARGO:-cargo}"
target_dir="${CARGO_TARGET_DIR:-target}"
results="${BENCH_RESULTS:-$target_dir/bench}"
quick="${BENCH_QUICK:-0}"
if [ "$quick" = 1 ]; then
  runs="${BENCH_COLDSTART_RUNS:-5}"
  passages="${BENCH_PASSAGES:-128}"
  criterion_args=(-- --warm-up-time 1 --measurement-time 2)
else
  runs="${BENCH_COLDSTART_RUNS:-20}"
  passages="${BENCH_PASSAGES:-512}"
  criterion_args=()
fi
export ASKDOCS_MODEL_DIR="${ASKDOCS_MODEL_DIR:-$PWD/.models/all-MiniLM-L6-v2}"
askdocs="${ASKDOCS_BIN:-$target_dir/release/askdocs}"
venv_python=.venv-bench/bin/python

# ---- the Rust side (commands the askdocs binary and the workspace provide) --------
# extract + chunk of the given files, one process:
#   {"files":[{"file","format","bytes","pages","chunks","seconds"}]}
rust_extract() { "$askdocs" bench-extract --json "$@"; }
# embedding of the passages in a JSON list of strings, then 50 one-query calls:
#   {"passages_per_second","query_p50_ms", ...}
rust_embed() {
  "$askdocs" bench-embed --json --batch 32 --passages "$passages" --passages-file "$results/passages.json" \
    --queries-file "$results/queries.json"
}
# criterion; results land in target/criterion/**/new/
retrieval_bench() { "$CARGO" bench -p askdocs-shared --bench retrieval "${criterion_args[@]}"; }

# The four Lambdas as `sam build` makes them (bench/sam-build.sh: one cargo
# lambda call per function, so each links only its own features) and the
# hello-world baseline built the same way; the askdocs command and the
# retrieval benchmark with cargo.
build_release() {
  echo "run: bash bench/sam-build.sh" >&2
  bash bench/sam-build.sh > "$results/arch.txt" || return 1
  echo "run: $CARGO build --release -p askdocs-local --bin askdocs" >&2
  "$CARGO" build --release -p askdocs-local --bin askdocs || return 1
  echo "run: $CARGO bench -p askdocs-shared --bench retrieval --no-run" >&2
  "$CARGO" bench -p askdocs-shared --bench retrieval --no-run
}

# The binaries the cold start runs: built by sam build's rules for this
# machine (bench/sam-build.sh), since arm64 artefacts cannot run here.
lambda_binaries=()
lambda_dir=$target_dir/lambda
[[ "$lambda_dir" = /* ]] || lambda_dir=$PWD/$lambda_dir
for name in auth document processing query hello-lambda; do
  lambda_binaries+=(--binary "$name=$lambda_dir/$name/bootstrap")
done

# ---- bookkeeping -------------------------------------------------------------------
rm -rf "$results"
mkdir -p "$results"
started=$(date +%s)
steps="$results/steps.tsv"
: > "$steps"

# What the shell functions above run, for the log and the report.
declare -A shown=(
  [rust_extract]="$askdocs bench-extract --json FILES"
  [rust_embed]="$askdocs bench-embed --json --batch 32 --passages $passages --passages-file $results/passages.json --queries-file $results/queries.json"
  [retrieval_bench]="$CARGO bench -p askdocs-shared --bench retrieval ${criterion_args[*]}"
  [build_release]="bash bench/sam-build.sh (sam build, cargo lambda per function); $CARGO build --release -p askdocs-local; $CARGO bench --no-run"
)

# step NAME OUTPUT-FILE COMMAND...: stdout to OUTPUT-FILE (JSON), stderr to NAME.log.
step() {
  local name=$1 out=$2 status t0 t1 reason command
  shift 2
  command="$*"
  if [ "$(type -t "$1")" = function ] && [ -n "${shown[$1]:-}" ]; then
    command="${shown[$1]}"
    [ $# -gt 1 ] && command="${command/FILES/${*:2}}"
  fi
  echo "run: [$name] $command" >&2
  t0=$(date +%s.%N)
  if "$@" > "$results/$out" 2> "$results/$name.log"; then status=0; else status=$?; fi
  t1=$(date +%s.%N)
  if [ "$status" != 0 ]; then
    reason=$(tail -n 3 "$results/$name.log" | tr -d '"\\' | tr '\n\t' '  ' | cut -c1-300)
    case "$out" in
      *.json) printf '{"error": "exit %s: %s"}\n' "$status" "$reason" > "$results/$out" ;;
    esac
    echo "run: [$name] failed (exit $status): $reason" >&2
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$(awk "BEGIN{print $t1 - $t0}")" "$status" \
    "$results/$name.log" "$command" >> "$steps"
  return 0
}

cpu_busy() { # percent of all cores busy (user, nice, system, irq, softirq) over one second
  local u1 n1 s1 i1 w1 q1 o1 u2 n2 s2 i2 w2 q2 o2 busy total
  read -r _ u1 n1 s1 i1 w1 q1 o1 _ < /proc/stat
  sleep 1
  read -r _ u2 n2 s2 i2 w2 q2 o2 _ < /proc/stat
  busy=$(( (u2 + n2 + s2 + q2 + o2) - (u1 + n1 + s1 + q1 + o1) ))
  total=$(( busy + (i2 + w2) - (i1 + w1) ))
  echo $(( total > 0 ? 100 * busy / total : 0 ))
}

# ---- setup in the background while cargo builds -------------------------------------
setup() {
  bash bench/venv.sh &&
    bash bench/documents.sh > /dev/null &&
    bash scripts/fetch-model.sh "$ASKDOCS_MODEL_DIR"
}
setup_t0=$(date +%s.%N)
setup > "$results/setup.log" 2>&1 &
setup_pid=$!
trap 'kill "$setup_pid" 2>/dev/null' EXIT

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  step build build.txt build_release
fi
echo "run: waiting for the venv, the documents and the model (log: $results/setup.log)" >&2
if wait "$setup_pid"; then setup_status=0; else setup_status=$?; fi
trap - EXIT
printf '%s\t%s\t%s\t%s\t%s\n' setup "$(awk "BEGIN{print $(date +%s.%N) - $setup_t0}")" "$setup_status" \
  "$results/setup.log" "bash bench/venv.sh && bash bench/documents.sh && bash scripts/fetch-model.sh" >> "$steps"
[ "$setup_status" = 0 ] || echo "run: setup failed, see $results/setup.log" >&2

mapfile -t documents < <(bash bench/documents.sh --list)
if [ "$quick" = 1 ]; then
  documents=(.bench-docs/set/pdf/fhs-3.0.pdf .bench-docs/set/html/fhs-3.0.html
             .bench-docs/set/txt/developers-reference.txt .bench-docs/set/docx/developers-reference.docx)
fi
texts=(.bench-docs/set/txt/*.txt)

busy=$(cpu_busy)
loadavg=$(cut -d' ' -f1-3 /proc/loadavg)
[ "$busy" -lt 20 ] || echo "run: warning: the CPU is ${busy}% busy with other work; numbers will suffer" >&2

# ---- the benchmarks, one at a time ---------------------------------------------------
lambda_arch=$(cat "$results/arch.txt" 2>/dev/null || echo x86_64)
step sizes sizes.json bash bench/sizes.sh --sam "$lambda_arch"
step coldstart coldstart.json python3 bench/coldstart.py --runs "$runs" \
  --target-dir "$target_dir" "${lambda_binaries[@]}" --log "$results/coldstart-functions.log"
step extract-rust extract-rust.json rust_extract "${documents[@]}"
step extract-python extract-python.json "$venv_python" bench/python_pipeline.py --json --min-seconds 1 \
  "${documents[@]}"
step passages passages.txt "$venv_python" bench/embed_st.py --make-passages "$results/passages.json" \
  --write-queries "$results/queries.json" --passages "$passages" "${texts[@]}"
step embed-rust embed-rust.json rust_embed
step embed-st embed-st.json "$venv_python" bench/embed_st.py --json --passages "$passages" \
  --passages-file "$results/passages.json" --queries-file "$results/queries.json"
step retrieval retrieval.txt retrieval_bench
# More benchmarks (ask end to end, load, ingest): bench/extra-NAME.sh RESULTS-DIR prints
# {"title","rows":[{"key","what","value","unit","peer","ratio","goal","met"}]}.
for extra in bench/extra-*.sh; do
  [ -e "$extra" ] || continue
  name=$(basename "$extra" .sh)
  step "$name" "$name.json" bash "$extra" "$results"
done
if [ "${BENCH_ARM64:-0}" = 1 ]; then
  step sizes-arm64 sizes.json bash bench/sizes.sh --arm64
fi

# ---- the report ------------------------------------------------------------------------
total=$(( $(date +%s) - started ))
python3 - "$results" "$started" "$total" "$quick" "$loadavg" "$busy" <<'PY'
import json, sys, datetime, subprocess, os
sys.path.insert(0, "bench")
import report
results, started, total, quick, loadavg, busy = sys.argv[1:]
steps = []
for line in open(os.path.join(results, "steps.tsv")):
    name, seconds, status, log, command = line.rstrip("\n").split("\t", 4)
    steps.append({"name": name, "seconds": float(seconds), "status": int(status), "log": log,
                  "command": command})
meta = {
    "date": datetime.datetime.fromtimestamp(int(started), datetime.timezone.utc).isoformat(timespec="seconds"),
    "started_epoch": int(started),
    "total_seconds": int(total),
    "quick": quick == "1",
    "loadavg_start": f"{loadavg} (CPU {busy} % busy with other work just before measuring)",
    "commit": report.git_commit(),
    "machine": report.machine_info(),
    "steps": steps,
    "note": os.environ.get("BENCH_NOTE") or None,
}
json.dump(meta, open(os.path.join(results, "meta.json"), "w"), indent=1)
PY
record=()
{ [ "$quick" = 1 ] || [ "${BENCH_RECORD:-1}" = 0 ]; } && record=(--no-record)
python3 bench/report.py --results "$results" "${record[@]}"
echo "run: done in ${total} s; docs/benchmarks.md written, results in $results" >&2
[ "$total" -le 1200 ] || echo "run: warning: longer than 20 minutes" >&2
