/* SPDX-License-Identifier: MIT */
/* The FSM's signed operator commands (switchover, failover, failback, drill,
 * freeze, retry/skip a step, approve, reverse), the replay set and pending
 * approvals, rejoin results, and the record of a forced reconfiguration. Same
 * rules as fsm.c: deterministic, refusals fill the result and never fail apply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsm_int.h"
#include "opcmd.h"

bool baton_fsm_nonce_seen(const struct baton_fsm *f, const uint8_t *nonce, size_t len)
{
	for (unsigned i = 0; i < f->st->n_nonces; i++)
		if (f->st->nonces[i].len == len && memcmp(f->st->nonces[i].nonce, nonce, len) == 0)
			return true;
	return false;
}

const struct baton_pending *baton_fsm_pending(const struct baton_fsm *f, const char *id)
{
	for (unsigned i = 0; id != NULL && i < f->st->n_pending; i++)
		if (strcmp(f->st->pending[i].id, id) == 0)
			return &f->st->pending[i];
	return NULL;
}

void baton_fsm_nonce_add(struct baton_fsm_state *st, const uint8_t *nonce, size_t len, uint64_t expires)
{
	unsigned slot = st->n_nonces;

	if (slot == BATON_FSM_MAX_NONCES) {
		/* Full: reuse the entry that expires first (deterministic). */
		slot = 0;
		for (unsigned i = 1; i < st->n_nonces; i++)
			if (st->nonces[i].expires_at_ms < st->nonces[slot].expires_at_ms)
				slot = i;
	} else {
		st->n_nonces++;
	}
	memcpy(st->nonces[slot].nonce, nonce, len);
	st->nonces[slot].len = len;
	st->nonces[slot].expires_at_ms = expires;
}

static int op_transition(struct apply_ctx *c, int op, const Baton__CommandBody *b, const char *by,
			 const Baton__OperatorCommand *oc)
{
	struct baton_group_state *g;
	Baton__TransitionBegin tb = BATON__TRANSITION_BEGIN__INIT;
	const char *to = baton_op_arg(b, "to"), *reason = baton_op_arg(b, "reason");
	char why[BATON_TEXT_MAX];
	int rv = baton_fsm_need_group(c, &g);

	if (rv != 0)
		return rv;
	char to_buf[BATON_NAME_MAX], from_buf[BATON_NAME_MAX];
	/* Copies: apply_transition_begin overwrites g->previous and g->active
	 * before it reads from/to. */
	if (op == BATON_OP_FAILBACK && (to == NULL || to[0] == '\0'))
		to = g->previous;
	baton_strlcpy(to_buf, to != NULL ? to : "", sizeof to_buf);
	baton_strlcpy(from_buf, g->active, sizeof from_buf);
	to = to_buf;
	if (to == NULL || to[0] == '\0')
		return baton_fsm_reject(c, BATON_FSM_INVALID, "%s needs a target region%s", baton_op_name(op),
			      op == BATON_OP_FAILBACK ? " (there was no earlier active region)" : " (--to)");
	snprintf(why, sizeof why, "%s by %s%s%s", baton_op_name(op), by, reason ? ": " : "", reason ? reason : "");
	tb.kind = op == BATON_OP_SWITCHOVER ? BATON__TRANSITION_KIND__TRANSITION_SWITCHOVER
		  : op == BATON_OP_FAILBACK ? BATON__TRANSITION_KIND__TRANSITION_FAILBACK
		  : op == BATON_OP_DRILL    ? BATON__TRANSITION_KIND__TRANSITION_DRILL
					    : BATON__TRANSITION_KIND__TRANSITION_FAILOVER;
	tb.from = from_buf;
	tb.to = (char *)to;
	tb.expect_epoch = b->has_expect_epoch ? b->expect_epoch : g->epoch;
	tb.reason = why;
	tb.by = (char *)by;
	tb.has_drill = true;
	tb.drill = op == BATON_OP_DRILL;
	tb.n_steps = oc->n_steps;
	tb.steps = oc->steps;
	return baton_fsm_apply_transition_begin(c, &tb);
}

static int op_step(struct apply_ctx *c, int op, const Baton__CommandBody *b, const char *by)
{
	struct baton_group_state *g;
	struct baton_step_state *s;
	const char *name = baton_op_arg(b, "step"), *tid = baton_op_arg(b, "transition");
	int rv = baton_fsm_need_group(c, &g);

	if (rv != 0)
		return rv;
	if (!g->has_transition || (tid != NULL && tid[0] && strcmp(tid, g->tr.id) != 0))
		return baton_fsm_reject(c, BATON_FSM_UNKNOWN, "no such transition%s%s", tid ? " " : "", tid ? tid : "");
	if (g->tr.state != BATON__TRANSITION_STATE__TRANSITION_FAILED &&
	    g->tr.state != BATON__TRANSITION_STATE__TRANSITION_RUNNING)
		return baton_fsm_reject(c, BATON_FSM_INVALID, "transition %s is not failed or running", g->tr.id);
	s = name != NULL ? baton_fsm_find_step(&g->tr, name) : NULL;
	if (s == NULL)
		return baton_fsm_reject(c, BATON_FSM_UNKNOWN, "transition %s has no step '%s'", g->tr.id, name ? name : "");
	if (op == BATON_OP_RETRY_STEP && s->state != BATON__STEP_STATE__STEP_FAILED)
		return baton_fsm_reject(c, BATON_FSM_INVALID, "step %s is %s, not failed", s->name, baton_fsm_step_state_name(s->state));
	if (op == BATON_OP_SKIP_STEP && s->state != BATON__STEP_STATE__STEP_FAILED &&
	    s->state != BATON__STEP_STATE__STEP_PENDING)
		return baton_fsm_reject(c, BATON_FSM_INVALID, "step %s is %s; only failed or pending steps can be skipped", s->name,
			      baton_fsm_step_state_name(s->state));
	s->state = op == BATON_OP_RETRY_STEP ? BATON__STEP_STATE__STEP_PENDING : BATON__STEP_STATE__STEP_SKIPPED;
	s->error[0] = '\0';
	if (g->tr.state == BATON__TRANSITION_STATE__TRANSITION_FAILED) {
		g->tr.state = BATON__TRANSITION_STATE__TRANSITION_RUNNING;
		g->tr.ended_at_ms = 0;
	}
	baton_fsm_event(c, "step", op == BATON_OP_RETRY_STEP ? "retry" : "skipped", g->epoch, by, "step %s %s by %s; transition %s runs again",
	      s->name, op == BATON_OP_RETRY_STEP ? "retried" : "skipped", by, g->tr.id);
	return BATON_FSM_OK;
}

static int op_reverse(struct apply_ctx *c, const Baton__CommandBody *b, const char *by)
{
	struct baton_group_state *g;
	struct baton_region_state *r;
	const char *region = baton_op_arg(b, "region");
	int rv = baton_fsm_need_group(c, &g);

	if (rv != 0)
		return rv;
	if (region == NULL || region[0] == '\0')
		region = g->previous;
	r = baton_fsm_find_region(g, region);
	if (r == NULL)
		return baton_fsm_reject(c, BATON_FSM_UNKNOWN, "reverse: unknown region '%s'", region ? region : "");
	if (strcmp(region, g->active) == 0)
		return baton_fsm_reject(c, BATON_FSM_INVALID, "reverse: %s holds the baton; only a region that lost it can rejoin", region);
	if (g->has_transition && g->tr.state == BATON__TRANSITION_STATE__TRANSITION_RUNNING && !g->tr.drill)
		return baton_fsm_reject(c, BATON_FSM_BUSY, "reverse: transition %s is still running", g->tr.id);
	if (r->rejoin_phase == BATON__REJOIN_PHASE__REJOIN_RUNNING && r->rejoin_epoch == g->epoch)
		return baton_fsm_reject(c, BATON_FSM_BUSY, "reverse: %s is already rejoining", region);
	r->rejoin_phase = BATON__REJOIN_PHASE__REJOIN_REQUESTED;
	r->rejoin_epoch = g->epoch;
	r->rejoin_at_ms = c->cmd->proposed_at_ms;
	r->rejoin_detail[0] = '\0';
	CPY(r->rejoin_by, by);
	baton_fsm_event(c, "rejoin", "requested", g->epoch, by, "%s asked to rejoin as a replica of %s (its coordinator runs its rejoin steps)",
	      region, g->active);
	return BATON_FSM_OK;
}

int baton_fsm_apply_rejoin_result(struct apply_ctx *c, const Baton__RejoinResult *rr)
{
	struct baton_group_state *g;
	struct baton_region_state *r;
	int rv = baton_fsm_need_group(c, &g);

	if (rv != 0)
		return rv;
	r = baton_fsm_find_region(g, rr->region);
	if (r == NULL)
		return baton_fsm_reject(c, BATON_FSM_UNKNOWN, "unknown region '%s'", rr->region);
	if (r->rejoin_phase == BATON__REJOIN_PHASE__REJOIN_NONE || rr->epoch != r->rejoin_epoch || rr->epoch != g->epoch)
		return baton_fsm_reject(c, BATON_FSM_STALE_EPOCH, "no rejoin of %s requested at epoch %llu", rr->region,
			      (unsigned long long)rr->epoch);
	if (rr->phase != BATON__REJOIN_PHASE__REJOIN_RUNNING && rr->phase != BATON__REJOIN_PHASE__REJOIN_DONE &&
	    rr->phase != BATON__REJOIN_PHASE__REJOIN_FAILED)
		return baton_fsm_reject(c, BATON_FSM_INVALID, "bad rejoin phase %d", rr->phase);
	r->rejoin_phase = rr->phase;
	CPY(r->rejoin_detail, rr->detail);
	if (rr->phase != BATON__REJOIN_PHASE__REJOIN_RUNNING)
		baton_fsm_event(c, "rejoin", rr->phase == BATON__REJOIN_PHASE__REJOIN_DONE ? "done" : "failed", g->epoch, NULL,
		      "%s %s as a replica of %s%s%s", rr->region,
		      rr->phase == BATON__REJOIN_PHASE__REJOIN_DONE ? "rejoined" : "could not rejoin", g->active,
		      rr->detail && rr->detail[0] ? ": " : "", rr->detail ? rr->detail : "");
	return BATON_FSM_OK;
}

static int op_execute(struct apply_ctx *c, int op, const Baton__CommandBody *b, const char *by,
		      const Baton__OperatorCommand *oc)
{
	switch (op) {
	case BATON_OP_FREEZE:
	case BATON_OP_UNFREEZE: {
		Baton__Freeze fr = BATON__FREEZE__INIT;
		fr.frozen = op == BATON_OP_FREEZE;
		fr.by = (char *)by;
		fr.reason = (char *)baton_op_arg(b, "reason");
		return baton_fsm_apply_freeze(c, &fr);
	}
	case BATON_OP_SWITCHOVER:
	case BATON_OP_FAILOVER:
	case BATON_OP_FAILBACK:
	case BATON_OP_DRILL:
		return op_transition(c, op, b, by, oc);
	case BATON_OP_RETRY_STEP:
	case BATON_OP_SKIP_STEP:
		return op_step(c, op, b, by);
	case BATON_OP_REVERSE:
		return op_reverse(c, b, by);
	case BATON_OP_RECOVER:
		return baton_fsm_reject(c, BATON_FSM_INVALID, "recover is not sent to the cluster: with the survivors stopped, run "
						    "'batond --recover FILE1 FILE2' on each of them (docs/runbook.md)");
	}
	return baton_fsm_reject(c, BATON_FSM_INVALID, "operation %s cannot be executed here", baton_op_name(op));
}

int baton_fsm_apply_operator(struct apply_ctx *c, const Baton__OperatorCommand *oc)
{
	struct baton_fsm_state *st = c->f->st;
	const struct baton_opkey *key = NULL;
	Baton__CommandBody *b = NULL;
	const char *claimed = oc->envelope != NULL && oc->envelope->key_id ? oc->envelope->key_id : "?";
	char err[BATON_TEXT_MAX], by[96], id[17];
	uint64_t now = c->cmd->proposed_at_ms;
	int v, op, rv;

	/* Forget expired approvals first (by the proposer's clock: deterministic). */
	unsigned kept = 0;
	for (unsigned i = 0; i < st->n_pending; i++)
		if (st->pending[i].expires_at_ms >= now)
			st->pending[kept++] = st->pending[i];
	st->n_pending = kept;
	if (c->f->opkeys == NULL || oc->envelope == NULL) {
		baton_fsm_reject(c, BATON_FSM_DENIED, "no operator keys are configured (cluster.operators)");
		baton_fsm_event(c, "command", "rejected", 0, claimed, "%s", c->res->message);
		return BATON_FSM_DENIED;
	}
	v = baton_opcmd_verify(c->f->opkeys, oc->envelope, now, &key, &b, err, sizeof err);
	if (v != BATON_OPCMD_OK) {
		baton_fsm_reject(c, BATON_FSM_DENIED, "%s: %s", baton_opcmd_verdict_name(v), err);
		baton_fsm_event(c, "command", "rejected", 0, claimed, "%s", c->res->message);
		return BATON_FSM_DENIED;
	}
	snprintf(by, sizeof by, "%s (%s)", key->name, key->key_id);
	op = baton_op_parse(b->op);
	baton_hex(id, b->nonce.data, 8);
	if (baton_fsm_nonce_seen(c->f, b->nonce.data, b->nonce.len)) {
		baton_fsm_reject(c, BATON_FSM_REPLAY, "replayed command: nonce %s was used before", id);
		baton_fsm_event(c, "command", "rejected", 0, by, "%s %s", b->op, c->res->message);
		rv = BATON_FSM_REPLAY;
		goto out;
	}
	baton_fsm_nonce_add(st, b->nonce.data, b->nonce.len, b->expires_at_ms);
	if (op == BATON_OP_APPROVE) {
		const char *pid = b->approves != NULL && b->approves[0] ? b->approves : baton_op_arg(b, "id");
		struct baton_pending *p = (struct baton_pending *)baton_fsm_pending(c->f, pid);
		Baton__CommandBody *pb;
		const struct baton_opkey *proposer;
		char both[200];
		if (p == NULL) {
			rv = baton_fsm_reject(c, BATON_FSM_UNKNOWN, "no pending command %s (expired, executed, or never proposed)", pid ? pid : "");
		} else if (strcmp(p->key_id, key->key_id) == 0) {
			rv = baton_fsm_reject(c, BATON_FSM_DENIED, "the key that proposed %s cannot approve it: a second operator must", p->id);
		} else if ((pb = baton__command_body__unpack(NULL, p->body_len, p->body)) == NULL) {
			rv = baton_fsm_reject(c, BATON_FSM_INVALID, "pending command %s is unreadable", p->id);
		} else {
			int pop = baton_op_parse(pb->op);
			proposer = baton_opkeys_find(c->f->opkeys, p->key_id);
			if (pop < 0 || !(key->ops & (1u << pop))) {
				rv = baton_fsm_reject(c, BATON_FSM_DENIED, "key %s (%s) may not approve '%s'", key->key_id, key->name, pb->op);
			} else {
				snprintf(both, sizeof both, "%s+%s", proposer != NULL ? proposer->name : p->signer, key->name);
				/* Remove first: the pending entry may move during execution. */
				char pid_copy[17];
				baton_strlcpy(pid_copy, p->id, sizeof pid_copy);
				*p = st->pending[--st->n_pending];
				rv = op_execute(c, pop, pb, both, oc);
				baton_fsm_event(c, "command", rv == 0 ? "ok" : "rejected", 0, both, "%s %s approved by %s: %s", pb->op, pid_copy,
				      key->name, rv == 0 ? "executed" : c->res->message);
			}
			baton__command_body__free_unpacked(pb, NULL);
			goto out;
		}
		baton_fsm_event(c, "command", "rejected", 0, by, "approve: %s", c->res->message);
		goto out;
	}
	if (baton_op_dangerous(b)) {
		struct baton_pending *p;
		if (oc->envelope->body.len > BATON_FSM_PENDING_BODY || st->n_pending == BATON_FSM_MAX_PENDING) {
			rv = baton_fsm_reject(c, BATON_FSM_INVALID, "cannot hold this command for approval (too large or too many pending)");
			baton_fsm_event(c, "command", "rejected", 0, by, "%s: %s", b->op, c->res->message);
			goto out;
		}
		p = &st->pending[st->n_pending++];
		memset(p, 0, sizeof *p);
		baton_strlcpy(p->id, id, sizeof p->id);
		memcpy(p->body, oc->envelope->body.data, oc->envelope->body.len);
		p->body_len = oc->envelope->body.len;
		baton_strlcpy(p->key_id, key->key_id, sizeof p->key_id);
		baton_strlcpy(p->signer, key->name, sizeof p->signer);
		p->expires_at_ms = b->expires_at_ms;
		rv = baton_fsm_reject(c, BATON_FSM_PENDING, "%s needs a second operator: batonctl approve %s (before it expires)", b->op, id);
		baton_fsm_event(c, "command", "pending", 0, by, "%s %s proposed; waiting for a second operator's approval", b->op, id);
		goto out;
	}
	rv = op_execute(c, op, b, by, oc);
	{
		const struct baton_group_state *eg = baton_fsm_find_group(st, c->cmd->group);
		baton_fsm_event(c, "command", rv == 0 ? "ok" : "rejected", eg != NULL ? eg->epoch : 0, by, "%s %s", b->op,
		      rv == 0 ? "accepted" : c->res->message);
	}
out:
	baton__command_body__free_unpacked(b, NULL);
	return rv;
}

/* A forced reconfiguration was done offline on the survivors (raft_recover);
 * this records it. Two operators' envelopes are checked as of the moment the
 * survivors checked them (@recovered_at_ms: they have usually expired by the
 * time a leader commits this). Their nonces are burnt for good, so the same
 * pair can never be used again, and every group's epoch moves up by one: any
 * action still in flight from before the loss carries a lower fencing token
 * than anything done afterwards. A running transition moves with its group
 * (its next steps use the new token); steps already done stay done. */
int baton_fsm_apply_recovery(struct apply_ctx *c, const Baton__Recovery *r)
{
	struct baton_fsm_state *st = c->f->st;
	uint8_t nonces[2][32];
	size_t nonce_lens[2];
	char voters[BATON_TEXT_MAX], by[160], err[BATON_TEXT_MAX], id[17];
	int v;

	if (c->f->opkeys == NULL)
		return baton_fsm_reject(c, BATON_FSM_DENIED, "no operator keys are configured (cluster.operators)");
	if (c->cmd->has_proposed_at_ms && r->recovered_at_ms > c->cmd->proposed_at_ms)
		return baton_fsm_reject(c, BATON_FSM_INVALID, "recovery checked at %llu, after it was proposed (%llu)",
			      (unsigned long long)r->recovered_at_ms, (unsigned long long)c->cmd->proposed_at_ms);
	v = baton_recovery_verify(c->f->opkeys, r->envelopes, r->n_envelopes, r->recovered_at_ms, voters, sizeof voters,
				  by, sizeof by, nonces, nonce_lens, err, sizeof err);
	if (v != BATON_OPCMD_OK) {
		baton_fsm_reject(c, BATON_FSM_DENIED, "recovery refused: %s", err);
		baton_fsm_event(c, "recover", "rejected", 0, NULL, "%s", c->res->message);
		return BATON_FSM_DENIED;
	}
	baton_hex(id, nonces[0], 8);
	if (baton_fsm_nonce_seen(c->f, nonces[0], nonce_lens[0]) || baton_fsm_nonce_seen(c->f, nonces[1], nonce_lens[1])) {
		baton_fsm_reject(c, BATON_FSM_REPLAY, "recovery %s was recorded before (its commands' nonces are used)", id);
		return BATON_FSM_REPLAY;
	}
	for (unsigned i = 0; i < 2; i++)
		baton_fsm_nonce_add(st, nonces[i], nonce_lens[i], UINT64_MAX); /* never pruned */
	for (unsigned gi = 0; gi < st->n_groups; gi++) {
		struct baton_group_state *g = &st->groups[gi];
		g->epoch++;
		if (g->has_transition && g->tr.state == BATON__TRANSITION_STATE__TRANSITION_RUNNING)
			g->tr.epoch = g->epoch;
		c->res->epoch = g->epoch;
		baton_fsm_event(c, "recover", "ok", g->epoch, by,
		      "forced reconfiguration %s (member %s): voters now %s; group %s at epoch %llu%s", id,
		      r->member != NULL && r->member[0] ? r->member : "?", voters, g->name, (unsigned long long)g->epoch,
		      g->active[0] ? "" : " (no active region yet)");
	}
	if (st->n_groups == 0)
		baton_fsm_event(c, "recover", "ok", 0, by, "forced reconfiguration %s: voters now %s", id, voters);
	return BATON_FSM_OK;
}

