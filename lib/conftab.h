/* SPDX-License-Identifier: MIT */
/* A configuration schema as a table of keys, applied to a lib/yamltree.h tree.
 *
 * The engine behind node/config.c (batond, baton-witness) and
 * reporter/config.c (baton-reporter). A schema is a struct baton_conftab: a
 * table of keys (path, type, default, bounds, required, one-line doc, where
 * the value is stored), the message for an empty file, and hooks for the
 * value types only that schema has and for the checks that span keys.
 *
 * Load = parse YAML -> walk the table from the root: for each map, refuse
 * keys the table does not know, then for each key of the table take the
 * value from the file or its default, substitute environment variables,
 * type- and range-check it and store it at the key's offset -> the schema's
 * cross-key checks -> copy to the caller. The first problem ends the load
 * with "<file>:<line>: <key.path>: <problem>" (lib/yamltree.h); the walker
 * remembers the line of every key (or of the map that lacks it) so the
 * cross-key checks can point at the right line too.
 *
 * Environment variables: in every scalar value read from the file (not in
 * keys, not in defaults, not in keys flagged BATON_CONF_RAW), "${NAME}" is
 * replaced by the variable's value and "${NAME:-default}" by its value or,
 * when it is unset or empty, by the text up to the first '}'. "$${" stands
 * for a literal "${"; a '$' anywhere else is literal. An unset variable
 * without a default, or a "${" that is not one of the forms above, is an
 * error naming the file, line and key. The value is then checked as if it
 * had been written in the file.
 *
 * Lists of maps may have variants (the reporter's checks[]: http, tcp, ...):
 * the list's entries have a selector key (flag BATON_CONF_SELECTOR, a choice)
 * that is read first, and every key of the entry names the variants it
 * belongs to (@variants, a bit mask of the selector's choices; 0 = all).
 * A key of another variant is refused with a message that says whose key it is. */
#ifndef BATON_CONFTAB_H
#define BATON_CONFTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "yamltree.h"

enum baton_conf_type {
	BATON_CONF_SECTION,  /* a map that holds other keys */
	BATON_CONF_LIST,     /* a list of maps; min..max entries */
	BATON_CONF_U64,      /* decimal integer in min..max */
	BATON_CONF_DURATION, /* milliseconds in min..max; "1500" or "2s", "250ms", "1m" */
	BATON_CONF_BOOL,     /* true or false */
	BATON_CONF_NAME,     /* min..max chars of [a-z0-9-] */
	BATON_CONF_TEXT,     /* min..max printable characters */
	BATON_CONF_PATH,     /* absolute path of min..max chars; with min 0 also "" */
	BATON_CONF_ADDR,     /* IPv4 "a.b.c.d:port"; min 0 allows "" (unset) */
	BATON_CONF_IPV4,     /* IPv4 literal "a.b.c.d" */
	BATON_CONF_CHOICE,   /* one word of @choices, stored as its index (an enum) */
	BATON_CONF_CUSTOM,   /* first of the schema's own types (struct baton_conftab.set_custom) */
};

/* struct baton_conftab_key.flags */
#define BATON_CONF_RAW 0x1      /* taken verbatim: no ${VAR} substitution */
#define BATON_CONF_SELECTOR 0x2 /* the choice key that picks the variant of a list entry */
#define BATON_CONF_WHOLE 0x4    /* optional section: absent = left zero (its keys' defaults
				 * and required keys apply only when it is present) */

struct baton_conftab_key {
	const char *path;     /* "cluster.raft.heartbeat_ms"; in list entries "cluster.members[].id" */
	int type;             /* enum baton_conf_type, or the schema's own from BATON_CONF_CUSTOM */
	const char *def;      /* default as written in YAML; NULL: none (zero/empty if optional) */
	uint64_t min, max;    /* value, string length or number of list entries */
	bool required;
	unsigned flags;       /* BATON_CONF_RAW, ... */
	unsigned variants;    /* keys of a list entry with variants: bit mask; 0 = all */
	const char *choices;  /* BATON_CONF_CHOICE: "debug|info|notice|warn|error" */
	const char *doc;      /* one line, for the key reference */
	/* Where the value lives: relative to the schema's struct, or for keys
	 * inside a list entry relative to that entry's struct. A section has no
	 * value; with BATON_CONF_WHOLE and size > 0, a bool set when present. */
	size_t off, size;
	size_t count_off;     /* lists: the `unsigned` entry count */
	size_t entry_size;    /* lists: one entry */
};

struct baton_conf;

struct baton_conftab {
	const struct baton_conftab_key *keys; /* parents before their children */
	size_t n_keys;
	size_t list_max;       /* entries of the longest list (lines are kept for each) */
	size_t struct_size;    /* the struct the top-level offsets refer to */
	/* The messages for a file without a document and for a top level that
	 * is not a map: "the file is empty; <empty>", "the top level must be a
	 * map <top>, got 'x'". */
	const char *empty, *top;
	/* For entries with variants: "is a key of http checks; this check is
	 * type tcp" with @variant_noun "check". */
	const char *variant_noun;
	/* Parse value @n (never NULL, environment variables substituted when it
	 * is a scalar) of a key whose type is BATON_CONF_CUSTOM or above into
	 * @base + k->off. Returns 0 or -EINVAL with the message written. */
	int (*set_custom)(struct baton_conf *x, const struct baton_conftab_key *k,
			  const struct baton_yaml_node *n, const char *path, char *base);
	/* The rules that span keys, after the walk; may fill computed defaults. */
	int (*check)(struct baton_conf *x, void *cfg);
};

/* Parse @len bytes of @yaml (@name: the file name in messages), or the file
 * @path, and apply schema @t into *@ret (t->struct_size bytes, written only on
 * success). Returns 0; -EINVAL for any problem with the content, with one line
 * in @errbuf; -errno when the file cannot be read; -EFBIG over 1 MiB. */
int baton_conf_load_string(const struct baton_conftab *t, const char *name, const char *yaml,
			   size_t len, void *ret, char *errbuf, size_t errlen);
int baton_conf_load_file(const struct baton_conftab *t, const char *path, void *ret,
			 char *errbuf, size_t errlen);

/*
 * For the schema's hooks (set_custom, check).
 */

const struct baton_yaml_doc *baton_conf_doc(const struct baton_conf *x);

/* Write "<file>:<line>: <path>: <message>" and return -EINVAL. */
int baton_conf_fail(struct baton_conf *x, unsigned line, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The line of key @path (a table path: "cluster.members[].id") in list entry
 * @idx (0 outside lists): of the key, or of the map that lacks it. */
unsigned baton_conf_line(const struct baton_conf *x, const char *path, unsigned idx);

/* The line of the node at document path @dpath ("cluster.regions[1].unfence[0].after",
 * the form messages use), or of the deepest part of it the file has; 0 when the
 * file has no document. Unlike baton_conf_line() it tells entries of nested
 * lists apart. */
unsigned baton_conf_doc_line(const struct baton_conf *x, const char *dpath);

/* "a map", "a list", or the quoted scalar "'12a'" (written into @out). */
const char *baton_conf_got(char *out, size_t outlen, const struct baton_yaml_node *n);

/* A scalar after environment substitution: baton_conf_expand() points @node at
 * @n itself when there is nothing to substitute (or @n is not a scalar, or
 * @raw), else at @tmp whose text is allocated; release with
 * baton_conf_expanded_free(). Returns 0, or -EINVAL / -ENOMEM with the
 * message written and nothing to release. */
struct baton_conf_expanded {
	const struct baton_yaml_node *node;
	struct baton_yaml_node tmp;
	char *buf;
};
int baton_conf_expand(struct baton_conf *x, const struct baton_yaml_node *n, const char *path,
		      bool raw, struct baton_conf_expanded *ret);
void baton_conf_expanded_free(struct baton_conf_expanded *e);

/* baton_yaml_get_str() on @n after environment substitution, for hooks that
 * read the items of a list or the values of a map themselves. */
int baton_conf_get_str(struct baton_conf *x, const struct baton_yaml_node *n, const char *path,
		       size_t min, size_t max, const char *charset, bool raw, char *dst,
		       size_t dstlen);

/*
 * Table helpers (also for dumping, hashing and the key reference).
 */

/* The last component of @path: "heartbeat_ms" of "cluster.raft.heartbeat_ms". */
const char *baton_conf_leaf(const char *path);

/* The keys directly under table path @parent ("" = the root), in table order;
 * with @variant >= 0 only those that belong to that variant. At most @max. */
size_t baton_conf_children(const struct baton_conftab *t, const char *parent, int variant,
			   const struct baton_conftab_key **kids, size_t max);

/* Split "a|b|c" into @words (pointing into @buf); returns how many. */
size_t baton_conf_split_choices(const char *choices, char *buf, size_t buflen,
				const char **words, size_t max);

/* An unsigned integer of @size bytes (1, 2, 4 or 8) at @p. */
uint64_t baton_conf_load_uint(const void *p, size_t size);
void baton_conf_store_uint(void *p, size_t size, uint64_t v);

/* Write @s for a Markdown table cell ('|' escaped). */
void baton_conf_md(FILE *f, const char *s);

/* For a key reference (a Markdown table): the default cell ("**required**",
 * "`1000`", "`\"\"`"; false, with nothing written, when the key has neither),
 * and the allowed-values cell of the types whose text every schema shares
 * (section, list, integer, bool, name, address, IPv4, choice; false, with
 * nothing written, for the others). */
bool baton_conf_write_default(FILE *f, const struct baton_conftab_key *k);
bool baton_conf_write_allowed(FILE *f, const struct baton_conftab_key *k);

/* Write @s as a double-quoted YAML scalar that loads back as @s: '"' and
 * '\\' escaped, and unless @raw (a BATON_CONF_RAW key) "${" written "$${". */
void baton_conf_write_quoted(FILE *f, const char *s, bool raw);

#endif
