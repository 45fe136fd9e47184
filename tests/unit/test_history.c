/*
 * Unit tests of server/history.c: an operator's change in words, old → new, with the secret
 * install settings named and never shown.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "anemosd.h"
#include "support.h"

/* What host_changes_describe says between two hosts given as field texts. */
static char *describe(const struct host *a, const struct host *b)
{
	json_t *x = host_fields_json(a), *y = host_fields_json(b);
	char *text;

	assert_non_null(x);
	assert_non_null(y);
	text = host_changes_describe(x, y);
	json_decref(x);
	json_decref(y);
	assert_non_null(text);
	return text;
}

static void test_changes(void **state)
{
	static const struct {
		struct host before, after;
		const char *says;
	} cases[] = {
		{ { .hostname = "web7" }, { .hostname = "web7" }, "nothing (every value as it was)" },
		{ { .hostname = "web7" }, { .hostname = "web8" }, "hostname web7 → web8" },
		{ { .hostname = NULL }, { .hostname = "web8" }, "hostname none → web8" },
		{ { .next_boot = BOOT_DISCOVER }, { .next_boot = BOOT_INSTALL, .image = "tiny", .once = true },
		  "next_boot discover → install; image none → tiny; once false → true" },
		{ { .status = HOST_READY }, { .status = HOST_MAINTENANCE }, "status ready → maintenance" },
		{ { .ssh_keys = "[]" }, { .ssh_keys = "[\"ssh-ed25519 A\",\"ssh-ed25519 B\"]" }, "ssh_keys 0 → 2" },
		{ { .tags = "[\"db\",\"old\"]" }, { .tags = "[\"db\",\"new\"]" }, "tags +new -old" },
		{ { .attributes = "{\"gone\":\"x\",\"rack\":\"r12\"}" }, { .attributes = "{\"owner\":\"me\",\"rack\":\"r14\"}" },
		  "attributes.owner none → me; attributes.rack r12 → r14; attributes.gone x → none" },
		{ { .install = "{\"after\":\"reboot\"}" }, { .install = "{\"after\":\"poweroff\",\"disk\":{\"name\":\"sda\"}}" },
		  "install.after reboot → poweroff; install.disk none → {\"name\":\"sda\"}" },
		{ { .install = "{}" }, { .install = "{\"cloud_init_user_data\":\"pw: 1\",\"root_password_hash\":\"$6$salt$HASH\"}" },
		  "install.cloud_init_user_data set; install.root_password_hash set" },
		{ { .install = "{\"root_password_hash\":\"$6$a$OLD\"}" }, { .install = "{\"root_password_hash\":\"$6$b$NEW\"}" },
		  "install.root_password_hash changed" },
		{ { .install = "{\"root_password_hash\":\"$6$a$OLD\"}" }, { .install = "{}" }, "install.root_password_hash removed" },
		{ { .bmc = NULL },
		  { .bmc = "{\"address\":\"192.0.2.9\",\"password_sealed\":\"v1:HASH\",\"username\":\"admin\"}" },
		  "bmc.address none → 192.0.2.9; bmc.username none → admin; bmc.password set" },
		{ { .bmc = "{\"address\":\"192.0.2.9\",\"password_sealed\":\"v1:OLD\"}" },
		  { .bmc = "{\"address\":\"192.0.2.9\",\"password_sealed\":\"v1:HASH\"}" }, "bmc.password changed" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = describe(&cases[i].before, &cases[i].after);

		if (strcmp(text, cases[i].says))
			fail_msg("case %zu: said '%s', expected '%s'", i, text, cases[i].says);
		assert_null(strstr(text, "HASH"));
		assert_null(strstr(text, "OLD"));
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_changes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
