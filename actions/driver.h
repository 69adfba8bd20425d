/* SPDX-License-Identifier: MIT */
/* What the drivers in actions/ share; private to this folder (the executor uses
 * action.h and registry.h only).
 *
 * One attempt is a struct baton_action_op, embedded as the FIRST member of each
 * driver's own attempt struct (allocated by action_op_new() with the driver's
 * size). It owns two timers (the attempt's deadline and a "wake me" timer for
 * back-off and grace periods) and knows which sub-operation is in flight (one
 * HTTP call, one libpq operation, one file read, or something the driver holds
 * itself, e.g. a child process).
 *
 * Finishing is one path: action_fail()/action_done() record the result once,
 * stop the timers, abort whatever is in flight and wait for its callback; when
 * nothing is pending the timers are closed, and from the last close callback
 * the executor's callback runs and the attempt is freed. So the callback is
 * never synchronous (a uv_close callback never runs inside start()), and no
 * handle or request outlives the attempt. */
#ifndef BATON_ACTIONS_DRIVER_H
#define BATON_ACTIONS_DRIVER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "action.h"
#include "http_client.h"
#include "pg.h"

#define ACTION_DEFAULT_TIMEOUT_MS 30000u /* ctx->timeout_ms == 0 */
#define ACTION_TARGET_LEN 128
#define ACTION_FILE_MAX 4096             /* secrets and credentials files */

/* One accepted parameter of a driver. A NULL name ends a table. */
struct action_key {
	const char *name;
	bool required;
};

struct baton_action_op;
typedef void (*action_http_fn)(struct baton_action_op *op, const struct baton_http_result *r);
typedef void (*action_pg_fn)(struct baton_action_op *op, const struct baton_pg_result *r);
typedef void (*action_file_fn)(struct baton_action_op *op, const char *text, size_t len);
typedef void (*action_step_fn)(struct baton_action_op *op);

struct baton_action_op {
	const struct baton_action_driver *driver;
	uv_loop_t *loop;
	struct baton_http_client *http;
	baton_action_cb cb;
	void *cb_data;
	struct baton_action_params params;       /* a copy */
	struct baton_action_ctx ctx;             /* a copy; strings point into ctx_buf */
	char ctx_buf[5][BATON_ACTION_VALUE_LEN];
	char target[ACTION_TARGET_LEN];          /* "postgres 127.0.0.1:5433": message prefix */
	const char *phase;                       /* "reading the epoch": for the timeout text */
	unsigned timeout_ms;                     /* the attempt's, after the default */
	uint64_t deadline;                       /* in uv_now() time */
	uv_timer_t deadline_timer;
	uv_timer_t wake_timer;
	action_step_fn wake_fn;
	/* the sub-operation in flight (at most one of each) */
	struct baton_http_call *call;
	action_http_fn http_fn;
	struct baton_pg_op *pg;
	action_pg_fn pg_fn;
	uv_fs_t fs;
	bool fs_busy;
	uv_file fs_fd;
	char fs_buf[ACTION_FILE_MAX + 1];
	size_t fs_len;
	int fs_err;
	char fs_path[BATON_ACTION_VALUE_LEN];
	action_file_fn fs_fn;
	/* driver hooks (may be NULL) */
	void (*abort_fn)(struct baton_action_op *op);   /* finishing: stop driver-held work */
	void (*cleanup_fn)(struct baton_action_op *op); /* just before free() */
	unsigned pending;                        /* callbacks still due to us */
	unsigned open_timers;
	bool finishing;
	bool closing;
	struct baton_action_result res;
};

/* --- parameters (params.c) ------------------------------------------------------------- */

/* Unknown keys, duplicates, missing or empty required ones. The error names the
 * key and, for an unknown one, lists the driver's keys. */
int action_check_keys(const char *driver, const struct baton_action_params *p,
		      const struct action_key *keys, char *err, size_t errlen);
/* @p's value for @key, or @def when absent. */
const char *action_param_or(const struct baton_action_params *p, const char *key,
			    const char *def);
/* The value still holds an executor template ("{to.pg}"): check it at start(). */
bool action_templated(const char *v);
/* Strict decimal in [min, max]. */
int action_parse_u64(const char *v, uint64_t min, uint64_t max, uint64_t *ret);
/* "true"/"false" (also yes/no, 1/0, on/off). */
int action_parse_bool(const char *v, bool *ret);
/* @src (@len bytes, or up to NUL if len == SIZE_MAX) as one printable line of at
 * most @n - 1 bytes, "..." when cut: quoting a target's words in a message. */
void action_excerpt(char *dst, size_t n, const char *src, size_t len);
/* http:// or https:// and no blanks, quotes or control characters. */
bool action_url_ok(const char *url);
/* A DNS name: labels of [A-Za-z0-9_-], dots between, optional final dot, <= 253. */
bool action_dns_name_ok(const char *name);

/* @src with a final dot ("app.example" -> "app.example."). */
void action_fqdn(char *dst, size_t n, const char *src);
/* @fqdn is @zone or below it (both with final dots; case-insensitive). */
bool action_name_in_zone(const char *fqdn, const char *zone);
/* The epoch record's TXT content: "\"epoch=7 region=us-east\"" (quotes included). */
void action_epoch_txt(char *dst, size_t n, uint64_t epoch, const char *region);
/* The epoch in such a TXT content, if any. */
bool action_epoch_from_txt(const char *content, uint64_t *ret);
/* @type is A, AAAA or CNAME and @list ("a, b") holds valid records of it. */
int action_check_records(const char *driver, const char *type, const char *list, char *err,
			 size_t errlen);
/* The next item of a comma-separated list into @dst; 0 at the end. */
int action_next_record(const char **cursor, char *dst, size_t n);

/* --- the attempt (op.c) ----------------------------------------------------------------- */

/* Allocate a driver attempt of @size bytes (>= sizeof(struct baton_action_op)),
 * zeroed, with copies of @p and @ctx. NULL on bad arguments or no memory. */
struct baton_action_op *action_op_new(size_t size, const struct baton_action_driver *d,
				      const struct baton_action_env *env,
				      const struct baton_action_params *p,
				      const struct baton_action_ctx *ctx, baton_action_cb cb,
				      void *data);
/* Start the deadline. From here on every failure goes through action_fail(). */
void action_op_begin(struct baton_action_op *op);
/* ms left before the deadline (>= 1 while not past it, 0 once past). */
unsigned action_remaining_ms(struct baton_action_op *op);

/* Record the outcome (the first one wins) and finish. Formats into res.error. */
void action_fail(struct baton_action_op *op, int status, bool retryable, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Success; formats into res.output (appended to what action_outf() wrote). */
void action_done(struct baton_action_op *op, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append to res.output (what was done so far, kept on failure too). */
void action_outf(struct baton_action_op *op, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The executor's cancel(). */
void action_cancel(struct baton_action_op *op);

/* Sub-operations. Each calls @fn later unless the attempt finishes first (then
 * the sub-operation is aborted and @fn is not called). A failure to start fails
 * the attempt (the caller just returns). */
void action_http(struct baton_action_op *op, const struct baton_http_call_opts *o,
		 action_http_fn fn);
void action_pg_query(struct baton_action_op *op, const char *const *keys,
		     const char *const *values, const char *sql, const char *const *params,
		     unsigned timeout_ms, action_pg_fn fn);
void action_pg_script(struct baton_action_op *op, const char *const *keys,
		      const char *const *values, const char *const *stmts, unsigned timeout_ms,
		      action_pg_fn fn);
/* Read a small file (<= ACTION_FILE_MAX bytes) through the libuv fs API; @fn gets
 * its text with trailing blanks and newlines removed. */
void action_read_file(struct baton_action_op *op, const char *path, action_file_fn fn);
/* Call @fn after @ms (never past the deadline: the deadline fires first). */
void action_wake_after(struct baton_action_op *op, uint64_t ms, action_step_fn fn);
/* For driver-held work (a process, a getaddrinfo): pending++ ... and when its
 * callback comes, action_release(): false means the attempt is finishing and the
 * driver must not go on. */
void action_hold(struct baton_action_op *op);
bool action_release(struct baton_action_op *op);

/* Classify a finished HTTP call that did not get an expected status: transport
 * errors and 408/429/5xx are retryable; the message quotes status and body. */
void action_http_fail(struct baton_action_op *op, const char *what,
		      const struct baton_http_result *r);

/* --- the drivers ---------------------------------------------------------------------- */

extern const struct baton_action_driver baton_action_driver_postgres;
extern const struct baton_action_driver baton_action_driver_powerdns;
extern const struct baton_action_driver baton_action_driver_kubernetes;
extern const struct baton_action_driver baton_action_driver_route53;
extern const struct baton_action_driver baton_action_driver_http;
extern const struct baton_action_driver baton_action_driver_exec;

#endif
