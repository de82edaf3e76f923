# shellcheck shell=bash disable=SC2034 # settings are used by other files
# Component of scripts/stack.sh (sourced): the Debian 12 packages every component needs, installed when missing.

# ruby-faraday: the redmine_webhook plugin posts with it (its Gemfile names it; Debian's Redmine takes it from
# the Debian package). chromium (/usr/bin/chromium): the e2e suite's browser tests drive it headless.
PACKAGES=(postgresql redmine redmine-sqlite ruby-webrick ruby-faraday python3-aiosmtpd curl jq openssl
  ca-certificates procps chromium)

ensure_packages() {
  step packages
  local missing=() pkg status
  for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$pkg")
  done
  # Node.js and npm install the browser tests' axe-core (browser.sh). Checked as commands, not as packages: a
  # machine may have them from elsewhere (NodeSource's nodejs bundles npm and conflicts with Debian's npm).
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  if ((${#missing[@]} == 0)); then
    log "packages: all present"
    return
  fi
  command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get: this stack needs Debian 12"
  log "packages: installing ${missing[*]} (apt-get update first)"
  step packages "$LOG_DIR/apt.log"
  # Redmine's dbconfig must pick SQLite even when PostgreSQL is installed in the same run.
  echo 'redmine redmine/instances/default/database-type select sqlite3' | run_as_root debconf-set-selections
  run_as_root env DEBIAN_FRONTEND=noninteractive apt-get update >>"$LOG_DIR/apt.log" 2>&1 ||
    die "apt-get update failed" "$LOG_DIR/apt.log"
  run_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
    >>"$LOG_DIR/apt.log" 2>&1 || die "apt-get install ${missing[*]} failed" "$LOG_DIR/apt.log"
  log "packages: installed"
}
