/* SPDX-License-Identifier: MIT */
/* POST /v1/commands: signed operator commands. GET /v1/plan: the dry run.
 *
 * A follower answers 307 with the leader's URL (the body and method are kept
 * by a client that follows 307). The leader checks the envelope exactly as
 * the FSM will (raft/opcmd.c, with its own clock), the nonce against the
 * replicated replay set, the expected epoch, and - unless --force - that the
 * target region could take over now; then it proposes the command with the
 * plan for transition operations, and answers with what the FSM did. Every
 * refusal is also committed as an audit entry (at most 10 a second), so the
 * history shows attempts that never became commands. Errors are JSON:
 *   {"error": "<code>", "message": "<sentence>"} */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "node.h"
#include "opcmd.h"
#include "util.h"

#define AUDITS_PER_SECOND 10

/* Outcomes counted for /metrics (baton_commands_total{outcome}). */
const char *const baton_cmd_outcomes[] = {"accepted", "pending-approval", "refused", "replayed", "stale-epoch",
					 "denied", "not-leader", "other", NULL};

static void count(struct baton_node *n, const char *outcome)
{
	for (unsigned i = 0; baton_cmd_outcomes[i] != NULL; i++)
		if (strcmp(baton_cmd_outcomes[i], outcome) == 0) {
			n->cmd_outcomes[i]++;
			return;
		}
	n->cmd_outcomes[7]++;
}

static void reply(struct baton_http_exchange *ex, int status, json_t *j)
{
	char *body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (body == NULL) {
		baton_http_respond(ex, 500, "text/plain", "out of memory\n", 14, NULL);
		return;
	}
	baton_http_respond(ex, status, "application/json", body, strlen(body), NULL);
	free(body);
}

static void audit(struct baton_node *n, const char *key_id, const char *op, const char *reason, const char *remote,
		  const Baton__CommandBody *signed_body)
{
	uint64_t now = uv_now(n->loop);
	Baton__Command cmd;
	Baton__Audit a = BATON__AUDIT__INIT;
	char id[BATON_ID_LEN];

	if (now - n->audit_window_ms >= 1000) {
		n->audit_window_ms = now;
		n->audits_in_window = 0;
	}
	/* Refusals of validly signed commands always go in (they burn the
	 * nonce; only key holders can cause them); anonymous ones are capped. */
	if (signed_body == NULL && n->audits_in_window++ >= AUDITS_PER_SECOND)
		return;
	baton_node_cmd_init(n, &cmd, id, "");
	a.outcome = "rejected";
	a.key_id = (char *)key_id;
	a.op = (char *)op;
	a.reason = (char *)reason;
	a.remote = (char *)remote;
	if (signed_body != NULL) {
		a.has_nonce = true;
		a.nonce = signed_body->nonce;
		a.has_nonce_expires_at_ms = true;
		a.nonce_expires_at_ms = signed_body->expires_at_ms;
	}
	cmd.body_case = BATON__COMMAND__BODY_AUDIT;
	cmd.audit = &a;
	(void)baton_member_propose(&n->member, &cmd, NULL, NULL);
}

static void refuse(struct baton_node *n, struct baton_http_exchange *ex, int status, const char *code,
		   const char *message, const char *key_id, const char *op, const char *remote,
		   const Baton__CommandBody *signed_body)
{
	count(n, strcmp(code, "replayed") == 0 ? "replayed" : strcmp(code, "stale-epoch") == 0 ? "stale-epoch" : "refused");
	log_notice("command", "refused", "code=%s key=%s op=%s from=%s reason=\"%s\"", code, key_id ? key_id : "-",
		   op ? op : "-", remote, message);
	audit(n, key_id, op, message, remote, signed_body);
	reply(ex, status, json_pack("{s:s,s:s}", "error", code, "message", message));
}

struct pending_reply {
	struct baton_node *n;
	struct baton_http_exchange *ex;
	char op[32];
	char id[17];
};

static void committed(void *data, int status, const struct baton_fsm_result *res)
{
	struct pending_reply *p = data;
	int http = 200;
	const char *code = "ok";

	if (status != 0) {
		count(p->n, "not-leader");
		reply(p->ex, status == BATON_EUNKNOWN ? 504 : 503,
		      json_pack("{s:s,s:s}", "error", status == BATON_EUNKNOWN ? "unknown-outcome" : "not-leader", "message",
				baton_member_strerror(status)));
		free(p);
		return;
	}
	switch (res->code) {
	case BATON_FSM_OK:
		break;
	case BATON_FSM_PENDING:
		http = 202;
		code = "pending-approval";
		break;
	case BATON_FSM_DUPLICATE:
		code = "duplicate";
		break;
	case BATON_FSM_REPLAY:
		http = 409;
		code = "replayed";
		break;
	case BATON_FSM_STALE_EPOCH:
		http = 409;
		code = "stale-epoch";
		break;
	case BATON_FSM_BUSY:
		http = 409;
		code = "transition-running";
		break;
	case BATON_FSM_DENIED:
		http = 403;
		code = "denied";
		break;
	case BATON_FSM_UNKNOWN:
		http = 404;
		code = "unknown";
		break;
	default:
		http = 422;
		code = baton_fsm_code_name(res->code);
	}
	count(p->n, http == 200 ? "accepted" : http == 202 ? "pending-approval" : strcmp(code, "replayed") == 0 ? "replayed"
		    : strcmp(code, "stale-epoch") == 0 ? "stale-epoch" : strcmp(code, "denied") == 0 ? "denied" : "refused");
	reply(p->ex, http,
	      json_pack("{s:b,s:s,s:s,s:s,s:I,s:I}", "ok", http < 300, http < 300 ? "outcome" : "error", code, "message",
			res->message[0] ? res->message : "done", "id", p->id, "epoch", (json_int_t)res->epoch, "index",
			(json_int_t)res->index));
	free(p);
}

static int kind_of(int op)
{
	switch (op) {
	case BATON_OP_SWITCHOVER:
		return BATON__TRANSITION_KIND__TRANSITION_SWITCHOVER;
	case BATON_OP_FAILBACK:
		return BATON__TRANSITION_KIND__TRANSITION_FAILBACK;
	case BATON_OP_DRILL:
		return BATON__TRANSITION_KIND__TRANSITION_DRILL;
	default:
		return BATON__TRANSITION_KIND__TRANSITION_FAILOVER;
	}
}

/* Readiness of @to for a transition operation: the same candidate rules the
 * automatic failover uses. Returns NULL if ready, else the rule and reason. */
static const char *target_blocked(struct baton_node *n, const char *group, const char *to, char *why, size_t whylen)
{
	struct baton_decide_region dr[BATON_MAX_REGIONS];
	struct baton_decide_input in;
	const char *rule;
	int gi = -1;

	for (unsigned i = 0; i < n->cfg.cluster.n_groups; i++)
		if (group == NULL || group[0] == '\0' || strcmp(n->cfg.cluster.groups[i].name, group) == 0) {
			gi = (int)i;
			break;
		}
	if (gi < 0) {
		snprintf(why, whylen, "unknown group '%s'", group);
		return "unknown-group";
	}
	baton_coord_decide_input(n, (unsigned)gi, dr, &in);
	for (unsigned i = 0; i < in.n_regions; i++)
		if (strcmp(dr[i].name, to) == 0) {
			/* Operators may choose a priority-0 region on purpose. */
			dr[i].priority = dr[i].priority ? dr[i].priority : 1;
			if (baton_decide_candidate(&in, &dr[i], &rule, why, whylen))
				return NULL;
			return rule;
		}
	snprintf(why, whylen, "region '%s' is not a region of this cluster", to);
	return "unknown-region";
}

void baton_commands_handle(struct baton_node *n, struct baton_http_exchange *ex, const struct baton_http_request *req)
{
	Baton__SignedEnvelope *env;
	Baton__CommandBody *b = NULL;
	const struct baton_opkey *key;
	char err[BATON_TEXT_MAX], id[17];
	int v, op;

	if (!baton_member_is_ready_leader(&n->member)) {
		const struct baton_member_config *l = baton_node_leader(n);
		char loc[128];
		if (l == NULL || l->id == n->cfg.node.id) {
			reply(ex, 503, json_pack("{s:s,s:s}", "error", "no-leader", "message",
						 "no leader is known: the cluster cannot take commands until a majority is back"));
			return;
		}
		snprintf(loc, sizeof loc, "Location: http://%s/v1/commands\r\n", l->api);
		baton_http_respond(ex, 307, "application/json", "{\"error\":\"not-leader\"}\n", 23, loc);
		return;
	}
	if (req->body_len > BATON_OPCMD_MAX_BYTES) {
		refuse(n, ex, 413, "oversized", "command larger than 64 KiB", NULL, NULL, req->remote_addr, NULL);
		return;
	}
	env = baton__signed_envelope__unpack(NULL, req->body_len, req->body);
	if (env == NULL) {
		refuse(n, ex, 400, "malformed", "the body is not a signed command envelope (baton.SignedEnvelope)", NULL,
		       NULL, req->remote_addr, NULL);
		return;
	}
	if (n->opkeys.n == 0) {
		refuse(n, ex, 403, "unknown-key", "this cluster has no operator keys (cluster.operators)", env->key_id, NULL,
		       req->remote_addr, NULL);
		goto out;
	}
	v = baton_opcmd_verify(&n->opkeys, env, baton_wall_ms(), &key, &b, err, sizeof err);
	if (v != BATON_OPCMD_OK) {
		refuse(n, ex, v == BATON_OPCMD_MALFORMED ? 400 : 403, baton_opcmd_verdict_name(v), err, env->key_id, NULL,
		       req->remote_addr, NULL);
		goto out;
	}
	op = baton_op_parse(b->op);
	baton_hex(id, b->nonce.data, 8);
	if (baton_fsm_nonce_seen(&n->fsm, b->nonce.data, b->nonce.len)) {
		refuse(n, ex, 409, "replayed", "this signed command was already used (its nonce is in the replay set)",
		       key->key_id, b->op, req->remote_addr, b);
		goto out;
	}
	const struct baton_group_state *g = baton_fsm_group(&n->fsm, b->group);
	if (g == NULL) {
		refuse(n, ex, 404, "unknown-group", "no such failover group", key->key_id, b->op, req->remote_addr, b);
		goto out;
	}
	if (b->has_expect_epoch && b->expect_epoch != g->epoch) {
		snprintf(err, sizeof err, "the command expects epoch %" PRIu64 " but the group is at epoch %" PRIu64
					  " (active %s): check status and sign again", b->expect_epoch, g->epoch, g->active);
		refuse(n, ex, 409, "stale-epoch", err, key->key_id, b->op, req->remote_addr, b);
		goto out;
	}
	Baton__OperatorCommand oc = BATON__OPERATOR_COMMAND__INIT;
	Baton__StepSpec specs[BATON_FSM_MAX_STEPS], *specp[BATON_FSM_MAX_STEPS];
	int effective = op;
	const char *to = baton_op_arg(b, "to");
	/* approve: the plan is the one of the command being approved */
	Baton__CommandBody *pending_body = NULL;
	if (op == BATON_OP_APPROVE) {
		const char *pid = b->approves && b->approves[0] ? b->approves : baton_op_arg(b, "id");
		const struct baton_pending *p = baton_fsm_pending(&n->fsm, pid);
		if (p == NULL) {
			snprintf(err, sizeof err, "no pending command %s (expired, executed, or never proposed)", pid ? pid : "");
			refuse(n, ex, 404, "unknown", err, key->key_id, b->op, req->remote_addr, b);
			goto out;
		}
		pending_body = baton__command_body__unpack(NULL, p->body_len, p->body);
		if (pending_body != NULL) {
			effective = baton_op_parse(pending_body->op);
			to = baton_op_arg(pending_body, "to");
		}
	}
	if (effective == BATON_OP_FAILBACK && (to == NULL || to[0] == '\0'))
		to = g->previous;
	bool transition = effective == BATON_OP_SWITCHOVER || effective == BATON_OP_FAILOVER ||
			  effective == BATON_OP_FAILBACK || effective == BATON_OP_DRILL;
	const char *force = baton_op_arg(pending_body != NULL ? pending_body : b, "force");
	if (transition && op != BATON_OP_APPROVE && effective != BATON_OP_DRILL && !(force && strcmp(force, "true") == 0)) {
		const char *rule = to != NULL && to[0] ? target_blocked(n, b->group, to, err, sizeof err) : "no-target";
		if (rule != NULL) {
			char msg[BATON_TEXT_MAX + 64];
			if (strcmp(rule, "no-target") == 0)
				snprintf(err, sizeof err, "%s needs a target region (--to)", b->op);
			snprintf(msg, sizeof msg, "target not ready (%s): %s", rule, err);
			refuse(n, ex, 422, "target-not-ready", msg, key->key_id, b->op, req->remote_addr, b);
			if (pending_body != NULL)
				baton__command_body__free_unpacked(pending_body, NULL);
			goto out;
		}
	}
	if (transition && to != NULL)
		oc.n_steps = baton_node_plan_steps_for(n, kind_of(effective), g->active, to, specs, specp, BATON_FSM_MAX_STEPS);
	oc.steps = specp;
	oc.envelope = env;
	if (pending_body != NULL)
		baton__command_body__free_unpacked(pending_body, NULL);

	Baton__Command cmd;
	char cid[BATON_ID_LEN];
	struct pending_reply *pr = calloc(1, sizeof *pr);
	if (pr == NULL) {
		reply(ex, 500, json_pack("{s:s}", "error", "out of memory"));
		goto out;
	}
	pr->ex = ex;
	pr->n = n;
	baton_strlcpy(pr->id, id, sizeof pr->id);
	baton_strlcpy(pr->op, b->op, sizeof pr->op);
	baton__command__init(&cmd);
	/* The nonce makes the entry idempotent across client retries. */
	snprintf(cid, sizeof cid, "op-%s", id);
	cmd.cmd_id = cid;
	cmd.has_proposed_at_ms = true;
	cmd.proposed_at_ms = baton_wall_ms();
	cmd.has_proposer = true;
	cmd.proposer = n->cfg.node.id;
	cmd.group = b->group != NULL ? b->group : "";
	cmd.body_case = BATON__COMMAND__BODY_OPERATOR;
	cmd.operator_ = &oc;
	log_notice("command", "accepted for the log", "op=%s id=%s key=%s (%s) from=%s", b->op, id, key->key_id, key->name,
		   req->remote_addr);
	if (baton_member_propose(&n->member, &cmd, committed, pr) != 0) {
		free(pr);
		reply(ex, 503, json_pack("{s:s,s:s}", "error", "not-leader", "message", "lost leadership; try again"));
	}
out:
	if (b != NULL)
		baton__command_body__free_unpacked(b, NULL);
	baton__signed_envelope__free_unpacked(env, NULL);
}

/* GET /v1/plan?to=REGION[&kind=failover|switchover|failback|drill][&group=G]:
 * the steps in the order they would start, and what would block it now. */
void baton_plan_handle(struct baton_node *n, struct baton_http_exchange *ex, const struct baton_http_request *req,
		       bool (*param)(const char *query, const char *key, char *out, size_t outlen))
{
	char to[BATON_NAME_LEN] = "", kind_s[16] = "failover", group[BATON_NAME_LEN] = "", why[256];
	Baton__StepSpec specs[BATON_FSM_MAX_STEPS], *specp[BATON_FSM_MAX_STEPS];
	const struct baton_group_state *g;
	json_t *steps = json_array(), *blocked = json_array();
	int kind;

	(void)param(req->query, "to", to, sizeof to);
	(void)param(req->query, "kind", kind_s, sizeof kind_s);
	(void)param(req->query, "group", group, sizeof group);
	g = baton_fsm_group(&n->fsm, group);
	kind = strcmp(kind_s, "switchover") == 0 ? BATON__TRANSITION_KIND__TRANSITION_SWITCHOVER
	       : strcmp(kind_s, "failback") == 0 ? BATON__TRANSITION_KIND__TRANSITION_FAILBACK
	       : strcmp(kind_s, "drill") == 0	 ? BATON__TRANSITION_KIND__TRANSITION_DRILL
						 : BATON__TRANSITION_KIND__TRANSITION_FAILOVER;
	if (g == NULL) {
		reply(ex, 404, json_pack("{s:s,s:s}", "error", "unknown-group", "message", "no such failover group"));
		return;
	}
	if (to[0] == '\0' && kind == BATON__TRANSITION_KIND__TRANSITION_FAILBACK)
		baton_strlcpy(to, g->previous, sizeof to);
	if (to[0] == '\0') {
		reply(ex, 400, json_pack("{s:s,s:s}", "error", "no-target", "message", "say which region: ?to=REGION"));
		return;
	}
	size_t k = baton_node_plan_steps_for(n, kind, g->active, to, specs, specp, BATON_FSM_MAX_STEPS);
	/* Topological order: a step is listed once everything it waits for is. */
	bool listed[BATON_FSM_MAX_STEPS] = {false};
	for (size_t round = 0; round < k; round++)
		for (size_t i = 0; i < k; i++) {
			bool ready = !listed[i];
			for (size_t a = 0; ready && a < specs[i].n_after; a++)
				for (size_t j = 0; j < k; j++)
					if (strcmp(specs[j].name, specs[i].after[a]) == 0 && !listed[j])
						ready = false;
			if (!ready)
				continue;
			listed[i] = true;
			json_t *after = json_array();
			for (size_t a = 0; a < specs[i].n_after; a++)
				json_array_append_new(after, json_string(specs[i].after[a]));
			json_array_append_new(steps, json_pack("{s:s,s:s,s:o,s:b}", "name", specs[i].name, "driver",
							       specs[i].driver, "after", after, "idempotent",
							       specs[i].idempotent));
		}
	if (g->active[0] == '\0')
		json_array_append_new(blocked, json_pack("{s:s,s:s}", "rule", "not_activated", "text",
							 "the group has no active region yet (its initial activation is not committed)"));
	if (g->frozen)
		json_array_append_new(blocked, json_pack("{s:s,s:s}", "rule", "frozen", "text", "the group is frozen (automatic decisions only; operators may still act)"));
	if (g->has_transition && g->tr.state == BATON__TRANSITION_STATE__TRANSITION_RUNNING)
		json_array_append_new(blocked, json_pack("{s:s,s:s}", "rule", "transition_running", "text", "a transition is running"));
	const char *rule = kind == BATON__TRANSITION_KIND__TRANSITION_DRILL ? NULL : target_blocked(n, group, to, why, sizeof why);
	if (rule != NULL)
		json_array_append_new(blocked, json_pack("{s:s,s:s}", "rule", rule, "text", why));
	reply(ex, 200, json_pack("{s:s,s:s,s:s,s:I,s:o,s:o}", "group", g->name, "from", g->active, "to", to, "epoch",
				 (json_int_t)g->epoch, "steps", steps, "blocked_by", blocked));
}
