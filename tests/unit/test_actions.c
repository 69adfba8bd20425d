/* SPDX-License-Identifier: MIT */
/* actions/: the registry, every driver's parameter checks, and the exec and http
 * drivers end to end (exec spawns /bin/sh; http talks to a lib/http_server on the
 * same loop, 127.0.0.1). PostgreSQL, PowerDNS, Kubernetes and Route 53 run against
 * real servers or request-checking stand-ins in tests/integration/. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "action.h"
#include "http_server.h"
#include "registry.h"

/* --- fixture -------------------------------------------------------------------------------- */

enum srv_mode { SRV_STATUS, SRV_HOLD };

struct seen {
	int n;
	char method[16];
	char path[128];
	char body[512];
	char hdr[16][2][160]; /* name, value */
	int nhdr;
};

struct fixture {
	uv_loop_t loop;
	uv_timer_t deadline, later;
	bool expired;
	struct baton_http_client cli;
	struct baton_http_server srv;
	bool cli_open, srv_open, cli_closed, srv_closed;
	enum srv_mode mode;
	int status;          /* what the server answers */
	const char *reply;
	struct baton_http_exchange *held[4];
	int n_held;
	struct seen seen;
	/* the attempt */
	bool in_start;
	int calls;
	bool sync_call;
	bool done;
	struct baton_action_result res;
	uint64_t started_ms, took_ms;
	struct baton_action_op *op;
	const struct baton_action_driver *drv;
	struct baton_action_params params;
	struct baton_action_ctx ctx;
};

static void deadline_cb(uv_timer_t *t)
{
	struct fixture *f = t->data;

	f->expired = true;
}

static bool run_until(struct fixture *f, const bool *flag, unsigned ms)
{
	f->expired = false;
	uv_update_time(&f->loop);
	uv_timer_start(&f->deadline, deadline_cb, ms, 0);
	for (int i = 0; i < 1000000 && !*flag && !f->expired; i++)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_timer_stop(&f->deadline);
	return *flag;
}

static void handler(void *ctx, struct baton_http_exchange *ex, const struct baton_http_request *req)
{
	struct fixture *f = ctx;
	struct seen *s = &f->seen;

	s->n++;
	snprintf(s->method, sizeof(s->method), "%s", req->method);
	snprintf(s->path, sizeof(s->path), "%s", req->path);
	snprintf(s->body, sizeof(s->body), "%.*s", (int)(req->body_len < 500 ? req->body_len : 500),
		 (const char *)req->body);
	s->nhdr = 0;
	for (size_t i = 0; i < req->n_headers && s->nhdr < 16; i++, s->nhdr++) {
		snprintf(s->hdr[s->nhdr][0], sizeof(s->hdr[0][0]), "%s", req->headers[i].name);
		snprintf(s->hdr[s->nhdr][1], sizeof(s->hdr[0][1]), "%s", req->headers[i].value);
	}
	if (f->mode == SRV_HOLD) {
		assert_true(f->n_held < 4);
		f->held[f->n_held++] = ex;
		return;
	}
	baton_http_respond(ex, f->status, "text/plain", f->reply, strlen(f->reply), NULL);
}

static const char *seen_header(struct fixture *f, const char *name)
{
	for (int i = 0; i < f->seen.nhdr; i++)
		if (strcasecmp(f->seen.hdr[i][0], name) == 0)
			return f->seen.hdr[i][1];
	return NULL;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	uv_timer_init(&f->loop, &f->deadline);
	uv_timer_init(&f->loop, &f->later);
	f->deadline.data = f;
	f->later.data = f;
	f->ctx = (struct baton_action_ctx){.epoch = 7, .group = "main", .from = "us-west",
					   .to = "us-east", .step = "hook", .transition = "t-42",
					   .attempt = 1, .timeout_ms = 10000};
	f->status = 200;
	f->reply = "ok";
	*state = f;
	return 0;
}

static void srv_closed_cb(struct baton_http_server *s)
{
	((struct fixture *)s->data)->srv_closed = true;
}

static void cli_closed_cb(struct baton_http_client *c)
{
	((struct fixture *)c->data)->cli_closed = true;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->cli_open) {
		f->cli.data = f;
		baton_http_client_close(&f->cli, cli_closed_cb);
		assert_true(run_until(f, &f->cli_closed, 5000));
	}
	if (f->srv_open) {
		f->srv.data = f;
		baton_http_server_close(&f->srv, srv_closed_cb);
		assert_true(run_until(f, &f->srv_closed, 5000));
	}
	for (int i = 0; i < f->n_held; i++) /* after close this only frees */
		baton_http_respond(f->held[i], 503, NULL, NULL, 0, NULL);
	uv_close((uv_handle_t *)&f->deadline, NULL);
	uv_close((uv_handle_t *)&f->later, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

/* --- helpers ---------------------------------------------------------------------------------- */

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000;
}

/* key, value, key, value, ..., NULL */
static void set_params(struct baton_action_params *p, ...)
{
	va_list ap;
	const char *k;

	memset(p, 0, sizeof(*p));
	va_start(ap, p);
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);

		assert_true(p->n < BATON_ACTION_MAX_PARAMS);
		snprintf(p->items[p->n].key, sizeof(p->items[0].key), "%s", k);
		snprintf(p->items[p->n].value, sizeof(p->items[0].value), "%s", v);
		p->n++;
	}
	va_end(ap);
}

static void done_cb(void *data, const struct baton_action_result *r)
{
	struct fixture *f = data;

	f->calls++;
	f->sync_call = f->sync_call || f->in_start;
	f->res = *r;
	f->done = true;
	f->took_ms = now_ms() - f->started_ms;
	f->op = NULL;
}

static void start_client(struct fixture *f)
{
	assert_int_equal(baton_http_client_init(&f->cli, &f->loop), 0);
	f->cli_open = true;
}

static int start_server(struct fixture *f)
{
	struct baton_http_server_opts o = {.host = "127.0.0.1"};
	char err[200];

	assert_int_equal(baton_http_server_init(&f->srv, &f->loop, &o, handler, f, err, sizeof(err)),
			 0);
	f->srv_open = true;
	return baton_http_server_port(&f->srv);
}

static void start(struct fixture *f, const char *driver)
{
	const struct baton_action_driver *d = baton_action_driver(driver);
	struct baton_action_env env = {.loop = &f->loop, .http = f->cli_open ? &f->cli : NULL};

	assert_non_null(d);
	f->drv = d;
	f->done = false;
	f->calls = 0;
	f->sync_call = false;
	uv_update_time(&f->loop);
	f->started_ms = now_ms();
	f->in_start = true;
	assert_int_equal(d->start(&env, &f->params, &f->ctx, done_cb, f, &f->op), 0);
	f->in_start = false;
	assert_non_null(f->op);
}

/* Run the attempt to its end; exactly one callback, never from inside start(). */
static void finish(struct fixture *f, unsigned ms)
{
	assert_true(run_until(f, &f->done, ms));
	/* a little longer: a second callback would show here */
	uv_timer_start(&f->later, deadline_cb, 20, 0);
	f->expired = false;
	while (!f->expired)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(f->calls, 1);
	assert_false(f->sync_call);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("'%s' does not contain '%s'", hay, needle);
}

static void cancel_cb(uv_timer_t *t)
{
	struct fixture *f = t->data;

	if (f->op != NULL)
		f->drv->cancel(f->op);
}

/* --- registry ------------------------------------------------------------------------------------- */

static void every_listed_driver_is_registered(void **state)
{
	char names[128], *save = NULL;
	int n = 0;

	(void)state;
	snprintf(names, sizeof(names), "%s", baton_action_driver_names());
	for (char *s = strtok_r(names, ", ", &save); s != NULL; s = strtok_r(NULL, ", ", &save)) {
		const struct baton_action_driver *d = baton_action_driver(s);

		assert_non_null(d);
		assert_string_equal(d->name, s);
		assert_non_null(d->validate);
		assert_non_null(d->start);
		assert_non_null(d->cancel);
		n++;
	}
	assert_int_equal(n, 6);
	assert_string_equal(baton_action_driver_names(),
			    "postgres, powerdns, kubernetes, route53, http, exec");
}

static void unknown_driver_is_null(void **state)
{
	(void)state;
	assert_null(baton_action_driver("ipmi"));
	assert_null(baton_action_driver(""));
	assert_null(baton_action_driver(NULL));
}

static void param_lookup_finds_value_or_null(void **state)
{
	struct baton_action_params p;

	(void)state;
	set_params(&p, "url", "http://127.0.0.1/", "method", "PUT", NULL);
	assert_string_equal(baton_action_param(&p, "method"), "PUT");
	assert_null(baton_action_param(&p, "body"));
	assert_null(baton_action_param(NULL, "url"));
}

static void idempotency_comes_from_driver_or_step_param(void **state)
{
	struct baton_action_params p;

	(void)state;
	set_params(&p, NULL);
	assert_true(baton_action_driver("postgres")->idempotent);
	assert_true(baton_action_idempotent(baton_action_driver("powerdns"), &p));
	assert_false(baton_action_idempotent(baton_action_driver("http"), &p));
	assert_false(baton_action_idempotent(baton_action_driver("exec"), &p));
	set_params(&p, "idempotent", "true", NULL);
	assert_true(baton_action_idempotent(baton_action_driver("http"), &p));
	assert_true(baton_action_idempotent(baton_action_driver("exec"), &p));
}

/* --- parameter validation, table-driven ------------------------------------------------------------ */

struct vcase {
	const char *driver;
	const char *kv[24]; /* key, value pairs, NULL-ended */
	const char *error;  /* NULL: valid; else a piece of the message */
};

#define PG_OK "op", "fence", "conninfo", "host=127.0.0.1 port=5433 user=baton dbname=postgres"
#define PDNS_OK                                                                                \
	"api", "http://127.0.0.1:18081", "api_key", "k", "zone", "svc.example", "name",       \
		"app.svc.example", "type", "A", "content", "127.0.0.11,127.0.0.12"
#define K8S_OK                                                                                 \
	"api", "https://127.0.0.1:6443", "token_file", "/run/token", "namespace", "prod",     \
		"kind", "deployment", "name", "web", "replicas", "3"
#define R53_OK                                                                                 \
	"access_key_id", "AKID", "secret_access_key", "s", "hosted_zone_id", "Z1D633PJN98FT9", \
		"name", "app.example.com", "type", "A", "set_identifier", "us-east", "weight",  \
		"100", "value", "192.0.2.1"

static const struct vcase vcases[] = {
	/* postgres */
	{"postgres", {PG_OK, NULL}, NULL},
	{"postgres", {PG_OK, "epoch_table", "ops.baton_epoch", NULL}, NULL},
	{"postgres", {"op", "promote", "conninfo", "host=db.example.net port=5432", NULL}, NULL},
	{"postgres", {"op", "fence", "conninfo", "{from.pg}", NULL}, NULL},
	{"postgres", {PG_OK, "opp", "x", NULL}, "unknown parameter 'opp'"},
	{"postgres", {"op", "fence", NULL}, "missing parameter 'conninfo'"},
	{"postgres", {"conninfo", "host=127.0.0.1", NULL}, "missing parameter 'op'"},
	{"postgres", {"op", "demote", "conninfo", "host=127.0.0.1", NULL}, "op 'demote'"},
	{"postgres", {"op", "fence", "conninfo", "host=127.0.0.1 port", NULL}, "conninfo"},
	{"postgres", {"op", "fence", "conninfo", "host=127.0.0.1 bogus=1", NULL}, "bogus"},
	{"postgres", {"op", "fence", "conninfo", "service=prod", NULL}, "service"},
	{"postgres", {"op", "fence", "conninfo", "port=5432", NULL}, "neither host nor hostaddr"},
	{"postgres", {PG_OK, "epoch_table", "Epoch; DROP", NULL}, "epoch_table"},
	{"postgres", {PG_OK, "op", "fence", NULL}, "given twice"},
	/* powerdns */
	{"powerdns", {PDNS_OK, NULL}, NULL},
	{"powerdns", {PDNS_OK, "ttl", "30", "server", "localhost", NULL}, NULL},
	{"powerdns", {PDNS_OK, "content", "{to.ip}", NULL}, "given twice"},
	{"powerdns", {"api", "{dns.api}", "api_key_file", "/k", "zone", "svc.example", "name",
		      "app.svc.example", "type", "A", "content", "{to.ip}", NULL},
	 NULL},
	{"powerdns", {"api", "http://x", "api_key", "k", "name", "a.b", "type", "A", "content",
		      "1.2.3.4", NULL},
	 "missing parameter 'zone'"},
	{"powerdns", {PDNS_OK, "api_key_file", "/k", NULL}, "not both"},
	{"powerdns", {"api", "http://127.0.0.1:1", "zone", "svc.example", "name", "app.svc.example",
		      "type", "A", "content", "127.0.0.1", NULL},
	 "api_key"},
	{"powerdns", {"api", "http://127.0.0.1:1", "api_key", "k", "zone", "svc.example", "name",
		      "app.other.example", "type", "A", "content", "127.0.0.1", NULL},
	 "not in zone"},
	{"powerdns", {"api", "http://127.0.0.1:1", "api_key", "k", "zone", "svc.example", "name",
		      "app.svc.example", "type", "MX", "content", "127.0.0.1", NULL},
	 "type 'MX'"},
	{"powerdns", {"api", "http://127.0.0.1:1", "api_key", "k", "zone", "svc.example", "name",
		      "app.svc.example", "type", "A", "content", "127.0.0.1,1.2.3", NULL},
	 "'1.2.3' is not a valid A record"},
	{"powerdns", {"api", "http://127.0.0.1:1", "api_key", "k", "zone", "svc.example", "name",
		      "app.svc.example", "type", "CNAME", "content", "a.example,b.example", NULL},
	 "exactly one"},
	{"powerdns", {PDNS_OK, "ttl", "soon", NULL}, "ttl 'soon'"},
	{"powerdns", {"api", "ftp://127.0.0.1", "api_key", "k", "zone", "svc.example", "name",
		      "app.svc.example", "type", "A", "content", "127.0.0.1", NULL},
	 "api 'ftp://127.0.0.1'"},
	/* kubernetes */
	{"kubernetes", {K8S_OK, NULL}, NULL},
	{"kubernetes", {K8S_OK, "ca_file", "/ca.pem", NULL}, NULL},
	{"kubernetes", {"api", "http://127.0.0.1:8080", "token_file", "/t", "namespace", "prod",
			"kind", "deployment", "name", "web", "replicas", "1", NULL},
	 "not https://"},
	{"kubernetes", {"api", "http://127.0.0.1:8080", "insecure", "true", "token_file", "/t",
			"namespace", "prod", "kind", "statefulset", "name", "db", "replicas", "1",
			NULL},
	 NULL},
	{"kubernetes", {K8S_OK, "kind", "pod", NULL}, "given twice"},
	{"kubernetes", {"api", "https://k", "token_file", "/t", "namespace", "prod", "kind", "pod",
			"name", "web", "replicas", "1", NULL},
	 "kind 'pod'"},
	{"kubernetes", {"api", "https://k", "token_file", "/t", "namespace", "Prod", "kind",
			"deployment", "name", "web", "replicas", "1", NULL},
	 "namespace 'Prod'"},
	{"kubernetes", {"api", "https://k", "token_file", "/t", "namespace", "prod", "kind",
			"deployment", "name", "web", "replicas", "-1", NULL},
	 "replicas '-1'"},
	{"kubernetes", {"api", "https://k", "namespace", "prod", "kind", "deployment", "name", "web",
			"replicas", "1", NULL},
	 "missing parameter 'token_file'"},
	/* route53 */
	{"route53", {R53_OK, NULL}, NULL},
	{"route53", {R53_OK, "ttl", "60", "endpoint", "http://127.0.0.1:9", "region", "us-east-1",
		     NULL},
	 NULL},
	{"route53", {"credentials_file", "/c", "hosted_zone_id", "/hostedzone/Z1", "name", "a.b",
		     "type", "AAAA", "set_identifier", "x", "weight", "0", "value", "2001:db8::1",
		     NULL},
	 NULL},
	{"route53", {"access_key_id", "AKID", "hosted_zone_id", "Z1", "name", "a.b", "type", "A",
		     "set_identifier", "x", "weight", "0", "value", "192.0.2.1", NULL},
	 "missing parameter 'secret_access_key'"},
	{"route53", {R53_OK, "credentials_file", "/c", NULL}, "not both"},
	{"route53", {"access_key_id", "AKID", "secret_access_key", "s", "hosted_zone_id", "Z1",
		     "name", "a.b", "type", "A", "set_identifier", "x", "weight", "256", "value",
		     "192.0.2.1", NULL},
	 "weight '256'"},
	{"route53", {"access_key_id", "AKID", "secret_access_key", "s", "hosted_zone_id", "z1",
		     "name", "a.b", "type", "A", "set_identifier", "x", "weight", "1", "value",
		     "192.0.2.1", NULL},
	 "hosted_zone_id 'z1'"},
	{"route53", {R53_OK, "profile", "prod", NULL}, "unknown parameter 'profile'"},
	/* http */
	{"http", {"url", "https://hooks.example/failover", NULL}, NULL},
	{"http", {"url", "http://127.0.0.1:1/x", "method", "PUT", "body", "{}", "expect_status",
		  "200,204", "header_1", "Authorization: Bearer x", "timeout_ms", "500",
		  "idempotent", "true", NULL},
	 NULL},
	{"http", {"method", "POST", NULL}, "missing parameter 'url'"},
	{"http", {"url", "ftp://x/", NULL}, "url 'ftp://x/'"},
	{"http", {"url", "http://x/", "method", "FETCH", NULL}, "method 'FETCH'"},
	{"http", {"url", "http://x/", "header_1", "NoColon", NULL}, "header_1 'NoColon'"},
	{"http", {"url", "http://x/", "header_2", "X-Baton-Epoch: 99", NULL}, "set by baton"},
	{"http", {"url", "http://x/", "expect_status", "ok", NULL}, "expect_status 'ok'"},
	{"http", {"url", "http://x/", "header_5", "A: b", NULL}, "unknown parameter 'header_5'"},
	{"http", {"url", "http://x/", "idempotent", "maybe", NULL}, "idempotent 'maybe'"},
	/* exec */
	{"exec", {"command", "/usr/local/bin/failover-hook", "arg_1", "--to", "arg_2", "{to}",
		  NULL},
	 NULL},
	{"exec", {"command", "failover-hook", NULL}, "not an absolute path"},
	{"exec", {"command", "/bin/true", "arg_2", "x", NULL}, "'arg_2' given without 'arg_1'"},
	{"exec", {"command", "/bin/true", "arg_9", "x", NULL}, "unknown parameter 'arg_9'"},
	{"exec", {"command", "/bin/true", "timeout_ms", "0", NULL}, "timeout_ms '0'"},
	{"exec", {"arg_1", "x", NULL}, "missing parameter 'command'"},
	{"exec", {"command", "", NULL}, "parameter 'command' is empty"},
};

static void every_driver_checks_its_parameters(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
		const struct vcase *c = &vcases[i];
		const struct baton_action_driver *d = baton_action_driver(c->driver);
		struct baton_action_params p = {0};
		char err[256] = "";
		int rv;

		assert_non_null(d);
		for (int k = 0; c->kv[k] != NULL; k += 2) {
			snprintf(p.items[p.n].key, sizeof(p.items[0].key), "%s", c->kv[k]);
			snprintf(p.items[p.n].value, sizeof(p.items[0].value), "%s", c->kv[k + 1]);
			p.n++;
		}
		rv = d->validate(&p, err, sizeof(err));
		if (c->error == NULL) {
			if (rv != 0)
				fail_msg("case %zu (%s): expected valid, got '%s'", i, c->driver, err);
			continue;
		}
		if (rv != -EINVAL)
			fail_msg("case %zu (%s): expected an error with '%s', got %d", i, c->driver,
				 c->error, rv);
		if (strstr(err, c->error) == NULL)
			fail_msg("case %zu (%s): error '%s' does not contain '%s'", i, c->driver, err,
				 c->error);
		/* the message names the driver */
		assert_int_equal(strncmp(err, c->driver, strlen(c->driver)), 0);
	}
}

/* Parameters still wrong after templating fail through the callback, later. */
static void bad_parameters_at_start_fail_through_the_callback(void **state)
{
	struct fixture *f = *state;

	set_params(&f->params, "command", "relative/hook", NULL);
	start(f, "exec");
	assert_false(f->done);
	finish(f, 2000);
	assert_int_equal(f->res.status, -EINVAL);
	assert_false(f->res.retryable);
	assert_contains(f->res.error, "not an absolute path");
}

/* --- exec ---------------------------------------------------------------------------------------- */

static void exec_sh(struct fixture *f, const char *script, const char *timeout_ms)
{
	if (timeout_ms != NULL)
		set_params(&f->params, "command", "/bin/sh", "arg_1", "-c", "arg_2", script,
			   "timeout_ms", timeout_ms, NULL);
	else
		set_params(&f->params, "command", "/bin/sh", "arg_1", "-c", "arg_2", script, NULL);
	start(f, "exec");
}

static void exec_success_reports_stdout(void **state)
{
	struct fixture *f = *state;

	exec_sh(f, "echo switched to $BATON_TO", NULL);
	finish(f, 5000);
	assert_int_equal(f->res.status, 0);
	assert_string_equal(f->res.output, "switched to us-east");
	assert_string_equal(f->res.error, "");
}

static void exec_failure_quotes_exit_code_and_stderr(void **state)
{
	struct fixture *f = *state;

	exec_sh(f, "echo partial; echo 'cannot reach db-1' >&2; exit 3", NULL);
	finish(f, 5000);
	assert_int_equal(f->res.status, BATON_ACTION_EFAILED);
	assert_false(f->res.retryable);
	assert_contains(f->res.error, "exec /bin/sh: exit 3: cannot reach db-1");
	assert_string_equal(f->res.output, "partial");
}

static void exec_exit_75_is_a_retryable_failure(void **state)
{
	struct fixture *f = *state;

	exec_sh(f, "echo busy >&2; exit 75", NULL);
	finish(f, 5000);
	assert_int_equal(f->res.status, BATON_ACTION_EFAILED);
	assert_true(f->res.retryable);
	assert_contains(f->res.error, "exit 75");
	assert_contains(f->res.error, "busy");
}

static void exec_exit_65_means_stale_epoch(void **state)
{
	struct fixture *f = *state;

	exec_sh(f, "echo 'target is at epoch 9' >&2; exit 65", NULL);
	finish(f, 5000);
	assert_int_equal(f->res.status, BATON_ACTION_ESTALE);
	assert_false(f->res.retryable);
	assert_contains(f->res.error, "target is at epoch 9");
}

static void exec_environment_carries_the_context(void **state)
{
	struct fixture *f = *state;

	f->ctx.drill = true;
	f->ctx.attempt = 3;
	exec_sh(f,
		"echo \"$BATON_EPOCH|$BATON_FROM|$BATON_TO|$BATON_STEP|$BATON_GROUP|"
		"$BATON_TRANSITION|$BATON_DRILL|$BATON_ATTEMPT|${PATH:+path}|${HOME:-nohome}\"",
		NULL);
	finish(f, 5000);
	assert_int_equal(f->res.status, 0);
	assert_string_equal(f->res.output, "7|us-west|us-east|hook|main|t-42|1|3|path|nohome");
}

static void exec_timeout_stops_the_command_with_sigterm(void **state)
{
	struct fixture *f = *state;

	exec_sh(f, "echo started; sleep 30", "200");
	finish(f, 5000);
	assert_int_equal(f->res.status, -ETIMEDOUT);
	assert_true(f->res.retryable);
	assert_contains(f->res.error, "timed out after 200 ms");
	assert_contains(f->res.error, "SIGTERM");
	assert_string_equal(f->res.output, "started");
	assert_true(f->took_ms >= 190 && f->took_ms < 1500);
}

static void exec_timeout_kills_a_command_that_ignores_sigterm(void **state)
{
	struct fixture *f = *state;

	exec_sh(f, "trap '' TERM; sleep 30 & wait", "100");
	finish(f, 8000);
	assert_int_equal(f->res.status, -ETIMEDOUT);
	assert_contains(f->res.error, "killed with SIGKILL");
	assert_true(f->took_ms >= 2000 && f->took_ms < 4000);
}

static void exec_finishes_before_a_short_attempt_deadline(void **state)
{
	struct fixture *f = *state;

	f->ctx.timeout_ms = 600; /* shorter than the 2 s SIGKILL grace */
	exec_sh(f, "trap '' TERM; sleep 30 & wait", NULL);
	finish(f, 5000);
	assert_int_equal(f->res.status, -ETIMEDOUT);
	assert_true(f->took_ms < 700);
}

static void exec_cancel_kills_the_command(void **state)
{
	struct fixture *f = *state;
	int pid;

	exec_sh(f, "echo $$; exec sleep 30", NULL);
	uv_timer_start(&f->later, cancel_cb, 100, 0);
	finish(f, 5000);
	assert_int_equal(f->res.status, -ECANCELED);
	pid = atoi(f->res.output);
	assert_true(pid > 0);
	assert_int_equal(kill(pid, 0), -1); /* reaped, not a zombie */
	assert_int_equal(errno, ESRCH);
}

static void exec_missing_command_is_not_retryable(void **state)
{
	struct fixture *f = *state;

	set_params(&f->params, "command", "/nonexistent/hook", NULL);
	start(f, "exec");
	finish(f, 5000);
	assert_int_equal(f->res.status, UV_ENOENT);
	assert_false(f->res.retryable);
	assert_contains(f->res.error, "exec /nonexistent/hook: cannot start");
}

static void exec_output_is_capped_at_1kib(void **state)
{
	struct fixture *f = *state;

	exec_sh(f, "i=0; while [ $i -lt 300 ]; do echo 0123456789; i=$((i+1)); done", NULL);
	finish(f, 5000);
	assert_int_equal(f->res.status, 0);
	assert_true(strlen(f->res.output) <= 1023);
	assert_true(strlen(f->res.output) >= 1000);
}

static void exec_killed_by_a_foreign_signal_is_a_failure(void **state)
{
	struct fixture *f = *state;

	exec_sh(f, "kill -9 $$", NULL);
	finish(f, 5000);
	assert_int_equal(f->res.status, BATON_ACTION_EFAILED);
	assert_contains(f->res.error, "killed by signal 9");
}

/* --- http --------------------------------------------------------------------------------------- */

static void webhook(struct fixture *f, int port, const char *extra_k, const char *extra_v)
{
	char url[96];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hooks/failover", port);
	if (extra_k != NULL)
		set_params(&f->params, "url", url, "body", "{\"to\":\"us-east\"}", "header_1",
			   "Authorization: Bearer s3cret", extra_k, extra_v, NULL);
	else
		set_params(&f->params, "url", url, "body", "{\"to\":\"us-east\"}", "header_1",
			   "Authorization: Bearer s3cret", NULL);
	start(f, "http");
}

static void http_posts_the_body_with_baton_headers(void **state)
{
	struct fixture *f = *state;

	start_client(f);
	f->reply = "switched";
	webhook(f, start_server(f), NULL, NULL);
	finish(f, 5000);
	assert_int_equal(f->res.status, 0);
	assert_contains(f->res.output, "HTTP 200");
	assert_contains(f->res.output, "switched");
	assert_string_equal(f->seen.method, "POST");
	assert_string_equal(f->seen.path, "/hooks/failover");
	assert_string_equal(f->seen.body, "{\"to\":\"us-east\"}");
	assert_string_equal(seen_header(f, "X-Baton-Epoch"), "7");
	assert_string_equal(seen_header(f, "X-Baton-From"), "us-west");
	assert_string_equal(seen_header(f, "X-Baton-To"), "us-east");
	assert_string_equal(seen_header(f, "X-Baton-Drill"), "false");
	assert_string_equal(seen_header(f, "X-Baton-Transition"), "t-42");
	assert_string_equal(seen_header(f, "Content-Type"), "application/json");
	assert_string_equal(seen_header(f, "Authorization"), "Bearer s3cret");
}

static void http_drill_says_so_in_a_header(void **state)
{
	struct fixture *f = *state;

	start_client(f);
	f->ctx.drill = true;
	webhook(f, start_server(f), "method", "PUT");
	finish(f, 5000);
	assert_int_equal(f->res.status, 0);
	assert_string_equal(f->seen.method, "PUT");
	assert_string_equal(seen_header(f, "X-Baton-Drill"), "true");
}

/* The first activation has no region to take the baton from: the header is still sent. */
static void http_empty_from_is_sent_as_an_empty_header(void **state)
{
	struct fixture *f = *state;

	start_client(f);
	f->ctx.from = "";
	webhook(f, start_server(f), NULL, NULL);
	finish(f, 5000);
	assert_int_equal(f->res.status, 0);
	assert_non_null(seen_header(f, "X-Baton-From"));
	assert_string_equal(seen_header(f, "X-Baton-From"), "");
}

static void http_409_means_the_target_holds_a_newer_epoch(void **state)
{
	struct fixture *f = *state;

	start_client(f);
	f->status = 409;
	f->reply = "epoch 9 already seen";
	webhook(f, start_server(f), NULL, NULL);
	finish(f, 5000);
	assert_int_equal(f->res.status, BATON_ACTION_ESTALE);
	assert_false(f->res.retryable);
	assert_contains(f->res.error, "HTTP 409");
	assert_contains(f->res.error, "epoch 9 already seen");
}

static void http_5xx_is_retryable_and_quoted(void **state)
{
	struct fixture *f = *state;

	start_client(f);
	f->status = 503;
	f->reply = "maintenance\nback soon";
	webhook(f, start_server(f), NULL, NULL);
	finish(f, 5000);
	assert_int_equal(f->res.status, BATON_ACTION_EFAILED);
	assert_true(f->res.retryable);
	assert_contains(f->res.error, "HTTP 503: maintenance back soon");
	assert_contains(f->res.error, "/hooks/failover");
}

static void http_4xx_is_not_retryable(void **state)
{
	struct fixture *f = *state;

	start_client(f);
	f->status = 403;
	f->reply = "bad token";
	webhook(f, start_server(f), NULL, NULL);
	finish(f, 5000);
	assert_int_equal(f->res.status, BATON_ACTION_EFAILED);
	assert_false(f->res.retryable);
	assert_contains(f->res.error, "HTTP 403: bad token");
}

static void http_status_outside_expect_status_fails(void **state)
{
	struct fixture *f = *state;

	start_client(f);
	f->status = 200;
	webhook(f, start_server(f), "expect_status", "201,204");
	finish(f, 5000);
	assert_int_equal(f->res.status, BATON_ACTION_EFAILED);
	assert_contains(f->res.error, "HTTP 200");
}

static void http_refused_connection_is_retryable(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	start_client(f);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0); /* bound, not listening */
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	webhook(f, ntohs(sa.sin_port), NULL, NULL);
	finish(f, 5000);
	close(fd);
	assert_int_equal(f->res.status, -ECONNREFUSED);
	assert_true(f->res.retryable);
}

static void http_silent_target_times_out(void **state)
{
	struct fixture *f = *state;

	start_client(f);
	f->mode = SRV_HOLD;
	webhook(f, start_server(f), "timeout_ms", "300");
	finish(f, 5000);
	assert_int_equal(f->res.status, -ETIMEDOUT);
	assert_true(f->res.retryable);
	assert_true(f->took_ms >= 290 && f->took_ms < 2000);
}

static void http_attempt_deadline_bounds_the_call(void **state)
{
	struct fixture *f = *state;

	start_client(f);
	f->mode = SRV_HOLD;
	f->ctx.timeout_ms = 250;
	webhook(f, start_server(f), NULL, NULL);
	finish(f, 5000);
	assert_int_equal(f->res.status, -ETIMEDOUT);
	assert_true(f->took_ms < 1000);
}

static void http_cancel_reports_ecanceled(void **state)
{
	struct fixture *f = *state;

	start_client(f);
	f->mode = SRV_HOLD;
	webhook(f, start_server(f), NULL, NULL);
	uv_timer_start(&f->later, cancel_cb, 50, 0);
	finish(f, 5000);
	assert_int_equal(f->res.status, -ECANCELED);
	assert_false(f->res.retryable);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_listed_driver_is_registered),
		cmocka_unit_test(unknown_driver_is_null),
		cmocka_unit_test(param_lookup_finds_value_or_null),
		cmocka_unit_test(idempotency_comes_from_driver_or_step_param),
		cmocka_unit_test(every_driver_checks_its_parameters),
		cmocka_unit_test_setup_teardown(bad_parameters_at_start_fail_through_the_callback,
						setup, teardown),
		cmocka_unit_test_setup_teardown(exec_success_reports_stdout, setup, teardown),
		cmocka_unit_test_setup_teardown(exec_failure_quotes_exit_code_and_stderr, setup,
						teardown),
		cmocka_unit_test_setup_teardown(exec_exit_75_is_a_retryable_failure, setup,
						teardown),
		cmocka_unit_test_setup_teardown(exec_exit_65_means_stale_epoch, setup, teardown),
		cmocka_unit_test_setup_teardown(exec_environment_carries_the_context, setup,
						teardown),
		cmocka_unit_test_setup_teardown(exec_timeout_stops_the_command_with_sigterm, setup,
						teardown),
		cmocka_unit_test_setup_teardown(exec_timeout_kills_a_command_that_ignores_sigterm,
						setup, teardown),
		cmocka_unit_test_setup_teardown(exec_finishes_before_a_short_attempt_deadline, setup,
						teardown),
		cmocka_unit_test_setup_teardown(exec_cancel_kills_the_command, setup, teardown),
		cmocka_unit_test_setup_teardown(exec_missing_command_is_not_retryable, setup,
						teardown),
		cmocka_unit_test_setup_teardown(exec_output_is_capped_at_1kib, setup, teardown),
		cmocka_unit_test_setup_teardown(exec_killed_by_a_foreign_signal_is_a_failure, setup,
						teardown),
		cmocka_unit_test_setup_teardown(http_posts_the_body_with_baton_headers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(http_drill_says_so_in_a_header, setup, teardown),
		cmocka_unit_test_setup_teardown(http_empty_from_is_sent_as_an_empty_header, setup,
						teardown),
		cmocka_unit_test_setup_teardown(http_409_means_the_target_holds_a_newer_epoch, setup,
						teardown),
		cmocka_unit_test_setup_teardown(http_5xx_is_retryable_and_quoted, setup, teardown),
		cmocka_unit_test_setup_teardown(http_4xx_is_not_retryable, setup, teardown),
		cmocka_unit_test_setup_teardown(http_status_outside_expect_status_fails, setup,
						teardown),
		cmocka_unit_test_setup_teardown(http_refused_connection_is_retryable, setup,
						teardown),
		cmocka_unit_test_setup_teardown(http_silent_target_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(http_attempt_deadline_bounds_the_call, setup,
						teardown),
		cmocka_unit_test_setup_teardown(http_cancel_reports_ecanceled, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
