#!/usr/bin/env bash
# The server's side of installing: per-host install settings, the plan built from them and
# the server's default SSH keys, the phone-home token and the installed system reporting in.
source "$(dirname "$0")/lib.sh"
echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIdefault ops@site" >"$WORK/keys"
echo "# a comment line" >>"$WORK/keys"
anemosd_start --ssh-keys "$WORK/keys" || exit 1
Z=$(printf '%064d' 0)
api POST /api/v1/images '{"name":"tiny","url":"http://192.0.2.10/tiny.tar.zst","sha256":"'"$Z"'"}' >/dev/null

r=$(api POST /api/v1/hosts '{"mac":"52:54:00:60:00:01","hostname":"web7","next_boot":"install","image":"tiny","once":true,
 "ssh_authorized_keys":["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIhost op@site"],
 "install":{"disk":{"serial":"DISK-A"},"network":{"mode":"static","address":"192.0.2.50/24","gateway":"192.0.2.1","dns":["192.0.2.53"]},
 "kernel_args":"quiet","after":"reboot","root_password_hash":"$6$salt$hash"}}')
expect_eq "enroll with install settings: 201" 201 "$(status_of "$r")"
expect_eq "install settings kept" "DISK-A static quiet" "$(body_of "$r" | jq -r '[.install.disk.serial,.install.network.mode,.install.kernel_args]|join(" ")')"
for bad in '{"install":{"disk":{"serial":"A","name":"b"}}}' '{"install":{"disk":"sda"}}' '{"install":{"root_password_hash":"secret"}}' \
	'{"install":{"network":{"mode":"static"}}}' '{"install":{"network":{"mode":"pppoe"}}}' '{"install":{"after":"explode"}}' \
	'{"install":{"kernel_args":"a; reboot"}}' '{"install":{"colour":"red"}}' '{"install":[1]}'; do
	expect_eq "install setting refused: $bad" 400 "$(status_of "$(api PATCH /api/v1/hosts/web7 "$bad")")"
done
expect_eq "refused settings changed nothing" "DISK-A" "$(host_field web7 .install.disk.serial)"

T=$(agent_token_of "$(ipxe 52:54:00:60:00:01 efi)")
p=$(body_of "$(agent GET /api/v1/agent/plan "$T")")
expect_eq "plan: install settings" "DISK-A static 192.0.2.50/24 reboot" "$(jq -r '.install|[.disk.serial,.network.mode,.network.address,.after]|join(" ")' <<<"$p")"
expect_eq "plan: host keys and the server's, each once" "2 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIhost op@site|ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIdefault ops@site" \
	"$(jq -r '"\(.ssh_authorized_keys|length) \(.ssh_authorized_keys|join("|"))"' <<<"$p")"
api PATCH /api/v1/hosts/web7 '{"install":{}}' >/dev/null
expect_eq "plan: defaults (largest disk, DHCP, reboot)" "null dhcp reboot" "$(body_of "$(agent GET /api/v1/agent/plan "$T")" | jq -r '.install|[(.disk|tostring),.network.mode,.after]|join(" ")')"

# The phone-home token: only for install boots; the installed system reports in with it.
r=$(agent POST /api/v1/agent/phone-home-token "$T")
expect_eq "phone-home token for the installer: 201" 201 "$(status_of "$r")"
P=$(body_of "$r" | jq -r .token)
expect_match "phone-home token: its own kind" '^anemos_phone_[0-9a-f]{64}$' "$P"
expect_eq "phone-home URL" "$ANEMOS_URL/api/v1/phone-home" "$(body_of "$r" | jq -r .url)"
expect_eq "the phone-home token opens no agent endpoint" 403 "$(status_of "$(agent GET /api/v1/agent/plan "$P")")"
expect_eq "the phone-home token opens no operator endpoint" 401 "$(status_of "$(agent GET /api/v1/hosts "$P")")"
expect_eq "an agent token cannot phone home" 403 "$(status_of "$(agent POST /api/v1/phone-home "$T" '{}')")"
expect_eq "the admin token cannot phone home" 403 "$(status_of "$(api POST /api/v1/phone-home '{}')")"
agent POST /api/v1/agent/done "$T" '{"ok":true}' >/dev/null
expect_eq "after done: installing until the system reports in" installing "$(host_field web7 .status)"
r=$(agent POST /api/v1/phone-home "$P" '{"hostname":"web7","kernel":"6.1.0","ssh_authorized_keys":2}')
expect_eq "phone home: 200" 200 "$(status_of "$r")"
expect_eq "phone home: deployed" deployed "$(host_field web7 .status)"
expect_match "phone home: the report is an event" 'installed system reported in: .*"hostname":"web7"' "$(body_of "$(api GET /api/v1/hosts/web7/events)" | jq -r '.events[-1].message')"
expect_eq "phone home works on every boot of the system" 200 "$(status_of "$(agent POST /api/v1/phone-home "$P" '{"hostname":"web7"}')")"
expect_eq "phone home: a report must be an object" 400 "$(status_of "$(agent POST /api/v1/phone-home "$P" '[1]')")"

# A discover or rescue boot leaves the installed system's token alone; a new install retires it.
api PATCH /api/v1/hosts/web7 '{"next_boot":"rescue"}' >/dev/null
T2=$(agent_token_of "$(ipxe 52:54:00:60:00:01 efi)")
expect_eq "a rescue boot's token cannot get a phone-home token" 403 "$(status_of "$(agent POST /api/v1/agent/phone-home-token "$T2")")"
expect_eq "after a rescue boot the system still reports in" 200 "$(status_of "$(agent POST /api/v1/phone-home "$P" '{}')")"
api PATCH /api/v1/hosts/web7 '{"next_boot":"install"}' >/dev/null
ipxe 52:54:00:60:00:01 efi >/dev/null
expect_eq "a new install retires the old system's phone-home token" 401 "$(status_of "$(agent POST /api/v1/phone-home "$P" '{}')")"
anemosd_stop
