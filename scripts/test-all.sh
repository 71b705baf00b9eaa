#!/usr/bin/env bash
# Every test: type check, build, package lint (publint + are-the-types-wrong), unit and e2e suites.
# e2e suites start real servers (Prometheus, Redis, RabbitMQ); they are provisioned here where possible and
# the run fails, never skips, when one is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund

if ! bash scripts/provision-e2e.sh; then
  echo "test-all: e2e servers are missing (see above); the e2e suites will fail." >&2
fi

echo "== typecheck"; npx tsc --noEmit -p tsconfig.json
echo "== dependency rules"; npx depcruise src --config .dependency-cruiser.cjs
echo "== build"; npm run build --silent >/dev/null
echo "== package lint"; npx publint --strict && npx attw --pack . --profile node16

mkdir -p .tmp
echo "== tests"
status=0
SCALESIGNAL_E2E_REQUIRED="${SCALESIGNAL_E2E_REQUIRED:-1}" npx vitest run \
  --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json || status=$?
node scripts/check-test-report.mjs .tmp/vitest.json || status=1
exit $status
