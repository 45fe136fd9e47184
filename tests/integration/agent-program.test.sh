#!/usr/bin/env bash
# The real anemos-agent against the real anemosd, outside the initramfs: a kernel command
# line from a file, this machine's own /sys and /proc as the inventory, and every way a
# boot can end (assignment, rescue, nothing to do, an install plan without its secrets,
# anemosd busy or unreachable, token refused); and the installed systems' phone-homes.
source "$(dirname "$0")/lib.sh"
AGENT=$BUILD/anemos-agent
[ -x "$AGENT" ] || { fail "anemos-agent built" "$AGENT missing"; exit 1; }
anemosd_start || exit 1

# boot_token MAC: the agent token anemosd hands a machine booting from MAC.
boot_token() { agent_token_of "$(ipxe "$1" pcbios)"; }
# run_agent MODE TOKEN [ARGS...]: runs the agent (bounded); its output in $WORK/agent.out.
run_agent() {
	local mode=$1 tok=$2; shift 2
	printf 'BOOT_IMAGE=vmlinuz anemos.url=%s anemos.token=%s anemos.mode=%s anemos.lldp=0 console=ttyS0\n' \
		"$ANEMOS_URL" "$tok" "$mode" >"$WORK/cmdline"
	timeout 60 "$AGENT" --cmdline "$WORK/cmdline" --ssh-dir "$WORK/ssh" "$@" >"$WORK/agent.out" 2>&1
}
events() { body_of "$(api GET "/api/v1/hosts/$1/events")" | jq -r '.events[].message'; }

# Discover, then an assignment arrives while the agent waits: it follows it.
T=$(boot_token 52:54:00:40:00:01)
run_agent discover "$T" & pid=$!
for _ in $(seq 1 100); do [ "$(host_field 52:54:00:40:00:01 .status)" = ready ] && break; sleep 0.1; done
expect_eq "the agent's inventory makes the host ready" ready "$(host_field 52:54:00:40:00:01 .status)"
expect_match "the inventory is this machine's (CPU threads)" "^$(nproc)\$" "$(host_field 52:54:00:40:00:01 .inventory.cpu.threads)"
sleep 1
check "the agent waits for an assignment" kill -0 $pid
api PATCH /api/v1/hosts/52:54:00:40:00:01 '{"next_boot":"local"}' >/dev/null
wait $pid; rc=$?
expect_eq "assignment 'local' while discovering: exit 0 (reboot)" 0 "$rc"
expect_match "it said so to anemosd" 'next boot is now local; rebooting' "$(events 52:54:00:40:00:01)"
expect_eq "its token is revoked when it ends the boot" 401 "$(status_of "$(agent GET /api/v1/agent/plan "$T")")"

# Nothing to do for too long: power off.
T=$(boot_token 52:54:00:40:00:02)
run_agent discover "$T" --poweroff-after 2; rc=$?
expect_eq "no assignment within --poweroff-after: exit 2 (power off)" 2 "$rc"
expect_match "the wait's end is an event" 'no assignment after' "$(events 52:54:00:40:00:02)"

# Rescue: the operator's keys for the SSH server, nothing else.
api POST /api/v1/hosts '{"mac":"52:54:00:40:00:03","next_boot":"rescue","ssh_authorized_keys":["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAItest op@site"]}' >/dev/null
T=$(boot_token 52:54:00:40:00:03)
run_agent rescue "$T"; rc=$?
expect_eq "rescue: exit 3" 3 "$rc"
expect_eq "rescue: the plan's keys are root's authorized_keys" "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAItest op@site" "$(cat "$WORK/ssh/authorized_keys")"
expect_eq "rescue: authorized_keys is private" 600 "$(stat -c %a "$WORK/ssh/authorized_keys")"
expect_match "rescue: an event says where to SSH" 'rescue environment up: ssh root@' "$(events 52:54:00:40:00:03)"

# An install plan outside the Anemos initramfs: refused before any disk is touched (the
# agent only installs where initramfs/build.sh left its marker).
body_of "$(api POST /api/v1/images '{"name":"tiny","url":"http://192.0.2.10/tiny.tar.zst","sha256":"'"$(printf %064d 0)"'"}')" >/dev/null
api POST /api/v1/hosts '{"mac":"52:54:00:40:00:04","next_boot":"install","image":"tiny"}' >/dev/null
T=$(boot_token 52:54:00:40:00:04)
run_agent install "$T"; rc=$?
expect_eq "install plan outside the initramfs: exit 1" 1 "$rc"
expect_match "install plan outside the initramfs: refused, and why" 'install failed: refusing to install: not running in the Anemos initramfs' "$(events 52:54:00:40:00:04)"
expect_no_match "no disk was partitioned" 'sfdisk|mkfs|wiped' "$(cat "$WORK/agent.out")"
expect_eq "the host is failed, not left installing" failed "$(host_field 52:54:00:40:00:04 .status)"

# An install plan whose secrets went to an earlier plan of the same boot (fetched here with
# the boot's token before the agent runs): the agent installs nothing without them, and says
# so to anemosd, which fails the host with the reason.
api POST /api/v1/hosts '{"mac":"52:54:00:40:00:06","next_boot":"install","image":"tiny",
 "install":{"root_password_hash":"$6$salt$secrethash","cloud_init_user_data":"#cloud-config\n"}}' >/dev/null
T=$(boot_token 52:54:00:40:00:06)
p=$(body_of "$(agent GET /api/v1/agent/plan "$T")")
expect_eq "secrets: the first install plan of the boot has them" '$6$salt$secrethash false' \
	"$(jq -r '"\(.install.root_password_hash) \(.secrets_withheld)"' <<<"$p")"
run_agent install "$T"; rc=$?
expect_eq "secrets withheld: exit 1" 1 "$rc"
expect_match "secrets withheld: refused, and why" \
	"install failed: the install's secrets went to an earlier plan of this boot; reboot the machine for a fresh boot" \
	"$(events 52:54:00:40:00:06)"
expect_no_match "secrets withheld: nothing installed (no disk, no image, no configuration)" \
	'sfdisk|mkfs|wiped|installing image|partition:|configure:|refusing to install' "$(cat "$WORK/agent.out")$(events 52:54:00:40:00:06)"
expect_eq "secrets withheld: the host is failed, not left installing" failed "$(host_field 52:54:00:40:00:06 .status)"
expect_eq "secrets withheld: the boot is over (its token revoked)" 401 \
	"$(status_of "$(agent POST /api/v1/agent/phone-home-token "$T")")"

# A hostile image, registered with its correct hash: symlinks to a folder outside the target
# (absolute, and by '..'), members written through them, hard links out. Extraction never
# follows a symlink (a member under one replaces it with a real folder) and refuses links
# out, so nothing outside the target is written. (configure's writes through the image's
# symlinks: tests/unit/test_agent_configure.c.)
OUT=$WORK/outside
mkdir -p "$OUT/ssh" "$DATA/images/hostile" "$DATA/images/hostile-link"
echo untouched >"$OUT/victim"
python3 - "$OUT" "$DATA/images" <<'PY'
import io, sys, tarfile
out, images = sys.argv[1], sys.argv[2]
def image(path, members):
    with tarfile.open(path, "w") as t:
        for name, kind, arg in members:
            i = tarfile.TarInfo(name)
            i.type, i.mode = kind, 0o755 if kind == tarfile.DIRTYPE else 0o644
            data = None
            if kind == tarfile.REGTYPE:
                data = io.BytesIO(arg.encode()); i.size = len(arg)
            else:
                i.linkname = arg
            t.addfile(i, data)
S, R, D, L = tarfile.SYMTYPE, tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.LNKTYPE
image(images + "/hostile/hostile.tar", [
    ("etc", S, out), ("etc/hostname", R, "evil\n"),
    ("root", D, ""), ("root/.ssh", S, out + "/ssh"), ("root/.ssh/authorized_keys", R, "evil\n"),
    ("up", S, "../../../../../../../.." + out), ("up/victim", R, "overwritten\n"),
    ("keep", S, out), ("etc/resolv.conf", S, "../run/resolv.conf")])
image(images + "/hostile-link/hostile-link.tar", [("escape", L, out + "/victim")])
PY
for name in hostile hostile-link; do
	r=$(api POST /api/v1/images '{"name":"'$name'","file":"'$name'.tar"}')
	expect_eq "hostile image $name registered with its hash" 201 "$(status_of "$r")"
	eval "${name//-/_}_sha=$(body_of "$r" | jq -r .sha256)"
done
mkdir -p "$WORK/target"
# shellcheck disable=SC2154 # hostile_sha: set by the eval above
"$AGENT" --retry-for 10 --unpack "$ANEMOS_URL/images/hostile/hostile.tar" --sha256 "$hostile_sha" --format tar \
	--to "$WORK/target" >"$WORK/unpack.out" 2>&1; rc=$?
expect_eq "hostile image: extracted" 0 "$rc"
expect_eq "hostile image: nothing outside the target written" "ssh victim untouched" \
	"$(cd "$OUT" && find . -mindepth 1 | sort | sed 's|^\./||' | tr '\n' ' ')$(cat "$OUT/victim")"
expect_eq "hostile image: a member under a symlink makes a real folder inside" "evil" "$(cat "$WORK/target/etc/hostname")"
check "hostile image: /etc is a folder, not the symlink out" test -d "$WORK/target/etc" -a ! -L "$WORK/target/etc"
check "hostile image: /root/.ssh is a folder inside" test -f "$WORK/target/root/.ssh/authorized_keys" -a ! -L "$WORK/target/root/.ssh"
expect_eq "hostile image: a symlink with nothing under it is kept (configure resolves it inside)" "$OUT" "$(readlink "$WORK/target/keep")"
expect_eq "hostile image: a relative symlink inside the image is kept" "../run/resolv.conf" "$(readlink "$WORK/target/etc/resolv.conf")"
mkdir -p "$WORK/target-link"
# shellcheck disable=SC2154 # hostile_link_sha: set by the eval above
"$AGENT" --retry-for 10 --unpack "$ANEMOS_URL/images/hostile-link/hostile-link.tar" --sha256 "$hostile_link_sha" \
	--format tar --to "$WORK/target-link" >"$WORK/unpack.out" 2>&1; rc=$?
expect_eq "hostile image with a hard link out: refused" 1 "$rc"
expect_match "hostile image with a hard link out: and why" 'writing escape: .*absolute' "$(cat "$WORK/unpack.out")"
expect_eq "hostile image with a hard link out: the file outside keeps one link" "1 untouched" \
	"$(stat -c %h "$OUT/victim") $(cat "$OUT/victim")"

# The installed system's phone-home, as the agent copies it (the debian recipe's file, which
# test_agent_configure checks it copies byte for byte), against anemosd: its token, from a
# file only root reads, is on no program's command line.
PHONE_HOME=$ROOT/images/debian/files/usr/local/sbin/anemos-phone-home
api POST /api/v1/hosts '{"mac":"52:54:00:40:00:05","next_boot":"install","image":"tiny"}' >/dev/null
T=$(boot_token 52:54:00:40:00:05)
r=$(agent POST /api/v1/agent/phone-home-token "$T")
P=$(body_of "$r" | jq -r .token)
mkdir -p "$WORK/installed/etc/anemos"
(umask 077 && printf 'url=%s\ntoken=%s\n' "$(body_of "$r" | jq -r .url)" "$P" >"$WORK/installed/etc/anemos/phone-home")
expect_eq "the token file is root's alone" 600 "$(stat -c %a "$WORK/installed/etc/anemos/phone-home")"
if command -v strace >/dev/null 2>&1; then
	strace -f -qq -e trace=execve -s 4096 -o "$WORK/execs" sh "$PHONE_HOME" "$WORK/installed" >"$WORK/phone.out" 2>&1; rc=$?
	expect_eq "phone-home: reported in" 0 "$rc"
	expect_match "phone-home: the programs it ran were traced" 'execve\("[^"]*curl"' "$(cat "$WORK/execs")"
	expect_no_match "phone-home: the token is on no command line" "$P" "$(cat "$WORK/execs")"
else
	sh "$PHONE_HOME" "$WORK/installed" >"$WORK/phone.out" 2>&1; rc=$?
	expect_eq "phone-home: reported in" 0 "$rc"
	skip "phone-home: the token is on no command line" "strace is not installed (deploy/install-deps.sh test)"
fi
expect_eq "phone-home: anemosd took the report" deployed "$(host_field 52:54:00:40:00:05 .status)"
check "phone-home: later boots stay quiet" test -f "$WORK/installed/var/lib/anemos/phoned-home"

# The tiny and cloud images' phone-home (base=busybox's /usr/lib/anemos/phone-home), under
# Debian's busybox-static as on those systems: the token goes from the file into the shell's
# builtin printf and down a pipe to busybox nc, so no program it runs has it in its
# arguments or its environment (strace -v: both of every exec).
BB_PHONE_HOME=$ROOT/images/base/busybox-phone-home
BUSYBOX=$(command -v busybox 2>/dev/null)
[ -n "$BUSYBOX" ] || [ ! -x "$ROOT/build/images-cache/busybox-root/bin/busybox" ] ||
	BUSYBOX=$ROOT/build/images-cache/busybox-root/bin/busybox
if [ -z "$BUSYBOX" ]; then
	skip "busybox phone-home" "no busybox (apt-get install busybox-static)"
else
	api POST /api/v1/hosts '{"mac":"52:54:00:40:00:07","next_boot":"install","image":"tiny"}' >/dev/null
	T=$(boot_token 52:54:00:40:00:07)
	r=$(agent POST /api/v1/agent/phone-home-token "$T")
	P=$(body_of "$r" | jq -r .token)
	BBROOT=$WORK/installed-busybox
	mkdir -p "$BBROOT/etc/anemos" "$BBROOT/root/.ssh"
	(umask 077 && printf 'url=%s\ntoken=%s\n' "$(body_of "$r" | jq -r .url)" "$P" >"$BBROOT/etc/anemos/phone-home")
	printf '# the operator\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAItest op@site\n' >"$BBROOT/root/.ssh/authorized_keys"
	if command -v strace >/dev/null 2>&1; then
		timeout 60 strace -f -qq -v -e trace=execve -e signal=none -s 4096 -o "$WORK/bb-execs" \
			"$BUSYBOX" sh "$BB_PHONE_HOME" -i tiny "$BBROOT" >"$WORK/bb-phone.out" 2>&1; rc=$?
		expect_match "busybox phone-home: it ran busybox nc (traced)" 'execve\([^)]*\["nc", "127\.0\.0\.1", "'"$PORT"'"\]' \
			"$(cat "$WORK/bb-execs")"
		expect_no_match "busybox phone-home: the token is in no exec's arguments or environment" "$P" "$(cat "$WORK/bb-execs")"
	else
		timeout 60 "$BUSYBOX" sh "$BB_PHONE_HOME" -i tiny "$BBROOT" >"$WORK/bb-phone.out" 2>&1; rc=$?
		skip "busybox phone-home: the token is on no command line" "strace is not installed (deploy/install-deps.sh test)"
	fi
	expect_eq "busybox phone-home: reported in" 0 "$rc"
	expect_match "busybox phone-home: says so" "phone-home: told $ANEMOS_URL/api/v1/phone-home" "$(cat "$WORK/bb-phone.out")"
	expect_eq "busybox phone-home: anemosd took the report" deployed "$(host_field 52:54:00:40:00:07 .status)"
	expect_match "busybox phone-home: the report (keys counted, the image named)" \
		'installed system reported in: .*"image":"tiny".*"ssh_authorized_keys":1' "$(events 52:54:00:40:00:07)"
	# A token anemosd does not know: refused at once, not asked again ten times.
	printf 'url=%s/api/v1/phone-home\ntoken=anemos_phone_0000\n' "$ANEMOS_URL" >"$BBROOT/etc/anemos/phone-home"
	t0=$(date +%s)
	timeout 60 "$BUSYBOX" sh "$BB_PHONE_HOME" "$BBROOT" >"$WORK/bb-phone.out" 2>&1; rc=$?
	expect_eq "busybox phone-home with an unknown token: exit 1" 1 "$rc"
	expect_match "busybox phone-home with an unknown token: the server's reason, no retries" \
		'refused the report: HTTP 401 .*unknown' "$(cat "$WORK/bb-phone.out")"
	check "busybox phone-home with an unknown token: at once ($(( $(date +%s) - t0 )) s)" test $(( $(date +%s) - t0 )) -lt 5
	printf 'url=https://192.0.2.1/api/v1/phone-home\ntoken=x\n' >"$BBROOT/etc/anemos/phone-home"
	timeout 60 "$BUSYBOX" sh "$BB_PHONE_HOME" "$BBROOT" >"$WORK/bb-phone.out" 2>&1; rc=$?
	expect_eq "busybox phone-home: an https:// URL is refused (busybox nc has no TLS)" "1 only http:// URLs" \
		"$rc $(grep -o 'only http:// URLs' "$WORK/bb-phone.out")"
	# An IPv6 URL (http://[::1]:PORT/PATH), against a one-request listener that keeps what
	# came and answers 204.
	V6_PORT=$(free_port)
	python3 - "$V6_PORT" "$WORK/v6-request" >"$WORK/v6.log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::1", int(sys.argv[1])))
s.listen(1)
print("ready", flush=True)
s.settimeout(30)
c, _ = s.accept()
c.settimeout(10)
data = b""
while b"\r\n\r\n" not in data:
    data += c.recv(4096)
head, _, body = data.partition(b"\r\n\r\n")
length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
while len(body) < length:
    body += c.recv(4096)
open(sys.argv[2], "wb").write(head + b"\n\n" + body)
c.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
c.close()
PY
	V6_PID=$!
	for _ in $(seq 1 50); do
		grep -q ready "$WORK/v6.log" && break
		kill -0 "$V6_PID" 2>/dev/null || break
		sleep 0.1
	done
	if grep -q ready "$WORK/v6.log"; then
		printf 'url=http://[::1]:%s/api/v1/phone-home\ntoken=%s\n' "$V6_PORT" "$P" >"$BBROOT/etc/anemos/phone-home"
		timeout 60 "$BUSYBOX" sh "$BB_PHONE_HOME" "$BBROOT" >"$WORK/bb-phone.out" 2>&1; rc=$?
		expect_eq "busybox phone-home over IPv6: a 2xx answer is success" 0 "$rc"
		expect_match "busybox phone-home over IPv6: the request, its Host and its token" \
			"^POST /api/v1/phone-home HTTP/1.1 .*Host: \\[::1\\]:$V6_PORT .*Authorization: Bearer $P .*\"ssh_authorized_keys\":1" \
			"$(tr -d '\r' <"$WORK/v6-request" 2>/dev/null | tr '\n' ' ')"
	else
		skip "busybox phone-home over IPv6" "cannot listen on [::1]: $(tail -n 1 "$WORK/v6.log")"
	fi
	kill "$V6_PID" 2>/dev/null
	wait "$V6_PID" 2>/dev/null
fi

# anemosd busy (every waiting place taken: 503 with Retry-After) while a machine discovers:
# its agent waits as long as anemosd says (5 s, and some jitter) and asks again past
# --retry-for, until it gets its plan (or reaches its power-off deadline).
anemosd_stop
anemosd_start --max-waiting 1 || exit 1
TA=$(boot_token 52:54:00:40:00:08)
agent GET "/api/v1/agent/plan?wait=60" "$TA" >"$WORK/blocker.out" & blocker=$!
sleep 1   # the one waiting place is the blocker's
T=$(boot_token 52:54:00:40:00:09)
run_agent discover "$T" --retry-for 2 --poweroff-after 50 & pid=$!
for _ in $(seq 1 100); do grep -q 'HTTP 503' "$WORK/agent.out" 2>/dev/null && break; sleep 0.1; done
expect_match "busy: the agent's plan request is answered 503" 'plan\?wait=[0-9]+: HTTP 503' "$(cat "$WORK/agent.out")"
expect_match "busy: it waits as long as Retry-After says, with jitter (5-7.5 s)" 'HTTP 503.*; retrying in [5-7]\.[0-9] s' \
	"$(cat "$WORK/agent.out")"
sleep 3
check "busy: it is still asking past --retry-for" kill -0 $pid
api PATCH /api/v1/hosts/52:54:00:40:00:08 '{"next_boot":"local"}' >/dev/null
api PATCH /api/v1/hosts/52:54:00:40:00:09 '{"next_boot":"local"}' >/dev/null
wait $blocker
wait $pid; rc=$?
expect_eq "busy: once anemosd has room, the agent gets its plan (local: exit 0)" 0 "$rc"
expect_no_match "busy: it never gave up" 'giving up' "$(cat "$WORK/agent.out")"

# A refused token: no retrying, a clear exit.
run_agent discover anemos_agent_0000; rc=$?
expect_eq "refused token: exit 1" 1 "$rc"
expect_match "refused token: the server's reason is shown" 'unknown, expired or revoked' "$(cat "$WORK/agent.out")"
anemosd_stop

# anemosd unreachable: bounded retries, then exit 1.
run_agent discover "$T" --retry-for 3; rc=$?
expect_eq "anemosd unreachable: exit 1" 1 "$rc"
expect_match "anemosd unreachable: it retried, then gave up" 'retrying in 1\.[0-9] s.*giving up after [0-9]+ s' \
	"$(tr '\n' '|' <"$WORK/agent.out")"
