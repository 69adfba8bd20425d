/* SPDX-License-Identifier: MIT */
/* The plan executor (leader only) and the self-fence runner.
 *
 * A transition is committed with its steps (a DAG). Every tick the leader
 * starts each step whose dependencies are done. One attempt of a step is:
 *   barrier (this node still leads) -> the group's epoch is still the
 *   transition's -> commit "running, attempt k" -> run the driver with the
 *   epoch as fencing token -> commit "done" (with output and duration), or
 *   retry after backoff (doubling, with up to 50% jitter) while the error is
 *   retryable, attempts remain and the step's timeout allows, or commit
 *   "failed" and end the transition as failed with the step's error.
 * A new leader finds steps left "running" by its predecessor: it runs them
 * again only if their driver is idempotent; otherwise it fails them with a
 * reason, and an operator retries or skips (signed commands). A step that was
 * committed "done" is never started again (the FSM refuses it as well).
 * Losing leadership cancels every attempt in flight; results that arrive
 * after that are dropped.
 *
 * Self-fence steps run on the fenced node itself, in order, without a leader
 * (it may reach no one): they are only logged locally. */
#include "exec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "action.h"
#include "log.h"
#include "node.h"
#include "peer.h"
#include "util.h"

enum { PH_BARRIER, PH_RUNNING, PH_ATTEMPT, PH_BACKOFF, PH_ENDING, PH_DEAD };

struct exec_step {
	struct baton_node *n;
	struct exec_step *next;
	bool local;                      /* self-fence: no raft, just run */
	char group[BATON_NAME_LEN];
	char transition[BATON_NAME_LEN];
	char name[BATON_NAME_LEN];
	char from[BATON_NAME_LEN], to[BATON_NAME_LEN];
	uint64_t epoch;
	bool drill;
	const struct baton_step_config *cfg;
	const struct baton_action_driver *drv;
	unsigned attempt;                /* attempts made, including earlier leaders' */
	uint64_t started_ms;             /* mono, first attempt on this node */
	int phase;
	bool cancelled;
	struct baton_action_op *op;
	uv_timer_t timer;                /* backoff, and the attempt watchdog */
	bool timer_open;
	struct baton_action_result res;
	/* local chains: self-fence, unfence and rejoin */
	int chain;                       /* CHAIN_FENCE, CHAIN_UNFENCE or CHAIN_REJOIN */
	unsigned fence_group, fence_index;
	char fence_reason[160];
};

enum { CHAIN_FENCE, CHAIN_UNFENCE, CHAIN_REJOIN };
static const char *const chain_names[] = {"self-fence", "unfence", "rejoin"};

static void step_run(struct exec_step *s);

/* ------------------------------------------------------------- utilities */

static const struct baton_step_config *plan_step(struct baton_node *n, const char *name)
{
	for (unsigned i = 0; i < n->cfg.cluster.n_plan; i++)
		if (strcmp(n->cfg.cluster.plan[i].name, name) == 0)
			return &n->cfg.cluster.plan[i];
	return NULL;
}

/* A driver's own flag, or a step's params saying idempotent: "true" (the http
 * and exec drivers cannot know whether the hook they call is idempotent). */
static bool step_idempotent(const struct baton_step_config *cfg, const struct baton_action_driver *drv)
{
	const char *v = baton_kv_get(&cfg->params, "idempotent");

	if (v != NULL)
		return strcmp(v, "true") == 0;
	return drv != NULL && drv->idempotent;
}

static const struct baton_region_config *region_cfg(struct baton_node *n, const char *name)
{
	return name != NULL && name[0] ? baton_config_region(&n->cfg.cluster, name) : NULL;
}

/* Expand {from.x} {to.x} {self.x} {from} {to} {epoch} {group} {step} {drill}
 * in @in. Returns false (with @err) on an unknown reference or overflow. */
static bool expand(struct exec_step *s, const char *in, char *out, size_t outlen, char *err, size_t errlen)
{
	struct baton_node *n = s->n;
	size_t o = 0;

	for (const char *p = in; *p != '\0';) {
		const char *val = NULL;
		char ref[80], num[24];
		size_t rlen;
		if (!baton_template_ref(p, &rlen)) {
			if (o + 1 >= outlen)
				goto overflow;
			out[o++] = *p++;
			continue;
		}
		const char *e = p + rlen + 1;
		memcpy(ref, p + 1, (size_t)(e - p - 1));
		ref[e - p - 1] = '\0';
		if (strcmp(ref, "from") == 0)
			val = s->from;
		else if (strcmp(ref, "to") == 0)
			val = s->to;
		else if (strcmp(ref, "group") == 0)
			val = s->group;
		else if (strcmp(ref, "step") == 0)
			val = s->name;
		else if (strcmp(ref, "drill") == 0)
			val = s->drill ? "true" : "false";
		else if (strcmp(ref, "epoch") == 0) {
			snprintf(num, sizeof num, "%" PRIu64, s->epoch);
			val = num;
		} else if (strncmp(ref, "from.", 5) == 0 || strncmp(ref, "to.", 3) == 0 || strncmp(ref, "self.", 5) == 0) {
			const char *dot = strchr(ref, '.');
			const char *rname = ref[0] == 'f' ? s->from : ref[0] == 't' ? s->to : n->cfg.self->region;
			const struct baton_region_config *rc = region_cfg(n, rname);
			val = rc != NULL ? baton_kv_get(&rc->vars, dot + 1) : NULL;
		}
		if (val == NULL) {
			snprintf(err, errlen, "{%s} has no value here", ref);
			return false;
		}
		size_t vl = strlen(val);
		if (o + vl >= outlen)
			goto overflow;
		memcpy(out + o, val, vl);
		o += vl;
		p = e + 1;
	}
	out[o] = '\0';
	return true;
overflow:
	snprintf(err, errlen, "a parameter is longer than %zu bytes after expansion", outlen - 1);
	return false;
}

static struct exec_step *find(struct baton_node *n, const char *group, const char *transition, const char *name)
{
	for (struct exec_step *s = n->exec_steps; s != NULL; s = s->next)
		if (!s->local && strcmp(s->group, group) == 0 && strcmp(s->transition, transition) == 0 &&
		    strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

static void step_closed(uv_handle_t *h)
{
	free(h->data);
}

/* Unlink and free (after the timer handle closes). */
static void step_free(struct exec_step *s)
{
	struct baton_node *n = s->n;

	for (struct exec_step **pp = &n->exec_steps; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->phase = PH_DEAD;
	if (s->timer_open) {
		s->timer_open = false;
		uv_close((uv_handle_t *)&s->timer, step_closed);
	} else {
		free(s);
	}
}

/* ------------------------------------------------------------- commits */

struct commit {
	struct exec_step *s; /* NULL once the step is gone */
	void (*next)(struct exec_step *s, int status, const struct baton_fsm_result *res);
};

static void commit_cb(void *data, int status, const struct baton_fsm_result *res)
{
	struct commit *c = data;

	if (c->next != NULL && c->s != NULL && !c->s->cancelled)
		c->next(c->s, status, res);
	else if (c->s != NULL && c->s->cancelled)
		step_free(c->s);
	free(c);
}

/* Propose a StepUpdate for step @step of transition @transition, with the
 * wall time it happened (display only). */
static int propose_step_update(struct baton_node *n, const char *group, const char *transition, const char *step,
			       int state, uint32_t attempts, const char *error, const char *output, uint64_t duration,
			       baton_member_propose_cb cb, void *data)
{
	Baton__Command cmd;
	Baton__StepUpdate su = BATON__STEP_UPDATE__INIT;
	char id[BATON_ID_LEN];

	baton_node_cmd_init(n, &cmd, id, group);
	su.transition_id = (char *)transition;
	su.step = (char *)step;
	su.state = state;
	su.has_attempts = true;
	su.attempts = attempts;
	su.error = (char *)error;
	su.output = (char *)output;
	su.has_at_ms = true;
	su.at_ms = baton_wall_ms();
	su.has_duration_ms = true;
	su.duration_ms = duration;
	cmd.body_case = BATON__COMMAND__BODY_STEP_UPDATE;
	cmd.step_update = &su;
	return baton_member_propose(&n->member, &cmd, cb, data);
}

static int commit_step(struct exec_step *s, int state, const char *error, const char *output, uint64_t duration,
		       void (*next)(struct exec_step *, int, const struct baton_fsm_result *))
{
	struct commit *c = calloc(1, sizeof *c);
	int rv;

	if (c == NULL)
		return -ENOMEM;
	c->s = next != NULL ? s : NULL; /* without a continuation the step may be gone */
	c->next = next;
	rv = propose_step_update(s->n, s->group, s->transition, s->name, state, s->attempt, error, output, duration,
				 commit_cb, c);
	if (rv != 0)
		free(c);
	return rv;
}

static void end_transition(struct baton_node *n, const char *group, const char *transition, int state,
			   const char *reason)
{
	Baton__Command cmd;
	Baton__TransitionEnd te = BATON__TRANSITION_END__INIT;
	char id[BATON_ID_LEN];

	baton_node_cmd_init(n, &cmd, id, group);
	te.transition_id = (char *)transition;
	te.state = state;
	te.reason = (char *)reason;
	cmd.body_case = BATON__COMMAND__BODY_TRANSITION_END;
	cmd.transition_end = &te;
	(void)baton_member_propose(&n->member, &cmd, NULL, NULL);
}

/* --------------------------------------------------------- step machine */

static void after_end(struct exec_step *s, int status, const struct baton_fsm_result *res)
{
	(void)status;
	(void)res;
	step_free(s); /* the next tick looks at the committed state */
}

static void after_failed(struct exec_step *s, int status, const struct baton_fsm_result *res)
{
	char reason[BATON_TEXT_MAX];

	(void)res;
	if (status == 0) {
		snprintf(reason, sizeof reason, "step %s failed after %u attempt(s): %s", s->name, s->attempt,
			 s->res.error[0] ? s->res.error : strerror(-s->res.status));
		end_transition(s->n, s->group, s->transition, BATON__TRANSITION_STATE__TRANSITION_FAILED, reason);
	}
	step_free(s);
}

static void backoff_cb(uv_timer_t *t)
{
	struct exec_step *s = t->data;
	step_run(s);
}

static void finish_local(struct exec_step *s);

static void attempt_done(void *data, const struct baton_action_result *r)
{
	struct exec_step *s = data;
	struct baton_node *n = s->n;
	uint64_t now = uv_now(n->loop), elapsed = now - s->started_ms;

	s->op = NULL;
	if (s->timer_open)
		uv_timer_stop(&s->timer);
	if (s->cancelled) {
		step_free(s);
		return;
	}
	s->res = *r;
	log_info("exec", r->status == 0 ? "step attempt done" : "step attempt failed",
		 "group=%s step=%s driver=%s attempt=%u epoch=%" PRIu64 " drill=%s error=\"%s\"", s->group, s->name,
		 s->cfg->driver, s->attempt, s->epoch, s->drill ? "yes" : "no", r->status == 0 ? "" : r->error);
	if (s->local) {
		finish_local(s);
		return;
	}
	if (r->status == 0) {
		s->phase = PH_ENDING;
		if (commit_step(s, BATON__STEP_STATE__STEP_DONE, "", r->output, elapsed, after_end) != 0)
			step_free(s);
		return;
	}
	/* Retry with exponential backoff and jitter, inside the step timeout. */
	uint64_t backoff = s->cfg->backoff_ms << (s->attempt > 1 ? (s->attempt - 1 < 16 ? s->attempt - 1 : 16) : 0);
	backoff += backoff > 1 ? randombytes_uniform((uint32_t)(backoff / 2 > UINT32_MAX ? UINT32_MAX : backoff / 2)) : 0;
	if (r->retryable && s->attempt < s->cfg->max_attempts && elapsed + backoff < s->cfg->timeout_ms) {
		s->phase = PH_BACKOFF;
		uv_timer_start(&s->timer, backoff_cb, backoff, 0);
		return;
	}
	s->phase = PH_ENDING;
	if (s->cfg->continue_if_unreachable && !s->drill &&
	    (r->status == -ETIMEDOUT || r->status == -ECONNREFUSED || r->status == -EHOSTUNREACH)) {
		char out[BATON_OUTPUT_MAX];
		snprintf(out, sizeof out, "unreachable after %u attempt(s) (%s); covered by the lease wait: the old region "
					  "fenced itself or is stopped", s->attempt, r->error);
		if (commit_step(s, BATON__STEP_STATE__STEP_DONE, "", out, elapsed, after_end) != 0)
			step_free(s);
		return;
	}
	if (commit_step(s, BATON__STEP_STATE__STEP_FAILED, r->error[0] ? r->error : strerror(-r->status), r->output,
			elapsed, after_failed) != 0)
		step_free(s);
}

static void watchdog_cb(uv_timer_t *t)
{
	struct exec_step *s = t->data;

	/* The driver overran its own deadline: cancel; its callback reports. */
	if (s->op != NULL && s->drv->cancel != NULL)
		s->drv->cancel(s->op);
}

static void start_attempt(struct exec_step *s)
{
	struct baton_node *n = s->n;
	struct baton_action_params p = {0};
	struct baton_action_ctx ctx = {0};
	struct baton_action_env env = {.loop = n->loop, .http = &n->http_client};
	struct baton_action_result fail = {0};
	uint64_t left = s->cfg->timeout_ms > uv_now(n->loop) - s->started_ms
				? s->cfg->timeout_ms - (uv_now(n->loop) - s->started_ms)
				: 1;
	char err[256];
	int rv;

	for (unsigned i = 0; i < s->cfg->params.n && i < BATON_ACTION_MAX_PARAMS; i++) {
		baton_strlcpy(p.items[i].key, s->cfg->params.items[i].key, sizeof p.items[i].key);
		if (!expand(s, s->cfg->params.items[i].value, p.items[i].value, sizeof p.items[i].value, err, sizeof err)) {
			fail.status = -EINVAL;
			snprintf(fail.error, sizeof fail.error, "parameter %s: %s", p.items[i].key, err);
			attempt_done(s, &fail);
			return;
		}
		p.n++;
	}
	ctx.epoch = s->epoch;
	ctx.group = s->group;
	ctx.from = s->from;
	ctx.to = s->to;
	ctx.step = s->name;
	ctx.transition = s->transition;
	ctx.drill = s->drill;
	ctx.attempt = s->attempt;
	ctx.timeout_ms = (unsigned)(s->cfg->attempt_timeout_ms < left ? s->cfg->attempt_timeout_ms : left);
	s->phase = PH_ATTEMPT;
	rv = s->drv->start(&env, &p, &ctx, attempt_done, s, &s->op);
	if (rv != 0) {
		fail.status = rv;
		fail.retryable = rv == -ENOMEM || rv == -EAGAIN;
		snprintf(fail.error, sizeof fail.error, "%s: cannot start: %s", s->cfg->driver, strerror(-rv));
		attempt_done(s, &fail);
		return;
	}
	uv_timer_start(&s->timer, watchdog_cb, ctx.timeout_ms + 2000, 0);
}

static void after_running(struct exec_step *s, int status, const struct baton_fsm_result *res)
{
	if (status != 0 || res->code != BATON_FSM_OK) {
		/* Not leader any more, or the FSM refused (e.g. the step is
		 * already done): leave it to the committed state. */
		log_info("exec", "step not started", "step=%s reason=\"%s\"", s->name,
			 status != 0 ? baton_member_strerror(status) : res->message);
		step_free(s);
		return;
	}
	start_attempt(s);
}

static void after_barrier(void *data, int status)
{
	struct exec_step *s = data;
	const struct baton_group_state *g;

	if (s->cancelled || status != 0) {
		step_free(s);
		return;
	}
	/* The epoch must not have moved since the transition began. */
	g = baton_fsm_group(&s->n->fsm, s->group);
	if (g == NULL || !g->has_transition || strcmp(g->tr.id, s->transition) != 0 ||
	    g->tr.state != BATON__TRANSITION_STATE__TRANSITION_RUNNING || g->epoch != s->epoch) {
		log_warn("exec", "epoch or transition changed; step abandoned", "group=%s step=%s epoch=%" PRIu64, s->group,
			 s->name, s->epoch);
		step_free(s);
		return;
	}
	s->attempt++;
	s->phase = PH_RUNNING;
	if (commit_step(s, BATON__STEP_STATE__STEP_RUNNING, "", NULL, 0, after_running) != 0)
		step_free(s);
}

static void step_run(struct exec_step *s)
{
	if (s->local) {
		s->attempt++;
		start_attempt(s);
		return;
	}
	s->phase = PH_BARRIER;
	if (baton_member_barrier(&s->n->member, after_barrier, s) != 0)
		step_free(s);
}

static struct exec_step *step_new(struct baton_node *n, const struct baton_step_config *cfg)
{
	struct exec_step *s = calloc(1, sizeof *s);

	if (s == NULL)
		return NULL;
	s->n = n;
	s->cfg = cfg;
	s->drv = baton_action_driver(cfg->driver);
	s->started_ms = uv_now(n->loop);
	uv_timer_init(n->loop, &s->timer);
	s->timer.data = s;
	s->timer_open = true;
	s->next = n->exec_steps;
	n->exec_steps = s;
	baton_strlcpy(s->name, cfg->name, sizeof s->name);
	return s;
}

/* ------------------------------------------------------------------ tick */

static bool deps_done(const struct baton_transition_state *t, const struct baton_step_state *st)
{
	for (unsigned i = 0; i < st->n_after; i++)
		for (unsigned j = 0; j < t->n_steps; j++)
			if (strcmp(t->steps[j].name, st->after[i]) == 0 && t->steps[j].state != BATON__STEP_STATE__STEP_DONE &&
			    t->steps[j].state != BATON__STEP_STATE__STEP_SKIPPED)
				return false;
	return true;
}

static void fail_interrupted(struct baton_node *n, const struct baton_group_state *g, const struct baton_step_state *st)
{
	struct exec_step tmp = {0};
	char err[BATON_TEXT_MAX];

	/* A throwaway context: commit_step only reads these fields. */
	tmp.n = n;
	baton_strlcpy(tmp.group, g->name, sizeof tmp.group);
	baton_strlcpy(tmp.transition, g->tr.id, sizeof tmp.transition);
	baton_strlcpy(tmp.name, st->name, sizeof tmp.name);
	tmp.attempt = st->attempts;
	snprintf(err, sizeof err, "interrupted by a leader change and step %s (driver %s) is not idempotent: an operator "
				  "must retry-step or skip-step", st->name, st->driver);
	(void)commit_step(&tmp, BATON__STEP_STATE__STEP_FAILED, err, NULL, 0, NULL);
	end_transition(n, g->name, g->tr.id, BATON__TRANSITION_STATE__TRANSITION_FAILED, err);
}

/* Commit the first runnable pending step of @t as failed with @why, without
 * running it. False if no step is runnable. */
static bool fail_next_step(struct baton_node *n, const struct baton_group_state *g,
			   const struct baton_transition_state *t, const char *why)
{
	for (unsigned i = 0; i < t->n_steps; i++) {
		const struct baton_step_state *st = &t->steps[i];

		if (st->state == BATON__STEP_STATE__STEP_PENDING && deps_done(t, st))
			return propose_step_update(n, g->name, t->id, st->name, BATON__STEP_STATE__STEP_FAILED,
						   st->attempts, why, NULL, 0, NULL, NULL) == 0;
	}
	return false;
}

/*
 * Nothing runs for a transition until the region taking over holds its lease
 * for the transition's epoch, granted by this leader. A region made to act
 * (its database promoted, DNS pointed at it) must have a coordinator that
 * knows it holds the baton: that coordinator fences itself when it is cut
 * off, and the next failover's lease wait counts from its last grant. Found
 * by jepsen/ (long campaign, seed 1207): a switchover promoted a region whose
 * coordinator was lagging and never learnt it was active; a one-way partition
 * of that region then led to a failover with nothing to wait for, and both
 * regions took writes. The region's coordinator asks as soon as it applies
 * the transition's start; if no grant comes within twice the lease ttl (it
 * is cut off, lagging or down) the step that would run next fails with the
 * reason, so the transition fails like any other and retry-step resumes it.
 */
static bool holder_ready(struct baton_node *n, const struct baton_group_state *g,
			 const struct baton_transition_state *t)
{
	int gi = baton_coord_group_index(n, g->name);
	uint64_t now = uv_now(n->loop), limit = 2 * n->cfg.cluster.lease.ttl_ms;
	struct baton_coord_group *cg;

	if (baton_coord_holder_has_lease(n, g->name, t->epoch))
		return true;
	if (gi < 0)
		return false;
	cg = &n->groups[gi];
	if (cg->holder_wait_epoch != t->epoch) {
		cg->holder_wait_epoch = t->epoch;
		cg->holder_wait_since_ms = now;
		log_info("exec", "waiting for the region taking over to hold its lease", "group=%s to=%s epoch=%" PRIu64,
			 g->name, t->to, t->epoch);
	} else if (now - cg->holder_wait_since_ms >= limit) {
		char why[BATON_TEXT_MAX];
		snprintf(why, sizeof why,
			 "%s's coordinator did not renew its lease for epoch %" PRIu64 " with the leader within %" PRIu64
			 " ms (cut off, lagging or down); a region acts only while its coordinator holds the lease, so "
			 "this step did not run: retry-step once it is back, or switch over or fail over to another region",
			 t->to, t->epoch, limit);
		log_error("exec", "transition stopped", "group=%s id=%s reason=\"%s\"", g->name, t->id, why);
		if (!fail_next_step(n, g, t, why))
			end_transition(n, g->name, t->id, BATON__TRANSITION_STATE__TRANSITION_FAILED, why);
		cg->holder_wait_epoch = 0;
	}
	return false;
}

void baton_exec_tick(struct baton_node *n)
{
	if (!baton_member_is_ready_leader(&n->member)) {
		baton_exec_cancel_all(n);
		return;
	}
	for (unsigned gi = 0; gi < n->fsm.st->n_groups; gi++) {
		const struct baton_group_state *g = &n->fsm.st->groups[gi];
		const struct baton_transition_state *t = &g->tr;
		bool finished = true, failed = false, inflight = false;

		if (!g->has_transition || t->state != BATON__TRANSITION_STATE__TRANSITION_RUNNING)
			continue;
		if (!t->drill && !holder_ready(n, g, t))
			continue;
		for (unsigned i = 0; i < t->n_steps; i++) {
			const struct baton_step_state *st = &t->steps[i];
			bool mine = find(n, g->name, t->id, st->name) != NULL;
			inflight = inflight || mine;
			if (st->state == BATON__STEP_STATE__STEP_FAILED)
				failed = true;
			if (st->state != BATON__STEP_STATE__STEP_DONE && st->state != BATON__STEP_STATE__STEP_SKIPPED)
				finished = false;
			if (mine || failed)
				continue;
			bool runnable = st->state == BATON__STEP_STATE__STEP_PENDING && deps_done(t, st);
			bool orphan = st->state == BATON__STEP_STATE__STEP_RUNNING;
			if (!runnable && !orphan)
				continue;
			const struct baton_step_config *cfg = plan_step(n, st->name);
			const struct baton_action_driver *drv = cfg != NULL ? baton_action_driver(cfg->driver) : NULL;
			if (cfg == NULL || drv == NULL) {
				char err[BATON_TEXT_MAX];
				snprintf(err, sizeof err, "step %s is not in this leader's plan (config changed?)", st->name);
				end_transition(n, g->name, t->id, BATON__TRANSITION_STATE__TRANSITION_FAILED, err);
				return;
			}
			if (orphan && !step_idempotent(cfg, drv)) {
				fail_interrupted(n, g, st);
				return;
			}
			struct exec_step *s = step_new(n, cfg);
			if (s == NULL)
				return;
			baton_strlcpy(s->group, g->name, sizeof s->group);
			baton_strlcpy(s->transition, t->id, sizeof s->transition);
			baton_strlcpy(s->from, t->from, sizeof s->from);
			baton_strlcpy(s->to, t->to, sizeof s->to);
			s->epoch = t->epoch;
			s->drill = t->drill;
			s->attempt = st->attempts;
			if (orphan)
				log_notice("exec", "resuming a step left running by the previous leader", "step=%s driver=%s",
					   st->name, cfg->driver);
			step_run(s);
			inflight = true;
		}
		if (failed && !inflight) {
			end_transition(n, g->name, t->id, BATON__TRANSITION_STATE__TRANSITION_FAILED,
				       "a step failed (see the step's error)");
			return;
		}
		if (finished && !inflight && !n->exec_ending) {
			end_transition(n, g->name, t->id, BATON__TRANSITION_STATE__TRANSITION_DONE,
				       t->n_steps == 0 ? "the plan has no steps" : "every step is done");
			n->exec_ending = true; /* once per tick; reset below */
			log_notice("exec", "transition complete", "group=%s id=%s epoch=%" PRIu64 " from=%s to=%s drill=%s",
				   g->name, t->id, t->epoch, t->from, t->to, t->drill ? "yes" : "no");
		}
	}
	n->exec_ending = false;
}

void baton_exec_cancel_all(struct baton_node *n)
{
	for (struct exec_step *s = n->exec_steps, *next; s != NULL; s = next) {
		next = s->next;
		if (s->local || s->cancelled)
			continue;
		s->cancelled = true;
		switch (s->phase) {
		case PH_ATTEMPT:
			if (s->op != NULL && s->drv->cancel != NULL)
				s->drv->cancel(s->op); /* attempt_done frees */
			break;
		case PH_BACKOFF:
			step_free(s);
			break;
		default:
			break; /* a raft callback is pending; it frees */
		}
	}
}

/* The StepSpecs point into static storage: valid until the next call, which
 * is enough for the one proposal they are built for (loop thread only). */
static bool kind_listed(const char *kinds, int kind)
{
	static const char *const names[] = {"failover", "switchover", "failback", "drill"};
	char buf[BATON_KV_VALUE_LEN], *save = NULL;

	if (kinds[0] == '\0')
		return true;
	baton_strlcpy(buf, kinds, sizeof buf);
	for (char *t = strtok_r(buf, ", ", &save); t != NULL; t = strtok_r(NULL, ", ", &save))
		if (kind >= 0 && kind < 4 && strcmp(t, names[kind]) == 0)
			return true;
	return false;
}

size_t baton_node_plan_steps(struct baton_node *n, const char *from, const char *to, Baton__StepSpec *specs,
			     Baton__StepSpec **specp, size_t max)
{
	return baton_node_plan_steps_for(n, BATON__TRANSITION_KIND__TRANSITION_FAILOVER, from, to, specs, specp, max);
}

size_t baton_node_plan_steps_for(struct baton_node *n, int kind, const char *from, const char *to, Baton__StepSpec *specs,
				 Baton__StepSpec **specp, size_t max)
{
	static char *after_buf[BATON_MAX_PLAN_STEPS][BATON_MAX_PLAN_STEPS];
	static char after_store[BATON_MAX_PLAN_STEPS][BATON_KV_VALUE_LEN];
	size_t k = 0;

	(void)from;
	for (unsigned i = 0; i < n->cfg.cluster.n_plan && k < max; i++) {
		const struct baton_step_config *c = &n->cfg.cluster.plan[i];
		if (!kind_listed(c->kinds, kind))
			continue;
		const struct baton_action_driver *drv = baton_action_driver(c->driver);
		char *save = NULL;
		baton__step_spec__init(&specs[k]);
		specs[k].name = (char *)c->name;
		specs[k].driver = (char *)c->driver;
		specs[k].region = (char *)to;
		specs[k].has_idempotent = true;
		specs[k].idempotent = step_idempotent(c, drv);
		baton_strlcpy(after_store[k], c->after, sizeof after_store[k]);
		specs[k].n_after = 0;
		for (char *tok = strtok_r(after_store[k], ", ", &save); tok != NULL && specs[k].n_after < BATON_MAX_PLAN_STEPS;
		     tok = strtok_r(NULL, ", ", &save))
			after_buf[k][specs[k].n_after++] = tok;
		specs[k].after = after_buf[k];
		specp[k] = &specs[k];
		k++;
	}
	return k;
}

/* ---------------------------------------------------------- self-fence */

static void chain_next(struct baton_node *n, int chain, unsigned g, unsigned index, const char *reason);
static void unfence_over(struct baton_node *n, unsigned g);
static void rejoin_report(struct baton_node *n, unsigned g, int phase, const char *detail);

static void finish_local(struct exec_step *s)
{
	struct baton_node *n = s->n;
	uint64_t backoff = s->cfg->backoff_ms << (s->attempt > 1 ? s->attempt - 1 : 0);
	const char *what = chain_names[s->chain];
	const char *cat = s->chain == CHAIN_REJOIN ? "rejoin" : "lease";
	char msg[64];

	if (s->res.status != 0 && s->res.retryable && s->attempt < s->cfg->max_attempts &&
	    uv_now(n->loop) - s->started_ms + backoff < s->cfg->timeout_ms) {
		uv_timer_start(&s->timer, backoff_cb, backoff, 0);
		return;
	}
	snprintf(msg, sizeof msg, "%s step %s", what, s->res.status == 0 ? "done" : "FAILED");
	if (s->res.status == 0)
		log_notice(cat, msg, "step=%s driver=%s output=\"%s\"", s->name, s->cfg->driver, s->res.output);
	else
		log_crit(cat, msg, "step=%s driver=%s error=\"%s\"", s->name, s->cfg->driver, s->res.error);
	unsigned g = s->fence_group, next = s->fence_index + 1;
	int chain = s->chain;
	char reason[160], detail[BATON_TEXT_MAX];
	baton_strlcpy(reason, s->fence_reason, sizeof reason);
	snprintf(detail, sizeof detail, "%s step %s: %s", what, s->name,
		 s->res.status == 0 ? s->res.output : s->res.error);
	bool failed = s->res.status != 0;
	step_free(s);
	if (chain == CHAIN_REJOIN && failed) {
		rejoin_report(n, g, BATON__REJOIN_PHASE__REJOIN_FAILED, detail);
		n->rejoin_running[g] = false;
		return;
	}
	if (chain == CHAIN_UNFENCE && failed) {
		/* Still fenced; the next grant tries again. */
		unfence_over(n, g);
		return;
	}
	chain_next(n, chain, g, next, reason);
}

/* The unfence chain stopped (done, failed or postponed): a self-fence that
 * waited for it runs now. */
static void unfence_over(struct baton_node *n, unsigned g)
{
	struct baton_coord_group *cg = &n->groups[g];

	cg->unfencing = false;
	if (cg->fence_deferred) {
		cg->fence_deferred = false;
		baton_node_self_fence_steps(n, g, cg->deferred_reason);
	}
}

/* Whether unfence step @st may start now: the region still holds a valid
 * lease with at least the step's whole timeout left, and no self-fence waits. */
static bool unfence_may_start(struct baton_node *n, unsigned g, const struct baton_step_config *st, char *why,
			      size_t len)
{
	struct baton_coord_group *cg = &n->groups[g];
	uint64_t now = uv_now(n->loop);
	const char *w;

	if (cg->fence_deferred) {
		snprintf(why, len, "a self-fence is waiting");
		return false;
	}
	if (!baton_coord_may_act(n, g, &w)) {
		snprintf(why, len, "%s", w);
		return false;
	}
	if (cg->lease_until_ms - now < st->timeout_ms) {
		snprintf(why, len, "%" PRIu64 " ms of lease left, the step may take %" PRIu64 " ms",
			 cg->lease_until_ms - now, (uint64_t)st->timeout_ms);
		return false;
	}
	return true;
}

static void chain_next(struct baton_node *n, int chain, unsigned g, unsigned index, const char *reason)
{
	const struct baton_region_config *rc = region_cfg(n, n->cfg.self->region);
	const struct baton_group_state *gs = baton_fsm_group(&n->fsm, n->cfg.cluster.groups[g].name);
	const struct baton_step_config *steps;
	unsigned count;
	struct exec_step *s;

	if (rc == NULL || n->stopping)
		return;
	steps = chain == CHAIN_FENCE ? rc->self_fence : chain == CHAIN_UNFENCE ? rc->unfence : rc->rejoin;
	count = chain == CHAIN_FENCE ? rc->n_self_fence : chain == CHAIN_UNFENCE ? rc->n_unfence : rc->n_rejoin;
	if (chain == CHAIN_UNFENCE && index >= count) {
		n->groups[g].fence_steps_ran = false;
		log_notice("lease", "unfenced: every unfence step is done; the region takes writes again",
			   "group=%s region=%s epoch=%" PRIu64, n->cfg.cluster.groups[g].name, n->cfg.self->region,
			   n->groups[g].held_epoch);
		unfence_over(n, g);
		return;
	}
	if (chain == CHAIN_UNFENCE) {
		char why[128];
		if (!unfence_may_start(n, g, &steps[index], why, sizeof why)) {
			log_warn("lease", "unfence postponed until the next grant", "group=%s step=%s why=\"%s\"",
				 n->cfg.cluster.groups[g].name, steps[index].name, why);
			unfence_over(n, g);
			return;
		}
	}
	if (index >= count) {
		if (chain == CHAIN_REJOIN) {
			rejoin_report(n, g, BATON__REJOIN_PHASE__REJOIN_DONE, "every rejoin step is done");
			n->rejoin_running[g] = false;
		}
		return;
	}
	s = step_new(n, &steps[index]);
	if (s == NULL || s->drv == NULL) {
		if (s != NULL)
			step_free(s);
		if (chain == CHAIN_UNFENCE)
			unfence_over(n, g);
		return;
	}
	s->local = true;
	s->chain = chain;
	s->fence_group = g;
	s->fence_index = index;
	baton_strlcpy(s->fence_reason, reason, sizeof s->fence_reason);
	baton_strlcpy(s->group, n->cfg.cluster.groups[g].name, sizeof s->group);
	baton_strlcpy(s->transition, chain_names[chain], sizeof s->transition);
	baton_strlcpy(s->from, n->cfg.self->region, sizeof s->from);
	if (chain == CHAIN_REJOIN && gs != NULL) {
		const struct baton_region_state *r = baton_fsm_region(gs, n->cfg.self->region);
		baton_strlcpy(s->to, gs->active, sizeof s->to);
		s->epoch = r != NULL ? r->rejoin_epoch : gs->epoch;
	} else {
		s->epoch = n->groups[g].held_epoch > 0 ? n->groups[g].held_epoch : (gs != NULL ? gs->epoch : 0);
	}
	step_run(s);
}

void baton_node_self_fence_steps(struct baton_node *n, unsigned g, const char *reason)
{
	const struct baton_region_config *rc = region_cfg(n, n->cfg.self->region);

	if (rc == NULL || rc->n_self_fence == 0) {
		log_notice("lease", "no self-fence steps configured for this region", "group=%s region=%s",
			   n->cfg.cluster.groups[g].name, n->cfg.self->region);
		return;
	}
	if (n->groups[g].holder)
		n->groups[g].fence_steps_ran = true;
	chain_next(n, CHAIN_FENCE, g, 0, reason);
}

void baton_node_unfence_steps(struct baton_node *n, unsigned g)
{
	const struct baton_region_config *rc = region_cfg(n, n->cfg.self->region);

	if (rc == NULL || rc->n_unfence == 0) {
		log_warn("lease", "lease granted again after a self-fence, but no unfence steps are configured: "
				  "what the self-fence steps did stays in place",
			 "group=%s region=%s", n->cfg.cluster.groups[g].name, n->cfg.self->region);
		n->groups[g].fence_steps_ran = false;
		return;
	}
	log_notice("lease", "lease granted again after a self-fence: running the unfence steps",
		   "group=%s region=%s epoch=%" PRIu64, n->cfg.cluster.groups[g].name, n->cfg.self->region,
		   n->groups[g].held_epoch);
	n->groups[g].unfencing = true;
	chain_next(n, CHAIN_UNFENCE, g, 0, "lease granted again");
}

/* ----------------------------------------------------------------- rejoin */

struct rejoin_ctx {
	struct baton_node *n;
	unsigned g;
};

static void rejoin_report_cb(void *data, int status, const Baton__PeerResponse *resp)
{
	struct rejoin_ctx *c = data;

	if (status != 0 || !resp->ok)
		log_warn("rejoin", "progress not delivered to the leader", "error=\"%s\"",
			 status != 0 ? strerror(-status) : (resp->error ? resp->error : "?"));
	free(c);
}

static void rejoin_report(struct baton_node *n, unsigned g, int phase, const char *detail)
{
	const struct baton_group_state *gs = baton_fsm_group(&n->fsm, n->cfg.cluster.groups[g].name);
	const struct baton_region_state *r = gs != NULL ? baton_fsm_region(gs, n->cfg.self->region) : NULL;
	Baton__PeerRequest req = BATON__PEER_REQUEST__INIT;
	Baton__RejoinResult rr = BATON__REJOIN_RESULT__INIT;
	struct rejoin_ctx *c = calloc(1, sizeof *c);

	if (r == NULL || c == NULL) {
		free(c);
		return;
	}
	c->n = n;
	c->g = g;
	rr.region = (char *)n->cfg.self->region;
	rr.epoch = r->rejoin_epoch;
	rr.phase = phase;
	rr.detail = (char *)detail;
	req.body_case = BATON__PEER_REQUEST__BODY_REJOIN;
	req.rejoin = &rr;
	req.group = (char *)n->cfg.cluster.groups[g].name;
	log_notice("rejoin", phase == BATON__REJOIN_PHASE__REJOIN_DONE ? "rejoined"
			     : phase == BATON__REJOIN_PHASE__REJOIN_FAILED ? "rejoin failed" : "rejoining",
		   "group=%s region=%s active=%s epoch=%" PRIu64 " detail=\"%s\"", gs->name, n->cfg.self->region, gs->active,
		   r->rejoin_epoch, detail);
	if (baton_peer_send(n, &req, rejoin_report_cb, c) != 0)
		free(c); /* the next tick sees the phase unchanged and tries again */
}

/* Every node: run this region's rejoin steps when an operator asked for them
 * (batonctl reverse) and the baton is elsewhere. */
void baton_exec_rejoin_duties(struct baton_node *n)
{
	const struct baton_region_config *rc;

	if (n->cfg.self->witness || (rc = region_cfg(n, n->cfg.self->region)) == NULL)
		return;
	for (unsigned g = 0; g < n->cfg.cluster.n_groups; g++) {
		const struct baton_group_state *gs = baton_fsm_group(&n->fsm, n->cfg.cluster.groups[g].name);
		const struct baton_region_state *r = gs != NULL ? baton_fsm_region(gs, n->cfg.self->region) : NULL;
		if (r == NULL || n->rejoin_running[g] || r->rejoin_epoch != gs->epoch ||
		    strcmp(gs->active, n->cfg.self->region) == 0)
			continue;
		/* REQUESTED: start. RUNNING but not here: this process restarted
		 * mid-way; the steps run again (they must be idempotent). */
		if (r->rejoin_phase != BATON__REJOIN_PHASE__REJOIN_REQUESTED &&
		    r->rejoin_phase != BATON__REJOIN_PHASE__REJOIN_RUNNING)
			continue;
		if (rc->n_rejoin == 0) {
			rejoin_report(n, g, BATON__REJOIN_PHASE__REJOIN_FAILED, "no rejoin steps are configured for this region");
			continue;
		}
		n->rejoin_running[g] = true;
		if (r->rejoin_phase == BATON__REJOIN_PHASE__REJOIN_REQUESTED)
			rejoin_report(n, g, BATON__REJOIN_PHASE__REJOIN_RUNNING, "rejoin steps started");
		chain_next(n, CHAIN_REJOIN, g, 0, "rejoin");
	}
}

void baton_exec_close(struct baton_node *n)
{
	for (struct exec_step *s = n->exec_steps, *next; s != NULL; s = next) {
		next = s->next;
		s->cancelled = true;
		if (s->phase == PH_ATTEMPT && s->op != NULL && s->drv->cancel != NULL)
			s->drv->cancel(s->op);
		else if (s->phase == PH_BACKOFF || s->local)
			step_free(s);
	}
}
