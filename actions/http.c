/* SPDX-License-Identifier: MIT */
/* The `http` driver: call a webhook (libcurl multi through lib/http_client.h).
 *
 * Happy path: check the parameters -> one request with the step's method, body
 * and headers plus X-Baton-Epoch/-From/-To/-Drill/-Group/-Step/-Transition/
 * -Attempt -> a status in `expect_status` (default 2xx) -> ok, with the status
 * and the start of the body in the output.
 *
 * Fencing contract for webhook authors (docs/drivers.md): X-Baton-Epoch is the
 * fencing token. A target that has already seen a higher epoch must answer 409
 * Conflict; the driver reports BATON_ACTION_ESTALE and the executor stops the
 * plan. A target that cannot keep an epoch should at least dedupe on
 * X-Baton-Transition + X-Baton-Step.
 *
 * Failure modes: transport errors (refused, timeout, reset, TLS) -> that errno,
 * retryable unless it is a bad URL or an untrusted certificate; 408, 429 and 5xx
 * -> failed, retryable; any other unexpected status -> failed, not retryable.
 * Every error quotes the status and the start of the body.
 *
 * Drill: the request is sent with X-Baton-Drill: true; the target must not act. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "driver.h"

#define HTTP_MAX_HEADERS 4

static const struct action_key http_keys[] = {
	{"url", true},           {"method", false},     {"body", false},
	{"content_type", false}, {"expect_status", false}, {"header_1", false},
	{"header_2", false},     {"header_3", false},   {"header_4", false},
	{"timeout_ms", false},   {"idempotent", false}, {NULL, false},
};

static const char *const http_methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};

struct http_attempt {
	struct baton_action_op op;
	char hdr[HTTP_MAX_HEADERS + 10][BATON_ACTION_VALUE_LEN + 32];
	const char *headers[HTTP_MAX_HEADERS + 11];
};

/* "2xx", "204", "200,204,404": does @status match? -EINVAL if @spec is malformed. */
static int http_expect_match(const char *spec, long status, bool *ret)
{
	const char *s = spec;
	bool match = false;

	for (;;) {
		size_t n;

		while (*s == ' ')
			s++;
		n = strcspn(s, ", ");
		if (n != 3 || s[0] < '1' || s[0] > '5')
			return -EINVAL;
		if (s[1] == 'x' && s[2] == 'x') {
			match = match || status / 100 == s[0] - '0';
		} else if (s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9') {
			match = match || status == (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
		} else {
			return -EINVAL;
		}
		s += 3;
		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		if (*s != ',')
			return -EINVAL;
		s++;
	}
	*ret = match;
	return 0;
}

/* "Name: value": a token, a colon, no CR/LF; not one of ours. */
static int http_header_ok(const char *key, const char *h, char *err, size_t len)
{
	const char *colon = strchr(h, ':');

	if (colon == NULL || colon == h) {
		(void)snprintf(err, len, "http: %s '%s' is not \"Name: value\"", key, h);
		return -EINVAL;
	}
	for (const char *c = h; c < colon; c++) {
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_')) {
			(void)snprintf(err, len, "http: %s '%s' has a bad header name", key, h);
			return -EINVAL;
		}
	}
	if (strpbrk(h, "\r\n") != NULL) {
		(void)snprintf(err, len, "http: %s contains a line break", key);
		return -EINVAL;
	}
	if (strncasecmp(h, "x-baton-", 8) == 0) {
		(void)snprintf(err, len, "http: %s '%.*s' is set by baton itself", key,
			       (int)(colon - h), h);
		return -EINVAL;
	}
	return 0;
}

static int http_check(const struct baton_action_params *p, bool expanded, char *err, size_t len)
{
	const char *v;
	uint64_t u;
	bool b;
	int rv;

#define CHECKED(x) ((x) != NULL && (expanded || !action_templated(x)))
	rv = action_check_keys("http", p, http_keys, err, len);
	if (rv != 0)
		return rv;
	v = baton_action_param(p, "url");
	if (CHECKED(v) && !action_url_ok(v)) {
		(void)snprintf(err, len, "http: url '%s' is not an http:// or https:// URL", v);
		return -EINVAL;
	}
	v = baton_action_param(p, "method");
	if (CHECKED(v)) {
		bool known = false;

		for (int i = 0; http_methods[i] != NULL; i++)
			known = known || strcmp(v, http_methods[i]) == 0;
		if (!known) {
			(void)snprintf(err, len,
				       "http: method '%s' is not GET, POST, PUT, PATCH or DELETE", v);
			return -EINVAL;
		}
	}
	v = baton_action_param(p, "expect_status");
	if (CHECKED(v) && http_expect_match(v, 200, &b) != 0) {
		(void)snprintf(err, len,
			       "http: expect_status '%s' is not a list like \"2xx\" or \"200,204\"",
			       v);
		return -EINVAL;
	}
	v = baton_action_param(p, "content_type");
	if (CHECKED(v) && strpbrk(v, "\r\n") != NULL) {
		(void)snprintf(err, len, "http: content_type contains a line break");
		return -EINVAL;
	}
	for (int i = 1; i <= HTTP_MAX_HEADERS; i++) {
		char key[10];

		(void)snprintf(key, sizeof(key), "header_%d", i);
		v = baton_action_param(p, key);
		if (CHECKED(v) && http_header_ok(key, v, err, len) != 0)
			return -EINVAL;
	}
	v = baton_action_param(p, "timeout_ms");
	if (CHECKED(v) && action_parse_u64(v, 1, 3600000, &u) != 0) {
		(void)snprintf(err, len, "http: timeout_ms '%s' is not a number of ms in 1..3600000",
			       v);
		return -EINVAL;
	}
	v = baton_action_param(p, "idempotent");
	if (CHECKED(v) && action_parse_bool(v, &b) != 0) {
		(void)snprintf(err, len, "http: idempotent '%s' is not true or false", v);
		return -EINVAL;
	}
#undef CHECKED
	return 0;
}

static int http_validate(const struct baton_action_params *p, char *err, size_t len)
{
	return http_check(p, false, err, len);
}

static void http_done_cb(struct baton_action_op *op, const struct baton_http_result *r)
{
	const char *expect = action_param_or(&op->params, "expect_status", "2xx");
	char body[240];
	bool ok = false;

	if (r->err != 0) {
		action_http_fail(op, "request", r);
		return;
	}
	action_excerpt(body, sizeof(body), r->body, r->body_len);
	if (r->status == 409) {
		action_fail(op, BATON_ACTION_ESTALE, false,
			    "%s: HTTP 409: the target holds a newer epoch than %llu: %s", op->target,
			    (unsigned long long)op->ctx.epoch, body[0] != '\0' ? body : "(empty body)");
		return;
	}
	(void)http_expect_match(expect, r->status, &ok);
	if (!ok) {
		action_http_fail(op, "unexpected status", r);
		return;
	}
	action_done(op, "HTTP %ld in %.0f ms%s%s", r->status, r->total_s * 1000.0,
		    body[0] != '\0' ? ": " : "", body);
}

static void http_add(struct http_attempt *a, int *n, const char *name, const char *value)
{
	char *dst = a->hdr[*n];
	size_t len;

	/* "Name;" is curl's way to send an empty header ("Name:" would remove it) */
	if (value[0] == '\0')
		(void)snprintf(dst, sizeof(a->hdr[*n]), "%s;", name);
	else
		(void)snprintf(dst, sizeof(a->hdr[*n]), "%s: %s", name, value);
	/* ctx strings are ours, but a line break would be a header injection */
	for (len = 0; dst[len] != '\0'; len++)
		if (dst[len] == '\r' || dst[len] == '\n')
			dst[len] = ' ';
	a->headers[(*n)++] = dst;
}

static int http_start(const struct baton_action_env *env, const struct baton_action_params *p,
		      const struct baton_action_ctx *ctx, baton_action_cb cb, void *data,
		      struct baton_action_op **ret_op)
{
	struct http_attempt *a;
	struct baton_action_op *op;
	struct baton_http_call_opts o = {0};
	const char *v, *body;
	char err[256], num[24];
	uint64_t timeout = 0;
	int n = 0;

	if (env == NULL || env->http == NULL)
		return -EINVAL;
	op = action_op_new(sizeof(*a), &baton_action_driver_http, env, p, ctx, cb, data);
	if (op == NULL)
		return -ENOMEM;
	a = (struct http_attempt *)op;
	action_op_begin(op);
	if (ret_op != NULL)
		*ret_op = op;
	o.method = action_param_or(&op->params, "method", "POST");
	o.url = action_param_or(&op->params, "url", "");
	(void)snprintf(op->target, sizeof(op->target), "http %s %s", o.method, o.url);
	if (http_check(&op->params, true, err, sizeof(err)) != 0) {
		action_fail(op, -EINVAL, false, "%s", err);
		return 0;
	}
	for (int i = 1; i <= HTTP_MAX_HEADERS; i++) {
		char key[10];

		(void)snprintf(key, sizeof(key), "header_%d", i);
		v = baton_action_param(&op->params, key);
		if (v != NULL)
			a->headers[n++] = v;
	}
	body = action_param_or(&op->params, "body", "");
	v = baton_action_param(&op->params, "content_type");
	if (v != NULL || body[0] != '\0')
		http_add(a, &n, "Content-Type", v != NULL ? v : "application/json");
	(void)snprintf(num, sizeof(num), "%llu", (unsigned long long)op->ctx.epoch);
	http_add(a, &n, "X-Baton-Epoch", num);
	http_add(a, &n, "X-Baton-From", op->ctx.from);
	http_add(a, &n, "X-Baton-To", op->ctx.to);
	http_add(a, &n, "X-Baton-Drill", op->ctx.drill ? "true" : "false");
	http_add(a, &n, "X-Baton-Group", op->ctx.group);
	http_add(a, &n, "X-Baton-Step", op->ctx.step);
	http_add(a, &n, "X-Baton-Transition", op->ctx.transition);
	(void)snprintf(num, sizeof(num), "%u", op->ctx.attempt);
	http_add(a, &n, "X-Baton-Attempt", num);
	a->headers[n] = NULL;
	o.headers = a->headers;
	o.body = body;
	o.body_len = strlen(body);
	v = baton_action_param(&op->params, "timeout_ms");
	if (v != NULL)
		(void)action_parse_u64(v, 1, 3600000, &timeout);
	o.timeout_ms = (unsigned)timeout; /* 0: the attempt's remaining time */
	op->phase = "waiting for the webhook's answer";
	action_http(op, &o, http_done_cb);
	return 0;
}

const struct baton_action_driver baton_action_driver_http = {
	.name = "http",
	.idempotent = false, /* per step: parameter `idempotent` (registry.h) */
	.validate = http_validate,
	.start = http_start,
	.cancel = action_cancel,
};
