/* SPDX-License-Identifier: MIT */
/* The baton Raft group on raft_fixture (deterministic, virtual time): leader
 * election, leader loss and re-election, a minority that cannot commit, the
 * witness that never stays leader, and the apply-index assumption that the
 * FSM's exactly-once persistence rests on. All with the production guard. */
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

#define MAX_N 5

struct node {
	struct baton_fsm fsm;
	struct baton_rsm rsm;
	struct baton_guard guard;
	bool witness;
	struct raft_transfer transfer;
	bool transfer_pending;
	unsigned handoffs;
	uint64_t last_index_seen; /* index the FSM saw in its last apply */
};

struct cluster {
	struct raft_fixture f;
	struct node nodes[MAX_N];
	unsigned n;
	unsigned seq;
	raft_id witnesses[MAX_N];
	unsigned n_witnesses;
};

static void transfer_cb(struct raft_transfer *req)
{
	struct node *n = req->data;
	n->transfer_pending = false;
}

/* What batond's uv_check does, after every fixture event. */
static void hook(struct raft_fixture *f, struct raft_fixture_event *event)
{
	struct cluster *c = BATON_CONTAINER_OF(f, struct cluster, f);

	(void)event;
	for (unsigned i = 0; i < c->n; i++) {
		struct node *n = &c->nodes[i];
		if (!raft_fixture_alive(f, i))
			continue;
		baton_guard_check(&n->guard);
		if (n->witness && baton_guard_leader_ready(&n->guard) && !n->transfer_pending) {
			raft_id target = baton_guard_transfer_target(&n->guard, c->witnesses, c->n_witnesses, 1000);
			n->transfer.data = n;
			if (target != 0 && raft_transfer(raft_fixture_get(f, i), &n->transfer, target, transfer_cb) == 0) {
				n->transfer_pending = true;
				n->handoffs++;
			}
		}
	}
}

static void record_index(void *data, const struct baton_fsm_result *res, const Baton__Command *cmd)
{
	struct node *n = data;
	(void)cmd;
	n->last_index_seen = res->index;
}

/* @n servers, all voters; @witness is the index of the witness or -1. */
static struct cluster *cluster_new(unsigned n, int witness)
{
	struct cluster *c = calloc(1, sizeof *c);
	struct raft_configuration conf;
	char err[256];

	assert_non_null(c);
	c->n = n;
	assert_int_equal(raft_fixture_initialize(&c->f), 0);
	for (unsigned i = 0; i < n; i++) {
		struct node *nd = &c->nodes[i];
		assert_int_equal(baton_fsm_open(&nd->fsm, NULL, err, sizeof err), 0);
		nd->fsm.on_apply = record_index;
		nd->fsm.on_apply_data = nd;
		baton_rsm_init(&nd->rsm, &nd->fsm);
		assert_int_equal(raft_fixture_grow(&c->f, &nd->rsm.fsm), 0);
		nd->rsm.raft = raft_fixture_get(&c->f, i);
		if ((int)i == witness) {
			nd->witness = true;
			c->witnesses[c->n_witnesses++] = (raft_id)(i + 1);
		}
	}
	assert_int_equal(raft_fixture_configuration(&c->f, n, &conf), 0);
	assert_int_equal(raft_fixture_bootstrap(&c->f, &conf), 0);
	raft_configuration_close(&conf);
	for (unsigned i = 0; i < n; i++) {
		baton_guard_install(&c->nodes[i].guard, raft_fixture_get(&c->f, i), BATON_GUARD_ALL);
		raft_set_pre_vote(raft_fixture_get(&c->f, i), true);
	}
	raft_fixture_hook(&c->f, hook);
	assert_int_equal(raft_fixture_start(&c->f), 0);
	return c;
}

static void cluster_free(struct cluster *c)
{
	raft_fixture_close(&c->f);
	for (unsigned i = 0; i < c->n; i++)
		baton_fsm_close(&c->nodes[i].fsm);
	free(c);
}

static int ready_leader(struct cluster *c)
{
	for (unsigned i = 0; i < c->n; i++)
		if (raft_fixture_alive(&c->f, i) && baton_guard_leader_ready(&c->nodes[i].guard))
			return (int)i;
	return -1;
}

/* Step until a ready leader that is not a witness exists (or @ms pass). */
static int step_until_region_leader(struct cluster *c, unsigned ms)
{
	raft_time until = raft_fixture_time(&c->f) + ms;

	for (;;) {
		int l = ready_leader(c);
		if (l >= 0 && !c->nodes[l].witness)
			return l;
		if (raft_fixture_time(&c->f) >= until)
			return -1;
		raft_fixture_step(&c->f);
	}
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
	(void)result;
	*(int *)req->data = status;
}

struct pending {
	struct raft_apply req;
	int status;
};

static raft_index propose_noop(struct cluster *c, unsigned i, struct pending *p)
{
	Baton__Command cmd = BATON__COMMAND__INIT;
	Baton__Noop noop = BATON__NOOP__INIT;
	struct raft_buffer buf;
	char id[32];
	void *data;
	size_t len;

	snprintf(id, sizeof id, "noop-%u", ++c->seq);
	cmd.cmd_id = id;
	cmd.body_case = BATON__COMMAND__BODY_NOOP;
	cmd.noop = &noop;
	assert_int_equal(baton_fsm_encode(&cmd, &data, &len), 0);
	buf.len = len;
	buf.base = raft_malloc(len);
	memcpy(buf.base, data, len);
	free(data);
	p->status = -1;
	p->req.data = &p->status;
	assert_int_equal(raft_apply(raft_fixture_get(&c->f, i), &p->req, &buf, 1, apply_cb), 0);
	return p->req.index;
}

/* A group of three elects one leader, which becomes ready once its own-term
 * barrier is applied, and commits on every member. */
static void three_members_elect_a_leader_that_commits_everywhere(void **state)
{
	(void)state;
	struct cluster *c = cluster_new(3, -1);
	struct pending p;

	int l = step_until_region_leader(c, 10000);
	assert_true(l >= 0);
	raft_index idx = propose_noop(c, (unsigned)l, &p);
	assert_true(raft_fixture_step_until_applied(&c->f, c->n, idx, 5000));
	assert_int_equal(p.status, 0);
	cluster_free(c);
}

/* Losing the leader elects another one, which commits; the old leader
 * catches up when it comes back. */
static void after_the_leader_dies_another_is_elected_and_the_old_one_catches_up(void **state)
{
	(void)state;
	struct cluster *c = cluster_new(3, -1);
	struct pending p1, p2;

	int l = step_until_region_leader(c, 10000);
	assert_true(l >= 0);
	raft_index i1 = propose_noop(c, (unsigned)l, &p1);
	assert_true(raft_fixture_step_until_applied(&c->f, c->n, i1, 5000));
	raft_fixture_kill(&c->f, (unsigned)l);
	assert_true(raft_fixture_step_until_has_no_leader(&c->f, 5000));
	int l2 = step_until_region_leader(c, 10000);
	assert_true(l2 >= 0);
	assert_int_not_equal(l2, l);
	raft_index i2 = propose_noop(c, (unsigned)l2, &p2);
	for (unsigned i = 0; i < c->n; i++)
		if ((int)i != l)
			assert_true(raft_fixture_step_until_applied(&c->f, i, i2, 5000));
	raft_fixture_revive(&c->f, (unsigned)l);
	assert_true(raft_fixture_step_until_applied(&c->f, (unsigned)l, i2, 10000));
	assert_int_equal(c->nodes[l].fsm.st->applied_index, c->nodes[l2].fsm.st->applied_index);
	cluster_free(c);
}

/* A leader cut off from both followers cannot commit, steps down, and the
 * entry it accepted never applies anywhere. */
static void a_minority_cannot_commit(void **state)
{
	(void)state;
	struct cluster *c = cluster_new(3, -1);
	struct pending p;

	int l = step_until_region_leader(c, 10000);
	assert_true(l >= 0);
	for (unsigned i = 0; i < c->n; i++)
		if ((int)i != l) {
			raft_fixture_saturate(&c->f, (unsigned)l, i);
			raft_fixture_saturate(&c->f, i, (unsigned)l);
		}
	raft_index idx = propose_noop(c, (unsigned)l, &p);
	raft_fixture_step_until_elapsed(&c->f, 3000);
	assert_true(baton_raft_commit_index(raft_fixture_get(&c->f, (unsigned)l)) < idx);
	assert_int_not_equal(raft_state(raft_fixture_get(&c->f, (unsigned)l)), RAFT_LEADER);
	assert_int_not_equal(p.status, 0);
	cluster_free(c);
}

/* Two members of four cannot elect a leader at all (quorum is three). */
static void two_of_four_cannot_elect_a_leader(void **state)
{
	(void)state;
	struct cluster *c = cluster_new(4, 3);

	int l = step_until_region_leader(c, 10000);
	assert_true(l >= 0);
	raft_fixture_kill(&c->f, (unsigned)l);
	raft_fixture_kill(&c->f, (unsigned)((l + 1) % 3));
	assert_true(raft_fixture_step_until_has_no_leader(&c->f, 5000));
	raft_fixture_step_until_elapsed(&c->f, 10000);
	assert_int_equal(ready_leader(c), -1);
	cluster_free(c);
}

/* The witness wins the first election (it has the shortest timeout in the
 * fixture) and hands leadership to a region member at once; through three
 * leader losses it never stays leader. */
static void the_witness_never_stays_leader(void **state)
{
	(void)state;
	struct cluster *c = cluster_new(4, 0); /* server 0 (shortest timeout) is the witness */

	for (int round = 0; round < 3; round++) {
		int l = step_until_region_leader(c, 20000);
		assert_true(l > 0);
		/* and it stays with the region member */
		raft_fixture_step_until_elapsed(&c->f, 2000);
		assert_int_equal(ready_leader(c), l);
		raft_fixture_kill(&c->f, (unsigned)l);
		assert_true(raft_fixture_step_until_has_no_leader(&c->f, 5000));
		raft_fixture_step_until_elapsed(&c->f, 1);
		raft_fixture_revive(&c->f, (unsigned)l);
	}
	assert_true(c->nodes[0].handoffs >= 1);
	assert_int_not_equal(raft_state(raft_fixture_get(&c->f, 0)), RAFT_LEADER);
	cluster_free(c);
}

/* Inside fsm->apply, last_applied + 1 is the entry's index (the FSM's
 * exactly-once persistence depends on it). */
static void the_fsm_sees_the_index_raft_assigned(void **state)
{
	(void)state;
	struct cluster *c = cluster_new(3, -1);
	struct pending p[5];

	int l = step_until_region_leader(c, 10000);
	assert_true(l >= 0);
	for (int k = 0; k < 5; k++) {
		raft_index idx = propose_noop(c, (unsigned)l, &p[k]);
		assert_true(raft_fixture_step_until_applied(&c->f, c->n, idx, 5000));
		for (unsigned i = 0; i < c->n; i++)
			assert_int_equal(c->nodes[i].last_index_seen, idx);
	}
	cluster_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(three_members_elect_a_leader_that_commits_everywhere),
		cmocka_unit_test(after_the_leader_dies_another_is_elected_and_the_old_one_catches_up),
		cmocka_unit_test(a_minority_cannot_commit),
		cmocka_unit_test(two_of_four_cannot_elect_a_leader),
		cmocka_unit_test(the_witness_never_stays_leader),
		cmocka_unit_test(the_fsm_sees_the_index_raft_assigned),
	};
	return cmocka_run_group_tests_name("raft", tests, NULL, NULL);
}
