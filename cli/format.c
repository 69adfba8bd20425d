/* SPDX-License-Identifier: MIT */
/* batonctl: formatting and parsing helpers shared by the subcommands. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"

void baton_cli_format_utc(char *out, size_t n, uint64_t at_ms)
{
	time_t t = (time_t)(at_ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, n, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		snprintf(out, n, "@%" PRIu64 "ms", at_ms);
}

void baton_cli_format_duration(char *out, size_t n, uint64_t ms)
{
	uint64_t s = ms / 1000;

	if (ms < 1000)
		snprintf(out, n, "%" PRIu64 " ms", ms);
	else if (ms < 60 * 1000)
		snprintf(out, n, "%" PRIu64 ".%" PRIu64 " s", s, ms % 1000 / 100);
	else if (s < 3600)
		snprintf(out, n, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, n, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
	else
		snprintf(out, n, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
}

bool baton_cli_parse_u64(const char *s, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*ret = v;
	return true;
}

int baton_cli_print_json(json_t *j)
{
	if (json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 || fputc('\n', stdout) == EOF ||
	    fflush(stdout) != 0) {
		perror("batonctl: writing to stdout");
		return BATON_CLI_UNREACHABLE;
	}
	return BATON_CLI_OK;
}

const char *baton_cli_jstr(const json_t *obj, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? s : def;
}

long long baton_cli_jint(const json_t *obj, const char *key, long long def)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : def;
}
