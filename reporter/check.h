/* SPDX-License-Identifier: MIT */
/* One run of one check on the loop: http (lib/http_client.h), tcp
 * (uv_tcp_connect), postgres (lib/pg.h), exec (uv_spawn). Private to reporter/.
 *
 * Contract: rep_check_start() returns 0 and later calls the check's @done_cb
 * exactly once, from a libuv callback (never from inside rep_check_start or
 * rep_check_cancel), after every handle of the run is closed; or returns < 0
 * (out of memory) and never calls it. Each run has a deadline of @timeout_ms;
 * past it the work is abandoned (HTTP call cancelled, connection dropped,
 * process group SIGKILLed) and the result says "timed out after N ms". */
#ifndef BATON_REPORTER_CHECK_H
#define BATON_REPORTER_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"
#include "lib/http_client.h"

#define REP_DETAIL_LEN 200
#define REP_PASSWORD_LEN 256

struct rep_check_result {
	bool ok;
	char detail[REP_DETAIL_LEN];   /* one line, for the report and the log */
	uint64_t latency_ms;           /* start to result */
	const char *pg_role;           /* postgres: "primary" / "replica"; else NULL */
	bool has_lag;                  /* postgres: lag_bytes/lag_ms are meaningful */
	uint64_t lag_bytes, lag_ms;
};

struct rep_check;
struct rep_run;
typedef void (*rep_check_done_cb)(struct rep_check *c);

/* A configured check; lives as long as the reporter. */
struct rep_check {
	const struct baton_check_config *cfg;
	uv_loop_t *loop;
	struct baton_http_client *http;   /* for http checks */
	unsigned timeout_ms;
	char password[REP_PASSWORD_LEN];  /* postgres: from password_file, "" = none */
	char primary_password[REP_PASSWORD_LEN];
	rep_check_done_cb done_cb;
	void *data;                       /* for the owner */
	struct rep_check_result res;      /* of the last finished run */
	struct rep_run *run;              /* the run in progress, or NULL */
};

int rep_check_start(struct rep_check *c);

/* Abandon the run in progress (if any); its callback still fires, with
 * ok = false and detail "cancelled". */
void rep_check_cancel(struct rep_check *c);

#endif
