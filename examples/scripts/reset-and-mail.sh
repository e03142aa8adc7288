#!/usr/bin/env bash
# Give an extension a new random voicemail PIN and mail it to its owner:
#   reset-and-mail.sh 101 alice@example.com
# The PIN goes from pbxctl's stdout straight into the mail; it is not logged.
set -euo pipefail
ext=${1:?usage: reset-and-mail.sh EXT ADDRESS}
to=${2:?usage: reset-and-mail.sh EXT ADDRESS}
pbxctl=${PBXCTL:-pbxctl}
mailer=${MAILER:-mail}
pin=$("$pbxctl" ext pin-reset "$ext")
printf 'Your new voicemail PIN for extension %s is %s.\nYour mailbox is unlocked.\n' "$ext" "$pin" \
  | "$mailer" -s "New voicemail PIN for extension $ext" "$to"
