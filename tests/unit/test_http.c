/* SPDX-License-Identifier: MIT */
/* lib/http_server + lib/http_client against each other on 127.0.0.1, all on
 * one loop, driven by a bounded uv_run(UV_RUN_ONCE) loop until a flag is set.
 * Raw-bytes cases use a uv_tcp client on the same loop. No sleeps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_client.h"
#include "http_parse.h"
#include "http_server.h"

/* ---- Fixture ------------------------------------------------------------ */

enum handler_mode {
	H_ECHO,                          /* 200 "<method> <path> <query> <body>" */
	H_HOLD,                          /* keep the exchange, never answer */
	H_LATER,                         /* answer from a timer after later_ms */
	H_BIG,                           /* 200 with 10000 bytes */
};

struct raw {
	uv_tcp_t tcp;
	uv_connect_t conn;
	uv_write_t wr;
	struct fixture *f;
	char *send;
	size_t send_len;
	char out[65536];
	size_t out_len;
	bool used, eof, closed;
};

struct result {
	bool done;
	int n_cb;
	bool fired_inside_call;
	int err;
	long status;
	size_t body_len;
	char body[8192];
	char errmsg[256];
	double total_s;
};

struct fixture {
	uv_loop_t loop;
	uv_timer_t deadline;
	uv_timer_t later;
	bool expired;
	struct baton_http_server srv;
	struct baton_http_client cli;
	bool srv_open, cli_open, srv_closed, cli_closed;
	enum handler_mode mode;
	unsigned later_ms;
	struct baton_http_exchange *held[8];
	int n_held;
	int n_requests;
	char remotes[8][64];
	char last_ct[64];
	char last_auth[512];
	struct raw raw[3];
};

static bool in_call;                     /* set around baton_http_call() */

static void deadline_cb(uv_timer_t *t)
{
	struct fixture *f = t->data;

	f->expired = true;
}

/* Run the loop until *flag or @ms elapsed; returns *flag. */
static bool run_until(struct fixture *f, const bool *flag, unsigned ms)
{
	f->expired = false;
	uv_timer_start(&f->deadline, deadline_cb, ms, 0);
	for (int i = 0; i < 100000 && !*flag && !f->expired; i++)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_timer_stop(&f->deadline);
	return *flag;
}

static void later_cb(uv_timer_t *t)
{
	struct fixture *f = t->data;

	for (int i = 0; i < f->n_held; i++)
		baton_http_respond(f->held[i], 200, "text/plain", "later", 5, NULL);
	f->n_held = 0;
}

static void handler(void *ctx, struct baton_http_exchange *ex, const struct baton_http_request *req)
{
	struct fixture *f = ctx;
	const char *ct = baton_http_header(req, "content-type");
	char buf[4096];
	int n;

	if (f->n_requests < 8)
		snprintf(f->remotes[f->n_requests], sizeof f->remotes[0], "%s", req->remote_addr);
	f->n_requests++;
	snprintf(f->last_ct, sizeof f->last_ct, "%s", ct ? ct : "");
	ct = baton_http_header(req, "authorization");
	snprintf(f->last_auth, sizeof f->last_auth, "%s", ct ? ct : "");
	switch (f->mode) {
	case H_ECHO:
		n = snprintf(buf, sizeof buf, "%s %s %s %.*s", req->method, req->path, req->query,
			     (int)(req->body_len < 1000 ? req->body_len : 1000),
			     (const char *)req->body);
		baton_http_respond(ex, 200, "text/plain", buf, (size_t)n, "X-Echo: 1\r\n");
		break;
	case H_HOLD:
	case H_LATER:
		assert_true(f->n_held < 8);
		f->held[f->n_held++] = ex;
		if (f->mode == H_LATER)
			uv_timer_start(&f->later, later_cb, f->later_ms, 0);
		break;
	case H_BIG: {
		static char big[10000];
		memset(big, 'x', sizeof big);
		baton_http_respond(ex, 200, "text/plain", big, sizeof big, NULL);
		break;
	}
	}
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	uv_timer_init(&f->loop, &f->deadline);
	uv_timer_init(&f->loop, &f->later);
	f->deadline.data = f;
	f->later.data = f;
	*state = f;
	return 0;
}

static void start_server(struct fixture *f, const struct baton_http_server_opts *o)
{
	struct baton_http_server_opts def = { .host = "127.0.0.1" };
	char err[256] = "";
	int rv = baton_http_server_init(&f->srv, &f->loop, o ? o : &def, handler, f, err,
					sizeof err);

	if (rv != 0)
		fail_msg("server init: %s", err);
	assert_true(baton_http_server_port(&f->srv) > 0);
	f->srv_open = true;
}

static void start_client(struct fixture *f)
{
	int rv = baton_http_client_init(&f->cli, &f->loop);

	if (rv != 0)
		fail_msg("client init: %s", f->cli.errmsg);
	f->cli_open = true;
}

static void srv_closed_cb(struct baton_http_server *s)
{
	struct fixture *f = s->data;

	f->srv_closed = true;
}

static void cli_closed_cb(struct baton_http_client *c)
{
	struct fixture *f = c->data;

	f->cli_closed = true;
}

static void close_server(struct fixture *f)
{
	f->srv.data = f;
	baton_http_server_close(&f->srv, srv_closed_cb);
	f->srv_open = false;
	assert_true(run_until(f, &f->srv_closed, 5000));
}

static void close_client(struct fixture *f)
{
	f->cli.data = f;
	baton_http_client_close(&f->cli, cli_closed_cb);
	f->cli_open = false;
	assert_true(run_until(f, &f->cli_closed, 5000));
}

static void raw_closed_cb(uv_handle_t *h)
{
	struct raw *r = h->data;

	r->closed = true;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->cli_open)
		close_client(f);
	if (f->srv_open)
		close_server(f);
	for (int i = 0; i < f->n_held; i++) /* answering after close just frees */
		baton_http_respond(f->held[i], 503, NULL, NULL, 0, NULL);
	for (int i = 0; i < 3; i++) {
		struct raw *r = &f->raw[i];

		if (r->used && !uv_is_closing((uv_handle_t *)&r->tcp))
			uv_close((uv_handle_t *)&r->tcp, raw_closed_cb);
		free(r->send);
	}
	uv_close((uv_handle_t *)&f->deadline, NULL);
	uv_close((uv_handle_t *)&f->later, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	/* an open handle here is a leak: fail, do not paper over it */
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

/* ---- Client helpers ----------------------------------------------------- */

static void result_cb(void *data, const struct baton_http_result *res)
{
	struct result *r = data;

	r->fired_inside_call = in_call;
	r->n_cb++;
	r->err = res->err;
	r->status = res->status;
	r->body_len = res->body_len;
	r->total_s = res->total_s;
	memcpy(r->body, res->body, res->body_len < sizeof r->body - 1 ? res->body_len + 1
								       : sizeof r->body - 1);
	snprintf(r->errmsg, sizeof r->errmsg, "%s", res->errmsg);
	r->done = true;
}

static struct baton_http_call *call_opts(struct fixture *f, struct result *r,
					 struct baton_http_call_opts *o, const char *path)
{
	static char url[8][256];
	static int next;
	struct baton_http_call *call = NULL;
	char *u = url[next++ % 8];
	int rv;

	snprintf(u, 256, "http://127.0.0.1:%d%s", baton_http_server_port(&f->srv), path);
	o->url = u;
	in_call = true;
	rv = baton_http_call(&f->cli, o, result_cb, r, &call);
	in_call = false;
	assert_int_equal(rv, 0);
	return call;
}

static struct baton_http_call *call(struct fixture *f, struct result *r, const char *method,
				    const char *path, const char *body, size_t len)
{
	struct baton_http_call_opts o = { .method = method, .body = body, .body_len = len };

	return call_opts(f, r, &o, path);
}

/* ---- Raw TCP helper ----------------------------------------------------- */

static void raw_alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
	struct raw *r = h->data;

	(void)sz;
	buf->base = r->out + r->out_len;
	buf->len = sizeof r->out - 1 - r->out_len;
}

static void raw_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct raw *r = s->data;

	(void)buf;
	if (n > 0) {
		r->out_len += (size_t)n;
		r->out[r->out_len] = '\0';
		return;
	}
	if (n < 0) {                     /* EOF or reset: the server closed */
		r->eof = true;
		uv_close((uv_handle_t *)&r->tcp, raw_closed_cb);
	}
}

static void raw_write_cb(uv_write_t *w, int status)
{
	(void)w;
	(void)status;
}

static void raw_connect_cb(uv_connect_t *c, int status)
{
	struct raw *r = c->data;

	assert_int_equal(status, 0);
	if (r->send_len > 0) {
		uv_buf_t b = uv_buf_init(r->send, (unsigned)r->send_len);

		assert_int_equal(uv_write(&r->wr, (uv_stream_t *)&r->tcp, &b, 1, raw_write_cb), 0);
	}
	assert_int_equal(uv_read_start((uv_stream_t *)&r->tcp, raw_alloc_cb, raw_read_cb), 0);
}

/* Connect raw[i] to the server and send @len bytes; reads until EOF. */
static struct raw *raw_send(struct fixture *f, int i, const char *bytes, size_t len)
{
	struct raw *r = &f->raw[i];
	struct sockaddr_in sa;

	r->f = f;
	r->used = true;
	r->send = malloc(len + 1);
	assert_non_null(r->send);
	memcpy(r->send, bytes, len);
	r->send_len = len;
	uv_tcp_init(&f->loop, &r->tcp);
	r->tcp.data = r;
	r->conn.data = r;
	uv_ip4_addr("127.0.0.1", baton_http_server_port(&f->srv), &sa);
	assert_int_equal(uv_tcp_connect(&r->conn, &r->tcp, (struct sockaddr *)&sa, raw_connect_cb),
			 0);
	return r;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* ---- Server <-> client round trips -------------------------------------- */

/* A GET reaches the handler with path and query split, and its answer comes back. */
static void get_round_trip_returns_handler_answer(void **state)
{
	struct fixture *f = *state;
	struct result r = { 0 };

	start_server(f, NULL);
	start_client(f);
	call(f, &r, "GET", "/v1/status?group=a", NULL, 0);
	assert_true(run_until(f, &r.done, 5000));
	assert_int_equal(r.err, 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "GET /v1/status group=a ");
	assert_false(r.fired_inside_call);
}

/* A POST body and its headers reach the handler intact. */
static void post_round_trip_carries_body_and_headers(void **state)
{
	struct fixture *f = *state;
	struct result r = { 0 };
	const char *hdrs[] = { "Content-Type: application/json", NULL };
	struct baton_http_call_opts o = { .method = "POST", .headers = hdrs, .body = "{\"a\":1}",
					  .body_len = 7 };

	start_server(f, NULL);
	start_client(f);
	call_opts(f, &r, &o, "/v1/commands");
	assert_true(run_until(f, &r.done, 5000));
	assert_int_equal(r.err, 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "POST /v1/commands  {\"a\":1}");
	assert_string_equal(f->last_ct, "application/json");
}

/* Two calls in a row travel over the same kept-alive connection. */
static void keep_alive_reuses_the_connection(void **state)
{
	struct fixture *f = *state;
	struct result a = { 0 }, b = { 0 };

	start_server(f, NULL);
	start_client(f);
	call(f, &a, "GET", "/one", NULL, 0);
	assert_true(run_until(f, &a.done, 5000));
	call(f, &b, "GET", "/two", NULL, 0);
	assert_true(run_until(f, &b.done, 5000));
	assert_int_equal(a.status, 200);
	assert_int_equal(b.status, 200);
	assert_int_equal(f->n_requests, 2);
	assert_string_equal(f->remotes[0], f->remotes[1]);
}

/* A handler may answer later, e.g. after a raft commit (here: a timer). */
static void async_handler_answers_from_a_timer(void **state)
{
	struct fixture *f = *state;
	struct result r = { 0 };

	f->mode = H_LATER;
	f->later_ms = 30;
	start_server(f, NULL);
	start_client(f);
	call(f, &r, "GET", "/slow", NULL, 0);
	assert_true(run_until(f, &r.done, 5000));
	assert_int_equal(r.err, 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "later");
	assert_true(r.total_s >= 0.025);
}

/* A body over max_body is refused with 413 before the handler sees it. */
static void body_over_max_body_gets_413(void **state)
{
	struct fixture *f = *state;
	struct result r = { 0 };
	size_t len = 2 * 1024 * 1024;
	char *big = malloc(len);

	assert_non_null(big);
	memset(big, 'a', len);
	start_server(f, NULL);
	start_client(f);
	call(f, &r, "POST", "/v1/health", big, len);
	free(big);                       /* the client copied it */
	assert_true(run_until(f, &r.done, 10000));
	assert_int_equal(r.err, 0);
	assert_int_equal(r.status, 413);
	assert_non_null(strstr(r.body, "exceeds 1048576 bytes"));
	assert_int_equal(f->n_requests, 0);
}

/* "Expect: 100-continue" gets an interim 100, so curl does not wait 1 s for it. */
static void expect_continue_gets_interim_100(void **state)
{
	struct fixture *f = *state;
	struct result r = { 0 };
	const char *hdrs[] = { "Expect: 100-continue", NULL };
	static char body[5000];
	struct baton_http_call_opts o = { .method = "PUT", .headers = hdrs, .body = body,
					  .body_len = sizeof body };

	memset(body, 'b', sizeof body);
	start_server(f, NULL);
	start_client(f);
	call_opts(f, &r, &o, "/up");
	assert_true(run_until(f, &r.done, 5000));
	assert_int_equal(r.status, 200);
	assert_memory_equal(r.body, "PUT /up  bbbb", 13);
	assert_true(r.total_s < 0.9);
}

/* HEAD through the client: status and no body. */
static void head_through_client_has_no_body(void **state)
{
	struct fixture *f = *state;
	struct result r = { 0 };

	start_server(f, NULL);
	start_client(f);
	call(f, &r, "HEAD", "/", NULL, 0);
	assert_true(run_until(f, &r.done, 5000));
	assert_int_equal(r.err, 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
}

/* ---- Raw bytes against the server --------------------------------------- */

/* Garbage (here: the start of a TLS handshake) gets 400 naming the problem, then a close. */
static void garbage_gets_400_and_close(void **state)
{
	struct fixture *f = *state;
	static const char junk[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n";
	struct raw *r;

	start_server(f, NULL);
	r = raw_send(f, 0, junk, sizeof junk - 1);
	assert_true(run_until(f, &r->eof, 5000));
	assert_true(strncmp(r->out, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
	assert_non_null(strstr(r->out, "Connection: close\r\n"));
	assert_non_null(strstr(r->out, "malformed request: invalid HTTP method"));
	assert_int_equal(f->n_requests, 0);
}

/* Headers over max_header_bytes get 431. */
static void oversized_headers_get_431(void **state)
{
	struct fixture *f = *state;
	size_t n = 20000;
	char *req = malloc(n + 100);
	struct raw *r;
	int len;

	start_server(f, NULL);
	len = snprintf(req, n + 100, "GET / HTTP/1.1\r\nX-Big: ");
	memset(req + len, 'v', n);
	len += (int)n;
	len += snprintf(req + len, 100, "\r\n\r\n");
	r = raw_send(f, 0, req, (size_t)len);
	free(req);
	assert_true(run_until(f, &r->eof, 5000));
	assert_true(strncmp(r->out, "HTTP/1.1 431 ", 13) == 0);
	assert_non_null(strstr(r->out, "request headers exceed 16384 bytes"));
}

/* Pipelined requests are answered in order; the last asks to close, and the server does. */
static void pipelined_requests_are_answered_in_order(void **state)
{
	struct fixture *f = *state;
	static const char two[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
				  "POST /b?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz"
				  "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct raw *r;
	char *a, *b, *c;

	start_server(f, NULL);
	r = raw_send(f, 0, two, sizeof two - 1);
	assert_true(run_until(f, &r->eof, 5000));
	assert_int_equal(count(r->out, "HTTP/1.1 200 OK\r\n"), 3);
	a = strstr(r->out, "GET /a  ");
	b = strstr(r->out, "POST /b q=1 xyz");
	c = strstr(r->out, "GET /c  ");
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_true(a < b && b < c);
	assert_int_equal(count(r->out, "Connection: keep-alive\r\n"), 2);
	assert_int_equal(count(r->out, "Connection: close\r\n"), 1);
	assert_non_null(strstr(r->out, "X-Echo: 1\r\n"));
}

/* HEAD gets the Content-Length of the body, and no body. */
static void head_gets_content_length_without_body(void **state)
{
	struct fixture *f = *state;
	static const char req[] = "HEAD /h HTTP/1.1\r\nConnection: close\r\n\r\n";
	struct raw *r;
	const char *end;

	start_server(f, NULL);
	r = raw_send(f, 0, req, sizeof req - 1);
	assert_true(run_until(f, &r->eof, 5000));
	assert_non_null(strstr(r->out, "Content-Length: 9\r\n")); /* "HEAD /h  " */
	end = strstr(r->out, "\r\n\r\n");
	assert_non_null(end);
	assert_string_equal(end, "\r\n\r\n");
}

/* Over max_conns, a new connection gets 503 and is closed. */
static void connection_over_max_conns_gets_503(void **state)
{
	struct fixture *f = *state;
	struct baton_http_server_opts o = { .host = "127.0.0.1", .max_conns = 1 };
	static const char req[] = "GET / HTTP/1.1\r\n\r\n";
	struct raw *r;
	bool one = false;

	f->mode = H_HOLD;
	start_server(f, &o);
	raw_send(f, 0, req, sizeof req - 1);
	for (int i = 0; i < 1000 && f->n_held == 0; i++)
		run_until(f, &one, 5);   /* until the first request is held */
	assert_int_equal(f->n_held, 1);
	r = raw_send(f, 1, req, sizeof req - 1);
	assert_true(run_until(f, &r->eof, 5000));
	assert_true(strncmp(r->out, "HTTP/1.1 503 ", 13) == 0);
	assert_non_null(strstr(r->out, "too many connections"));
	assert_int_equal(f->n_requests, 1);
}

/* A connection that sends nothing is closed after idle_timeout_ms. */
static void idle_connection_is_closed(void **state)
{
	struct fixture *f = *state;
	struct baton_http_server_opts o = { .host = "127.0.0.1", .idle_timeout_ms = 100 };
	struct raw *r;
	uint64_t t0;

	start_server(f, &o);
	t0 = uv_hrtime();
	r = raw_send(f, 0, "", 0);
	assert_true(run_until(f, &r->eof, 5000));
	assert_int_equal(r->out_len, 0);
	assert_true(uv_hrtime() - t0 >= 90 * 1000000ull);
}

/* A client trickling a request is cut off too: reads do not reset the timer. */
static void partial_request_is_closed_after_idle_timeout(void **state)
{
	struct fixture *f = *state;
	struct baton_http_server_opts o = { .host = "127.0.0.1", .idle_timeout_ms = 100 };
	static const char part[] = "GET / HTTP/1.1\r\nHost: x\r\n";
	struct raw *r;

	start_server(f, &o);
	r = raw_send(f, 0, part, sizeof part - 1);
	assert_true(run_until(f, &r->eof, 5000));
	assert_int_equal(r->out_len, 0);
	assert_int_equal(f->n_requests, 0);
}

/* A client that leaves while its request is handled: the late answer is
 * dropped and the connection released. */
static void answer_to_a_departed_client_is_dropped(void **state)
{
	struct fixture *f = *state;
	static const char req[] = "GET /gone HTTP/1.1\r\n\r\n";
	bool one = false;
	struct raw *r;

	f->mode = H_HOLD;
	start_server(f, NULL);
	r = raw_send(f, 0, req, sizeof req - 1);
	for (int i = 0; i < 1000 && f->n_held == 0; i++)
		run_until(f, &one, 5);
	assert_int_equal(f->n_held, 1);
	uv_close((uv_handle_t *)&r->tcp, raw_closed_cb);
	assert_true(run_until(f, &r->closed, 5000));
	baton_http_respond(f->held[0], 200, "text/plain", "bye", 3, NULL);
	f->n_held = 0;
	for (int i = 0; i < 1000 && f->srv.n_conns > 0; i++)
		run_until(f, &one, 5);
	assert_int_equal(f->srv.n_conns, 0);
}

/* aws_sigv4 + userpwd sign the request (Route53 driver). */
static void sigv4_options_sign_the_request(void **state)
{
	struct fixture *f = *state;
	struct result r = { 0 };
	struct baton_http_call_opts o = { .method = "POST", .body = "<x/>", .body_len = 4,
					  .aws_sigv4 = "aws:amz:us-east-1:route53",
					  .userpwd = "AKIDEXAMPLE:secret" };

	start_server(f, NULL);
	start_client(f);
	call_opts(f, &r, &o, "/2013-04-01/hostedzone/Z1/rrset");
	assert_true(run_until(f, &r.done, 5000));
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(f->last_auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
	assert_non_null(strstr(f->last_auth, "/us-east-1/route53/aws4_request"));
}

/* ---- Client failure modes ----------------------------------------------- */

/* A server that never answers: the call fails with -ETIMEDOUT at timeout_ms. */
static void client_times_out_against_silent_server(void **state)
{
	struct fixture *f = *state;
	struct result r = { 0 };
	struct baton_http_call_opts o = { .timeout_ms = 200 };

	f->mode = H_HOLD;
	start_server(f, NULL);
	start_client(f);
	call_opts(f, &r, &o, "/never");
	assert_true(run_until(f, &r.done, 5000));
	assert_int_equal(r.err, -ETIMEDOUT);
	assert_int_equal(r.status, 0);
	assert_true(r.total_s >= 0.19 && r.total_s < 2.0);
	assert_true(strlen(r.errmsg) > 0);
}

/* A port with nothing listening: -ECONNREFUSED. */
static void client_gets_connection_refused(void **state)
{
	struct fixture *f = *state;
	struct result r = { 0 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	char url[64];
	struct baton_http_call_opts o = { .url = url };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* bound but not listening: the port stays ours and refuses connections */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(sa.sin_port));
	start_client(f);
	assert_int_equal(baton_http_call(&f->cli, &o, result_cb, &r, NULL), 0);
	assert_true(run_until(f, &r.done, 5000));
	close(fd);
	assert_int_equal(r.err, -ECONNREFUSED);
}

/* Cancel: the callback fires once, later, with -ECANCELED. */
static void cancelled_call_reports_ecanceled(void **state)
{
	struct fixture *f = *state;
	struct result r = { 0 };
	struct baton_http_call *c;
	bool one = false;

	f->mode = H_HOLD;
	start_server(f, NULL);
	start_client(f);
	c = call(f, &r, "GET", "/held", NULL, 0);
	for (int i = 0; i < 1000 && f->n_held == 0; i++)
		run_until(f, &one, 5);
	assert_int_equal(f->n_held, 1);
	baton_http_call_cancel(c);
	assert_false(r.done);            /* never synchronously */
	assert_true(run_until(f, &r.done, 5000));
	assert_int_equal(r.err, -ECANCELED);
	assert_int_equal(r.n_cb, 1);
}

/* A URL curl cannot parse still reports through the callback, never inside the call. */
static void bad_url_reports_asynchronously(void **state)
{
	struct fixture *f = *state;
	struct result r = { 0 };
	struct baton_http_call_opts o = { .url = "http://[::1/" };

	start_client(f);
	in_call = true;
	assert_int_equal(baton_http_call(&f->cli, &o, result_cb, &r, NULL), 0);
	in_call = false;
	assert_false(r.done);
	assert_true(run_until(f, &r.done, 5000));
	assert_false(r.fired_inside_call);
	assert_int_equal(r.err, -EINVAL);
}

/* Options that could inject headers are refused up front. */
static void header_with_crlf_is_refused(void **state)
{
	struct fixture *f = *state;
	struct result r = { 0 };
	const char *hdrs[] = { "X-A: 1\r\nX-Injected: 2", NULL };
	struct baton_http_call_opts o = { .url = "http://127.0.0.1:1/", .headers = hdrs };

	start_client(f);
	assert_int_equal(baton_http_call(&f->cli, &o, result_cb, &r, NULL), -EINVAL);
	o.headers = NULL;
	o.method = "GET /x";
	assert_int_equal(baton_http_call(&f->cli, &o, result_cb, &r, NULL), -EINVAL);
}

/* A response over max_response fails with -EMSGSIZE. */
static void response_over_max_response_fails(void **state)
{
	struct fixture *f = *state;
	struct result r = { 0 };
	struct baton_http_call_opts o = { .max_response = 1000 };

	f->mode = H_BIG;
	start_server(f, NULL);
	start_client(f);
	call_opts(f, &r, &o, "/big");
	assert_true(run_until(f, &r.done, 5000));
	assert_int_equal(r.err, -EMSGSIZE);
	assert_int_equal(r.body_len, 0);
}

/* ---- Lifecycle ---------------------------------------------------------- */

/* A second server on a taken port fails, naming the address. */
static void port_in_use_fails_naming_the_address(void **state)
{
	struct fixture *f = *state;
	struct baton_http_server other;
	struct baton_http_server_opts o = { .host = "127.0.0.1" };
	char err[256] = "", want[64];

	start_server(f, NULL);
	o.port = baton_http_server_port(&f->srv);
	assert_int_equal(baton_http_server_init(&other, &f->loop, &o, handler, f, err, sizeof err),
			 -EADDRINUSE);
	snprintf(want, sizeof want, "listen on 127.0.0.1:%d: ", o.port);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "in use"));
}

/* A host that is not an IP literal is refused with a clear message. */
static void hostname_listen_address_is_refused(void **state)
{
	struct fixture *f = *state;
	struct baton_http_server s;
	struct baton_http_server_opts o = { .host = "localhost" };
	char err[256] = "";

	assert_int_equal(baton_http_server_init(&s, &f->loop, &o, handler, f, err, sizeof err),
			 -EINVAL);
	assert_non_null(strstr(err, "'localhost'"));
}

/* Closing both ends with a request in flight releases everything: the call
 * fails with -ECANCELED, the held exchange can still be answered (it is just
 * freed), and the loop closes with nothing open (checked in teardown). */
static void close_with_requests_in_flight_releases_everything(void **state)
{
	struct fixture *f = *state;
	struct result r = { 0 }, r2 = { 0 };
	bool one = false;

	f->mode = H_HOLD;
	start_server(f, NULL);
	start_client(f);
	call(f, &r, "GET", "/held", NULL, 0);
	call(f, &r2, "POST", "/held2", "x", 1);
	for (int i = 0; i < 1000 && f->n_held < 2; i++)
		run_until(f, &one, 5);
	assert_int_equal(f->n_held, 2);
	f->cli.data = f;
	f->srv.data = f;
	baton_http_client_close(&f->cli, cli_closed_cb);
	baton_http_server_close(&f->srv, srv_closed_cb);
	f->cli_open = false;
	f->srv_open = false;
	assert_false(r.done);
	assert_true(run_until(f, &f->cli_closed, 5000));
	assert_true(run_until(f, &f->srv_closed, 5000));
	assert_int_equal(r.err, -ECANCELED);
	assert_int_equal(r2.err, -ECANCELED);
	for (int i = 0; i < f->n_held; i++)
		baton_http_respond(f->held[i], 200, NULL, "late", 4, NULL);
	f->n_held = 0;
}

struct gap {
	uint64_t last, max;
	int ticks;
};

static void tick_cb(uv_timer_t *t)
{
	struct gap *g = t->data;
	uint64_t now = uv_hrtime();

	if (g->last != 0 && now - g->last > g->max)
		g->max = now - g->last;
	g->last = now;
	g->ticks++;
}

/* The loop keeps turning while a slow request is pending. */
static void loop_is_never_blocked_during_a_slow_call(void **state)
{
	struct fixture *f = *state;
	struct result r = { 0 };
	struct gap g = { 0 };
	uv_timer_t tick;

	f->mode = H_LATER;
	f->later_ms = 300;
	start_server(f, NULL);
	start_client(f);
	uv_timer_init(&f->loop, &tick);
	tick.data = &g;
	uv_timer_start(&tick, tick_cb, 10, 10);
	call(f, &r, "GET", "/slow", NULL, 0);
	assert_true(run_until(f, &r.done, 5000));
	uv_close((uv_handle_t *)&tick, NULL);
	assert_int_equal(r.status, 200);
	assert_true(g.ticks >= 20);
	assert_true(g.max < 100 * 1000000ull);
}

/* ---- Parser, without sockets -------------------------------------------- */

static const char pipelined[] = "GET /a?x=1 HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-B:  v w \r\n\r\n"
				"POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
				"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";

static void check_pipelined(struct baton_http_parse *p, const char *data, size_t len, size_t step)
{
	size_t off = 0, used, n;
	int got = 0;

	while (off < len) {
		n = len - off < step ? len - off : step;
		switch (baton_http_parse_feed(p, data + off, n, &used)) {
		case BATON_HTTP_PARSE_MORE:
			assert_int_equal(used, n);
			break;
		case BATON_HTTP_PARSE_REQUEST: {
			const struct baton_http_request *q = baton_http_parse_request(p);

			if (got == 0) {
				assert_string_equal(q->method, "GET");
				assert_string_equal(q->path, "/a");
				assert_string_equal(q->query, "x=1");
				assert_string_equal(baton_http_header(q, "host"), "h");
				assert_string_equal(baton_http_header(q, "x-empty"), "");
				assert_string_equal(baton_http_header(q, "X-b"), "v w ");
				assert_null(baton_http_header(q, "missing"));
				assert_int_equal(q->n_headers, 3);
				assert_int_equal(q->body_len, 0);
			} else {
				assert_string_equal(q->method, "POST");
				assert_string_equal(q->path, "/b");
				assert_string_equal(q->query, "");
				assert_int_equal(q->body_len, 5);
				assert_memory_equal(q->body, "abcde", 6);
			}
			assert_true(baton_http_parse_keep_alive(p));
			got++;
			baton_http_parse_next(p);
			break;
		}
		case BATON_HTTP_PARSE_ERROR:
			fail_msg("parse error: %d", baton_http_parse_error(p, NULL));
		}
		off += used;
	}
	assert_int_equal(got, 2);
}

/* Pipelined requests come out one at a time, however the bytes are split. */
static void parser_splits_pipelined_requests_at_any_chunking(void **state)
{
	(void)state;
	for (size_t step = 1; step <= sizeof pipelined; step++) {
		struct baton_http_parse *p = baton_http_parse_new(1024, 1024);

		assert_non_null(p);
		check_pipelined(p, pipelined, sizeof pipelined - 1, step);
		baton_http_parse_free(p);
	}
}

/* Feed @req to a fresh parser; the error status (0 if none), its text in *msg. */
static int parse_status(const char *req, size_t max_body, size_t max_hdr, const char **msg)
{
	static char text[128];
	struct baton_http_parse *p = baton_http_parse_new(max_body, max_hdr);
	const char *m = "";
	size_t used;
	int rv = 0;

	if (baton_http_parse_feed(p, req, strlen(req), &used) == BATON_HTTP_PARSE_ERROR)
		rv = baton_http_parse_error(p, &m);
	snprintf(text, sizeof text, "%s", m);
	*msg = text;
	baton_http_parse_free(p);
	return rv;
}

/* The parser maps each kind of bad input to its status. */
static void parser_reports_status_per_problem(void **state)
{
	const char *msg = NULL;

	(void)state;
	assert_int_equal(parse_status("BLAH / HTTP/1.1\r\n\r\n", 10, 100, &msg), 400);
	assert_int_equal(parse_status("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 10, 100,
				      &msg), 413);
	assert_int_equal(parse_status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
				      "b\r\nhello world\r\n",
				      10, 100, &msg),
			 413);
	assert_int_equal(parse_status("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n", 10,
				      16, &msg),
			 414);
	assert_int_equal(parse_status("GET / HTTP/1.1\r\nA: bbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n\r\n", 10,
				      16, &msg),
			 431);
	assert_string_equal(msg, "request headers exceed 16 bytes");
	/* request smuggling shapes */
	assert_int_equal(parse_status("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2"
				      "\r\n\r\n",
				      10, 100, &msg),
			 400);
	assert_int_equal(parse_status("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 10, 100,
				      &msg),
			 400);
}

/* HTTP/1.0 without keep-alive, and Connection: close, end the connection. */
static void parser_reports_keep_alive(void **state)
{
	static const char *reqs[] = { "GET / HTTP/1.0\r\n\r\n",
				      "GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
				      "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
				      "GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n" };
	static const bool want[] = { false, false, true, false };

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		struct baton_http_parse *p = baton_http_parse_new(10, 1000);
		size_t used;

		assert_int_equal(baton_http_parse_feed(p, reqs[i], strlen(reqs[i]), &used),
				 BATON_HTTP_PARSE_REQUEST);
		assert_int_equal(baton_http_parse_keep_alive(p), want[i]);
		baton_http_parse_free(p);
	}
}

/* An absolute-form target yields its path and query. */
static void parser_accepts_absolute_form(void **state)
{
	static const char req[] = "GET http://example.org:8080/v1/x?y=2 HTTP/1.1\r\n\r\n";
	struct baton_http_parse *p = baton_http_parse_new(10, 1000);
	size_t used;

	(void)state;
	assert_int_equal(baton_http_parse_feed(p, req, sizeof req - 1, &used),
			 BATON_HTTP_PARSE_REQUEST);
	assert_string_equal(baton_http_parse_request(p)->path, "/v1/x");
	assert_string_equal(baton_http_parse_request(p)->query, "y=2");
	baton_http_parse_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(get_round_trip_returns_handler_answer),
		T(post_round_trip_carries_body_and_headers),
		T(keep_alive_reuses_the_connection),
		T(async_handler_answers_from_a_timer),
		T(body_over_max_body_gets_413),
		T(expect_continue_gets_interim_100),
		T(head_through_client_has_no_body),
		T(sigv4_options_sign_the_request),
		T(garbage_gets_400_and_close),
		T(oversized_headers_get_431),
		T(pipelined_requests_are_answered_in_order),
		T(head_gets_content_length_without_body),
		T(connection_over_max_conns_gets_503),
		T(idle_connection_is_closed),
		T(answer_to_a_departed_client_is_dropped),
		T(partial_request_is_closed_after_idle_timeout),
		T(client_times_out_against_silent_server),
		T(client_gets_connection_refused),
		T(cancelled_call_reports_ecanceled),
		T(bad_url_reports_asynchronously),
		T(header_with_crlf_is_refused),
		T(response_over_max_response_fails),
		T(port_in_use_fails_naming_the_address),
		T(hostname_listen_address_is_refused),
		T(close_with_requests_in_flight_releases_everything),
		T(loop_is_never_blocked_during_a_slow_call),
		cmocka_unit_test(parser_splits_pipelined_requests_at_any_chunking),
		cmocka_unit_test(parser_reports_status_per_problem),
		cmocka_unit_test(parser_reports_keep_alive),
		cmocka_unit_test(parser_accepts_absolute_form),
#undef T
	};

	/* as batond does: a write to a departed client must not kill the process */
	signal(SIGPIPE, SIG_IGN);
	/* loopback only: never send test traffic through a proxy */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
