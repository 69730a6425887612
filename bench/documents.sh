#!/usr/bin/env bash
# Fetches the benchmark documents: real manuals that Debian packages ship, at
# pinned package versions, checked by sha256, into the gitignored cache
# .bench-docs/ (the .deb files, their extracted trees, and the set below).
#
#   bash bench/documents.sh            # fetch (once) and check; prints the set's folder
#   bash bench/documents.sh --list     # the set's files, one a line
#
# The set, .bench-docs/set/{pdf,html,txt,docx}/:
#   pdf   bashref.pdf (bash-doc; texinfo/TeX), developers-reference.pdf (Sphinx/LaTeX),
#         debian-reference.en.pdf (dblatex), fhs-3.0.pdf (debian-policy)
#   html  bashref.html (makeinfo), developers-reference.html (Sphinx single page),
#         fhs-3.0.html (DocBook)
#   txt   policy.txt (Sphinx text), debian-reference.en.txt, developers-reference.txt
#   docx  No Debian package of this release ships a DOCX manual, so two are made
#         with python-docx (bench/make_docx.py, from .venv-bench) from policy.txt
#         and developers-reference.txt: a heading per underlined title, a
#         paragraph per text block. Their sha256 is checked too (the generator
#         fixes every timestamp), but a mismatch there is only a warning, since
#         it depends on the python-docx and zlib versions.
#
# A different sha256 for a Debian file stops the script (BENCH_DOCS_ALLOW_DRIFT=1
# goes on with a warning): the numbers in docs/benchmarks.md are only comparable
# over the same bytes. Needs apt-get (Debian/Ubuntu) and dpkg-deb; runs
# `apt-get update` once if the pinned version is not known to apt yet.
set -euo pipefail
cd "$(dirname "$0")/.."

cache=".bench-docs"
set_dir="$cache/set"
python="${BENCH_PYTHON:-.venv-bench/bin/python}"

# package=version  path in the package  format  name in the set  sha256 of the file in the set
manifest=(
  "bash-doc=5.2.15-2|usr/share/doc/bash/bashref.pdf|pdf|bashref.pdf|104971d389c0b9b7a261b0b3070a53b0d8cce6db1ffddefcc8423ddda92acd87"
  "developers-reference=12.18|usr/share/developers-reference/developers-reference.pdf|pdf|developers-reference.pdf|88e5ac4d15444fd3adb821dc863bd91b820e99a27e65728e74975ab1752652f5"
  "debian-reference-en=2.100|usr/share/debian-reference/debian-reference.en.pdf|pdf|debian-reference.en.pdf|32775deeca0770ac25282b0c894cbaae83f4dd4ab00e891b94e8f009c0366728"
  "debian-policy=4.6.2.0|usr/share/doc/debian-policy/fhs/fhs-3.0.pdf.gz|pdf|fhs-3.0.pdf|53d239e569a2d7b31a74fa09d585368c0f5a164e4624723fa2894660dd10fd23"
  "bash-doc=5.2.15-2|usr/share/doc/bash/bashref.html|html|bashref.html|572c0a2b543bc0cb57ae5bd32345c3c8f477672b1180ad01a5eece45abf414e0"
  "developers-reference=12.18|usr/share/developers-reference/developers-reference.html|html|developers-reference.html|277a1ca2b65452ce7747e4fb152b5e27ebe28b4c7717f20093b447c62243cc35"
  "debian-policy=4.6.2.0|usr/share/doc/debian-policy/fhs/fhs-3.0.html|html|fhs-3.0.html|05268acaf6ff17aa5f54228967831f2c60f4914ae3101767dcd70acb36cd821c"
  "debian-policy=4.6.2.0|usr/share/doc/debian-policy/policy.txt.gz|txt|policy.txt|89dba06600463ed858b4ccd3bdf4e72452c512589f1029548346e5284eb71374"
  "debian-reference-en=2.100|usr/share/debian-reference/debian-reference.en.txt.gz|txt|debian-reference.en.txt|fc8dce7f9d076f78432b74cc91555017c855d19d5bbc5b8e7e3ad472f00ec6cf"
  "developers-reference=12.18|usr/share/developers-reference/developers-reference.txt.gz|txt|developers-reference.txt|6e16d3fba905b0ac7636d34bd703512087a24063ab8e778abbdf8a76363bc95e"
)
# generated: source in the set  name  sha256
generated=(
  "txt/policy.txt|policy.docx|cefca0a4df2253d7b70cabd5f331e4fd0c90ab6c3863eaefc5f6a3cc9ddfd299"
  "txt/developers-reference.txt|developers-reference.docx|45f5bdb2bb14fa2ec090754728d3ff06c2bd7beba9937338ad9df9e057ca345b"
)

if [ "${1:-}" = "--list" ]; then
  for entry in "${manifest[@]}"; do
    IFS='|' read -r _ _ format name _ <<<"$entry"
    echo "$set_dir/$format/$name"
  done
  for entry in "${generated[@]}"; do
    IFS='|' read -r _ name _ <<<"$entry"
    echo "$set_dir/docx/$name"
  done
  exit 0
fi

sha() { sha256sum "$1" | cut -c1-64; }
drift=0
check() { # file expected strict
  local actual
  actual=$(sha "$1")
  if [ "$actual" != "$2" ]; then
    if [ "$3" = strict ] && [ "${BENCH_DOCS_ALLOW_DRIFT:-0}" != 1 ]; then
      echo "documents: $1 has sha256 $actual, expected $2" >&2
      echo "documents: the pinned package changed; BENCH_DOCS_ALLOW_DRIFT=1 goes on anyway" >&2
      exit 1
    fi
    echo "documents: warning: $1 has sha256 $actual, expected $2" >&2
    drift=1
  fi
}

mkdir -p "$cache/debs" "$cache/extract"
# Download every pinned package not in the cache yet.
updated=0
for entry in "${manifest[@]}"; do
  IFS='|' read -r pin _ _ _ _ <<<"$entry"
  package=${pin%%=*}
  version=${pin#*=}
  if ! ls "$cache/debs/${package}_"*.deb >/dev/null 2>&1; then
    echo "documents: apt-get download $pin" >&2
    if ! (cd "$cache/debs" && apt-get download -q "$pin" >/dev/null 2>&1); then
      if [ "$updated" = 0 ]; then
        echo "documents: apt-get update (once)" >&2
        apt-get update -q >/dev/null
        updated=1
      fi
      (cd "$cache/debs" && apt-get download -q "$pin" >/dev/null) || {
        echo "documents: cannot download $pin (is this Debian 12 / bookworm?)" >&2
        exit 1
      }
    fi
  fi
  if [ ! -d "$cache/extract/$package" ]; then
    deb=$(ls "$cache/debs/${package}_"*.deb | head -1)
    mkdir -p "$cache/extract/$package.partial"
    dpkg-deb -x "$deb" "$cache/extract/$package.partial"
    mv "$cache/extract/$package.partial" "$cache/extract/$package"
  fi
  # the version we got must be the pinned one
  deb=$(ls "$cache/debs/${package}_"*.deb | head -1)
  got=$(dpkg-deb -f "$deb" Version)
  if [ "$got" != "$version" ]; then
    echo "documents: $deb is version $got, pinned $version" >&2
    [ "${BENCH_DOCS_ALLOW_DRIFT:-0}" = 1 ] || exit 1
  fi
done

# The set: copied (and gunzipped) out of the extracted trees.
for entry in "${manifest[@]}"; do
  IFS='|' read -r pin path format name expected <<<"$entry"
  package=${pin%%=*}
  mkdir -p "$set_dir/$format"
  target="$set_dir/$format/$name"
  if [ ! -s "$target" ]; then
    source="$cache/extract/$package/$path"
    case "$source" in
      *.gz) gzip -dc "$source" > "$target.partial" ;;
      *) cp "$source" "$target.partial" ;;
    esac
    mv "$target.partial" "$target"
  fi
  check "$target" "$expected" strict
done

# DOCX made from two of the text manuals.
mkdir -p "$set_dir/docx"
for entry in "${generated[@]}"; do
  IFS='|' read -r source name expected <<<"$entry"
  target="$set_dir/docx/$name"
  if [ ! -s "$target" ]; then
    if [ ! -x "$python" ]; then
      echo "documents: $python is missing (bash bench/venv.sh makes it); no DOCX" >&2
      exit 1
    fi
    "$python" bench/make_docx.py "$set_dir/$source" "$target.partial"
    mv "$target.partial" "$target"
  fi
  check "$target" "$expected" warn
done

[ "$drift" = 0 ] || echo "documents: some files differ from the pinned checksums (see above)" >&2
echo "$set_dir"
