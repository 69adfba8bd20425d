/* SPDX-License-Identifier: MIT */
/* Check runs on the loop; see check.h.
 *
 * A run is a heap object with a deadline timer and whatever the check type
 * needs (an HTTP call, a TCP handle, one or two PostgreSQL operations, a
 * process and its stdout pipe). `pending` counts what must still call back:
 * open handles and library operations. The result is decided once
 * (run_decide), by the first of: the work finishing, the deadline, a cancel;
 * deciding abandons whatever is still going. When `pending` reaches zero the
 * result is copied to the check, the run freed and the check's callback
 * called; since that is always the close callback of the timer or of another
 * handle, or a library callback, it is never synchronous.
 *
 * Per type:
 *   http      GET with curl's timeout = timeout_ms; ok = the expected status
 *             (default any 2xx). Redirects are not followed.
 *   tcp       uv_tcp_connect; ok = connected. The connection is closed at once.
 *   postgres  connect and one query per server (lib/pg.h: numeric hostaddr,
 *             no blocking); the server checked reports its role and, as a
 *             replica, its receive/replay positions and the age of the last
 *             replayed transaction; with `primary`, that server's current WAL
 *             position is fetched at the same time. ok = the server checked
 *             answered (lag is reported, judged by the coordinator).
 *   exec      uv_spawn without a shell, in its own session (process group);
 *             ok = exit 0; detail = first line of stdout (stderr discarded).
 *             Past the deadline the whole process group gets SIGKILL.
 */
#include "check.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton_config.h"
#include "lib/pg.h"
#include "lib/util.h"

#define HTTP_MAX_RESPONSE (64 * 1024)
#define LIB_SLACK_MS 250 /* http/pg enforce timeout_ms themselves; ours is the safety net */

struct pg_facts {
	bool done;
	int err;
	bool sql_error;
	char errmsg[120];
	bool in_recovery;
	bool has_receive, has_replay, has_age, has_lsn;
	uint64_t receive, replay, lsn;
	int64_t age_ms;
};

struct rep_run {
	struct rep_check *check;
	uv_timer_t timer;
	unsigned pending;
	bool decided;
	uint64_t start_ns;
	struct rep_check_result res;
	/* http */
	struct baton_http_call *call;
	/* tcp */
	uv_tcp_t tcp;
	uv_connect_t conn;
	bool tcp_inited;
	/* postgres: [0] the server checked, [1] the primary */
	struct baton_pg_op *op[2];
	struct pg_facts pg[2];
	unsigned pg_outstanding;
	/* exec */
	uv_process_t proc;
	uv_pipe_t out;
	bool proc_inited, pipe_inited, spawned, exited, eof, have_line;
	int64_t exit_status;
	int term_signal;
	char line[REP_DETAIL_LEN];
	size_t line_len;
	char readbuf[512];
};

/* ------------------------------------------------------------------------ */
/* Common */

static void run_release(struct rep_run *r)
{
	struct rep_check *c = r->check;

	if (--r->pending > 0)
		return;
	c->res = r->res;
	c->run = NULL;
	free(r);
	c->done_cb(c);
}

static void run_closed_cb(uv_handle_t *h)
{
	run_release(h->data);
}

static void run_close(struct rep_run *r, uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, run_closed_cb);
}

static void run_abandon(struct rep_run *r)
{
	(void)uv_timer_stop(&r->timer);
	run_close(r, (uv_handle_t *)&r->timer);
	if (r->call != NULL)
		baton_http_call_cancel(r->call); /* its callback still fires, later */
	if (r->tcp_inited)
		run_close(r, (uv_handle_t *)&r->tcp);
	for (int i = 0; i < 2; i++)
		if (r->op[i] != NULL)
			baton_pg_cancel(r->op[i]);
	if (r->proc_inited) {
		if (r->spawned && !r->exited) {
			/* the whole session: shells and what they started */
			(void)kill(-r->proc.pid, SIGKILL);
			(void)uv_process_kill(&r->proc, SIGKILL);
		} else {
			run_close(r, (uv_handle_t *)&r->proc);
		} /* else closed from exec_exit_cb, once reaped */
	}
	if (r->pipe_inited)
		run_close(r, (uv_handle_t *)&r->out);
}

static void run_decide(struct rep_run *r, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void run_decide(struct rep_run *r, bool ok, const char *fmt, ...)
{
	va_list ap;

	if (r->decided)
		return;
	r->decided = true;
	r->res.ok = ok;
	r->res.latency_ms = (uv_hrtime() - r->start_ns) / 1000000;
	va_start(ap, fmt);
	vsnprintf(r->res.detail, sizeof r->res.detail, fmt, ap);
	va_end(ap);
	for (char *p = r->res.detail; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	run_abandon(r);
}

/* A one-line, shortened copy of library error text. */
static const char *run_short(char *out, size_t outlen, const char *s)
{
	size_t n;

	baton_strlcpy(out, s != NULL ? s : "", outlen);
	for (char *p = out; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	n = strlen(out);
	while (n > 0 && out[n - 1] == ' ')
		out[--n] = '\0';
	return out;
}

/* ------------------------------------------------------------------------ */
/* http */

static void http_done_cb(void *data, const struct baton_http_result *res)
{
	struct rep_run *r = data;
	const struct baton_check_config *cfg = r->check->cfg;
	char msg[120];

	r->call = NULL;
	if (res->err == -ETIMEDOUT)
		run_decide(r, false, "timed out after %u ms", r->check->timeout_ms);
	else if (res->err != 0)
		run_decide(r, false, "%s: %s", strerror(-res->err),
			   run_short(msg, sizeof msg, res->errmsg));
	else if (cfg->expect_status == 0 && (res->status < 200 || res->status > 299))
		run_decide(r, false, "status %ld, expected 2xx", res->status);
	else if (cfg->expect_status != 0 && res->status != (long)cfg->expect_status)
		run_decide(r, false, "status %ld, expected %u", res->status, cfg->expect_status);
	else
		run_decide(r, true, "status %ld", res->status);
	run_release(r);
}

static void http_start(struct rep_run *r)
{
	static const char *const headers[] = { "User-Agent: baton-reporter/" BATON_VERSION, NULL };
	const struct rep_check *c = r->check;
	struct baton_http_call_opts o = {
		.method = "GET",
		.url = c->cfg->url,
		.headers = headers,
		.timeout_ms = c->timeout_ms,
		.connect_timeout_ms = c->timeout_ms,
		.max_response = HTTP_MAX_RESPONSE,
	};
	int rv;

	rv = baton_http_call(c->http, &o, http_done_cb, r, &r->call);
	if (rv != 0) {
		r->call = NULL;
		run_decide(r, false, "cannot start the request: %s", strerror(-rv));
		return;
	}
	r->pending++;
}

/* ------------------------------------------------------------------------ */
/* tcp */

static void tcp_connect_cb(uv_connect_t *req, int status)
{
	struct rep_run *r = req->data;

	if (status == 0)
		run_decide(r, true, "connected to %s", r->check->cfg->address);
	else
		run_decide(r, false, "connect to %s: %s", r->check->cfg->address, uv_strerror(status));
}

static void tcp_start(struct rep_run *r)
{
	struct sockaddr_in sa;
	char host[16];
	int port, rv;

	if (baton_parse_ipv4_port(r->check->cfg->address, host, sizeof host, &port) != 0 ||
	    uv_ip4_addr(host, port, &sa) != 0) {
		run_decide(r, false, "bad address %s", r->check->cfg->address); /* UNTESTED: config checked it */
		return;
	}
	rv = uv_tcp_init(r->check->loop, &r->tcp);
	if (rv != 0) {
		run_decide(r, false, "uv_tcp_init: %s", uv_strerror(rv)); /* UNTESTED */
		return;
	}
	r->tcp.data = r;
	r->tcp_inited = true;
	r->pending++;
	r->conn.data = r;
	rv = uv_tcp_connect(&r->conn, &r->tcp, (const struct sockaddr *)&sa, tcp_connect_cb);
	if (rv != 0)
		run_decide(r, false, "connect to %s: %s", r->check->cfg->address, uv_strerror(rv));
}

/* ------------------------------------------------------------------------ */
/* postgres */

/* The server checked: role, WAL positions, age of the last replayed transaction. */
static const char PG_SQL_CHECKED[] =
	"SELECT pg_is_in_recovery(), pg_last_wal_receive_lsn()::text, "
	"pg_last_wal_replay_lsn()::text, "
	"(extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint";
/* The primary: its current WAL position (NULL if it is in recovery itself). */
static const char PG_SQL_PRIMARY[] =
	"SELECT pg_is_in_recovery(), "
	"CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END";

/* "16/B374D848" -> 0x16B374D848. */
static bool pg_parse_lsn(const char *s, uint64_t *ret)
{
	uint64_t hi = 0, lo = 0;
	const char *p = s;
	int n;

	if (s == NULL)
		return false;
	for (n = 0; *p != '/' && *p != '\0' && n < 9; p++, n++) {
		int v = *p >= '0' && *p <= '9' ? *p - '0'
		      : *p >= 'A' && *p <= 'F' ? *p - 'A' + 10
		      : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
		if (v < 0)
			return false;
		hi = hi << 4 | (uint64_t)v;
	}
	if (n == 0 || n > 8 || *p != '/')
		return false;
	for (p++, n = 0; *p != '\0' && n < 9; p++, n++) {
		int v = *p >= '0' && *p <= '9' ? *p - '0'
		      : *p >= 'A' && *p <= 'F' ? *p - 'A' + 10
		      : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
		if (v < 0)
			return false;
		lo = lo << 4 | (uint64_t)v;
	}
	if (n == 0 || n > 8 || *p != '\0')
		return false;
	*ret = hi << 32 | lo;
	return true;
}

static void pg_target_text(const struct baton_pg_target_config *t, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s:%u", t->host, t->port);
}

static void pg_decide(struct rep_run *r)
{
	const struct baton_check_config *cfg = r->check->cfg;
	const struct pg_facts *f = &r->pg[0], *p = &r->pg[1];
	char where[32], pwhere[32], note[REP_DETAIL_LEN] = "";
	uint64_t lag_bytes = 0, lag_ms = 0;
	const char *against;

	pg_target_text(&cfg->pg, where, sizeof where);
	if (f->err == -ETIMEDOUT) {
		run_decide(r, false, "%s: timed out after %u ms", where, r->check->timeout_ms);
		return;
	}
	if (f->err != 0) {
		/* libpq's text names the server already */
		run_decide(r, false, "%s", f->errmsg);
		return;
	}
	if (f->sql_error) {
		run_decide(r, false, "%s: query failed: %s", where, f->errmsg);
		return;
	}
	r->res.has_lag = true;
	if (!f->in_recovery) {
		r->res.pg_role = "primary";
		run_decide(r, true, "primary");
		return;
	}
	r->res.pg_role = "replica";
	if (cfg->has_primary) {
		pg_target_text(&cfg->primary, pwhere, sizeof pwhere);
		if (p->err != 0 || p->sql_error)
			snprintf(note, sizeof note, "; primary %s: %s", pwhere,
				 p->err == -ETIMEDOUT ? "timed out" : p->errmsg);
		else if (!p->has_lsn)
			snprintf(note, sizeof note, "; %s is in recovery too, not a primary", pwhere);
	}
	if (f->has_replay && cfg->has_primary && p->has_lsn) {
		lag_bytes = p->lsn > f->replay ? p->lsn - f->replay : 0;
		against = "primary";
	} else if (f->has_replay && f->has_receive) {
		lag_bytes = f->receive > f->replay ? f->receive - f->replay : 0;
		against = "receive";
	} else {
		against = "none";
		if (note[0] == '\0')
			snprintf(note, sizeof note, "; no WAL received yet (not streaming)");
	}
	/* Time lag only while there is something left to replay: on an idle
	 * primary the last replayed transaction just gets older. */
	if (lag_bytes > 0 && f->has_age && f->age_ms > 0)
		lag_ms = (uint64_t)f->age_ms;
	r->res.lag_bytes = lag_bytes;
	r->res.lag_ms = lag_ms;
	run_decide(r, true, "replica, lag %" PRIu64 " bytes %" PRIu64 " ms (%s%s%s)%s", lag_bytes,
		   lag_ms, strcmp(against, "primary") == 0 ? "against primary " : "",
		   strcmp(against, "primary") == 0 ? pwhere : "",
		   strcmp(against, "receive") == 0 ? "received vs replayed"
		   : strcmp(against, "none") == 0 ? "unknown" : "",
		   note);
}

static void pg_done(struct rep_run *r, int i, const struct baton_pg_result *res)
{
	struct pg_facts *f = &r->pg[i];
	char msg[sizeof f->errmsg];

	r->op[i] = NULL;
	f->done = true;
	f->err = res->err;
	f->sql_error = res->sql_error;
	baton_strlcpy(f->errmsg, run_short(msg, sizeof msg, res->errmsg), sizeof f->errmsg);
	if (res->err == 0 && !res->sql_error && res->ntuples == 1) {
		const char *rec = baton_pg_value(res, 0, 0);

		f->in_recovery = rec != NULL && strcmp(rec, "t") == 0;
		if (i == 0) {
			f->has_receive = pg_parse_lsn(baton_pg_value(res, 0, 1), &f->receive);
			f->has_replay = pg_parse_lsn(baton_pg_value(res, 0, 2), &f->replay);
			if (baton_pg_value(res, 0, 3) != NULL) {
				f->has_age = true;
				f->age_ms = strtoll(baton_pg_value(res, 0, 3), NULL, 10);
			}
		} else {
			f->has_lsn = pg_parse_lsn(baton_pg_value(res, 0, 1), &f->lsn);
		}
	} else if (res->err == 0 && !res->sql_error) {
		f->sql_error = true; /* UNTESTED: a SELECT without FROM returns one row */
		snprintf(f->errmsg, sizeof f->errmsg, "expected 1 row, got %d", res->ntuples);
	}
	if (--r->pg_outstanding == 0 && !r->decided)
		pg_decide(r);
	run_release(r);
}

static void pg_checked_cb(void *data, const struct baton_pg_result *res)
{
	pg_done(data, 0, res);
}

static void pg_primary_cb(void *data, const struct baton_pg_result *res)
{
	pg_done(data, 1, res);
}

static int pg_query(struct rep_run *r, int i, const struct baton_pg_target_config *t,
		    const char *password)
{
	const char *keys[8], *values[8];
	char port[8];
	size_t n = 0;
	int rv;

	snprintf(port, sizeof port, "%u", t->port);
	keys[n] = "hostaddr", values[n++] = t->host;
	keys[n] = "port", values[n++] = port;
	keys[n] = "user", values[n++] = t->user;
	keys[n] = "dbname", values[n++] = t->dbname;
	keys[n] = "application_name", values[n++] = "baton-reporter";
	if (password[0] != '\0')
		keys[n] = "password", values[n++] = password;
	keys[n] = NULL, values[n] = NULL;
	rv = baton_pg_query(r->check->loop, keys, values, i == 0 ? PG_SQL_CHECKED : PG_SQL_PRIMARY,
			    NULL, r->check->timeout_ms, i == 0 ? pg_checked_cb : pg_primary_cb, r,
			    &r->op[i]);
	if (rv != 0) {
		r->op[i] = NULL;
		r->pg[i].done = true;
		r->pg[i].err = rv;
		snprintf(r->pg[i].errmsg, sizeof r->pg[i].errmsg, "cannot start: %s", strerror(-rv));
		return rv;
	}
	r->pending++;
	r->pg_outstanding++;
	return 0;
}

static void pg_start(struct rep_run *r)
{
	const struct rep_check *c = r->check;

	if (pg_query(r, 0, &c->cfg->pg, c->password) != 0) {
		run_decide(r, false, "%s", r->pg[0].errmsg);
		return;
	}
	if (c->cfg->has_primary)
		(void)pg_query(r, 1, &c->cfg->primary, c->primary_password);
}

/* ------------------------------------------------------------------------ */
/* exec */

static void exec_decide_by_status(struct rep_run *r)
{
	if (r->exit_status == 0 && r->term_signal == 0)
		run_decide(r, true, "%s", r->line_len > 0 ? r->line : "exit 0");
	else if (r->term_signal != 0)
		run_decide(r, false, "killed by signal %d%s%s", r->term_signal,
			   r->line_len > 0 ? ": " : "", r->line);
	else
		run_decide(r, false, "exit %" PRId64 "%s%s", r->exit_status,
			   r->line_len > 0 ? ": " : "", r->line);
}

static void exec_maybe_done(struct rep_run *r)
{
	if (r->exited && (r->eof || r->have_line))
		exec_decide_by_status(r);
}

static void exec_exit_cb(uv_process_t *p, int64_t exit_status, int term_signal)
{
	struct rep_run *r = p->data;

	r->exited = true;
	r->exit_status = exit_status;
	r->term_signal = term_signal;
	if (r->decided)
		run_close(r, (uv_handle_t *)&r->proc); /* killed after the deadline or a cancel */
	else
		exec_maybe_done(r);
}

static void exec_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct rep_run *r = h->data;

	(void)suggested;
	*buf = uv_buf_init(r->readbuf, sizeof r->readbuf);
}

static void exec_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct rep_run *r = s->data;

	if (nread < 0) {
		r->eof = true;
		(void)uv_read_stop(s);
		exec_maybe_done(r);
		return;
	}
	for (ssize_t i = 0; i < nread && !r->have_line; i++) {
		char ch = buf->base[i];

		if (ch == '\n') {
			r->have_line = true;
		} else if (r->line_len + 1 < sizeof r->line) {
			r->line[r->line_len++] = ch;
			r->line[r->line_len] = '\0';
		}
	}
	/* Output after the first line is read and dropped, so the child never
	 * blocks on a full pipe. */
	if (r->have_line)
		exec_maybe_done(r);
}

static void exec_start(struct rep_run *r)
{
	const struct baton_check_config *cfg = r->check->cfg;
	char *args[BATON_RCFG_MAX_ARGS + 1];
	uv_stdio_container_t stdio[3];
	uv_process_options_t o;
	int rv;

	for (unsigned i = 0; i < cfg->argc && i < BATON_RCFG_MAX_ARGS; i++)
		args[i] = (char *)baton_check_arg(cfg, i);
	args[cfg->argc < BATON_RCFG_MAX_ARGS ? cfg->argc : BATON_RCFG_MAX_ARGS] = NULL;
	rv = uv_pipe_init(r->check->loop, &r->out, 0);
	if (rv != 0) {
		run_decide(r, false, "uv_pipe_init: %s", uv_strerror(rv)); /* UNTESTED */
		return;
	}
	r->out.data = r;
	r->pipe_inited = true;
	r->pending++;
	memset(&o, 0, sizeof o);
	memset(stdio, 0, sizeof stdio);
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&r->out;
	stdio[2].flags = UV_IGNORE;
	o.file = args[0];
	o.args = args;
	o.exit_cb = exec_exit_cb;
	o.flags = UV_PROCESS_DETACHED; /* setsid(): its own process group, killed as one */
	o.stdio = stdio;
	o.stdio_count = 3;
	r->proc.data = r;
	rv = uv_spawn(r->check->loop, &r->proc, &o);
	/* Even a failed uv_spawn leaves an initialised handle to close. */
	r->proc_inited = true;
	r->pending++;
	if (rv != 0) {
		run_decide(r, false, "cannot run %s: %s", args[0], uv_strerror(rv));
		return;
	}
	r->spawned = true;
	rv = uv_read_start((uv_stream_t *)&r->out, exec_alloc_cb, exec_read_cb);
	if (rv != 0)
		run_decide(r, false, "reading the output of %s: %s", args[0], uv_strerror(rv)); /* UNTESTED */
}

/* ------------------------------------------------------------------------ */
/* Deadline, start, cancel */

static void run_timer_cb(uv_timer_t *t)
{
	struct rep_run *r = t->data;

	if (r->check->cfg->type == BATON_CHECK_EXEC && r->exited) {
		/* It exited, but something it started still holds stdout open. */
		(void)kill(-r->proc.pid, SIGKILL);
		exec_decide_by_status(r);
		return;
	}
	run_decide(r, false, "timed out after %u ms%s", r->check->timeout_ms,
		   r->check->cfg->type == BATON_CHECK_EXEC ? "; killed" : "");
}

int rep_check_start(struct rep_check *c)
{
	struct rep_run *r;
	uint64_t deadline = c->timeout_ms;
	int rv;

	if (c->run != NULL)
		return -EBUSY;
	r = calloc(1, sizeof *r);
	if (r == NULL)
		return -ENOMEM;
	r->check = c;
	r->start_ns = uv_hrtime();
	rv = uv_timer_init(c->loop, &r->timer);
	if (rv != 0) {
		free(r); /* UNTESTED: cannot fail on Unix */
		return rv;
	}
	r->timer.data = r;
	r->pending = 1;
	c->run = r;
	if (c->cfg->type == BATON_CHECK_HTTP || c->cfg->type == BATON_CHECK_POSTGRES)
		deadline += LIB_SLACK_MS;
	(void)uv_timer_start(&r->timer, run_timer_cb, deadline, 0);
	switch (c->cfg->type) {
	case BATON_CHECK_HTTP:
		http_start(r);
		break;
	case BATON_CHECK_TCP:
		tcp_start(r);
		break;
	case BATON_CHECK_POSTGRES:
		pg_start(r);
		break;
	case BATON_CHECK_EXEC:
		exec_start(r);
		break;
	default:
		run_decide(r, false, "unknown check type"); /* UNTESTED */
		break;
	}
	return 0;
}

void rep_check_cancel(struct rep_check *c)
{
	if (c->run != NULL)
		run_decide(c->run, false, "cancelled");
}
