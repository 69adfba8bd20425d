/* SPDX-License-Identifier: MIT */
/* HTTP client: libcurl multi_socket on libuv (STYLE.md section 4.1).
 *
 * Why: probes, webhooks and cloud drivers run on the same loop as raft; a
 * blocking transfer would stall heartbeats and cost leadership, and the
 * libuv thread pool is too small and too shared to hide it in.
 *
 * Happy path:
 *   baton_http_call(): easy handle with our options -> curl_multi_add_handle
 *   -> curl asks for a timeout (http_timer_fn) -> our one uv_timer fires ->
 *   curl_multi_socket_action(TIMEOUT) -> curl opens a socket and asks us to
 *   watch it (http_socket_fn: one uv_poll per socket, kept with
 *   curl_multi_assign) -> readiness -> curl_multi_socket_action(fd) ->
 *   after every socket_action we drain curl_multi_info_read: a finished
 *   transfer's result is copied, the easy handle removed and freed, and the
 *   call moved to the `done` list -> on the next timer tick (>= 1 ms) the
 *   callback runs, outside any curl callback and never inside
 *   baton_http_call().
 *
 * The single uv_timer serves two masters: curl's requested timeout
 * (curl_due) and "callbacks are due" (done list non-empty). It never runs
 * with 0 ms, because libuv 1.44 would run a 0 ms timer started inside a
 * timer callback again in the same pass. If it fires a little early by
 * curl's clock, curl does not report a new timeout (its timer key did not
 * change), so curl_armed stays set and we retry 1 ms later instead of losing
 * the timeout.
 *
 * Failure modes:
 *   - transfer errors: CURLcode -> negative errno (http_map_error), with
 *     curl's error text; the HTTP status is reported separately.
 *   - poll error (e.g. UV_EBADF after a peer reset): CURL_CSELECT_ERR, so curl
 *     fails the transfer instead of waiting for its timeout.
 *   - response bigger than max_response: CURLOPT_MAXFILESIZE_LARGE stops it
 *     early when Content-Length says so, our write callback otherwise.
 *   - cancel / close: the easy handle is removed at once (never from inside
 *     a curl callback: user code never runs inside one), the callback fires
 *     later with -ECANCELED.
 *   - close: fail in-flight calls, curl_multi_cleanup() while the loop is
 *     alive (it may call the socket callback), close any poll handle curl did
 *     not remove, close the timer; callbacks, then close_cb, once all handles
 *     are closed.
 */
#include "http_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

#define HTTP_DEFAULT_TIMEOUT_MS 10000u
#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 3000u
#define HTTP_DEFAULT_MAX_RESPONSE (4u * 1024u * 1024u)

enum call_state { CALL_ACTIVE, CALL_DONE };

struct baton_http_call {
	struct baton_http_link link;     /* first: in client->active or client->done */
	struct baton_http_client *client;
	enum call_state state;
	CURL *easy;
	struct curl_slist *headers;
	baton_http_call_cb cb;
	void *data;
	char *body;
	size_t body_len, body_cap, max_response;
	bool too_big, cancelled;
	int err;
	long status;
	double total_s;
	char errbuf[CURL_ERROR_SIZE];
};

struct http_sock {
	struct baton_http_link link;     /* first: in client->socks */
	uv_poll_t poll;
	struct baton_http_client *client;
	curl_socket_t fd;
};

static void list_init(struct baton_http_link *h)
{
	h->prev = h;
	h->next = h;
}

static bool list_empty(const struct baton_http_link *h)
{
	return h->next == h;
}

static void list_remove(struct baton_http_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->prev = l;
	l->next = l;
}

static void list_push(struct baton_http_link *h, struct baton_http_link *l)
{
	l->prev = h->prev;
	l->next = h;
	h->prev->next = l;
	h->prev = l;
}

/* ------------------------------------------------------------------------ */
/* Timer, deferred callbacks, close                                         */
/* ------------------------------------------------------------------------ */

static void http_drain(struct baton_http_client *c);
static void http_fire_done(struct baton_http_client *c);

static void http_timer_cb(uv_timer_t *t)
{
	struct baton_http_client *c = t->data;
	int running;

	if (c->closing)
		return;
	if (c->curl_armed && uv_now(c->loop) >= c->curl_due) {
		(void)curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		http_drain(c);
	}
	http_fire_done(c);               /* user code: may call, cancel, close */
}

/* Arm the timer for the earliest of: callbacks due, curl's timeout. */
static void http_rearm(struct baton_http_client *c)
{
	uint64_t now, wait;

	if (c->closing)
		return;
	if (!list_empty(&c->done)) {
		wait = 1;
	} else if (c->curl_armed) {
		now = uv_now(c->loop);
		wait = c->curl_due > now ? c->curl_due - now : 1;
	} else {
		(void)uv_timer_stop(&c->timer);
		return;
	}
	(void)uv_timer_start(&c->timer, http_timer_cb, wait, 0);
}

static int http_timer_fn(CURLM *m, long timeout_ms, void *userp)
{
	struct baton_http_client *c = userp;

	(void)m;
	if (timeout_ms < 0) {
		c->curl_armed = false;
	} else {
		c->curl_armed = true;
		c->curl_due = uv_now(c->loop) + (uint64_t)timeout_ms;
	}
	/* only uv calls here: never call back into curl from its callback */
	http_rearm(c);
	return 0;
}

static void http_maybe_fire_close(struct baton_http_client *c)
{
	if (!c->closing || c->pending_closes > 0)
		return;
	http_fire_done(c);               /* every cancelled call, before close_cb */
	if (c->close_cb != NULL)
		c->close_cb(c);          /* @c may be freed from here on */
}

static void http_timer_closed_cb(uv_handle_t *h)
{
	struct baton_http_client *c = h->data;

	c->pending_closes--;
	http_maybe_fire_close(c);
}

/* ------------------------------------------------------------------------ */
/* Sockets                                                                  */
/* ------------------------------------------------------------------------ */

static void http_sock_closed_cb(uv_handle_t *h)
{
	struct http_sock *s = h->data;
	struct baton_http_client *c = s->client;

	free(s);                         /* only now: libuv frees nothing for us */
	c->pending_closes--;
	http_maybe_fire_close(c);
}

static void http_sock_close(struct baton_http_client *c, struct http_sock *s)
{
	list_remove(&s->link);
	(void)uv_poll_stop(&s->poll);    /* curl may close the fd right after we return */
	uv_close((uv_handle_t *)&s->poll, http_sock_closed_cb);
	c->pending_closes++;
}

static void http_poll_cb(uv_poll_t *p, int status, int events)
{
	struct http_sock *s = p->data;
	struct baton_http_client *c = s->client;
	int flags = status < 0 ? CURL_CSELECT_ERR : 0; /* POLLERR arrives as UV_EBADF */
	int running;

	if (c->closing)
		return;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	(void)curl_multi_socket_action(c->multi, s->fd, flags, &running);
	http_drain(c);                   /* @s may be closing now; do not touch it */
}

static int http_socket_fn(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct baton_http_client *c = userp;
	struct http_sock *s = socketp;
	int events = 0;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			if (!c->closing)
				(void)curl_multi_assign(c->multi, fd, NULL);
			http_sock_close(c, s);
		}
		return 0;
	}
	if (s == NULL) {
		s = calloc(1, sizeof *s);
		if (s == NULL) /* UNTESTED: OOM; curl fails the transfer */
			return -1;
		if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) { /* UNTESTED */
			free(s);
			return -1;
		}
		s->poll.data = s;
		s->client = c;
		s->fd = fd;
		list_push(&c->socks, &s->link);
		if (curl_multi_assign(c->multi, fd, s) != CURLM_OK) { /* UNTESTED */
			http_sock_close(c, s);
			return -1;
		}
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	return uv_poll_start(&s->poll, events, http_poll_cb) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------ */
/* Calls                                                                    */
/* ------------------------------------------------------------------------ */

static int http_map_error(CURLcode rc, long oserr, bool too_big)
{
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		if (oserr == EHOSTUNREACH || oserr == ENETUNREACH)
			return -EHOSTUNREACH;
		if (oserr == ETIMEDOUT)
			return -ETIMEDOUT;
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		return -ECONNRESET;
	case CURLE_WRITE_ERROR:
		return too_big ? -EMSGSIZE : -EIO;
	case CURLE_FILESIZE_EXCEEDED:
		return -EMSGSIZE;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ISSUER_ERROR:
		return -EKEYREJECTED;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CLIENTCERT:
	case CURLE_USE_SSL_FAILED:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_PARTIAL_FILE:
	case CURLE_BAD_CONTENT_ENCODING:
		return -EPROTO;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_UNKNOWN_OPTION:
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	default:
		return -EIO;
	}
}

static size_t http_write_fn(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct baton_http_call *call = userdata;
	size_t n = size * nmemb;

	if (n > call->max_response - call->body_len) {
		call->too_big = true;
		return 0;                /* != n: curl fails with CURLE_WRITE_ERROR */
	}
	if (call->body_len + n + 1 > call->body_cap) {
		size_t cap = call->body_cap ? call->body_cap : 4096;
		char *b;

		while (cap < call->body_len + n + 1)
			cap *= 2;
		if (cap > call->max_response + 1)
			cap = call->max_response + 1;
		b = realloc(call->body, cap);
		if (b == NULL) /* UNTESTED: OOM */
			return 0;
		call->body = b;
		call->body_cap = cap;
	}
	memcpy(call->body + call->body_len, ptr, n);
	call->body_len += n;
	call->body[call->body_len] = '\0';
	return n;
}

/* Take the easy handle out of curl. Not from inside a curl callback. */
static void http_call_detach(struct baton_http_call *call)
{
	if (call->easy != NULL) {
		(void)curl_multi_remove_handle(call->client->multi, call->easy);
		curl_easy_cleanup(call->easy);
		call->easy = NULL;
	}
	curl_slist_free_all(call->headers);
	call->headers = NULL;
}

static void http_call_move_to_done(struct baton_http_call *call)
{
	http_call_detach(call);
	list_remove(&call->link);
	list_push(&call->client->done, &call->link);
	call->state = CALL_DONE;
}

static void http_call_finish(struct baton_http_call *call, CURLcode rc)
{
	long status = 0, oserr = 0;
	double total = 0;

	(void)curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
	(void)curl_easy_getinfo(call->easy, CURLINFO_TOTAL_TIME, &total);
	(void)curl_easy_getinfo(call->easy, CURLINFO_OS_ERRNO, &oserr);
	call->err = http_map_error(rc, oserr, call->too_big);
	call->status = status;
	call->total_s = total;
	if (rc != CURLE_OK && call->errbuf[0] == '\0')
		baton_strlcpy(call->errbuf, curl_easy_strerror(rc), sizeof call->errbuf);
	if (call->too_big)
		snprintf(call->errbuf, sizeof call->errbuf, "response exceeds %zu bytes",
			 call->max_response);
	http_call_move_to_done(call);
}

static void http_drain(struct baton_http_client *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		char *priv = NULL;
		CURLcode rc;

		if (m->msg != CURLMSG_DONE)
			continue;
		rc = m->data.result;     /* @m dies with curl_multi_remove_handle() */
		(void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		if (priv != NULL)
			http_call_finish((struct baton_http_call *)priv, rc);
	}
	http_rearm(c);
}

static void http_fire_done(struct baton_http_client *c)
{
	if (c->firing)
		return;                  /* the outer loop picks up new entries */
	c->firing = true;
	while (!list_empty(&c->done)) {
		struct baton_http_call *call = (struct baton_http_call *)c->done.next;
		struct baton_http_result res = { 0 };

		list_remove(&call->link);
		if (call->cancelled) {
			res.err = -ECANCELED;
			res.body = "";
			res.errmsg = "call cancelled";
		} else {
			res.err = call->err;
			res.status = call->status;
			res.body = call->body != NULL ? call->body : "";
			res.body_len = call->body_len;
			res.errmsg = call->err != 0 ? call->errbuf : "";
		}
		res.total_s = call->total_s;
		call->cb(call->data, &res);
		free(call->body);
		free(call);
	}
	c->firing = false;
}

static bool is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '-' || *s == '_'))
			return false;
	return true;
}

#define HTTP_SET(opt, val)                                               \
	do {                                                             \
		if (rc == CURLE_OK)                                      \
			rc = curl_easy_setopt(e, opt, val);              \
	} while (0)

static int http_call_setup(struct baton_http_call *call, const struct baton_http_call_opts *o,
			   const char *method)
{
	CURL *e = call->easy;
	CURLcode rc = CURLE_OK;
	bool has_expect = false;

	for (size_t i = 0; o->headers != NULL && o->headers[i] != NULL; i++) {
		struct curl_slist *l;

		if (strpbrk(o->headers[i], "\r\n") != NULL)
			return -EINVAL; /* header injection */
		if (strncasecmp(o->headers[i], "expect:", 7) == 0)
			has_expect = true;
		l = curl_slist_append(call->headers, o->headers[i]);
		if (l == NULL) /* UNTESTED: OOM */
			return -ENOMEM;
		call->headers = l;
	}
	if (!has_expect && o->aws_sigv4 == NULL) {
		/* No "Expect: 100-continue" round trip for bodies over 1 KiB. Not with
		 * SigV4: curl 7.88 signs this removal header although it never sends it
		 * (curl/curl#11664), and AWS rejects a signed header that is missing. */
		struct curl_slist *l = curl_slist_append(call->headers, "Expect:");

		if (l == NULL) /* UNTESTED: OOM */
			return -ENOMEM;
		call->headers = l;
	}

	HTTP_SET(CURLOPT_URL, o->url);
	HTTP_SET(CURLOPT_PROTOCOLS_STR, "http,https");
	HTTP_SET(CURLOPT_NOSIGNAL, 1L);
	HTTP_SET(CURLOPT_PRIVATE, (void *)call);
	HTTP_SET(CURLOPT_ERRORBUFFER, call->errbuf);
	HTTP_SET(CURLOPT_WRITEFUNCTION, http_write_fn);
	HTTP_SET(CURLOPT_WRITEDATA, (void *)call);
	HTTP_SET(CURLOPT_TIMEOUT_MS,
		 (long)(o->timeout_ms ? o->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS));
	HTTP_SET(CURLOPT_CONNECTTIMEOUT_MS,
		 (long)(o->connect_timeout_ms ? o->connect_timeout_ms
					      : HTTP_DEFAULT_CONNECT_TIMEOUT_MS));
	HTTP_SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)call->max_response);
	HTTP_SET(CURLOPT_SSL_VERIFYPEER, o->insecure_skip_verify ? 0L : 1L);
	HTTP_SET(CURLOPT_SSL_VERIFYHOST, o->insecure_skip_verify ? 0L : 2L);
	if (o->ca_file != NULL)
		HTTP_SET(CURLOPT_CAINFO, o->ca_file);
	if (o->aws_sigv4 != NULL)
		HTTP_SET(CURLOPT_AWS_SIGV4, o->aws_sigv4);
	if (o->userpwd != NULL)
		HTTP_SET(CURLOPT_USERPWD, o->userpwd);
	HTTP_SET(CURLOPT_HTTPHEADER, call->headers);

	if (strcmp(method, "HEAD") == 0) {
		HTTP_SET(CURLOPT_NOBODY, 1L);
	} else if (o->body_len > 0 || strcmp(method, "POST") == 0 ||
		   strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
		/* size first, so COPYPOSTFIELDS copies binary data */
		HTTP_SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
		HTTP_SET(CURLOPT_COPYPOSTFIELDS, o->body_len > 0 ? (const char *)o->body : "");
		if (strcmp(method, "POST") != 0)
			HTTP_SET(CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "GET") != 0) {
		HTTP_SET(CURLOPT_CUSTOMREQUEST, method);
	}
	if (rc == CURLE_OUT_OF_MEMORY) /* UNTESTED */
		return -ENOMEM;
	return rc == CURLE_OK ? 0 : -EINVAL;
}

#undef HTTP_SET

int baton_http_call(struct baton_http_client *c, const struct baton_http_call_opts *o,
		    baton_http_call_cb cb, void *data, struct baton_http_call **ret_call)
{
	const char *method = o->method != NULL ? o->method : "GET";
	struct baton_http_call *call;
	int rv;

	if (c->closing)
		return -ESHUTDOWN;
	if (o->url == NULL || cb == NULL || (o->body_len > 0 && o->body == NULL) ||
	    !is_token(method) || strpbrk(o->url, "\r\n") != NULL)
		return -EINVAL;
	call = calloc(1, sizeof *call);
	if (call == NULL)
		return -ENOMEM;
	list_init(&call->link);
	call->client = c;
	call->cb = cb;
	call->data = data;
	call->max_response = o->max_response ? o->max_response : HTTP_DEFAULT_MAX_RESPONSE;
	call->easy = curl_easy_init();
	if (call->easy == NULL) { /* UNTESTED: OOM */
		rv = -ENOMEM;
		goto err_after_call;
	}
	rv = http_call_setup(call, o, method);
	if (rv != 0)
		goto err_after_easy;
	if (curl_multi_add_handle(c->multi, call->easy) != CURLM_OK) { /* UNTESTED */
		rv = -ENOMEM;
		goto err_after_easy;
	}
	call->state = CALL_ACTIVE;
	list_push(&c->active, &call->link);
	if (ret_call != NULL)
		*ret_call = call;
	return 0;

err_after_easy:
	curl_easy_cleanup(call->easy);
	curl_slist_free_all(call->headers);
err_after_call:
	free(call);
	return rv;
}

void baton_http_call_cancel(struct baton_http_call *call)
{
	call->cancelled = true;
	if (call->state == CALL_ACTIVE) {
		http_call_move_to_done(call);
		http_rearm(call->client);
	}
}

/* ------------------------------------------------------------------------ */
/* Client                                                                   */
/* ------------------------------------------------------------------------ */

static pthread_once_t http_global_once = PTHREAD_ONCE_INIT;
static CURLcode http_global_rc;

static void http_global_init(void)
{
	http_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int baton_http_client_init(struct baton_http_client *c, uv_loop_t *loop)
{
	const curl_version_info_data *info;
	CURLM *m;
	int rv;

	memset(c, 0, sizeof *c);
	c->loop = loop;
	list_init(&c->active);
	list_init(&c->done);
	list_init(&c->socks);
	(void)pthread_once(&http_global_once, http_global_init);
	if (http_global_rc != CURLE_OK) {
		snprintf(c->errmsg, sizeof c->errmsg, "curl_global_init(): %s",
			 curl_easy_strerror(http_global_rc));
		return -EIO;
	}
	info = curl_version_info(CURLVERSION_NOW);
	if (!(info->features & CURL_VERSION_ASYNCHDNS)) {
		snprintf(c->errmsg, sizeof c->errmsg,
			 "libcurl %s lacks asynchronous DNS (CURL_VERSION_ASYNCHDNS): "
			 "name resolution would block the event loop",
			 info->version);
		return -ENOTSUP;
	}
	m = curl_multi_init();
	if (m == NULL) { /* UNTESTED: OOM */
		snprintf(c->errmsg, sizeof c->errmsg, "curl_multi_init() failed");
		return -ENOMEM;
	}
	if (curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, http_socket_fn) != CURLM_OK ||
	    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, (void *)c) != CURLM_OK ||
	    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, http_timer_fn) != CURLM_OK ||
	    curl_multi_setopt(m, CURLMOPT_TIMERDATA, (void *)c) != CURLM_OK) { /* UNTESTED */
		snprintf(c->errmsg, sizeof c->errmsg, "curl_multi_setopt() failed");
		rv = -EIO;
		goto err_after_multi;
	}
	/* Last fallible step: an initialised uv handle can only be released
	 * asynchronously, and the caller may free @c as soon as we fail. */
	rv = uv_timer_init(loop, &c->timer);
	if (rv != 0) { /* UNTESTED: cannot fail on Unix */
		snprintf(c->errmsg, sizeof c->errmsg, "uv_timer_init(): %s", uv_strerror(rv));
		goto err_after_multi;
	}
	c->timer.data = c;
	c->multi = m;
	return 0;

err_after_multi:
	curl_multi_cleanup(m);
	return rv;
}

void baton_http_client_close(struct baton_http_client *c, void (*cb)(struct baton_http_client *c))
{
	if (c->closing)
		return;
	c->close_cb = cb;
	while (!list_empty(&c->active)) {
		struct baton_http_call *call = (struct baton_http_call *)c->active.next;

		call->cancelled = true;
		http_call_move_to_done(call); /* needs c->multi: before cleanup */
	}
	c->closing = true;
	/* May call http_socket_fn(REMOVE) for cached connections. */
	curl_multi_cleanup(c->multi);
	c->multi = NULL;
	while (!list_empty(&c->socks)) /* any watcher curl did not remove */
		http_sock_close(c, (struct http_sock *)c->socks.next);
	(void)uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, http_timer_closed_cb);
	c->pending_closes++;
}
