#!/usr/bin/env bash
# Vendor the web console's third-party files into console/static/vendor/ (git-ignored),
# idempotently: a second run with the same pinned versions does nothing.
#
#   three@0.187.0          MIT         build/three.module.js + build/three.core.js (the globe)
#   world-atlas@2.0.2      ISC         land-110m.json (Natural Earth 1:110m land, public domain)
#   swagger-ui-dist@5.35.0 Apache-2.0  swagger-ui-bundle.js + swagger-ui.css (/api/docs offline)
#
# Tarballs come from the npm registry (`npm pack`, or plain HTTPS when npm is missing) and are
# checked against the sha512 integrity pinned below before anything is copied. Without these
# files the console still works: a flat 2-D map instead of the globe, no coastlines, and the
# API docs page links the raw OpenAPI spec (nothing is ever loaded from a CDN).
#
# Usage: fetch_vendor.sh [DEST]   (default: ../static/vendor next to this script)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${1:-$HERE/../static/vendor}"
REGISTRY="${NPM_CONFIG_REGISTRY:-https://registry.npmjs.org}"
REGISTRY="${REGISTRY%/}"

# name version sha512-integrity files-to-copy (relative to the package root)
PACKAGES=(
  "three 0.187.0 sha512-Qiu7R+Cmh8CstZsY1uJOSWnVlfo7ZtNLV7mF8Jltk3LB3AtDu9cRZlcnRKkAk8Y4z6KKw35z7Y7Urd7jWY8etA== build/three.module.js,build/three.core.js,LICENSE"
  "world-atlas 2.0.2 sha512-IXfV0qwlKXpckz1FhwXVwKRjiIhOnWttOskm5CtxMsjgE/MXAYRHWJqgXOpM8IkcPBoXnyTU5lFHcYa5ChG0LQ== land-110m.json,LICENSE"
  "swagger-ui-dist 5.35.0 sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ== swagger-ui-bundle.js,swagger-ui.css,LICENSE,NOTICE"
)
# where each package's files go under DEST
declare -A TARGET=([three]=three [world-atlas]=world-atlas [swagger-ui-dist]=swagger-ui)

STAMP="$DEST/VERSIONS"
WANT="$(printf '%s\n' "${PACKAGES[@]}" | awk '{print $1 "@" $2 " " $3}')"

complete() {
  [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]] || return 1
  local spec name files f
  for spec in "${PACKAGES[@]}"; do
    read -r name _ _ files <<<"$spec"
    IFS=, read -ra list <<<"$files"
    for f in "${list[@]}"; do
      [[ -s "$DEST/${TARGET[$name]}/$(basename "$f")" ]] || return 1
    done
  done
}

if complete; then
  exit 0
fi

PY="${PYTHON:-python3}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

fetch() {  # name version -> path of the tarball
  local name="$1" version="$2" file="$TMP/$1-$2.tgz"
  if command -v npm >/dev/null 2>&1; then
    (cd "$TMP" && npm pack --silent --registry "$REGISTRY" "$name@$version" >/dev/null)
  else
    "$PY" - "$REGISTRY/$name/-/$name-$version.tgz" "$file" <<'EOF'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=120) as r, open(sys.argv[2], "wb") as f:
    f.write(r.read())
EOF
  fi
  echo "$file"
}

check() {  # file integrity
  "$PY" - "$1" "$2" <<'EOF'
import base64, hashlib, sys
path, integrity = sys.argv[1], sys.argv[2]
algo, _, want = integrity.partition("-")
got = base64.b64encode(hashlib.new(algo, open(path, "rb").read()).digest()).decode()
sys.exit(0 if got == want else f"{path}: {algo} integrity mismatch (got {got})")
EOF
}

for spec in "${PACKAGES[@]}"; do
  read -r name version integrity files <<<"$spec"
  tarball="$(fetch "$name" "$version")"
  check "$tarball" "$integrity"
  mkdir -p "$TMP/x-$name"
  tar -xzf "$tarball" -C "$TMP/x-$name"
  out="$DEST/${TARGET[$name]}"
  rm -rf "$out.new"
  mkdir -p "$out.new"
  IFS=, read -ra list <<<"$files"
  for f in "${list[@]}"; do
    cp "$TMP/x-$name/package/$f" "$out.new/"
  done
  rm -rf "$out"
  mv "$out.new" "$out"
  echo "vendored $name@$version -> $out"
done
printf '%s\n' "$WANT" >"$STAMP"
