/* SPDX-License-Identifier: MIT */
/* The decision engine of DESIGN.md "Decisions": pure code, no I/O, no clock.
 *
 * The leader fills a baton_decide_input from the FSM state, its own
 * monotonic clock and the lease tracker, and gets back what to do and, when
 * it does nothing, the rule that stopped it. The same candidate rules give
 * each standby's readiness for /v1/status. */
#ifndef BATON_DECIDE_H
#define BATON_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum baton_decision {
	BATON_DECIDE_NONE,      /* the active region is fine */
	BATON_DECIDE_WAIT,      /* a failover is coming once a timer runs out (failover_after, lease) */
	BATON_DECIDE_BLOCKED,   /* a rule forbids failing over now */
	BATON_DECIDE_FAILOVER,  /* fail over to out.target now */
	BATON_DECIDE_FREEZE,    /* too many automatic failovers: freeze the group */
	BATON_DECIDE_NR
};
const char *baton_decision_name(int d);

struct baton_decide_region {
	const char *name;
	unsigned priority;
	bool down;              /* objectively down */
	unsigned down_votes;    /* observers that see it down */
	bool critical;          /* its reporters report a critical failure */
	bool reporters_fresh;   /* a report was accepted within reporter_timeout_ms */
	bool has_lag;
	uint64_t lag_bytes, lag_ms;
};

struct baton_decide_input {
	const char *active;               /* "" = none */
	bool frozen;
	bool transition_running;
	const struct baton_decide_region *regions;
	unsigned n_regions;
	uint64_t now_ms;                  /* leader monotonic clock */
	uint64_t active_down_since_ms;    /* when the active region became objectively down (mono), 0 = not down */
	uint64_t lease_clear_at_ms;       /* mono time after which the old lease has surely expired */
	uint64_t now_wall_ms;             /* for cooldown and flap, against the committed times below */
	const uint64_t *auto_failovers_wall_ms;
	unsigned n_auto;
	const struct baton_failover_config *cfg;
};

struct baton_decide_output {
	int decision;                     /* enum baton_decision */
	char target[BATON_NAME_LEN];
	const char *rule;                 /* "", "failover_after", "lease", "frozen", "transition_running",
					   * "cooldown", "flapping", "no_candidate" */
	char text[384];                   /* a sentence for the history and the operator */
};

void baton_decide(const struct baton_decide_input *in, struct baton_decide_output *out);

/* The lease wait (see the argument in coord.c): how long the leader waits,
 * on its own clock, after the last grant (or its own election) before it may
 * promote another region: ttl * (1 + drift) + margin. */
uint64_t baton_lease_wait_ms(uint64_t ttl_ms, uint64_t max_drift_percent, uint64_t margin_ms);
/* The earliest leader-clock time at which promotion may start. */
uint64_t baton_lease_clear_at(uint64_t last_grant_ms, uint64_t leader_since_ms, uint64_t ttl_ms,
			      uint64_t max_drift_percent, uint64_t margin_ms);

/* Whether @r could take over now; if not, the rule ("active", "priority_zero",
 * "down", "critical", "no_reporters", "lag_bytes", "lag_ms") and a reason. */
bool baton_decide_candidate(const struct baton_decide_input *in, const struct baton_decide_region *r,
			    const char **ret_rule, char *why, size_t whylen);

#endif
