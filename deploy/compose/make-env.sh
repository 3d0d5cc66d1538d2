#!/bin/sh
# Writes the .env docker compose reads: .env.example with every empty secret filled with a fresh
# random value (Fernet keys for the two encryption keys, hex for the rest) and GRANTS_ENVIRONMENT set.
#
#   deploy/compose/make-env.sh development          # trying it on your machine
#   deploy/compose/make-env.sh production [FILE]    # then fill in the identity provider's settings
#
# FILE defaults to .env beside docker-compose.yml. An existing file is never overwritten (its keys
# encrypt data: a new key would make that data unreadable). The file is made readable by you only.
set -eu

root=$(CDPATH='' cd -- "$(dirname -- "$0")/../.." && pwd)
environment="${1:-}"
target="${2:-$root/.env}"
case "$environment" in
  development | production) ;;
  *) echo "usage: $0 development|production [FILE]" >&2; exit 2 ;;
esac
if [ -e "$target" ]; then
  echo "$target exists: not overwritten (move it away first if you mean to replace its secrets)" >&2
  exit 1
fi

# n random bytes as lower-case hex.
hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
# A Fernet key: 32 random bytes, URL-safe base64 (what `grants new-key` prints).
fernet() { head -c 32 /dev/urandom | base64 | tr -d '\n' | tr '+/' '-_'; }

umask 077
tmp="$target.tmp.$$"
trap 'rm -f "$tmp"' EXIT
while IFS= read -r line; do
  case "$line" in
    \#*) ;;
    GRANTS_ENVIRONMENT=*) line="GRANTS_ENVIRONMENT=$environment" ;;
    GRANTS_BANK_DETAILS_KEY= | GRANTS_WEBHOOK_SECRETS_KEY=) line="$line$(fernet)" ;;
    GRANTS_JWT_SECRET= | GRANTS_SESSION_SECRET=) line="$line$(hex 32)" ;;
    *_PASSWORD=) line="$line$(hex 24)" ;;
  esac
  printf '%s\n' "$line"
done <"$root/.env.example" >"$tmp"
mv "$tmp" "$target"
trap - EXIT
echo "wrote $target ($environment)"
if [ "$environment" = production ]; then
  echo "now set the identity provider's settings in it (GRANTS_JWKS_URL, GRANTS_OIDC_*) and GRANTS_PUBLIC_URL"
fi
