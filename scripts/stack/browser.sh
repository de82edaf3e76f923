# shellcheck shell=bash disable=SC2034 # settings are used by other files
# Component of scripts/stack.sh (sourced): what the e2e suite's browser tests need — Debian's Chromium
# (packages.sh installs it) and axe-core from npm, pinned by tools/browser/package-lock.json and installed with
# `npm ci` into tools/browser/node_modules (git-ignored). Skipped when the installed axe-core is the locked one.
# A copy is kept per machine in $PASSERELLE_CACHE (/var/cache/passerelle, like the Kratos build): the npm
# registry took 2 minutes for this one package in a CI run, and every clean clone would pay it again.

BROWSER_TOOLS=$REPO_ROOT/tools/browser
CHROMIUM_BIN=/usr/bin/chromium

# axe_current: node_modules holds axe.min.js of the version package-lock.json pins.
axe_current() {
  local dir=$BROWSER_TOOLS/node_modules/axe-core locked installed
  [[ -s $dir/axe.min.js && -f $dir/package.json ]] || return 1
  locked=$(jq -r '.packages["node_modules/axe-core"].version // empty' "$BROWSER_TOOLS/package-lock.json")
  installed=$(jq -r '.version // empty' "$dir/package.json")
  [[ -n $locked && $locked == "$installed" ]]
}

ensure_browser_tools() {
  step "browser tools" "$LOG_DIR/npm.log"
  [[ -x $CHROMIUM_BIN ]] || die "$CHROMIUM_BIN missing after the packages step (Debian package chromium)"
  [[ -f $BROWSER_TOOLS/package-lock.json ]] || die "missing ${BROWSER_TOOLS#"$REPO_ROOT"/}/package-lock.json"
  if axe_current; then
    log "browser tools: chromium and axe-core present"
    return
  fi
  local locked cache
  locked=$(jq -r '.packages["node_modules/axe-core"].version // empty' "$BROWSER_TOOLS/package-lock.json")
  cache=${PASSERELLE_CACHE:-/var/cache/passerelle}/axe-core-$locked
  if [[ -n $locked && -s $cache/node_modules/axe-core/axe.min.js ]]; then
    rm -rf "$BROWSER_TOOLS/node_modules"
    cp -a "$cache/node_modules" "$BROWSER_TOOLS/node_modules"
    if axe_current; then
      log "browser tools: axe-core $locked from the machine's cache (${cache})"
      return
    fi
  fi
  log "browser tools: npm ci --prefix ${BROWSER_TOOLS#"$REPO_ROOT"/}"
  printf '\n=== %s: npm ci\n' "$(date -Is)" >>"$LOG_DIR/npm.log"
  npm ci --prefix "$BROWSER_TOOLS" --no-audit --no-fund --ignore-scripts >>"$LOG_DIR/npm.log" 2>&1 ||
    die "npm ci --prefix ${BROWSER_TOOLS#"$REPO_ROOT"/} failed" "$LOG_DIR/npm.log"
  axe_current || die "npm ci left no axe-core matching package-lock.json in ${BROWSER_TOOLS#"$REPO_ROOT"/}" \
    "$LOG_DIR/npm.log"
  if mkdir -p "$cache.tmp.$$" 2>/dev/null && cp -a "$BROWSER_TOOLS/node_modules" "$cache.tmp.$$/"; then
    rm -rf "$cache"
    mv "$cache.tmp.$$" "$cache" || rm -rf "$cache.tmp.$$"
  fi
  log "browser tools: axe-core $(jq -r .version "$BROWSER_TOOLS/node_modules/axe-core/package.json") installed"
}
