#!/usr/bin/env bash
# The tests, as the README's second command and CI run them: first what the tests need beyond
# pip (Debian's Chromium, for the browser tests), then a virtualenv with ehqa and its dev tools,
# then pytest on as many workers as the machine has cores (pytest-xdist; an idle worker takes
# tests queued for a busy one). Arguments are passed on to pytest (`-n 0`: in one process).
# The PostgreSQL tests run when EHQA_TEST_POSTGRES_URL is set (see tests/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."

need_chromium() {
    echo "scripts/test.sh: the tests need Debian's Chromium at /usr/bin/chromium: $1;" \
        "install it as root (apt-get update && apt-get install -y chromium), then run this again" >&2
    exit 1
}

# (and Debian's DejaVu fonts, which the chronology's PDF is set in)
DEJAVU=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
if [ ! -x /usr/bin/chromium ] || [ ! -f "$DEJAVU" ]; then
    command -v apt-get >/dev/null 2>&1 || need_chromium "there is no apt-get here"
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || need_chromium "not root, and there is no sudo"
        as_root=(sudo)
        [ -t 0 ] || as_root+=(-n)  # no terminal to ask for a password on: fail, never hang
    fi
    echo "scripts/test.sh: installing Debian's Chromium and DejaVu fonts (apt-get install -y" \
        "chromium fonts-dejavu-core)" >&2
    # (another apt run on the machine holding its lock is waited for, up to five minutes)
    apt=(${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive
         apt-get -o DPkg::Lock::Timeout=300)
    "${apt[@]}" update
    "${apt[@]}" install -y chromium fonts-dejavu-core
    [ -x /usr/bin/chromium ] || need_chromium "apt-get installed chromium, but not there"
fi

python3 -m venv .venv
.venv/bin/pip install -e '.[dev]'
exec .venv/bin/python -m pytest -n auto --dist worksteal "$@"
