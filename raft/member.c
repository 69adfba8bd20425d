/* SPDX-License-Identifier: MIT */
/* A Raft member on libuv; see member.h.
 *
 * Happy path: init (uv transport + backend, raft_init, guard, bootstrap on a
 * pristine dir) -> start -> the uv_check handle runs after every I/O phase and
 * notices role changes (0.15 has no state callback): a new leader issues its
 * own-term barrier through the guard and is "ready" once it applies; a ready
 * witness transfers leadership to an up-to-date region voter.
 * Failure modes: a storage failure in apply (LMDB) or a fatal raft status
 * (RAFT_IOERR on a barrier, RAFT_UNAVAILABLE while not closing) is reported
 * once through cbs.fatal; the node exits and systemd restarts it. Proposals
 * whose leader is lost report BATON_EUNKNOWN (the entry may still commit; the
 * cmd_id makes a retry safe). */
#include "member.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "util.h"

const char *baton_member_strerror(int rv)
{
	switch (rv) {
	case 0:
		return "ok";
	case BATON_ENOTLEADER:
		return "this node is not the leader";
	case BATON_EUNKNOWN:
		return "leadership was lost before the command was confirmed; it may or may not apply";
	case BATON_ESHUTDOWN:
		return "the node is shutting down";
	case BATON_EFATAL:
		return "storage failure";
	}
	return rv < 0 && rv > -4096 ? strerror(-rv) : "unknown error";
}

const char *baton_role_name(int role)
{
	switch (role) {
	case BATON_ROLE_FOLLOWER:
		return "follower";
	case BATON_ROLE_CANDIDATE:
		return "candidate";
	case BATON_ROLE_LEADER:
		return "leader";
	}
	return "unavailable";
}

static const struct baton_member_peer *peer(const struct baton_member *m, uint32_t id)
{
	for (unsigned i = 0; i < m->opts.n_peers; i++)
		if (m->opts.peers[i].id == id)
			return &m->opts.peers[i];
	return NULL;
}

uint64_t baton_member_now(struct baton_member *m)
{
	return uv_now(m->loop);
}

/* An up-to-date voter that answers, preferring region nodes to witnesses. */
static uint32_t choose_transfer_target(struct baton_member *m)
{
	raft_id witnesses[BATON_MEMBER_MAX];
	unsigned n = 0;

	for (unsigned i = 0; i < m->opts.n_peers; i++)
		if (m->opts.peers[i].witness)
			witnesses[n++] = m->opts.peers[i].id;
	return (uint32_t)baton_guard_transfer_target(&m->guard, witnesses, n, m->opts.election_ms);
}

static void report_fatal(struct baton_member *m, int rv, const char *msg)
{
	if (m->fatal_reported)
		return;
	m->fatal_reported = true;
	if (m->cbs.fatal != NULL)
		m->cbs.fatal(m->cbs.data, rv, msg);
}

static void do_raft_close(struct baton_member *m);

static void transfer_cb(struct raft_transfer *req)
{
	struct baton_member *m = req->data;

	m->transfer_pending = false;
	if (m->closing)
		do_raft_close(m);
}

static bool start_transfer(struct baton_member *m)
{
	uint32_t target = choose_transfer_target(m);

	if (target == 0 || m->transfer_pending)
		return false;
	m->transfer.data = m;
	if (raft_transfer(&m->raft, &m->transfer, target, transfer_cb) != 0)
		return false;
	m->transfer_pending = true;
	return true;
}

static void check_cb(uv_check_t *h)
{
	struct baton_member *m = h->data;
	int role;
	raft_id leader_id = 0;
	const char *leader_addr = NULL;
	bool ready;

	if (m->raft_closed)
		return;
	role = raft_state(&m->raft);
	if (m->rsm.fatal != 0) {
		report_fatal(m, BATON_EFATAL, m->rsm.errmsg);
		return;
	}
	if (m->guard.barrier_status != 0) {
		char msg[128];
		snprintf(msg, sizeof msg, "raft barrier failed: %s", raft_strerror(m->guard.barrier_status));
		report_fatal(m, BATON_EFATAL, msg);
		return;
	}
	if (role == RAFT_UNAVAILABLE && !m->closing) {
		char msg[300];
		snprintf(msg, sizeof msg, "raft became unavailable: %s", raft_errmsg(&m->raft));
		report_fatal(m, BATON_EFATAL, msg);
		return;
	}
	baton_guard_check(&m->guard);
	ready = baton_guard_leader_ready(&m->guard);
	raft_leader(&m->raft, &leader_id, &leader_addr);
	if (role != m->last_role || leader_id != m->last_leader) {
		int old = m->last_role;
		m->last_role = role;
		m->last_leader = (uint32_t)leader_id;
		if (m->cbs.role_changed != NULL)
			m->cbs.role_changed(m->cbs.data, old, role);
	}
	if (ready && !m->was_ready && m->cbs.leader_ready != NULL)
		m->cbs.leader_ready(m->cbs.data, baton_raft_term(&m->raft));
	m->was_ready = ready;
	/* The witness never stays leader: it holds no region and runs no plan. */
	if (m->opts.witness && ready && !m->closing)
		(void)start_transfer(m);
}

static int fail(char *errbuf, size_t errlen, int rv, const char *fmt, const char *detail)
{
	snprintf(errbuf, errlen, fmt, detail);
	return rv;
}

int baton_member_init(struct baton_member *m, uv_loop_t *loop, const struct baton_member_opts *o,
		      struct baton_fsm *fsm, const struct baton_member_cbs *cbs, char *errbuf, size_t errlen)
{
	struct raft_configuration conf;
	const struct baton_member_peer *self;
	int rv;

	memset(m, 0, sizeof *m);
	m->loop = loop;
	m->opts = *o;
	m->opts.data_dir = NULL; /* only used during init */
	if (cbs != NULL)
		m->cbs = *cbs;
	m->last_role = -1;
	self = peer(m, o->id);
	if (self == NULL)
		return fail(errbuf, errlen, -EINVAL, "member %s is not in the peer list", "self");
	/* libraft 0.15 does not check these (its asserts are compiled out). */
	if (o->heartbeat_ms == 0 || o->election_ms < 5 * o->heartbeat_ms)
		return fail(errbuf, errlen, -EINVAL, "raft timeouts: heartbeat must be at most a fifth of the election timeout%s", "");
	baton_rsm_init(&m->rsm, fsm);

	rv = raft_uv_tcp_init(&m->transport, loop);
	if (rv != 0)
		return fail(errbuf, errlen, -EIO, "raft transport: %s", raft_strerror(rv));
	if (o->bind != NULL && o->bind[0] != '\0' && (rv = raft_uv_tcp_set_bind_address(&m->transport, o->bind)) != 0) {
		raft_uv_tcp_close(&m->transport);
		return fail(errbuf, errlen, -EINVAL, "raft bind address '%s' is not an IPv4 address:port", o->bind);
	}
	rv = raft_uv_init(&m->io, loop, o->data_dir, &m->transport);
	if (rv != 0) {
		snprintf(errbuf, errlen, "data dir '%s': %s", o->data_dir, m->io.errmsg[0] ? m->io.errmsg : raft_strerror(rv));
		raft_uv_tcp_close(&m->transport);
		return -EIO;
	}
	raft_uv_set_connect_retry_delay(&m->io, o->connect_retry_ms ? o->connect_retry_ms : 200);
	/* Auto-recovery would move corrupt trailing segments aside and silently
	 * drop acknowledged entries; a corrupt node must rejoin under a new id. */
	raft_uv_set_auto_recovery(&m->io, false);
	rv = raft_init(&m->raft, &m->io, &m->rsm.fsm, o->id, self->address);
	if (rv != 0) {
		snprintf(errbuf, errlen, "data dir '%s': raft init: %s", o->data_dir, raft_errmsg(&m->raft));
		raft_uv_close(&m->io);
		raft_uv_tcp_close(&m->transport);
		return -EIO;
	}
	m->rsm.raft = &m->raft;
	baton_guard_install(&m->guard, &m->raft, o->guard_flags);

	raft_configuration_init(&conf);
	for (unsigned i = 0; i < o->n_peers; i++) {
		rv = raft_configuration_add(&conf, o->peers[i].id, o->peers[i].address, RAFT_VOTER);
		if (rv != 0) {
			raft_configuration_close(&conf);
			snprintf(errbuf, errlen, "raft configuration: member %u (%s): %s", o->peers[i].id,
				 o->peers[i].address, raft_strerror(rv));
			m->closing = true;
			return -EINVAL; /* caller closes the member */
		}
	}
	rv = raft_bootstrap(&m->raft, &conf);
	raft_configuration_close(&conf);
	if (rv == 0) {
		m->rsm.fatal = 0;
		/* A new raft log with an old LMDB view beside it (the raft dir
		 * was wiped): the view belongs to a log that is gone. */
		if (fsm->st->applied_index > 0 && baton_fsm_reset(fsm) != 0) {
			snprintf(errbuf, errlen, "data dir '%s': cannot reset stale state: %s", o->data_dir, fsm->errmsg);
			return -EIO;
		}
		m->last_role = -2; /* marks "new" until start */
	} else if (rv != RAFT_CANTBOOTSTRAP) {
		snprintf(errbuf, errlen, "data dir '%s': bootstrap: %s", o->data_dir, raft_errmsg(&m->raft));
		return -EIO;
	}
	raft_set_election_timeout(&m->raft, o->election_ms);
	raft_set_heartbeat_timeout(&m->raft, o->heartbeat_ms);
	raft_set_pre_vote(&m->raft, true);
	raft_set_snapshot_threshold(&m->raft, o->snapshot_threshold ? o->snapshot_threshold : 128);
	raft_set_snapshot_trailing(&m->raft, o->snapshot_trailing ? o->snapshot_trailing : 64);

	uv_check_init(loop, &m->check);
	m->check.data = m;
	uv_timer_init(loop, &m->timer);
	m->timer.data = m;
	m->pending_handles = 2;
	return 0;
}

bool baton_member_is_new(const struct baton_member *m)
{
	return m->last_role == -2;
}

int baton_member_start(struct baton_member *m, char *errbuf, size_t errlen)
{
	int rv;

	m->last_role = RAFT_UNAVAILABLE;
	rv = raft_start(&m->raft);
	if (rv != 0) {
		snprintf(errbuf, errlen, "raft start: %s%s%s", raft_strerror(rv),
			 raft_errmsg(&m->raft)[0] ? ": " : "", raft_errmsg(&m->raft));
		if (m->rsm.fatal != 0)
			snprintf(errbuf, errlen, "raft start: %s", m->rsm.errmsg);
		return -EIO;
	}
	uv_check_start(&m->check, check_cb);
	return 0;
}

struct propose_req {
	struct raft_apply req;
	baton_member_propose_cb cb;
	void *data;
};

static int map_status(int status)
{
	switch (status) {
	case 0:
		return 0;
	case RAFT_NOTLEADER:
		return BATON_ENOTLEADER;
	case RAFT_LEADERSHIPLOST:
		return BATON_EUNKNOWN;
	case RAFT_SHUTDOWN:
		return BATON_ESHUTDOWN;
	case RAFT_NOMEM:
		return -ENOMEM;
	default:
		return BATON_EFATAL;
	}
}

static void propose_cb(struct raft_apply *req, int status, void *result)
{
	struct propose_req *p = req->data;

	if (p->cb != NULL)
		p->cb(p->data, map_status(status), status == 0 ? result : NULL);
	free(p);
}

int baton_member_propose(struct baton_member *m, const Baton__Command *cmd, baton_member_propose_cb cb, void *data)
{
	struct propose_req *p;
	struct raft_buffer buf;
	void *enc;
	size_t len;
	int rv;

	if (m->closing)
		return BATON_ESHUTDOWN;
	if (!baton_guard_leader_ready(&m->guard))
		return BATON_ENOTLEADER;
	rv = baton_fsm_encode(cmd, &enc, &len);
	if (rv != 0)
		return rv;
	if (len > BATON_FSM_MAX_ENTRY) {
		free(enc);
		return -EMSGSIZE;
	}
	p = calloc(1, sizeof *p);
	buf.base = raft_malloc(len > 0 ? len : 1);
	if (p == NULL || buf.base == NULL) {
		free(p);
		raft_free(buf.base);
		free(enc);
		return -ENOMEM;
	}
	memcpy(buf.base, enc, len);
	buf.len = len;
	free(enc);
	p->cb = cb;
	p->data = data;
	p->req.data = p;
	rv = raft_apply(&m->raft, &p->req, &buf, 1, propose_cb);
	if (rv != 0) {
		raft_free(buf.base);
		free(p);
		return map_status(rv);
	}
	return 0;
}

struct barrier_req {
	struct raft_barrier req;
	void (*cb)(void *data, int status);
	void *data;
};

static void member_barrier_cb(struct raft_barrier *req, int status)
{
	struct barrier_req *b = req->data;

	b->cb(b->data, map_status(status));
	free(b);
}

int baton_member_barrier(struct baton_member *m, void (*cb)(void *data, int status), void *data)
{
	struct barrier_req *b;
	int rv;

	if (m->closing)
		return BATON_ESHUTDOWN;
	if (!baton_guard_leader_ready(&m->guard))
		return BATON_ENOTLEADER;
	b = calloc(1, sizeof *b);
	if (b == NULL)
		return -ENOMEM;
	b->cb = cb;
	b->data = data;
	b->req.data = b;
	rv = raft_barrier(&m->raft, &b->req, member_barrier_cb);
	if (rv != 0) {
		free(b);
		return map_status(rv);
	}
	return 0;
}

bool baton_member_is_ready_leader(const struct baton_member *m)
{
	return !m->closing && baton_guard_leader_ready(&m->guard);
}

void baton_member_status(struct baton_member *m, struct baton_member_status *st)
{
	raft_id leader_id = 0;
	const char *leader_addr = NULL;
	raft_time now = m->raft.io->time(m->raft.io);
	int majority;

	memset(st, 0, sizeof *st);
	st->id = m->opts.id;
	st->role = m->raft_closed ? BATON_ROLE_UNAVAILABLE : raft_state(&m->raft);
	st->leader_ready = baton_member_is_ready_leader(m);
	st->term = baton_raft_term(&m->raft);
	st->commit_index = baton_raft_commit_index(&m->raft);
	st->applied_index = baton_raft_last_applied(&m->raft);
	st->last_index = raft_last_index(&m->raft);
	raft_leader(&m->raft, &leader_id, &leader_addr);
	st->leader_id = (uint32_t)leader_id;
	baton_strlcpy(st->leader_address, leader_addr, sizeof st->leader_address);
	if (st->role == BATON_ROLE_FOLLOWER)
		st->ms_since_leader_contact = baton_raft_ms_since_leader_contact(&m->raft);
	st->clamped = m->guard.clamped;
	for (unsigned i = 0; i < baton_raft_n_servers(&m->raft) && st->n < BATON_MEMBER_MAX; i++) {
		struct baton_raft_peer p;
		const struct baton_member_peer *mp;
		raft_time t;
		baton_raft_server(&m->raft, i, &p);
		mp = peer(m, (uint32_t)p.id);
		st->members[st->n].id = (uint32_t)p.id;
		baton_strlcpy(st->members[st->n].address, p.address, sizeof st->members[0].address);
		st->members[st->n].witness = mp != NULL && mp->witness;
		st->members[st->n].voter = p.role == RAFT_VOTER;
		st->members[st->n].match_index = p.match_index;
		t = baton_guard_last_recv(&m->guard, p.id);
		st->members[st->n].last_heard_ms_ago = t == 0 ? UINT64_MAX : now - t;
		st->members[st->n].reachable = p.id == m->opts.id || (t != 0 && now - t <= m->opts.election_ms);
		if (p.role == RAFT_VOTER) {
			st->voters++;
			if (st->members[st->n].reachable)
				st->reachable_voters++;
		}
		st->n++;
	}
	majority = st->voters / 2 + 1;
	st->losses_survivable = st->role == BATON_ROLE_LEADER ? st->reachable_voters - majority : -1;
}

static void handle_closed_cb(uv_handle_t *h)
{
	struct baton_member *m = h->data;

	if (--m->pending_handles == 0 && m->close_cb != NULL)
		m->close_cb(m);
}

static void member_raft_closed_cb(struct raft *r)
{
	struct baton_member *m = BATON_CONTAINER_OF(r, struct baton_member, raft);

	raft_uv_close(&m->io);
	raft_uv_tcp_close(&m->transport);
	m->raft_closed = true;
	uv_close((uv_handle_t *)&m->check, handle_closed_cb);
	uv_close((uv_handle_t *)&m->timer, handle_closed_cb);
}

static void do_raft_close(struct baton_member *m)
{
	if (m->raft_closed || m->raft_closing)
		return;
	uv_timer_stop(&m->timer);
	m->raft_closing = true;
	raft_close(&m->raft, member_raft_closed_cb);
}

static void close_deadline_cb(uv_timer_t *t)
{
	do_raft_close(t->data);
}

void baton_member_close(struct baton_member *m, void (*cb)(struct baton_member *m))
{
	bool was_closing = m->closing;

	m->closing = true;
	m->close_cb = cb;
	if (m->raft_closed)
		return;
	/* A leader hands over first so that the group does not wait out an
	 * election timeout; bounded by one election timeout. */
	if (!was_closing && raft_state(&m->raft) == RAFT_LEADER && (m->transfer_pending || start_transfer(m))) {
		uv_timer_start(&m->timer, close_deadline_cb, m->opts.election_ms, 0);
		return;
	}
	if (m->transfer_pending) {
		uv_timer_start(&m->timer, close_deadline_cb, m->opts.election_ms, 0);
		return;
	}
	do_raft_close(m);
}

static void recover_closed_cb(struct raft *r)
{
	struct baton_member *m = BATON_CONTAINER_OF(r, struct baton_member, raft);

	raft_uv_close(&m->io);
	raft_uv_tcp_close(&m->transport);
}

int baton_member_recover(const struct baton_member_opts *o, const uint32_t *voters, unsigned n_voters, char *errbuf,
			 size_t errlen)
{
	struct raft_fsm no_fsm = {0}; /* raft_recover() never applies anything */
	struct raft_configuration conf;
	struct baton_member *m;
	const struct baton_member_peer *self;
	uv_loop_t loop;
	int rv;

	m = calloc(1, sizeof *m);
	if (m == NULL)
		return fail(errbuf, errlen, -ENOMEM, "out of memory%s", "");
	m->opts = *o;
	self = peer(m, o->id);
	if (self == NULL) {
		free(m);
		return fail(errbuf, errlen, -EINVAL, "member %s is not in the peer list", "self");
	}
	raft_configuration_init(&conf);
	for (unsigned i = 0; i < n_voters; i++) {
		const struct baton_member_peer *p = peer(m, voters[i]);
		if (p == NULL || raft_configuration_add(&conf, p->id, p->address, RAFT_VOTER) != 0) {
			raft_configuration_close(&conf);
			free(m);
			snprintf(errbuf, errlen, "voter %u is not a member (or is listed twice)", voters[i]);
			return -EINVAL;
		}
	}
	uv_loop_init(&loop);
	rv = raft_uv_tcp_init(&m->transport, &loop);
	if (rv == 0 && (rv = raft_uv_init(&m->io, &loop, o->data_dir, &m->transport)) != 0) {
		snprintf(errbuf, errlen, "data dir '%s': %s", o->data_dir, m->io.errmsg[0] ? m->io.errmsg : raft_strerror(rv));
		raft_uv_tcp_close(&m->transport);
	} else if (rv != 0) {
		snprintf(errbuf, errlen, "raft transport: %s", raft_strerror(rv));
	} else {
		raft_uv_set_auto_recovery(&m->io, false);
		rv = raft_init(&m->raft, &m->io, &no_fsm, o->id, self->address);
		if (rv != 0) {
			snprintf(errbuf, errlen, "data dir '%s': raft init: %s", o->data_dir, raft_errmsg(&m->raft));
			raft_uv_close(&m->io);
			raft_uv_tcp_close(&m->transport);
		} else {
			rv = raft_recover(&m->raft, &conf);
			if (rv != 0)
				snprintf(errbuf, errlen, "data dir '%s': raft recover: %s%s%s", o->data_dir, raft_strerror(rv),
					 raft_errmsg(&m->raft)[0] ? ": " : "", raft_errmsg(&m->raft));
			raft_close(&m->raft, recover_closed_cb);
		}
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	(void)uv_loop_close(&loop);
	raft_configuration_close(&conf);
	free(m);
	return rv == 0 ? 0 : -EIO;
}
