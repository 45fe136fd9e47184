#!/usr/bin/env bash
# Proves tests/lib/mirror.sh builds and serves a signed Debian mirror real tools accept (gpgv, sums, apt), that another key is refused, and that a rebuild downloads nothing.
# run-in: build
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/lib/mirror.sh
source "$ROOT/tests/lib/mirror.sh"

M=$WORK/mirror
DIST=$M/debian/dists/bookworm
BIN=$DIST/main/binary-amd64

# A PATH shim whose apt-get refuses to run and leaves a mark: a build under it that
# succeeds downloaded nothing.
SHIM=$WORK/shim
mkdir -p "$SHIM"
cat >"$SHIM/apt-get" <<EOF
#!/bin/sh
echo "apt-get \$*" >>"$WORK/apt-get-called"
exit 1
EOF
chmod +x "$SHIM/apt-get"

# apt_in NAME APT-GET-ARGS...: apt-get with a private state (sources, lists, cache, empty
# dpkg status) that knows only the mirror being served, signed-by DIR/keyring.gpg.
apt_in() {
	local d=$WORK/apt-$1; shift
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
	: >"$d/status"
	echo "deb [signed-by=$M/keyring.gpg] $MIRROR_URL bookworm main" >"$d/sources.list"
	apt-get -o Dir::Etc::SourceList="$d/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
		-o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache" -o Dir::State::status="$d/status" \
		-o APT::Sandbox::User=root -o Acquire::Languages=none "$@"
}
# release_sum FILE: the SHA256 that Release lists for FILE (relative to dists/bookworm).
release_sum() {
	awk -v f="$1" '/^SHA256:/ { s = 1; next } /^[^ ]/ { s = 0 } s && $3 == f { print $1 }' "$DIST/Release"
}

t0=$(now)
if ! mirror_build "$M" busybox-static linux-image-amd64 2>"$WORK/build1.err"; then
	fail "mirror_build busybox-static linux-image-amd64" "$(tail -n 5 "$WORK/build1.err")"
	exit 1
fi
ok "mirror_build busybox-static linux-image-amd64 ($(secs "$t0" "$(now)") s)"

for f in InRelease Release Release.gpg main/binary-amd64/Packages main/binary-amd64/Packages.gz main/binary-amd64/Packages.xz; do
	check "dists/bookworm/$f exists" test -s "$DIST/$f"
done
check "keyring.gpg exists" test -s "$M/keyring.gpg"
rel=$(cat "$DIST/Release")
for field in 'Origin: .+' 'Label: .+' 'Suite: bookworm' 'Codename: bookworm' 'Version: .+' \
	'Architectures: amd64' 'Components: main' 'Date: .+'; do
	expect_match "Release has $field" "^$field" "$rel"
done
expect_match "Release lists the SHA256 of Packages" '[0-9a-f]{64} +[0-9]+ main/binary-amd64/Packages$' "$(grep -A4 '^SHA256:' "$DIST/Release")"

expect_match "gpgv accepts InRelease" 'Good signature' "$(gpgv --keyring "$M/keyring.gpg" "$DIST/InRelease" 2>&1)"
expect_match "gpgv accepts Release.gpg" 'Good signature' "$(gpgv --keyring "$M/keyring.gpg" "$DIST/Release.gpg" "$DIST/Release" 2>&1)"
expect_eq "InRelease carries the same Release" "$rel" "$(gpgv --keyring "$M/keyring.gpg" --output - "$DIST/InRelease" 2>/dev/null)"

# The package set: exactly what was asked for, plus the kernel behind linux-image-amd64 (the
# one anemos-mkimg used, when it recorded one).
pkgs=$(awk '/^Package:/ { print $2 }' "$BIN/Packages" | sort | tr '\n' ' ')
kernel=$(awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2 }' "$BIN/Packages" | head -n 1)
expect_match "linux-image-amd64 depends on a concrete kernel" '^linux-image-[0-9].*-amd64$' "$kernel"
if [ -s "$ROOT/build/images-cache/debs/kernel-package" ]; then
	kernel=$(cat "$ROOT/build/images-cache/debs/kernel-package")
	expect_match "the mirror carries anemos-mkimg's kernel ($kernel)" " $kernel " " $pkgs"
fi
expect_eq "Packages holds exactly the asked set" "$(printf '%s\n' busybox-static linux-image-amd64 "$kernel" | sort -u | tr '\n' ' ')" "$pkgs"
expect_no_match "pool file names carry no epoch" '%3a|:' "$(awk '/^Filename:/ { print $2 }' "$BIN/Packages")"
expect_eq "Packages.gz is Packages" "$(sha256sum <"$BIN/Packages")" "$(gzip -dc "$BIN/Packages.gz" | sha256sum)"

if ! mirror_serve "$M" 2>"$WORK/serve.err"; then
	fail "mirror_serve" "$(cat "$WORK/serve.err")"
	exit 1
fi
ok "mirror_serve"
expect_eq "MIRROR_URL" "http://127.0.0.1:$MIRROR_PORT/debian" "$MIRROR_URL"
check "the server runs as MIRROR_PID" kill -0 "$MIRROR_PID"
expect_match "the EXIT trap stops the server, then cleans up" "mirror_stop.*_cleanup" "$(trap -p EXIT)"
first_pid=$MIRROR_PID

expect_eq "Release over HTTP is the built one" "$(sha256sum <"$DIST/Release")" "$(curl -fsS -m 10 "$MIRROR_URL/dists/bookworm/Release" | sha256sum)"
curl -fsS -m 10 -o "$WORK/Packages.xz" "$MIRROR_URL/dists/bookworm/main/binary-amd64/Packages.xz"
expect_eq "fetched Packages.xz matches its SHA256 in Release" "$(release_sum main/binary-amd64/Packages.xz)" "$(sha256sum <"$WORK/Packages.xz" | cut -d' ' -f1)"
expect_eq "fetched Packages.xz unpacks to the Packages of Release's SHA256" "$(release_sum main/binary-amd64/Packages)" "$(xz -dc "$WORK/Packages.xz" | sha256sum | cut -d' ' -f1)"

# Every .deb downloads over HTTP and matches its SHA256 in Packages.
n=0
while read -r file sum; do
	n=$((n + 1))
	got=$(curl -fsS -m 60 "$MIRROR_URL/$file" | sha256sum | cut -d' ' -f1)
	expect_eq "$file downloads with its SHA256" "$sum" "$got"
done < <(xz -dc "$WORK/Packages.xz" | awk '/^Filename:/ { f = $2 } /^SHA256:/ { s = $2 } /^$/ { if (f != "") print f, s; f = "" }')
expect_eq "every package was checked" 3 "$n"

# apt itself, with a private state that knows only this mirror.
out=$(apt_in good update 2>&1); rc=$?
expect_eq "apt-get update against the mirror succeeds" 0 "$rc"
expect_no_match "apt-get update warns of nothing" '^(W|E|Err):' "$out"
uri=$(apt_in good install --print-uris -qq busybox-static 2>&1)
expect_match "apt fetches busybox-static from the mirror's pool" "^'$MIRROR_URL/pool/main/b/busybox/busybox-static_[^']*_amd64\.deb'" "$uri"

# Signed by another key: gpgv and apt refuse it; the keyring stays the first key's.
cp -a "$M" "$WORK/other"
cp "$M/keyring.gpg" "$WORK/keyring.first"
check "mirror_sign_with_other_key" mirror_sign_with_other_key "$WORK/other" 2>>"$WORK/sign.err"
check "the keyring stays the first key's" cmp -s "$WORK/keyring.first" "$WORK/other/keyring.gpg"
expect_match "gpgv refuses InRelease signed by another key" 'No public key' "$(gpgv --keyring "$WORK/other/keyring.gpg" "$WORK/other/debian/dists/bookworm/InRelease" 2>&1)"
# shellcheck disable=SC2016
check "gpgv exits non-zero on it" bash -c '! gpgv --keyring "$1/keyring.gpg" "$1/debian/dists/bookworm/InRelease" 2>/dev/null' _ "$WORK/other"
expect_match "gpgv refuses Release.gpg signed by another key" 'No public key' "$(gpgv --keyring "$WORK/other/keyring.gpg" "$WORK/other/debian/dists/bookworm/Release.gpg" "$WORK/other/debian/dists/bookworm/Release" 2>&1)"
mirror_stop
# shellcheck disable=SC2016
check "mirror_stop stops the server" bash -c '! kill -0 "$1" 2>/dev/null' _ "$first_pid"
M_SAVED=$M; M=$WORK/other
if mirror_serve "$M" 2>/dev/null; then
	out=$(apt_in other update 2>&1)
	expect_match "apt-get update refuses the other key (NO_PUBKEY)" 'NO_PUBKEY' "$out"
else
	fail "mirror_serve the re-signed copy"
fi
mirror_stop
M=$M_SAVED

# A second build of the same set, with apt-get made to fail: no download, same result.
before=$(find "$MIRROR_CACHE" -type f | sort | sha256sum)
cp "$BIN/Packages" "$WORK/Packages.first"
t0=$(now)
PATH=$SHIM:$PATH mirror_build "$M" busybox-static linux-image-amd64 2>"$WORK/build2.err"; rc=$?
expect_eq "the warm mirror_build succeeds without apt-get ($(secs "$t0" "$(now)") s)" 0 "$rc"
check "the warm mirror_build called no apt-get" test ! -e "$WORK/apt-get-called"
expect_eq "the cache is unchanged" "$before" "$(find "$MIRROR_CACHE" -type f | sort | sha256sum)"
check "the rebuilt Packages is the same" cmp -s "$WORK/Packages.first" "$BIN/Packages"
check "the rebuild reuses the cached key" cmp -s "$WORK/keyring.first" "$M/keyring.gpg"
expect_match "the rebuilt InRelease verifies" 'Good signature' "$(gpgv --keyring "$M/keyring.gpg" "$DIST/InRelease" 2>&1)"

# Failures say so.
err=$(PATH=$SHIM:$PATH mirror_build "$WORK/bad" no-such-package-anemos 2>&1); rc=$?
check "mirror_build of an unobtainable package fails" test "$rc" -ne 0
expect_match "... and says why" 'mirror: ERROR: apt-get download no-such-package-anemos failed' "$err"
err=$(mirror_serve "$WORK/nothing" 2>&1); rc=$?
check "mirror_serve of no mirror fails" test "$rc" -ne 0
expect_match "... and says why (no mirror)" 'mirror: ERROR: mirror_serve: no mirror' "$err"

# shellcheck disable=SC2154
[ "$_failures" -eq 0 ]
