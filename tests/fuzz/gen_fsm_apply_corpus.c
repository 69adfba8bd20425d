/* SPDX-License-Identifier: MIT */
/* Writes the seed corpus of the fsm_apply fuzz target (fuzz_fsm_apply.c):
 *
 *   build-x/tests/fuzz/gen_fsm_apply_corpus tests/fuzz/corpus/fsm_apply
 *
 * cmd_*  one Command as a bare protobuf payload (the target frames it);
 * seq_*  several payloads, each preceded by its length as u16 little-endian
 *        (the target's split mode applies them in order);
 * framed_* one entry exactly as baton_fsm_encode() writes it.
 * The commands fit the target's seeded state: regions a, b, c in group "db",
 * region a active at epoch 1. Each file is then applied to such a state and
 * its outcome printed, so a seed that stopped applying shows up here. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsm.h"

#define MAX_FILE 4096

struct seed {
	uint8_t buf[MAX_FILE];
	size_t len;
};

static void gen_die(const char *what)
{
	fprintf(stderr, "gen_fsm_apply_corpus: %s\n", what);
	exit(1);
}

/* Append @cmd's bare payload, with a u16 length prefix if @prefixed. */
static void gen_add(struct seed *s, const Baton__Command *cmd, int prefixed)
{
	size_t n = baton__command__get_packed_size(cmd);

	if (s->len + n + 2 > sizeof s->buf || n > UINT16_MAX)
		gen_die("seed too large");
	if (prefixed) {
		s->buf[s->len++] = (uint8_t)(n & 0xff);
		s->buf[s->len++] = (uint8_t)(n >> 8);
	}
	s->len += baton__command__pack(cmd, s->buf + s->len);
}

static void gen_write(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		gen_die(path);
}

static void gen_cmd(Baton__Command *cmd, const char *id, uint64_t at_ms)
{
	baton__command__init(cmd);
	cmd->cmd_id = (char *)id;
	cmd->has_proposed_at_ms = 1;
	cmd->proposed_at_ms = at_ms;
	cmd->has_proposer = 1;
	cmd->proposer = 1;
	cmd->group = "db";
}

static void gen_step(struct seed *s, int prefixed, const char *id, const char *tid, const char *step, int state,
		     uint32_t attempts, const char *error)
{
	Baton__Command cmd;
	Baton__StepUpdate u = BATON__STEP_UPDATE__INIT;

	gen_cmd(&cmd, id, 2000);
	u.transition_id = (char *)tid;
	u.step = (char *)step;
	u.state = state;
	u.has_attempts = 1;
	u.attempts = attempts;
	u.has_at_ms = 1;
	u.at_ms = 2000;
	u.has_duration_ms = 1;
	u.duration_ms = 17;
	u.error = (char *)error;
	u.output = "ok";
	cmd.body_case = BATON__COMMAND__BODY_STEP_UPDATE;
	cmd.step_update = &u;
	gen_add(s, &cmd, prefixed);
}

static void gen_end(struct seed *s, int prefixed, const char *id, const char *tid, int state)
{
	Baton__Command cmd;
	Baton__TransitionEnd e = BATON__TRANSITION_END__INIT;

	gen_cmd(&cmd, id, 3000);
	e.transition_id = (char *)tid;
	e.state = state;
	e.reason = "seed";
	cmd.body_case = BATON__COMMAND__BODY_TRANSITION_END;
	cmd.transition_end = &e;
	gen_add(s, &cmd, prefixed);
}

static char *steps_after_fence[] = {"fence"};
static char *steps_after_promote[] = {"promote"};

/* A failover a -> b by "auto" with fence -> promote -> dns, id @id. */
static void gen_begin(struct seed *s, int prefixed, const char *id, int drill)
{
	Baton__Command cmd;
	Baton__TransitionBegin b = BATON__TRANSITION_BEGIN__INIT;
	Baton__StepSpec fence = BATON__STEP_SPEC__INIT, promote = BATON__STEP_SPEC__INIT,
			dns = BATON__STEP_SPEC__INIT;
	Baton__StepSpec *steps[] = {&fence, &promote, &dns};

	gen_cmd(&cmd, id, 1000);
	fence.name = "fence";
	fence.driver = "fence_pg";
	fence.region = "a";
	promote.name = "promote";
	promote.driver = "promote_pg";
	promote.region = "b";
	promote.n_after = 1;
	promote.after = steps_after_fence;
	promote.has_idempotent = 1;
	promote.idempotent = 1;
	dns.name = "dns";
	dns.driver = "dns_pdns";
	dns.n_after = 1;
	dns.after = steps_after_promote;
	b.kind = drill ? BATON__TRANSITION_KIND__TRANSITION_DRILL : BATON__TRANSITION_KIND__TRANSITION_FAILOVER;
	b.from = "a";
	b.to = "b";
	b.expect_epoch = 1;
	b.reason = "region a down for 3 observers";
	b.by = "auto";
	b.has_drill = 1;
	b.drill = drill;
	b.n_steps = 3;
	b.steps = steps;
	cmd.body_case = BATON__COMMAND__BODY_TRANSITION_BEGIN;
	cmd.transition_begin = &b;
	gen_add(s, &cmd, prefixed);
}

static void gen_singles(const char *dir)
{
	struct seed s;
	Baton__Command cmd;

	{
		static char *groups[] = {"db"};
		Baton__RegionSpec a = BATON__REGION_SPEC__INIT, d = BATON__REGION_SPEC__INIT;
		Baton__RegionSpec *regions[] = {&a, &d};
		Baton__ClusterConfig cc = BATON__CLUSTER_CONFIG__INIT;

		a.name = "a";
		a.has_priority = 1;
		a.priority = 5;
		d.name = "d";
		cc.generation = 2;
		cc.hash = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
		cc.n_regions = 2;
		cc.regions = regions;
		cc.n_groups = 1;
		cc.groups = groups;
		gen_cmd(&cmd, "cfg-2", 500);
		cmd.body_case = BATON__COMMAND__BODY_CLUSTER_CONFIG;
		cmd.cluster_config = &cc;
		s.len = 0;
		gen_add(&s, &cmd, 0);
		gen_write(dir, "cmd_cluster_config", s.buf, s.len);
	}
	{
		Baton__Activate a = BATON__ACTIVATE__INIT;

		a.region = "b";
		a.expect_epoch = 1;
		a.reason = "operator moved the baton";
		a.by = "alice";
		gen_cmd(&cmd, "act-b", 600);
		cmd.body_case = BATON__COMMAND__BODY_ACTIVATE;
		cmd.activate = &a;
		s.len = 0;
		gen_add(&s, &cmd, 0);
		gen_write(dir, "cmd_activate", s.buf, s.len);
	}
	s.len = 0;
	gen_begin(&s, 0, "t1", 0);
	gen_write(dir, "cmd_transition_begin", s.buf, s.len);
	s.len = 0;
	gen_begin(&s, 0, "d1", 1);
	gen_write(dir, "cmd_transition_begin_drill", s.buf, s.len);
	s.len = 0;
	gen_step(&s, 0, "s1", "t1", "fence", BATON__STEP_STATE__STEP_FAILED, 3, "bmc did not answer");
	gen_write(dir, "cmd_step_update", s.buf, s.len);
	s.len = 0;
	gen_end(&s, 0, "e1", "t1", BATON__TRANSITION_STATE__TRANSITION_ABORTED);
	gen_write(dir, "cmd_transition_end", s.buf, s.len);
	{
		Baton__Freeze fr = BATON__FREEZE__INIT;

		fr.frozen = 1;
		fr.by = "alice";
		fr.reason = "maintenance window";
		gen_cmd(&cmd, "frz", 700);
		cmd.body_case = BATON__COMMAND__BODY_FREEZE;
		cmd.freeze = &fr;
		s.len = 0;
		gen_add(&s, &cmd, 0);
		gen_write(dir, "cmd_freeze", s.buf, s.len);
	}
	{
		Baton__Noop n = BATON__NOOP__INIT;

		n.note = "leader 2 term 5";
		gen_cmd(&cmd, "noop-5", 800);
		cmd.body_case = BATON__COMMAND__BODY_NOOP;
		cmd.noop = &n;
		s.len = 0;
		gen_add(&s, &cmd, 0);
		gen_write(dir, "cmd_noop", s.buf, s.len);
	}
	{
		Baton__MemberReach m1 = BATON__MEMBER_REACH__INIT, m2 = BATON__MEMBER_REACH__INIT;
		Baton__MemberReach *members[] = {&m1, &m2};
		Baton__Reachability r = BATON__REACHABILITY__INIT;

		m1.id = 1;
		m1.reachable = 1;
		m2.id = 2;
		m2.reachable = 0;
		r.n_members = 2;
		r.members = members;
		r.has_term = 1;
		r.term = 5;
		gen_cmd(&cmd, "reach-1", 900);
		cmd.body_case = BATON__COMMAND__BODY_REACHABILITY;
		cmd.reachability = &r;
		s.len = 0;
		gen_add(&s, &cmd, 0);
		gen_write(dir, "cmd_reachability", s.buf, s.len);
	}
	{
		Baton__Observation o = BATON__OBSERVATION__INIT;

		o.observer = 3;
		o.region = "a";
		o.down = 1;
		o.detail = "tcp connect timeout";
		gen_cmd(&cmd, "obs-1", 950);
		cmd.body_case = BATON__COMMAND__BODY_OBSERVATION;
		cmd.observation = &o;
		s.len = 0;
		gen_add(&s, &cmd, 0);
		gen_write(dir, "cmd_observation", s.buf, s.len);
	}
	{
		Baton__RegionHealth h = BATON__REGION_HEALTH__INIT;

		h.region = "b";
		h.has_critical = 1;
		h.critical = 0;
		h.has_lag_bytes = 1;
		h.lag_bytes = 65536;
		h.has_lag_ms = 1;
		h.lag_ms = 120;
		h.has_reporters_ok = 1;
		h.reporters_ok = 1;
		h.detail = "replica streaming";
		gen_cmd(&cmd, "health-1", 960);
		cmd.body_case = BATON__COMMAND__BODY_REGION_HEALTH;
		cmd.region_health = &h;
		s.len = 0;
		gen_add(&s, &cmd, 0);
		gen_write(dir, "cmd_region_health", s.buf, s.len);
	}
	{
		Baton__Decision d = BATON__DECISION__INIT;

		d.outcome = "blocked";
		d.rule = "max_lag_on_failover";
		d.text = "replica b is 64 KiB behind";
		d.region = "b";
		gen_cmd(&cmd, "dec-1", 970);
		cmd.body_case = BATON__COMMAND__BODY_DECISION;
		cmd.decision = &d;
		s.len = 0;
		gen_add(&s, &cmd, 0);
		gen_write(dir, "cmd_decision", s.buf, s.len);
	}
	{
		static uint8_t body[] = {0x0a, 0x0a, 's', 'w', 'i', 't', 'c', 'h', 'o', 'v', 'e', 'r'};
		static uint8_t sig[64] = {1, 2, 3};
		Baton__SignedEnvelope env = BATON__SIGNED_ENVELOPE__INIT;
		Baton__OperatorCommand op = BATON__OPERATOR_COMMAND__INIT;

		env.body.data = body;
		env.body.len = sizeof body;
		env.signature.data = sig;
		env.signature.len = sizeof sig;
		env.key_id = "alice";
		op.envelope = &env;
		gen_cmd(&cmd, "op-1", 980);
		cmd.body_case = BATON__COMMAND__BODY_OPERATOR;
		cmd.operator_ = &op;
		s.len = 0;
		gen_add(&s, &cmd, 0);
		gen_write(dir, "cmd_operator", s.buf, s.len);

		/* the freeze again, as a framed entry for the target's raw mode */
		Baton__Freeze fr = BATON__FREEZE__INIT;
		void *buf;
		size_t len;

		fr.frozen = 0;
		fr.by = "bob";
		gen_cmd(&cmd, "unfrz", 990);
		cmd.body_case = BATON__COMMAND__BODY_FREEZE;
		cmd.freeze = &fr;
		if (baton_fsm_encode(&cmd, &buf, &len) != 0)
			gen_die("encode");
		gen_write(dir, "framed_unfreeze", buf, len);
		free(buf);
	}
}

static void gen_sequences(const char *dir)
{
	struct seed s;

	/* a whole failover: begin, every step, done */
	s.len = 0;
	gen_begin(&s, 1, "t1", 0);
	gen_step(&s, 1, "s1", "t1", "fence", BATON__STEP_STATE__STEP_RUNNING, 1, NULL);
	gen_step(&s, 1, "s2", "t1", "fence", BATON__STEP_STATE__STEP_DONE, 1, NULL);
	gen_step(&s, 1, "s3", "t1", "promote", BATON__STEP_STATE__STEP_DONE, 1, NULL);
	gen_step(&s, 1, "s4", "t1", "dns", BATON__STEP_STATE__STEP_SKIPPED, 0, NULL);
	gen_end(&s, 1, "e1", "t1", BATON__TRANSITION_STATE__TRANSITION_DONE);
	gen_write(dir, "seq_failover", s.buf, s.len);

	/* a step fails, the transition fails, is resumed, the step retried;
	 * then a retried begin (duplicate) and a step of a done step */
	s.len = 0;
	gen_begin(&s, 1, "t1", 0);
	gen_step(&s, 1, "s1", "t1", "fence", BATON__STEP_STATE__STEP_FAILED, 1, "timeout");
	gen_end(&s, 1, "e1", "t1", BATON__TRANSITION_STATE__TRANSITION_FAILED);
	gen_end(&s, 1, "e2", "t1", BATON__TRANSITION_STATE__TRANSITION_RUNNING);
	gen_step(&s, 1, "s2", "t1", "fence", BATON__STEP_STATE__STEP_DONE, 2, NULL);
	gen_begin(&s, 1, "t1", 0);
	gen_step(&s, 1, "s3", "t1", "fence", BATON__STEP_STATE__STEP_RUNNING, 3, NULL);
	gen_write(dir, "seq_failed_resumed", s.buf, s.len);

	/* a drill: no epoch change, then aborted */
	s.len = 0;
	gen_begin(&s, 1, "d1", 1);
	gen_step(&s, 1, "s1", "d1", "fence", BATON__STEP_STATE__STEP_RUNNING, 1, NULL);
	gen_end(&s, 1, "e1", "d1", BATON__TRANSITION_STATE__TRANSITION_ABORTED);
	gen_write(dir, "seq_drill_aborted", s.buf, s.len);
}

/* Apply @len bytes of a seed the way the target does and print the codes. */
static void gen_check(const char *dir, const char *name)
{
	static char *groups[] = {"db"};
	Baton__RegionSpec a = BATON__REGION_SPEC__INIT, b = BATON__REGION_SPEC__INIT,
			  c = BATON__REGION_SPEC__INIT;
	Baton__RegionSpec *regions[] = {&a, &b, &c};
	Baton__ClusterConfig cc = BATON__CLUSTER_CONFIG__INIT;
	Baton__Activate act = BATON__ACTIVATE__INIT;
	Baton__Command cmd = BATON__COMMAND__INIT;
	struct baton_fsm f;
	uint8_t data[MAX_FILE], framed[MAX_FILE + 16];
	char err[BATON_TEXT_MAX], path[4096];
	uint64_t index = 2;
	size_t size, off = 0;
	void *buf;
	size_t len;
	FILE *fp;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fp = fopen(path, "rb");
	if (fp == NULL)
		gen_die(path);
	size = fread(data, 1, sizeof data, fp);
	fclose(fp);
	if (baton_fsm_open(&f, NULL, err, sizeof err) != 0)
		gen_die(err);
	a.name = "a";
	b.name = "b";
	c.name = "c";
	cc.generation = 1;
	cc.hash = "seed";
	cc.n_regions = 3;
	cc.regions = regions;
	cc.n_groups = 1;
	cc.groups = groups;
	cmd.cmd_id = "seed-config";
	cmd.body_case = BATON__COMMAND__BODY_CLUSTER_CONFIG;
	cmd.cluster_config = &cc;
	if (baton_fsm_encode(&cmd, &buf, &len) != 0 || baton_fsm_apply(&f, 1, buf, len) != 0)
		gen_die("seed config");
	free(buf);
	act.region = "a";
	cmd.cmd_id = "seed-activate";
	cmd.body_case = BATON__COMMAND__BODY_ACTIVATE;
	cmd.activate = &act;
	if (baton_fsm_encode(&cmd, &buf, &len) != 0 || baton_fsm_apply(&f, 2, buf, len) != 0)
		gen_die("seed activate");
	free(buf);

	printf("%-28s", name);
	while (off < size) {
		size_t n = size - off, plen;
		const uint8_t *p = data + off;

		if (strncmp(name, "seq_", 4) == 0) {
			n = (size_t)data[off] | (size_t)data[off + 1] << 8;
			p += 2;
			off += 2;
		}
		if (strncmp(name, "framed_", 7) == 0) {
			memcpy(framed, p, n);
			plen = n;
		} else {
			memset(framed, 0, sizeof framed);
			memcpy(framed, "BTN\1", 4);
			for (int i = 0; i < 4; i++)
				framed[4 + i] = (uint8_t)(n >> (8 * i));
			memcpy(framed + 8, p, n);
			plen = (8 + n + 7) & ~(size_t)7;
		}
		if (baton_fsm_apply(&f, ++index, framed, plen) != 0)
			gen_die(f.errmsg);
		printf(" %s", baton_fsm_code_name(f.last.code));
		off += n;
	}
	printf("\n");
	baton_fsm_close(&f);
}

int main(int argc, char **argv)
{
	static const char *const names[] = {
		"cmd_cluster_config", "cmd_activate", "cmd_transition_begin", "cmd_transition_begin_drill",
		"cmd_step_update", "cmd_transition_end", "cmd_freeze", "cmd_noop", "cmd_reachability",
		"cmd_observation", "cmd_region_health", "cmd_decision", "cmd_operator", "framed_unfreeze",
		"seq_failover", "seq_failed_resumed", "seq_drill_aborted",
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
		return 2;
	}
	gen_singles(argv[1]);
	gen_sequences(argv[1]);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		gen_check(argv[1], names[i]);
	return 0;
}
