/* SPDX-License-Identifier: MIT */
/* raft_fsm callbacks over the baton FSM. Buffers follow libraft 0.15's
 * ownership rules (notes/raft-0.15.md §2.5): apply does not own @buf;
 * snapshot hands raft_malloc'd memory to raft; restore owns buf->base. */
#include "rsm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"

static int rsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	struct baton_rsm *a = fsm->data;
	raft_index index = baton_raft_applying_index(a->raft);
	int rv = baton_fsm_apply(a->state, index, buf->base, buf->len);

	if (rv != 0) {
		/* Returning non-zero stops libraft applying; the node sees fatal
		 * and exits, and a restart re-applies from the raft log. */
		a->fatal = rv;
		snprintf(a->errmsg, sizeof a->errmsg, "%s", a->state->errmsg);
		return RAFT_IOERR;
	}
	*result = &a->state->last;
	return 0;
}

static int rsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct baton_rsm *a = fsm->data;
	void *data;
	size_t len;
	int rv = baton_fsm_snapshot(a->state, baton_raft_last_applied(a->raft), &data, &len);

	if (rv != 0)
		return RAFT_NOMEM;
	*bufs = raft_malloc(sizeof **bufs);
	if (*bufs == NULL) {
		free(data);
		return RAFT_NOMEM;
	}
	(*bufs)[0].base = raft_malloc(len > 0 ? len : 1);
	if ((*bufs)[0].base == NULL) {
		raft_free(*bufs);
		free(data);
		return RAFT_NOMEM;
	}
	memcpy((*bufs)[0].base, data, len);
	(*bufs)[0].len = len;
	*n_bufs = 1;
	free(data);
	return 0;
}

static int rsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct baton_rsm *a = fsm->data;
	int rv = baton_fsm_restore(a->state, buf->base, buf->len);

	if (rv != 0) {
		/* A snapshot we cannot load is a storage failure: raft_start (or
		 * InstallSnapshot) fails and the node exits with the reason. */
		a->fatal = rv;
		snprintf(a->errmsg, sizeof a->errmsg, "restore snapshot: %s", a->state->errmsg);
		return RAFT_CORRUPT;
	}
	raft_free(buf->base);
	return 0;
}

void baton_rsm_init(struct baton_rsm *a, struct baton_fsm *state)
{
	memset(a, 0, sizeof *a);
	a->state = state;
	a->fsm.version = 1;
	a->fsm.data = a;
	a->fsm.apply = rsm_apply;
	a->fsm.snapshot = rsm_snapshot;
	a->fsm.restore = rsm_restore;
}
