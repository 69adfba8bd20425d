/* SPDX-License-Identifier: MIT */
/* The HTTP request parser alone: bytes in, requests or an error status out.
 * No sockets, no loop. Internal to lib/http_server.c; exposed for the unit
 * tests and the fuzz target (tests/fuzz/fuzz_http_request.c). */
#ifndef BATON_HTTP_PARSE_H
#define BATON_HTTP_PARSE_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_server.h"

/* One request's storage; the server moves it from the parser into the exchange. */
struct baton_http_msg {
	struct baton_http_request req;
	char *str;                       /* url, header names/values, path, query; NUL-separated */
	size_t str_len, str_cap;
	struct baton_http_header *hdrs;
	uint8_t *body;
	size_t body_len, body_cap;
};

struct baton_http_hdr_off {
	size_t name, value;              /* offsets into msg.str; value SIZE_MAX = empty */
};

enum baton_http_piece {
	BATON_HTTP_PIECE_NONE,
	BATON_HTTP_PIECE_URL,
	BATON_HTTP_PIECE_FIELD,
	BATON_HTTP_PIECE_VALUE,
};

/* Defined here so a connection can embed it; fields are private. */
struct baton_http_parse {
	http_parser hp;
	size_t max_body, max_header_bytes;
	struct baton_http_msg msg;
	struct baton_http_hdr_off *off;
	size_t n_off, off_cap;
	size_t url_len, header_bytes, path_off, query_off;
	enum baton_http_piece last;
	bool complete, keep_alive;
	bool expect_continue;            /* "Expect: 100-continue" on HTTP/1.1 */
	int err_status;
	char err_msg[128];
};

enum baton_http_parse_rv {
	BATON_HTTP_PARSE_ERROR = -1,     /* see baton_http_parse_error(); parser is dead */
	BATON_HTTP_PARSE_MORE = 0,       /* all bytes used, request incomplete */
	BATON_HTTP_PARSE_REQUEST = 1,    /* one complete request; later bytes unused */
};

/* Embedded use: init/done. Heap use: new/free (NULL on OOM). */
void baton_http_parse_init(struct baton_http_parse *p, size_t max_body, size_t max_header_bytes);
void baton_http_parse_done(struct baton_http_parse *p);
struct baton_http_parse *baton_http_parse_new(size_t max_body, size_t max_header_bytes);
void baton_http_parse_free(struct baton_http_parse *p);

/* Feed @len bytes (len > 0 to make progress). *ret_used says how many were
 * consumed; after BATON_HTTP_PARSE_REQUEST the rest belongs to the next
 * request and must be fed again after baton_http_parse_next(). */
enum baton_http_parse_rv baton_http_parse_feed(struct baton_http_parse *p, const char *data,
					       size_t len, size_t *ret_used);
/* After BATON_HTTP_PARSE_REQUEST: the request (NULL otherwise), and whether
 * the connection may stay open after it. Valid until baton_http_parse_next()
 * or baton_http_parse_take(). */
const struct baton_http_request *baton_http_parse_request(const struct baton_http_parse *p);
bool baton_http_parse_keep_alive(const struct baton_http_parse *p);
/* Move the complete request's storage out (free with baton_http_msg_done()). */
void baton_http_parse_take(struct baton_http_parse *p, struct baton_http_msg *ret_msg);
void baton_http_msg_done(struct baton_http_msg *m);
/* Drop the current request and get ready for the next one on this connection. */
void baton_http_parse_next(struct baton_http_parse *p);
/* After BATON_HTTP_PARSE_ERROR: the status to answer (400, 413, 414, 431;
 * 503 on OOM) and a short text naming the problem. */
int baton_http_parse_error(const struct baton_http_parse *p, const char **ret_msg);

#endif
