/* SPDX-License-Identifier: MIT */
/* Rounds, signing, delivery and change logging; see reporter.h.
 *
 * States of a round: idle -> checking (checks_running > 0) -> posting
 * (post != NULL, coord = the coordinator being tried) -> idle. The tick timer
 * starts a round only from idle; otherwise the tick is skipped and counted.
 * Closing cancels checks and the POST; the round then ends without sending
 * and without a round callback, and the close callback fires once the round
 * is over and the timer and HTTP client are closed. */
#include "reporter.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

#define POST_MAX_RESPONSE (64 * 1024)

static void rep_round_end(struct baton_reporter *r);
static void rep_post_next(struct baton_reporter *r);

/* ------------------------------------------------------------------------ */
/* Files read at start-up */

/* The password in @path: the file's content up to the first newline. */
static int rep_read_password(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
	char buf[REP_PASSWORD_LEN + 2];
	ssize_t n;
	int fd, rv = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rv = -errno;
		snprintf(err, errlen, "%s: cannot open password file: %s", path, strerror(errno));
		return rv;
	}
	do
		n = read(fd, buf, sizeof buf - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		rv = -errno;
		snprintf(err, errlen, "%s: cannot read password file: %s", path, strerror(errno));
	} else {
		buf[n] = '\0';
		buf[strcspn(buf, "\r\n")] = '\0';
		if (strlen(buf) >= outlen) {
			rv = -EINVAL;
			snprintf(err, errlen, "%s: password longer than %zu bytes", path, outlen - 1);
		} else if (buf[0] == '\0') {
			rv = -EINVAL;
			snprintf(err, errlen, "%s: the password file is empty", path);
		} else {
			baton_strlcpy(out, buf, outlen);
		}
	}
	memset(buf, 0, sizeof buf);
	close(fd);
	return rv;
}

/* Key and passwords into @r (or, with @r NULL, only checked). */
static int rep_load_files(struct baton_reporter *r, const struct baton_reporter_config *cfg,
			  char *err, size_t errlen)
{
	uint8_t key[BATON_REPORT_KEY_LEN];
	char pw[REP_PASSWORD_LEN];
	int rv;

	rv = baton_report_key_load(cfg->key_file, key, err, errlen);
	if (rv != 0)
		return rv;
	if (r != NULL) {
		memcpy(r->key, key, sizeof key);
		baton_report_key_id(key, r->key_id);
	}
	memset(key, 0, sizeof key);
	for (unsigned i = 0; i < cfg->n_checks; i++) {
		const struct baton_check_config *c = &cfg->checks[i];

		if (c->type != BATON_CHECK_POSTGRES)
			continue;
		for (int which = 0; which < 2; which++) {
			const char *path = which == 0 ? c->pg.password_file : c->primary.password_file;

			if (path[0] == '\0' || (which == 1 && !c->has_primary))
				continue;
			rv = rep_read_password(path, pw, sizeof pw, err, errlen);
			if (rv != 0)
				return rv;
			if (r != NULL)
				baton_strlcpy(which == 0 ? r->checks[i].password
							 : r->checks[i].primary_password,
					      pw, REP_PASSWORD_LEN);
			memset(pw, 0, sizeof pw);
		}
	}
	return 0;
}

int baton_reporter_check_files(const struct baton_reporter_config *cfg, char *err, size_t errlen)
{
	return rep_load_files(NULL, cfg, err, errlen);
}

/* ------------------------------------------------------------------------ */
/* Logging changes */

static void rep_log_changes(struct baton_reporter *r)
{
	const struct baton_reporter_config *cfg = r->cfg;
	const struct baton_reporter_round *rd = &r->cur;
	char q[256], q2[256];
	unsigned n_ok = 0;

	for (unsigned i = 0; i < cfg->n_checks; i++) {
		const struct rep_check *c = &r->checks[i];

		n_ok += c->res.ok;
		if (r->have_prev && r->prev_ok[i] == c->res.ok)
			continue;
		if (!c->res.ok)
			log_warn("check", "check failing", "check=%s type=%s critical=%s detail=%s",
				 c->cfg->name, baton_check_type_name(c->cfg->type),
				 c->cfg->critical ? "true" : "false",
				 baton_log_quote(q, sizeof q, c->res.detail));
		else if (r->have_prev)
			log_notice("check", "check ok again", "check=%s type=%s detail=%s",
				   c->cfg->name, baton_check_type_name(c->cfg->type),
				   baton_log_quote(q, sizeof q, c->res.detail));
		r->prev_ok[i] = c->res.ok;
	}
	if (!r->have_prev)
		log_info("reporter", "first round done", "checks=%u ok=%u critical=%s seq=%" PRIu64,
			 cfg->n_checks, n_ok, rd->critical ? "true" : "false", rd->seq);
	if ((!r->have_prev && rd->critical) || (r->have_prev && rd->critical != r->prev_critical)) {
		if (rd->critical)
			log_warn("reporter", "report is critical: a critical check fails", "seq=%" PRIu64,
				 rd->seq);
		else
			log_notice("reporter", "report no longer critical", "seq=%" PRIu64, rd->seq);
	}
	r->prev_critical = rd->critical;
	if (!r->have_prev || rd->delivered_to != r->prev_delivered) {
		if (rd->delivered_to < 0) {
			size_t o = 0;
			char all[BATON_RCFG_MAX_COORDINATORS * (BATON_RCFG_URL_LEN + REP_ERR_LEN)];

			all[0] = '\0';
			for (unsigned i = 0; i < cfg->n_coordinators && o < sizeof all; i++)
				o += (size_t)snprintf(all + o, sizeof all - o, "%s%s: %s",
						      i > 0 ? "; " : "", cfg->coordinators[i],
						      rd->errors[i][0] ? rd->errors[i] : "not tried");
			log_error("reporter", "no coordinator accepted the report",
				  "seq=%" PRIu64 " tried=%u errors=%s", rd->seq, cfg->n_coordinators,
				  baton_log_quote(q, sizeof q, all));
		} else {
			const char *url = cfg->coordinators[rd->delivered_to];
			const char *why = rd->delivered_to > 0 ? rd->errors[rd->delivered_to - 1] : "";

			if (!r->have_prev && rd->delivered_to == 0)
				log_info("reporter", "reports go to", "coordinator=%s status=%ld", url,
					 rd->status);
			else if (!r->have_prev)
				log_warn("reporter", "reports go to", "coordinator=%s status=%ld skipped=%s reason=%s",
					 url, rd->status, cfg->coordinators[rd->delivered_to - 1],
					 baton_log_quote(q2, sizeof q2, why));
			else if (r->prev_delivered < 0)
				log_notice("reporter", "reports delivered again", "coordinator=%s status=%ld",
					   url, rd->status);
			else
				log_notice("reporter", "reports go to another coordinator",
					   "coordinator=%s previous=%s reason=%s", url,
					   cfg->coordinators[r->prev_delivered],
					   baton_log_quote(q2, sizeof q2, why[0] ? why : "earlier coordinator is back"));
		}
	}
	r->prev_delivered = rd->delivered_to;
	if (r->overrunning && r->skipped_this_round == 0) {
		log_notice("reporter", "rounds fit in the interval again",
			   "skipped_ticks=%" PRIu64 " interval_ms=%" PRIu64, r->skipped_total,
			   cfg->interval_ms);
		r->overrunning = false;
		r->skipped_total = 0;
	}
	r->have_prev = true;
}

/* ------------------------------------------------------------------------ */
/* Closing */

static void rep_maybe_fire_close(struct baton_reporter *r)
{
	if (!r->stopping || r->pending_closes > 0 || r->round_running || r->close_cb == NULL)
		return;
	void (*cb)(struct baton_reporter *) = r->close_cb;
	r->close_cb = NULL;
	cb(r); /* @r may be freed from here on */
}

static void rep_tick_closed_cb(uv_handle_t *h)
{
	struct baton_reporter *r = h->data;

	free(h);
	r->tick = NULL;
	r->pending_closes--;
	rep_maybe_fire_close(r);
}

static void rep_http_closed_cb(struct baton_http_client *c)
{
	struct baton_reporter *r = c->data;

	r->pending_closes--;
	rep_maybe_fire_close(r);
}

void baton_reporter_close(struct baton_reporter *r, void (*cb)(struct baton_reporter *r))
{
	if (r->stopping)
		return;
	r->stopping = true;
	r->close_cb = cb;
	r->pending_closes += 2;
	(void)uv_timer_stop(r->tick);
	uv_close((uv_handle_t *)r->tick, rep_tick_closed_cb);
	for (unsigned i = 0; i < r->cfg->n_checks; i++)
		rep_check_cancel(&r->checks[i]);
	/* Cancels the POST and the HTTP checks; their callbacks fire first. */
	baton_http_client_close(&r->http, rep_http_closed_cb);
	memset(r->key, 0, sizeof r->key);
	rep_maybe_fire_close(r); /* UNTESTED: never synchronous, the closes are pending */
}

/* ------------------------------------------------------------------------ */
/* Sending */

static void rep_round_end(struct baton_reporter *r)
{
	free(r->report);
	r->report = NULL;
	r->report_len = 0;
	r->round_running = false;
	if (r->stopping) {
		rep_maybe_fire_close(r);
		return;
	}
	if (!r->once)
		rep_log_changes(r);
	if (r->round_cb != NULL)
		r->round_cb(r, &r->cur);
}

static void rep_post_cb(void *data, const struct baton_http_result *res)
{
	struct baton_reporter *r = data;
	char *e = r->cur.errors[r->coord];
	size_t n;

	r->post = NULL;
	if (r->stopping) {
		rep_round_end(r);
		return;
	}
	if (res->err == 0 && res->status >= 200 && res->status <= 299) {
		r->cur.delivered_to = (int)r->coord;
		r->cur.status = res->status;
		rep_round_end(r);
		return;
	}
	if (res->err == -ETIMEDOUT)
		snprintf(e, REP_ERR_LEN, "timed out after %" PRIu64 " ms", r->cfg->timeout_ms);
	else if (res->err != 0)
		snprintf(e, REP_ERR_LEN, "%s (%s)", strerror(-res->err), res->errmsg);
	else
		snprintf(e, REP_ERR_LEN, "status %ld: %.*s", res->status,
			 (int)strcspn(res->body, "\r\n"), res->body);
	for (char *c = e; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
			*c = ' '; /* the body is whatever the peer sent */
	n = strlen(e);
	while (n > 0 && (e[n - 1] == ' ' || e[n - 1] == ':'))
		e[--n] = '\0';
	r->coord++;
	rep_post_next(r);
}

/* POST to coordinators[coord], or the next that can be started; ends the
 * round when none is left. */
static void rep_post_next(struct baton_reporter *r)
{
	static const char *const headers[] = { "Content-Type: application/x-protobuf",
						"Accept: application/json, text/plain", NULL };
	char url[BATON_RCFG_URL_LEN + 16];
	int rv;

	for (; r->coord < r->cfg->n_coordinators; r->coord++) {
		struct baton_http_call_opts o = {
			.method = "POST",
			.url = url,
			.headers = headers,
			.body = r->report,
			.body_len = r->report_len,
			.timeout_ms = (unsigned)r->cfg->timeout_ms,
			.connect_timeout_ms = (unsigned)r->cfg->timeout_ms,
			.max_response = POST_MAX_RESPONSE,
		};

		snprintf(url, sizeof url, "%s/v1/health", r->cfg->coordinators[r->coord]);
		rv = baton_http_call(&r->http, &o, rep_post_cb, r, &r->post);
		if (rv == 0)
			return;
		r->post = NULL;
		snprintf(r->cur.errors[r->coord], REP_ERR_LEN, "cannot start the request: %s",
			 strerror(-rv));
	}
	r->cur.delivered_to = -1;
	rep_round_end(r);
}

/* CLOCK_REALTIME in microseconds: the source of seq (see lib/report.h). */
static uint64_t rep_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void rep_checks_done(struct baton_reporter *r)
{
	const struct baton_reporter_config *cfg = r->cfg;
	Baton__HealthReportBody body = BATON__HEALTH_REPORT_BODY__INIT;
	Baton__CheckResult results[BATON_RCFG_MAX_CHECKS], *ptrs[BATON_RCFG_MAX_CHECKS];
	uint64_t now_us;
	int rv;

	if (r->stopping) {
		rep_round_end(r);
		return;
	}
	r->cur.all_ok = true;
	r->cur.critical = false;
	for (unsigned i = 0; i < cfg->n_checks; i++) {
		const struct rep_check *c = &r->checks[i];
		Baton__CheckResult *cr = &results[i];

		baton__check_result__init(cr);
		cr->name = (char *)c->cfg->name;
		cr->kind = (char *)baton_check_type_name(c->cfg->type);
		cr->ok = c->res.ok;
		cr->has_critical = true;
		cr->critical = c->cfg->critical;
		cr->detail = (char *)c->res.detail;
		cr->has_latency_ms = true;
		cr->latency_ms = c->res.latency_ms;
		if (c->res.pg_role != NULL)
			cr->pg_role = (char *)c->res.pg_role;
		if (c->res.has_lag) {
			cr->has_lag_bytes = cr->has_lag_ms = true;
			cr->lag_bytes = c->res.lag_bytes;
			cr->lag_ms = c->res.lag_ms;
		}
		ptrs[i] = cr;
		r->cur.all_ok &= c->res.ok;
		if (!c->res.ok && c->cfg->critical)
			r->cur.critical = true;
	}
	body.region = (char *)cfg->region;
	body.reporter = (char *)cfg->name;
	now_us = rep_wall_us();
	body.seq = baton_report_next_seq(&r->last_seq, now_us);
	body.sent_at_ms = now_us / 1000;
	body.n_checks = cfg->n_checks;
	body.checks = ptrs;
	body.has_critical = true;
	body.critical = r->cur.critical;
	r->cur.seq = body.seq;
	r->cur.sent_at_ms = body.sent_at_ms;
	rv = baton_report_sign(&body, r->key, r->key_id, &r->report, &r->report_len);
	if (rv != 0) {
		/* UNTESTED: 32 checks with 200-byte details stay far below 64 KiB */
		for (unsigned i = 0; i < cfg->n_coordinators; i++)
			snprintf(r->cur.errors[i], REP_ERR_LEN, "not sent: signing failed: %s",
				 strerror(-rv));
		r->cur.delivered_to = -1;
		rep_round_end(r);
		return;
	}
	r->cur.signed_ok = true;
	r->coord = 0;
	rep_post_next(r);
}

/* ------------------------------------------------------------------------ */
/* Rounds */

static void rep_on_check_done(struct rep_check *c)
{
	struct baton_reporter *r = c->data;

	if (--r->checks_running == 0)
		rep_checks_done(r);
}

static void rep_round_start(struct baton_reporter *r)
{
	uint64_t number = r->cur.number + 1;
	unsigned started = 0;

	memset(&r->cur, 0, sizeof r->cur);
	r->cur.number = number;
	r->cur.delivered_to = -1;
	r->round_running = true;
	r->skipped_this_round = 0;
	r->checks_running = r->cfg->n_checks;
	for (unsigned i = 0; i < r->cfg->n_checks; i++) {
		struct rep_check *c = &r->checks[i];
		int rv = rep_check_start(c);

		if (rv == 0) {
			started++;
			continue;
		}
		/* UNTESTED: out of memory */
		memset(&c->res, 0, sizeof c->res);
		snprintf(c->res.detail, sizeof c->res.detail, "cannot start: %s", strerror(-rv));
		r->checks_running--;
	}
	if (started == 0)
		rep_checks_done(r); /* UNTESTED */
}

static void rep_tick_cb(uv_timer_t *t)
{
	struct baton_reporter *r = t->data;

	if (r->stopping)
		return;
	if (r->round_running) {
		r->skipped_this_round++;
		r->skipped_total++;
		if (!r->overrunning && !r->once) {
			log_warn("reporter", "round still running at the next tick; skipping ticks until it ends",
				 "round=%" PRIu64 " interval_ms=%" PRIu64 " timeout_ms=%" PRIu64
				 " coordinators=%u",
				 r->cur.number, r->cfg->interval_ms, r->cfg->timeout_ms,
				 r->cfg->n_coordinators);
			r->overrunning = true;
		}
		return;
	}
	rep_round_start(r);
}

int baton_reporter_start(struct baton_reporter *r, baton_reporter_round_cb cb)
{
	r->round_cb = cb;
	r->once = false;
	return uv_timer_start(r->tick, rep_tick_cb, 0, r->cfg->interval_ms);
}

int baton_reporter_run_once(struct baton_reporter *r, baton_reporter_round_cb cb)
{
	r->round_cb = cb;
	r->once = true;
	return uv_timer_start(r->tick, rep_tick_cb, 0, 0);
}

/* ------------------------------------------------------------------------ */
/* Set-up */

static void rep_free_handle_cb(uv_handle_t *h)
{
	free(h);
}

int baton_reporter_init(struct baton_reporter *r, uv_loop_t *loop,
			const struct baton_reporter_config *cfg, char *err, size_t errlen)
{
	int rv;

	memset(r, 0, sizeof *r);
	r->loop = loop;
	r->cfg = cfg;
	r->prev_delivered = -1;
	rv = rep_load_files(r, cfg, err, errlen);
	if (rv != 0)
		goto err_after_files;
	for (unsigned i = 0; i < cfg->n_checks; i++) {
		struct rep_check *c = &r->checks[i];

		c->cfg = &cfg->checks[i];
		c->loop = loop;
		c->http = &r->http;
		c->timeout_ms = (unsigned)cfg->timeout_ms;
		c->done_cb = rep_on_check_done;
		c->data = r;
	}
	/* The tick timer lives on the heap and frees itself in its close
	 * callback, so a failure below can release it without @r. */
	r->tick = malloc(sizeof *r->tick);
	if (r->tick == NULL) {
		rv = -ENOMEM; /* UNTESTED */
		snprintf(err, errlen, "out of memory");
		goto err_after_files;
	}
	rv = uv_timer_init(loop, r->tick);
	if (rv != 0) {
		free(r->tick); /* UNTESTED: cannot fail on Unix */
		snprintf(err, errlen, "uv_timer_init: %s", uv_strerror(rv));
		goto err_after_files;
	}
	r->tick->data = r;
	rv = baton_http_client_init(&r->http, loop);
	if (rv != 0) {
		snprintf(err, errlen, "HTTP client: %s", r->http.errmsg); /* UNTESTED */
		uv_close((uv_handle_t *)r->tick, rep_free_handle_cb);
		goto err_after_files;
	}
	r->http.data = r;
	return 0;

err_after_files:
	memset(r->key, 0, sizeof r->key);
	for (unsigned i = 0; i < BATON_RCFG_MAX_CHECKS; i++) {
		memset(r->checks[i].password, 0, REP_PASSWORD_LEN);
		memset(r->checks[i].primary_password, 0, REP_PASSWORD_LEN);
	}
	return rv;
}

/* ------------------------------------------------------------------------ */
/* Text */

void baton_reporter_print_round(FILE *f, const struct baton_reporter *r,
				const struct baton_reporter_round *rd)
{
	const struct baton_reporter_config *cfg = r->cfg;

	fprintf(f, "report region=%s reporter=%s seq=%" PRIu64 " sent_at_ms=%" PRIu64
		   " critical=%s key_id=%s\n",
		cfg->region, cfg->name, rd->seq, rd->sent_at_ms, rd->critical ? "true" : "false",
		r->key_id);
	for (unsigned i = 0; i < cfg->n_checks; i++) {
		const struct rep_check *c = &r->checks[i];

		fprintf(f, "  %-20s %-8s %-4s %5" PRIu64 " ms %-8s %s", c->cfg->name,
			baton_check_type_name(c->cfg->type), c->res.ok ? "ok" : "FAIL",
			c->res.latency_ms, c->cfg->critical ? "critical" : "", c->res.detail);
		if (c->res.pg_role != NULL)
			fprintf(f, " [role=%s lag_bytes=%" PRIu64 " lag_ms=%" PRIu64 "]", c->res.pg_role,
				c->res.lag_bytes, c->res.lag_ms);
		fputc('\n', f);
	}
	for (unsigned i = 0; i < cfg->n_coordinators; i++) {
		if ((int)i == rd->delivered_to)
			fprintf(f, "delivered to %s (status %ld)\n", cfg->coordinators[i], rd->status);
		else if (rd->errors[i][0] != '\0')
			fprintf(f, "not accepted by %s: %s\n", cfg->coordinators[i], rd->errors[i]);
	}
	if (rd->delivered_to < 0)
		fprintf(f, "no coordinator accepted the report\n");
}
