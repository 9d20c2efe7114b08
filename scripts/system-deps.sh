#!/bin/sh
# Debian packages the test suite drives for real: Chromium (browser tests), ClamAV
# (virus scanning), libmagic (file types), wrk (bench/write_throughput.py) and the openssl CLI
# (throwaway certificates for the HTTPS webhook receiver). Installed only when missing, only as root.
set -e
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v clamd >/dev/null 2>&1 || missing="$missing clamav-daemon clamav"
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"  # bench/write_throughput.py
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"  # tests/test_webhooks_tls.py
[ -e /usr/lib/x86_64-linux-gnu/libmagic.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libmagic.so.1 ] || missing="$missing libmagic1"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: please install:$missing (tests that need them will fail)" >&2
    exit 0
fi
echo "system-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends $missing >/dev/null
