/* SPDX-License-Identifier: MIT */
/* libpq's asynchronous API driven by uv_poll + one uv_timer per operation; see pg.h.
 *
 * Happy path: baton_pg_query() copies its inputs, arms the deadline timer and calls
 * PQconnectStartParams() with a numeric hostaddr (no name lookup can happen), then
 * waits for writability as if PQconnectPoll() had said PGRES_POLLING_WRITING. Each
 * readiness event: stop polling, PQconnectPoll(), re-read PQsocket() (libpq may close
 * and reopen its socket; a uv_poll_t cannot be re-targeted, so a changed fd gets a new
 * handle and the old one is closed and freed in its close callback), poll for what
 * libpq asked. On PGRES_POLLING_OK: PQsetnonblocking(), PQsendQueryParams() for the
 * first statement, PQflush() until it returns 0 (polling read+write meanwhile and
 * consuming input on readable, as the server may be blocked sending us notices), then
 * on readable PQconsumeInput() and PQgetResult() while !PQisBusy() until NULL. Next
 * statement, same way. After the last one: finish(0).
 *
 * Finishing (success or not) is one path, pg_finish(): stop and close the timer and the
 * poll handle (uv_close() stops the poll first, so the fd is no longer watched), then
 * PQfinish() (which may write a Terminate message; harmless in non-blocking mode).
 * The user callback runs from the last close callback, so it is never synchronous,
 * and the op is freed right after it.
 *
 * Failure modes:
 * - conninfo without a numeric IPv4 hostaddr/host, or with `service`: -EINVAL via the
 *   callback, before anything touches the network;
 * - PQconnectStartParams() / PQconnectPoll() fail (refused, reset, auth, no such db):
 *   -ECONNREFUSED with libpq's text;
 * - deadline: -ETIMEDOUT. libpq 15's PQcancel() is blocking, so the connection is
 *   dropped instead; the server notices when it next talks to the socket;
 * - PQsendQueryParams/PQflush/PQconsumeInput fail, libpq marks the connection bad, or
 *   the server ends the session (a FATAL error, e.g. pg_terminate_backend()): -EIO,
 *   with the server's SQLSTATE when it sent one;
 * - a COPY result: -EPROTO (we never stream);
 * - the server rejects a statement: err 0, sql_error, its index, message and SQLSTATE;
 *   later statements are not sent;
 * - baton_pg_cancel(): -ECANCELED;
 * - allocation or uv_poll failures mid-operation: that error, through the callback. */
#include "pg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

enum pg_state {
	PG_CONNECTING, /* PQconnectPoll() until PGRES_POLLING_OK */
	PG_SENDING,    /* statement queued; PQflush() until 0 */
	PG_RECEIVING,  /* PQconsumeInput()/PQgetResult() until NULL */
	PG_CLOSING,    /* handles closing; callback fires when the last one is gone */
};

/* A poll handle on one libpq socket. Heap-allocated: freed in its close callback. */
struct pg_poll {
	uv_poll_t handle;
	struct baton_pg_op *op;
	int fd;
};

struct baton_pg_op {
	uv_loop_t *loop;
	uv_timer_t timer;     /* the deadline; embedded, so op lives until it closes */
	struct pg_poll *poll; /* NULL before the first watch and while closing */
	PGconn *conn;         /* NULL once PQfinish()ed */
	enum pg_state state;
	int pending_closes; /* handles closed but not yet through their close callback */
	unsigned timeout_ms;
	baton_pg_cb cb;
	void *data;
	char **stmts; /* nstmts copies */
	int nstmts;
	int cur;       /* statement being run */
	char **params; /* nparams copies, for statement 0 only */
	int nparams;
	PGresult *last; /* result of the last statement, handed to cb */
	struct baton_pg_result result;
	char where[64]; /* "127.0.0.1:5432", for messages */
	char sqlstate[6];
	char errmsg[BATON_PG_ERRMSG_LEN];
};

static void pg_io(struct baton_pg_op *op, int events);

/* --- small helpers ----------------------------------------------------------------- */

static void pg_notice_fn(void *arg, const char *message)
{
	/* The default notice processor prints to stderr; a library must not. */
	(void)arg;
	(void)message;
}

/* Copy libpq's multi-line text into @out on one line: "\n\t" runs become one space. */
static void pg_copy_oneline(char *out, size_t n, const char *text)
{
	size_t o = 0;
	bool space = false;

	if (text == NULL)
		text = "";
	for (; *text != '\0' && o + 1 < n; text++) {
		if (*text == '\n' || *text == '\t' || *text == '\r' || *text == ' ') {
			space = o > 0;
			continue;
		}
		if (space && o + 2 < n)
			out[o++] = ' ';
		space = false;
		out[o++] = *text;
	}
	out[o] = '\0';
}

static void pg_errmsgf(struct baton_pg_op *op, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void pg_errmsgf(struct baton_pg_op *op, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(op->errmsg, sizeof(op->errmsg), fmt, ap);
	va_end(ap);
}

static void pg_free_strv(char **v, int n)
{
	if (v == NULL)
		return;
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Copy @n strings of @src (NULL-terminated, all non-NULL) into *@ret. */
static int pg_dup_strv(const char *const *src, int n, char ***ret)
{
	char **v = calloc((size_t)n + 1, sizeof(*v));

	if (v == NULL)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		v[i] = strdup(src[i]);
		if (v[i] == NULL) {
			pg_free_strv(v, i);
			return -ENOMEM;
		}
	}
	*ret = v;
	return 0;
}

/* Length of a NULL-terminated array, or -1 if longer than @max. */
static int pg_strv_len(const char *const *v, int max)
{
	int n = 0;

	if (v == NULL)
		return 0;
	while (v[n] != NULL) {
		if (n == max)
			return -1;
		n++;
	}
	return n;
}

/* One IPv4 literal, or a comma-separated list of them (libpq's multi-host form). */
static bool pg_is_ipv4_list(const char *s)
{
	char one[INET_ADDRSTRLEN];
	struct in_addr a;
	size_t len;

	for (;;) {
		len = strcspn(s, ",");
		if (len == 0 || len >= sizeof(one))
			return false;
		memcpy(one, s, len);
		one[len] = '\0';
		if (inet_pton(AF_INET, one, &a) != 1)
			return false;
		if (s[len] == '\0')
			return true;
		s += len + 1;
	}
}

/* Validate conninfo; on success point *@ret_addr / *@ret_port at the address to dial
 * (from hostaddr, else host) and the port (NULL = libpq's default), and tell whether
 * a hostaddr key is present. */
static int pg_conninfo_parse(const char *const *keys, const char *const *values, char *errmsg,
			     size_t errmsg_len, const char **ret_addr, const char **ret_port,
			     bool *ret_has_hostaddr)
{
	const char *host = NULL, *hostaddr = NULL, *port = NULL;

	if (keys == NULL || values == NULL) {
		(void)snprintf(errmsg, errmsg_len, "conninfo keys/values missing");
		return -EINVAL;
	}
	for (size_t i = 0; keys[i] != NULL; i++) {
		if (values[i] == NULL) {
			(void)snprintf(errmsg, errmsg_len, "conninfo key '%s' has no value",
				       keys[i]);
			return -EINVAL;
		}
		if (strcmp(keys[i], "host") == 0) {
			host = values[i];
		} else if (strcmp(keys[i], "hostaddr") == 0) {
			hostaddr = values[i];
		} else if (strcmp(keys[i], "port") == 0) {
			port = values[i];
		} else if (strcmp(keys[i], "service") == 0) {
			(void)snprintf(errmsg, errmsg_len,
				       "conninfo key 'service' is not supported (a service file "
				       "may name a host that needs a blocking lookup)");
			return -EINVAL;
		}
	}
	if (hostaddr != NULL) {
		if (!pg_is_ipv4_list(hostaddr)) {
			(void)snprintf(errmsg, errmsg_len,
				       "conninfo hostaddr '%s' is not a numeric IPv4 address",
				       hostaddr);
			return -EINVAL;
		}
		*ret_addr = hostaddr;
	} else if (host != NULL) {
		if (!pg_is_ipv4_list(host)) {
			(void)snprintf(errmsg, errmsg_len,
				       "conninfo host '%s' is not a numeric IPv4 address (a name "
				       "would need a blocking lookup; resolve it first and pass "
				       "hostaddr)",
				       host);
			return -EINVAL;
		}
		*ret_addr = host;
	} else {
		(void)snprintf(errmsg, errmsg_len,
			       "conninfo has neither host nor hostaddr (Unix sockets and PGHOST "
			       "are not supported)");
		return -EINVAL;
	}
	*ret_port = port != NULL && port[0] != '\0' ? port : NULL;
	*ret_has_hostaddr = hostaddr != NULL;
	return 0;
}

int baton_pg_conninfo_check(const char *const *keys, const char *const *values, char *errmsg,
			    size_t errmsg_len)
{
	const char *addr, *port;
	bool has_hostaddr;
	char dummy[1];

	if (errmsg == NULL || errmsg_len == 0) {
		errmsg = dummy;
		errmsg_len = sizeof(dummy);
	}
	return pg_conninfo_parse(keys, values, errmsg, errmsg_len, &addr, &port, &has_hostaddr);
}

const char *baton_pg_value(const struct baton_pg_result *r, int row, int col)
{
	const PGresult *res;

	if (r == NULL || r->res == NULL)
		return NULL;
	res = (const PGresult *)r->res;
	if (row < 0 || col < 0 || row >= PQntuples(res) || col >= PQnfields(res) ||
	    PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

/* --- finishing ----------------------------------------------------------------------- */

static void pg_op_free(struct baton_pg_op *op)
{
	PQclear(op->last);
	pg_free_strv(op->stmts, op->nstmts);
	pg_free_strv(op->params, op->nparams);
	free(op);
}

static void pg_maybe_complete(struct baton_pg_op *op)
{
	struct baton_pg_result *r = &op->result;

	if (op->state != PG_CLOSING || op->pending_closes > 0)
		return;
	r->errmsg = op->errmsg;
	r->sqlstate = op->sqlstate[0] != '\0' ? op->sqlstate : NULL;
	r->res = (const struct pg_result *)op->last;
	if (op->last != NULL && r->err == 0 && !r->sql_error) {
		r->ntuples = PQntuples(op->last);
		r->nfields = PQnfields(op->last);
	}
	op->cb(op->data, r);
	pg_op_free(op);
}

static void pg_poll_closed_cb(uv_handle_t *h)
{
	struct pg_poll *p = h->data;
	struct baton_pg_op *op = p->op;

	free(p);
	op->pending_closes--;
	pg_maybe_complete(op);
}

static void pg_timer_closed_cb(uv_handle_t *h)
{
	struct baton_pg_op *op = h->data;

	op->pending_closes--;
	pg_maybe_complete(op);
}

/* Close the current poll handle (uv_close() stops it first, so the fd is unwatched
 * before anyone closes it). */
static void pg_poll_close(struct baton_pg_op *op)
{
	if (op->poll == NULL)
		return;
	uv_close((uv_handle_t *)&op->poll->handle, pg_poll_closed_cb);
	op->pending_closes++;
	op->poll = NULL;
}

/* The one way out. @err goes to the result; errmsg must already be set if != 0. */
static void pg_finish(struct baton_pg_op *op, int err)
{
	if (op->state == PG_CLOSING)
		return;
	op->result.err = err;
	op->result.stmt = op->state == PG_CONNECTING ? -1 : op->cur;
	op->state = PG_CLOSING;
	(void)uv_timer_stop(&op->timer);
	uv_close((uv_handle_t *)&op->timer, pg_timer_closed_cb);
	op->pending_closes++;
	pg_poll_close(op);
	if (op->conn != NULL) {
		PQfinish(op->conn); /* only after the poll handle let go of its fd */
		op->conn = NULL;
	}
}

/* Fail with libpq's connection-level message. */
static void pg_fail_conn(struct baton_pg_op *op, int err, const char *what)
{
	char text[BATON_PG_ERRMSG_LEN];

	pg_copy_oneline(text, sizeof(text), op->conn != NULL ? PQerrorMessage(op->conn) : NULL);
	if (text[0] == '\0')
		pg_errmsgf(op, "%s: %s failed", op->where, what);
	else
		pg_errmsgf(op, "%s: %s", op->where, text);
	pg_finish(op, err);
}

static void pg_fail_uv(struct baton_pg_op *op, int err, const char *what)
{
	pg_errmsgf(op, "%s: %s: %s", op->where, what, uv_strerror(err));
	pg_finish(op, err);
}

static void pg_deadline_cb(uv_timer_t *t)
{
	struct baton_pg_op *op = t->data;

	if (op->state == PG_CONNECTING)
		pg_errmsgf(op, "%s: no answer within %u ms while connecting", op->where,
			   op->timeout_ms);
	else
		pg_errmsgf(op, "%s: no answer within %u ms while running statement %d",
			   op->where, op->timeout_ms, op->cur);
	pg_finish(op, -ETIMEDOUT);
}

void baton_pg_cancel(struct baton_pg_op *op)
{
	if (op == NULL || op->state == PG_CLOSING)
		return;
	pg_errmsgf(op, "%s: cancelled by the caller", op->where);
	pg_finish(op, -ECANCELED);
}

/* --- polling ------------------------------------------------------------------------- */

static void pg_poll_cb(uv_poll_t *h, int status, int events);

/* Poll libpq's current socket for @events. Re-reads PQsocket() every time. */
static int pg_watch(struct baton_pg_op *op, int events)
{
	int fd = PQsocket(op->conn);
	struct pg_poll *p;
	int rv;

	if (fd < 0)
		return UV_EBADF;
	if (op->poll != NULL && op->poll->fd != fd) {
		/* UNTESTED: libpq switched sockets (next address, SSL retry) and the new
		 * one got another number; it closes the old fd first, so the number is
		 * normally the same, which the stop-before-PQconnectPoll rule covers. */
		pg_poll_close(op);
	}
	if (op->poll == NULL) {
		p = calloc(1, sizeof(*p));
		if (p == NULL)
			return UV_ENOMEM;
		rv = uv_poll_init_socket(op->loop, &p->handle, fd);
		if (rv != 0) {
			free(p); /* UNTESTED: uv_poll_init fails before registering the handle */
			return rv;
		}
		p->handle.data = p;
		p->op = op;
		p->fd = fd;
		op->poll = p;
	}
	return uv_poll_start(&op->poll->handle, events, pg_poll_cb);
}

static void pg_connect_step(struct baton_pg_op *op);

static void pg_poll_cb(uv_poll_t *h, int status, int events)
{
	struct pg_poll *p = h->data;
	struct baton_pg_op *op = p->op;

	if (op->state == PG_CLOSING || op->poll != p)
		return; /* UNTESTED: a stale handle; it is already closing */
	/* POLLERR arrives as status < 0 (and libuv stops the handle): do not fail here,
	 * let libpq read the socket and report the real error (or try the next host). */
	if (status < 0)
		events = UV_READABLE | UV_WRITABLE;
	if (op->state == PG_CONNECTING)
		pg_connect_step(op);
	else
		pg_io(op, events);
}

/* --- statements ---------------------------------------------------------------------- */

static void pg_send(struct baton_pg_op *op)
{
	int nparams = op->cur == 0 ? op->nparams : 0;

	if (PQsendQueryParams(op->conn, op->stmts[op->cur], nparams, NULL,
			      (const char *const *)op->params, NULL, NULL, 0) != 1) {
		pg_fail_conn(op, -EIO, "PQsendQueryParams()");
		return;
	}
	op->state = PG_SENDING;
	pg_io(op, 0);
}

static void pg_connect_step(struct baton_pg_op *op)
{
	int rv;

	/* libpq may close or replace its socket inside PQconnectPoll(); libuv forbids
	 * closing an fd under an active poll handle, so stop polling first. */
	if (op->poll != NULL)
		(void)uv_poll_stop(&op->poll->handle);
	switch (PQconnectPoll(op->conn)) {
	case PGRES_POLLING_READING:
		rv = pg_watch(op, UV_READABLE);
		break;
	case PGRES_POLLING_WRITING:
		rv = pg_watch(op, UV_WRITABLE);
		break;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(op->conn, 1) != 0) {
			pg_fail_conn(op, -EIO, "PQsetnonblocking()"); /* UNTESTED */
			return;
		}
		op->cur = 0;
		pg_send(op);
		return;
	case PGRES_POLLING_FAILED:
	default:
		pg_fail_conn(op, -ECONNREFUSED, "connect");
		return;
	}
	if (rv != 0)
		pg_fail_uv(op, rv, "uv_poll on the libpq socket"); /* UNTESTED */
}

/* Record a PGRES_FATAL_ERROR result and stop. */
static void pg_sql_error(struct baton_pg_op *op, PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

	PQclear(op->last);
	op->last = res;
	if (state != NULL)
		(void)snprintf(op->sqlstate, sizeof(op->sqlstate), "%s", state);
	pg_copy_oneline(op->errmsg, sizeof(op->errmsg),
			primary != NULL ? primary : PQresultErrorMessage(res));
	if (PQstatus(op->conn) == CONNECTION_BAD ||
	    (severity != NULL && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0))) {
		/* libpq's own "server closed the connection", or the server ending the
		 * session (FATAL: terminated, shutting down...): not the statement's fault */
		pg_finish(op, -EIO);
		return;
	}
	op->result.sql_error = true;
	pg_finish(op, 0);
}

/* Drive a sent statement: flush, then collect results. @events: what poll saw. */
static void pg_io(struct baton_pg_op *op, int events)
{
	PGresult *res;
	int rv;

	/* Always consume on readable, also while flushing: the server may be blocked
	 * writing to us (notices) and so not reading what we flush. */
	if ((events & UV_READABLE) && PQconsumeInput(op->conn) != 1) {
		pg_fail_conn(op, -EIO, "PQconsumeInput()");
		return;
	}
	if (op->state == PG_SENDING) {
		rv = PQflush(op->conn);
		if (rv < 0) {
			pg_fail_conn(op, -EIO, "PQflush()"); /* UNTESTED */
			return;
		}
		if (rv > 0) {
			rv = pg_watch(op, UV_READABLE | UV_WRITABLE);
			if (rv != 0)
				pg_fail_uv(op, rv, "uv_poll on the libpq socket"); /* UNTESTED */
			return;
		}
		op->state = PG_RECEIVING;
	}
	while (!PQisBusy(op->conn)) {
		res = PQgetResult(op->conn);
		if (res == NULL) {
			/* statement complete */
			if (op->cur + 1 >= op->nstmts) {
				op->errmsg[0] = '\0';
				pg_finish(op, 0);
				return;
			}
			op->cur++;
			pg_send(op); /* flushes; recursion depth is bounded by nstmts */
			return;
		}
		switch (PQresultStatus(res)) {
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
		case PGRES_EMPTY_QUERY:
			PQclear(op->last);
			op->last = res;
			break;
		case PGRES_FATAL_ERROR:
			pg_sql_error(op, res);
			return;
		default:
			pg_errmsgf(op, "%s: statement %d returned %s, which is not supported",
				   op->where, op->cur, PQresStatus(PQresultStatus(res)));
			PQclear(res);
			pg_finish(op, -EPROTO);
			return;
		}
	}
	rv = pg_watch(op, UV_READABLE);
	if (rv != 0)
		pg_fail_uv(op, rv, "uv_poll on the libpq socket"); /* UNTESTED */
}

/* --- starting ------------------------------------------------------------------------ */

/* Everything after the timer exists; failures from here on go through the callback. */
static void pg_connect_start(struct baton_pg_op *op, const char *const *keys,
			     const char *const *values)
{
	const char *addr, *port;
	const char **k = NULL, **v = NULL;
	bool has_hostaddr;
	size_t n = 0;
	int rv;

	rv = pg_conninfo_parse(keys, values, op->errmsg, sizeof(op->errmsg), &addr, &port,
			       &has_hostaddr);
	if (rv != 0) {
		pg_finish(op, rv);
		return;
	}
	(void)snprintf(op->where, sizeof(op->where), "%s:%s", addr, port != NULL ? port : "5432");

	/* Pass the address as hostaddr, so libpq never resolves anything. */
	while (keys[n] != NULL)
		n++;
	k = calloc(n + 2, sizeof(*k));
	v = calloc(n + 2, sizeof(*v));
	if (k == NULL || v == NULL) {
		pg_errmsgf(op, "%s: out of memory copying conninfo", op->where);
		pg_finish(op, -ENOMEM);
		goto out;
	}
	memcpy(k, keys, n * sizeof(*k));
	memcpy(v, values, n * sizeof(*v));
	if (!has_hostaddr) {
		k[n] = "hostaddr";
		v[n] = addr;
	}

	op->conn = PQconnectStartParams(k, v, 0);
	if (op->conn == NULL) {
		pg_errmsgf(op, "%s: PQconnectStartParams() out of memory", op->where);
		pg_finish(op, -ENOMEM);
		goto out;
	}
	(void)PQsetNoticeProcessor(op->conn, pg_notice_fn, NULL);
	if (PQstatus(op->conn) == CONNECTION_BAD) {
		pg_fail_conn(op, -ECONNREFUSED, "PQconnectStartParams()");
		goto out;
	}
	op->state = PG_CONNECTING;
	/* "behave as if it last returned PGRES_POLLING_WRITING" (libpq docs) */
	rv = pg_watch(op, UV_WRITABLE);
	if (rv != 0)
		pg_fail_uv(op, rv, "uv_poll on the libpq socket"); /* UNTESTED */
out:
	free(k);
	free(v);
}

static int pg_start(uv_loop_t *loop, const char *const *keys, const char *const *values,
		    const char *const *stmts, int nstmts, const char *const *params, int nparams,
		    unsigned timeout_ms, baton_pg_cb cb, void *data, struct baton_pg_op **ret_op)
{
	struct baton_pg_op *op;
	int rv;

	op = calloc(1, sizeof(*op));
	if (op == NULL)
		return -ENOMEM;
	op->loop = loop;
	op->cb = cb;
	op->data = data;
	op->timeout_ms = timeout_ms;
	op->state = PG_CONNECTING;
	op->result.stmt = -1;
	(void)snprintf(op->where, sizeof(op->where), "postgresql");
	rv = pg_dup_strv(stmts, nstmts, &op->stmts);
	if (rv != 0)
		goto err_after_op;
	op->nstmts = nstmts;
	if (nparams > 0) {
		rv = pg_dup_strv(params, nparams, &op->params);
		if (rv != 0)
			goto err_after_op;
		op->nparams = nparams;
	}
	/* Last fallible synchronous step: an initialised handle is released async. */
	rv = uv_timer_init(loop, &op->timer);
	if (rv != 0)
		goto err_after_op;
	op->timer.data = op;
	rv = uv_timer_start(&op->timer, pg_deadline_cb, timeout_ms, 0);
	if (rv != 0) {
		pg_fail_uv(op, rv, "uv_timer_start()"); /* UNTESTED: a valid timer cannot fail */
		goto out;
	}
	pg_connect_start(op, keys, values);
out:
	if (ret_op != NULL)
		*ret_op = op;
	return 0;

err_after_op:
	pg_op_free(op);
	return rv;
}

int baton_pg_query(uv_loop_t *loop, const char *const *keys, const char *const *values,
		   const char *sql, const char *const *params, unsigned timeout_ms,
		   baton_pg_cb cb, void *data, struct baton_pg_op **ret_op)
{
	const char *stmts[] = {sql, NULL};
	int nparams = pg_strv_len(params, BATON_PG_MAX_PARAMS);

	if (loop == NULL || sql == NULL || cb == NULL || timeout_ms == 0 || nparams < 0)
		return -EINVAL;
	return pg_start(loop, keys, values, stmts, 1, params, nparams, timeout_ms, cb, data,
			ret_op);
}

int baton_pg_script(uv_loop_t *loop, const char *const *keys, const char *const *values,
		    const char *const *stmts, unsigned timeout_ms, baton_pg_cb cb, void *data,
		    struct baton_pg_op **ret_op)
{
	int nstmts = pg_strv_len(stmts, BATON_PG_MAX_STMTS);

	if (loop == NULL || stmts == NULL || nstmts <= 0 || cb == NULL || timeout_ms == 0)
		return -EINVAL;
	return pg_start(loop, keys, values, stmts, nstmts, NULL, 0, timeout_ms, cb, data,
			ret_op);
}
