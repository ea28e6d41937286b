#!/usr/bin/env bash
# Builds the MinIO server (a real S3-compatible object store for the tests and `make bench`)
# once from its Go module, into a folder keyed by version, and prints the binary's path.
# A second run builds nothing.
#
# The module proxy serves no RELEASE.* tag of github.com/minio/minio, only this
# pseudo-version: the head of the archived community repository, 11 commits (bug fixes
# and docs) after RELEASE.2025-10-15T17-29-55Z.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
version=v0.0.0-20260212201848-7aac2a2c5b7c
key=$(sha256sum "$here/build.sh" | cut -c1-12)
out="$root/.cache/minio/$version-$key"
if [ -f "$out/.complete" ]; then
  echo "$out/minio"
  exit 0
fi
mkdir -p "$out"
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
GOBIN="$out" go install -trimpath -ldflags "-s -w" "github.com/minio/minio@$version" >&2
touch "$out/.complete"
echo "$out/minio"
