/* SPDX-License-Identifier: MIT */
/* A YAML file as a small tree (map / list / scalar) that remembers where every
 * node came from, plus typed getters that write baton's standard error text.
 *
 * The parser is libyaml's event API. It accepts the plain subset of YAML that a
 * configuration file needs and rejects the rest with an error naming the file,
 * line and column: anchors and aliases, tags, duplicate keys, non-scalar keys,
 * more than one document, nesting deeper than BATON_YAML_MAX_DEPTH, files over
 * BATON_YAML_MAX_BYTES, more than BATON_YAML_MAX_NODES nodes.
 *
 * Nothing here knows a schema: node/config.c (batond) and the reporter walk the
 * tree with their own tables. Errors come in two shapes:
 *
 *   parse errors:  "<file>:<line>:<col>: <problem>"
 *   value errors:  "<file>:<line>: <key.path>: <problem>"
 *
 * e.g. "/etc/baton/baton.yaml:14: cluster.raft.heartbeat_ms: must be at most 10000, got 20000".
 * Every function returns 0 or a negative errno (-EINVAL for anything wrong with
 * the input) and, on error, writes the message into @errbuf (always
 * NUL-terminated when @errlen > 0). Nothing logs. */
#ifndef BATON_YAMLTREE_H
#define BATON_YAMLTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BATON_YAML_MAX_BYTES (1024 * 1024) /* larger files are refused (-EFBIG) */
#define BATON_YAML_MAX_DEPTH 32            /* nested maps/lists, the root counts as 1 */
#define BATON_YAML_MAX_NODES 65536         /* scalars + maps + lists in one file */

enum baton_yaml_kind {
	BATON_YAML_SCALAR,
	BATON_YAML_MAP,
	BATON_YAML_LIST,
	BATON_YAML_KIND_NR
};

struct baton_yaml_node;

/* One `key: value` of a map. */
struct baton_yaml_pair {
	const char *key;               /* NUL-terminated; may contain a NUL (key_len tells) */
	size_t key_len;
	unsigned line, col;            /* of the key, 1-based */
	struct baton_yaml_node *value; /* never NULL */
};

struct baton_yaml_node {
	enum baton_yaml_kind kind;
	unsigned line, col;            /* where the node starts, 1-based */
	/* BATON_YAML_SCALAR: the text, NUL-terminated. @len may be larger than
	 * strlen(@str) when a quoted scalar contains "\0"; the getters refuse that. */
	const char *str;
	size_t len;
	bool plain;                    /* unquoted scalar (only plain scalars can be null) */
	/* BATON_YAML_MAP: @n pairs in file order, keys unique. */
	struct baton_yaml_pair *pairs;
	/* BATON_YAML_LIST: @n items in file order. */
	struct baton_yaml_node **items;
	size_t n;
};

struct baton_yaml_doc {
	char *name;                    /* file name used in messages */
	struct baton_yaml_node *root;  /* NULL when the file holds no document */
};

/* Parse @len bytes of @text (need not be NUL-terminated). @name is the file name
 * used in error messages. On success *@ret_doc is a new tree to release with
 * baton_yaml_free(); a file with no document (empty, only comments) succeeds
 * with root == NULL. Returns 0, -EINVAL (bad or unsupported YAML), -EFBIG
 * (@len > BATON_YAML_MAX_BYTES) or -ENOMEM. */
int baton_yaml_parse(const char *name, const char *text, size_t len,
		     struct baton_yaml_doc **ret_doc, char *errbuf, size_t errlen);

/* Read and parse @path. Errors opening or reading name the path:
 * "/x.yaml: cannot open: No such file or directory" (returns -errno). */
int baton_yaml_load_file(const char *path, struct baton_yaml_doc **ret_doc,
			 char *errbuf, size_t errlen);

/* Accepts NULL. */
void baton_yaml_free(struct baton_yaml_doc *doc);

/* "map", "list" or "scalar". */
const char *baton_yaml_kind_name(enum baton_yaml_kind kind);

/* True for a plain scalar that YAML reads as null: empty, "~", "null", "Null", "NULL".
 * Schemas treat a null value like a missing key. */
bool baton_yaml_is_null(const struct baton_yaml_node *n);

/* The pair with key @key in @map (a map node), or NULL. */
const struct baton_yaml_pair *baton_yaml_map_find(const struct baton_yaml_node *map,
						  const char *key);

/* Fail with "<file>:<line>: <path>.<key>: unknown key (did you mean 'x'?)" on the
 * first key of @map that is not one of the @n_known names in @known. */
int baton_yaml_check_keys(const struct baton_yaml_doc *doc, const struct baton_yaml_node *map,
			  const char *path, const char *const *known, size_t n_known,
			  char *errbuf, size_t errlen);

/* The candidate closest to @word (edit distance at most 2, or a third of its
 * length for long words), or NULL if none is close. */
const char *baton_yaml_suggest(const char *word, const char *const *cands, size_t n);

/* Write "<file>:<line>: <path>: <message>" into @errbuf (", <path>" is left out
 * when @path is NULL). The helper every schema uses for its own checks. */
void baton_yaml_errorf(char *errbuf, size_t errlen, const struct baton_yaml_doc *doc,
		       unsigned line, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Write @n's text into @out (size @outlen) for quoting in a message: control and
 * non-ASCII bytes as \xNN, long values cut with "...". Returns @out. */
char *baton_yaml_quote(char *out, size_t outlen, const struct baton_yaml_node *n);

/*
 * Typed getters. Each one takes the node (never NULL: the caller handles missing
 * keys), the dotted @path of the key for the message, and fills *ret only on
 * success. Failures return -EINVAL with, for example:
 *
 *   "<f>:<l>: <path>: must be a scalar, got a map"
 *   "<f>:<l>: <path>: must be an integer, got '12a'"
 *   "<f>:<l>: <path>: must be at least 10, got 5"
 *   "<f>:<l>: <path>: must be at most 10000, got 20000"
 */

/* Decimal integer in [@min, @max]: digits only, no sign, no leading zeros
 * (YAML 1.1 would read 010 as octal, so it is refused rather than guessed). */
int baton_yaml_get_u64(const struct baton_yaml_doc *doc, const struct baton_yaml_node *n,
		       const char *path, uint64_t min, uint64_t max, uint64_t *ret,
		       char *errbuf, size_t errlen);

/* A duration in milliseconds within [@min_ms, @max_ms]: an integer (ms) or an
 * integer with one unit: "250ms", "2s", "5m", "1h". */
int baton_yaml_get_duration_ms(const struct baton_yaml_doc *doc, const struct baton_yaml_node *n,
			       const char *path, uint64_t min_ms, uint64_t max_ms,
			       uint64_t *ret_ms, char *errbuf, size_t errlen);

/* Exactly "true" or "false" (not yes/no/on/off/1/0). */
int baton_yaml_get_bool(const struct baton_yaml_doc *doc, const struct baton_yaml_node *n,
			const char *path, bool *ret, char *errbuf, size_t errlen);

/* A string of @min_len..@max_len bytes copied into @ret (size @retsize, which
 * must exceed @max_len). Control characters and NUL are always refused. With
 * @charset != NULL every byte must be one of @charset's characters; the message
 * shows the set as a bracket expression, e.g. "[a-z0-9-]". */
int baton_yaml_get_str(const struct baton_yaml_doc *doc, const struct baton_yaml_node *n,
		       const char *path, size_t min_len, size_t max_len, const char *charset,
		       char *ret, size_t retsize, char *errbuf, size_t errlen);

/* The lowercase letters, digits and '-': names of clusters, regions, members. */
#define BATON_YAML_CHARSET_NAME "abcdefghijklmnopqrstuvwxyz0123456789-"

/* "a.b.c.d:port", an IPv4 literal and a port 1..65535 (libraft 0.15 takes
 * nothing else: no host names, no IPv6). *@ret gets the normalised form
 * ("127.0.0.1:7001"); @retsize must be at least BATON_YAML_ADDR_LEN. */
#define BATON_YAML_ADDR_LEN 22 /* "255.255.255.255:65535" + NUL */
int baton_yaml_get_ipv4_port(const struct baton_yaml_doc *doc, const struct baton_yaml_node *n,
			     const char *path, char *ret, size_t retsize,
			     char *errbuf, size_t errlen);

/* One of the @n_choices words in @choices; *@ret is its index. */
int baton_yaml_get_choice(const struct baton_yaml_doc *doc, const struct baton_yaml_node *n,
			  const char *path, const char *const *choices, size_t n_choices,
			  unsigned *ret, char *errbuf, size_t errlen);

#endif
