/* SPDX-License-Identifier: MIT */
/* The table walker, the value types every schema shares, and ${VAR}
 * substitution; see conftab.h.
 *
 * The walker applies the table to one map at a time: it refuses unknown
 * keys (and, in an entry with variants, keys of another variant), then for
 * each key of the table under that map takes the file's value or the
 * default, and recurses into sections and list entries. A null value counts
 * as a missing key. Defaults go through the same parsers as the file (but
 * are not substituted). */
#include "conftab.h"

#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CONF_MAX_KIDS 32   /* keys directly under one map */
#define CONF_PATH_LEN 256  /* display paths: "cluster.members[3].region" */
#define CONF_EXPAND_MAX 4096 /* a value after substitution, in bytes */
#define CONF_VAR_LEN 128   /* name of an environment variable */

struct baton_conf {
	const struct baton_conftab *t;
	const struct baton_yaml_doc *doc;
	char *errbuf;
	size_t errlen;
	/* Line of each key's value (or of the map that lacks the key): key i,
	 * list entry j (0 outside lists) at [i * list_max + j]. */
	unsigned *lines;
};

/* ------------------------------------------------------------------------ */
/* Table helpers */

const char *baton_conf_leaf(const char *path)
{
	const char *dot = strrchr(path, '.');
	return dot != NULL ? dot + 1 : path;
}

/* Is @path a key directly under the map @parent ("" = the root)? */
static bool conf_is_child(const char *parent, const char *path)
{
	size_t n = strlen(parent);

	if (n == 0)
		return strchr(path, '.') == NULL;
	return strncmp(path, parent, n) == 0 && path[n] == '.' && strchr(path + n + 1, '.') == NULL;
}

size_t baton_conf_children(const struct baton_conftab *t, const char *parent, int variant,
			   const struct baton_conftab_key **kids, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_keys && n < max; i++) {
		const struct baton_conftab_key *k = &t->keys[i];

		if (conf_is_child(parent, k->path) &&
		    (variant < 0 || k->variants == 0 || (k->variants & (1u << variant))))
			kids[n++] = k;
	}
	return n;
}

size_t baton_conf_split_choices(const char *choices, char *buf, size_t buflen,
				const char **words, size_t max)
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

uint64_t baton_conf_load_uint(const void *p, size_t size)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64 = 0;

	switch (size) {
	case 1:
		memcpy(&u8, p, 1);
		return u8;
	case 2:
		memcpy(&u16, p, 2);
		return u16;
	case 4:
		memcpy(&u32, p, 4);
		return u32;
	default:
		memcpy(&u64, p, sizeof u64);
		return u64;
	}
}

void baton_conf_store_uint(void *p, size_t size, uint64_t v)
{
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	switch (size) {
	case 1:
		memcpy(p, &u8, 1);
		break;
	case 2:
		memcpy(p, &u16, 2);
		break;
	case 4:
		memcpy(p, &u32, 4);
		break;
	default:
		memcpy(p, &v, sizeof v);
		break;
	}
}

void baton_conf_md(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '|')
			fputc('\\', f);
		fputc(*s, f);
	}
}

bool baton_conf_write_default(FILE *f, const struct baton_conftab_key *k)
{
	if (k->required)
		fputs("**required**", f);
	else if (k->def != NULL)
		fprintf(f, "`%s`", k->def[0] != '\0' ? k->def : "\"\"");
	return k->required || k->def != NULL;
}

bool baton_conf_write_allowed(FILE *f, const struct baton_conftab_key *k)
{
	switch (k->type) {
	case BATON_CONF_SECTION:
		fputs("map", f);
		return true;
	case BATON_CONF_LIST:
		fprintf(f, "%" PRIu64 "..%" PRIu64 " entries", k->min, k->max);
		return true;
	case BATON_CONF_U64:
		fprintf(f, "%" PRIu64 "..%" PRIu64, k->min, k->max);
		return true;
	case BATON_CONF_BOOL:
		fputs("`true`, `false`", f);
		return true;
	case BATON_CONF_NAME:
		if (k->min == 0)
			fprintf(f, "up to %" PRIu64 " chars of `[a-z0-9-]`", k->max);
		else
			fprintf(f, "%" PRIu64 "..%" PRIu64 " chars of `[a-z0-9-]`", k->min, k->max);
		return true;
	case BATON_CONF_ADDR:
		fputs(k->min == 0 ? "`a.b.c.d:port` or `\"\"`" : "`a.b.c.d:port`", f);
		return true;
	case BATON_CONF_IPV4:
		fputs("`a.b.c.d`", f);
		return true;
	case BATON_CONF_CHOICE: {
		const char *words[16];
		char buf[256];
		size_t n = baton_conf_split_choices(k->choices, buf, sizeof buf, words, 16);

		for (size_t j = 0; j < n; j++)
			fprintf(f, "%s`%s`", j > 0 ? ", " : "", words[j]);
		return true;
	}
	default:
		return false;
	}
}

void baton_conf_write_quoted(FILE *f, const char *s, bool raw)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		else if (!raw && s[0] == '$' && s[1] == '{')
			fputc('$', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* ------------------------------------------------------------------------ */
/* Messages */

const struct baton_yaml_doc *baton_conf_doc(const struct baton_conf *x)
{
	return x->doc;
}

int baton_conf_fail(struct baton_conf *x, unsigned line, const char *path, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	baton_yaml_errorf(x->errbuf, x->errlen, x->doc, line, path, "%s", msg);
	return -EINVAL;
}

unsigned baton_conf_line(const struct baton_conf *x, const char *path, unsigned idx)
{
	const struct baton_conftab *t = x->t;

	for (size_t i = 0; i < t->n_keys; i++)
		if (strcmp(t->keys[i].path, path) == 0)
			return x->lines[i * t->list_max + (idx < t->list_max ? idx : 0)];
	return 0; /* UNTESTED: a typo in a schema's path */
}

unsigned baton_conf_doc_line(const struct baton_conf *x, const char *dpath)
{
	const struct baton_yaml_node *n = x->doc != NULL ? x->doc->root : NULL;
	unsigned line = n != NULL ? n->line : 0;
	const char *s = dpath;

	while (n != NULL && *s != '\0') {
		if (*s == '.') {
			s++;
		} else if (*s == '[') {
			char *end;
			unsigned long i = strtoul(s + 1, &end, 10);
			if (*end != ']' || n->kind != BATON_YAML_LIST || i >= n->n)
				break;
			n = n->items[i];
			line = n->line;
			s = end + 1;
		} else {
			size_t len = strcspn(s, ".[");
			const struct baton_yaml_pair *p = NULL;
			for (size_t k = 0; n->kind == BATON_YAML_MAP && k < n->n; k++)
				if (n->pairs[k].key_len == len && memcmp(n->pairs[k].key, s, len) == 0)
					p = &n->pairs[k];
			if (p == NULL)
				break;
			line = p->line;
			n = p->value;
			s += len;
		}
	}
	return line;
}

const char *baton_conf_got(char *out, size_t outlen, const struct baton_yaml_node *n)
{
	char q[96];

	if (n->kind == BATON_YAML_MAP)
		return "a map";
	if (n->kind == BATON_YAML_LIST)
		return "a list";
	snprintf(out, outlen, "'%s'", baton_yaml_quote(q, sizeof q, n));
	return out;
}

/* ------------------------------------------------------------------------ */
/* ${VAR} substitution */

static bool conf_var_char(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

static int conf_bad_ref(struct baton_conf *x, const struct baton_yaml_node *n, const char *path,
			const char *ref, size_t left)
{
	const char *close = memchr(ref, '}', left);
	struct baton_yaml_node q = { .kind = BATON_YAML_SCALAR, .str = ref };
	char buf[64];

	q.len = close != NULL ? (size_t)(close - ref) + 1 : left;
	if (q.len > 40)
		q.len = 40;
	return baton_conf_fail(x, n->line, path,
			       "bad environment variable reference '%s' (write ${NAME} or "
			       "${NAME:-default}, or $${ for a literal ${)",
			       baton_yaml_quote(buf, sizeof buf, &q));
}

/* Append @len bytes of @s to e->buf (@o bytes used so far). */
static int conf_put(struct baton_conf *x, const struct baton_yaml_node *n, const char *path,
		    struct baton_conf_expanded *e, size_t *o, const char *s, size_t len)
{
	if (*o + len > CONF_EXPAND_MAX)
		return baton_conf_fail(x, n->line, path,
				       "is longer than %d bytes after environment variable substitution",
				       CONF_EXPAND_MAX);
	memcpy(e->buf + *o, s, len);
	*o += len;
	return 0;
}

int baton_conf_expand(struct baton_conf *x, const struct baton_yaml_node *n, const char *path,
		      bool raw, struct baton_conf_expanded *ret)
{
	const char *s = n->str;
	size_t o = 0, i = 0;
	int rv = 0;

	ret->node = n;
	ret->buf = NULL;
	if (raw || n->kind != BATON_YAML_SCALAR || memmem(s, n->len, "${", 2) == NULL)
		return 0;
	ret->buf = malloc(CONF_EXPAND_MAX + 1);
	if (ret->buf == NULL) {
		(void)baton_conf_fail(x, n->line, path, "out of memory"); /* UNTESTED */
		return -ENOMEM;
	}
	while (rv == 0 && i < n->len) {
		char name[CONF_VAR_LEN];
		const char *val, *def = NULL;
		size_t nl = 0, dl = 0, j;

		if (s[i] != '$' || i + 1 >= n->len || (s[i + 1] != '{' && s[i + 1] != '$')) {
			rv = conf_put(x, n, path, ret, &o, s + i, 1);
			i++;
			continue;
		}
		if (s[i + 1] == '$') { /* "$${" is a literal "${"; other "$$" stay */
			bool esc = i + 2 < n->len && s[i + 2] == '{';
			rv = conf_put(x, n, path, ret, &o, esc ? "${" : "$", esc ? 2 : 1);
			i += esc ? 3 : 1;
			continue;
		}
		/* "${" NAME ( "}" | ":-" default "}" ) */
		for (j = i + 2; j < n->len && conf_var_char(s[j], j == i + 2); j++)
			nl++;
		if (nl == 0 || nl >= sizeof name || j >= n->len) {
			rv = conf_bad_ref(x, n, path, s + i, n->len - i);
			break;
		}
		memcpy(name, s + i + 2, nl);
		name[nl] = '\0';
		if (s[j] == ':' && j + 1 < n->len && s[j + 1] == '-') {
			def = s + j + 2;
			for (j += 2; j < n->len && s[j] != '}'; j++)
				dl++;
		}
		if (j >= n->len || s[j] != '}') {
			rv = conf_bad_ref(x, n, path, s + i, n->len - i);
			break;
		}
		val = getenv(name);
		if (def != NULL && (val == NULL || val[0] == '\0'))
			rv = conf_put(x, n, path, ret, &o, def, dl);
		else if (val != NULL)
			rv = conf_put(x, n, path, ret, &o, val, strlen(val));
		else
			rv = baton_conf_fail(x, n->line, path,
					     "environment variable %s is not set (write ${%s:-default} "
					     "to give a default)",
					     name, name);
		i = j + 1;
	}
	if (rv != 0) {
		baton_conf_expanded_free(ret);
		return rv;
	}
	ret->buf[o] = '\0';
	ret->tmp = *n;
	ret->tmp.str = ret->buf;
	ret->tmp.len = o;
	ret->node = &ret->tmp;
	return 0;
}

void baton_conf_expanded_free(struct baton_conf_expanded *e)
{
	free(e->buf);
	e->buf = NULL;
}

/* After a value from substitution was refused: say so, since the message
 * quotes a value that is not what the file says. */
static void conf_note_expanded(struct baton_conf *x, const struct baton_conf_expanded *e)
{
	size_t k;

	if (e->buf == NULL || x->errbuf == NULL || x->errlen == 0)
		return;
	k = strlen(x->errbuf);
	snprintf(x->errbuf + k, x->errlen - k, " (after environment variable substitution)");
}

int baton_conf_get_str(struct baton_conf *x, const struct baton_yaml_node *n, const char *path,
		       size_t min, size_t max, const char *charset, bool raw, char *dst,
		       size_t dstlen)
{
	struct baton_conf_expanded e;
	int rv;

	rv = baton_conf_expand(x, n, path, raw, &e);
	if (rv != 0)
		return rv;
	rv = baton_yaml_get_str(x->doc, e.node, path, min, max, charset, dst, dstlen, x->errbuf,
				x->errlen);
	if (rv != 0)
		conf_note_expanded(x, &e);
	baton_conf_expanded_free(&e);
	return rv;
}

/* ------------------------------------------------------------------------ */
/* Values */

static int conf_set_scalar(struct baton_conf *x, const struct baton_conftab_key *k,
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

	if (k->type >= BATON_CONF_CUSTOM)
		return x->t->set_custom(x, k, n, path, base);
	switch ((enum baton_conf_type)k->type) {
	case BATON_CONF_U64:
		rv = baton_yaml_get_u64(d, n, path, k->min, k->max, &v, x->errbuf, x->errlen);
		if (rv == 0)
			baton_conf_store_uint(dst, k->size, v);
		return rv;
	case BATON_CONF_DURATION:
		rv = baton_yaml_get_duration_ms(d, n, path, k->min, k->max, &v, x->errbuf,
						x->errlen);
		if (rv == 0)
			baton_conf_store_uint(dst, k->size, v);
		return rv;
	case BATON_CONF_BOOL:
		rv = baton_yaml_get_bool(d, n, path, &b, x->errbuf, x->errlen);
		if (rv == 0)
			memcpy(dst, &b, sizeof b);
		return rv;
	case BATON_CONF_NAME:
		return baton_yaml_get_str(d, n, path, k->min, k->max, BATON_YAML_CHARSET_NAME, dst,
					  k->size, x->errbuf, x->errlen);
	case BATON_CONF_TEXT:
		return baton_yaml_get_str(d, n, path, k->min, k->max, NULL, dst, k->size,
					  x->errbuf, x->errlen);
	case BATON_CONF_PATH:
		rv = baton_yaml_get_str(d, n, path, k->min, k->max, NULL, dst, k->size, x->errbuf,
					x->errlen);
		if (rv == 0 && ((char *)dst)[0] != '\0' && ((char *)dst)[0] != '/')
			return baton_conf_fail(x, n->line, path, "must be an absolute path, got %s",
					       baton_conf_got(got, sizeof got, n));
		return rv;
	case BATON_CONF_ADDR:
		if (k->min == 0 && n->kind == BATON_YAML_SCALAR && n->len == 0) {
			((char *)dst)[0] = '\0';
			return 0;
		}
		return baton_yaml_get_ipv4_port(d, n, path, dst, k->size, x->errbuf, x->errlen);
	case BATON_CONF_IPV4:
		rv = baton_yaml_get_str(d, n, path, 0, k->size - 1, NULL, dst, k->size, x->errbuf,
					x->errlen);
		if (rv == 0 && inet_pton(AF_INET, dst, &a) != 1)
			return baton_conf_fail(x, n->line, path,
					       "must be an IPv4 address (a.b.c.d), got %s",
					       baton_conf_got(got, sizeof got, n));
		return rv;
	case BATON_CONF_CHOICE: {
		const char *words[16];
		char buf[256];
		size_t nw = baton_conf_split_choices(k->choices, buf, sizeof buf, words, 16);

		rv = baton_yaml_get_choice(d, n, path, words, nw, &idx, x->errbuf, x->errlen);
		if (rv == 0)
			baton_conf_store_uint(dst, k->size, idx);
		return rv;
	}
	default:
		return -EINVAL; /* UNTESTED: sections and lists never get here */
	}
}

/* A value from the file: substituted, then parsed. */
static int conf_set_value(struct baton_conf *x, const struct baton_conftab_key *k,
			  const struct baton_yaml_node *n, const char *path, char *base)
{
	struct baton_conf_expanded e;
	int rv;

	rv = baton_conf_expand(x, n, path, (k->flags & BATON_CONF_RAW) != 0, &e);
	if (rv != 0)
		return rv;
	rv = conf_set_scalar(x, k, e.node, path, base);
	if (rv == -EINVAL)
		conf_note_expanded(x, &e);
	baton_conf_expanded_free(&e);
	return rv;
}

/* ------------------------------------------------------------------------ */
/* The walker */

static int conf_walk(struct baton_conf *x, const char *tpath, const char *dpath,
		     const struct baton_yaml_node *map, unsigned line, char *base, unsigned idx,
		     int variant);

/* "http, tcp" for the variants in @mask of the selector @sel. */
static void conf_variants_text(const struct baton_conftab_key *sel, unsigned mask, char *out,
			       size_t outlen)
{
	const char *words[16];
	char buf[256];
	size_t n = baton_conf_split_choices(sel->choices, buf, sizeof buf, words, 16), o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && o < outlen; i++)
		if (mask & (1u << i))
			o += (size_t)snprintf(out + o, outlen - o, "%s%s", o > 0 ? ", " : "",
					      words[i]);
}

/* Read the selector @sel of list entry @item (display path @ipath) into
 * *@ret, and refuse keys of other variants. */
static int conf_entry_variant(struct baton_conf *x, const struct baton_conftab_key *sel,
			      const char *tpath, const char *ipath,
			      const struct baton_yaml_node *item, int *ret)
{
	const struct baton_conftab_key *all[CONF_MAX_KIDS];
	const struct baton_yaml_pair *sp = baton_yaml_map_find(item, baton_conf_leaf(sel->path));
	size_t na = baton_conf_children(x->t, tpath, -1, all, CONF_MAX_KIDS);
	char spath[CONF_PATH_LEN], names[256], buf[256];
	const char *words[16];
	size_t nw = baton_conf_split_choices(sel->choices, buf, sizeof buf, words, 16);
	struct baton_conf_expanded e;
	unsigned v;
	int rv;

	snprintf(spath, sizeof spath, "%s.%s", ipath, baton_conf_leaf(sel->path));
	if (sp == NULL || baton_yaml_is_null(sp->value)) {
		conf_variants_text(sel, ~0u, names, sizeof names);
		return baton_conf_fail(x, sp != NULL ? sp->line : item->line, spath,
				       "is required (one of %s)", names);
	}
	rv = baton_conf_expand(x, sp->value, spath, (sel->flags & BATON_CONF_RAW) != 0, &e);
	if (rv != 0)
		return rv;
	rv = baton_yaml_get_choice(x->doc, e.node, spath, words, nw, &v, x->errbuf, x->errlen);
	if (rv != 0)
		conf_note_expanded(x, &e);
	baton_conf_expanded_free(&e);
	if (rv != 0)
		return rv;
	for (size_t i = 0; i < item->n; i++) {
		const struct baton_yaml_pair *p = &item->pairs[i];

		for (size_t j = 0; j < na; j++) {
			char path[CONF_PATH_LEN];

			if (strcmp(baton_conf_leaf(all[j]->path), p->key) != 0 ||
			    all[j]->variants == 0 || (all[j]->variants & (1u << v)) != 0)
				continue;
			conf_variants_text(sel, all[j]->variants, names, sizeof names);
			snprintf(path, sizeof path, "%s.%s", ipath, p->key);
			return baton_conf_fail(x, p->line, path, "is a key of %s %ss; this %s is type %s",
					       names, x->t->variant_noun, x->t->variant_noun,
					       words[v]);
		}
	}
	*ret = (int)v;
	return 0;
}

static int conf_walk_list(struct baton_conf *x, const struct baton_conftab_key *k,
			  const char *path, const struct baton_yaml_node *n, unsigned kline,
			  char *base)
{
	const struct baton_conftab_key *kids[CONF_MAX_KIDS], *sel = NULL;
	char tp[CONF_PATH_LEN], got[128];
	unsigned count = n != NULL && n->kind == BATON_YAML_LIST ? (unsigned)n->n : 0;
	size_t nk;
	int rv;

	if (n != NULL && n->kind != BATON_YAML_LIST)
		return baton_conf_fail(x, kline, path, "must be a list, got %s",
				       baton_conf_got(got, sizeof got, n));
	if (n != NULL && (n->n < k->min || n->n > k->max)) {
		bool low = n->n < k->min;
		uint64_t b = low ? k->min : k->max;
		return baton_conf_fail(x, kline, path, "must have at %s %" PRIu64 " %s, got %zu",
				       low ? "least" : "most", b, b == 1 ? "entry" : "entries",
				       n->n);
	}
	memcpy(base + k->count_off, &count, sizeof count);
	snprintf(tp, sizeof tp, "%s[]", k->path);
	nk = baton_conf_children(x->t, tp, -1, kids, CONF_MAX_KIDS);
	for (size_t i = 0; i < nk && sel == NULL; i++)
		if (kids[i]->flags & BATON_CONF_SELECTOR)
			sel = kids[i];
	for (unsigned j = 0; j < count; j++) {
		const struct baton_yaml_node *item = n->items[j];
		char ipath[CONF_PATH_LEN];
		int variant = -1;

		snprintf(ipath, sizeof ipath, "%s[%u]", path, j);
		if (item->kind != BATON_YAML_MAP)
			return baton_conf_fail(x, item->line, ipath, "must be a map, got %s",
					       baton_yaml_is_null(item)
						       ? "nothing"
						       : baton_conf_got(got, sizeof got, item));
		/* The variant first: it decides which keys the entry may have. */
		if (sel != NULL) {
			rv = conf_entry_variant(x, sel, tp, ipath, item, &variant);
			if (rv != 0)
				return rv;
		}
		rv = conf_walk(x, tp, ipath, item, item->line, base + k->off + j * k->entry_size,
			       j, variant);
		if (rv != 0)
			return rv;
	}
	return 0;
}

/* Apply the keys under table path @tpath (of @variant, or -1) to @map (NULL
 * when the file has no such map: defaults only). @dpath names the map in
 * messages, @line is where a missing key is reported (the line of the map's
 * own key, or of the list entry), @base is the struct the keys' offsets refer
 * to and @idx the list entry number (for the lines). Lines recorded and
 * reported for a key are the key's line; scalar getters report the value's
 * line (the same line unless a flow collection spans lines). */
static int conf_walk(struct baton_conf *x, const char *tpath, const char *dpath,
		     const struct baton_yaml_node *map, unsigned line, char *base, unsigned idx,
		     int variant)
{
	const struct baton_conftab *t = x->t;
	const struct baton_conftab_key *kids[CONF_MAX_KIDS];
	const char *names[CONF_MAX_KIDS] = { NULL };
	size_t nk = baton_conf_children(t, tpath, variant, kids, CONF_MAX_KIDS);
	int rv;

	for (size_t i = 0; i < nk; i++)
		names[i] = baton_conf_leaf(kids[i]->path);
	if (map != NULL) {
		rv = baton_yaml_check_keys(x->doc, map, dpath, names, nk, x->errbuf, x->errlen);
		if (rv != 0)
			return rv;
	}
	for (size_t i = 0; i < nk; i++) {
		const struct baton_conftab_key *k = kids[i];
		const struct baton_yaml_pair *p = baton_yaml_map_find(map, names[i]);
		const struct baton_yaml_node *n = NULL;
		unsigned kline = line;
		char path[CONF_PATH_LEN], got[128];

		if (p != NULL) {
			kline = p->line;
			if (!baton_yaml_is_null(p->value))
				n = p->value;
		}
		if (dpath[0] != '\0')
			snprintf(path, sizeof path, "%s.%s", dpath, names[i]);
		else
			snprintf(path, sizeof path, "%s", names[i]);
		x->lines[(size_t)(k - t->keys) * t->list_max + (idx < t->list_max ? idx : 0)] = kline;
		if (n == NULL && k->required) {
			if (k->flags & BATON_CONF_SELECTOR)
				continue; /* conf_walk_list read it already */
			return baton_conf_fail(x, kline, path, "is required");
		}
		switch (k->type) {
		case BATON_CONF_SECTION:
			if (n == NULL && (k->flags & BATON_CONF_WHOLE))
				break; /* an optional section that is absent stays zero */
			if (n != NULL && n->kind != BATON_YAML_MAP)
				return baton_conf_fail(x, kline, path, "must be a map, got %s",
						       baton_conf_got(got, sizeof got, n));
			if (n != NULL && (k->flags & BATON_CONF_WHOLE) && k->size == sizeof(bool)) {
				bool present = true;
				memcpy(base + k->off, &present, sizeof present);
			}
			rv = conf_walk(x, k->path, path, n, kline, base, idx, variant);
			break;
		case BATON_CONF_LIST:
			rv = conf_walk_list(x, k, path, n, kline, base);
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
				rv = conf_set_scalar(x, k, &def, path, base);
			} else if (n != NULL) {
				rv = conf_set_value(x, k, n, path, base);
			} else {
				rv = 0; /* optional without default: stays zero / "" */
			}
			break;
		}
		if (rv != 0)
			return rv;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Loading */

static int conf_from_doc(const struct baton_conftab *t, const struct baton_yaml_doc *doc,
			 void *ret, char *errbuf, size_t errlen)
{
	struct baton_conf *x;
	char *cfg, got[128];
	int rv;

	if (doc->root == NULL || baton_yaml_is_null(doc->root)) {
		baton_yaml_errorf(errbuf, errlen, doc, 1, NULL, "the file is empty; %s", t->empty);
		return -EINVAL;
	}
	if (doc->root->kind != BATON_YAML_MAP) {
		baton_yaml_errorf(errbuf, errlen, doc, doc->root->line, NULL,
				  "the top level must be a map %s, got %s", t->top,
				  baton_conf_got(got, sizeof got, doc->root));
		return -EINVAL;
	}
	/* The configs are a few KiB or more: keep them off the caller's stack. */
	cfg = calloc(1, t->struct_size);
	x = calloc(1, sizeof *x);
	if (x != NULL)
		x->lines = calloc(t->n_keys * t->list_max, sizeof *x->lines);
	if (cfg == NULL || x == NULL || x->lines == NULL) {
		free(cfg); /* UNTESTED */
		if (x != NULL)
			free(x->lines);
		free(x);
		if (errlen > 0)
			snprintf(errbuf, errlen, "%s: out of memory", doc->name);
		return -ENOMEM;
	}
	x->t = t;
	x->doc = doc;
	x->errbuf = errbuf;
	x->errlen = errlen;
	rv = conf_walk(x, "", "", doc->root, doc->root->line, cfg, 0, -1);
	if (rv == 0 && t->check != NULL)
		rv = t->check(x, cfg);
	if (rv == 0)
		memcpy(ret, cfg, t->struct_size);
	free(x->lines);
	free(x);
	free(cfg);
	return rv;
}

int baton_conf_load_string(const struct baton_conftab *t, const char *name, const char *yaml,
			   size_t len, void *ret, char *errbuf, size_t errlen)
{
	struct baton_yaml_doc *doc;
	int rv;

	rv = baton_yaml_parse(name, yaml, len, &doc, errbuf, errlen);
	if (rv != 0)
		return rv;
	rv = conf_from_doc(t, doc, ret, errbuf, errlen);
	baton_yaml_free(doc);
	return rv;
}

int baton_conf_load_file(const struct baton_conftab *t, const char *path, void *ret,
			 char *errbuf, size_t errlen)
{
	struct baton_yaml_doc *doc;
	int rv;

	rv = baton_yaml_load_file(path, &doc, errbuf, errlen);
	if (rv != 0)
		return rv;
	rv = conf_from_doc(t, doc, ret, errbuf, errlen);
	baton_yaml_free(doc);
	return rv;
}
