/* SPDX-License-Identifier: MIT */
/* Action drivers: one interface for everything a failover plan touches
 * (DESIGN.md "Plans and actions"). The executor never sees HTTP or SQL; a
 * driver never sees Raft.
 *
 * A step of a plan names a driver and gives it string parameters (already
 * templated by the executor: "{to.pg}" -> the value). The driver runs ONE
 * attempt; the executor owns retries, backoff and the overall step timeout,
 * and commits every attempt's result to the log.
 *
 * Every attempt receives the context, whose epoch is the fencing token: a
 * driver stores it wherever the target can (a table, a DNS TXT record, an
 * annotation) and refuses to act when the target already holds a HIGHER
 * epoch (BATON_ACTION_ESTALE). A lower or equal stored epoch is overwritten
 * with ours. Drill attempts (ctx->drill) must leave production untouched:
 * each driver documents what it does instead. */
#ifndef BATON_ACTION_H
#define BATON_ACTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "http_client.h"

#define BATON_ACTION_MAX_PARAMS 16
#define BATON_ACTION_KEY_LEN 32
#define BATON_ACTION_VALUE_LEN 256

/* Results besides 0 and -errno. */
#define BATON_ACTION_ESTALE (-4201)   /* the target holds a higher epoch: we are fenced off */
#define BATON_ACTION_EFAILED (-4202)  /* the target said no (SQL error, HTTP 4xx/5xx, exit != 0) */

struct baton_action_param {
	char key[BATON_ACTION_KEY_LEN];     /* [a-z0-9_] */
	char value[BATON_ACTION_VALUE_LEN];
};

struct baton_action_params {
	struct baton_action_param items[BATON_ACTION_MAX_PARAMS];
	unsigned n;
};

/* NULL if absent. */
const char *baton_action_param(const struct baton_action_params *p, const char *key);

struct baton_action_ctx {
	uint64_t epoch;           /* fencing token */
	const char *group;
	const char *from;         /* region losing the baton ("" for none) */
	const char *to;           /* region getting it */
	const char *step;         /* step name */
	const char *transition;   /* transition id */
	bool drill;
	unsigned attempt;         /* 1, 2, ... */
	unsigned timeout_ms;      /* this attempt's deadline; the driver must finish (or fail) by then */
};

struct baton_action_result {
	int status;               /* 0, -errno, BATON_ACTION_ESTALE, BATON_ACTION_EFAILED */
	bool retryable;           /* worth another attempt (timeouts, connection errors) */
	char error[256];          /* for the history: what failed, where, with the target's own words */
	char output[1024];        /* for the history: what was done (e.g. "promoted; epoch 7 stored") */
};

/* Shared resources drivers may use. */
struct baton_action_env {
	uv_loop_t *loop;
	struct baton_http_client *http;
};

struct baton_action_op;  /* one running attempt (driver-private) */
typedef void (*baton_action_cb)(void *data, const struct baton_action_result *res);

struct baton_action_driver {
	const char *name;        /* "postgres", "powerdns", "kubernetes", "route53", "http", "exec" */
	/* Safe to run again after an attempt whose outcome is unknown (a new
	 * leader resumes a step that was running when the old one died). */
	bool idempotent;
	/* Check @p at config load: unknown or missing parameters, bad values.
	 * Parameters may still contain "{...}" templates; check their shape
	 * only where a template cannot appear. Error names the parameter. */
	int (*validate)(const struct baton_action_params *p, char *errbuf, size_t errlen);
	/* Start one attempt. Returns 0 and calls @cb exactly once later (never
	 * from inside start), or returns < 0 and never calls @cb. */
	int (*start)(const struct baton_action_env *env, const struct baton_action_params *p,
		     const struct baton_action_ctx *ctx, baton_action_cb cb, void *data,
		     struct baton_action_op **ret_op);
	/* Abort a running attempt; @cb then fires with -ECANCELED (asynchronously). */
	void (*cancel)(struct baton_action_op *op);
};

/* The driver called @name, or NULL. */
const struct baton_action_driver *baton_action_driver(const char *name);
/* "postgres, powerdns, ..." for error messages. */
const char *baton_action_driver_names(void);

#endif
