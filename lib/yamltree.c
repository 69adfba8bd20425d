/* SPDX-License-Identifier: MIT */
/* libyaml events -> struct baton_yaml_node tree, and the typed getters.
 *
 * The builder keeps a stack of the maps and lists still open. Every new node is
 * attached to the top of the stack at once, so the tree under doc->root owns
 * everything allocated so far and one baton_yaml_free() cleans up after an
 * error at any point. In a map the first scalar of each pair becomes the key
 * (its node is dropped, its text kept) and the next node the value. Duplicate
 * keys are found when the map closes, by sorting its keys (a map may have
 * tens of thousands of keys in a hostile file, so no quadratic scan). */
#include "yamltree.h"

#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

struct yt_frame {
	struct baton_yaml_node *node; /* the open map or list */
	size_t cap;                   /* allocated pairs / items */
	bool have_key;                /* map: key read, its value not yet */
};

struct yt_builder {
	struct baton_yaml_doc *doc;
	const char *text;
	size_t len;
	struct yt_frame stack[BATON_YAML_MAX_DEPTH];
	int depth;
	size_t nodes;
	int documents;
	char *errbuf;
	size_t errlen;
};

/* ------------------------------------------------------------------------ */
/* Messages */

static void yt_set_err(char *errbuf, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void yt_set_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

void baton_yaml_errorf(char *errbuf, size_t errlen, const struct baton_yaml_doc *doc,
		       unsigned line, const char *path, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (errbuf == NULL || errlen == 0)
		return;
	if (path != NULL && path[0] != '\0')
		k = snprintf(errbuf, errlen, "%s:%u: %s: ", doc->name, line, path);
	else
		k = snprintf(errbuf, errlen, "%s:%u: ", doc->name, line);
	if (k < 0 || (size_t)k >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf + k, errlen - (size_t)k, fmt, ap);
	va_end(ap);
}

/* Quote @len bytes of @s: printable ASCII as is, everything else as \xNN. */
static char *yt_quote_bytes(char *out, size_t outlen, const char *s, size_t len)
{
	size_t o = 0;

	if (outlen == 0)
		return out;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t need = (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : 4;

		if (o + need + 4 > outlen) {
			if (o + 4 <= outlen) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 1)
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
	}
	out[o < outlen ? o : outlen - 1] = '\0';
	return out;
}

char *baton_yaml_quote(char *out, size_t outlen, const struct baton_yaml_node *n)
{
	if (n->kind != BATON_YAML_SCALAR) {
		snprintf(out, outlen, "<%s>", baton_yaml_kind_name(n->kind));
		return out;
	}
	return yt_quote_bytes(out, outlen, n->str, n->len);
}

const char *baton_yaml_kind_name(enum baton_yaml_kind kind)
{
	switch (kind) {
	case BATON_YAML_SCALAR:
		return "scalar";
	case BATON_YAML_MAP:
		return "map";
	case BATON_YAML_LIST:
		return "list";
	default:
		return "?";
	}
}

/* ------------------------------------------------------------------------ */
/* Tree */

static void yt_node_free(struct baton_yaml_node *n)
{
	if (n == NULL)
		return;
	switch (n->kind) {
	case BATON_YAML_SCALAR:
		free((char *)n->str);
		break;
	case BATON_YAML_MAP:
		for (size_t i = 0; i < n->n; i++) {
			free((char *)n->pairs[i].key);
			yt_node_free(n->pairs[i].value);
		}
		free(n->pairs);
		break;
	case BATON_YAML_LIST:
		for (size_t i = 0; i < n->n; i++)
			yt_node_free(n->items[i]);
		free(n->items);
		break;
	default:
		break;
	}
	free(n);
}

void baton_yaml_free(struct baton_yaml_doc *doc)
{
	if (doc == NULL)
		return;
	yt_node_free(doc->root);
	free(doc->name);
	free(doc);
}

bool baton_yaml_is_null(const struct baton_yaml_node *n)
{
	if (n == NULL || n->kind != BATON_YAML_SCALAR || !n->plain)
		return false;
	return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
	       strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

const struct baton_yaml_pair *baton_yaml_map_find(const struct baton_yaml_node *map,
						  const char *key)
{
	size_t klen = strlen(key);

	if (map == NULL || map->kind != BATON_YAML_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++) {
		const struct baton_yaml_pair *p = &map->pairs[i];
		if (p->key_len == klen && memcmp(p->key, key, klen) == 0)
			return p;
	}
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Builder */

static void yt_parse_err(struct yt_builder *b, yaml_mark_t mark, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void yt_parse_err(struct yt_builder *b, yaml_mark_t mark, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (b->errbuf == NULL || b->errlen == 0)
		return;
	k = snprintf(b->errbuf, b->errlen, "%s:%zu:%zu: ", b->doc->name, mark.line + 1,
		     mark.column + 1);
	if (k < 0 || (size_t)k >= b->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(b->errbuf + k, b->errlen - (size_t)k, fmt, ap);
	va_end(ap);
}

/* The dotted path of the open collection at stack level @level, e.g.
 * "cluster.members[2]". */
static void yt_stack_path(const struct yt_builder *b, int level, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < level && o + 1 < outlen; i++) {
		const struct baton_yaml_node *parent = b->stack[i].node;
		char key[128];

		if (parent->kind == BATON_YAML_MAP && parent->n > 0) {
			const struct baton_yaml_pair *p = &parent->pairs[parent->n - 1];
			yt_quote_bytes(key, sizeof key, p->key, p->key_len);
			o += (size_t)snprintf(out + o, outlen - o, "%s%s", o > 0 ? "." : "", key);
		} else if (parent->kind == BATON_YAML_LIST && parent->n > 0) {
			o += (size_t)snprintf(out + o, outlen - o, "[%zu]", parent->n - 1);
		}
	}
}

static int yt_cmp_pair_ptr(const void *a, const void *b)
{
	const struct baton_yaml_pair *x = *(const struct baton_yaml_pair *const *)a;
	const struct baton_yaml_pair *y = *(const struct baton_yaml_pair *const *)b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);

	if (c != 0)
		return c;
	if (x->key_len != y->key_len)
		return x->key_len < y->key_len ? -1 : 1;
	/* Same key: file order, so the later one is reported. */
	return x < y ? -1 : (x > y ? 1 : 0);
}

/* Called when the map on top of the stack closes. */
static int yt_check_duplicates(struct yt_builder *b)
{
	const struct baton_yaml_node *map = b->stack[b->depth - 1].node;
	const struct baton_yaml_pair **sorted;
	const struct baton_yaml_pair *dup = NULL, *first = NULL;

	if (map->n < 2)
		return 0;
	sorted = malloc(map->n * sizeof(*sorted));
	if (sorted == NULL) {
		yt_set_err(b->errbuf, b->errlen, "%s: out of memory", b->doc->name);
		return -ENOMEM;
	}
	for (size_t i = 0; i < map->n; i++)
		sorted[i] = &map->pairs[i];
	qsort(sorted, map->n, sizeof(*sorted), yt_cmp_pair_ptr);
	for (size_t i = 1; i < map->n; i++) {
		const struct baton_yaml_pair *x = sorted[i - 1], *y = sorted[i];
		if (x->key_len == y->key_len && memcmp(x->key, y->key, x->key_len) == 0) {
			/* equal keys sort in file order, so @y is a repeat; report
			 * the repeat that comes first in the file */
			if (dup == NULL || y < dup)
				dup = y;
		}
	}
	if (dup != NULL) {
		char path[512], key[128];
		size_t o;

		/* @first must be the earliest occurrence of that key. */
		for (size_t i = 0; i < map->n; i++) {
			if (map->pairs[i].key_len == dup->key_len &&
			    memcmp(map->pairs[i].key, dup->key, dup->key_len) == 0) {
				first = &map->pairs[i];
				break;
			}
		}
		yt_stack_path(b, b->depth - 1, path, sizeof path);
		o = strlen(path);
		yt_quote_bytes(key, sizeof key, dup->key, dup->key_len);
		snprintf(path + o, sizeof path - o, "%s%s", o > 0 ? "." : "", key);
		baton_yaml_errorf(b->errbuf, b->errlen, b->doc, dup->line, path,
				  "duplicate key (first at line %u)", first->line);
		free(sorted);
		return -EINVAL;
	}
	free(sorted);
	return 0;
}

static int yt_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap == 0 ? 4 : *cap * 2;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * elem);
	if (p == NULL)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Hang @n under the top of the stack (or make it the root). Takes ownership of
 * @n even on failure. */
static int yt_attach(struct yt_builder *b, struct baton_yaml_node *n, yaml_mark_t mark)
{
	struct yt_frame *top;

	if (b->depth == 0) {
		if (b->doc->root != NULL) {
			yt_node_free(n);
			yt_parse_err(b, mark, "unexpected second root node");
			return -EINVAL; /* UNTESTED: libyaml never emits this */
		}
		b->doc->root = n;
		return 0;
	}
	top = &b->stack[b->depth - 1];
	if (top->node->kind == BATON_YAML_LIST) {
		if (yt_grow((void **)&top->node->items, &top->cap, top->node->n + 1,
			    sizeof(*top->node->items)) != 0) {
			yt_node_free(n);
			goto oom;
		}
		top->node->items[top->node->n++] = n;
		return 0;
	}
	if (top->have_key) {
		top->node->pairs[top->node->n - 1].value = n;
		top->have_key = false;
		return 0;
	}
	if (n->kind != BATON_YAML_SCALAR) {
		enum baton_yaml_kind kind = n->kind;

		yt_node_free(n);
		yt_parse_err(b, mark, "map keys must be plain scalars, not a %s",
			     baton_yaml_kind_name(kind));
		return -EINVAL;
	}
	if (yt_grow((void **)&top->node->pairs, &top->cap, top->node->n + 1,
		    sizeof(*top->node->pairs)) != 0) {
		yt_node_free(n);
		goto oom;
	}
	top->node->pairs[top->node->n++] = (struct baton_yaml_pair){
		.key = n->str,
		.key_len = n->len,
		.line = n->line,
		.col = n->col,
		.value = NULL,
	};
	free(n); /* the key keeps the text */
	top->have_key = true;
	return 0;

oom:
	yt_set_err(b->errbuf, b->errlen, "%s: out of memory", b->doc->name);
	return -ENOMEM;
}

static struct baton_yaml_node *yt_new_node(struct yt_builder *b, enum baton_yaml_kind kind,
					   yaml_mark_t mark)
{
	struct baton_yaml_node *n;

	if (b->nodes >= BATON_YAML_MAX_NODES) {
		yt_parse_err(b, mark, "more than %d nodes", BATON_YAML_MAX_NODES);
		errno = EINVAL;
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL) {
		yt_set_err(b->errbuf, b->errlen, "%s: out of memory", b->doc->name);
		errno = ENOMEM;
		return NULL;
	}
	b->nodes++;
	n->kind = kind;
	n->line = (unsigned)mark.line + 1;
	n->col = (unsigned)mark.column + 1;
	return n;
}

/* Anchors, aliases and tags would let a value mean something other than what
 * is written where it is used; a failover config is read by humans first. */
static int yt_refuse_extras(struct yt_builder *b, const yaml_event_t *ev,
			    const yaml_char_t *anchor, const yaml_char_t *tag)
{
	if (anchor != NULL) {
		yt_parse_err(b, ev->start_mark,
			     "anchors and aliases are not supported (anchor '&%.64s'); write the value out",
			     (const char *)anchor);
		return -EINVAL;
	}
	if (tag != NULL) {
		yt_parse_err(b, ev->start_mark, "tags are not supported (tag '%.64s')",
			     (const char *)tag);
		return -EINVAL;
	}
	return 0;
}

static int yt_on_scalar(struct yt_builder *b, const yaml_event_t *ev)
{
	struct baton_yaml_node *n;
	char *s;
	int rv;

	rv = yt_refuse_extras(b, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
	if (rv != 0)
		return rv;
	n = yt_new_node(b, BATON_YAML_SCALAR, ev->start_mark);
	if (n == NULL)
		return -errno;
	s = malloc(ev->data.scalar.length + 1);
	if (s == NULL) {
		free(n);
		yt_set_err(b->errbuf, b->errlen, "%s: out of memory", b->doc->name);
		return -ENOMEM;
	}
	if (ev->data.scalar.length > 0)
		memcpy(s, ev->data.scalar.value, ev->data.scalar.length);
	s[ev->data.scalar.length] = '\0';
	n->str = s;
	n->len = ev->data.scalar.length;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	return yt_attach(b, n, ev->start_mark);
}

static int yt_on_start(struct yt_builder *b, const yaml_event_t *ev, enum baton_yaml_kind kind)
{
	struct baton_yaml_node *n;
	int rv;

	if (kind == BATON_YAML_MAP)
		rv = yt_refuse_extras(b, ev, ev->data.mapping_start.anchor,
				      ev->data.mapping_start.tag);
	else
		rv = yt_refuse_extras(b, ev, ev->data.sequence_start.anchor,
				      ev->data.sequence_start.tag);
	if (rv != 0)
		return rv;
	if (b->depth >= BATON_YAML_MAX_DEPTH) {
		yt_parse_err(b, ev->start_mark, "nesting deeper than %d levels",
			     BATON_YAML_MAX_DEPTH);
		return -EINVAL;
	}
	n = yt_new_node(b, kind, ev->start_mark);
	if (n == NULL)
		return -errno;
	rv = yt_attach(b, n, ev->start_mark);
	if (rv != 0)
		return rv;
	b->stack[b->depth++] = (struct yt_frame){ .node = n };
	return 0;
}

static int yt_on_end(struct yt_builder *b)
{
	int rv = 0;

	if (b->depth == 0)
		return -EINVAL; /* UNTESTED: libyaml balances start/end events */
	if (b->stack[b->depth - 1].node->kind == BATON_YAML_MAP)
		rv = yt_check_duplicates(b);
	b->depth--;
	return rv;
}

/* Line and column of byte @offset, for reader errors (libyaml gives no mark). */
static void yt_offset_mark(const struct yt_builder *b, size_t offset, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < offset && i < b->len; i++) {
		if (b->text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int yt_libyaml_err(struct yt_builder *b, const yaml_parser_t *p)
{
	const char *problem = p->problem != NULL ? p->problem : "invalid YAML";
	size_t line, col;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		yt_set_err(b->errbuf, b->errlen, "%s: out of memory", b->doc->name);
		return -ENOMEM;
	case YAML_READER_ERROR:
		yt_offset_mark(b, p->problem_offset, &line, &col);
		if (p->problem_value != -1)
			yt_set_err(b->errbuf, b->errlen, "%s:%zu:%zu: %s (byte 0x%x)", b->doc->name,
				   line, col, problem, (unsigned)p->problem_value);
		else
			yt_set_err(b->errbuf, b->errlen, "%s:%zu:%zu: %s", b->doc->name, line, col,
				   problem);
		return -EINVAL;
	default:
		if (p->context != NULL)
			yt_set_err(b->errbuf, b->errlen, "%s:%zu:%zu: %s (%s at line %zu)",
				   b->doc->name, p->problem_mark.line + 1,
				   p->problem_mark.column + 1, problem, p->context,
				   p->context_mark.line + 1);
		else
			yt_set_err(b->errbuf, b->errlen, "%s:%zu:%zu: %s", b->doc->name,
				   p->problem_mark.line + 1, p->problem_mark.column + 1, problem);
		return -EINVAL;
	}
}

static int yt_run(struct yt_builder *b, yaml_parser_t *p)
{
	for (;;) {
		yaml_event_t ev;
		int rv = 0;
		bool done = false;

		if (!yaml_parser_parse(p, &ev))
			return yt_libyaml_err(b, p);
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (++b->documents > 1) {
				yt_parse_err(b, ev.start_mark,
					     "more than one YAML document in the file");
				rv = -EINVAL;
			}
			break;
		case YAML_ALIAS_EVENT:
			yt_parse_err(b, ev.start_mark,
				     "anchors and aliases are not supported (alias '*%.64s'); write the value out",
				     (const char *)ev.data.alias.anchor);
			rv = -EINVAL;
			break;
		case YAML_SCALAR_EVENT:
			rv = yt_on_scalar(b, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			rv = yt_on_start(b, &ev, BATON_YAML_LIST);
			break;
		case YAML_MAPPING_START_EVENT:
			rv = yt_on_start(b, &ev, BATON_YAML_MAP);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			rv = yt_on_end(b);
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (rv != 0)
			return rv;
		if (done)
			return 0;
	}
}

int baton_yaml_parse(const char *name, const char *text, size_t len,
		     struct baton_yaml_doc **ret_doc, char *errbuf, size_t errlen)
{
	struct yt_builder b = { .text = text, .len = len, .errbuf = errbuf, .errlen = errlen };
	yaml_parser_t p;
	int rv;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (len > BATON_YAML_MAX_BYTES) {
		yt_set_err(errbuf, errlen, "%s: file too large (%zu bytes, limit %d)", name, len,
			   BATON_YAML_MAX_BYTES);
		return -EFBIG;
	}
	b.doc = calloc(1, sizeof(*b.doc));
	if (b.doc == NULL || (b.doc->name = strdup(name)) == NULL) {
		free(b.doc);
		yt_set_err(errbuf, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	if (!yaml_parser_initialize(&p)) {
		baton_yaml_free(b.doc); /* UNTESTED: only fails on OOM */
		yt_set_err(errbuf, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)(len > 0 ? text : ""), len);
	rv = yt_run(&b, &p);
	yaml_parser_delete(&p);
	if (rv != 0) {
		baton_yaml_free(b.doc);
		return rv;
	}
	*ret_doc = b.doc;
	return 0;
}

int baton_yaml_load_file(const char *path, struct baton_yaml_doc **ret_doc, char *errbuf,
			 size_t errlen)
{
	struct stat st;
	size_t len = 0;
	char *buf;
	int fd, rv;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rv = -errno;
		yt_set_err(errbuf, errlen, "%s: cannot open: %s", path, strerror(-rv));
		return rv;
	}
	if (fstat(fd, &st) != 0) {
		rv = -errno; /* UNTESTED */
		yt_set_err(errbuf, errlen, "%s: cannot stat: %s", path, strerror(-rv));
		close(fd);
		return rv;
	}
	if (S_ISDIR(st.st_mode)) {
		yt_set_err(errbuf, errlen, "%s: cannot read: %s", path, strerror(EISDIR));
		close(fd);
		return -EISDIR;
	}
	if (S_ISREG(st.st_mode) && st.st_size > BATON_YAML_MAX_BYTES) {
		yt_set_err(errbuf, errlen, "%s: file too large (%lld bytes, limit %d)", path,
			   (long long)st.st_size, BATON_YAML_MAX_BYTES);
		close(fd);
		return -EFBIG;
	}
	/* Read at most one byte past the limit, so a file that grew (or a pipe)
	 * cannot make us read without bound. */
	buf = malloc(BATON_YAML_MAX_BYTES + 1);
	if (buf == NULL) {
		close(fd);
		yt_set_err(errbuf, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	while (len < BATON_YAML_MAX_BYTES + 1) {
		ssize_t k = read(fd, buf + len, BATON_YAML_MAX_BYTES + 1 - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rv = -errno;
			yt_set_err(errbuf, errlen, "%s: cannot read: %s", path, strerror(-rv));
			free(buf);
			close(fd);
			return rv;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	close(fd);
	rv = baton_yaml_parse(path, buf, len, ret_doc, errbuf, errlen);
	free(buf);
	return rv;
}

/* ------------------------------------------------------------------------ */
/* Keys */

static size_t yt_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[65];

	if (la > 64 || lb > 64)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *baton_yaml_suggest(const char *word, const char *const *cands, size_t n)
{
	size_t len = strlen(word);
	size_t limit = len < 4 ? 1 : (len < 9 ? 2 : len / 3);
	size_t best = (size_t)-1;
	const char *pick = NULL;

	for (size_t i = 0; i < n; i++) {
		size_t d = yt_edit_distance(word, cands[i]);
		if (d <= limit && d < best) {
			best = d;
			pick = cands[i];
		}
	}
	return pick;
}

int baton_yaml_check_keys(const struct baton_yaml_doc *doc, const struct baton_yaml_node *map,
			  const char *path, const char *const *known, size_t n_known,
			  char *errbuf, size_t errlen)
{
	for (size_t i = 0; i < map->n; i++) {
		const struct baton_yaml_pair *p = &map->pairs[i];
		const char *hint;
		char key[128], full[512];
		bool found = false;

		for (size_t j = 0; j < n_known && !found; j++)
			found = strlen(known[j]) == p->key_len &&
				memcmp(known[j], p->key, p->key_len) == 0;
		if (found)
			continue;
		yt_quote_bytes(key, sizeof key, p->key, p->key_len);
		if (path != NULL && path[0] != '\0')
			snprintf(full, sizeof full, "%s.%s", path, key);
		else
			snprintf(full, sizeof full, "%s", key);
		hint = strlen(p->key) == p->key_len ? baton_yaml_suggest(p->key, known, n_known)
						    : NULL;
		if (hint != NULL)
			baton_yaml_errorf(errbuf, errlen, doc, p->line, full,
					  "unknown key (did you mean '%s'?)", hint);
		else
			baton_yaml_errorf(errbuf, errlen, doc, p->line, full, "unknown key");
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Getters */

/* "'text'", "nothing" (null) or "a map" / "a list": what a message says was found. */
static const char *yt_got(char *out, size_t outlen, const struct baton_yaml_node *n)
{
	char q[96];

	if (n->kind == BATON_YAML_MAP)
		return "a map";
	if (n->kind == BATON_YAML_LIST)
		return "a list";
	if (baton_yaml_is_null(n))
		return "nothing";
	snprintf(out, outlen, "'%s'", baton_yaml_quote(q, sizeof q, n));
	return out;
}

/* @n is a scalar without NUL bytes, or -EINVAL with "must be <what>, got ...". */
static int yt_expect_text(const struct baton_yaml_doc *doc, const struct baton_yaml_node *n,
			  const char *path, const char *what, char *errbuf, size_t errlen)
{
	char got[128];

	if (n->kind != BATON_YAML_SCALAR || strlen(n->str) != n->len) {
		baton_yaml_errorf(errbuf, errlen, doc, n->line, path, "must be %s, got %s", what,
				  n->kind != BATON_YAML_SCALAR ? yt_got(got, sizeof got, n)
							       : "a value with a NUL byte");
		return -EINVAL;
	}
	return 0;
}

/* Digits only, no leading zero (except "0"). Returns the number of digits
 * consumed (0 if none) and sets *@overflow when the value does not fit. */
static size_t yt_scan_u64(const char *s, uint64_t *ret, bool *overflow)
{
	uint64_t v = 0;
	size_t i = 0;

	*overflow = false;
	if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
		return 0;
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			*overflow = true;
		else
			v = v * 10 + d;
	}
	*ret = v;
	return i;
}

int baton_yaml_get_u64(const struct baton_yaml_doc *doc, const struct baton_yaml_node *n,
		       const char *path, uint64_t min, uint64_t max, uint64_t *ret,
		       char *errbuf, size_t errlen)
{
	char got[128];
	uint64_t v;
	bool overflow;
	size_t k;
	int rv;

	rv = yt_expect_text(doc, n, path, "an integer", errbuf, errlen);
	if (rv != 0)
		return rv;
	k = yt_scan_u64(n->str, &v, &overflow);
	if (k == 0 || n->str[k] != '\0') {
		baton_yaml_errorf(errbuf, errlen, doc, n->line, path, "must be an integer, got %s",
				  yt_got(got, sizeof got, n));
		return -EINVAL;
	}
	if (overflow || v > max) {
		baton_yaml_errorf(errbuf, errlen, doc, n->line, path, "must be at most %llu, got %s",
				  (unsigned long long)max, n->str);
		return -EINVAL;
	}
	if (v < min) {
		baton_yaml_errorf(errbuf, errlen, doc, n->line, path, "must be at least %llu, got %s",
				  (unsigned long long)min, n->str);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

int baton_yaml_get_duration_ms(const struct baton_yaml_doc *doc, const struct baton_yaml_node *n,
			       const char *path, uint64_t min_ms, uint64_t max_ms,
			       uint64_t *ret_ms, char *errbuf, size_t errlen)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = { { "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
	char got[128];
	uint64_t v;
	bool overflow, known = false;
	size_t k;
	int rv;

	rv = yt_expect_text(doc, n, path, "a duration", errbuf, errlen);
	if (rv != 0)
		return rv;
	k = yt_scan_u64(n->str, &v, &overflow);
	for (size_t i = 0; k > 0 && i < BATON_ARRAY_SIZE(units) && !known; i++) {
		if (strcmp(n->str + k, units[i].unit) != 0)
			continue;
		known = true;
		if (!overflow && v > UINT64_MAX / units[i].ms)
			overflow = true;
		else
			v *= units[i].ms;
	}
	if (!known) {
		baton_yaml_errorf(errbuf, errlen, doc, n->line, path,
				  "must be a duration in milliseconds, or with a unit ms, s, m or h (e.g. 1500, 2s), got %s",
				  yt_got(got, sizeof got, n));
		return -EINVAL;
	}
	if (overflow || v > max_ms) {
		baton_yaml_errorf(errbuf, errlen, doc, n->line, path,
				  "must be at most %llu (ms), got %s", (unsigned long long)max_ms,
				  n->str);
		return -EINVAL;
	}
	if (v < min_ms) {
		baton_yaml_errorf(errbuf, errlen, doc, n->line, path,
				  "must be at least %llu (ms), got %s", (unsigned long long)min_ms,
				  n->str);
		return -EINVAL;
	}
	*ret_ms = v;
	return 0;
}

int baton_yaml_get_bool(const struct baton_yaml_doc *doc, const struct baton_yaml_node *n,
			const char *path, bool *ret, char *errbuf, size_t errlen)
{
	char got[128];
	int rv;

	rv = yt_expect_text(doc, n, path, "true or false", errbuf, errlen);
	if (rv != 0)
		return rv;
	if (strcmp(n->str, "true") == 0) {
		*ret = true;
		return 0;
	}
	if (strcmp(n->str, "false") == 0) {
		*ret = false;
		return 0;
	}
	baton_yaml_errorf(errbuf, errlen, doc, n->line, path, "must be true or false, got %s",
			  yt_got(got, sizeof got, n));
	return -EINVAL;
}

/* "abcdefghijklmnopqrstuvwxyz0123456789-" -> "[a-z0-9-]". */
static void yt_charset_desc(const char *set, char *out, size_t outlen)
{
	size_t o = 0, len = strlen(set);
	bool dash = false;

	out[o++] = '[';
	for (size_t i = 0; i < len && o + 6 < outlen;) {
		size_t j = i;

		if (set[i] == '-') {
			dash = true;
			i++;
			continue;
		}
		while (j + 1 < len && set[j + 1] == set[j] + 1 && set[j + 1] != '-')
			j++;
		if (j - i >= 2) {
			out[o++] = set[i];
			out[o++] = '-';
			out[o++] = set[j];
		} else {
			for (size_t k = i; k <= j; k++)
				out[o++] = set[k];
		}
		i = j + 1;
	}
	if (dash)
		out[o++] = '-';
	out[o++] = ']';
	out[o] = '\0';
}

int baton_yaml_get_str(const struct baton_yaml_doc *doc, const struct baton_yaml_node *n,
		       const char *path, size_t min_len, size_t max_len, const char *charset,
		       char *ret, size_t retsize, char *errbuf, size_t errlen)
{
	char got[128];
	int rv;

	rv = yt_expect_text(doc, n, path, "a string", errbuf, errlen);
	if (rv != 0)
		return rv;
	if (max_len >= retsize)
		max_len = retsize - 1;
	if (n->len < min_len) {
		if (min_len == 1)
			baton_yaml_errorf(errbuf, errlen, doc, n->line, path, "must not be empty");
		else
			baton_yaml_errorf(errbuf, errlen, doc, n->line, path,
					  "must be at least %zu characters, got %zu", min_len,
					  n->len);
		return -EINVAL;
	}
	if (n->len > max_len) {
		baton_yaml_errorf(errbuf, errlen, doc, n->line, path,
				  "must be at most %zu characters, got %zu", max_len, n->len);
		return -EINVAL;
	}
	for (size_t i = 0; i < n->len; i++) {
		unsigned char c = (unsigned char)n->str[i];

		if (c < 0x20 || c == 0x7f) {
			baton_yaml_errorf(errbuf, errlen, doc, n->line, path,
					  "must not contain control characters, got %s",
					  yt_got(got, sizeof got, n));
			return -EINVAL;
		}
		if (charset != NULL && strchr(charset, c) == NULL) {
			char desc[96];
			yt_charset_desc(charset, desc, sizeof desc);
			baton_yaml_errorf(errbuf, errlen, doc, n->line, path,
					  "must contain only %s, got %s", desc,
					  yt_got(got, sizeof got, n));
			return -EINVAL;
		}
	}
	memcpy(ret, n->str, n->len + 1);
	return 0;
}

int baton_yaml_get_ipv4_port(const struct baton_yaml_doc *doc, const struct baton_yaml_node *n,
			     const char *path, char *ret, size_t retsize,
			     char *errbuf, size_t errlen)
{
	char host[INET_ADDRSTRLEN], got[128];
	const char *colon;
	int port, rv;

	rv = yt_expect_text(doc, n, path, "an IPv4 address and port", errbuf, errlen);
	if (rv != 0)
		return rv;
	/* baton_parse_ipv4_port() uses strtol, which would also take " 7001"
	 * or "+7001": insist on digits. */
	colon = strrchr(n->str, ':');
	if (colon == NULL || colon[1] == '\0' || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    strlen(colon + 1) > 5 ||
	    baton_parse_ipv4_port(n->str, host, sizeof host, &port) != 0) {
		baton_yaml_errorf(errbuf, errlen, doc, n->line, path,
				  "must be an IPv4 address and port like 127.0.0.1:7001 (no host names, no IPv6), got %s",
				  yt_got(got, sizeof got, n));
		return -EINVAL;
	}
	if (retsize < BATON_YAML_ADDR_LEN)
		return -EINVAL; /* programming error */
	snprintf(ret, retsize, "%s:%d", host, port);
	return 0;
}

int baton_yaml_get_choice(const struct baton_yaml_doc *doc, const struct baton_yaml_node *n,
			  const char *path, const char *const *choices, size_t n_choices,
			  unsigned *ret, char *errbuf, size_t errlen)
{
	char list[256], got[128];
	size_t o = 0;
	int rv;

	rv = yt_expect_text(doc, n, path, "a word", errbuf, errlen);
	if (rv != 0)
		return rv;
	for (size_t i = 0; i < n_choices; i++) {
		if (strcmp(n->str, choices[i]) == 0) {
			*ret = (unsigned)i;
			return 0;
		}
	}
	list[0] = '\0';
	for (size_t i = 0; i < n_choices && o < sizeof list; i++)
		o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i > 0 ? ", " : "",
				      choices[i]);
	baton_yaml_errorf(errbuf, errlen, doc, n->line, path, "must be one of %s, got %s", list,
			  yt_got(got, sizeof got, n));
	return -EINVAL;
}
