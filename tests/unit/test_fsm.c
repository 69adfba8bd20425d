/* SPDX-License-Identifier: MIT */
/* Unit tests of the replicated state machine (raft/fsm.h): every command kind
 * and its conditions — cluster config adoption and conflicts, activation,
 * transitions (epochs, busy, drills, automatic failovers), step updates and
 * their finality, transition ends and resume, freeze, noop, reachability,
 * observations, region health, decisions and operator commands.
 * Idempotency, malformed entries, determinism, snapshots and persistence are
 * in test_fsm_store.c; the fixture is in fsm_fixture.h. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fsm_fixture.h"

/* ========================================================= cluster_config */

/* The first cluster config creates its groups and regions; a region given
 * without a priority gets the default of 100. */
static void first_config_creates_groups_and_regions_with_priorities(void **state)
{
	struct fixture *f = *state;
	const struct baton_group_state *g;

	assert_int_equal(feed_default_config(f), BATON_FSM_OK);

	assert_int_equal(f->fsm.st->generation, 1);
	assert_string_equal(f->fsm.st->conf_hash, HASH1);
	assert_int_equal(f->fsm.st->n_groups, 1);
	g = group(f);
	assert_string_equal(g->name, "db");
	assert_int_equal(g->epoch, 0);
	assert_string_equal(g->active, "");
	assert_false(g->has_transition);
	assert_int_equal(g->n_regions, 3);
	assert_int_equal(region(f, "a")->priority, 30);
	assert_int_equal(region(f, "b")->priority, 20);
	assert_int_equal(region(f, "c")->priority, 100);
	assert_null(baton_fsm_region(g, "zz"));
	assert_int_equal(read_history(f), 1);
	assert_string_equal(f->hist.ev[0].kind, "config");
	assert_string_equal(f->hist.ev[0].outcome, "ok");
}

/* Every group of the config gets every region; a NULL name finds the first
 * group and commands address a group by name. */
static void commands_address_a_group_by_name(void **state)
{
	struct fixture *f = *state;
	static const char *const groups[] = {"db", "web"};

	assert_int_equal(feed_config(f, 1, HASH1, default_regions, 3, groups, 2), BATON_FSM_OK);
	f->group = "web";
	assert_int_equal(feed_activate(f, "b", 0), BATON_FSM_OK);

	assert_string_equal(baton_fsm_group(&f->fsm, NULL)->name, "db");
	assert_string_equal(baton_fsm_group(&f->fsm, "")->name, "db");
	assert_null(baton_fsm_group(&f->fsm, "zz"));
	assert_int_equal(baton_fsm_group(&f->fsm, "web")->n_regions, 3);
	assert_int_equal(baton_fsm_group(&f->fsm, "web")->epoch, 1);
	assert_string_equal(baton_fsm_group(&f->fsm, "web")->active, "b");
	assert_int_equal(baton_fsm_group(&f->fsm, "db")->epoch, 0);
	assert_string_equal(baton_fsm_group(&f->fsm, "db")->active, "");
	assert_string_equal(last_event(f)->kind, "activate");
}

/* A new leader re-asserting the same generation and hash changes nothing
 * and writes no history. */
static void same_config_again_is_a_noop(void **state)
{
	struct fixture *f = *state;
	struct baton_fsm_state *before;

	bootstrap(f);
	before = save_state(f);
	assert_int_equal(read_history(f), 2);

	assert_int_equal(feed_default_config(f), BATON_FSM_OK);

	assert_state_unchanged(f, before);
	assert_int_equal(read_history(f), 2);
	assert_int_equal(f->fsm.st->applied_index, 3);
}

/* The same generation with another hash means two nodes run different
 * cluster sections: a conflict, recorded in the history. */
static void same_generation_with_another_hash_is_a_conflict(void **state)
{
	struct fixture *f = *state;
	struct baton_fsm_state *before;
	const struct event *ev;

	bootstrap(f);
	before = save_state(f);

	assert_int_equal(feed_config(f, 1, HASH2, default_regions, 3, default_groups, 1), BATON_FSM_CONFLICT);

	assert_non_null(strstr(f->fsm.last.message, "mismatch"));
	assert_state_unchanged(f, before);
	ev = last_event(f);
	assert_string_equal(ev->kind, "config");
	assert_string_equal(ev->outcome, "rejected");
	assert_int_equal(ev->index, f->index);
	assert_non_null(strstr(ev->text, "222222222222"));
}

/* A higher generation is adopted: new regions appear, priorities change,
 * and the active region, epoch and every existing region are kept. */
static void higher_generation_is_adopted_and_keeps_existing_state(void **state)
{
	struct fixture *f = *state;
	static const struct region_spec regions[] = {{"a", 5}, {"b", 20}, {"d", 70}};
	const struct baton_group_state *g;

	bootstrap(f);
	assert_int_equal(feed_observation(f, 1, "c", true, NULL), BATON_FSM_OK);

	assert_int_equal(feed_config(f, 2, HASH2, regions, 3, default_groups, 1), BATON_FSM_OK);

	assert_int_equal(f->fsm.st->generation, 2);
	assert_string_equal(f->fsm.st->conf_hash, HASH2);
	g = group(f);
	assert_int_equal(g->epoch, 1);
	assert_string_equal(g->active, "a");
	assert_int_equal(g->n_regions, 4);
	assert_int_equal(region(f, "a")->priority, 5);
	assert_int_equal(region(f, "c")->priority, 100);
	assert_int_equal(region(f, "c")->n_obs, 1);
	assert_int_equal(region(f, "d")->priority, 70);
	assert_string_equal(last_event(f)->outcome, "ok");
}

/* A node started with an older cluster section cannot roll the cluster back. */
static void lower_generation_is_rejected(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(feed_config(f, 2, HASH2, default_regions, 3, default_groups, 1), BATON_FSM_OK);

	assert_int_equal(feed_config(f, 1, HASH1, default_regions, 3, default_groups, 1), BATON_FSM_CONFLICT);

	assert_int_equal(f->fsm.st->generation, 2);
	assert_string_equal(f->fsm.st->conf_hash, HASH2);
	assert_string_equal(last_event(f)->outcome, "rejected");
}

/* A config that would push a group over the region limit is rejected before
 * anything is touched: no priority changes, no group is created. */
static void config_over_the_region_limit_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct region_spec full[BATON_FSM_MAX_REGIONS];
	char names[BATON_FSM_MAX_REGIONS][8];
	static const struct region_spec more[] = {{"r0", 7}, {"extra", 1}};
	static const char *const groups[] = {"db", "new"};
	struct baton_fsm_state *before;

	for (unsigned i = 0; i < BATON_FSM_MAX_REGIONS; i++) {
		snprintf(names[i], sizeof names[i], "r%u", i);
		full[i].name = names[i];
		full[i].priority = 50;
	}
	assert_int_equal(feed_config(f, 1, HASH1, full, BATON_FSM_MAX_REGIONS, default_groups, 1), BATON_FSM_OK);
	before = save_state(f);

	assert_int_equal(feed_config(f, 2, HASH2, more, 2, groups, 2), BATON_FSM_INVALID);

	assert_non_null(strstr(f->fsm.last.message, "regions"));
	assert_state_unchanged(f, before);
}

/* A config that would create more groups than the limit is rejected whole. */
static void config_over_the_group_limit_changes_nothing(void **state)
{
	struct fixture *f = *state;
	const char *groups[BATON_FSM_MAX_GROUPS];
	char names[BATON_FSM_MAX_GROUPS][8];
	static const char *const two_new[] = {"g0", "x1", "x1", "x2"};
	struct baton_fsm_state *before;

	for (unsigned i = 0; i < BATON_FSM_MAX_GROUPS - 1; i++) {
		snprintf(names[i], sizeof names[i], "g%u", i);
		groups[i] = names[i];
	}
	assert_int_equal(feed_config(f, 1, HASH1, default_regions, 3, groups, BATON_FSM_MAX_GROUPS - 1),
			 BATON_FSM_OK);
	before = save_state(f);

	/* one free slot, two new names (one of them given twice) */
	assert_int_equal(feed_config(f, 2, HASH2, default_regions, 3, two_new, 4), BATON_FSM_INVALID);

	assert_non_null(strstr(f->fsm.last.message, "groups"));
	assert_state_unchanged(f, before);
}

/* A name repeated inside one config counts once against the limits. */
static void config_repeating_a_name_counts_it_once(void **state)
{
	struct fixture *f = *state;
	static const char *const groups[] = {"db", "db"};
	static const struct region_spec regions[] = {{"a", 1}, {"a", 2}};

	assert_int_equal(feed_config(f, 1, HASH1, regions, 2, groups, 2), BATON_FSM_OK);

	assert_int_equal(f->fsm.st->n_groups, 1);
	assert_int_equal(group(f)->n_regions, 1);
	assert_int_equal(region(f, "a")->priority, 2);
}

/* =============================================================== activate */

/* Activation makes the region active and bumps the epoch. */
static void activate_makes_the_region_active_and_bumps_the_epoch(void **state)
{
	struct fixture *f = *state;
	const struct event *ev;

	assert_int_equal(feed_default_config(f), BATON_FSM_OK);

	assert_int_equal(feed_activate(f, "a", 0), BATON_FSM_OK);

	assert_int_equal(group(f)->epoch, 1);
	assert_string_equal(group(f)->active, "a");
	assert_string_equal(group(f)->previous, "");
	assert_int_equal(f->fsm.last.epoch, 1);
	assert_int_equal(f->fsm.last.index, 2);
	assert_string_equal(f->fsm.last.cmd_id, "c2");
	ev = last_event(f);
	assert_string_equal(ev->kind, "activate");
	assert_string_equal(ev->outcome, "ok");
	assert_string_equal(ev->by, "bootstrap");
	assert_string_equal(ev->cmd_id, "c2");
	assert_int_equal(ev->epoch, 1);
}

/* An activation conditional on an old epoch changes nothing. */
static void activate_with_a_stale_epoch_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct baton_fsm_state *before;

	bootstrap(f);
	before = save_state(f);

	assert_int_equal(feed_activate(f, "b", 0), BATON_FSM_STALE_EPOCH);

	assert_state_unchanged(f, before);
	assert_int_equal(f->fsm.last.epoch, 1);
	assert_non_null(strstr(f->fsm.last.message, "epoch 1"));
	assert_string_equal(last_event(f)->outcome, "rejected");
}

/* Activating a region the config does not name is rejected as unknown. */
static void activate_of_an_unknown_region_is_unknown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(feed_default_config(f), BATON_FSM_OK);

	assert_int_equal(feed_activate(f, "zz", 0), BATON_FSM_UNKNOWN);

	assert_int_equal(group(f)->epoch, 0);
	assert_string_equal(group(f)->active, "");
}

/* A command for a group the config does not name is rejected as unknown. */
static void command_for_an_unknown_group_is_unknown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(feed_default_config(f), BATON_FSM_OK);
	f->group = "zz";

	assert_int_equal(feed_activate(f, "a", 0), BATON_FSM_UNKNOWN);

	assert_non_null(strstr(f->fsm.last.message, "zz"));
	assert_int_equal(f->fsm.last.epoch, 0);
	assert_int_equal(baton_fsm_group(&f->fsm, NULL)->epoch, 0);
}

/* Before any config there is no group at all. */
static void command_before_any_config_is_unknown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(feed_activate(f, "a", 0), BATON_FSM_UNKNOWN);

	assert_int_equal(f->fsm.st->n_groups, 0);
	assert_null(baton_fsm_group(&f->fsm, NULL));
}

/* The baton cannot be handed over by activation while a transition runs. */
static void activate_while_a_transition_runs_is_busy(void **state)
{
	struct fixture *f = *state;

	bootstrap(f);
	assert_int_equal(feed_begin(f, KIND_SWITCHOVER, "a", "b", 1, "alice"), BATON_FSM_OK);

	assert_int_equal(feed_activate(f, "c", 2), BATON_FSM_BUSY);

	assert_string_equal(group(f)->active, "b");
	assert_int_equal(group(f)->epoch, 2);
}

/* ======================================================= transition_begin */

/* A failover moves the baton at once: new epoch, new active region, the old
 * one remembered, the plan's steps pending. */
static void transition_begin_bumps_the_epoch_and_moves_the_active_region(void **state)
{
	struct fixture *f = *state;
	const struct baton_group_state *g;

	bootstrap(f);

	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "b", 1, "alice"), BATON_FSM_OK);

	g = group(f);
	assert_int_equal(g->epoch, 2);
	assert_string_equal(g->active, "b");
	assert_string_equal(g->previous, "a");
	assert_true(g->has_transition);
	assert_string_equal(g->tr.id, f->fsm.last.cmd_id);
	assert_int_equal(g->tr.state, TR_RUNNING);
	assert_int_equal(g->tr.epoch, 2);
	assert_false(g->tr.drill);
	assert_int_equal(g->tr.started_at_ms, 1000 * f->seq);
	assert_int_equal(g->tr.n_steps, 3);
	assert_string_equal(g->tr.steps[1].name, "promote");
	assert_string_equal(g->tr.steps[1].after[0], "fence");
	assert_string_equal(g->tr.steps[1].region, "b");
	assert_int_equal(g->tr.steps[1].state, STEP_PENDING);
	assert_int_equal(f->fsm.last.epoch, 2);
	assert_string_equal(last_event(f)->kind, "transition");
}

/* An automatic failover is counted (for the too-many-failovers freeze). */
static void automatic_failover_is_recorded(void **state)
{
	struct fixture *f = *state;

	bootstrap(f);

	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "b", 1, "auto"), BATON_FSM_OK);

	assert_int_equal(group(f)->n_auto, 1);
	assert_int_equal(group(f)->auto_failovers_ms[0], group(f)->tr.started_at_ms);
}

/* An operator's failover is not an automatic one. */
static void operator_failover_is_not_counted_as_automatic(void **state)
{
	struct fixture *f = *state;

	bootstrap(f);

	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "b", 1, "alice"), BATON_FSM_OK);

	assert_int_equal(group(f)->n_auto, 0);
}

/* Only the last BATON_FSM_MAX_AUTO automatic failovers are kept, oldest first. */
static void automatic_failovers_keep_the_latest(void **state)
{
	struct fixture *f = *state;
	const char *from = "a", *to = "b";
	char tid[BATON_NAME_MAX];
	uint64_t first_kept = 0;

	bootstrap(f);
	for (unsigned i = 0; i < BATON_FSM_MAX_AUTO + 2; i++) {
		assert_int_equal(feed_begin(f, KIND_FAILOVER, from, to, group(f)->epoch, "auto"), BATON_FSM_OK);
		if (i == 2)
			first_kept = group(f)->tr.started_at_ms;
		copy_tid(f, tid);
		assert_int_equal(feed_end(f, tid, TR_DONE), BATON_FSM_OK);
		from = to;
		to = strcmp(to, "a") == 0 ? "b" : "a";
	}

	assert_int_equal(group(f)->n_auto, BATON_FSM_MAX_AUTO);
	assert_int_equal(group(f)->auto_failovers_ms[0], first_kept);
	assert_int_equal(group(f)->auto_failovers_ms[BATON_FSM_MAX_AUTO - 1], group(f)->tr.started_at_ms);
}

/* A drill runs the plan but leaves the epoch and the active region alone. */
static void drill_leaves_epoch_and_active_region_alone(void **state)
{
	struct fixture *f = *state;
	const struct baton_group_state *g;

	bootstrap(f);

	assert_int_equal(feed_begin_full(f, NULL, KIND_DRILL, "a", "b", 1, "auto", true, default_steps, 3),
			 BATON_FSM_OK);

	g = group(f);
	assert_int_equal(g->epoch, 1);
	assert_string_equal(g->active, "a");
	assert_string_equal(g->previous, "");
	assert_true(g->tr.drill);
	assert_int_equal(g->tr.state, TR_RUNNING);
	assert_int_equal(g->tr.epoch, 1);
	assert_int_equal(g->n_auto, 0);
	assert_non_null(strstr(last_event(f)->text, "drill"));
}

/* A drill may rehearse the plan of the region that is already active. */
static void drill_may_target_the_active_region(void **state)
{
	struct fixture *f = *state;

	bootstrap(f);

	assert_int_equal(feed_begin_full(f, NULL, KIND_SWITCHOVER, "a", "a", 1, "alice", true, NULL, 0),
			 BATON_FSM_OK);

	assert_true(group(f)->tr.drill);
	assert_int_equal(group(f)->epoch, 1);
}

/* A transition conditional on an old epoch changes nothing. */
static void transition_with_a_stale_epoch_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct baton_fsm_state *before;

	bootstrap(f);
	before = save_state(f);

	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "b", 0, "auto"), BATON_FSM_STALE_EPOCH);

	assert_state_unchanged(f, before);
	assert_false(group(f)->has_transition);
	assert_string_equal(last_event(f)->outcome, "rejected");
}

/* A transition planned from a region that is no longer active is stale. */
static void transition_from_a_region_that_is_not_active_is_stale(void **state)
{
	struct fixture *f = *state;
	struct baton_fsm_state *before;

	bootstrap(f);
	before = save_state(f);

	assert_int_equal(feed_begin(f, KIND_FAILOVER, "c", "b", 1, "auto"), BATON_FSM_STALE_EPOCH);

	assert_state_unchanged(f, before);
}

/* A second transition cannot start while the first one runs. */
static void transition_while_one_runs_is_busy(void **state)
{
	struct fixture *f = *state;
	struct baton_fsm_state *before;

	bootstrap(f);
	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "b", 1, "auto"), BATON_FSM_OK);
	before = save_state(f);

	assert_int_equal(feed_begin(f, KIND_FAILOVER, "b", "c", 2, "auto"), BATON_FSM_BUSY);

	assert_state_unchanged(f, before);
	assert_non_null(strstr(f->fsm.last.message, "running"));
}

/* A transition to a region the config does not name is unknown. */
static void transition_to_an_unknown_region_is_unknown(void **state)
{
	struct fixture *f = *state;
	struct baton_fsm_state *before;

	bootstrap(f);
	before = save_state(f);

	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "zz", 1, "auto"), BATON_FSM_UNKNOWN);

	assert_state_unchanged(f, before);
}

/* Failing over to the region that already holds the baton is invalid. */
static void transition_to_the_active_region_is_invalid(void **state)
{
	struct fixture *f = *state;

	bootstrap(f);

	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "a", 1, "auto"), BATON_FSM_INVALID);

	assert_int_equal(group(f)->epoch, 1);
}

/* A plan with more than BATON_FSM_MAX_STEPS steps is rejected, not cut. */
static void transition_with_too_many_steps_is_invalid(void **state)
{
	struct fixture *f = *state;
	const char *steps[BATON_FSM_MAX_STEPS + 1];

	for (unsigned i = 0; i <= BATON_FSM_MAX_STEPS; i++)
		steps[i] = "s";
	bootstrap(f);

	assert_int_equal(feed_begin_full(f, NULL, KIND_FAILOVER, "a", "b", 1, "auto", false, steps,
					 BATON_FSM_MAX_STEPS + 1),
			 BATON_FSM_INVALID);

	assert_false(group(f)->has_transition);
	assert_int_equal(group(f)->epoch, 1);
}

/* ============================================================ step_update */

/* A step goes running -> done; only the end of a step is history. */
static void step_update_moves_a_step_from_running_to_done(void **state)
{
	struct fixture *f = *state;
	char tid[BATON_NAME_MAX];
	const struct baton_step_state *s;
	unsigned events;

	bootstrap(f);
	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "b", 1, "auto"), BATON_FSM_OK);
	copy_tid(f, tid);
	events = read_history(f);

	assert_int_equal(feed_step_full(f, tid, "fence", STEP_RUNNING, 1, 5000, 0, NULL), BATON_FSM_OK);
	assert_int_equal(read_history(f), events);
	assert_int_equal(feed_step_full(f, tid, "fence", STEP_DONE, 1, 6000, 42, NULL), BATON_FSM_OK);

	s = &group(f)->tr.steps[0];
	assert_int_equal(s->state, STEP_DONE);
	assert_int_equal(s->attempts, 1);
	assert_int_equal(s->started_at_ms, 5000);
	assert_int_equal(s->ended_at_ms, 6000);
	assert_int_equal(s->duration_ms, 42);
	assert_string_equal(s->output, "driver said ok");
	assert_int_equal(read_history(f), events + 1);
	assert_string_equal(last_event(f)->kind, "step");
	assert_string_equal(last_event(f)->outcome, "done");
}

/* Done is final: whichever leader asks, a completed step never restarts. */
static void done_step_is_final(void **state)
{
	struct fixture *f = *state;
	char tid[BATON_NAME_MAX];
	struct baton_fsm_state *before;

	bootstrap(f);
	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "b", 1, "auto"), BATON_FSM_OK);
	copy_tid(f, tid);
	assert_int_equal(feed_step(f, tid, "fence", STEP_DONE), BATON_FSM_OK);
	before = save_state(f);

	assert_int_equal(feed_step(f, tid, "fence", STEP_RUNNING), BATON_FSM_INVALID);

	assert_non_null(strstr(f->fsm.last.message, "already done"));
	assert_state_unchanged(f, before);
}

/* A failed step may be retried, and the retry clears the old error. */
static void failed_step_may_be_retried(void **state)
{
	struct fixture *f = *state;
	char tid[BATON_NAME_MAX];
	const struct baton_step_state *s;

	bootstrap(f);
	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "b", 1, "auto"), BATON_FSM_OK);
	copy_tid(f, tid);
	assert_int_equal(feed_step_full(f, tid, "fence", STEP_FAILED, 1, 5000, 30, "bmc timeout"), BATON_FSM_OK);
	assert_string_equal(group(f)->tr.steps[0].error, "bmc timeout");
	assert_string_equal(last_event(f)->outcome, "failed");

	assert_int_equal(feed_step_full(f, tid, "fence", STEP_RUNNING, 2, 7000, 0, NULL), BATON_FSM_OK);
	assert_int_equal(feed_step_full(f, tid, "fence", STEP_DONE, 2, 8000, 20, NULL), BATON_FSM_OK);

	s = &group(f)->tr.steps[0];
	assert_int_equal(s->state, STEP_DONE);
	assert_int_equal(s->attempts, 2);
	assert_string_equal(s->error, "");
	assert_int_equal(s->ended_at_ms, 8000);
}

/* A step the plan does not have is unknown. */
static void step_update_of_an_unknown_step_is_unknown(void **state)
{
	struct fixture *f = *state;
	char tid[BATON_NAME_MAX];

	bootstrap(f);
	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "b", 1, "auto"), BATON_FSM_OK);
	copy_tid(f, tid);

	assert_int_equal(feed_step(f, tid, "reboot", STEP_RUNNING), BATON_FSM_UNKNOWN);
}

/* A step update for a transition that is not the current one is unknown. */
static void step_update_of_an_unknown_transition_is_unknown(void **state)
{
	struct fixture *f = *state;
	struct baton_fsm_state *before;

	bootstrap(f);
	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "b", 1, "auto"), BATON_FSM_OK);
	before = save_state(f);

	assert_int_equal(feed_step(f, "old-transition", "fence", STEP_DONE), BATON_FSM_UNKNOWN);

	assert_state_unchanged(f, before);
}

/* Steps of a transition that ended cannot move any more. */
static void step_update_after_the_transition_ended_is_invalid(void **state)
{
	struct fixture *f = *state;
	char tid[BATON_NAME_MAX];

	bootstrap(f);
	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "b", 1, "auto"), BATON_FSM_OK);
	copy_tid(f, tid);
	assert_int_equal(feed_end(f, tid, TR_ABORTED), BATON_FSM_OK);

	assert_int_equal(feed_step(f, tid, "fence", STEP_RUNNING), BATON_FSM_INVALID);

	assert_int_equal(group(f)->tr.steps[0].state, STEP_PENDING);
}

/* A step state outside the StepState enum is rejected. */
static void step_update_with_an_unknown_state_is_invalid(void **state)
{
	struct fixture *f = *state;
	char tid[BATON_NAME_MAX];

	bootstrap(f);
	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "b", 1, "auto"), BATON_FSM_OK);
	copy_tid(f, tid);

	assert_int_equal(feed_step(f, tid, "fence", 99), BATON_FSM_INVALID);

	assert_int_equal(group(f)->tr.steps[0].state, STEP_PENDING);
}

/* ========================================================= transition_end */

static void end_transition_with(struct fixture *f, int end_state, const char *outcome)
{
	char tid[BATON_NAME_MAX];
	uint64_t at;

	bootstrap(f);
	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "b", 1, "auto"), BATON_FSM_OK);
	copy_tid(f, tid);

	assert_int_equal(feed_end(f, tid, end_state), BATON_FSM_OK);

	at = 1000 * (uint64_t)f->seq;
	assert_int_equal(group(f)->tr.state, end_state);
	assert_int_equal(group(f)->tr.ended_at_ms, at);
	assert_int_equal(group(f)->epoch, 2); /* ending never moves the baton */
	assert_string_equal(group(f)->active, "b");
	assert_string_equal(last_event(f)->kind, "transition");
	assert_string_equal(last_event(f)->outcome, outcome);
	/* the group is free for the next transition */
	assert_int_equal(feed_begin(f, KIND_FAILBACK, "b", "a", 2, "alice"), BATON_FSM_OK);
}

/* A transition ends done. */
static void transition_ends_done(void **state)
{
	end_transition_with(*state, TR_DONE, "done");
}

/* A transition ends failed. */
static void transition_ends_failed(void **state)
{
	end_transition_with(*state, TR_FAILED, "failed");
}

/* A transition ends aborted. */
static void transition_ends_aborted(void **state)
{
	end_transition_with(*state, TR_ABORTED, "aborted");
}

/* A transition that ended cannot end a second time. */
static void ending_an_ended_transition_is_invalid(void **state)
{
	struct fixture *f = *state;
	char tid[BATON_NAME_MAX];

	bootstrap(f);
	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "b", 1, "auto"), BATON_FSM_OK);
	copy_tid(f, tid);
	assert_int_equal(feed_end(f, tid, TR_FAILED), BATON_FSM_OK);

	assert_int_equal(feed_end(f, tid, TR_DONE), BATON_FSM_INVALID);

	assert_int_equal(group(f)->tr.state, TR_FAILED);
}

/* Ending a transition that is not the current one is unknown. */
static void ending_an_unknown_transition_is_unknown(void **state)
{
	struct fixture *f = *state;

	bootstrap(f);
	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "b", 1, "auto"), BATON_FSM_OK);

	assert_int_equal(feed_end(f, "nope", TR_DONE), BATON_FSM_UNKNOWN);

	assert_int_equal(group(f)->tr.state, TR_RUNNING);
}

/* RUNNING resumes a failed transition: its failed steps may run again. */
static void running_resumes_a_failed_transition(void **state)
{
	struct fixture *f = *state;
	char tid[BATON_NAME_MAX];

	bootstrap(f);
	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "b", 1, "auto"), BATON_FSM_OK);
	copy_tid(f, tid);
	assert_int_equal(feed_step(f, tid, "fence", STEP_FAILED), BATON_FSM_OK);
	assert_int_equal(feed_end(f, tid, TR_FAILED), BATON_FSM_OK);

	assert_int_equal(feed_end(f, tid, TR_RUNNING), BATON_FSM_OK);

	assert_int_equal(group(f)->tr.state, TR_RUNNING);
	assert_int_equal(group(f)->tr.ended_at_ms, 0);
	assert_int_equal(group(f)->epoch, 2);
	assert_string_equal(last_event(f)->outcome, "resumed");
	assert_int_equal(feed_step(f, tid, "fence", STEP_RUNNING), BATON_FSM_OK);
}

/* Done and aborted are final: only a failed transition can be resumed. */
static void running_does_not_resume_a_done_or_aborted_transition(void **state)
{
	struct fixture *f = *state;
	char tid[BATON_NAME_MAX];

	bootstrap(f);
	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "b", 1, "auto"), BATON_FSM_OK);
	copy_tid(f, tid);
	assert_int_equal(feed_end(f, tid, TR_DONE), BATON_FSM_OK);
	assert_int_equal(feed_end(f, tid, TR_RUNNING), BATON_FSM_INVALID);
	assert_int_equal(group(f)->tr.state, TR_DONE);

	assert_int_equal(feed_begin(f, KIND_FAILOVER, "b", "a", 2, "auto"), BATON_FSM_OK);
	copy_tid(f, tid);
	assert_int_equal(feed_end(f, tid, TR_ABORTED), BATON_FSM_OK);
	assert_int_equal(feed_end(f, tid, TR_RUNNING), BATON_FSM_INVALID);
	assert_int_equal(group(f)->tr.state, TR_ABORTED);
}

/* An end state outside the TransitionState enum is rejected. */
static void transition_end_with_an_unknown_state_is_invalid(void **state)
{
	struct fixture *f = *state;
	char tid[BATON_NAME_MAX];

	bootstrap(f);
	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "b", 1, "auto"), BATON_FSM_OK);
	copy_tid(f, tid);

	assert_int_equal(feed_end(f, tid, 42), BATON_FSM_INVALID);

	assert_int_equal(group(f)->tr.state, TR_RUNNING);
}

/* ========================================================== freeze, noop */

/* Freezing records who froze the group and why. */
static void freeze_records_who_and_why(void **state)
{
	struct fixture *f = *state;

	bootstrap(f);

	assert_int_equal(feed_freeze(f, true, "alice", "maintenance"), BATON_FSM_OK);

	assert_true(group(f)->frozen);
	assert_string_equal(group(f)->frozen_by, "alice");
	assert_string_equal(group(f)->frozen_reason, "maintenance");
	assert_int_equal(group(f)->epoch, 1);
	assert_string_equal(last_event(f)->kind, "freeze");
	assert_string_equal(last_event(f)->by, "alice");
}

/* Unfreezing clears who froze the group and why. */
static void unfreeze_clears_who_and_why(void **state)
{
	struct fixture *f = *state;

	bootstrap(f);
	assert_int_equal(feed_freeze(f, true, "alice", "maintenance"), BATON_FSM_OK);

	assert_int_equal(feed_freeze(f, false, "bob", "done"), BATON_FSM_OK);

	assert_false(group(f)->frozen);
	assert_string_equal(group(f)->frozen_by, "");
	assert_string_equal(group(f)->frozen_reason, "");
	assert_non_null(strstr(last_event(f)->text, "unfrozen"));
}

/* A noop (a new leader's first entry) moves only the applied index. */
static void noop_moves_only_the_applied_index(void **state)
{
	struct fixture *f = *state;
	struct baton_fsm_state *before;
	unsigned events;

	bootstrap(f);
	before = save_state(f);
	events = read_history(f);

	assert_int_equal(feed_noop(f), BATON_FSM_OK);

	assert_state_unchanged(f, before);
	assert_int_equal(f->fsm.st->applied_index, 3);
	assert_int_equal(read_history(f), events);
	assert_int_equal(f->fsm.last.epoch, 1);
}

/* ============================================ reachability, observations */

/* Reachability writes history only when a member's reachability changes;
 * a member never reported before counts as reachable. */
static void reachability_writes_history_only_on_change(void **state)
{
	struct fixture *f = *state;
	static const uint32_t ids[] = {1, 2};
	static const bool up[] = {true, true}, two_down[] = {true, false};
	unsigned events;

	bootstrap(f);
	events = read_history(f);

	assert_int_equal(feed_reach(f, ids, up, 2), BATON_FSM_OK);
	assert_int_equal(read_history(f), events);
	assert_int_equal(f->fsm.st->n_reach, 2);

	assert_int_equal(feed_reach(f, ids, two_down, 2), BATON_FSM_OK);
	assert_int_equal(read_history(f), events + 1);
	assert_string_equal(last_event(f)->kind, "member");
	assert_string_equal(last_event(f)->outcome, "unreachable");
	assert_false(f->fsm.st->reach[1].reachable);

	assert_int_equal(feed_reach(f, ids, two_down, 2), BATON_FSM_OK);
	assert_int_equal(read_history(f), events + 1);

	assert_int_equal(feed_reach(f, ids, up, 2), BATON_FSM_OK);
	assert_int_equal(read_history(f), events + 2);
	assert_string_equal(last_event(f)->outcome, "reachable");
}

/* More members than BATON_FSM_MAX_MEMBERS are rejected. */
static void reachability_of_too_many_members_is_invalid(void **state)
{
	struct fixture *f = *state;
	uint32_t ids[BATON_FSM_MAX_MEMBERS + 1];
	bool up[BATON_FSM_MAX_MEMBERS + 1];

	for (unsigned i = 0; i <= BATON_FSM_MAX_MEMBERS; i++) {
		ids[i] = i + 1;
		up[i] = false;
	}

	assert_int_equal(feed_reach(f, ids, up, BATON_FSM_MAX_MEMBERS + 1), BATON_FSM_INVALID);

	assert_int_equal(f->fsm.st->n_reach, 0);
}

/* An observation's since_index is the index where its verdict last changed;
 * a repeated verdict updates only the detail and writes no history. */
static void observation_sets_since_index_only_on_change(void **state)
{
	struct fixture *f = *state;
	uint64_t down_at;
	unsigned events;

	bootstrap(f);

	assert_int_equal(feed_observation(f, 7, "a", true, "no answer"), BATON_FSM_OK);
	down_at = f->index;
	assert_int_equal(region(f, "a")->n_obs, 1);
	assert_int_equal(region(f, "a")->obs[0].observer, 7);
	assert_true(region(f, "a")->obs[0].down);
	assert_int_equal(region(f, "a")->obs[0].since_index, down_at);
	assert_string_equal(last_event(f)->outcome, "down");
	events = read_history(f);

	assert_int_equal(feed_observation(f, 7, "a", true, "still no answer"), BATON_FSM_OK);
	assert_int_equal(region(f, "a")->obs[0].since_index, down_at);
	assert_string_equal(region(f, "a")->obs[0].detail, "still no answer");
	assert_int_equal(read_history(f), events);

	assert_int_equal(feed_observation(f, 7, "a", false, NULL), BATON_FSM_OK);
	assert_int_equal(region(f, "a")->obs[0].since_index, f->index);
	assert_false(region(f, "a")->obs[0].down);
	assert_string_equal(last_event(f)->outcome, "up");
}

/* An observation of a region the config does not name is unknown. */
static void observation_of_an_unknown_region_is_unknown(void **state)
{
	struct fixture *f = *state;

	bootstrap(f);

	assert_int_equal(feed_observation(f, 7, "zz", true, NULL), BATON_FSM_UNKNOWN);
}

/* A region keeps at most BATON_FSM_MAX_OBSERVERS observers. */
static void observation_by_too_many_observers_is_invalid(void **state)
{
	struct fixture *f = *state;

	bootstrap(f);
	for (uint32_t i = 0; i < BATON_FSM_MAX_OBSERVERS; i++)
		assert_int_equal(feed_observation(f, i, "b", false, NULL), BATON_FSM_OK);

	assert_int_equal(feed_observation(f, 100, "b", true, NULL), BATON_FSM_INVALID);

	assert_int_equal(region(f, "b")->n_obs, BATON_FSM_MAX_OBSERVERS);
}

/* Region health is stored with the index that reported it; only a change of
 * the verdict is history. */
static void region_health_is_stored_and_only_changes_are_history(void **state)
{
	struct fixture *f = *state;
	const struct baton_region_state *r;
	unsigned events;

	bootstrap(f);

	assert_int_equal(feed_health(f, "b", true, true, 4096), BATON_FSM_OK);
	r = region(f, "b");
	assert_true(r->has_health);
	assert_true(r->critical);
	assert_true(r->reporters_ok);
	assert_int_equal(r->lag_bytes, 4096);
	assert_int_equal(r->lag_ms, 409);
	assert_int_equal(r->health_index, f->index);
	assert_string_equal(r->health_detail, "postgres down");
	assert_string_equal(last_event(f)->kind, "health");
	assert_string_equal(last_event(f)->outcome, "critical");
	events = read_history(f);

	assert_int_equal(feed_health(f, "b", true, true, 8192), BATON_FSM_OK);
	assert_int_equal(region(f, "b")->lag_bytes, 8192);
	assert_int_equal(read_history(f), events);

	assert_int_equal(feed_health(f, "b", false, true, 0), BATON_FSM_OK);
	assert_int_equal(read_history(f), events + 1);
	assert_string_equal(last_event(f)->outcome, "ok");
}

/* Health of a region the config does not name is unknown. */
static void region_health_of_an_unknown_region_is_unknown(void **state)
{
	struct fixture *f = *state;

	bootstrap(f);

	assert_int_equal(feed_health(f, "zz", true, true, 0), BATON_FSM_UNKNOWN);
}

/* A decision (or a decision not taken, with its rule) is history. */
static void decision_is_recorded_in_history(void **state)
{
	struct fixture *f = *state;
	struct baton_fsm_state *before;
	const struct event *ev;

	bootstrap(f);
	before = save_state(f);

	assert_int_equal(feed_decision(f, "blocked", "min-observers", "only 1 observer sees a down"), BATON_FSM_OK);

	assert_state_unchanged(f, before);
	ev = last_event(f);
	assert_string_equal(ev->kind, "decision");
	assert_string_equal(ev->outcome, "blocked");
	assert_string_equal(ev->by, "auto");
	assert_int_equal(ev->epoch, 1);
	assert_string_equal(ev->text, "only 1 observer sees a down (rule: min-observers)");
}

/* Without operator keys (cluster.operators) every operator command is
 * denied, and the refusal is recorded. */
static void operator_command_without_operator_keys_is_denied(void **state)
{
	struct fixture *f = *state;
	struct baton_fsm_state *before;

	bootstrap(f);
	before = save_state(f);

	assert_int_equal(feed_operator(f), BATON_FSM_DENIED);

	assert_state_unchanged(f, before);
	assert_string_equal(last_event(f)->kind, "command");
	assert_string_equal(last_event(f)->outcome, "rejected");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LMDB(first_config_creates_groups_and_regions_with_priorities),
		LMDB(commands_address_a_group_by_name),
		LMDB(same_config_again_is_a_noop),
		LMDB(same_generation_with_another_hash_is_a_conflict),
		LMDB(higher_generation_is_adopted_and_keeps_existing_state),
		LMDB(lower_generation_is_rejected),
		MEM(config_over_the_region_limit_changes_nothing),
		MEM(config_over_the_group_limit_changes_nothing),
		MEM(config_repeating_a_name_counts_it_once),
		LMDB(activate_makes_the_region_active_and_bumps_the_epoch),
		LMDB(activate_with_a_stale_epoch_changes_nothing),
		MEM(activate_of_an_unknown_region_is_unknown),
		MEM(command_for_an_unknown_group_is_unknown),
		MEM(command_before_any_config_is_unknown),
		MEM(activate_while_a_transition_runs_is_busy),
		LMDB(transition_begin_bumps_the_epoch_and_moves_the_active_region),
		MEM(automatic_failover_is_recorded),
		MEM(operator_failover_is_not_counted_as_automatic),
		MEM(automatic_failovers_keep_the_latest),
		LMDB(drill_leaves_epoch_and_active_region_alone),
		MEM(drill_may_target_the_active_region),
		LMDB(transition_with_a_stale_epoch_changes_nothing),
		MEM(transition_from_a_region_that_is_not_active_is_stale),
		MEM(transition_while_one_runs_is_busy),
		MEM(transition_to_an_unknown_region_is_unknown),
		MEM(transition_to_the_active_region_is_invalid),
		MEM(transition_with_too_many_steps_is_invalid),
		LMDB(step_update_moves_a_step_from_running_to_done),
		MEM(done_step_is_final),
		LMDB(failed_step_may_be_retried),
		MEM(step_update_of_an_unknown_step_is_unknown),
		MEM(step_update_of_an_unknown_transition_is_unknown),
		MEM(step_update_after_the_transition_ended_is_invalid),
		MEM(step_update_with_an_unknown_state_is_invalid),
		LMDB(transition_ends_done),
		LMDB(transition_ends_failed),
		LMDB(transition_ends_aborted),
		MEM(ending_an_ended_transition_is_invalid),
		MEM(ending_an_unknown_transition_is_unknown),
		LMDB(running_resumes_a_failed_transition),
		MEM(running_does_not_resume_a_done_or_aborted_transition),
		MEM(transition_end_with_an_unknown_state_is_invalid),
		LMDB(freeze_records_who_and_why),
		LMDB(unfreeze_clears_who_and_why),
		LMDB(noop_moves_only_the_applied_index),
		LMDB(reachability_writes_history_only_on_change),
		MEM(reachability_of_too_many_members_is_invalid),
		LMDB(observation_sets_since_index_only_on_change),
		MEM(observation_of_an_unknown_region_is_unknown),
		MEM(observation_by_too_many_observers_is_invalid),
		LMDB(region_health_is_stored_and_only_changes_are_history),
		MEM(region_health_of_an_unknown_region_is_unknown),
		LMDB(decision_is_recorded_in_history),
		LMDB(operator_command_without_operator_keys_is_denied),
	};

	return cmocka_run_group_tests_name("fsm", tests, NULL, NULL);
}
