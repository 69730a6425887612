#!/usr/bin/env bash
# The programs OCR runs on one machine: tesseract (with its English data)
# reads pictures of text, poppler's pdftoppm renders PDF pages for it. On
# Debian/Ubuntu they are the packages tesseract-ocr, tesseract-ocr-eng and
# poppler-utils; this installs them with apt-get where it can (as root), as
# the browser test does with chromium, and otherwise says what to install.
#
#   scripts/ocr-tools.sh             fail when they are missing and cannot be installed (make test)
#   scripts/ocr-tools.sh --optional  only warn: askdocs runs without OCR (make run)
# Languages beyond English (ASKDOCS_OCR_LANGUAGES=eng+deu): tesseract-ocr-deu, …
set -euo pipefail

optional=""
[ "${1:-}" = "--optional" ] && optional=1
packages=(tesseract-ocr tesseract-ocr-eng poppler-utils)

say() { printf 'ocr-tools: %s\n' "$*" >&2; }

have_all() {
    command -v tesseract >/dev/null && command -v pdftoppm >/dev/null &&
        tesseract --list-langs 2>/dev/null | grep -qx eng
}

have_all && exit 0

missing() {
    if [ -n "$optional" ]; then
        say "$* — askdocs runs without OCR: scanned pages and images stay unread until ${packages[*]} are installed"
        exit 0
    fi
    say "$*"
    exit 1
}

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    missing "OCR needs ${packages[*]}; install them with: sudo apt-get install ${packages[*]}"
fi
say "installing ${packages[*]} from Debian (apt-get)"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null 2>&1; then
    apt-get update -qq || missing "apt-get update failed; cannot install ${packages[*]}"
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null ||
        missing "apt-get install ${packages[*]} failed"
fi
have_all || missing "${packages[*]} were installed but tesseract (with eng) or pdftoppm is still missing"
say "tesseract $(tesseract --version 2>&1 | head -1 | awk '{print $2}') and pdftoppm ready"
