#!/bin/sh
# The broker users of the platform, each with exactly the permissions deploy/rabbitmq/permissions
# gives its role: one user per service, the integrators' user and, where KEDA runs, KEDA's. Run it
# once the broker is up, and again whenever you like: it creates what is missing and resets every
# password, tag and permission to what is asked, so a second run changes nothing.
#
# docker compose runs it (the one-shot service rabbitmq-users) before any service starts. By hand:
#   RABBITMQ_GUEST=delete RABBITMQ_APPLICATIONS_PASSWORD=... (all of them) deploy/rabbitmq/users.sh
#
# Environment (nothing has a default that is a secret):
#   RABBITMQ_APPLICATIONS_PASSWORD, RABBITMQ_SCORING_PASSWORD, RABBITMQ_DISBURSEMENT_PASSWORD,
#   RABBITMQ_NOTIFICATIONS_PASSWORD   each service's password (required)
#   RABBITMQ_INTEGRATOR_PASSWORD      the integrators' user's password (required)
#   RABBITMQ_KEDA_PASSWORD            KEDA's, only where KEDA runs (the user is made when it is set)
#   RABBITMQ_ADMIN_PASSWORD           the administrator's, "admin" (made, or its password reset, when set)
#   RABBITMQ_GUEST                    "delete" (remove the guest user if it exists) or "keep" (required:
#                                     a run against a shared broker must not remove it by accident)
#   GRANTS_PREFIX                     the platform's name prefix (default grants)
#   RABBITMQ_VHOST                    the virtual host (default /)
#   RABBITMQ_USERNAME_PREFIX          put before every user name (default none: the users are
#                                     applications, scoring, disbursement, notifications, integrator, keda)
#   RABBITMQCTL                       the command to run (default rabbitmqctl; e.g.
#                                     "rabbitmqctl --node rabbit@rabbitmq" from another container)
#
# Passwords go to rabbitmqctl on its standard input, never on a command line.
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
rules="${GRANTS_BROKER_PERMISSIONS:-$here/permissions}"
prefix="${GRANTS_PREFIX:-grants}"
vhost="${RABBITMQ_VHOST:-/}"
names="${RABBITMQ_USERNAME_PREFIX:-}"
rabbitmqctl="${RABBITMQCTL:-rabbitmqctl}"
guest="${RABBITMQ_GUEST:?set RABBITMQ_GUEST to delete (remove the guest user) or keep}"
services="applications scoring disbursement notifications"

case "$prefix" in
  [a-z]*) ;;
  *) echo "GRANTS_PREFIX must start with a lower-case letter" >&2; exit 2 ;;
esac
case "$prefix$names" in
  *[!a-z0-9_-]*) echo "GRANTS_PREFIX and RABBITMQ_USERNAME_PREFIX may hold only a-z, 0-9, _ and -" >&2; exit 2 ;;
esac
case "$guest" in
  delete | keep) ;;
  *) echo "RABBITMQ_GUEST must be delete or keep" >&2; exit 2 ;;
esac
test -r "$rules" || { echo "no permissions file at $rules" >&2; exit 2; }

# The value of the variable named $1, empty if unset.
value_of() { eval "printf '%s' \"\${$1:-}\""; }
password_variable() { printf 'RABBITMQ_%s_PASSWORD' "$(printf '%s' "$1" | tr '[:lower:]' '[:upper:]')"; }

# Every password is checked before anything changes, so a missing one leaves the broker as it was.
missing=""
for user in $services integrator; do
  variable=$(password_variable "$user")
  test -n "$(value_of "$variable")" || missing="$missing $variable"
done
test -z "$missing" || { echo "set$missing" >&2; exit 2; }

# Word splitting of $rabbitmqctl is wanted (a command and its options); stdin closed unless a
# password is being given.
ctl() { $rabbitmqctl --quiet "$@" </dev/null; }

# Each rabbitmqctl call starts an Erlang VM (a second or two): the users are listed once.
existing=$(ctl list_users --no-table-headers | cut -f1)
user_exists() { printf '%s\n' "$existing" | grep -Fqx -- "$1"; }

# apply USER PASSWORD CONFIGURE WRITE READ [TAG]
apply() {
  if user_exists "$1"; then
    printf '%s\n' "$2" | $rabbitmqctl --quiet change_password "$1" >/dev/null
    # No tag (no management UI) unless given, whatever the user had before.
    if [ -n "${6:-}" ]; then ctl set_user_tags "$1" "$6" >/dev/null; else ctl set_user_tags "$1" >/dev/null; fi
  else
    printf '%s\n' "$2" | $rabbitmqctl --quiet add_user "$1" >/dev/null
    test -z "${6:-}" || ctl set_user_tags "$1" "$6" >/dev/null
  fi
  ctl set_permissions --vhost "$vhost" "$1" "$3" "$4" "$5" >/dev/null
  echo "user $1: configure $3  write $4  read $5"
}

if ! ctl list_vhosts --no-table-headers | grep -Fqx -- "$vhost"; then
  ctl add_vhost "$vhost" >/dev/null
fi

grep -v '^[[:space:]]*#' "$rules" | grep -v '^[[:space:]]*$' | while read -r role configure write read extra; do
  if [ -z "$read" ] || [ -n "$extra" ]; then
    echo "$rules: a line needs four columns: $role" >&2
    exit 2
  fi
  configure=$(printf '%s' "$configure" | sed "s/{prefix}/$prefix/g")
  write=$(printf '%s' "$write" | sed "s/{prefix}/$prefix/g")
  read=$(printf '%s' "$read" | sed "s/{prefix}/$prefix/g")
  case "$role" in
    service)
      for service in $services; do
        apply "$names$service" "$(value_of "$(password_variable "$service")")" \
          "$(printf '%s' "$configure" | sed "s/{service}/$service/g")" \
          "$(printf '%s' "$write" | sed "s/{service}/$service/g")" \
          "$(printf '%s' "$read" | sed "s/{service}/$service/g")"
      done
      ;;
    integrator)
      apply "${names}integrator" "$RABBITMQ_INTEGRATOR_PASSWORD" "$configure" "$write" "$read"
      ;;
    keda)
      if test -n "${RABBITMQ_KEDA_PASSWORD:-}"; then
        apply "${names}keda" "$RABBITMQ_KEDA_PASSWORD" "$configure" "$write" "$read"
      fi
      ;;
    admin)
      if test -n "${RABBITMQ_ADMIN_PASSWORD:-}"; then
        apply "${names}admin" "$RABBITMQ_ADMIN_PASSWORD" "$configure" "$write" "$read" administrator
      fi
      ;;
    *)
      echo "$rules: unknown role $role" >&2; exit 2
      ;;
  esac
done

if [ "$guest" = delete ] && user_exists guest; then
  ctl delete_user guest >/dev/null
  echo "user guest: deleted"
fi
