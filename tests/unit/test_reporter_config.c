/* SPDX-License-Identifier: MIT */
/* reporter/config.c: baton-reporter's configuration schema.
 *
 * BASE is a valid file with one check of each type; the error cases replace
 * one piece of its text and expect exactly one message naming file, line and
 * key. BASE's line numbers are written next to it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reporter/config.h"

static const char BASE[] =
	"region: eu-west\n"                                        /*  1 */
	"name: app-eu-1\n"                                         /*  2 */
	"key_file: /etc/baton/region.key\n"                        /*  3 */
	"coordinators:\n"                                          /*  4 */
	"  - http://127.0.0.1:8001\n"                              /*  5 */
	"  - http://127.0.0.1:8002/\n"                             /*  6 */
	"interval_ms: 1000\n"                                      /*  7 */
	"timeout_ms: 800\n"                                        /*  8 */
	"checks:\n"                                                /*  9 */
	"  - {name: web, type: http, url: \"http://127.0.0.1:8080/healthz\", expect_status: 200, critical: true}\n" /* 10 */
	"  - {name: db-port, type: tcp, address: \"127.0.0.1:5432\"}\n" /* 11 */
	"  - {name: db, type: postgres, host: 127.0.0.1, port: 5432, user: postgres, dbname: postgres,\n" /* 12 */
	"     password_file: \"\", critical: true,\n"              /* 13 */
	"     primary: {host: 127.0.0.1, port: 5433, user: postgres, dbname: postgres}}\n" /* 14 */
	"  - {name: hook, type: exec, command: [\"/usr/local/bin/check\", \"--fast\"], critical: false}\n"; /* 15 */

static char *edit(const char *find, const char *repl)
{
	const char *at = strstr(BASE, find);
	size_t n = strlen(BASE) - strlen(find) + strlen(repl) + 1;
	char *out = malloc(n);

	assert_non_null(at);
	assert_null(strstr(at + 1, find)); /* unique */
	snprintf(out, n, "%.*s%s%s", (int)(at - BASE), BASE, repl, at + strlen(find));
	return out;
}

static int load(const char *text, struct baton_reporter_config *c, char *err, size_t errlen)
{
	return baton_reporter_config_load_string("r.yaml", text, strlen(text), c, err, errlen);
}

/* The example from the docs loads with every value where it belongs. */
static void the_example_config_loads(void **state)
{
	struct baton_reporter_config *c = calloc(1, sizeof *c);
	char err[512];

	(void)state;
	assert_int_equal(load(BASE, c, err, sizeof err), 0);
	assert_string_equal(c->region, "eu-west");
	assert_string_equal(c->name, "app-eu-1");
	assert_int_equal(c->n_coordinators, 2);
	assert_string_equal(c->coordinators[1], "http://127.0.0.1:8002"); /* trailing '/' dropped */
	assert_int_equal(c->interval_ms, 1000);
	assert_int_equal(c->timeout_ms, 800);
	assert_int_equal(c->log_level, BATON_LOG_INFO);
	assert_int_equal(c->n_checks, 4);
	assert_int_equal(c->checks[0].type, BATON_CHECK_HTTP);
	assert_int_equal(c->checks[0].expect_status, 200);
	assert_true(c->checks[0].critical);
	assert_int_equal(c->checks[1].type, BATON_CHECK_TCP);
	assert_string_equal(c->checks[1].address, "127.0.0.1:5432");
	assert_false(c->checks[1].critical);
	assert_int_equal(c->checks[2].type, BATON_CHECK_POSTGRES);
	assert_string_equal(c->checks[2].pg.host, "127.0.0.1");
	assert_true(c->checks[2].has_primary);
	assert_int_equal(c->checks[2].primary.port, 5433);
	assert_int_equal(c->checks[3].type, BATON_CHECK_EXEC);
	assert_int_equal(c->checks[3].argc, 2);
	assert_string_equal(baton_check_arg(&c->checks[3], 0), "/usr/local/bin/check");
	assert_string_equal(baton_check_arg(&c->checks[3], 1), "--fast");
	free(c);
}

/* Optional keys take their defaults: timeout 4/5 of the interval, any 2xx,
 * postgres on 5432 as postgres/postgres, no primary. */
static void optional_keys_take_their_defaults(void **state)
{
	static const char text[] = "region: r\nname: n\nkey_file: /k\n"
				   "coordinators: [http://127.0.0.1:1]\ninterval_ms: 2s\n"
				   "checks:\n  - {name: w, type: http, url: \"https://x/\"}\n"
				   "  - {name: p, type: postgres, host: 10.0.0.1}\n";
	struct baton_reporter_config *c = calloc(1, sizeof *c);
	char err[512];

	(void)state;
	assert_int_equal(load(text, c, err, sizeof err), 0);
	assert_int_equal(c->interval_ms, 2000);
	assert_int_equal(c->timeout_ms, 1600);
	assert_int_equal(c->checks[0].expect_status, 0);
	assert_int_equal(c->checks[1].pg.port, 5432);
	assert_string_equal(c->checks[1].pg.user, "postgres");
	assert_string_equal(c->checks[1].pg.dbname, "postgres");
	assert_string_equal(c->checks[1].pg.password_file, "");
	assert_false(c->checks[1].has_primary);
	free(c);
}

struct edit_case {
	const char *find, *repl, *want;
};

/* Each broken file is refused with one line naming file, line, key and problem. */
static void broken_files_are_refused_with_file_line_and_key(void **state)
{
	static const struct edit_case cases[] = {
		{ "region: eu-west\n", "", "r.yaml:1: region: is required" },
		{ "region: eu-west", "region: EU", "r.yaml:1: region: " },
		{ "key_file: /etc/baton/region.key", "key_file: region.key",
		  "r.yaml:3: key_file: must be an absolute path, got 'region.key'" },
		{ "  - http://127.0.0.1:8001\n", "  - ftp://127.0.0.1:8001\n",
		  "r.yaml:5: coordinators[0]: must start with http:// or https://" },
		{ "  - http://127.0.0.1:8001\n", "  - http://127.0.0.1:8001/v1\n",
		  "r.yaml:5: coordinators[0]: must be a base URL without path" },
		{ "  - http://127.0.0.1:8001\n", "  - http://127.0.0.1:0\n",
		  "r.yaml:5: coordinators[0]: has a port outside 1..65535" },
		{ "  - http://127.0.0.1:8002/\n", "  - http://127.0.0.1:8001/\n",
		  "r.yaml:4: coordinators[1]: duplicate coordinator http://127.0.0.1:8001" },
		{ "interval_ms: 1000", "interval_ms: 50", "r.yaml:7: interval_ms: must be at least 100" },
		{ "timeout_ms: 800", "timeout_ms: 1000",
		  "r.yaml:8: timeout_ms: must be below interval_ms (1000), got 1000" },
		{ "expect_status: 200", "expect_staus: 200",
		  "r.yaml:10: checks[0].expect_staus: unknown key (did you mean 'expect_status'?)" },
		{ "expect_status: 200", "expect_status: 42",
		  "r.yaml:10: checks[0].expect_status: must be 0 (any 2xx) or an HTTP status 100..599, got 42" },
		{ "type: tcp, address", "type: tcp, url: \"http://x\", address",
		  "r.yaml:11: checks[1].url: is a key of http checks; this check is type tcp" },
		{ "type: tcp, address", "type: tcp, host: 127.0.0.1, address",
		  "r.yaml:11: checks[1].host: is a key of postgres checks; this check is type tcp" },
		{ "type: tcp, address: \"127.0.0.1:5432\"", "type: tcp",
		  "r.yaml:11: checks[1].address: is required" },
		{ "name: db-port, type: tcp", "name: db-port, type: smtp",
		  "r.yaml:11: checks[1].type: " },
		{ "name: db-port, type: tcp,", "name: db-port,", "r.yaml:11: checks[1].type: is required" },
		{ "name: db-port", "name: web", "r.yaml:11: checks[1].name: duplicate check name 'web' (also checks[0], line 10)" },
		{ "host: 127.0.0.1, port: 5432", "host: db.local, port: 5432",
		  "r.yaml:12: checks[2].host: must be an IPv4 address (a.b.c.d), got 'db.local'" },
		{ "primary: {host: 127.0.0.1, port: 5433", "primary: {port: 5433",
		  "r.yaml:14: checks[2].primary.host: is required" },
		{ "password_file: \"\"", "password_file: pw",
		  "r.yaml:13: checks[2].password_file: must be an absolute path, got 'pw'" },
		{ "\"/usr/local/bin/check\"", "check",
		  "r.yaml:15: checks[3].command[0]: the program must be an absolute path (no shell, no PATH search), got 'check'" },
		{ "command: [\"/usr/local/bin/check\", \"--fast\"]", "command: []",
		  "r.yaml:15: checks[3].command: must have at least 1 entry, got 0" },
	};
	struct baton_reporter_config *c = calloc(1, sizeof *c);
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *text = edit(cases[i].find, cases[i].repl);
		int rv = load(text, c, err, sizeof err);

		if (rv == 0 || strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("case %zu: got rv %d, '%s'\nwant '%s'", i, rv, err, cases[i].want);
		assert_null(strchr(err, '\n'));
		free(text);
	}
	free(c);
}

/* Limits: 1..8 coordinators and 1..32 checks. */
static void lists_have_upper_bounds(void **state)
{
	struct baton_reporter_config *c = calloc(1, sizeof *c);
	char text[8192], err[512];
	size_t o;

	(void)state;
	o = (size_t)snprintf(text, sizeof text, "region: r\nname: n\nkey_file: /k\ncoordinators:\n");
	for (int i = 0; i < 9; i++)
		o += (size_t)snprintf(text + o, sizeof text - o, "  - http://127.0.0.1:%d\n", 1000 + i);
	o += (size_t)snprintf(text + o, sizeof text - o, "checks: [{name: a, type: tcp, address: 127.0.0.1:1}]\n");
	assert_int_not_equal(load(text, c, err, sizeof err), 0);
	assert_non_null(strstr(err, "coordinators: must have at most 8 entries, got 9"));

	o = (size_t)snprintf(text, sizeof text, "region: r\nname: n\nkey_file: /k\n"
						 "coordinators: [http://127.0.0.1:1]\nchecks:\n");
	for (int i = 0; i < 33; i++)
		o += (size_t)snprintf(text + o, sizeof text - o,
				      "  - {name: c%d, type: tcp, address: 127.0.0.1:1}\n", i);
	assert_int_not_equal(load(text, c, err, sizeof err), 0);
	assert_non_null(strstr(err, "checks: must have at most 32 entries, got 33"));

	snprintf(text, sizeof text, "region: r\nname: n\nkey_file: /k\ncoordinators: []\nchecks: []\n");
	assert_int_not_equal(load(text, c, err, sizeof err), 0);
	assert_string_equal(err, "r.yaml:4: coordinators: must have at least 1 entry, got 0");
	snprintf(text, sizeof text, "region: r\nname: n\nkey_file: /k\ncoordinators: [http://h]\nchecks: []\n");
	assert_int_not_equal(load(text, c, err, sizeof err), 0);
	assert_string_equal(err, "r.yaml:5: checks: must have at least 1 entry, got 0");
	free(c);
}

/* ${VAR} and ${VAR:-default} in values: the sidecars of a replicated workload
 * share one file and take their name from the pod. $${ is a literal ${. */
static const char ENV_TEXT[] =
	"region: ${BATON_TEST_REGION:-eu-west}\n"                                   /* 1 */
	"name: ${BATON_TEST_POD_NAME}\n"                                            /* 2 */
	"key_file: /etc/baton/region.key\n"                                         /* 3 */
	"coordinators: [\"http://${BATON_TEST_COORD}:8001\"]\n"                     /* 4 */
	"checks:\n"                                                                 /* 5 */
	"  - {name: hook, type: \"${BATON_TEST_TYPE:-exec}\",\n"                    /* 6 */
	"     command: [/bin/echo, \"$${HOME}\", \"${BATON_TEST_POD_NAME}\"]}\n";   /* 7 */

static void environment_variables_are_substituted(void **state)
{
	struct baton_reporter_config *c = calloc(1, sizeof *c);
	char err[512];

	(void)state;
	assert_int_equal(unsetenv("BATON_TEST_REGION"), 0);
	assert_int_equal(unsetenv("BATON_TEST_TYPE"), 0);
	assert_int_equal(setenv("BATON_TEST_POD_NAME", "shop-web-7f9c-x2", 1), 0);
	assert_int_equal(setenv("BATON_TEST_COORD", "10.0.0.5", 1), 0);
	if (load(ENV_TEXT, c, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_string_equal(c->region, "eu-west");
	assert_string_equal(c->name, "shop-web-7f9c-x2");
	assert_string_equal(c->coordinators[0], "http://10.0.0.5:8001");
	assert_int_equal(c->checks[0].type, BATON_CHECK_EXEC);
	assert_int_equal(c->checks[0].argc, 3);
	assert_string_equal(baton_check_arg(&c->checks[0], 1), "${HOME}");
	assert_string_equal(baton_check_arg(&c->checks[0], 2), "shop-web-7f9c-x2");

	/* Refused values say that they came from a substitution. */
	assert_int_equal(setenv("BATON_TEST_POD_NAME", "Web_1", 1), 0);
	assert_int_not_equal(load(ENV_TEXT, c, err, sizeof err), 0);
	assert_string_equal(err, "r.yaml:2: name: must contain only [a-z0-9-], got 'Web_1' "
				 "(after environment variable substitution)");
	assert_int_equal(setenv("BATON_TEST_POD_NAME", "web-1", 1), 0);
	assert_int_equal(setenv("BATON_TEST_TYPE", "smtp", 1), 0);
	assert_int_not_equal(load(ENV_TEXT, c, err, sizeof err), 0);
	assert_non_null(strstr(err, "r.yaml:6: checks[0].type: "));
	assert_non_null(strstr(err, "(after environment variable substitution)"));
	assert_int_equal(unsetenv("BATON_TEST_TYPE"), 0);

	/* Unset without a default. */
	assert_int_equal(unsetenv("BATON_TEST_COORD"), 0);
	assert_int_not_equal(load(ENV_TEXT, c, err, sizeof err), 0);
	assert_string_equal(err, "r.yaml:4: coordinators[0]: environment variable BATON_TEST_COORD "
				 "is not set (write ${BATON_TEST_COORD:-default} to give a default)");
	assert_int_equal(unsetenv("BATON_TEST_POD_NAME"), 0);
	assert_int_equal(setenv("BATON_TEST_COORD", "10.0.0.5", 1), 0);
	assert_int_not_equal(load(ENV_TEXT, c, err, sizeof err), 0);
	assert_string_equal(err, "r.yaml:2: name: environment variable BATON_TEST_POD_NAME "
				 "is not set (write ${BATON_TEST_POD_NAME:-default} to give a default)");
	assert_int_equal(unsetenv("BATON_TEST_COORD"), 0);
	free(c);
}

/* docs/reporter.md carries the key reference exactly as the table prints it. */
static void the_doc_has_the_current_key_reference(void **state)
{
	char *ref = NULL, *doc;
	size_t reflen = 0;
	FILE *f = open_memstream(&ref, &reflen);
	long n;

	(void)state;
	baton_reporter_config_write_reference(f);
	fclose(f);
	f = fopen(BATON_REPORTER_DOC, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	doc = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(doc, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	if (strstr(doc, ref) == NULL)
		fail_msg("%s does not contain the output of `baton-reporter --config-reference`:\n%s",
			 BATON_REPORTER_DOC, ref);
	free(doc);
	free(ref);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_example_config_loads),
		cmocka_unit_test(optional_keys_take_their_defaults),
		cmocka_unit_test(broken_files_are_refused_with_file_line_and_key),
		cmocka_unit_test(lists_have_upper_bounds),
		cmocka_unit_test(environment_variables_are_substituted),
		cmocka_unit_test(the_doc_has_the_current_key_reference),
	};
	return cmocka_run_group_tests_name("reporter_config", tests, NULL, NULL);
}
