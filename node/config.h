/* SPDX-License-Identifier: MIT */
/* The configuration file of batond and baton-witness: one YAML file per node,
 * with a `cluster:` section that is identical on every node and a `node:`
 * section for this host.
 *
 * Every key is one line of the table in config.c (path, type, default, bounds,
 * required, one-line doc), walked by lib/conftab.c. The table drives parsing,
 * validation, defaults, baton_config_dump(), the cluster hash and the key
 * reference in docs/configuration.md (regenerate it with `ninja -C <build>
 * config-doc`; the unit test fails when the doc and the table disagree).
 * Rules that tie several keys together (heartbeat vs election timeout, unique
 * member ids, regions that have members, node.id is a member, ...) are
 * checked after the table, in config.c (plans and steps: config_plan.c).
 *
 * Adding a key: a field in the struct below plus one line in the table.
 *
 * Loading stops at the first problem and describes it as
 * "<file>:<line>: <key.path>: <problem>", e.g.
 *   /etc/baton/baton.yaml:14: cluster.raft.heartbeat_ms: must be at most election_timeout_ms/5 (200), got 300
 *   /etc/baton/baton.yaml:7: cluster.raft.hearbeat_ms: unknown key (did you mean 'heartbeat_ms'?)
 * List entries are numbered from 0: cluster.members[2].api.
 *
 * Values may use ${VAR} and ${VAR:-default} (lib/conftab.h), except step
 * params, which are taken verbatim. */
#ifndef BATON_NODE_CONFIG_H
#define BATON_NODE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/conftab.h"
#include "lib/log.h"

#define BATON_MAX_MEMBERS 8
#define BATON_MAX_REGIONS 16
#define BATON_MAX_GROUPS 8
#define BATON_NAME_LEN 64  /* names: 1..63 chars [a-z0-9-] + NUL */
#define BATON_ADDR_LEN 22  /* "255.255.255.255:65535" + NUL */
#define BATON_PATH_LEN 256 /* node.data_dir */

struct baton_raft_config {
	uint64_t election_timeout_ms;
	uint64_t heartbeat_ms;       /* 5 * heartbeat_ms <= election_timeout_ms */
	uint64_t snapshot_threshold; /* entries between snapshots */
	uint64_t snapshot_trailing;  /* entries kept behind a snapshot */
	uint64_t connect_retry_ms;
};

struct baton_member_config {
	unsigned id;                 /* raft server id, 1..255, unique */
	char name[BATON_NAME_LEN];   /* unique */
	char region[BATON_NAME_LEN]; /* a cluster.regions name; "" for a witness */
	bool witness;
	char raft[BATON_ADDR_LEN];   /* "a.b.c.d:port", raft peer transport */
	char api[BATON_ADDR_LEN];    /* "a.b.c.d:port", HTTP API */
};

#define BATON_MAX_PROBES 8
#define BATON_URL_LEN 256

enum baton_probe_type { BATON_PROBE_HTTP, BATON_PROBE_TCP };

#define BATON_MAX_KV 16
#define BATON_KV_KEY_LEN 32
#define BATON_KV_VALUE_LEN 256
struct baton_kv {
	char key[BATON_KV_KEY_LEN];
	char value[BATON_KV_VALUE_LEN];
};
struct baton_kv_list {
	struct baton_kv items[BATON_MAX_KV];
	unsigned n;
};
const char *baton_kv_get(const struct baton_kv_list *l, const char *key);
/* Whether @p starts a template reference: '{' [a-z0-9_.]+ '}'; its length
 * (without braces) in *ret_len. Other braces are literal text. */
bool baton_template_ref(const char *p, size_t *ret_len);

#define BATON_MAX_PLAN_STEPS 16
#define BATON_MAX_FENCE_STEPS 4

/* One step of a plan (or of a region's self-fence). Parameter values may
 * refer to {from.VAR}, {to.VAR}, {self.VAR} (region vars), {from}, {to},
 * {epoch}, {group}, {step}, {drill}; the executor expands them per attempt. */
struct baton_step_config {
	char name[BATON_NAME_LEN];
	char driver[32];
	char after[BATON_KV_VALUE_LEN];  /* comma-separated step names */
	struct baton_kv_list params;
	uint64_t timeout_ms;             /* the whole step, all attempts */
	uint64_t attempt_timeout_ms;
	uint64_t max_attempts;
	uint64_t backoff_ms;             /* first retry delay; doubles, with jitter */
	char kinds[BATON_KV_VALUE_LEN];  /* "" = every kind; else e.g. "switchover,failback" */
	bool continue_if_unreachable;    /* target unreachable after all attempts: done, covered by the lease */
};

/* An external check of a region's public endpoint, run by every coordinator
 * and the witness. */
struct baton_probe_config {
	unsigned type;               /* enum baton_probe_type */
	char url[BATON_URL_LEN];     /* http */
	char address[BATON_ADDR_LEN];/* tcp */
	uint64_t expect_status;      /* http: the status that means healthy */
};

struct baton_region_config {
	char name[BATON_NAME_LEN];
	unsigned priority;           /* 0..1000; 0 = never chosen by automatic failover */
	struct baton_probe_config probes[BATON_MAX_PROBES];
	unsigned n_probes;
	struct baton_kv_list vars;   /* values plan steps refer to as {from.x}/{to.x}/{self.x} */
	struct baton_step_config self_fence[BATON_MAX_FENCE_STEPS];
	unsigned n_self_fence;
	struct baton_step_config unfence[BATON_MAX_FENCE_STEPS]; /* lease granted again after a self-fence */
	unsigned n_unfence;
	struct baton_step_config rejoin[BATON_MAX_FENCE_STEPS]; /* "reverse": {from} = this region, {to} = active */
	unsigned n_rejoin;
};

struct baton_detection_config {
	uint64_t probe_interval_ms;
	uint64_t probe_timeout_ms;   /* < probe_interval_ms */
	uint64_t down_after_ms;      /* failing this long -> subjectively down */
	uint64_t up_after_ms;        /* passing this long -> up again */
	uint64_t observer_quorum;    /* 0 = a majority of the members */
	uint64_t report_max_age_ms;  /* older health reports are rejected as stale */
	uint64_t report_max_skew_ms; /* reports from further in the future are rejected */
	uint64_t reporter_timeout_ms;/* no accepted report for this long -> reporters lost */
};

struct baton_lease_config {
	uint64_t ttl_ms;
	uint64_t max_drift_percent;  /* bound on clock-rate difference between two nodes */
	uint64_t margin_ms;          /* added to the wait; covers self-fence duration */
};

struct baton_failover_config {
	uint64_t failover_after_ms;  /* objectively down this long before failing over */
	uint64_t cooldown_ms;        /* between automatic failovers */
	uint64_t max_lag_bytes;      /* RPO guard: candidates further behind are skipped */
	uint64_t max_lag_ms;
	uint64_t flap_window_ms;
	uint64_t flap_max;           /* this many automatic failovers in the window freezes */
	bool require_reporters;      /* candidates need fresh reports from their reporters */
};

struct baton_group_config {
	char name[BATON_NAME_LEN];
	char initial_active[BATON_NAME_LEN]; /* a cluster.regions name */
};

#define BATON_MAX_OPERATORS 16

/* An operator key allowed to sign commands (batonctl keygen prints the entry). */
struct baton_operator_config {
	char name[BATON_NAME_LEN];
	char public_key[65];         /* Ed25519, 64 hex chars */
	char operations[BATON_KV_VALUE_LEN]; /* comma-separated ops, or "all" */
};

struct baton_commands_config {
	uint64_t max_validity_ms;    /* expires_at - issued_at may not exceed this */
	uint64_t max_skew_ms;        /* issued_at may be this far in the future */
};

struct baton_cluster_config {
	char id[BATON_NAME_LEN];
	uint64_t generation;
	struct baton_raft_config raft;
	struct baton_member_config members[BATON_MAX_MEMBERS];
	unsigned n_members;          /* >= 1 */
	struct baton_region_config regions[BATON_MAX_REGIONS];
	unsigned n_regions;          /* >= 1, each with >= 1 non-witness member */
	struct baton_group_config groups[BATON_MAX_GROUPS];
	unsigned n_groups;           /* >= 1 (a "default" group if the file has none) */
	struct baton_detection_config detection;
	struct baton_lease_config lease;
	struct baton_failover_config failover;
	struct baton_step_config plan[BATON_MAX_PLAN_STEPS];
	unsigned n_plan;
	struct baton_operator_config operators[BATON_MAX_OPERATORS];
	unsigned n_operators;
	struct baton_commands_config commands;
};

struct baton_node_config {
	unsigned id;                 /* a cluster member id */
	char data_dir[BATON_PATH_LEN];
	enum baton_log_level log_level; /* debug .. error */
	/* Effective bind addresses: the file's override, else this member's
	 * cluster address (so never empty after a successful load). */
	char api_listen[BATON_ADDR_LEN];
	char raft_bind[BATON_ADDR_LEN];
	char report_key_file[BATON_PATH_LEN]; /* this region's reporter key; "" = reports refused */
	char peer_key_file[BATON_PATH_LEN];   /* cluster-wide key for coordinator RPCs; "" = unauthenticated */
};

struct baton_config {
	struct baton_cluster_config cluster;
	struct baton_node_config node;
	/* This node's member entry: points into @cluster.members. A copy of the
	 * struct must re-point it: c2.self = baton_config_member(&c2.cluster, c2.node.id). */
	const struct baton_member_config *self;
};

/* Read, parse and validate @path into *@ret (written only on success).
 * Returns 0; -EINVAL for any problem with the content; -ENOENT, -EACCES, ...
 * when the file cannot be read ("/x.yaml: cannot open: No such file or
 * directory"); -EFBIG over 1 MiB. @errbuf gets one line, no trailing newline. */
int baton_config_load(const char *path, struct baton_config *ret, char *errbuf, size_t errlen);

/* The same for @len bytes of @yaml; @name stands for the file name in messages.
 * For tests and the fuzz target. */
int baton_config_load_string(const char *name, const char *yaml, size_t len,
			     struct baton_config *ret, char *errbuf, size_t errlen);

/* Lowercase hex sha256 of a canonical serialization of @c: every key of the
 * cluster section, defaults included, in table order, lists in file order.
 * Formatting, comments, key order and spelling of equal values (2s vs 2000)
 * do not change it; any change of a value, or of the order of list entries,
 * does. Nodes compare it to detect diverging cluster sections. */
void baton_config_cluster_hash(const struct baton_cluster_config *c, char out[65]);

/* The member with @id / the region named @name, or NULL. */
const struct baton_member_config *baton_config_member(const struct baton_cluster_config *c,
						      unsigned id);
const struct baton_region_config *baton_config_region(const struct baton_cluster_config *c,
						      const char *name);

/* The effective configuration (defaults filled in) as YAML that loads back to
 * the same values, headed by the cluster hash; for `batond --check-config -v`. */
void baton_config_dump(const struct baton_config *c, FILE *f);

/*
 * The key table: lib/conftab.h's keys and types, plus two types of its own.
 */

enum baton_config_type {
	BATON_CONFIG_URL = BATON_CONF_CUSTOM, /* http:// or https:// URL without spaces, up to max chars */
	BATON_CONFIG_MAP,      /* a map of [a-z0-9_] keys to scalar values (struct baton_kv_list) */
};

/* Every key the file may contain, in table order (parents before children). */
const struct baton_conftab_key *baton_config_keys(size_t *ret_n);

/* "section", "list", "integer", "duration", "bool", "name", "path", "address", "choice", ... */
const char *baton_config_type_name(int type);

/* The key reference of docs/configuration.md (a Markdown table), from the table. */
void baton_config_write_reference(FILE *f);

#endif
