# shellcheck shell=bash disable=SC2034 # settings are used by other files
# Component of scripts/stack.sh (sourced): Ory Kratos v1.3.1 (public 127.0.0.1:4433, admin 127.0.0.1:4434),
# built once into $PASSERELLE_CACHE from tools/kratos, migrated and served on the database kratos.

CACHE_DIR=${PASSERELLE_CACHE:-/var/cache/passerelle}
KRATOS_VERSION=v1.3.1
KRATOS_BIN=$CACHE_DIR/kratos-$KRATOS_VERSION
KRATOS_SRC=$REPO_ROOT/tools/kratos
KRATOS_CONFIG=$REPO_ROOT/deploy/kratos/kratos.yml
KRATOS_SCHEMA=$REPO_ROOT/deploy/kratos/identity.schema.json
KRATOS_SECRETS=$STACK_DIR/kratos/secrets.yml
KRATOS_COURIER_DIR=$REPO_ROOT/deploy/kratos/courier
KRATOS_PUBLIC_URL=http://127.0.0.1:4433
KRATOS_ADMIN_URL=http://127.0.0.1:4434

kratos_ready() {
  [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$KRATOS_ADMIN_URL/admin/health/ready") == 200 &&
    $(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$KRATOS_PUBLIC_URL/health/ready") == 200 ]]
}

build_kratos() {
  step "kratos build" "$LOG_DIR/kratos-build.log"
  [[ -x $KRATOS_BIN ]] && ! pgrep -f -- "-o $KRATOS_BIN" >/dev/null && return 0
  mkdir -p "$CACHE_DIR" 2>/dev/null || run_as_root mkdir -p "$CACHE_DIR"
  if pgrep -f -- "-o $KRATOS_BIN" >/dev/null; then
    log "kratos: a build of $KRATOS_BIN is already running: waiting for it"
    while pgrep -f -- "-o $KRATOS_BIN" >/dev/null; do sleep 2; done
    [[ -x $KRATOS_BIN ]] && "$KRATOS_BIN" version >/dev/null 2>&1 && return 0
    log "kratos: that build left no usable binary"
  fi
  local go=go
  command -v go >/dev/null 2>&1 || go=/usr/local/go/bin/go
  command -v "$go" >/dev/null 2>&1 ||
    die "Kratos $KRATOS_VERSION must be built ($KRATOS_BIN missing) and Go is not installed.
       Install Go (https://go.dev/dl; Debian's golang is too old) or copy a built binary to $KRATOS_BIN."
  [[ -f $KRATOS_SRC/go.mod ]] || die "missing $KRATOS_SRC/go.mod (the module that builds Kratos)"
  log "kratos: building $KRATOS_VERSION into $KRATOS_BIN (go build -tags sqlite, about 2-4 minutes)"
  local tmp=$KRATOS_BIN.tmp.$$
  (cd "$KRATOS_SRC" && "$go" build -tags sqlite -o "$tmp" .) >>"$LOG_DIR/kratos-build.log" 2>&1 ||
    { rm -f "$tmp"; die "building Kratos failed" "$LOG_DIR/kratos-build.log"; }
  mv -f "$tmp" "$KRATOS_BIN"
  log "kratos: built"
}

ensure_kratos_secrets() {
  [[ -s $KRATOS_SECRETS ]] && return 0
  mkdir -p "$(dirname "$KRATOS_SECRETS")"
  (
    umask 077
    cat >"$KRATOS_SECRETS" <<EOF
# Generated once by scripts/stack.sh for this machine's dev stack (git-ignored). Delete to rotate.
secrets:
  default: ["$(openssl rand -hex 32)"]
  cookie: ["$(openssl rand -hex 32)"]
  cipher: ["$(openssl rand -hex 16)"]
EOF
  )
  log "kratos: secrets generated in ${KRATOS_SECRETS#"$REPO_ROOT"/}"
}

start_kratos() {
  step kratos "$LOG_DIR/kratos.log"
  ensure_kratos_secrets
  local cmd=(env DSN="$KRATOS_DSN" "$KRATOS_BIN" serve -c "$KRATOS_CONFIG" -c "$KRATOS_SECRETS"
    --dev --watch-courier --sqa-opt-out)
  local spec templates
  # The courier's templates (kratos.yml courier.templates) are part of the spec: a changed mail restarts Kratos.
  mapfile -t templates < <(find "$KRATOS_COURIER_DIR" -type f -name '*.gotmpl' | LC_ALL=C sort)
  spec=$(spec_of "${cmd[*]}" "$KRATOS_CONFIG" "$KRATOS_SCHEMA" "$KRATOS_SECRETS" "${templates[@]}")
  if service_current kratos "$spec" kratos_ready; then
    log "kratos: already running ($KRATOS_PUBLIC_URL, admin $KRATOS_ADMIN_URL)"
    return
  fi
  stop_service kratos
  build_kratos
  step kratos "$LOG_DIR/kratos.log"
  ensure_port_free kratos 4433
  ensure_port_free kratos 4434
  log "kratos: migrating database kratos"
  (cd "$REPO_ROOT" && clean_env DSN="$KRATOS_DSN" "$KRATOS_BIN" migrate sql -e --yes) >>"$LOG_DIR/kratos-migrate.log" 2>&1 ||
    die "kratos migrate sql failed" "$LOG_DIR/kratos-migrate.log"
  # Started from the repository root: kratos.yml names the identity schema relative to it.
  start_bg kratos "$KRATOS_BIN" "$spec" "$LOG_DIR/kratos.log" "$REPO_ROOT" "${cmd[@]}"
  wait_until kratos 60 "$LOG_DIR/kratos.log" kratos_ready
  log "kratos: up ($KRATOS_PUBLIC_URL, admin $KRATOS_ADMIN_URL, courier to 127.0.0.1:$SMTP_PORT)"
}
