/* SPDX-License-Identifier: MIT */
/* The decision engine; see decide.h. The rules run in a fixed order and the
 * first that applies answers, so an operator reading "blocked: frozen" knows
 * that nothing before it in the list stood in the way either. */
#include "decide.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *baton_decision_name(int d)
{
	static const char *names[BATON_DECIDE_NR] = {"none", "wait", "blocked", "failover", "freeze"};
	return d >= 0 && d < BATON_DECIDE_NR ? names[d] : "?";
}

bool baton_decide_candidate(const struct baton_decide_input *in, const struct baton_decide_region *r,
			    const char **ret_rule, char *why, size_t whylen)
{
	const struct baton_failover_config *c = in->cfg;
	const char *rule = NULL;

	if (strcmp(r->name, in->active) == 0) {
		rule = "active";
		snprintf(why, whylen, "%s holds the baton", r->name);
	} else if (r->priority == 0) {
		rule = "priority_zero";
		snprintf(why, whylen, "%s has priority 0 (manual only)", r->name);
	} else if (r->down) {
		rule = "down";
		snprintf(why, whylen, "%s is down for %u observer(s)", r->name, r->down_votes);
	} else if (r->critical) {
		rule = "critical";
		snprintf(why, whylen, "%s's reporters report a critical failure", r->name);
	} else if (c->require_reporters && !r->reporters_fresh) {
		rule = "no_reporters";
		snprintf(why, whylen, "%s has no fresh reports from its reporters", r->name);
	} else if (r->has_lag && r->lag_bytes > c->max_lag_bytes) {
		rule = "lag_bytes";
		snprintf(why, whylen, "%s lags %" PRIu64 " bytes (max %" PRIu64 ")", r->name, r->lag_bytes,
			 c->max_lag_bytes);
	} else if (r->has_lag && r->lag_ms > c->max_lag_ms) {
		rule = "lag_ms";
		snprintf(why, whylen, "%s lags %" PRIu64 " ms (max %" PRIu64 ")", r->name, r->lag_ms, c->max_lag_ms);
	}
	if (rule == NULL) {
		snprintf(why, whylen, "%s is ready", r->name);
		rule = "";
	}
	if (ret_rule != NULL)
		*ret_rule = rule;
	return rule[0] == '\0';
}

/* Higher priority first; lower lag breaks ties; then the name, so the
 * choice is the same on every leader. */
static bool better(const struct baton_decide_region *a, const struct baton_decide_region *b)
{
	if (a->priority != b->priority)
		return a->priority > b->priority;
	uint64_t la = a->has_lag ? a->lag_bytes : 0, lb = b->has_lag ? b->lag_bytes : 0;
	if (la != lb)
		return la < lb;
	return strcmp(a->name, b->name) < 0;
}

static void set(struct baton_decide_output *out, int d, const char *rule)
{
	out->decision = d;
	out->rule = rule;
}

void baton_decide(const struct baton_decide_input *in, struct baton_decide_output *out)
{
	const struct baton_failover_config *c = in->cfg;
	const struct baton_decide_region *best = NULL;
	uint64_t down_for, last_auto = 0;
	unsigned recent = 0;
	size_t off = 0;

	memset(out, 0, sizeof *out);
	out->rule = "";
	if (in->active[0] == '\0') {
		set(out, BATON_DECIDE_NONE, "");
		snprintf(out->text, sizeof out->text, "no region is active yet");
		return;
	}
	if (in->active_down_since_ms == 0) {
		set(out, BATON_DECIDE_NONE, "");
		snprintf(out->text, sizeof out->text, "%s is up", in->active);
		return;
	}
	down_for = in->now_ms > in->active_down_since_ms ? in->now_ms - in->active_down_since_ms : 0;
	if (down_for < c->failover_after_ms) {
		set(out, BATON_DECIDE_WAIT, "failover_after");
		snprintf(out->text, sizeof out->text, "%s is down for %" PRIu64 " ms; failing over after %" PRIu64 " ms",
			 in->active, down_for, c->failover_after_ms);
		return;
	}
	if (in->transition_running) {
		set(out, BATON_DECIDE_BLOCKED, "transition_running");
		snprintf(out->text, sizeof out->text, "%s is down but a transition is still running", in->active);
		return;
	}
	if (in->frozen) {
		set(out, BATON_DECIDE_BLOCKED, "frozen");
		snprintf(out->text, sizeof out->text, "%s is down but the group is frozen: no automatic failover",
			 in->active);
		return;
	}
	for (unsigned i = 0; i < in->n_auto; i++) {
		uint64_t t = in->auto_failovers_wall_ms[i];
		if (t + c->flap_window_ms >= in->now_wall_ms)
			recent++;
		if (t > last_auto)
			last_auto = t;
	}
	if (recent >= c->flap_max) {
		set(out, BATON_DECIDE_FREEZE, "flapping");
		snprintf(out->text, sizeof out->text,
			 "%s is down again after %u automatic failovers within %" PRIu64 " s: freezing the group; an "
			 "operator must decide",
			 in->active, recent, c->flap_window_ms / 1000);
		return;
	}
	if (last_auto != 0 && last_auto + c->cooldown_ms > in->now_wall_ms) {
		set(out, BATON_DECIDE_BLOCKED, "cooldown");
		snprintf(out->text, sizeof out->text,
			 "%s is down but the last automatic failover was %" PRIu64 " s ago (cooldown %" PRIu64 " s)",
			 in->active, (in->now_wall_ms - last_auto) / 1000, c->cooldown_ms / 1000);
		return;
	}
	for (unsigned i = 0; i < in->n_regions; i++) {
		const struct baton_decide_region *r = &in->regions[i];
		const char *rule;
		char why[160];
		if (baton_decide_candidate(in, r, &rule, why, sizeof why)) {
			if (best == NULL || better(r, best))
				best = r;
		} else if (strcmp(rule, "active") != 0 && off < sizeof out->text) {
			int n = snprintf(out->text + off, sizeof out->text - off, "%s%s", off ? "; " : "", why);
			if (n > 0)
				off += (size_t)n;
		}
	}
	if (best == NULL) {
		char reasons[sizeof out->text];
		memcpy(reasons, out->text, sizeof reasons);
		set(out, BATON_DECIDE_BLOCKED, "no_candidate");
		snprintf(out->text, sizeof out->text, "%s is down but no standby may take over: %s", in->active,
			 reasons[0] ? reasons : "there is no other region");
		return;
	}
	snprintf(out->target, sizeof out->target, "%s", best->name);
	if (in->now_ms < in->lease_clear_at_ms) {
		set(out, BATON_DECIDE_WAIT, "lease");
		snprintf(out->text, sizeof out->text,
			 "%s is down; failing over to %s once its lease has surely expired (%" PRIu64 " ms)", in->active,
			 best->name, in->lease_clear_at_ms - in->now_ms);
		return;
	}
	set(out, BATON_DECIDE_FAILOVER, "");
	snprintf(out->text, sizeof out->text, "%s down for %" PRIu64 " ms: failing over to %s (priority %u)",
		 in->active, down_for, best->name, best->priority);
}

uint64_t baton_lease_wait_ms(uint64_t ttl_ms, uint64_t max_drift_percent, uint64_t margin_ms)
{
	/* Round up: a wait one millisecond short is a wait too short. */
	return (ttl_ms * (100 + max_drift_percent) + 99) / 100 + margin_ms;
}

uint64_t baton_lease_clear_at(uint64_t last_grant_ms, uint64_t leader_since_ms, uint64_t ttl_ms,
			      uint64_t max_drift_percent, uint64_t margin_ms)
{
	uint64_t from = last_grant_ms > leader_since_ms ? last_grant_ms : leader_since_ms;
	return from + baton_lease_wait_ms(ttl_ms, max_drift_percent, margin_ms);
}
