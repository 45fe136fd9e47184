#!/usr/bin/env bash
# The operator API: hosts and images, their validation, and that a refused request changes
# nothing.
source "$(dirname "$0")/lib.sh"
anemosd_start || exit 1
Z=$(printf '%064d' 0)

r=$(api POST /api/v1/hosts '{"mac":"52-54-00-10-00-01","hostname":"Web1.Example.com","ssh_authorized_keys":["ssh-ed25519 AAAAC3Nz test@op"]}')
expect_eq "enroll: 201" 201 "$(status_of "$r")"
h=$(body_of "$r")
expect_eq "enroll: MAC normalised, hostname lower-cased, status new, discover" \
	"52:54:00:10:00:01 web1.example.com new discover" "$(jq -r '[.macs[0],.hostname,.status,.next_boot]|join(" ")' <<<"$h")"
expect_eq "enroll: SSH key kept" "ssh-ed25519 AAAAC3Nz test@op" "$(jq -r '.ssh_authorized_keys[0]' <<<"$h")"
id=$(jq -r .id <<<"$h")
expect_eq "enroll: same MAC again is 409" 409 "$(status_of "$(api POST /api/v1/hosts '{"mac":"52:54:00:10:00:01"}')")"
expect_eq "enroll: same hostname again is 409" 409 "$(status_of "$(api POST /api/v1/hosts '{"mac":"52:54:00:10:00:09","hostname":"web1.example.com"}')")"
expect_match "409 says who has it" 'taken|belongs' "$(body_of "$(api POST /api/v1/hosts '{"mac":"52:54:00:10:00:01"}')")"
expect_eq "enroll: bad MAC is 400" 400 "$(status_of "$(api POST /api/v1/hosts '{"mac":"nope"}')")"
expect_eq "enroll: install without image is 400" 400 "$(status_of "$(api POST /api/v1/hosts '{"mac":"52:54:00:10:00:02","next_boot":"install"}')")"
expect_eq "enroll: unknown image is 400" 400 "$(status_of "$(api POST /api/v1/hosts '{"mac":"52:54:00:10:00:02","image":"nope"}')")"
expect_eq "enroll: unknown field is 400" 400 "$(status_of "$(api POST /api/v1/hosts '{"mac":"52:54:00:10:00:02","colour":"red"}')")"
expect_eq "refused enrolments created nothing" 1 "$(body_of "$(api GET /api/v1/hosts)" | jq '.hosts|length')"

for ref in "$id" web1.example.com 52:54:00:10:00:01 52-54-00-10-00-01 525400100001; do
	expect_eq "get by ref $ref" "$id" "$(host_field "$ref" .id)"
done
expect_eq "unknown host: 404" 404 "$(status_of "$(api GET /api/v1/hosts/nosuchhost)")"
expect_match "404 says what a ref is" 'id, a hostname, a MAC or the SMBIOS UUID' "$(body_of "$(api GET /api/v1/hosts/nosuchhost)")"

api POST /api/v1/hosts '{"mac":"52:54:00:10:00:02","hostname":"db1"}' >/dev/null
ipxe 52:54:00:10:00:03 pcbios "serial=XYZ-778899&product=ProLiant%20DL360" >/dev/null
q() { body_of "$(api GET "/api/v1/hosts?q=$1")" | jq -r '[.hosts[].id]|length'; }
expect_eq "search by hostname" 1 "$(q web1)"
expect_eq "search by MAC fragment" 1 "$(q 10:00:02)"
expect_eq "search by serial" 1 "$(q 778899)"
expect_eq "search by product, any case" 1 "$(q proliant)"
expect_eq "search matching all" 3 "$(q 52:54:00:10)"
expect_eq "search's wildcards are literal" 0 "$(q %25)"
expect_eq "list without q: all" 3 "$(body_of "$(api GET /api/v1/hosts)" | jq '.hosts|length')"

# Images: external, stored file, upload; validation.
r=$(api POST /api/v1/images '{"name":"tiny","url":"http://192.0.2.10/tiny.tar.zst","sha256":"'"$Z"'"}')
expect_eq "external image: 201" 201 "$(status_of "$r")"
expect_eq "external image: format from the URL" "tar.zst url" "$(body_of "$r" | jq -r '[.format,.source]|join(" ")')"
expect_eq "external image without sha256: 400" 400 "$(status_of "$(api POST /api/v1/images '{"name":"x","url":"http://192.0.2.10/x.raw"}')")"
expect_eq "image with a bad name: 400" 400 "$(status_of "$(api POST /api/v1/images '{"name":"../x","url":"http://192.0.2.10/x.raw","sha256":"'"$Z"'"}')")"
expect_eq "image with an unknown format: 400" 400 "$(status_of "$(api POST /api/v1/images '{"name":"x","url":"http://192.0.2.10/x.iso","sha256":"'"$Z"'"}')")"
expect_eq "image with a non-http URL: 400" 400 "$(status_of "$(api POST /api/v1/images '{"name":"x","url":"file:///etc/passwd","sha256":"'"$Z"'"}')")"
expect_eq "duplicate image name: 409" 409 "$(status_of "$(api POST /api/v1/images '{"name":"tiny","url":"http://192.0.2.10/t.raw","sha256":"'"$Z"'"}')")"
mkdir -p "$DATA/images/local"; head -c 200000 /dev/urandom >"$DATA/images/local/local.raw.zst"
sum=$(sha256sum "$DATA/images/local/local.raw.zst" | cut -d' ' -f1)
expect_eq "file in the data folder with a wrong sha256: 400" 400 "$(status_of "$(api POST /api/v1/images '{"name":"local","file":"local.raw.zst","sha256":"'"$Z"'"}')")"
r=$(api POST /api/v1/images '{"name":"local","file":"local.raw.zst"}')
expect_eq "file in the data folder: server hashes it" "$sum 200000 raw.zst" "$(body_of "$r" | jq -r '[.sha256,.size,.format]|join(" ")')"
expect_eq "stored image's URL is served by anemosd" "$ANEMOS_URL/images/local/local.raw.zst" "$(body_of "$r" | jq -r .url)"
expect_eq "file outside the data folder: 400" 400 "$(status_of "$(api POST /api/v1/images '{"name":"evil","file":"../../etc/passwd","format":"raw"}')")"

head -c 3000000 /dev/urandom >"$WORK/up.tar.gz"
up_sum=$(sha256sum "$WORK/up.tar.gz" | cut -d' ' -f1)
printf 'Authorization: Bearer %s\n' "$ANEMOS_TOKEN" >"$WORK/.auth"
code=$(curl -sS -m 30 -o "$WORK/o" -w '%{http_code}' -X PUT -H @"$WORK/.auth" -H 'Content-Type: application/octet-stream' \
	--data-binary @"$WORK/up.tar.gz" "$ANEMOS_URL/api/v1/images/bad?file=up.tar.gz&sha256=$Z")
expect_eq "upload with a wrong sha256: 400" 400 "$code"
expect_eq "nothing kept of a refused upload" "" "$(shopt -s dotglob nullglob; for f in "$DATA/images"/*; do [ "${f##*/}" = local ] || echo "${f##*/}"; done)"
code=$(curl -sS -m 30 -o "$WORK/o" -w '%{http_code}' -X PUT -H @"$WORK/.auth" -H 'Content-Type: application/octet-stream' \
	-H 'Transfer-Encoding: chunked' --data-binary @"$WORK/up.tar.gz" "$ANEMOS_URL/api/v1/images/up?file=up.tar.gz&sha256=$up_sum")
expect_eq "chunked upload: 201" 201 "$code"
expect_eq "upload: stored file is the upload" "$up_sum" "$(sha256sum "$DATA/images/up/up.tar.gz" | cut -d' ' -f1)"
expect_eq "upload: size and format" "3000000 tar.gz" "$(jq -r '[.size,.format]|join(" ")' "$WORK/o")"
code=$(curl -sS -m 30 -o /dev/null -w '%{http_code}' -X PUT -H @"$WORK/.auth" --data-binary @"$WORK/up.tar.gz" "$ANEMOS_URL/api/v1/images/up?file=up.tar.gz")
expect_eq "upload over an existing name: 409" 409 "$code"
code=$(curl -sS -m 30 -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$WORK/up.tar.gz" "$ANEMOS_URL/api/v1/images/noauth?file=x.raw")
expect_eq "upload without a token: 401" 401 "$code"
expect_eq "images listed" "local tiny up" "$(body_of "$(api GET /api/v1/images)" | jq -r '[.images[].name]|join(" ")')"

# Patch: each field, validation, and refusals change nothing.
r=$(api PATCH "/api/v1/hosts/$id" '{"next_boot":"install","image":"tiny","once":true,"hostname":"web2"}')
expect_eq "patch: 200" 200 "$(status_of "$r")"
expect_eq "patch: all fields" "install tiny true web2" "$(body_of "$r" | jq -r '[.next_boot,.image,.once,.hostname]|map(tostring)|join(" ")')"
before=$(body_of "$(api GET "/api/v1/hosts/$id")" | jq -c 'del(.last_seen,.updated)')
for bad in '{"next_boot":"format-c"}' '{"image":"nope"}' '{"once":"yes"}' '{"hostname":"-bad"}' '{"hostname":"db1"}' \
	'{"status":"deployed"}' '{"ssh_authorized_keys":"ssh-rsa x"}' '{"ssh_authorized_keys":["a\nb"]}' '{"nope":1}' \
	'{"image":null}' '[1,2]' '"str"'; do
	code=$(status_of "$(api PATCH "/api/v1/hosts/$id" "$bad")")
	case "$code" in 400|409) ok "patch $bad refused ($code)" ;; *) fail "patch $bad refused" "got $code" ;; esac
done
expect_eq "refused patches changed nothing" "$before" "$(body_of "$(api GET "/api/v1/hosts/$id")" | jq -c 'del(.last_seen,.updated)')"
expect_eq "operator may set maintenance" maintenance "$(body_of "$(api PATCH "/api/v1/hosts/$id" '{"status":"maintenance"}')" | jq -r .status)"
expect_eq "hostname can be cleared" null "$(body_of "$(api PATCH /api/v1/hosts/db1 '{"hostname":null}')" | jq -r .hostname)"

# Deleting an image in use is refused; after reassignment it goes, with its file.
expect_eq "delete image in use: 409" 409 "$(status_of "$(api DELETE /api/v1/images/tiny)")"
api PATCH "/api/v1/hosts/$id" '{"image":"local"}' >/dev/null
expect_eq "delete unused image: 204" 204 "$(status_of "$(api DELETE /api/v1/images/up)")"
check "deleted image's file is gone" test ! -e "$DATA/images/up/up.tar.gz"
expect_eq "delete unknown image: 404" 404 "$(status_of "$(api DELETE /api/v1/images/up)")"

# Events record what happened, oldest first.
ev=$(body_of "$(api GET "/api/v1/hosts/$id/events")")
expect_match "events: enrolment recorded" 'enrolled with MAC 52:54:00:10:00:01' "$(jq -r '.events[0].message' <<<"$ev")"
expect_match "events: changes recorded" 'changed (.*; )?image [a-z]+ → local' "$(jq -r '.events[].message' <<<"$ev")"
expect_eq "events: limit" 1 "$(body_of "$(api GET "/api/v1/hosts/$id/events?limit=1")" | jq '.events|length')"
expect_eq "events: bad limit 400" 400 "$(status_of "$(api GET "/api/v1/hosts/$id/events?limit=0")")"

# Malformed and oversized bodies.
expect_eq "malformed JSON: 400" 400 "$(status_of "$(api POST /api/v1/hosts '{"mac":')")"
expect_match "malformed JSON says where" 'line 1' "$(body_of "$(api POST /api/v1/hosts '{"mac":')")"
expect_eq "duplicate keys: 400" 400 "$(status_of "$(api POST /api/v1/hosts '{"mac":"52:54:00:10:00:07","mac":"52:54:00:10:00:08"}')")"
expect_eq "empty body: 400" 400 "$(status_of "$(api POST /api/v1/hosts '')")"
big=$(head -c 1100000 /dev/zero | tr '\0' 'a')
printf '{"mac":"52:54:00:10:00:07","hostname":"%s"}' "$big" >"$WORK/big.json"
code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -H @"$WORK/.auth" --data-binary @"$WORK/big.json" "$ANEMOS_URL/api/v1/hosts")
expect_eq "body over 1 MiB: 413" 413 "$code"
code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -H @"$WORK/.auth" -H 'Transfer-Encoding: chunked' --data-binary @"$WORK/big.json" "$ANEMOS_URL/api/v1/hosts")
expect_eq "chunked body over 1 MiB: 413" 413 "$code"
expect_eq "oversized bodies created nothing" 404 "$(status_of "$(api GET /api/v1/hosts/52:54:00:10:00:07)")"
# Headers live in each connection's 16 KiB pool (http.c, CONNECTION_MEMORY): 8 KB of them, far
# more than iPXE, an agent or a browser sends, are served; 20 KB are refused with 431 (curl may
# see the connection reset instead, 000, when the close beats its read of the answer), and the
# server answers the next request as before.
hdr() { head -c "$1" /dev/zero | tr '\0' a; }
expect_eq "8 KB of request headers: served" 200 \
	"$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H "X-Padding: $(hdr 8192)" "$ANEMOS_URL/healthz")"
expect_match "20 KB of request headers: refused (431)" '^(431|000)$' \
	"$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H "X-Padding: $(hdr 20480)" "$ANEMOS_URL/healthz" 2>/dev/null)"
expect_eq "... and the next request is served" 200 "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$ANEMOS_URL/healthz")"
expect_eq "wrong method: 405" 405 "$(status_of "$(api PUT /api/v1/hosts '{}')")"
expect_match "405 has Allow" 'Allow: GET, HEAD, POST' "$(curl -sS -m 5 -X PUT -D - -o /dev/null -H @"$WORK/.auth" "$ANEMOS_URL/api/v1/hosts")"
expect_eq "unknown path: 404" 404 "$(status_of "$(api GET /api/v1/nothing)")"
expect_eq "errors are JSON" "string" "$(body_of "$(api GET /api/v1/nothing)" | jq -r '.error|type')"

expect_eq "delete host: 204" 204 "$(status_of "$(api DELETE /api/v1/hosts/web2)")"
expect_eq "deleted host is gone" 404 "$(status_of "$(api GET "/api/v1/hosts/$id")")"
expect_eq "its MACs are free again" 201 "$(status_of "$(api POST /api/v1/hosts '{"mac":"52:54:00:10:00:01"}')")"
anemosd_stop
