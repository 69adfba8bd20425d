/* SPDX-License-Identifier: MIT */
/* One member of the baton Raft group on a libuv loop: canonical/raft's uv
 * backend, the Figure-8 guard, the FSM, role detection, the witness hand-off,
 * proposals, status, and leadership transfer before a clean close.
 *
 * Loop thread only. Node code never calls raft_* directly; it uses this. */
#ifndef BATON_MEMBER_H
#define BATON_MEMBER_H

#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "fsm.h"
#include "guard.h"
#include "rsm.h"

#define BATON_MEMBER_MAX 8

/* Proposal outcomes (negative, below the -errno range). */
#define BATON_ENOTLEADER (-4101)     /* this node is not a ready leader: ask the leader */
#define BATON_EUNKNOWN (-4102)       /* leadership lost in flight: may or may not commit */
#define BATON_ESHUTDOWN (-4103)      /* member closing */
#define BATON_EFATAL (-4104)         /* storage failure; node must exit */
const char *baton_member_strerror(int rv);

enum baton_role {
	BATON_ROLE_UNAVAILABLE = 0,
	BATON_ROLE_FOLLOWER,
	BATON_ROLE_CANDIDATE,
	BATON_ROLE_LEADER,
};
const char *baton_role_name(int role);

struct baton_member_peer {
	uint32_t id;
	char address[64];   /* IPv4:port */
	bool witness;
};

struct baton_member_opts {
	uint32_t id;
	const char *data_dir;       /* must exist and be writable */
	const char *bind;           /* NULL = own address */
	struct baton_member_peer peers[BATON_MEMBER_MAX]; /* the whole group, self included */
	unsigned n_peers;
	unsigned election_ms, heartbeat_ms, snapshot_threshold, snapshot_trailing, connect_retry_ms;
	bool witness;               /* hand leadership to a region node as soon as elected */
	unsigned guard_flags;       /* BATON_GUARD_ALL in production */
};

struct baton_member;
struct baton_member_cbs {
	void *data;
	/* Role or leader changed (called from the loop, after the I/O phase). */
	void (*role_changed)(void *data, int old_role, int new_role);
	/* This node became a ready leader: its own-term barrier is applied. */
	void (*leader_ready)(void *data, uint64_t term);
	/* Storage or raft failure: log @msg and exit non-zero. Called once. */
	void (*fatal)(void *data, int rv, const char *msg);
};

struct baton_member_status {
	uint32_t id;
	int role;
	bool leader_ready;
	uint64_t term, commit_index, applied_index, last_index;
	uint32_t leader_id;
	char leader_address[64];
	uint64_t ms_since_leader_contact; /* follower */
	unsigned n;
	struct {
		uint32_t id;
		char address[64];
		bool witness;
		bool voter;
		bool reachable;       /* leader: heard from within one election timeout; self: true */
		uint64_t match_index; /* leader only */
		uint64_t last_heard_ms_ago; /* UINT64_MAX if never */
	} members[BATON_MEMBER_MAX];
	int voters, reachable_voters;
	int losses_survivable;       /* leader: reachable voters - majority; -1 when unknown */
	uint64_t clamped;            /* Figure-8 guard: acknowledgements lowered */
};

struct baton_member {
	uv_loop_t *loop;
	struct raft raft;
	struct raft_io io;
	struct raft_uv_transport transport;
	struct baton_rsm rsm;
	struct baton_guard guard;
	uv_check_t check;
	uv_timer_t timer;           /* close deadline */
	struct baton_member_opts opts;
	struct baton_member_cbs cbs;
	int last_role;
	uint32_t last_leader;
	bool was_ready;
	bool fatal_reported;
	bool closing, raft_closing, raft_closed;
	struct raft_transfer transfer;
	bool transfer_pending;
	unsigned pending_handles;
	void (*close_cb)(struct baton_member *m);
	char errmsg[256];
};

/* Set up raft (probe the data dir, bootstrap on first start) without starting
 * it. Errors name the cause, e.g. "data dir '/x': io: directory '/x' does not
 * exist". @fsm must stay alive until the close callback. */
int baton_member_init(struct baton_member *m, uv_loop_t *loop, const struct baton_member_opts *o,
		      struct baton_fsm *fsm, const struct baton_member_cbs *cbs, char *errbuf, size_t errlen);
/* Whether init found a new (bootstrapped) raft dir. */
bool baton_member_is_new(const struct baton_member *m);
int baton_member_start(struct baton_member *m, char *errbuf, size_t errlen);

/* Propose @cmd (cmd_id must be set). @cb runs once with 0 and the FSM result
 * once applied here, or a BATON_E* code; never synchronously. Returns 0, or
 * BATON_ENOTLEADER / BATON_ESHUTDOWN / -ENOMEM without calling @cb. @cb may be
 * NULL (fire and forget). */
typedef void (*baton_member_propose_cb)(void *data, int status, const struct baton_fsm_result *res);
int baton_member_propose(struct baton_member *m, const Baton__Command *cmd, baton_member_propose_cb cb, void *data);
/* Confirm leadership now (a barrier through the log); @cb(data, 0) if still
 * leader, else a BATON_E* code. */
int baton_member_barrier(struct baton_member *m, void (*cb)(void *data, int status), void *data);

void baton_member_status(struct baton_member *m, struct baton_member_status *ret);
bool baton_member_is_ready_leader(const struct baton_member *m);
/* Monotonic ms as raft sees it (uv_now). */
uint64_t baton_member_now(struct baton_member *m);

/* Offline, with no process running on @o->data_dir: make @voters (ids from
 * @o->peers, self included) the whole raft configuration with raft_recover(),
 * which appends a configuration entry to the local log. Used after the
 * permanent loss of a majority, on every survivor (node/recover.c). Runs its
 * own short-lived loop; returns 0 or a negative errno with a reason. */
int baton_member_recover(const struct baton_member_opts *o, const uint32_t *voters, unsigned n_voters, char *errbuf,
			 size_t errlen);

/* Close: a leader first hands leadership to an up-to-date region voter
 * (bounded by one election timeout), then raft closes; @cb runs when every
 * handle is closed, after which uv_loop_close() returns 0. */
void baton_member_close(struct baton_member *m, void (*cb)(struct baton_member *m));

#endif
