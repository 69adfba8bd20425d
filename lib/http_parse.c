/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 request parser for lib/http_server.c, on nodejs http_parser.
 *
 * Why a layer of our own: http_parser hands out data in pieces (a header
 * name may arrive in three callbacks if the bytes arrive in three reads) and
 * enforces no limits we can configure per server. This file turns pieces into
 * one NUL-terminated request, enforces max_header_bytes / max_body / 100
 * header lines, and stops after each request so pipelined requests are served
 * one at a time. No sockets and no loop, so tests/fuzz drives it directly.
 *
 * Happy path: on_url / on_header_field / on_header_value append to msg.str,
 * NUL-separated (offsets, not pointers: str grows); on_headers_complete splits
 * the target into path and query (appended as their own strings), checks
 * Content-Length against max_body, notes keep-alive and Expect; on_body
 * appends to msg.body; on_message_complete resolves every pointer and pauses
 * the parser, so http_parser_execute() returns the bytes of this request only.
 *
 * Failure modes: every limit and every http_parser error sets err_status
 * (400/413/414/431, or 503 on OOM) and a short text; the parser is then dead
 * and the connection answers and closes. Transfer-Encoding other than chunked
 * and duplicate Content-Length are refused by http_parser 2.9.4 itself
 * (request smuggling).
 */
#include "http_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_MAX_HEADERS 100u

void baton_http_msg_done(struct baton_http_msg *m)
{
	free(m->str);
	free(m->hdrs);
	free(m->body);
	memset(m, 0, sizeof *m);
}

static int parse_fail(struct baton_http_parse *p, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int parse_fail(struct baton_http_parse *p, int status, const char *fmt, ...)
{
	va_list ap;

	p->err_status = status;
	va_start(ap, fmt);
	vsnprintf(p->err_msg, sizeof p->err_msg, fmt, ap);
	va_end(ap);
	return -1;
}

/* Make room for @len more bytes plus a NUL in msg.str. */
static int str_reserve(struct baton_http_parse *p, size_t len)
{
	struct baton_http_msg *m = &p->msg;
	size_t cap = m->str_cap ? m->str_cap : 256;
	char *n;

	if (m->str_len + len + 1 <= m->str_cap)
		return 0;
	while (cap < m->str_len + len + 1)
		cap *= 2;
	n = realloc(m->str, cap);
	if (n == NULL) /* UNTESTED: OOM */
		return parse_fail(p, 503, "out of memory");
	m->str = n;
	m->str_cap = cap;
	return 0;
}

static int str_append(struct baton_http_parse *p, const char *at, size_t len)
{
	struct baton_http_msg *m = &p->msg;

	if (str_reserve(p, len) != 0)
		return -1;
	if (len > 0)
		memcpy(m->str + m->str_len, at, len);
	m->str_len += len;
	m->str[m->str_len] = '\0';
	return 0;
}

/* Append a copy of msg.str[off, off+len) plus its NUL, as a new string. */
static int str_append_own(struct baton_http_parse *p, size_t off, size_t len)
{
	struct baton_http_msg *m = &p->msg;

	if (str_reserve(p, len + 1) != 0)
		return -1;
	memmove(m->str + m->str_len, m->str + off, len);
	m->str_len += len;
	m->str[m->str_len++] = '\0';
	m->str[m->str_len] = '\0';
	return 0;
}

/* A new kind of data piece starts: NUL-terminate the previous one. */
static int piece_start(struct baton_http_parse *p, enum baton_http_piece kind)
{
	int rv = 0;

	if (p->last == kind)
		return 0;
	if (p->last != BATON_HTTP_PIECE_NONE)
		rv = str_append(p, "", 1);
	p->last = kind;
	return rv;
}

static int count_header_bytes(struct baton_http_parse *p, size_t len)
{
	p->header_bytes += len;
	if (p->header_bytes > p->max_header_bytes)
		return parse_fail(p, 431, "request headers exceed %zu bytes", p->max_header_bytes);
	return 0;
}

static int on_url(http_parser *hp, const char *at, size_t len)
{
	struct baton_http_parse *p = hp->data;

	p->url_len += len;
	/* http_parser_parse_url() keeps offsets in uint16_t */
	if (p->url_len > p->max_header_bytes || p->url_len > 65535)
		return parse_fail(p, 414, "request target exceeds %zu bytes",
				  p->max_header_bytes < 65535 ? p->max_header_bytes : 65535);
	if (count_header_bytes(p, len) != 0 || piece_start(p, BATON_HTTP_PIECE_URL) != 0)
		return -1;
	return str_append(p, at, len);
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
	struct baton_http_parse *p = hp->data;

	if (count_header_bytes(p, len) != 0)
		return -1;
	if (p->last != BATON_HTTP_PIECE_FIELD) {
		if (piece_start(p, BATON_HTTP_PIECE_FIELD) != 0)
			return -1;
		if (p->n_off == HTTP_MAX_HEADERS)
			return parse_fail(p, 431, "more than %u header lines", HTTP_MAX_HEADERS);
		if (p->n_off == p->off_cap) {
			size_t cap = p->off_cap ? p->off_cap * 2 : 16;
			struct baton_http_hdr_off *n = realloc(p->off, cap * sizeof *n);

			if (n == NULL) /* UNTESTED: OOM */
				return parse_fail(p, 503, "out of memory");
			p->off = n;
			p->off_cap = cap;
		}
		p->off[p->n_off].name = p->msg.str_len;
		p->off[p->n_off].value = SIZE_MAX;
		p->n_off++;
	}
	return str_append(p, at, len);
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
	struct baton_http_parse *p = hp->data;

	if (count_header_bytes(p, len) != 0)
		return -1;
	if (p->last != BATON_HTTP_PIECE_VALUE) {
		if (piece_start(p, BATON_HTTP_PIECE_VALUE) != 0)
			return -1;
		p->off[p->n_off - 1].value = p->msg.str_len;
	}
	return str_append(p, at, len);
}

static const char *hdr_value_at(const struct baton_http_parse *p, size_t i)
{
	return p->off[i].value == SIZE_MAX ? "" : p->msg.str + p->off[i].value;
}

static int on_headers_complete(http_parser *hp)
{
	struct baton_http_parse *p = hp->data;
	struct http_parser_url u;
	const char *url;

	if (p->last == BATON_HTTP_PIECE_NONE && str_append(p, "", 0) != 0)
		return -1;
	if (piece_start(p, BATON_HTTP_PIECE_NONE) != 0)
		return -1;
	url = p->msg.str;

	/* Path and query are appended as their own strings; pointers are
	 * resolved at message completion, once str no longer moves. */
	if (hp->method == HTTP_CONNECT) {
		p->path_off = 0;         /* the authority, as sent */
		p->query_off = p->msg.str_len;
		if (str_append(p, "", 1) != 0)
			return -1;
	} else {
		http_parser_url_init(&u);
		if (http_parser_parse_url(url, p->url_len, 0, &u) != 0)
			return parse_fail(p, 400, "invalid request target");
		p->path_off = p->msg.str_len;
		if (u.field_set & (1u << UF_PATH)) {
			if (str_append_own(p, u.field_data[UF_PATH].off,
					   u.field_data[UF_PATH].len) != 0)
				return -1;
		} else if (str_append(p, "/", 2) != 0) { /* absolute-form without a path */
			return -1;
		}
		p->query_off = p->msg.str_len;
		if (u.field_set & (1u << UF_QUERY)) {
			if (str_append_own(p, u.field_data[UF_QUERY].off,
					   u.field_data[UF_QUERY].len) != 0)
				return -1;
		} else if (str_append(p, "", 1) != 0) {
			return -1;
		}
	}

	if ((hp->flags & F_CONTENTLENGTH) && hp->content_length > p->max_body)
		return parse_fail(p, 413, "request body exceeds %zu bytes", p->max_body);
	if ((hp->flags & F_CONTENTLENGTH) && hp->content_length > 0) {
		p->msg.body = malloc((size_t)hp->content_length + 1);
		if (p->msg.body == NULL) /* UNTESTED: OOM */
			return parse_fail(p, 503, "out of memory");
		p->msg.body_cap = (size_t)hp->content_length + 1;
	}
	p->keep_alive = http_should_keep_alive(hp) && !hp->upgrade;
	if (hp->http_major == 1 && hp->http_minor >= 1) {
		for (size_t i = 0; i < p->n_off; i++)
			if (strcasecmp(p->msg.str + p->off[i].name, "expect") == 0 &&
			    strcasecmp(hdr_value_at(p, i), "100-continue") == 0)
				p->expect_continue = true;
	}
	return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
	struct baton_http_parse *p = hp->data;
	struct baton_http_msg *m = &p->msg;

	if (len > p->max_body - m->body_len)
		return parse_fail(p, 413, "request body exceeds %zu bytes", p->max_body);
	if (m->body_len + len + 1 > m->body_cap) {
		size_t cap = m->body_cap ? m->body_cap : 1024;
		uint8_t *n;

		while (cap < m->body_len + len + 1)
			cap *= 2;
		if (cap > p->max_body + 1)
			cap = p->max_body + 1;
		n = realloc(m->body, cap);
		if (n == NULL) /* UNTESTED: OOM */
			return parse_fail(p, 503, "out of memory");
		m->body = n;
		m->body_cap = cap;
	}
	memcpy(m->body + m->body_len, at, len);
	m->body_len += len;
	return 0;
}

static int on_message_complete(http_parser *hp)
{
	struct baton_http_parse *p = hp->data;
	struct baton_http_msg *m = &p->msg;

	if (p->n_off > 0) {
		m->hdrs = calloc(p->n_off, sizeof *m->hdrs);
		if (m->hdrs == NULL) /* UNTESTED: OOM */
			return parse_fail(p, 503, "out of memory");
	}
	for (size_t i = 0; i < p->n_off; i++) {
		m->hdrs[i].name = m->str + p->off[i].name;
		m->hdrs[i].value = hdr_value_at(p, i);
	}
	m->req.headers = m->hdrs;
	m->req.n_headers = p->n_off;
	m->req.method = http_method_str((enum http_method)hp->method);
	m->req.path = m->str + p->path_off;
	m->req.query = m->str + p->query_off;
	if (m->body != NULL) {
		m->body[m->body_len] = 0;
		m->req.body = m->body;
	} else {
		m->req.body = (const uint8_t *)"";
	}
	m->req.body_len = m->body_len;
	p->complete = true;
	/* Stop right after this message: the next one (pipelined) waits until
	 * this one is answered. http_parser_execute() returns the bytes used. */
	http_parser_pause(hp, 1);
	return 0;
}

static const http_parser_settings parse_settings = {
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void baton_http_parse_init(struct baton_http_parse *p, size_t max_body, size_t max_header_bytes)
{
	memset(p, 0, sizeof *p);
	http_parser_init(&p->hp, HTTP_REQUEST);
	p->hp.data = p;
	p->max_body = max_body;
	p->max_header_bytes = max_header_bytes;
}

void baton_http_parse_done(struct baton_http_parse *p)
{
	baton_http_msg_done(&p->msg);
	free(p->off);
	p->off = NULL;
}

struct baton_http_parse *baton_http_parse_new(size_t max_body, size_t max_header_bytes)
{
	struct baton_http_parse *p = malloc(sizeof *p);

	if (p != NULL)
		baton_http_parse_init(p, max_body, max_header_bytes);
	return p;
}

void baton_http_parse_free(struct baton_http_parse *p)
{
	if (p == NULL)
		return;
	baton_http_parse_done(p);
	free(p);
}

enum baton_http_parse_rv baton_http_parse_feed(struct baton_http_parse *p, const char *data,
					       size_t len, size_t *ret_used)
{
	enum http_errno e;
	size_t n;

	*ret_used = 0;
	if (p->err_status != 0)
		return BATON_HTTP_PARSE_ERROR;
	if (p->complete)
		return BATON_HTTP_PARSE_REQUEST;
	if (len == 0) /* http_parser reads len 0 as EOF */
		return BATON_HTTP_PARSE_MORE;
	n = http_parser_execute(&p->hp, &parse_settings, data, len);
	*ret_used = n;
	if (p->complete)
		return BATON_HTTP_PARSE_REQUEST;
	if (p->err_status != 0)
		return BATON_HTTP_PARSE_ERROR;
	e = HTTP_PARSER_ERRNO(&p->hp);
	if (e != HPE_OK) {
		p->err_status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
		snprintf(p->err_msg, sizeof p->err_msg, "malformed request: %s",
			 http_errno_description(e));
		return BATON_HTTP_PARSE_ERROR;
	}
	if (n != len) { /* UNTESTED: http_parser stops early only on error or pause */
		parse_fail(p, 400, "malformed request: parser stopped early");
		return BATON_HTTP_PARSE_ERROR;
	}
	return BATON_HTTP_PARSE_MORE;
}

const struct baton_http_request *baton_http_parse_request(const struct baton_http_parse *p)
{
	return p->complete ? &p->msg.req : NULL;
}

bool baton_http_parse_keep_alive(const struct baton_http_parse *p)
{
	return p->keep_alive;
}

void baton_http_parse_next(struct baton_http_parse *p)
{
	baton_http_msg_done(&p->msg);
	p->n_off = 0;
	p->url_len = 0;
	p->header_bytes = 0;
	p->path_off = 0;
	p->query_off = 0;
	p->last = BATON_HTTP_PIECE_NONE;
	p->complete = false;
	p->keep_alive = false;
	p->expect_continue = false;
	http_parser_pause(&p->hp, 0);
}

void baton_http_parse_take(struct baton_http_parse *p, struct baton_http_msg *ret_msg)
{
	*ret_msg = p->msg;
	memset(&p->msg, 0, sizeof p->msg);
}

int baton_http_parse_error(const struct baton_http_parse *p, const char **ret_msg)
{
	if (ret_msg != NULL)
		*ret_msg = p->err_msg;
	return p->err_status;
}

const char *baton_http_header(const struct baton_http_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}
