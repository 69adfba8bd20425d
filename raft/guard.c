/* SPDX-License-Identifier: MIT */
/* Figure-8 commit guard; see guard.h for the argument. */
#include "guard.h"

#include <string.h>

#include "compat.h"
#include "util.h"

static struct baton_guard *guard_of(struct raft_io *io)
{
	return BATON_CONTAINER_OF(io, struct baton_guard, io);
}

/* Copy the backend's error message up after a failed call, so that libraft,
 * which reads r->io->errmsg, reports the real cause. */
static int pass(struct baton_guard *g, int rv)
{
	if (rv != 0)
		memcpy(g->io.errmsg, g->inner->errmsg, sizeof g->io.errmsg);
	return rv;
}

static void note_peer(struct baton_guard *g, raft_id id)
{
	raft_time now = g->inner->time(g->inner);

	for (unsigned i = 0; i < g->n_peers; i++)
		if (g->peers[i].id == id) {
			g->peers[i].last_recv = now;
			return;
		}
	if (g->n_peers < BATON_GUARD_MAX_PEERS) {
		g->peers[g->n_peers].id = id;
		g->peers[g->n_peers].last_recv = now;
		g->n_peers++;
	}
}

/* Receives run on the backend's io (io->data == raft, set by raft_init). */
static void guard_recv(struct raft_io *io, struct raft_message *m)
{
	struct raft *r = io->data;
	struct baton_guard *g = guard_of(r->io);

	note_peer(g, m->server_id);
	if ((g->flags & BATON_GUARD_CLAMP) && m->type == RAFT_IO_APPEND_ENTRIES_RESULT &&
	    raft_state(r) == RAFT_LEADER && m->append_entries_result.rejected == 0) {
		struct raft_append_entries_result *res = &m->append_entries_result;
		raft_index own = baton_raft_first_own_term_index(r);
		raft_index commit = baton_raft_commit_index(r);

		if ((own == 0 || res->last_log_index < own) && res->last_log_index > commit) {
			res->last_log_index = commit;
			g->clamped++;
		}
	}
	g->recv(io, m);
}

static int f_init(struct raft_io *io, raft_id id, const char *address)
{
	struct baton_guard *g = guard_of(io);
	return pass(g, g->inner->init(g->inner, id, address));
}

static void f_close(struct raft_io *io, raft_io_close_cb cb)
{
	struct baton_guard *g = guard_of(io);
	g->inner->close(g->inner, cb);
}

static int f_load(struct raft_io *io, raft_term *term, raft_id *voted_for, struct raft_snapshot **snapshot,
		  raft_index *start_index, struct raft_entry *entries[], size_t *n_entries)
{
	struct baton_guard *g = guard_of(io);
	return pass(g, g->inner->load(g->inner, term, voted_for, snapshot, start_index, entries, n_entries));
}

static int f_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv)
{
	struct baton_guard *g = guard_of(io);
	g->recv = recv;
	return pass(g, g->inner->start(g->inner, msecs, tick, guard_recv));
}

static int f_bootstrap(struct raft_io *io, const struct raft_configuration *conf)
{
	struct baton_guard *g = guard_of(io);
	return pass(g, g->inner->bootstrap(g->inner, conf));
}

static int f_recover(struct raft_io *io, const struct raft_configuration *conf)
{
	struct baton_guard *g = guard_of(io);
	return pass(g, g->inner->recover(g->inner, conf));
}

static int f_set_term(struct raft_io *io, raft_term term)
{
	struct baton_guard *g = guard_of(io);
	return pass(g, g->inner->set_term(g->inner, term));
}

static int f_set_vote(struct raft_io *io, raft_id server_id)
{
	struct baton_guard *g = guard_of(io);
	return pass(g, g->inner->set_vote(g->inner, server_id));
}

static int f_send(struct raft_io *io, struct raft_io_send *req, const struct raft_message *message,
		  raft_io_send_cb cb)
{
	struct baton_guard *g = guard_of(io);
	return pass(g, g->inner->send(g->inner, req, message, cb));
}

static int f_append(struct raft_io *io, struct raft_io_append *req, const struct raft_entry entries[], unsigned n,
		    raft_io_append_cb cb)
{
	struct baton_guard *g = guard_of(io);
	return pass(g, g->inner->append(g->inner, req, entries, n, cb));
}

static int f_truncate(struct raft_io *io, raft_index index)
{
	struct baton_guard *g = guard_of(io);
	return pass(g, g->inner->truncate(g->inner, index));
}

static int f_snapshot_put(struct raft_io *io, unsigned trailing, struct raft_io_snapshot_put *req,
			  const struct raft_snapshot *snapshot, raft_io_snapshot_put_cb cb)
{
	struct baton_guard *g = guard_of(io);
	return pass(g, g->inner->snapshot_put(g->inner, trailing, req, snapshot, cb));
}

static int f_snapshot_get(struct raft_io *io, struct raft_io_snapshot_get *req, raft_io_snapshot_get_cb cb)
{
	struct baton_guard *g = guard_of(io);
	return pass(g, g->inner->snapshot_get(g->inner, req, cb));
}

static raft_time f_time(struct raft_io *io)
{
	struct baton_guard *g = guard_of(io);
	return g->inner->time(g->inner);
}

static int f_random(struct raft_io *io, int min, int max)
{
	struct baton_guard *g = guard_of(io);
	return g->inner->random(g->inner, min, max);
}

static int f_async_work(struct raft_io *io, struct raft_io_async_work *req, raft_io_async_work_cb cb)
{
	struct baton_guard *g = guard_of(io);
	return pass(g, g->inner->async_work(g->inner, req, cb));
}

void baton_guard_install(struct baton_guard *g, struct raft *r, unsigned flags)
{
	struct raft_io *inner = r->io;

	memset(g, 0, sizeof *g);
	g->inner = inner;
	g->raft = r;
	g->flags = flags;
	g->io.version = inner->version;
	g->io.data = r;
	g->io.impl = inner->impl;
	g->io.init = f_init;
	g->io.close = f_close;
	g->io.load = f_load;
	g->io.start = f_start;
	g->io.bootstrap = f_bootstrap;
	g->io.recover = f_recover;
	g->io.set_term = f_set_term;
	g->io.set_vote = f_set_vote;
	g->io.send = f_send;
	g->io.append = f_append;
	g->io.truncate = f_truncate;
	g->io.snapshot_put = f_snapshot_put;
	g->io.snapshot_get = f_snapshot_get;
	g->io.time = f_time;
	g->io.random = f_random;
	g->io.async_work = inner->version >= 2 && inner->async_work != NULL ? f_async_work : NULL;
	r->io = &g->io;
}

static void barrier_cb(struct raft_barrier *req, int status)
{
	struct baton_guard *g = req->data;

	g->barrier_pending = false;
	if (status == 0 && raft_state(g->raft) == RAFT_LEADER &&
	    baton_raft_term(g->raft) == g->barrier_term)
		g->ready_term = g->barrier_term;
	else if (status != 0 && status != RAFT_LEADERSHIPLOST && status != RAFT_SHUTDOWN &&
		 status != RAFT_NOTLEADER)
		g->barrier_status = status;
}

void baton_guard_check(struct baton_guard *g)
{
	struct raft *r = g->raft;
	raft_term term;

	if (raft_state(r) != RAFT_LEADER)
		return;
	term = baton_raft_term(r);
	if (!(g->flags & BATON_GUARD_BARRIER)) {
		g->ready_term = term;
		return;
	}
	if (g->barrier_pending || g->barrier_term == term)
		return;
	g->barrier.data = g;
	if (raft_barrier(r, &g->barrier, barrier_cb) == 0) {
		g->barrier_pending = true;
		g->barrier_term = term;
	}
	/* On failure (e.g. a transfer in progress) we simply try again on the
	 * next check. */
}

bool baton_guard_leader_ready(const struct baton_guard *g)
{
	return raft_state(g->raft) == RAFT_LEADER && g->ready_term == baton_raft_term(g->raft) &&
	       g->ready_term != 0;
}

raft_time baton_guard_last_recv(const struct baton_guard *g, raft_id id)
{
	for (unsigned i = 0; i < g->n_peers; i++)
		if (g->peers[i].id == id)
			return g->peers[i].last_recv;
	return 0;
}

raft_id baton_guard_transfer_target(const struct baton_guard *g, const raft_id *avoid, unsigned n_avoid,
				    unsigned window_ms)
{
	struct raft *r = g->raft;
	raft_index last = raft_last_index(r);
	raft_time now = g->inner->time(g->inner);
	raft_id fallback = 0;

	for (unsigned i = 0; i < baton_raft_n_servers(r); i++) {
		struct baton_raft_peer p;
		raft_time heard;
		bool avoided = false;

		baton_raft_server(r, i, &p);
		heard = baton_guard_last_recv(g, p.id);
		if (p.id == baton_raft_self_id(r) || p.role != RAFT_VOTER || p.match_index != last || heard == 0 ||
		    now - heard > window_ms)
			continue;
		for (unsigned j = 0; j < n_avoid; j++)
			avoided = avoided || avoid[j] == p.id;
		if (!avoided)
			return p.id;
		if (fallback == 0)
			fallback = p.id;
	}
	return fallback;
}
