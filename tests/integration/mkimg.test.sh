#!/usr/bin/env bash
# cost: 8
# lock: images-cache
# anemos-mkimg: builds the shipped tiny recipe (from the shared package cache, so a second run
# needs no network), checks its archive and manifest, its file list (--manifest) against
# anemos-agent's of the unpacked archive, a throwaway recipe's provision and files/ tree, and
# the errors for recipes it must refuse. Booting tiny is the e2e suite's job.
source "$(dirname "$0")/lib.sh"
MKIMG=$BUILD/anemos-mkimg
AGENT=$BUILD/anemos-agent
CACHE=$ROOT/build/images-cache
OUT=$WORK/out
cd "$ROOT" || exit 1

if [ ! -x "$MKIMG" ]; then
	fail "anemos-mkimg is built" "$MKIMG missing"
	exit 1
fi

# --- tiny ----------------------------------------------------------------------------------------
t0=$(date +%s%N)
FILES=$WORK/tiny.files
if "$MKIMG" --out "$OUT" --cache "$CACHE" --manifest "$FILES" images/tiny/recipe >"$WORK/tiny.log" 2>&1; then
	ok "tiny builds ($((($(date +%s%N) - t0) / 1000000)) ms)"
else
	fail "tiny builds" "$(tail -n 15 "$WORK/tiny.log")"
	exit 1
fi
IMG=$OUT/tiny.tar.zst
MAN=$OUT/tiny.manifest.json
check "manifest is JSON" jq -e . "$MAN" >/dev/null
field() { jq -r ".$1" "$MAN"; }
expect_eq "manifest name" tiny "$(field name)"
expect_eq "manifest format" tar.zst "$(field format)"
expect_eq "manifest compression" zstd "$(field compression)"
expect_eq "manifest sha256 is the file's" "$(sha256sum <"$IMG" | cut -d' ' -f1)" "$(field sha256)"
expect_eq "manifest size is the file's" "$(stat -c %s "$IMG")" "$(field size)"
expect_eq "manifest kernel" boot/vmlinuz "$(field kernel)"
expect_eq "manifest initrd" boot/initrd.img "$(field initrd)"
expect_match "manifest created is ISO-8601" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' "$(field created)"
check "archive is one whole zstd stream" zstd -q -t "$IMG"

list=$(tar --zstd -tf "$IMG" 2>&1)
for p in sbin/init bin/busybox boot/vmlinuz boot/initrd.img; do
	expect_match "archive holds $p" "^$p\$" "$list"
done
expect_match "manifest kernel is in the archive" "^$(field kernel)\$" "$list"
expect_match "manifest initrd is in the archive" "^$(field initrd)\$" "$list"
expect_match "archive holds lib/modules/VERSION/modules.dep" '^lib/modules/[^/]+/modules\.dep$' "$list"
expect_match "archive holds the udhcpc script" '^etc/udhcpc/default\.script$' "$list"
expect_match "archive holds the virtio_blk module" '/virtio_blk\.ko$' "$list"
owners=$(tar --zstd -tvf "$IMG" | awk '{ print $2 }' | sort -u)
expect_eq "every entry is owned by 0:0" 0/0 "$owners"
expect_match "sbin/init is executable" '^-rwxr-xr-x ' "$(tar --zstd -tvf "$IMG" sbin/init)"
expect_match "applets are symlinks to busybox" '^l.* bin/sh -> busybox$' "$(tar --zstd -tvf "$IMG" bin/sh)"
usize=$(field uncompressed_size)
check "tiny stays small (under 64 MiB unpacked: $((usize / 1048576)) MiB)" test "$usize" -lt $((64 << 20))

# The initrd: a zstd newc cpio whose /init finds the root by UUID.
mkdir -p "$WORK/x"
tar --zstd -xf "$IMG" -C "$WORK/x" boot/initrd.img bin/busybox
initrd_list=$(zstd -dc "$WORK/x/boot/initrd.img" | "$WORK/x/bin/busybox" cpio -t 2>/dev/null)
expect_match "initrd holds /init" '^init$' "$initrd_list"
expect_match "initrd holds ext4" '/ext4\.ko$' "$initrd_list"
expect_match "initrd holds switch_root" '^bin/switch_root$' "$initrd_list"

# The file list (--manifest): what anemos-agent --manifest says of the same tree, unpacked
# from the archive as an install would, line for line.
check "--manifest wrote the file list" test -s "$FILES"
check "--manifest left no temporary file" test ! -e "$FILES.tmp"
check "file list is sorted (LC_ALL=C)" env LC_ALL=C sort -c "$FILES"
expect_eq "every file list line is PATH TYPE MODE DATA" "" \
	"$(awk 'NF != 4 || $2 !~ /^[fdlcbps]$/ || $3 !~ /^[0-7][0-7][0-7][0-7]$/' "$FILES" | head -n 3)"
expect_eq "file list has as many paths as the archive, less the per-host ones" \
	"$(printf '%s\n' "$list" | grep -vcE '^(etc/hostname|etc/hosts|\./?)$')" "$(wc -l <"$FILES")"
kernel_sha=$(tar --zstd -xOf "$IMG" boot/vmlinuz | sha256sum | cut -d' ' -f1)
expect_match "file list: boot/vmlinuz with the archive's content hash" \
	"^boot/vmlinuz f 0644 $kernel_sha\$" "$(cat "$FILES")"
expect_match "file list: sbin/init executable, hashed" '^sbin/init f 0755 [0-9a-f]{64}$' "$(cat "$FILES")"
expect_match "file list: bin/sh a symlink to busybox" '^bin/sh l 0777 busybox$' "$(cat "$FILES")"
expect_match "file list: folders" '^boot d 0755 -$' "$(cat "$FILES")"
expect_no_match "file list leaves out etc/hostname and etc/hosts" '^etc/(hostname|hosts) ' "$(cat "$FILES")"
# --unpack fetches over HTTP, as an install does.
HTTP_PORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$OUT" "$HTTP_PORT" >"$WORK/http.log" 2>&1 &
HTTP_PID=$!
mkdir -p "$WORK/unpacked"
for _ in $(seq 1 50); do
	curl -fsS -m 1 -o /dev/null "http://127.0.0.1:$HTTP_PORT/tiny.manifest.json" 2>/dev/null && break
	sleep 0.1
done
"$AGENT" --retry-for 10 --unpack "http://127.0.0.1:$HTTP_PORT/tiny.tar.zst" --sha256 "$(field sha256)" \
	--format tar.zst --to "$WORK/unpacked" >"$WORK/unpack.log" 2>&1
rc=$?
kill "$HTTP_PID" 2>/dev/null; wait "$HTTP_PID" 2>/dev/null
if [ "$rc" -eq 0 ]; then
	ok "anemos-agent --unpack the tiny archive"
	"$AGENT" --manifest "$WORK/unpacked" >"$WORK/agent.files" 2>"$WORK/agent-files.log"
	expect_eq "anemos-agent --manifest exits 0" 0 "$?"
	expect_eq "anemos-agent --manifest of the unpacked image is mkimg's file list" "" \
		"$(diff "$FILES" "$WORK/agent.files" | head -n 10)"
else
	fail "anemos-agent --unpack the tiny archive" "$(tail -n 5 "$WORK/unpack.log")"
fi
out=$("$AGENT" --manifest "$WORK/no-such-dir" 2>&1 >/dev/null); rc=$?
expect_eq "anemos-agent --manifest of a missing folder exits 1" 1 "$rc"
expect_match "anemos-agent --manifest says what it could not list" 'no-such-dir: No such file' "$out"

# A second build from the cache (offline) gives the same file list.
"$MKIMG" --out "$OUT" --cache "$CACHE" images/tiny/recipe >"$WORK/tiny2.log" 2>&1
rc=$?
expect_eq "tiny rebuilds from the cache" 0 "$rc"
expect_eq "rebuild lists the same files" "$list" "$(tar --zstd -tf "$IMG" 2>&1)"

# --- a recipe of our own: provision and files/ ---------------------------------------------------
R=$WORK/recipes/own
mkdir -p "$R/files/etc/anemos" "$R/files/usr/share/own"
echo from-files >"$R/files/usr/share/own/greeting"
echo "custom=1" >"$R/files/etc/anemos/custom.conf"
cat >"$R/recipe" <<'RECIPE'
name=mkimg-test-own
base=busybox
modules="ext4"
provision() {
	mkdir -p "$ROOT/var/lib/own"
	echo "provisioned in $ROOT" >"$ROOT/var/lib/own/stamp"
	# files/ is copied after provision: this one must be overwritten by it.
	echo from-provision >"$ROOT/etc/anemos/custom.conf"
}
RECIPE
if "$MKIMG" --out "$OUT" --cache "$CACHE" "$R/recipe" >"$WORK/own.log" 2>&1; then
	ok "own recipe builds"
	own=$OUT/mkimg-test-own.tar.zst
	olist=$(tar --zstd -tf "$own")
	expect_match "provision's file is in the image" '^var/lib/own/stamp$' "$olist"
	expect_match "files/ tree is in the image" '^usr/share/own/greeting$' "$olist"
	expect_eq "files/ content" from-files "$(tar --zstd -xOf "$own" usr/share/own/greeting)"
	expect_eq "files/ comes after provision" custom=1 "$(tar --zstd -xOf "$own" etc/anemos/custom.conf)"
	expect_match "provision ran with ROOT set" '^provisioned in /' "$(tar --zstd -xOf "$own" var/lib/own/stamp)"
	expect_match "provision ran with the image root as ROOT" 'work/mkimg-test-own/root$' "$(tar --zstd -xOf "$own" var/lib/own/stamp)"
	expect_eq "own manifest name" mkimg-test-own "$(jq -r .name "$OUT/mkimg-test-own.manifest.json")"
	expect_eq "files/ owned by 0:0 too" 0/0 "$(tar --zstd -tvf "$own" usr/share/own/greeting | awk '{ print $2 }')"
else
	fail "own recipe builds" "$(tail -n 15 "$WORK/own.log")"
fi

# --- recipes it must refuse -----------------------------------------------------------------------
# refuse NAME RECIPE_FILE REGEX: non-zero exit, no image, and a message matching REGEX.
refuse() {
	local out rc
	out=$("$MKIMG" --out "$WORK/refused" --cache "$CACHE" "$2" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ]; then
		fail "$1" "exit 0"
	elif ! printf '%s' "$out" | grep -qE -- "$3"; then
		fail "$1" "exit $rc, message: $(printf '%s' "$out" | head -c 300)"
	elif [ -n "$(ls "$WORK/refused" 2>/dev/null)" ]; then
		fail "$1" "left files in --out: $(ls "$WORK/refused")"
	else
		ok "$1"
	fi
}
mkdir -p "$WORK/bad"
refuse "missing recipe is refused" "$WORK/bad/does-not-exist" 'does-not-exist.*No such file'
printf 'base=busybox\n' >"$WORK/bad/noname"
refuse "recipe without name is refused" "$WORK/bad/noname" 'no name='
printf 'name=x\nbase=gentoo\n' >"$WORK/bad/badbase"
refuse "unknown base is refused" "$WORK/bad/badbase" 'base=gentoo: unknown base'
printf 'name=x\nbase=busybox\nformat=raw.zst\n' >"$WORK/bad/raw"
refuse "format=raw.zst is refused" "$WORK/bad/raw" 'raw.zst.*not supported'
printf 'name=x\nbase=busybox\nformat=zip\n' >"$WORK/bad/fmt"
refuse "unknown format is refused" "$WORK/bad/fmt" 'format=zip: unknown'
printf 'name="../x"\nbase=busybox\n' >"$WORK/bad/name"
refuse "name with a slash is refused" "$WORK/bad/name" 'name=\.\./x'
printf 'name=x\nbase=busybox\nexit 3\n' >"$WORK/bad/fails"
refuse "recipe that fails when sourced is refused" "$WORK/bad/fails" 'sourcing it.*failed'
out=$("$MKIMG" 2>&1); rc=$?
expect_eq "no recipe: usage, exit 2" "2 usage" "$rc $(printf '%s' "$out" | grep -o '^usage' | head -n 1)"
