/* SPDX-License-Identifier: MIT */
/* Reporter health on the region's coordinator; see health.h.
 *
 * A report is accepted only through lib/report.c's verifier (MAC with the
 * region key, region, freshness, strictly increasing seq per reporter); every
 * outcome is counted for /metrics. The aggregate for the region is: reporters
 * ok if any sent a fresh report within reporter_timeout_ms; critical if any
 * fresh report is critical; lag = the largest lag reported by a replica
 * check. It is pushed to the leader (and so into the log) only when it
 * changes meaningfully: critical or reporters-ok flips, or the lag moves by
 * more than a tenth (at least 64 KiB or 1 s) or crosses the RPO limits,
 * and lag-only changes at most every 2 s. */
#include "health.h"

#include <errno.h>
#include <sodium.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "node.h"
#include "peer.h"
#include "util.h"

int baton_health_init(struct baton_node *n, char *errbuf, size_t errlen)
{
	struct baton_health *h = &n->health;
	uint8_t key[BATON_REPORT_KEY_LEN];
	int rv;

	memset(h, 0, sizeof *h);
	if (n->cfg.self->witness || n->cfg.node.report_key_file[0] == '\0')
		return 0;
	rv = baton_report_key_load(n->cfg.node.report_key_file, key, errbuf, errlen);
	if (rv != 0)
		return -EINVAL;
	rv = baton_report_verifier_init(&h->verifier, n->cfg.self->region, key,
					n->cfg.cluster.detection.report_max_age_ms,
					n->cfg.cluster.detection.report_max_skew_ms);
	sodium_memzero(key, sizeof key);
	if (rv != 0) {
		snprintf(errbuf, errlen, "report verifier: %s", strerror(-rv));
		return rv;
	}
	h->enabled = true;
	return 0;
}

void baton_health_done(struct baton_node *n)
{
	baton_report_verifier_done(&n->health.verifier);
}

static struct baton_health_reporter *reporter(struct baton_health *h, const char *name, uint64_t now)
{
	unsigned oldest = 0;

	for (unsigned i = 0; i < h->n_reporters; i++) {
		if (strcmp(h->reporters[i].name, name) == 0)
			return &h->reporters[i];
		if (h->reporters[i].last_ms < h->reporters[oldest].last_ms)
			oldest = i;
	}
	if (h->n_reporters < BATON_HEALTH_MAX_REPORTERS)
		oldest = h->n_reporters++;
	memset(&h->reporters[oldest], 0, sizeof h->reporters[oldest]);
	baton_strlcpy(h->reporters[oldest].name, name, sizeof h->reporters[oldest].name);
	h->reporters[oldest].last_ms = now;
	return &h->reporters[oldest];
}

void baton_health_handle_http(struct baton_node *n, struct baton_http_exchange *ex, const struct baton_http_request *req)
{
	struct baton_health *h = &n->health;
	Baton__HealthReportBody *body = NULL;
	char err[256], json[384];
	int v, len;

	if (!h->enabled) {
		static const char msg[] = "{\"error\":\"this coordinator accepts no reports (no node.report_key_file, or a witness)\"}\n";
		baton_http_respond(ex, 403, "application/json", msg, sizeof msg - 1, NULL);
		return;
	}
	v = baton_report_verify(&h->verifier, req->body, req->body_len, baton_wall_ms(), &body, err, sizeof err);
	if (v >= 0 && v < BATON_REPORT_VERDICT_NR)
		h->verdicts[v]++;
	if (v != BATON_REPORT_OK) {
		char q[300];
		log_info("health", "report rejected", "from=%s verdict=%s reason=%s", req->remote_addr,
			 baton_report_verdict_name(v), baton_log_quote(q, sizeof q, err));
		len = snprintf(json, sizeof json, "{\"error\":\"%s\",\"verdict\":\"%s\"}\n", baton_report_verdict_name(v),
			       baton_report_verdict_name(v));
		baton_http_respond(ex, v == BATON_REPORT_OVERSIZED ? 413 : v == BATON_REPORT_MALFORMED ? 400 : 403,
				   "application/json", json, (size_t)len, NULL);
		return;
	}
	uint64_t now = uv_now(n->loop);
	struct baton_health_reporter *r = reporter(h, body->reporter, now);
	r->last_ms = now;
	r->seq = body->seq;
	r->critical = body->has_critical && body->critical;
	r->has_lag = false;
	r->lag_bytes = r->lag_ms = 0;
	r->detail[0] = '\0';
	for (size_t i = 0; i < body->n_checks; i++) {
		const Baton__CheckResult *c = body->checks[i];
		if (!c->ok && r->detail[0] == '\0')
			snprintf(r->detail, sizeof r->detail, "%s %s failed%s%s", c->kind, c->name, c->detail ? ": " : "",
				 c->detail ? c->detail : "");
		if (c->pg_role != NULL && strcmp(c->pg_role, "replica") == 0 && (c->has_lag_bytes || c->has_lag_ms)) {
			r->has_lag = true;
			if (c->lag_bytes > r->lag_bytes)
				r->lag_bytes = c->lag_bytes;
			if (c->lag_ms > r->lag_ms)
				r->lag_ms = c->lag_ms;
		}
		if (c->pg_role != NULL && strcmp(c->pg_role, "primary") == 0 && c->ok)
			r->has_lag = true; /* a primary has no lag */
	}
	baton__health_report_body__free_unpacked(body, NULL);
	len = snprintf(json, sizeof json, "{\"accepted\":true}\n");
	baton_http_respond(ex, 200, "application/json", json, (size_t)len, NULL);
}

void baton_health_aggregate(struct baton_node *n, bool *critical, bool *reporters_ok, bool *has_lag,
			    uint64_t *lag_bytes, uint64_t *lag_ms, char *detail, size_t detaillen)
{
	struct baton_health *h = &n->health;
	uint64_t now = uv_now(n->loop), timeout = n->cfg.cluster.detection.reporter_timeout_ms;

	*critical = *reporters_ok = *has_lag = false;
	*lag_bytes = *lag_ms = 0;
	detail[0] = '\0';
	for (unsigned i = 0; i < h->n_reporters; i++) {
		const struct baton_health_reporter *r = &h->reporters[i];
		if (now - r->last_ms > timeout)
			continue;
		*reporters_ok = true;
		if (r->critical && !*critical) {
			*critical = true;
			snprintf(detail, detaillen, "%s: %s", r->name, r->detail[0] ? r->detail : "critical");
		}
		if (r->has_lag) {
			*has_lag = true;
			if (r->lag_bytes > *lag_bytes)
				*lag_bytes = r->lag_bytes;
			if (r->lag_ms > *lag_ms)
				*lag_ms = r->lag_ms;
		}
	}
	if (!*reporters_ok && h->n_reporters > 0)
		snprintf(detail, detaillen, "no report for %" PRIu64 " ms", timeout);
}

static bool moved(uint64_t a, uint64_t b, uint64_t floor)
{
	uint64_t d = a > b ? a - b : b - a, m = a > b ? a : b;
	return d > floor && d * 10 > m;
}

static void push_cb(void *data, int status, const Baton__PeerResponse *resp)
{
	struct baton_node *n = data;

	n->health_inflight = false;
	if (status != 0 || !resp->ok) {
		n->health.pushed = false; /* retry on the next tick */
		log_debug("health", "region health not delivered; will retry", "error=\"%s\"",
			  status != 0 ? strerror(-status) : (resp->error ? resp->error : "?"));
	}
}

void baton_node_health_duties(struct baton_node *n)
{
	struct baton_health *h = &n->health;
	const struct baton_failover_config *fc = &n->cfg.cluster.failover;
	bool critical, ok, has_lag, change;
	uint64_t lag_b, lag_ms, now = uv_now(n->loop);
	char detail[160];

	if (!h->enabled || n->health_inflight || (h->n_reporters == 0 && !h->pushed))
		return;
	baton_health_aggregate(n, &critical, &ok, &has_lag, &lag_b, &lag_ms, detail, sizeof detail);
	change = !h->pushed || critical != h->p_critical || ok != h->p_reporters_ok;
	if (!change && now - h->p_at_ms >= 2000)
		change = moved(lag_b, h->p_lag_bytes, 65536) || moved(lag_ms, h->p_lag_ms, 1000) ||
			 (lag_b > fc->max_lag_bytes) != (h->p_lag_bytes > fc->max_lag_bytes) ||
			 (lag_ms > fc->max_lag_ms) != (h->p_lag_ms > fc->max_lag_ms);
	if (!change)
		return;
	Baton__PeerRequest req = BATON__PEER_REQUEST__INIT;
	Baton__RegionHealth rh = BATON__REGION_HEALTH__INIT;
	rh.region = (char *)n->cfg.self->region;
	rh.has_critical = true;
	rh.critical = critical;
	rh.has_reporters_ok = true;
	rh.reporters_ok = ok;
	rh.has_lag_bytes = rh.has_lag_ms = has_lag;
	rh.lag_bytes = lag_b;
	rh.lag_ms = lag_ms;
	rh.detail = detail;
	req.body_case = BATON__PEER_REQUEST__BODY_HEALTH;
	req.health = &rh;
	h->pushed = true;
	h->p_critical = critical;
	h->p_reporters_ok = ok;
	h->p_lag_bytes = lag_b;
	h->p_lag_ms = lag_ms;
	h->p_at_ms = now;
	n->health_inflight = true;
	if (baton_peer_send(n, &req, push_cb, n) != 0) {
		n->health_inflight = false;
		h->pushed = false;
	}
}
