#!/usr/bin/env bash
# cost: 8
# The README's "Using it" commands, as written: the first code block under "## Using it" in
# README.md is read (so a README that drifts from what the programs do fails here), and its
# lines run one after another in one bash, in a folder laid out as the source tree is after
# `make run` (build/ with the programs and build/images/tiny.tar.zst, var/ the data folder),
# against the appliance `make run` starts (deploy/run-local.sh, its last step, with its
# defaults: no --public-url, the token in var/admin-token). The one change: the port, a free
# one instead of 8080, in the block's URLs too. `make run` itself is that start (it builds
# first); `make demo` boots QEMU and is tests/e2e/demo.test.sh's (skipped here, and counted).
# Every line must succeed, and what each did is checked through the API.
source "$(dirname "$0")/lib.sh"
block=$(awk '/^## Using it$/ { s = 1; next } s && /^## / { exit } s && /^```/ { if (b) exit; b = 1; next } b' "$ROOT/README.md")
mapfile -t lines <<<"$block"
expect_match "README.md has a \"Using it\" section whose first code block starts with make run" '^make run ' "${lines[0]:-}"
[ "${#lines[@]}" -ge 8 ] || { fail "the block has its commands" "${#lines[@]} lines"; exit 1; }

# The tree as `make run` leaves it: the programs and the images under build/, data in var/.
mkdir -p "$WORK/tree/build/images"
for p in anemosd anemosctl; do ln -s "$BUILD/$p" "$WORK/tree/build/$p"; done
[ -d "$ROOT/build/boot" ] && ln -s "$ROOT/build/boot" "$WORK/tree/build/boot"
if [ -s "$ROOT/build/images/tiny.tar.zst" ]; then
	ln -s "$ROOT/build/images/tiny.tar.zst" "$WORK/tree/build/images/tiny.tar.zst"
else
	# Not built yet (make images IMAGES=tiny): a small real image, a zstd tar of one file.
	mkdir -p "$WORK/img/etc" && echo tiny >"$WORK/img/etc/hostname"
	tar -C "$WORK/img" -I zstd -cf "$WORK/tree/build/images/tiny.tar.zst" .
fi
PORT=$(free_port)
(cd "$WORK/tree" && ANEMOS_LISTEN=127.0.0.1:$PORT exec "$ROOT/deploy/run-local.sh" build) \
	>"$WORK/run.out" 2>"$WORK/run.err" &
RUN_PID=$!
trap 'kill "$RUN_PID" 2>/dev/null; wait "$RUN_PID" 2>/dev/null; _cleanup' EXIT
for _ in $(seq 1 150); do grep -q '^Use the CLI' "$WORK/run.out" 2>/dev/null && break; sleep 0.2; done
expect_match "make run's appliance is up and prints the CLI's next step" '^Use the CLI' "$(cat "$WORK/run.out")"

# The block as a script: each line echoed, run, its status printed; make run and make demo
# are the two lines not run (see above).
script=$WORK/readme.sh
{
	echo 'set -u'
	for i in "${!lines[@]}"; do
		l=${lines[$i]//127.0.0.1:8080/127.0.0.1:$PORT}
		case $l in
		'make run'*) continue ;;
		'make demo'*) echo "echo '### $i skip'"; continue ;;
		esac
		printf 'echo %q\n%s\necho "### %d rc=$?"\n' "### $i $l" "$l" "$i"
	done
} >"$script"
out=$(cd "$WORK/tree" && env -u ANEMOS_URL -u ANEMOS_TOKEN bash "$script" 2>&1)
echo "$out" | sed 's/^/# /'
for i in "${!lines[@]}"; do
	l=$(sed -e 's/  *#.*//' -e 's/ *$//' <<<"${lines[$i]}")   # without its comment
	case $l in
	'make run'*) continue ;;
	'make demo'*) skip "README: $l" "a QEMU machine: tests/e2e/demo.test.sh boots it"; continue ;;
	esac
	expect_match "README: $l succeeds" "^### $i rc=0\$" "$out"
done

# What the commands did, seen through the API with the token make run made.
ANEMOS_URL=http://127.0.0.1:$PORT
ANEMOS_TOKEN=$(cat "$WORK/tree/var/admin-token")
expect_match "status said anemosd answers and where machines boot from" \
	"answers: ok.*boot URL:   http://127.0.0.1:$PORT/boot.ipxe" "$(tr '\n' ' ' <<<"$out")"
h=$(body_of "$(api GET /api/v1/hosts/web1)")
expect_eq "host add: web1 with its MAC" "52:54:00:12:34:56" "$(jq -r '.macs[0] // .mac' <<<"$h")"
expect_eq "host set: web1 installs tiny2 once" "install tiny2 true" "$(jq -r '"\(.next_boot) \(.image) \(.once)"' <<<"$h")"
imgs=$(body_of "$(api GET /api/v1/images)")
expect_eq "image add: tiny2, with the file's SHA-256" \
	"$(sha256sum "$WORK/tree/build/images/tiny.tar.zst" | cut -d' ' -f1)" \
	"$(jq -r '.images[] | select(.name == "tiny2") | .sha256' <<<"$imgs")"
# What the commands printed, without the "### N COMMAND" lines the run echoes (which name
# what the checks look for).
said=$(grep -v '^### ' <<<"$out")
expect_match "image list: tiny2 listed" '(^|[[:space:]])tiny2([[:space:]]|$)' "$said"
expect_match "host events: web1's enrollment" 'enrolled with MAC 52:54:00:12:34:56' \
	"$(sed -n '/^### [0-9]* build\/anemosctl host events/,$p' <<<"$out" | grep -v '^### ')"
[ "$_failures" -eq 0 ] || sed 's/^/# run: /' "$WORK/run.err" | tail -n 20
[ "$_failures" -eq 0 ]
