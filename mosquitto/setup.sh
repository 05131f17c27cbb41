#!/bin/sh
# Writes Mosquitto's password file (one user per zeropower service, passwords from .env) and installs the ACL
# next to it, both readable by the broker only.
#
#   mosquitto/setup.sh [--env-file FILE] OUTPUT_DIR
#
# Passwords come from the environment (MQTT_<USER>_PASSWORD), else from FILE (a docker compose .env file).
# Users whose password is empty are left out: meter, controller, actuator-opendtu, recorder and healthcheck
# are required; sim, actuator-pwm, api, opendtu and admin are optional. Needs mosquitto_passwd (apt-get install mosquitto,
# or the eclipse-mosquitto image: compose runs this script as the one-shot service mosquitto-setup).
# POSIX sh on purpose: the eclipse-mosquitto image has busybox sh, no bash.
set -eu

usage() {
	echo "usage: $0 [--env-file FILE] OUTPUT_DIR" >&2
	exit 2
}

env_file=""
while [ $# -gt 0 ]; do
	case "$1" in
	--env-file)
		[ $# -ge 2 ] || usage
		env_file="$2"
		shift 2
		;;
	-h | --help) usage ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || usage
output_dir="$1"
here="$(cd "$(dirname "$0")" && pwd)"

# The value of NAME in the env file (last assignment wins; optional quotes removed), or nothing.
from_env_file() {
	[ -n "$env_file" ] || return 0
	sed -n "s/^[[:space:]]*\(export[[:space:]]\{1,\}\)\{0,1\}$1=//p" "$env_file" | tail -n 1 |
		sed -e 's/^"\(.*\)"[[:space:]]*$/\1/' -e "s/^'\(.*\)'[[:space:]]*\$/\1/"
}

# The password of a user: the environment wins over the env file, as with docker compose.
password_of() {
	variable="$1"
	eval "value=\${$variable:-}"
	if [ -z "$value" ]; then
		value="$(from_env_file "$variable")"
	fi
	printf '%s' "$value"
}

if [ -n "$env_file" ] && [ ! -r "$env_file" ]; then
	echo "$0: cannot read $env_file" >&2
	exit 1
fi
command -v mosquitto_passwd >/dev/null 2>&1 || {
	echo "$0: mosquitto_passwd not found (apt-get install mosquitto)" >&2
	exit 1
}

mkdir -p "$output_dir"
umask 077
plain="$(mktemp "$output_dir/.passwords.XXXXXX")"
trap 'rm -f "$plain"' EXIT
missing=""
users=""
for entry in meter:MQTT_METER_PASSWORD:required \
	controller:MQTT_CONTROLLER_PASSWORD:required \
	actuator-opendtu:MQTT_ACTUATOR_OPENDTU_PASSWORD:required \
	recorder:MQTT_RECORDER_PASSWORD:required \
	healthcheck:MQTT_HEALTHCHECK_PASSWORD:required \
	sim:MQTT_SIM_PASSWORD:optional \
	actuator-pwm:MQTT_ACTUATOR_PWM_PASSWORD:optional \
	api:MQTT_API_PASSWORD:required \
	opendtu:MQTT_OPENDTU_PASSWORD:optional \
	admin:MQTT_ADMIN_PASSWORD:optional; do
	user="${entry%%:*}"
	rest="${entry#*:}"
	variable="${rest%%:*}"
	need="${rest#*:}"
	password="$(password_of "$variable")"
	if [ -z "$password" ]; then
		[ "$need" = required ] && missing="$missing $variable"
		continue
	fi
	case "$password" in
	*:* | *"
"*)
		echo "$0: $variable must not contain ':' or a line break" >&2
		exit 1
		;;
	esac
	printf '%s:%s\n' "$user" "$password" >>"$plain"
	users="$users $user"
done
if [ -n "$missing" ]; then
	echo "$0: set$missing (e.g. in .env)" >&2
	exit 1
fi

# Hash in place (no password on a command line), then replace the old files atomically.
mosquitto_passwd -U "$plain"
mv -f "$plain" "$output_dir/passwords"
trap - EXIT
cp "$here/acl" "$output_dir/.acl.tmp"
mv -f "$output_dir/.acl.tmp" "$output_dir/acl"
chmod 0600 "$output_dir/passwords" "$output_dir/acl"
# The broker runs as user mosquitto (in the image and in the Debian package) and must read both files.
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
	chown mosquitto:mosquitto "$output_dir/passwords" "$output_dir/acl"
fi
echo "wrote $output_dir/passwords (users:$users) and $output_dir/acl"
