/* SPDX-License-Identifier: MIT */
/* baton-reporter's configuration schema: one table of keys, a walker that
 * applies it to a lib/yamltree.h tree, and the checks that span keys.
 *
 * Load = parse YAML -> walk the table from the root: for each map, refuse keys
 * the table does not know (or, inside a check, keys of another check type),
 * then for each key take the value from the file or its default, type- and
 * range-check it and store it at the key's offset -> cross-key checks ->
 * copy to the caller. The first problem ends the load with a message naming
 * file, line and key. A check entry's `type` is read first, since it decides
 * which other keys the entry may have. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib/yamltree.h"

enum rcfg_type {
	RCFG_SECTION,  /* a map that holds other keys */
	RCFG_LIST,     /* a list of maps; min..max entries */
	RCFG_URLLIST,  /* a list of coordinator base URLs; min..max entries */
	RCFG_ARGV,     /* a list of min..max strings, stored NUL-separated */
	RCFG_U64,      /* decimal integer in min..max */
	RCFG_DURATION, /* milliseconds in min..max: "1500", "2s", "250ms" */
	RCFG_BOOL,     /* true or false */
	RCFG_NAME,     /* min..max chars of [a-z0-9-] */
	RCFG_TEXT,     /* min..max chars, no control characters */
	RCFG_PATH,     /* absolute path, up to max chars; min 0 allows "" */
	RCFG_URL,      /* http:// or https:// URL */
	RCFG_ADDR,     /* IPv4 "a.b.c.d:port" */
	RCFG_IPV4,     /* IPv4 literal "a.b.c.d" */
	RCFG_CHOICE,   /* one word of @choices, stored as its index (an enum) */
	RCFG_TYPE_NR
};

struct rcfg_key {
	const char *path;     /* "interval_ms"; in a check "checks[].url" */
	enum rcfg_type type;
	const char *def;      /* default as written in YAML; NULL: none (zero/empty if optional) */
	uint64_t min, max;    /* value, string length or number of list entries */
	bool required;
	unsigned types;       /* keys of a check: the check types (bit mask) it belongs to */
	const char *choices;  /* RCFG_CHOICE: "debug|info|notice|warn|error" */
	const char *doc;      /* one line, for docs/reporter.md */
	/* Where the value lives: relative to struct baton_reporter_config, or
	 * for keys inside a check relative to struct baton_check_config. */
	size_t off, size;
	size_t count_off;     /* lists: the `unsigned` entry count */
	size_t entry_size;    /* lists: one entry */
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
	  .required = (req), .types = (tm), .doc = (d), FIELD(baton_check_config, f) }
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
static const struct rcfg_key rcfg_keys[] = {
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
	{ .path = "checks[].type", .type = RCFG_CHOICE, .required = REQUIRED, .types = T_ALL,
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
	{ .path = "checks[].primary", .type = RCFG_SECTION, .types = T_PG,
	  .doc = "Optional: the primary to measure replication lag against (same keys as the server checked)." },
	PG_KEYS("primary.", primary, REQUIRED, "primary"),
	CHK("checks[].command", ARGV, T_EXEC, command, NULL, 1, BATON_RCFG_MAX_ARGS, REQUIRED,
	    "Program and arguments, run without a shell; the program is an absolute path. Exit 0 = ok."),
};

#define RCFG_NKEYS BATON_ARRAY_SIZE(rcfg_keys)
#define RCFG_MAX_KIDS 32
#define RCFG_LIST_MAX 32
#define RCFG_PATH_LEN 160

_Static_assert(BATON_RCFG_MAX_CHECKS <= RCFG_LIST_MAX && BATON_RCFG_MAX_COORDINATORS <= RCFG_LIST_MAX,
	       "rcfg_ctx.lines holds RCFG_LIST_MAX entries per key");
_Static_assert(BATON_LOG_DEBUG == 0 && BATON_LOG_INFO == 1 && BATON_LOG_NOTICE == 2 &&
		       BATON_LOG_WARN == 3 && BATON_LOG_ERROR == 4,
	       "log_level choices follow enum baton_log_level");
_Static_assert(sizeof(enum baton_log_level) == sizeof(unsigned) &&
		       sizeof(enum baton_check_type) == sizeof(unsigned),
	       "choices are stored as unsigned");

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

static const char *rcfg_leaf(const char *path)
{
	const char *dot = strrchr(path, '.');
	return dot != NULL ? dot + 1 : path;
}

static bool rcfg_is_child(const char *parent, const char *path)
{
	size_t n = strlen(parent);

	if (n == 0)
		return strchr(path, '.') == NULL;
	return strncmp(path, parent, n) == 0 && path[n] == '.' && strchr(path + n + 1, '.') == NULL;
}

/* The keys directly under @parent; with @type >= 0 only those of that check type. */
static size_t rcfg_children(const char *parent, int type, const struct rcfg_key **kids)
{
	size_t n = 0;

	for (size_t i = 0; i < RCFG_NKEYS && n < RCFG_MAX_KIDS; i++)
		if (rcfg_is_child(parent, rcfg_keys[i].path) &&
		    (type < 0 || rcfg_keys[i].types == 0 || (rcfg_keys[i].types & (1u << type))))
			kids[n++] = &rcfg_keys[i];
	return n;
}

static size_t rcfg_split_choices(const char *choices, char *buf, size_t buflen, const char **words,
				 size_t max)
{
	size_t n = 0;
	char *s = buf;

	baton_strlcpy(buf, choices, buflen);
	while (n < max) {
		char *bar = strchr(s, '|');
		words[n++] = s;
		if (bar == NULL)
			break;
		*bar = '\0';
		s = bar + 1;
	}
	return n;
}

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
/* Values */

struct rcfg_ctx {
	const struct baton_yaml_doc *doc;
	char *errbuf;
	size_t errlen;
	unsigned lines[RCFG_NKEYS][RCFG_LIST_MAX]; /* line of each key, per list entry */
};

static int rcfg_fail(struct rcfg_ctx *x, unsigned line, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int rcfg_fail(struct rcfg_ctx *x, unsigned line, const char *path, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	baton_yaml_errorf(x->errbuf, x->errlen, x->doc, line, path, "%s", msg);
	return -EINVAL;
}

static unsigned rcfg_line(const struct rcfg_ctx *x, const char *path, unsigned idx)
{
	for (size_t i = 0; i < RCFG_NKEYS; i++)
		if (strcmp(rcfg_keys[i].path, path) == 0)
			return x->lines[i][idx < RCFG_LIST_MAX ? idx : 0];
	return 0; /* UNTESTED: a typo in a path below */
}

static const char *rcfg_got(char *out, size_t outlen, const struct baton_yaml_node *n)
{
	char q[96];

	if (n->kind == BATON_YAML_MAP)
		return "a map";
	if (n->kind == BATON_YAML_LIST)
		return "a list";
	snprintf(out, outlen, "'%s'", baton_yaml_quote(q, sizeof q, n));
	return out;
}

static void rcfg_store_uint(void *p, size_t size, uint64_t v)
{
	if (size == sizeof(uint64_t)) {
		memcpy(p, &v, sizeof v);
	} else {
		unsigned u = (unsigned)v;
		memcpy(p, &u, sizeof u);
	}
}

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

static int rcfg_get_url(struct rcfg_ctx *x, const struct baton_yaml_node *n, const char *path,
			bool base, size_t min, size_t max, char *dst, size_t dstlen)
{
	const char *why;
	char got[128];
	int rv;

	rv = baton_yaml_get_str(x->doc, n, path, min, max, NULL, dst, dstlen, x->errbuf, x->errlen);
	if (rv != 0)
		return rv;
	why = rcfg_url_problem(dst, base);
	if (why != NULL)
		return rcfg_fail(x, n->line, path, "%s, got %s", why, rcfg_got(got, sizeof got, n));
	if (base) {
		size_t len = strlen(dst);
		if (dst[len - 1] == '/')
			dst[len - 1] = '\0';
	}
	return 0;
}

static int rcfg_set_scalar(struct rcfg_ctx *x, const struct rcfg_key *k,
			   const struct baton_yaml_node *n, const char *path, char *base)
{
	const struct baton_yaml_doc *d = x->doc;
	void *dst = base + k->off;
	struct in_addr a;
	char got[128];
	uint64_t v;
	unsigned idx;
	bool b;
	int rv;

	switch (k->type) {
	case RCFG_U64:
		rv = baton_yaml_get_u64(d, n, path, k->min, k->max, &v, x->errbuf, x->errlen);
		if (rv == 0)
			rcfg_store_uint(dst, k->size, v);
		return rv;
	case RCFG_DURATION:
		rv = baton_yaml_get_duration_ms(d, n, path, k->min, k->max, &v, x->errbuf, x->errlen);
		if (rv == 0)
			rcfg_store_uint(dst, k->size, v);
		return rv;
	case RCFG_BOOL:
		rv = baton_yaml_get_bool(d, n, path, &b, x->errbuf, x->errlen);
		if (rv == 0)
			memcpy(dst, &b, sizeof b);
		return rv;
	case RCFG_NAME:
		return baton_yaml_get_str(d, n, path, k->min, k->max, BATON_YAML_CHARSET_NAME, dst,
					  k->size, x->errbuf, x->errlen);
	case RCFG_TEXT:
		return baton_yaml_get_str(d, n, path, k->min, k->max, NULL, dst, k->size, x->errbuf,
					  x->errlen);
	case RCFG_PATH:
		rv = baton_yaml_get_str(d, n, path, k->min, k->max, NULL, dst, k->size, x->errbuf,
					x->errlen);
		if (rv == 0 && ((char *)dst)[0] != '\0' && ((char *)dst)[0] != '/')
			return rcfg_fail(x, n->line, path, "must be an absolute path, got %s",
					 rcfg_got(got, sizeof got, n));
		return rv;
	case RCFG_URL:
		return rcfg_get_url(x, n, path, false, k->min, k->max, dst, k->size);
	case RCFG_ADDR:
		return baton_yaml_get_ipv4_port(d, n, path, dst, k->size, x->errbuf, x->errlen);
	case RCFG_IPV4:
		rv = baton_yaml_get_str(d, n, path, 0, k->size - 1, NULL, dst, k->size, x->errbuf,
					x->errlen);
		if (rv == 0 && inet_pton(AF_INET, dst, &a) != 1)
			return rcfg_fail(x, n->line, path,
					 "must be an IPv4 address (a.b.c.d), got %s",
					 rcfg_got(got, sizeof got, n));
		return rv;
	case RCFG_CHOICE: {
		const char *words[16];
		char buf[128];
		size_t nw = rcfg_split_choices(k->choices, buf, sizeof buf, words, 16);

		rv = baton_yaml_get_choice(d, n, path, words, nw, &idx, x->errbuf, x->errlen);
		if (rv == 0)
			rcfg_store_uint(dst, k->size, idx);
		return rv;
	}
	default:
		return -EINVAL; /* UNTESTED: sections and lists never get here */
	}
}

/* A list of scalars: coordinator URLs, or exec's argv. */
static int rcfg_set_strlist(struct rcfg_ctx *x, const struct rcfg_key *k,
			    const struct baton_yaml_node *n, const char *path, char *base)
{
	char ipath[RCFG_PATH_LEN], got[128];
	size_t used = 0;
	int rv;

	if (n->kind != BATON_YAML_LIST)
		return rcfg_fail(x, n->line, path, "must be a list, got %s",
				 rcfg_got(got, sizeof got, n));
	if (n->n < k->min || n->n > k->max) {
		bool low = n->n < k->min;
		uint64_t b = low ? k->min : k->max;
		return rcfg_fail(x, n->line, path, "must have at %s %" PRIu64 " %s, got %zu",
				 low ? "least" : "most", b, b == 1 ? "entry" : "entries", n->n);
	}
	for (size_t j = 0; j < n->n; j++) {
		const struct baton_yaml_node *item = n->items[j];

		snprintf(ipath, sizeof ipath, "%s[%zu]", path, j);
		if (k->type == RCFG_URLLIST) {
			rv = rcfg_get_url(x, item, ipath, true, 8, BATON_RCFG_URL_LEN - 1,
					  base + k->off + j * k->entry_size, k->entry_size);
			if (rv != 0)
				return rv;
			continue;
		}
		/* RCFG_ARGV: back to back in one buffer */
		if (used + 1 >= k->size)
			return rcfg_fail(x, item->line, path,
					 "the command and its arguments must fit in %zu bytes",
					 k->size - 1);
		rv = baton_yaml_get_str(x->doc, item, ipath, 0, k->size - used - 1, NULL,
					base + k->off + used, k->size - used, x->errbuf, x->errlen);
		if (rv == -EINVAL && item->kind == BATON_YAML_SCALAR && item->len >= k->size - used)
			return rcfg_fail(x, item->line, path,
					 "the command and its arguments must fit in %zu bytes",
					 k->size - 1);
		if (rv != 0)
			return rv;
		if (j == 0 && base[k->off] != '/')
			return rcfg_fail(x, item->line, ipath,
					 "the program must be an absolute path (no shell, no PATH search), got %s",
					 rcfg_got(got, sizeof got, item));
		used += strlen(base + k->off + used) + 1;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The walker */

static int rcfg_walk(struct rcfg_ctx *x, const char *tpath, const char *dpath,
		     const struct baton_yaml_node *map, unsigned line, char *base, unsigned idx,
		     int ctype);

/* Keys of another check type in check entry @map (type @ctype). */
static int rcfg_check_foreign_keys(struct rcfg_ctx *x, const char *tpath, const char *dpath,
				   const struct baton_yaml_node *map, int ctype)
{
	const struct rcfg_key *all[RCFG_MAX_KIDS];
	size_t na = rcfg_children(tpath, -1, all);

	for (size_t i = 0; i < map->n; i++) {
		const struct baton_yaml_pair *p = &map->pairs[i];

		for (size_t j = 0; j < na; j++) {
			char path[RCFG_PATH_LEN], types[64];

			if (strcmp(rcfg_leaf(all[j]->path), p->key) != 0 ||
			    (all[j]->types & (1u << ctype)) != 0)
				continue;
			rcfg_types_text(all[j]->types, types, sizeof types);
			snprintf(path, sizeof path, "%s.%s", dpath, p->key);
			return rcfg_fail(x, p->line, path, "is a key of %s checks; this check is type %s",
					 types, baton_check_type_name((enum baton_check_type)ctype));
		}
	}
	return 0;
}

static int rcfg_walk_list(struct rcfg_ctx *x, const struct rcfg_key *k, const char *path,
			  const struct baton_yaml_node *n, unsigned kline, char *base)
{
	char tp[RCFG_PATH_LEN], got[128];
	unsigned count = n != NULL ? (unsigned)n->n : 0;
	int rv;

	if (n != NULL && n->kind != BATON_YAML_LIST)
		return rcfg_fail(x, kline, path, "must be a list, got %s", rcfg_got(got, sizeof got, n));
	if (n != NULL && (n->n < k->min || n->n > k->max)) {
		bool low = n->n < k->min;
		uint64_t b = low ? k->min : k->max;
		return rcfg_fail(x, kline, path, "must have at %s %" PRIu64 " %s, got %zu",
				 low ? "least" : "most", b, b == 1 ? "entry" : "entries", n->n);
	}
	memcpy(base + k->count_off, &count, sizeof count);
	snprintf(tp, sizeof tp, "%s[]", k->path);
	for (unsigned j = 0; j < count; j++) {
		const struct baton_yaml_node *item = n->items[j];
		const struct baton_yaml_pair *tp_pair;
		char ipath[RCFG_PATH_LEN], tpath_type[RCFG_PATH_LEN];
		char *entry = base + k->off + j * k->entry_size;
		unsigned ctype;

		snprintf(ipath, sizeof ipath, "%s[%u]", path, j);
		if (item->kind != BATON_YAML_MAP)
			return rcfg_fail(x, item->line, ipath, "must be a map, got %s",
					 baton_yaml_is_null(item) ? "nothing"
								  : rcfg_got(got, sizeof got, item));
		/* The check type first: it decides which keys the entry may have. */
		tp_pair = baton_yaml_map_find(item, "type");
		snprintf(tpath_type, sizeof tpath_type, "%s.type", ipath);
		if (tp_pair == NULL || baton_yaml_is_null(tp_pair->value))
			return rcfg_fail(x, tp_pair != NULL ? tp_pair->line : item->line, tpath_type,
					 "is required (one of %s)", "http, tcp, postgres, exec");
		{
			static const char *const words[] = { "http", "tcp", "postgres", "exec" };

			rv = baton_yaml_get_choice(x->doc, tp_pair->value, tpath_type, words, 4, &ctype,
						   x->errbuf, x->errlen);
			if (rv != 0)
				return rv;
		}
		rv = rcfg_check_foreign_keys(x, tp, ipath, item, (int)ctype);
		if (rv == 0)
			rv = rcfg_walk(x, tp, ipath, item, item->line, entry, j, (int)ctype);
		if (rv != 0)
			return rv;
	}
	return 0;
}

/* Apply the keys under table path @tpath (of check type @ctype, or -1) to
 * @map (NULL: defaults only). @dpath names the map in messages, @line is
 * where a missing key is reported, @base the struct the offsets refer to,
 * @idx the list entry (for rcfg_ctx.lines). */
static int rcfg_walk(struct rcfg_ctx *x, const char *tpath, const char *dpath,
		     const struct baton_yaml_node *map, unsigned line, char *base, unsigned idx,
		     int ctype)
{
	const struct rcfg_key *kids[RCFG_MAX_KIDS];
	const char *names[RCFG_MAX_KIDS] = { NULL };
	size_t nk = rcfg_children(tpath, ctype, kids);
	char got[128];
	int rv;

	for (size_t i = 0; i < nk; i++)
		names[i] = rcfg_leaf(kids[i]->path);
	if (map != NULL) {
		rv = baton_yaml_check_keys(x->doc, map, dpath, names, nk, x->errbuf, x->errlen);
		if (rv != 0)
			return rv;
	}
	for (size_t i = 0; i < nk; i++) {
		const struct rcfg_key *k = kids[i];
		const struct baton_yaml_pair *p = map != NULL ? baton_yaml_map_find(map, names[i]) : NULL;
		const struct baton_yaml_node *n = NULL;
		unsigned kline = line;
		char path[RCFG_PATH_LEN];

		if (p != NULL) {
			kline = p->line;
			if (!baton_yaml_is_null(p->value))
				n = p->value;
		}
		if (dpath[0] != '\0')
			snprintf(path, sizeof path, "%s.%s", dpath, names[i]);
		else
			snprintf(path, sizeof path, "%s", names[i]);
		x->lines[k - rcfg_keys][idx] = kline;
		if (n == NULL && k->required) {
			if (k->type == RCFG_CHOICE && strcmp(names[i], "type") == 0)
				continue; /* rcfg_walk_list read it already */
			return rcfg_fail(x, kline, path, "is required");
		}
		switch (k->type) {
		case RCFG_SECTION:
			if (n == NULL)
				break; /* an optional section that is absent stays zero */
			if (n->kind != BATON_YAML_MAP)
				return rcfg_fail(x, kline, path, "must be a map, got %s",
						 rcfg_got(got, sizeof got, n));
			if (strcmp(k->path, "checks[].primary") == 0)
				((struct baton_check_config *)base)->has_primary = true;
			rv = rcfg_walk(x, k->path, path, n, kline, base, idx, ctype);
			break;
		case RCFG_LIST:
			rv = rcfg_walk_list(x, k, path, n, kline, base);
			break;
		case RCFG_URLLIST:
		case RCFG_ARGV:
			rv = n != NULL ? rcfg_set_strlist(x, k, n, path, base) : 0;
			if (rv == 0 && n != NULL && k->type == RCFG_URLLIST) {
				unsigned count = (unsigned)n->n;
				memcpy(base + k->count_off, &count, sizeof count);
			} else if (rv == 0 && n != NULL) {
				((struct baton_check_config *)base)->argc = (unsigned)n->n;
			}
			break;
		default:
			if (n == NULL && k->def != NULL) {
				/* The default goes through the same parser as the file. */
				struct baton_yaml_node def = {
					.kind = BATON_YAML_SCALAR,
					.line = kline,
					.str = k->def,
					.len = strlen(k->def),
				};
				rv = rcfg_set_scalar(x, k, &def, path, base);
			} else if (n != NULL) {
				rv = rcfg_set_scalar(x, k, n, path, base);
			} else {
				rv = 0;
			}
			break;
		}
		if (rv != 0)
			return rv;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Rules across keys */

static int rcfg_check_cross(struct rcfg_ctx *x, struct baton_reporter_config *c)
{
	char path[RCFG_PATH_LEN];

	if (c->timeout_ms == 0) {
		c->timeout_ms = c->interval_ms * 4 / 5;
	} else if (c->timeout_ms >= c->interval_ms) {
		return rcfg_fail(x, rcfg_line(x, "timeout_ms", 0), "timeout_ms",
				 "must be below interval_ms (%" PRIu64 "), got %" PRIu64,
				 c->interval_ms, c->timeout_ms);
	}
	for (unsigned j = 0; j < c->n_coordinators; j++)
		for (unsigned i = 0; i < j; i++)
			if (strcmp(c->coordinators[i], c->coordinators[j]) == 0) {
				snprintf(path, sizeof path, "coordinators[%u]", j);
				return rcfg_fail(x, rcfg_line(x, "coordinators", 0), path,
						 "duplicate coordinator %s (also coordinators[%u])",
						 c->coordinators[j], i);
			}
	for (unsigned j = 0; j < c->n_checks; j++) {
		const struct baton_check_config *k = &c->checks[j];

		for (unsigned i = 0; i < j; i++) {
			if (strcmp(c->checks[i].name, k->name) != 0)
				continue;
			snprintf(path, sizeof path, "checks[%u].name", j);
			return rcfg_fail(x, rcfg_line(x, "checks[].name", j), path,
					 "duplicate check name '%s' (also checks[%u], line %u)",
					 k->name, i, rcfg_line(x, "checks[].name", i));
		}
		if (k->type == BATON_CHECK_HTTP && k->expect_status != 0 &&
		    k->expect_status < 100) {
			snprintf(path, sizeof path, "checks[%u].expect_status", j);
			return rcfg_fail(x, rcfg_line(x, "checks[].expect_status", j), path,
					 "must be 0 (any 2xx) or an HTTP status 100..599, got %u",
					 k->expect_status);
		}
	}
	return 0;
}

static int rcfg_from_doc(const struct baton_yaml_doc *doc, struct baton_reporter_config *ret,
			 char *errbuf, size_t errlen)
{
	struct baton_reporter_config *cfg;
	struct rcfg_ctx *x;
	char got[128];
	int rv;

	if (doc->root == NULL || baton_yaml_is_null(doc->root)) {
		baton_yaml_errorf(errbuf, errlen, doc, 1, NULL,
				  "the file is empty; expected region, name, key_file, coordinators and checks");
		return -EINVAL;
	}
	if (doc->root->kind != BATON_YAML_MAP) {
		baton_yaml_errorf(errbuf, errlen, doc, doc->root->line, NULL,
				  "the top level must be a map (region, name, key_file, coordinators, checks), got %s",
				  rcfg_got(got, sizeof got, doc->root));
		return -EINVAL;
	}
	cfg = calloc(1, sizeof *cfg);
	x = calloc(1, sizeof *x);
	if (cfg == NULL || x == NULL) {
		free(cfg); /* UNTESTED */
		free(x);
		if (errlen > 0)
			snprintf(errbuf, errlen, "%s: out of memory", doc->name);
		return -ENOMEM;
	}
	x->doc = doc;
	x->errbuf = errbuf;
	x->errlen = errlen;
	rv = rcfg_walk(x, "", "", doc->root, doc->root->line, (char *)cfg, 0, -1);
	if (rv == 0)
		rv = rcfg_check_cross(x, cfg);
	if (rv == 0)
		*ret = *cfg;
	free(x);
	free(cfg);
	return rv;
}

int baton_reporter_config_load_string(const char *name, const char *yaml, size_t len,
				      struct baton_reporter_config *ret, char *errbuf,
				      size_t errlen)
{
	struct baton_yaml_doc *doc;
	int rv;

	rv = baton_yaml_parse(name, yaml, len, &doc, errbuf, errlen);
	if (rv != 0)
		return rv;
	rv = rcfg_from_doc(doc, ret, errbuf, errlen);
	baton_yaml_free(doc);
	return rv;
}

int baton_reporter_config_load(const char *path, struct baton_reporter_config *ret, char *errbuf,
			       size_t errlen)
{
	struct baton_yaml_doc *doc;
	int rv;

	rv = baton_yaml_load_file(path, &doc, errbuf, errlen);
	if (rv != 0)
		return rv;
	rv = rcfg_from_doc(doc, ret, errbuf, errlen);
	baton_yaml_free(doc);
	return rv;
}

/* ------------------------------------------------------------------------ */
/* Reference for docs/reporter.md */

static void rcfg_md(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '|')
			fputc('\\', f);
		fputc(*s, f);
	}
}

void baton_reporter_config_write_reference(FILE *f)
{
	fputs("| Key | Check types | Type | Default | Allowed values | Description |\n", f);
	fputs("| --- | --- | --- | --- | --- | --- |\n", f);
	for (size_t i = 0; i < RCFG_NKEYS; i++) {
		const struct rcfg_key *k = &rcfg_keys[i];
		static const char *const tn[RCFG_TYPE_NR] = {
			[RCFG_SECTION] = "section", [RCFG_LIST] = "list",     [RCFG_URLLIST] = "list",
			[RCFG_ARGV] = "list",       [RCFG_U64] = "integer",   [RCFG_DURATION] = "duration",
			[RCFG_BOOL] = "bool",       [RCFG_NAME] = "name",     [RCFG_TEXT] = "string",
			[RCFG_PATH] = "path",       [RCFG_URL] = "URL",       [RCFG_ADDR] = "address",
			[RCFG_IPV4] = "IPv4",       [RCFG_CHOICE] = "choice",
		};
		char types[64];

		if (k->types == 0 || k->types == T_ALL)
			snprintf(types, sizeof types, "%s", k->types == 0 ? "—" : "all");
		else
			rcfg_types_text(k->types, types, sizeof types);
		fprintf(f, "| `%s` | %s | %s | ", k->path, types, tn[k->type]);
		if (k->required && strncmp(k->path, "checks[].primary.", 17) == 0)
			fputs("**required** (in `primary`)", f);
		else if (k->required)
			fputs("**required**", f);
		else if (k->def != NULL)
			fprintf(f, "`%s`", k->def[0] != '\0' ? k->def : "\"\"");
		else if (strcmp(k->path, "timeout_ms") == 0)
			fputs("4/5 of `interval_ms`", f);
		else
			fputs("—", f);
		fputs(" | ", f);
		switch (k->type) {
		case RCFG_SECTION:
			fputs("map", f);
			break;
		case RCFG_LIST:
			fprintf(f, "%" PRIu64 "..%" PRIu64 " entries", k->min, k->max);
			break;
		case RCFG_URLLIST:
			fprintf(f, "%" PRIu64 "..%" PRIu64 " `http(s)://host[:port]`", k->min, k->max);
			break;
		case RCFG_ARGV:
			fprintf(f, "%" PRIu64 "..%" PRIu64 " strings, %zu bytes in all", k->min, k->max,
				k->size - 1);
			break;
		case RCFG_U64:
			fprintf(f, "%" PRIu64 "..%" PRIu64, k->min, k->max);
			break;
		case RCFG_DURATION:
			fprintf(f, "%" PRIu64 "..%" PRIu64 " ms (`1500`, `2s`, `250ms`)", k->min, k->max);
			break;
		case RCFG_BOOL:
			fputs("`true`, `false`", f);
			break;
		case RCFG_NAME:
			fprintf(f, "%" PRIu64 "..%" PRIu64 " chars of `[a-z0-9-]`", k->min, k->max);
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
		case RCFG_ADDR:
			fputs("`a.b.c.d:port`", f);
			break;
		case RCFG_IPV4:
			fputs("`a.b.c.d`", f);
			break;
		case RCFG_CHOICE: {
			const char *words[16];
			char buf[128];
			size_t n = rcfg_split_choices(k->choices, buf, sizeof buf, words, 16);
			for (size_t j = 0; j < n; j++)
				fprintf(f, "%s`%s`", j > 0 ? ", " : "", words[j]);
			break;
		}
		default:
			break;
		}
		fputs(" | ", f);
		rcfg_md(f, k->doc);
		fputs(" |\n", f);
	}
}
