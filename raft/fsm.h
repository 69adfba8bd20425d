/* SPDX-License-Identifier: MIT */
/* The replicated state machine of DESIGN.md "The replicated state".
 *
 * Pure and deterministic: apply() takes the raft index and the entry bytes and
 * never reads a clock, the network or randomness. The state lives in memory
 * for reads and in LMDB (raft/store.c) for persistence; every apply writes its
 * changes and the applied index in ONE LMDB transaction, so after a restart
 * entries at or below the stored applied index are skipped (libraft replays
 * the log from its last snapshot and passes no index to apply; the index comes
 * from raft/compat.c). LMDB is a materialised view of the raft log: if it is
 * lost or corrupt it is rebuilt from the snapshot and the log.
 *
 * Commands are idempotent (a cmd_id seen before returns the recorded result
 * and changes nothing) and conditional (expect_epoch must match). A command
 * that cannot apply is recorded as rejected, with its reason, in the history;
 * it never fails apply. Only a storage failure does, and that is fatal. */
#ifndef BATON_FSM_H
#define BATON_FSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton.pb-c.h"

#define BATON_NAME_MAX 64
#define BATON_TEXT_MAX 256
#define BATON_OUTPUT_MAX 1024
#define BATON_FSM_MAX_GROUPS 8
#define BATON_FSM_MAX_REGIONS 16
#define BATON_FSM_MAX_STEPS 32
#define BATON_FSM_MAX_AFTER 8
#define BATON_FSM_MAX_OBSERVERS 8
#define BATON_FSM_MAX_MEMBERS 8
#define BATON_FSM_MAX_AUTO 16
#define BATON_FSM_MAX_NONCES 4096
#define BATON_FSM_MAX_PENDING 16
#define BATON_FSM_PENDING_BODY 2048
/* The largest entry apply() will decode; larger ones are rejected unread. */
#define BATON_FSM_MAX_ENTRY (1u << 20)
/* How many applied command ids are remembered for deduplication. Retries come
 * within seconds of the first attempt; 10,000 entries is hours of traffic. */
#define BATON_FSM_DEDUPE_WINDOW 10000

/* Result codes of a command (in baton_fsm_result.code). */
enum baton_fsm_code {
	BATON_FSM_OK = 0,
	BATON_FSM_DUPLICATE = 1,     /* cmd_id seen before; result is the first one's */
	BATON_FSM_STALE_EPOCH = 2,   /* expect_epoch != epoch */
	BATON_FSM_BUSY = 3,          /* a transition is already running */
	BATON_FSM_UNKNOWN = 4,       /* unknown group / region / transition / step */
	BATON_FSM_INVALID = 5,       /* malformed or inconsistent command */
	BATON_FSM_CONFLICT = 6,      /* cluster config mismatch */
	BATON_FSM_REPLAY = 7,        /* nonce seen before */
	BATON_FSM_DENIED = 8,        /* signature, key, authorization, cluster or validity check failed */
	BATON_FSM_PENDING = 9,       /* accepted; waits for a second operator's approval */
};
const char *baton_fsm_code_name(int code);

struct baton_fsm_result {
	int code;                    /* enum baton_fsm_code */
	char message[BATON_TEXT_MAX];
	uint64_t epoch;              /* the group's epoch after the command */
	uint64_t index;              /* raft index of the entry */
	char cmd_id[BATON_NAME_MAX];
};

struct baton_step_state {
	char name[BATON_NAME_MAX];
	char driver[32];
	char region[BATON_NAME_MAX];
	char after[BATON_FSM_MAX_AFTER][BATON_NAME_MAX];
	unsigned n_after;
	bool idempotent;
	int state;                   /* BATON__STEP_STATE__* */
	unsigned attempts;
	char error[BATON_TEXT_MAX];
	uint64_t started_at_ms, ended_at_ms, duration_ms;
	char output[BATON_OUTPUT_MAX];
};

struct baton_transition_state {
	char id[BATON_NAME_MAX];
	int kind;                    /* BATON__TRANSITION_KIND__* */
	char from[BATON_NAME_MAX], to[BATON_NAME_MAX];
	char reason[BATON_TEXT_MAX];
	char by[BATON_NAME_MAX];
	int state;                   /* BATON__TRANSITION_STATE__* */
	bool drill;
	uint64_t epoch;
	uint64_t started_at_ms, ended_at_ms;
	struct baton_step_state steps[BATON_FSM_MAX_STEPS];
	unsigned n_steps;
};

struct baton_observation_state {
	uint32_t observer;
	bool down;
	uint64_t since_index;
	char detail[BATON_TEXT_MAX];
};

struct baton_region_state {
	char name[BATON_NAME_MAX];
	uint32_t priority;
	struct baton_observation_state obs[BATON_FSM_MAX_OBSERVERS];
	unsigned n_obs;
	bool has_health;
	bool critical, reporters_ok;
	uint64_t lag_bytes, lag_ms, health_index; /* health_index: raft index of the last critical/reporters change */
	int rejoin_phase;                  /* BATON__REJOIN_PHASE__* */
	uint64_t rejoin_epoch, rejoin_at_ms;
	char rejoin_detail[BATON_TEXT_MAX];
	char rejoin_by[BATON_NAME_MAX + 32];
	char health_detail[BATON_TEXT_MAX];
};

struct baton_group_state {
	char name[BATON_NAME_MAX];
	uint64_t epoch;
	char active[BATON_NAME_MAX];       /* "" before the first activation */
	char previous[BATON_NAME_MAX];     /* active region before the last move */
	bool frozen;
	char frozen_by[BATON_NAME_MAX];
	char frozen_reason[BATON_TEXT_MAX];
	bool has_transition;               /* tr holds the current or last transition */
	struct baton_transition_state tr;
	uint64_t auto_failovers_ms[BATON_FSM_MAX_AUTO];
	unsigned n_auto;
	struct baton_region_state regions[BATON_FSM_MAX_REGIONS];
	unsigned n_regions;
};

struct baton_nonce {
	uint8_t nonce[32];
	size_t len;
	uint64_t expires_at_ms;
};

/* A dangerous command waiting for a second operator. */
struct baton_pending {
	char id[17];                       /* hex of the nonce's first 8 bytes */
	uint8_t body[BATON_FSM_PENDING_BODY];
	size_t body_len;
	char key_id[17];
	char signer[64];
	uint64_t expires_at_ms;
};

/* Everything the FSM knows, except the history and the dedupe table, which
 * live only in LMDB (they grow). */
struct baton_fsm_state {
	uint64_t applied_index;
	uint64_t generation;
	char conf_hash[65];
	uint64_t history_next;             /* seq of the next history event */
	struct baton_group_state groups[BATON_FSM_MAX_GROUPS];
	unsigned n_groups;
	struct {
		uint32_t id;
		bool reachable;
	} reach[BATON_FSM_MAX_MEMBERS];
	unsigned n_reach;
	struct baton_nonce nonces[BATON_FSM_MAX_NONCES];
	unsigned n_nonces;
	struct baton_pending pending[BATON_FSM_MAX_PENDING];
	unsigned n_pending;
};

struct baton_store;
struct baton_opkeys;

struct baton_fsm {
	struct baton_fsm_state *st;        /* heap: ~1 MiB */
	struct baton_store *store;         /* NULL = memory only (tests, fuzz) */
	struct baton_fsm_result last;      /* result of the most recent apply */
	char errmsg[BATON_TEXT_MAX];       /* why the last call failed (storage) */
	/* Called after every applied command (not for skipped replays), for the
	 * node to react (e.g. wake the plan executor). Optional. */
	void (*on_apply)(void *data, const struct baton_fsm_result *res, const Baton__Command *cmd);
	void *on_apply_data;
	/* Operator keys from the agreed cluster config (NULL: operator
	 * commands are denied). Identical on every node, like the config. */
	const struct baton_opkeys *opkeys;
};

/* Whether @nonce is in the replay set (the leader checks before proposing). */
bool baton_fsm_nonce_seen(const struct baton_fsm *f, const uint8_t *nonce, size_t len);
const struct baton_pending *baton_fsm_pending(const struct baton_fsm *f, const char *id);

/* Open the FSM over @dir/state.mdb (created if missing); @dir NULL = memory
 * only. Loads the persisted state. Returns 0 or a negative errno with errmsg
 * set (e.g. "lmdb open '/x/state.mdb': Permission denied"). */
int baton_fsm_open(struct baton_fsm *f, const char *dir, char *errbuf, size_t errlen);
void baton_fsm_close(struct baton_fsm *f);
/* Forget everything (memory and LMDB); used when the raft log is new but an
 * old LMDB view is present. */
int baton_fsm_reset(struct baton_fsm *f);

/* Apply the entry at @index. Returns 0 (see f->last for the outcome; commands
 * that are rejected still return 0) or a negative errno on a storage failure,
 * which the caller must treat as fatal. Entries at or below the applied index
 * are skipped with result code BATON_FSM_DUPLICATE. */
int baton_fsm_apply(struct baton_fsm *f, uint64_t index, const void *buf, size_t len);

/* Serialize the whole state (history included) for a raft snapshot taken at
 * @index. *ret_buf is malloc'd. */
int baton_fsm_snapshot(struct baton_fsm *f, uint64_t index, void **ret_buf, size_t *ret_len);
/* Replace the state with a snapshot's, unless the local state is already at
 * or past it (then the snapshot is older than what LMDB holds: keep LMDB). */
int baton_fsm_restore(struct baton_fsm *f, const void *buf, size_t len);

/* Lookups. NULL group name = the only / first group. */
const struct baton_group_state *baton_fsm_group(const struct baton_fsm *f, const char *name);
const struct baton_region_state *baton_fsm_region(const struct baton_group_state *g, const char *name);

/* History: call @fn for each event with seq >= @since, up to @limit events,
 * newest last. The event is only valid during the call. */
int baton_fsm_history(struct baton_fsm *f, uint64_t since, unsigned limit,
		      void (*fn)(void *data, const Baton__HistoryEvent *ev), void *data);

/* Serialize a command for proposing; cmd_id must be set (-EINVAL if not).
 * The result is framed: "BTN" + format byte, u32 LE payload length, the
 * protobuf payload, zero padding to a multiple of 8 bytes (libraft 0.15's uv
 * backend needs 8-byte entries: canonical/raft#189). *ret_buf is malloc'd. */
int baton_fsm_encode(const Baton__Command *cmd, void **ret_buf, size_t *ret_len);
/* Decode with the size limit; errors name the reason. Free with
 * baton__command__free_unpacked(cmd, NULL). */
Baton__Command *baton_fsm_decode(const void *buf, size_t len, char *errbuf, size_t errlen);

#endif
