/* SPDX-License-Identifier: MIT */
/* C state <-> protobuf for LMDB and raft snapshots. Packing builds a
 * temporary message tree whose strings point into the C state (no copies);
 * unpacking copies into fixed-size fields and rejects anything over a limit
 * rather than truncating it silently. */
#include "fsm_pb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void *baton_arena_alloc(struct baton_arena *a, size_t n)
{
	void *p;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		void **nb = realloc(a->blocks, cap * sizeof *nb);
		if (nb == NULL)
			return NULL;
		a->blocks = nb;
		a->cap = cap;
	}
	p = calloc(1, n ? n : 1);
	if (p != NULL)
		a->blocks[a->n++] = p;
	return p;
}

void baton_arena_free(struct baton_arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->blocks[i]);
	free(a->blocks);
	a->blocks = NULL;
	a->n = a->cap = 0;
}

static void *arena_dup(struct baton_arena *a, const void *init, size_t n)
{
	void *p = baton_arena_alloc(a, n);
	if (p != NULL)
		memcpy(p, init, n);
	return p;
}
/* A new message, initialised from its protobuf-c INIT macro. */
#define NEW(a, type, INIT) ((type *)arena_dup((a), &(type)INIT, sizeof(type)))
#define ARR(a, type, n) ((type *)baton_arena_alloc((a), sizeof(type) * ((n) ? (n) : 1)))

static Baton__Step *step_to_pb(const struct baton_step_state *s, struct baton_arena *a)
{
	Baton__Step *p = NEW(a, Baton__Step, BATON__STEP__INIT);
	Baton__StepSpec *spec = NEW(a, Baton__StepSpec, BATON__STEP_SPEC__INIT);

	if (p == NULL || spec == NULL)
		return NULL;
	spec->name = (char *)s->name;
	spec->driver = (char *)s->driver;
	spec->region = (char *)s->region;
	spec->has_idempotent = true;
	spec->idempotent = s->idempotent;
	spec->n_after = s->n_after;
	spec->after = ARR(a, char *, s->n_after);
	if (spec->after == NULL)
		return NULL;
	for (unsigned i = 0; i < s->n_after; i++)
		spec->after[i] = (char *)s->after[i];
	p->spec = spec;
	p->has_state = true;
	p->state = s->state;
	p->has_attempts = true;
	p->attempts = s->attempts;
	p->error = (char *)s->error;
	p->has_started_at_ms = true;
	p->started_at_ms = s->started_at_ms;
	p->has_ended_at_ms = true;
	p->ended_at_ms = s->ended_at_ms;
	p->output = (char *)s->output;
	p->has_duration_ms = true;
	p->duration_ms = s->duration_ms;
	return p;
}

static Baton__Transition *tr_to_pb(const struct baton_transition_state *t, struct baton_arena *a)
{
	Baton__Transition *p = NEW(a, Baton__Transition, BATON__TRANSITION__INIT);

	if (p == NULL)
		return NULL;
	p->id = (char *)t->id;
	p->has_kind = true;
	p->kind = t->kind;
	p->from = (char *)t->from;
	p->to = (char *)t->to;
	p->reason = (char *)t->reason;
	p->by = (char *)t->by;
	p->has_state = true;
	p->state = t->state;
	p->has_drill = true;
	p->drill = t->drill;
	p->has_epoch = true;
	p->epoch = t->epoch;
	p->has_started_at_ms = true;
	p->started_at_ms = t->started_at_ms;
	p->has_ended_at_ms = true;
	p->ended_at_ms = t->ended_at_ms;
	p->n_steps = t->n_steps;
	p->steps = ARR(a, Baton__Step *, t->n_steps);
	if (p->steps == NULL)
		return NULL;
	for (unsigned i = 0; i < t->n_steps; i++)
		if ((p->steps[i] = step_to_pb(&t->steps[i], a)) == NULL)
			return NULL;
	return p;
}

static Baton__RegionState *region_to_pb(const struct baton_region_state *r, struct baton_arena *a)
{
	Baton__RegionState *p = NEW(a, Baton__RegionState, BATON__REGION_STATE__INIT);

	if (p == NULL)
		return NULL;
	p->name = (char *)r->name;
	p->has_priority = true;
	p->priority = r->priority;
	p->n_observations = r->n_obs;
	p->observations = ARR(a, Baton__Observation *, r->n_obs);
	if (p->observations == NULL)
		return NULL;
	for (unsigned i = 0; i < r->n_obs; i++) {
		Baton__Observation *o = NEW(a, Baton__Observation, BATON__OBSERVATION__INIT);
		if (o == NULL)
			return NULL;
		o->observer = r->obs[i].observer;
		o->region = (char *)r->name;
		o->down = r->obs[i].down;
		o->detail = (char *)r->obs[i].detail;
		o->has_since_index = true;
		o->since_index = r->obs[i].since_index;
		p->observations[i] = o;
	}
	if (r->has_health) {
		Baton__RegionHealth *h = NEW(a, Baton__RegionHealth, BATON__REGION_HEALTH__INIT);
		if (h == NULL)
			return NULL;
		h->region = (char *)r->name;
		h->has_critical = true;
		h->critical = r->critical;
		h->has_lag_bytes = true;
		h->lag_bytes = r->lag_bytes;
		h->has_lag_ms = true;
		h->lag_ms = r->lag_ms;
		h->has_reporters_ok = true;
		h->reporters_ok = r->reporters_ok;
		h->detail = (char *)r->health_detail;
		h->has_index = true;
		h->index = r->health_index;
		p->health = h;
	}
	if (r->rejoin_phase != 0) {
		Baton__RejoinState *rj = NEW(a, Baton__RejoinState, BATON__REJOIN_STATE__INIT);
		if (rj == NULL)
			return NULL;
		rj->has_phase = true;
		rj->phase = r->rejoin_phase;
		rj->has_epoch = true;
		rj->epoch = r->rejoin_epoch;
		rj->detail = (char *)r->rejoin_detail;
		rj->by = (char *)r->rejoin_by;
		rj->has_at_ms = true;
		rj->at_ms = r->rejoin_at_ms;
		p->rejoin = rj;
	}
	return p;
}

static Baton__GroupState *group_to_pb(const struct baton_group_state *g, struct baton_arena *a)
{
	Baton__GroupState *p = NEW(a, Baton__GroupState, BATON__GROUP_STATE__INIT);

	if (p == NULL)
		return NULL;
	p->name = (char *)g->name;
	p->has_epoch = true;
	p->epoch = g->epoch;
	p->active_region = (char *)g->active;
	p->previous_region = (char *)g->previous;
	p->has_frozen = true;
	p->frozen = g->frozen;
	p->frozen_by = (char *)g->frozen_by;
	p->frozen_reason = (char *)g->frozen_reason;
	if (g->has_transition && (p->transition = tr_to_pb(&g->tr, a)) == NULL)
		return NULL;
	p->n_auto_failovers_ms = g->n_auto;
	p->auto_failovers_ms = (uint64_t *)g->auto_failovers_ms;
	p->n_regions = g->n_regions;
	p->regions = ARR(a, Baton__RegionState *, g->n_regions);
	if (p->regions == NULL)
		return NULL;
	for (unsigned i = 0; i < g->n_regions; i++)
		if ((p->regions[i] = region_to_pb(&g->regions[i], a)) == NULL)
			return NULL;
	return p;
}

Baton__Snapshot *baton_fsm_state_to_pb(const struct baton_fsm_state *st, struct baton_arena *a)
{
	Baton__Snapshot *s = NEW(a, Baton__Snapshot, BATON__SNAPSHOT__INIT);
	Baton__ClusterConfig *cc = NEW(a, Baton__ClusterConfig, BATON__CLUSTER_CONFIG__INIT);

	if (s == NULL || cc == NULL)
		return NULL;
	s->format = 1;
	s->has_applied_index = true;
	s->applied_index = st->applied_index;
	s->has_history_next = true;
	s->history_next = st->history_next;
	cc->generation = st->generation;
	cc->hash = (char *)st->conf_hash;
	s->cluster = cc;
	s->n_groups = st->n_groups;
	s->groups = ARR(a, Baton__GroupState *, st->n_groups);
	if (s->groups == NULL)
		return NULL;
	for (unsigned i = 0; i < st->n_groups; i++)
		if ((s->groups[i] = group_to_pb(&st->groups[i], a)) == NULL)
			return NULL;
	s->n_reach = st->n_reach;
	s->reach = ARR(a, Baton__MemberReach *, st->n_reach);
	if (s->reach == NULL)
		return NULL;
	for (unsigned i = 0; i < st->n_reach; i++) {
		Baton__MemberReach *m = NEW(a, Baton__MemberReach, BATON__MEMBER_REACH__INIT);
		if (m == NULL)
			return NULL;
		m->id = st->reach[i].id;
		m->reachable = st->reach[i].reachable;
		s->reach[i] = m;
	}
	s->n_pending = st->n_pending;
	s->pending = ARR(a, Baton__PendingCommand *, st->n_pending);
	if (s->pending == NULL)
		return NULL;
	for (unsigned i = 0; i < st->n_pending; i++) {
		Baton__PendingCommand *pc = NEW(a, Baton__PendingCommand, BATON__PENDING_COMMAND__INIT);
		if (pc == NULL)
			return NULL;
		pc->id = (char *)st->pending[i].id;
		pc->body.data = (uint8_t *)st->pending[i].body;
		pc->body.len = st->pending[i].body_len;
		pc->key_id = (char *)st->pending[i].key_id;
		pc->signer = (char *)st->pending[i].signer;
		pc->has_expires_at_ms = true;
		pc->expires_at_ms = st->pending[i].expires_at_ms;
		s->pending[i] = pc;
	}
	s->n_nonces = st->n_nonces;
	s->nonces = ARR(a, Baton__NonceEntry *, st->n_nonces);
	if (s->nonces == NULL)
		return NULL;
	for (unsigned i = 0; i < st->n_nonces; i++) {
		Baton__NonceEntry *n = NEW(a, Baton__NonceEntry, BATON__NONCE_ENTRY__INIT);
		if (n == NULL)
			return NULL;
		n->nonce.data = (uint8_t *)st->nonces[i].nonce;
		n->nonce.len = st->nonces[i].len;
		n->has_expires_at_ms = true;
		n->expires_at_ms = st->nonces[i].expires_at_ms;
		s->nonces[i] = n;
	}
	return s;
}

/* Copy a protobuf string into a fixed field; fail rather than truncate. */
#define COPY_STR(dst, src, what)                                                                             \
	do {                                                                                                 \
		if (!baton_strlcpy((dst), (src) != NULL ? (src) : "", sizeof(dst))) {                         \
			snprintf(errbuf, errlen, "%s too long (max %zu)", (what), sizeof(dst) - 1);           \
			return -EINVAL;                                                                      \
		}                                                                                            \
	} while (0)

static int step_from_pb(struct baton_step_state *s, const Baton__Step *p, char *errbuf, size_t errlen)
{
	const Baton__StepSpec *spec = p->spec;

	COPY_STR(s->name, spec->name, "step name");
	COPY_STR(s->driver, spec->driver, "step driver");
	COPY_STR(s->region, spec->region, "step region");
	if (spec->n_after > BATON_FSM_MAX_AFTER) {
		snprintf(errbuf, errlen, "step '%s' has %zu dependencies (max %d)", spec->name, spec->n_after,
			 BATON_FSM_MAX_AFTER);
		return -EINVAL;
	}
	s->n_after = (unsigned)spec->n_after;
	for (unsigned i = 0; i < s->n_after; i++)
		COPY_STR(s->after[i], spec->after[i], "step dependency");
	s->idempotent = spec->idempotent;
	s->state = p->state;
	s->attempts = p->attempts;
	COPY_STR(s->error, p->error, "step error");
	s->started_at_ms = p->started_at_ms;
	s->ended_at_ms = p->ended_at_ms;
	s->duration_ms = p->duration_ms;
	COPY_STR(s->output, p->output, "step output");
	return 0;
}

static int group_from_pb(struct baton_group_state *g, const Baton__GroupState *p, char *errbuf, size_t errlen)
{
	int rv;

	COPY_STR(g->name, p->name, "group name");
	g->epoch = p->epoch;
	COPY_STR(g->active, p->active_region, "active region");
	COPY_STR(g->previous, p->previous_region, "previous region");
	g->frozen = p->frozen;
	COPY_STR(g->frozen_by, p->frozen_by, "frozen_by");
	COPY_STR(g->frozen_reason, p->frozen_reason, "frozen reason");
	g->has_transition = p->transition != NULL;
	if (p->transition != NULL) {
		const Baton__Transition *t = p->transition;
		struct baton_transition_state *tr = &g->tr;
		COPY_STR(tr->id, t->id, "transition id");
		tr->kind = t->kind;
		COPY_STR(tr->from, t->from, "transition from");
		COPY_STR(tr->to, t->to, "transition to");
		COPY_STR(tr->reason, t->reason, "transition reason");
		COPY_STR(tr->by, t->by, "transition by");
		tr->state = t->state;
		tr->drill = t->drill;
		tr->epoch = t->epoch;
		tr->started_at_ms = t->started_at_ms;
		tr->ended_at_ms = t->ended_at_ms;
		if (t->n_steps > BATON_FSM_MAX_STEPS) {
			snprintf(errbuf, errlen, "transition has %zu steps (max %d)", t->n_steps, BATON_FSM_MAX_STEPS);
			return -EINVAL;
		}
		tr->n_steps = (unsigned)t->n_steps;
		for (unsigned i = 0; i < tr->n_steps; i++)
			if ((rv = step_from_pb(&tr->steps[i], t->steps[i], errbuf, errlen)) != 0)
				return rv;
	}
	if (p->n_auto_failovers_ms > BATON_FSM_MAX_AUTO || p->n_regions > BATON_FSM_MAX_REGIONS) {
		snprintf(errbuf, errlen, "group '%s' exceeds a limit", p->name);
		return -EINVAL;
	}
	g->n_auto = (unsigned)p->n_auto_failovers_ms;
	for (unsigned i = 0; i < g->n_auto; i++)
		g->auto_failovers_ms[i] = p->auto_failovers_ms[i];
	g->n_regions = (unsigned)p->n_regions;
	for (unsigned i = 0; i < g->n_regions; i++) {
		const Baton__RegionState *rp = p->regions[i];
		struct baton_region_state *r = &g->regions[i];
		COPY_STR(r->name, rp->name, "region name");
		r->priority = rp->priority;
		if (rp->n_observations > BATON_FSM_MAX_OBSERVERS) {
			snprintf(errbuf, errlen, "region '%s' has too many observers", rp->name);
			return -EINVAL;
		}
		r->n_obs = (unsigned)rp->n_observations;
		for (unsigned j = 0; j < r->n_obs; j++) {
			r->obs[j].observer = rp->observations[j]->observer;
			r->obs[j].down = rp->observations[j]->down;
			r->obs[j].since_index = rp->observations[j]->since_index;
			COPY_STR(r->obs[j].detail, rp->observations[j]->detail, "observation detail");
		}
		r->has_health = rp->health != NULL;
		if (rp->health != NULL) {
			r->critical = rp->health->critical;
			r->lag_bytes = rp->health->lag_bytes;
			r->lag_ms = rp->health->lag_ms;
			r->reporters_ok = rp->health->reporters_ok;
			r->health_index = rp->health->index;
			COPY_STR(r->health_detail, rp->health->detail, "health detail");
		}
		if (rp->rejoin != NULL) {
			r->rejoin_phase = rp->rejoin->phase;
			r->rejoin_epoch = rp->rejoin->epoch;
			r->rejoin_at_ms = rp->rejoin->at_ms;
			COPY_STR(r->rejoin_detail, rp->rejoin->detail, "rejoin detail");
			COPY_STR(r->rejoin_by, rp->rejoin->by, "rejoin requester");
		}
	}
	return 0;
}

int baton_fsm_state_from_pb(struct baton_fsm_state *st, const Baton__Snapshot *snap, char *errbuf,
			    size_t errlen)
{
	int rv;

	if (snap->format != 1) {
		snprintf(errbuf, errlen, "snapshot format %u not supported (this build reads format 1)",
			 snap->format);
		return -EINVAL;
	}
	if (snap->n_groups > BATON_FSM_MAX_GROUPS || snap->n_reach > BATON_FSM_MAX_MEMBERS ||
	    snap->n_nonces > BATON_FSM_MAX_NONCES) {
		snprintf(errbuf, errlen, "snapshot exceeds a limit (groups %zu, members %zu, nonces %zu)",
			 snap->n_groups, snap->n_reach, snap->n_nonces);
		return -EINVAL;
	}
	memset(st, 0, sizeof *st);
	st->applied_index = snap->applied_index;
	st->history_next = snap->history_next;
	if (snap->cluster != NULL) {
		st->generation = snap->cluster->generation;
		COPY_STR(st->conf_hash, snap->cluster->hash, "config hash");
	}
	st->n_groups = (unsigned)snap->n_groups;
	for (unsigned i = 0; i < st->n_groups; i++)
		if ((rv = group_from_pb(&st->groups[i], snap->groups[i], errbuf, errlen)) != 0)
			return rv;
	st->n_reach = (unsigned)snap->n_reach;
	for (unsigned i = 0; i < st->n_reach; i++) {
		st->reach[i].id = snap->reach[i]->id;
		st->reach[i].reachable = snap->reach[i]->reachable;
	}
	if (snap->n_pending > BATON_FSM_MAX_PENDING) {
		snprintf(errbuf, errlen, "snapshot has too many pending commands");
		return -EINVAL;
	}
	st->n_pending = (unsigned)snap->n_pending;
	for (unsigned i = 0; i < st->n_pending; i++) {
		const Baton__PendingCommand *pc = snap->pending[i];
		if (pc->body.len > BATON_FSM_PENDING_BODY) {
			snprintf(errbuf, errlen, "snapshot pending command too large");
			return -EINVAL;
		}
		COPY_STR(st->pending[i].id, pc->id, "pending id");
		COPY_STR(st->pending[i].key_id, pc->key_id, "pending key id");
		COPY_STR(st->pending[i].signer, pc->signer, "pending signer");
		if (pc->body.len > 0)
			memcpy(st->pending[i].body, pc->body.data, pc->body.len);
		st->pending[i].body_len = pc->body.len;
		st->pending[i].expires_at_ms = pc->expires_at_ms;
	}
	st->n_nonces = (unsigned)snap->n_nonces;
	for (unsigned i = 0; i < st->n_nonces; i++) {
		if (snap->nonces[i]->nonce.len > sizeof st->nonces[i].nonce) {
			snprintf(errbuf, errlen, "snapshot nonce too long");
			return -EINVAL;
		}
		if (snap->nonces[i]->nonce.len > 0)
			memcpy(st->nonces[i].nonce, snap->nonces[i]->nonce.data, snap->nonces[i]->nonce.len);
		st->nonces[i].len = snap->nonces[i]->nonce.len;
		st->nonces[i].expires_at_ms = snap->nonces[i]->expires_at_ms;
	}
	return 0;
}

int baton_pb_pack(const ProtobufCMessage *msg, void **ret_buf, size_t *ret_len)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(len > 0 ? len : 1);

	if (buf == NULL)
		return -ENOMEM;
	protobuf_c_message_pack(msg, buf);
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}
