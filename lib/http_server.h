/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 server on a libuv loop (nodejs http_parser), for batond's API.
 *
 * One thread, the loop's. Keep-alive and pipelining are supported with one
 * request in flight per connection: reading stops while the handler works and
 * resumes once the response is written, so responses go out in request order.
 * Every resource a client controls is bounded (connections, header bytes,
 * body bytes, time to send a request, time to take a response).
 *
 * Errors the server answers by itself, always followed by a close:
 *   400 malformed request (the body names the parser's complaint)
 *   413 body over max_body, 414 request target over max_header_bytes,
 *   431 headers over max_header_bytes (or over 100 header lines),
 *   503 more than max_conns connections open.
 *
 * The process must ignore SIGPIPE (signal(SIGPIPE, SIG_IGN) in main): libuv
 * writes with writev(), and answering a client that has gone away would
 * otherwise kill the process. */
#ifndef BATON_HTTP_SERVER_H
#define BATON_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct baton_http_header {
	const char *name;                /* as sent; compare case-insensitively */
	const char *value;               /* leading/trailing blanks removed by the parser */
};

/* Valid until baton_http_respond() is called for its exchange. All strings are
 * NUL-terminated; @body is too (body[body_len] == 0), but may contain NULs. */
struct baton_http_request {
	const char *method;              /* "GET", "POST", ... */
	const char *path;                /* URL path, percent-decoding NOT applied, no query */
	const char *query;               /* after '?', or "" */
	const uint8_t *body;
	size_t body_len;
	const struct baton_http_header *headers;
	size_t n_headers;
	char remote_addr[64];            /* "127.0.0.1:5555", "[::1]:5555" */
};

/* Case-insensitive lookup; the first match, or NULL if absent. */
const char *baton_http_header(const struct baton_http_request *req, const char *name);

/* One request awaiting its response. Owned by the server until responded to. */
struct baton_http_exchange;

/* Called on the loop thread for every complete request. The handler must call
 * baton_http_respond() exactly once, now or later; until then the connection
 * reads nothing more. */
typedef void (*baton_http_handler_fn)(void *ctx, struct baton_http_exchange *ex,
				      const struct baton_http_request *req);

/* Answer @ex and release it (and the request it carried). Call exactly once.
 * Safe after the client went away or the server was closed: the exchange is
 * then simply freed. @content_type may be NULL (no Content-Type header).
 * @body (@len bytes) is copied. @extra_headers is NULL or complete header lines
 * ("Location: http://...\r\n"); it comes from our own code, not from clients.
 * Content-Length is always sent (except for 204); HEAD gets headers only.
 * A @status outside 200..599 is sent as 500. */
void baton_http_respond(struct baton_http_exchange *ex, int status, const char *content_type,
			const void *body, size_t len, const char *extra_headers);

struct baton_http_server_opts {
	const char *host;                /* IPv4/IPv6 literal; NULL = "127.0.0.1" */
	int port;                        /* 0 = ephemeral, see baton_http_server_port() */
	size_t max_body;                 /* 0 = 1 MiB */
	unsigned max_conns;              /* 0 = 256 */
	unsigned idle_timeout_ms;        /* 0 = 10000; also bounds sending one request and
					  * taking one response */
	size_t max_header_bytes;         /* 0 = 16 KiB: request target + header names/values */
};

struct http_conn;

struct baton_http_server {
	void *data;                      /* for the owner */
	/* private */
	uv_loop_t *loop;
	uv_tcp_t *listener;              /* heap: released in its close callback */
	struct baton_http_server_opts opts;
	baton_http_handler_fn fn;
	void *ctx;
	struct http_conn *conns;         /* every connection not yet freed */
	unsigned n_conns;
	int port;
	bool closing;
	bool closed;
	void (*close_cb)(struct baton_http_server *s);
	char addr[80];                   /* "host:port" as bound, for messages */
};

/* Bind and listen on opts->host:opts->port. Returns 0, or a negative errno with
 * a message in @errbuf naming the address ("listen on 127.0.0.1:8080: address
 * already in use"). On failure nothing is left on the loop and @s may be freed
 * at once. */
int baton_http_server_init(struct baton_http_server *s, uv_loop_t *loop,
			   const struct baton_http_server_opts *o, baton_http_handler_fn fn, void *ctx,
			   char *errbuf, size_t errlen);

/* The bound port (useful with port 0). */
int baton_http_server_port(const struct baton_http_server *s);

/* Stop listening and close every connection; responses still pending become
 * no-ops that free their exchange. @cb (may be NULL) runs once every handle is
 * closed; @s may be freed from then on. Call once. */
void baton_http_server_close(struct baton_http_server *s, void (*cb)(struct baton_http_server *s));

#endif
