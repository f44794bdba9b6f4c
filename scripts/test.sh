#!/usr/bin/env bash
# npm test: type-check, lint, build, make sure the bundled PBX is up, then every test: the files that
# need no PBX two at a time (npm run test:unit), then the real-PBX files one at a time (npm run
# test:pbx: they share one Asterisk and its SIPp phones). Both runs happen whatever the first found;
# the exit status is non-zero if either failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
npm run -s typecheck && npm run -s lint && npm run -s build && npm run --silent pbx:up || exit 1
status=0
npm run -s test:unit || status=1
npm run -s test:pbx || status=1
exit "$status"
