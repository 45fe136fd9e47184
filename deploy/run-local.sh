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
[ -f server/web/index.html ] && set -- "$@" --web-dir server/web

cat <<MSG
Anemos is starting on $url (Ctrl-C stops it)
  dashboard:      $url/
  iPXE entry:     $url/boot.ipxe   (point iPXE or dnsmasq here)
  boot files:     $build/boot/ (vmlinuz, initramfs.img)
  data:           $data/ (anemos.db, images/)
  admin token:    $token
Use the CLI from another terminal:
  export ANEMOS_URL=$url ANEMOS_TOKEN=\$(cat $data/admin-token)
  $build/anemosctl host list
MSG
exec "$build/anemosd" "$@"
