#!/usr/bin/env bash
# Builds the reference age CLI (age, age-keygen) once from the Go module proxy (`go install`
# of a released version) into a folder keyed by that version, and prints that folder. A second
# run builds nothing. The interoperability tests decrypt our artifacts with it and encrypt
# artifacts for our restore with it (tests/integration/test_age_interop.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
age_version=v1.3.2
key=$(sha256sum "$0" | cut -c1-12)
out="$root/.cache/age/age-$age_version-$key"
if [ -f "$out/.complete" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$out"
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod GOBIN="$out"
go install -trimpath -ldflags "-s -w" \
  "filippo.io/age/cmd/age@$age_version" "filippo.io/age/cmd/age-keygen@$age_version" >&2
touch "$out/.complete"
echo "$out"
