/* SPDX-License-Identifier: MIT */
/* batonctl's cluster client (see client.h): endpoint list, blocking GET, JSON.
 *
 * Happy path: endpoints[0] answers 200 with a JSON object -> reply.
 * Failure modes, each recorded as "  <endpoint>: <why>" and the next endpoint
 * tried: connection refused / unreachable, no connection within 1 s, no reply
 * within 5 s, name does not resolve, HTTP status other than 200, a body over
 * 8 MiB, a body that is not a JSON object. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "baton_config.h"
#include "client.h"
#include "util.h"

#define MAX_BODY (8u << 20)

struct body {
	char *buf;
	size_t len;
	bool too_big;
};

static void errors_add(struct baton_cli_client *c, const char *name, const char *fmt, ...)
{
	size_t used = strlen(c->errors);
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(c->errors + used, sizeof c->errors - used, "  %s: %s\n", name, msg);
}

/* Fill @e from @s[0..len) ("host:port" or "http(s)://host:port[/prefix]"). */
static int endpoint_parse(const char *s, size_t len, const char *scheme, struct baton_cli_endpoint *e, char *err,
			  size_t errlen)
{
	const char *sep;

	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0) {
		snprintf(err, errlen, "empty endpoint in the list");
		return -EINVAL;
	}
	if (len >= sizeof e->name - sizeof "https://") {
		snprintf(err, errlen, "endpoint '%.40s...' is too long", s);
		return -EINVAL;
	}
	memcpy(e->name, s, len);
	e->name[len] = '\0';
	sep = strstr(e->name, "://");
	if (sep != NULL && !(sep - e->name == 4 && strncasecmp(e->name, "http", 4) == 0) &&
	    !(sep - e->name == 5 && strncasecmp(e->name, "https", 5) == 0)) {
		snprintf(err, errlen, "endpoint '%s': only http:// and https:// are supported", e->name);
		return -EINVAL;
	}
	if (sep != NULL ? sep[3] == '\0' || sep[3] == '/' : e->name[0] == '/') {
		snprintf(err, errlen, "endpoint '%s' has no host", e->name);
		return -EINVAL;
	}
	snprintf(e->url, sizeof e->url, "%s%s", sep != NULL ? "" : scheme, e->name);
	for (size_t n = strlen(e->url); n > 0 && e->url[n - 1] == '/'; n--)
		e->url[n - 1] = '\0';
	return 0;
}

int baton_cli_client_init(struct baton_cli_client *c, const char *spec, char *err, size_t errlen)
{
	const char *p;

	*c = (struct baton_cli_client){0};
	if (spec == NULL)
		spec = getenv("BATON_ENDPOINTS");
	if (spec == NULL || spec[0] == '\0')
		spec = BATON_CLI_DEFAULT_ENDPOINTS;
	for (p = spec;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		int rv;

		if (c->n == BATON_CLI_MAX_ENDPOINTS) {
			snprintf(err, errlen, "more than %d endpoints in '%s'", BATON_CLI_MAX_ENDPOINTS, spec);
			return -EINVAL;
		}
		rv = endpoint_parse(p, len, "http://", &c->endpoints[c->n], err, errlen);
		if (rv != 0)
			return rv;
		c->n++;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

static size_t body_write_fn(char *data, size_t size, size_t nmemb, void *userp)
{
	struct body *b = userp;
	size_t n = size * nmemb;
	char *grown;

	if (b->len + n > MAX_BODY) {
		b->too_big = true;
		return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
	}
	grown = realloc(b->buf, b->len + n + 1);
	if (grown == NULL)
		return 0;
	b->buf = grown;
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return n;
}

/* Why a transfer that ended with @rc failed, in a few lowercase words. */
static void transfer_error(CURL *h, CURLcode rc, long timeout_ms, const struct body *b, const char *curl_err,
			   char *out, size_t outlen)
{
	long os_errno = 0;
	curl_off_t connect_us = 0;

	(void)curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
	(void)curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connect_us);
	if (rc == CURLE_COULDNT_CONNECT && os_errno != 0) {
		snprintf(out, outlen, "%s", strerror((int)os_errno));
		out[0] = (char)tolower((unsigned char)out[0]);
	} else if (rc == CURLE_OPERATION_TIMEDOUT && connect_us == 0)
		snprintf(out, outlen, "no connection within %d ms", BATON_CLI_CONNECT_TIMEOUT_MS);
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		snprintf(out, outlen, "connected, but no complete reply within %ld ms", timeout_ms);
	else if (rc == CURLE_COULDNT_RESOLVE_HOST)
		snprintf(out, outlen, "host name does not resolve");
	else if (rc == CURLE_GOT_NOTHING)
		snprintf(out, outlen, "connection closed without a reply");
	else if (rc == CURLE_WRITE_ERROR && b->too_big)
		snprintf(out, outlen, "reply larger than %u bytes", MAX_BODY);
	else
		snprintf(out, outlen, "%s", curl_err[0] != '\0' ? curl_err : curl_easy_strerror(rc));
}

/* The "error" field of a JSON error body, else the body's first line. */
static void http_error(long status, const struct body *b, char *out, size_t outlen)
{
	json_t *j = b->buf != NULL ? json_loads(b->buf, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(j, "error"));

	if (msg != NULL)
		snprintf(out, outlen, "HTTP %ld: %s", status, msg);
	else if (b->len > 0)
		snprintf(out, outlen, "HTTP %ld: %.*s", status, (int)strcspn(b->buf, "\r\n"), b->buf);
	else
		snprintf(out, outlen, "HTTP %ld", status);
	json_decref(j);
}

/* The options every request of batonctl has. */
static void easy_setup(CURL *h, const char *url, long timeout_ms, char *curl_err, struct body *b)
{
	(void)curl_easy_setopt(h, CURLOPT_URL, url);
	(void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)BATON_CLI_CONNECT_TIMEOUT_MS);
	(void)curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	(void)curl_easy_setopt(h, CURLOPT_PROXY, ""); /* never via $http_proxy */
	(void)curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(h, CURLOPT_USERAGENT, "batonctl/" BATON_VERSION);
	(void)curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	(void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write_fn);
	(void)curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
}

/* GET @url; 0 and *ret_json (a JSON object), or -EIO with @why filled. */
static int get_json(const char *url, json_t **ret_json, char *why, size_t whylen)
{
	char curl_err[CURL_ERROR_SIZE] = "";
	struct body b = {0};
	json_error_t jerr;
	CURL *h = curl_easy_init();
	CURLcode rc;
	long status = 0;
	json_t *j;
	int rv = -EIO;

	if (h == NULL) {
		snprintf(why, whylen, "curl_easy_init() failed");
		return -ENOMEM;
	}
	easy_setup(h, url, BATON_CLI_TIMEOUT_MS, curl_err, &b);
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		transfer_error(h, rc, BATON_CLI_TIMEOUT_MS, &b, curl_err, why, whylen);
		goto out;
	}
	(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		http_error(status, &b, why, whylen);
		goto out;
	}
	j = json_loadb(b.buf != NULL ? b.buf : "", b.len, 0, &jerr);
	if (j == NULL) {
		snprintf(why, whylen, "reply is not JSON (%s, line %d)", jerr.text, jerr.line);
		goto out;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		snprintf(why, whylen, "reply is JSON but not an object");
		goto out;
	}
	*ret_json = j;
	rv = 0;
out:
	free(b.buf);
	curl_easy_cleanup(h);
	return rv;
}

static int get_endpoint(struct baton_cli_client *c, const struct baton_cli_endpoint *e, unsigned index,
			const char *path, struct baton_cli_reply *ret)
{
	char url[BATON_CLI_URL_LEN + 128], why[512];
	json_t *j;
	int rv;

	snprintf(url, sizeof url, "%s%s", e->url, path);
	rv = get_json(url, &j, why, sizeof why);
	if (rv != 0) {
		errors_add(c, e->name, "%s", why);
		return rv;
	}
	*ret = (struct baton_cli_reply){.json = j, .index = index};
	baton_strlcpy(ret->name, e->name, sizeof ret->name);
	baton_strlcpy(ret->url, e->url, sizeof ret->url);
	return 0;
}

int baton_cli_get_first(struct baton_cli_client *c, unsigned start, const char *path, struct baton_cli_reply *ret)
{
	for (unsigned i = start; i < c->n; i++)
		if (get_endpoint(c, &c->endpoints[i], i, path, ret) == 0)
			return 0;
	return -EHOSTUNREACH;
}

int baton_cli_get_addr(struct baton_cli_client *c, const char *addr, const char *like_url, const char *path,
		       struct baton_cli_reply *ret)
{
	struct baton_cli_endpoint e;
	const char *sep = strstr(like_url, "://");
	char scheme[16] = "http://", err[256];
	int rv;

	if (addr[0] == '\0') {
		errors_add(c, "(no address)", "the node gave no api address to ask");
		return -EINVAL;
	}
	if (sep != NULL && (size_t)(sep - like_url) + 4 <= sizeof scheme)
		snprintf(scheme, sizeof scheme, "%.*s", (int)(sep - like_url) + 3, like_url);
	rv = endpoint_parse(addr, strlen(addr), scheme, &e, err, sizeof err);
	if (rv != 0) {
		errors_add(c, addr, "%s", err);
		return rv;
	}
	return get_endpoint(c, &e, c->n, path, ret);
}

void baton_cli_reply_done(struct baton_cli_reply *r)
{
	json_decref(r->json);
	r->json = NULL;
}

/* Whether a transfer that failed with @rc can have reached a node that acts
 * on it: not if no connection was made. A follower only answers 307, so a
 * failed connection to the leader it named counts as "not delivered" too. */
static bool transfer_undelivered(CURL *h, CURLcode rc)
{
	curl_off_t connect_us = 0;

	(void)curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connect_us);
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	       (rc == CURLE_OPERATION_TIMEDOUT && connect_us == 0);
}

/* POST to one endpoint. 0 with @ret filled for any HTTP answer; -EHOSTUNREACH
 * when the request was not delivered; -EIO when it may have been. */
static int post_endpoint(struct baton_cli_client *c, const struct baton_cli_endpoint *e, const char *path,
			 const char *content_type, const void *data, size_t len, long timeout_ms,
			 struct baton_cli_http_reply *ret)
{
	char url[BATON_CLI_URL_LEN + 128], curl_err[CURL_ERROR_SIZE] = "", why[512], ctype[128];
	struct curl_slist *hdrs = NULL, *more;
	struct body b = {0};
	const char *effective = NULL;
	CURL *h = curl_easy_init();
	CURLcode rc;
	int rv = 0;

	snprintf(ctype, sizeof ctype, "Content-Type: %s", content_type);
	if (h == NULL || (hdrs = curl_slist_append(NULL, ctype)) == NULL ||
	    (more = curl_slist_append(hdrs, "Expect:")) == NULL) { /* no 100-continue round trip */
		errors_add(c, e->name, "out of memory");
		curl_slist_free_all(hdrs);
		curl_easy_cleanup(h);
		return -ENOMEM;
	}
	hdrs = more;
	snprintf(url, sizeof url, "%s%s", e->url, path);
	easy_setup(h, url, timeout_ms, curl_err, &b);
	(void)curl_easy_setopt(h, CURLOPT_POST, 1L);
	(void)curl_easy_setopt(h, CURLOPT_POSTFIELDS, data);
	(void)curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	(void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	/* A follower answers 307 with the leader's URL: follow it with the same
	 * method and body (curl keeps them on 307; POSTREDIR covers 301-303). */
	(void)curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	(void)curl_easy_setopt(h, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
	(void)curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
	(void)curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		transfer_error(h, rc, timeout_ms, &b, curl_err, why, sizeof why);
		if (rc == CURLE_TOO_MANY_REDIRECTS)
			snprintf(why, sizeof why, "redirected more than 3 times (the nodes disagree about the leader)");
		(void)curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &effective);
		if (effective != NULL && strcmp(effective, url) != 0)
			errors_add(c, e->name, "redirected to %s: %s", effective, why);
		else
			errors_add(c, e->name, "%s", why);
		rv = transfer_undelivered(h, rc) || rc == CURLE_TOO_MANY_REDIRECTS ? -EHOSTUNREACH : -EIO;
		free(b.buf);
		goto out;
	}
	*ret = (struct baton_cli_http_reply){.body = b.buf, .len = b.len};
	if (ret->body == NULL)
		ret->body = calloc(1, 1);
	(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ret->status);
	(void)curl_easy_getinfo(h, CURLINFO_REDIRECT_COUNT, &ret->redirects);
	(void)curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &effective);
	baton_strlcpy(ret->name, e->name, sizeof ret->name);
	baton_strlcpy(ret->url, effective != NULL ? effective : url, sizeof ret->url);
	if (ret->body == NULL) {
		errors_add(c, e->name, "out of memory");
		rv = -ENOMEM;
	}
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return rv;
}

int baton_cli_post_first(struct baton_cli_client *c, unsigned start, const char *path, const char *content_type,
			 const void *data, size_t len, long timeout_ms, struct baton_cli_http_reply *ret)
{
	struct baton_cli_http_reply r;
	char why[512];
	int rv = -EHOSTUNREACH;

	for (unsigned i = start; i < c->n; i++) {
		rv = post_endpoint(c, &c->endpoints[i], path, content_type, data, len, timeout_ms, &r);
		if (rv == -EHOSTUNREACH)
			continue;
		if (rv != 0)
			return rv;
		/* 503: this node could not take it (no leader known, or the leader
		 * lost office before proposing) - nothing happened; ask the next. */
		if (r.status == 503 && i + 1 < c->n) {
			struct body b = {.buf = r.body, .len = r.len};
			http_error(r.status, &b, why, sizeof why);
			errors_add(c, c->endpoints[i].name, "%s", why);
			baton_cli_http_reply_done(&r);
			continue;
		}
		*ret = r;
		return 0;
	}
	return rv;
}

void baton_cli_http_reply_done(struct baton_cli_http_reply *r)
{
	free(r->body);
	r->body = NULL;
}
