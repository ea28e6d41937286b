#!/usr/bin/env bash
# Builds tools/kstatus (the kstatus library of sigs.k8s.io/cli-utils as a command) once from
# the Go module proxy into a folder keyed by this module's content, and prints that folder. A
# second run builds nothing. The integration tests ask it for Flux's verdict on our objects.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cli_utils_version=$(awk '$1 == "sigs.k8s.io/cli-utils" {print $2}' "$here/go.mod")
key=$(cat "$here/go.mod" "$here/go.sum" "$here/build.sh" "$here/main.go" | sha256sum | cut -c1-12)
out="$root/.cache/kstatus/kstatus-$cli_utils_version-$key"
if [ -f "$out/.complete" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$out"
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
(cd "$here" && go build -trimpath -ldflags "-s -w" -o "$out/kstatus" .) >&2
touch "$out/.complete"
echo "$out"
