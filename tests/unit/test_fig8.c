/* SPDX-License-Identifier: MIT */
/* Raft "Figure 8" on libraft 0.15, deterministically, with baton's real FSM.
 *
 * The schedule (3 voters S0 S1 S2, virtual time, partitions by saturation):
 *   1. S0 leads; everyone applies the cluster config.
 *   2. S0 is cut off and appends A = "activate region a at epoch 0".
 *   3. S1 wins with S2, is cut off itself and appends B = "activate b".
 *   4. S0 and S2 reconnect; S0 (if it can) leads and replicates A; as soon as
 *      S0 has applied that index it is cut off again.
 *   5. S1 and S2 reconnect, elect a leader, and commit a no-op.
 *   6. Everything heals.
 * Without the guard, step 4 lets S0 commit A by counting replicas (an entry
 * of an older term) and step 5 lets S1 overwrite it with B: S0 applied
 * "region a active at epoch 1" while S1 and S2 applied "region b active at
 * epoch 1" — two regions holding the same fencing token. The unguarded run
 * asserts that this divergence happens (so the test proves it is the guard
 * that prevents it); the guarded runs assert identical logs and FSM state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <raft.h>
#include <raft/fixture.h>

#include "compat.h"
#include "fsm.h"
#include "guard.h"
#include "rsm.h"
#include "util.h"

#define N 3
#define MAX_APPLIED 64

struct node {
	struct baton_fsm fsm;
	struct baton_rsm rsm;
	struct baton_guard guard;
	struct {
		uint64_t index;
		char cmd_id[BATON_NAME_MAX];
	} applied[MAX_APPLIED];
	unsigned n_applied;
};

struct cluster {
	struct raft_fixture f;
	struct node nodes[N];
	unsigned flags;
	unsigned seq;
};

static void record_apply(void *data, const struct baton_fsm_result *res, const Baton__Command *cmd)
{
	struct node *n = data;

	if (n->n_applied < MAX_APPLIED) {
		n->applied[n->n_applied].index = res->index;
		baton_strlcpy(n->applied[n->n_applied].cmd_id, cmd->cmd_id, BATON_NAME_MAX);
		n->n_applied++;
	}
}

static void hook(struct raft_fixture *f, struct raft_fixture_event *event)
{
	struct cluster *c = BATON_CONTAINER_OF(f, struct cluster, f);

	(void)event;
	for (unsigned i = 0; i < N; i++)
		baton_guard_check(&c->nodes[i].guard);
}

static struct cluster *cluster_new(unsigned flags)
{
	struct cluster *c = calloc(1, sizeof *c); /* 0.15: initialize() does not zero n */
	struct raft_configuration conf;
	char err[256];

	assert_non_null(c);
	c->flags = flags;
	assert_int_equal(raft_fixture_initialize(&c->f), 0);
	for (unsigned i = 0; i < N; i++) {
		struct node *n = &c->nodes[i];
		assert_int_equal(baton_fsm_open(&n->fsm, NULL, err, sizeof err), 0);
		n->fsm.on_apply = record_apply;
		n->fsm.on_apply_data = n;
		baton_rsm_init(&n->rsm, &n->fsm);
		assert_int_equal(raft_fixture_grow(&c->f, &n->rsm.fsm), 0);
		n->rsm.raft = raft_fixture_get(&c->f, i);
	}
	assert_int_equal(raft_fixture_configuration(&c->f, N, &conf), 0);
	assert_int_equal(raft_fixture_bootstrap(&c->f, &conf), 0);
	raft_configuration_close(&conf);
	for (unsigned i = 0; i < N; i++)
		baton_guard_install(&c->nodes[i].guard, raft_fixture_get(&c->f, i), flags);
	raft_fixture_hook(&c->f, hook);
	assert_int_equal(raft_fixture_start(&c->f), 0);
	return c;
}

static void cluster_free(struct cluster *c)
{
	raft_fixture_close(&c->f);
	for (unsigned i = 0; i < N; i++)
		baton_fsm_close(&c->nodes[i].fsm);
	free(c);
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	(void)status;
	(void)result;
	free(req);
}

/* Propose @cmd on server @i; returns its index. */
static raft_index propose(struct cluster *c, unsigned i, Baton__Command *cmd)
{
	struct raft *r = raft_fixture_get(&c->f, i);
	struct raft_apply *req = calloc(1, sizeof *req);
	struct raft_buffer buf;
	char id[BATON_NAME_MAX];
	void *data;
	size_t len;

	snprintf(id, sizeof id, "cmd-%u", ++c->seq);
	cmd->cmd_id = id;
	assert_int_equal(baton_fsm_encode(cmd, &data, &len), 0);
	buf.len = len;
	buf.base = raft_malloc(len);
	memcpy(buf.base, data, len);
	free(data);
	assert_int_equal(raft_apply(r, req, &buf, 1, apply_cb), 0);
	return req->index;
}

static raft_index propose_config(struct cluster *c, unsigned i)
{
	Baton__Command cmd = BATON__COMMAND__INIT;
	Baton__ClusterConfig cc = BATON__CLUSTER_CONFIG__INIT;
	Baton__RegionSpec a = BATON__REGION_SPEC__INIT, b = BATON__REGION_SPEC__INIT;
	Baton__RegionSpec *regions[] = {&a, &b};
	char *groups[] = {"default"};

	a.name = "a";
	b.name = "b";
	cc.generation = 1;
	cc.hash = "0123456789abcdef";
	cc.n_regions = 2;
	cc.regions = regions;
	cc.n_groups = 1;
	cc.groups = groups;
	cmd.body_case = BATON__COMMAND__BODY_CLUSTER_CONFIG;
	cmd.cluster_config = &cc;
	return propose(c, i, &cmd);
}

static raft_index propose_activate(struct cluster *c, unsigned i, const char *region)
{
	Baton__Command cmd = BATON__COMMAND__INIT;
	Baton__Activate act = BATON__ACTIVATE__INIT;

	act.region = (char *)region;
	act.expect_epoch = 0;
	cmd.body_case = BATON__COMMAND__BODY_ACTIVATE;
	cmd.activate = &act;
	return propose(c, i, &cmd);
}

static raft_index propose_noop(struct cluster *c, unsigned i)
{
	Baton__Command cmd = BATON__COMMAND__INIT;
	Baton__Noop noop = BATON__NOOP__INIT;

	cmd.body_case = BATON__COMMAND__BODY_NOOP;
	cmd.noop = &noop;
	return propose(c, i, &cmd);
}

static void cut(struct cluster *c, unsigned i, unsigned j)
{
	raft_fixture_saturate(&c->f, i, j);
	raft_fixture_saturate(&c->f, j, i);
}

static void heal(struct cluster *c, unsigned i, unsigned j)
{
	raft_fixture_desaturate(&c->f, i, j);
	raft_fixture_desaturate(&c->f, j, i);
}

static bool leader_ready(struct cluster *c, unsigned i)
{
	return baton_guard_leader_ready(&c->nodes[i].guard);
}

/* Step until server @i leads and may act (its own-term barrier applied). */
static bool step_until_ready(struct cluster *c, unsigned i, unsigned ms)
{
	raft_time until = raft_fixture_time(&c->f) + ms;

	while (raft_fixture_time(&c->f) < until) {
		if (leader_ready(c, i))
			return true;
		raft_fixture_step(&c->f);
	}
	return leader_ready(c, i);
}

static int ready_leader(struct cluster *c)
{
	for (unsigned i = 0; i < N; i++)
		if (leader_ready(c, i))
			return (int)i;
	return -1;
}

static bool step_until_any_ready(struct cluster *c, unsigned ms, unsigned exclude)
{
	raft_time until = raft_fixture_time(&c->f) + ms;

	while (raft_fixture_time(&c->f) < until) {
		int l = ready_leader(c);
		if (l >= 0 && (unsigned)l != exclude)
			return true;
		raft_fixture_step(&c->f);
	}
	return false;
}

static const char *applied_at(struct node *n, uint64_t index)
{
	for (unsigned k = 0; k < n->n_applied; k++)
		if (n->applied[k].index == index)
			return n->applied[k].cmd_id;
	return NULL;
}

struct outcome {
	bool diverged;          /* two nodes applied different commands at one index */
	bool two_actives;       /* two nodes believe different regions hold the same epoch */
	unsigned conflicts;     /* indices where two nodes applied different commands */
};

static struct outcome run_schedule(unsigned flags)
{
	struct cluster *c = cluster_new(flags);
	struct outcome out = {0};
	raft_index ia;

	/* 1. S0 leads (fixture: lowest index has the shortest timeout). */
	assert_true(step_until_ready(c, 0, 10000));
	raft_index ic = propose_config(c, 0);
	assert_true(raft_fixture_step_until_applied(&c->f, N, ic, 5000));

	/* 2. S0 cut off; it appends A. */
	cut(c, 0, 1);
	cut(c, 0, 2);
	ia = propose_activate(c, 0, "a");
	assert_true(raft_fixture_step_until_state_is(&c->f, 0, RAFT_FOLLOWER, 5000));

	/* 3. S1 wins with S2; then S1 is cut off and appends B. */
	assert_true(step_until_ready(c, 1, 10000));
	cut(c, 1, 2);
	(void)propose_activate(c, 1, "b");
	assert_true(raft_fixture_step_until_state_is(&c->f, 1, RAFT_FOLLOWER, 5000));

	/* 4. S0 and S2 reconnect. The moment S0 has applied A's index (by
	 *    counting replicas, without the guard), S0 is cut off again. */
	heal(c, 0, 2);
	(void)raft_fixture_step_until_applied(&c->f, 0, ia, 5000);
	cut(c, 0, 2);

	/* 5. S1 and S2 reconnect, elect a leader and commit an entry of its term. */
	heal(c, 1, 2);
	assert_true(step_until_any_ready(c, 20000, 0));
	int l = ready_leader(c);
	raft_index in = propose_noop(c, (unsigned)l);
	(void)raft_fixture_step_until_applied(&c->f, (unsigned)l, in, 5000);

	/* 6. Heal everything and let it settle. */
	heal(c, 0, 1);
	heal(c, 0, 2);
	raft_fixture_step_until_elapsed(&c->f, 5000);

	/* Compare what each node applied, index by index. */
	for (uint64_t idx = 1; idx < 64; idx++) {
		const char *first = NULL;
		for (unsigned i = 0; i < N; i++) {
			const char *id = applied_at(&c->nodes[i], idx);
			if (id == NULL)
				continue;
			if (first == NULL)
				first = id;
			else if (strcmp(first, id) != 0) {
				out.diverged = true;
				out.conflicts++;
			}
		}
	}
	const struct baton_group_state *g0 = baton_fsm_group(&c->nodes[0].fsm, NULL);
	for (unsigned i = 1; i < N; i++) {
		const struct baton_group_state *gi = baton_fsm_group(&c->nodes[i].fsm, NULL);
		if (g0 != NULL && gi != NULL && g0->epoch == gi->epoch && strcmp(g0->active, gi->active) != 0)
			out.two_actives = true;
	}
	if (getenv("BATON_TEST_VERBOSE") != NULL) {
		for (unsigned i = 0; i < N; i++) {
			struct raft *r = raft_fixture_get(&c->f, i);
			const struct baton_group_state *g = baton_fsm_group(&c->nodes[i].fsm, NULL);
			printf("flags=%u S%u state=%d term=%llu last=%llu applied=%llu active=%s epoch=%llu clamped=%llu\n",
			       flags, i, raft_state(r), (unsigned long long)baton_raft_term(r),
			       (unsigned long long)raft_last_index(r), (unsigned long long)raft_last_applied(r),
			       g ? g->active : "-", g ? (unsigned long long)g->epoch : 0ull,
			       (unsigned long long)c->nodes[i].guard.clamped);
		}
	}

	/* Guarded runs: the logs must be identical entry by entry as well. */
	if (flags == BATON_GUARD_ALL || flags == BATON_GUARD_CLAMP) {
		raft_index last = raft_last_index(raft_fixture_get(&c->f, 0));
		for (unsigned i = 1; i < N; i++)
			assert_int_equal(raft_last_index(raft_fixture_get(&c->f, i)), last);
		for (raft_index idx = raft_last_applied(raft_fixture_get(&c->f, 0)) > 0 ? 1 : 0; idx <= last; idx++)
			for (unsigned i = 1; i < N; i++) {
				raft_term t0 = baton_raft_term_of(raft_fixture_get(&c->f, 0), idx);
				raft_term ti = baton_raft_term_of(raft_fixture_get(&c->f, i), idx);
				if (t0 != 0 && ti != 0)
					assert_int_equal(t0, ti);
			}
		for (unsigned i = 1; i < N; i++) {
			const struct baton_group_state *gi = baton_fsm_group(&c->nodes[i].fsm, NULL);
			assert_int_equal(gi->epoch, g0->epoch);
			assert_string_equal(gi->active, g0->active);
			assert_int_equal(c->nodes[i].fsm.st->applied_index, c->nodes[0].fsm.st->applied_index);
		}
	}
	cluster_free(c);
	return out;
}

/* Without the guard, libraft 0.15 commits an old-term entry by counting and
 * later overwrites it: the nodes apply different commands at one index and
 * two regions hold the baton at the same epoch. */
static void without_the_guard_the_fsms_diverge(void **state)
{
	(void)state;
	struct outcome out = run_schedule(0);

	assert_true(out.diverged);
	assert_true(out.two_actives);
}

/* With the guard as batond runs it (clamp + barrier on election), every node
 * applies the same command at every index and agrees on the active region. */
static void with_the_guard_logs_and_fsms_are_identical(void **state)
{
	(void)state;
	struct outcome out = run_schedule(BATON_GUARD_ALL);

	assert_false(out.diverged);
	assert_false(out.two_actives);
}

/* The clamp alone closes the hole: the barrier only makes commits prompt. */
static void the_clamp_alone_prevents_the_divergence(void **state)
{
	(void)state;
	struct outcome out = run_schedule(BATON_GUARD_CLAMP);

	assert_false(out.diverged);
	assert_false(out.two_actives);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(without_the_guard_the_fsms_diverge),
		cmocka_unit_test(with_the_guard_logs_and_fsms_are_identical),
		cmocka_unit_test(the_clamp_alone_prevents_the_divergence),
	};
	return cmocka_run_group_tests_name("fig8", tests, NULL, NULL);
}
