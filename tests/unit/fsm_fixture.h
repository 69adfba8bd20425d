/* SPDX-License-Identifier: MIT */
/* Fixture and helpers shared by test_fsm.c and test_fsm_store.c.
 *
 * Each test gets a fresh temp dir under /tmp (removed at teardown) and an FSM
 * over it: LMDB (setup_lmdb), because only LMDB keeps the history, or memory
 * only (setup_mem), as the fuzz target runs it. Commands are built with
 * protobuf-c and encoded with baton_fsm_encode(), as the node does; feed_*()
 * applies one at the next raft index and returns its result code.
 *
 * Everything here is static and marked unused: each test file uses a part. */
#ifndef BATON_TEST_FSM_FIXTURE_H
#define BATON_TEST_FSM_FIXTURE_H

#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsm.h"
#include "util.h"

/* Each test file uses a part of the helpers. */
#define UNUSED __attribute__((unused))

#define LMDB(t) cmocka_unit_test_setup_teardown(t, setup_lmdb, teardown)
#define MEM(t) cmocka_unit_test_setup_teardown(t, setup_mem, teardown)

#define HASH1 "1111111111111111111111111111111111111111111111111111111111111111"
#define HASH2 "2222222222222222222222222222222222222222222222222222222222222222"
#define MAX_SEEN 128

enum { KIND_FAILOVER = BATON__TRANSITION_KIND__TRANSITION_FAILOVER,
       KIND_SWITCHOVER = BATON__TRANSITION_KIND__TRANSITION_SWITCHOVER,
       KIND_FAILBACK = BATON__TRANSITION_KIND__TRANSITION_FAILBACK,
       KIND_DRILL = BATON__TRANSITION_KIND__TRANSITION_DRILL };
enum { STEP_PENDING = BATON__STEP_STATE__STEP_PENDING,
       STEP_RUNNING = BATON__STEP_STATE__STEP_RUNNING,
       STEP_DONE = BATON__STEP_STATE__STEP_DONE,
       STEP_FAILED = BATON__STEP_STATE__STEP_FAILED };
enum { TR_RUNNING = BATON__TRANSITION_STATE__TRANSITION_RUNNING,
       TR_DONE = BATON__TRANSITION_STATE__TRANSITION_DONE,
       TR_FAILED = BATON__TRANSITION_STATE__TRANSITION_FAILED,
       TR_ABORTED = BATON__TRANSITION_STATE__TRANSITION_ABORTED };

/* A history event copied out of the baton_fsm_history() callback. */
struct event {
	uint64_t seq, index, epoch;
	char kind[32], outcome[32], by[BATON_NAME_MAX], cmd_id[BATON_NAME_MAX];
	char text[BATON_TEXT_MAX];
};

struct history {
	struct event ev[MAX_SEEN];
	unsigned n;
};

struct fixture {
	char dir[64];               /* temp dir, removed at teardown */
	char fsm_dir[96];           /* where the LMDB lives ("" = memory only) */
	struct baton_fsm fsm;
	bool is_open;
	uint64_t index;             /* raft index of the last entry fed */
	unsigned seq;               /* numbers generated cmd ids and clocks */
	const char *group;          /* group named in the commands (NULL = default) */
	struct history hist;
	unsigned n_on_apply;        /* calls of the on_apply hook */
	uint64_t on_apply_index;
};

/* ------------------------------------------------------------------ fixture */

static UNUSED int rm_fn(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static UNUSED void fixture_open(struct fixture *f)
{
	char err[BATON_TEXT_MAX] = "";
	int rv = baton_fsm_open(&f->fsm, f->fsm_dir[0] ? f->fsm_dir : NULL, err, sizeof err);

	if (rv != 0)
		fail_msg("baton_fsm_open: %s", err);
	f->is_open = true;
}

static UNUSED void fixture_close(struct fixture *f)
{
	if (f->is_open)
		baton_fsm_close(&f->fsm);
	f->is_open = false;
}

static UNUSED struct fixture *fixture_new(bool lmdb)
{
	struct fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	strcpy(f->dir, "/tmp/baton-test-fsm-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	if (lmdb)
		snprintf(f->fsm_dir, sizeof f->fsm_dir, "%s", f->dir);
	fixture_open(f);
	return f;
}

static UNUSED void fixture_free(struct fixture *f)
{
	fixture_close(f);
	assert_int_equal(nftw(f->dir, rm_fn, 8, FTW_DEPTH | FTW_PHYS), 0);
	free(f);
}

static UNUSED int setup_lmdb(void **state)
{
	*state = fixture_new(true);
	return 0;
}

static UNUSED int setup_mem(void **state)
{
	*state = fixture_new(false);
	return 0;
}

static UNUSED int teardown(void **state)
{
	fixture_free(*state);
	return 0;
}

/* ---------------------------------------------------------- feeding entries */

/* Apply raw bytes at @index; apply must not fail (only storage can). */
static UNUSED int feed_bytes_at(struct fixture *f, uint64_t index, const void *buf, size_t len)
{
	int rv = baton_fsm_apply(&f->fsm, index, buf, len);

	if (rv != 0)
		fail_msg("apply at %llu: %d (%s)", (unsigned long long)index, rv, f->fsm.errmsg);
	if (index > f->index)
		f->index = index;
	return f->fsm.last.code;
}

static UNUSED int feed_bytes(struct fixture *f, const void *buf, size_t len)
{
	return feed_bytes_at(f, f->index + 1, buf, len);
}

/* Wrap a bare protobuf payload the way baton_fsm_encode() and
 * baton_fsm_snapshot() do ("BTN" + format 1, the payload length as u32
 * little-endian, the payload, zero padding to a multiple of 8), for entries
 * the encoder refuses to produce. Returns the framed length. */
static UNUSED size_t frame(uint8_t *out, size_t cap, const uint8_t *payload, size_t len)
{
	size_t total = (8 + len + 7) & ~(size_t)7;

	assert_true(total <= cap);
	memset(out, 0, total);
	memcpy(out, "BTN\1", 4);
	for (int i = 0; i < 4; i++)
		out[4 + i] = (uint8_t)(len >> (8 * i));
	memcpy(out + 8, payload, len);
	return total;
}

/* Encode @cmd and apply it at @index; returns the result code. Commands the
 * test left without an id get "c<seq>", without a clock 1000 * seq, and the
 * fixture's group: two fixtures fed the same calls see the same bytes. */
static UNUSED int feed_at(struct fixture *f, uint64_t index, Baton__Command *cmd)
{
	char id[BATON_NAME_MAX];
	bool own_id = cmd->cmd_id == NULL;
	void *buf;
	size_t len;
	int code;

	f->seq++;
	if (own_id) {
		snprintf(id, sizeof id, "c%u", f->seq);
		cmd->cmd_id = id;
	}
	if (!cmd->has_proposed_at_ms) {
		cmd->has_proposed_at_ms = true;
		cmd->proposed_at_ms = 1000 * (uint64_t)f->seq;
	}
	if (cmd->group == NULL)
		cmd->group = (char *)f->group;
	assert_int_equal(baton_fsm_encode(cmd, &buf, &len), 0);
	code = feed_bytes_at(f, index, buf, len);
	free(buf);
	if (own_id)
		cmd->cmd_id = NULL;
	return code;
}

static UNUSED int feed(struct fixture *f, Baton__Command *cmd)
{
	return feed_at(f, f->index + 1, cmd);
}

struct region_spec {
	const char *name;
	int priority; /* < 0: not set */
};

static UNUSED int feed_config(struct fixture *f, uint64_t generation, const char *hash,
			      const struct region_spec *regions, size_t n_regions, const char *const *groups,
			      size_t n_groups)
{
	Baton__Command cmd = BATON__COMMAND__INIT;
	Baton__ClusterConfig cc = BATON__CLUSTER_CONFIG__INIT;
	Baton__RegionSpec specs[BATON_FSM_MAX_REGIONS + 2];
	Baton__RegionSpec *ptrs[BATON_FSM_MAX_REGIONS + 2];

	assert_true(n_regions <= BATON_ARRAY_SIZE(specs));
	for (size_t i = 0; i < n_regions; i++) {
		baton__region_spec__init(&specs[i]);
		specs[i].name = (char *)regions[i].name;
		specs[i].has_priority = regions[i].priority >= 0;
		specs[i].priority = regions[i].priority >= 0 ? (uint32_t)regions[i].priority : 0;
		ptrs[i] = &specs[i];
	}
	cc.generation = generation;
	cc.hash = (char *)hash;
	cc.n_regions = n_regions;
	cc.regions = ptrs;
	cc.n_groups = n_groups;
	cc.groups = (char **)groups;
	cmd.body_case = BATON__COMMAND__BODY_CLUSTER_CONFIG;
	cmd.cluster_config = &cc;
	return feed(f, &cmd);
}

static UNUSED const struct region_spec default_regions[] = {{"a", 30}, {"b", 20}, {"c", -1}};
static UNUSED const char *const default_groups[] = {"db"};

/* Generation 1: regions a (30), b (20), c (default priority), group "db". */
static UNUSED int feed_default_config(struct fixture *f)
{
	return feed_config(f, 1, HASH1, default_regions, 3, default_groups, 1);
}

static UNUSED int feed_activate_id(struct fixture *f, const char *cmd_id, const char *region,
				   uint64_t expect_epoch)
{
	Baton__Command cmd = BATON__COMMAND__INIT;
	Baton__Activate a = BATON__ACTIVATE__INIT;

	a.region = (char *)region;
	a.expect_epoch = expect_epoch;
	a.by = "bootstrap";
	a.reason = "first start";
	cmd.cmd_id = (char *)cmd_id;
	cmd.body_case = BATON__COMMAND__BODY_ACTIVATE;
	cmd.activate = &a;
	return feed(f, &cmd);
}

static UNUSED int feed_activate(struct fixture *f, const char *region, uint64_t expect_epoch)
{
	return feed_activate_id(f, NULL, region, expect_epoch);
}

/* The default config with region a activated: epoch 1. */
static UNUSED void bootstrap(struct fixture *f)
{
	assert_int_equal(feed_default_config(f), BATON_FSM_OK);
	assert_int_equal(feed_activate(f, "a", 0), BATON_FSM_OK);
}

static UNUSED int feed_begin_full(struct fixture *f, const char *cmd_id, int kind, const char *from,
				  const char *to, uint64_t expect_epoch, const char *by, bool drill,
				  const char *const *steps, size_t n_steps)
{
	Baton__Command cmd = BATON__COMMAND__INIT;
	Baton__TransitionBegin b = BATON__TRANSITION_BEGIN__INIT;
	Baton__StepSpec *specs = calloc(n_steps ? n_steps : 1, sizeof *specs);
	Baton__StepSpec **ptrs = calloc(n_steps ? n_steps : 1, sizeof *ptrs);
	int code;

	assert_non_null(specs);
	assert_non_null(ptrs);
	for (size_t i = 0; i < n_steps; i++) {
		baton__step_spec__init(&specs[i]);
		specs[i].name = (char *)steps[i];
		specs[i].driver = "exec";
		specs[i].region = (char *)to;
		specs[i].has_idempotent = true;
		specs[i].idempotent = true;
		if (i > 0) {
			/* each step runs after the one before it */
			specs[i].n_after = 1;
			specs[i].after = (char **)&steps[i - 1];
		}
		ptrs[i] = &specs[i];
	}
	b.kind = kind;
	b.from = (char *)from;
	b.to = (char *)to;
	b.expect_epoch = expect_epoch;
	b.by = (char *)by;
	b.reason = "test";
	b.has_drill = true;
	b.drill = drill;
	b.n_steps = n_steps;
	b.steps = ptrs;
	cmd.cmd_id = (char *)cmd_id;
	cmd.body_case = BATON__COMMAND__BODY_TRANSITION_BEGIN;
	cmd.transition_begin = &b;
	code = feed(f, &cmd);
	free(ptrs);
	free(specs);
	return code;
}

static UNUSED const char *const default_steps[] = {"fence", "promote", "dns"};

/* A non-drill transition with the default three-step plan. */
static UNUSED int feed_begin(struct fixture *f, int kind, const char *from, const char *to,
			     uint64_t expect_epoch, const char *by)
{
	return feed_begin_full(f, NULL, kind, from, to, expect_epoch, by, false, default_steps, 3);
}

static UNUSED int feed_step_full(struct fixture *f, const char *tid, const char *step, int state,
				 uint32_t attempts, uint64_t at_ms, uint64_t duration_ms, const char *error)
{
	Baton__Command cmd = BATON__COMMAND__INIT;
	Baton__StepUpdate u = BATON__STEP_UPDATE__INIT;

	u.transition_id = (char *)tid;
	u.step = (char *)step;
	u.state = state;
	u.has_attempts = true;
	u.attempts = attempts;
	u.has_at_ms = true;
	u.at_ms = at_ms;
	u.has_duration_ms = true;
	u.duration_ms = duration_ms;
	u.error = (char *)error;
	u.output = "driver said ok";
	cmd.body_case = BATON__COMMAND__BODY_STEP_UPDATE;
	cmd.step_update = &u;
	return feed(f, &cmd);
}

static UNUSED int feed_step(struct fixture *f, const char *tid, const char *step, int state)
{
	return feed_step_full(f, tid, step, state, 1, 1000 * (uint64_t)(f->seq + 1), 5, NULL);
}

static UNUSED int feed_end(struct fixture *f, const char *tid, int state)
{
	Baton__Command cmd = BATON__COMMAND__INIT;
	Baton__TransitionEnd e = BATON__TRANSITION_END__INIT;

	e.transition_id = (char *)tid;
	e.state = state;
	e.reason = "test says so";
	cmd.body_case = BATON__COMMAND__BODY_TRANSITION_END;
	cmd.transition_end = &e;
	return feed(f, &cmd);
}

static UNUSED int feed_freeze(struct fixture *f, bool frozen, const char *by, const char *reason)
{
	Baton__Command cmd = BATON__COMMAND__INIT;
	Baton__Freeze fr = BATON__FREEZE__INIT;

	fr.frozen = frozen;
	fr.by = (char *)by;
	fr.reason = (char *)reason;
	cmd.body_case = BATON__COMMAND__BODY_FREEZE;
	cmd.freeze = &fr;
	return feed(f, &cmd);
}

static UNUSED int feed_noop_id(struct fixture *f, const char *cmd_id)
{
	Baton__Command cmd = BATON__COMMAND__INIT;
	Baton__Noop n = BATON__NOOP__INIT;

	n.note = "new leader";
	cmd.cmd_id = (char *)cmd_id;
	cmd.body_case = BATON__COMMAND__BODY_NOOP;
	cmd.noop = &n;
	return feed(f, &cmd);
}

static UNUSED int feed_noop(struct fixture *f)
{
	return feed_noop_id(f, NULL);
}

static UNUSED int feed_reach(struct fixture *f, const uint32_t *ids, const bool *reachable, size_t n)
{
	Baton__Command cmd = BATON__COMMAND__INIT;
	Baton__Reachability r = BATON__REACHABILITY__INIT;
	Baton__MemberReach m[BATON_FSM_MAX_MEMBERS + 1];
	Baton__MemberReach *ptrs[BATON_FSM_MAX_MEMBERS + 1];

	assert_true(n <= BATON_ARRAY_SIZE(m));
	for (size_t i = 0; i < n; i++) {
		baton__member_reach__init(&m[i]);
		m[i].id = ids[i];
		m[i].reachable = reachable[i];
		ptrs[i] = &m[i];
	}
	r.n_members = n;
	r.members = ptrs;
	r.has_term = true;
	r.term = 3;
	cmd.body_case = BATON__COMMAND__BODY_REACHABILITY;
	cmd.reachability = &r;
	return feed(f, &cmd);
}

static UNUSED int feed_observation(struct fixture *f, uint32_t observer, const char *region, bool down,
				   const char *detail)
{
	Baton__Command cmd = BATON__COMMAND__INIT;
	Baton__Observation o = BATON__OBSERVATION__INIT;

	o.observer = observer;
	o.region = (char *)region;
	o.down = down;
	o.detail = (char *)detail;
	cmd.body_case = BATON__COMMAND__BODY_OBSERVATION;
	cmd.observation = &o;
	return feed(f, &cmd);
}

static UNUSED int feed_health(struct fixture *f, const char *region, bool critical, bool reporters_ok,
			      uint64_t lag_bytes)
{
	Baton__Command cmd = BATON__COMMAND__INIT;
	Baton__RegionHealth h = BATON__REGION_HEALTH__INIT;

	h.region = (char *)region;
	h.has_critical = true;
	h.critical = critical;
	h.has_reporters_ok = true;
	h.reporters_ok = reporters_ok;
	h.has_lag_bytes = true;
	h.lag_bytes = lag_bytes;
	h.has_lag_ms = true;
	h.lag_ms = lag_bytes / 10;
	h.detail = critical ? "postgres down" : "all checks pass";
	cmd.body_case = BATON__COMMAND__BODY_REGION_HEALTH;
	cmd.region_health = &h;
	return feed(f, &cmd);
}

static UNUSED int feed_decision(struct fixture *f, const char *outcome, const char *rule, const char *text)
{
	Baton__Command cmd = BATON__COMMAND__INIT;
	Baton__Decision d = BATON__DECISION__INIT;

	d.outcome = (char *)outcome;
	d.rule = (char *)rule;
	d.text = (char *)text;
	d.region = "b";
	cmd.body_case = BATON__COMMAND__BODY_DECISION;
	cmd.decision = &d;
	return feed(f, &cmd);
}

static UNUSED int feed_operator(struct fixture *f)
{
	Baton__Command cmd = BATON__COMMAND__INIT;
	Baton__OperatorCommand op = BATON__OPERATOR_COMMAND__INIT;
	Baton__SignedEnvelope env = BATON__SIGNED_ENVELOPE__INIT;
	static uint8_t body[] = "switchover to b";
	static uint8_t sig[64];

	env.body.data = body;
	env.body.len = sizeof body - 1;
	env.signature.data = sig;
	env.signature.len = sizeof sig;
	env.key_id = "alice";
	op.envelope = &env;
	cmd.body_case = BATON__COMMAND__BODY_OPERATOR;
	cmd.operator_ = &op;
	return feed(f, &cmd);
}

/* ----------------------------------------------------------------- readers */

static UNUSED const struct baton_group_state *group(struct fixture *f)
{
	const struct baton_group_state *g = baton_fsm_group(&f->fsm, f->group);

	assert_non_null(g);
	return g;
}

static UNUSED const struct baton_region_state *region(struct fixture *f, const char *name)
{
	const struct baton_region_state *r = baton_fsm_region(group(f), name);

	assert_non_null(r);
	return r;
}

static UNUSED void history_fn(void *data, const Baton__HistoryEvent *ev)
{
	struct history *h = data;
	struct event *e;

	if (h->n == MAX_SEEN)
		return;
	e = &h->ev[h->n++];
	e->seq = ev->seq;
	e->index = ev->index;
	e->epoch = ev->epoch;
	baton_strlcpy(e->kind, ev->kind, sizeof e->kind);
	baton_strlcpy(e->outcome, ev->outcome, sizeof e->outcome);
	baton_strlcpy(e->by, ev->by, sizeof e->by);
	baton_strlcpy(e->cmd_id, ev->cmd_id, sizeof e->cmd_id);
	baton_strlcpy(e->text, ev->text, sizeof e->text);
}

/* Read the whole history into f->hist; returns the number of events. */
static UNUSED unsigned read_history(struct fixture *f)
{
	memset(&f->hist, 0, sizeof f->hist);
	assert_int_equal(baton_fsm_history(&f->fsm, 0, MAX_SEEN, history_fn, &f->hist), 0);
	return f->hist.n;
}

static UNUSED const struct event *last_event(struct fixture *f)
{
	assert_true(read_history(f) > 0);
	return &f->hist.ev[f->hist.n - 1];
}

static UNUSED void copy_tid(struct fixture *f, char tid[BATON_NAME_MAX])
{
	assert_true(group(f)->has_transition);
	baton_strlcpy(tid, group(f)->tr.id, BATON_NAME_MAX);
}

/* A copy of the whole state, to show that a command changed nothing. */
static UNUSED struct baton_fsm_state *save_state(struct fixture *f)
{
	struct baton_fsm_state *s = malloc(sizeof *s);

	assert_non_null(s);
	memcpy(s, f->fsm.st, sizeof *s);
	return s;
}

/* Everything but the applied index and the history counter is as in @before.
 * Frees @before. */
static UNUSED void assert_state_unchanged(struct fixture *f, struct baton_fsm_state *before)
{
	const struct baton_fsm_state *now = f->fsm.st;

	assert_int_equal(now->generation, before->generation);
	assert_string_equal(now->conf_hash, before->conf_hash);
	assert_int_equal(now->n_groups, before->n_groups);
	assert_memory_equal(now->groups, before->groups, sizeof now->groups);
	assert_int_equal(now->n_reach, before->n_reach);
	assert_memory_equal(now->reach, before->reach, sizeof now->reach);
	assert_int_equal(now->n_nonces, before->n_nonces);
	free(before);
}

static UNUSED void take_snapshot(struct fixture *f, void **buf, size_t *len)
{
	assert_int_equal(baton_fsm_snapshot(&f->fsm, f->index, buf, len), 0);
	assert_non_null(*buf);
}

static UNUSED void assert_same_snapshot(struct fixture *a, struct fixture *b)
{
	void *ba, *bb;
	size_t la, lb;

	take_snapshot(a, &ba, &la);
	take_snapshot(b, &bb, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(ba, bb, la);
	free(ba);
	free(bb);
}

/* A bit of everything, including rejections, garbage and a duplicate. */
static UNUSED void run_scenario(struct fixture *f)
{
	static const uint32_t ids[] = {1, 2, 3};
	static const bool up[] = {true, true, true}, two_down[] = {true, false, true};
	char tid[BATON_NAME_MAX];

	bootstrap(f);
	feed_reach(f, ids, up, 3);
	feed_reach(f, ids, two_down, 3);
	feed_observation(f, 1, "a", true, "no answer");
	feed_observation(f, 2, "a", true, "timeout");
	feed_health(f, "a", true, false, 100);
	feed_decision(f, "failover", "quorum-down", "2 of 3 observers see a down");
	feed_activate(f, "b", 0); /* stale */
	feed_bytes(f, "\xff\xfe garbage", 10);
	assert_int_equal(feed_begin_full(f, "auto-1", KIND_FAILOVER, "a", "b", 1, "auto", false, default_steps, 3),
			 BATON_FSM_OK);
	copy_tid(f, tid);
	feed_begin_full(f, "auto-1", KIND_FAILOVER, "a", "b", 1, "auto", false, default_steps, 3); /* retry */
	feed_step(f, tid, "fence", STEP_RUNNING);
	feed_step_full(f, tid, "fence", STEP_FAILED, 1, 9000, 30, "bmc timeout");
	feed_step(f, tid, "fence", STEP_RUNNING);
	feed_step_full(f, tid, "fence", STEP_DONE, 2, 12000, 40, NULL);
	feed_step(f, tid, "promote", STEP_DONE);
	feed_step(f, tid, "dns", STEP_DONE);
	feed_end(f, tid, TR_DONE);
	feed_freeze(f, true, "alice", "investigating");
	feed_operator(f);
	feed_noop(f);
}

#endif
