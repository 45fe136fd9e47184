/*
 * The store: the only code that speaks SQL.
 *
 * One SQLite database in WAL mode under --data. Every thread (each libmicrohttpd worker, and
 * the main thread) gets its own connection on first use, with its statements prepared once
 * and kept (SQLITE_PREPARE_PERSISTENT). Readers never block; writers take one process-wide
 * mutex around BEGIN IMMEDIATE..COMMIT, which queues them fairly instead of leaving them to
 * SQLite's sleep-and-retry busy handler. synchronous=NORMAL in WAL mode means a committed
 * transaction is in the WAL file before COMMIT returns: killing anemosd loses nothing it
 * acknowledged (only a power cut can lose the last commits).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "anemosd.h"
#include "log.h"
#include "query.h"

/* Schema versions, applied in order; PRAGMA user_version records how many ran. Never edit
 * a released step: add a new one. */
static const char *const migrations[] = {
	"CREATE TABLE images ("
	"  name TEXT PRIMARY KEY,"
	"  format TEXT NOT NULL,"
	"  sha256 TEXT NOT NULL,"
	"  size INTEGER,"
	"  file TEXT,"              /* under DATA/images/NAME/, or NULL for external images */
	"  url TEXT,"               /* external download URL, or NULL for stored files */
	"  created INTEGER NOT NULL"
	");"
	"CREATE TABLE hosts ("
	"  id INTEGER PRIMARY KEY,"
	"  hostname TEXT UNIQUE,"
	"  status TEXT NOT NULL DEFAULT '" HOST_STATUS_NEW_NAME "',"
	"  next_boot TEXT NOT NULL DEFAULT '" BOOT_ACTION_DISCOVER_NAME "',"
	"  image TEXT REFERENCES images(name),"
	"  once INTEGER NOT NULL DEFAULT 0,"
	"  uuid TEXT, serial TEXT, vendor TEXT, product TEXT, asset TEXT,"
	"  ssh_keys TEXT NOT NULL DEFAULT '[]',"
	"  inventory TEXT,"
	"  last_seen INTEGER,"
	"  created INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL"
	");"
	"CREATE INDEX hosts_uuid ON hosts(uuid);"
	"CREATE INDEX hosts_serial ON hosts(serial);"
	"CREATE INDEX hosts_image ON hosts(image);"
	"CREATE TABLE host_macs ("
	"  mac TEXT PRIMARY KEY,"
	"  host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE"
	");"
	"CREATE INDEX host_macs_host ON host_macs(host_id);"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	"  time INTEGER NOT NULL,"
	"  source TEXT NOT NULL, level TEXT NOT NULL, phase TEXT, message TEXT NOT NULL,"
	"  bytes INTEGER, total INTEGER"
	");"
	"CREATE INDEX events_host ON events(host_id, id);"
	"CREATE TABLE agent_tokens ("
	"  hash TEXT PRIMARY KEY,"
	"  host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	"  mode TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL"
	");"
	"CREATE INDEX agent_tokens_host ON agent_tokens(host_id);"
	"CREATE TABLE admin_tokens ("
	"  hash TEXT PRIMARY KEY,"
	"  name TEXT,"
	"  created INTEGER NOT NULL"
	");",
	/* 2: the inventory's key facts, for the host list and its search (S_HOST_UPDATE fills
	 * them from the inventory JSON, so they never disagree with it). */
	"ALTER TABLE hosts ADD COLUMN firmware TEXT;"
	"ALTER TABLE hosts ADD COLUMN cpu_model TEXT;"
	"ALTER TABLE hosts ADD COLUMN cpu_sockets INTEGER;"
	"ALTER TABLE hosts ADD COLUMN cpu_threads INTEGER;"
	"ALTER TABLE hosts ADD COLUMN memory_bytes INTEGER;"
	"ALTER TABLE hosts ADD COLUMN disk_count INTEGER;"
	"ALTER TABLE hosts ADD COLUMN disk_bytes INTEGER;",
	/* 3: per-host install settings (hosts.c validates them), as a JSON object */
	"ALTER TABLE hosts ADD COLUMN install TEXT NOT NULL DEFAULT '{}';",
	/* 4: what a recipe image's bundle says (images_register_recipe), a JSON object, or NULL
	 * for images that are files */
	"ALTER TABLE images ADD COLUMN recipe TEXT;",
	/* 5: agent tokens bound to the address of the machine that received them, and what
	 * their boot was given once (AGENT_SERVED_*) */
	("ALTER TABLE agent_tokens ADD COLUMN address TEXT;"
	 "ALTER TABLE agent_tokens ADD COLUMN served INTEGER NOT NULL DEFAULT 0;"),
	/* 6: admin tokens that expire when asked to (NULL: never); their rowid is their id */
	"ALTER TABLE admin_tokens ADD COLUMN expires INTEGER;",
	/* 7: tags and attributes, an operator's words for a host (query.h searches them); an
	 * attribute's number is its value read as a number or size, for ordered searches */
	("CREATE TABLE host_tags ("
	 "  host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	 "  tag TEXT NOT NULL COLLATE NOCASE,"
	 "  PRIMARY KEY (host_id, tag)"
	 ") WITHOUT ROWID;"
	 "CREATE INDEX host_tags_tag ON host_tags(tag);"
	 "CREATE TABLE host_attrs ("
	 "  host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	 "  name TEXT NOT NULL,"
	 "  value TEXT NOT NULL,"
	 "  number REAL,"
	 "  PRIMARY KEY (host_id, name)"
	 ") WITHOUT ROWID;"
	 "CREATE INDEX host_attrs_name ON host_attrs(name, value);"),
	/* 8: what an admin token may do (tokens.c: viewer, operator, admin; the tokens made
	 * before could do everything), and who made an operator's event (the token's name) */
	("ALTER TABLE admin_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'admin';"
	 "ALTER TABLE events ADD COLUMN actor TEXT;"),
	/* 9: power control: the host's BMC settings as a JSON object whose password is sealed
	 * (secret.c), NULL for none; the power state the BMC told last, when, and why not */
	("ALTER TABLE hosts ADD COLUMN bmc TEXT;"
	 "ALTER TABLE hosts ADD COLUMN power_state TEXT;"
	 "ALTER TABLE hosts ADD COLUMN power_checked INTEGER;"
	 "ALTER TABLE hosts ADD COLUMN power_error TEXT;"
	 /* power actions acknowledged and not yet carried out (power.c), run again after a
	  * restart */
	 "CREATE TABLE power_requests ("
	 "  id INTEGER PRIMARY KEY,"
	 "  host_id INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,"
	 "  action TEXT NOT NULL,"
	 "  boot TEXT,"
	 "  who TEXT NOT NULL,"
	 "  created INTEGER NOT NULL);"),
	/* 10: hardware drift: what changed between a host's inventories (drift.c), a JSON
	 * array kept until an operator acknowledges it, NULL for none */
	"ALTER TABLE hosts ADD COLUMN drift TEXT;",
	/* 11: an operator's change event used to carry the body whole ("changed {...}"), secret
	 * install settings and BMC passwords included; viewers may read events now */
	("UPDATE events SET message = 'changed the host''s settings (what, written before secrets were kept out of "
	 "events, is no longer shown)' WHERE source = 'operator' AND message LIKE 'changed {%' AND"
	 " (message LIKE '%root_password_hash%' OR message LIKE '%cloud_init_user_data%' OR"
	 "  message LIKE '%\"password\"%');"),
	/* 12: discovery rules (rules.c): a search, a priority (lower first, then name), an
	 * optional max_count (NULL: no limit), actions as a JSON object; and the hosts each
	 * rule claimed, one row per firing. A claim outlives its host (max_count counts every
	 * host a rule ever claimed) and goes with its rule. (IF NOT EXISTS: the step can run
	 * again on a store whose user_version was set back, as tests/integration/durability
	 * does.) */
	("CREATE TABLE IF NOT EXISTS rules ("
	 "  id INTEGER PRIMARY KEY,"
	 "  name TEXT NOT NULL UNIQUE,"
	 "  query TEXT NOT NULL,"
	 "  priority INTEGER NOT NULL DEFAULT 100,"
	 "  max_count INTEGER,"
	 "  actions TEXT NOT NULL DEFAULT '{}',"
	 "  enabled INTEGER NOT NULL DEFAULT 1,"
	 "  created INTEGER NOT NULL,"
	 "  updated INTEGER NOT NULL);"
	 "CREATE TABLE IF NOT EXISTS rule_hosts ("
	 "  id INTEGER PRIMARY KEY,"
	 "  rule_id INTEGER NOT NULL REFERENCES rules(id) ON DELETE CASCADE,"
	 "  host_id INTEGER NOT NULL,"
	 "  time INTEGER NOT NULL);"
	 "CREATE INDEX IF NOT EXISTS rule_hosts_rule ON rule_hosts(rule_id);"),
	/* 13: saved searches, @NAME in a search (query.h) */
	"CREATE TABLE IF NOT EXISTS saved_searches (name TEXT PRIMARY KEY, query TEXT NOT NULL, created_by TEXT,"
	" created INTEGER NOT NULL, updated INTEGER NOT NULL);",
	/* 14: an in-band BMC enroll asked for (anemosctl host set --bmc-enroll) and not yet
	 * done: a JSON object with its state and the new user's password sealed (power.c's
	 * enroll functions), NULL for none */
	"ALTER TABLE hosts ADD COLUMN bmc_enroll TEXT;",
	/* 15: webhooks (webhooks.c): where events go, which, under what secret (sealed, secret.c),
	 * how far each has read the events (last_event_id) and how its last delivery went; and
	 * its deliveries, the one pending (at most one a webhook) and the newest done ones. IF NOT
	 * EXISTS: the durability suite runs the steps after 10 again on a store that has them. */
	("CREATE TABLE IF NOT EXISTS webhooks ("
	 "  id INTEGER PRIMARY KEY,"
	 "  url TEXT NOT NULL,"
	 "  events TEXT NOT NULL,"
	 "  secret TEXT NOT NULL,"
	 "  enabled INTEGER NOT NULL DEFAULT 1,"
	 "  created INTEGER NOT NULL,"
	 "  updated INTEGER NOT NULL,"
	 "  last_event_id INTEGER NOT NULL DEFAULT 0,"
	 "  last_result TEXT,"
	 "  last_delivery INTEGER,"
	 "  failing_since INTEGER,"
	 "  last_error TEXT);"
	 "CREATE TABLE IF NOT EXISTS webhook_deliveries ("
	 "  id INTEGER PRIMARY KEY,"
	 "  webhook_id INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,"
	 "  event_id INTEGER,"
	 "  kind TEXT NOT NULL,"
	 "  body TEXT NOT NULL,"
	 "  status TEXT NOT NULL,"
	 "  attempts INTEGER NOT NULL DEFAULT 0,"
	 "  next_attempt INTEGER NOT NULL,"
	 "  last_status INTEGER,"
	 "  last_error TEXT,"
	 "  created INTEGER NOT NULL,"
	 "  updated INTEGER NOT NULL);"
	 "CREATE INDEX IF NOT EXISTS webhook_deliveries_hook ON webhook_deliveries(webhook_id, id);"),
	/* 16: the inventory in a table of its own: a row holds its 11 KB in overflow pages, and
	 * SQLite writes a row whole, so every status change and every host read carried them.
	 * (IF NOT EXISTS and OR IGNORE: the durability suite runs it again after adding the
	 * column back.) */
	("CREATE TABLE IF NOT EXISTS host_inventories ("
	 "  host_id INTEGER PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,"
	 "  inventory TEXT NOT NULL);"
	 "INSERT OR IGNORE INTO host_inventories (host_id, inventory)"
	 " SELECT id, inventory FROM hosts WHERE inventory IS NOT NULL;"
	 "ALTER TABLE hosts DROP COLUMN inventory;"),
};

#define EVENTS_KEPT_STR "1000"

#define HOST_COLUMNS                                                                         \
	"h.id, h.hostname, h.status, h.next_boot, h.image, h.once, h.uuid, h.serial, h.vendor, " \
	"h.product, h.asset, h.ssh_keys, EXISTS (SELECT 1 FROM host_inventories i WHERE i.host_id = h.id), " \
	"h.last_seen, h.created, h.updated, "                                                  \
	"(SELECT group_concat(mac, ' ') FROM (SELECT mac FROM host_macs m WHERE m.host_id = h.id ORDER BY m.rowid)), " \
	"(SELECT json_object('bytes', e.bytes, 'total', e.total, 'time', e.time, 'message', e.message) " \
	" FROM events e WHERE e.host_id = h.id AND e.total IS NOT NULL AND h.status = '" HOST_STATUS_INSTALLING_NAME "' " \
	" ORDER BY e.id DESC LIMIT 1), " \
	"json_object('firmware', h.firmware, " \
	" 'cpu_model', h.cpu_model, 'cpu_sockets', h.cpu_sockets, 'cpu_threads', h.cpu_threads, " \
	" 'memory_bytes', h.memory_bytes, 'disk_count', h.disk_count, 'disk_bytes', h.disk_bytes), " \
	"h.install, h.bmc, h.power_state, h.power_checked, h.power_error, " \
	"(SELECT json_group_array(tag) FROM (SELECT tag FROM host_tags x WHERE x.host_id = h.id ORDER BY tag)), " \
	"(SELECT json_group_object(name, value) FROM " \
	" (SELECT name, value FROM host_attrs x WHERE x.host_id = h.id ORDER BY name)), " \
	"h.drift, h.bmc_enroll"

#define WEBHOOK_DELIVERIES_KEPT_STR "100"
#define WEBHOOK_COLUMNS                                                                      \
	"id, url, events, secret, enabled, created, updated, last_event_id, last_result, "   \
	"last_delivery, failing_since, last_error"
#define DELIVERY_COLUMNS                                                                     \
	"id, webhook_id, event_id, kind, body, status, attempts, next_attempt, last_status, " \
	"last_error, created, updated"

enum stmt_id {
	S_BEGIN, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO,
	S_HOST_GET, S_HOST_INVENTORY, S_HOST_INVENTORY_PUT, S_HOST_BOOT_BY_MAC, S_HOST_BY_MAC, S_HOST_BY_UUID, S_HOST_BY_SERIAL, S_HOST_BY_HOSTNAME,
	S_HOST_INSERT, S_HOST_UPDATE, S_HOST_UPDATE_NAMES, S_HOST_UPDATE_IDS, S_HOST_FACTS, S_HOST_DELETE, S_HOST_ADD_MAC, S_HOST_SEEN, S_HOST_FILL_IDENT,
	S_TAGS_CLEAR, S_TAG_ADD, S_ATTRS_CLEAR, S_ATTR_ADD,
	S_HOST_COUNT_STATUS,
	S_EVENT_ADD, S_EVENT_PRUNE, S_EVENT_LIST,
	S_IMAGE_GET, S_IMAGE_INSERT, S_IMAGE_DELETE, S_IMAGE_IN_USE, S_IMAGE_LIST,
	S_AGENT_DELETE_HOST, S_AGENT_INSERT, S_AGENT_LOOKUP, S_AGENT_LIVE, S_AGENT_BIND, S_AGENT_UPDATE,
	S_ADMIN_INSERT, S_ADMIN_LOOKUP, S_ADMIN_VALID, S_ADMIN_LIST, S_ADMIN_BY_NAME, S_ADMIN_REVOKE,
	S_ADMIN_NAME, S_HOST_WITH_BMC, S_HOST_POWER_READ, S_POWER_REQ_ADD, S_POWER_REQ_DONE, S_POWER_REQ_LIST,
	S_RULE_GET, S_RULE_LIST, S_RULE_INSERT, S_RULE_UPDATE, S_RULE_DELETE, S_RULE_CLAIM, S_RULE_CLAIM_COUNT,
	S_RULE_CLAIM_LIST,
	S_SEARCH_LIST, S_SEARCH_GET, S_SEARCH_PUT, S_SEARCH_DELETE,
	S_WEBHOOK_INSERT, S_WEBHOOK_SECRET, S_WEBHOOK_GET, S_WEBHOOK_LIST, S_WEBHOOK_COUNT, S_WEBHOOK_UPDATE,
	S_WEBHOOK_DELETE, S_WEBHOOK_CURSOR, S_WEBHOOK_RESULT, S_DELIVERY_ADD, S_DELIVERY_PRUNE, S_DELIVERY_PENDING,
	S_DELIVERY_RESULT, S_DELIVERY_LIST, S_DELIVERY_DUE_NOW, S_DELIVERY_ABANDONED, S_EVENTS_AFTER,
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT member",
	[S_RELEASE] = "RELEASE member",
	[S_ROLLBACK_TO] = "ROLLBACK TO member",
	[S_HOST_GET] = "SELECT " HOST_COLUMNS " FROM hosts h WHERE h.id = ?1",
	[S_HOST_INVENTORY] = "SELECT inventory FROM host_inventories WHERE host_id = ?1",
	[S_HOST_INVENTORY_PUT] = "INSERT INTO host_inventories (host_id, inventory) VALUES (?1, ?2)"
				 " ON CONFLICT (host_id) DO UPDATE SET inventory = excluded.inventory",
	[S_HOST_BOOT_BY_MAC] = "SELECT h.id, h.status, h.next_boot, h.uuid, h.serial, h.vendor, h.product, h.asset"
			       " FROM host_macs m JOIN hosts h ON h.id = m.host_id WHERE m.mac = ?1",
	[S_HOST_BY_MAC] = "SELECT host_id FROM host_macs WHERE mac = ?1",
	[S_HOST_BY_UUID] = "SELECT id FROM hosts WHERE uuid = ?1 ORDER BY id LIMIT 1",
	[S_HOST_BY_SERIAL] = "SELECT id FROM hosts WHERE serial = ?1 "
			     "AND (?2 IS NULL OR vendor IS NULL OR vendor = ?2) ORDER BY id LIMIT 1",
	[S_HOST_BY_HOSTNAME] = "SELECT id FROM hosts WHERE hostname = ?1",
	[S_HOST_INSERT] = "INSERT INTO hosts (hostname, status, next_boot, image, once, uuid, serial,"
			  " vendor, product, asset, ssh_keys, last_seen, created, updated, install)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14)",
	/* A host's indexed columns are written only when they change (S_HOST_UPDATE_NAMES, _IDS;
	 * an agent's first inventory brings the identifiers, an operator the names): SQLite
	 * rewrites the index entry of every column an UPDATE sets, changed or not, and each is a
	 * page in the WAL. */
	[S_HOST_UPDATE] = "UPDATE hosts SET status = ?3, next_boot = ?4,"
			  " once = ?6, vendor = ?9, product = ?10, asset = ?11,"
			  " ssh_keys = ?12, updated = ?14, install = ?15,"
			  " bmc = ?16, power_state = ?17, power_checked = ?18, power_error = ?19, drift = ?20,"
			  " bmc_enroll = ?21 WHERE id = ?1",
	[S_HOST_UPDATE_NAMES] = "UPDATE hosts SET hostname = ?2, image = ?3 WHERE id = ?1"
				" AND (hostname IS NOT ?2 OR image IS NOT ?3)",
	[S_HOST_UPDATE_IDS] = "UPDATE hosts SET uuid = ?2, serial = ?3 WHERE id = ?1"
			      " AND (uuid IS NOT ?2 OR serial IS NOT ?3)",
	/* The inventory's key facts, taken from it in C when it arrives (db_host_set_facts). */
	[S_HOST_FACTS] = "UPDATE hosts SET firmware = ?2, cpu_model = ?3, cpu_sockets = ?4, cpu_threads = ?5,"
			 " memory_bytes = ?6, disk_count = ?7, disk_bytes = ?8 WHERE id = ?1",
	[S_HOST_DELETE] = "DELETE FROM hosts WHERE id = ?1",
	[S_HOST_ADD_MAC] = "INSERT INTO host_macs (mac, host_id) VALUES (?1, ?2)",
	[S_TAGS_CLEAR] = "DELETE FROM host_tags WHERE host_id = ?1",
	[S_TAG_ADD] = "INSERT OR IGNORE INTO host_tags (host_id, tag) VALUES (?1, lower(?2))",
	[S_ATTRS_CLEAR] = "DELETE FROM host_attrs WHERE host_id = ?1",
	[S_ATTR_ADD] = "INSERT INTO host_attrs (host_id, name, value, number) VALUES (?1, ?2, ?3, ?4)",
	[S_HOST_SEEN] = "UPDATE hosts SET last_seen = ?2 WHERE id = ?1",
	/* Fills identifiers the host lacks. The WHERE clause makes the usual boot, where nothing
	 * is new, write no row and so no index page. */
	[S_HOST_FILL_IDENT] = "UPDATE hosts SET uuid = coalesce(uuid, ?2), serial = coalesce(serial, ?3),"
			      " vendor = coalesce(vendor, ?4), product = coalesce(product, ?5),"
			      " asset = coalesce(asset, ?6) WHERE id = ?1 AND ("
			      " (uuid IS NULL AND ?2 IS NOT NULL) OR (serial IS NULL AND ?3 IS NOT NULL) OR"
			      " (vendor IS NULL AND ?4 IS NOT NULL) OR (product IS NULL AND ?5 IS NOT NULL) OR"
			      " (asset IS NULL AND ?6 IS NOT NULL))",
	[S_HOST_COUNT_STATUS] = "SELECT status, count(*) FROM hosts GROUP BY status ORDER BY status",
	[S_EVENT_ADD] = "INSERT INTO events (host_id, time, source, level, phase, message, bytes, total, actor)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	/* Keeps a host's newest 1000 events: a machine stuck in a boot loop cannot grow
	 * the database without bound. Run on every 64th event (db_event_add). */
	[S_EVENT_PRUNE] = "DELETE FROM events WHERE host_id = ?1 AND id <= (SELECT id FROM events"
			  " WHERE host_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET " EVENTS_KEPT_STR ")",
	[S_EVENT_LIST] = "SELECT id, time, source, level, phase, message, bytes, total, actor FROM"
			 " (SELECT * FROM events WHERE host_id = ?1 ORDER BY id DESC LIMIT ?2)"
			 " ORDER BY id",
	[S_IMAGE_GET] = "SELECT name, format, sha256, size, file, url, created, recipe FROM images WHERE name = ?1",
	[S_IMAGE_INSERT] = "INSERT INTO images (name, format, sha256, size, file, url, created, recipe)"
			   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_IMAGE_DELETE] = "DELETE FROM images WHERE name = ?1",
	[S_IMAGE_IN_USE] = "SELECT id FROM hosts WHERE image = ?1 ORDER BY id LIMIT 1",
	[S_IMAGE_LIST] = "SELECT name, format, sha256, size, file, url, created, recipe FROM images ORDER BY name",
	/* Revokes a host's tokens of one kind: a boot's agent tokens (?2 = 0) or its installed
	 * system's phone-home token (?2 = 1). */
	[S_AGENT_DELETE_HOST] = "DELETE FROM agent_tokens WHERE host_id = ?1"
				" AND (mode = 'phone-home') = ?2",
	[S_AGENT_INSERT] = "INSERT INTO agent_tokens (hash, host_id, mode, created, expires, address)"
			   " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[S_AGENT_LOOKUP] = "SELECT host_id, hash, mode, address, served, expires FROM agent_tokens"
			   " WHERE hash = ?1 AND expires > ?2",
	[S_AGENT_LIVE] = "SELECT host_id, hash, mode, address, served, expires FROM agent_tokens"
			 " WHERE host_id = ?1 AND expires > ?2 AND mode != 'phone-home'"
			 " ORDER BY created DESC LIMIT 1",
	[S_AGENT_BIND] = "UPDATE agent_tokens SET address = ?2 WHERE hash = ?1 AND address IS NULL",
	[S_AGENT_UPDATE] = "UPDATE agent_tokens SET mode = ?2, served = ?3 WHERE hash = ?1",
	[S_ADMIN_INSERT] = "INSERT INTO admin_tokens (hash, name, created, expires, role) VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_ADMIN_LOOKUP] = "SELECT rowid, role, name FROM admin_tokens WHERE hash = ?1 AND (expires IS NULL OR expires > ?2)",
	[S_ADMIN_VALID] = "SELECT rowid FROM admin_tokens WHERE rowid = ?1 AND (expires IS NULL OR expires > ?2)",
	[S_ADMIN_LIST] = "SELECT rowid, name, created, expires, role FROM admin_tokens ORDER BY rowid",
	[S_ADMIN_BY_NAME] = "SELECT rowid FROM admin_tokens WHERE name = ?1 ORDER BY rowid",
	[S_ADMIN_REVOKE] = "DELETE FROM admin_tokens WHERE rowid = ?1",
	[S_ADMIN_NAME] = "SELECT coalesce(name, 'token ' || rowid) FROM admin_tokens WHERE rowid = ?1",
	[S_HOST_WITH_BMC] = "SELECT id FROM hosts WHERE bmc IS NOT NULL ORDER BY id",
	/* a poll that found what the host had: only when it was read (not `updated`) */
	[S_HOST_POWER_READ] = "UPDATE hosts SET power_checked = ?2 WHERE id = ?1",
	[S_POWER_REQ_ADD] = "INSERT INTO power_requests (host_id, action, boot, who, created)"
			    " VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_POWER_REQ_DONE] = "DELETE FROM power_requests WHERE id = ?1",
	[S_POWER_REQ_LIST] = "SELECT id, host_id, action, boot, who FROM power_requests ORDER BY id",
#define RULE_COLUMNS "id, name, query, priority, max_count, actions, enabled, created, updated," \
	" (SELECT count(*) FROM rule_hosts c WHERE c.rule_id = r.id)"
	[S_RULE_GET] = "SELECT " RULE_COLUMNS " FROM rules r WHERE name = ?1",
	/* the order rules are tried in (rules.c) */
	[S_RULE_LIST] = "SELECT " RULE_COLUMNS " FROM rules r ORDER BY priority, name",
	[S_RULE_INSERT] = "INSERT INTO rules (name, query, priority, max_count, actions, enabled, created, updated)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
	[S_RULE_UPDATE] = "UPDATE rules SET query = ?2, priority = ?3, max_count = ?4, actions = ?5, enabled = ?6,"
			  " updated = ?7 WHERE id = ?1",
	[S_RULE_DELETE] = "DELETE FROM rules WHERE id = ?1",
	[S_RULE_CLAIM] = "INSERT INTO rule_hosts (rule_id, host_id, time) VALUES (?1, ?2, ?3)",
	[S_RULE_CLAIM_COUNT] = "SELECT count(*) FROM rule_hosts WHERE rule_id = ?1",
	[S_RULE_CLAIM_LIST] = "SELECT c.host_id, h.hostname, c.time FROM rule_hosts c LEFT JOIN hosts h ON h.id = c.host_id"
			      " WHERE c.rule_id = ?1 ORDER BY c.id",
	[S_SEARCH_LIST] = "SELECT name, query, created_by, updated FROM saved_searches ORDER BY name",
	[S_SEARCH_GET] = "SELECT query FROM saved_searches WHERE name = ?1",
	[S_SEARCH_PUT] = "INSERT INTO saved_searches (name, query, created_by, created, updated) VALUES (?1, ?2, ?3, ?4, ?4)"
			 " ON CONFLICT (name) DO UPDATE SET query = excluded.query, created_by = excluded.created_by,"
			 " updated = excluded.updated",
	[S_SEARCH_DELETE] = "DELETE FROM saved_searches WHERE name = ?1",
	/* a new webhook reads the events that come after it: its cursor starts at the newest */
	[S_WEBHOOK_INSERT] = "INSERT INTO webhooks (url, events, secret, enabled, created, updated, last_event_id)"
			     " VALUES (?1, ?2, '', ?3, ?4, ?4, (SELECT coalesce(max(id), 0) FROM events))",
	[S_WEBHOOK_SECRET] = "UPDATE webhooks SET secret = ?2 WHERE id = ?1",
	[S_WEBHOOK_GET] = "SELECT " WEBHOOK_COLUMNS " FROM webhooks WHERE id = ?1",
	[S_WEBHOOK_LIST] = "SELECT " WEBHOOK_COLUMNS " FROM webhooks ORDER BY id",
	[S_WEBHOOK_COUNT] = "SELECT count(*) FROM webhooks",
	[S_WEBHOOK_UPDATE] = "UPDATE webhooks SET url = ?2, events = ?3, enabled = ?4, updated = ?5 WHERE id = ?1",
	[S_WEBHOOK_DELETE] = "DELETE FROM webhooks WHERE id = ?1",
	[S_WEBHOOK_CURSOR] = "UPDATE webhooks SET last_event_id = max(last_event_id, ?2) WHERE id = ?1",
	/* failing_since: when the deliveries began to fail, kept until one succeeds */
	[S_WEBHOOK_RESULT] = "UPDATE webhooks SET last_result = ?2, last_delivery = ?3, last_error = ?4,"
			     " failing_since = CASE WHEN ?2 = 'ok' THEN NULL ELSE coalesce(failing_since, ?3) END"
			     " WHERE id = ?1",
	[S_DELIVERY_ADD] = "INSERT INTO webhook_deliveries (webhook_id, event_id, kind, body, status, next_attempt,"
			   " created, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6)",
	/* a webhook keeps its newest deliveries only, and always its pending one */
	[S_DELIVERY_PRUNE] = "DELETE FROM webhook_deliveries WHERE webhook_id = ?1 AND status != 'pending' AND"
			     " id <= (SELECT id FROM webhook_deliveries WHERE webhook_id = ?1 ORDER BY id DESC"
			     " LIMIT 1 OFFSET " WEBHOOK_DELIVERIES_KEPT_STR ")",
	[S_DELIVERY_PENDING] = "SELECT " DELIVERY_COLUMNS " FROM webhook_deliveries WHERE webhook_id = ?1"
			       " AND status = 'pending' ORDER BY id LIMIT 1",
	[S_DELIVERY_RESULT] = "UPDATE webhook_deliveries SET status = ?2, attempts = ?3, next_attempt = ?4,"
			      " last_status = ?5, last_error = ?6, updated = ?7 WHERE id = ?1",
	[S_DELIVERY_LIST] = "SELECT " DELIVERY_COLUMNS " FROM webhook_deliveries WHERE webhook_id = ?1"
			    " ORDER BY id DESC LIMIT ?2",
	[S_DELIVERY_DUE_NOW] = "UPDATE webhook_deliveries SET next_attempt = ?2 WHERE webhook_id = ?1"
			       " AND status = 'pending'",
	/* a ping is sent by the request that asked for it: one still "sending" at start was cut
	 * short by a stop */
	[S_DELIVERY_ABANDONED] = "UPDATE webhook_deliveries SET status = 'failed', updated = ?1,"
				 " last_error = 'anemosd stopped while it was being sent' WHERE status = 'sending'",
	[S_EVENTS_AFTER] = "SELECT e.id, e.time, e.host_id, h.hostname, h.status, e.source, e.level, e.phase,"
			   " e.message, e.bytes, e.total, e.actor FROM events e JOIN hosts h ON h.id = e.host_id"
			   " WHERE e.id > ?1 ORDER BY e.id LIMIT ?2",
};

struct conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
};

static char db_path[PATH_MAX];
static pthread_key_t conn_key;
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

/* The background checkpointer (see checkpoint_main). */
static pthread_t checkpointer;
static bool checkpointer_running, checkpointer_stop;
static pthread_mutex_t checkpointer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t checkpointer_wake = PTHREAD_COND_INITIALIZER;

static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages);

static void conn_close(void *p)
{
	struct conn *c = p;

	if (!c)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(c->stmt[i]);
	sqlite3_close(c->db);
	free(c);
}

static int exec_sql(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		err_set(-EIO, "database: %s", msg ? msg : "error");
		log_error("sql failed: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

/* The negative errno for a failure of SQLite call that returned rc on db: -ENOMEM, -EMFILE
 * or -ENFILE when SQLite ran out of memory or descriptors (the caller answers 503 and the
 * client asks again), else -EIO. */
static int sqlite_errno(sqlite3 *db, int rc)
{
	int sys = db ? sqlite3_system_errno(db) : 0;

	if ((rc & 0xff) == SQLITE_NOMEM || sys == ENOMEM)
		return -ENOMEM;
	if (sys == EMFILE || sys == ENFILE)
		return -sys;
	return -EIO;
}

#define READ_CACHE_KIB "512"

/* Opens a connection with the settings every connection needs; NULL with *rc set if it
 * cannot. */
static struct conn *conn_open(int *rc)
{
	struct conn *c = calloc(1, sizeof(*c));
	int src;

	*rc = -ENOMEM;
	if (!c)
		return NULL;
	if ((src = sqlite3_open_v2(db_path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					   SQLITE_OPEN_NOMUTEX, NULL)) != SQLITE_OK) {
		*rc = sqlite_errno(c->db, src);
		log_error("cannot open %s: %s", db_path, sqlite3_errmsg(c->db));
		conn_close(c);
		return NULL;
	}
	sqlite3_busy_timeout(c->db, 5000); /* other processes, e.g. `anemosd token create` */
	/* Checkpoints run in the background (checkpoint_main), never inside a request that
	 * holds the write lock. (mmap_size was tried and measured: with commits from several
	 * connections it cost 30% of /ipxe throughput, so reads stay pread.) After a burst of
	 * writes the WAL is cut back to journal_size_limit (bytes) once a checkpoint has caught
	 * up, instead of keeping its peak size on disk. Temporary tables and sorts stay in
	 * memory, so a connection needs no descriptor beyond those it opens at first: running
	 * short of them later cannot fail a query. Every thread that reads has a connection of its
	 * own (2 per CPU for HTTP alone), so each keeps a page cache of READ_CACHE_KIB: enough for
	 * the inner pages of every b-tree a lookup goes through; a leaf it lacks is one pread from
	 * the kernel's page cache. SQLite's default of 2 MiB each was most of anemosd's memory
	 * once a list of every host had gone through each worker's connection. */
	if (exec_sql(c->db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
			    " PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 4194304;"
			    " PRAGMA temp_store = MEMORY; PRAGMA cache_size = -" READ_CACHE_KIB ";") < 0) {
		*rc = sqlite_errno(c->db, sqlite3_errcode(c->db));
		conn_close(c);
		return NULL;
	}
	/* after the pragmas: wal_autocheckpoint replaces any WAL hook */
	sqlite3_wal_hook(c->db, wal_hook, NULL);
	return c;
}

/*
 * Group commit. Every write transaction runs on one connection, the writer's, as a savepoint
 * inside the batch: the transaction open on that connection. db_commit releases the
 * savepoint and then waits (write_lock released) until the batch is committed, so nothing is
 * acknowledged before it is in the WAL. The batch commits when the member that ends it sees
 * no other thread waiting to write (so an idle server commits at once, as before), or when it
 * holds BATCH_MAX members; under load, one COMMIT serves everyone that wrote meanwhile. A
 * thread inside a write transaction reads through the writer's connection, so it sees the
 * batch's earlier members; every other read sees committed data only.
 */
#define BATCH_MAX 64
struct batch_member {
	int rc;
	bool done;
	struct batch_member *next;
};
static struct conn *writer;
static __thread bool in_write;
static atomic_uint begin_waiting; /* threads in db_begin, waiting for write_lock */
static bool batch_open;
static unsigned batch_size;
static struct batch_member *batch_members;
static pthread_cond_t batch_over = PTHREAD_COND_INITIALIZER;
static uint64_t batches_committed, members_committed; /* for /metrics */
static void batch_end(int rc);

/* Why this thread's last conn_get() or stmt() failed: -EIO, or -ENOMEM/-EMFILE/-ENFILE. */
static __thread int stmt_rc = -EIO;

/* This thread's connection, opened on first use; NULL (with err_set and stmt_rc) if it
 * cannot be. */
static struct conn *conn_get(void)
{
	struct conn *c = pthread_getspecific(conn_key);
	int rc;

	if (c)
		return c;
	c = conn_open(&rc);
	if (!c) {
		stmt_rc = err_set(rc, rc == -EIO ? "cannot open the database"
				  : "cannot open the database now (%s); try again later", strerror(-rc));
		return NULL;
	}
	pthread_setspecific(conn_key, c);
	return c;
}

/* The statement `id` on connection c, reset and unbound, ready to bind; NULL (with err_set
 * and stmt_rc) if there is none. */
static sqlite3_stmt *conn_stmt(struct conn *c, enum stmt_id id)
{
	int rc;

	if (!c)
		return NULL;
	if (!c->stmt[id] && (rc = sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
						     &c->stmt[id], NULL)) != SQLITE_OK) {
		log_error("prepare failed: %s: %s", sqlite3_errmsg(c->db), stmt_sql[id]);
		rc = sqlite_errno(c->db, rc);
		stmt_rc = err_set(rc, rc == -EIO ? "database error"
				  : "the database cannot be used now (%s); try again later", strerror(-rc));
		return NULL;
	}
	sqlite3_reset(c->stmt[id]);
	sqlite3_clear_bindings(c->stmt[id]);
	return c->stmt[id];
}

/* The statement `id` on this thread's connection (the writer's inside a write
 * transaction), as conn_stmt. */
static sqlite3_stmt *stmt(enum stmt_id id)
{
	return conn_stmt(in_write ? writer : conn_get(), id);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bind_opt_int(sqlite3_stmt *st, int i, int64_t v)
{
	if (v >= 0)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static char *column_strdup(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s ? strdup((const char *)s) : NULL;
}

/* Logs a failed step and returns its negative errno, with err_set. */
static int step_failed(sqlite3_stmt *st, int rc)
{
	log_error("sql step failed: %s", sqlite3_errmsg(sqlite3_db_handle(st)));
	rc = sqlite_errno(sqlite3_db_handle(st), rc);
	return err_set(rc, rc == -EIO ? "database error" : "the database cannot be used now (%s); try again later",
		       strerror(-rc));
}

/* Steps a statement that returns no rows; maps constraint failures to -EEXIST. */
static int step_done(sqlite3_stmt *st)
{
	int rc;

	if (!st)
		return stmt_rc;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return err_set(-EEXIST, "conflicts with an existing record");
	return step_failed(st, rc);
}

/* Steps a statement expected to return at most one row with one integer. */
static int step_id(sqlite3_stmt *st, int64_t *id)
{
	int rc;

	if (!st)
		return stmt_rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		return 0;
	}
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	return step_failed(st, rc);
}

static int changes(sqlite3_stmt *st)
{
	return sqlite3_changes(sqlite3_db_handle(st));
}

/* The WAL beyond this many pages (of 4 KiB, 16 MiB) after a commit: the checkpointer copies it back
 * and truncates it at once (a PASSIVE checkpoint cannot make the WAL restart while readers
 * come and go; measured: 915 MiB after 30 s of /ipxe). */
#define WAL_TRUNCATE_PAGES 4096
static bool wal_big;
static uint64_t wal_truncations;

/* sqlite3_wal_hook of every connection: runs after each commit, in the committing thread. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	(void)arg;
	(void)db;
	(void)name;
	if (pages >= WAL_TRUNCATE_PAGES) {
		pthread_mutex_lock(&checkpointer_lock);
		if (!wal_big) {
			wal_big = true;
			pthread_cond_signal(&checkpointer_wake);
		}
		pthread_mutex_unlock(&checkpointer_lock);
	}
	return SQLITE_OK;
}

/* One checkpoint on c: PASSIVE (never waits for readers or writers) once a second; when the
 * WAL has grown past WAL_TRUNCATE_PAGES, a PASSIVE one and then TRUNCATE under the writers'
 * mutex (after committing the open batch), which copies what the first could not, waits
 * only for the readers of the moment (short) and starts the WAL file again from 0 bytes. */
static void checkpoint_once(struct conn *c, bool big)
{
	int rc;

	if (!big) {
		sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		return;
	}
	/* most of the copying first, without holding up writers */
	sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	pthread_mutex_lock(&write_lock);
	if (batch_open) /* its members wait for it; and it would keep the WAL from being cut */
		batch_end(batch_size ? 0 : -ECANCELED);
	rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	pthread_mutex_unlock(&write_lock);
	if (rc == SQLITE_OK)
		__atomic_add_fetch(&wal_truncations, 1, __ATOMIC_RELAXED);
	else
		log_warn("WAL checkpoint (truncate): %s", sqlite3_errmsg(c->db));
}

/* The background checkpointer: requests never pay for a checkpoint, and the WAL stays
 * bounded (checkpoint_once). */
static void *checkpoint_main(void *arg)
{
	struct timespec until;
	int rc;
	struct conn *c = conn_open(&rc);

	(void)arg;
	pthread_mutex_lock(&checkpointer_lock);
	while (!checkpointer_stop) {
		bool big;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		if (!wal_big)
			pthread_cond_timedwait(&checkpointer_wake, &checkpointer_lock, &until);
		big = wal_big;
		wal_big = false;
		if (c && !checkpointer_stop) {
			pthread_mutex_unlock(&checkpointer_lock);
			checkpoint_once(c, big);
			pthread_mutex_lock(&checkpointer_lock);
		}
	}
	pthread_mutex_unlock(&checkpointer_lock);
	conn_close(c);
	return NULL;
}

void db_group_commits(uint64_t *batches, uint64_t *transactions)
{
	*batches = __atomic_load_n(&batches_committed, __ATOMIC_RELAXED);
	*transactions = __atomic_load_n(&members_committed, __ATOMIC_RELAXED);
}

int64_t db_wal_bytes(uint64_t *truncations)
{
	char wal[PATH_MAX + 8];
	struct stat sb;

	if (truncations)
		*truncations = __atomic_load_n(&wal_truncations, __ATOMIC_RELAXED);
	snprintf(wal, sizeof(wal), "%s-wal", db_path);
	return stat(wal, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

/* Before SQLite's first use, once: no count of its memory, which took one global mutex in
 * every allocation of every thread (nothing here reads it, nor sets a soft heap limit, which
 * needs it). Too late (SQLite already initialised, e.g. a second db_init in one process): the
 * count stays, which is only slower. */
static void sqlite_setup(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int db_init(const char *data_dir)
{
	static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
	struct conn *c;
	int version = 0, rc;
	sqlite3_stmt *st;

	if (mkdir(data_dir, 0750) < 0 && errno != EEXIST)
		return err_set(-errno, "cannot create data folder %s: %s", data_dir, strerror(errno));
	if ((size_t)snprintf(db_path, sizeof(db_path), "%s/anemos.db", data_dir) >= sizeof(db_path))
		return err_set(-ENAMETOOLONG, "data folder path too long");
	pthread_once(&setup_once, sqlite_setup);
	rc = pthread_key_create(&conn_key, conn_close);
	if (rc)
		return err_set(-rc, "pthread_key_create failed");
	c = conn_get();
	if (!c)
		return -EIO;
	if (exec_sql(c->db, "PRAGMA journal_mode = WAL;") < 0)
		return -EIO;
	if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > (int)(sizeof(migrations) / sizeof(migrations[0])))
		return err_set(-EPROTO, "database %s has schema version %d, newer than this anemosd knows (%zu)",
			       db_path, version, sizeof(migrations) / sizeof(migrations[0]));
	for (; version < (int)(sizeof(migrations) / sizeof(migrations[0])); version++) {
		char bump[64];

		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d;", version + 1);
		pthread_mutex_lock(&write_lock);
		rc = exec_sql(c->db, "BEGIN IMMEDIATE");
		if (rc == 0 && (rc = exec_sql(c->db, migrations[version])) == 0 &&
		    (rc = exec_sql(c->db, bump)) == 0)
			rc = exec_sql(c->db, "COMMIT");
		if (rc < 0)
			exec_sql(c->db, "ROLLBACK");
		pthread_mutex_unlock(&write_lock);
		if (rc < 0)
			return rc;
		log_info("database %s migrated to schema version %d", db_path, version + 1);
	}
	if (!writer && !(writer = conn_open(&rc)))
		return err_set(rc, "cannot open %s for writing", db_path);
	/* The writer's batch keeps the pages it changed in its cache until its COMMIT: SQLite's
	 * default size, so that a batch of BATCH_MAX registrations does not spill. */
	if ((rc = exec_sql(writer->db, "PRAGMA cache_size = -2000")) < 0)
		return rc;
	checkpointer_stop = false;
	rc = pthread_create(&checkpointer, NULL, checkpoint_main, NULL);
	if (rc)
		return err_set(-rc, "cannot start the checkpoint thread");
	checkpointer_running = true;
	return seen_start();
}

void db_shutdown(void)
{
	seen_stop();
	if (checkpointer_running) {
		pthread_mutex_lock(&checkpointer_lock);
		checkpointer_stop = true;
		pthread_cond_signal(&checkpointer_wake);
		pthread_mutex_unlock(&checkpointer_lock);
		pthread_join(checkpointer, NULL);
		checkpointer_running = false;
	}
	conn_close(writer);
	writer = NULL;
	db_thread_end();
}

void db_thread_end(void)
{
	conn_close(pthread_getspecific(conn_key));
	pthread_setspecific(conn_key, NULL);
}

/* Ends the open batch (write_lock held): COMMIT, or ROLLBACK when rc < 0 or the commit
 * fails; every member learns the outcome. */
static void batch_end(int rc)
{
	sqlite3_stmt *st;

	if (rc == 0 && (rc = step_done(conn_stmt(writer, S_COMMIT))) < 0)
		log_error("group commit of %u transactions failed: %s", batch_size, err_msg());
	if (rc < 0 && !sqlite3_get_autocommit(writer->db) && (st = conn_stmt(writer, S_ROLLBACK)))
		step_done(st);
	for (struct batch_member *m = batch_members; m; m = m->next) {
		m->rc = rc < 0 ? rc : 0;
		m->done = true;
	}
	if (rc == 0) {
		__atomic_add_fetch(&batches_committed, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&members_committed, batch_size, __ATOMIC_RELAXED);
	}
	batch_members = NULL;
	batch_size = 0;
	batch_open = false;
	pthread_cond_broadcast(&batch_over);
}

/* After a member ended (write_lock held): the batch commits now unless another writer is
 * about to join it (and it has room); an empty batch is closed. */
static void batch_maybe_end(void)
{
	if (!batch_open)
		return;
	if (!batch_size)
		batch_end(-ECANCELED);
	else if (batch_size >= BATCH_MAX || atomic_load(&begin_waiting) == 0)
		batch_end(0);
}

int db_begin(void)
{
	int rc = 0;

	atomic_fetch_add(&begin_waiting, 1);
	pthread_mutex_lock(&write_lock);
	atomic_fetch_sub(&begin_waiting, 1);
	if (!batch_open && (rc = step_done(conn_stmt(writer, S_BEGIN))) == 0)
		batch_open = true;
	if (rc == 0 && (rc = step_done(conn_stmt(writer, S_SAVEPOINT))) == 0) {
		in_write = true;
		return 0;
	}
	batch_maybe_end();
	pthread_mutex_unlock(&write_lock);
	return rc;
}

int db_commit(void)
{
	struct batch_member me = { 0 };
	int rc = step_done(stmt(S_RELEASE));

	in_write = false;
	if (rc < 0 || sqlite3_get_autocommit(writer->db)) {
		/* SQLite rolled the whole transaction back (I/O error, no memory, ...): the
		 * batch's members fail with this one; nothing of them was acknowledged. */
		if (rc == 0)
			rc = err_set(-EIO, "database error");
		if (batch_open)
			batch_end(rc);
		pthread_mutex_unlock(&write_lock);
		return rc;
	}
	me.next = batch_members;
	batch_members = &me;
	batch_size++;
	batch_maybe_end();
	while (!me.done)
		pthread_cond_wait(&batch_over, &write_lock);
	pthread_mutex_unlock(&write_lock);
	return me.rc < 0 ? err_set(me.rc, "database error: the group commit failed") : 0;
}

void db_rollback(void)
{
	step_done(stmt(S_ROLLBACK_TO));
	step_done(stmt(S_RELEASE));
	in_write = false;
	if (batch_open && sqlite3_get_autocommit(writer->db))
		batch_end(-EIO);
	batch_maybe_end();
	pthread_mutex_unlock(&write_lock);
}

int db_txn(int (*work)(void *arg), void *arg)
{
	int rc;

	if ((rc = db_begin()) < 0)
		return rc;
	if ((rc = work(arg)) < 0) {
		db_rollback();
		return rc;
	}
	return db_commit();
}

void host_free(struct host *h)
{
	if (!h)
		return;
	free(h->hostname);
	free(h->image);
	free(h->uuid);
	free(h->serial);
	free(h->vendor);
	free(h->product);
	free(h->asset);
	free(h->ssh_keys);
	free(h->inventory);
	free(h->progress);
	free(h->summary);
	free(h->install);
	free(h->tags);
	free(h->attributes);
	free(h->drift);
	free(h->bmc_enroll);
	free(h->bmc);
	free(h->power_state);
	free(h->power_error);
	for (size_t i = 0; i < h->nmacs; i++)
		free(h->macs[i]);
	free(h->macs);
	memset(h, 0, sizeof(*h));
}

void image_free(struct image *im)
{
	if (!im)
		return;
	free(im->name);
	free(im->format);
	free(im->sha256);
	free(im->file);
	free(im->url);
	free(im->recipe);
	memset(im, 0, sizeof(*im));
}

/* Fills *h from a row of HOST_COLUMNS. */
static int host_from_row(sqlite3_stmt *st, struct host *h)
{
	const char *macs;

	memset(h, 0, sizeof(*h));
	h->id = sqlite3_column_int64(st, 0);
	if (host_status_parse((const char *)sqlite3_column_text(st, 2), &h->status) < 0 ||
	    boot_action_parse((const char *)sqlite3_column_text(st, 3), &h->next_boot) < 0) {
		return err_set(-EIO, "database error: host %lld has an unknown status or next boot",
			       (long long)h->id);
	}
	h->hostname = column_strdup(st, 1);
	h->image = column_strdup(st, 4);
	h->once = sqlite3_column_int(st, 5) != 0;
	h->uuid = column_strdup(st, 6);
	h->serial = column_strdup(st, 7);
	h->vendor = column_strdup(st, 8);
	h->product = column_strdup(st, 9);
	h->asset = column_strdup(st, 10);
	h->ssh_keys = column_strdup(st, 11);
	h->has_inventory = sqlite3_column_int(st, 12) != 0;
	h->last_seen = sqlite3_column_int64(st, 13);
	h->created = sqlite3_column_int64(st, 14);
	h->updated = sqlite3_column_int64(st, 15);
	macs = (const char *)sqlite3_column_text(st, 16);
	h->progress = column_strdup(st, 17);
	h->summary = h->has_inventory ? column_strdup(st, 18) : NULL; /* no facts without one */
	h->install = column_strdup(st, 19);
	h->bmc = column_strdup(st, 20);
	h->power_state = column_strdup(st, 21);
	h->power_checked = sqlite3_column_int64(st, 22);
	h->power_error = column_strdup(st, 23);
	h->tags = column_strdup(st, 24);
	h->attributes = column_strdup(st, 25);
	h->drift = column_strdup(st, 26);
	h->bmc_enroll = column_strdup(st, 27);
	if (!h->ssh_keys || !h->install || !h->tags || !h->attributes)
		goto nomem;
	for (const char *p = macs; p && *p;) {
		size_t len = strcspn(p, " ");
		char **grown = realloc(h->macs, (h->nmacs + 1) * sizeof(*h->macs));

		if (!grown)
			goto nomem;
		h->macs = grown;
		h->macs[h->nmacs] = strndup(p, len);
		if (!h->macs[h->nmacs])
			goto nomem;
		h->nmacs++;
		p += len;
		p += *p == ' ';
	}
	return 0;
nomem:
	host_free(h);
	return err_set(-ENOMEM, "out of memory");
}

int db_host_inventory(int64_t id, char **text)
{
	sqlite3_stmt *st = stmt(S_HOST_INVENTORY);
	int rc;

	*text = NULL;
	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = 0;
		if (!(*text = column_strdup(st, 0)))
			rc = err_set(-ENOMEM, "out of memory");
	} else {
		rc = rc == SQLITE_DONE ? 0 : step_failed(st, rc);
	}
	sqlite3_reset(st);
	return rc;
}

int db_host_load_inventory(struct host *h)
{
	return h->has_inventory && !h->inventory ? db_host_inventory(h->id, &h->inventory) : 0;
}

int db_host_get(int64_t id, struct host *out)
{
	sqlite3_stmt *st = stmt(S_HOST_GET);
	int rc;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = host_from_row(st, out);
	else
		rc = rc == SQLITE_DONE ? err_set(-ENOENT, "no host with id %lld", (long long)id)
				       : err_set(-EIO, "database error");
	sqlite3_reset(st);
	return rc;
}

int db_host_boot_by_mac(const char *mac, struct host *out)
{
	sqlite3_stmt *st = stmt(S_HOST_BOOT_BY_MAC);
	int rc;

	if (!st)
		return stmt_rc;
	memset(out, 0, sizeof(*out));
	bind_text(st, 1, mac);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? -ENOENT : step_failed(st, rc);
	}
	out->id = sqlite3_column_int64(st, 0);
	if (host_status_parse((const char *)sqlite3_column_text(st, 1), &out->status) < 0 ||
	    boot_action_parse((const char *)sqlite3_column_text(st, 2), &out->next_boot) < 0) {
		sqlite3_reset(st);
		return err_set(-EIO, "database error: host %lld has an unknown status or next boot", (long long)out->id);
	}
	out->uuid = column_strdup(st, 3);
	out->serial = column_strdup(st, 4);
	out->vendor = column_strdup(st, 5);
	out->product = column_strdup(st, 6);
	out->asset = column_strdup(st, 7);
	sqlite3_reset(st);
	return 0;
}

int db_host_find_by_mac(const char *mac, int64_t *id)
{
	sqlite3_stmt *st = stmt(S_HOST_BY_MAC);

	if (!st)
		return stmt_rc;
	bind_text(st, 1, mac);
	return step_id(st, id);
}

int db_host_find_by_uuid(const char *uuid, int64_t *id)
{
	sqlite3_stmt *st = stmt(S_HOST_BY_UUID);

	if (!st)
		return stmt_rc;
	bind_text(st, 1, uuid);
	return step_id(st, id);
}

int db_host_find_by_serial(const char *serial, const char *vendor, int64_t *id)
{
	sqlite3_stmt *st = stmt(S_HOST_BY_SERIAL);

	if (!st)
		return stmt_rc;
	bind_text(st, 1, serial);
	bind_text(st, 2, vendor);
	return step_id(st, id);
}

/* A reference is a numeric id, a MAC in any accepted spelling, or a hostname. */
int db_host_find_by_ref(const char *ref, struct host *out)
{
	char mac[MAC_LEN + 1], uuid[UUID_LEN + 1], *end;
	int64_t id;
	long long n;
	sqlite3_stmt *st;
	int rc;

	errno = 0;
	n = strtoll(ref, &end, 10);
	if (*ref && *end == '\0' && errno == 0 && n > 0) {
		rc = db_host_get(n, out);
		if (rc != -ENOENT)
			return rc;
	}
	/* A MAC written as 12 bare digits also reads as a number: try it as a MAC too. */
	if (mac_parse(ref, mac) == 0) {
		rc = db_host_find_by_mac(mac, &id);
		if (rc == 0)
			return db_host_get(id, out);
		if (rc != -ENOENT)
			return rc;
	}
	/* a hostname never reads as a UUID (validate.c), so a UUID names one host or none */
	if (uuid_parse(ref, uuid) == 0 && (rc = db_host_find_by_uuid(uuid, &id)) != -ENOENT)
		return rc < 0 ? rc : db_host_get(id, out);
	st = stmt(S_HOST_BY_HOSTNAME);
	if (!st)
		return stmt_rc;
	bind_text(st, 1, ref);
	rc = step_id(st, &id);
	if (rc == -ENOENT)
		return err_set(-ENOENT, "no host '%s' (give an id, a hostname, a MAC or the SMBIOS UUID)", ref);
	return rc < 0 ? rc : db_host_get(id, out);
}

/* Runs statement `which`, whose one parameter is a host id, to its end: 0 or -errno. */
static int step_for_host(enum stmt_id which, int64_t id)
{
	sqlite3_stmt *st = stmt(which);

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, id);
	return step_done(st);
}

static int host_tags_write(int64_t id, json_t *tags)
{
	sqlite3_stmt *st;
	json_t *tag;
	size_t i;
	int rc;

	if ((rc = step_for_host(S_TAGS_CLEAR, id)) < 0)
		return rc;
	json_array_foreach(tags, i, tag) {
		if (!(st = stmt(S_TAG_ADD)))
			return stmt_rc;
		sqlite3_bind_int64(st, 1, id);
		bind_text(st, 2, json_string_value(tag));
		if ((rc = step_done(st)) < 0)
			return rc;
	}
	return 0;
}

static int host_attrs_write(int64_t id, json_t *attrs)
{
	sqlite3_stmt *st;
	const char *name;
	json_t *value;
	double number;
	int rc;

	if ((rc = step_for_host(S_ATTRS_CLEAR, id)) < 0)
		return rc;
	json_object_foreach(attrs, name, value) {
		const char *text = json_string_value(value);

		if (!(st = stmt(S_ATTR_ADD)))
			return stmt_rc;
		sqlite3_bind_int64(st, 1, id);
		bind_text(st, 2, name);
		bind_text(st, 3, text);
		if (text && query_parse_size(text, &number) == 0)
			sqlite3_bind_double(st, 4, number);
		else
			sqlite3_bind_null(st, 4);
		if ((rc = step_done(st)) < 0)
			return rc;
	}
	return 0;
}

/* Inside the caller's transaction: host h->id's inventory row is h->inventory (not NULL when
 * inventory_changed: only inventory_store sets it), which is then written. */
static int host_inventory_write(int64_t id, struct host *h)
{
	sqlite3_stmt *st = stmt(S_HOST_INVENTORY_PUT);
	int rc;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, h->inventory);
	if ((rc = step_done(st)) == 0)
		h->inventory_changed = false;
	return rc;
}

/* Replaces host id's tag and attribute rows with h->tags and h->attributes (validated JSON
 * texts: an array of strings, an object of strings). */
static int host_labels_write(int64_t id, const struct host *h)
{
	json_t *tags = json_loads(h->tags ? h->tags : "[]", 0, NULL);
	json_t *attrs = json_loads(h->attributes ? h->attributes : "{}", 0, NULL);
	int rc = !tags || !attrs ? err_set(-ENOMEM, "out of memory") : host_tags_write(id, tags);

	if (rc == 0)
		rc = host_attrs_write(id, attrs);
	json_decref(tags);
	json_decref(attrs);
	return rc;
}

int db_host_insert(struct host *h, int64_t *id)
{
	sqlite3_stmt *st = stmt(S_HOST_INSERT);
	int rc;

	if (!st)
		return stmt_rc;
	bind_text(st, 1, h->hostname);
	bind_text(st, 2, host_status_name(h->status));
	bind_text(st, 3, boot_action_name(h->next_boot));
	bind_text(st, 4, h->image);
	sqlite3_bind_int(st, 5, h->once);
	bind_text(st, 6, h->uuid);
	bind_text(st, 7, h->serial);
	bind_text(st, 8, h->vendor);
	bind_text(st, 9, h->product);
	bind_text(st, 10, h->asset);
	bind_text(st, 11, h->ssh_keys ? h->ssh_keys : "[]");
	bind_opt_int(st, 12, h->last_seen ? h->last_seen : -1);
	sqlite3_bind_int64(st, 13, (int64_t)time(NULL));
	bind_text(st, 14, h->install ? h->install : "{}");
	rc = step_done(st);
	if (rc == 0)
		*id = sqlite3_last_insert_rowid(sqlite3_db_handle(st));
	if (rc == 0 && h->labels_changed)
		rc = host_labels_write(*id, h);
	if (rc == 0 && h->inventory_changed)
		rc = host_inventory_write(*id, h);
	return rc;
}

/* Two indexed columns of host host_id, a and b, by statement id (S_HOST_UPDATE_NAMES, _IDS),
 * which writes them only when one of them changed. */
static int host_pair_write(enum stmt_id id, int64_t host_id, const char *a, const char *b)
{
	sqlite3_stmt *st = stmt(id);

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, host_id);
	bind_text(st, 2, a);
	bind_text(st, 3, b);
	return step_done(st);
}

/* The indexed columns of h (db_host_update). */
static int host_keys_write(const struct host *h)
{
	int rc = host_pair_write(S_HOST_UPDATE_NAMES, h->id, h->hostname, h->image);

	return rc < 0 ? rc : host_pair_write(S_HOST_UPDATE_IDS, h->id, h->uuid, h->serial);
}

int db_host_update(struct host *h)
{
	sqlite3_stmt *st = stmt(S_HOST_UPDATE);
	bool written;
	int rc;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, h->id);
	bind_text(st, 3, host_status_name(h->status));
	bind_text(st, 4, boot_action_name(h->next_boot));
	sqlite3_bind_int(st, 6, h->once);
	bind_text(st, 9, h->vendor);
	bind_text(st, 10, h->product);
	bind_text(st, 11, h->asset);
	bind_text(st, 12, h->ssh_keys);
	sqlite3_bind_int64(st, 14, (int64_t)time(NULL));
	bind_text(st, 15, h->install ? h->install : "{}");
	bind_text(st, 16, h->bmc);
	bind_text(st, 17, h->power_state);
	bind_opt_int(st, 18, h->power_checked ? h->power_checked : -1);
	bind_text(st, 19, h->power_error);
	bind_text(st, 20, h->drift);
	bind_text(st, 21, h->bmc_enroll);
	rc = step_done(st);
	written = rc == 0 && sqlite3_changes(sqlite3_db_handle(st)) > 0;
	if (written)
		rc = host_keys_write(h);
	if (rc == 0 && h->labels_changed)
		rc = host_labels_write(h->id, h);
	if (rc == 0 && written && h->inventory_changed)
		rc = host_inventory_write(h->id, h);
	return rc;
}

/* Binds a JSON value as SQLite's json_extract would give it: NULL, an integer (true/false
 * as 1/0), a real, a string, or the JSON text of an array or object. */
static void bind_json(sqlite3_stmt *st, int i, json_t *v)
{
	char *text;

	if (json_is_integer(v))
		sqlite3_bind_int64(st, i, json_integer_value(v));
	else if (json_is_real(v))
		sqlite3_bind_double(st, i, json_real_value(v));
	else if (json_is_boolean(v))
		sqlite3_bind_int(st, i, json_is_true(v));
	else if (json_is_string(v))
		sqlite3_bind_text(st, i, json_string_value(v), -1, SQLITE_TRANSIENT);
	else if ((json_is_array(v) || json_is_object(v)) && (text = json_dumps(v, JSON_COMPACT)))
		sqlite3_bind_text(st, i, text, -1, free);
	else
		sqlite3_bind_null(st, i);
}

/* disk_count and disk_bytes of an inventory's "disks": their number (NULL without "disks",
 * 0 when it is no array) and the sum of their numeric size_bytes (NULL when none has one). */
static void bind_disks(sqlite3_stmt *st, json_t *disks)
{
	double sum = 0;
	bool any = false, real = false;
	size_t i;
	json_t *d, *b;

	if (!disks)
		sqlite3_bind_null(st, 7);
	else
		sqlite3_bind_int64(st, 7, json_is_array(disks) ? (int64_t)json_array_size(disks) : 0);
	json_array_foreach(json_is_array(disks) ? disks : NULL, i, d) {
		b = json_object_get(d, "size_bytes");
		if (json_is_number(b)) {
			sum += json_number_value(b);
			real |= json_is_real(b);
			any = true;
		}
	}
	if (!any)
		sqlite3_bind_null(st, 8);
	else if (real)
		sqlite3_bind_double(st, 8, sum);
	else
		sqlite3_bind_int64(st, 8, (int64_t)sum);
}

int db_host_set_facts(int64_t id, json_t *inv)
{
	sqlite3_stmt *st = stmt(S_HOST_FACTS);
	json_t *cpu = json_object_get(inv, "cpu");

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, id);
	bind_json(st, 2, json_object_get(inv, "firmware"));
	bind_json(st, 3, json_object_get(cpu, "model"));
	bind_json(st, 4, json_object_get(cpu, "sockets"));
	bind_json(st, 5, json_object_get(cpu, "threads"));
	bind_json(st, 6, json_object_get(json_object_get(inv, "memory"), "total_bytes"));
	bind_disks(st, json_object_get(inv, "disks"));
	return step_done(st);
}

int db_host_delete(int64_t id)
{
	sqlite3_stmt *st = stmt(S_HOST_DELETE);
	int rc;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, id);
	rc = step_done(st);
	if (rc == 0 && changes(st) == 0)
		return err_set(-ENOENT, "no host with id %lld", (long long)id);
	return rc;
}

int db_host_add_mac(int64_t id, const char *mac)
{
	sqlite3_stmt *st = stmt(S_HOST_ADD_MAC);
	int rc;

	if (!st)
		return stmt_rc;
	bind_text(st, 1, mac);
	sqlite3_bind_int64(st, 2, id);
	rc = step_done(st);
	if (rc == -EEXIST)
		return err_set(-EEXIST, "MAC %s belongs to another host", mac);
	return rc;
}

int db_host_seen_event(int64_t id, const char *level, const char *message)
{
	struct event ev = { .host_id = id, .source = "server", .level = level, .phase = "boot",
			    .message = message, .bytes = -1, .total = -1 };
	sqlite3_stmt *st = stmt(S_HOST_SEEN);
	int rc;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
	if ((rc = step_done(st)) < 0)
		return rc;
	/* a host deleted since its boot keeps no event */
	return changes(st) ? db_event_add(&ev, NULL) : 0;
}

int db_host_seen(int64_t id, const struct boot_identity *ident)
{
	sqlite3_stmt *st = stmt(S_HOST_SEEN);
	int rc;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
	if ((rc = step_done(st)) < 0 || !(st = stmt(S_HOST_FILL_IDENT)))
		return rc < 0 ? rc : -EIO;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, ident->uuid);
	bind_text(st, 3, ident->serial);
	bind_text(st, 4, ident->vendor);
	bind_text(st, 5, ident->product);
	bind_text(st, 6, ident->asset);
	return step_done(st);
}

/* Binds a compiled search's values to st, the first as parameter number `first`. */
static void bind_query(sqlite3_stmt *st, const struct query *q, int first)
{
	for (size_t i = 0; i < q->count; i++) {
		const struct query_param *v = &q->params[i];

		if (v->type == QUERY_PARAM_TEXT)
			sqlite3_bind_text(st, (int)i + first, v->text, -1, SQLITE_TRANSIENT);
		else if (v->type == QUERY_PARAM_INT)
			sqlite3_bind_int64(st, (int)i + first, v->number);
		else
			sqlite3_bind_double(st, (int)i + first, v->real);
	}
}

/* query_expand's lookup: the saved search name's query. */
static int saved_search(void *ctx, const char *name, char **query)
{
	(void)ctx;
	return db_search_get(name, query);
}

/* The host list's statement for a search (query.h): hosts after id `after`, at most limit
 * (<= 0: all), prepared on this thread's connection with its values bound; the caller
 * finalizes it. NULL with err_set and *rc on failure: a
 * search that does not parse is -EINVAL naming the place. */
static sqlite3_stmt *search_stmt(const char *text, int64_t after, int64_t limit, int *rc)
{
	struct conn *c = conn_get();
	char *expanded = NULL;
	struct query q;
	struct query_error qe;
	sqlite3_stmt *st = NULL;
	char *sql = NULL;

	if (!c) {
		*rc = stmt_rc;
		return NULL;
	}
	if ((*rc = query_expand(text, saved_search, NULL, &expanded, &qe)) < 0) {
		*rc = *rc == -EINVAL ? err_set(-EINVAL, "search: %s (at character %zu)", qe.msg, qe.pos + 1)
		    : *rc == -ENOMEM ? err_set(*rc, "out of memory") : *rc;
		return NULL;
	}
	*rc = query_compile(expanded, 2, &q, &qe);
	if (*rc < 0) {
		/* With a saved search in it the position is in the text it became. */
		*rc = *rc == -EINVAL ? err_set(-EINVAL, "search: %s (at character %zu%s)", qe.msg, qe.pos + 1,
					       strcmp(expanded, text ? text : "") ? " of the search with its saved searches in" : "")
				     : err_set(*rc, "out of memory");
		free(expanded);
		return NULL;
	}
	free(expanded);
	if (asprintf(&sql, "SELECT " HOST_COLUMNS " FROM hosts h WHERE h.id > ?1 AND %s ORDER BY h.id LIMIT ?2",
		     q.where) < 0)
		*rc = err_set(-ENOMEM, "out of memory");
	else if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
		*rc = err_set(-EIO, "database error: %s", sqlite3_errmsg(c->db));
	if (st) {
		sqlite3_bind_int64(st, 1, after);
		sqlite3_bind_int64(st, 2, limit > 0 ? limit : -1);
	}
	if (st)
		bind_query(st, &q, 3);
	free(sql);
	query_free(&q);
	return st;
}

int db_host_list(const char *query, int64_t after, int64_t limit, struct host **out, size_t *n)
{
	struct host *hosts = NULL;
	size_t count = 0, cap = 0;
	int rc;
	sqlite3_stmt *st = search_stmt(query, after, limit, &rc);

	if (!st)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (count == cap) {
			struct host *grown;

			cap = cap ? 2 * cap : 64;
			grown = realloc(hosts, cap * sizeof(*hosts));
			if (!grown) {
				rc = err_set(-ENOMEM, "out of memory");
				goto fail;
			}
			hosts = grown;
		}
		if ((rc = host_from_row(st, &hosts[count])) < 0)
			goto fail;
		count++;
	}
	if (rc != SQLITE_DONE) {
		rc = err_set(-EIO, "database error");
		goto fail;
	}
	sqlite3_finalize(st);
	*out = hosts;
	*n = count;
	return 0;
fail:
	sqlite3_finalize(st);
	for (size_t i = 0; i < count; i++)
		host_free(&hosts[i]);
	free(hosts);
	return rc;
}

int db_host_count_by_status(json_t *out)
{
	sqlite3_stmt *st = stmt(S_HOST_COUNT_STATUS);
	int rc;

	if (!st)
		return stmt_rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_object_set_new(out, (const char *)sqlite3_column_text(st, 0),
				    json_integer(sqlite3_column_int64(st, 1)));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : err_set(-EIO, "database error");
}

int db_event_add(const struct event *ev, int64_t *id)
{
	sqlite3_stmt *st = stmt(S_EVENT_ADD);
	int64_t event_id;
	int rc;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, ev->host_id);
	sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
	bind_text(st, 3, ev->source);
	bind_text(st, 4, ev->level);
	bind_text(st, 5, ev->phase);
	bind_text(st, 6, ev->message);
	bind_opt_int(st, 7, ev->bytes);
	bind_opt_int(st, 8, ev->total);
	bind_text(st, 9, ev->actor);
	rc = step_done(st);
	if (rc < 0)
		return rc;
	event_id = sqlite3_last_insert_rowid(sqlite3_db_handle(st));
	if (id)
		*id = event_id;
	/* Every insert prunes the host's events beyond the newest 1,000 (a walk of the
	 * host's index, no table scan): no order of inserts can let one host keep more. */
	if (!(st = stmt(S_EVENT_PRUNE)))
		return -EIO;
	sqlite3_bind_int64(st, 1, ev->host_id);
	return step_done(st);
}

static json_t *column_json_text(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s ? json_string((const char *)s) : json_null();
}

static json_t *column_json_int(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null()
							 : json_integer(sqlite3_column_int64(st, i));
}

int db_event_list(int64_t host_id, int limit, json_t *out)
{
	sqlite3_stmt *st = stmt(S_EVENT_LIST);
	char when[32];
	int rc;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, host_id);
	sqlite3_bind_int(st, 2, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		time_iso8601((time_t)sqlite3_column_int64(st, 1), when);
		json_array_append_new(out, json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
						     "id", (json_int_t)sqlite3_column_int64(st, 0),
						     "time", when,
						     "source", column_json_text(st, 2),
						     "level", column_json_text(st, 3),
						     "phase", column_json_text(st, 4),
						     "message", column_json_text(st, 5),
						     "bytes", column_json_int(st, 6),
						     "total", column_json_int(st, 7),
						     "actor", column_json_text(st, 8)));
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : err_set(-EIO, "database error");
}

static int image_from_row(sqlite3_stmt *st, struct image *im)
{
	memset(im, 0, sizeof(*im));
	im->name = column_strdup(st, 0);
	im->format = column_strdup(st, 1);
	im->sha256 = column_strdup(st, 2);
	im->size = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 3);
	im->file = column_strdup(st, 4);
	im->url = column_strdup(st, 5);
	im->created = sqlite3_column_int64(st, 6);
	im->recipe = column_strdup(st, 7);
	if (!im->name || !im->format || !im->sha256) {
		image_free(im);
		return err_set(-ENOMEM, "out of memory");
	}
	return 0;
}

int db_image_get(const char *name, struct image *out)
{
	sqlite3_stmt *st = stmt(S_IMAGE_GET);
	int rc;

	if (!st)
		return stmt_rc;
	bind_text(st, 1, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = image_from_row(st, out);
	else
		rc = rc == SQLITE_DONE ? err_set(-ENOENT, "no image '%s' (see GET /api/v1/images)", name)
				       : err_set(-EIO, "database error");
	sqlite3_reset(st);
	return rc;
}

int db_image_insert(const struct image *im)
{
	sqlite3_stmt *st = stmt(S_IMAGE_INSERT);
	int rc;

	if (!st)
		return stmt_rc;
	bind_text(st, 1, im->name);
	bind_text(st, 2, im->format);
	bind_text(st, 3, im->sha256);
	bind_opt_int(st, 4, im->size);
	bind_text(st, 5, im->file);
	bind_text(st, 6, im->url);
	sqlite3_bind_int64(st, 7, (int64_t)time(NULL));
	bind_text(st, 8, im->recipe);
	rc = step_done(st);
	if (rc == -EEXIST)
		return err_set(-EEXIST, "an image named '%s' exists already; delete it first", im->name);
	return rc;
}

int db_image_delete(const char *name)
{
	sqlite3_stmt *st = stmt(S_IMAGE_DELETE);
	int rc;

	if (!st)
		return stmt_rc;
	bind_text(st, 1, name);
	rc = step_done(st);
	if (rc == 0 && changes(st) == 0)
		return err_set(-ENOENT, "no image '%s'", name);
	return rc;
}

int db_image_in_use(const char *name, int64_t *host_id)
{
	sqlite3_stmt *st = stmt(S_IMAGE_IN_USE);

	if (!st)
		return stmt_rc;
	bind_text(st, 1, name);
	return step_id(st, host_id);
}

/* Every row of st made into an element of a malloc'd array of `size`-byte elements by
 * from_row (which fills one element or fails with -errno); on failure the elements made
 * are released with free_one and the array freed. 0 with *out and *n, or -errno. */
static int rows_collect(sqlite3_stmt *st, size_t size, int (*from_row)(sqlite3_stmt *st, void *elem),
			void (*free_one)(void *elem), void **out, size_t *n)
{
	char *list = NULL, *grown;
	size_t count = 0;
	int rc;

	if (!st)
		return stmt_rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!(grown = realloc(list, (count + 1) * size))) {
			rc = err_set(-ENOMEM, "out of memory");
			break;
		}
		list = grown;
		if ((rc = from_row(st, list + count * size)) < 0)
			break;
		count++;
	}
	if (rc != SQLITE_DONE) {
		rc = rc < 0 ? rc : step_failed(st, rc);
		sqlite3_reset(st);
		for (size_t i = 0; i < count; i++)
			free_one(list + i * size);
		free(list);
		return rc;
	}
	sqlite3_reset(st);
	*out = list;
	*n = count;
	return 0;
}

static int image_row(sqlite3_stmt *st, void *elem)
{
	return image_from_row(st, elem);
}

static void image_release(void *elem)
{
	image_free(elem);
}

int db_image_list(struct image **out, size_t *n)
{
	void *list;
	int rc = rows_collect(stmt(S_IMAGE_LIST), sizeof(struct image), image_row, image_release, &list, n);

	if (rc == 0)
		*out = list;
	return rc;
}

int db_agent_token_revoke(int64_t host_id, bool phone_home)
{
	sqlite3_stmt *st = stmt(S_AGENT_DELETE_HOST);

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, host_id);
	sqlite3_bind_int(st, 2, phone_home);
	return step_done(st);
}

int db_agent_token_insert(int64_t host_id, const char *hash, const char *mode, const char *address,
			  int64_t expires)
{
	sqlite3_stmt *st = stmt(S_AGENT_INSERT);

	if (!st)
		return stmt_rc;
	bind_text(st, 1, hash);
	sqlite3_bind_int64(st, 2, host_id);
	bind_text(st, 3, mode);
	sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
	sqlite3_bind_int64(st, 5, expires);
	bind_text(st, 6, address);
	return step_done(st);
}

/* One token row (host_id, hash, mode, address, served, expires) of st, or -ENOENT. */
static int agent_token_row(sqlite3_stmt *st, struct agent_token *out)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		const char *address = (const char *)sqlite3_column_text(st, 3);

		out->host_id = sqlite3_column_int64(st, 0);
		snprintf(out->hash, sizeof(out->hash), "%s", (const char *)sqlite3_column_text(st, 1));
		snprintf(out->mode, sizeof(out->mode), "%s", (const char *)sqlite3_column_text(st, 2));
		snprintf(out->address, sizeof(out->address), "%s", address ? address : "");
		out->served = sqlite3_column_int(st, 4);
		out->expires = sqlite3_column_int64(st, 5);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : step_failed(st, rc);
}

int db_agent_token_lookup(const char *hash, int64_t now, struct agent_token *out)
{
	sqlite3_stmt *st = stmt(S_AGENT_LOOKUP);

	if (!st)
		return stmt_rc;
	bind_text(st, 1, hash);
	sqlite3_bind_int64(st, 2, now);
	return agent_token_row(st, out);
}

int db_agent_token_live(int64_t host_id, int64_t now, struct agent_token *out)
{
	sqlite3_stmt *st = stmt(S_AGENT_LIVE);

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, host_id);
	sqlite3_bind_int64(st, 2, now);
	return agent_token_row(st, out);
}

int db_agent_token_bind(const char *hash, const char *address)
{
	sqlite3_stmt *st = stmt(S_AGENT_BIND);

	if (!st)
		return stmt_rc;
	bind_text(st, 1, hash);
	bind_text(st, 2, address);
	return step_done(st);
}

int db_agent_token_update(const char *hash, const char *mode, int served)
{
	sqlite3_stmt *st = stmt(S_AGENT_UPDATE);

	if (!st)
		return stmt_rc;
	bind_text(st, 1, hash);
	bind_text(st, 2, mode);
	sqlite3_bind_int(st, 3, served);
	return step_done(st);
}

int db_admin_token_insert(const char *hash, const char *name, int64_t expires, enum admin_role role)
{
	sqlite3_stmt *st = stmt(S_ADMIN_INSERT);

	if (!st)
		return stmt_rc;
	bind_text(st, 1, hash);
	bind_text(st, 2, name);
	sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
	bind_opt_int(st, 4, expires > 0 ? expires : -1);
	bind_text(st, 5, admin_role_name(role));
	return step_done(st);
}

int db_admin_token_lookup(const char *hash, int64_t now, struct admin_who *who)
{
	sqlite3_stmt *st = stmt(S_ADMIN_LOOKUP);
	int rc;

	if (!st)
		return stmt_rc;
	bind_text(st, 1, hash);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		who->id = sqlite3_column_int64(st, 0);
		/* a role this anemosd does not know (a newer one wrote it) can only view */
		if (admin_role_parse((const char *)sqlite3_column_text(st, 1), &who->role) < 0)
			who->role = ROLE_VIEWER;
		snprintf(who->name, sizeof(who->name), "%s",
			 sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2) : "");
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : step_failed(st, rc);
	}
	sqlite3_reset(st);
	return rc;
}

int db_admin_token_valid(int64_t id, int64_t now)
{
	sqlite3_stmt *st = stmt(S_ADMIN_VALID);
	int64_t same;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	return step_id(st, &same);
}

int db_admin_token_list(json_t *out)
{
	sqlite3_stmt *st = stmt(S_ADMIN_LIST);
	int rc;

	if (!st)
		return stmt_rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char created[32], expires[32];

		time_iso8601((time_t)sqlite3_column_int64(st, 2), created);
		if (sqlite3_column_type(st, 3) != SQLITE_NULL)
			time_iso8601((time_t)sqlite3_column_int64(st, 3), expires);
		json_array_append_new(out, json_pack("{s:I, s:s?, s:s, s:s?, s:s?}", "id", (json_int_t)sqlite3_column_int64(st, 0),
						     "name", (const char *)sqlite3_column_text(st, 1), "created", created,
						     "expires", sqlite3_column_type(st, 3) != SQLITE_NULL ? expires : NULL,
						     "role", (const char *)sqlite3_column_text(st, 4)));
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : step_failed(st, rc);
}

int db_admin_token_by_name(const char *name, int64_t *ids, size_t max, size_t *n)
{
	sqlite3_stmt *st = stmt(S_ADMIN_BY_NAME);
	int rc;

	if (!st)
		return stmt_rc;
	*n = 0;
	bind_text(st, 1, name);
	/* Every one counted, the first @max kept. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((*n)++ < max)
			ids[*n - 1] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : step_failed(st, rc);
}

int db_admin_token_revoke(int64_t id)
{
	sqlite3_stmt *st = stmt(S_ADMIN_REVOKE);
	int rc;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, id);
	rc = step_done(st);
	if (rc == 0 && changes(st) == 0)
		return err_set(-ENOENT, "no admin token %lld", (long long)id);
	return rc;
}

int db_admin_token_name(int64_t id, char *out, size_t outsz)
{
	sqlite3_stmt *st = stmt(S_ADMIN_NAME);
	int rc;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(out, outsz, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? err_set(-ENOENT, "no admin token %lld", (long long)id) : step_failed(st, rc);
}

int db_host_power_read(int64_t id, int64_t when)
{
	sqlite3_stmt *st = stmt(S_HOST_POWER_READ);

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, when);
	return step_done(st);
}

int db_host_with_bmc(int64_t **ids, size_t *n)
{
	sqlite3_stmt *st = stmt(S_HOST_WITH_BMC);
	int64_t *list = NULL, *grown;
	size_t count = 0;
	int rc;

	if (!st)
		return stmt_rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!(grown = realloc(list, (count + 1) * sizeof(*list)))) {
			rc = err_set(-ENOMEM, "out of memory");
			break;
		}
		list = grown;
		list[count++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(list);
		return rc < 0 ? rc : step_failed(st, rc);
	}
	*ids = list;
	*n = count;
	return 0;
}

int db_power_request_add(int64_t host_id, const char *action, const char *boot, const char *who, int64_t *id)
{
	sqlite3_stmt *st = stmt(S_POWER_REQ_ADD);
	int rc;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, host_id);
	bind_text(st, 2, action);
	bind_text(st, 3, boot);
	bind_text(st, 4, who);
	sqlite3_bind_int64(st, 5, (int64_t)time(NULL));
	if ((rc = step_done(st)) == 0)
		*id = sqlite3_last_insert_rowid(sqlite3_db_handle(st));
	return rc;
}

int db_power_request_done(int64_t id)
{
	sqlite3_stmt *st = stmt(S_POWER_REQ_DONE);

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, id);
	return step_done(st);
}

int db_power_request_list(json_t *out)
{
	sqlite3_stmt *st = stmt(S_POWER_REQ_LIST);
	int rc;

	if (!st)
		return stmt_rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(out, json_pack("{s:I, s:I, s:s, s:s?, s:s}", "id", (json_int_t)sqlite3_column_int64(st, 0),
						     "host_id", (json_int_t)sqlite3_column_int64(st, 1),
						     "action", (const char *)sqlite3_column_text(st, 2),
						     "boot", (const char *)sqlite3_column_text(st, 3),
						     "who", (const char *)sqlite3_column_text(st, 4)));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : step_failed(st, rc);
}

void rule_free(struct rule *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->query);
	free(r->actions);
	memset(r, 0, sizeof(*r));
}

static int rule_from_row(sqlite3_stmt *st, struct rule *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	r->name = column_strdup(st, 1);
	r->query = column_strdup(st, 2);
	r->priority = sqlite3_column_int64(st, 3);
	r->max_count = sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 4);
	r->actions = column_strdup(st, 5);
	r->enabled = sqlite3_column_int(st, 6) != 0;
	r->created = sqlite3_column_int64(st, 7);
	r->updated = sqlite3_column_int64(st, 8);
	r->claimed = sqlite3_column_int64(st, 9);
	if (!r->name || !r->query || !r->actions) {
		rule_free(r);
		return err_set(-ENOMEM, "out of memory");
	}
	return 0;
}

int db_rule_get(const char *name, struct rule *out)
{
	sqlite3_stmt *st = stmt(S_RULE_GET);
	int rc;

	if (!st)
		return stmt_rc;
	bind_text(st, 1, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = rule_from_row(st, out);
	else if (rc == SQLITE_DONE)
		rc = err_set(-ENOENT, "no rule '%s'", name);
	else
		rc = step_failed(st, rc);
	sqlite3_reset(st);
	return rc;
}

static int rule_row(sqlite3_stmt *st, void *elem)
{
	return rule_from_row(st, elem);
}

static void rule_release(void *elem)
{
	rule_free(elem);
}

int db_rule_list(struct rule **out, size_t *n)
{
	void *list;
	int rc = rows_collect(stmt(S_RULE_LIST), sizeof(struct rule), rule_row, rule_release, &list, n);

	if (rc == 0)
		*out = list;
	return rc;
}

/* Binds what S_RULE_INSERT and S_RULE_UPDATE share from ?2 on: query, priority,
 * max_count, actions, enabled, now. */
static void bind_rule(sqlite3_stmt *st, const struct rule *r)
{
	bind_text(st, 2, r->query);
	sqlite3_bind_int64(st, 3, r->priority);
	bind_opt_int(st, 4, r->max_count);
	bind_text(st, 5, r->actions);
	sqlite3_bind_int(st, 6, r->enabled);
	sqlite3_bind_int64(st, 7, (int64_t)time(NULL));
}

int db_rule_insert(const struct rule *r, int64_t *id)
{
	sqlite3_stmt *st = stmt(S_RULE_INSERT);
	int rc;

	if (!st)
		return stmt_rc;
	bind_rule(st, r);
	bind_text(st, 1, r->name); /* after bind_rule: ?1 is the name here */
	if ((rc = step_done(st)) == -EEXIST)
		return err_set(-EEXIST, "a rule named '%s' exists already", r->name);
	if (rc == 0)
		*id = sqlite3_last_insert_rowid(sqlite3_db_handle(st));
	return rc;
}

int db_rule_update(const struct rule *r)
{
	sqlite3_stmt *st = stmt(S_RULE_UPDATE);

	if (!st)
		return stmt_rc;
	bind_rule(st, r);
	sqlite3_bind_int64(st, 1, r->id);
	return step_done(st);
}

int db_rule_delete(int64_t id)
{
	sqlite3_stmt *st = stmt(S_RULE_DELETE);

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, id);
	return step_done(st);
}

int db_rule_claim(int64_t rule_id, int64_t host_id)
{
	sqlite3_stmt *st = stmt(S_RULE_CLAIM);

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, rule_id);
	sqlite3_bind_int64(st, 2, host_id);
	sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
	return step_done(st);
}

int db_rule_claim_count(int64_t rule_id, int64_t *count)
{
	sqlite3_stmt *st = stmt(S_RULE_CLAIM_COUNT);

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, rule_id);
	return step_id(st, count);
}

int db_rule_claim_list(int64_t rule_id, json_t *out)
{
	sqlite3_stmt *st = stmt(S_RULE_CLAIM_LIST);
	char when[32];
	int rc;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, rule_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		time_iso8601((time_t)sqlite3_column_int64(st, 2), when);
		json_array_append_new(out, json_pack("{s:I, s:o, s:s}", "host_id", (json_int_t)sqlite3_column_int64(st, 0),
						     "hostname", column_json_text(st, 1), "time", when));
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : step_failed(st, rc);
}

int db_rule_matches(const char *query, int64_t host_id, bool *match)
{
	struct conn *c = in_write ? writer : conn_get();
	struct query q;
	struct query_error qe;
	sqlite3_stmt *st = NULL;
	char *sql = NULL;
	int rc;

	if (!c)
		return stmt_rc;
	if ((rc = query_compile(query, 1, &q, &qe)) < 0)
		return rc == -EINVAL ? err_set(-EINVAL, "query: %s (at character %zu)", qe.msg, qe.pos + 1)
				     : err_set(rc, "out of memory");
	if (asprintf(&sql, "SELECT 1 FROM hosts h WHERE h.id = ?1 AND (%s)", q.where) < 0) {
		sql = NULL;
		rc = err_set(-ENOMEM, "out of memory");
	} else if ((rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL)) != SQLITE_OK) {
		rc = err_set(sqlite_errno(c->db, rc), "database error: %s", sqlite3_errmsg(c->db));
	}
	if (st) {
		bind_query(st, &q, 2);
		sqlite3_bind_int64(st, 1, host_id);
		rc = sqlite3_step(st);
		*match = rc == SQLITE_ROW;
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : step_failed(st, rc);
	}
	sqlite3_finalize(st);
	free(sql);
	query_free(&q);
	return rc;
}

int db_search_list(json_t *out)
{
	sqlite3_stmt *st = stmt(S_SEARCH_LIST);
	int rc;

	if (!st)
		return stmt_rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(out, json_pack("{s:s, s:s, s:s?, s:I}", "name", (const char *)sqlite3_column_text(st, 0),
						     "query", (const char *)sqlite3_column_text(st, 1),
						     "created_by", (const char *)sqlite3_column_text(st, 2),
						     "updated", (json_int_t)sqlite3_column_int64(st, 3)));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : step_failed(st, rc);
}

int db_search_get(const char *name, char **query)
{
	sqlite3_stmt *st = stmt(S_SEARCH_GET);
	int rc;

	*query = NULL;
	if (!st)
		return stmt_rc;
	bind_text(st, 1, name);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = (*query = strdup((const char *)sqlite3_column_text(st, 0))) ? 0 : err_set(-ENOMEM, "out of memory");
	} else {
		rc = rc == SQLITE_DONE ? err_set(-ENOENT, "no saved search '%s' (see GET /api/v1/searches)", name)
				       : step_failed(st, rc);
	}
	sqlite3_reset(st);
	return rc;
}

int db_search_put(const char *name, const char *query, const char *who, bool *created)
{
	char *old = NULL;
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_begin()) < 0)
		return rc;
	rc = db_search_get(name, &old);
	*created = rc == -ENOENT;
	free(old);
	if (rc == 0 || rc == -ENOENT) {
		if (!(st = stmt(S_SEARCH_PUT))) {
			rc = stmt_rc;
		} else {
			bind_text(st, 1, name);
			bind_text(st, 2, query);
			bind_text(st, 3, who && *who ? who : NULL);
			sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
			rc = step_done(st);
		}
	}
	return rc < 0 ? (db_rollback(), rc) : db_commit();
}

/* A write like any other: inside a transaction on the writer (group commit), not on this
 * thread's read connection. */
int db_search_delete(const char *name)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_begin()) < 0)
		return rc;
	if (!(st = stmt(S_SEARCH_DELETE))) {
		rc = stmt_rc;
	} else {
		bind_text(st, 1, name);
		rc = step_done(st);
		if (rc == 0 && changes(st) == 0)
			rc = err_set(-ENOENT, "no saved search '%s'", name);
	}
	return rc < 0 ? (db_rollback(), rc) : db_commit();
}

/* Webhooks (webhooks.c). */

void webhook_free(struct webhook *w)
{
	if (!w)
		return;
	free(w->url);
	free(w->events);
	free(w->secret_sealed);
	free(w->last_result);
	free(w->last_error);
	memset(w, 0, sizeof(*w));
}

void delivery_free(struct delivery *d)
{
	if (!d)
		return;
	free(d->kind);
	free(d->body);
	free(d->status);
	free(d->last_error);
	memset(d, 0, sizeof(*d));
}

static int64_t column_opt_int(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, i);
}

static int webhook_from_row(sqlite3_stmt *st, struct webhook *w)
{
	memset(w, 0, sizeof(*w));
	w->id = sqlite3_column_int64(st, 0);
	w->url = column_strdup(st, 1);
	w->events = column_strdup(st, 2);
	w->secret_sealed = column_strdup(st, 3);
	w->enabled = sqlite3_column_int(st, 4) != 0;
	w->created = sqlite3_column_int64(st, 5);
	w->updated = sqlite3_column_int64(st, 6);
	w->last_event_id = sqlite3_column_int64(st, 7);
	w->last_result = column_strdup(st, 8);
	w->last_delivery = column_opt_int(st, 9);
	w->failing_since = column_opt_int(st, 10);
	w->last_error = column_strdup(st, 11);
	if (!w->url || !w->events || !w->secret_sealed || (!w->last_result && sqlite3_column_type(st, 8) != SQLITE_NULL) ||
	    (!w->last_error && sqlite3_column_type(st, 11) != SQLITE_NULL)) {
		webhook_free(w);
		return err_set(-ENOMEM, "out of memory");
	}
	return 0;
}

static int delivery_from_row(sqlite3_stmt *st, struct delivery *d)
{
	memset(d, 0, sizeof(*d));
	d->id = sqlite3_column_int64(st, 0);
	d->webhook_id = sqlite3_column_int64(st, 1);
	d->event_id = column_opt_int(st, 2);
	d->kind = column_strdup(st, 3);
	d->body = column_strdup(st, 4);
	d->status = column_strdup(st, 5);
	d->attempts = sqlite3_column_int(st, 6);
	d->next_attempt = sqlite3_column_int64(st, 7);
	d->last_status = column_opt_int(st, 8);
	d->last_error = column_strdup(st, 9);
	d->created = sqlite3_column_int64(st, 10);
	d->updated = sqlite3_column_int64(st, 11);
	if (!d->kind || !d->body || !d->status || (!d->last_error && sqlite3_column_type(st, 9) != SQLITE_NULL)) {
		delivery_free(d);
		return err_set(-ENOMEM, "out of memory");
	}
	return 0;
}

int db_webhook_insert(const char *url, const char *events, bool enabled, int64_t *id)
{
	sqlite3_stmt *st = stmt(S_WEBHOOK_INSERT);
	int rc;

	if (!st)
		return stmt_rc;
	bind_text(st, 1, url);
	bind_text(st, 2, events);
	sqlite3_bind_int(st, 3, enabled);
	sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
	if ((rc = step_done(st)) == 0)
		*id = sqlite3_last_insert_rowid(sqlite3_db_handle(st));
	return rc;
}

int db_webhook_set_secret(int64_t id, const char *sealed)
{
	sqlite3_stmt *st = stmt(S_WEBHOOK_SECRET);

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, sealed);
	return step_done(st);
}

int db_webhook_count(int64_t *n)
{
	return step_id(stmt(S_WEBHOOK_COUNT), n);
}

int db_webhook_get(int64_t id, struct webhook *out)
{
	sqlite3_stmt *st = stmt(S_WEBHOOK_GET);
	int rc;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = webhook_from_row(st, out);
	else if (rc == SQLITE_DONE)
		rc = err_set(-ENOENT, "no webhook %lld (anemosctl webhook list shows them)", (long long)id);
	else
		rc = step_failed(st, rc);
	sqlite3_reset(st);
	return rc;
}

static int webhook_row(sqlite3_stmt *st, void *elem)
{
	return webhook_from_row(st, elem);
}

static void webhook_release(void *elem)
{
	webhook_free(elem);
}

int db_webhook_list(struct webhook **out, size_t *n)
{
	void *list;
	int rc = rows_collect(stmt(S_WEBHOOK_LIST), sizeof(struct webhook), webhook_row, webhook_release, &list, n);

	if (rc == 0)
		*out = list;
	return rc;
}

int db_webhook_update(const struct webhook *w)
{
	sqlite3_stmt *st = stmt(S_WEBHOOK_UPDATE);
	int rc;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, w->id);
	bind_text(st, 2, w->url);
	bind_text(st, 3, w->events);
	sqlite3_bind_int(st, 4, w->enabled);
	sqlite3_bind_int64(st, 5, (int64_t)time(NULL));
	if ((rc = step_done(st)) == 0 && !changes(st))
		rc = err_set(-ENOENT, "no webhook %lld", (long long)w->id);
	return rc;
}

int db_webhook_delete(int64_t id)
{
	sqlite3_stmt *st = stmt(S_WEBHOOK_DELETE);
	int rc;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = step_done(st)) == 0 && !changes(st))
		rc = err_set(-ENOENT, "no webhook %lld (anemosctl webhook list shows them)", (long long)id);
	return rc;
}

int db_webhook_cursor(int64_t id, int64_t event_id)
{
	sqlite3_stmt *st = stmt(S_WEBHOOK_CURSOR);

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, event_id);
	return step_done(st);
}

int db_webhook_result(int64_t id, const char *result, const char *error)
{
	sqlite3_stmt *st = stmt(S_WEBHOOK_RESULT);

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, result);
	sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
	bind_text(st, 4, error);
	return step_done(st);
}

int db_delivery_add(int64_t webhook_id, int64_t event_id, const char *kind, const char *body, const char *status,
		    int64_t *id)
{
	sqlite3_stmt *st = stmt(S_DELIVERY_ADD);
	int rc;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, webhook_id);
	if (event_id > 0)
		sqlite3_bind_int64(st, 2, event_id);
	bind_text(st, 3, kind);
	bind_text(st, 4, body);
	bind_text(st, 5, status);
	sqlite3_bind_int64(st, 6, (int64_t)time(NULL));
	if ((rc = step_done(st)) < 0)
		return rc;
	*id = sqlite3_last_insert_rowid(sqlite3_db_handle(st));
	if (!(st = stmt(S_DELIVERY_PRUNE)))
		return stmt_rc;
	sqlite3_bind_int64(st, 1, webhook_id);
	return step_done(st);
}

int db_delivery_pending(int64_t webhook_id, struct delivery *out)
{
	sqlite3_stmt *st = stmt(S_DELIVERY_PENDING);
	int rc;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, webhook_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = delivery_from_row(st, out);
	else
		rc = rc == SQLITE_DONE ? -ENOENT : step_failed(st, rc);
	sqlite3_reset(st);
	return rc;
}

int db_delivery_result(const struct delivery *d)
{
	sqlite3_stmt *st = stmt(S_DELIVERY_RESULT);

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, d->id);
	bind_text(st, 2, d->status);
	sqlite3_bind_int(st, 3, d->attempts);
	sqlite3_bind_int64(st, 4, d->next_attempt);
	bind_opt_int(st, 5, d->last_status > 0 ? d->last_status : -1);
	bind_text(st, 6, d->last_error);
	sqlite3_bind_int64(st, 7, (int64_t)time(NULL));
	return step_done(st);
}

int db_delivery_due_now(int64_t webhook_id)
{
	sqlite3_stmt *st = stmt(S_DELIVERY_DUE_NOW);

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, webhook_id);
	sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
	return step_done(st);
}

int db_delivery_abandoned(void)
{
	sqlite3_stmt *st = stmt(S_DELIVERY_ABANDONED);

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, (int64_t)time(NULL));
	return step_done(st);
}

int db_delivery_list(int64_t webhook_id, int limit, json_t *out)
{
	sqlite3_stmt *st = stmt(S_DELIVERY_LIST);
	struct delivery d;
	int rc;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, webhook_id);
	sqlite3_bind_int(st, 2, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = delivery_from_row(st, &d)) < 0)
			break;
		json_array_append_new(out, delivery_to_json(&d));
		delivery_free(&d);
	}
	sqlite3_reset(st);
	if (rc < 0)
		return rc;
	return rc == SQLITE_DONE ? 0 : step_failed(st, rc);
}

int db_events_after(int64_t after, int limit, json_t *out)
{
	sqlite3_stmt *st = stmt(S_EVENTS_AFTER);
	char when[32];
	int rc;

	if (!st)
		return stmt_rc;
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int(st, 2, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		time_iso8601((time_t)sqlite3_column_int64(st, 1), when);
		json_array_append_new(out, json_pack("{s:I, s:s, s:{s:I, s:o, s:o}, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
						     "id", (json_int_t)sqlite3_column_int64(st, 0), "time", when,
						     "host", "id", (json_int_t)sqlite3_column_int64(st, 2),
						     "hostname", column_json_text(st, 3), "status", column_json_text(st, 4),
						     "source", column_json_text(st, 5), "level", column_json_text(st, 6),
						     "phase", column_json_text(st, 7), "message", column_json_text(st, 8),
						     "bytes", column_json_int(st, 9), "total", column_json_int(st, 10),
						     "actor", column_json_text(st, 11)));
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : step_failed(st, rc);
}
