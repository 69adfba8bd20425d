/* SPDX-License-Identifier: MIT */
/* The attempt object shared by every driver: deadline, deferred completion, and
 * the bookkeeping of sub-operations (see driver.h for the life cycle).
 *
 * Happy path: action_op_new() -> action_op_begin() arms the deadline -> the
 * driver chains sub-operations (action_http, action_pg_*, action_read_file,
 * action_wake_after), each callback running the driver's next step ->
 * action_done() -> timers closed -> executor callback -> free.
 *
 * Failure modes: the deadline fires (-ETIMEDOUT, retryable, naming the phase);
 * a sub-operation cannot start (its error, through the callback); cancel
 * (-ECANCELED). In each case whatever is in flight is aborted first (HTTP call
 * cancelled, libpq connection dropped, the driver's abort hook for processes)
 * and its callback awaited, so nothing refers to the attempt once it is freed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "util.h"

static void op_timer_closed_cb(uv_handle_t *h)
{
	struct baton_action_op *op = h->data;

	if (--op->open_timers > 0)
		return;
	op->cb(op->cb_data, &op->res);
	if (op->cleanup_fn != NULL)
		op->cleanup_fn(op);
	free(op);
}

static void op_maybe_close(struct baton_action_op *op)
{
	if (!op->finishing || op->pending > 0 || op->closing)
		return;
	op->closing = true;
	uv_close((uv_handle_t *)&op->deadline_timer, op_timer_closed_cb);
	uv_close((uv_handle_t *)&op->wake_timer, op_timer_closed_cb);
}

/* The outcome is recorded; stop everything and close once nothing is pending. */
static void op_finish(struct baton_action_op *op)
{
	(void)uv_timer_stop(&op->deadline_timer);
	(void)uv_timer_stop(&op->wake_timer);
	if (op->call != NULL)
		baton_http_call_cancel(op->call); /* its callback still comes */
	if (op->pg != NULL)
		baton_pg_cancel(op->pg);
	if (op->abort_fn != NULL)
		op->abort_fn(op);
	/* a file read in flight is not cancelled: it is short, its callbacks close
	 * the file and then release the attempt */
	op_maybe_close(op);
}

static void op_deadline_cb(uv_timer_t *t)
{
	struct baton_action_op *op = t->data;

	action_fail(op, -ETIMEDOUT, true, "%s: no result within %u ms (while %s)", op->target,
		    op->timeout_ms, op->phase != NULL ? op->phase : "starting");
}

static void op_wake_cb(uv_timer_t *t)
{
	struct baton_action_op *op = t->data;
	action_step_fn fn = op->wake_fn;

	op->wake_fn = NULL;
	if (!op->finishing && fn != NULL)
		fn(op);
}

struct baton_action_op *action_op_new(size_t size, const struct baton_action_driver *d,
				      const struct baton_action_env *env,
				      const struct baton_action_params *p,
				      const struct baton_action_ctx *ctx, baton_action_cb cb,
				      void *data)
{
	struct baton_action_op *op;
	const char *src[5];
	const char **dst[5];

	if (size < sizeof(*op) || d == NULL || env == NULL || env->loop == NULL || p == NULL ||
	    ctx == NULL || cb == NULL || p->n > BATON_ACTION_MAX_PARAMS)
		return NULL;
	op = calloc(1, size);
	if (op == NULL)
		return NULL;
	op->driver = d;
	op->loop = env->loop;
	op->http = env->http;
	op->cb = cb;
	op->cb_data = data;
	op->params = *p;
	op->ctx = *ctx;
	src[0] = ctx->group;
	src[1] = ctx->from;
	src[2] = ctx->to;
	src[3] = ctx->step;
	src[4] = ctx->transition;
	dst[0] = &op->ctx.group;
	dst[1] = &op->ctx.from;
	dst[2] = &op->ctx.to;
	dst[3] = &op->ctx.step;
	dst[4] = &op->ctx.transition;
	for (int i = 0; i < 5; i++) {
		(void)baton_strlcpy(op->ctx_buf[i], src[i] != NULL ? src[i] : "",
				    sizeof(op->ctx_buf[i]));
		*dst[i] = op->ctx_buf[i];
	}
	op->timeout_ms = ctx->timeout_ms != 0 ? ctx->timeout_ms : ACTION_DEFAULT_TIMEOUT_MS;
	op->fs_fd = -1;
	(void)snprintf(op->target, sizeof(op->target), "%s", d->name);
	return op;
}

void action_op_begin(struct baton_action_op *op)
{
	/* uv_timer_init() cannot fail; from here on the attempt ends through
	 * op_maybe_close(), which closes both timers. */
	(void)uv_timer_init(op->loop, &op->deadline_timer);
	(void)uv_timer_init(op->loop, &op->wake_timer);
	op->deadline_timer.data = op;
	op->wake_timer.data = op;
	op->open_timers = 2;
	op->deadline = uv_now(op->loop) + op->timeout_ms;
	(void)uv_timer_start(&op->deadline_timer, op_deadline_cb, op->timeout_ms, 0);
}

unsigned action_remaining_ms(struct baton_action_op *op)
{
	uint64_t now = uv_now(op->loop);

	if (now >= op->deadline)
		return 0;
	return (unsigned)(op->deadline - now);
}

void action_fail(struct baton_action_op *op, int status, bool retryable, const char *fmt, ...)
{
	va_list ap;

	if (op->finishing)
		return;
	op->finishing = true;
	op->res.status = status != 0 ? status : BATON_ACTION_EFAILED;
	op->res.retryable = retryable;
	va_start(ap, fmt);
	(void)vsnprintf(op->res.error, sizeof(op->res.error), fmt, ap);
	va_end(ap);
	op_finish(op);
}

static void op_vappend(struct baton_action_op *op, const char *fmt, va_list ap)
{
	size_t len = strlen(op->res.output);

	if (len + 1 < sizeof(op->res.output))
		(void)vsnprintf(op->res.output + len, sizeof(op->res.output) - len, fmt, ap);
}

void action_done(struct baton_action_op *op, const char *fmt, ...)
{
	va_list ap;

	if (op->finishing)
		return;
	op->finishing = true;
	op->res.status = 0;
	op->res.retryable = false;
	va_start(ap, fmt);
	op_vappend(op, fmt, ap);
	va_end(ap);
	op_finish(op);
}

void action_outf(struct baton_action_op *op, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	op_vappend(op, fmt, ap);
	va_end(ap);
}

void action_cancel(struct baton_action_op *op)
{
	char prev[sizeof(op->res.error)];

	if (op == NULL)
		return;
	if (!op->finishing) {
		action_fail(op, -ECANCELED, false, "%s: cancelled by the caller (while %s)",
			    op->target, op->phase != NULL ? op->phase : "starting");
		return;
	}
	/* Ended already, callback not yet run: the contract says -ECANCELED. Keep what
	 * the attempt said; its output still tells what was done. */
	if (op->res.status == -ECANCELED)
		return;
	(void)snprintf(prev, sizeof(prev), "%s", op->res.status == 0 ? "ok" : op->res.error);
	(void)snprintf(op->res.error, sizeof(op->res.error),
		       "cancelled by the caller after the attempt ended (%s)", prev);
	op->res.status = -ECANCELED;
	op->res.retryable = false;
}

void action_hold(struct baton_action_op *op)
{
	op->pending++;
}

bool action_release(struct baton_action_op *op)
{
	op->pending--;
	if (op->finishing) {
		op_maybe_close(op);
		return false;
	}
	return true;
}

/* --- HTTP ---------------------------------------------------------------------------- */

static void op_http_cb(void *data, const struct baton_http_result *r)
{
	struct baton_action_op *op = data;
	action_http_fn fn = op->http_fn;

	op->call = NULL;
	op->http_fn = NULL;
	if (!action_release(op))
		return;
	fn(op, r);
}

void action_http(struct baton_action_op *op, const struct baton_http_call_opts *o,
		 action_http_fn fn)
{
	struct baton_http_call_opts c = *o;
	unsigned left = action_remaining_ms(op);
	int rv;

	if (op->finishing)
		return;
	if (op->http == NULL) {
		action_fail(op, -EINVAL, false, "%s: no HTTP client in the action environment",
			    op->target);
		return;
	}
	if (left == 0)
		left = 1;
	if (c.timeout_ms == 0 || c.timeout_ms > left)
		c.timeout_ms = left;
	if (c.connect_timeout_ms == 0 || c.connect_timeout_ms > c.timeout_ms)
		c.connect_timeout_ms = c.timeout_ms < 3000 ? c.timeout_ms : 3000;
	rv = baton_http_call(op->http, &c, op_http_cb, op, &op->call);
	if (rv != 0) {
		op->call = NULL;
		action_fail(op, rv, false, "%s: cannot start %s %s: %s", op->target,
			    c.method != NULL ? c.method : "GET", c.url, strerror(-rv));
		return;
	}
	op->http_fn = fn;
	action_hold(op);
}

void action_http_fail(struct baton_action_op *op, const char *what,
		      const struct baton_http_result *r)
{
	char body[200];
	bool retryable;

	if (r->err != 0) {
		/* a bad URL or an untrusted certificate will not fix itself */
		retryable = r->err != -EINVAL && r->err != -EKEYREJECTED && r->err != -EMSGSIZE &&
			    r->err != -ECANCELED;
		action_fail(op, r->err, retryable, "%s: %s: %s", op->target, what,
			    r->errmsg != NULL && r->errmsg[0] != '\0' ? r->errmsg
								      : strerror(-r->err));
		return;
	}
	action_excerpt(body, sizeof(body), r->body, r->body_len);
	retryable = r->status >= 500 || r->status == 408 || r->status == 429;
	action_fail(op, BATON_ACTION_EFAILED, retryable, "%s: %s: HTTP %ld: %s", op->target, what,
		    r->status, body[0] != '\0' ? body : "(empty body)");
}

/* --- PostgreSQL ---------------------------------------------------------------------- */

static void op_pg_cb(void *data, const struct baton_pg_result *r)
{
	struct baton_action_op *op = data;
	action_pg_fn fn = op->pg_fn;

	op->pg = NULL;
	op->pg_fn = NULL;
	if (!action_release(op))
		return;
	fn(op, r);
}

static void op_pg_started(struct baton_action_op *op, int rv, action_pg_fn fn)
{
	if (rv != 0) {
		op->pg = NULL;
		action_fail(op, rv, false, "%s: cannot start a PostgreSQL operation: %s",
			    op->target, strerror(-rv));
		return;
	}
	op->pg_fn = fn;
	action_hold(op);
}

static unsigned op_pg_timeout(struct baton_action_op *op, unsigned timeout_ms)
{
	unsigned left = action_remaining_ms(op);

	if (left == 0)
		left = 1;
	return timeout_ms == 0 || timeout_ms > left ? left : timeout_ms;
}

void action_pg_query(struct baton_action_op *op, const char *const *keys,
		     const char *const *values, const char *sql, const char *const *params,
		     unsigned timeout_ms, action_pg_fn fn)
{
	if (op->finishing)
		return;
	op_pg_started(op,
		      baton_pg_query(op->loop, keys, values, sql, params,
				     op_pg_timeout(op, timeout_ms), op_pg_cb, op, &op->pg),
		      fn);
}

void action_pg_script(struct baton_action_op *op, const char *const *keys,
		      const char *const *values, const char *const *stmts, unsigned timeout_ms,
		      action_pg_fn fn)
{
	if (op->finishing)
		return;
	op_pg_started(op,
		      baton_pg_script(op->loop, keys, values, stmts, op_pg_timeout(op, timeout_ms),
				      op_pg_cb, op, &op->pg),
		      fn);
}

/* --- files ------------------------------------------------------------------------------ */

static void op_fs_read_cb(uv_fs_t *req);

static void op_fs_closed_cb(uv_fs_t *req)
{
	struct baton_action_op *op = req->data;
	action_file_fn fn = op->fs_fn;
	uv_fs_req_cleanup(req);
	op->fs_busy = false;
	op->fs_fd = -1;
	if (!action_release(op))
		return;
	if (op->fs_err != 0) {
		action_fail(op, op->fs_err, false, "%s: cannot read '%s': %s", op->target,
			    op->fs_path, uv_strerror(op->fs_err));
		return;
	}
	if (op->fs_len > ACTION_FILE_MAX) {
		action_fail(op, -EFBIG, false, "%s: '%s' is larger than %d bytes", op->target,
			    op->fs_path, ACTION_FILE_MAX);
		return;
	}
	while (op->fs_len > 0 && (op->fs_buf[op->fs_len - 1] == '\n' ||
				  op->fs_buf[op->fs_len - 1] == '\r' ||
				  op->fs_buf[op->fs_len - 1] == ' ' ||
				  op->fs_buf[op->fs_len - 1] == '\t'))
		op->fs_len--;
	op->fs_buf[op->fs_len] = '\0';
	fn(op, op->fs_buf, op->fs_len);
}

static void op_fs_close(struct baton_action_op *op)
{
	int rv;

	rv = uv_fs_close(op->loop, &op->fs, op->fs_fd, op_fs_closed_cb);
	if (rv != 0) { /* UNTESTED: the request could not be queued */
		op->fs_busy = false;
		op->fs_fd = -1;
		if (!action_release(op))
			return;
		action_fail(op, rv, false, "%s: closing '%s': %s", op->target, op->fs_path,
			    uv_strerror(rv));
	}
}

static void op_fs_read_next(struct baton_action_op *op)
{
	uv_buf_t b = uv_buf_init(op->fs_buf + op->fs_len,
				 (unsigned)(sizeof(op->fs_buf) - op->fs_len));
	int rv;

	rv = uv_fs_read(op->loop, &op->fs, op->fs_fd, &b, 1, (int64_t)op->fs_len, op_fs_read_cb);
	if (rv != 0) /* UNTESTED */
		op_fs_close(op);
}

static void op_fs_read_cb(uv_fs_t *req)
{
	struct baton_action_op *op = req->data;
	ssize_t n = req->result;

	uv_fs_req_cleanup(req);
	if (op->finishing || n <= 0 || op->fs_len + (size_t)n >= sizeof(op->fs_buf)) {
		if (n > 0)
			op->fs_len += (size_t)n; /* > ACTION_FILE_MAX when full: too big */
		if (n < 0)
			op->fs_err = (int)n; /* reported once the file is closed */
		op_fs_close(op);
		return;
	}
	op->fs_len += (size_t)n;
	op_fs_read_next(op);
}

static void op_fs_open_cb(uv_fs_t *req)
{
	struct baton_action_op *op = req->data;
	ssize_t fd = req->result;

	uv_fs_req_cleanup(req);
	if (fd < 0) {
		op->fs_busy = false;
		if (!action_release(op))
			return;
		action_fail(op, (int)fd, false, "%s: cannot open '%s': %s", op->target,
			    op->fs_path, uv_strerror((int)fd));
		return;
	}
	op->fs_fd = (uv_file)fd;
	if (op->finishing) {
		op_fs_close(op);
		return;
	}
	op_fs_read_next(op);
}

void action_read_file(struct baton_action_op *op, const char *path, action_file_fn fn)
{
	int rv;

	if (op->finishing)
		return;
	(void)baton_strlcpy(op->fs_path, path, sizeof(op->fs_path));
	op->fs_len = 0;
	op->fs_err = 0;
	op->fs_fn = fn;
	op->fs.data = op;
	rv = uv_fs_open(op->loop, &op->fs, op->fs_path, O_RDONLY | O_CLOEXEC, 0, op_fs_open_cb);
	if (rv != 0) { /* UNTESTED: the request could not be queued */
		action_fail(op, rv, false, "%s: cannot open '%s': %s", op->target, op->fs_path,
			    uv_strerror(rv));
		return;
	}
	op->fs.data = op;
	op->fs_busy = true;
	action_hold(op);
}

/* --- timers ------------------------------------------------------------------------------ */

void action_wake_after(struct baton_action_op *op, uint64_t ms, action_step_fn fn)
{
	if (op->finishing)
		return;
	op->wake_fn = fn;
	(void)uv_timer_start(&op->wake_timer, op_wake_cb, ms, 0);
}
