/* SPDX-License-Identifier: MIT */
/* Detection, leases and automatic failover on a running node; see coord.h.
 *
 * Every tick (200 ms) each node:
 *   - as an observer, pushes changes of its subjective verdicts to the leader;
 *   - as the holder of an active region's lease, renews it every ttl/3 and
 *     fences its region itself when it cannot (lease expired, renewal refused,
 *     or the baton moved away);
 *   - as the leader, turns observations into "objectively down", revokes the
 *     lease of a down active region, runs the decision engine, writes every
 *     change of decision (taken or blocked, with its rule) to the history, and
 *     starts the failover transition.
 * All proposals are conditional on the epoch and carry a fresh cmd_id. */
#include "coord.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "node.h"
#include "peer.h"
#include "util.h"

static const struct baton_group_state *group_state(struct baton_node *n, unsigned g)
{
	return baton_fsm_group(&n->fsm, n->cfg.cluster.groups[g].name);
}

static bool running(const struct baton_group_state *gs)
{
	return gs->has_transition && gs->tr.state == BATON__TRANSITION_STATE__TRANSITION_RUNNING && !gs->tr.drill;
}

/* ------------------------------------------------------------ the lease wait
 *
 * Why the old region has fenced itself before the new one is promoted:
 *
 * The holder H counts its lease from the moment it SENT the renewal, on its
 * own monotonic clock: it may act until t_send + ttl (H-clock), and it runs
 * its self-fence steps as soon as that passes without a newer grant. The
 * leader L records the moment it GRANTED the renewal (after a barrier proved
 * it still led), t_grant >= t_send in real time, on L's monotonic clock.
 *
 * Clocks need not agree, only their rates: if neither runs more than
 * max_drift faster than the other, ttl on H's clock lasts at most
 * ttl * (1 + max_drift) on L's clock. So when L has waited
 *        W = ttl * (1 + max_drift) + margin
 * since t_grant, H's lease has expired in real time, and margin (which must
 * cover the self-fence steps) has passed as well. L promotes nothing before
 * that; see lease_clear_at below, which the decision engine enforces as the
 * "lease" rule.
 *
 * A leader that has just been elected does not know when its predecessor
 * last granted, so it waits W from its own election (leader_since): any grant
 * by an older leader happened before this leader's term began.
 *
 * Once the active region is objectively down the leader revokes the lease:
 * renewals are refused (the holder fences at once if it hears that) and no
 * new grant moves the wait further out.
 *
 * -DBATON_UNSAFE_SKIP_LEASE_WAIT removes the wait; it exists only so that
 * jepsen/ can show the checker catching the resulting overlap. */
uint64_t baton_coord_lease_bound_ms(const struct baton_node *n)
{
	const struct baton_lease_config *l = &n->cfg.cluster.lease;
	return baton_lease_wait_ms(l->ttl_ms, l->max_drift_percent, l->margin_ms);
}

uint64_t baton_coord_lease_clear_at(struct baton_node *n, unsigned g)
{
#ifdef BATON_UNSAFE_SKIP_LEASE_WAIT
	(void)n;
	(void)g;
	return 0;
#else
	const struct baton_lease_config *l = &n->cfg.cluster.lease;
	return baton_lease_clear_at(n->groups[g].last_grant_ms, n->leader_since_ms, l->ttl_ms, l->max_drift_percent,
				    l->margin_ms);
#endif
}

/* ---------------------------------------------------------------- holder */

static void self_fence(struct baton_node *n, unsigned g, const char *reason)
{
	struct baton_coord_group *cg = &n->groups[g];

	if (cg->fenced)
		return;
	cg->fenced = true;
	cg->lease_valid = false;
	cg->fenced_at_wall_ms = baton_wall_ms();
	snprintf(cg->fence_reason, sizeof cg->fence_reason, "%s", reason);
	/* Where the lease ran out, on the wall clock, for anyone comparing this
	 * node's records with the leader's (e.g. the failover test). */
	uint64_t now = uv_now(n->loop);
	uint64_t expired_wall = cg->lease_until_ms <= now ? cg->fenced_at_wall_ms - (now - cg->lease_until_ms)
							   : cg->fenced_at_wall_ms;
	log_crit("lease", "self-fencing: this region stops acting as active", "group=%s region=%s epoch=%" PRIu64
		 " reason=\"%s\" fenced_at_ms=%" PRIu64 " lease_expired_at_ms=%" PRIu64,
		 n->cfg.cluster.groups[g].name, n->cfg.self->region, cg->held_epoch, reason, cg->fenced_at_wall_ms,
		 expired_wall);
	/* The configured self-fence steps run through the action drivers, after an
	 * unfence step in flight (it started with its whole timeout of lease left,
	 * so it ends before the lease the leader counts from does). */
	if (cg->unfencing) {
		cg->fence_deferred = true;
		snprintf(cg->deferred_reason, sizeof cg->deferred_reason, "%s", reason);
		log_warn("lease", "self-fence steps wait for the unfence step in flight", "group=%s",
			 n->cfg.cluster.groups[g].name);
		return;
	}
	baton_node_self_fence_steps(n, g, reason);
}

struct renew_ctx {
	struct baton_node *n;
	unsigned g;
	uint64_t sent_ms;
	uint64_t epoch;
};

static void renew_cb(void *data, int status, const Baton__PeerResponse *resp)
{
	struct renew_ctx *c = data;
	struct baton_node *n = c->n;
	struct baton_coord_group *cg = &n->groups[c->g];

	cg->renewing = false;
	if (n->stopping || !cg->holder || cg->held_epoch != c->epoch) {
		free(c);
		return;
	}
	if (status != 0) {
		cg->renewals_failed++;
		log_debug("lease", "renewal not delivered", "error=\"%s\"", strerror(-status));
	} else if (resp->has_granted && resp->granted) {
		cg->renewals_ok++;
		cg->lease_until_ms = c->sent_ms + n->cfg.cluster.lease.ttl_ms;
		if (!cg->lease_valid || cg->fenced)
			log_notice("lease", cg->fenced ? "lease granted again; the region resumes" : "lease granted",
				   "group=%s region=%s epoch=%" PRIu64, n->cfg.cluster.groups[c->g].name,
				   n->cfg.self->region, c->epoch);
		cg->lease_valid = true;
		cg->fenced = false;
		if (cg->fence_steps_ran && !cg->unfencing)
			baton_node_unfence_steps(n, c->g);
	} else {
		cg->renewals_refused++;
		self_fence(n, c->g, resp->error != NULL && resp->error[0] ? resp->error : "lease renewal refused");
	}
	free(c);
}

static void holder_duties(struct baton_node *n, unsigned g, uint64_t now)
{
	struct baton_coord_group *cg = &n->groups[g];
	const struct baton_group_state *gs = group_state(n, g);
	const struct baton_lease_config *l = &n->cfg.cluster.lease;
	bool mine = gs != NULL && !n->cfg.self->witness && strcmp(gs->active, n->cfg.self->region) == 0;

	if (!mine) {
		/* The baton moved away (or never was here): fence if we held it. */
		if (cg->holder)
			self_fence(n, g, "the baton moved to another region");
		cg->holder = false;
		cg->fence_steps_ran = false; /* whatever comes next is the plan's business */
		return;
	}
	if (!cg->holder || cg->held_epoch != gs->epoch) {
		/* Start holding: no lease yet; if none is granted within ttl we
		 * fence exactly as if it had expired. */
		cg->holder = true;
		cg->held_epoch = gs->epoch;
		cg->lease_valid = false;
		cg->fenced = false;
		cg->lease_until_ms = now + l->ttl_ms;
		cg->last_renew_sent_ms = 0;
	}
	if (!cg->renewing && (cg->last_renew_sent_ms == 0 || now - cg->last_renew_sent_ms >= l->ttl_ms / 3)) {
		Baton__PeerRequest req = BATON__PEER_REQUEST__INIT;
		Baton__LeaseRenew lr = BATON__LEASE_RENEW__INIT;
		struct renew_ctx *c = calloc(1, sizeof *c);
		if (c != NULL) {
			c->n = n;
			c->g = g;
			c->sent_ms = now;
			c->epoch = gs->epoch;
			lr.region = (char *)n->cfg.self->region;
			lr.epoch = gs->epoch;
			req.body_case = BATON__PEER_REQUEST__BODY_LEASE;
			req.lease = &lr;
			req.group = (char *)n->cfg.cluster.groups[g].name;
			cg->renewing = true;
			cg->last_renew_sent_ms = now;
			if (baton_peer_send(n, &req, renew_cb, c) != 0) {
				cg->renewing = false;
				cg->renewals_failed++;
				free(c);
			}
		}
	}
	if (now >= cg->lease_until_ms && !cg->fenced) {
		char why[128];
		snprintf(why, sizeof why, "lease expired: no renewal granted for %" PRIu64 " ms", l->ttl_ms);
		self_fence(n, g, why);
	}
}

void baton_coord_holder_kick(struct baton_node *n)
{
	uint64_t now = uv_now(n->loop);

	if (n->stopping || n->stop_requested)
		return;
	for (unsigned g = 0; g < n->cfg.cluster.n_groups; g++)
		holder_duties(n, g, now);
}

bool baton_coord_holder_has_lease(struct baton_node *n, const char *group, uint64_t epoch)
{
	int g = baton_coord_group_index(n, group);

	return g >= 0 && n->groups[g].last_grant_ms != 0 && n->groups[g].last_grant_epoch == epoch;
}

bool baton_coord_may_act(struct baton_node *n, unsigned g, const char **why)
{
	struct baton_coord_group *cg = &n->groups[g];
	uint64_t now = uv_now(n->loop);

	if (!cg->holder) {
		*why = "this region does not hold the baton";
		return false;
	}
	if (cg->fenced) {
		*why = "this region has fenced itself (lease lost)";
		return false;
	}
	if (!cg->lease_valid || now >= cg->lease_until_ms) {
		*why = "no valid lease yet";
		return false;
	}
	return true;
}

/* -------------------------------------------------------------- observer */

struct obs_ctx {
	struct baton_node *n;
	unsigned r;
};

static void obs_cb(void *data, int status, const Baton__PeerResponse *resp)
{
	struct obs_ctx *c = data;

	(void)resp;
	c->n->obs_inflight[c->r] = false;
	if (status != 0)
		log_debug("detect", "observation not delivered; will retry", "error=\"%s\"", strerror(-status));
	free(c);
}

void baton_coord_observed(void *data, const char *region, bool down, const char *detail)
{
	struct baton_node *n = data;

	log_notice("detect", down ? "region looks down from here" : "region looks up from here",
		   "region=%s observer=%s detail=\"%s\"", region, n->cfg.self->name, detail);
}

/* Push this observer's verdicts that differ from what the log says. Retries
 * naturally: the next tick compares again. */
static void observer_duties(struct baton_node *n)
{
	for (unsigned i = 0; i < n->detect.n_regions; i++) {
		const struct baton_detect_region *dr = &n->detect.regions[i];
		const struct baton_group_state *gs = group_state(n, 0);
		const struct baton_region_state *rs;
		bool committed_down = false, committed = false;

		if (!dr->known || n->obs_inflight[i] || gs == NULL)
			continue;
		rs = baton_fsm_region(gs, dr->cfg->name);
		for (unsigned j = 0; rs != NULL && j < rs->n_obs; j++)
			if (rs->obs[j].observer == n->cfg.node.id) {
				committed = true;
				committed_down = rs->obs[j].down;
			}
		if (committed && committed_down == dr->down)
			continue;
		if (!committed && !dr->down)
			continue; /* "up" is the default: commit only news */
		Baton__PeerRequest req = BATON__PEER_REQUEST__INIT;
		Baton__Observation ob = BATON__OBSERVATION__INIT;
		struct obs_ctx *c = calloc(1, sizeof *c);
		if (c == NULL)
			return;
		c->n = n;
		c->r = i;
		ob.observer = n->cfg.node.id;
		ob.region = (char *)dr->cfg->name;
		ob.down = dr->down;
		ob.detail = (char *)(dr->down ? dr->detail : "probes pass");
		req.body_case = BATON__PEER_REQUEST__BODY_OBSERVATION;
		req.observation = &ob;
		n->obs_inflight[i] = true;
		if (baton_peer_send(n, &req, obs_cb, c) != 0) {
			n->obs_inflight[i] = false;
			free(c);
		}
	}
}

/* ---------------------------------------------------------------- leader */

static unsigned observer_quorum(const struct baton_node *n)
{
	if (n->cfg.cluster.detection.observer_quorum > 0)
		return (unsigned)n->cfg.cluster.detection.observer_quorum;
	return n->cfg.cluster.n_members / 2 + 1;
}

void baton_coord_decide_input(struct baton_node *n, unsigned g, struct baton_decide_region *regions,
			      struct baton_decide_input *in)
{
	const struct baton_group_state *gs = group_state(n, g);
	unsigned q = observer_quorum(n);

	memset(in, 0, sizeof *in);
	in->active = gs != NULL ? gs->active : "";
	in->cfg = &n->cfg.cluster.failover;
	in->now_ms = uv_now(n->loop);
	in->now_wall_ms = baton_wall_ms();
	if (gs == NULL)
		return;
	in->frozen = gs->frozen;
	in->transition_running = running(gs);
	in->auto_failovers_wall_ms = gs->auto_failovers_ms;
	in->n_auto = gs->n_auto;
	for (unsigned i = 0; i < gs->n_regions && i < BATON_MAX_REGIONS; i++) {
		const struct baton_region_state *rs = &gs->regions[i];
		struct baton_decide_region *r = &regions[in->n_regions++];
		memset(r, 0, sizeof *r);
		r->name = rs->name;
		r->priority = rs->priority;
		for (unsigned j = 0; j < rs->n_obs; j++)
			if (rs->obs[j].down)
				r->down_votes++;
		r->critical = rs->has_health && rs->critical;
		r->down = r->down_votes >= q || r->critical;
		r->reporters_fresh = rs->has_health && rs->reporters_ok;
		r->has_lag = rs->has_health;
		r->lag_bytes = rs->lag_bytes;
		r->lag_ms = rs->lag_ms;
	}
	in->regions = regions;
	in->active_down_since_ms = n->groups[g].down_since_ms;
	in->lease_clear_at_ms = baton_coord_lease_clear_at(n, g);
}

struct prop_ctx {
	struct baton_node *n;
	unsigned g;
	char kind[16];
};

static void prop_cb(void *data, int status, const struct baton_fsm_result *res)
{
	struct prop_ctx *c = data;
	struct baton_node *n = c->n;

	n->groups[c->g].proposing = false;
	if (status != 0)
		log_warn("leader", "proposal not confirmed; the next tick decides again", "kind=%s error=\"%s\"", c->kind,
			 baton_member_strerror(status));
	else if (res->code != BATON_FSM_OK && res->code != BATON_FSM_DUPLICATE)
		log_warn("leader", "proposal rejected", "kind=%s code=%s reason=\"%s\"", c->kind,
			 baton_fsm_code_name(res->code), res->message);
	free(c);
}

static void propose(struct baton_node *n, unsigned g, Baton__Command *cmd, const char *kind)
{
	struct prop_ctx *c = calloc(1, sizeof *c);

	if (c == NULL)
		return;
	c->n = n;
	c->g = g;
	snprintf(c->kind, sizeof c->kind, "%s", kind);
	if (baton_member_propose(&n->member, cmd, prop_cb, c) == 0)
		n->groups[g].proposing = true;
	else
		free(c);
}

static void record_decision(struct baton_node *n, unsigned g, const struct baton_decide_output *d)
{
	struct baton_coord_group *cg = &n->groups[g];
	char key[sizeof cg->last_decision];
	Baton__Command cmd;
	Baton__Decision body = BATON__DECISION__INIT;
	char id[BATON_ID_LEN];

	snprintf(key, sizeof key, "%s|%s|%s", baton_decision_name(d->decision), d->rule, d->target);
	if (strcmp(key, cg->last_decision) == 0)
		return;
	/* Quiet when nothing happens: "none" is recorded only as the end of an
	 * episode (after a wait or a block), never at start-up. */
	if (d->decision == BATON_DECIDE_NONE && (cg->last_decision[0] == '\0' || strncmp(cg->last_decision, "none|", 5) == 0)) {
		snprintf(cg->last_decision, sizeof cg->last_decision, "%s", key);
		return;
	}
	snprintf(cg->last_decision, sizeof cg->last_decision, "%s", key);
	baton_node_cmd_init(n, &cmd, id, n->cfg.cluster.groups[g].name);
	body.outcome = (char *)baton_decision_name(d->decision);
	body.rule = (char *)d->rule;
	body.text = (char *)d->text;
	body.region = (char *)d->target;
	cmd.body_case = BATON__COMMAND__BODY_DECISION;
	cmd.decision = &body;
	log_notice("decide", d->text, "group=%s decision=%s rule=%s target=%s", n->cfg.cluster.groups[g].name,
		   baton_decision_name(d->decision), d->rule[0] ? d->rule : "-", d->target[0] ? d->target : "-");
	(void)baton_member_propose(&n->member, &cmd, NULL, NULL);
}

static void start_failover(struct baton_node *n, unsigned g, const struct baton_group_state *gs,
			   const struct baton_decide_output *d)
{
	Baton__Command cmd;
	Baton__TransitionBegin tb = BATON__TRANSITION_BEGIN__INIT;
	Baton__StepSpec specs[BATON_FSM_MAX_STEPS], *specp[BATON_FSM_MAX_STEPS];
	char id[BATON_ID_LEN];

	baton_node_cmd_init(n, &cmd, id, n->cfg.cluster.groups[g].name);
	tb.kind = BATON__TRANSITION_KIND__TRANSITION_FAILOVER;
	tb.from = (char *)gs->active;
	tb.to = (char *)d->target;
	tb.expect_epoch = gs->epoch;
	tb.reason = (char *)d->text;
	tb.by = "auto";
	tb.n_steps = baton_node_plan_steps(n, gs->active, d->target, specs, specp, BATON_FSM_MAX_STEPS);
	tb.steps = specp;
	cmd.body_case = BATON__COMMAND__BODY_TRANSITION_BEGIN;
	cmd.transition_begin = &tb;
	log_notice("decide", "starting automatic failover", "group=%s from=%s to=%s epoch=%" PRIu64 " steps=%zu",
		   n->cfg.cluster.groups[g].name, gs->active, d->target, gs->epoch + 1, tb.n_steps);
	propose(n, g, &cmd, "failover");
}

static void freeze(struct baton_node *n, unsigned g, const struct baton_decide_output *d)
{
	Baton__Command cmd;
	Baton__Freeze fr = BATON__FREEZE__INIT;
	char id[BATON_ID_LEN];

	baton_node_cmd_init(n, &cmd, id, n->cfg.cluster.groups[g].name);
	fr.frozen = true;
	fr.by = "auto";
	fr.reason = (char *)d->text;
	cmd.body_case = BATON__COMMAND__BODY_FREEZE;
	cmd.freeze = &fr;
	log_crit("decide", "freezing the group: too many automatic failovers", "group=%s", n->cfg.cluster.groups[g].name);
	propose(n, g, &cmd, "freeze");
}

static void leader_duties(struct baton_node *n, unsigned g, uint64_t now)
{
	struct baton_coord_group *cg = &n->groups[g];
	const struct baton_group_state *gs = group_state(n, g);
	struct baton_decide_region regions[BATON_MAX_REGIONS];
	struct baton_decide_input in;
	bool active_down = false;

	if (gs == NULL || gs->active[0] == '\0')
		return;
	baton_coord_decide_input(n, g, regions, &in);
	for (unsigned i = 0; i < in.n_regions; i++)
		if (strcmp(regions[i].name, gs->active) == 0)
			active_down = regions[i].down;
	if (active_down && cg->down_since_ms == 0) {
		cg->down_since_ms = now;
		cg->revoked = true;
		baton_strlcpy(cg->revoked_region, gs->active, sizeof cg->revoked_region);
		log_notice("decide", "active region is objectively down; its lease is revoked", "group=%s region=%s",
			   n->cfg.cluster.groups[g].name, gs->active);
	} else if (!active_down && cg->down_since_ms != 0) {
		cg->down_since_ms = 0;
		cg->revoked = false;
	}
	in.active_down_since_ms = cg->down_since_ms;
	baton_decide(&in, &cg->decision);
	if (cg->proposing)
		return;
	record_decision(n, g, &cg->decision);
	if (cg->decision.decision == BATON_DECIDE_FAILOVER)
		start_failover(n, g, gs, &cg->decision);
	else if (cg->decision.decision == BATON_DECIDE_FREEZE && !gs->frozen)
		freeze(n, g, &cg->decision);
}

/* ------------------------------------------------------- peer requests */

struct grant_ctx {
	struct baton_node *n;
	unsigned g;
	uint64_t epoch;
	char active[BATON_NAME_LEN];
	struct baton_peer_reply *reply;
};

static void reply_lease(struct baton_peer_reply *reply, bool granted, const char *error, uint64_t epoch,
			const char *active)
{
	Baton__PeerResponse resp = BATON__PEER_RESPONSE__INIT;

	resp.ok = true;
	resp.has_granted = true;
	resp.granted = granted;
	resp.error = (char *)error;
	resp.has_epoch = true;
	resp.epoch = epoch;
	resp.active_region = (char *)active;
	baton_peer_reply(reply, &resp);
}

static void grant_barrier_cb(void *data, int status)
{
	struct grant_ctx *c = data;

	if (status == 0) {
		/* Granted at barrier completion: later than the request was sent,
		 * so the wait counted from here covers the holder's lease. */
		c->n->groups[c->g].last_grant_ms = uv_now(c->n->loop);
		c->n->groups[c->g].last_grant_epoch = c->epoch;
		reply_lease(c->reply, true, NULL, c->epoch, c->active);
		baton_node_kick_exec(c->n); /* a plan may be waiting for this grant */
	} else {
		reply_lease(c->reply, false, "leader could not confirm leadership", c->epoch, c->active);
	}
	free(c);
}

int baton_coord_group_index(struct baton_node *n, const char *name)
{
	for (unsigned i = 0; i < n->cfg.cluster.n_groups; i++)
		if (name == NULL || name[0] == '\0' || strcmp(n->cfg.cluster.groups[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void handle_lease(struct baton_node *n, const Baton__PeerRequest *req, struct baton_peer_reply *reply)
{
	int g = baton_coord_group_index(n, req->group);
	const struct baton_group_state *gs = g >= 0 ? group_state(n, (unsigned)g) : NULL;
	const Baton__LeaseRenew *lr = req->lease;
	struct grant_ctx *c;

	if (gs == NULL) {
		reply_lease(reply, false, "unknown group", 0, "");
		return;
	}
	if (strcmp(gs->active, lr->region) != 0 || gs->epoch != lr->epoch) {
		char why[160];
		snprintf(why, sizeof why, "region %s does not hold the baton at epoch %" PRIu64 " (active %s, epoch %" PRIu64 ")",
			 lr->region, lr->epoch, gs->active, gs->epoch);
		reply_lease(reply, false, why, gs->epoch, gs->active);
		return;
	}
	/* Only the region that was found down: the region that just took over
	 * must get its first lease although the flag is still up this tick. */
	if (n->groups[g].revoked && strcmp(n->groups[g].revoked_region, lr->region) == 0) {
		reply_lease(reply, false, "lease revoked: the region is objectively down", gs->epoch, gs->active);
		return;
	}
	c = calloc(1, sizeof *c);
	if (c == NULL) {
		reply_lease(reply, false, "out of memory", gs->epoch, gs->active);
		return;
	}
	c->n = n;
	c->g = (unsigned)g;
	c->epoch = gs->epoch;
	c->reply = reply;
	snprintf(c->active, sizeof c->active, "%s", gs->active);
	if (baton_member_barrier(&n->member, grant_barrier_cb, c) != 0) {
		free(c);
		reply_lease(reply, false, "not the leader", gs->epoch, gs->active);
	}
}

struct commit_ctx {
	struct baton_peer_reply *reply;
};

static void commit_reply_cb(void *data, int status, const struct baton_fsm_result *res)
{
	struct commit_ctx *c = data;
	Baton__PeerResponse resp = BATON__PEER_RESPONSE__INIT;

	resp.ok = status == 0 && (res->code == BATON_FSM_OK || res->code == BATON_FSM_DUPLICATE);
	resp.error = (char *)(status != 0 ? baton_member_strerror(status) : res->message);
	baton_peer_reply(c->reply, &resp);
	free(c);
}

static void reply_now(struct baton_peer_reply *reply, bool ok, const char *error)
{
	Baton__PeerResponse resp = BATON__PEER_RESPONSE__INIT;

	resp.ok = ok;
	resp.error = (char *)error;
	baton_peer_reply(reply, &resp);
}

/* Observations and health changes become log entries, one per group. */
static void handle_commit(struct baton_node *n, const Baton__PeerRequest *req, struct baton_peer_reply *reply)
{
	struct commit_ctx *c = calloc(1, sizeof *c);
	bool sent = false;

	if (c == NULL) {
		reply_now(reply, false, "out of memory");
		return;
	}
	c->reply = reply;
	for (unsigned g = 0; g < n->cfg.cluster.n_groups; g++) {
		Baton__Command cmd;
		char id[BATON_ID_LEN];
		baton_node_cmd_init(n, &cmd, id, n->cfg.cluster.groups[g].name);
		if (req->body_case == BATON__PEER_REQUEST__BODY_OBSERVATION) {
			cmd.body_case = BATON__COMMAND__BODY_OBSERVATION;
			cmd.observation = req->observation;
			cmd.observation->observer = req->from;
		} else {
			cmd.body_case = BATON__COMMAND__BODY_REGION_HEALTH;
			cmd.region_health = req->health;
		}
		/* The reply waits for the first group's commit. */
		if (baton_member_propose(&n->member, &cmd, sent ? NULL : commit_reply_cb, sent ? NULL : c) == 0)
			sent = true;
	}
	if (!sent) {
		free(c);
		reply_now(reply, false, "not the leader");
	}
}

void baton_coord_handle_peer(struct baton_node *n, const Baton__PeerRequest *req, struct baton_peer_reply *reply)
{
	switch (req->body_case) {
	case BATON__PEER_REQUEST__BODY_LEASE:
		handle_lease(n, req, reply);
		break;
	case BATON__PEER_REQUEST__BODY_OBSERVATION:
	case BATON__PEER_REQUEST__BODY_HEALTH:
		handle_commit(n, req, reply);
		break;
	case BATON__PEER_REQUEST__BODY_REJOIN: {
		int g = baton_coord_group_index(n, req->group);
		struct commit_ctx *c = calloc(1, sizeof *c);
		Baton__Command cmd;
		char id[BATON_ID_LEN];
		if (c == NULL || g < 0) {
			free(c);
			reply_now(reply, false, g < 0 ? "unknown group" : "out of memory");
			break;
		}
		c->reply = reply;
		baton_node_cmd_init(n, &cmd, id, n->cfg.cluster.groups[g].name);
		cmd.body_case = BATON__COMMAND__BODY_REJOIN_RESULT;
		cmd.rejoin_result = req->rejoin;
		if (baton_member_propose(&n->member, &cmd, commit_reply_cb, c) != 0) {
			free(c);
			reply_now(reply, false, "not the leader");
		}
		break;
	}
	default:
		reply_now(reply, false, "unknown request");
	}
}

/* ------------------------------------------------------------------ tick */

void baton_coord_tick(struct baton_node *n)
{
	uint64_t now = uv_now(n->loop);

	if (n->stopping || n->stop_requested)
		return;
	/* The holder's duties come first and ALWAYS run: a coordinator cut off
	 * from the leader is exactly the one that is not caught up, and it must
	 * still fence itself when its lease runs out (found by jepsen/: an
	 * isolated active region kept acting while another was promoted). */
	baton_coord_holder_kick(n);
	if (!baton_node_caught_up(n))
		return;
	observer_duties(n);
	baton_node_health_duties(n);
	baton_exec_rejoin_duties(n);
	for (unsigned g = 0; g < n->cfg.cluster.n_groups; g++)
		if (baton_member_is_ready_leader(&n->member))
			leader_duties(n, g, now);
}
