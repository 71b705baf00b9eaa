#!/usr/bin/env bash
# Makes sure the real servers the e2e suites start are installed: Prometheus (Debian's `prometheus`),
# Redis and RabbitMQ (for the BullMQ and amqplib queue-depth recipes), Go with Prometheus' expfmt parser (the
# parser KEDA uses, built offline by test/helpers/expfmt.ts) and Chromium (the dashboard's browser test). Installs them with apt when running as
# root; otherwise prints exactly what to install. Exit status: 0 when everything is present.
set -u
declare -A binary=( [prometheus]=/usr/bin/prometheus [redis-server]=/usr/bin/redis-server [rabbitmq-server]=/usr/sbin/rabbitmq-server [golang-go]=/usr/bin/go [golang-github-prometheus-common-dev]=/usr/share/gocode/src/github.com/prometheus/common/expfmt/decode.go [chromium]=/usr/bin/chromium [python3-botocore]=/usr/lib/python3/dist-packages/botocore/data/cloudwatch/2010-08-01/service-2.json )
missing=()
for pkg in prometheus redis-server rabbitmq-server golang-go golang-github-prometheus-common-dev chromium python3-botocore; do
  [ -e "${binary[$pkg]}" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1 && [ "${SCALESIGNAL_NO_APT:-0}" != "1" ]; then
  echo "provision-e2e: installing ${missing[*]} from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  # Services must not be started by the package: the tests start their own instances on free ports.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/scalesignal-apt.log 2>&1
  status=$?
  rm -f /usr/sbin/policy-rc.d
  if [ $status -ne 0 ]; then
    echo "provision-e2e: apt-get failed (see /tmp/scalesignal-apt.log)"; tail -5 /tmp/scalesignal-apt.log
  fi
  missing=()
  for pkg in prometheus redis-server rabbitmq-server golang-go golang-github-prometheus-common-dev chromium python3-botocore; do
    [ -e "${binary[$pkg]}" ] || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && exit 0
fi

echo "provision-e2e: missing ${missing[*]}. Install them with:"
echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}"
exit 1
