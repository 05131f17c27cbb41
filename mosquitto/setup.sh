#!/bin/sh
# Writes Mosquitto's password files (one user per zeropower connection, passwords from .env) and installs the
# ACL next to them, all readable by the broker only.
#
#   mosquitto/setup.sh [--env-file FILE] OUTPUT_DIR
#
# The users are those the ACL names (each "user NAME" line). NAME's password is MQTT_<NAME>_PASSWORD (upper case,
# - as _), from the environment, else from FILE (a docker compose .env file); NAME-health and NAME-firehose, a
# second connection of NAME, get NAME's password. Users without a password are left out: meter, controller,
# actuator-opendtu, recorder, api and healthcheck are required. admin and sim go into operator-passwords
# (listener 1884, own client ids), every other user into passwords (listener 1883, client id = user name).
# Needs mosquitto_passwd (apt-get install mosquitto, or the eclipse-mosquitto image: compose runs this script as
# the one-shot service mosquitto-setup). POSIX sh on purpose: the eclipse-mosquitto image has busybox sh, no bash.
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

required=" meter controller actuator-opendtu recorder api healthcheck "
operator_users=" admin sim "

# The user names of the ACL, in order.
acl_users() {
	sed -n 's/^user[[:space:]]\{1,\}\([^[:space:]]\{1,\}\)[[:space:]]*$/\1/p' "$here/acl"
}

# The variable holding the password of a user: MQTT_<NAME>_PASSWORD, where NAME-health and NAME-firehose are NAME.
variable_of() {
	case "$1" in
	*-health | *-firehose) owner="${1%-*}" ;;
	*) owner="$1" ;;
	esac
	printf 'MQTT_%s_PASSWORD' "$(printf '%s' "$owner" | sed 'y/abcdefghijklmnopqrstuvwxyz-/ABCDEFGHIJKLMNOPQRSTUVWXYZ_/')"
}

mkdir -p "$output_dir"
umask 077
plain="$(mktemp "$output_dir/.passwords.XXXXXX")"
operator_plain="$(mktemp "$output_dir/.operator-passwords.XXXXXX")"
trap 'rm -f "$plain" "$operator_plain"' EXIT
missing=""
users=""
operators=""
for user in $(acl_users); do
	case "$user" in
	*[!a-z0-9-]* | -*)
		echo "$0: user $user in $here/acl: use only a-z, 0-9 and -" >&2
		exit 1
		;;
	esac
	case " $users $operators " in
	*" $user "*) continue ;; # a second block for the same user
	esac
	variable="$(variable_of "$user")"
	password="$(password_of "$variable")"
	if [ -z "$password" ]; then
		case "$required" in
		*" $user "*) missing="$missing $variable" ;;
		esac
		continue
	fi
	case "$password" in
	*:* | *"
"*)
		echo "$0: $variable must not contain ':' or a line break" >&2
		exit 1
		;;
	esac
	case "$operator_users" in
	*" $user "*)
		printf '%s:%s\n' "$user" "$password" >>"$operator_plain"
		operators="$operators $user"
		;;
	*)
		printf '%s:%s\n' "$user" "$password" >>"$plain"
		users="$users $user"
		;;
	esac
done
if [ -n "$missing" ]; then
	echo "$0: set$missing (e.g. in .env)" >&2
	exit 1
fi

# Hash in place (no password on a command line; mosquitto_passwd refuses an empty file), then replace the old
# files atomically.
mosquitto_passwd -U "$plain"
if [ -s "$operator_plain" ]; then
	mosquitto_passwd -U "$operator_plain"
fi
mv -f "$plain" "$output_dir/passwords"
mv -f "$operator_plain" "$output_dir/operator-passwords"
trap - EXIT
cp "$here/acl" "$output_dir/.acl.tmp"
mv -f "$output_dir/.acl.tmp" "$output_dir/acl"
chmod 0600 "$output_dir/passwords" "$output_dir/operator-passwords" "$output_dir/acl"
# The broker runs as user mosquitto (in the image and in the Debian package) and must read them.
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
	chown mosquitto:mosquitto "$output_dir/passwords" "$output_dir/operator-passwords" "$output_dir/acl"
fi
echo "wrote $output_dir/passwords (users:$users), $output_dir/operator-passwords (users:${operators:- none}) and $output_dir/acl"
