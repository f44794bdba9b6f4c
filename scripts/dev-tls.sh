#!/usr/bin/env bash
# Makes a self-signed certificate for localhost / 127.0.0.1 under .dev-tls/ (gitignored) unless one
# is already there and still valid for a day, for `npm run dev:tls`. Development only: clients must
# trust .dev-tls/cert.pem (curl --cacert .dev-tls/cert.pem, node's https `ca`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir=.dev-tls
if ! command -v openssl >/dev/null 2>&1; then
  echo "dev-tls: openssl is needed to make the development certificate (Debian/Ubuntu: apt-get install openssl)" >&2
  exit 1
fi
if [ -s "$dir/cert.pem" ] && [ -s "$dir/key.pem" ] && openssl x509 -checkend 86400 -noout -in "$dir/cert.pem" >/dev/null 2>&1; then
  exit 0
fi
mkdir -p "$dir"
chmod 700 "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 365 \
  -subj /CN=localhost -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1' \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
chmod 600 "$dir/key.pem"
echo "dev-tls: made $dir/cert.pem (self-signed, localhost and 127.0.0.1, 365 days)" >&2
