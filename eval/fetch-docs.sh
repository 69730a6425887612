#!/usr/bin/env bash
# Fetch the evaluation documents listed in eval/documents.tsv from Debian's
# archive (apt-get download + dpkg-deb -x, no root install needed) into
# .eval-docs/docs/ and verify each file's sha256.
#
#   bash eval/fetch-docs.sh            # fetch what is missing, verify everything
#   EVAL_DOCS_DIR=/elsewhere bash eval/fetch-docs.sh
#
# Each package is pinned to a version. When that version is no longer in the
# archive (Debian drops superseded point-release and security versions), the
# current version is taken instead, with a warning, and a changed file is
# accepted with a warning too: the eval's questions may then need a look.
# A changed file from the *pinned* version is an error.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
manifest="$here/documents.tsv"
cache="${EVAL_DOCS_DIR:-$root/.eval-docs}"
debs="$cache/debs"
docs="$cache/docs"

say() { printf 'fetch-docs: %s\n' "$*"; }
warn() { printf 'fetch-docs: WARNING: %s\n' "$*" >&2; }
die() { printf 'fetch-docs: ERROR: %s\n' "$*" >&2; exit 1; }

command -v sha256sum >/dev/null || die "sha256sum is missing (coreutils)"
mkdir -p "$debs" "$docs"

sha_of() { sha256sum "$1" | cut -c1-64; }

# All documents present with the pinned hashes? Then there is nothing to fetch.
all_ok=1
while IFS=$'\t' read -r name pkg version path sha; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    if [[ ! -f "$docs/$name" || "$(sha_of "$docs/$name")" != "$sha" ]]; then
        all_ok=0
        break
    fi
done <"$manifest"
if [[ $all_ok == 1 ]]; then
    say "all documents present and verified in $docs"
    exit 0
fi

if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
    die "apt-get and dpkg-deb are needed (a Debian or Ubuntu machine); or put the files of eval/documents.tsv into $docs by hand"
fi

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

# The first .deb matching a glob pattern in $debs, or nothing.
first_deb() {
    local match
    for match in "$debs"/$1; do
        if [[ -f "$match" ]]; then
            printf '%s\n' "$match"
            break
        fi
    done
    return 0
}

# download PKG VERSION: prints the .deb's path and whether the pin held ("pinned"/"current").
download() {
    local pkg="$1" version="$2" file
    # An epoch's colon is %3a in the file name apt-get writes.
    local stem="${pkg}_${version/:/%3a}_"
    file=$(first_deb "$stem*.deb")
    if [[ -n "$file" ]]; then
        printf '%s\tpinned\n' "$file"
        return
    fi
    local _
    for _ in 1 2; do
        if (cd "$debs" && apt-get download "$pkg=$version" >/dev/null 2>"$debs/.err"); then
            file=$(first_deb "$stem*.deb")
            printf '%s\tpinned\n' "$file"
            return
        fi
        apt_update_once || break
    done
    warn "$pkg $version is no longer in the archive ($(grep -m1 '^E:' "$debs/.err" || true)); taking the current version"
    rm -f "$debs/${pkg}_"*.deb
    for _ in 1 2; do
        if (cd "$debs" && apt-get download "$pkg" >/dev/null 2>"$debs/.err"); then
            file=$(first_deb "${pkg}_*.deb")
            warn "using $(basename "$file")"
            printf '%s\tcurrent\n' "$file"
            return
        fi
        apt_update_once || break
    done
    die "cannot download $pkg: $(cat "$debs/.err")"
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
changed=0
declare -A extracted=()
while IFS=$'\t' read -r name pkg version path sha; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    if [[ -f "$docs/$name" && "$(sha_of "$docs/$name")" == "$sha" ]]; then
        continue
    fi
    IFS=$'\t' read -r deb how < <(download "$pkg" "$version")
    [[ -n "${deb:-}" ]] || die "no package file for $pkg"
    dir="$work/$pkg"
    if [[ -z "${extracted[$pkg]:-}" ]]; then
        mkdir -p "$dir"
        dpkg-deb -x "$deb" "$dir"
        extracted[$pkg]=1
    fi
    [[ -f "$dir/$path" ]] || die "$path is not in $(basename "$deb")"
    case "$path" in
    *.gz) gzip -dc "$dir/$path" >"$docs/$name.part" ;;
    *) cp "$dir/$path" "$docs/$name.part" ;;
    esac
    mv "$docs/$name.part" "$docs/$name"
    actual="$(sha_of "$docs/$name")"
    if [[ "$actual" == "$sha" ]]; then
        say "ok       $name ($(basename "$deb"))"
    elif [[ "$how" == current ]]; then
        warn "$name changed in $(basename "$deb"): sha256 $actual, pinned $sha; accepted, but check its questions"
        changed=$((changed + 1))
    else
        printf 'fetch-docs: ERROR: %s from %s has sha256 %s, expected %s\n' "$name" "$(basename "$deb")" "$actual" "$sha" >&2
        failed=1
    fi
done <"$manifest"

[[ $failed == 0 ]] || die "some documents do not match their pinned hashes"
if [[ $changed -gt 0 ]]; then
    warn "$changed document(s) differ from the pinned versions; results are not comparable with earlier runs"
fi
say "documents ready in $docs"
