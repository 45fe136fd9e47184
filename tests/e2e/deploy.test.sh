#!/usr/bin/env bash
# cost: 600
# run-in: build
# A cloud host deployed over SSH with no anemosd at all (anemosctl deploy --ssh). The suite runs
# in a network namespace of its own: br0 there is 192.0.2.2/24, 2001:db8::2/64 and the
# link-local fe80::2, with the VM's tap on it, and dnsmasq there answers DHCPv4 (192.0.2.50
# for the VM's MAC) and DHCPv6 (2001:db8::150 for the DUID made of the VM's MAC; no router
# advertisements). The VM runs the project's `cloud` image from its own disk with its
# network as clouds give it: IPv4 by DHCP, and beside it the IPv6 /128 2001:db8::50 with the
# link-local gateway fe80::2 written by hand and a /128 by DHCPv6. Its disk is prepared
# once through anemosd (on QEMU's user network, set to the same ranges), which is then
# stopped. Then, with no anemosd running and the VM on the tap:
#   - twice a deploy from a copy of the mirror signed by another key, with --method
#     bootloader (the one-shot boot entry) and with --method kexec (the kernel and initramfs
#     downloaded by the host from --boot-url, not sent): each fails before the
#     disk is touched, anemosctl says so naming the signature, the operator's key logs into
#     the Anemos environment (same host key), which asked DHCPv6 for its address again and
#     whose log names the signature, and a reboot brings the old system back;
#   - anemosctl deploy --ssh root@[2001:db8::50]:22 RECIPE_DIR (the `cloud` recipe: tiny plus
#     dropbear, so that the new system answers SSH) --mirror https://[2001:db8::2]:PORT (a
#     signed local test mirror, reached over IPv6 alone: the /128 and the link-local gateway;
#     over TLS with a certificate of the test's own CA, given with --mirror-ca)
#     -> the target's checks, kexec into the Anemos environment with the payload appended
#     -> dropbear there answers with the host's own host key -> the recipe is built on the
#     disk from the mirror -> the VM reboots from its disk into the new system.
# Checked: anemosctl printed the phases and "deployed in N s"; every SSH login (the
# initramfs's, the new system's; over IPv4 and over IPv6) passed StrictHostKeyChecking
# against the host key recorded before the deploy; kexec.sh carried DHCP, DHCPv6 and the
# static IPv6 side over (anemos.net=dhcp,...,dhcp6); the new system asked DHCP and DHCPv6
# again and answers at all three addresses, has the host key, the name given, the root password hash from a file (not on any
# command line), the operator's key, its install log naming this deploy, and none of the old
# system's files. The VM has 384 MiB, the floor the README states.
# DEPLOY_SCENARIO=image (tests/slow/deploy-image.test.sh) deploys the prebuilt `cloud` image
# by its URL instead of the recipe (--sha256; the host streams it, nothing is built), and
# stops there; DEPLOY_SCENARIO=memory (tests/slow/deploy-memory.test.sh) deploys the recipe
# into ever smaller machines and prints the smallest that passed.
set -u
source "$(dirname "$0")/../lib/netns.sh"
# mirror_packages: what the test mirror carries: the kernel, busybox and the cloud recipe's.
mirror_packages() {
	echo linux-image-amd64 busybox-static
	sh -c '. "$1" >/dev/null 2>&1; echo $packages' sh "$ROOT/images/cloud/recipe"
}
deploy_net() {
	# The mirror's packages first, out here: apt-get download may need the package registry,
	# which nothing in the namespace reaches; inside, mirror_build finds them in its cache.
	# shellcheck disable=SC2046 # the package list, one word a package
	( source "$(dirname "$0")/../integration/lib.sh" && source "$ROOT/tests/lib/mirror.sh" &&
		mirror_build "$WORK/prefetch" $(mirror_packages) ) ||
		{ echo "not ok - the test mirror's packages are in its cache (apt-get download)"; return 1; }
	netns_bridge "$1" 192.0.2.2/24 2001:db8::2/64 fe80::2/64
}
netns_enter ANEMOS_DEPLOY_NS anemos-deploy deploy_net "$@"
source "$(dirname "$0")/../integration/lib.sh"
source "$ROOT/tests/lib/mirror.sh"
BOOT=$ROOT/build/boot
IMAGES=$ROOT/build/images
for f in "$BOOT/vmlinuz" "$BOOT/initramfs.img" "$IMAGES/cloud.tar.zst"; do
	[ -s "$f" ] || { fail "deploy test prerequisites" "$f missing (make initramfs; make images IMAGES='tiny cloud')"; exit 1; }
done
for f in /usr/bin/qemu-system-x86_64 /usr/bin/ssh-keyscan /usr/bin/gpgv; do
	[ -e "$f" ] || { fail "QEMU, OpenSSH and gpgv installed" "$f missing (deploy/install-deps.sh test installs them)"; exit 1; }
done
MEM_MIB=384   # the memory floor the README states: a 384 MiB machine
HOST4=192.0.2.2   # br0 here; on QEMU's user network (the disk's preparation), its host alias
ADDR=192.0.2.50
# IPv6 beside it, as clouds give it: a /128 and a link-local gateway (br0's fe80::2).
ADDR6=2001:db8::50/128
IP6=${ADDR6%/*}
GW6=fe80::2
HOST6=2001:db8::2
DNS6=2001:db8::53   # a name server written by hand beside DHCP's (nothing answers there)
# DHCPv6's address for the VM: dnsmasq gives it to the DUID-LL of its MAC (type 3, Ethernet),
# which dhcpcd sends in the old system, the Anemos environment and the new one alike.
DHCP6=2001:db8::150

# The mirror: what the cloud recipe unpacks, signed (its packages were fetched before the
# namespace).
# shellcheck disable=SC2046 # the package list, one word a package
mirror_build "$WORK/mirror" $(mirror_packages) || { fail "the test mirror builds"; exit 1; }
MIRROR_LISTEN="$HOST4 $HOST6" mirror_serve "$WORK/mirror" || { fail "the test mirror serves"; exit 1; }
# The deploy builds from the mirror over IPv6 alone (through the /128 and the link-local
# gateway) and over https://: the same folder served with a certificate for $HOST6 that a CA
# of this test's own signed, which the deploy trusts with --mirror-ca (Debian's CAs, which
# the initramfs carries, do not know it).
TLS_PID=""
tls_mirror() {
	local port _
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=Anemos deploy test CA" \
		-addext basicConstraints=critical,CA:TRUE -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$HOST6" \
		-keyout "$WORK/tls.key" -out "$WORK/tls.csr" 2>/dev/null &&
	openssl x509 -req -in "$WORK/tls.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial -days 2 \
		-extfile <(printf 'subjectAltName=IP:%s\n' "$HOST6") -out "$WORK/tls.pem" 2>/dev/null || return 1
	port=$(free_port)
	python3 -c '
import functools, http.server, socket, ssl, sys
root, port, cert, key, addr = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = Server((addr, port), functools.partial(Handler, directory=root))
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()' "$WORK/mirror" "$port" "$WORK/tls.pem" "$WORK/tls.key" "$HOST6" 2>>"$WORK/tls-mirror.log" &
	TLS_PID=$!
	TLS_MIRROR=https://[$HOST6]:$port/debian
	for _ in $(seq 1 50); do
		curl -fsS --cacert "$WORK/ca.pem" -o /dev/null "$TLS_MIRROR/dists/bookworm/Release" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}
tls_mirror || { fail "the https:// test mirror serves" "$(tail -3 "$WORK/tls-mirror.log" 2>/dev/null)"; exit 1; }
check "... and curl without its CA refuses it (Debian's CAs do not know the test's)" \
	test "$(curl -sS -o /dev/null -w '%{http_code}' "$TLS_MIRROR/dists/bookworm/Release" 2>/dev/null)" = 000
MIRROR=$TLS_MIRROR
# The same packages under a Release signed by another key (the recipe's keyring refuses it).
mkdir -p "$WORK/other/debian" && cp -a "$WORK/mirror/debian/dists" "$WORK/other/debian/"
mirror_sign_with_other_key "$WORK/other" || { fail "the other-key mirror signs"; exit 1; }
mv "$WORK/other/debian" "$WORK/mirror/other-key" && ln -s ../debian/pool "$WORK/mirror/other-key/pool"
BAD_MIRROR=http://$HOST4:$MIRROR_PORT/other-key
MIRROR_RE=$(sed 's/[].[]/\\&/g' <<<"$MIRROR")
cp -a "$ROOT/images/cloud" "$WORK/recipe"
cp "$WORK/mirror/keyring.gpg" "$WORK/recipe/mirror.gpg"
printf '\n# The key that signs the test mirror.\nkeyring=mirror.gpg\n' >>"$WORK/recipe/recipe"

ssh-keygen -q -t ed25519 -N '' -C anemos-deploy-test -f "$WORK/key"
KEY=$(cat "$WORK/key.pub")
# Every login checks the host key recorded before the deploy (known_hosts), never accepts a new one.
SSHO=(-i "$WORK/key" -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$WORK/known_hosts"
	-o HostKeyAlgorithms=ssh-ed25519 -o LogLevel=ERROR -o ConnectTimeout=5 -o BatchMode=yes)
on() { ssh "${SSHO[@]}" "root@$ADDR" "$1"; }
on6() { ssh "${SSHO[@]}" "root@$IP6" "$1"; }
ond6() { ssh "${SSHO[@]}" "root@$DHCP6" "$1"; }
QEMU_PID="" DNSMASQ_PID=""
dnsmasq_stop() { [ -n "$DNSMASQ_PID" ] && kill "$DNSMASQ_PID" 2>/dev/null; DNSMASQ_PID=""; }
trap 'stop_qemu; dnsmasq_stop; [ -n "$TLS_PID" ] && kill "$TLS_PID" 2>/dev/null; mirror_stop; _cleanup' EXIT

# vm NAME DISK [pxe]: a BIOS VM. With pxe it boots from anemosd first on QEMU's user network
# (192.0.2.0/24 and 2001:db8::/64, the host alias $HOST4); else from its disk (its NIC has
# no option ROM) on the tap, where dnsmasq and its IPv6 /128 live.
vm() {
	local name=$1 disk=$2 pxe=${3:-}
	local args=(-accel tcg -m "$MEM_MIB" -smp 2 -display none -serial "file:$WORK/console-$name.log"
		-drive "file=$disk,if=none,id=d0" -device "virtio-blk-pci,drive=d0,serial=DEPLOY-DISK")
	if [ -n "$pxe" ]; then
		args+=(-netdev "user,id=n0,net=192.0.2.0/24,host=$HOST4,dns=192.0.2.3,dhcpstart=192.0.2.15,ipv6-net=2001:db8::/64,ipv6-host=$HOST6,bootfile=http://$HOST4:$PORT/boot.ipxe"
			-device "virtio-net-pci,netdev=n0,mac=$MAC" -boot n)
	else
		args+=(-netdev "tap,id=n0,ifname=tap0,script=no,downscript=no"
			-device "virtio-net-pci,netdev=n0,mac=$MAC,romfile=" -boot c)
	fi
	: >>"$WORK/console-$name.log"
	timeout 1800 qemu-system-x86_64 "${args[@]}" 2>>"$WORK/qemu-$name.err" &
	QEMU_PID=$!
}
# wait_for TEST: until TEST succeeds over SSH (bounded: 300 s), accepting the recorded key only.
wait_for() {
	local _
	for _ in $(seq 1 150); do
		on "$1" >/dev/null 2>&1 && return 0
		kill -0 "$QEMU_PID" 2>/dev/null || return 1
		sleep 2
	done
	return 1
}

# ---- the cloud VM's disk: `cloud` installed through anemosd, DHCP, DHCPv6 and static IPv6 beside ----
MAC=52:54:00:de:00:01
PORT=$(free_port)
anemosd_start --boot-dir "$BOOT" --public-url "http://$HOST4:$PORT" \
	--kernel-args "console=tty0 console=ttyS0,115200n8 panic=-1" || exit 1
mkdir -p "$DATA/images/cloud" && cp "$IMAGES/cloud.tar.zst" "$DATA/images/cloud/"
api POST /api/v1/images '{"name":"cloud","file":"cloud.tar.zst"}' >/dev/null
api POST /api/v1/hosts "{\"mac\":\"$MAC\",\"hostname\":\"oldname\",\"next_boot\":\"install\",\"image\":\"cloud\",\"once\":true,
	\"ssh_authorized_keys\":[\"$KEY\"],\"install\":{\"network\":{\"mode\":\"dhcp\",
	\"addresses\":[\"$ADDR6\"],\"gateway6\":\"$GW6\",\"dns\":[\"$DNS6\"],\"ipv6\":\"dhcp\"}}}" >/dev/null
qemu-img create -q -f qcow2 "$WORK/disk.qcow2" 4G
T0=$(now)
vm prep "$WORK/disk.qcow2" pxe
deployed=""
for _ in $(seq 1 400); do
	[ "$(host_field "$MAC" .status 2>/dev/null)" = deployed ] && { deployed=1; break; }
	kill -0 "$QEMU_PID" 2>/dev/null || break
	sleep 1
done
if [ -n "$deployed" ]; then
	ok "the cloud VM's disk: cloud installed through anemosd and its system phoned home in $(secs "$T0" "$(now)") s"
else
	fail "prepare the cloud VM's disk" "status $(host_field "$MAC" .status)"
	console_tail prep
	exit 1
fi
sleep 2   # its phone-home is the last thing it does; let its writes settle
stop_qemu
anemosd_stop
check "no anemosd runs from here on" test -z "$ANEMOSD_PID"

# ---- on the tap: DHCPv4 and DHCPv6 from dnsmasq, the static IPv6 beside, no anemosd ----
getent passwd dnsmasq >/dev/null || { fail "the user dnsmasq exists" "package dnsmasq-base creates it"; exit 1; }
dnsmasq --keep-in-foreground --port=0 --no-resolv --no-hosts --interface=br0 --bind-interfaces \
	--dhcp-range=$ADDR,$ADDR,255.255.255.0,1h --dhcp-host="$MAC,$ADDR" --dhcp-option=option:router,$HOST4 \
	--dhcp-option=option:dns-server,192.0.2.3 --dhcp-leasefile="$WORK/leases" --pid-file= \
	--dhcp-range=2001:db8::100,2001:db8::1ff,64,1h --dhcp-host="id:00:03:00:01:$MAC,[$DHCP6]" \
	--user=dnsmasq --group=nogroup --log-facility=- 2>"$WORK/dnsmasq.log" &
DNSMASQ_PID=$!
# acks: how many DHCPACKs dnsmasq has sent the VM so far.
acks() { grep -c "DHCPACK(br0) $ADDR $MAC" "$WORK/dnsmasq.log"; }
# replies6: how many DHCPv6 replies dnsmasq has sent the VM's DUID so far.
replies6() { grep -c "DHCPREPLY(br0) $DHCP6 00:03:00:01:$MAC" "$WORK/dnsmasq.log"; }
# addrs6: the global IPv6 addresses (sorted) and the default route, over CONNECTION (on, on6, ond6).
addrs6() {
	"$1" "ip -6 -o addr show scope global | awk '{ print \$4 }' | sort; ip -6 route show default | awk '{ print \$1, \$2, \$3 }'" |
		tr '\n' ' ' | sed 's/ $//'
}
vm deploy "$WORK/disk.qcow2"
# The first key the old system shows (at either address) is the one every later login must see again.
for _ in $(seq 1 90); do
	ssh-keyscan -t ed25519 "$ADDR" "$IP6" 2>/dev/null >"$WORK/known_hosts"
	[ "$(wc -l <"$WORK/known_hosts")" -eq 2 ] && break
	kill -0 "$QEMU_PID" 2>/dev/null || break
	sleep 2
done
if [ "$(wc -l <"$WORK/known_hosts")" -eq 2 ] && wait_for 'cat /etc/anemos-cloud-image'; then
	ok "the cloud VM boots from its disk and answers SSH at $ADDR (by DHCP) and at $IP6 (no router advertisement here)"
else
	fail "the cloud VM boots from its disk at its static addresses" "$(cat "$WORK/known_hosts")"; console_tail deploy; exit 1
fi
# The old system asks DHCPv6 in the background: its lease may come a little after SSH.
wait_for "ip -6 addr show | grep -q '$DHCP6/128'" >/dev/null
# Its key at the DHCPv6 address is the one at the others; every later login there checks it.
expect_eq "the old system answers SSH at its DHCPv6 address with the same host key" \
	"$(head -n 1 "$WORK/known_hosts" | cut -d' ' -f2-)" "$(ssh-keyscan -t ed25519 "$DHCP6" 2>/dev/null | cut -d' ' -f2-)"
ssh-keyscan -t ed25519 "$DHCP6" 2>/dev/null >>"$WORK/known_hosts"
expect_eq "anemosd's install gave the old system its IPv6 /128, link-local gateway and DHCPv6, no SLAAC" \
	"$DHCP6/128 $ADDR6 default via $GW6" "$(addrs6 on6)"
expect_eq "... its DHCPv6 address from dnsmasq, asked with the DUID of its MAC (ipv6=dhcp)" "yes dhcp" \
	"$([ "$(replies6)" -ge 1 ] && echo yes) $(on "sed -n 's/^ipv6=//p' /etc/anemos/network")"
expect_eq "... and its IPv4 address by DHCP: dnsmasq's lease, mode=dhcp in /etc/anemos/network" "1 dhcp" \
	"$(acks) $(on "sed -n 's/^mode=//p' /etc/anemos/network")"
on 'echo old >/root/old-system-marker; sync' >/dev/null 2>&1
OLD_KEY=$(head -n 1 "$WORK/known_hosts" | cut -d' ' -f2-)
HASH='$6$anemosdeploy$0vQmVPGSq/2d0jYJ0uC5jYbUfMQfr0PqDXa1pYkG1Vf8LdpGzSo3K7c.dk0M2dWv4xMNVb8fHfNmSR5H/7sQx.'
printf '%s\n' "$HASH" >"$WORK/root.hash"
export ANEMOS_SSH="ssh ${SSHO[*]}"
unset ANEMOS_URL ANEMOS_TOKEN
# bad_deploy METHOD: a deploy from the mirror signed by another key fails before the disk is
# touched (the agent checks the signature first) and says so; the operator's key logs into the
# Anemos environment (same host key), whose log names the signature; a reboot from there
# starts the old system again, its files all there.
bad_deploy() {
	local method=$1 out rc
	shift
	out=$(timeout 900 "$ANEMOSCTL" deploy --ssh "root@$ADDR" "$WORK/recipe" --method "$method" "$@" \
		--mirror "$BAD_MIRROR" --ssh-key "$WORK/key.pub" --kernel-args "console=ttyS0,115200n8 panic=-1" 2>&1); rc=$?
	echo "$out" | sed 's/^/# /'
	expect_eq "$method, a mirror signed by another key: the deploy fails" 1 "$rc"
	if [ $# -gt 0 ]; then
		expect_match "... with $*: the host downloaded both files from there and checked them" \
			"downloading the kernel from ${BOOT_URL}/vmlinuz.*kernel verified.*downloading the initrd from ${BOOT_URL}/initramfs.img.*initrd verified" \
			"$(tr '\n' ' ' <<<"$out")"
	fi
	expect_match "... naming the signature, that the disk was not touched, and what to do next" \
		'(signature|NO_PUBKEY|No public key).*stays in the Anemos environment.*The disk was not touched: reboot the host' \
		"$(tr '\n' ' ' <<<"$out")"
	expect_eq "... the operator's key logs into the Anemos environment, whose log names the signature" "yes 1" \
		"$(on 'test -e /etc/anemos-initramfs && echo yes; grep -qiE "signature|NO_PUBKEY|public key" /run/anemos/install.log && echo 1' | tr '\n' ' ' | sed 's/ $//')"
	expect_eq "... which asked DHCPv6 again (dhcp6 carried over) and has the same addresses and route" \
		"$DHCP6/128 $ADDR6 default via $GW6" "$(addrs6 ond6)"
	on 'reboot' >/dev/null 2>&1
	sleep 5
	if wait_for 'test -e /root/old-system-marker && test ! -e /etc/anemos-initramfs'; then
		ok "... and after a reboot the old system is back, its files there, its host key the same"
	else
		fail "after a failed $method deploy and a reboot the old system is back"; console_tail deploy
	fi
}
if [ "${DEPLOY_SCENARIO:-}" = memory ]; then
	# The smallest machine the deploy passes in: the old system's disk, a copy each time,
	# booted with less memory each step and deployed (the recipe, from the mirror over
	# http://); the first size that fails ends the search. ANEMOS_MEMORY_FLOOR_MIB=0 lets
	# kexec.sh go on below the floor it states.
	stop_qemu
	cp "$WORK/disk.qcow2" "$WORK/base.qcow2"
	smallest="" floor=$MEM_MIB
	for mem in ${DEPLOY_MEMORY_STEPS:-352 320 288 256 224 192}; do
		cp "$WORK/base.qcow2" "$WORK/disk.qcow2"
		MEM_MIB=$mem
		vm "mem$mem" "$WORK/disk.qcow2"
		wait_for 'test -e /root/old-system-marker' || { fail "the old system boots in $mem MiB"; console_tail "mem$mem"; break; }
		T0=$(now)
		out=$(ANEMOS_MEMORY_FLOOR_MIB=0 timeout 1200 "$ANEMOSCTL" deploy --ssh "root@$ADDR" "$WORK/recipe" --hostname "mem$mem" --boot-dir "$BOOT" \
			--mirror "http://$HOST4:$MIRROR_PORT/debian" --ssh-key "$WORK/key.pub" \
			--kernel-args "console=ttyS0,115200n8 panic=-1" 2>&1); rc=$?
		echo "$out" | tail -n 5 | sed 's/^/# /'
		if [ "$rc" -eq 0 ] && wait_for "test ! -e /etc/anemos-initramfs && test \"\$(hostname)\" = mem$mem"; then
			echo "# deploy: $mem MiB passed in $(secs "$T0" "$(now)") s; $(on 'grep -o "memory: at most .*in use" /var/log/anemos/install.log')"
			smallest=$mem
		else
			echo "# deploy: $mem MiB failed (exit $rc); the console's last lines:"
			tail -n 15 "$WORK/console-mem$mem.log" | sed 's/^/#   /'
			stop_qemu
			break
		fi
		stop_qemu
	done
	if [ -n "$smallest" ]; then
		ok "the smallest machine the deploy passed in: $smallest MiB (steps ${DEPLOY_MEMORY_STEPS:-352 320 288 256 224 192})"
	else
		fail "the deploy passes in a machine smaller than the floor, $floor MiB"
	fi
	[ "$_failures" -eq 0 ]
	exit
fi
if [ "${DEPLOY_SCENARIO:-}" = image ]; then
	mkdir -p "$WORK/mirror/images" && cp "$IMAGES/cloud.tar.zst" "$WORK/mirror/images/"
	# First an image that is not there: the host asks before it touches the disk.
	out=$(timeout 900 "$ANEMOSCTL" deploy --ssh "root@$ADDR" \
		"http://user:pw@$HOST4:$MIRROR_PORT/images/missing.tar.zst?sig=s3cr3t" --sha256 "$(printf x | sha256sum | cut -d' ' -f1)" \
		--ssh-key "$WORK/key.pub" --kernel-args "console=ttyS0,115200n8 panic=-1" 2>&1); rc=$?
	echo "$out" | sed 's/^/# /'
	expect_eq "an image URL that answers 404: the deploy fails" 1 "$rc"
	expect_match "... before the disk was touched, and says so" \
		"the image is not there: HTTP 404 from http://192\\.0\\.2\\.2:$MIRROR_PORT/images/missing\\.tar\\.zst \\(the disk was not touched\\).*The disk was not touched: reboot" \
		"$(tr '\n' ' ' <<<"$out")"
	expect_no_match "... the log shows neither the URL's password nor its signature" 'pw@|s3cr3t' \
		"$(on 'cat /run/anemos/install.log')"
	on 'reboot' >/dev/null 2>&1
	sleep 5
	if wait_for 'test -e /root/old-system-marker && test ! -e /etc/anemos-initramfs'; then
		ok "... and after a reboot the old system is back"
	else
		fail "after the missing image and a reboot the old system is back"; console_tail deploy; exit 1
	fi
	out=$(timeout 1200 "$ANEMOSCTL" deploy --ssh "root@$ADDR" \
		"http://$HOST4:$MIRROR_PORT/images/cloud.tar.zst" --sha256 "$(sha256sum <"$IMAGES/cloud.tar.zst" | cut -d' ' -f1)" \
		--hostname imaged1 --ssh-key "$WORK/key.pub" --kernel-args "console=ttyS0,115200n8 panic=-1" 2>&1); rc=$?
	echo "$out" | sed 's/^/# /'
	expect_eq "an image URL: deploy --ssh succeeds with no anemosd" 0 "$rc"
	if wait_for 'test ! -e /etc/anemos-initramfs'; then
		# The new system's install log, not anemosctl's lines: a quick install may be over
		# before anemosctl's first look into the Anemos environment.
		log=$(on 'cat /var/log/anemos/install.log')
		expect_match "... the host streamed the image, nothing was built (its install log)" \
			'deploy [0-9a-f]{32}: image cloud for imaged1.*configure: hostname' "$(tr '\n' ' ' <<<"$log")"
		expect_no_match "... no bootstrap phase" 'bootstrap:' "$log"
		expect_eq "the new system: the name given, the image's system, the old files gone" \
			"imaged1 cloud-image no-marker" \
			"$(on 'printf "%s %s %s" "$(hostname)" "$(test -e /etc/anemos-cloud-image && echo cloud-image)" "$(test -e /root/old-system-marker && echo marker || echo no-marker)"')"
		wait_for "ip -6 addr show | grep -q '$DHCP6/128'" >/dev/null
		expect_eq "... its addresses: DHCP's, DHCPv6's and the static IPv6" "$ADDR/24 $DHCP6/128 $ADDR6" \
			"$(on "ip -o addr show scope global | awk '{ print \$4 }' | sort" | tr '\n' ' ' | sed 's/ $//')"
		expect_eq "... and the same SSH host key" "$OLD_KEY" "$(ssh-keyscan -t ed25519 "$ADDR" 2>/dev/null | cut -d' ' -f2-)"
	else
		fail "the image's new system answers SSH with the old host key"; console_tail deploy
	fi
	stop_qemu
	[ "$_failures" -eq 0 ]
	exit
fi
bad_deploy bootloader
# The kernel and initramfs from a URL the host reaches (--boot-url) instead of over the session.
mkdir -p "$WORK/mirror/boot" && cp "$BOOT/vmlinuz" "$BOOT/initramfs.img" "$WORK/mirror/boot/"
BOOT_URL=http://$HOST4:$MIRROR_PORT/boot
bad_deploy kexec --boot-url "$BOOT_URL"
T0=$(now)
ACKS=$(acks) REPLIES6=$(replies6)
OUT=$(timeout 1200 "$ANEMOSCTL" deploy --ssh "root@[$IP6]:22" "$WORK/recipe" --hostname deployed1 \
	--mirror "$MIRROR" --mirror-ca "$WORK/ca.pem" --ssh-key "$WORK/key.pub" --root-password-hash-file "$WORK/root.hash" \
	--kernel-args "console=ttyS0,115200n8 panic=-1" 2>&1); rc=$?
echo "$OUT" | sed 's/^/# /'
expect_eq "anemosctl deploy --ssh succeeds with no anemosd" 0 "$rc"
expect_match "the target's checks passed and kexec loaded the sent kernel and initramfs" \
	'initrd verified.*payload appended; SSH host keys carried over:.* dropbear_ed25519_host_key.*kexec loaded' \
	"$(tr '\n' ' ' <<<"$OUT")"
expect_match "DHCP was carried over, and beside it the static IPv6 /128, its link-local gateway and name server, and DHCPv6" \
	"anemos.net=dhcp,$ADDR6,$GW6,$DNS6,dhcp6( |$)" "$OUT"
expect_match "anemosctl logged into the Anemos environment with the old host key" 'Anemos environment answers SSH' "$OUT"
expect_match "anemosctl showed the phases in order" \
	's bootstrap: building cloud from http.*s provision: cloud built here.*s configure:.*s bootloader:.*s rebooting' \
	"$(tr '\n' ' ' <<<"$OUT")"
expect_match "anemosctl ended with deployed in N s" '^deployed in [0-9]+ s' "$OUT"
expect_match "the Anemos environment added the --mirror-ca certificate to Debian's CAs" \
	'deploy: 1 CA certificate\(s\) of --mirror-ca trusted too' "$(cat "$WORK/console-deploy.log")"
expect_no_match "the password hash is not printed" 'anemosdeploy' "$OUT"
echo "# deploy: anemosctl to deployed $(secs "$T0" "$(now)") s (TCG), in a VM of $MEM_MIB MiB"
ok "the deploy passed in a QEMU machine of $MEM_MIB MiB (-m $MEM_MIB)"

if wait_for 'test ! -e /etc/anemos-initramfs'; then
	expect_eq "the new system: the name given, the recipe's system, the old system's files gone" \
		"deployed1 cloud-image no-marker" \
		"$(on 'printf "%s %s %s" "$(hostname)" "$(test -e /etc/anemos-cloud-image && echo cloud-image)" "$(test -e /root/old-system-marker && echo marker || echo no-marker)"')"
	expect_eq "the same IPv4 address by DHCP, the static IPv6 beside it in /etc/anemos/network" \
		"$ADDR/24 dhcp $ADDR6 $GW6" \
		"$(on "ip -4 -o addr show scope global | awk '{ print \$4 }'; sed -n 's/^mode=//p; s/^address=//p; s/^gateway=//p' /etc/anemos/network" | tr '\n' ' ' | sed 's/ $//')"
	expect_at_least "dnsmasq leased $ADDR to the Anemos environment and to the new system (DHCPACKs)" 2 \
		"$(( $(acks) - ACKS ))"
	expect_eq "the new system answers SSH over IPv6 at $IP6 with the old host key" "deployed1" "$(on6 hostname)"
	wait_for "ip -6 addr show | grep -q '$DHCP6/128'" >/dev/null
	expect_eq "the same IPv6 /128, link-local gateway and DHCPv6 address, carried over (ipv6=dhcp)" \
		"$DHCP6/128 $ADDR6 default via $GW6 dhcp" "$(addrs6 on6) $(on "sed -n 's/^ipv6=//p' /etc/anemos/network")"
	expect_at_least "dnsmasq gave $DHCP6 by DHCPv6 to the Anemos environment and to the new system (replies)" 2 \
		"$(( $(replies6) - REPLIES6 ))"
	expect_eq "the new system answers SSH at its DHCPv6 address $DHCP6" "deployed1" "$(ond6 hostname)"
	expect_eq "the new system reaches the host over IPv6 (from $ADDR6 through $GW6)" "Suite: bookworm" \
		"$(on "wget -q -O - 'http://[$HOST6]:$MIRROR_PORT/debian/dists/bookworm/Release' | grep '^Suite:'")"
	expect_eq "the same SSH host key as before the deploy, at all three addresses" "$OLD_KEY|$OLD_KEY|$OLD_KEY" \
		"$(ssh-keyscan -t ed25519 "$ADDR" "$IP6" "$DHCP6" 2>/dev/null | cut -d' ' -f2- | tr '\n' '|' | sed 's/|$//')"
	expect_eq "... and the same key for OpenSSH (anemos-hostkeys converted dropbear's)" "$OLD_KEY" \
		"$(on 'cut -d" " -f1-2 /etc/ssh/ssh_host_ed25519_key.pub')"
	expect_eq "root's password hash came from the file, through the payload" "$HASH" \
		"$(on 'sed -n "s/^root:\([^:]*\):.*/\1/p" /etc/shadow')"
	expect_eq "the operator's key is root's" "$KEY" "$(on 'cat /root/.ssh/authorized_keys')"
	log=$(on 'cat /var/log/anemos/install.log')
	# The agent's report of /init's look at MemAvailable each second: what the deploy needed.
	echo "# deploy: $(grep -o 'memory: at most .*in use' <<<"$log")"
	expect_match "the install log says how much memory the deploy needed at most" \
		"memory: at most [0-9]+ MiB of the machine's [0-9]+ MiB in use" "$log"
	expect_match "the install log names this deploy and the build from the mirror" \
		"deploy [0-9a-f]{32}: recipe cloud for deployed1.*bootstrap: building cloud from $MIRROR_RE" "$(tr '\n' ' ' <<<"$log")"
	expect_eq "nothing of the deploy stays on the new system" "" \
		"$(on 'ls -d /etc/anemos-deploy /dev/shm/anemos* /mnt/target 2>/dev/null')"
else
	fail "the new system answers SSH with the old host key"; console_tail deploy
fi
stop_qemu
[ "$_failures" -eq 0 ]
