#!/usr/bin/env bash
# What administrators' commands cost end to end (process start, load, one action, audit
# row, exit), at each directory size: a generated pbx.yaml of N extensions (voicemail
# PIN each, departments of 500) and N/5 verification codes (PIN each), default plan.
#
# Usage: benches/ext-lock.sh [RUNS] [SIZE...]   (default: 20 runs; sizes 100 and 10000)
# Builds the release binary; prints a Markdown table of medians (and p95) per size.
# The first command on a new database hashes every secret (argon2id, all cores): at
# 10,000 extensions that takes minutes, and its progress lines go to stderr.
set -euo pipefail
runs=${1:-20}
shift || true
sizes=("$@")
(( ${#sizes[@]} )) || sizes=(100 10000)
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/pbxctl
plan=$PWD/dialplans/default.pbx
prompts=$PWD/prompts/en
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The directory: extension 10000+i in department d(i/500), codes 70000+i.
generate() {
  awk -v n="$1" -v plan="$plan" -v prompts="$prompts" 'BEGIN {
    printf "dialplan: %s\ndatabase: pbx.db\nprompts: %s\nsystem:\n  numbering: \"10000-69999\"\nextensions:\n", plan, prompts
    for (i = 0; i < n; i++)
      printf "  \"%d\": { name: Person %d, secret: \"sip-%d-x7\", class: %d, department: d%d, voicemail: { enabled: true, pin: \"%d\" } }\n",
        10000 + i, i, 10000 + i, 1 + i % 4, int(i / 500), 5000000 + (i * 7919) % 4000000
    print "codes:"
    for (i = 0; i < n / 5; i++)
      printf "  \"%d\": { name: Code %d, pin: \"%d\", class: %d }\n", 70000 + i, i, 6000000 + (i * 104729) % 3000000, 1 + i % 3
  }'
}

ms() { echo $(( ($(date +%s%N) - $1) / 1000 )); }

# median and p95 in ms of the microsecond figures on stdin
stats() {
  sort -n | awk '{ t[NR] = $1 } END { printf "%.1f ms (p95 %.1f)", t[int((NR + 1) / 2)] / 1000, t[int(NR * 0.95 + 0.5)] / 1000 }'
}

# time_runs LABEL PBXCTL-ARGS... : `pbxctl ARGS` run RUNS times; {i} in them is the
# run's number. STDIN_TEXT, if set, is fed to each run.
time_runs() {
  local label=$1; shift
  local times=()
  for i in $(seq "$runs"); do
    local args=("${@//\{i\}/$i}")
    local start; start=$(date +%s%N)
    if [[ -n ${STDIN_TEXT:-} ]]; then
      printf '%s' "$STDIN_TEXT" | "$bin" "${args[@]}" > /dev/null
    else
      "$bin" "${args[@]}" > /dev/null
    fi
    times+=("$(ms "$start")")
  done
  printf '| %s | %s |\n' "$label" "$(printf '%s\n' "${times[@]}" | stats)"
}

for size in "${sizes[@]}"; do
  dir=$work/$size
  mkdir -p "$dir"
  generate "$size" > "$dir/pbx.yaml"
  cd "$dir"
  codes=$(( size / 5 ))
  dept=$(( size < 500 ? size : 500 ))
  echo
  echo "### $size extensions, $codes codes ($(du -h pbx.yaml | cut -f1) of YAML), median of $runs runs"
  echo
  start=$(date +%s%N)
  "$bin" ext list --numbers > /dev/null 2> provisioning.log
  first=$(ms "$start")
  echo "| command | time |"
  echo "|---|---|"
  seconds() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1e6 }'; }
  printf '| first command on a new database: hashes %d secrets on %d cores | %s s |\n' \
    $(( size + codes )) "$(nproc)" "$(seconds "$first")"
  sed 's/^/    /' provisioning.log >&2
  if (( size <= 1000 )) && command -v taskset > /dev/null; then
    # The same on one core, for the speed-up (available_parallelism follows the affinity).
    start=$(date +%s%N)
    taskset -c 0 "$bin" ext list --numbers --db one-core.db > /dev/null 2>&1
    printf '| the same on one core (taskset -c 0) | %s s |\n' "$(seconds "$(ms "$start")")"
  fi
  ext=$(( 10000 + size / 2 ))
  code=70001
  time_runs "ext lock EXT" ext lock "$ext"
  time_runs "ext unlock EXT" ext unlock "$ext"
  time_runs "ext show EXT" ext show "$ext"
  time_runs "ext pin-reset EXT --pin (one argon2id hash)" ext pin-reset "$ext" --pin 2468
  STDIN_TEXT=2468 time_runs "ext login EXT (one argon2id verify)" ext login "$ext"
  time_runs "code show CODE" code show "$code"
  time_runs "code unlock CODE" code unlock "$code"
  time_runs "code pin-reset CODE --pin (one argon2id hash)" code pin-reset "$code" --pin 4826
  time_runs "ext lock --department D ($dept extensions, one transaction)" ext lock --department "d$(( size > 500 ? 1 : 0 ))"
  # An edited config is read and checked again in full (no secret is new).
  times=()
  for i in $(seq "$runs"); do
    echo "# edit $i" >> pbx.yaml
    start=$(date +%s%N)
    "$bin" ext show "$ext" > /dev/null
    times+=("$(ms "$start")")
  done
  printf '| ext show EXT after an edit of pbx.yaml (read and checked in full) | %s |\n' "$(printf '%s\n' "${times[@]}" | stats)"
  cd - > /dev/null
done
