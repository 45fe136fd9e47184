# shellcheck shell=bash
# Network namespaces of a test's own, for the suites whose machines need a link of their own
# (a tap with no DHCP server, a second site, IPv6 that QEMU's user network does not carry in).
# Source it first thing, before the suite's library: the suite is run again inside the
# namespace, and every process in it and the namespaces themselves are gone when it ends.
#
#   source "$(dirname "$0")/../lib/netns.sh"
#   setup() { netns_bridge "$1" 192.0.2.1/24; }
#   netns_enter ANEMOS_CLOUD_NS anemos-cloud setup "$@"   # returns only inside the namespace
#
# Addresses are TEST-NET (192.0.2.0/24) and IPv6 documentation (2001:db8::/32) ones only.

_NETNS_ALL=()

# netns_teardown: stops the processes of every namespace netns_add made (TERM, then KILL) and
# deletes the namespaces.
netns_teardown() {
	local n p
	for n in "${_NETNS_ALL[@]}"; do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill "$p" 2>/dev/null; done
	done
	sleep 0.5
	for n in "${_NETNS_ALL[@]}"; do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
	done
}

# netns_add NAME: a new namespace with its loopback up, deleted again by netns_teardown.
netns_add() {
	ip netns add "$1" || return 1
	_NETNS_ALL+=("$1")
	ip -n "$1" link set lo up
}

# netns_bridge NS ADDRESS...: br0 in NS with the ADDRESSes (A/N; IPv6 ones without duplicate
# address detection, so they are usable at once) and tap0, a QEMU NIC's, on it; all up.
netns_bridge() {
	local ns=$1 a
	shift
	ip -n "$ns" link add br0 type bridge || return 1
	for a in "$@"; do
		case $a in
		*:*) ip -n "$ns" addr add "$a" dev br0 nodad || return 1 ;;
		*) ip -n "$ns" addr add "$a" dev br0 || return 1 ;;
		esac
	done
	ip -n "$ns" tuntap add dev tap0 mode tap && ip -n "$ns" link set tap0 master br0 &&
		ip -n "$ns" link set br0 up && ip -n "$ns" link set tap0 up
}

# netns_enter VAR PREFIX SETUP ARGS...: when $VAR is set (this is the run inside), returns.
# Otherwise makes the namespace PREFIX-PID, runs SETUP with its name (more namespaces may be
# made there with netns_add), runs this script again inside it with VAR set to its name and
# ARGS, and exits with that run's status after netns_teardown.
netns_enter() {
	local var=$1 prefix=$2 setup=$3 ns=$2-$$ rc
	shift 3
	[ -z "${!var:-}" ] || return 0
	[ "$(id -u)" -eq 0 ] || { echo "not ok - $(basename "$0") needs root for its network namespace"; exit 1; }
	trap netns_teardown EXIT
	# A TERM or Ctrl-C (run-all.sh's deadline) tears down at once: the run inside is waited
	# for in the background, so the trap need not wait for it to end.
	trap 'exit 143' TERM INT
	netns_add "$ns" || { echo "not ok - create the network namespace $ns"; exit 1; }
	"$setup" "$ns" || { echo "not ok - set up the network namespace $ns ($prefix)"; exit 1; }
	env "$var=$ns" ip netns exec "$ns" bash "$0" "$@" &
	wait $!
	rc=$?
	exit "$rc"
}
