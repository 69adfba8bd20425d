/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 server: libuv TCP + nodejs http_parser.
 *
 * Why: batond's API (status, signed commands, health reports, metrics) must
 * keep answering while the loop also runs raft, probes and actions, and it
 * faces whatever a network sends. So: one thread, no blocking, every input
 * bounded, and the parser (lib/http_parse.c) separate from the sockets so
 * it can be fuzzed.
 *
 * Happy path, per connection:
 *   accept -> READING (idle timer runs; it is NOT reset by reads, so a client
 *   trickling bytes cannot hold a connection longer than idle_timeout_ms per
 *   request) -> complete request: stop reading, keep the bytes read past it
 *   (pipelining) in c->pending, move the request into an exchange ->
 *   HANDLING (no timer: the handler may wait for a raft commit) ->
 *   baton_http_respond(): one uv_write of header + body -> WRITING (timer
 *   bounds a client that does not read) -> written: feed c->pending, else read
 *   again -> READING ...
 *   "Expect: 100-continue" gets an interim "100 Continue" once the headers
 *   are in and the announced body fits.
 *
 * Failure modes:
 *   - malformed request / too large: the parser reports 400/413/414/431 with a
 *     short text; we answer it with Connection: close and linger.
 *   - more than max_conns connections: the new one is answered 503 and
 *     closed; beyond 1.25 * max_conns + 16 it is closed without a word, so
 *     memory stays bounded under a connection flood.
 *   - idle/slow client, or a write that does not finish: timer -> close.
 *   - peer reset / EOF: close; a handler still working keeps its exchange,
 *     and its later baton_http_respond() just frees it.
 *   - "Connection: close", HTTP/1.0 without keep-alive, Upgrade: answer, then
 *     linger: shutdown(SHUT_WR), read and discard until EOF or a short timer,
 *     then close. Closing with unread input would make the kernel send RST,
 *     which can destroy the response before the client reads it (a 413 sent
 *     while the client is still uploading, for example).
 *   - OOM on accept: the listener stalls until the next accept (libuv stops
 *     polling a listener whose accepted fd is not taken). UNTESTED.
 */
#include "http_server.h"

#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_parse.h"
#include "util.h"

#define HTTP_DEFAULT_MAX_BODY (1024u * 1024u)
#define HTTP_DEFAULT_MAX_CONNS 256u
#define HTTP_DEFAULT_IDLE_MS 10000u
#define HTTP_DEFAULT_MAX_HEADER_BYTES (16u * 1024u)
#define HTTP_LINGER_MAX_MS 2000u
#define HTTP_READ_BUF 16384u

/* ------------------------------------------------------------------------ */
/* Connections                                                              */
/* ------------------------------------------------------------------------ */

enum conn_state {
	CONN_READING,                    /* waiting for / receiving a request */
	CONN_HANDLING,                   /* the handler has the exchange */
	CONN_WRITING,                    /* the response is being written */
	CONN_LINGERING,                  /* answered for the last time; draining input */
	CONN_CLOSING,                    /* handles closing; freed when both are closed */
};

struct http_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	struct baton_http_server *srv;
	struct http_conn *prev, *next;
	struct baton_http_parse parse;
	struct baton_http_exchange *ex;  /* in flight, or NULL */
	char *pending;                   /* bytes read past the request in flight */
	size_t pending_len;
	enum conn_state state;
	bool reading, continue_sent, close_after;
	unsigned open_handles;
	char remote[64];
	char rdbuf[HTTP_READ_BUF];
};

struct baton_http_exchange {
	struct http_conn *conn;          /* NULL once the connection is gone */
	struct baton_http_msg msg;
	bool head, keep_alive;
};

struct http_write {
	uv_write_t req;
	struct http_conn *conn;
	bool final;                      /* a final response, not "100 Continue" */
	size_t len;
	char data[];
};

static void conn_close(struct http_conn *c);
static void conn_process(struct http_conn *c, const char *data, size_t len);

static void exchange_free(struct baton_http_exchange *ex)
{
	baton_http_msg_done(&ex->msg);
	free(ex);
}

static void srv_maybe_closed(struct baton_http_server *s)
{
	if (!s->closing || s->closed || s->listener != NULL || s->conns != NULL)
		return;
	s->closed = true;
	if (s->close_cb != NULL)
		s->close_cb(s);          /* @s may be freed from here on */
}

static void conn_handle_closed_cb(uv_handle_t *h)
{
	struct http_conn *c = h->data;
	struct baton_http_server *s = c->srv;

	if (--c->open_handles > 0)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->n_conns--;
	baton_http_parse_done(&c->parse);
	free(c->pending);
	free(c);
	srv_maybe_closed(s);
}

static void conn_close(struct http_conn *c)
{
	if (c->state == CONN_CLOSING)
		return;
	c->state = CONN_CLOSING;
	if (c->ex != NULL) {
		c->ex->conn = NULL;      /* the handler's respond() will just free it */
		c->ex = NULL;
	}
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed_cb);
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed_cb);
}

static void conn_timer_cb(uv_timer_t *t)
{
	conn_close(t->data);             /* idle, slow request, stuck write, or linger done */
}

static void conn_timer_start(struct http_conn *c, uint64_t ms)
{
	(void)uv_timer_start(&c->timer, conn_timer_cb, ms, 0);
}

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct http_conn *c = h->data;

	(void)suggested;
	/* One buffer per connection is enough: read_cb consumes it (copying
	 * any surplus to c->pending) before libuv asks for the next one. */
	buf->base = c->rdbuf;
	buf->len = sizeof c->rdbuf;
}

static void conn_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct http_conn *c = st->data;

	if (nread == 0)
		return;
	if (nread < 0) {                 /* EOF or reset */
		conn_close(c);
		return;
	}
	if (c->state != CONN_READING)    /* lingering: discard */
		return;
	conn_process(c, buf->base, (size_t)nread);
}

static void conn_read_start(struct http_conn *c)
{
	if (c->reading || c->state == CONN_CLOSING)
		return;
	if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb) != 0) {
		conn_close(c);
		return;
	}
	c->reading = true;
}

static void conn_read_stop(struct http_conn *c)
{
	if (!c->reading)
		return;
	(void)uv_read_stop((uv_stream_t *)&c->tcp);
	c->reading = false;
}

static void conn_shutdown_cb(uv_shutdown_t *req, int status)
{
	struct http_conn *c = req->data;

	free(req);
	if (status < 0 && c->state != CONN_CLOSING)
		conn_close(c);
}

/* Last response written: send FIN, drain input until the client closes. */
static void conn_linger(struct http_conn *c)
{
	uv_shutdown_t *req = malloc(sizeof *req);
	unsigned ms = c->srv->opts.idle_timeout_ms;

	c->state = CONN_LINGERING;
	if (req == NULL) { /* UNTESTED: OOM */
		conn_close(c);
		return;
	}
	req->data = c;
	if (uv_shutdown(req, (uv_stream_t *)&c->tcp, conn_shutdown_cb) != 0) {
		free(req);
		conn_close(c);
		return;
	}
	conn_timer_start(c, ms < HTTP_LINGER_MAX_MS ? ms : HTTP_LINGER_MAX_MS);
	conn_read_start(c);
}

static void conn_write_cb(uv_write_t *req, int status)
{
	struct http_write *w = BATON_CONTAINER_OF(req, struct http_write, req);
	struct http_conn *c = w->conn;
	bool final = w->final;
	char *pend;
	size_t pend_len;

	free(w);
	if (c->state == CONN_CLOSING)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (!final)
		return;
	if (c->close_after) {
		conn_linger(c);
		return;
	}
	c->state = CONN_READING;
	conn_timer_start(c, c->srv->opts.idle_timeout_ms);
	pend = c->pending;
	pend_len = c->pending_len;
	c->pending = NULL;
	c->pending_len = 0;
	if (pend_len > 0)
		conn_process(c, pend, pend_len);
	else
		conn_read_start(c);
	free(pend);
}

static void conn_write(struct http_conn *c, struct http_write *w)
{
	uv_buf_t buf = uv_buf_init(w->data, (unsigned)w->len);

	w->conn = c;
	if (w->final) {
		c->state = CONN_WRITING;
		conn_read_stop(c);
		conn_timer_start(c, c->srv->opts.idle_timeout_ms);
	}
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, conn_write_cb) != 0) {
		free(w);
		conn_close(c);
	}
}

static bool has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

static struct http_write *response_build(int status, const char *content_type, const void *body,
					 size_t len, const char *extra, bool keep_alive, bool head)
{
	const char *reason;
	size_t extra_len, cap;
	bool send_body, send_len;
	struct http_write *w;
	int n;

	if (status < 200 || status > 599)
		status = 500;
	reason = http_status_str((enum http_status)status);
	if (strcmp(reason, "<unknown>") == 0)
		reason = "Status";
	if (content_type != NULL && has_crlf(content_type))
		content_type = NULL;
	extra = extra != NULL ? extra : "";
	extra_len = strlen(extra);
	send_len = status != 204;
	send_body = send_len && status != 304 && !head;
	cap = 160 + strlen(reason) + (content_type ? strlen(content_type) : 0) + extra_len +
	      (send_body ? len : 0);
	w = malloc(sizeof *w + cap);
	if (w == NULL) /* UNTESTED: OOM */
		return NULL;
	n = snprintf(w->data, cap, "HTTP/1.1 %d %s\r\n%s%s%s", status, reason,
		     content_type ? "Content-Type: " : "", content_type ? content_type : "",
		     content_type ? "\r\n" : "");
	if (send_len)
		n += snprintf(w->data + n, cap - (size_t)n, "Content-Length: %zu\r\n", len);
	n += snprintf(w->data + n, cap - (size_t)n, "Connection: %s\r\n%s%s\r\n",
		      keep_alive ? "keep-alive" : "close", extra,
		      extra_len > 0 && extra[extra_len - 1] != '\n' ? "\r\n" : "");
	w->len = (size_t)n;
	if (send_body && len > 0) {
		memcpy(w->data + w->len, body, len);
		w->len += len;
	}
	w->final = true;
	return w;
}

/* Answer a request the parser rejected (or an over-limit connection), then linger. */
static void conn_send_error(struct http_conn *c, int status, const char *msg)
{
	char body[160];
	struct http_write *w;
	int n = snprintf(body, sizeof body, "%s\n", msg);

	c->close_after = true;
	w = response_build(status, "text/plain; charset=utf-8", body, (size_t)n, NULL, false,
			   false);
	if (w == NULL) { /* UNTESTED: OOM */
		conn_close(c);
		return;
	}
	conn_write(c, w);
}

static void conn_dispatch(struct http_conn *c)
{
	struct baton_http_server *s = c->srv;
	struct baton_http_exchange *ex = calloc(1, sizeof *ex);

	if (ex == NULL) { /* UNTESTED: OOM */
		conn_send_error(c, 503, "out of memory");
		return;
	}
	baton_http_parse_take(&c->parse, &ex->msg);
	ex->keep_alive = c->parse.keep_alive;
	ex->head = strcmp(ex->msg.req.method, "HEAD") == 0;
	baton_http_parse_next(&c->parse);
	baton_strlcpy(ex->msg.req.remote_addr, c->remote, sizeof ex->msg.req.remote_addr);
	ex->conn = c;
	c->ex = ex;
	c->state = CONN_HANDLING;
	c->continue_sent = false;
	conn_read_stop(c);
	(void)uv_timer_stop(&c->timer);
	s->fn(s->ctx, ex, &ex->msg.req);  /* may respond, or close the server, right here */
}

static void conn_process(struct http_conn *c, const char *data, size_t len)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	const char *msg;
	size_t used;
	int status;

	switch (baton_http_parse_feed(&c->parse, data, len, &used)) {
	case BATON_HTTP_PARSE_MORE:
		if (c->parse.expect_continue && !c->continue_sent) {
			struct http_write *w = malloc(sizeof *w + sizeof cont);

			c->continue_sent = true;
			if (w == NULL) { /* UNTESTED: OOM */
				conn_close(c);
				return;
			}
			memcpy(w->data, cont, sizeof cont - 1);
			w->len = sizeof cont - 1;
			w->final = false;
			conn_write(c, w);
		}
		conn_read_start(c);
		return;
	case BATON_HTTP_PARSE_REQUEST:
		if (used < len) {
			c->pending = malloc(len - used);
			if (c->pending == NULL) { /* UNTESTED: OOM; drop the pipeline */
				c->close_after = true;
			} else {
				memcpy(c->pending, data + used, len - used);
				c->pending_len = len - used;
			}
		}
		conn_dispatch(c);
		return;
	case BATON_HTTP_PARSE_ERROR:
		status = baton_http_parse_error(&c->parse, &msg);
		conn_send_error(c, status, msg);
		return;
	}
}

void baton_http_respond(struct baton_http_exchange *ex, int status, const char *content_type,
			const void *body, size_t len, const char *extra_headers)
{
	struct http_conn *c = ex->conn;
	struct http_write *w;

	if (c == NULL) {                 /* client gone or server closed */
		exchange_free(ex);
		return;
	}
	c->ex = NULL;
	if (!ex->keep_alive)
		c->close_after = true;
	/* build before freeing: @body may point into the request */
	w = response_build(status, content_type, body, len, extra_headers, !c->close_after,
			   ex->head);
	exchange_free(ex);
	if (w == NULL) { /* UNTESTED: OOM */
		conn_close(c);
		return;
	}
	conn_write(c, w);
}

/* ------------------------------------------------------------------------ */
/* Listener                                                                 */
/* ------------------------------------------------------------------------ */

static void format_addr(char *out, size_t n, const struct sockaddr *sa)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;

		(void)uv_ip6_name(a, ip, sizeof ip);
		snprintf(out, n, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;

		(void)uv_ip4_name(a, ip, sizeof ip);
		snprintf(out, n, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
	}
}

static void srv_connection_cb(uv_stream_t *l, int status)
{
	struct baton_http_server *s = l->data;
	uint64_t hard_cap = (uint64_t)s->opts.max_conns + s->opts.max_conns / 4 + 16;
	struct sockaddr_storage ss;
	int sslen = sizeof ss;
	struct http_conn *c;

	if (status < 0 || s->closing) /* UNTESTED: accept errors (EMFILE); libuv retries */
		return;
	c = calloc(1, sizeof *c);
	if (c == NULL) /* UNTESTED: OOM, see the top of the file */
		return;
	if (uv_tcp_init(s->loop, &c->tcp) != 0) { /* UNTESTED: cannot fail on Unix */
		free(c);
		return;
	}
	(void)uv_timer_init(s->loop, &c->timer); /* always 0 (libuv src/timer.c) */
	c->tcp.data = c;
	c->timer.data = c;
	c->open_handles = 2;
	c->srv = s;
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	baton_http_parse_init(&c->parse, s->opts.max_body, s->opts.max_header_bytes);
	c->state = CONN_READING;
	if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0 || s->n_conns > hard_cap) {
		conn_close(c);
		return;
	}
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sslen) == 0)
		format_addr(c->remote, sizeof c->remote, (struct sockaddr *)&ss);
	(void)uv_tcp_nodelay(&c->tcp, 1);
	if (s->n_conns > s->opts.max_conns) {
		conn_send_error(c, 503, "too many connections");
		return;
	}
	conn_timer_start(c, s->opts.idle_timeout_ms);
	conn_read_start(c);
}

static void free_handle_cb(uv_handle_t *h)
{
	free(h);
}

static void listener_closed_cb(uv_handle_t *h)
{
	struct baton_http_server *s = h->data;

	free(h);
	s->listener = NULL;
	srv_maybe_closed(s);
}

int baton_http_server_init(struct baton_http_server *s, uv_loop_t *loop,
			   const struct baton_http_server_opts *o, baton_http_handler_fn fn, void *ctx,
			   char *errbuf, size_t errlen)
{
	const char *host = o->host != NULL ? o->host : "127.0.0.1";
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd, one = 1, rv;

	memset(s, 0, sizeof *s);
	s->loop = loop;
	s->fn = fn;
	s->ctx = ctx;
	s->opts = *o;
	s->opts.host = NULL;             /* not kept: the caller's string */
	if (s->opts.max_body == 0)
		s->opts.max_body = HTTP_DEFAULT_MAX_BODY;
	if (s->opts.max_conns == 0)
		s->opts.max_conns = HTTP_DEFAULT_MAX_CONNS;
	if (s->opts.idle_timeout_ms == 0)
		s->opts.idle_timeout_ms = HTTP_DEFAULT_IDLE_MS;
	if (s->opts.max_header_bytes == 0)
		s->opts.max_header_bytes = HTTP_DEFAULT_MAX_HEADER_BYTES;
	if (o->port < 0 || o->port > 65535) {
		snprintf(errbuf, errlen, "listen on '%s': port %d out of range", host, o->port);
		return -EINVAL;
	}
	memset(&ss, 0, sizeof ss);
	if (uv_ip4_addr(host, o->port, (struct sockaddr_in *)&ss) == 0) {
		sslen = sizeof(struct sockaddr_in);
	} else if (uv_ip6_addr(host, o->port, (struct sockaddr_in6 *)&ss) == 0) {
		sslen = sizeof(struct sockaddr_in6);
	} else {
		snprintf(errbuf, errlen, "listen on '%s': not an IPv4 or IPv6 address", host);
		return -EINVAL;
	}
	format_addr(s->addr, sizeof s->addr, (struct sockaddr *)&ss);

	/* Bind and listen with plain syscalls first: every likely failure
	 * (address in use, permission) then happens before a uv handle exists,
	 * so a failed init leaves nothing on the loop. */
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rv = -errno;
		snprintf(errbuf, errlen, "listen on %s: socket(): %s", s->addr, strerror(-rv));
		return rv;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, 128) != 0) {
		rv = -errno;
		snprintf(errbuf, errlen, "listen on %s: %s", s->addr, strerror(-rv));
		close(fd);
		return rv;
	}
	sslen = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0) {
		format_addr(s->addr, sizeof s->addr, (struct sockaddr *)&ss);
		s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							 : ((struct sockaddr_in *)&ss)->sin_port);
	}

	s->listener = malloc(sizeof *s->listener);
	if (s->listener == NULL) { /* UNTESTED: OOM */
		close(fd);
		snprintf(errbuf, errlen, "listen on %s: out of memory", s->addr);
		return -ENOMEM;
	}
	rv = uv_tcp_init(loop, s->listener);
	if (rv != 0) { /* UNTESTED: cannot fail on Unix */
		free(s->listener);
		s->listener = NULL;
		close(fd);
		snprintf(errbuf, errlen, "listen on %s: uv_tcp_init(): %s", s->addr, uv_strerror(rv));
		return rv;
	}
	s->listener->data = s;
	rv = uv_tcp_open(s->listener, fd);
	if (rv != 0) /* UNTESTED */
		close(fd);
	if (rv == 0)
		rv = uv_listen((uv_stream_t *)s->listener, 128, srv_connection_cb);
	if (rv != 0) { /* UNTESTED: the heap handle goes away on its own */
		uv_close((uv_handle_t *)s->listener, free_handle_cb);
		s->listener = NULL;
		snprintf(errbuf, errlen, "listen on %s: %s", s->addr, uv_strerror(rv));
		return rv;
	}
	return 0;
}

int baton_http_server_port(const struct baton_http_server *s)
{
	return s->port;
}

void baton_http_server_close(struct baton_http_server *s, void (*cb)(struct baton_http_server *s))
{
	struct http_conn *c, *next;

	if (s->closing)
		return;
	s->closing = true;
	s->close_cb = cb;
	if (s->listener != NULL)
		uv_close((uv_handle_t *)s->listener, listener_closed_cb);
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		conn_close(c);
	}
	srv_maybe_closed(s);
}
