#!/usr/bin/env bash
# cost: 2
# initramfs/hostkeys.sh (anemos-hostkeys in the Anemos environment), which a deploy runs over
# the host keys carried from the old system: each key gets its counterpart in the other
# format, with the same public key, so that an OpenSSH-only host keeps its identity under the
# environment's dropbear, and a dropbear-only one on an OpenSSH system. Real keys: ssh-keygen
# and dropbearkey make them, dropbearconvert (dropbear-bin, as in the initramfs) converts.
source "$(dirname "$0")/lib.sh"
for t in dropbearconvert dropbearkey ssh-keygen; do
	command -v "$t" >/dev/null || { fail "$t installed" "missing (deploy/install-deps.sh test installs dropbear-bin, openssh-client)"; exit 1; }
done
SCRIPT=$ROOT/initramfs/hostkeys.sh
D=$WORK/hostkeys
mkdir -p "$D"
ssh-keygen -q -t ed25519 -N '' -C old -f "$D/ssh_host_ed25519_key"
ssh-keygen -q -t rsa -b 2048 -N '' -C old -f "$D/ssh_host_rsa_key"
dropbearkey -t ecdsa -f "$D/dropbear_ecdsa_host_key" >/dev/null 2>&1
out=$(sh "$SCRIPT" "$D" 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
expect_eq "anemos-hostkeys exits 0" 0 "$rc"
pub() { cut -d' ' -f1-2 "$1"; }
db_pub() { dropbearkey -y -f "$1" 2>/dev/null | grep -E '^(ssh-|ecdsa-)' | cut -d' ' -f1-2; }
expect_eq "OpenSSH's ed25519 key: dropbear's counterpart has the same public key" \
	"$(pub "$D/ssh_host_ed25519_key.pub")" "$(db_pub "$D/dropbear_ed25519_host_key")"
expect_eq "dropbear's ecdsa key: OpenSSH's counterpart has the same public key, in the key and its .pub" \
	"$(db_pub "$D/dropbear_ecdsa_host_key") $(db_pub "$D/dropbear_ecdsa_host_key")" \
	"$(ssh-keygen -y -f "$D/ssh_host_ecdsa_key" | cut -d' ' -f1-2) $(pub "$D/ssh_host_ecdsa_key.pub")"
expect_eq "OpenSSH's rsa key: dropbear's counterpart has the same public key" \
	"$(pub "$D/ssh_host_rsa_key.pub")" "$(db_pub "$D/dropbear_rsa_host_key")"
# A counterpart that exists already is left alone, whatever it holds.
mkdir -p "$WORK/kept" && cp "$D/ssh_host_ed25519_key" "$WORK/kept/" && printf 'kept\n' >"$WORK/kept/dropbear_ed25519_host_key"
sh "$SCRIPT" "$WORK/kept" >/dev/null 2>&1
expect_eq "an existing counterpart is kept as it was" "kept" "$(cat "$WORK/kept/dropbear_ed25519_host_key")"
expect_eq "private keys are 0600, the made .pub 0644" "600 600 644" \
	"$(stat -c %a "$D/dropbear_ed25519_host_key" "$D/ssh_host_ecdsa_key" "$D/ssh_host_ecdsa_key.pub" | tr '\n' ' ' | sed 's/ $//')"
expect_match "it says what it made" "dropbear's ed25519 key made from OpenSSH's.*OpenSSH's ecdsa key made from dropbear's" \
	"$(tr '\n' ' ' <<<"$out")"
printf 'not a key\n' >"$WORK/bad" && mkdir -p "$WORK/bad-dir" && cp "$WORK/bad" "$WORK/bad-dir/ssh_host_ed25519_key"
out=$(sh "$SCRIPT" "$WORK/bad-dir" 2>&1); rc=$?
expect_eq "a key that does not convert is said and skipped, exit 0, nothing half-made" "0 0" \
	"$rc $(find "$WORK/bad-dir" -name 'dropbear_*' | wc -l)"
expect_match "... naming it" "OpenSSH's ed25519 key does not convert" "$out"
sh "$SCRIPT" "$WORK/none" >/dev/null 2>&1; rc=$?
expect_eq "a missing folder is a usage error (2)" 2 "$rc"
[ "$_failures" -eq 0 ]
