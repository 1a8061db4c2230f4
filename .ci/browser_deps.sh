#!/usr/bin/env bash
# Debian's chromium for tests/test_browser.py (Playwright drives it; `playwright install` is never run).
# Installs it when /usr/bin/chromium is missing; says in one line and exits non-zero when it cannot.
set -euo pipefail
CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
fail() {
    echo ".ci/browser_deps.sh: error: $CHROMIUM is missing and $1; install Debian's chromium (apt-get install chromium) or run the tests with -m 'not browser'" >&2
    exit 1
}
command -v apt-get >/dev/null || fail "there is no apt-get here (not Debian or Ubuntu)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null && sudo -n true 2>/dev/null || fail "installing needs root, and sudo is not available without a password"
    SUDO="sudo -n"
fi
echo ".ci/browser_deps.sh: installing Debian's chromium for the browser test"
# DEBIAN_FRONTEND: no prompts in CI
{ $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
    || fail "apt-get install chromium failed (see above)"
[ -x "$CHROMIUM" ] || fail "the chromium package did not provide it"
