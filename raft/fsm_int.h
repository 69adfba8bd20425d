/* SPDX-License-Identifier: MIT */
/* Internals shared by the FSM's files: fsm.c (apply, snapshot, the state's own
 * commands) and fsm_ops.c (signed operator commands and recovery). Not for use
 * outside raft/. */
#ifndef BATON_FSM_INT_H
#define BATON_FSM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsm.h"
#include "util.h"

#define MAX_EVENTS_PER_APPLY 8
struct apply_ctx {
	struct baton_fsm *f;
	const Baton__Command *cmd;
	uint64_t index;
	struct baton_fsm_result *res;
	Baton__HistoryEvent events[MAX_EVENTS_PER_APPLY];
	char texts[MAX_EVENTS_PER_APPLY][BATON_TEXT_MAX];
	char bys[MAX_EVENTS_PER_APPLY][BATON_NAME_MAX + 40]; /* copies: callers pass stack strings */
	unsigned n_events;
};

#define CPY(dst, src) baton_strlcpy((dst), (src) != NULL ? (src) : "", sizeof(dst))

/* Record a refusal in the result; returns @code. */
int baton_fsm_reject(struct apply_ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Append a history event for this entry (deterministic: seq from the state, time
 * from the proposer). */
void baton_fsm_event(struct apply_ctx *c, const char *kind, const char *outcome, uint64_t epoch, const char *by,
		     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
struct baton_group_state *baton_fsm_find_group(struct baton_fsm_state *st, const char *name);
struct baton_region_state *baton_fsm_find_region(struct baton_group_state *g, const char *name);
struct baton_step_state *baton_fsm_find_step(struct baton_transition_state *t, const char *name);
bool baton_fsm_fits(const char *s, size_t n);
const char *baton_fsm_step_state_name(int s);
int baton_fsm_need_group(struct apply_ctx *c, struct baton_group_state **ret);
int baton_fsm_apply_freeze(struct apply_ctx *c, const Baton__Freeze *fr);
int baton_fsm_apply_transition_begin(struct apply_ctx *c, const Baton__TransitionBegin *b);

/* fsm_ops.c */
void baton_fsm_nonce_add(struct baton_fsm_state *st, const uint8_t *nonce, size_t len, uint64_t expires);
int baton_fsm_apply_operator(struct apply_ctx *c, const Baton__OperatorCommand *oc);
int baton_fsm_apply_recovery(struct apply_ctx *c, const Baton__Recovery *r);
int baton_fsm_apply_rejoin_result(struct apply_ctx *c, const Baton__RejoinResult *rr);

#endif
