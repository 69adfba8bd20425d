/* SPDX-License-Identifier: MIT */
/* Fuzz the FSM's entry decoder and apply (raft/fsm.h).
 *
 * A memory-only FSM is seeded with a cluster config (regions a, b, c in group
 * "db") and the activation of region a (epoch 1), then the input is applied:
 *   1. as one entry, byte for byte (the frame parser);
 *   2. framed as baton_fsm_encode() frames a protobuf payload, as one entry
 *      (the protobuf decoder and every handler); then the same bytes again at
 *      the next index, which for a decoded command must be a duplicate that
 *      changes nothing;
 *   3. in a fresh seeded FSM, split into entries by a length prefix (u16
 *      little-endian, then that many payload bytes, each framed), so that
 *      sequences such as begin -> step updates -> end are explored.
 * Apply must return 0 every time, and the final state must survive snapshot
 * -> restore into a fresh FSM -> snapshot byte for byte. Any violation aborts.
 * Seeds: corpus/fsm_apply/, written by gen_fsm_apply_corpus.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_fsm_apply: %s:%d: check failed: %s\n", __FILE__,     \
				__LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The frame of raft/fsm.c: "BTN" + format 1, payload length (u32 LE), the
 * payload, zero padding to a multiple of 8. *ret is malloc'd. */
static size_t fuzz_frame(const uint8_t *payload, size_t len, uint8_t **ret)
{
	size_t total = (8 + len + 7) & ~(size_t)7;
	uint8_t *out = calloc(1, total);

	CHECK(out != NULL);
	memcpy(out, "BTN\1", 4);
	for (int i = 0; i < 4; i++)
		out[4 + i] = (uint8_t)(len >> (8 * i));
	if (len > 0)
		memcpy(out + 8, payload, len);
	*ret = out;
	return total;
}

static void fuzz_apply(struct baton_fsm *f, uint64_t index, const void *buf, size_t len)
{
	int rv = baton_fsm_apply(f, index, buf, len);

	if (rv != 0)
		fprintf(stderr, "fuzz_fsm_apply: apply at %llu: %d (%s)\n", (unsigned long long)index, rv,
			f->errmsg);
	CHECK(rv == 0);
	CHECK(f->st->applied_index == index);
}

static void fuzz_apply_cmd(struct baton_fsm *f, uint64_t index, Baton__Command *cmd)
{
	void *buf;
	size_t len;

	CHECK(baton_fsm_encode(cmd, &buf, &len) == 0);
	fuzz_apply(f, index, buf, len);
	free(buf);
	CHECK(f->last.code == BATON_FSM_OK);
}

/* Open a memory-only FSM holding the config and region a active (index 2). */
static void fuzz_seed(struct baton_fsm *f)
{
	static char *groups[] = {"db"};
	Baton__RegionSpec a = BATON__REGION_SPEC__INIT, b = BATON__REGION_SPEC__INIT,
			  c = BATON__REGION_SPEC__INIT;
	Baton__RegionSpec *regions[] = {&a, &b, &c};
	Baton__ClusterConfig cc = BATON__CLUSTER_CONFIG__INIT;
	Baton__Activate act = BATON__ACTIVATE__INIT;
	Baton__Command cmd = BATON__COMMAND__INIT;
	char err[BATON_TEXT_MAX];

	CHECK(baton_fsm_open(f, NULL, err, sizeof err) == 0);
	a.name = "a";
	a.has_priority = 1;
	a.priority = 30;
	b.name = "b";
	b.has_priority = 1;
	b.priority = 20;
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
	fuzz_apply_cmd(f, 1, &cmd);

	act.region = "a";
	act.expect_epoch = 0;
	act.by = "bootstrap";
	cmd.cmd_id = "seed-activate";
	cmd.body_case = BATON__COMMAND__BODY_ACTIVATE;
	cmd.activate = &act;
	fuzz_apply_cmd(f, 2, &cmd);
}

static void fuzz_snapshot(struct baton_fsm *f, uint64_t index, void **buf, size_t *len)
{
	CHECK(baton_fsm_snapshot(f, index, buf, len) == 0);
}

/* snapshot -> restore into a fresh FSM -> snapshot gives the same bytes. */
static void fuzz_check_round_trip(struct baton_fsm *f, uint64_t index)
{
	struct baton_fsm g;
	char err[BATON_TEXT_MAX];
	void *a, *b;
	size_t la, lb;

	fuzz_snapshot(f, index, &a, &la);
	CHECK(baton_fsm_open(&g, NULL, err, sizeof err) == 0);
	if (baton_fsm_restore(&g, a, la) != 0)
		fprintf(stderr, "fuzz_fsm_apply: restore: %s\n", g.errmsg);
	CHECK(g.st->applied_index == index);
	fuzz_snapshot(&g, index, &b, &lb);
	CHECK(la == lb && memcmp(a, b, la) == 0);
	baton_fsm_close(&g);
	free(a);
	free(b);
}

static void fuzz_whole(const uint8_t *data, size_t size)
{
	struct baton_fsm f;
	uint8_t *framed;
	size_t len;
	void *before, *after;
	size_t lb, la;

	fuzz_seed(&f);
	fuzz_apply(&f, 3, data, size);
	len = fuzz_frame(data, size, &framed);
	fuzz_apply(&f, 4, framed, len);
	if (f.last.cmd_id[0] != '\0') {
		/* It decoded: the same entry again is a duplicate and changes
		 * nothing but the applied index (which the snapshot pins). */
		int first_code = f.last.code;
		fuzz_snapshot(&f, 5, &before, &lb);
		fuzz_apply(&f, 5, framed, len);
		CHECK(f.last.code == BATON_FSM_DUPLICATE);
		CHECK(first_code == BATON_FSM_DUPLICATE || f.last.index == 4);
		fuzz_snapshot(&f, 5, &after, &la);
		CHECK(lb == la && memcmp(before, after, lb) == 0);
		free(before);
		free(after);
	}
	free(framed);
	fuzz_check_round_trip(&f, f.st->applied_index);
	baton_fsm_close(&f);
}

static void fuzz_split(const uint8_t *data, size_t size)
{
	struct baton_fsm f;
	uint64_t index = 2;

	fuzz_seed(&f);
	while (size >= 2) {
		size_t n = (size_t)data[0] | (size_t)data[1] << 8;
		uint8_t *framed;
		size_t len;

		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		len = fuzz_frame(data, n, &framed);
		fuzz_apply(&f, ++index, framed, len);
		free(framed);
		data += n;
		size -= n;
	}
	fuzz_check_round_trip(&f, f.st->applied_index);
	baton_fsm_close(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_whole(data, size);
	fuzz_split(data, size);
	return 0;
}
