/* SPDX-License-Identifier: MIT */
/* LMDB persistence of the FSM; see store.h for the layout and durability. */
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sparse on disk; 1 GiB of history is millions of events. A full map is a
 * storage failure like a full disk: apply fails, the node exits, nothing in
 * the raft log is lost. */
#define STORE_MAP_SIZE (1ull << 30)

struct baton_store {
	MDB_env *env;
	MDB_dbi meta, history, cmds, cmd_index;
};

struct baton_store_txn {
	struct baton_store *s;
	MDB_txn *txn;
	int err; /* first failure of a put; commit reports it */
};

static int mdb_to_errno(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
		return -ENOSPC;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return -EUCLEAN;
	default:
		return rc > 0 ? -rc : -EIO;
	}
}

int baton_store_open(struct baton_store **ret, const char *path, char *errbuf, size_t errlen)
{
	struct baton_store *s = calloc(1, sizeof *s);
	MDB_txn *txn = NULL;
	int rc;

	if (s == NULL) {
		snprintf(errbuf, errlen, "lmdb '%s': out of memory", path);
		return -ENOMEM;
	}
	rc = mdb_env_create(&s->env);
	if (rc != 0)
		goto fail;
	(void)mdb_env_set_mapsize(s->env, STORE_MAP_SIZE);
	(void)mdb_env_set_maxdbs(s->env, 8);
	rc = mdb_env_open(s->env, path, MDB_NOSUBDIR | MDB_NOSYNC | MDB_NOTLS, 0600);
	if (rc != 0)
		goto fail_env;
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0)
		goto fail_env;
	if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) != 0 ||
	    (rc = mdb_dbi_open(txn, "history", MDB_CREATE, &s->history)) != 0 ||
	    (rc = mdb_dbi_open(txn, "cmds", MDB_CREATE, &s->cmds)) != 0 ||
	    (rc = mdb_dbi_open(txn, "cmd_index", MDB_CREATE, &s->cmd_index)) != 0) {
		mdb_txn_abort(txn);
		goto fail_env;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0)
		goto fail_env;
	*ret = s;
	return 0;

fail_env:
	mdb_env_close(s->env);
fail:
	snprintf(errbuf, errlen, "lmdb open '%s': %s", path, mdb_strerror(rc));
	free(s);
	return mdb_to_errno(rc);
}

void baton_store_close(struct baton_store *s)
{
	if (s == NULL)
		return;
	/* The one place we fsync: a clean shutdown leaves LMDB fully on disk. */
	(void)mdb_env_sync(s->env, 1);
	mdb_env_close(s->env);
	free(s);
}

int baton_store_clear(struct baton_store *s, char *errbuf, size_t errlen)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);

	if (rc == 0 && ((rc = mdb_drop(txn, s->meta, 0)) != 0 || (rc = mdb_drop(txn, s->history, 0)) != 0 ||
			(rc = mdb_drop(txn, s->cmds, 0)) != 0 || (rc = mdb_drop(txn, s->cmd_index, 0)) != 0)) {
		mdb_txn_abort(txn);
	} else if (rc == 0) {
		rc = mdb_txn_commit(txn);
	}
	if (rc != 0)
		snprintf(errbuf, errlen, "lmdb clear: %s", mdb_strerror(rc));
	return mdb_to_errno(rc);
}

static int get_copy(struct baton_store *s, MDB_dbi dbi, MDB_val *key, void **ret_buf, size_t *ret_len)
{
	MDB_txn *txn;
	MDB_val val;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);

	if (rc != 0)
		return mdb_to_errno(rc);
	rc = mdb_get(txn, dbi, key, &val);
	if (rc == 0) {
		void *copy = malloc(val.mv_size > 0 ? val.mv_size : 1);
		if (copy == NULL) {
			mdb_txn_abort(txn);
			return -ENOMEM;
		}
		memcpy(copy, val.mv_data, val.mv_size);
		*ret_buf = copy;
		*ret_len = val.mv_size;
	}
	mdb_txn_abort(txn);
	return mdb_to_errno(rc);
}

int baton_store_load_state(struct baton_store *s, void **ret_buf, size_t *ret_len)
{
	MDB_val key = {.mv_size = 5, .mv_data = "state"};
	int rv = get_copy(s, s->meta, &key, ret_buf, ret_len);

	if (rv == -ENOENT) {
		*ret_buf = NULL;
		*ret_len = 0;
		return 0;
	}
	return rv;
}

int baton_store_get_cmd(struct baton_store *s, const char *cmd_id, void **ret_buf, size_t *ret_len)
{
	MDB_val key = {.mv_size = strlen(cmd_id), .mv_data = (void *)cmd_id};

	if (key.mv_size == 0 || key.mv_size > 511)
		return -ENOENT;
	return get_copy(s, s->cmds, &key, ret_buf, ret_len);
}

int baton_store_begin(struct baton_store *s, struct baton_store_txn **ret)
{
	struct baton_store_txn *t = calloc(1, sizeof *t);
	int rc;

	if (t == NULL)
		return -ENOMEM;
	rc = mdb_txn_begin(s->env, NULL, 0, &t->txn);
	if (rc != 0) {
		free(t);
		return mdb_to_errno(rc);
	}
	t->s = s;
	*ret = t;
	return 0;
}

static void be64(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t from_be64(const uint8_t in[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}

static int txn_put(struct baton_store_txn *t, MDB_dbi dbi, MDB_val *k, const void *buf, size_t len)
{
	MDB_val v = {.mv_size = len, .mv_data = (void *)buf};
	int rc;

	if (t->err != 0)
		return mdb_to_errno(t->err); /* a raw MDB code is not a -errno */
	rc = mdb_put(t->txn, dbi, k, &v, 0);
	if (rc != 0)
		t->err = rc;
	return mdb_to_errno(rc);
}

int baton_store_put_state(struct baton_store_txn *t, const void *buf, size_t len)
{
	MDB_val key = {.mv_size = 5, .mv_data = "state"};
	return txn_put(t, t->s->meta, &key, buf, len);
}

int baton_store_put_history(struct baton_store_txn *t, uint64_t seq, const void *buf, size_t len)
{
	uint8_t k[8];
	MDB_val key = {.mv_size = 8, .mv_data = k};

	be64(k, seq);
	return txn_put(t, t->s->history, &key, buf, len);
}

int baton_store_put_cmd(struct baton_store_txn *t, const char *cmd_id, uint64_t index, const void *buf,
			size_t len)
{
	uint8_t k[8];
	MDB_val key = {.mv_size = strlen(cmd_id), .mv_data = (void *)cmd_id};
	MDB_val ikey = {.mv_size = 8, .mv_data = k};
	int rv;

	if (key.mv_size == 0 || key.mv_size > 511)
		return -EINVAL;
	rv = txn_put(t, t->s->cmds, &key, buf, len);
	if (rv != 0)
		return rv;
	be64(k, index);
	return txn_put(t, t->s->cmd_index, &ikey, cmd_id, strlen(cmd_id));
}

int baton_store_drop_all(struct baton_store_txn *t)
{
	int rc;

	if (t->err != 0)
		return mdb_to_errno(t->err);
	if ((rc = mdb_drop(t->txn, t->s->meta, 0)) != 0 || (rc = mdb_drop(t->txn, t->s->history, 0)) != 0 ||
	    (rc = mdb_drop(t->txn, t->s->cmds, 0)) != 0 || (rc = mdb_drop(t->txn, t->s->cmd_index, 0)) != 0)
		t->err = rc;
	return mdb_to_errno(rc);
}

int baton_store_prune_cmds(struct baton_store_txn *t, uint64_t index)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (t->err != 0)
		return mdb_to_errno(t->err);
	rc = mdb_cursor_open(t->txn, t->s->cmd_index, &cur);
	if (rc != 0)
		goto out;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
		MDB_val idk = {.mv_size = v.mv_size, .mv_data = v.mv_data};
		if (k.mv_size != 8 || from_be64(k.mv_data) >= index)
			break;
		rc = mdb_del(t->txn, t->s->cmds, &idk, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
		rc = mdb_cursor_del(cur, 0);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
out:
	if (rc != 0)
		t->err = rc;
	return mdb_to_errno(rc);
}

int baton_store_commit(struct baton_store_txn *t, char *errbuf, size_t errlen)
{
	int rc = t->err;

	if (rc != 0) {
		mdb_txn_abort(t->txn);
	} else {
		rc = mdb_txn_commit(t->txn);
	}
	if (rc != 0)
		snprintf(errbuf, errlen, "lmdb write: %s", mdb_strerror(rc));
	free(t);
	return mdb_to_errno(rc);
}

void baton_store_abort(struct baton_store_txn *t)
{
	if (t == NULL)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

int baton_store_history(struct baton_store *s, uint64_t since, unsigned limit,
			int (*fn)(void *data, uint64_t seq, const void *buf, size_t len), void *data)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t kb[8];
	MDB_val k = {.mv_size = 8, .mv_data = kb}, v;
	unsigned n = 0;
	int rc;

	be64(kb, since);
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return mdb_to_errno(rc);
	rc = mdb_cursor_open(txn, s->history, &cur);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return mdb_to_errno(rc);
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && n < limit;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), n++) {
		if (k.mv_size != 8)
			continue;
		int stop = fn(data, from_be64(k.mv_data), v.mv_data, v.mv_size);
		if (stop != 0)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : mdb_to_errno(rc);
}

int baton_store_cmds(struct baton_store *s, int (*fn)(void *data, const void *buf, size_t len), void *data)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);

	if (rc != 0)
		return mdb_to_errno(rc);
	rc = mdb_cursor_open(txn, s->cmds, &cur);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return mdb_to_errno(rc);
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if (fn(data, v.mv_data, v.mv_size) != 0)
			break;
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : mdb_to_errno(rc);
}
