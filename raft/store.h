/* SPDX-License-Identifier: MIT */
/* LMDB persistence of the FSM (one environment, four named databases).
 *
 *   meta       "state"  -> serialized Baton__Snapshot without history/applied
 *   history    be64 seq -> serialized Baton__HistoryEvent (append-only)
 *   cmds       cmd_id   -> serialized Baton__AppliedCommand (dedupe window)
 *   cmd_index  be64 idx -> cmd_id (to prune the dedupe window by index)
 *
 * Opened with MDB_NOSYNC: the raft log (fsync'd by libraft) is the source of
 * truth and LMDB is a view of it; a commit therefore costs no fsync on the
 * loop thread. After a process crash the OS still has the pages; after a
 * machine crash LMDB may be behind (its applied index says how far, and raft
 * replays the rest) or, rarely, unreadable (then it is rebuilt from the
 * snapshot). Loop thread only. */
#ifndef BATON_STORE_H
#define BATON_STORE_H

#include <stddef.h>
#include <stdint.h>

struct baton_store;
struct baton_store_txn;

int baton_store_open(struct baton_store **ret, const char *path, char *errbuf, size_t errlen);
void baton_store_close(struct baton_store *s);
/* Drop every record. */
int baton_store_clear(struct baton_store *s, char *errbuf, size_t errlen);

/* *ret_buf is malloc'd (NULL with *ret_len 0 when there is no state yet). */
int baton_store_load_state(struct baton_store *s, void **ret_buf, size_t *ret_len);
/* Returns 0 and a malloc'd copy, -ENOENT if absent. */
int baton_store_get_cmd(struct baton_store *s, const char *cmd_id, void **ret_buf, size_t *ret_len);

int baton_store_begin(struct baton_store *s, struct baton_store_txn **ret);
int baton_store_put_state(struct baton_store_txn *t, const void *buf, size_t len);
int baton_store_put_history(struct baton_store_txn *t, uint64_t seq, const void *buf, size_t len);
int baton_store_put_cmd(struct baton_store_txn *t, const char *cmd_id, uint64_t index, const void *buf,
			size_t len);
/* Drop every record inside this transaction (restore replaces all at once). */
int baton_store_drop_all(struct baton_store_txn *t);
/* Forget dedupe records of entries below @index. */
int baton_store_prune_cmds(struct baton_store_txn *t, uint64_t index);
/* Commit (or abort on failure); the txn is gone either way. errbuf names the
 * LMDB error, e.g. "MDB_MAP_FULL: Environment mapsize limit reached". */
int baton_store_commit(struct baton_store_txn *t, char *errbuf, size_t errlen);
void baton_store_abort(struct baton_store_txn *t);

/* Iterate history records with seq >= @since, at most @limit. */
int baton_store_history(struct baton_store *s, uint64_t since, unsigned limit,
			int (*fn)(void *data, uint64_t seq, const void *buf, size_t len), void *data);
/* Iterate every dedupe record (for snapshots). */
int baton_store_cmds(struct baton_store *s, int (*fn)(void *data, const void *buf, size_t len),
		     void *data);

#endif
