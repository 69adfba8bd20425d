/* SPDX-License-Identifier: MIT */
/* Every read of libraft 0.15's public-but-internal struct fields, in one place.
 *
 * 0.15 exposes `struct raft` whole (0.17 hides it) and lacks the accessors that
 * later versions add (raft_role, raft_voter_contacts, a state callback). An
 * upgrade to cowsql/raft or a newer libraft touches only this file. */
#ifndef BATON_RAFT_COMPAT_H
#define BATON_RAFT_COMPAT_H

#include <raft.h>
#include <stdbool.h>
#include <stdint.h>

/* The index of the entry being applied, from inside fsm->apply: libraft 0.15
 * sets last_applied only after apply returns (replication.c), so it is the
 * previous index. Verified by tests/unit/test_raft.c against req->index. */
raft_index baton_raft_applying_index(const struct raft *r);
raft_index baton_raft_last_applied(const struct raft *r);
raft_index baton_raft_commit_index(const struct raft *r);
raft_term baton_raft_term(const struct raft *r);
raft_id baton_raft_self_id(const struct raft *r);
/* Term of the entry at @index in the in-memory log, 0 if not there
 * (compacted into a snapshot or beyond the end). */
raft_term baton_raft_term_of(const struct raft *r, raft_index index);
/* First index >= @from whose term is the current term, or 0 if the leader has
 * not appended an entry of its own term yet. */
raft_index baton_raft_first_own_term_index(const struct raft *r);

struct baton_raft_peer {
	raft_id id;
	const char *address;
	int role;              /* RAFT_VOTER / RAFT_STANDBY / RAFT_SPARE */
	raft_index match_index; /* leader only */
	bool recent_recv;      /* leader only: heard from it in this check-quorum period */
};
unsigned baton_raft_n_servers(const struct raft *r);
void baton_raft_server(const struct raft *r, unsigned i, struct baton_raft_peer *ret);
/* Follower: ms since the last message from a leader (election timer start). */
uint64_t baton_raft_ms_since_leader_contact(const struct raft *r);

#endif
