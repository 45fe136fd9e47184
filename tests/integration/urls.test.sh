#!/usr/bin/env bash
# cost: 1
# The URLs machines are told, without --public-url (as `make run` starts anemosd): each
# answer names the address the request itself used (its Host), so a machine behind QEMU's
# user network, which reaches a loopback anemosd as 10.0.2.2, is told 10.0.2.2 and not
# 127.0.0.1 (itself). With --public-url, that URL always. GET /api/v1/meta and `anemosctl
# status` say which of the two anemosd does.
source "$(dirname "$0")/lib.sh"
mkdir -p "$DATA" "$BOOT_DIR"
ANEMOS_TOKEN=$("$ANEMOSD" token create --data "$DATA" --name test); export ANEMOS_TOKEN
PORT=$(free_port)
ANEMOS_URL=http://127.0.0.1:$PORT; export ANEMOS_URL
# Exactly as deploy/run-local.sh (make run) starts it: no --public-url, no --web-dir.
"$ANEMOSD" --listen "127.0.0.1:$PORT" --data "$DATA" --boot-dir "$BOOT_DIR" 2>>"$WORK/anemosd.log" &
ANEMOSD_PID=$!
for _ in $(seq 1 100); do curl -fsS -m 1 "$ANEMOS_URL/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
Q="10.0.2.2:$PORT"
expect_match "the dashboard is served at / without --web-dir (the build tree's server/web)" '<title>[^<]*Anemos' \
	"$(curl -sS -m 5 "$ANEMOS_URL/")"
as_guest() { curl -sS -m 5 -H "Host: $Q" "$@"; }

expect_match "boot.ipxe names the address the machine used" "set anemos-url http://$Q\$" "$(as_guest "$ANEMOS_URL/boot.ipxe" | grep 'anemos-url')"
expect_match "... and to a loopback client, loopback" "set anemos-url http://127.0.0.1:$PORT\$" "$(curl -sS -m 5 "$ANEMOS_URL/boot.ipxe" | grep 'anemos-url')"
api POST /api/v1/hosts '{"mac":"52:54:00:90:00:01","hostname":"guest"}' >/dev/null
s=$(as_guest "$ANEMOS_URL/ipxe?mac=52:54:00:90:00:01&platform=pcbios")
expect_match "the agent script's kernel and anemos.url are the guest's address" \
	"kernel http://$Q/boot/vmlinuz .*anemos\.url=http://$Q " "$s"
T=$(agent_token_of "$s")
printf 'Authorization: Bearer %s\n' "$ANEMOS_TOKEN" >"$WORK/.auth"
printf 'tiny image bytes' >"$WORK/tiny.tar.zst"
r=$(curl -sS -m 10 -X PUT -H @"$WORK/.auth" -H "Content-Type: application/octet-stream" --data-binary @"$WORK/tiny.tar.zst" -w '\n%{http_code}' \
	"$ANEMOS_URL/api/v1/images/tiny?file=tiny.tar.zst")
expect_eq "an image stored in anemosd" 201 "$(status_of "$r")"
api PATCH /api/v1/hosts/guest '{"next_boot":"install","image":"tiny"}' >/dev/null
p=$(curl -sS -m 5 -H "Host: $Q" -H "Authorization: Bearer $T" "$ANEMOS_URL/api/v1/agent/plan")
expect_eq "the plan's image URL is the guest's address" "http://$Q/images/tiny/tiny.tar.zst" "$(jq -r .image.url <<<"$p")"
r=$(curl -sS -m 5 -X POST -H "Host: $Q" -H "Authorization: Bearer $T" "$ANEMOS_URL/api/v1/agent/phone-home-token")
expect_eq "... and so is the phone-home URL" "http://$Q/api/v1/phone-home" "$(jq -r .url <<<"$r")"
for bad in 'evil;reboot' 'a b' '10.0.2.2:99999' '[::1' '-x'; do
	expect_eq "a Host iPXE could misread ($bad) is refused, never put into a script: 421" 421 \
		"$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H "Host: $bad" "$ANEMOS_URL/boot.ipxe")"
done
expect_eq "the dashboard refuses a DNS name that is none of anemosd's (DNS rebinding): 421" 421 \
	"$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H "Host: rebind.example:$PORT" "$ANEMOS_URL/")"
expect_eq "... and so does the operator API" 421 \
	"$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H "Host: rebind.example:$PORT" -H @"$WORK/.auth" "$ANEMOS_URL/api/v1/hosts")"
expect_eq "... while an address (a wildcard listener's, NAT) is answered on the API too (no rebinding brings one)" 200 \
	"$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H "Host: $Q" -H @"$WORK/.auth" "$ANEMOS_URL/api/v1/hosts")"
expect_match "an IPv6 Host is used as it came" "set anemos-url http://\[2001:db8::5\]:$PORT\$" \
	"$(curl -sS -m 5 -H "Host: [2001:db8::5]:$PORT" "$ANEMOS_URL/boot.ipxe" | grep 'anemos-url')"
expect_eq "GET /api/v1/meta: no public URL (null)" null "$(body_of "$(api GET /api/v1/meta)" | jq -c .public_url)"
out=$("$ANEMOSCTL" status 2>&1)
expect_match "anemosctl status: machines are answered from each request's Host" \
	"^machines:   are told the address each one reached anemosd by \(answered from each request's Host" "$out"
expect_match "... its boot URL is the one it used" "^boot URL:   $ANEMOS_URL/boot.ipxe " "$out"
expect_match "... and a QEMU guest's" "a QEMU guest on the user network http://10.0.2.2:$PORT/boot.ipxe" "$out"
anemosd_stop

anemosd_start --public-url "http://192.0.2.80:$PORT" || exit 1
expect_match "with --public-url, that URL whatever name the request used" "set anemos-url http://192.0.2.80:$PORT\$" \
	"$(curl -sS -m 5 "$ANEMOS_URL/boot.ipxe" | grep 'anemos-url')"
expect_eq "... and a DNS name that is none of its names is refused on the boot path (DNS rebinding): 421" 421 \
	"$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H "Host: rebind.example:$PORT" "$ANEMOS_URL/boot.ipxe")"
expect_eq "... an address it does not listen on is answered (a machine behind NAT, a monitor)" 200 \
	"$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H "Host: $Q" "$ANEMOS_URL/boot.ipxe")"
expect_eq "... while a request without a Host (HTTP/1.0 firmware; no browser's) is answered" 200 \
	"$(curl -sS -m 5 -0 -o /dev/null -w '%{http_code}' -H 'Host:' "$ANEMOS_URL/boot.ipxe")"
expect_eq "... but not on the operator API" 421 \
	"$(curl -sS -m 5 -0 -o /dev/null -w '%{http_code}' -H 'Host:' -H @"$WORK/.auth" "$ANEMOS_URL/api/v1/hosts")"
expect_eq "GET /api/v1/meta: the public URL" "\"http://192.0.2.80:$PORT\"" "$(body_of "$(api GET /api/v1/meta)" | jq -c .public_url)"
out=$("$ANEMOSCTL" status 2>&1)
expect_match "anemosctl status: machines are told the public URL" \
	"^machines:   are told http://192.0.2.80:$PORT \(anemosd's --public-url\)\$" "$out"
expect_match "... the boot URL is the public one" "^boot URL:   http://192.0.2.80:$PORT/boot.ipxe " "$out"
expect_no_match "... and no QEMU guest's address (the guest is told the public URL too)" '10\.0\.2\.2' "$out"
expect_eq "... --json has it" "http://192.0.2.80:$PORT" "$("$ANEMOSCTL" --json status | jq -r .public_url)"
anemosd_stop
anemosd_start --web-dir none || exit 1
expect_eq "... but not with the dashboard off (--web-dir none): machines may use any name then" 200 \
	"$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H "Host: $Q" "$ANEMOS_URL/boot.ipxe")"
expect_match "... and with no Host check, a Host iPXE could misread is not used: the URL given is" \
	"set anemos-url $ANEMOS_URL\$" "$(curl -sS -m 5 -H 'Host: evil;reboot' "$ANEMOS_URL/boot.ipxe" | grep 'anemos-url')"
expect_eq "--web-dir none: no dashboard" 404 "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$ANEMOS_URL/")"
anemosd_stop
