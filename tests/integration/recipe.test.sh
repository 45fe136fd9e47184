#!/usr/bin/env bash
# Recipe images on the server's side: `anemosctl image add DIR` bundles a recipe folder (or
# translates an IMGBUILD), anemosd stores it by its SHA-256 and shows what the recipe says;
# hostile bundles are refused and leave nothing behind; the plan gives the agent the mirror
# to build from (the host's install.mirror first, through the package cache when there is one).
source "$(dirname "$0")/lib.sh"
anemosd_start || exit 1
PYTHON=$(python3 -c 'import sys; print(sys.executable)')

mkdir -p "$WORK/r1/files/etc"
cat >"$WORK/r1/recipe" <<'EOF'
name=web
base=busybox
mirror=http://192.0.2.10/debian
keyring=site.gpg
packages="dropbear-bin
  libc6"
provision() { :; }
EOF
echo key >"$WORK/r1/site.gpg"
echo 'hello {{hostname}}' >"$WORK/r1/files/etc/motd.template"
out=$("$ANEMOSCTL" --json image add "$WORK/r1" 2>&1)
expect_eq "image add DIR: a recipe image named as the recipe says" "web recipe recipe" "$(jq -r '"\(.name) \(.source) \(.format)"' <<<"$out")"
expect_eq "... with the recipe's base, suite (default), mirror, keyring and packages" \
	"busybox bookworm http://192.0.2.10/debian site.gpg dropbear-bin libc6" \
	"$(jq -r '"\(.base) \(.suite) \(.mirror) \(.keyring) \(.packages)"' <<<"$out")"
sha=$(jq -r .sha256 <<<"$out")
expect_eq "... stored as SHA256.tar" "$sha.tar" "$(jq -r .file <<<"$out")"
out2=$("$ANEMOSCTL" --json image add "$WORK/r1" --name web2 2>&1)
expect_eq "the same folder gives the same bundle (same SHA-256)" "$sha" "$(jq -r .sha256 <<<"$out2")"
curl -fsS "$ANEMOS_URL/images/web/$sha.tar" -o "$WORK/bundle.tar"
expect_eq "the bundle is served for targets, with its SHA-256" "$sha" "$(sha256sum "$WORK/bundle.tar" | cut -d' ' -f1)"
expect_eq "the bundle holds the folder" "./files/etc/motd.template ./recipe ./site.gpg" \
	"$(tar -tf "$WORK/bundle.tar" | grep -v '/$' | sort | tr '\n' ' ' | sed 's/ $//')"
expect_match "adding it again under its name is refused" 'exists already' "$("$ANEMOSCTL" image add "$WORK/r1" 2>&1)"

# IMGBUILD, the original builder's recipes: Debian is translated, other targets refused.
mkdir -p "$WORK/ib/files"
cat >"$WORK/ib/IMGBUILD" <<'EOF'
imgname=legacy
target=debian
debian_suite=bookworm
packages=(openssh-server curl)
provision() {
	local -a words=(pro visioned)
	[[ -n ${OUT:-} ]] && printf '%s%s\n' "${words[@]}" >"${OUT:-/dev/null}"
}
EOF
out=$("$ANEMOSCTL" --json image add "$WORK/ib" 2>&1)
expect_eq "IMGBUILD target=debian: a debootstrap recipe" "legacy recipe debootstrap bookworm openssh-server curl" \
	"$(jq -r '"\(.name) \(.source) \(.base) \(.suite) \(.packages)"' <<<"$out")"
curl -fsS "$ANEMOS_URL/images/legacy/$(jq -r .file <<<"$out")" | tar -xOf - ./recipe >"$WORK/legacy.recipe"
check "... its generated recipe carries provision()" grep -q 'local -a words=(pro visioned)' "$WORK/legacy.recipe"
OUT=$WORK/provisioned dash -c ". '$WORK/legacy.recipe' && provision" 2>"$WORK/provision.err"
expect_eq "... which dash sources and runs in bash (arrays, [[ ]])" "provisioned" "$(cat "$WORK/provisioned" 2>/dev/null)$(cat "$WORK/provision.err")"
check "... the IMGBUILD is in the bundle too" sh -c "curl -fsS '$ANEMOS_URL/images/legacy/$(jq -r .file <<<"$out")' | tar -tf - | grep -qx './IMGBUILD'"
for target in arch alpine; do
	sed -i "s/^target=.*/target=$target/" "$WORK/ib/IMGBUILD"
	sed -i "s/^imgname=.*/imgname=legacy-$target/" "$WORK/ib/IMGBUILD"
	msg=$("$ANEMOSCTL" image add "$WORK/ib" 2>&1); rc=$?
	expect_match "IMGBUILD target=$target refused, saying what this appliance cannot reach" \
		"target=$target: this appliance builds Debian systems only" "$msg"
	expect_eq "... exit 1, and no image" "1 0" "$rc $(body_of "$(api GET /api/v1/images)" | jq "[.images[] | select(.name == \"legacy-$target\")] | length")"
done
mkdir -p "$WORK/empty"
expect_match "a folder without a recipe is refused" 'has no recipe \(or IMGBUILD\) file' "$("$ANEMOSCTL" image add "$WORK/empty" 2>&1)"

# Hostile bundles, sent straight to the API: each refused with 400, nothing kept.
bad_bundle() { # NAME: builds $WORK/NAME.tar with python's tarfile (no root needed)
	"$PYTHON" - "$WORK/$1.tar" "$1" <<'PY'
import io, sys, tarfile
path, kind = sys.argv[1], sys.argv[2]
def add(t, name, data=b"", type=tarfile.REGTYPE):
    i = tarfile.TarInfo(name); i.type = type; i.size = len(data) if type == tarfile.REGTYPE else 0
    t.addfile(i, io.BytesIO(data) if type == tarfile.REGTYPE else None)
ok = b"name=x\nbase=busybox\n"
with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as t:
    if kind == "dotdot": add(t, "recipe", ok); add(t, "../../etc/evil", b"x")
    if kind == "absolute": add(t, "recipe", ok); add(t, "/etc/evil", b"x")
    if kind == "device": add(t, "recipe", ok); add(t, "files/dev/sda", type=tarfile.CHRTYPE)
    if kind == "norecipe": add(t, "files/etc/motd", b"x")
    if kind == "computed": add(t, "recipe", b"name=x\nbase=$(cat /etc/base)\n")
    if kind == "badbase": add(t, "recipe", b"name=x\nbase=arch\n")
    if kind == "nokeyring": add(t, "recipe", ok + b"keyring=missing.gpg\n")
    if kind == "badmirror": add(t, "recipe", ok + b"mirror=ftp://192.0.2.1/debian\n")
    if kind == "bigrecipe": add(t, "recipe", ok + b"#" * 70000 + b"\n")
    if kind == "duprecipe": add(t, "recipe", ok); add(t, "./recipe", b"name=x\nbase=debootstrap\n")
    if kind == "linkrecipe":
        add(t, "real", ok); i = tarfile.TarInfo("recipe"); i.type = tarfile.SYMTYPE; i.linkname = "real"; t.addfile(i)
    if kind == "userpass": add(t, "recipe", ok + b"mirror=http://user:secret@192.0.2.1/debian\n")
    if kind == "armored": add(t, "recipe", ok + b"keyring=site.asc\n"); add(t, "site.asc", b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQ==\n")
PY
}
for kind in dotdot absolute device norecipe computed badbase nokeyring badmirror bigrecipe duprecipe linkrecipe userpass armored; do
	bad_bundle "$kind"
	r=$(curl -sS -m 20 -X PUT -H @<(printf 'Authorization: Bearer %s\n' "$ANEMOS_TOKEN") --data-binary "@$WORK/$kind.tar" \
		-w '\n%{http_code}' "$ANEMOS_URL/api/v1/images/bad-$kind?format=recipe")
	expect_eq "hostile bundle ($kind): refused" "$([ $kind = bigrecipe ] && echo 413 || echo 400)" "$(status_of "$r")"
	echo "# $kind: $(body_of "$r")"
done
printf 'not a tar' >"$WORK/junk"
expect_eq "not a tar at all: 400" 400 "$(status_of "$(curl -sS -m 20 -X PUT -H @<(printf 'Authorization: Bearer %s\n' "$ANEMOS_TOKEN") \
	--data-binary "@$WORK/junk" -w '\n%{http_code}' "$ANEMOS_URL/api/v1/images/bad-junk?format=recipe")")"
expect_eq "no hostile bundle became an image" "legacy web web2" "$(body_of "$(api GET /api/v1/images)" | jq -r '[.images[].name] | join(" ")')"
expect_eq "... and none left a file" "" "$(find "$DATA/images" -name '.upload-*' -o -path '*bad-*' | head -n 3)"
expect_eq "a recipe cannot be an external URL" 400 "$(status_of "$(api POST /api/v1/images \
	'{"name":"ext","url":"http://192.0.2.10/x.tar","sha256":"'"$sha"'","format":"recipe"}')")"

# The plan: the mirror to build from.
api POST /api/v1/hosts '{"mac":"52:54:00:70:00:01","hostname":"builder","next_boot":"install","image":"web"}' >/dev/null
T=$(agent_token_of "$(ipxe 52:54:00:70:00:01)")
p=$(body_of "$(agent GET /api/v1/agent/plan "$T")")
expect_eq "plan: the recipe image, its bundle and the recipe's mirror" "recipe $sha http://192.0.2.10/debian" \
	"$(jq -r '.image | "\(.format) \(.sha256) \(.mirror)"' <<<"$p")"
expect_eq "plan: the host's MACs, for templates" '["52:54:00:70:00:01"]' "$(jq -c .host.macs <<<"$p")"
expect_eq "install.mirror accepted" 200 "$(status_of "$(api PATCH /api/v1/hosts/builder '{"install":{"mirror":"http://198.51.100.7:8080/debian"}}')")"
expect_eq "plan: install.mirror replaces the recipe's" "http://198.51.100.7:8080/debian" \
	"$(body_of "$(agent GET /api/v1/agent/plan "$T")" | jq -r .image.mirror)"
for bad in '"ftp://198.51.100.7/debian"' '"http://198.51.100.7/deb ian"' '"http://x/$(id)"' '7' '""' \
	'"http://user:secret@198.51.100.7/debian"'; do
	expect_eq "install.mirror refused: $bad" 400 "$(status_of "$(api PATCH /api/v1/hosts/builder "{\"install\":{\"mirror\":$bad}}")")"
done
expect_eq "refused mirrors changed nothing" "http://198.51.100.7:8080/debian" "$(host_field builder .install.mirror)"
api PATCH /api/v1/hosts/builder '{"install":{"mirror":"http://198.51.100.7:8080/debian","kernel_args":"quiet"}}' >/dev/null
"$ANEMOSCTL" host set builder --mirror http://198.51.100.8/debian >/dev/null
expect_eq "host set --mirror changes the mirror and keeps the other settings" "http://198.51.100.8/debian quiet" \
	"$(host_field builder '"\(.install.mirror) \(.install.kernel_args)"')"
"$ANEMOSCTL" host set builder --no-mirror >/dev/null
expect_eq "host set --no-mirror removes it, keeping the others" "null quiet" "$(host_field builder '"\(.install.mirror) \(.install.kernel_args)"')"
"$ANEMOSCTL" host set builder --mirror http://198.51.100.7:8080/debian >/dev/null
anemosd_stop
anemosd_start --package-cache http://192.0.2.1:3142 || exit 1
T=$(agent_token_of "$(ipxe 52:54:00:70:00:01)")
expect_eq "plan: with a package cache, the mirror through it" "http://192.0.2.1:3142/198.51.100.7:8080/debian" \
	"$(body_of "$(agent GET /api/v1/agent/plan "$T")" | jq -r .image.mirror)"
anemosd_stop
