#!/bin/sh
# `make run`: the appliance on its embedded default, for trying Anemos on one machine.
# anemosd on 127.0.0.1:8080 (ANEMOS_LISTEN to change), SQLite and images under ./var
# (ANEMOS_DATA), kernel and initramfs from BUILD/boot. On first start it creates an admin
# token and keeps it in var/admin-token (mode 0600) so later starts print the same one.
set -eu
build=${1:-build}
data=${ANEMOS_DATA:-var}
listen=${ANEMOS_LISTEN:-127.0.0.1:8080}
url=http://$listen

mkdir -p "$data"
chmod 700 "$data"
if [ ! -s "$data/admin-token" ]; then
	(umask 077 && "$build/anemosd" token create --data "$data" --name make-run >"$data/admin-token.new")
	mv "$data/admin-token.new" "$data/admin-token"
fi
token=$(cat "$data/admin-token")
set -- --listen "$listen" --data "$data" --boot-dir "$build/boot"

"$build/anemosd" "$@" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid"; exit 0' INT TERM
i=0
until curl -fsS -m 1 "$url/healthz" >/dev/null 2>&1; do
	i=$((i + 1))
	kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ] || { echo "anemosd did not start" >&2; wait "$pid"; exit 1; }
	sleep 0.1
done
# curl with the admin token from stdin, never on a command line.
authcurl() { printf 'header = "Authorization: Bearer %s"\n' "$token" | curl -K - "$@"; }
# The demo image: tiny, registered once from the data folder.
demo=""
if [ -s "$build/images/tiny.tar.zst" ] &&
	! authcurl -fsS -m 5 "$url/api/v1/images" | grep -q '"name":"tiny"'; then
	mkdir -p "$data/images/tiny"
	cp "$build/images/tiny.tar.zst" "$data/images/tiny/tiny.tar.zst"
	authcurl -fsS -m 60 -H 'Content-Type: application/json' \
		-d '{"name":"tiny","file":"tiny.tar.zst"}' "$url/api/v1/images" >/dev/null && demo=" (registered now)"
fi

cat <<MSG
Anemos is running on $url (Ctrl-C stops it)
  dashboard:      $url/
  iPXE entry:     $url/boot.ipxe   (point iPXE or dnsmasq here)
  boot files:     $build/boot/ (vmlinuz, initramfs.img)
  data:           $data/ (anemos.db, images/)
  demo image:     tiny$demo  (build/anemosctl host set HOST --next-boot install --image tiny --once)
  admin token:    $token
Next: watch a machine install itself. In another terminal:
  make demo        (a QEMU machine installs tiny from here; make demo-stop ends it)
Use the CLI from another terminal:
  export ANEMOS_URL=$url ANEMOS_TOKEN=\$(cat $data/admin-token)
  $build/anemosctl host list
MSG
wait "$pid"
