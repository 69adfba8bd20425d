/* SPDX-License-Identifier: MIT */
/* HTTP(S) client: libcurl's multi_socket interface on a libuv loop.
 *
 * For probes, webhooks, DNS/cloud/Kubernetes drivers, forwarding to the raft
 * leader, and baton-reporter. Nothing here blocks the loop: sockets are
 * watched with uv_poll, curl's timeouts with one uv_timer, and name resolution
 * uses curl's asynchronous resolver (checked at init). Loop thread only.
 *
 * libcurl's process-wide curl_global_init() is called once, on the first
 * baton_http_client_init() (pthread_once), and never undone: a daemon keeps
 * it for its whole life, and curl_global_cleanup() is not thread-safe. */
#ifndef BATON_HTTP_CLIENT_H
#define BATON_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct baton_http_call_opts {
	const char *method;              /* NULL = "GET"; "HEAD" sends no body and reads none */
	const char *url;                 /* http:// or https:// only */
	const char *const *headers;      /* NULL-terminated "Name: value" list, may be NULL */
	const void *body;                /* copied; may be NULL when body_len is 0 */
	size_t body_len;
	unsigned timeout_ms;             /* whole call; 0 = 10000 */
	unsigned connect_timeout_ms;     /* 0 = 3000 */
	const char *ca_file;             /* TLS CA bundle, NULL = system */
	bool insecure_skip_verify;       /* only for tests; verification is on by default */
	const char *aws_sigv4;           /* CURLOPT_AWS_SIGV4 provider, e.g.
					  * "aws:amz:us-east-1:route53"; NULL = none */
	const char *userpwd;             /* for sigv4: "ACCESS:SECRET" */
	size_t max_response;             /* 0 = 4 MiB; a larger body fails with -EMSGSIZE */
};

/* Transport outcome and HTTP status are separate: err == 0 with status 503 is
 * a successful call that got a 503.
 *   err: 0, -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH (also: name did not
 *   resolve), -ECONNRESET (reset / empty reply), -EMSGSIZE (response over
 *   max_response), -EPROTO (bad HTTP, TLS handshake), -EKEYREJECTED (peer
 *   certificate not trusted), -EINVAL (bad URL or options), -ECANCELED,
 *   -ENOMEM, -EIO (anything else; see errmsg).
 * All pointers are valid only during the callback. */
struct baton_http_result {
	int err;
	long status;                     /* 0 if no response arrived */
	const char *body;                /* never NULL; NUL-terminated after body_len bytes */
	size_t body_len;
	const char *errmsg;              /* curl's text when err != 0, else "" */
	double total_s;                  /* total time of the transfer in seconds */
};

/* Called exactly once per successful baton_http_call(), never from inside
 * baton_http_call() itself. */
typedef void (*baton_http_call_cb)(void *data, const struct baton_http_result *res);

struct baton_http_call;

struct baton_http_link {
	struct baton_http_link *prev, *next;
};

struct baton_http_client {
	void *data;                      /* for the owner */
	char errmsg[160];                /* why init failed */
	/* private */
	uv_loop_t *loop;
	void *multi;                     /* CURLM * */
	uv_timer_t timer;                /* curl's timeout, and deferred callbacks */
	struct baton_http_link active;   /* calls inside curl */
	struct baton_http_link done;     /* finished calls whose callback is due */
	struct baton_http_link socks;    /* uv_poll watchers */
	uint64_t curl_due;               /* uv_now() when curl wants its timeout */
	bool curl_armed;
	bool closing;
	bool firing;                     /* inside the deferred-callback loop */
	unsigned pending_closes;
	void (*close_cb)(struct baton_http_client *c);
};

/* Returns 0, or -ENOTSUP if libcurl cannot resolve names asynchronously
 * (CURL_VERSION_ASYNCHDNS missing: resolution would block the loop), -ENOMEM,
 * -EIO; c->errmsg says which. On failure nothing is left on the loop. */
int baton_http_client_init(struct baton_http_client *c, uv_loop_t *loop);

/* Start a call. Returns 0 and later calls @cb exactly once, or returns < 0
 * (-EINVAL bad options, -ESHUTDOWN client closing, -ENOMEM) and never calls
 * @cb. Everything in @o is copied. *ret_call (if not NULL) is set on success
 * and stays valid until @cb starts. */
int baton_http_call(struct baton_http_client *c, const struct baton_http_call_opts *o,
		    baton_http_call_cb cb, void *data, struct baton_http_call **ret_call);

/* Abort @call; its callback then fires (asynchronously) with -ECANCELED, even
 * if the transfer had already finished. Must not be called once the callback
 * has started. */
void baton_http_call_cancel(struct baton_http_call *call);

/* Fail every call in flight with -ECANCELED (callbacks fire before @cb), free
 * curl, close the handles. @cb (may be NULL) runs when all is released; @c may
 * be freed from then on. Call once; the loop must keep running until @cb. */
void baton_http_client_close(struct baton_http_client *c, void (*cb)(struct baton_http_client *c));

#endif
