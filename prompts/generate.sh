#!/usr/bin/env bash
# Regenerates the "en" prompt set: one 8 kHz mono G.711 mu-law WAV per line of
# en/prompts.txt (`id|text`), written to en/<id>.wav.
# Needs espeak-ng and sox (Debian/Ubuntu: apt-get install espeak-ng sox).
# Output is deterministic for a given espeak-ng/sox version: rerunning rewrites
# the same bytes.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

set_dir=en
table="$set_dir/prompts.txt"

for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null || { echo "generate.sh: $tool not found (apt-get install espeak-ng sox)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

declare -A seen=()
n=0
lineno=0
while IFS= read -r line || [[ -n $line ]]; do
  lineno=$((lineno + 1))
  line=${line%$'\r'}
  [[ -z ${line//[[:space:]]/} || $line =~ ^[[:space:]]*# ]] && continue
  if [[ $line != *'|'* ]]; then
    echo "$table:$lineno: expected id|text" >&2; exit 1
  fi
  id=${line%%|*}
  text=${line#*|}
  id=${id//[[:space:]]/}
  # Same shape as a prompt name in grammar/dialplan.pest.
  if ! [[ $id =~ ^[a-z][a-z0-9_]*(-[a-z0-9][a-z0-9_]*)*$ ]]; then
    echo "$table:$lineno: bad prompt id '$id'" >&2; exit 1
  fi
  if [[ -n ${seen[$id]:-} ]]; then
    echo "$table:$lineno: duplicate prompt id '$id'" >&2; exit 1
  fi
  if [[ -z ${text//[[:space:]]/} ]]; then
    echo "$table:$lineno: empty text for '$id'" >&2; exit 1
  fi
  seen[$id]=1

  espeak-ng -v en-us -s 150 -w "$tmp/tmp.wav" -- "$text"
  # -R: fixed seeds and no timestamps; -D: no dither (mu-law needs none), so
  # the output is byte-for-byte repeatable. Trim silence at both ends, then
  # leave 100 ms at the end so digits played back to back do not run together.
  sox -R -D "$tmp/tmp.wav" -r 8000 -c 1 -e u-law -b 8 "$tmp/$id.wav" \
    silence 1 0.05 0.5% reverse silence 1 0.05 0.5% reverse pad 0 0.1
  mv -f "$tmp/$id.wav" "$set_dir/$id.wav"
  n=$((n + 1))
done < "$table"

# Files that no line of the table produces (renamed or removed prompts).
for f in "$set_dir"/*.wav; do
  [[ -e $f ]] || continue
  id=$(basename "$f" .wav)
  [[ -n ${seen[$id]:-} ]] || echo "generate.sh: warning: $f is not in $table" >&2
done

echo "generate.sh: $n prompts in $set_dir/"
