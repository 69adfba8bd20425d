/* SPDX-License-Identifier: MIT */
/* batond's HTTP API. JSON out (jansson), read-only for now:
 *   GET /v1/status    this node, the raft view, members, fault tolerance, groups
 *   GET /v1/active    200 where this node's region holds the baton, else 503
 *   GET /v1/standby   200 where this node's region is a standby, else 503
 *   GET /v1/history   ?since=SEQ&limit=N: replicated history, oldest first
 *   GET /metrics      Prometheus text
 * /v1/active and /v1/standby fail closed: a node that cannot vouch for the
 * cluster state (no leader heard, or behind) answers 503 to both. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "node.h"
#include "peer.h"
#include "util.h"

static void respond_json(struct baton_http_exchange *ex, int status, json_t *j)
{
	char *body = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	json_decref(j);
	if (body == NULL) {
		baton_http_respond(ex, 500, "text/plain", "out of memory\n", 14, NULL);
		return;
	}
	size_t len = strlen(body);
	body = realloc(body, len + 2);
	body[len] = '\n';
	baton_http_respond(ex, status, "application/json", body, len + 1, NULL);
	free(body);
}

static void respond_error(struct baton_http_exchange *ex, int status, const char *msg)
{
	respond_json(ex, status, json_pack("{s:s}", "error", msg));
}

/* Value of @key in a query string "a=1&b=2", copied into @out. */
static bool query_param(const char *query, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key);

	for (const char *p = query; p != NULL && *p != '\0';) {
		const char *amp = strchr(p, '&');
		size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);
		if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			size_t vlen = len - klen - 1;
			if (vlen >= outlen)
				vlen = outlen - 1;
			memcpy(out, p + klen + 1, vlen);
			out[vlen] = '\0';
			return true;
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
	return false;
}

static const char *transition_state_name(int s)
{
	switch (s) {
	case BATON__TRANSITION_STATE__TRANSITION_RUNNING:
		return "running";
	case BATON__TRANSITION_STATE__TRANSITION_DONE:
		return "done";
	case BATON__TRANSITION_STATE__TRANSITION_FAILED:
		return "failed";
	case BATON__TRANSITION_STATE__TRANSITION_ABORTED:
		return "aborted";
	}
	return "none";
}

static const char *step_state_name(int s)
{
	static const char *names[] = {"pending", "running", "done", "failed", "skipped"};
	return s >= 0 && s < 5 ? names[s] : "?";
}

static json_t *transition_json(const struct baton_transition_state *t)
{
	json_t *steps = json_array();

	for (unsigned i = 0; i < t->n_steps; i++) {
		const struct baton_step_state *s = &t->steps[i];
		json_array_append_new(steps, json_pack("{s:s,s:s,s:s,s:i,s:s,s:I,s:I}", "name", s->name, "driver",
						       s->driver, "state", step_state_name(s->state), "attempts",
						       (int)s->attempts, "error", s->error, "duration_ms",
						       (json_int_t)s->duration_ms, "started_at_ms",
						       (json_int_t)s->started_at_ms));
	}
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:I,s:I,s:I,s:o}", "id", t->id, "kind",
			 t->kind == 0 ? "failover" : t->kind == 1 ? "switchover" : t->kind == 2 ? "failback" : "drill",
			 "from", t->from, "to", t->to, "reason", t->reason, "state", transition_state_name(t->state),
			 "drill", t->drill, "epoch", (json_int_t)t->epoch, "started_at_ms", (json_int_t)t->started_at_ms,
			 "ended_at_ms", (json_int_t)t->ended_at_ms, "steps", steps);
}

static json_t *member_name_json(struct baton_node *n, uint32_t id)
{
	const struct baton_member_config *m = id ? baton_config_member(&n->cfg.cluster, id) : NULL;

	if (m == NULL)
		return json_null();
	return json_pack("{s:i,s:s,s:s}", "id", (int)m->id, "name", m->name, "api", m->api);
}

static const char *member_name(struct baton_node *n, uint32_t id)
{
	const struct baton_member_config *m = baton_config_member(&n->cfg.cluster, id);
	return m != NULL ? m->name : "?";
}

/* Each region as every observer sees it, its internal health, and whether a
 * failover to it would be allowed now (and if not, the rule that blocks it). */
static json_t *regions_json(struct baton_node *n, unsigned gi)
{
	struct baton_decide_region dr[BATON_MAX_REGIONS];
	struct baton_decide_input in;
	const struct baton_group_state *g = &n->fsm.st->groups[gi];
	json_t *arr = json_array();

	baton_coord_decide_input(n, gi, dr, &in);
	for (unsigned j = 0; j < g->n_regions && j < in.n_regions; j++) {
		const struct baton_region_state *r = &g->regions[j];
		const struct baton_detect_region *mine = baton_detect_region(&n->detect, r->name);
		json_t *obs = json_array(), *health = json_null(), *probe = json_null();
		const char *rule;
		char why[192];
		bool ready = baton_decide_candidate(&in, &dr[j], &rule, why, sizeof why);

		for (unsigned k = 0; k < r->n_obs; k++)
			json_array_append_new(obs, json_pack("{s:s,s:b,s:s,s:I}", "observer", member_name(n, r->obs[k].observer),
							     "down", r->obs[k].down, "detail", r->obs[k].detail, "since_index",
							     (json_int_t)r->obs[k].since_index));
		if (r->has_health)
			health = json_pack("{s:b,s:b,s:I,s:I,s:s}", "critical", r->critical, "reporters_ok", r->reporters_ok,
					   "lag_bytes", (json_int_t)r->lag_bytes, "lag_ms", (json_int_t)r->lag_ms, "detail",
					   r->health_detail);
		json_t *rejoin = json_null();
		if (r->rejoin_phase != 0) {
			static const char *const phases[] = {"none", "requested", "running", "done", "failed"};
			rejoin = json_pack("{s:s,s:I,s:s,s:s}", "phase", r->rejoin_phase >= 0 && r->rejoin_phase < 5 ? phases[r->rejoin_phase] : "?",
					   "epoch", (json_int_t)r->rejoin_epoch, "detail", r->rejoin_detail, "by", r->rejoin_by);
		}
		if (mine != NULL && mine->cfg->n_probes > 0)
			probe = json_pack("{s:b,s:b,s:b,s:s,s:I,s:I}", "known", mine->known, "down", mine->down, "last_ok",
					  mine->last_ok, "detail", mine->last_ok ? "" : mine->detail, "rounds_ok",
					  (json_int_t)mine->rounds_ok, "rounds_failed", (json_int_t)mine->rounds_failed);
		json_array_append_new(arr, json_pack("{s:s,s:i,s:b,s:b,s:i,s:o,s:o,s:o,s:b,s:s,s:s,s:o}", "name", r->name,
						     "priority", (int)r->priority, "active", strcmp(r->name, g->active) == 0,
						     "objectively_down", dr[j].down, "down_votes", (int)dr[j].down_votes,
						     "observations", obs, "health", health, "probe_from_here", probe,
						     "ready", ready, "blocked_by", rule, "readiness", why, "rejoin", rejoin));
	}
	return arr;
}

static json_t *lease_json(struct baton_node *n, unsigned gi)
{
	const struct baton_coord_group *cg = &n->groups[gi];
	uint64_t now = uv_now(n->loop);
	json_t *j = json_pack("{s:I,s:I}", "ttl_ms", (json_int_t)n->cfg.cluster.lease.ttl_ms, "wait_bound_ms",
			      (json_int_t)baton_coord_lease_bound_ms(n));

	if (cg->holder) {
		json_object_set_new(j, "held_here", json_true());
		json_object_set_new(j, "valid", json_boolean(cg->lease_valid && !cg->fenced && now < cg->lease_until_ms));
		json_object_set_new(j, "remaining_ms",
				    json_integer(now < cg->lease_until_ms ? (json_int_t)(cg->lease_until_ms - now) : 0));
		json_object_set_new(j, "fenced", json_boolean(cg->fenced));
		if (cg->fenced) {
			json_object_set_new(j, "fenced_at_ms", json_integer((json_int_t)cg->fenced_at_wall_ms));
			json_object_set_new(j, "fence_reason", json_string(cg->fence_reason));
		}
	}
	if (baton_member_is_ready_leader(&n->member)) {
		uint64_t clear = baton_coord_lease_clear_at(n, gi);
		json_object_set_new(j, "revoked", json_boolean(cg->revoked));
		json_object_set_new(j, "last_grant_ms_ago",
				    cg->last_grant_ms ? json_integer((json_int_t)(now - cg->last_grant_ms)) : json_null());
		json_object_set_new(j, "promotion_allowed_in_ms", json_integer(clear > now ? (json_int_t)(clear - now) : 0));
	}
	return j;
}

static json_t *decision_json(const struct baton_decide_output *d)
{
	return json_pack("{s:s,s:s,s:s,s:s}", "decision", baton_decision_name(d->decision), "rule", d->rule ? d->rule : "",
			 "target", d->target, "text", d->text);
}

static json_t *status_json(struct baton_node *n)
{
	struct baton_member_status st;
	const struct baton_fsm_state *fs = n->fsm.st;
	bool leader = false;
	json_t *members = json_array(), *groups = json_array(), *root;
	int voters = 0, reachable = 0;
	bool have_reach = fs->n_reach > 0;

	baton_member_status(&n->member, &st);
	leader = st.role == BATON_ROLE_LEADER;
	for (unsigned i = 0; i < n->cfg.cluster.n_members; i++) {
		const struct baton_member_config *mc = &n->cfg.cluster.members[i];
		const char *role = "follower";
		json_t *reach = json_null();
		json_t *heard = json_null();

		if (mc->id == st.leader_id)
			role = "leader";
		if (mc->id == n->cfg.node.id)
			role = baton_role_name(st.role);
		/* Whether the leader hears from it: live on the leader, the last
		 * committed view everywhere else. */
		for (unsigned j = 0; j < st.n; j++)
			if (st.members[j].id == mc->id) {
				if (leader)
					reach = json_boolean(st.members[j].reachable);
				if (st.members[j].last_heard_ms_ago != UINT64_MAX)
					heard = json_integer((json_int_t)st.members[j].last_heard_ms_ago);
			}
		if (!leader)
			for (unsigned j = 0; j < fs->n_reach; j++)
				if (fs->reach[j].id == mc->id)
					reach = json_boolean(fs->reach[j].reachable);
		voters++;
		if (json_is_true(reach) || (!have_reach && !leader && false))
			reachable++;
		json_array_append_new(members, json_pack("{s:i,s:s,s:s?,s:b,s:s,s:s,s:s,s:o,s:o}", "id", (int)mc->id, "name",
							 mc->name, "region", mc->witness ? NULL : mc->region, "witness",
							 mc->witness, "role", role, "raft", mc->raft, "api", mc->api,
							 "leader_hears_from", reach, "last_heard_ms", heard));
	}
	for (unsigned i = 0; i < fs->n_groups; i++) {
		const struct baton_group_state *g = &fs->groups[i];
		json_t *regions = regions_json(n, i);
		json_t *gj;
		json_array_append_new(
			groups, gj = json_pack("{s:s,s:I,s:s?,s:s?,s:b,s:s?,s:s?,s:o,s:o}", "name", g->name, "epoch",
					  (json_int_t)g->epoch, "active_region", g->active[0] ? g->active : NULL,
					  "previous_region", g->previous[0] ? g->previous : NULL, "frozen", g->frozen,
					  "frozen_by", g->frozen ? g->frozen_by : NULL, "frozen_reason",
					  g->frozen ? g->frozen_reason : NULL, "transition",
					  g->has_transition ? transition_json(&g->tr) : json_null(), "regions", regions));
		if (gj != NULL && i < n->cfg.cluster.n_groups) {
			json_object_set_new(gj, "lease", lease_json(n, i));
			if (leader)
				json_object_set_new(gj, "decision", decision_json(&n->groups[i].decision));
		}
	}
	int majority = voters / 2 + 1;
	json_t *tolerance;
	if (leader)
		tolerance = json_pack("{s:i,s:i,s:i,s:i,s:s}", "voters", st.voters, "reachable_voters",
				      st.reachable_voters, "quorum", majority, "losses_survivable", st.losses_survivable,
				      "as_seen_by", n->cfg.self->name);
	else if (have_reach) {
		const struct baton_member_config *l = baton_node_leader(n);
		tolerance = json_pack("{s:i,s:i,s:i,s:i,s:s}", "voters", voters, "reachable_voters", reachable, "quorum",
				      majority, "losses_survivable", reachable - majority, "as_seen_by",
				      l != NULL ? l->name : "the last leader (committed view)");
	} else
		tolerance = json_pack("{s:i,s:i,s:n,s:n}", "voters", voters, "quorum", majority, "reachable_voters",
				      "losses_survivable");
	root = json_pack("{s:s,s:{s:i,s:s,s:s?,s:b,s:b},s:{s:s,s:I,s:o,s:b,s:I,s:I,s:I,s:s,s:I},s:o,s:o,s:o,s:{s:I,s:s,s:I,s:s?,s:b}}",
			 "cluster", n->cfg.cluster.id,
			 "node", "id", (int)n->cfg.node.id, "name", n->cfg.self->name, "region",
			 n->cfg.self->witness ? NULL : n->cfg.self->region, "witness", n->cfg.self->witness, "caught_up",
			 baton_node_caught_up(n),
			 "raft", "role", baton_role_name(st.role), "term", (json_int_t)st.term, "leader",
			 member_name_json(n, st.leader_id), "leader_ready", st.leader_ready, "commit_index",
			 (json_int_t)st.commit_index, "applied_index", (json_int_t)st.applied_index, "last_index",
			 (json_int_t)st.last_index, "transport", "plaintext (run peers over a private link)",
			 "fig8_acks_clamped", (json_int_t)st.clamped,
			 "members", members, "fault_tolerance", tolerance, "groups", groups,
			 "config", "generation", (json_int_t)n->cfg.cluster.generation, "hash", n->cluster_hash,
			 "cluster_generation", (json_int_t)fs->generation, "cluster_hash",
			 fs->conf_hash[0] ? fs->conf_hash : NULL, "matches",
			 fs->generation == 0 || (fs->generation == n->cfg.cluster.generation &&
						 strcmp(fs->conf_hash, n->cluster_hash) == 0));
	return root;
}

/* GET /v1/active and /v1/standby: answers for this node's region. */
static void region_check(struct baton_node *n, struct baton_http_exchange *ex, const struct baton_http_request *req,
			 bool want_active)
{
	char group[BATON_NAME_LEN] = "";
	const struct baton_group_state *g;
	const char *why = NULL;
	bool active, running;

	(void)query_param(req->query, "group", group, sizeof group);
	g = baton_fsm_group(&n->fsm, group);
	if (n->cfg.self->witness)
		why = "a witness has no region";
	else if (g == NULL)
		why = "unknown group";
	else if (!baton_node_caught_up(n))
		why = "this node cannot vouch for the cluster state (no leader heard, or behind)";
	if (why != NULL) {
		respond_json(ex, 503, json_pack("{s:s,s:s}", "region", n->cfg.self->region, "reason", why));
		return;
	}
	active = strcmp(g->active, n->cfg.self->region) == 0;
	running = g->has_transition && g->tr.state == BATON__TRANSITION_STATE__TRANSITION_RUNNING && !g->tr.drill;
	const char *lease_why = NULL;
	int gi = (int)(g - n->fsm.st->groups);
	bool may_act = active && baton_coord_may_act(n, (unsigned)gi, &lease_why);
	bool ok = want_active ? may_act && !running : !active && g->active[0] != '\0';
	respond_json(ex, ok ? 200 : 503,
		     json_pack("{s:s,s:s,s:s?,s:I,s:b,s:b,s:b,s:s?}", "region", n->cfg.self->region, "group", g->name,
			       "active_region", g->active[0] ? g->active : NULL, "epoch", (json_int_t)g->epoch, "active",
			       active, "lease_valid", may_act, "transition_running", running, "reason",
			       active && !may_act ? lease_why : NULL));
}

static void history_event_json(void *data, const Baton__HistoryEvent *ev)
{
	json_array_append_new((json_t *)data,
			      json_pack("{s:I,s:I,s:I,s:s,s:s,s:s,s:s,s:I,s:s,s:s}", "seq", (json_int_t)ev->seq, "index",
					(json_int_t)ev->index, "at_ms", (json_int_t)ev->at_ms, "group",
					ev->group ? ev->group : "", "kind", ev->kind ? ev->kind : "", "outcome",
					ev->outcome ? ev->outcome : "", "text", ev->text ? ev->text : "", "epoch",
					(json_int_t)ev->epoch, "by", ev->by ? ev->by : "", "cmd_id",
					ev->cmd_id ? ev->cmd_id : ""));
}

static void history(struct baton_node *n, struct baton_http_exchange *ex, const struct baton_http_request *req)
{
	char buf[32];
	unsigned long long since = 0, limit = 500;
	json_t *events = json_array();

	if (query_param(req->query, "since", buf, sizeof buf))
		since = strtoull(buf, NULL, 10);
	if (query_param(req->query, "limit", buf, sizeof buf))
		limit = strtoull(buf, NULL, 10);
	if (limit == 0 || limit > 10000)
		limit = 10000;
	if (baton_fsm_history(&n->fsm, since, (unsigned)limit, history_event_json, events) != 0) {
		json_decref(events);
		respond_error(ex, 500, "history unreadable");
		return;
	}
	respond_json(ex, 200, json_pack("{s:o,s:I}", "events", events, "next", (json_int_t)n->fsm.st->history_next));
}

static void metrics(struct baton_node *n, struct baton_http_exchange *ex)
{
	struct baton_member_status st;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL) {
		baton_http_respond(ex, 500, "text/plain", "out of memory\n", 14, NULL);
		return;
	}
	baton_member_status(&n->member, &st);
	fprintf(f, "# HELP baton_raft_term Current raft term.\n# TYPE baton_raft_term gauge\nbaton_raft_term %" PRIu64 "\n",
		st.term);
	fprintf(f, "# HELP baton_raft_role 1 for the role this node has.\n# TYPE baton_raft_role gauge\n");
	for (int r = 0; r <= BATON_ROLE_LEADER; r++)
		fprintf(f, "baton_raft_role{role=\"%s\"} %d\n", baton_role_name(r), st.role == r);
	fprintf(f, "# TYPE baton_raft_leader_ready gauge\nbaton_raft_leader_ready %d\n", st.leader_ready);
	fprintf(f, "# HELP baton_loop_lag_max_ms The latest a 100 ms loop timer has fired since start (a blocked loop shows here).\n"
		   "# TYPE baton_loop_lag_max_ms gauge\nbaton_loop_lag_max_ms %" PRIu64 "\n",
		n->lag_max_ms);
	fprintf(f, "# TYPE baton_loop_lag_ms gauge\nbaton_loop_lag_ms %" PRIu64 "\n", n->lag_last_ms);
	fprintf(f, "# TYPE baton_raft_commit_index gauge\nbaton_raft_commit_index %" PRIu64 "\n", st.commit_index);
	fprintf(f, "# TYPE baton_raft_applied_index gauge\nbaton_raft_applied_index %" PRIu64 "\n", st.applied_index);
	fprintf(f, "# HELP baton_raft_commit_lag Entries committed but not yet applied here.\n# TYPE baton_raft_commit_lag gauge\n"
		   "baton_raft_commit_lag %" PRIu64 "\n",
		st.commit_index > st.applied_index ? st.commit_index - st.applied_index : 0);
	fprintf(f, "# HELP baton_raft_has_leader Whether this node knows a leader.\n# TYPE baton_raft_has_leader gauge\n"
		   "baton_raft_has_leader %d\n",
		st.leader_id != 0);
	fprintf(f, "# HELP baton_fig8_acks_clamped_total Follower acknowledgements lowered by the commit guard.\n"
		   "# TYPE baton_fig8_acks_clamped_total counter\nbaton_fig8_acks_clamped_total %" PRIu64 "\n",
		st.clamped);
	fprintf(f, "# HELP baton_epoch Fencing epoch of each group.\n# TYPE baton_epoch gauge\n");
	for (unsigned i = 0; i < n->fsm.st->n_groups; i++)
		fprintf(f, "baton_epoch{group=\"%s\"} %" PRIu64 "\n", n->fsm.st->groups[i].name, n->fsm.st->groups[i].epoch);
	fprintf(f, "# HELP baton_active_region 1 for the active region of each group.\n# TYPE baton_active_region gauge\n");
	for (unsigned i = 0; i < n->fsm.st->n_groups; i++) {
		const struct baton_group_state *g = &n->fsm.st->groups[i];
		for (unsigned j = 0; j < g->n_regions; j++)
			fprintf(f, "baton_active_region{group=\"%s\",region=\"%s\"} %d\n", g->name, g->regions[j].name,
				strcmp(g->regions[j].name, g->active) == 0);
	}
	fprintf(f, "# TYPE baton_frozen gauge\n");
	for (unsigned i = 0; i < n->fsm.st->n_groups; i++)
		fprintf(f, "baton_frozen{group=\"%s\"} %d\n", n->fsm.st->groups[i].name, n->fsm.st->groups[i].frozen);
	/* detection, from this observer */
	fprintf(f, "# HELP baton_probe_up 1 if this node's last probe round of the region passed.\n# TYPE baton_probe_up gauge\n");
	for (unsigned i = 0; i < n->detect.n_regions; i++)
		if (n->detect.regions[i].cfg->n_probes > 0)
			fprintf(f, "baton_probe_up{region=\"%s\"} %d\n", n->detect.regions[i].cfg->name, n->detect.regions[i].last_ok);
	fprintf(f, "# HELP baton_probe_subjective_down 1 if this observer considers the region down.\n# TYPE baton_probe_subjective_down gauge\n");
	for (unsigned i = 0; i < n->detect.n_regions; i++)
		if (n->detect.regions[i].cfg->n_probes > 0)
			fprintf(f, "baton_probe_subjective_down{region=\"%s\"} %d\n", n->detect.regions[i].cfg->name, n->detect.regions[i].down);
	fprintf(f, "# HELP baton_probe_rounds_total Probe rounds by result.\n# TYPE baton_probe_rounds_total counter\n");
	for (unsigned i = 0; i < n->detect.n_regions; i++)
		if (n->detect.regions[i].cfg->n_probes > 0)
			fprintf(f, "baton_probe_rounds_total{region=\"%s\",result=\"ok\"} %" PRIu64 "\n"
				   "baton_probe_rounds_total{region=\"%s\",result=\"failed\"} %" PRIu64 "\n",
				n->detect.regions[i].cfg->name, n->detect.regions[i].rounds_ok, n->detect.regions[i].cfg->name,
				n->detect.regions[i].rounds_failed);
	fprintf(f, "# HELP baton_probe_latency_ms Duration of the last probe round.\n# TYPE baton_probe_latency_ms gauge\n");
	for (unsigned i = 0; i < n->detect.n_regions; i++)
		if (n->detect.regions[i].cfg->n_probes > 0)
			fprintf(f, "baton_probe_latency_ms{region=\"%s\"} %" PRIu64 "\n", n->detect.regions[i].cfg->name,
				n->detect.regions[i].last_latency_ms);
	fprintf(f, "# HELP baton_reports_total Health reports received, by verdict.\n# TYPE baton_reports_total counter\n");
	for (int v = 0; v < BATON_REPORT_VERDICT_NR; v++)
		fprintf(f, "baton_reports_total{verdict=\"%s\"} %" PRIu64 "\n", baton_report_verdict_name(v), n->health.verdicts[v]);
	/* objective view, leases and decisions, per group */
	fprintf(f, "# HELP baton_region_objectively_down 1 if a quorum of observers (or its reporters) say the region is down.\n"
		   "# TYPE baton_region_objectively_down gauge\n");
	for (unsigned gi = 0; gi < n->fsm.st->n_groups && gi < n->cfg.cluster.n_groups; gi++) {
		struct baton_decide_region dr[BATON_MAX_REGIONS];
		struct baton_decide_input in;
		baton_coord_decide_input(n, gi, dr, &in);
		for (unsigned j = 0; j < in.n_regions; j++)
			fprintf(f, "baton_region_objectively_down{group=\"%s\",region=\"%s\"} %d\n", n->fsm.st->groups[gi].name,
				dr[j].name, dr[j].down);
	}
	/* One TYPE line per family (the exposition format forbids repeats). */
	fprintf(f, "# TYPE baton_standby_ready gauge\n");
	for (unsigned gi = 0; gi < n->fsm.st->n_groups && gi < n->cfg.cluster.n_groups; gi++) {
		struct baton_decide_region dr[BATON_MAX_REGIONS];
		struct baton_decide_input in;
		baton_coord_decide_input(n, gi, dr, &in);
		for (unsigned j = 0; j < in.n_regions; j++) {
			char why[160];
			const char *rule;
			if (strcmp(dr[j].name, in.active) == 0)
				continue;
			fprintf(f, "baton_standby_ready{group=\"%s\",region=\"%s\"} %d\n", n->fsm.st->groups[gi].name, dr[j].name,
				baton_decide_candidate(&in, &dr[j], &rule, why, sizeof why));
		}
	}
	fprintf(f, "# HELP baton_lease_remaining_ms Lease left on the node holding the active region (0 when fenced).\n"
		   "# TYPE baton_lease_remaining_ms gauge\n");
	for (unsigned gi = 0; gi < n->cfg.cluster.n_groups; gi++) {
		const struct baton_coord_group *cg = &n->groups[gi];
		uint64_t now = uv_now(n->loop);
		if (cg->holder)
			fprintf(f, "baton_lease_remaining_ms{group=\"%s\"} %" PRIu64 "\n", n->cfg.cluster.groups[gi].name,
				cg->fenced || now >= cg->lease_until_ms ? 0 : cg->lease_until_ms - now);
	}
	fprintf(f, "# TYPE baton_lease_renewals_total counter\n");
	for (unsigned gi = 0; gi < n->cfg.cluster.n_groups; gi++) {
		const struct baton_coord_group *cg = &n->groups[gi];
		const char *gn = n->cfg.cluster.groups[gi].name;
		fprintf(f, "baton_lease_renewals_total{group=\"%s\",result=\"granted\"} %" PRIu64 "\n"
			   "baton_lease_renewals_total{group=\"%s\",result=\"refused\"} %" PRIu64 "\n"
			   "baton_lease_renewals_total{group=\"%s\",result=\"failed\"} %" PRIu64 "\n",
			gn, cg->renewals_ok, gn, cg->renewals_refused, gn, cg->renewals_failed);
	}
	fprintf(f, "# TYPE baton_self_fenced gauge\n");
	for (unsigned gi = 0; gi < n->cfg.cluster.n_groups; gi++)
		fprintf(f, "baton_self_fenced{group=\"%s\"} %d\n", n->cfg.cluster.groups[gi].name, n->groups[gi].fenced);
	fprintf(f, "# HELP baton_transition The group's current or last transition (1), by kind and state.\n"
		   "# TYPE baton_transition gauge\n");
	for (unsigned gi = 0; gi < n->fsm.st->n_groups; gi++) {
		const struct baton_group_state *g = &n->fsm.st->groups[gi];
		static const char *const kinds[] = {"failover", "switchover", "failback", "drill"};
		if (!g->has_transition)
			continue;
		fprintf(f, "baton_transition{group=\"%s\",kind=\"%s\",state=\"%s\",drill=\"%s\"} 1\n", g->name,
			g->tr.kind >= 0 && g->tr.kind < 4 ? kinds[g->tr.kind] : "?", transition_state_name(g->tr.state),
			g->tr.drill ? "true" : "false");
	}
	fprintf(f, "# HELP baton_step_duration_ms Duration of each step of the current or last transition.\n"
		   "# TYPE baton_step_duration_ms gauge\n");
	for (unsigned gi = 0; gi < n->fsm.st->n_groups; gi++) {
		const struct baton_group_state *g = &n->fsm.st->groups[gi];
		for (unsigned i = 0; g->has_transition && i < g->tr.n_steps; i++)
			fprintf(f, "baton_step_duration_ms{group=\"%s\",step=\"%s\",driver=\"%s\",state=\"%s\"} %" PRIu64 "\n",
				g->name, g->tr.steps[i].name, g->tr.steps[i].driver, step_state_name(g->tr.steps[i].state),
				g->tr.steps[i].duration_ms);
	}
	fprintf(f, "# HELP baton_commands_total Signed operator commands handled by this node, by outcome.\n"
		   "# TYPE baton_commands_total counter\n");
	for (unsigned i = 0; baton_cmd_outcomes[i] != NULL; i++)
		fprintf(f, "baton_commands_total{outcome=\"%s\"} %" PRIu64 "\n", baton_cmd_outcomes[i], n->cmd_outcomes[i]);
	/* The family is declared on every node so that dashboards and alert rules
	 * validate against any of them; only the ready leader has samples, because
	 * only it decides. */
	fprintf(f, "# HELP baton_decision The leader's current decision per group (1 for the current one).\n"
		   "# TYPE baton_decision gauge\n");
	if (baton_member_is_ready_leader(&n->member)) {
		for (unsigned gi = 0; gi < n->cfg.cluster.n_groups; gi++)
			for (int d = 0; d < BATON_DECIDE_NR; d++)
				fprintf(f, "baton_decision{group=\"%s\",decision=\"%s\"} %d\n", n->cfg.cluster.groups[gi].name,
					baton_decision_name(d), n->groups[gi].decision.decision == d);
	}
	fclose(f);
	baton_http_respond(ex, 200, "text/plain; version=0.0.4", buf, len, NULL);
	free(buf);
}

extern const unsigned char baton_web_index[];
extern const size_t baton_web_index_len;

void baton_api_handle(void *ctx, struct baton_http_exchange *ex, const struct baton_http_request *req)
{
	struct baton_node *n = ctx;
	bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;

	if ((strcmp(req->path, "/") == 0 || strcmp(req->path, "/index.html") == 0) && get)
		baton_http_respond(ex, 200, "text/html; charset=utf-8", baton_web_index, baton_web_index_len,
				   "Cache-Control: no-cache\r\nContent-Security-Policy: default-src 'self'; "
				   "script-src 'unsafe-inline'; style-src 'unsafe-inline'\r\n");
	else if (strcmp(req->path, "/v1/status") == 0 && get)
		respond_json(ex, 200, status_json(n));
	else if (strcmp(req->path, "/v1/active") == 0 && get)
		region_check(n, ex, req, true);
	else if (strcmp(req->path, "/v1/standby") == 0 && get)
		region_check(n, ex, req, false);
	else if (strcmp(req->path, "/v1/history") == 0 && get)
		history(n, ex, req);
	else if (strcmp(req->path, "/metrics") == 0 && get)
		metrics(n, ex);
	else if (strcmp(req->path, "/v1/commands") == 0 && strcmp(req->method, "POST") == 0)
		baton_commands_handle(n, ex, req);
	else if (strcmp(req->path, "/v1/plan") == 0 && get)
		baton_plan_handle(n, ex, req, query_param);
	else if (strcmp(req->path, "/v1/health") == 0 && strcmp(req->method, "POST") == 0)
		baton_health_handle_http(n, ex, req);
	else if (strcmp(req->path, "/v1/internal/peer") == 0 && strcmp(req->method, "POST") == 0)
		baton_peer_handle_http(n, ex, req);
	else if (strcmp(req->path, "/v1/status") == 0 || strcmp(req->path, "/v1/active") == 0 ||
		 strcmp(req->path, "/v1/standby") == 0 || strcmp(req->path, "/v1/history") == 0 ||
		 strcmp(req->path, "/metrics") == 0)
		baton_http_respond(ex, 405, "application/json", "{\"error\":\"method not allowed\"}\n", 31,
				   "Allow: GET, HEAD\r\n");
	else
		respond_error(ex, 404, "no such endpoint");
}
