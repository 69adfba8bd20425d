/* SPDX-License-Identifier: MIT */
/* Detection, leases and automatic decisions on a running node (coord.c).
 * Called from the node's tick; state lives in struct baton_node. */
#ifndef BATON_COORD_H
#define BATON_COORD_H

#include <stdbool.h>
#include <stdint.h>

#include "decide.h"

struct baton_node;

/* Per group, on every node. */
struct baton_coord_group {
	/* leader bookkeeping (monotonic ms on this node) */
	uint64_t last_grant_ms;       /* last lease renewal granted to the active region */
	uint64_t last_grant_epoch;    /* ... and the epoch it was granted at (0: none this term) */
	/* the executor's wait for the region taking over to hold its lease (exec.c) */
	uint64_t holder_wait_epoch, holder_wait_since_ms;
	uint64_t down_since_ms;       /* active region objectively down since, 0 = up */
	bool revoked;                 /* renewals refused: the active region is objectively down */
	char revoked_region[BATON_NAME_LEN];
	bool proposing;               /* a transition/freeze proposal is in flight */
	char last_decision[192];      /* decision|rule|target last written to the history */
	struct baton_decide_output decision;
	/* holder (this node's region is active) */
	bool holder;
	bool lease_valid;             /* granted at least once since holding */
	uint64_t lease_until_ms;      /* mono */
	uint64_t last_renew_sent_ms;
	bool renewing;
	uint64_t held_epoch;
	bool fenced;
	uint64_t fenced_at_wall_ms;
	char fence_reason[160];
	uint64_t renewals_ok, renewals_refused, renewals_failed;
	/* unfence (exec.c): the self-fence steps ran, so a lease granted again must
	 * undo them; a self-fence asked for while an unfence step runs waits for it */
	bool fence_steps_ran;
	bool unfencing;
	bool fence_deferred;
	char deferred_reason[160];
};

void baton_coord_tick(struct baton_node *n);
/* Fill a decision input for group @g (regions array must hold BATON_MAX_REGIONS). */
void baton_coord_decide_input(struct baton_node *n, unsigned g, struct baton_decide_region *regions,
			      struct baton_decide_input *in);
/* Whether this node's region may take writes for group @g right now: it holds
 * the baton, its lease is valid, and it has not fenced itself. */
bool baton_coord_may_act(struct baton_node *n, unsigned g, const char **why);
/* The observer's verdict changed (from detect.c). */
void baton_coord_observed(void *data, const char *region, bool down, const char *detail);
/* When the lease wait for group @g ends, on this (leader) node's clock. */
uint64_t baton_coord_lease_clear_at(struct baton_node *n, unsigned g);
uint64_t baton_coord_lease_bound_ms(const struct baton_node *n);
/* Leader: whether the active region of group @group renewed its lease at
 * @epoch with this leader (so its coordinator knows it holds the baton and
 * fences itself if it is cut off). */
bool baton_coord_holder_has_lease(struct baton_node *n, const char *group, uint64_t epoch);
/* Group @group's index in this node's config, or -1. */
int baton_coord_group_index(struct baton_node *n, const char *group);
/* The holder's duties for every group, outside the tick (right after the
 * active region changed, so its first renewal goes out at once). */
void baton_coord_holder_kick(struct baton_node *n);

#endif
