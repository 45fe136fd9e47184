/*
 * Unit tests of server/template.c: rendering, the value filter that keeps a client's or an
 * operator's text from adding commands to an iPXE script, and the real ipxe-scripts/.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <unistd.h>

#include <cmocka.h>

#include "anemosd.h"
#include "support.h"

#define TOKEN "anemos_agent_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define MAC "52:54:00:12:34:56"

/* The variables boot.c passes to a host's script. */
static const struct tvar boot_vars[] = {
	{ "public_url", "http://192.0.2.1:8080" },
	{ "host_id", "42" },
	{ "mode", "install" },
	{ "token", TOKEN },
	{ "mac", MAC },
	{ "kernel_args", "console=tty0 console=ttyS0,115200n8" },
	{ "platform", "efi" },
};

static void test_render_text(void **state)
{
	static const struct tvar vars[] = {
		{ "a", "alpha" }, { "b", "beta" }, { "url", "http://192.0.2.1:8080" }, { "empty", "" },
	};
	static const struct {
		const char *tpl;
		const char *out; /* NULL: rendering fails */
		const char *why; /* what the error message must mention */
	} cases[] = {
		{ "no variables here\n", "no variables here\n", NULL },
		{ "", "", NULL },
		{ "{{a}}", "alpha", NULL },
		{ "x {{a}} y {{b}} z", "x alpha y beta z", NULL },
		{ "{{a}}{{a}}-{{a}}", "alphaalpha-alpha", NULL },
		{ "kernel {{url}}/boot/vmlinuz", "kernel http://192.0.2.1:8080/boot/vmlinuz", NULL },
		{ "[{{empty}}]", "[]", NULL },
		{ "${net0/mac} }} stays", "${net0/mac} }} stays", NULL },
		{ "{{nope}}", NULL, "'nope'" },
		{ "ok {{a}} then {{missing_var}}", NULL, "'missing_var'" },
		{ "{{ a }}", NULL, "' a '" },
		{ "{{A}}", NULL, "'A'" },
		{ "broken {{a", NULL, "unterminated" },
		{ "{{a}} {{", NULL, "unterminated" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *out;

		err_clear();
		out = template_render_text(cases[i].tpl, vars, ARRAY_SIZE(vars));
		if (!out != !cases[i].out)
			fail_msg("render(%s) = %s, want %s", shown(cases[i].tpl), out ? shown(out) : "NULL",
				 cases[i].out ? "a result" : "NULL");
		if (out && strcmp(out, cases[i].out) != 0)
			fail_msg("render(%s) = %s, want \"%s\"", shown(cases[i].tpl), shown(out),
				 cases[i].out);
		if (!out && !strstr(err_msg(), cases[i].why))
			fail_msg("render(%s) failed with \"%s\", which does not mention \"%s\"",
				 shown(cases[i].tpl), err_msg(), cases[i].why);
		free(out);
	}
}

/* Output far longer than the template makes the buffer grow several times. */
static void test_render_grows(void **state)
{
	char value[301], want[3100], *out;
	struct tvar vars[] = { { "v", value } };
	const char *tpl = "{{v}}\n{{v}}\n{{v}}\n{{v}}\n{{v}}\n{{v}}\n{{v}}\n{{v}}\n{{v}}\n{{v}}\n";

	(void)state;
	for (size_t i = 0; i < sizeof(value) - 1; i++)
		value[i] = (char)('a' + i % 26);
	value[sizeof(value) - 1] = '\0';
	want[0] = '\0';
	for (int i = 0; i < 10; i++) {
		strcat(want, value);
		strcat(want, "\n");
	}
	out = template_render_text(tpl, vars, 1);
	assert_non_null(out);
	assert_string_equal(out, want);
	free(out);
}

static void test_value_safe(void **state)
{
	static const struct {
		const char *value;
		bool safe;
	} cases[] = {
		{ "http://192.0.2.1:8080", true },
		{ "console=tty0 console=ttyS0,115200n8", true },
		{ "52:54:00:12:34:56", true },
		{ TOKEN, true },
		{ "", true },
		{ "a$b", false },
		{ "${net0/ip}", false },
		{ "a\nb", false },
		{ "a\rb", false },
		{ "a\tb", false },
		{ "a;b", false },
		{ "a|b", false },
		{ "a || shell", false },
		{ "a&b", false },
		{ "a\"b", false },
		{ "a'b", false },
		{ "a#b", false },
		{ "a{b", false },
		{ "a}b", false },
		{ "a`b", false },
		{ "a\\b", false },
		{ "a<b", false },
		{ "a>b", false },
		{ "a\x7f", false },
		{ "a\x80", false },
		{ "\xc3\xa9", false },
		{ "\xff", false },
		{ "a\x01", false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		if (template_value_safe(cases[i].value) != cases[i].safe)
			fail_msg("template_value_safe(%s) should be %s", shown(cases[i].value),
				 cases[i].safe ? "true" : "false");
}

/* A hostile value in any variable makes the whole render fail: a script is either exactly
 * what the template says or not served. */
static void test_render_refuses_unsafe_value(void **state)
{
	static const char *const hostile[] = {
		"x\nshell",
		"x || shell",
		"x && shell",
		"x ; shell",
		"${root-path}",
		"x #",
		"\"x\"",
		"x\x7f",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(hostile); i++) {
		struct tvar vars[] = { { "safe", "ok" }, { "args", hostile[i] } };
		char *out;

		err_clear();
		out = template_render_text("kernel {{safe}} {{args}}\nboot\n", vars, 2);
		if (out) {
			fail_msg("rendering the value %s gave %s instead of NULL", shown(hostile[i]),
				 shown(out));
		}
		if (!strstr(err_msg(), "args"))
			fail_msg("unsafe %s: message \"%s\" does not name the variable", shown(hostile[i]),
				 err_msg());
	}
}

/* Loads ipxe-scripts/ from the repository: from the working folder (tests run at the repo
 * root), else relative to this file, else from the path the Makefile compiles in. */
static int load_real_templates(void **state)
{
	char dir[4096];
	const char *file = __FILE__, *slash = strrchr(file, '/');
	struct stat st;

	(void)state;
	if (stat("ipxe-scripts/boot.ipxe", &st) == 0)
		return templates_load("ipxe-scripts");
	if (slash) {
		snprintf(dir, sizeof(dir), "%.*s/../../ipxe-scripts", (int)(slash - file), file);
		if (stat(dir, &st) == 0)
			return templates_load(dir);
	}
	return -1;
}

static int free_templates(void **state)
{
	(void)state;
	templates_free();
	return 0;
}

static void test_real_templates(void **state)
{
	static const struct {
		const char *name;
		size_t nvars; /* boot_vars[0..nvars): "boot" gets only public_url, as boot.c does */
		const char *must[5];
	} cases[] = {
		{ "boot", 1, { "chain", "${net${idx}/mac", "http://192.0.2.1:8080" } },
		{ "agent", ARRAY_SIZE(boot_vars),
		  { "initrd=initramfs.img", "initrd --name initramfs.img", "anemos.token=" TOKEN,
		    "anemos.mode=install", "anemos.mac=" MAC } },
		{ "local-pcbios", ARRAY_SIZE(boot_vars), { "sanboot", "host 42" } },
		{ "local-efi", ARRAY_SIZE(boot_vars), { "exit", "host 42" } },
		{ "none", ARRAY_SIZE(boot_vars), { "exit", "host 42" } },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *out;

		err_clear();
		out = template_render(cases[i].name, boot_vars, cases[i].nvars);
		if (!out)
			fail_msg("template '%s' did not render: %s", cases[i].name, err_msg());
		if (strncmp(out, "#!ipxe", 6) != 0)
			fail_msg("template '%s' does not start with #!ipxe", cases[i].name);
		if (strstr(out, "{{"))
			fail_msg("template '%s' kept a '{{' after rendering", cases[i].name);
		for (size_t j = 0; j < ARRAY_SIZE(cases[i].must) && cases[i].must[j]; j++)
			if (!strstr(out, cases[i].must[j]))
				fail_msg("template '%s' lacks \"%s\":\n%s", cases[i].name, cases[i].must[j], out);
		free(out);
	}
}

/* The agent script carries the kernel arguments; an operator's hostile value stops it. */
static void test_real_agent_refuses_hostile_args(void **state)
{
	struct tvar vars[ARRAY_SIZE(boot_vars)];
	char *out;

	(void)state;
	memcpy(vars, boot_vars, sizeof(vars));
	vars[5].value = "quiet\nshell";
	assert_string_equal(vars[5].name, "kernel_args");
	out = template_render("agent", vars, ARRAY_SIZE(vars));
	assert_null(out);
	free(out);
}

static void test_missing_template(void **state)
{
	char *out;

	(void)state;
	err_clear();
	out = template_render("no-such-template", boot_vars, ARRAY_SIZE(boot_vars));
	assert_null(out);
	free(out);
	assert_non_null(strstr(err_msg(), "no-such-template"));
	assert_non_null(strstr(err_msg(), "no iPXE template"));
}

static void test_load_missing_folder(void **state)
{
	(void)state;
	assert_int_equal(templates_load("/nonexistent/anemos-ipxe-scripts"), -ENOENT);
	assert_non_null(strstr(err_msg(), "/nonexistent/anemos-ipxe-scripts"));
}

/* A second load replaces the first (last of the tests: it leaves only its own template). */
static void test_reload_replaces(void **state)
{
	char dir[] = "/tmp/anemos-templates-XXXXXX", path[64];
	char *out;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/one.ipxe", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("#!ipxe\necho one\n", f);
	fclose(f);
	/* the repository's boot.ipxe, loaded by the group's setup, is gone after the reload */
	assert_int_equal(templates_load(dir), 0);
	err_clear();
	assert_null(template_render("boot", NULL, 0));
	assert_non_null(strstr(err_msg(), "no iPXE template"));
	assert_non_null(out = template_render("one", NULL, 0));
	assert_string_equal(out, "#!ipxe\necho one\n");
	free(out);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_text),
		cmocka_unit_test(test_render_grows),
		cmocka_unit_test(test_value_safe),
		cmocka_unit_test(test_render_refuses_unsafe_value),
		cmocka_unit_test(test_real_templates),
		cmocka_unit_test(test_real_agent_refuses_hostile_args),
		cmocka_unit_test(test_missing_template),
		cmocka_unit_test(test_load_missing_folder),
		cmocka_unit_test(test_reload_replaces),
	};

	return cmocka_run_group_tests(tests, load_real_templates, free_templates);
}
