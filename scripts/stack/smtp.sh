# shellcheck shell=bash disable=SC2034 # settings are used by other files
# Component of scripts/stack.sh (sourced): the SMTP catcher (scripts/smtp-catcher.py, aiosmtpd) on
# 127.0.0.1:1025, one file per message in .stack/maildir/new.

SMTP_PORT=1025
MAILDIR=$STACK_DIR/maildir
PYTHON=/usr/bin/python3   # Debian's: python3-aiosmtpd is installed for it (a pyenv python3 may come first in PATH)

smtp_ready() {
  local banner
  { exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT"; } 2>/dev/null || return 1
  read -r -t 2 banner <&3 || banner=
  printf 'QUIT\r\n' >&3 2>/dev/null || true
  exec 3>&-
  [[ $banner == 220* ]]
}

start_smtp() {
  step smtp "$LOG_DIR/smtp.log"
  mkdir -p "$MAILDIR"/{tmp,new,cur}
  local cmd=("$PYTHON" "$REPO_ROOT/scripts/smtp-catcher.py" "127.0.0.1:$SMTP_PORT" "$MAILDIR") spec
  spec=$(spec_of "${cmd[*]}" "$REPO_ROOT/scripts/smtp-catcher.py")
  if service_current smtp "$spec" smtp_ready; then
    log "smtp: already running on 127.0.0.1:$SMTP_PORT"
    return
  fi
  stop_service smtp
  ensure_port_free smtp "$SMTP_PORT"
  # aiosmtpd's Mailbox handler (one file per message), logging one line per message.
  start_bg smtp smtp-catcher.py "$spec" "$LOG_DIR/smtp.log" "$REPO_ROOT" "${cmd[@]}"
  wait_until smtp 20 "$LOG_DIR/smtp.log" smtp_ready
  log "smtp: started on 127.0.0.1:$SMTP_PORT, Maildir $MAILDIR"
}
