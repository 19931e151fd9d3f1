#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (tests/test_server_browser.py) if it is missing.
# Playwright drives it with executable_path; no browser is downloaded by a test tool.
# This script never fails CI: where Chromium cannot be installed, those tests skip and say why.
set -u
if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo ".ci/browser.sh: not root and no sudo; Chromium not installed, the browser tests will skip"
        exit 0
    fi
fi
echo ".ci/browser.sh: installing Debian's chromium for the browser tests"
export DEBIAN_FRONTEND=noninteractive
if ! { timeout 600 $SUDO apt-get update -q && timeout 900 $SUDO apt-get install -y -q chromium; } >/tmp/relatedcontent-chromium-install.log 2>&1; then
    echo ".ci/browser.sh: could not install chromium (log: /tmp/relatedcontent-chromium-install.log); the browser tests will skip"
    tail -n 5 /tmp/relatedcontent-chromium-install.log || true
fi
exit 0
