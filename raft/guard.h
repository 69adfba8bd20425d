/* SPDX-License-Identifier: MIT */
/* The Figure-8 commit guard for libraft 0.15 (DESIGN.md "Commit safety").
 *
 * The bug: a 0.15 leader commits entries of an older term by counting the
 * followers that stored them (Raft paper Figure 8). If it then loses
 * leadership before replicating an entry of its own term, a candidate whose
 * last entry has a higher term can win and overwrite the "committed" entry;
 * the FSMs diverge (notes/raft-0.15.md §6). Upstream fixed it in 0.17.1; we
 * run Debian's 0.15, so the guard closes the hole at our boundary:
 *
 *  1. CLAMP. baton wraps the raft_io that libraft uses. Its receive filter
 *     looks at every AppendEntries result that reaches a leader: if the
 *     follower acknowledges an index below the leader's first entry of its
 *     own term (or the leader has no such entry yet), the acknowledgement is
 *     lowered to the current commit index. libraft therefore never sees a
 *     majority for an old-term index until a majority also holds an entry of
 *     the current term, which is exactly the rule of Raft §5.4.2. Lowering an
 *     acknowledgement is always safe: it only makes the leader re-send.
 *  2. BARRIER. A new leader appends a barrier entry of its own term at once,
 *     so old entries commit promptly (together with it), and the node acts as
 *     leader only after that barrier has been applied (leader_ready).
 *
 * The same wrapper works with the libuv backend and with raft_fixture, so the
 * deterministic test in tests/unit/test_fig8.c proves the guard on the real
 * library code. The wrapper also records when each peer was last heard from
 * (0.15 has no per-follower receive time), which status reporting uses. */
#ifndef BATON_GUARD_H
#define BATON_GUARD_H

#include <raft.h>
#include <stdbool.h>
#include <stdint.h>

enum {
	BATON_GUARD_CLAMP = 1u << 0,
	BATON_GUARD_BARRIER = 1u << 1,
	BATON_GUARD_ALL = BATON_GUARD_CLAMP | BATON_GUARD_BARRIER,
};

#define BATON_GUARD_MAX_PEERS 16

struct baton_guard {
	struct raft_io io;             /* what libraft uses after install (r->io) */
	struct raft_io *inner;         /* the real backend (uv or fixture) */
	struct raft *raft;
	raft_io_recv_cb recv;          /* libraft's receive callback */
	unsigned flags;
	/* barrier-on-election */
	struct raft_barrier barrier;
	bool barrier_pending;
	raft_term barrier_term;        /* term we issued a barrier in */
	raft_term ready_term;          /* term whose barrier has been applied */
	int barrier_status;            /* last non-zero barrier status (fatal check) */
	/* observability */
	uint64_t clamped;              /* acknowledgements lowered so far */
	struct {
		raft_id id;
		raft_time last_recv;   /* io->time() of the last message from it */
	} peers[BATON_GUARD_MAX_PEERS];
	unsigned n_peers;
};

/* Wrap @r's io. Call after raft_init() and before raft_start()/bootstrap. */
void baton_guard_install(struct baton_guard *g, struct raft *r, unsigned flags);
/* Issue the barrier when @r has just become leader in a new term. Call after
 * every loop iteration (uv_check) or fixture step. */
void baton_guard_check(struct baton_guard *g);
/* Leader whose own-term barrier has been applied (always true for a leader
 * when BATON_GUARD_BARRIER is off). */
bool baton_guard_leader_ready(const struct baton_guard *g);
/* Choose a leadership-transfer target for the leader: a voter other than
 * itself whose log matches the leader's last index and that was heard from
 * within @window_ms. Voters listed in @avoid (witnesses) are taken only when
 * no other qualifies. 0 if none. Choosing ourselves matters: raft_transfer(0)
 * in 0.15 may pick a dead or lagging voter (notes/raft-0.15.md §8). */
raft_id baton_guard_transfer_target(const struct baton_guard *g, const raft_id *avoid, unsigned n_avoid,
				    unsigned window_ms);
/* io->time() when @id was last heard from, 0 if never. */
raft_time baton_guard_last_recv(const struct baton_guard *g, raft_id id);

#endif
