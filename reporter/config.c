/* SPDX-License-Identifier: MIT */
/* baton-reporter's configuration schema: one table of keys for the engine in
 * lib/conftab.c, the value types only this file has (URLs, the coordinator
 * list, an exec check's argv), and the checks that span keys.
 *
 * Load = lib/conftab.c walks the table (parse, unknown keys, defaults, types
 * and bounds, ${VAR} substitution; a check entry's `type` is read first,
 * since it decides which other keys the entry may have) -> cross-key checks
 * -> copy to the caller. The first problem ends the load with a message
 * naming file, line and key. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lib/conftab.h"
#include "lib/util.h"

/* The engine's types, and three of this file's own. */
enum rcfg_type {
	RCFG_SECTION = BATON_CONF_SECTION,
	RCFG_LIST = BATON_CONF_LIST,
	RCFG_U64 = BATON_CONF_U64,
	RCFG_DURATION = BATON_CONF_DURATION,
	RCFG_BOOL = BATON_CONF_BOOL,
	RCFG_NAME = BATON_CONF_NAME,
	RCFG_TEXT = BATON_CONF_TEXT,
	RCFG_PATH = BATON_CONF_PATH,   /* absolute path, up to max chars; min 0 allows "" */
	RCFG_ADDR = BATON_CONF_ADDR,
	RCFG_IPV4 = BATON_CONF_IPV4,
	RCFG_CHOICE = BATON_CONF_CHOICE,
	RCFG_URL = BATON_CONF_CUSTOM,  /* http:// or https:// URL */
	RCFG_URLLIST,  /* a list of coordinator base URLs; min..max entries */
	RCFG_ARGV,     /* a list of min..max strings, stored NUL-separated */
	RCFG_TYPE_NR
};

#define REQUIRED true
#define OPTIONAL false
#define T_HTTP (1u << BATON_CHECK_HTTP)
#define T_TCP (1u << BATON_CHECK_TCP)
#define T_PG (1u << BATON_CHECK_POSTGRES)
#define T_EXEC (1u << BATON_CHECK_EXEC)
#define T_ALL (T_HTTP | T_TCP | T_PG | T_EXEC)

#define FIELD(st, f) .off = offsetof(struct st, f), .size = sizeof(((struct st *)0)->f)
#define TOP(p, t, f, dflt, lo, hi, req, d)                                                      \
	{ .path = (p), .type = RCFG_##t, .def = (dflt), .min = (lo), .max = (hi),               \
	  .required = (req), .doc = (d), FIELD(baton_reporter_config, f) }
#define CHK(p, t, tm, f, dflt, lo, hi, req, d)                                                  \
	{ .path = (p), .type = RCFG_##t, .def = (dflt), .min = (lo), .max = (hi),               \
	  .required = (req), .variants = (tm), .doc = (d), FIELD(baton_check_config, f) }
#define LISTOF(p, t, arr, cnt, lo, hi, req, d)                                                  \
	{ .path = (p), .type = RCFG_##t, .min = (lo), .max = (hi), .required = (req),           \
	  .doc = (d), FIELD(baton_reporter_config, arr),                                         \
	  .count_off = offsetof(struct baton_reporter_config, cnt),                              \
	  .entry_size = sizeof(((struct baton_reporter_config *)0)->arr[0]) }

#define NAME_MAX_LEN (BATON_RCFG_NAME_LEN - 1)
#define CHECK_TYPES "http|tcp|postgres|exec"

/* The postgres target keys, once for the checked server and once for `primary`. */
#define PG_KEYS(pre, fld, req_host, what)                                                         \
	CHK("checks[]." pre "host", IPV4, T_PG, fld.host, NULL, 7, 15, req_host,                   \
	    "IPv4 address of the " what " (no host names: the connection never blocks on DNS)."), \
	CHK("checks[]." pre "port", U64, T_PG, fld.port, "5432", 1, 65535, OPTIONAL,              \
	    "TCP port of the " what "."),                                                         \
	CHK("checks[]." pre "user", TEXT, T_PG, fld.user, "postgres", 1, BATON_RCFG_TEXT_LEN - 1, \
	    OPTIONAL, "User to log in as on the " what "; needs no privileges beyond connecting."), \
	CHK("checks[]." pre "dbname", TEXT, T_PG, fld.dbname, "postgres", 1,                      \
	    BATON_RCFG_TEXT_LEN - 1, OPTIONAL, "Database to connect to on the " what "."),        \
	CHK("checks[]." pre "password_file", PATH, T_PG, fld.password_file, "", 0,                \
	    BATON_RCFG_PATH_LEN - 1, OPTIONAL,                                                    \
	    "File holding the password for the " what " (read at start-up); empty = none.")

/* Parents come before their children; this is also the order of the reference. */
static const struct baton_conftab_key rcfg_keys[] = {
	TOP("region", NAME, region, NULL, 1, NAME_MAX_LEN, REQUIRED,
	    "The region this reporter runs in; the coordinators refuse reports for another region."),
	TOP("name", NAME, name, NULL, 1, NAME_MAX_LEN, REQUIRED,
	    "This reporter's id, unique within the region (coordinators track seq per name)."),
	TOP("key_file", PATH, key_file, NULL, 1, BATON_RCFG_PATH_LEN - 1, REQUIRED,
	    "The region key: 64 hex characters, mode 0600 or 0400 (create one with `baton-reporter keygen PATH`)."),
	LISTOF("coordinators", URLLIST, coordinators, n_coordinators, 1, BATON_RCFG_MAX_COORDINATORS,
	       REQUIRED,
	       "Base URLs of this region's coordinators (`http://10.0.0.5:8001`), tried in order each round until one accepts."),
	TOP("interval_ms", DURATION, interval_ms, "1000", 100, 60000, OPTIONAL,
	    "Time between rounds (checks + report)."),
	TOP("timeout_ms", DURATION, timeout_ms, NULL, 10, 59999, OPTIONAL,
	    "Deadline of each check and of each POST; below interval_ms. Default: 4/5 of interval_ms."),
	{ .path = "log_level", .type = RCFG_CHOICE, .def = "info",
	  .choices = "debug|info|notice|warn|error", .doc = "Lowest level written to the log.",
	  FIELD(baton_reporter_config, log_level) },
	LISTOF("checks", LIST, checks, n_checks, 1, BATON_RCFG_MAX_CHECKS, REQUIRED,
	       "What to probe every round; all checks of a round run at the same time."),
	CHK("checks[].name", NAME, T_ALL, name, NULL, 1, NAME_MAX_LEN, REQUIRED,
	    "Unique name of the check (in reports, logs and metrics)."),
	{ .path = "checks[].type", .type = RCFG_CHOICE, .required = REQUIRED, .variants = T_ALL,
	  .flags = BATON_CONF_SELECTOR,
	  .choices = CHECK_TYPES, .doc = "What kind of probe this is; decides the other keys.",
	  FIELD(baton_check_config, type) },
	CHK("checks[].critical", BOOL, T_ALL, critical, "false", 0, 0, OPTIONAL,
	    "A failure of this check marks the whole report critical (grounds for failover)."),
	CHK("checks[].url", URL, T_HTTP, url, NULL, 8, BATON_RCFG_URL_LEN - 1, REQUIRED,
	    "http:// or https:// URL to GET (redirects are not followed)."),
	CHK("checks[].expect_status", U64, T_HTTP, expect_status, "0", 0, 599, OPTIONAL,
	    "HTTP status that counts as healthy; 0 = any 2xx."),
	CHK("checks[].address", ADDR, T_TCP, address, NULL, 9, BATON_RCFG_ADDR_LEN - 1, REQUIRED,
	    "IPv4 address and port to open a TCP connection to."),
	PG_KEYS("", pg, REQUIRED, "server checked"),
	{ .path = "checks[].primary", .type = RCFG_SECTION, .variants = T_PG, .flags = BATON_CONF_WHOLE,
	  .doc = "Optional: the primary to measure replication lag against (same keys as the server checked).",
	  FIELD(baton_check_config, has_primary) },
	PG_KEYS("primary.", primary, REQUIRED, "primary"),
	CHK("checks[].command", ARGV, T_EXEC, command, NULL, 1, BATON_RCFG_MAX_ARGS, REQUIRED,
	    "Program and arguments, run without a shell; the program is an absolute path. Exit 0 = ok."),
};

#define RCFG_NKEYS BATON_ARRAY_SIZE(rcfg_keys)
#define RCFG_LIST_MAX 32
#define RCFG_PATH_LEN 160

_Static_assert(BATON_RCFG_MAX_CHECKS <= RCFG_LIST_MAX && BATON_RCFG_MAX_COORDINATORS <= RCFG_LIST_MAX,
	       "the engine keeps lines for RCFG_LIST_MAX entries per key");
_Static_assert(BATON_LOG_DEBUG == 0 && BATON_LOG_INFO == 1 && BATON_LOG_NOTICE == 2 &&
		       BATON_LOG_WARN == 3 && BATON_LOG_ERROR == 4,
	       "log_level choices follow enum baton_log_level");
_Static_assert(sizeof(enum baton_log_level) == sizeof(unsigned) &&
		       sizeof(enum baton_check_type) == sizeof(unsigned),
	       "choices are stored as unsigned");

static int rcfg_set_custom(struct baton_conf *x, const struct baton_conftab_key *k,
			   const struct baton_yaml_node *n, const char *path, char *base);
static int rcfg_check_cross(struct baton_conf *x, void *cfg);

static const struct baton_conftab rcfg_tab = {
	.keys = rcfg_keys,
	.n_keys = RCFG_NKEYS,
	.list_max = RCFG_LIST_MAX,
	.struct_size = sizeof(struct baton_reporter_config),
	.empty = "expected region, name, key_file, coordinators and checks",
	.top = "(region, name, key_file, coordinators, checks)",
	.variant_noun = "check",
	.set_custom = rcfg_set_custom,
	.check = rcfg_check_cross,
};

const char *baton_check_type_name(enum baton_check_type t)
{
	static const char *const names[BATON_CHECK_TYPE_NR] = {
		[BATON_CHECK_HTTP] = "http",
		[BATON_CHECK_TCP] = "tcp",
		[BATON_CHECK_POSTGRES] = "postgres",
		[BATON_CHECK_EXEC] = "exec",
	};
	return (unsigned)t < BATON_CHECK_TYPE_NR ? names[t] : "?";
}

const char *baton_check_arg(const struct baton_check_config *c, unsigned i)
{
	const char *s = c->command;

	while (i-- > 0)
		s += strlen(s) + 1;
	return s;
}

/* ------------------------------------------------------------------------ */
/* Table helpers */

static void rcfg_types_text(unsigned types, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (int t = 0; t < BATON_CHECK_TYPE_NR && o < outlen; t++)
		if (types & (1u << t))
			o += (size_t)snprintf(out + o, outlen - o, "%s%s", o > 0 ? ", " : "",
					      baton_check_type_name((enum baton_check_type)t));
}

/* ------------------------------------------------------------------------ */
/* Values: URLs, the coordinator list, argv */


/* Why @s is not an acceptable URL, or NULL. @base: a coordinator base URL
 * (scheme, host, optional port, nothing after but an optional '/'). */
static const char *rcfg_url_problem(const char *s, bool base)
{
	const char *auth, *end, *colon;

	if (strncmp(s, "http://", 7) == 0)
		auth = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		auth = s + 8;
	else
		return "must start with http:// or https://";
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return "must not contain spaces or non-ASCII characters (percent-encode them)";
	end = auth + strcspn(auth, "/?#");
	if (end == auth)
		return "has no host";
	if (memchr(auth, '@', (size_t)(end - auth)) != NULL)
		return "must not contain credentials (user@host)";
	colon = NULL;
	if (auth[0] == '[') {
		const char *rb = memchr(auth, ']', (size_t)(end - auth));
		if (rb == NULL)
			return "has an unterminated [IPv6] host";
		if (rb + 1 < end && rb[1] != ':')
			return "has junk after the [IPv6] host";
		if (rb + 1 < end)
			colon = rb + 1;
	} else {
		colon = memchr(auth, ':', (size_t)(end - auth));
		if (colon == auth)
			return "has no host";
	}
	if (colon != NULL) {
		unsigned long port = 0;
		const char *p = colon + 1;

		if (p == end)
			return "has an empty port";
		for (; p < end; p++) {
			if (*p < '0' || *p > '9')
				return "has a port that is not a number";
			port = port * 10 + (unsigned long)(*p - '0');
			if (port > 65535)
				break;
		}
		if (port < 1 || port > 65535)
			return "has a port outside 1..65535";
	}
	if (base && !(end[0] == '\0' || (end[0] == '/' && end[1] == '\0')))
		return "must be a base URL without path, query or fragment (the reporter adds /v1/health)";
	return NULL;
}

/* @n is a scalar after substitution, hence "raw" below. */
static int rcfg_get_url(struct baton_conf *x, const struct baton_yaml_node *n, const char *path,
			bool base, size_t min, size_t max, char *dst, size_t dstlen)
{
	const char *why;
	char got[128];
	int rv;

	rv = baton_conf_get_str(x, n, path, min, max, NULL, true, dst, dstlen);
	if (rv != 0)
		return rv;
	why = rcfg_url_problem(dst, base);
	if (why != NULL)
		return baton_conf_fail(x, n->line, path, "%s, got %s", why, baton_conf_got(got, sizeof got, n));
	if (base) {
		size_t len = strlen(dst);
		if (dst[len - 1] == '/')
			dst[len - 1] = '\0';
	}
	return 0;
}

/* One item of a list of scalars (@n, after substitution): a coordinator
 * URL, or the next argument of exec's argv at @used bytes into the buffer. */
static int rcfg_set_item(struct baton_conf *x, const struct baton_conftab_key *k,
			 const struct baton_yaml_node *n, const char *path, const char *ipath,
			 size_t j, size_t *used, char *base)
{
	char got[128];
	int rv;

	if (k->type == RCFG_URLLIST)
		return rcfg_get_url(x, n, ipath, true, 8, BATON_RCFG_URL_LEN - 1,
				    base + k->off + j * k->entry_size, k->entry_size);
	/* RCFG_ARGV: back to back in one buffer */
	if (*used + 1 >= k->size)
		return baton_conf_fail(x, n->line, path,
				       "the command and its arguments must fit in %zu bytes",
				       k->size - 1);
	rv = baton_conf_get_str(x, n, ipath, 0, k->size - *used - 1, NULL, true,
				base + k->off + *used, k->size - *used);
	if (rv == -EINVAL && n->kind == BATON_YAML_SCALAR && n->len >= k->size - *used)
		return baton_conf_fail(x, n->line, path,
				       "the command and its arguments must fit in %zu bytes",
				       k->size - 1);
	if (rv != 0)
		return rv;
	if (j == 0 && base[k->off] != '/')
		return baton_conf_fail(x, n->line, ipath,
				       "the program must be an absolute path (no shell, no PATH search), got %s",
				       baton_conf_got(got, sizeof got, n));
	*used += strlen(base + k->off + *used) + 1;
	return 0;
}

static int rcfg_set_custom(struct baton_conf *x, const struct baton_conftab_key *k,
			   const struct baton_yaml_node *n, const char *path, char *base)
{
	char ipath[RCFG_PATH_LEN], got[128];
	unsigned count;
	size_t used = 0;
	int rv;

	if (k->type == RCFG_URL)
		return rcfg_get_url(x, n, path, false, k->min, k->max, base + k->off, k->size);
	/* A list of scalars: coordinator URLs, or exec's argv. */
	if (n->kind != BATON_YAML_LIST)
		return baton_conf_fail(x, n->line, path, "must be a list, got %s",
				       baton_conf_got(got, sizeof got, n));
	if (n->n < k->min || n->n > k->max) {
		bool low = n->n < k->min;
		uint64_t b = low ? k->min : k->max;
		return baton_conf_fail(x, n->line, path, "must have at %s %" PRIu64 " %s, got %zu",
				       low ? "least" : "most", b, b == 1 ? "entry" : "entries", n->n);
	}
	for (size_t j = 0; j < n->n; j++) {
		struct baton_conf_expanded e;

		snprintf(ipath, sizeof ipath, "%s[%zu]", path, j);
		rv = baton_conf_expand(x, n->items[j], ipath, false, &e);
		if (rv != 0)
			return rv;
		rv = rcfg_set_item(x, k, e.node, path, ipath, j, &used, base);
		baton_conf_expanded_free(&e);
		if (rv != 0)
			return rv;
	}
	count = (unsigned)n->n;
	if (k->type == RCFG_URLLIST)
		memcpy(base + k->count_off, &count, sizeof count);
	else
		((struct baton_check_config *)base)->argc = count;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Rules across keys */

static int rcfg_check_cross(struct baton_conf *x, void *cfg)
{
	struct baton_reporter_config *c = cfg;
	char path[RCFG_PATH_LEN];

	if (c->timeout_ms == 0) {
		c->timeout_ms = c->interval_ms * 4 / 5;
	} else if (c->timeout_ms >= c->interval_ms) {
		return baton_conf_fail(x, baton_conf_line(x, "timeout_ms", 0), "timeout_ms",
				 "must be below interval_ms (%" PRIu64 "), got %" PRIu64,
				 c->interval_ms, c->timeout_ms);
	}
	for (unsigned j = 0; j < c->n_coordinators; j++)
		for (unsigned i = 0; i < j; i++)
			if (strcmp(c->coordinators[i], c->coordinators[j]) == 0) {
				snprintf(path, sizeof path, "coordinators[%u]", j);
				return baton_conf_fail(x, baton_conf_line(x, "coordinators", 0), path,
						 "duplicate coordinator %s (also coordinators[%u])",
						 c->coordinators[j], i);
			}
	for (unsigned j = 0; j < c->n_checks; j++) {
		const struct baton_check_config *k = &c->checks[j];

		for (unsigned i = 0; i < j; i++) {
			if (strcmp(c->checks[i].name, k->name) != 0)
				continue;
			snprintf(path, sizeof path, "checks[%u].name", j);
			return baton_conf_fail(x, baton_conf_line(x, "checks[].name", j), path,
					 "duplicate check name '%s' (also checks[%u], line %u)",
					 k->name, i, baton_conf_line(x, "checks[].name", i));
		}
		if (k->type == BATON_CHECK_HTTP && k->expect_status != 0 &&
		    k->expect_status < 100) {
			snprintf(path, sizeof path, "checks[%u].expect_status", j);
			return baton_conf_fail(x, baton_conf_line(x, "checks[].expect_status", j), path,
					 "must be 0 (any 2xx) or an HTTP status 100..599, got %u",
					 k->expect_status);
		}
	}
	return 0;
}

int baton_reporter_config_load_string(const char *name, const char *yaml, size_t len,
				      struct baton_reporter_config *ret, char *errbuf,
				      size_t errlen)
{
	return baton_conf_load_string(&rcfg_tab, name, yaml, len, ret, errbuf, errlen);
}

int baton_reporter_config_load(const char *path, struct baton_reporter_config *ret, char *errbuf,
			       size_t errlen)
{
	return baton_conf_load_file(&rcfg_tab, path, ret, errbuf, errlen);
}


/* ------------------------------------------------------------------------ */
/* Reference for docs/reporter.md */

static void rcfg_write_default(FILE *f, const struct baton_conftab_key *k)
{
	if (k->required && strncmp(k->path, "checks[].primary.", 17) == 0)
		fputs("**required** (in `primary`)", f);
	else if (!baton_conf_write_default(f, k))
		fputs(strcmp(k->path, "timeout_ms") == 0 ? "4/5 of `interval_ms`" : "—", f);
}

/* The allowed-values cell: the engine's text, or this file's for its types. */
static void rcfg_write_allowed(FILE *f, const struct baton_conftab_key *k)
{
	if (baton_conf_write_allowed(f, k))
		return;
	switch (k->type) {
	case RCFG_URLLIST:
		fprintf(f, "%" PRIu64 "..%" PRIu64 " `http(s)://host[:port]`", k->min, k->max);
		break;
	case RCFG_ARGV:
		fprintf(f, "%" PRIu64 "..%" PRIu64 " strings, %zu bytes in all", k->min, k->max,
			k->size - 1);
		break;
	case RCFG_DURATION:
		fprintf(f, "%" PRIu64 "..%" PRIu64 " ms (`1500`, `2s`, `250ms`)", k->min, k->max);
		break;
	case RCFG_TEXT:
		fprintf(f, "%" PRIu64 "..%" PRIu64 " chars", k->min, k->max);
		break;
	case RCFG_PATH:
		fprintf(f, "absolute path%s", k->min == 0 ? " or `\"\"`" : "");
		break;
	case RCFG_URL:
		fputs("`http(s)://...`", f);
		break;
	default:
		break;
	}
}

void baton_reporter_config_write_reference(FILE *f)
{
	fputs("| Key | Check types | Type | Default | Allowed values | Description |\n", f);
	fputs("| --- | --- | --- | --- | --- | --- |\n", f);
	for (size_t i = 0; i < RCFG_NKEYS; i++) {
		const struct baton_conftab_key *k = &rcfg_keys[i];
		static const char *const tn[RCFG_TYPE_NR] = {
			[RCFG_SECTION] = "section", [RCFG_LIST] = "list",     [RCFG_URLLIST] = "list",
			[RCFG_ARGV] = "list",       [RCFG_U64] = "integer",   [RCFG_DURATION] = "duration",
			[RCFG_BOOL] = "bool",       [RCFG_NAME] = "name",     [RCFG_TEXT] = "string",
			[RCFG_PATH] = "path",       [RCFG_URL] = "URL",       [RCFG_ADDR] = "address",
			[RCFG_IPV4] = "IPv4",       [RCFG_CHOICE] = "choice",
		};
		char types[64];

		if (k->variants == 0 || k->variants == T_ALL)
			snprintf(types, sizeof types, "%s", k->variants == 0 ? "—" : "all");
		else
			rcfg_types_text(k->variants, types, sizeof types);
		fprintf(f, "| `%s` | %s | %s | ", k->path, types, tn[k->type]);
		rcfg_write_default(f, k);
		fputs(" | ", f);
		rcfg_write_allowed(f, k);
		fputs(" | ", f);
		baton_conf_md(f, k->doc);
		fputs(" |\n", f);
	}
}
