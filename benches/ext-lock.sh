#!/usr/bin/env bash
# End-to-end cost of `pbxctl ext lock` as an administrator's loop sees it: process
# start, config and dialplan load, provisioning check, one write, audit row, exit.
# Usage: benches/ext-lock.sh [RUNS]   (default 200; builds the release binary)
set -euo pipefail
runs=${1:-200}
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=$PWD/target/release/pbxctl
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
{
  echo "dialplan: $PWD/dialplans/default.pbx"
  echo "database: pbx.db"
  echo "extensions:"
  for n in $(seq 200 299); do
    echo "  \"$n\": { voicemail: { enabled: true, pin: \"2580\" }, password_protection: { enabled: true, password: \"4321\" } }"
  done
} > "$dir/pbx.yaml"
cd "$dir"
"$bin" ext list --numbers > /dev/null   # first run hashes the provisioning secrets
times=()
for i in $(seq "$runs"); do
  action=lock; (( i % 2 )) || action=unlock
  start=$(date +%s%N)
  "$bin" ext "$action" 250 > /dev/null
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000 )))
done
printf '%s\n' "${times[@]}" | sort -n | awk -v runs="$runs" '
  { t[NR] = $1; sum += $1 }
  END { printf "ext lock/unlock, %d runs, 100 extensions: mean %.1f ms, median %.1f ms, p95 %.1f ms\n",
        runs, sum / NR / 1000, t[int(NR / 2)] / 1000, t[int(NR * 0.95)] / 1000 }'
