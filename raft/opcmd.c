/* SPDX-License-Identifier: MIT */
/* Operator command verification; see opcmd.h. */
#include "opcmd.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static const char *const op_names[BATON_OP_NR] = {
	[BATON_OP_SWITCHOVER] = "switchover", [BATON_OP_FAILOVER] = "failover",   [BATON_OP_FAILBACK] = "failback",
	[BATON_OP_FREEZE] = "freeze",         [BATON_OP_UNFREEZE] = "unfreeze",   [BATON_OP_DRILL] = "drill",
	[BATON_OP_RETRY_STEP] = "retry-step", [BATON_OP_SKIP_STEP] = "skip-step", [BATON_OP_APPROVE] = "approve",
	[BATON_OP_REVERSE] = "reverse",       [BATON_OP_RECOVER] = "recover",
};

const char *baton_op_name(int op)
{
	return op >= 0 && op < BATON_OP_NR ? op_names[op] : "?";
}

int baton_op_parse(const char *s)
{
	for (int i = 0; s != NULL && i < BATON_OP_NR; i++)
		if (strcmp(s, op_names[i]) == 0)
			return i;
	return -1;
}

const char *baton_op_arg(const Baton__CommandBody *b, const char *key)
{
	for (size_t i = 0; i < b->n_args; i++)
		if (b->args[i]->key != NULL && strcmp(b->args[i]->key, key) == 0)
			return b->args[i]->value;
	return NULL;
}

bool baton_op_dangerous(const Baton__CommandBody *b)
{
	int op = baton_op_parse(b->op);
	const char *force = baton_op_arg(b, "force");

	return op == BATON_OP_SKIP_STEP || (op == BATON_OP_FAILOVER && force != NULL && strcmp(force, "true") == 0);
}

static const char *const verdict_names[BATON_OPCMD_VERDICT_NR] = {
	"ok", "malformed", "unknown-key", "bad-signature", "not-authorized", "wrong-cluster", "expired",
	"issued-in-the-future", "validity-too-long", "unknown-operation",
};

const char *baton_opcmd_verdict_name(int v)
{
	return v >= 0 && v < BATON_OPCMD_VERDICT_NR ? verdict_names[v] : "?";
}

void baton_opkey_id(const uint8_t pk[32], char out[BATON_OPKEY_ID_LEN])
{
	static const char tag[] = "baton-operator-key"; /* with its NUL */
	uint8_t d[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state st;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)tag, sizeof tag);
	crypto_hash_sha256_update(&st, pk, 32);
	crypto_hash_sha256_final(&st, d);
	baton_hex(out, d, 8);
}

int baton_opkeys_add(struct baton_opkeys *k, const char *name, const char *pk_hex, const char *ops, char *err,
		     size_t errlen)
{
	struct baton_opkey *key;
	size_t bin_len;
	char buf[256], *save = NULL;

	if (k->n == BATON_OPCMD_MAX_KEYS) {
		snprintf(err, errlen, "more than %d operator keys", BATON_OPCMD_MAX_KEYS);
		return -EINVAL;
	}
	key = &k->keys[k->n];
	memset(key, 0, sizeof *key);
	if (strlen(pk_hex) != 64 || sodium_hex2bin(key->pk, sizeof key->pk, pk_hex, 64, NULL, &bin_len, NULL) != 0 ||
	    bin_len != 32) {
		snprintf(err, errlen, "operator '%s': public_key must be 64 hex characters", name);
		return -EINVAL;
	}
	baton_strlcpy(key->name, name, sizeof key->name);
	baton_opkey_id(key->pk, key->key_id);
	if (baton_opkeys_find(k, key->key_id) != NULL) {
		snprintf(err, errlen, "operator '%s': the same public key is listed twice", name);
		return -EINVAL;
	}
	baton_strlcpy(buf, ops, sizeof buf);
	for (char *t = strtok_r(buf, ", ", &save); t != NULL; t = strtok_r(NULL, ", ", &save)) {
		int op = baton_op_parse(t);
		if (strcmp(t, "all") == 0) {
			key->ops = (1u << BATON_OP_NR) - 1;
		} else if (op < 0) {
			snprintf(err, errlen, "operator '%s': unknown operation '%s'", name, t);
			return -EINVAL;
		} else {
			key->ops |= 1u << op;
		}
	}
	k->n++;
	return 0;
}

const struct baton_opkey *baton_opkeys_find(const struct baton_opkeys *k, const char *key_id)
{
	for (unsigned i = 0; key_id != NULL && i < k->n; i++)
		if (strcmp(k->keys[i].key_id, key_id) == 0)
			return &k->keys[i];
	return NULL;
}

int baton_opcmd_verify(const struct baton_opkeys *k, const Baton__SignedEnvelope *env, uint64_t now_ms,
		       const struct baton_opkey **ret_key, Baton__CommandBody **ret_body, char *errbuf, size_t errlen)
{
	const struct baton_opkey *key;
	Baton__CommandBody *b;
	int op, v = BATON_OPCMD_OK;

	if (env->body.len > BATON_OPCMD_MAX_BYTES || env->key_id == NULL) {
		snprintf(errbuf, errlen, "command envelope is oversized or has no key id");
		return BATON_OPCMD_MALFORMED;
	}
	key = baton_opkeys_find(k, env->key_id);
	if (key == NULL) {
		snprintf(errbuf, errlen, "key %s is not an authorized operator key of this cluster", env->key_id);
		return BATON_OPCMD_UNKNOWN_KEY;
	}
	if (env->signature.len != crypto_sign_BYTES ||
	    crypto_sign_verify_detached(env->signature.data, env->body.data, env->body.len, key->pk) != 0) {
		snprintf(errbuf, errlen, "bad signature: the command was not signed by key %s (%s), or was changed",
			 key->key_id, key->name);
		return BATON_OPCMD_BAD_SIGNATURE;
	}
	b = baton__command_body__unpack(NULL, env->body.len, env->body.data);
	if (b == NULL) {
		snprintf(errbuf, errlen, "signed body is not a valid baton.CommandBody");
		return BATON_OPCMD_MALFORMED;
	}
	op = baton_op_parse(b->op);
	if (strcmp(b->cluster_id, k->cluster_id) != 0) {
		snprintf(errbuf, errlen, "command is for cluster '%s', this is '%s'", b->cluster_id, k->cluster_id);
		v = BATON_OPCMD_WRONG_CLUSTER;
	} else if (op < 0) {
		snprintf(errbuf, errlen, "unknown operation '%s'", b->op);
		v = BATON_OPCMD_UNKNOWN_OP;
	} else if (!(key->ops & (1u << op))) {
		snprintf(errbuf, errlen, "key %s (%s) is not authorized for '%s'", key->key_id, key->name, b->op);
		v = BATON_OPCMD_NOT_AUTHORIZED;
	} else if (b->expires_at_ms < b->issued_at_ms) {
		snprintf(errbuf, errlen, "command expires before it was issued");
		v = BATON_OPCMD_TOO_LONG;
	} else if (b->expires_at_ms - b->issued_at_ms > k->max_validity_ms) {
		snprintf(errbuf, errlen, "command is valid for %" PRIu64 " s; at most %" PRIu64 " s is accepted",
			 (b->expires_at_ms - b->issued_at_ms) / 1000, k->max_validity_ms / 1000);
		v = BATON_OPCMD_TOO_LONG;
	} else if (b->issued_at_ms > now_ms + k->max_skew_ms) {
		snprintf(errbuf, errlen, "command is issued %" PRIu64 " ms in the future (clock skew above %" PRIu64
			 " ms): check the operator's clock", b->issued_at_ms - now_ms, k->max_skew_ms);
		v = BATON_OPCMD_FUTURE;
	} else if (b->expires_at_ms < now_ms) {
		snprintf(errbuf, errlen, "command expired %" PRIu64 " s ago", (now_ms - b->expires_at_ms) / 1000);
		v = BATON_OPCMD_EXPIRED;
	} else if (b->nonce.len < 16 || b->nonce.len > 32) {
		snprintf(errbuf, errlen, "nonce must be 16 to 32 bytes");
		v = BATON_OPCMD_MALFORMED;
	}
	if (v != BATON_OPCMD_OK) {
		baton__command_body__free_unpacked(b, NULL);
		return v;
	}
	*ret_key = key;
	*ret_body = b;
	return BATON_OPCMD_OK;
}

int baton_recovery_verify(const struct baton_opkeys *k, Baton__SignedEnvelope *const *envs, size_t n_envs,
			  uint64_t now_ms, char *voters, size_t voters_len, char *by, size_t by_len,
			  uint8_t nonces[2][32], size_t nonce_lens[2], char *errbuf, size_t errlen)
{
	const struct baton_opkey *keys[2] = {NULL, NULL};
	Baton__CommandBody *b[2] = {NULL, NULL};
	char why[256];
	const char *v[2];
	int rv = BATON_OPCMD_OK;

	if (n_envs != 2 || envs == NULL || envs[0] == NULL || envs[1] == NULL) {
		snprintf(errbuf, errlen, "a recovery needs exactly two signed recover commands, by two operators "
					 "(got %zu)", n_envs);
		return BATON_OPCMD_MALFORMED;
	}
	for (unsigned i = 0; i < 2 && rv == BATON_OPCMD_OK; i++) {
		rv = baton_opcmd_verify(k, envs[i], now_ms, &keys[i], &b[i], why, sizeof why);
		if (rv != BATON_OPCMD_OK) {
			snprintf(errbuf, errlen, "recover command %u: %s: %s", i + 1, baton_opcmd_verdict_name(rv), why);
			break;
		}
		v[i] = baton_op_arg(b[i], "voters");
		if (baton_op_parse(b[i]->op) != BATON_OP_RECOVER) {
			snprintf(errbuf, errlen, "recover command %u is a signed '%s', not a 'recover'", i + 1, b[i]->op);
			rv = BATON_OPCMD_MALFORMED;
		} else if (v[i] == NULL || v[i][0] == '\0') {
			snprintf(errbuf, errlen, "recover command %u names no voters", i + 1);
			rv = BATON_OPCMD_MALFORMED;
		}
	}
	if (rv == BATON_OPCMD_OK && strcmp(keys[0]->key_id, keys[1]->key_id) == 0) {
		snprintf(errbuf, errlen, "both recover commands are signed by key %s (%s): a second operator must sign "
					 "the other", keys[0]->key_id, keys[0]->name);
		rv = BATON_OPCMD_MALFORMED;
	} else if (rv == BATON_OPCMD_OK && strcmp(v[0], v[1]) != 0) {
		snprintf(errbuf, errlen, "the two recover commands name different voters ('%s' and '%s')", v[0], v[1]);
		rv = BATON_OPCMD_MALFORMED;
	} else if (rv == BATON_OPCMD_OK && b[0]->nonce.len == b[1]->nonce.len &&
		   memcmp(b[0]->nonce.data, b[1]->nonce.data, b[0]->nonce.len) == 0) {
		snprintf(errbuf, errlen, "the two recover commands share a nonce");
		rv = BATON_OPCMD_MALFORMED;
	}
	if (rv == BATON_OPCMD_OK) {
		baton_strlcpy(voters, v[0], voters_len);
		snprintf(by, by_len, "%s+%s", keys[0]->name, keys[1]->name);
		for (unsigned i = 0; i < 2; i++) {
			memcpy(nonces[i], b[i]->nonce.data, b[i]->nonce.len); /* 16..32 bytes: verified */
			nonce_lens[i] = b[i]->nonce.len;
		}
	}
	for (unsigned i = 0; i < 2; i++)
		if (b[i] != NULL)
			baton__command_body__free_unpacked(b[i], NULL);
	return rv;
}
