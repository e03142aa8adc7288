#!/usr/bin/env bash
# SIP load benchmark of `pbxctl run` with SIPp: registrations per second, feature-code
# calls per second with prompts streaming, the rate of calls that check a secret, and
# bridged calls (phone to phone through the B2BUA): calls per second, and calls held with
# RTP relayed both ways, measured by rtp-probe. See benches/sip-load/README.md for what
# the numbers mean.
#
# Usage: bash benches/sip-load.sh [SECONDS]     (default 10: how long each step places calls)
#
# Environment (all optional):
#   REG_RATES="1000 2000 3000 4000 6000"  REGISTER/s as 103, up to the first rate where one fails
#   CALL_RATE=500                    *11 calls/s as 103 (no secret checked)...
#   CALL_LADDER="750 1000 1500"      ...then these, up to the first failure ("": skip)
#   PW_RATES="20 40 60 80 100"       *11-with-password calls/s as 101, likewise
#   MIX_PW_RATE=50 MIX_CALL_RATE=100 *11 calls without a secret, while this many check one
#   BRIDGE_RATES="50 100 200 300"    bridged calls/s (held 1 s, no RTP), up to the first failure
#   BRIDGE_CALLS=500 BRIDGE_RTP=20   bridged calls held at once, and seconds of RTP through them
#   STEPS="register lobby password mix bridge"   which steps to run
#   SETTLE=35                        idle seconds between steps (see settle())
#   KEEP=1                           keep the work folder (config, database, logs) even on success
#
# Needs: cargo, sipp (Debian's sip-tester 3.6.x), python3, /usr/bin/time, ss, nstat;
# root, as SIPp wants for its raw sockets. Writes benches/sip-load/last-report.md.
set -euo pipefail

seconds=${1:-10}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [SECONDS]" >&2; exit 2; }
reg_rates=${REG_RATES:-1000 2000 3000 4000 6000}
call_rate=${CALL_RATE:-500}
call_ladder=${CALL_LADDER-750 1000 1500}
pw_rates=${PW_RATES:-20 40 60 80 100}
mix_pw_rate=${MIX_PW_RATE:-50}
mix_call_rate=${MIX_CALL_RATE:-100}
bridge_rates=${BRIDGE_RATES:-50 100 200 300}
bridge_calls=${BRIDGE_CALLS:-500}
bridge_rtp_seconds=${BRIDGE_RTP:-20}
steps=" ${STEPS:-register lobby password mix bridge} "
settle_seconds=${SETTLE:-35}
drain_seconds=30        # the config's sip.drain: how long SIGTERM may take
lobby_label='`*11`, no secret (103)'
password_label='`*11` with password (101)'
mix_label='`*11`, no secret (103), beside password calls'
bridge_label='bridged call (200 → hunt 899 → 3xx), held 1 s'
load_before=
sampler_pid=
built=

root=$(cd "$(dirname "$0")/.." && pwd)
here=$root/benches/sip-load
work=$(mktemp -d /tmp/pbxctl-sip-load.XXXXXX)
server_pid=
sip_port=
clk_tck=$(getconf CLK_TCK)
results=$work/results.tsv     # one line per step, read by report()
notes=$work/notes.md          # evidence of anything that went wrong, read by report()
: > "$results"
: > "$notes"
held=$work/held.tsv           # the held bridged calls' figures, read by report()

log() { printf '\n== %s\n' "$*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

# --- Ports, probes, counters ------------------------------------------------------------

# The first port from $1 up that is free for UDP and TCP on 127.0.0.1, and $2 ports
# above it too (SIPp's media takes the port and port+2). The ports stay out of
# 30000-39999, the server's RTP range, and of the kernel's ephemeral range.
free_port() {
  python3 - "$1" "${2:-0}" <<'PY'
import socket, sys
start, extra = int(sys.argv[1]), int(sys.argv[2])
def free(port):
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True
for port in range(start, 29999):
    if all(free(port + i) for i in range(extra + 1)):
        print(port)
        sys.exit(0)
sys.exit("no free port")
PY
}

# Sends one SIP OPTIONS over UDP to 127.0.0.1:$1 and prints the status line of the answer,
# or fails when none comes within $2 ms. Readiness and "is the switch keeping up" probe.
sip_options() {
  python3 - "$1" "$2" <<'PY'
import os, socket, sys
port, wait_ms = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
local = "127.0.0.1:%d" % s.getsockname()[1]
token = os.urandom(6).hex()
s.sendto((
    "OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n"
    "Via: SIP/2.0/UDP %s;branch=z9hG4bK%s;rport\r\n"
    "Max-Forwards: 70\r\nFrom: <sip:probe@%s>;tag=%s\r\nTo: <sip:127.0.0.1:%d>\r\n"
    "Call-ID: %s@bench\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    % (port, local, token, local, token, port, token)).encode(), ("127.0.0.1", port))
s.settimeout(wait_ms / 1000)
try:
    while True:
        reply = s.recv(65536).decode("utf-8", "replace")
        if token + "@bench" in reply:
            print(reply.split("\r\n", 1)[0])
            break
except socket.timeout:
    sys.exit(1)
PY
}

# CPU time of process $1 in clock ticks (utime + stime), all threads.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

# CPU time of the server's "switch" thread in clock ticks: it runs every SIP message
# and every secret check, so it is the first thing to saturate.
switch_ticks() {
  local task
  for task in /proc/"$server_pid"/task/*; do
    if [[ $(cat "$task/comm") == switch ]]; then
      sed 's/.*) //' "$task/stat" | awk '{ print $12 + $13 }'
      return
    fi
  done
  echo 0
}

# Datagrams the kernel dropped because the server's SIP socket was full.
sip_socket_drops() {
  local d
  d=$(ss -uanmH "sport = :$sip_port" | grep -o 'd[0-9]*)' | tr -d 'd)' | head -1 || true)
  echo "${d:-0}"
}

# ICMP port-unreachable messages this host sent (datagrams to a closed port: RTP or
# SIP sent to a SIPp that has gone).
icmp_unreachable() { nstat -asz IcmpOutDestUnreachs | awk '/IcmpOutDestUnreachs/ { print $2 }'; }

now_ns() { date +%s%N; }

# --- The server ---------------------------------------------------------------------------

# The config: examples/pbx.yaml's directory (system, extensions, codes) with absolute
# paths, a database in the work folder, and a sip: block for the benchmark. The auth
# guard is loosened: all traffic comes from one address, and although a challenged
# first INVITE is not a failure, a guard tripping would turn the run into 403s. MD5 is
# offered first: SIPp 3.6 answers only the first challenge and knows only MD5.
write_config() {
  awk -v plan="$root/dialplans/default.pbx" -v prompts="$root/prompts/en" -v db="$work/pbx.db" '
    /^sip:/               { skip = 1; next }   # replaced below
    skip && /^[^ #]/      { skip = 0 }
    skip                  { next }
    /^dialplan:/          { print "dialplan: " plan; next }
    /^database:/          { print "database: " db; next }
    /^prompts:/           { print "prompts: " prompts; next }
                          { print }
  ' "$root/examples/pbx.yaml" > "$work/pbx.yaml"
  cat >> "$work/pbx.yaml" <<EOF
sip: { listen: "127.0.0.1:$sip_port", rtp_ports: "30000-39999", realm: pbx.local,
       drain: ${drain_seconds}s, digest: [MD5, SHA-256],
       auth_guard: { failures: 1000000, window: 1s, block: 1s } }
EOF
  grep -q '"101":.*sip-pass-101' "$work/pbx.yaml" && grep -q '"103":.*sip-pass-103' "$work/pbx.yaml" \
    || die "examples/pbx.yaml no longer has extensions 101 and 103 with the secrets this benchmark uses"
}

start_server() {
  "$root/target/release/pbxctl" run --config "$1" \
    >> "$work/server.stdout.log" 2>> "$work/server.stderr.log" < /dev/null &
  server_pid=$!
  local deadline=$((SECONDS + 30))
  until sip_options "$sip_port" 200 2> /dev/null | grep -q '^SIP/2.0 200'; do
    kill -0 "$server_pid" 2> /dev/null || { tail -20 "$work/server.stderr.log" >&2; die "pbxctl run exited"; }
    ((SECONDS < deadline)) || { tail -20 "$work/server.stderr.log" >&2; die "no 200 to OPTIONS within 30 s"; }
    sleep 0.2
  done
}

# SIGTERM, then the exit status within the drain time (plus a margin for the BYEs).
# Sets shutdown to "exit N after S s" or "killed: ...". Not called in $(...): only
# this shell, the server's parent, can wait for it.
shutdown=
stop_server() {
  local pid=$server_pid start=$SECONDS code=0
  server_pid=
  kill -TERM "$pid" 2> /dev/null || true
  while kill -0 "$pid" 2> /dev/null && ((SECONDS - start < drain_seconds + 5)); do sleep 0.2; done
  if kill -0 "$pid" 2> /dev/null; then
    kill -KILL "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
    shutdown="killed: no exit within $((drain_seconds + 5)) s of SIGTERM"
    return
  fi
  wait "$pid" || code=$?
  shutdown="exit $code after $((SECONDS - start)) s"
}

# Whatever happens (an error, Ctrl-C), the server does not outlive the script.
cleanup() {
  local status=$?
  [[ -z $sampler_pid ]] || kill "$sampler_pid" 2> /dev/null || true
  if [[ -n $server_pid ]]; then
    stop_server
    echo "stopped pbxctl run: $shutdown" >&2
  fi
  if [[ $status -eq 0 && -z ${KEEP:-} ]]; then
    rm -rf "$work"
  else
    echo "logs, config and database kept in $work" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT   # a signal ends the script through exit, so cleanup runs
trap 'exit 143' TERM

# Between steps: server transactions live on after a call (Timers H and J, 32 s over
# UDP), so the next step would otherwise start against the previous one's leftovers.
# Then the switch must answer an OPTIONS quickly, i.e. have no backlog.
settle() {
  sleep "$settle_seconds"
  local deadline=$((SECONDS + 120))
  until sip_options "$sip_port" 1000 > /dev/null 2>&1; do
    ((SECONDS < deadline)) || die "the server answers no OPTIONS 2 minutes after the last step"
    sleep 1
  done
}

# --- SIPp ---------------------------------------------------------------------------------

# Every second, "<ns> <server CPU ticks>", until the server goes or this is killed: the
# busiest second of a step, which the step's average (tail included) understates.
sample_server_cpu() {
  local ticks
  while sleep 1; do
    ticks=$(cpu_ticks "$server_pid" 2> /dev/null) || break
    echo "$(now_ns) $ticks"
  done
}

# Busy CPU ticks of the whole host (user, nice, system, irq, softirq, steal).
host_busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# SIPp's error log boiled down: each kind of event once, with its count, most frequent first.
sipp_error_kinds() {
  # An event starts a line with its timestamp (after the quote closing the last message).
  grep -aE $'^\'?[0-9]{4}-[0-9]{2}-[0-9]{2}\t' "$1" \
    | sed -E $'s/^\'?[^\t]*\t[^\t]*\t[0-9.]+: //' \
    | sed -E "s/[0-9]+-[0-9]+@[0-9.]+/…/g; s/(received '[A-Z]+) [^ ]+ SIP\/2\.0.*/\1/; s/(received 'SIP\/2\.0 [0-9]+).*/\1/" \
    | cut -c1-140 | sort | uniq -c | sort -rn | head -"${2:-5}"
}

# Runs one step: SIPp places $rate "calls"/s of $scenario for $seconds seconds, at most
# $limit at once, each allowed $call_secs to finish; the rest of the arguments go to SIPp.
#   run_step NAME LABEL SCENARIO RATE LIMIT CALL_SECS SIPP_ARGS...
# Appends a line to $results (see report() for the columns). Returns 0 when every call
# succeeded (none failed, none still open when SIPp's -timeout struck), 1 otherwise.
run_step() {
  local name=$1 label=$2 scenario=$3 rate=$4 limit=$5 call_secs=$6
  shift 6
  local calls=$((rate * seconds))
  local sipp_timeout=$((seconds + call_secs + 10))
  local sipp_port media_port
  sipp_port=$(free_port 25060)
  media_port=$(free_port $((sipp_port + 1)) 2)
  log "$label: $rate/s for $seconds s ($calls calls)"

  local ticks0 switch0 host0 drops0 icmp0 lines0 t0 t1 code=0
  ticks0=$(cpu_ticks "$server_pid"); switch0=$(switch_ticks); host0=$(host_busy_ticks)
  drops0=$(sip_socket_drops); icmp0=$(icmp_unreachable)
  lines0=$(wc -l < "$work/server.stderr.log")
  sample_server_cpu > "$work/$name.cpu" &
  sampler_pid=$!
  t0=$(now_ns)
  # /usr/bin/time: SIPp's own CPU. timeout: a backstop, as SIPp's -timeout only
  # applies between calls.
  /usr/bin/time -f '%U %S %e' -o "$work/$name.time" \
    timeout -k 5 $((sipp_timeout + 30)) \
    sipp -sf "$scenario" "$@" \
      -i 127.0.0.1 -p "$sipp_port" -mi 127.0.0.1 -mp "$media_port" \
      -r "$rate" -rp 1000 -l "$limit" -m "$calls" \
      -timeout "${sipp_timeout}s" -timeout_error -nostdin \
      -trace_stat -stf "$work/$name.stat.csv" -fd 1 \
      -trace_err -error_file "$work/$name.errors.log" \
      -trace_screen -screen_file "$work/$name.screen.log" \
      "127.0.0.1:$sip_port" \
    > "$work/$name.stdout.log" 2>&1 || code=$?
  t1=$(now_ns)
  kill "$sampler_pid" 2> /dev/null || true
  wait "$sampler_pid" 2> /dev/null || true
  sampler_pid=
  kill -0 "$server_pid" 2> /dev/null || { tail -20 "$work/server.stderr.log" >&2; die "pbxctl run died during $label"; }

  # CPU: seconds of CPU per second of the step (wall: SIPp's whole run, tail included).
  local wall server_cores server_peak switch_cores sipp_cores rest_cores drops icmp warns
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
  local server_ticks=$(($(cpu_ticks "$server_pid") - ticks0))
  local host_ticks=$(($(host_busy_ticks) - host0))
  server_cores=$(awk -v d="$server_ticks" -v hz="$clk_tck" -v w="$wall" 'BEGIN { printf "%.2f", d / hz / w }')
  switch_cores=$(awk -v d=$(($(switch_ticks) - switch0)) -v hz="$clk_tck" -v w="$wall" \
    'BEGIN { printf "%.2f", d / hz / w }')
  server_peak=$(awk -v hz="$clk_tck" 'NF == 2 && $2 != "" {
      if (n++ && $1 > t) { c = ($2 - k) / hz / (($1 - t) / 1e9); if (c > peak) peak = c }
      t = $1; k = $2 }
    END { printf "%.2f", peak }' "$work/$name.cpu")
  local sipp_secs
  sipp_secs=$(awk 'NF == 3 { print $1 + $2; found = 1 } END { if (!found) print 0 }' "$work/$name.time")
  sipp_cores=$(awk -v s="$sipp_secs" -v w="$wall" 'BEGIN { printf "%.2f", s / w }')
  # The rest of the host: other processes (a build next door skews everything) and
  # softirq work on loopback that is charged to no process.
  rest_cores=$(awk -v h="$host_ticks" -v d="$server_ticks" -v s="$sipp_secs" -v hz="$clk_tck" -v w="$wall" \
    'BEGIN { r = (h - d) / hz / w - s / w; printf "%.2f", r < 0 ? 0 : r }')
  drops=$(($(sip_socket_drops) - drops0))
  icmp=$(($(icmp_unreachable) - icmp0))
  warns=$(tail -n +$((lines0 + 1)) "$work/server.stderr.log" | grep -cE ' (WARN|ERROR) ' || true)

  # From SIPp's statistics (one row a second, the last at the end):
  #   pace      calls placed per second while placing (the cumulative rate at the last
  #             row before the last call was placed; SIPp slows down when at -l)
  #   peak      the most calls up at once
  #   rt_ms     mean time from the first request to the final answer (rtd)
  #   length    mean call length in seconds (a prompt played late makes calls longer)
  #   why       every nonzero Failed*/OutOfCall/DeadCall/Watchdog/FatalErrors counter
  local stats
  stats=$(awk -F';' '
    function epoch(field,  parts) { split(field, parts, "\t"); return parts[3] }
    function ms(hms,  p) { split(hms, p, ":"); return ((p[1] * 60 + p[2]) * 60 + p[3]) * 1000 + p[4] / 1000 }
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $0 !~ /;/ { next }
    {
      n++; start = epoch($col["StartTime"]); t[n] = epoch($col["CurrentTime"]) - start
      created[n] = $col["TotalCallCreated"]
      if ($col["CurrentCall"] > peak) peak = $col["CurrentCall"]
      last = $0
    }
    END {
      if (n == 0) { print "0 0 0 0 0 0 0 0 no-statistics"; exit }
      split(last, f, ";"); total = created[n]
      pace = (t[n] > 0) ? total / t[n] : 0
      for (i = n; i >= 1; i--) if (created[i] < total && t[i] > 0) { pace = created[i] / t[i]; break }
      why = ""
      for (name in col) if (name ~ /^(Failed[A-Za-z]+|OutOfCallMsgs|DeadCallMsgs|Watchdog[A-Za-z]+|FatalErrors)\(C\)$/ \
                            && name != "FailedCall(C)" && f[col[name]] + 0 > 0)
        why = why (why == "" ? "" : ",") substr(name, 1, length(name) - 3) "=" f[col[name]]
      rt = ms(f[col["ResponseTime1(C)"]])
      printf "%d %d %d %d %.0f %d %s %.2f %s\n", total, f[col["SuccessfulCall(C)"]], f[col["FailedCall(C)"]],
        f[col["Retransmissions(C)"]], pace, peak, (rt < 1 ? "<1" : rt), ms(f[col["CallLength(C)"]]) / 1000,
        (why == "" ? "-" : why)
    }' "$work/$name.stat.csv" 2> /dev/null || echo "0 0 0 0 0 0 0 0 no-statistics")
  local total ok failed retrans pace peak rt_ms length why
  read -r total ok failed retrans pace peak rt_ms length why <<< "$stats"
  # Placed but neither succeeded nor failed: still open when SIPp's -timeout struck.
  local unfinished=$((total - ok - failed))
  local per_second
  per_second=$(awk -v p="$pace" -v ok="$ok" -v t="$total" 'BEGIN { printf "%.0f", (t > 0) ? p * ok / t : 0 }')

  printf '%s\t' "$label" "$rate" "$total" "$ok" "$failed" "$unfinished" "$per_second" "$peak" "$rt_ms" \
    "$retrans" "$server_cores" "$server_peak" "$switch_cores" "$sipp_cores" "$rest_cores" "$code" "$wall" \
    "$why" >> "$results"
  printf '%s\n' "$length" >> "$results"
  echo "   placed $total, ok $ok, failed $failed, unfinished $unfinished, $per_second/s, peak $peak up," \
    "answer ${rt_ms} ms, call ${length} s, retransmissions $retrans; server ${server_cores} cores (busiest second" \
    "${server_peak}, switch thread ${switch_cores}), SIPp ${sipp_cores}, rest of host ${rest_cores}" >&2

  local ok_step=1
  [[ $code -eq 0 && $failed -eq 0 && $unfinished -eq 0 && $total -eq $calls ]] || ok_step=0
  # Evidence for the report: what SIPp counted, what the kernel and the server saw.
  if ((ok_step == 0 || retrans > 0 || drops > 0 || warns > 0)); then
    {
      echo "- **$label at $rate/s**: SIPp exit $code; placed $total of $calls; ok $ok, failed $failed," \
        "unfinished $unfinished; SIPp counters: $why; SIPp retransmissions $retrans; datagrams dropped" \
        "at the server's full SIP socket $drops; ICMP port unreachable sent $icmp; server WARN/ERROR" \
        "lines $warns; rest of host busy ${rest_cores} cores."
      if ((warns > 0)); then
        echo "  Server warnings (most frequent first):"
        tail -n +$((lines0 + 1)) "$work/server.stderr.log" | grep -E ' (WARN|ERROR) ' \
          | sed -E 's/^[^ ]+ +//; s/(call|call_id|peer)=[^ ]+/\1=…/g' | sort | uniq -c | sort -rn | head -5 \
          | sed 's/^/      /'
      fi
      if [[ -s $work/$name.errors.log ]]; then
        echo "  SIPp's error log, by kind:"
        sipp_error_kinds "$work/$name.errors.log" 6 | sed 's/^/      /'
      fi
    } >> "$notes"
  fi
  ((ok_step == 1))
}

# run_step at each rate of the list $rates, up to the first step where a call did not
# succeed; sets ladder_best to the highest rate where all did (0: none).
#   ladder NAME LABEL RATES SCENARIO LIMIT CALL_SECS SIPP_ARGS...
ladder_best=0
ladder() {
  local name=$1 label=$2 rates=$3 scenario=$4
  shift 4
  local rate first=1
  ladder_best=0
  for rate in $rates; do
    ((first)) || settle
    first=0
    if run_step "$name-$rate" "$label" "$scenario" "$rate" "$@"; then ladder_best=$rate; else break; fi
  done
}

# Password calls at $mix_pw_rate/s in the background (a second SIPp, its own ports), and
# run_step of calls without a secret at $mix_call_rate/s meanwhile.
#   mixed_step PASSWORD_ARGS... -- LOBBY_ARGS...
mixed_step() {
  local pw_args=()
  while [[ $1 != -- ]]; do pw_args+=("$1"); shift; done
  shift
  local bg_port bg_media
  bg_port=$(free_port 27060)
  bg_media=$(free_port $((bg_port + 1)) 2)
  log "beside it: $password_label at $mix_pw_rate/s"
  sipp -sf "$here/star11-password.xml" "${pw_args[@]}" \
    -i 127.0.0.1 -p "$bg_port" -mi 127.0.0.1 -mp "$bg_media" \
    -r "$mix_pw_rate" -rp 1000 -l 3000 -m $((mix_pw_rate * (seconds + 4))) \
    -timeout "$((seconds + 60))s" -nostdin -trace_err -error_file "$work/mix-bg.errors.log" \
    "127.0.0.1:$sip_port" > "$work/mix-bg.stdout.log" 2>&1 &
  local bg=$!
  sleep 2   # the password calls are under way first
  run_step mix "$mix_label" "$here/star11-lobby.xml" "$mix_call_rate" 4900 25 "$@" || true
  wait "$bg" || echo "- **background password calls at $mix_pw_rate/s**: SIPp exit $?." >> "$notes"
}

# --- Bridged calls ------------------------------------------------------------------------

# Phone to phone through the B2BUA needs a free phone per call: an extension in an answered
# call is busy (FW-1). So the bridged steps run on their own server: extension 200 calls
# 899, a hunt group (its follow-me list: 300, 301, ... in turn), and the first of those not
# in a call answers. All 3xx phones are one SIPp (bridge-callee.xml) on one port.
bridge_phones=0
write_bridge_config() {
  bridge_phones=$((bridge_calls > 500 ? bridge_calls : 500))
  ((bridge_phones <= 599)) || die "BRIDGE_CALLS is at most 599 (extensions 300-898)"
  {
    echo "dialplan: $root/dialplans/default.pbx"
    echo "database: $work/bridge.db"
    echo "prompts: $root/prompts/en"
    echo "sip: { listen: \"127.0.0.1:$sip_port\", rtp_ports: \"30000-39999\", realm: pbx.local,"
    echo "       drain: ${drain_seconds}s, digest: [MD5, SHA-256],"
    echo "       auth_guard: { failures: 1000000, window: 1s, block: 1s } }"
    echo "extensions:"
    echo "  \"200\": { name: Caller, secret: \"bench-200\", class: 1 }"
    local i list=
    for ((i = 0; i < bridge_phones; i++)); do
      echo "  \"$((300 + i))\": { name: Phone $i, secret: \"bench-$((300 + i))\", class: 1 }"
      list+="${list:+, }{ number: \"$((300 + i))\", ring_time: 30 }"
    done
    # The hunt group has no phone of its own: its own ring fails at once.
    echo "  \"899\": { name: Hunt, secret: \"bench-899\", class: 1,"
    echo "           follow_me: { enabled: true, ring_duration: 1, list: [$list] } }"
  } > "$work/bridge.yaml"
  # Each leg's SDP port, for SIPp's -inf: callers 21000+, called phones 23000+ (even
  # ports, outside the server's RTP range 30000-39999 and SIPp's SIP ports).
  local first
  for first in 21000 23000; do
    { echo SEQUENTIAL; for ((i = 0; i < 1000; i++)); do echo "$((first + 2 * i));"; done; } \
      > "$work/ports-$first.csv"
  done
}

# REGISTERs extensions $2..$2+$3-1 (secret bench-<ext>) from 127.0.0.1:$1, where the called
# phones' SIPp then listens: the server reaches a phone over the flow it registered on.
# SIPp cannot: its digest credentials are the same for every call.
register_phones() {
  python3 - "$sip_port" "$1" "$2" "$3" <<'PY'
import hashlib, os, re, socket, sys
server, port, first, count = (int(a) for a in sys.argv[1:5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))
s.settimeout(5)
md5 = lambda t: hashlib.md5(t.encode()).hexdigest()
uri = "sip:127.0.0.1:%d" % server
def register(ext, cseq, call, authorization):
    branch = "z9hG4bK" + os.urandom(6).hex()
    s.sendto((
        "REGISTER %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:%d@127.0.0.1>;tag=%s\r\nTo: <sip:%d@127.0.0.1>\r\n"
        "Call-ID: %s\r\nCSeq: %d REGISTER\r\nContact: <sip:%d@127.0.0.1:%d>\r\nExpires: 3600\r\n"
        "%sContent-Length: 0\r\n\r\n" % (uri, port, branch, ext, call, ext, call, cseq, ext, port,
                                         authorization)).encode(), ("127.0.0.1", server))
    while True:
        reply = s.recv(65536).decode("utf-8", "replace")
        status = int(reply.split(" ", 2)[1])
        if status >= 200 and branch in reply:
            return status, reply
for ext in range(first, first + count):
    call = "phone-%d-%s" % (ext, os.urandom(4).hex())
    status, reply = register(ext, 1, call, "")
    challenge = re.search(r"^WWW-Authenticate: *Digest (.*MD5.*)$", reply, re.I | re.M)
    if status != 401 or not challenge:
        sys.exit("REGISTER %d: %d, no MD5 challenge" % (ext, status))
    p = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge.group(1)))
    cnonce = os.urandom(4).hex()
    ha1 = md5("%d:%s:bench-%d" % (ext, p["realm"], ext))
    response = md5("%s:%s:00000001:%s:auth:%s" % (ha1, p["nonce"], cnonce, md5("REGISTER:" + uri)))
    status, _ = register(ext, 2, call, (
        'Authorization: Digest username="%d", realm="%s", nonce="%s", uri="%s", response="%s", '
        'algorithm=MD5, qop=auth, nc=00000001, cnonce="%s"\r\n'
        % (ext, p["realm"], p["nonce"], uri, response, cnonce)))
    if status != 200:
        sys.exit("REGISTER %d with credentials: %d" % (ext, status))
PY
}

# The called phones: one SIPp answering every INVITE on $callee_port; logs each answered
# leg's ports to $work/$1.callee.log. Sets callee_pid.
callee_port=
callee_pid=
start_callees() {
  local media
  media=$(free_port $((callee_port + 1)) 2)
  sipp -sf "$here/bridge-callee.xml" -inf "$work/ports-23000.csv" \
    -i 127.0.0.1 -p "$callee_port" -mi 127.0.0.1 -mp "$media" -nostdin \
    -trace_logs -log_file "$work/$1.callee.log" -trace_err -error_file "$work/$1.callee.errors.log" \
    > "$work/$1.callee.stdout.log" 2>&1 &
  callee_pid=$!
  sleep 1
  kill -0 "$callee_pid" 2> /dev/null || die "the called phones' SIPp exited: $(tail -3 "$work/$1.callee.stdout.log")"
}

stop_callees() {
  [[ -z $callee_pid ]] || kill "$callee_pid" 2> /dev/null || true
  wait "$callee_pid" 2> /dev/null || true
  callee_pid=
}

# Lines in file $1 (0 if it is not there yet).
lines_in() { [[ -f $1 ]] && wc -l < "$1" || echo 0; }

# $bridge_calls calls placed at 50/s and held; once all are up, rtp-probe plays every
# phone's RTP for $bridge_rtp_seconds s; then the callers hang up. Writes $held.
bridge_hold() {
  local name=held ramp=50
  local hold_ms=$(((bridge_calls / ramp + bridge_rtp_seconds + 20) * 1000))
  log "bridged calls held with RTP: $bridge_calls calls, $((2 * bridge_calls)) legs, ${bridge_rtp_seconds} s of RTP"
  start_callees "$name"
  local sipp_port media_port
  sipp_port=$(free_port 25060)
  media_port=$(free_port $((sipp_port + 1)) 2)
  sipp -sf "$here/bridge-caller.xml" -inf "$work/ports-21000.csv" \
    -s 899 -set caller 200 -au 200 -ap bench-200 -auth_uri "899@127.0.0.1:$sip_port" \
    -i 127.0.0.1 -p "$sipp_port" -mi 127.0.0.1 -mp "$media_port" \
    -r "$ramp" -rp 1000 -l "$bridge_calls" -m "$bridge_calls" -d "$hold_ms" \
    -timeout "$((hold_ms / 1000 + 60))s" -timeout_error -nostdin \
    -trace_stat -stf "$work/$name.stat.csv" -fd 1 \
    -trace_logs -log_file "$work/$name.caller.log" -trace_err -error_file "$work/$name.errors.log" \
    "127.0.0.1:$sip_port" > "$work/$name.stdout.log" 2>&1 &
  local caller_pid=$! deadline=$((SECONDS + bridge_calls / ramp + 30))
  until (($(lines_in "$work/$name.caller.log") >= bridge_calls && $(lines_in "$work/$name.callee.log") >= bridge_calls)); do
    if ((SECONDS > deadline)) || ! kill -0 "$caller_pid" 2> /dev/null; then
      echo "- **held bridged calls**: only $(lines_in "$work/$name.caller.log") of $bridge_calls answered" \
        "(the called phones saw $(lines_in "$work/$name.callee.log")); SIPp's errors:" >> "$notes"
      sipp_error_kinds "$work/$name.errors.log" 4 | sed 's/^/      /' >> "$notes"
      break
    fi
    sleep 0.5
  done

  # CPU over the RTP window only: every call is up and nothing is being set up.
  local ticks0 host0 sipp0 t0 t1
  ticks0=$(cpu_ticks "$server_pid"); host0=$(host_busy_ticks)
  sipp0=$(($(cpu_ticks "$caller_pid") + $(cpu_ticks "$callee_pid")))
  t0=$(now_ns)
  /usr/bin/time -f '%U %S' -o "$work/$name.probe.time" \
    "$root/target/release/examples/rtp-probe" "$work/$name.caller.log" "$work/$name.callee.log" \
    "$bridge_rtp_seconds" > "$work/$name.probe.log" 2>&1 || echo "- **rtp-probe**: $(tail -1 "$work/$name.probe.log")" >> "$notes"
  t1=$(now_ns)
  local wall server_ticks sipp_ticks host_ticks
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
  server_ticks=$(($(cpu_ticks "$server_pid") - ticks0))
  sipp_ticks=$(($(cpu_ticks "$caller_pid") + $(cpu_ticks "$callee_pid") - sipp0))
  host_ticks=$(($(host_busy_ticks) - host0))
  local probe_secs
  probe_secs=$(awk 'NF == 2 { print $1 + $2 }' "$work/$name.probe.time")
  local cores
  cores=$(awk -v s="$server_ticks" -v p="$sipp_ticks" -v h="$host_ticks" -v q="$probe_secs" -v hz="$clk_tck" -v w="$wall" \
    'BEGIN { r = (h - s - p) / hz / w - q / w; printf "%.2f %.2f %.2f %.2f", s / hz / w, p / hz / w, q / w, r < 0 ? 0 : r }')
  local code=0
  wait "$caller_pid" || code=$?
  stop_callees
  kill -0 "$server_pid" 2> /dev/null || die "pbxctl run died while holding bridged calls"
  cat "$work/$name.probe.log" >&2
  printf '%s\t%s\t%s\n' "$bridge_calls" "$cores" "$code" > "$held"
  grep -E '^(caller|callee)->' "$work/$name.probe.log" >> "$held" || true

  # The baseline: the same phones sending to each other directly, the PBX left out.
  log "the probe alone: the same $((2 * bridge_calls)) phones in pairs, without the PBX"
  /usr/bin/time -f '%U %S %e' -o "$work/$name.direct.time" \
    "$root/target/release/examples/rtp-probe" --direct "$work/$name.caller.log" "$work/$name.callee.log" \
    "$bridge_rtp_seconds" > "$work/$name.direct.log" 2>&1 || echo "- **rtp-probe --direct**: $(tail -1 "$work/$name.direct.log")" >> "$notes"
  cat "$work/$name.direct.log" >&2
  local direct_cores
  direct_cores=$(awk 'NF == 3 && $3 > 0 { printf "%.2f", ($1 + $2) / $3 }' "$work/$name.direct.time")
  grep -E '^caller->' "$work/$name.direct.log" | sed "s/^caller->callee/direct cores=${direct_cores:-?}/" >> "$held" || true
}

# --- The report ---------------------------------------------------------------------------

# results.tsv columns: 1 label, 2 target/s, 3 placed, 4 ok, 5 failed, 6 unfinished, 7 ok/s,
# 8 peak up, 9 answer ms, 10 retransmissions, 11 server cores, 12 server busiest second,
# 13 switch thread cores, 14 SIPp cores, 15 rest of host cores, 16 SIPp exit, 17 wall s, 18 why,
# 19 mean call length s.

# "R/s" for the highest target rate of step $1 where SIPp kept the pace (95 %) and every
# call succeeded (and, with $2 = quiet, nothing was retransmitted); "none" if none did.
best_rate() {
  awk -F'\t' -v l="$1" -v quiet="${2:-}" '
    $1 == l && $2 + 0 > top { top = $2 + 0 }
    $1 == l && $5 == 0 && $6 == 0 && $16 == 0 && $3 == $2 * s && $7 >= 0.95 * $2 && (quiet == "" || $10 == 0) \
      && $2 + 0 > best { best = $2 + 0 }
    END { print best ? best "/s" (best == top ? " (the highest tried)" : "") : "none" }' s="$seconds" "$results"
}

# The results line of step $1 at target rate $2.
step_line() { awk -F'\t' -v l="$1" -v r="$2" '$1 == l && $2 == r' "$results" | tail -1; }

# The summary's rows for the held bridged calls, from $held.
held_rows() {
  [[ -s $held ]] || return 0
  local calls server sipp probe rest code
  read -r calls server sipp probe rest code < "$held"
  # name=value fields of rtp-probe's line for direction $1.
  probe_field() { grep "^$1 " "$held" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
  local up down
  for up in caller-\>callee callee-\>caller; do
    local sent received lost legs
    sent=$(probe_field "$up" sent); received=$(probe_field "$up" received)
    lost=$(probe_field "$up" lost); legs=$(probe_field "$up" legs)
    down+="$up: ${legs:-0} streams, $((${sent:-0} / bridge_rtp_seconds)) packets/s sent, ${lost:-?} of ${sent:-?} lost,"
    down+=" relay-added jitter p99 $(probe_field "$up" jitter_p99_ms) ms, transit p99 $(probe_field "$up" transit_p99_ms) ms"
    down+=" (max $(probe_field "$up" transit_max_ms) ms); "
  done
  echo "| bridged calls held at once with RTP both ways, ${bridge_rtp_seconds} s | $calls calls, $((2 * calls)) legs; ${down%; } |"
  local direct
  direct=$(grep '^direct ' "$held" || true)
  if [[ -n $direct ]]; then
    echo "| the probe alone: the same phones in pairs sending to each other directly, no PBX | jitter p99 $(probe_field direct jitter_p99_ms) ms, transit p99 $(probe_field direct transit_p99_ms) ms, $(probe_field direct lost) of $(probe_field direct sent) lost; rtp-probe $(probe_field direct cores) cores |"
  fi
  echo "| server CPU while relaying them | $server cores; $(awk -v c="$server" -v n="$calls" 'BEGIN { printf "%.3f", n ? c * 100 / n : 0 }') cores per 100 bridged calls; SIPp (both sides) $sipp, rtp-probe $probe, rest of host $rest; caller SIPp exit $code |"
}

report() {
  local lobby
  lobby=$(step_line "$lobby_label" "$call_rate")
  {
    echo "# pbxctl SIP load: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "\`bash benches/sip-load.sh $seconds\`: $seconds s of calls per step; pbxctl $built (release build);"
    echo "$(sipp -v 2> /dev/null | grep -o 'SIPp v[^ ]*' | head -1 | sed 's/\.$//') on the same host, over loopback;"
    echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load average"
    echo "$load_before when the run started."
    echo
    echo "## Summary"
    echo
    echo "| figure | value |"
    echo "|---|---|"
    ! wanted register || echo "| REGISTER (digest auth): highest rate with every answer within 500 ms / with every registration done | $(best_rate "REGISTER (103)" quiet) / $(best_rate "REGISTER (103)") |"
    if [[ -n $lobby ]]; then
      local rate total ok failed unfinished per_s peak rt retrans srv peak_srv sw sp rest length
      IFS=$'\t' read -r _ rate total ok failed unfinished per_s peak rt retrans srv peak_srv sw sp rest _ _ _ length \
        <<< "$lobby"
      echo "| \`*11\` without a secret, target $rate/s | $per_s/s completed; $ok ok, $failed failed, $unfinished unfinished of $total; $retrans retransmissions; answer $rt ms; calls $length s long |"
      echo "| peak concurrent calls in that step (prompt streaming as RTP) | $peak |"
      echo "| server CPU in that step | $srv cores on average, $peak_srv in the busiest second; switch thread $sw; SIPp $sp; rest of host $rest |"
    fi
    ! wanted lobby || echo "| \`*11\` without a secret: highest rate with every answer within 500 ms / with every call done | $(best_rate "$lobby_label" quiet) / $(best_rate "$lobby_label") |"
    ! wanted password || echo "| \`*11\` with password (argon2id): highest rate with every answer within 500 ms / with every call done | $(best_rate "$password_label" quiet) / $(best_rate "$password_label") |"
    local mix
    mix=$(step_line "$mix_label" "$mix_call_rate")
    if [[ -n $mix ]]; then
      local m_rate m_ok m_total m_rt m_retrans m_sw
      IFS=$'\t' read -r _ m_rate m_total m_ok _ _ _ _ m_rt m_retrans _ _ m_sw _ <<< "$mix"
      echo "| \`*11\` without a secret at $m_rate/s while $mix_pw_rate/s check a password | answer $m_rt ms; $m_ok of $m_total ok; $m_retrans retransmissions; switch thread $m_sw cores |"
    fi
    if wanted bridge; then
      echo "| bridged calls (200 → hunt group 899 → a free phone, held 1 s, no RTP): highest rate with every answer within 500 ms / with every call done | $(best_rate "$bridge_label" quiet) / $(best_rate "$bridge_label") |"
      held_rows
    fi
    echo "| SIGTERM at the end | $shutdown |"
    echo
    echo "## Steps"
    echo
    echo "| step | target/s | placed | ok | failed | unfinished | ok/s | peak up | answer ms | call s | SIPp retrans | server cores | busiest s | switch thread | SIPp cores | rest of host | SIPp exit |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' '{ printf "| %s |", $1; for (i = 2; i <= 9; i++) printf " %s |", $i; printf " %s |", $19
      for (i = 10; i <= 16; i++) printf " %s |", $i; printf "\n" }' "$results"
    echo
    echo "Every answer within 500 ms (SIPp retransmitted nothing) is the rate the server sustains;"
    echo "above it, work queues up, and a $seconds s step may still see every call done because the"
    echo "backlog drains after it: longer steps turn that into failures."
    echo
    echo "ok/s: SIPp's pace of placing calls times the share that succeeded. unfinished: still"
    echo "open when SIPp gave up (its -timeout). answer ms: mean time from the first request to the"
    echo "final answer (REGISTER: to the 200 after the challenge; calls: INVITE to 200). call s:"
    echo "mean call length (a \`*11\` call from 103 is 2.9 s when its 2.6 s prompt plays on time). SIPp"
    echo "retransmits a request after 500 ms without an answer. Cores: CPU seconds per second of"
    echo "the step, its tail included; busiest s: the server's busiest second. Rest of host: every"
    echo "other process plus loopback softirq work; high values mean the figures are skewed."
    if [[ -s $notes ]]; then
      echo
      echo "## Problems seen"
      echo
      cat "$notes"
    fi
  } > "$work/report.md"
  cp "$work/report.md" "$here/last-report.md"
  echo
  cat "$work/report.md"
}

# --- Main ---------------------------------------------------------------------------------

# Whether step $1 was asked for (STEPS).
wanted() { [[ $steps == *" $1 "* ]]; }

# Settles before every step on a server but its first.
fresh=1
between_steps() { ((fresh)) || settle; fresh=0; }

# SIGTERM to the server; a slow or unclean exit is noted.
finish_server() {
  log "stopping pbxctl run (SIGTERM)"
  stop_server
  echo "   $shutdown" >&2
  [[ $shutdown == "exit 0 "* ]] || echo "- **SIGTERM**: $shutdown (expected exit 0 within ${drain_seconds} s)." >> "$notes"
}

main() {
  local tool
  for tool in cargo sipp python3 ss nstat timeout; do
    command -v "$tool" > /dev/null || die "$tool is not installed"
  done
  [[ -x /usr/bin/time ]] || die "/usr/bin/time is not installed (apt-get install time)"
  (($(ulimit -n) >= 4096)) || echo "warning: ulimit -n is $(ulimit -n); each call holds an RTP socket" >&2

  log "building"
  (cd "$root" && cargo build --release && cargo build --release --example rtp-probe)
  # What was built: others may commit while the benchmark runs.
  built=$(git -C "$root" rev-parse --short HEAD 2> /dev/null || echo "?")
  [[ -z $(git -C "$root" status --porcelain -- src Cargo.toml Cargo.lock 2> /dev/null) ]] \
    || built="$built with uncommitted changes"
  sip_port=$(free_port 15060)
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)

  if wanted register || wanted lobby || wanted password || wanted mix; then
    write_config
    log "starting pbxctl run on 127.0.0.1:$sip_port (work folder $work)"
    start_server "$work/pbx.yaml"
    fresh=1

    # 1. Registrations: REGISTER, 401, REGISTER with credentials, 200.
    if wanted register; then
      between_steps
      ladder register "REGISTER (103)" "$reg_rates" "$here/register.xml" 3000 5 \
        -s 103 -set expires 60 -au 103 -ap sip-pass-103 -auth_uri "127.0.0.1:$sip_port"
    fi

    # 2. Calls the dialplan answers, plays a 2.6 s prompt to and hangs up: no secret
    #    checked. First at the target rate, then up a ladder of higher rates for the
    #    highest that holds. -l 4900: a call lasts ~2.9 s (1,450 up at 500/s), and each
    #    holds one of the 5,000 RTP ports of 30000-39999.
    local lobby_args=(-s '*11' -set caller 103 -au 103 -ap sip-pass-103 -auth_uri "*11@127.0.0.1:$sip_port")
    if wanted lobby; then
      between_steps
      run_step lobby "$lobby_label" "$here/star11-lobby.xml" "$call_rate" 4900 25 "${lobby_args[@]}" || true
      if [[ -n $call_ladder ]]; then
        settle
        ladder lobby "$lobby_label" "$call_ladder" "$here/star11-lobby.xml" 4900 25 "${lobby_args[@]}"
      fi
    fi

    # 3. Calls that check the terminal password: argon2id, verified on the blocking pool
    #    (as many at once as there are cores), never on the switch thread.
    local password_args=(-s '*11' -set caller 101 -au 101 -ap sip-pass-101 -auth_uri "*11@127.0.0.1:$sip_port")
    if wanted password; then
      between_steps
      ladder password "$password_label" "$pw_rates" "$here/star11-password.xml" 3000 30 "${password_args[@]}"
    fi

    # 4. Calls that check no secret while $mix_pw_rate a second check one beside them: the
    #    switch answers them as if the secret checks were not there.
    if wanted mix; then
      between_steps
      mixed_step "${password_args[@]}" -- "${lobby_args[@]}"
    fi
    finish_server
  fi

  # 5. Bridged calls, on a server of their own (see write_bridge_config).
  if wanted bridge; then
    write_bridge_config
    log "starting pbxctl run for bridged calls on 127.0.0.1:$sip_port ($bridge_phones phones)"
    start_server "$work/bridge.yaml"
    callee_port=$(free_port 25100)
    register_phones "$callee_port" 300 "$bridge_phones" || die "the called phones could not register"
    fresh=1
    between_steps
    start_callees bridge
    ladder bridge "$bridge_label" "$bridge_rates" "$here/bridge-caller.xml" 450 15 \
      -s 899 -set caller 200 -au 200 -ap bench-200 -auth_uri "899@127.0.0.1:$sip_port" \
      -inf "$work/ports-21000.csv" -d 1000
    stop_callees
    settle
    bridge_hold
    finish_server
  fi

  report
}

main
