#!/usr/bin/env bash
# Builds the upstream binaries of the test control plane (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, kwok) once, into a folder keyed by
# this module's content, and prints that folder. A second run builds nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
k8s_version=$(awk '$1 == "k8s.io/kubernetes" {print $2}' "$here/go.mod")
kwok_version=v0.7.0
key=$(cat "$here/go.mod" "$here/go.sum" "$here/build.sh" "$here"/cmd/*/main.go | sha256sum | cut -c1-12)
out="$root/.cache/controlplane/$k8s_version-$key"
if [ -f "$out/.complete" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$out"
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
pkg=k8s.io/component-base/version
minor=$(echo "$k8s_version" | cut -d. -f2)
ldflags="-s -w -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
(cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$out/" ./cmd/...) >&2
GOBIN="$out" GOFLAGS= go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$kwok_version" >&2
touch "$out/.complete"
echo "$out"
