#!/usr/bin/env bash
# Builds upstream's kubelet and kube-proxy (the local real node) from this module once, into
# a folder keyed by the module and node/*/main.go, and prints that folder. Kept apart from
# build.sh so adding node binaries leaves the control plane's cache key alone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
k8s_version=$(awk '$1 == "k8s.io/kubernetes" {print $2}' "$here/go.mod")
key=$(cat "$here/go.mod" "$here/go.sum" "$here/build-node.sh" "$here"/node/*/main.go | sha256sum | cut -c1-12)
out="$root/.cache/node/$k8s_version-$key"
if [ -f "$out/.complete" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$out"
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
pkg=k8s.io/component-base/version
minor=$(echo "$k8s_version" | cut -d. -f2)
ldflags="-s -w -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
(cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$out/" ./node/...) >&2
touch "$out/.complete"
echo "$out"
