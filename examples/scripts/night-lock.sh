#!/usr/bin/env bash
# Lock (or unlock) every extension of a department, e.g. from cron:
#   0 19 * * 1-5  PBXCTL_CONFIG=/etc/pbx/pbx.yaml night-lock.sh sales lock
#   0 7  * * 1-5  PBXCTL_CONFIG=/etc/pbx/pbx.yaml night-lock.sh sales unlock
# One command, one transaction: every extension of the department changes, or none
# does. It prints a line per extension and a summary, and its exit code is the worst
# of theirs (3 if the department has no extension).
set -euo pipefail
dept=${1:?usage: night-lock.sh DEPARTMENT [lock|unlock]}
action=${2:-lock}
case $action in lock|unlock) ;; *) echo "usage: night-lock.sh DEPARTMENT [lock|unlock]" >&2; exit 2 ;; esac
exec "${PBXCTL:-pbxctl}" ext "$action" --quiet --department "$dept"
