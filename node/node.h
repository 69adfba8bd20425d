/* SPDX-License-Identifier: MIT */
/* batond / baton-witness: one coordinator process on one libuv loop.
 *
 * Data flow: HTTP API and timers -> decisions -> proposals through the raft
 * member -> FSM apply -> reactions (on_apply). The node owns the loop, the
 * config, the FSM, the raft member and the HTTP server. */
#ifndef BATON_NODE_H
#define BATON_NODE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "coord.h"
#include "detect.h"
#include "exec.h"
#include "health.h"
#include "fsm.h"
#include "http_client.h"
#include "http_server.h"
#include "member.h"
#include "opcmd.h"
#include "util.h"

#define BATON_EXIT_CONFIG 78 /* EX_CONFIG: bad or mismatched configuration */

struct baton_node {
	uv_loop_t *loop;
	struct baton_config cfg;
	char cluster_hash[65];
	bool witness;
	struct baton_fsm fsm;
	struct baton_member member;
	struct baton_http_server http;
	struct baton_http_client http_client;
	struct baton_detect detect;
	bool http_client_inited, detect_inited;
	/* coordination (coord.c) */
	struct baton_coord_group groups[BATON_MAX_GROUPS];
	uint64_t leader_since_ms;     /* mono: when this node last became a ready leader */
	bool obs_inflight[BATON_MAX_REGIONS];
	bool health_inflight;
	struct baton_health health;
	bool exec_ending;
	struct exec_step *exec_steps;  /* steps in flight (exec.c) */
	bool rejoin_running[BATON_MAX_GROUPS];
	/* operator commands (commands.c) */
	struct baton_opkeys opkeys;
	uint64_t audit_window_ms;
	unsigned audits_in_window;
	uint64_t cmd_outcomes[16];      /* by outcome index, see commands.c */
	/* peer requests (peer.c) */
	bool have_peer_key;
	uint8_t peer_key[32];
	uint64_t peer_seq;
	uint64_t peer_last_seq[256];  /* by sender id */
	uv_signal_t sigterm, sigint;
	uv_timer_t tick;
	uv_timer_t exec_kick;       /* an executor pass right after a step or transition commits */
	bool exec_kick_inited;
	uv_timer_t stop_timer;      /* deferred stop from inside raft callbacks */
	int lock_fd;
	uint64_t started_ms;
	bool member_inited, http_inited;
	bool stopping, stop_requested;
	int exit_code;
	unsigned pending_closes;
	/* leader duties, reset at every new term */
	uint64_t duties_term;
	bool config_done, config_pending, activate_pending, reach_pending;
	/* readiness reported to systemd */
	bool notified_ready;
	char last_status[160];
	uint64_t watchdog_ms, last_watchdog_ms;
	/* loop latency: how late a 100 ms timer fires (a blocked loop shows here) */
	uv_timer_t lag_timer;
	uint64_t lag_expected_ms, lag_max_ms, lag_last_ms;
	/* a forced reconfiguration waiting to be recorded (recover.c) */
	Baton__Recovery *recovery;
	bool recovery_proposing;
};

/* Run the holder's duties and (on the leader) the executor on the next loop
 * turn rather than at the next tick. */
void baton_node_kick_exec(struct baton_node *n);
/* Initialise @cmd for proposing: a fresh cmd_id in @id, proposer and time. */
void baton_node_cmd_init(struct baton_node *n, Baton__Command *cmd, char id[BATON_ID_LEN], const char *group);

/* Parse argv, run until stopped, return the process exit code. */
int baton_node_main(int argc, char **argv, bool witness);

/* Create, lock (held in n->lock_fd) and write-probe the data dir. */
int baton_node_prepare_data_dir(struct baton_node *n, const char *dir, char *err, size_t errlen);
/* The raft member options from the config; @raft_dir receives the raft path. */
void baton_node_member_opts(const struct baton_node *n, struct baton_member_opts *mo, char *raft_dir, size_t len);

/* Forced reconfiguration (recover.c): `--recover FILE1 FILE2` with the node
 * stopped; then, running, the marker it left is committed by the first leader. */
int baton_node_recover_offline(struct baton_node *n, char *const files[], unsigned n_files, char *err, size_t errlen);
void baton_node_recover_load(struct baton_node *n);
void baton_node_recover_tick(struct baton_node *n);
void baton_node_recover_done(struct baton_node *n);

/* Operator commands (commands.c). */
extern const char *const baton_cmd_outcomes[];
void baton_commands_handle(struct baton_node *n, struct baton_http_exchange *ex, const struct baton_http_request *req);
void baton_plan_handle(struct baton_node *n, struct baton_http_exchange *ex, const struct baton_http_request *req,
		       bool (*param)(const char *query, const char *key, char *out, size_t outlen));

/* HTTP API (api.c). */
void baton_api_handle(void *ctx, struct baton_http_exchange *ex, const struct baton_http_request *req);
/* Whether this node may answer for the cluster's state: a ready leader, or
 * a follower that hears a leader and has applied what it knows is committed. */
bool baton_node_caught_up(struct baton_node *n);
/* The member config of the current leader, or NULL. */
const struct baton_member_config *baton_node_leader(struct baton_node *n);

#endif
