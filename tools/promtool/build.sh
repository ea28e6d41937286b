#!/usr/bin/env bash
# Builds Prometheus's promtool once from the Go module proxy (`go install` of a released
# version) into a folder keyed by that version, and prints that folder. A second run builds
# nothing. The chart's PrometheusRule is checked and unit-tested with it (tests/integration).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# Prometheus v3.Y.Z is published as Go module version v0.3YY.Z.
prometheus_version=v0.316.0
key=$(sha256sum "$0" | cut -c1-12)
out="$root/.cache/promtool/promtool-$prometheus_version-$key"
if [ -f "$out/.complete" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$out"
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS= GOBIN="$out"
# As Prometheus's own build does: the version `promtool --version` reports.
ldflags="-s -w -X github.com/prometheus/common/version.Version=$prometheus_version"
go install -trimpath -ldflags "$ldflags" \
  "github.com/prometheus/prometheus/cmd/promtool@$prometheus_version" >&2
touch "$out/.complete"
echo "$out"
