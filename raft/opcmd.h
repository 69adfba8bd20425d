/* SPDX-License-Identifier: MIT */
/* Signed operator commands: the authorized keys, the envelope check, and the
 * operation names. Pure: the same bytes and the same "now" give the same
 * verdict, so the leader (with its clock) and the FSM (with the entry's
 * proposer time) apply one rule. The nonce check is the FSM's (its state). */
#ifndef BATON_OPCMD_H
#define BATON_OPCMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton.pb-c.h"

#define BATON_OPKEY_ID_LEN 17     /* 16 hex + NUL */
#define BATON_OPCMD_MAX_BYTES (64 * 1024)
#define BATON_OPCMD_MAX_KEYS 32

enum baton_op {
	BATON_OP_SWITCHOVER,
	BATON_OP_FAILOVER,
	BATON_OP_FAILBACK,
	BATON_OP_FREEZE,
	BATON_OP_UNFREEZE,
	BATON_OP_DRILL,
	BATON_OP_RETRY_STEP,
	BATON_OP_SKIP_STEP,
	BATON_OP_APPROVE,
	BATON_OP_REVERSE,          /* the old primary's region rejoins as a replica of the active one */
	BATON_OP_RECOVER,          /* forced reconfiguration after losing a majority: offline, two keys */
	BATON_OP_NR
};
const char *baton_op_name(int op);
int baton_op_parse(const char *s);   /* -1 if unknown */
/* Needs a second operator's approval: failover --force, skip-step. */
bool baton_op_dangerous(const Baton__CommandBody *b);
const char *baton_op_arg(const Baton__CommandBody *b, const char *key); /* NULL if absent */

enum baton_opcmd_verdict {
	BATON_OPCMD_OK,
	BATON_OPCMD_MALFORMED,
	BATON_OPCMD_UNKNOWN_KEY,
	BATON_OPCMD_BAD_SIGNATURE,
	BATON_OPCMD_NOT_AUTHORIZED,
	BATON_OPCMD_WRONG_CLUSTER,
	BATON_OPCMD_EXPIRED,
	BATON_OPCMD_FUTURE,
	BATON_OPCMD_TOO_LONG,
	BATON_OPCMD_UNKNOWN_OP,
	BATON_OPCMD_VERDICT_NR
};
/* "ok", "malformed", "unknown-key", "bad-signature", "not-authorized",
 * "wrong-cluster", "expired", "issued-in-the-future", "validity-too-long",
 * "unknown-operation" */
const char *baton_opcmd_verdict_name(int v);

struct baton_opkey {
	char key_id[BATON_OPKEY_ID_LEN];
	char name[64];
	uint8_t pk[32];
	uint32_t ops;              /* bit per enum baton_op */
};

struct baton_opkeys {
	struct baton_opkey keys[BATON_OPCMD_MAX_KEYS];
	unsigned n;
	char cluster_id[64];
	uint64_t max_validity_ms, max_skew_ms;
};

/* The key id of a public key: hex of the first 8 bytes of
 * SHA-256("baton-operator-key" || 0 || pk). */
void baton_opkey_id(const uint8_t pk[32], char out[BATON_OPKEY_ID_LEN]);
/* Add a key from config: 64 hex chars and an operations list ("all" or
 * comma-separated names). -EINVAL with a reason on bad input. */
int baton_opkeys_add(struct baton_opkeys *k, const char *name, const char *pk_hex, const char *ops, char *err,
		     size_t errlen);
const struct baton_opkey *baton_opkeys_find(const struct baton_opkeys *k, const char *key_id);

/* Check @env as of @now_ms: decodes the body, finds the key, verifies the
 * Ed25519 signature over the body bytes, the cluster id, the validity window
 * and the key's authorization for the operation. On OK *ret_body (free with
 * baton__command_body__free_unpacked) and *ret_key are set. errbuf says what
 * was wrong in words an operator can act on. */
int baton_opcmd_verify(const struct baton_opkeys *k, const Baton__SignedEnvelope *env, uint64_t now_ms,
		       const struct baton_opkey **ret_key, Baton__CommandBody **ret_body, char *errbuf, size_t errlen);

/* The two envelopes of a forced reconfiguration (`batonctl recover`, given to
 * `batond --recover` on each surviving member and committed afterwards as a
 * Recovery entry). Both must verify as of @now_ms as op "recover", be signed by
 * two different authorized keys and name the same non-empty "voters" list.
 * On success @voters receives that list and @by "name1+name2"; otherwise the
 * reason, naming the envelope (1 or 2), is in @errbuf and the verdict of the
 * failing envelope (or MALFORMED for a mismatch between them) is returned. The
 * caller checks the nonces, copied to @nonces. */
int baton_recovery_verify(const struct baton_opkeys *k, Baton__SignedEnvelope *const *envs, size_t n_envs,
			  uint64_t now_ms, char *voters, size_t voters_len, char *by, size_t by_len,
			  uint8_t nonces[2][32], size_t nonce_lens[2], char *errbuf, size_t errlen);

#endif
