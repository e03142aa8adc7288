#!/usr/bin/env bash
# Lock (or unlock) every extension of a department, e.g. from cron:
#   0 19 * * 1-5  PBXCTL_CONFIG=/etc/pbx/pbx.yaml night-lock.sh sales lock
#   0 7  * * 1-5  PBXCTL_CONFIG=/etc/pbx/pbx.yaml night-lock.sh sales unlock
# Goes on past a failing extension and exits with the last failure's code.
set -euo pipefail
dept=${1:?usage: night-lock.sh DEPARTMENT [lock|unlock]}
action=${2:-lock}
case $action in lock|unlock) ;; *) echo "usage: night-lock.sh DEPARTMENT [lock|unlock]" >&2; exit 2 ;; esac
pbxctl=${PBXCTL:-pbxctl}
status=0
for ext in $("$pbxctl" ext list --department "$dept" --numbers); do
  "$pbxctl" ext "$action" "$ext" || status=$?
done
exit "$status"
