#!/usr/bin/env bash
# The web page tested in a real browser (tests/browser/askdocs.test.mjs):
# installs what the test needs when it is missing, says what it can't install,
# then runs it against a real `askdocs serve` on a free port.
#
#   bash scripts/browser-test.sh           # after the askdocs binary is built
#
# Needs: Debian's chromium (apt-get install chromium; installed here when
# missing and we are root), Node.js 20+ with npm (the test's packages, pinned in
# tests/browser/package-lock.json, come from the npm registry).
# Environment: ASKDOCS_BIN (default target/debug/askdocs), CHROMIUM (default
# /usr/bin/chromium), ASKDOCS_WEB_FROM_DISK=1 to test web/ through a proxy
# instead of the page embedded in the binary. Screenshots and the server's log:
# target/browser-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'browser-test: %s\n' "$*" >&2; }
die() {
    say "$*"
    exit 1
}

apt_install() {
    if [ "$(id -u)" != 0 ]; then
        die "missing: $*. Install it with: sudo apt-get install $*"
    fi
    command -v apt-get >/dev/null || die "missing: $*, and this system has no apt-get; install it by hand"
    say "installing $* from Debian (apt-get)"
    apt-get update -qq || die "apt-get update failed; cannot install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
        die "apt-get install $* failed"
}

export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
    apt_install chromium fonts-dejavu-core
    [ -x "$CHROMIUM" ] || die "chromium was installed but $CHROMIUM is missing; set CHROMIUM to the browser's path"
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt_install nodejs npm
fi
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
    die "Node.js 20 or newer is needed (found $(node --version)); playwright-core does not run on older ones"

export ASKDOCS_BIN="${ASKDOCS_BIN:-${CARGO_TARGET_DIR:-target}/debug/askdocs}"
[ -x "$ASKDOCS_BIN" ] || die "the askdocs binary is missing at $ASKDOCS_BIN: build it first (cargo build) or set ASKDOCS_BIN"

# The embedding model the server loads (make exports ASKDOCS_MODEL_DIR; so does this, when it's in the repo).
if [ -z "${ASKDOCS_MODEL_DIR:-}" ] && [ -f .models/all-MiniLM-L6-v2/config.json ]; then
    export ASKDOCS_MODEL_DIR="$PWD/.models/all-MiniLM-L6-v2"
fi

# The pinned packages, installed again only when the lock file changed.
stamp=tests/browser/node_modules/.askdocs-lock
if ! cmp -s tests/browser/package-lock.json "$stamp" 2>/dev/null; then
    say "installing the test's npm packages (npm ci)"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) ||
        die "npm ci failed in tests/browser (is the npm registry reachable?)"
    cp tests/browser/package-lock.json "$stamp"
fi

mkdir -p target/browser-artifacts
say "running the browser test (screenshots: target/browser-artifacts/)"
cd tests/browser
exec node --test --test-concurrency=1 --test-reporter=spec askdocs.test.mjs sign-in.test.mjs
