/* SPDX-License-Identifier: MIT */
/* libraft 0.15 struct access; see compat.h. */
#include "compat.h"

raft_index baton_raft_applying_index(const struct raft *r)
{
	return r->last_applied + 1;
}

raft_index baton_raft_last_applied(const struct raft *r)
{
	return r->last_applied;
}

raft_index baton_raft_commit_index(const struct raft *r)
{
	return r->commit_index;
}

raft_id baton_raft_self_id(const struct raft *r)
{
	return r->id;
}

raft_term baton_raft_term(const struct raft *r)
{
	return r->current_term;
}

raft_term baton_raft_term_of(const struct raft *r, raft_index index)
{
	const struct raft_log *l = &r->log;
	size_t n, i;

	if (index == 0)
		return 0;
	if (index == l->snapshot.last_index)
		return l->snapshot.last_term;
	if (index <= l->offset)
		return 0;
	n = l->back >= l->front ? l->back - l->front : l->size - l->front + l->back;
	if (index - l->offset > n)
		return 0;
	i = (l->front + (size_t)(index - l->offset - 1)) % l->size;
	return l->entries[i].term;
}

raft_index baton_raft_first_own_term_index(const struct raft *r)
{
	raft_index lo = r->commit_index + 1, hi = raft_last_index((struct raft *)r), found = 0;

	/* Terms never decrease along the log: binary search the first entry of
	 * the current term in (commit, last]. */
	while (lo <= hi && hi > 0) {
		raft_index mid = lo + (hi - lo) / 2;
		raft_term t = baton_raft_term_of(r, mid);
		if (t >= r->current_term) {
			if (t == r->current_term)
				found = mid;
			if (mid == 0)
				break;
			hi = mid - 1;
		} else {
			lo = mid + 1;
		}
	}
	return found;
}

unsigned baton_raft_n_servers(const struct raft *r)
{
	return r->configuration.n;
}

void baton_raft_server(const struct raft *r, unsigned i, struct baton_raft_peer *ret)
{
	const struct raft_server *s = &r->configuration.servers[i];

	ret->id = s->id;
	ret->address = s->address;
	ret->role = s->role;
	ret->match_index = 0;
	ret->recent_recv = false;
	if (r->state == RAFT_LEADER && r->leader_state.progress != NULL) {
		ret->match_index = r->leader_state.progress[i].match_index;
		ret->recent_recv = r->leader_state.progress[i].recent_recv;
	}
}

uint64_t baton_raft_ms_since_leader_contact(const struct raft *r)
{
	raft_time now = r->io->time(r->io);
	return now > r->election_timer_start ? now - r->election_timer_start : 0;
}
