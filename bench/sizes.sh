#!/usr/bin/env bash
# Sizes of the Lambda function binaries, stripped, as JSON on stdout.
#
#   bash bench/sizes.sh                 # x86_64: target/release/{auth,document,processing,query,hello-lambda}
#   bash bench/sizes.sh --build         # build each of them first (one cargo call per binary, see below)
#   bash bench/sizes.sh --arm64         # also arm64, built with cargo-lambda (zig from PyPI's ziglang)
#   bash bench/sizes.sh --sam ARCH      # the artefacts `sam build` made (bench/sam-build.sh):
#                                       # .aws-sam/build/<Fn>Function/bootstrap and
#                                       # .aws-sam/hello-lambda/, reported under ARCH (arm64 or x86_64)
#
# Each binary is built by its own `cargo build -p PACKAGE --bin NAME`: one cargo
# call for several packages unifies the features of `shared` across them, so
# auth would link what processing needs and the sizes would lie.
#
# Stripped size: the file after `llvm-strip --strip-all` (or binutils `strip`)
# on a copy; the release profile strips already, so the two agree unless the
# profile changes. arm64: `cargo lambda build --release --arm64 --bin NAME`,
# one binary at a time too, from .venv-bench-tools (cargo-lambda and ziglang
# from PyPI, made here on first use); it needs the Rust target
# aarch64-unknown-linux-gnu, which cargo-lambda adds through rustup.
# Environment: CARGO (default cargo), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO="${CARGO:-cargo}"
target_dir="${CARGO_TARGET_DIR:-target}"
build=0
arm64=0
sam_arch=
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=1 ;;
    --arm64) arm64=1 ;;
    --sam) sam_arch=${2:?--sam needs an architecture}; shift ;;
    *) echo "sizes: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

# binary name -> cargo package
binaries=(auth document processing query hello-lambda)
package_of() {
  case "$1" in
    hello-lambda) echo hello-lambda ;;
    *) echo "askdocs-$1" ;;
  esac
}

strip_tool=$(command -v llvm-strip || command -v strip || true)

stripped_size() { # file -> bytes after stripping a copy
  local copy
  copy=$(mktemp)
  cp "$1" "$copy"
  if [ -n "$strip_tool" ]; then
    "$strip_tool" --strip-all "$copy" 2>/dev/null || true
  fi
  stat -c %s "$copy"
  rm -f "$copy"
}

entries() { # dir-of-a-binary-path-function
  local first=1 name path
  for name in "${binaries[@]}"; do
    path=$("$1" "$name")
    [ $first = 1 ] || printf ','
    first=0
    if [ -f "$path" ]; then
      printf '\n    "%s": {"path": "%s", "bytes": %s, "stripped_bytes": %s}' \
        "$name" "$path" "$(stat -c %s "$path")" "$(stripped_size "$path")"
    else
      printf '\n    "%s": {"path": "%s", "missing": true}' "$name" "$path"
    fi
  done
}

x86_path() { echo "$target_dir/release/$1"; }
arm_path() { echo "$target_dir/lambda/$1/bootstrap"; }
sam_path() { # what sam build left for a function (hello-lambda: cargo lambda, same flags)
  case "$1" in
    hello-lambda) echo ".aws-sam/hello-lambda/bootstrap" ;;
    *) echo ".aws-sam/build/${1^}Function/bootstrap" ;;
  esac
}

if [ -n "$sam_arch" ]; then
  other=arm64
  [ "$sam_arch" = arm64 ] && other=x86_64
  printf '{\n  "tool": "bench/sizes.sh --sam",\n  "source": "sam build (BuildMethod makefile: cargo lambda per function)",\n  "strip": "%s",\n  "%s": {' \
    "${strip_tool:-none}" "$sam_arch"
  entries sam_path
  printf '\n  },\n  "%s": {},\n  "arm64_note": %s,\n  "zig": null\n}\n' "$other" \
    "$([ "$sam_arch" = arm64 ] && echo null || echo '"no aarch64 Rust target on this machine: sam build ran with LAMBDA_ARCH=--x86-64"')"
  exit 0
fi

if [ "$build" = 1 ]; then
  for name in "${binaries[@]}"; do
    echo "sizes: $CARGO build --release -p $(package_of "$name") --bin $name" >&2
    "$CARGO" build --release -p "$(package_of "$name")" --bin "$name" >&2
  done
fi

arm64_note='"not requested (bash bench/sizes.sh --arm64)"'
if [ "$arm64" = 1 ]; then
  tools=.venv-bench-tools
  if [ ! -x "$tools/bin/cargo-lambda" ] || ! "$tools/bin/python" -c 'import ziglang' 2>/dev/null; then
    echo "sizes: installing cargo-lambda and ziglang from PyPI into $tools" >&2
    python3 -m venv "$tools"
    "$tools/bin/pip" install --quiet -r bench/requirements-tools.txt >&2
  fi
  # cargo-lambda finds zig as `python3 -m ziglang` with the venv first on PATH.
  export PATH="$PWD/$tools/bin:$PATH"
  arm64_note=null
  for name in "${binaries[@]}"; do
    echo "sizes: cargo lambda build --release --arm64 -p $(package_of "$name") --bin $name" >&2
    if ! cargo lambda build --release --arm64 -p "$(package_of "$name")" --bin "$name" >&2; then
      arm64_note="\"cargo lambda build failed for $name (see the log above)\""
      break
    fi
  done
fi

zig_version=null
if [ "$arm64" = 1 ]; then
  zig_version="\"$(.venv-bench-tools/bin/python -m ziglang version 2>/dev/null || echo unknown)\""
fi

printf '{\n  "tool": "bench/sizes.sh",\n  "strip": "%s",\n  "x86_64": {' "${strip_tool:-none}"
entries x86_path
printf '\n  },\n  "arm64": {'
if [ "$arm64" = 1 ] && [ "$arm64_note" = null ]; then
  entries arm_path
fi
printf '\n  },\n  "arm64_note": %s,\n  "zig": %s\n}\n' "$arm64_note" "$zig_version"
