#!/usr/bin/env bash
# cost: 10
# The operator's side of `anemosctl deploy --ssh`, with no target and no anemosd: $ANEMOS_SSH is
# a stand-in that keeps what anemosctl sends (its arguments, its stdin) and refuses, as a
# target does. Checked: the stream is "<length>\n", the script (settings, then kexec.sh), the
# kernel, the initramfs and the payload at the offsets the script names, with their SHA-256;
# the payload's newc entries are the plan (hostname, mirror, password hash, user-data, keys,
# the recipe bundle's SHA-256), the keys and the bundle, all root-only; no secret is on the
# command line; a refusal is said; bad options are refused before anything is sent.
source "$(dirname "$0")/lib.sh"
mkdir -p "$BOOT_DIR"
head -c 300001 /dev/urandom >"$BOOT_DIR/vmlinuz"
head -c 500003 /dev/urandom >"$BOOT_DIR/initramfs.img"
cp -a "$ROOT/images/tiny" "$WORK/recipe"
ssh-keygen -q -t ed25519 -N '' -C deploy-stream -f "$WORK/key"
KEY=$(cat "$WORK/key.pub")
printf '%s\n' '$6$salt$deploystreamhash' >"$WORK/hash"
printf '#cloud-config\nruncmd: [echo userdata-secret]\n' >"$WORK/user-data"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=deploy-stream CA" \
	-keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
cat >"$WORK/fakessh" <<EOF
#!/bin/sh
printf '%s\n' "\$@" >"$WORK/argv"
cat >"$WORK/stream"
echo "anemos: this stand-in refuses" >&2
exit 1
EOF
chmod +x "$WORK/fakessh"
export ANEMOS_SSH="$WORK/fakessh"
unset ANEMOS_URL ANEMOS_TOKEN

expect_match "deploy --help lists the options" \
	'--hostname.*--ssh-key.*--mirror.*--network.*--method.*--disk.*--root-password-hash-file.*--user-data.*--detach' \
	"$("$ANEMOSCTL" deploy --help 2>&1 | tr '\n' ' ')"

# refused NAME ARGS...: the command fails with exit 2 or 1 and sends nothing.
refused() {
	local name=$1 out rc
	shift
	rm -f "$WORK/stream"
	out=$("$ANEMOSCTL" deploy "$@" 2>&1); rc=$?
	if [ "$rc" -ne 0 ] && [ ! -e "$WORK/stream" ]; then ok "$name is refused, nothing sent"; else fail "$name is refused" "exit $rc: $out"; fi
}
refused "no --ssh" "$WORK/recipe"
refused "a SOURCE that is no folder" --ssh root@192.0.2.9 "$WORK/hash"
refused "a folder without a recipe" --ssh root@192.0.2.9 --ssh-key "$WORK/key.pub" --boot-dir "$BOOT_DIR" "$WORK"
refused "a bad --hostname" --ssh root@192.0.2.9 --hostname 'a b' "$WORK/recipe"
refused "an ftp --mirror" --ssh root@192.0.2.9 --mirror ftp://x/debian "$WORK/recipe"
refused "a --ssh-key file of no key" --ssh root@192.0.2.9 --ssh-key "$WORK/hash" "$WORK/recipe"
refused "a --disk without KIND=" --ssh root@192.0.2.9 --disk sda "$WORK/recipe"
refused "a --root-password-hash-file of no hash" --ssh root@192.0.2.9 --ssh-key "$WORK/key.pub" \
	--boot-dir "$BOOT_DIR" --root-password-hash-file "$WORK/user-data" "$WORK/recipe"
refused "a missing boot folder" --ssh root@192.0.2.9 --ssh-key "$WORK/key.pub" --boot-dir "$WORK/none" "$WORK/recipe"

out=$("$ANEMOSCTL" deploy --ssh root@192.0.2.9:2222 "$WORK/recipe" --hostname web1 --ssh-key "$KEY" \
	--mirror http://192.0.2.1/debian --disk serial=D1 --root-password-hash-file "$WORK/hash" \
	--user-data "$WORK/user-data" --boot-dir "$BOOT_DIR" 2>&1); rc=$?
expect_eq "a target that refuses: deploy fails" 1 "$rc"
expect_match "... and says so" 'refused or could not be reached \(exit 1\); nothing was changed' "$out"
expect_match "ssh goes to the destination and port given" '-T .*-p 2222 -- root@192\.0\.2\.9 if ' "$(tr '\n' ' ' <"$WORK/argv")"
expect_no_match "no secret on ssh's command line" 'deploystreamhash|userdata-secret|ssh-ed25519' "$(cat "$WORK/argv")"

# The stream, taken apart as the remote command does.
S=$WORK/stream
n=$(head -n 1 "$S")
at=$(( ${#n} + 2 + n ))
script=$(tail -c +$(( ${#n} + 2 )) "$S" | head -c "$n")
var() { sed -n "s/^$1='\(.*\)'\$/\1/p; s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$script" | head -n 1; }
part() { tail -c "+$(( at + $1 ))" "$S" | head -c "$2"; }
expect_eq "the script is the settings, then kexec.sh" "deploy 1" \
	"$(var ANEMOS_MODE) $(grep -c 'Anemos: move a running Linux host into the Anemos environment' <<<"$script")"
expect_eq "the Anemos environment's command line: mode deploy, no URL, no token" "anemos.mode=deploy console=tty0 console=ttyS0,115200n8" \
	"$(var ANEMOS_CMDLINE)"
expect_eq "the kernel at its offset, with its SHA-256" "$(sha256sum <"$BOOT_DIR/vmlinuz" | cut -d' ' -f1) $(var ANEMOS_KERNEL_SHA256)" \
	"$(part "$(var ANEMOS_KERNEL_AT)" "$(var ANEMOS_KERNEL_SIZE)" | sha256sum | cut -d' ' -f1) $(sha256sum <"$BOOT_DIR/vmlinuz" | cut -d' ' -f1)"
expect_eq "the initramfs at its offset, with its SHA-256" "$(var ANEMOS_INITRD_SHA256)" \
	"$(part "$(var ANEMOS_INITRD_AT)" "$(var ANEMOS_INITRD_SIZE)" | sha256sum | cut -d' ' -f1)"
expect_eq "the stream ends with the payload" "$(stat -c %s "$S")" \
	"$(( at - 1 + $(var ANEMOS_PAYLOAD_AT) + $(var ANEMOS_PAYLOAD_SIZE) ))"
expect_no_match "no secret in the script's settings" 'deploystreamhash|userdata-secret' "$script"
part "$(var ANEMOS_PAYLOAD_AT)" "$(var ANEMOS_PAYLOAD_SIZE)" >"$WORK/payload"
mkdir -p "$WORK/unpacked"
# unpack_payload: the payload's newc entries ("NAME MODE UID" a line), its files into
# $WORK/unpacked (by base name).
unpack_payload() {
	"$(python3 -c 'import sys; print(sys.executable)')" - "$WORK/payload" "$WORK/unpacked" <<'PY'
import os, sys
data = open(sys.argv[1], "rb").read()
out, at = sys.argv[2], 0
while at < len(data):
    h = data[at:at + 110]
    assert h[:6] == b"070701", "not a newc header at %d" % at
    f = [int(h[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
    mode, size, namesize = f[1], f[6], f[11]
    name = data[at + 110:at + 110 + namesize - 1].decode()
    at = (at + 110 + namesize + 3) & ~3
    body = data[at:at + size]
    at = (at + size + 3) & ~3
    print("%s %o %d" % (name, mode, f[2]))
    if mode & 0o100000:
        open(os.path.join(out, os.path.basename(name)), "wb").write(body)
PY
}
entries=$(unpack_payload)
expect_eq "the payload: the folder and three files under etc/anemos-deploy, root-only, uid 0" \
	"etc/anemos-deploy 40700 0|etc/anemos-deploy/plan.json 100600 0|etc/anemos-deploy/authorized_keys 100600 0|etc/anemos-deploy/recipe.tar 100600 0" \
	"$(tr '\n' '|' <<<"$entries" | sed 's/|$//')"
plan=$(cat "$WORK/unpacked/plan.json")
expect_eq "the plan: hostname, recipe, mirror, disk" "web1 tiny recipe http://192.0.2.1/debian D1" \
	"$(jq -r '"\(.host.hostname) \(.image.name) \(.image.format) \(.image.mirror) \(.install.disk.serial)"' <<<"$plan")"
expect_eq "the plan: the bundle's SHA-256, from the payload" "$(sha256sum <"$WORK/unpacked/recipe.tar" | cut -d' ' -f1) file:///etc/anemos-deploy/recipe.tar" \
	"$(jq -r '"\(.image.sha256) \(.image.url)"' <<<"$plan")"
expect_eq "the plan: the password hash and user-data from their files" "\$6\$salt\$deploystreamhash|$(cat "$WORK/user-data")" \
	"$(jq -r '"\(.install.root_password_hash)|\(.install.cloud_init_user_data)"' <<<"$plan")"
expect_eq "the plan and authorized_keys: the key given" "$KEY|$KEY" \
	"$(jq -r '.ssh_authorized_keys | join(",")' <<<"$plan")|$(cat "$WORK/unpacked/authorized_keys")"
expect_match "the plan has a deploy id" '^[0-9a-f]{32}$' "$(jq -r .deploy_id <<<"$plan")"
tar -tf "$WORK/unpacked/recipe.tar" >"$WORK/bundle.list" 2>&1
check "the bundle is the recipe folder" grep -qx './recipe' "$WORK/bundle.list"

expect_eq "without --boot-url the script empties the boot files' URLs (the target's environment cannot turn downloads on)" \
	"'' ''" "$(sed -n "s/^ANEMOS_KERNEL_URL=\(.*\)\$/\1/p; s/^ANEMOS_INITRD_URL=\(.*\)\$/\1/p" <<<"$script" | tr '\n' ' ' | sed 's/ $//')"
# --boot-url: the target downloads the kernel and initramfs itself; only their SHA-256s go
# (set after the empty ones: the last assignment counts).
lastvar() { sed -n "s/^$1='\(.*\)'\$/\1/p" <<<"$script" | tail -n 1; }
"$ANEMOSCTL" deploy --ssh root@192.0.2.9 "$WORK/recipe" --ssh-key "$KEY" --boot-dir "$BOOT_DIR" \
	--boot-url http://192.0.2.1/boot/ >/dev/null 2>&1
n=$(head -n 1 "$S"); at=$(( ${#n} + 2 + n )); script=$(tail -c +$(( ${#n} + 2 )) "$S" | head -c "$n")
expect_eq "--boot-url: the script names URL/vmlinuz and URL/initramfs.img with the local files' SHA-256s" \
	"http://192.0.2.1/boot/vmlinuz $(sha256sum <"$BOOT_DIR/vmlinuz" | cut -d' ' -f1) http://192.0.2.1/boot/initramfs.img $(sha256sum <"$BOOT_DIR/initramfs.img" | cut -d' ' -f1)" \
	"$(lastvar ANEMOS_KERNEL_URL) $(var ANEMOS_KERNEL_SHA256) $(lastvar ANEMOS_INITRD_URL) $(var ANEMOS_INITRD_SHA256)"
expect_eq "... neither is sent: 0 bytes each, the payload right after the script, the stream no longer" \
	"0 0 0 $(stat -c %s "$S")" \
	"$(var ANEMOS_KERNEL_SIZE) $(var ANEMOS_INITRD_SIZE) $(var ANEMOS_PAYLOAD_AT) $(( at - 1 + $(var ANEMOS_PAYLOAD_SIZE) ))"
refused "a --boot-url with a quote" --ssh root@192.0.2.9 --ssh-key "$WORK/key.pub" --boot-dir "$BOOT_DIR" \
	--boot-url "http://192.0.2.1/x'y" "$WORK/recipe"
refused "a --boot-url with a password" --ssh root@192.0.2.9 --ssh-key "$WORK/key.pub" --boot-dir "$BOOT_DIR" \
	--boot-url "http://u:pw@192.0.2.1/boot" "$WORK/recipe"
refused "a --boot-url with a query" --ssh root@192.0.2.9 --ssh-key "$WORK/key.pub" --boot-dir "$BOOT_DIR" \
	--boot-url "http://192.0.2.1/boot?sig=x" "$WORK/recipe"
refused "an ftp --boot-url" --ssh root@192.0.2.9 --ssh-key "$WORK/key.pub" --boot-dir "$BOOT_DIR" \
	--boot-url ftp://192.0.2.1/boot "$WORK/recipe"

# SOURCE as an image's URL: the target downloads and verifies it itself; no bundle is sent.
SHA=$(printf 'image' | sha256sum | cut -d' ' -f1)
refused "an image URL without --sha256" --ssh root@192.0.2.9 --ssh-key "$WORK/key.pub" --boot-dir "$BOOT_DIR" \
	http://192.0.2.1/images/web.tar.zst
refused "an image URL of no known format, without --format" --ssh root@192.0.2.9 --ssh-key "$WORK/key.pub" \
	--boot-dir "$BOOT_DIR" --sha256 "$SHA" http://192.0.2.1/images/web.img
refused "a --sha256 of no SHA-256" --ssh root@192.0.2.9 --ssh-key "$WORK/key.pub" --boot-dir "$BOOT_DIR" \
	--sha256 abc http://192.0.2.1/images/web.tar.zst
refused "--mirror with an image" --ssh root@192.0.2.9 --ssh-key "$WORK/key.pub" --boot-dir "$BOOT_DIR" \
	--sha256 "$SHA" --mirror http://192.0.2.1/debian http://192.0.2.1/images/web.tar.zst
refused "a --mirror-ca of no PEM certificate" --ssh root@192.0.2.9 --ssh-key "$WORK/key.pub" --boot-dir "$BOOT_DIR" \
	--sha256 "$SHA" --mirror-ca "$WORK/key.pub" https://192.0.2.1/images/web.tar.zst
cat "$WORK/ca.pem" "$WORK/ca.key" >"$WORK/ca-and-key.pem"
refused "a --mirror-ca that holds a private key" --ssh root@192.0.2.9 --ssh-key "$WORK/key.pub" --boot-dir "$BOOT_DIR" \
	--sha256 "$SHA" --mirror-ca "$WORK/ca-and-key.pem" https://192.0.2.1/images/web.tar.zst
refused "--mirror-ca with --url (anemosd sends its own)" --ssh root@192.0.2.9 --url http://192.0.2.1:9 \
	--mirror-ca "$WORK/ca.pem" web
refused "an image URL of 2 KiB" --ssh root@192.0.2.9 --ssh-key "$WORK/key.pub" --boot-dir "$BOOT_DIR" \
	--sha256 "$SHA" "http://192.0.2.1/$(head -c 2100 /dev/zero | tr '\0' a).tar.zst"
refused "--sha256 with a recipe folder" --ssh root@192.0.2.9 --ssh-key "$WORK/key.pub" --boot-dir "$BOOT_DIR" \
	--sha256 "$SHA" "$WORK/recipe"
rm -rf "$WORK/unpacked" && mkdir -p "$WORK/unpacked"
out=$("$ANEMOSCTL" deploy --ssh root@192.0.2.9 http://192.0.2.1/images/web.raw.xz --sha256 "$SHA" \
	--ssh-key "$KEY" --boot-dir "$BOOT_DIR" 2>&1)
expect_match "an image URL: anemosctl says it deploys the image" 'deploying image web onto root@192\.0\.2\.9' "$out"
n=$(head -n 1 "$S"); at=$(( ${#n} + 2 + n )); script=$(tail -c +$(( ${#n} + 2 )) "$S" | head -c "$n")
part "$(var ANEMOS_PAYLOAD_AT)" "$(var ANEMOS_PAYLOAD_SIZE)" >"$WORK/payload"
entries=$(unpack_payload | cut -d" " -f1)
expect_eq "... the payload has the plan and the keys, no bundle" \
	"etc/anemos-deploy|etc/anemos-deploy/plan.json|etc/anemos-deploy/authorized_keys" "$(tr '\n' '|' <<<"$entries" | sed 's/|$//')"
expect_eq "... the plan names the image: its name, format (from the URL), URL and SHA-256, no mirror" \
	"web raw.xz http://192.0.2.1/images/web.raw.xz $SHA null" \
	"$(jq -r '"\(.image.name) \(.image.format) \(.image.url) \(.image.sha256) \(.image.mirror)"' "$WORK/unpacked/plan.json")"
out=$("$ANEMOSCTL" deploy --ssh root@192.0.2.9 'http://192.0.2.1/get?id=7' --sha256 "$SHA" --format tar.gz \
	--ssh-key "$KEY" --boot-dir "$BOOT_DIR" 2>&1)
n=$(head -n 1 "$S"); at=$(( ${#n} + 2 + n )); script=$(tail -c +$(( ${#n} + 2 )) "$S" | head -c "$n")
expect_match "... --format for a URL that does not say" '"format":"tar\.gz"' \
	"$(part "$(var ANEMOS_PAYLOAD_AT)" "$(var ANEMOS_PAYLOAD_SIZE)" | tr -d '\0' | grep -ao '"format":"[^"]*"')"
# https:// (the Anemos environment has Debian's CAs), and --mirror-ca's certificates beside them.
out=$("$ANEMOSCTL" deploy --ssh root@192.0.2.9 https://192.0.2.1/images/web.tar.zst --sha256 "$SHA" \
	--mirror-ca "$WORK/ca.pem" --ssh-key "$KEY" --boot-dir "$BOOT_DIR" 2>&1)
n=$(head -n 1 "$S"); at=$(( ${#n} + 2 + n )); script=$(tail -c +$(( ${#n} + 2 )) "$S" | head -c "$n")
part "$(var ANEMOS_PAYLOAD_AT)" "$(var ANEMOS_PAYLOAD_SIZE)" >"$WORK/payload"
rm -rf "$WORK/unpacked" && mkdir -p "$WORK/unpacked"
entries=$(unpack_payload | cut -d" " -f1)
expect_eq "an https:// image URL is sent, --mirror-ca's certificate in the payload" \
	"etc/anemos-deploy|etc/anemos-deploy/plan.json|etc/anemos-deploy/authorized_keys|etc/anemos-deploy/ca.pem" \
	"$(tr '\n' '|' <<<"$entries" | sed 's/|$//')"
expect_eq "... the certificate as given" "$(cat "$WORK/ca.pem")" "$(cat "$WORK/unpacked/ca.pem")"
for u in web.tar.gz:tar.gz web.tar:tar web.raw:raw 'web.tar.zst?sig=a.raw:tar.zst' 'web.raw.gz#x.tar:raw.gz'; do
	"$ANEMOSCTL" deploy --ssh root@192.0.2.9 "http://192.0.2.1/${u%%:*}" --sha256 "$SHA" --ssh-key "$KEY" \
		--boot-dir "$BOOT_DIR" >/dev/null 2>&1
	n=$(head -n 1 "$S"); at=$(( ${#n} + 2 + n )); script=$(tail -c +$(( ${#n} + 2 )) "$S" | head -c "$n")
	expect_match "... ${u%%:*} is format ${u#*:}" "\"format\":\"${u#*:}\"" \
		"$(part "$(var ANEMOS_PAYLOAD_AT)" "$(var ANEMOS_PAYLOAD_SIZE)" | tr -d '\0' | grep -ao '"format":"[^"]*"')"
done
[ "$_failures" -eq 0 ]
