/*
 * Unit tests of lib/errors.c, the one error convention's message: err_set returns its code
 * and replaces the message (also by a wrapped err_msg()), err_add puts a line after it (or
 * starts it), both cut at 2,047 bytes, and err_clear empties it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "errors.h"

static void test_set_and_wrap(void **state)
{
	(void)state;
	err_clear();
	assert_string_equal(err_msg(), "");
	assert_int_equal(err_set(-ENOENT, "disk %s: no such device", "sdz"), -ENOENT);
	assert_string_equal(err_msg(), "disk sdz: no such device");
	assert_int_equal(err_set(-EIO, "install: %s", err_msg()), -EIO);
	assert_string_equal(err_msg(), "install: disk sdz: no such device");
	err_clear();
	assert_string_equal(err_msg(), "");
}

static void test_add_lines(void **state)
{
	(void)state;
	err_clear();
	assert_int_equal(err_add(-EINVAL, "line %d: bad", 3), -EINVAL);
	assert_string_equal(err_msg(), "line 3: bad");	/* no empty first line */
	assert_int_equal(err_add(-EINVAL, "%s: nothing enrolled", "hosts.csv"), -EINVAL);
	assert_string_equal(err_msg(), "line 3: bad\nhosts.csv: nothing enrolled");
	err_clear();
}

static void test_cut(void **state)
{
	char big[4096];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	err_set(-E2BIG, "%s", big);
	assert_int_equal(strlen(err_msg()), 2047);
	err_add(-E2BIG, "more");	/* a full message stays as it is, ended */
	assert_int_equal(strlen(err_msg()), 2047);
	err_set(-E2BIG, "%.2040s", big);
	err_add(-E2BIG, "0123456789");
	assert_int_equal(strlen(err_msg()), 2047);
	assert_memory_equal(err_msg() + 2040, "\n012345", 7);
	err_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_and_wrap),
		cmocka_unit_test(test_add_lines),
		cmocka_unit_test(test_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
