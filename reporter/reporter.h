/* SPDX-License-Identifier: MIT */
/* baton-reporter's rounds: run every check at once, build and sign a
 * HealthReport (lib/report.h), POST it to the first coordinator that takes
 * it. One libuv loop, no threads; see docs/reporter.md.
 *
 * Round: all checks start together, each with timeout_ms -> when the last one
 * is done: body (critical = a failed check marked critical), seq =
 * max(last + 1, wall clock in us), sent_at_ms = wall clock, sign -> POST
 * application/x-protobuf to coordinators[0]/v1/health; on a transport error,
 * timeout or non-2xx try the next coordinator, in the same round -> done.
 * A new round starts every interval_ms; a round still running at a tick makes
 * the reporter skip that tick (rounds never overlap).
 *
 * Logging (sys=reporter, sys=check): once per change of state, never per
 * round: a check starts failing or recovers, the report turns critical or
 * not, the coordinator that accepts reports changes or none does, rounds
 * start or stop overrunning the interval. Nothing is logged in once mode. */
#ifndef BATON_REPORTER_H
#define BATON_REPORTER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "check.h"
#include "config.h"
#include "lib/http_client.h"
#include "lib/report.h"

#define REP_ERR_LEN 160

/* What one round did. Valid during the round callback. */
struct baton_reporter_round {
	uint64_t number;                 /* 1, 2, ... */
	uint64_t seq, sent_at_ms;
	bool all_ok, critical;
	bool signed_ok;                  /* false: signing failed, nothing was sent */
	int delivered_to;                /* index into cfg->coordinators, -1 = nobody accepted */
	long status;                     /* the accepting coordinator's HTTP status */
	/* Why coordinators[i] did not take it ("" if it was not tried, or took it). */
	char errors[BATON_RCFG_MAX_COORDINATORS][REP_ERR_LEN];
};

struct baton_reporter;
typedef void (*baton_reporter_round_cb)(struct baton_reporter *r,
					const struct baton_reporter_round *round);

struct baton_reporter {
	void *data;                      /* for the owner */
	/* private */
	uv_loop_t *loop;
	const struct baton_reporter_config *cfg;
	uint8_t key[BATON_REPORT_KEY_LEN];
	char key_id[BATON_REPORT_KEY_ID_LEN];
	struct baton_http_client http;
	uv_timer_t *tick;                /* heap: see baton_reporter_init() */
	struct rep_check checks[BATON_RCFG_MAX_CHECKS];
	unsigned checks_running;
	bool round_running, once, stopping;
	uint64_t last_seq;
	struct baton_reporter_round cur;
	void *report;                    /* signed bytes of the current round */
	size_t report_len;
	unsigned coord;                  /* coordinator being tried */
	struct baton_http_call *post;
	baton_reporter_round_cb round_cb;
	/* state behind "log once per change" */
	bool have_prev, prev_critical;
	bool prev_ok[BATON_RCFG_MAX_CHECKS];
	int prev_delivered;
	bool overrunning;
	uint64_t skipped_this_round, skipped_total;
	unsigned pending_closes;
	void (*close_cb)(struct baton_reporter *r);
};

/* Read everything the reporter reads from disk besides the config: the key
 * file and every password_file (blocking reads: start-up and --check-config
 * only). Returns 0 or a negative errno with @err naming the file. */
int baton_reporter_check_files(const struct baton_reporter_config *cfg, char *err, size_t errlen);

/* Load the key and password files, set up the HTTP client and the timer.
 * @cfg must outlive @r. Returns 0, or < 0 with @err saying why; on failure
 * nothing is left on the loop (the caller may free @r at once). */
int baton_reporter_init(struct baton_reporter *r, uv_loop_t *loop,
			const struct baton_reporter_config *cfg, char *err, size_t errlen);

/* Start rounds: the first one now, then every interval_ms. @cb (may be NULL)
 * runs after each round. */
int baton_reporter_start(struct baton_reporter *r, baton_reporter_round_cb cb);

/* Run a single round (soon, from the loop) and call @cb once at its end.
 * Nothing is logged. */
int baton_reporter_run_once(struct baton_reporter *r, baton_reporter_round_cb cb);

/* Stop: no new rounds; checks and POSTs in flight are cancelled, and a round
 * cut short this way calls no round callback. @cb (may be
 * NULL) runs once every handle is closed; @r may be freed from then on. The
 * loop must keep running until then. Call once. */
void baton_reporter_close(struct baton_reporter *r, void (*cb)(struct baton_reporter *r));

/* The round as text, for --once: a report line, one line per check, and where
 * it went. */
void baton_reporter_print_round(FILE *f, const struct baton_reporter *r,
				const struct baton_reporter_round *round);

#endif
