#!/usr/bin/env bash
# Nothing acknowledged is lost when anemosd is killed: kill -9 in the middle of a burst of
# writes, restart on the same data folder, and every write that got a 2xx is there.
source "$(dirname "$0")/lib.sh"
anemosd_start || exit 1
Z=$(printf '%064d' 0)
api POST /api/v1/images '{"name":"tiny","url":"http://192.0.2.10/tiny.tar.zst","sha256":"'"$Z"'"}' >/dev/null
api POST /api/v1/hosts '{"mac":"52:54:00:30:00:01","hostname":"keep","next_boot":"install","image":"tiny","once":true}' >/dev/null
ipxe 52:54:00:30:00:02 pcbios "uuid=7a000000-0000-4000-8000-000000000002" >/dev/null
api PATCH /api/v1/hosts/keep '{"next_boot":"local"}' >/dev/null
anemosd_stop KILL
anemosd_start || exit 1
expect_eq "after kill -9: enrolled host, its patch" "keep local tiny true" "$(host_field keep '[.hostname,.next_boot,.image,.once]|map(tostring)|join(" ")')"
expect_eq "after kill -9: host created by a boot" "7a000000-0000-4000-8000-000000000002" "$(host_field 52:54:00:30:00:02 .uuid)"
expect_eq "after kill -9: image" tiny "$(body_of "$(api GET /api/v1/images)" | jq -r '.images[0].name')"
expect_eq "after kill -9: the admin token still works" 200 "$(status_of "$(api GET /api/v1/hosts)")"

# A burst of concurrent writes, killed midway.
mkdir -p "$WORK/acks"
printf 'Authorization: Bearer %s\n' "$ANEMOS_TOKEN" >"$WORK/.auth"
pids=""
for i in $(seq 100 299); do
	mac=$(printf '52:54:00:31:%02x:%02x' $((i / 256)) $((i % 256)))
	( code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -H @"$WORK/.auth" \
		--data-binary "{\"mac\":\"$mac\"}" "$ANEMOS_URL/api/v1/hosts" 2>/dev/null)
	  echo "$code" >"$WORK/acks/$mac" ) &
	pids="$pids $!"
	[ "$i" = 200 ] && anemosd_stop KILL
done
wait $pids
acked=0; lost=0
for f in "$WORK/acks"/*; do [ "$(cat "$f")" = 201 ] && acked=$((acked + 1)); done
anemosd_start || exit 1
for f in "$WORK/acks"/*; do
	[ "$(cat "$f")" = 201 ] || continue
	[ "$(status_of "$(api GET "/api/v1/hosts/$(basename "$f")")")" = 200 ] || lost=$((lost + 1))
done
check "some writes were acknowledged before the kill ($acked)" test "$acked" -gt 0
expect_eq "acknowledged writes lost by kill -9 (of $acked)" 0 "$lost"
expect_eq "database integrity after kill -9" ok "$(sqlite3 "$DATA/anemos.db" 'PRAGMA integrity_check')"
expect_eq "every MAC belongs to an existing host" 0 "$(sqlite3 "$DATA/anemos.db" 'PRAGMA foreign_key_check' | wc -l)"
# The newest step of server/db.c's migrations ("/* N: ..."), so that adding one needs no edit here.
newest=$(sed -n '/^static const char \*const migrations\[\] = {/,/^};/p' "$ROOT/server/db.c" | grep -o '/\* [0-9][0-9]*:' | tr -dc '0-9\n' | sort -n | tail -n 1)
expect_eq "schema version recorded (the newest migration, $newest)" "$newest" "$(sqlite3 "$DATA/anemos.db" 'PRAGMA user_version')"
expect_eq "WAL mode" wal "$(sqlite3 "$DATA/anemos.db" 'PRAGMA journal_mode')"
anemosd_stop

# A store from before secrets were kept out of events (schema 10): its operator's change
# events that carried a root password hash, user-data or a BMC password lose their text when
# anemosd opens it; other events stay as they were. (Step 11 is the one that scrubs; the steps
# after it run again here: those that can are written to (CREATE TABLE IF NOT EXISTS ...), those
# that cannot are undone here first: 14 added hosts.bmc_enroll, 16 moved hosts.inventory into
# host_inventories. The old store's inventory column holds one host's inventory: 16 moves it.)
hid=$(sqlite3 "$DATA/anemos.db" 'SELECT min(id) FROM hosts')
sqlite3 "$DATA/anemos.db" "INSERT INTO events (host_id, time, source, level, phase, message) VALUES
	($hid, 1, 'operator', 'info', 'change', 'changed {\"install\":{\"root_password_hash\":\"\$6\$salt\$OLDHASH\"}}'),
	($hid, 1, 'operator', 'info', 'change', 'changed {\"bmc\":{\"password\":\"OLDPW\"}}'),
	($hid, 1, 'operator', 'info', 'change', 'changed {\"next_boot\":\"install\"}');
	ALTER TABLE hosts DROP COLUMN bmc_enroll;
	ALTER TABLE hosts ADD COLUMN inventory TEXT;
	UPDATE hosts SET inventory = '{\"system\":{\"serial\":\"OLD-STORE-1\"}}' WHERE id = $hid;
	DELETE FROM host_inventories WHERE host_id = $hid;
	PRAGMA user_version = 10;"
anemosd_start || exit 1
expect_eq "an old store's change events lose the secrets they carried" 0 \
	"$(sqlite3 "$DATA/anemos.db" "SELECT count(*) FROM events WHERE message LIKE '%OLDHASH%' OR message LIKE '%OLDPW%'")"
expect_eq "... and keep what held none" 1 \
	"$(sqlite3 "$DATA/anemos.db" "SELECT count(*) FROM events WHERE message = 'changed {\"next_boot\":\"install\"}'")"
expect_eq "... migrated to the newest schema" "$newest" "$(sqlite3 "$DATA/anemos.db" 'PRAGMA user_version')"
expect_eq "... its hosts' inventory column moved into host_inventories" OLD-STORE-1 \
	"$(sqlite3 "$DATA/anemos.db" "SELECT json_extract(inventory, '$.system.serial') FROM host_inventories WHERE host_id = $hid")"
expect_eq "... and the column is gone" 0 "$(sqlite3 "$DATA/anemos.db" "SELECT count(*) FROM pragma_table_info('hosts') WHERE name = 'inventory'")"
expect_eq "... the API shows the moved inventory" OLD-STORE-1 \
	"$(body_of "$(api GET "/api/v1/hosts/$hid")" | jq -r '.inventory.system.serial')"
anemosd_stop
