/* SPDX-License-Identifier: MIT */
/* External probes; see detect.h.
 *
 * HTTP probes: GET through the shared libcurl-multi client; healthy when the
 * status equals expect_status. TCP probes: a uv_tcp_connect raced against a
 * timer; healthy when the connection is established. A probe struct owns two
 * handles and is freed when both have closed. Nothing here blocks the loop. */
#include "detect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct tcp_probe {
	struct baton_detect *d;
	struct baton_detect_region *r;
	uv_tcp_t tcp;
	uv_connect_t req;
	uv_timer_t timer;
	int closes;
	bool done;
	uint64_t started;
	char address[BATON_ADDR_LEN];
};

struct http_probe {
	struct baton_detect *d;
	struct baton_detect_region *r;
	uint64_t expect;
	uint64_t started;
	char url[BATON_URL_LEN];
};

static void round_done(struct baton_detect *d, struct baton_detect_region *r)
{
	uint64_t now = uv_now(d->loop);
	bool was_down = r->down, was_known = r->known;

	r->last_ok = r->round_ok;
	if (r->round_ok) {
		r->rounds_ok++;
		r->fail_since = 0;
		if (r->pass_since == 0)
			r->pass_since = r->round_started;
		if (!r->known || (r->down && now - r->pass_since >= d->cfg->up_after_ms)) {
			r->down = false;
			r->known = true;
		}
	} else {
		r->rounds_failed++;
		r->pass_since = 0;
		if (r->fail_since == 0)
			r->fail_since = r->round_started;
		memcpy(r->detail, r->round_detail, sizeof r->detail);
		if (now - r->fail_since >= d->cfg->down_after_ms && (!r->down || !r->known)) {
			r->down = true;
			r->known = true;
		}
	}
	r->last_latency_ms = now - r->round_started;
	if (r->known && (!was_known || was_down != r->down) && d->changed != NULL && !d->closing)
		d->changed(d->data, r->cfg->name, r->down, r->down ? r->detail : "probes pass");
}

static void probe_result(struct baton_detect *d, struct baton_detect_region *r, bool ok, const char *detail)
{
	if (!ok) {
		if (r->round_ok)
			snprintf(r->round_detail, sizeof r->round_detail, "%s", detail);
		r->round_ok = false;
	}
	if (--r->pending == 0)
		round_done(d, r);
}

static void http_done(void *data, const struct baton_http_result *res)
{
	struct http_probe *p = data;
	char detail[192];

	if (res->err != 0)
		snprintf(detail, sizeof detail, "GET %s: %s", p->url, res->errmsg ? res->errmsg : strerror(-res->err));
	else
		snprintf(detail, sizeof detail, "GET %s: status %ld, expected %llu", p->url, res->status,
			 (unsigned long long)p->expect);
	probe_result(p->d, p->r, res->err == 0 && (uint64_t)res->status == p->expect, detail);
	free(p);
}

static void tcp_closed(uv_handle_t *h)
{
	struct tcp_probe *p = h->data;
	struct baton_detect *d = p->d;

	if (--p->closes > 0)
		return;
	free(p);
	if (--d->pending_probes == 0 && d->timer_closed && d->close_cb != NULL)
		d->close_cb(d);
}

static void tcp_finish(struct tcp_probe *p, bool ok, const char *why)
{
	char detail[192];

	if (p->done)
		return;
	p->done = true;
	snprintf(detail, sizeof detail, "connect %s: %s", p->address, why);
	uv_timer_stop(&p->timer);
	uv_close((uv_handle_t *)&p->tcp, tcp_closed);
	uv_close((uv_handle_t *)&p->timer, tcp_closed);
	probe_result(p->d, p->r, ok, detail);
}

static void tcp_connected(uv_connect_t *req, int status)
{
	struct tcp_probe *p = req->data;

	if (status == UV_ECANCELED)
		return; /* closed by the timeout: already reported */
	tcp_finish(p, status == 0, status == 0 ? "ok" : uv_strerror(status));
}

static void tcp_timeout(uv_timer_t *t)
{
	tcp_finish(t->data, false, "timed out");
}

static void start_tcp(struct baton_detect *d, struct baton_detect_region *r, const struct baton_probe_config *pc)
{
	struct tcp_probe *p = calloc(1, sizeof *p);
	struct sockaddr_in sa;
	char host[32];
	int port;

	if (p == NULL || baton_parse_ipv4_port(pc->address, host, sizeof host, &port) != 0 ||
	    uv_ip4_addr(host, port, &sa) != 0) {
		free(p);
		probe_result(d, r, false, "tcp probe: bad address or out of memory");
		return;
	}
	p->d = d;
	p->r = r;
	snprintf(p->address, sizeof p->address, "%s", pc->address);
	uv_tcp_init(d->loop, &p->tcp);
	uv_timer_init(d->loop, &p->timer);
	p->tcp.data = p->timer.data = p->req.data = p;
	p->closes = 2;
	d->pending_probes++;
	uv_timer_start(&p->timer, tcp_timeout, d->cfg->probe_timeout_ms, 0);
	int rv = uv_tcp_connect(&p->req, &p->tcp, (const struct sockaddr *)&sa, tcp_connected);
	if (rv != 0)
		tcp_finish(p, false, uv_strerror(rv));
}

static void start_http(struct baton_detect *d, struct baton_detect_region *r, const struct baton_probe_config *pc)
{
	struct http_probe *p = calloc(1, sizeof *p);
	struct baton_http_call_opts o = {0};
	int rv;

	if (p == NULL) {
		probe_result(d, r, false, "http probe: out of memory");
		return;
	}
	p->d = d;
	p->r = r;
	p->expect = pc->expect_status;
	snprintf(p->url, sizeof p->url, "%s", pc->url);
	o.method = "GET";
	o.url = pc->url;
	o.headers = (const char *const *)d->headers;
	o.timeout_ms = (unsigned)d->cfg->probe_timeout_ms;
	o.connect_timeout_ms = (unsigned)d->cfg->probe_timeout_ms;
	o.max_response = 64 * 1024;
	rv = baton_http_call(d->http, &o, http_done, p, NULL);
	if (rv != 0) {
		char detail[192];
		snprintf(detail, sizeof detail, "GET %s: %s", pc->url, strerror(-rv));
		free(p);
		probe_result(d, r, false, detail);
	}
}

static void tick(uv_timer_t *t)
{
	struct baton_detect *d = t->data;

	for (unsigned i = 0; i < d->n_regions; i++) {
		struct baton_detect_region *r = &d->regions[i];
		if (r->pending > 0 || r->cfg->n_probes == 0)
			continue; /* previous round still out */
		r->round_ok = true;
		r->round_detail[0] = '\0';
		r->round_started = uv_now(d->loop);
		/* Count them all first: a probe may complete synchronously. */
		r->pending = r->cfg->n_probes + 1;
		for (unsigned j = 0; j < r->cfg->n_probes; j++) {
			const struct baton_probe_config *pc = &r->cfg->probes[j];
			if (pc->type == BATON_PROBE_TCP)
				start_tcp(d, r, pc);
			else
				start_http(d, r, pc);
		}
		probe_result(d, r, true, "");
	}
}

int baton_detect_init(struct baton_detect *d, uv_loop_t *loop, struct baton_http_client *http,
		      const struct baton_cluster_config *cc, const char *observer,
		      void (*changed)(void *data, const char *region, bool down, const char *detail), void *data)
{
	memset(d, 0, sizeof *d);
	d->loop = loop;
	d->http = http;
	d->cfg = &cc->detection;
	d->changed = changed;
	d->data = data;
	/* Services can tell observers apart in their logs. */
	snprintf(d->observer_header, sizeof d->observer_header, "X-Baton-Observer: %s", observer);
	d->headers[0] = d->observer_header;
	d->headers[1] = NULL;
	for (unsigned i = 0; i < cc->n_regions; i++)
		d->regions[d->n_regions++].cfg = &cc->regions[i];
	uv_timer_init(loop, &d->timer);
	d->timer.data = d;
	return uv_timer_start(&d->timer, tick, 0, d->cfg->probe_interval_ms);
}

static void timer_closed(uv_handle_t *h)
{
	struct baton_detect *d = h->data;

	d->timer_closed = true;
	if (d->pending_probes == 0 && d->close_cb != NULL)
		d->close_cb(d);
}

/* HTTP probes in flight are failed by the client's own close (the client is
 * closed after this); TCP probes are closed here. */
void baton_detect_close(struct baton_detect *d, void (*cb)(struct baton_detect *d))
{
	d->closing = true;
	d->close_cb = cb;
	uv_close((uv_handle_t *)&d->timer, timer_closed);
}

const struct baton_detect_region *baton_detect_region(const struct baton_detect *d, const char *name)
{
	for (unsigned i = 0; i < d->n_regions; i++)
		if (strcmp(d->regions[i].cfg->name, name) == 0)
			return &d->regions[i];
	return NULL;
}
