#!/usr/bin/env bash
# cost: 7
# HTTPS and the browser's side of anemosd: the dashboard, the operator API and /kexec.sh on
# an HTTPS listener (--listen-tls) with a throwaway CA made here, anemosctl verifying it
# (--ca), the plain listener keeping the boot path only; the Host check against DNS
# rebinding, the dashboard's Content-Security-Policy, and /metrics behind a token.
source "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { fail "openssl is installed" "apt-get install openssl"; exit 1; }
PKI=$WORK/pki
mkdir -p "$PKI" "$BOOT_DIR"
head -c 3000 /dev/urandom >"$BOOT_DIR/vmlinuz"
head -c 5000 /dev/urandom >"$BOOT_DIR/initramfs.img"

# ca NAME: a self-signed CA; cert NAME CA SAN: a server certificate NAME signed by CA.
ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$1" \
		-keyout "$PKI/$1.key" -out "$PKI/$1.pem" 2>>"$WORK/openssl.log"
}
cert() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
		-keyout "$PKI/$1.key" -out "$PKI/$1.csr" 2>>"$WORK/openssl.log" &&
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$3" >"$PKI/$1.ext" &&
	openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$2.pem" -CAkey "$PKI/$2.key" -CAcreateserial -days 2 \
		-extfile "$PKI/$1.ext" -out "$PKI/$1.pem" 2>>"$WORK/openssl.log" &&
	chmod 600 "$PKI/$1.key"
}
ca test-ca && ca other-ca && cert server test-ca "IP:127.0.0.1,DNS:localhost" ||
	{ fail "a throwaway CA and server certificate" "$(tail -n 5 "$WORK/openssl.log")"; exit 1; }
(umask 077 && openssl rand -hex 32 >"$PKI/metrics-token")
METRICS_TOKEN=$(cat "$PKI/metrics-token")
TPORT=$(free_port)
HTTPS_URL=https://127.0.0.1:$TPORT
TLS_ARGS=(--listen-tls "127.0.0.1:$TPORT" --tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key")

# refused_start NAME REGEX ARGS...: anemosd refuses to start with ARGS, saying REGEX.
refused_start() {
	local name=$1 re=$2 out rc
	shift 2
	out=$(timeout 10 "$ANEMOSD" --listen "127.0.0.1:$(free_port)" --data "$DATA" --boot-dir "$BOOT_DIR" "$@" 2>&1); rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then expect_match "$name" "$re" "$out"; else fail "$name" "exit $rc: $out"; fi
}
mkdir -p "$DATA"
cp "$PKI/server.key" "$PKI/open.key" && chmod 644 "$PKI/open.key"
refused_start "a key file of mode 0644 is refused at start" 'tls-key .*open.key may be read by its group or others \(mode 0644\)' \
	--listen-tls "127.0.0.1:$TPORT" --tls-cert "$PKI/server.pem" --tls-key "$PKI/open.key"
cp "$PKI/server.key" "$PKI/group.key" && chmod 640 "$PKI/group.key"
refused_start "... and one its group may read" 'mode 0640' \
	--listen-tls "127.0.0.1:$TPORT" --tls-cert "$PKI/server.pem" --tls-key "$PKI/group.key"
refused_start "a key that is not the certificate's is refused" 'cannot serve HTTPS' \
	--listen-tls "127.0.0.1:$TPORT" --tls-cert "$PKI/server.pem" --tls-key "$PKI/other-ca.key"
refused_start "a certificate without its key is refused" 'go together' \
	--listen-tls "127.0.0.1:$TPORT" --tls-cert "$PKI/server.pem"
refused_start "HTTPS on every address needs --operator-url" 'operator-url https://NAME' \
	--listen-tls "0.0.0.0:$TPORT" --tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key"
refused_start "an http:// --operator-url beside HTTPS is refused" 'must be an https:// URL' \
	"${TLS_ARGS[@]}" --operator-url "http://127.0.0.1:$TPORT"
cp "$PKI/metrics-token" "$PKI/open-token" && chmod 644 "$PKI/open-token"
refused_start "a metrics token file others may read is refused" 'metrics-token-file .*mode 0644' \
	--metrics-token-file "$PKI/open-token"

anemosd_start "${TLS_ARGS[@]}" --web-dir "$ROOT/server/web" --metrics-token-file "$PKI/metrics-token" || exit 1
PLAIN_URL=$ANEMOS_URL
expect_match "the log names the HTTPS listener" "HTTPS on 127.0.0.1:$TPORT" "$(cat "$WORK/anemosd.log")"
# tls CURL-ARGS...: curl to the HTTPS listener, verifying against the test CA.
tls() { curl -sS -m 10 --cacert "$PKI/test-ca.pem" "$@"; }
code() { curl -sS -m 10 -o /dev/null -w '%{http_code}' "$@"; }

# ---- anemosctl over HTTPS ----
out=$("$ANEMOSCTL" --url "$HTTPS_URL" --ca "$PKI/test-ca.pem" host add 52:54:00:13:00:01 --hostname vm1 2>&1)
expect_match "anemosctl --ca: the API over HTTPS works" 'vm1' "$out"
out=$(ANEMOS_CA=$PKI/test-ca.pem ANEMOS_URL=$HTTPS_URL "$ANEMOSCTL" host list 2>&1)
expect_match "... and with \$ANEMOS_CA" '52:54:00:13:00:01' "$out"
out=$("$ANEMOSCTL" --url "$HTTPS_URL" --ca "$PKI/other-ca.pem" host list 2>&1); rc=$?
expect_eq "a wrong CA: anemosctl fails" 1 "$rc"
expect_match "... saying the certificate is not that CA's" "certificate at $HTTPS_URL.* is not one the CA in .*other-ca.pem signed" "$out"
out=$("$ANEMOSCTL" --url "$HTTPS_URL" host list 2>&1); rc=$?
expect_eq "no --ca: the system's CAs do not know it, anemosctl fails" 1 "$rc"
expect_match "... and says to give the CA" 'cannot verify .*give the CA that signed it with --ca FILE' "$out"
out=$("$ANEMOSCTL" --url "https://localhost:$TPORT" --ca "$PKI/test-ca.pem" host list 2>&1)
expect_match "the certificate's other name works too" '52:54:00:13:00:01' "$out"
out=$("$ANEMOSCTL" --url "$PLAIN_URL" --ca "$PKI/test-ca.pem" host list 2>&1); rc=$?
expect_eq "--ca with an http:// URL is a usage error" 2 "$rc"
expect_match "... saying nothing would be verified" 'not an https:// URL: nothing would be verified' "$out"
out=$("$ANEMOSCTL" --url "http://127.0.0.1:$TPORT" host list 2>&1); rc=$?
expect_eq "plain HTTP to the HTTPS port: anemosctl fails" 1 "$rc"
expect_match "... suggesting https://" 'use an https:// URL' "$out"
check "plain HTTP to the HTTPS port: curl gets no answer" bash -c "! curl -sS -m 5 -o /dev/null http://127.0.0.1:$TPORT/healthz 2>/dev/null"
# The client offers TLS 1.1 (OpenSSL's own security level would not): anemosd must refuse it.
out=$(curl -sS -m 5 --tls-max 1.1 --ciphers 'DEFAULT@SECLEVEL=0' --cacert "$PKI/test-ca.pem" "$HTTPS_URL/healthz" 2>&1); rc=$?
expect_eq "TLS 1.1 and older are refused" "fail" "$([ "$rc" -ne 0 ] && echo fail || echo "answered: $out")"
expect_eq "TLS 1.2 is served" ok "$(curl -sS -m 5 --tlsv1.2 --tls-max 1.2 --cacert "$PKI/test-ca.pem" "$HTTPS_URL/healthz")"

# ---- the plain listener keeps the boot path only ----
ANEMOS_URL=$HTTPS_URL
export CURL_CA_BUNDLE=$PKI/test-ca.pem     # lib.sh's api() and agent() through curl
expect_eq "the API over HTTPS with the admin token" 200 "$(status_of "$(api GET /api/v1/hosts)")"
r=$(ANEMOS_URL=$PLAIN_URL api GET /api/v1/hosts)
expect_eq "the operator API over plain HTTP: 403" 403 "$(status_of "$r")"
expect_match "... naming the HTTPS URL" "HTTPS only, at $HTTPS_URL" "$(body_of "$r")"
expect_eq "the dashboard over plain HTTP: 403" 403 "$(code "$PLAIN_URL/")"
expect_eq "/ui/ files over plain HTTP: 403" 403 "$(code "$PLAIN_URL/ui/app.js")"
expect_eq "/kexec.sh over plain HTTP: 403" 403 "$(code "$PLAIN_URL/kexec.sh")"
expect_eq "/kexec.sh over HTTPS" 200 "$(code --cacert "$PKI/test-ca.pem" "$HTTPS_URL/kexec.sh")"
expect_eq "/boot.ipxe over plain HTTP (iPXE)" 200 "$(code "$PLAIN_URL/boot.ipxe")"
expect_match "... naming the plain public URL" "set anemos-url $PLAIN_URL" "$(curl -sS -m 5 "$PLAIN_URL/boot.ipxe")"
script=$(ANEMOS_URL=$PLAIN_URL ipxe 52:54:00:13:00:02)
T=$(agent_token_of "$script")
expect_match "/ipxe over plain HTTP gives the Anemos environment" '^anemos_agent_' "$T"
expect_eq "the agent over plain HTTP" 200 "$(status_of "$(ANEMOS_URL=$PLAIN_URL agent GET /api/v1/agent/plan "$T")")"
expect_eq "/boot/ files over plain HTTP" 200 "$(code "$PLAIN_URL/boot/vmlinuz")"
expect_eq "/healthz on both" "ok ok" "$(curl -sS -m 5 "$PLAIN_URL/healthz") $(tls "$HTTPS_URL/healthz")"

# ---- the dashboard's headers ----
h=$(tls -D - -o /dev/null "$HTTPS_URL/")
expect_match "the dashboard sends a Content-Security-Policy" '^Content-Security-Policy: .*script-src .self.' "$h"
expect_match "... with frame-ancestors 'none'" "^Content-Security-Policy: .*frame-ancestors 'none'" "$h"
expect_match "... and X-Frame-Options DENY" '^X-Frame-Options: DENY' "$h"
expect_match "its modules too" "^Content-Security-Policy: .*frame-ancestors 'none'" "$(tls -D - -o /dev/null "$HTTPS_URL/ui/app.js")"
expect_no_match "an API answer carries none" 'Content-Security-Policy' \
	"$(tls -D - -o /dev/null -H @<(printf 'Authorization: Bearer %s\n' "$ANEMOS_TOKEN") "$HTTPS_URL/api/v1/hosts")"

# ---- the Host header (DNS rebinding) ----
r=$(tls -H 'Host: evil.example' -w '\n%{http_code}' "$HTTPS_URL/")
expect_eq "the dashboard under a foreign Host: 421" 421 "$(status_of "$r")"
expect_match "... naming the names it answers to" "not a name of this anemosd \\(127.0.0.1, localhost\\)" "$(body_of "$r")"
expect_eq "the API under a foreign Host: 421" 421 \
	"$(tls -o /dev/null -w '%{http_code}' -H 'Host: evil.example:8080' -H @<(printf 'Authorization: Bearer %s\n' "$ANEMOS_TOKEN") "$HTTPS_URL/api/v1/hosts")"
expect_eq "/ipxe under a foreign Host: 421, no token" 421 "$(code -H 'Host: evil.example' "$PLAIN_URL/ipxe?mac=52:54:00:13:00:03")"
expect_eq "... and no host made" 404 "$(status_of "$(api GET /api/v1/hosts/52:54:00:13:00:03)")"
expect_eq "the API with the right Host" 200 \
	"$(tls -o /dev/null -w '%{http_code}' -H "Host: 127.0.0.1:$TPORT" -H @<(printf 'Authorization: Bearer %s\n' "$ANEMOS_TOKEN") "$HTTPS_URL/api/v1/hosts")"
expect_eq "the dashboard as localhost (beside a loopback listener)" 200 "$(code --cacert "$PKI/test-ca.pem" "https://localhost:$TPORT/")"
expect_eq "a Host in capitals with a final dot is the same name" 200 "$(code -H "Host: LOCALHOST.:$PORT" "$PLAIN_URL/healthz")"
expect_eq "no Host at all on the boot path (HTTP/1.0 firmware, never a browser): answered" 200 "$(code -H 'Host:' --http1.0 "$PLAIN_URL/healthz")"
expect_eq "no Host at all on the dashboard: refused" 421 "$(code -H 'Host:' --http1.0 "$HTTPS_URL/" --cacert "$PKI/test-ca.pem")"

# ---- /metrics behind --metrics-token-file ----
expect_eq "/metrics without the token: 401" 401 "$(code "$PLAIN_URL/metrics")"
expect_eq "/metrics with another token: 401" 401 "$(code -H @<(printf 'Authorization: Bearer %s\n' "${METRICS_TOKEN}0") "$PLAIN_URL/metrics")"
expect_eq "/metrics with the admin token: 401" 401 "$(code -H @<(printf 'Authorization: Bearer %s\n' "$ANEMOS_TOKEN") "$PLAIN_URL/metrics")"
r=$(curl -sS -m 5 -H @<(printf 'Authorization: Bearer %s\n' "$METRICS_TOKEN") -w '\n%{http_code}' "$PLAIN_URL/metrics")
expect_eq "/metrics with the token: 200" 200 "$(status_of "$r")"
expect_match "... the counters" '^anemos_' "$(body_of "$r")"
expect_eq "... over HTTPS too" 200 "$(tls -o /dev/null -w '%{http_code}' -H @<(printf 'Authorization: Bearer %s\n' "$METRICS_TOKEN") "$HTTPS_URL/metrics")"
expect_no_match "the metrics token is not in anemosd's log" "$METRICS_TOKEN" "$(cat "$WORK/anemosd.log")"

# ---- reinstall: the script and its settings come over the verified channel ----
cat >"$WORK/fake-ssh" <<EOF
#!/bin/sh
cat >"$WORK/ssh-stdin"
EOF
chmod 755 "$WORK/fake-ssh"
out=$(ANEMOS_SSH=$WORK/fake-ssh "$ANEMOSCTL" --url "$HTTPS_URL" --ca "$PKI/other-ca.pem" reinstall vm1 --ssh root@192.0.2.9 2>&1); rc=$?
expect_eq "reinstall with a wrong CA fails" 1 "$rc"
expect_eq "... before anything reaches the target" no "$([ -e "$WORK/ssh-stdin" ] && echo yes || echo no)"
expect_eq "... and before the host is armed (no new event)" 0 "$(event_count vm1 'over SSH')"
out=$(ANEMOS_SSH=$WORK/fake-ssh "$ANEMOSCTL" --url "$HTTPS_URL" --ca "$PKI/test-ca.pem" rescue vm1 --ssh root@192.0.2.9 2>&1)
expect_match "rescue over HTTPS reaches the target" 'booting the rescue environment' "$out"
tls -o "$WORK/kexec.sh" "$HTTPS_URL/kexec.sh"
expect_eq "the target got /kexec.sh as anemosd serves it" "$(sha256sum <"$WORK/kexec.sh")" \
	"$(tail -c "$(wc -c <"$WORK/kexec.sh")" "$WORK/ssh-stdin" | sha256sum)"
expect_match "... after the SHA-256 of the kernel it will download" \
	"ANEMOS_KERNEL_SHA256='$(sha256sum <"$BOOT_DIR/vmlinuz" | cut -d' ' -f1)'" "$(cat "$WORK/ssh-stdin")"
expect_match "... which it fetches from the plain public URL" "ANEMOS_KERNEL_URL='$PLAIN_URL/boot/vmlinuz'" "$(cat "$WORK/ssh-stdin")"

anemosd_stop
