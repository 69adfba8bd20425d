/* SPDX-License-Identifier: MIT */
/* Unit tests of the replicated state machine (raft/fsm.h) as a log consumer:
 * idempotency by cmd_id and by raft index, malformed entries, determinism,
 * snapshot/restore (memory and LMDB), LMDB persistence and failures, and the
 * on_apply contract. Command semantics are in test_fsm.c; the fixture is in
 * fsm_fixture.h. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>

#include "fsm_fixture.h"

/* =========================================================== idempotency */

/* A retried command (same cmd_id, later index) is a duplicate: it returns the
 * first result and changes nothing but the applied index. */
static void same_cmd_id_twice_returns_the_first_result(void **state)
{
	struct fixture *f = *state;
	struct baton_fsm_state *before;
	struct baton_fsm_result first;
	unsigned events;

	bootstrap(f);
	assert_int_equal(feed_begin_full(f, "retry-1", KIND_FAILOVER, "a", "b", 1, "auto", false, default_steps, 3),
			 BATON_FSM_OK);
	first = f->fsm.last;
	before = save_state(f);
	events = read_history(f);

	assert_int_equal(feed_begin_full(f, "retry-1", KIND_FAILOVER, "a", "b", 1, "auto", false, default_steps, 3),
			 BATON_FSM_DUPLICATE);

	assert_int_equal(f->fsm.last.epoch, first.epoch);
	assert_int_equal(f->fsm.last.index, first.index);
	assert_string_equal(f->fsm.last.cmd_id, "retry-1");
	assert_string_equal(f->fsm.last.message, first.message);
	assert_state_unchanged(f, before);
	assert_int_equal(read_history(f), events);
	assert_int_equal(f->fsm.st->applied_index, f->index);
	assert_int_equal(group(f)->n_auto, 1);
}

/* Deduplication is by cmd_id only: a command reusing the id of a rejected
 * one gets that rejection back, even if it would apply now. */
static void same_cmd_id_returns_the_first_rejection(void **state)
{
	struct fixture *f = *state;

	bootstrap(f);
	assert_int_equal(feed_activate_id(f, "act-1", "b", 0), BATON_FSM_STALE_EPOCH);

	assert_int_equal(feed_activate_id(f, "act-1", "b", 1), BATON_FSM_DUPLICATE);

	assert_non_null(strstr(f->fsm.last.message, "expected epoch 0"));
	assert_string_equal(group(f)->active, "a");
	assert_int_equal(group(f)->epoch, 1);
}

/* The same cmd_id is a duplicate in the memory-only FSM too. */
static void same_cmd_id_twice_is_a_duplicate_in_memory(void **state)
{
	struct fixture *f = *state;

	bootstrap(f);
	assert_int_equal(feed_activate_id(f, "act-1", "b", 1), BATON_FSM_OK);

	assert_int_equal(feed_activate_id(f, "act-1", "b", 1), BATON_FSM_DUPLICATE);

	assert_int_equal(f->fsm.last.epoch, 2);
	assert_int_equal(f->fsm.last.index, 3);
	assert_int_equal(group(f)->epoch, 2);
	assert_int_equal(f->fsm.st->applied_index, 4);
}

/* Entries at or below the applied index (raft replaying after a restart)
 * are skipped, whatever they contain. */
static void entry_at_or_below_the_applied_index_is_skipped(void **state)
{
	struct fixture *f = *state;
	Baton__Command cmd = BATON__COMMAND__INIT;
	Baton__Freeze fr = BATON__FREEZE__INIT;
	struct baton_fsm_state *before;
	unsigned events;

	bootstrap(f);
	before = save_state(f);
	events = read_history(f);
	fr.frozen = true;
	cmd.body_case = BATON__COMMAND__BODY_FREEZE;
	cmd.freeze = &fr;

	assert_int_equal(feed_at(f, 2, &cmd), BATON_FSM_DUPLICATE);
	assert_non_null(strstr(f->fsm.last.message, "index 2 already applied"));
	assert_int_equal(f->fsm.last.epoch, 1);
	assert_int_equal(feed_at(f, 1, &cmd), BATON_FSM_DUPLICATE);
	assert_int_equal(feed_bytes_at(f, 1, "junk", 4), BATON_FSM_DUPLICATE);

	assert_state_unchanged(f, before);
	assert_int_equal(f->fsm.st->applied_index, 2);
	assert_int_equal(read_history(f), events);
	assert_int_equal(feed_at(f, 3, &cmd), BATON_FSM_OK); /* the next index applies */
	assert_true(group(f)->frozen);
}

/* Dedupe records older than BATON_FSM_DEDUPE_WINDOW entries are forgotten. */
static void dedupe_forgets_commands_older_than_the_window(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(feed_noop_id(f, "old"), BATON_FSM_OK);
	assert_int_equal(feed_noop_id(f, "old"), BATON_FSM_DUPLICATE);
	f->index = BATON_FSM_DEDUPE_WINDOW + 1;

	assert_int_equal(feed_noop_id(f, "later"), BATON_FSM_OK); /* prunes index 1 */

	assert_int_equal(feed_noop_id(f, "old"), BATON_FSM_OK);
	assert_int_equal(feed_noop_id(f, "later"), BATON_FSM_DUPLICATE);
}

/* ============================================================ malformed */

/* An entry is a protobuf Command in a frame that keeps libraft's 8-byte
 * layout; frame() (fsm_fixture.h) builds the same bytes as the encoder. */
static void entries_are_framed_protobuf(void **state)
{
	Baton__Command cmd = BATON__COMMAND__INIT;
	Baton__Noop n = BATON__NOOP__INIT;
	uint8_t payload[64], framed[96];
	size_t plen, flen, len;
	void *buf;

	(void)state;
	cmd.cmd_id = "x1";
	cmd.body_case = BATON__COMMAND__BODY_NOOP;
	cmd.noop = &n;
	plen = baton__command__pack(&cmd, payload);
	flen = frame(framed, sizeof framed, payload, plen);

	assert_int_equal(baton_fsm_encode(&cmd, &buf, &len), 0);

	assert_int_equal(len % 8, 0);
	assert_int_equal(len, flen);
	assert_memory_equal(buf, framed, len);
	free(buf);
}

/* Bytes without the frame are rejected and recorded; apply succeeds and
 * only the applied index moves. */
static void garbage_bytes_are_rejected(void **state)
{
	struct fixture *f = *state;
	struct baton_fsm_state *before;
	static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 'x', 'y', 'z', 0};

	bootstrap(f);
	before = save_state(f);

	assert_int_equal(feed_bytes(f, garbage, sizeof garbage), BATON_FSM_INVALID);

	assert_non_null(strstr(f->fsm.last.message, "entry at index 3"));
	assert_non_null(strstr(f->fsm.last.message, "frame"));
	assert_int_equal(f->fsm.last.index, 3);
	assert_int_equal(f->fsm.st->applied_index, 3);
	assert_state_unchanged(f, before);
	assert_string_equal(last_event(f)->kind, "entry");
	assert_string_equal(last_event(f)->outcome, "rejected");
}

/* A well-framed payload that is not a Command is rejected the same way. */
static void framed_garbage_is_rejected(void **state)
{
	struct fixture *f = *state;
	struct baton_fsm_state *before;
	static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 'x', 'y'};
	uint8_t buf[32];
	size_t len;

	bootstrap(f);
	before = save_state(f);
	len = frame(buf, sizeof buf, garbage, sizeof garbage);

	assert_int_equal(feed_bytes(f, buf, len), BATON_FSM_INVALID);

	assert_non_null(strstr(f->fsm.last.message, "not a valid baton.Command"));
	assert_int_equal(f->fsm.st->applied_index, 3);
	assert_state_unchanged(f, before);
	assert_string_equal(last_event(f)->outcome, "rejected");
}

/* A frame that claims more payload than follows is rejected. */
static void truncated_frame_is_rejected(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[32];
	size_t len;

	bootstrap(f);
	len = frame(buf, sizeof buf, (const uint8_t *)"0123456789", 10);

	assert_int_equal(feed_bytes(f, buf, len - 8), BATON_FSM_INVALID);

	assert_non_null(strstr(f->fsm.last.message, "follow"));
	assert_int_equal(f->fsm.st->applied_index, 3);
}

/* An empty entry is rejected the same way. */
static void empty_entry_is_rejected(void **state)
{
	struct fixture *f = *state;

	bootstrap(f);

	assert_int_equal(feed_bytes(f, "", 0), BATON_FSM_INVALID);

	assert_int_equal(f->fsm.st->applied_index, 3);
}

/* A Command with an empty cmd_id cannot be deduplicated: rejected. */
static void empty_cmd_id_is_rejected(void **state)
{
	struct fixture *f = *state;
	Baton__Command cmd = BATON__COMMAND__INIT;
	Baton__Noop n = BATON__NOOP__INIT;
	struct baton_fsm_state *before;
	uint8_t payload[64], buf[96];
	size_t len;

	bootstrap(f);
	before = save_state(f);
	cmd.cmd_id = "";
	cmd.body_case = BATON__COMMAND__BODY_NOOP;
	cmd.noop = &n;
	len = baton__command__pack(&cmd, payload);
	len = frame(buf, sizeof buf, payload, len);

	assert_int_equal(feed_bytes(f, buf, len), BATON_FSM_INVALID);

	assert_non_null(strstr(f->fsm.last.message, "cmd_id"));
	assert_int_equal(f->fsm.st->applied_index, 3);
	assert_state_unchanged(f, before);
}

/* A cmd_id of BATON_NAME_MAX characters or more is rejected. */
static void over_long_cmd_id_is_rejected(void **state)
{
	struct fixture *f = *state;
	char id[BATON_NAME_MAX + 1];

	memset(id, 'x', BATON_NAME_MAX);
	id[BATON_NAME_MAX] = '\0';
	bootstrap(f);

	assert_int_equal(feed_noop_id(f, id), BATON_FSM_INVALID);

	assert_non_null(strstr(f->fsm.last.message, "cmd_id"));
}

/* The encoder refuses a command without an id. */
static void encode_refuses_an_empty_cmd_id(void **state)
{
	Baton__Command cmd = BATON__COMMAND__INIT;
	void *buf = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(baton_fsm_encode(&cmd, &buf, &len), -EINVAL);
	cmd.cmd_id = "";
	assert_int_equal(baton_fsm_encode(&cmd, &buf, &len), -EINVAL);
	assert_null(buf);
}

/* An entry over BATON_FSM_MAX_ENTRY is rejected without being decoded. */
static void oversized_entry_is_rejected_unread(void **state)
{
	struct fixture *f = *state;
	struct baton_fsm_state *before;
	uint8_t *big = calloc(1, BATON_FSM_MAX_ENTRY + 1);

	assert_non_null(big);
	bootstrap(f);
	before = save_state(f);

	assert_int_equal(feed_bytes(f, big, BATON_FSM_MAX_ENTRY + 1), BATON_FSM_INVALID);

	free(big);
	assert_non_null(strstr(f->fsm.last.message, "exceeds"));
	assert_int_equal(f->fsm.st->applied_index, 3);
	assert_state_unchanged(f, before);
}

/* A Command without a body is invalid. */
static void command_without_a_body_is_invalid(void **state)
{
	struct fixture *f = *state;
	struct baton_fsm_state *before;

	bootstrap(f);
	before = save_state(f);

	assert_int_equal(feed(f, &(Baton__Command)BATON__COMMAND__INIT), BATON_FSM_INVALID);

	assert_non_null(strstr(f->fsm.last.message, "no body"));
	assert_state_unchanged(f, before);
}

/* ========================================================== determinism */

/* Two memory-only FSMs fed the same entries have byte-identical snapshots. */
static void two_memory_fsms_fed_the_same_entries_agree(void **state)
{
	struct fixture *f = *state;
	struct fixture *g = fixture_new(false);

	run_scenario(f);
	run_scenario(g);

	assert_int_equal(f->index, g->index);
	assert_same_snapshot(f, g);
	fixture_free(g);
}

/* Two LMDB FSMs fed the same entries have byte-identical snapshots, history
 * and dedupe records included. */
static void two_lmdb_fsms_fed_the_same_entries_agree(void **state)
{
	struct fixture *f = *state;
	struct fixture *g = fixture_new(true);

	run_scenario(f);
	run_scenario(g);

	assert_same_snapshot(f, g);
	assert_int_equal(read_history(f), read_history(g));
	assert_memory_equal(&f->hist, &g->hist, sizeof f->hist);
	fixture_free(g);
}

/* ===================================================== snapshot/restore */

/* A snapshot restored into a fresh memory-only FSM gives the same state. */
static void snapshot_restores_into_a_fresh_memory_fsm(void **state)
{
	struct fixture *f = *state;
	struct fixture *g = fixture_new(false);
	void *buf;
	size_t len;

	run_scenario(f);
	take_snapshot(f, &buf, &len);

	assert_int_equal(baton_fsm_restore(&g->fsm, buf, len), 0);
	g->index = f->index;

	free(buf);
	assert_int_equal(g->fsm.st->applied_index, f->index);
	assert_string_equal(baton_fsm_group(&g->fsm, NULL)->active, "b");
	assert_int_equal(baton_fsm_group(&g->fsm, NULL)->epoch, 2);
	assert_same_snapshot(f, g);
	fixture_free(g);
}

/* A snapshot restored into a fresh LMDB FSM gives the same state, history
 * and dedupe records, and all of it is persisted. */
static void snapshot_restores_into_a_fresh_lmdb_fsm(void **state)
{
	struct fixture *f = *state;
	struct fixture *g = fixture_new(true);
	void *buf;
	size_t len;

	run_scenario(f);
	take_snapshot(f, &buf, &len);

	assert_int_equal(baton_fsm_restore(&g->fsm, buf, len), 0);
	g->index = f->index;

	free(buf);
	assert_same_snapshot(f, g);
	assert_true(read_history(f) > 10);
	assert_int_equal(read_history(g), f->hist.n);
	assert_memory_equal(&f->hist, &g->hist, sizeof f->hist);
	fixture_close(g);
	fixture_open(g);
	assert_same_snapshot(f, g);
	assert_int_equal(feed_noop_id(g, "auto-1"), BATON_FSM_DUPLICATE);
	fixture_free(g);
}

/* At start-up raft restores a snapshot LMDB has already passed: ignored. */
static void restore_of_an_older_snapshot_keeps_lmdb(void **state)
{
	struct fixture *f = *state;
	void *old, *now, *after;
	size_t old_len, now_len, after_len;

	bootstrap(f);
	take_snapshot(f, &old, &old_len);
	assert_int_equal(feed_begin(f, KIND_FAILOVER, "a", "b", 1, "auto"), BATON_FSM_OK);
	assert_int_equal(feed_freeze(f, true, "alice", "after the failover"), BATON_FSM_OK);
	take_snapshot(f, &now, &now_len);

	assert_int_equal(baton_fsm_restore(&f->fsm, old, old_len), 0);

	free(old);
	assert_int_equal(f->fsm.st->applied_index, 4);
	assert_true(group(f)->frozen);
	fixture_close(f);
	fixture_open(f);
	take_snapshot(f, &after, &after_len);
	assert_int_equal(after_len, now_len);
	assert_memory_equal(after, now, now_len);
	free(after);
	free(now);
}

/* Restoring bytes that are not a snapshot fails, says so and keeps the state. */
static void restore_of_garbage_fails_with_an_error(void **state)
{
	struct fixture *f = *state;
	struct baton_fsm_state *before;
	static const uint8_t garbage[] = {0x08, 0x01, 0xff, 0xff, 0xff};

	bootstrap(f);
	before = save_state(f);

	assert_int_equal(baton_fsm_restore(&f->fsm, garbage, sizeof garbage), -EINVAL);

	assert_non_null(strstr(f->fsm.errmsg, "restore"));
	assert_state_unchanged(f, before);
	assert_int_equal(f->fsm.st->applied_index, 2);
}

/* A snapshot of an unknown format fails and keeps the state. */
static void restore_of_an_unknown_format_fails(void **state)
{
	struct fixture *f = *state;
	Baton__Snapshot snap = BATON__SNAPSHOT__INIT;
	uint8_t payload[32], buf[64];
	size_t len;

	bootstrap(f);
	snap.format = 2;
	snap.has_applied_index = true;
	snap.applied_index = 100;
	len = baton__snapshot__pack(&snap, payload);
	len = frame(buf, sizeof buf, payload, len);

	assert_int_equal(baton_fsm_restore(&f->fsm, buf, len), -EINVAL);

	assert_non_null(strstr(f->fsm.errmsg, "format 2"));
	assert_int_equal(f->fsm.st->applied_index, 2);
	assert_string_equal(group(f)->active, "a");
}

/* ========================================================= persistence */

/* State, history and dedupe records survive closing and reopening. */
static void state_history_and_dedupe_survive_reopen(void **state)
{
	struct fixture *f = *state;
	struct fixture *copy = calloc(1, sizeof *copy);
	void *before;
	size_t len;

	assert_non_null(copy);
	run_scenario(f);
	take_snapshot(f, &before, &len);
	read_history(f);
	copy->hist = f->hist;

	fixture_close(f);
	fixture_open(f);

	{
		void *after;
		size_t after_len;
		take_snapshot(f, &after, &after_len);
		assert_int_equal(after_len, len);
		assert_memory_equal(after, before, len);
		free(after);
	}
	free(before);
	assert_int_equal(f->fsm.st->applied_index, f->index);
	assert_int_equal(read_history(f), copy->hist.n);
	assert_memory_equal(&f->hist, &copy->hist, sizeof f->hist);
	free(copy);
	assert_int_equal(feed_noop_id(f, "auto-1"), BATON_FSM_DUPLICATE);
	assert_int_equal(feed_bytes_at(f, 3, "x", 1), BATON_FSM_DUPLICATE); /* raft replays old entries */
	assert_true(group(f)->frozen);
}

/* The history can be read from a sequence number on, a page at a time. */
static void history_reads_from_a_sequence_number_with_a_limit(void **state)
{
	struct fixture *f = *state;
	struct history page;

	run_scenario(f);
	read_history(f);
	assert_int_equal(f->hist.ev[0].seq, 1);
	for (unsigned i = 1; i < f->hist.n; i++)
		assert_int_equal(f->hist.ev[i].seq, f->hist.ev[i - 1].seq + 1);

	memset(&page, 0, sizeof page);
	assert_int_equal(baton_fsm_history(&f->fsm, 4, 3, history_fn, &page), 0);

	assert_int_equal(page.n, 3);
	assert_int_equal(page.ev[0].seq, 4);
	assert_string_equal(page.ev[2].text, f->hist.ev[5].text);
}

/* Reset forgets everything, in memory and in LMDB. */
static void reset_forgets_everything(void **state)
{
	struct fixture *f = *state;

	run_scenario(f);

	assert_int_equal(baton_fsm_reset(&f->fsm), 0);

	assert_int_equal(f->fsm.st->applied_index, 0);
	assert_int_equal(f->fsm.st->n_groups, 0);
	assert_int_equal(read_history(f), 0);
	fixture_close(f);
	fixture_open(f);
	assert_int_equal(f->fsm.st->applied_index, 0);
	assert_int_equal(f->fsm.st->generation, 0);
	assert_int_equal(read_history(f), 0);
	f->index = 0;
	f->seq = 0;
	assert_int_equal(feed_default_config(f), BATON_FSM_OK);
	assert_int_equal(feed_noop_id(f, "auto-1"), BATON_FSM_OK);
	assert_int_equal(read_history(f), 1);
	assert_int_equal(f->hist.ev[0].seq, 1);
}

/* Opening where LMDB cannot create its file fails with a message naming the
 * path (a path under a regular file: ENOTDIR, even for root). */
static void open_on_an_unusable_path_names_it(void **state)
{
	struct fixture *f = *state;
	struct baton_fsm other;
	char file[128], dir[160], err[BATON_TEXT_MAX] = "";
	FILE *fp;
	int rv;

	snprintf(file, sizeof file, "%s/not-a-dir", f->dir);
	fp = fopen(file, "w");
	assert_non_null(fp);
	fclose(fp);
	snprintf(dir, sizeof dir, "%s/sub", file);

	rv = baton_fsm_open(&other, dir, err, sizeof err);

	assert_int_equal(rv, -ENOTDIR);
	assert_non_null(strstr(err, dir));
	assert_non_null(strstr(err, "state.mdb"));
	assert_null(other.st);
	baton_fsm_close(&other); /* safe after a failed open */
}

/* A state record that is not a snapshot makes open fail, naming the path. */
static void open_of_a_corrupt_state_record_names_the_path(void **state)
{
	struct fixture *f = *state;
	struct baton_fsm other;
	char path[128], err[BATON_TEXT_MAX] = "";
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val key = {.mv_size = 5, .mv_data = "state"};
	MDB_val val = {.mv_size = 5, .mv_data = "\xff\xff\xff\xff\xff"};

	bootstrap(f);
	fixture_close(f);
	/* overwrite the state record behind the FSM's back (layout: store.h) */
	snprintf(path, sizeof path, "%s/state.mdb", f->dir);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_set_mapsize(env, 1ull << 30), 0);
	assert_int_equal(mdb_env_open(env, path, MDB_NOSUBDIR, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &key, &val, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	assert_int_equal(baton_fsm_open(&other, f->dir, err, sizeof err), -EUCLEAN);

	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "not a valid snapshot"));
	assert_null(other.st);
}

/* A directory where nothing can be created, like one under /proc, fails
 * to open with the path in the message. */
static void open_under_proc_names_the_path(void **state)
{
	struct baton_fsm other;
	char err[BATON_TEXT_MAX] = "";

	(void)state;
	assert_true(baton_fsm_open(&other, "/proc/self/baton-nope", err, sizeof err) < 0);

	assert_non_null(strstr(err, "'/proc/self/baton-nope/state.mdb'"));
	assert_null(other.st);
}

/* ============================================================= contract */

/* on_apply sees every decoded command, rejected ones too, but neither
 * skipped replays nor undecodable entries. */
static void on_apply_hook(void *data, const struct baton_fsm_result *res, const Baton__Command *cmd)
{
	struct fixture *f = data;

	assert_string_equal(res->cmd_id, cmd->cmd_id);
	f->n_on_apply++;
	f->on_apply_index = res->index;
}

static void on_apply_sees_applied_commands_only(void **state)
{
	struct fixture *f = *state;

	f->fsm.on_apply = on_apply_hook;
	f->fsm.on_apply_data = f;
	bootstrap(f);
	assert_int_equal(f->n_on_apply, 2);
	assert_int_equal(f->on_apply_index, 2);

	assert_int_equal(feed_activate(f, "b", 0), BATON_FSM_STALE_EPOCH);
	assert_int_equal(f->n_on_apply, 3);
	assert_int_equal(feed_bytes(f, "junk", 4), BATON_FSM_INVALID);
	assert_int_equal(feed_bytes_at(f, 2, "junk", 4), BATON_FSM_DUPLICATE);
	assert_int_equal(f->n_on_apply, 3);
}

/* Every result code has a name; anything else is "error". */
static void code_names_cover_every_code(void **state)
{
	(void)state;
	assert_string_equal(baton_fsm_code_name(BATON_FSM_OK), "ok");
	assert_string_equal(baton_fsm_code_name(BATON_FSM_DUPLICATE), "duplicate");
	assert_string_equal(baton_fsm_code_name(BATON_FSM_STALE_EPOCH), "stale-epoch");
	assert_string_equal(baton_fsm_code_name(BATON_FSM_BUSY), "busy");
	assert_string_equal(baton_fsm_code_name(BATON_FSM_UNKNOWN), "unknown");
	assert_string_equal(baton_fsm_code_name(BATON_FSM_INVALID), "invalid");
	assert_string_equal(baton_fsm_code_name(BATON_FSM_CONFLICT), "conflict");
	assert_string_equal(baton_fsm_code_name(BATON_FSM_REPLAY), "replay");
	assert_string_equal(baton_fsm_code_name(-1), "error");
	assert_string_equal(baton_fsm_code_name(99), "error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		LMDB(same_cmd_id_twice_returns_the_first_result),
		LMDB(same_cmd_id_returns_the_first_rejection),
		MEM(same_cmd_id_twice_is_a_duplicate_in_memory),
		LMDB(entry_at_or_below_the_applied_index_is_skipped),
		LMDB(dedupe_forgets_commands_older_than_the_window),
		cmocka_unit_test(entries_are_framed_protobuf),
		LMDB(garbage_bytes_are_rejected),
		LMDB(framed_garbage_is_rejected),
		MEM(truncated_frame_is_rejected),
		MEM(empty_entry_is_rejected),
		LMDB(empty_cmd_id_is_rejected),
		MEM(over_long_cmd_id_is_rejected),
		cmocka_unit_test(encode_refuses_an_empty_cmd_id),
		LMDB(oversized_entry_is_rejected_unread),
		MEM(command_without_a_body_is_invalid),
		MEM(two_memory_fsms_fed_the_same_entries_agree),
		LMDB(two_lmdb_fsms_fed_the_same_entries_agree),
		MEM(snapshot_restores_into_a_fresh_memory_fsm),
		LMDB(snapshot_restores_into_a_fresh_lmdb_fsm),
		LMDB(restore_of_an_older_snapshot_keeps_lmdb),
		LMDB(restore_of_garbage_fails_with_an_error),
		MEM(restore_of_an_unknown_format_fails),
		LMDB(state_history_and_dedupe_survive_reopen),
		LMDB(history_reads_from_a_sequence_number_with_a_limit),
		LMDB(reset_forgets_everything),
		LMDB(open_on_an_unusable_path_names_it),
		LMDB(open_of_a_corrupt_state_record_names_the_path),
		cmocka_unit_test(open_under_proc_names_the_path),
		LMDB(on_apply_sees_applied_commands_only),
		cmocka_unit_test(code_names_cover_every_code),
	};

	return cmocka_run_group_tests_name("fsm_store", tests, NULL, NULL);
}
