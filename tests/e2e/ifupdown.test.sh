#!/usr/bin/env bash
# cost: 15
# run-in: build
# The /etc/network/interfaces an install writes for a system without systemd-networkd, read
# and carried out by Debian's own ifupdown (ifup, ifdown) on a NIC in a network namespace of
# the test's own (a veth with the host's MAC): the file comes from anemos-agent --network
# ifupdown, of install.network as anemosd sends it and of anemos.net as kexec.sh writes it.
# Checked: ifup finds the NIC by its MAC (auto mac/.../=anemos0), sets every address of
# both families, routes the gateways (an IPv4 one outside the /32 and a link-local IPv6 one,
# on the link), takes router advertisements or not as the network says, and ifdown removes
# it all again. No QEMU; root for the namespace. Hook scripts stay off (--no-scripts: the
# host's resolvconf is not touched).
set -u
source "$(dirname "$0")/../lib/netns.sh"
netns_enter ANEMOS_IFUPDOWN_NS anemos-ifupdown true "$@"
source "$(dirname "$0")/../integration/lib.sh"
AGENT=$BUILD/anemos-agent
[ -x "$AGENT" ] || { fail "anemos-agent built" "$AGENT missing"; exit 1; }
command -v ifup >/dev/null || { fail "ifupdown installed" "ifup missing (deploy/install-deps.sh test installs it)"; exit 1; }
MAC=52:54:00:1f:00:07
# nic NAME: a veth NAME with the host's MAC, its peer up beside it (a link: carrier); the
# last one goes (two NICs of one MAC would both match the file's mac/.../ pattern).
NIC=""
nic() {
	[ -z "$NIC" ] || ip link del "$NIC" 2>/dev/null
	NIC=$1
	ip link add "$1" address "$MAC" type veth peer name "$1-peer" && ip link set "$1-peer" up
}
# ifupdown_run FILE: ifup -a with FILE (its own state folder, no hook scripts); output in $WORK/ifup.log.
ifupdown_run() {
	timeout 60 ifup -v -a -i "$1" --state-dir="$WORK/state" --no-scripts >"$WORK/ifup.log" 2>&1
}
# seen NIC: its global addresses (sorted), the default routes of both families, and its RA sysctls.
seen() {
	printf '%s | %s | %s | ra %s autoconf %s' \
		"$(ip -o addr show dev "$1" scope global | awk '{ print $4 }' | sort | tr '\n' ' ' | sed 's/ $//')" \
		"$(ip -4 route show default dev "$1" | tr -s ' ' | sed 's/ $//')" \
		"$(ip -6 route show default dev "$1" | awk '{ print $1, $2, $3 }')" \
		"$(cat "/proc/sys/net/ipv6/conf/$1/accept_ra")" "$(cat "/proc/sys/net/ipv6/conf/$1/autoconf")"
}
mkdir -p "$WORK/state"

# 1. install.network as an operator sets it on anemosd: dual stack, a /32 whose gateway is
#    outside it, a /128 with a link-local gateway, one more address of each family, IPv6
#    router advertisements off.
nic ens3
printf '%s' "{\"mode\": \"static\", \"address\": \"203.0.113.9/32\", \"addresses\": [\"2001:db8::50/128\",
	\"198.51.100.7/24\", \"2001:db8:1::7/64\"], \"gateway\": \"203.0.113.1\", \"gateway6\": \"fe80::1\",
	\"dns\": [\"203.0.113.53\"], \"ipv6\": \"off\", \"mac\": \"$MAC\"}" |
	"$AGENT" --network ifupdown >"$WORK/static" || { fail "anemos-agent --network ifupdown renders a static network"; exit 1; }
if ifupdown_run "$WORK/static"; then
	ok "ifup -a takes the static file"
else
	fail "ifup -a takes the static file" "$(tail -n 5 "$WORK/ifup.log")"
fi
expect_match "... finding the NIC by its MAC (named anemos0 for ifupdown)" 'anemos0' "$(cat "$WORK/state/ifstate"* 2>/dev/null)"
expect_eq "... every address, the gateway outside the /32 and the link-local one routed, no RAs" \
	"198.51.100.7/24 2001:db8:1::7/64 2001:db8::50/128 203.0.113.9/32 | default via 203.0.113.1 onlink | default via fe80::1 | ra 0 autoconf 0" \
	"$(seen ens3)"
timeout 60 ifdown -a -i "$WORK/static" --state-dir="$WORK/state" --no-scripts >"$WORK/ifdown.log" 2>&1
expect_eq "ifdown -a removes it all again" " |  |  | ra 0 autoconf 0" "$(seen ens3)"

# 2. anemos.net as kexec.sh carries it over (read back by the agent as the install does):
#    static IPv4 and IPv6 with SLAAC beside them (auto6).
nic eth1
printf 'BOOT_IMAGE=vmlinuz anemos.mode=install anemos.mac=%s anemos.net=static,192.0.2.7/24+2001:db8:2::7/64,192.0.2.1+2001:db8:2::1,192.0.2.53+2001:db8::53,auto6\n' \
	"$MAC" >"$WORK/cmdline"
"$AGENT" --network ifupdown --cmdline "$WORK/cmdline" >"$WORK/carried" ||
	{ fail "anemos-agent --network ifupdown renders a carried network"; exit 1; }
if ifupdown_run "$WORK/carried"; then
	ok "ifup -a takes the carried network's file"
else
	fail "ifup -a takes the carried network's file" "$(tail -n 5 "$WORK/ifup.log")"
fi
expect_eq "... both addresses and gateways, router advertisements taken (auto6)" \
	"192.0.2.7/24 2001:db8:2::7/64 | default via 192.0.2.1 onlink | default via 2001:db8:2::1 | ra 2 autoconf 1" \
	"$(seen eth1)"
timeout 60 ifdown -a -i "$WORK/carried" --state-dir="$WORK/state" --no-scripts >"$WORK/ifdown.log" 2>&1
check "ifdown -a removes its addresses" test -z "$(ip -o addr show dev eth1 scope global)"
[ "$_failures" -eq 0 ]
