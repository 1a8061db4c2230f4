#!/usr/bin/env bash
# The Debian packages the tests need: chromium for tests/test_browser.py (Playwright drives it; `playwright install`
# is never run) and bubblewrap for `dcgan grade --isolate` (tests/test_grading.py). Installs what is missing;
# says in one line and exits non-zero when it cannot.
set -euo pipefail
CHROMIUM=/usr/bin/chromium
missing=""
[ -x "$CHROMIUM" ] || missing="$missing chromium"
command -v bwrap >/dev/null || missing="$missing bubblewrap"
if [ -z "$missing" ]; then
    exit 0
fi
fail() {
    echo ".ci/system_deps.sh: error:$missing missing and $1; install them (apt-get install$missing), or run the tests with -m 'not browser'" >&2
    exit 1
}
command -v apt-get >/dev/null || fail "there is no apt-get here (not Debian or Ubuntu)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null && sudo -n true 2>/dev/null || fail "installing needs root, and sudo is not available without a password"
    SUDO="sudo -n"
fi
echo ".ci/system_deps.sh: installing$missing"
# DEBIAN_FRONTEND: no prompts in CI
{ $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing; } \
    || fail "apt-get install failed (see above)"
[ -x "$CHROMIUM" ] || fail "the chromium package did not provide $CHROMIUM"
