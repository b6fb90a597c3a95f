#!/bin/sh
# Installs the Debian packages the tests and the lab need, only those missing.
# Runs without a terminal (CI has no standard input) and never starts the
# packaged services: keepalived or conntrackd started by their postinst would
# send adverts and sync traffic in the root namespace.
set -eu

# command -> Debian package
need="
ip:iproute2
iptables:iptables
conntrack:conntrack
ping:iputils-ping
arping:arping
tcpdump:tcpdump
protoc:protobuf-compiler
keepalived:keepalived
conntrackd:conntrackd
"

missing=""
for pair in $need; do
	cmd=${pair%%:*}
	pkg=${pair#*:}
	if ! command -v "$cmd" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$cmd" ]; then
		missing="$missing $pkg"
	fi
done

# protoc reads the well-known types (google/protobuf/timestamp.proto, ...)
# from libprotobuf-dev, which protobuf-compiler only recommends.
if [ ! -e /usr/include/google/protobuf/timestamp.proto ]; then
	missing="$missing libprotobuf-dev"
fi

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing Debian packages:$missing" >&2
	echo "install-deps: run 'sudo apt-get install$missing' (or run make as root)" >&2
	exit 1
fi

echo "install-deps: installing$missing"
policy=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod +x "$policy"
	added_policy=yes
fi
cleanup() { if [ -n "$added_policy" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq </dev/null
# shellcheck disable=SC2086 # word splitting of the package list is wanted
apt-get install -y -qq --no-install-recommends $missing </dev/null >/dev/null
