/* SPDX-License-Identifier: MIT */
/* batonctl's cluster client: GET a JSON document from the first node that answers.
 *
 * Blocking on purpose (libcurl easy): a CLI has no event loop. Every request
 * gets a 1 s connect timeout and a 5 s total timeout, ignores proxy settings
 * (batonctl talks straight to the bastions), and counts as answered only with
 * HTTP 200 and a JSON object body. Failed attempts are remembered, one line per
 * endpoint, so the caller can say what was tried and why it failed.
 *
 * Call curl_global_init() once before using a client (batonctl's main does). */
#ifndef BATON_CLI_CLIENT_H
#define BATON_CLI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define BATON_CLI_DEFAULT_ENDPOINTS "http://127.0.0.1:8001"
#define BATON_CLI_CONNECT_TIMEOUT_MS 1000
#define BATON_CLI_TIMEOUT_MS 5000
#define BATON_CLI_MAX_ENDPOINTS 16
#define BATON_CLI_URL_LEN 256
#define BATON_CLI_ERRORS_LEN 4096

struct baton_cli_endpoint {
	char name[BATON_CLI_URL_LEN]; /* as the operator wrote it, for messages */
	char url[BATON_CLI_URL_LEN];  /* scheme://host:port, no trailing slash */
};

struct baton_cli_client {
	struct baton_cli_endpoint endpoints[BATON_CLI_MAX_ENDPOINTS];
	unsigned n;
	char errors[BATON_CLI_ERRORS_LEN]; /* "  <endpoint>: <why>\n" per failed attempt */
};

/* One answer. @json is owned by the reply (baton_cli_reply_done() drops it). */
struct baton_cli_reply {
	json_t *json;
	char name[BATON_CLI_URL_LEN]; /* endpoint as written (or the leader's api address) */
	char url[BATON_CLI_URL_LEN];
	unsigned index;               /* position in the endpoint list; n for an extra URL */
};

/* Endpoints from @spec ("URL[,URL...]"; "host:port" means http://host:port),
 * else $BATON_ENDPOINTS, else BATON_CLI_DEFAULT_ENDPOINTS. Returns 0, or
 * -EINVAL with a message naming the bad endpoint in @err. */
int baton_cli_client_init(struct baton_cli_client *c, const char *spec, char *err, size_t errlen);

/* GET @path ("/v1/status") from endpoints[start], endpoints[start+1], ...
 * until one answers. Returns 0 and fills @ret, or -EHOSTUNREACH when none
 * answered (c->errors names each endpoint tried and why). */
int baton_cli_get_first(struct baton_cli_client *c, unsigned start, const char *path,
			struct baton_cli_reply *ret);

/* GET @path from @addr ("host:port" or a URL) outside the endpoint list; a
 * bare host:port gets the scheme of @like_url. Returns 0 and fills @ret, or
 * < 0 with the reason appended to c->errors. */
int baton_cli_get_addr(struct baton_cli_client *c, const char *addr, const char *like_url, const char *path,
		       struct baton_cli_reply *ret);

void baton_cli_reply_done(struct baton_cli_reply *r);

/* A raw HTTP answer, whatever its status. @body is NUL-terminated and owned. */
struct baton_cli_http_reply {
	long status;
	char *body;
	size_t len;
	long redirects;                      /* 307s followed to get here */
	char name[BATON_CLI_URL_LEN];        /* the endpoint asked, as written */
	char url[BATON_CLI_URL_LEN + 128];   /* the URL that answered, after redirects */
};

/* POST @data (@len bytes of @content_type) to @path at endpoints[start],
 * endpoints[start+1], ... with a @timeout_ms total per try. A 307 (a follower
 * naming the leader) is followed with method and body kept, at most 3 times.
 * The next endpoint is tried only when the request cannot have been acted on:
 * no connection could be made (to the node or to the leader it named), or the
 * node answered 503 (it knows no leader). Returns 0 and fills @ret for any other
 * HTTP answer (including 4xx); -EHOSTUNREACH when no endpoint took the
 * request; -EIO when the request may have been delivered but no complete
 * answer came (the outcome is unknown). c->errors says why for each try. */
int baton_cli_post_first(struct baton_cli_client *c, unsigned start, const char *path, const char *content_type,
			 const void *data, size_t len, long timeout_ms, struct baton_cli_http_reply *ret);

void baton_cli_http_reply_done(struct baton_cli_http_reply *r);

#endif
