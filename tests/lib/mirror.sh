# shellcheck shell=bash disable=SC2015
# A hermetic, signed Debian bookworm mirror for tests: built from a persistent .deb cache,
# signed with a throwaway key, served over HTTP on loopback. Sourced by bash suites after
# tests/integration/lib.sh (which defines ROOT, WORK, free_port and `trap _cleanup EXIT`).
#
#   mirror_build DIR [--minbase] [--with-deps] PKG...
#                                         DIR/debian/{dists,pool}, DIR/keyring.gpg: exactly
#                                         PKG (no dependencies), plus with --minbase what
#                                         debootstrap --variant=minbase installs; with
#                                         --with-deps also everything PKG depends on
#                                         (recommends left out, as apt-get install
#                                         --no-install-recommends resolves it on top of
#                                         minbase), resolved by apt for an empty system
#   mirror_sign_with_other_key DIR        re-sign DIR's Release with another throwaway key
#   mirror_serve DIR [--low-port]         sets MIRROR_PORT, MIRROR_PID, MIRROR_URL; with
#                                         --low-port a port below 32768 (apt-cacher-ng 3.7
#                                         fetches from no higher one)
#   mirror_stop                           stops the server mirror_serve started (by PID)
#
# mirror_serve chains mirror_stop in front of whatever EXIT trap is set when it runs. A suite
# that sets its own EXIT trap after mirror_serve must call mirror_stop in it; as a last
# resort the server also exits by itself within a couple of seconds once the test shell is gone.
# A QEMU guest on user networking reaches the mirror at http://10.0.2.2:$MIRROR_PORT/debian
# (and the key at http://10.0.2.2:$MIRROR_PORT/keyring.gpg); the server also listens on ::1,
# so a guest with IPv6 on (-netdev user,ipv6-net=2001:db8::/64,ipv6-host=2001:db8::2) reaches
# it at http://[2001:db8::2]:$MIRROR_PORT/debian.
#
# .debs come from $ROOT/build/mirror-cache/debs (kept across runs, named as apt-get download
# names them); packages the image builders already fetched (their .deb caches, debootstrap's
# included) are copied from their caches first, so the mirror carries the very same
# versions; only what is still missing is downloaded. The signing keys are cached (exported) in $ROOT/build/mirror-cache/key/.

MIRROR_CACHE=${MIRROR_CACHE:-$ROOT/build/mirror-cache}
MIRROR_PORT=""
MIRROR_PID=""
MIRROR_URL=""

_mirror_say() { echo "mirror: $*" >&2; }
_mirror_err() { echo "mirror: ERROR: $*" >&2; return 1; }

# _mirror_scan DIR ARRAY: fills the associative ARRAY with NAME -> the newest NAME_*.deb in DIR.
_mirror_scan() {
	local -n _scan=$2
	local f b
	_scan=()
	[ -d "$1" ] || return 0
	while IFS= read -r f; do
		[ -e "$f" ] || continue
		b=${f##*/}; _scan[${b%%_*}]=$f
	done < <(printf '%s\n' "$1"/*.deb | sort -V)
}

_MIRROR_APT_UPDATED=0
# _mirror_download NAME...: apt-get download into the cache (through a private folder, so
# a concurrent build never sees a half-written file); one apt-get update if it fails.
_mirror_download() {
	local tmp f try
	tmp=$(mktemp -d "$MIRROR_CACHE/debs/.download.XXXXXX") || return 1
	for try in 1 2; do
		if (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$@" >/dev/null); then
			for f in "$tmp"/*.deb; do [ -e "$f" ] && mv -f "$f" "$MIRROR_CACHE/debs/"; done
			rm -rf "$tmp"
			return 0
		fi
		[ "$try" = 1 ] && [ "$_MIRROR_APT_UPDATED" = 0 ] && [ "$(id -u)" = 0 ] || break
		_MIRROR_APT_UPDATED=1
		_mirror_say "apt-get download failed; refreshing the package index (apt-get update) once"
		apt-get update -qq >&2 || break
		rm -f "$tmp"/*.deb
	done
	rm -rf "$tmp"
	_mirror_err "apt-get download $* failed: is the package index there and the registry reachable?"
}

# _mirror_kernel_package: the concrete kernel behind linux-image-amd64, the one anemos-mkimg
# used if it recorded one.
_mirror_kernel_package() {
	local f=$ROOT/build/images-cache/debs/kernel-package k=""
	[ -s "$f" ] && k=$(head -n 1 "$f")
	[ -n "$k" ] || k=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }')
	[ -n "$k" ] || { _mirror_err "cannot resolve linux-image-amd64 to a kernel package (apt-get update?)"; return 1; }
	printf '%s\n' "$k"
}

# _mirror_required: the names of the Priority: required packages apt knows (amd64 or all).
_mirror_required() {
	apt-cache dumpavail | awk '
		/^Package:/ { p = $2 } /^Architecture:/ { a = $2 } /^Priority: required$/ { r = 1 }
		/^$/ { if (r && p != "" && (a == "amd64" || a == "all")) print p; p = ""; a = ""; r = 0 }' | sort -u
}

# _mirror_closure MIN NAME...: the names of NAME and everything it depends on (Depends and
# Pre-Depends, not Recommends), as apt resolves it for an empty system, in one go so that
# its choices among alternatives agree; fails unless at least MIN packages come out.
_mirror_closure() {
	local min=$1 tmp list
	shift
	tmp=$(mktemp -d) || return 1
	: >"$tmp/status"; mkdir -p "$tmp/archives/partial"
	list=$(apt-get install --print-uris -qq -o Dir::State::status="$tmp/status" \
		-o Dir::Cache::archives="$tmp/archives" -o APT::Install-Recommends=false \
		"$@" 2>"$tmp/err" | awk '{ split($2, f, "_"); print f[1] }' | sort -u)
	if [ "$(printf '%s\n' "$list" | grep -c .)" -lt "$min" ]; then
		_mirror_err "cannot resolve the dependencies of $* (apt-get update?): $(head -c 300 "$tmp/err")"
		rm -rf "$tmp"; return 1
	fi
	rm -rf "$tmp"
	printf '%s\n' "$list"
}

# _mirror_minbase: the names of debootstrap's minbase set (Priority required + apt +
# usr-is-merged, with their dependencies), as apt resolves it for an empty system.
_mirror_minbase() {
	local req
	req=$(_mirror_required)
	[ -n "$req" ] || { _mirror_err "cannot resolve the minbase set: apt knows no required packages (apt-get update?)"; return 1; }
	# shellcheck disable=SC2086
	_mirror_closure 40 $req apt usr-is-merged
}

# _mirror_gpg_home KEY HOME: makes HOME a GNUPGHOME holding the cached throwaway key KEY
# (made once, then kept as an export in $MIRROR_CACHE/key/KEY.asc); prints its fingerprint.
_mirror_gpg_home() {
	local key=$1 home=$2 asc=$MIRROR_CACHE/key/$1.asc gpg
	gpg=(gpg --homedir "$home" --batch --quiet --pinentry-mode loopback --passphrase '')
	mkdir -p "$MIRROR_CACHE/key" && chmod 700 "$MIRROR_CACHE/key" "$home" || return 1
	if [ -s "$asc" ]; then
		"${gpg[@]}" --import "$asc" 2>/dev/null || { _mirror_err "cannot import $asc"; return 1; }
	else
		"${gpg[@]}" --quick-gen-key "Anemos test mirror ($key) <mirror-$key@anemos.invalid>" \
			rsa3072 sign never 2>/dev/null || { _mirror_err "gpg --quick-gen-key failed"; return 1; }
		"${gpg[@]}" --armor --export-secret-keys >"$asc.$$" && mv -f "$asc.$$" "$asc" ||
			{ rm -f "$asc.$$"; _mirror_err "cannot save the key in $asc"; return 1; }
	fi
	"${gpg[@]}" --with-colons --list-secret-keys | awk -F: '$1 == "fpr" { print $10; exit }'
}

# _mirror_sign DIST KEY [KEYRING]: writes DIST/InRelease and DIST/Release.gpg for
# DIST/Release with key KEY; exports its public keyring to KEYRING if given.
_mirror_sign() {
	local dist=$1 key=$2 keyring=${3:-} home fpr rc=0
	home=$(mktemp -d /tmp/anemos-gpg.XXXXXX) || return 1
	fpr=$(_mirror_gpg_home "$key" "$home") && [ -n "$fpr" ] || rc=1
	if [ "$rc" = 0 ]; then
		rm -f "$dist/InRelease" "$dist/Release.gpg"
		gpg --homedir "$home" --batch --quiet --pinentry-mode loopback --passphrase '' \
			--digest-algo SHA512 -u "$fpr" --clearsign -o "$dist/InRelease" "$dist/Release" &&
		gpg --homedir "$home" --batch --quiet --pinentry-mode loopback --passphrase '' \
			--digest-algo SHA512 -u "$fpr" --armor --detach-sign -o "$dist/Release.gpg" "$dist/Release" || rc=1
	fi
	if [ "$rc" = 0 ] && [ -n "$keyring" ]; then
		gpg --homedir "$home" --batch --export "$fpr" >"$keyring" && [ -s "$keyring" ] || rc=1
	fi
	gpgconf --homedir "$home" --kill all >/dev/null 2>&1
	rm -rf "$home"
	[ "$rc" = 0 ] || _mirror_err "signing $dist/Release with key '$key' failed"
}

# _mirror_locked COMMAND...: runs COMMAND in a subshell holding $MIRROR_CACHE/.lock, so that
# suites running at once (deploy, recipe, mirror) never make the same cached key twice or
# fill the cache together; each waits only for another's mirror build, not its whole run.
_mirror_locked() { ( mkdir -p "$MIRROR_CACHE" && exec 9>"$MIRROR_CACHE/.lock" && flock 9 && "$@" ); }

# mirror_build DIR [--minbase] [--with-deps] PKG...: see the top of this file.
mirror_build() { _mirror_locked _mirror_build "$@"; }
_mirror_build() {
	local dir="" minbase=0 deps=0 a p f deb src missing=() want=() debs=() t0 name ver arch srcpkg prefix
	t0=$(date +%s)
	for a in "$@"; do
		case $a in
		--minbase) minbase=1 ;;
		--with-deps) deps=1 ;;
		-*) _mirror_err "mirror_build: unknown option $a"; return 1 ;;
		*) if [ -z "$dir" ]; then dir=$a; else want+=("$a"); fi ;;
		esac
	done
	[ -n "$dir" ] || { _mirror_err "usage: mirror_build DIR [--minbase] [--with-deps] PKG..."; return 1; }
	command -v apt-ftparchive >/dev/null || { _mirror_err "apt-ftparchive missing (apt-get install apt-utils)"; return 1; }
	command -v gpg >/dev/null || { _mirror_err "gpg missing (apt-get install gnupg)"; return 1; }
	for a in "${want[@]}"; do
		if [ "$a" = linux-image-amd64 ]; then
			p=$(_mirror_kernel_package) || return 1
			want+=("$p")
		fi
	done
	if [ "$deps" = 1 ]; then
		# One resolution over minbase and the packages together, as apt in a minbase chroot
		# would pick among alternatives.
		local roots=("${want[@]}")
		if [ "$minbase" = 1 ]; then
			p=$(_mirror_required) && [ -n "$p" ] || { _mirror_err "cannot resolve the minbase set: apt knows no required packages (apt-get update?)"; return 1; }
			mapfile -t -O "${#roots[@]}" roots <<<"$p"
			roots+=(apt usr-is-merged)
		fi
		p=$(_mirror_closure "${#want[@]}" "${roots[@]}") || return 1
		mapfile -t -O "${#want[@]}" want <<<"$p"
	elif [ "$minbase" = 1 ]; then
		p=$(_mirror_minbase) || return 1
		mapfile -t -O "${#want[@]}" want <<<"$p"
	fi
	mapfile -t want < <(printf '%s\n' "${want[@]}" | grep . | sort -u)
	[ "${#want[@]}" -gt 0 ] || { _mirror_err "mirror_build: no packages"; return 1; }
	mkdir -p "$MIRROR_CACHE/debs" || return 1

	# Copy in what the image builders fetched (the same versions), then see what is missing.
	local -A from_img=() from_ini=() from_dbs=() cached=() chosen=()
	_mirror_scan "$ROOT/build/images-cache/debs" from_img
	_mirror_scan "$ROOT/build/initramfs-cache/debs" from_ini
	_mirror_scan "$ROOT/build/images-cache/debootstrap-debs" from_dbs
	_mirror_scan "$MIRROR_CACHE/debs" cached
	for p in "${want[@]}"; do
		src=${from_img[$p]:-${from_ini[$p]:-${from_dbs[$p]:-}}}
		if [ -n "$src" ]; then
			f=$MIRROR_CACHE/debs/${src##*/}
			if [ ! -e "$f" ]; then
				cp "$src" "$MIRROR_CACHE/debs/.${src##*/}.$$" && mv -f "$MIRROR_CACHE/debs/.${src##*/}.$$" "$f" ||
					{ _mirror_err "cannot copy $src into $MIRROR_CACHE/debs"; return 1; }
			fi
			chosen[$p]=$f
		elif [ -n "${cached[$p]:-}" ]; then chosen[$p]=${cached[$p]}
		else missing+=("$p")
		fi
	done
	_mirror_say "building $dir: ${#want[@]} packages, ${#missing[@]} to download"
	if [ "${#missing[@]}" -gt 0 ]; then
		_mirror_download "${missing[@]}" || return 1
		_mirror_scan "$MIRROR_CACHE/debs" cached
		for p in "${missing[@]}"; do
			[ -n "${cached[$p]:-}" ] || { _mirror_err "no .deb for $p after apt-get download (a virtual package?)"; return 1; }
			chosen[$p]=${cached[$p]}
		done
	fi
	for p in "${want[@]}"; do debs+=("${chosen[$p]}"); done
	if [ -n "${chosen[linux-image-amd64]:-}" ]; then   # its Depends is exact: (= VERSION)
		p=$(dpkg-deb -f "${chosen[linux-image-amd64]}" Depends 2>/dev/null | grep -o '^linux-image-[^ ,]*')
		[ -z "$p" ] || [ -n "${chosen[$p]:-}" ] ||
			_mirror_say "WARNING: linux-image-amd64 in the cache depends on $p, which the mirror lacks"
	fi

	# The pool, laid out like Debian's, with file names as Debian's (no epoch, no %3a).
	rm -rf "$dir/debian" "$dir/keyring.gpg" && mkdir -p "$dir/debian/pool/main" || return 1
	for deb in "${debs[@]}"; do
		# shellcheck disable=SC2016
		IFS=$'\t' read -r name ver arch srcpkg < <(dpkg-deb -W \
			--showformat='${Package}\t${Version}\t${Architecture}\t${source:Package}\n' "$deb" 2>/dev/null)
		[ -n "${name:-}" ] && [ -n "${ver:-}" ] || { _mirror_err "$deb is not a readable .deb"; return 1; }
		srcpkg=${srcpkg:-$name}
		case $srcpkg in lib?*) prefix=${srcpkg:0:4} ;; *) prefix=${srcpkg:0:1} ;; esac
		mkdir -p "$dir/debian/pool/main/$prefix/$srcpkg" &&
			f=$dir/debian/pool/main/$prefix/$srcpkg/${name}_${ver#*:}_$arch.deb &&
			{ ln -f "$deb" "$f" 2>/dev/null || cp "$deb" "$f"; } || { _mirror_err "cannot place $deb in the pool"; return 1; }
	done

	# Indexes, Release, signatures, keyring.
	local bin=$dir/debian/dists/bookworm/main/binary-amd64 dist=$dir/debian/dists/bookworm
	mkdir -p "$bin" || return 1
	(cd "$dir/debian" && apt-ftparchive packages pool/main) >"$bin/Packages" 2>"$dir/.ftparchive.err" &&
		gzip -9nc "$bin/Packages" >"$bin/Packages.gz" && xz -c "$bin/Packages" >"$bin/Packages.xz" ||
		{ _mirror_err "apt-ftparchive packages failed: $(head -c 300 "$dir/.ftparchive.err")"; return 1; }
	apt-ftparchive -o APT::FTPArchive::Release::Origin="Anemos test" \
		-o APT::FTPArchive::Release::Label="Anemos test mirror" \
		-o APT::FTPArchive::Release::Suite=bookworm -o APT::FTPArchive::Release::Codename=bookworm \
		-o APT::FTPArchive::Release::Version=12 -o APT::FTPArchive::Release::Architectures=amd64 \
		-o APT::FTPArchive::Release::Components=main \
		-o APT::FTPArchive::Release::Description="Anemos test mirror (throwaway key)" \
		release "$dist" >"$dir/.Release" 2>"$dir/.ftparchive.err" && mv -f "$dir/.Release" "$dist/Release" ||
		{ _mirror_err "apt-ftparchive release failed: $(head -c 300 "$dir/.ftparchive.err")"; return 1; }
	rm -f "$dir/.ftparchive.err"
	_mirror_sign "$dist" main "$dir/keyring.gpg" || return 1
	_mirror_say "built $dir: $(grep -c '^Package:' "$bin/Packages") packages in $(( $(date +%s) - t0 )) s"
}

# mirror_sign_with_other_key DIR: re-signs DIR's Release with a second throwaway key; leaves
# DIR/keyring.gpg (the first key), so gpgv and apt reject the mirror ("No public key").
mirror_sign_with_other_key() {
	local dist=${1:-}/debian/dists/bookworm
	[ -n "${1:-}" ] && [ -s "$dist/Release" ] || { _mirror_err "mirror_sign_with_other_key: no $dist/Release"; return 1; }
	_mirror_say "re-signing $1 with another throwaway key"
	_mirror_locked _mirror_sign "$dist" other
}

# The server: plain static files from DIR, requests logged to stderr ($WORK/mirror.log);
# exits by itself once the test shell (PID argv[3]) or its own parent is gone. HTTP/1.1 with
# keep-alive, as real mirrors: apt-cacher-ng pipelines its requests to a mirror and gives
# up on those queued behind a response after which an HTTP/1.0 server closes (503).
# shellcheck disable=SC2016
_MIRROR_SERVER='
import functools, http.server, os, sys, threading, time
root, port, watch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))
http.server.ThreadingHTTPServer.daemon_threads = True
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Handler, directory=root))
threading.Thread(target=srv.serve_forever, daemon=True).start()
# The same on ::1, where QEMU user networking takes a guest IPv6 connection to its host.
class Server6(http.server.ThreadingHTTPServer):
    address_family = __import__("socket").AF_INET6
try:
    srv6 = Server6(("::1", port), functools.partial(Handler, directory=root))
    threading.Thread(target=srv6.serve_forever, daemon=True).start()
except OSError as e:
    sys.stderr.write("no IPv6 loopback: %s\n" % e)
# And on the addresses of $MIRROR_LISTEN (those of a test network namespace, e.g. its bridge).
for a in sys.argv[4].split() if len(sys.argv) > 4 else []:
    cls = Server6 if ":" in a else http.server.ThreadingHTTPServer
    s = cls((a, port), functools.partial(Handler, directory=root))
    threading.Thread(target=s.serve_forever, daemon=True).start()
parent = os.getppid()
while True:
    time.sleep(1)
    if os.getppid() != parent:
        break
    try:
        os.kill(watch, 0)
    except ProcessLookupError:
        break
'


# mirror_serve DIR [--low-port]: serves DIR on 127.0.0.1:$MIRROR_PORT in the background; sets
# MIRROR_PORT, MIRROR_PID, MIRROR_URL (…/debian); waits until it answers; stops it at EXIT.
# $MIRROR_LISTEN: more addresses to serve on (a test namespace's own: "192.0.2.2 2001:db8::2").
# --low-port: a port below 32768, for a mirror behind apt-cacher-ng.
mirror_serve() {
	local dir=${1:-} py try portf=free_port
	case ${2:-} in
	"") ;;
	--low-port) portf=free_low_port ;;
	*) _mirror_err "mirror_serve: unknown option $2"; return 1 ;;
	esac
	[ -n "$dir" ] && [ -s "$dir/debian/dists/bookworm/Release" ] || { _mirror_err "mirror_serve: no mirror in '$dir'"; return 1; }
	[ -z "$MIRROR_PID" ] || mirror_stop
	dir=$(cd "$dir" && pwd) || return 1
	py=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) && [ -x "$py" ] ||
		{ _mirror_err "mirror_serve: no python3"; return 1; }
	# shellcheck disable=SC2119
	_mirror_chain_exit_trap
	for try in 1 2 3; do
		MIRROR_PORT=$($portf)
		[ -n "$MIRROR_PORT" ] || continue
		MIRROR_URL=http://127.0.0.1:$MIRROR_PORT/debian
		"$py" -c "$_MIRROR_SERVER" "$dir" "$MIRROR_PORT" "$$" "${MIRROR_LISTEN:-}" </dev/null >>"$WORK/mirror.log" 2>&1 &
		MIRROR_PID=$!
		for _ in $(seq 1 100); do
			if curl -fsS -m 1 -o /dev/null "$MIRROR_URL/dists/bookworm/Release" 2>/dev/null; then
				_mirror_say "serving $dir at $MIRROR_URL (pid $MIRROR_PID)"
				return 0
			fi
			kill -0 "$MIRROR_PID" 2>/dev/null || break
			sleep 0.1
		done
		mirror_stop
	done
	MIRROR_PORT="" MIRROR_URL=""
	_mirror_err "mirror_serve: the server did not answer: $(tail -n 5 "$WORK/mirror.log" 2>/dev/null)"
}

# mirror_stop: stops the server mirror_serve started, by PID (safe to call twice).
mirror_stop() {
	[ -n "$MIRROR_PID" ] || return 0
	kill "$MIRROR_PID" 2>/dev/null
	wait "$MIRROR_PID" 2>/dev/null
	MIRROR_PID=""
	return 0
}

# Puts mirror_stop in front of the current EXIT trap (lib.sh's `_cleanup`), once.
# shellcheck disable=SC2120
_mirror_chain_exit_trap() {
	local cur
	cur=$(trap -p EXIT)
	case $cur in *mirror_stop*) return 0 ;; esac
	if [ -z "$cur" ]; then trap 'mirror_stop' EXIT; return 0; fi
	eval "set -- $cur"   # trap -- 'COMMAND' EXIT
	# shellcheck disable=SC2064
	trap "mirror_stop; $3" EXIT
}
