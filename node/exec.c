/* SPDX-License-Identifier: MIT */
/* The plan executor. A transition is committed with its steps (a DAG); the
 * leader advances it and commits every step's start and end, so that a new
 * leader resumes where the old one stopped. A transition whose steps are all
 * done or skipped (or that has none) is ended as done. */
#include "exec.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "node.h"
#include "util.h"

size_t baton_node_plan_steps(struct baton_node *n, const char *from, const char *to, Baton__StepSpec *specs,
			     Baton__StepSpec **specp, size_t max)
{
	(void)n;
	(void)from;
	(void)to;
	(void)specs;
	(void)specp;
	(void)max;
	return 0; /* plans come from the config (cluster.plans) */
}

void baton_node_self_fence_steps(struct baton_node *n, unsigned g, const char *reason)
{
	(void)reason;
	log_notice("lease", "no self-fence steps configured for this region", "group=%s region=%s",
		   n->cfg.cluster.groups[g].name, n->cfg.self->region);
}

static void end_cb(void *data, int status, const struct baton_fsm_result *res)
{
	struct baton_node *n = data;
	(void)res;
	n->exec_ending = false;
	if (status != 0)
		log_info("exec", "transition end not confirmed; will retry", "error=\"%s\"", baton_member_strerror(status));
}

void baton_exec_tick(struct baton_node *n)
{
	if (n->exec_ending || !baton_member_is_ready_leader(&n->member))
		return;
	for (unsigned g = 0; g < n->fsm.st->n_groups; g++) {
		const struct baton_group_state *gs = &n->fsm.st->groups[g];
		bool finished = true;
		Baton__Command cmd;
		Baton__TransitionEnd te = BATON__TRANSITION_END__INIT;
		char id[BATON_ID_LEN];

		if (!gs->has_transition || gs->tr.state != BATON__TRANSITION_STATE__TRANSITION_RUNNING)
			continue;
		for (unsigned i = 0; i < gs->tr.n_steps; i++)
			if (gs->tr.steps[i].state != BATON__STEP_STATE__STEP_DONE &&
			    gs->tr.steps[i].state != BATON__STEP_STATE__STEP_SKIPPED)
				finished = false;
		if (!finished)
			continue;
		baton__command__init(&cmd);
		baton_random_id(id);
		cmd.cmd_id = id;
		cmd.has_proposed_at_ms = true;
		cmd.proposed_at_ms = baton_wall_ms();
		cmd.group = (char *)gs->name;
		te.transition_id = (char *)gs->tr.id;
		te.state = BATON__TRANSITION_STATE__TRANSITION_DONE;
		te.reason = gs->tr.n_steps == 0 ? "the plan has no steps" : "every step is done";
		cmd.body_case = BATON__COMMAND__BODY_TRANSITION_END;
		cmd.transition_end = &te;
		if (baton_member_propose(&n->member, &cmd, end_cb, n) == 0) {
			n->exec_ending = true;
			log_notice("exec", "transition complete", "group=%s id=%s epoch=%" PRIu64 " to=%s", gs->name,
				   gs->tr.id, gs->tr.epoch, gs->tr.to);
			return;
		}
	}
}
