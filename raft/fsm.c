/* SPDX-License-Identifier: MIT */
/* The replicated state machine: apply, snapshot, restore. See fsm.h.
 *
 * Every apply is: decode (size-limited) -> dedupe by cmd_id -> one handler
 * that checks its conditions and mutates the in-memory state -> one LMDB
 * transaction with the new state, new history events, the dedupe record and
 * the applied index. Handlers reject by filling the result, never by failing:
 * the same entry must produce the same state on every node. */
#include "fsm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsm_int.h"
#include "fsm_pb.h"
#include "opcmd.h"
#include "store.h"
#include "util.h"

/* Memory-only FSMs (tests, fuzz) dedupe over a small ring instead of LMDB. */
#define MEM_DEDUPE 256

struct mem_dedupe {
	struct baton_fsm_result ring[MEM_DEDUPE];
	unsigned next;
};

static const char *code_names[] = {
	[BATON_FSM_OK] = "ok",
	[BATON_FSM_DUPLICATE] = "duplicate",
	[BATON_FSM_STALE_EPOCH] = "stale-epoch",
	[BATON_FSM_BUSY] = "busy",
	[BATON_FSM_UNKNOWN] = "unknown",
	[BATON_FSM_INVALID] = "invalid",
	[BATON_FSM_CONFLICT] = "conflict",
	[BATON_FSM_REPLAY] = "replay",
	[BATON_FSM_DENIED] = "denied",
	[BATON_FSM_PENDING] = "pending",
};

const char *baton_fsm_code_name(int code)
{
	if (code < 0 || (size_t)code >= BATON_ARRAY_SIZE(code_names) || code_names[code] == NULL)
		return "error";
	return code_names[code];
}

/* ------------------------------------------------------------------ helpers */

int baton_fsm_reject(struct apply_ctx *c, int code, const char *fmt, ...)
{
	va_list ap;

	c->res->code = code;
	va_start(ap, fmt);
	vsnprintf(c->res->message, sizeof c->res->message, fmt, ap);
	va_end(ap);
	return code;
}

/* Append a history event for this entry. Deterministic: seq comes from the
 * state, the time from the proposer. */
void baton_fsm_event(struct apply_ctx *c, const char *kind, const char *outcome, uint64_t epoch, const char *by,
		  const char *fmt, ...)
{
	Baton__HistoryEvent *ev;
	va_list ap;

	if (c->n_events == MAX_EVENTS_PER_APPLY)
		return;
	ev = &c->events[c->n_events];
	baton__history_event__init(ev);
	va_start(ap, fmt);
	vsnprintf(c->texts[c->n_events], BATON_TEXT_MAX, fmt, ap);
	va_end(ap);
	ev->seq = c->f->st->history_next++;
	ev->has_index = true;
	ev->index = c->index;
	ev->has_at_ms = true;
	ev->at_ms = c->cmd != NULL ? c->cmd->proposed_at_ms : 0;
	ev->group = c->cmd != NULL && c->cmd->group != NULL ? c->cmd->group : (char *)"";
	ev->kind = (char *)kind;
	ev->text = c->texts[c->n_events];
	ev->has_epoch = true;
	ev->epoch = epoch;
	baton_strlcpy(c->bys[c->n_events], by != NULL ? by : "", sizeof c->bys[0]);
	/* Texts may quote what a client sent (a claimed key id, an op name):
	 * no control characters into the history or the logs built from it. */
	for (char *t = c->texts[c->n_events]; *t != '\0'; t++)
		if ((unsigned char)*t < 0x20 || *t == 0x7f)
			*t = ' ';
	for (char *t = c->bys[c->n_events]; *t != '\0'; t++)
		if ((unsigned char)*t < 0x20 || *t == 0x7f)
			*t = ' ';
	ev->by = c->bys[c->n_events];
	ev->cmd_id = c->cmd != NULL ? c->cmd->cmd_id : (char *)"";
	ev->outcome = (char *)outcome;
	c->n_events++;
}

struct baton_group_state *baton_fsm_find_group(struct baton_fsm_state *st, const char *name)
{
	if (st->n_groups == 0)
		return NULL;
	if (name == NULL || name[0] == '\0')
		return &st->groups[0];
	for (unsigned i = 0; i < st->n_groups; i++)
		if (strcmp(st->groups[i].name, name) == 0)
			return &st->groups[i];
	return NULL;
}

const struct baton_group_state *baton_fsm_group(const struct baton_fsm *f, const char *name)
{
	return baton_fsm_find_group(f->st, name);
}

struct baton_region_state *baton_fsm_find_region(struct baton_group_state *g, const char *name)
{
	for (unsigned i = 0; g != NULL && name != NULL && i < g->n_regions; i++)
		if (strcmp(g->regions[i].name, name) == 0)
			return &g->regions[i];
	return NULL;
}

const struct baton_region_state *baton_fsm_region(const struct baton_group_state *g, const char *name)
{
	return baton_fsm_find_region((struct baton_group_state *)g, name);
}

struct baton_step_state *baton_fsm_find_step(struct baton_transition_state *t, const char *name)
{
	for (unsigned i = 0; i < t->n_steps; i++)
		if (strcmp(t->steps[i].name, name) == 0)
			return &t->steps[i];
	return NULL;
}

bool baton_fsm_fits(const char *s, size_t n)
{
	return s == NULL || strlen(s) < n;
}

/* ----------------------------------------------------------------- handlers */

static const char *kind_name(int kind)
{
	switch (kind) {
	case BATON__TRANSITION_KIND__TRANSITION_FAILOVER:
		return "failover";
	case BATON__TRANSITION_KIND__TRANSITION_SWITCHOVER:
		return "switchover";
	case BATON__TRANSITION_KIND__TRANSITION_FAILBACK:
		return "failback";
	case BATON__TRANSITION_KIND__TRANSITION_DRILL:
		return "drill";
	}
	return "transition";
}

/* Whether names[i] already appeared earlier in the same list. */
static bool named_before(char *const *names, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (strcmp(names[k], names[i]) == 0)
			return true;
	return false;
}

static bool region_named_before(Baton__RegionSpec *const *regions, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (strcmp(regions[k]->name, regions[i]->name) == 0)
			return true;
	return false;
}

static int apply_cluster_config(struct apply_ctx *c, const Baton__ClusterConfig *cc)
{
	struct baton_fsm_state *st = c->f->st;
	size_t new_groups = 0;

	if (cc->generation == 0)
		return baton_fsm_reject(c, BATON_FSM_INVALID, "cluster config generation 0 is not valid (generations start at 1)");
	if (!baton_fsm_fits(cc->hash, sizeof st->conf_hash) || cc->n_regions > BATON_FSM_MAX_REGIONS ||
	    cc->n_groups > BATON_FSM_MAX_GROUPS)
		return baton_fsm_reject(c, BATON_FSM_INVALID, "cluster config exceeds a limit");
	if (st->generation != 0) {
		if (cc->generation == st->generation && strcmp(cc->hash, st->conf_hash) == 0)
			return BATON_FSM_OK; /* a new leader re-asserting the same config */
		if (cc->generation <= st->generation) {
			baton_fsm_reject(c, BATON_FSM_CONFLICT,
			       "cluster section mismatch: proposed generation %llu hash %.12s, cluster has "
			       "generation %llu hash %.12s",
			       (unsigned long long)cc->generation, cc->hash, (unsigned long long)st->generation,
			       st->conf_hash);
			baton_fsm_event(c, "config", "rejected", 0, NULL, "%s", c->res->message);
			return BATON_FSM_CONFLICT;
		}
	}
	for (size_t i = 0; i < cc->n_regions; i++)
		if (!baton_fsm_fits(cc->regions[i]->name, BATON_NAME_MAX))
			return baton_fsm_reject(c, BATON_FSM_INVALID, "region name too long");
	for (size_t i = 0; i < cc->n_groups; i++)
		if (!baton_fsm_fits(cc->groups[i], BATON_NAME_MAX) || cc->groups[i][0] == '\0')
			return baton_fsm_reject(c, BATON_FSM_INVALID, "bad group name");
	/* Check the group and region limits before changing anything: a
	 * rejected command leaves the state as it was. */
	for (size_t i = 0; i < cc->n_groups; i++)
		if (baton_fsm_find_group(st, cc->groups[i]) == NULL && !named_before(cc->groups, i))
			new_groups++;
	if (st->n_groups + new_groups > BATON_FSM_MAX_GROUPS)
		return baton_fsm_reject(c, BATON_FSM_INVALID, "config needs %zu groups (max %d)", st->n_groups + new_groups,
			      BATON_FSM_MAX_GROUPS);
	for (size_t i = 0; i < cc->n_groups; i++) {
		struct baton_group_state *g = baton_fsm_find_group(st, cc->groups[i]);
		size_t n = g != NULL ? g->n_regions : 0;
		for (size_t j = 0; j < cc->n_regions; j++)
			if (baton_fsm_find_region(g, cc->regions[j]->name) == NULL && !region_named_before(cc->regions, j))
				n++;
		if (n > BATON_FSM_MAX_REGIONS)
			return baton_fsm_reject(c, BATON_FSM_INVALID, "group '%s' would have %zu regions (max %d)", cc->groups[i],
				      n, BATON_FSM_MAX_REGIONS);
	}

	/* Groups and regions named by the new config exist afterwards; state of
	 * the ones that already existed is kept. Nothing is ever removed here:
	 * dropping a region that still holds the baton needs an operator. */
	for (size_t i = 0; i < cc->n_groups; i++) {
		struct baton_group_state *g = baton_fsm_find_group(st, cc->groups[i]);
		if (g == NULL || strcmp(g->name, cc->groups[i]) != 0) {
			if (st->n_groups == BATON_FSM_MAX_GROUPS)
				return baton_fsm_reject(c, BATON_FSM_INVALID, "too many groups");
			g = &st->groups[st->n_groups++];
			memset(g, 0, sizeof *g);
			CPY(g->name, cc->groups[i]);
		}
		for (size_t j = 0; j < cc->n_regions; j++) {
			struct baton_region_state *r = baton_fsm_find_region(g, cc->regions[j]->name);
			if (r == NULL) {
				if (g->n_regions == BATON_FSM_MAX_REGIONS)
					return baton_fsm_reject(c, BATON_FSM_INVALID, "too many regions");
				r = &g->regions[g->n_regions++];
				memset(r, 0, sizeof *r);
				CPY(r->name, cc->regions[j]->name);
			}
			r->priority = cc->regions[j]->has_priority ? cc->regions[j]->priority : 100;
		}
	}
	st->generation = cc->generation;
	CPY(st->conf_hash, cc->hash);
	baton_fsm_event(c, "config", "ok", 0, NULL, "cluster section generation %llu (hash %.12s) adopted",
	      (unsigned long long)cc->generation, cc->hash);
	return BATON_FSM_OK;
}

int baton_fsm_need_group(struct apply_ctx *c, struct baton_group_state **ret)
{
	*ret = baton_fsm_find_group(c->f->st, c->cmd->group);
	if (*ret == NULL)
		return baton_fsm_reject(c, BATON_FSM_UNKNOWN, "unknown group '%s'", c->cmd->group ? c->cmd->group : "");
	return BATON_FSM_OK;
}

static int apply_activate(struct apply_ctx *c, const Baton__Activate *a)
{
	struct baton_group_state *g;
	int rv = baton_fsm_need_group(c, &g);

	if (rv != 0)
		return rv;
	if (baton_fsm_find_region(g, a->region) == NULL)
		rv = baton_fsm_reject(c, BATON_FSM_UNKNOWN, "unknown region '%s'", a->region);
	else if (a->expect_epoch != g->epoch)
		rv = baton_fsm_reject(c, BATON_FSM_STALE_EPOCH, "expected epoch %llu but the group is at epoch %llu",
			    (unsigned long long)a->expect_epoch, (unsigned long long)g->epoch);
	else if (g->has_transition && g->tr.state == BATON__TRANSITION_STATE__TRANSITION_RUNNING)
		rv = baton_fsm_reject(c, BATON_FSM_BUSY, "transition %s is running", g->tr.id);
	if (rv != 0) {
		baton_fsm_event(c, "activate", "rejected", g->epoch, a->by, "activate %s: %s", a->region, c->res->message);
		return rv;
	}
	CPY(g->previous, g->active);
	CPY(g->active, a->region);
	g->epoch++;
	baton_fsm_event(c, "activate", "ok", g->epoch, a->by, "region %s active at epoch %llu%s%s", a->region,
	      (unsigned long long)g->epoch, a->reason != NULL && a->reason[0] ? ": " : "",
	      a->reason != NULL ? a->reason : "");
	return BATON_FSM_OK;
}

int baton_fsm_apply_transition_begin(struct apply_ctx *c, const Baton__TransitionBegin *b)
{
	struct baton_group_state *g;
	struct baton_transition_state *t;
	bool drill = b->drill || b->kind == BATON__TRANSITION_KIND__TRANSITION_DRILL;
	int rv = baton_fsm_need_group(c, &g);

	if (rv != 0)
		return rv;
	if (baton_fsm_find_region(g, b->to) == NULL)
		rv = baton_fsm_reject(c, BATON_FSM_UNKNOWN, "unknown target region '%s'", b->to);
	else if (!drill && g->active[0] == '\0')
		rv = baton_fsm_reject(c, BATON_FSM_INVALID, "no region is active yet; the first activation comes from the config");
	else if (strcmp(b->from, g->active) != 0)
		rv = baton_fsm_reject(c, BATON_FSM_STALE_EPOCH, "transition from '%s' but '%s' is active", b->from, g->active);
	else if (!drill && strcmp(b->to, g->active) == 0)
		rv = baton_fsm_reject(c, BATON_FSM_INVALID, "region '%s' is already active", b->to);
	else if (b->expect_epoch != g->epoch)
		rv = baton_fsm_reject(c, BATON_FSM_STALE_EPOCH, "expected epoch %llu but the group is at epoch %llu",
			    (unsigned long long)b->expect_epoch, (unsigned long long)g->epoch);
	else if (g->has_transition && g->tr.state == BATON__TRANSITION_STATE__TRANSITION_RUNNING)
		rv = baton_fsm_reject(c, BATON_FSM_BUSY, "transition %s is still running", g->tr.id);
	else if (b->n_steps > BATON_FSM_MAX_STEPS)
		rv = baton_fsm_reject(c, BATON_FSM_INVALID, "plan has %zu steps (max %d)", b->n_steps, BATON_FSM_MAX_STEPS);
	else if (!baton_fsm_fits(b->reason, BATON_TEXT_MAX) || !baton_fsm_fits(b->by, BATON_NAME_MAX))
		rv = baton_fsm_reject(c, BATON_FSM_INVALID, "reason or requester too long");
	for (size_t i = 0; rv == 0 && i < b->n_steps; i++) {
		const Baton__StepSpec *s = b->steps[i];
		if (!baton_fsm_fits(s->name, BATON_NAME_MAX) || !baton_fsm_fits(s->driver, 32) || !baton_fsm_fits(s->region, BATON_NAME_MAX) ||
		    s->n_after > BATON_FSM_MAX_AFTER)
			rv = baton_fsm_reject(c, BATON_FSM_INVALID, "step %zu exceeds a limit", i);
		for (size_t j = 0; rv == 0 && j < s->n_after; j++)
			if (!baton_fsm_fits(s->after[j], BATON_NAME_MAX))
				rv = baton_fsm_reject(c, BATON_FSM_INVALID, "step %zu dependency name too long", i);
	}
	if (rv != 0) {
		baton_fsm_event(c, "transition", "rejected", g->epoch, b->by, "%s %s -> %s: %s", kind_name(b->kind), b->from,
		      b->to, c->res->message);
		return rv;
	}

	t = &g->tr;
	memset(t, 0, sizeof *t);
	g->has_transition = true;
	CPY(t->id, c->cmd->cmd_id);
	t->kind = b->kind;
	CPY(t->from, b->from);
	CPY(t->to, b->to);
	CPY(t->reason, b->reason);
	CPY(t->by, b->by);
	t->state = BATON__TRANSITION_STATE__TRANSITION_RUNNING;
	t->drill = drill;
	t->started_at_ms = c->cmd->proposed_at_ms;
	t->n_steps = (unsigned)b->n_steps;
	for (unsigned i = 0; i < t->n_steps; i++) {
		const Baton__StepSpec *s = b->steps[i];
		struct baton_step_state *ss = &t->steps[i];
		CPY(ss->name, s->name);
		CPY(ss->driver, s->driver);
		CPY(ss->region, s->region);
		ss->idempotent = s->idempotent;
		ss->n_after = (unsigned)s->n_after;
		for (unsigned j = 0; j < ss->n_after; j++)
			CPY(ss->after[j], s->after[j]);
		ss->state = BATON__STEP_STATE__STEP_PENDING;
	}
	if (!drill) {
		/* The baton moves here, at the decision: from this index on the old
		 * region's lease cannot be renewed and every step carries the new
		 * epoch as its fencing token. */
		CPY(g->previous, g->active);
		CPY(g->active, b->to);
		g->epoch++;
		if (b->kind == BATON__TRANSITION_KIND__TRANSITION_FAILOVER && b->by != NULL &&
		    strcmp(b->by, "auto") == 0) {
			if (g->n_auto == BATON_FSM_MAX_AUTO) {
				memmove(g->auto_failovers_ms, g->auto_failovers_ms + 1,
					sizeof g->auto_failovers_ms[0] * (BATON_FSM_MAX_AUTO - 1));
				g->n_auto--;
			}
			g->auto_failovers_ms[g->n_auto++] = c->cmd->proposed_at_ms;
		}
	}
	t->epoch = g->epoch;
	baton_fsm_event(c, "transition", "ok", g->epoch, b->by, "%s%s %s -> %s started at epoch %llu (%u steps)%s%s",
	      drill ? "drill " : "", kind_name(b->kind), b->from, b->to, (unsigned long long)g->epoch, t->n_steps,
	      b->reason != NULL && b->reason[0] ? ": " : "", b->reason != NULL ? b->reason : "");
	return BATON_FSM_OK;
}

const char *baton_fsm_step_state_name(int s)
{
	switch (s) {
	case BATON__STEP_STATE__STEP_PENDING:
		return "pending";
	case BATON__STEP_STATE__STEP_RUNNING:
		return "running";
	case BATON__STEP_STATE__STEP_DONE:
		return "done";
	case BATON__STEP_STATE__STEP_FAILED:
		return "failed";
	case BATON__STEP_STATE__STEP_SKIPPED:
		return "skipped";
	}
	return "?";
}

static int need_transition(struct apply_ctx *c, const char *id, struct baton_group_state **ret_g)
{
	int rv = baton_fsm_need_group(c, ret_g);

	if (rv != 0)
		return rv;
	if (!(*ret_g)->has_transition || strcmp((*ret_g)->tr.id, id) != 0)
		return baton_fsm_reject(c, BATON_FSM_UNKNOWN, "transition '%s' is not the current one", id);
	return BATON_FSM_OK;
}

static int apply_step_update(struct apply_ctx *c, const Baton__StepUpdate *u)
{
	struct baton_group_state *g;
	struct baton_step_state *s;
	int rv = need_transition(c, u->transition_id, &g);

	if (rv != 0)
		return rv;
	s = baton_fsm_find_step(&g->tr, u->step);
	if (s == NULL)
		return baton_fsm_reject(c, BATON_FSM_UNKNOWN, "transition %s has no step '%s'", u->transition_id, u->step);
	if (g->tr.state != BATON__TRANSITION_STATE__TRANSITION_RUNNING)
		return baton_fsm_reject(c, BATON_FSM_INVALID, "transition %s is not running", u->transition_id);
	if (u->state < BATON__STEP_STATE__STEP_PENDING || u->state > BATON__STEP_STATE__STEP_SKIPPED)
		return baton_fsm_reject(c, BATON_FSM_INVALID, "bad step state %d", u->state);
	/* DONE and SKIPPED are final: a step that completed is never started
	 * again, whichever leader asks. FAILED may be retried. */
	if (s->state == BATON__STEP_STATE__STEP_DONE || s->state == BATON__STEP_STATE__STEP_SKIPPED)
		return baton_fsm_reject(c, BATON_FSM_INVALID, "step '%s' is already %s", s->name, baton_fsm_step_state_name(s->state));
	if (!baton_fsm_fits(u->error, BATON_TEXT_MAX))
		return baton_fsm_reject(c, BATON_FSM_INVALID, "step error too long");
	s->state = u->state;
	if (u->has_attempts)
		s->attempts = u->attempts;
	CPY(s->error, u->error);
	if (u->output != NULL)
		CPY(s->output, u->output); /* truncation of driver output is fine */
	if (u->state == BATON__STEP_STATE__STEP_RUNNING && s->started_at_ms == 0)
		s->started_at_ms = u->at_ms;
	if (u->state != BATON__STEP_STATE__STEP_RUNNING && u->state != BATON__STEP_STATE__STEP_PENDING) {
		s->ended_at_ms = u->at_ms;
		s->duration_ms = u->duration_ms;
	}
	if (u->state != BATON__STEP_STATE__STEP_RUNNING)
		baton_fsm_event(c, "step", baton_fsm_step_state_name(u->state), g->epoch, NULL, "step %s %s after %u attempt(s) in %llu ms%s%s",
		      s->name, baton_fsm_step_state_name(u->state), s->attempts, (unsigned long long)s->duration_ms,
		      s->error[0] ? ": " : "", s->error);
	return BATON_FSM_OK;
}

static int apply_transition_end(struct apply_ctx *c, const Baton__TransitionEnd *e)
{
	struct baton_group_state *g;
	int rv = need_transition(c, e->transition_id, &g);
	const char *name;

	if (rv != 0)
		return rv;
	/* Only a failed transition can be resumed: done and aborted are final,
	 * like a done step, and a running one has nothing to resume. */
	if (e->state == BATON__TRANSITION_STATE__TRANSITION_RUNNING &&
	    g->tr.state != BATON__TRANSITION_STATE__TRANSITION_FAILED)
		return baton_fsm_reject(c, BATON_FSM_INVALID, "transition %s has not failed; only a failed one can be resumed",
			      e->transition_id);
	if (g->tr.state != BATON__TRANSITION_STATE__TRANSITION_RUNNING &&
	    e->state != BATON__TRANSITION_STATE__TRANSITION_RUNNING)
		return baton_fsm_reject(c, BATON_FSM_INVALID, "transition %s already ended", e->transition_id);
	switch (e->state) {
	case BATON__TRANSITION_STATE__TRANSITION_DONE:
		name = "done";
		break;
	case BATON__TRANSITION_STATE__TRANSITION_FAILED:
		name = "failed";
		break;
	case BATON__TRANSITION_STATE__TRANSITION_ABORTED:
		name = "aborted";
		break;
	case BATON__TRANSITION_STATE__TRANSITION_RUNNING:
		name = "resumed"; /* an operator retries a failed transition */
		break;
	default:
		return baton_fsm_reject(c, BATON_FSM_INVALID, "bad end state %d", e->state);
	}
	g->tr.state = e->state;
	g->tr.ended_at_ms = e->state == BATON__TRANSITION_STATE__TRANSITION_RUNNING ? 0 : c->cmd->proposed_at_ms;
	baton_fsm_event(c, "transition", name, g->epoch, NULL, "%s%s %s -> %s %s%s%s", g->tr.drill ? "drill " : "",
	      kind_name(g->tr.kind), g->tr.from, g->tr.to, name, e->reason != NULL && e->reason[0] ? ": " : "",
	      e->reason != NULL ? e->reason : "");
	return BATON_FSM_OK;
}

int baton_fsm_apply_freeze(struct apply_ctx *c, const Baton__Freeze *fr)
{
	struct baton_group_state *g;
	int rv = baton_fsm_need_group(c, &g);

	if (rv != 0)
		return rv;
	if (!baton_fsm_fits(fr->reason, BATON_TEXT_MAX) || !baton_fsm_fits(fr->by, BATON_NAME_MAX))
		return baton_fsm_reject(c, BATON_FSM_INVALID, "reason or requester too long");
	g->frozen = fr->frozen;
	CPY(g->frozen_by, fr->frozen ? fr->by : "");
	CPY(g->frozen_reason, fr->frozen ? fr->reason : "");
	baton_fsm_event(c, "freeze", "ok", g->epoch, fr->by, "%s%s%s", fr->frozen ? "frozen: no automatic decisions" : "unfrozen",
	      fr->reason != NULL && fr->reason[0] ? ": " : "", fr->reason != NULL ? fr->reason : "");
	return BATON_FSM_OK;
}

static int apply_reachability(struct apply_ctx *c, const Baton__Reachability *r)
{
	struct baton_fsm_state *st = c->f->st;

	if (r->n_members > BATON_FSM_MAX_MEMBERS)
		return baton_fsm_reject(c, BATON_FSM_INVALID, "too many members");
	for (size_t i = 0; i < r->n_members; i++) {
		bool before = true;
		for (unsigned j = 0; j < st->n_reach; j++)
			if (st->reach[j].id == r->members[i]->id)
				before = st->reach[j].reachable;
		if (before != r->members[i]->reachable)
			baton_fsm_event(c, "member", r->members[i]->reachable ? "reachable" : "unreachable", 0, NULL,
			      "leader %s member %u", r->members[i]->reachable ? "hears from" : "no longer hears from",
			      r->members[i]->id);
	}
	st->n_reach = (unsigned)r->n_members;
	for (unsigned i = 0; i < st->n_reach; i++) {
		st->reach[i].id = r->members[i]->id;
		st->reach[i].reachable = r->members[i]->reachable;
	}
	return BATON_FSM_OK;
}

static int apply_observation(struct apply_ctx *c, const Baton__Observation *o)
{
	struct baton_group_state *g;
	struct baton_region_state *r;
	struct baton_observation_state *ob = NULL;
	int rv = baton_fsm_need_group(c, &g);

	if (rv != 0)
		return rv;
	r = baton_fsm_find_region(g, o->region);
	if (r == NULL)
		return baton_fsm_reject(c, BATON_FSM_UNKNOWN, "unknown region '%s'", o->region);
	for (unsigned i = 0; i < r->n_obs; i++)
		if (r->obs[i].observer == o->observer)
			ob = &r->obs[i];
	if (ob == NULL) {
		if (r->n_obs == BATON_FSM_MAX_OBSERVERS)
			return baton_fsm_reject(c, BATON_FSM_INVALID, "too many observers");
		ob = &r->obs[r->n_obs++];
		memset(ob, 0, sizeof *ob);
		ob->observer = o->observer;
		ob->down = !o->down; /* force a change below */
	}
	if (ob->down != o->down) {
		ob->since_index = c->index;
		baton_fsm_event(c, "observation", o->down ? "down" : "up", g->epoch, NULL, "observer %u sees region %s %s%s%s",
		      o->observer, o->region, o->down ? "down" : "up", o->detail != NULL && o->detail[0] ? ": " : "",
		      o->detail != NULL ? o->detail : "");
	}
	ob->down = o->down;
	CPY(ob->detail, o->detail);
	return BATON_FSM_OK;
}

static int apply_region_health(struct apply_ctx *c, const Baton__RegionHealth *h)
{
	struct baton_group_state *g;
	struct baton_region_state *r;
	int rv = baton_fsm_need_group(c, &g);

	if (rv != 0)
		return rv;
	r = baton_fsm_find_region(g, h->region);
	if (r == NULL)
		return baton_fsm_reject(c, BATON_FSM_UNKNOWN, "unknown region '%s'", h->region);
	if (!r->has_health || r->critical != h->critical || r->reporters_ok != h->reporters_ok) {
		r->health_index = c->index;
		baton_fsm_event(c, "health", h->critical ? "critical" : "ok", g->epoch, NULL, "region %s reports %s%s%s",
		      h->region, h->critical ? "a critical failure" : h->reporters_ok ? "healthy" : "no reporters",
		      h->detail != NULL && h->detail[0] ? ": " : "", h->detail != NULL ? h->detail : "");
	}
	r->has_health = true;
	r->critical = h->critical;
	r->reporters_ok = h->reporters_ok;
	r->lag_bytes = h->lag_bytes;
	r->lag_ms = h->lag_ms;
	CPY(r->health_detail, h->detail);
	return BATON_FSM_OK;
}

static int apply_decision(struct apply_ctx *c, const Baton__Decision *d)
{
	struct baton_group_state *g;
	int rv = baton_fsm_need_group(c, &g);

	if (rv != 0)
		return rv;
	baton_fsm_event(c, "decision", d->outcome, g->epoch, "auto", "%s%s%s%s", d->text != NULL ? d->text : "",
	      d->rule != NULL && d->rule[0] ? " (rule: " : "", d->rule != NULL ? d->rule : "",
	      d->rule != NULL && d->rule[0] ? ")" : "");
	return BATON_FSM_OK;
}

/* ------------------------------------------------------ operator commands */

static int dispatch(struct apply_ctx *c)
{
	const Baton__Command *cmd = c->cmd;

	switch (cmd->body_case) {
	case BATON__COMMAND__BODY_CLUSTER_CONFIG:
		return apply_cluster_config(c, cmd->cluster_config);
	case BATON__COMMAND__BODY_ACTIVATE:
		return apply_activate(c, cmd->activate);
	case BATON__COMMAND__BODY_TRANSITION_BEGIN:
		return baton_fsm_apply_transition_begin(c, cmd->transition_begin);
	case BATON__COMMAND__BODY_STEP_UPDATE:
		return apply_step_update(c, cmd->step_update);
	case BATON__COMMAND__BODY_TRANSITION_END:
		return apply_transition_end(c, cmd->transition_end);
	case BATON__COMMAND__BODY_FREEZE:
		return baton_fsm_apply_freeze(c, cmd->freeze);
	case BATON__COMMAND__BODY_NOOP:
		return BATON_FSM_OK;
	case BATON__COMMAND__BODY_REACHABILITY:
		return apply_reachability(c, cmd->reachability);
	case BATON__COMMAND__BODY_OBSERVATION:
		return apply_observation(c, cmd->observation);
	case BATON__COMMAND__BODY_REGION_HEALTH:
		return apply_region_health(c, cmd->region_health);
	case BATON__COMMAND__BODY_DECISION:
		return apply_decision(c, cmd->decision);
	case BATON__COMMAND__BODY_OPERATOR:
		return baton_fsm_apply_operator(c, cmd->operator_);
	case BATON__COMMAND__BODY_REJOIN_RESULT:
		return baton_fsm_apply_rejoin_result(c, cmd->rejoin_result);
	case BATON__COMMAND__BODY_RECOVERY:
		return baton_fsm_apply_recovery(c, cmd->recovery);
	case BATON__COMMAND__BODY_AUDIT: {
		const Baton__Audit *a = cmd->audit;
		if (a->has_nonce && a->nonce.len >= 16 && a->nonce.len <= 32 &&
		    !baton_fsm_nonce_seen(c->f, a->nonce.data, a->nonce.len))
			baton_fsm_nonce_add(c->f->st, a->nonce.data, a->nonce.len, a->nonce_expires_at_ms);
		baton_fsm_event(c, "command", a->outcome, 0, a->key_id, "%s refused: %s%s%s%s", a->op ? a->op : "command",
		      a->reason ? a->reason : "", a->remote && a->remote[0] ? " (from " : "",
		      a->remote && a->remote[0] ? a->remote : "", a->remote && a->remote[0] ? ")" : "");
		return BATON_FSM_OK;
	}
	default:
		return baton_fsm_reject(c, BATON_FSM_INVALID, "command %s has no body", cmd->cmd_id);
	}
}

/* ------------------------------------------------------------ codec, dedupe */

/* Every raft entry and snapshot is framed: "BTN" + format version, the payload
 * length (u32 little-endian), the payload, zero padding to a multiple of 8.
 * The padding is not optional: libraft 0.15's uv backend lays entries out in
 * 8-byte units and an entry whose length is not a multiple of 8 shifts the
 * entries after it in a batch (canonical/raft#189; seen here as a follower
 * decoding an entry 4 bytes off). The length lets the decoder ignore the
 * padding exactly. */
#define FRAME_HDR 8
static const uint8_t frame_magic[4] = {'B', 'T', 'N', 1};

static int frame(void *payload, size_t len, void **ret_buf, size_t *ret_len)
{
	size_t total = (FRAME_HDR + len + 7) & ~(size_t)7;
	uint8_t *out;

	if (len > UINT32_MAX) {
		free(payload);
		return -EMSGSIZE;
	}
	out = calloc(1, total);
	if (out == NULL) {
		free(payload);
		return -ENOMEM;
	}
	memcpy(out, frame_magic, 4);
	for (int i = 0; i < 4; i++)
		out[4 + i] = (uint8_t)(len >> (8 * i));
	memcpy(out + FRAME_HDR, payload, len);
	free(payload);
	*ret_buf = out;
	*ret_len = total;
	return 0;
}

/* The payload inside a frame, or NULL with a reason. */
static const uint8_t *unframe(const void *buf, size_t len, size_t *ret_len, char *errbuf, size_t errlen)
{
	const uint8_t *b = buf;
	size_t plen = 0;

	if (len < FRAME_HDR || memcmp(b, frame_magic, 3) != 0) {
		snprintf(errbuf, errlen, "%zu bytes without a baton frame header", len);
		return NULL;
	}
	if (b[3] != frame_magic[3]) {
		snprintf(errbuf, errlen, "frame format %u not supported (this build reads %u)", b[3], frame_magic[3]);
		return NULL;
	}
	for (int i = 0; i < 4; i++)
		plen |= (size_t)b[4 + i] << (8 * i);
	if (plen > len - FRAME_HDR) {
		snprintf(errbuf, errlen, "frame says %zu payload bytes but only %zu follow", plen, len - FRAME_HDR);
		return NULL;
	}
	*ret_len = plen;
	return b + FRAME_HDR;
}

Baton__Command *baton_fsm_decode(const void *buf, size_t len, char *errbuf, size_t errlen)
{
	Baton__Command *cmd;
	const uint8_t *payload;
	size_t plen;

	if (len > BATON_FSM_MAX_ENTRY) {
		snprintf(errbuf, errlen, "command of %zu bytes exceeds the %u byte limit", len, BATON_FSM_MAX_ENTRY);
		return NULL;
	}
	payload = unframe(buf, len, &plen, errbuf, errlen);
	if (payload == NULL)
		return NULL;
	cmd = baton__command__unpack(NULL, plen, payload);
	if (cmd == NULL) {
		snprintf(errbuf, errlen, "command of %zu bytes is not a valid baton.Command protobuf", plen);
		return NULL;
	}
	if (cmd->cmd_id == NULL || cmd->cmd_id[0] == '\0' || strlen(cmd->cmd_id) >= BATON_NAME_MAX) {
		snprintf(errbuf, errlen, "command has an empty or over-long cmd_id");
		baton__command__free_unpacked(cmd, NULL);
		return NULL;
	}
	return cmd;
}

int baton_fsm_encode(const Baton__Command *cmd, void **ret_buf, size_t *ret_len)
{
	void *payload;
	size_t len;
	int rv;

	if (cmd->cmd_id == NULL || cmd->cmd_id[0] == '\0')
		return -EINVAL;
	rv = baton_pb_pack(&cmd->base, &payload, &len);
	if (rv != 0)
		return rv;
	return frame(payload, len, ret_buf, ret_len);
}

static bool dedupe_lookup(struct baton_fsm *f, const char *cmd_id, struct baton_fsm_result *ret)
{
	if (f->store == NULL) {
		struct mem_dedupe *m = (struct mem_dedupe *)(f->st + 1);
		for (unsigned i = 0; i < MEM_DEDUPE; i++)
			if (m->ring[i].cmd_id[0] != '\0' && strcmp(m->ring[i].cmd_id, cmd_id) == 0) {
				*ret = m->ring[i];
				return true;
			}
		return false;
	}
	void *buf;
	size_t len;
	if (baton_store_get_cmd(f->store, cmd_id, &buf, &len) != 0)
		return false;
	Baton__AppliedCommand *ac = baton__applied_command__unpack(NULL, len, buf);
	free(buf);
	if (ac == NULL)
		return false;
	memset(ret, 0, sizeof *ret);
	ret->code = ac->code;
	CPY(ret->message, ac->message);
	ret->epoch = ac->epoch;
	ret->index = ac->index;
	CPY(ret->cmd_id, ac->cmd_id);
	baton__applied_command__free_unpacked(ac, NULL);
	return true;
}

/* --------------------------------------------------------------- persistence */

static int persist(struct baton_fsm *f, struct apply_ctx *c)
{
	struct baton_store_txn *t;
	struct baton_arena a = {0};
	Baton__Snapshot *snap;
	Baton__AppliedCommand ac = BATON__APPLIED_COMMAND__INIT;
	void *buf = NULL;
	size_t len;
	int rv;

	if (f->store == NULL) {
		if (c->cmd != NULL) {
			struct mem_dedupe *m = (struct mem_dedupe *)(f->st + 1);
			m->ring[m->next] = *c->res;
			m->next = (m->next + 1) % MEM_DEDUPE;
		}
		return 0;
	}
	rv = baton_store_begin(f->store, &t);
	if (rv != 0)
		goto fail;
	snap = baton_fsm_state_to_pb(f->st, &a);
	rv = snap == NULL ? -ENOMEM : baton_pb_pack(&snap->base, &buf, &len);
	if (rv == 0)
		rv = baton_store_put_state(t, buf, len);
	free(buf);
	buf = NULL;
	for (unsigned i = 0; rv == 0 && i < c->n_events; i++) {
		rv = baton_pb_pack(&c->events[i].base, &buf, &len);
		if (rv == 0)
			rv = baton_store_put_history(t, c->events[i].seq, buf, len);
		free(buf);
		buf = NULL;
	}
	if (rv == 0 && c->cmd != NULL) {
		ac.cmd_id = c->cmd->cmd_id;
		ac.has_index = true;
		ac.index = c->index;
		ac.has_code = true;
		ac.code = c->res->code;
		ac.message = c->res->message;
		ac.has_epoch = true;
		ac.epoch = c->res->epoch;
		rv = baton_pb_pack(&ac.base, &buf, &len);
		if (rv == 0)
			rv = baton_store_put_cmd(t, c->cmd->cmd_id, c->index, buf, len);
		free(buf);
		if (rv == 0 && c->index > BATON_FSM_DEDUPE_WINDOW)
			rv = baton_store_prune_cmds(t, c->index - BATON_FSM_DEDUPE_WINDOW);
	}
	baton_arena_free(&a);
	if (rv != 0) {
		baton_store_abort(t);
		goto fail;
	}
	return baton_store_commit(t, f->errmsg, sizeof f->errmsg);
fail:
	snprintf(f->errmsg, sizeof f->errmsg, "lmdb write at index %llu: %s", (unsigned long long)c->index,
		 strerror(-rv));
	return rv;
}

static int load(struct baton_fsm *f)
{
	void *buf;
	size_t len;
	Baton__Snapshot *snap;
	int rv = baton_store_load_state(f->store, &buf, &len);

	if (rv != 0) {
		snprintf(f->errmsg, sizeof f->errmsg, "lmdb read state: %s", strerror(-rv));
		return rv;
	}
	if (buf == NULL)
		return 0; /* new store */
	snap = baton__snapshot__unpack(NULL, len, buf);
	free(buf);
	if (snap == NULL) {
		snprintf(f->errmsg, sizeof f->errmsg, "lmdb state record is not a valid snapshot");
		return -EUCLEAN;
	}
	rv = baton_fsm_state_from_pb(f->st, snap, f->errmsg, sizeof f->errmsg);
	baton__snapshot__free_unpacked(snap, NULL);
	return rv;
}

int baton_fsm_open(struct baton_fsm *f, const char *dir, char *errbuf, size_t errlen)
{
	char path[4096];
	int rv;

	memset(f, 0, sizeof *f);
	/* The memory-only dedupe ring lives right after the state. */
	f->st = calloc(1, sizeof *f->st + sizeof(struct mem_dedupe));
	if (f->st == NULL) {
		snprintf(errbuf, errlen, "fsm: out of memory");
		return -ENOMEM;
	}
	f->st->history_next = 1;
	if (dir == NULL)
		return 0;
	snprintf(path, sizeof path, "%s/state.mdb", dir);
	rv = baton_store_open(&f->store, path, errbuf, errlen);
	if (rv == 0) {
		rv = load(f);
		if (rv != 0)
			snprintf(errbuf, errlen, "%s: %s", path, f->errmsg);
	}
	if (rv != 0) {
		baton_store_close(f->store);
		free(f->st);
		memset(f, 0, sizeof *f);
	}
	return rv;
}

void baton_fsm_close(struct baton_fsm *f)
{
	baton_store_close(f->store);
	free(f->st);
	f->st = NULL;
	f->store = NULL;
}

int baton_fsm_reset(struct baton_fsm *f)
{
	memset(f->st, 0, sizeof *f->st + sizeof(struct mem_dedupe));
	f->st->history_next = 1;
	if (f->store != NULL)
		return baton_store_clear(f->store, f->errmsg, sizeof f->errmsg);
	return 0;
}

/* -------------------------------------------------------------------- apply */

int baton_fsm_apply(struct baton_fsm *f, uint64_t index, const void *buf, size_t len)
{
	struct apply_ctx *c;
	char err[BATON_TEXT_MAX];
	int rv;

	memset(&f->last, 0, sizeof f->last);
	f->last.index = index;
	if (index <= f->st->applied_index) {
		/* Replayed by raft after a restart: LMDB already has it. */
		f->last.code = BATON_FSM_DUPLICATE;
		f->last.epoch = f->st->n_groups > 0 ? f->st->groups[0].epoch : 0;
		snprintf(f->last.message, sizeof f->last.message, "index %llu already applied",
			 (unsigned long long)index);
		return 0;
	}
	c = calloc(1, sizeof *c);
	if (c == NULL) {
		snprintf(f->errmsg, sizeof f->errmsg, "apply index %llu: out of memory", (unsigned long long)index);
		return -ENOMEM;
	}
	c->f = f;
	c->index = index;
	c->res = &f->last;
	c->cmd = baton_fsm_decode(buf, len, err, sizeof err);
	if (c->cmd == NULL) {
		/* A committed entry we cannot read is the same bytes on every node,
		 * so skipping it is deterministic. Record it loudly. */
		baton_fsm_reject(c, BATON_FSM_INVALID, "entry at index %llu: %s", (unsigned long long)index, err);
		baton_fsm_event(c, "entry", "rejected", 0, NULL, "%s", f->last.message);
	} else {
		const char *gname = c->cmd->group;
		CPY(f->last.cmd_id, c->cmd->cmd_id);
		if (dedupe_lookup(f, c->cmd->cmd_id, &f->last)) {
			f->last.code = BATON_FSM_DUPLICATE;
			c->cmd = (baton__command__free_unpacked((Baton__Command *)c->cmd, NULL), NULL);
			c->n_events = 0;
			f->st->applied_index = index;
			rv = persist(f, c);
			free(c);
			return rv;
		}
		dispatch(c);
		const struct baton_group_state *g = baton_fsm_find_group(f->st, gname);
		f->last.epoch = g != NULL ? g->epoch : 0;
		f->last.index = index;
	}
	/* Expire nonces by the proposer's clock carried in the entry. */
	if (c->cmd != NULL && c->cmd->proposed_at_ms > 0) {
		unsigned j = 0;
		for (unsigned i = 0; i < f->st->n_nonces; i++)
			if (f->st->nonces[i].expires_at_ms >= c->cmd->proposed_at_ms)
				f->st->nonces[j++] = f->st->nonces[i];
		f->st->n_nonces = j;
	}
	f->st->applied_index = index;
	rv = persist(f, c);
	if (rv == 0 && f->on_apply != NULL && c->cmd != NULL)
		f->on_apply(f->on_apply_data, &f->last, c->cmd);
	if (c->cmd != NULL)
		baton__command__free_unpacked((Baton__Command *)c->cmd, NULL);
	free(c);
	return rv;
}

/* ---------------------------------------------------------- snapshot/restore */

struct collect {
	void **items;
	size_t n, cap;
	int err;
};

static int collect_push(struct collect *col, void *item)
{
	if (item == NULL) {
		col->err = -ENOMEM;
		return 1;
	}
	if (col->n == col->cap) {
		size_t cap = col->cap ? col->cap * 2 : 256;
		void **ni = realloc(col->items, cap * sizeof *ni);
		if (ni == NULL) {
			col->err = -ENOMEM;
			return 1;
		}
		col->items = ni;
		col->cap = cap;
	}
	col->items[col->n++] = item;
	return 0;
}

static int collect_history(void *data, uint64_t seq, const void *buf, size_t len)
{
	(void)seq;
	return collect_push(data, baton__history_event__unpack(NULL, len, buf));
}

static int collect_cmd(void *data, const void *buf, size_t len)
{
	return collect_push(data, baton__applied_command__unpack(NULL, len, buf));
}

int baton_fsm_snapshot(struct baton_fsm *f, uint64_t index, void **ret_buf, size_t *ret_len)
{
	struct baton_arena a = {0};
	struct collect hist = {0}, cmds = {0};
	Baton__Snapshot *snap;
	uint64_t saved = f->st->applied_index;
	int rv = 0;

	/* Barrier and configuration entries advance raft's applied index without
	 * reaching us; the snapshot covers everything up to @index. */
	if (index > f->st->applied_index)
		f->st->applied_index = index;
	snap = baton_fsm_state_to_pb(f->st, &a);
	f->st->applied_index = saved;
	if (snap == NULL) {
		rv = -ENOMEM;
		goto out;
	}
	if (f->store != NULL) {
		if ((rv = baton_store_history(f->store, 0, UINT32_MAX, collect_history, &hist)) != 0 ||
		    (rv = hist.err) != 0 || (rv = baton_store_cmds(f->store, collect_cmd, &cmds)) != 0 ||
		    (rv = cmds.err) != 0)
			goto out;
		snap->n_history = hist.n;
		snap->history = (Baton__HistoryEvent **)hist.items;
		snap->n_applied = cmds.n;
		snap->applied = (Baton__AppliedCommand **)cmds.items;
	}
	rv = baton_pb_pack(&snap->base, ret_buf, ret_len);
	if (rv == 0)
		rv = frame(*ret_buf, *ret_len, ret_buf, ret_len);
out:
	for (size_t i = 0; i < hist.n; i++)
		baton__history_event__free_unpacked(hist.items[i], NULL);
	for (size_t i = 0; i < cmds.n; i++)
		baton__applied_command__free_unpacked(cmds.items[i], NULL);
	free(hist.items);
	free(cmds.items);
	baton_arena_free(&a);
	if (rv != 0)
		snprintf(f->errmsg, sizeof f->errmsg, "snapshot at index %llu: %s", (unsigned long long)index,
			 strerror(-rv));
	return rv;
}

int baton_fsm_restore(struct baton_fsm *f, const void *buf, size_t len)
{
	Baton__Snapshot *snap;
	struct baton_fsm_state *fresh;
	struct baton_store_txn *t = NULL;
	int rv;

	const uint8_t *payload;
	size_t plen;
	char err[128];

	payload = unframe(buf, len, &plen, err, sizeof err);
	if (payload == NULL) {
		snprintf(f->errmsg, sizeof f->errmsg, "restore: snapshot: %s", err);
		return -EINVAL;
	}
	snap = baton__snapshot__unpack(NULL, plen, payload);
	if (snap == NULL) {
		snprintf(f->errmsg, sizeof f->errmsg, "restore: snapshot of %zu bytes is not a valid baton.Snapshot", plen);
		return -EINVAL;
	}
	if (snap->applied_index <= f->st->applied_index) {
		/* At start-up raft restores its latest snapshot, which LMDB has
		 * already passed; keep LMDB (raft replays only newer entries). */
		baton__snapshot__free_unpacked(snap, NULL);
		return 0;
	}
	fresh = calloc(1, sizeof *fresh + sizeof(struct mem_dedupe));
	if (fresh == NULL) {
		baton__snapshot__free_unpacked(snap, NULL);
		return -ENOMEM;
	}
	rv = baton_fsm_state_from_pb(fresh, snap, f->errmsg, sizeof f->errmsg);
	if (rv == 0 && f->store != NULL) {
		/* One transaction: a crash leaves either the old view or the new. */
		rv = baton_store_begin(f->store, &t);
		if (rv == 0)
			rv = baton_store_drop_all(t);
		for (size_t i = 0; rv == 0 && i < snap->n_history; i++) {
			void *b;
			size_t l;
			rv = baton_pb_pack(&snap->history[i]->base, &b, &l);
			if (rv == 0)
				rv = baton_store_put_history(t, snap->history[i]->seq, b, l);
			free(b);
		}
		for (size_t i = 0; rv == 0 && i < snap->n_applied; i++) {
			void *b;
			size_t l;
			rv = baton_pb_pack(&snap->applied[i]->base, &b, &l);
			if (rv == 0)
				rv = baton_store_put_cmd(t, snap->applied[i]->cmd_id, snap->applied[i]->index, b, l);
			free(b);
		}
	}
	if (rv == 0) {
		memcpy(f->st, fresh, sizeof *fresh);
		if (f->store != NULL) {
			struct baton_arena a = {0};
			Baton__Snapshot *core = baton_fsm_state_to_pb(f->st, &a);
			void *b = NULL;
			size_t l;
			rv = core == NULL ? -ENOMEM : baton_pb_pack(&core->base, &b, &l);
			if (rv == 0)
				rv = baton_store_put_state(t, b, l);
			free(b);
			baton_arena_free(&a);
			if (rv == 0) {
				rv = baton_store_commit(t, f->errmsg, sizeof f->errmsg);
				t = NULL;
			}
		}
	}
	if (t != NULL)
		baton_store_abort(t);
	free(fresh);
	baton__snapshot__free_unpacked(snap, NULL);
	return rv;
}

/* ------------------------------------------------------------------ history */

struct hist_ctx {
	void (*fn)(void *data, const Baton__HistoryEvent *ev);
	void *data;
};

static int hist_cb(void *data, uint64_t seq, const void *buf, size_t len)
{
	struct hist_ctx *h = data;
	Baton__HistoryEvent *ev = baton__history_event__unpack(NULL, len, buf);

	(void)seq;
	if (ev == NULL)
		return 0; /* unreadable record: skip rather than hide the rest */
	h->fn(h->data, ev);
	baton__history_event__free_unpacked(ev, NULL);
	return 0;
}

int baton_fsm_history(struct baton_fsm *f, uint64_t since, unsigned limit,
		      void (*fn)(void *data, const Baton__HistoryEvent *ev), void *data)
{
	struct hist_ctx h = {.fn = fn, .data = data};

	if (f->store == NULL)
		return 0;
	return baton_store_history(f->store, since, limit, hist_cb, &h);
}
