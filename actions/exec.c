/* SPDX-License-Identifier: MIT */
/* The `exec` driver: run a local command (a hook) through uv_spawn.
 *
 * Happy path: check the parameters -> spawn `command arg_1..arg_8` in a session
 * of its own (setsid, so a timeout can signal the whole process group), stdin
 * /dev/null, stdout and stderr on pipes, a fixed environment (BATON_* + PATH)
 * -> read both pipes, keeping the first 1 KiB of each -> exit -> wait (briefly)
 * for both pipes to reach EOF -> exit status -> result.
 *
 * Exit status contract (docs/drivers.md): 0 ok; 75 (EX_TEMPFAIL) failed,
 * retryable; 65 (EX_DATAERR) the target holds a newer epoch (ESTALE); anything
 * else, or death by a signal we did not send, failed, not retryable.
 *
 * Failure modes: cannot spawn (ENOENT, EACCES: not retryable); timeout: SIGTERM
 * to the group, SIGKILL 2 s later, -ETIMEDOUT (retryable) once it is reaped. The
 * command's timeout is `timeout_ms` capped so that SIGTERM + the 2 s grace end
 * before the attempt's deadline. Cancel: SIGKILL to the group, -ECANCELED once
 * reaped (a process handle is closed only after its exit, so nothing is left
 * as a zombie). A child that leaves a grandchild holding the pipes open does not
 * hold the attempt: 200 ms after the exit the pipes are closed regardless.
 *
 * Drill: the command runs with BATON_DRILL=1 and must not touch production. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

#define EXEC_CAPTURE 1024
#define EXEC_KILL_GRACE_MS 2000u
#define EXEC_EOF_GRACE_MS 200u
#define EXEC_MAX_ARGS 8
#define EXEC_EX_DATAERR 65
#define EXEC_EX_TEMPFAIL 75

static const struct action_key exec_keys[] = {
	{"command", true},  {"arg_1", false}, {"arg_2", false},      {"arg_3", false},
	{"arg_4", false},   {"arg_5", false}, {"arg_6", false},      {"arg_7", false},
	{"arg_8", false},   {"timeout_ms", false}, {"idempotent", false}, {NULL, false},
};

struct exec_capture {
	uv_pipe_t pipe;
	bool open;  /* initialised and not yet closed */
	bool eof;
	char buf[EXEC_CAPTURE + 1];
	size_t len;
	uint64_t dropped; /* bytes after the first EXEC_CAPTURE */
};

struct exec_attempt {
	struct baton_action_op op;
	uv_process_t proc;
	bool proc_open;
	bool exited;
	int64_t exit_status;
	int term_signal;
	int pid;
	struct exec_capture out, err;
	char readbuf[4096];
	unsigned term_after_ms, kill_after_ms;
	bool term_sent, kill_sent;
	bool reported; /* output written */
	uint64_t spawned_at;
	char *argv[EXEC_MAX_ARGS + 2];
	char env_buf[8][BATON_ACTION_VALUE_LEN + 32];
	char path_buf[4096];    /* PATH is often longer than a parameter (pyenv, snaps, ...) */
	char *envp[10];
};

/* --- parameters -------------------------------------------------------------------------- */

static int exec_check(const struct baton_action_params *p, bool expanded, char *err, size_t len)
{
	const char *cmd, *v;
	uint64_t u;
	bool b, gap = false;
	int rv;

	rv = action_check_keys("exec", p, exec_keys, err, len);
	if (rv != 0)
		return rv;
	cmd = baton_action_param(p, "command");
	if ((expanded || !action_templated(cmd)) && cmd[0] != '/') {
		(void)snprintf(err, len, "exec: command '%s' is not an absolute path", cmd);
		return -EINVAL;
	}
	for (int i = 1; i <= EXEC_MAX_ARGS; i++) {
		char key[8];

		(void)snprintf(key, sizeof(key), "arg_%d", i);
		if (baton_action_param(p, key) == NULL) {
			gap = true;
		} else if (gap) {
			(void)snprintf(err, len, "exec: parameter '%s' given without 'arg_%d'", key,
				       i - 1);
			return -EINVAL;
		}
	}
	v = baton_action_param(p, "timeout_ms");
	if (v != NULL && (expanded || !action_templated(v)) &&
	    action_parse_u64(v, 1, 86400000, &u) != 0) {
		(void)snprintf(err, len, "exec: timeout_ms '%s' is not a number of ms in 1..86400000",
			       v);
		return -EINVAL;
	}
	v = baton_action_param(p, "idempotent");
	if (v != NULL && (expanded || !action_templated(v)) && action_parse_bool(v, &b) != 0) {
		(void)snprintf(err, len, "exec: idempotent '%s' is not true or false", v);
		return -EINVAL;
	}
	return 0;
}

static int exec_validate(const struct baton_action_params *p, char *err, size_t len)
{
	return exec_check(p, false, err, len);
}

/* --- the result ---------------------------------------------------------------------------- */

/* Captured bytes as text: control characters other than newline and tab become '?',
 * trailing newlines go. */
static void exec_text(char *dst, size_t n, const struct exec_capture *c)
{
	size_t o = 0, len = c->len;

	while (len > 0 && (c->buf[len - 1] == '\n' || c->buf[len - 1] == '\r'))
		len--;
	for (size_t i = 0; i < len && o + 1 < n; i++) {
		unsigned char ch = (unsigned char)c->buf[i];

		dst[o++] = (ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f ? '?' : (char)ch;
	}
	dst[o] = '\0';
}

static void exec_conclude(struct exec_attempt *a)
{
	struct baton_action_op *op = &a->op;
	char out[EXEC_CAPTURE + 1], err[200];
	uint64_t ms = uv_now(op->loop) - a->spawned_at;

	if (a->reported || op->finishing)
		return;
	a->reported = true;
	exec_text(out, sizeof(out), &a->out);
	action_excerpt(err, sizeof(err), a->err.buf, a->err.len);
	if (a->err.dropped > 0 && strlen(err) + 4 < sizeof(err))
		(void)snprintf(err + strlen(err), sizeof(err) - strlen(err), " ...");
	if (out[0] != '\0')
		action_outf(op, "%s%s", out, a->out.dropped > 0 ? "\n..." : "");

	if (a->term_sent) {
		action_fail(op, -ETIMEDOUT, true, "%s: timed out after %u ms: %s; stderr: %s",
			    op->target, a->term_after_ms,
			    a->kill_sent ? "no exit within 2 s of SIGTERM, killed with SIGKILL"
					 : "stopped with SIGTERM",
			    err[0] != '\0' ? err : "(empty)");
		return;
	}
	if (a->term_signal != 0) {
		action_fail(op, BATON_ACTION_EFAILED, false, "%s: killed by signal %d (%s); stderr: %s",
			    op->target, a->term_signal, strsignal(a->term_signal),
			    err[0] != '\0' ? err : "(empty)");
		return;
	}
	switch (a->exit_status) {
	case 0:
		if (out[0] == '\0')
			action_outf(op, "exit 0 after %llu ms (no output)", (unsigned long long)ms);
		action_done(op, "%s", "");
		return;
	case EXEC_EX_TEMPFAIL:
		action_fail(op, BATON_ACTION_EFAILED, true, "%s: exit 75 (temporary failure): %s",
			    op->target, err[0] != '\0' ? err : "(no stderr)");
		return;
	case EXEC_EX_DATAERR:
		action_fail(op, BATON_ACTION_ESTALE, false,
			    "%s: exit 65 (the target holds a newer epoch than %llu): %s", op->target,
			    (unsigned long long)op->ctx.epoch, err[0] != '\0' ? err : "(no stderr)");
		return;
	default:
		action_fail(op, BATON_ACTION_EFAILED, false, "%s: exit %lld: %s", op->target,
			    (long long)a->exit_status, err[0] != '\0' ? err : "(no stderr)");
		return;
	}
}

static void exec_maybe_conclude(struct exec_attempt *a)
{
	if (a->exited && a->out.eof && a->err.eof)
		exec_conclude(a);
}

static void exec_eof_grace_cb(struct baton_action_op *op)
{
	exec_conclude((struct exec_attempt *)op);
}

/* --- handles ------------------------------------------------------------------------------ */

static void exec_pipe_closed_cb(uv_handle_t *h)
{
	struct exec_attempt *a = h->data;

	(void)action_release(&a->op);
}

static void exec_proc_closed_cb(uv_handle_t *h)
{
	struct exec_attempt *a = h->data;

	(void)action_release(&a->op);
}

static void exec_close_pipe(struct exec_capture *c)
{
	if (!c->open)
		return;
	c->open = false;
	uv_close((uv_handle_t *)&c->pipe, exec_pipe_closed_cb);
}

static void exec_signal(struct exec_attempt *a, int sig)
{
	/* the whole group: the command may have started children of its own */
	if (kill(-a->pid, sig) != 0)
		(void)uv_process_kill(&a->proc, sig);
}

/* Finishing (any outcome): close the pipes; the process handle is closed once the
 * child has been reaped, so kill it first if it still runs. */
static void exec_abort(struct baton_action_op *op)
{
	struct exec_attempt *a = (struct exec_attempt *)op;

	if (!a->reported && a->out.len > 0) {
		/* cancelled or past the deadline: still say what the command printed */
		char out[EXEC_CAPTURE + 1];

		a->reported = true;
		exec_text(out, sizeof(out), &a->out);
		action_outf(op, "%s", out);
	}
	exec_close_pipe(&a->out);
	exec_close_pipe(&a->err);
	if (!a->proc_open)
		return;
	if (a->exited) {
		a->proc_open = false;
		uv_close((uv_handle_t *)&a->proc, exec_proc_closed_cb);
	} else if (!a->kill_sent) {
		a->kill_sent = true;
		exec_signal(a, SIGKILL);
	}
}

static void exec_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
	struct exec_attempt *a = p->data;

	a->exited = true;
	a->exit_status = status;
	a->term_signal = term_signal;
	if (a->op.finishing) {
		a->proc_open = false;
		uv_close((uv_handle_t *)&a->proc, exec_proc_closed_cb);
		return;
	}
	if (a->out.eof && a->err.eof) {
		exec_conclude(a);
		return;
	}
	a->op.phase = "reading the command's output after its exit";
	action_wake_after(&a->op, EXEC_EOF_GRACE_MS, exec_eof_grace_cb);
}

static void exec_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct exec_attempt *a = h->data;

	(void)suggested;
	*buf = uv_buf_init(a->readbuf, sizeof(a->readbuf));
}

static void exec_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct exec_attempt *a = s->data;
	struct exec_capture *c = (uv_pipe_t *)s == &a->out.pipe ? &a->out : &a->err;

	if (n < 0) {
		/* UV_EOF, or a read error: either way nothing more comes */
		(void)uv_read_stop(s);
		c->eof = true;
		if (!a->op.finishing)
			exec_maybe_conclude(a);
		return;
	}
	if (n > 0) {
		size_t room = EXEC_CAPTURE - c->len, take = (size_t)n < room ? (size_t)n : room;

		memcpy(c->buf + c->len, buf->base, take);
		c->len += take;
		c->buf[c->len] = '\0';
		c->dropped += (uint64_t)n - take;
	}
}

/* --- timeouts ----------------------------------------------------------------------------- */

static void exec_kill_cb(struct baton_action_op *op)
{
	struct exec_attempt *a = (struct exec_attempt *)op;

	if (a->exited)
		return;
	a->kill_sent = true;
	op->phase = "waiting for the command to die after SIGKILL";
	exec_signal(a, SIGKILL);
}

static void exec_term_cb(struct baton_action_op *op)
{
	struct exec_attempt *a = (struct exec_attempt *)op;

	if (a->exited)
		return;
	a->term_sent = true;
	op->phase = "waiting for the command to stop after SIGTERM";
	exec_signal(a, SIGTERM);
	action_wake_after(op, a->kill_after_ms - a->term_after_ms, exec_kill_cb);
}

/* SIGTERM at the command's timeout, SIGKILL 2 s later; both before the attempt's
 * deadline (with a short deadline, the grace shrinks to half of it). */
static void exec_plan_timeouts(struct exec_attempt *a, uint64_t cmd_timeout)
{
	unsigned total = a->op.timeout_ms, grace = EXEC_KILL_GRACE_MS, term;

	if (total < 2 * grace + 100)
		grace = total / 2;
	term = total - grace - (total > grace + 50 ? 50 : 0);
	if (cmd_timeout > 0 && cmd_timeout < term)
		term = (unsigned)cmd_timeout;
	if (term == 0)
		term = 1;
	a->term_after_ms = term;
	a->kill_after_ms = term + grace;
}

/* --- start ---------------------------------------------------------------------------------- */

static void exec_set_env(struct exec_attempt *a, int i, const char *name, const char *value)
{
	char *buf = i < 8 ? a->env_buf[i] : a->path_buf;
	size_t len = i < 8 ? sizeof(a->env_buf[i]) : sizeof(a->path_buf);

	(void)snprintf(buf, len, "%s=%s", name, value);
	a->envp[i] = buf;
}

static int exec_start(const struct baton_action_env *env, const struct baton_action_params *p,
		      const struct baton_action_ctx *ctx, baton_action_cb cb, void *data,
		      struct baton_action_op **ret_op)
{
	struct exec_attempt *a;
	struct baton_action_op *op;
	uv_process_options_t po = {0};
	uv_stdio_container_t stdio[3];
	char err[256], num[24];
	const char *path, *v;
	uint64_t cmd_timeout = 0;
	int rv, n = 0;

	op = action_op_new(sizeof(*a), &baton_action_driver_exec, env, p, ctx, cb, data);
	if (op == NULL)
		return -ENOMEM;
	a = (struct exec_attempt *)op;
	action_op_begin(op);
	if (ret_op != NULL)
		*ret_op = op;
	op->abort_fn = exec_abort;
	op->phase = "starting the command";
	(void)snprintf(op->target, sizeof(op->target), "exec %s",
		       action_param_or(&op->params, "command", "?"));
	if (exec_check(&op->params, true, err, sizeof(err)) != 0) {
		action_fail(op, -EINVAL, false, "%s", err);
		return 0;
	}
	v = baton_action_param(&op->params, "timeout_ms");
	if (v != NULL)
		(void)action_parse_u64(v, 1, 86400000, &cmd_timeout);
	exec_plan_timeouts(a, cmd_timeout);

	a->argv[n++] = (char *)baton_action_param(&op->params, "command");
	for (int i = 1; i <= EXEC_MAX_ARGS; i++) {
		char key[8];

		(void)snprintf(key, sizeof(key), "arg_%d", i);
		v = baton_action_param(&op->params, key);
		if (v == NULL)
			break;
		a->argv[n++] = (char *)v;
	}
	a->argv[n] = NULL;

	(void)snprintf(num, sizeof(num), "%llu", (unsigned long long)op->ctx.epoch);
	exec_set_env(a, 0, "BATON_EPOCH", num);
	exec_set_env(a, 1, "BATON_FROM", op->ctx.from);
	exec_set_env(a, 2, "BATON_TO", op->ctx.to);
	exec_set_env(a, 3, "BATON_STEP", op->ctx.step);
	exec_set_env(a, 4, "BATON_GROUP", op->ctx.group);
	exec_set_env(a, 5, "BATON_TRANSITION", op->ctx.transition);
	exec_set_env(a, 6, "BATON_DRILL", op->ctx.drill ? "1" : "0");
	(void)snprintf(num, sizeof(num), "%u", op->ctx.attempt);
	exec_set_env(a, 7, "BATON_ATTEMPT", num);
	path = getenv("PATH");
	exec_set_env(a, 8, "PATH",
		     path != NULL && path[0] != '\0' ? path : "/usr/local/bin:/usr/bin:/bin");
	a->envp[9] = NULL;

	/* Pipes first: they are closed (and released) by exec_abort() whatever happens. */
	(void)uv_pipe_init(op->loop, &a->out.pipe, 0);
	(void)uv_pipe_init(op->loop, &a->err.pipe, 0);
	a->out.pipe.data = a;
	a->err.pipe.data = a;
	a->out.open = a->err.open = true;
	action_hold(op);
	action_hold(op);

	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&a->out.pipe;
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)&a->err.pipe;
	po.exit_cb = exec_exit_cb;
	po.file = a->argv[0];
	po.args = a->argv;
	po.env = a->envp;
	po.cwd = "/";
	po.flags = UV_PROCESS_DETACHED; /* setsid(): a process group to signal on timeout */
	po.stdio_count = 3;
	po.stdio = stdio;
	a->proc.data = a;
	rv = uv_spawn(op->loop, &a->proc, &po);
	/* since libuv 1.24 the handle is initialised even when spawning fails */
	a->proc_open = true;
	action_hold(op);
	if (rv != 0) {
		a->exited = true; /* nothing to reap: close at once */
		action_fail(op, rv, false, "%s: cannot start: %s", op->target, uv_strerror(rv));
		return 0;
	}
	a->pid = a->proc.pid;
	a->spawned_at = uv_now(op->loop);
	op->phase = "running the command";
	if (uv_read_start((uv_stream_t *)&a->out.pipe, exec_alloc_cb, exec_read_cb) != 0)
		a->out.eof = true; /* UNTESTED */
	if (uv_read_start((uv_stream_t *)&a->err.pipe, exec_alloc_cb, exec_read_cb) != 0)
		a->err.eof = true; /* UNTESTED */
	action_wake_after(op, a->term_after_ms, exec_term_cb);
	return 0;
}

static void exec_cancel(struct baton_action_op *op)
{
	action_cancel(op);
}

const struct baton_action_driver baton_action_driver_exec = {
	.name = "exec",
	.idempotent = false, /* per step: parameter `idempotent` (registry.h) */
	.validate = exec_validate,
	.start = exec_start,
	.cancel = exec_cancel,
};
