/* SPDX-License-Identifier: MIT */
/* Fuzz baton_opcmd_verify() (raft/opcmd.c): the check the leader runs on every
 * POST /v1/commands body and the FSM runs again on apply.
 *
 * Input: one mode byte, then the payload.
 *   mode even: the payload is the HTTP body as received (a SignedEnvelope),
 *              checked against the fixed key set of opcmd_fuzz.h.
 *   mode odd:  the payload is a CommandBody; it is signed first (bit 1 of the
 *              mode: by bob instead of alice), so the fuzzer reaches every
 *              check behind the signature without forging Ed25519.
 * The clock is FUZZ_NOW (gen_opcmd_corpus.c writes seeds for this world).
 *
 * Besides "no crash, no leak, no UB" it checks: the verdict is in range; a
 * refusal has a message and returns no body (the message may quote text the
 * sender chose, e.g. the key id, newlines included); an accepted command comes
 * from a key in the set that may do its (known) operation, is for cluster
 * "demo", is inside its validity window and has a 16..32-byte nonce. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcmd_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(const struct baton_opkeys *keys, int v, const struct baton_opkey *key,
		       const Baton__CommandBody *b, const char *err)
{
	int op;

	if (v < 0 || v >= BATON_OPCMD_VERDICT_NR || strcmp(baton_opcmd_verdict_name(v), "?") == 0)
		abort();
	if (v != BATON_OPCMD_OK) {
		if (b != NULL || err[0] == '\0')
			abort();
		return;
	}
	if (key == NULL || b == NULL || baton_opkeys_find(keys, key->key_id) != key)
		abort();
	op = baton_op_parse(b->op);
	if (op < 0 || !(key->ops & (1u << op)) || strcmp(b->cluster_id, FUZZ_CLUSTER) != 0)
		abort();
	if (b->expires_at_ms < FUZZ_NOW || b->issued_at_ms > FUZZ_NOW + keys->max_skew_ms ||
	    b->expires_at_ms < b->issued_at_ms || b->expires_at_ms - b->issued_at_ms > keys->max_validity_ms)
		abort();
	if (b->nonce.len < 16 || b->nonce.len > 32)
		abort();
	(void)baton_op_dangerous(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct baton_opkeys keys;
	static struct fuzz_opkey signer[2];
	static int ready;
	Baton__SignedEnvelope *env = NULL, wrapped = BATON__SIGNED_ENVELOPE__INIT;
	const struct baton_opkey *key = NULL;
	Baton__CommandBody *b = NULL;
	uint8_t sig[crypto_sign_BYTES];
	char err[512] = "";
	int v;

	if (!ready) {
		fuzz_opkeys(&keys);
		fuzz_opkey(0, &signer[0]);
		fuzz_opkey(1, &signer[1]);
		ready = 1;
	}
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		const struct fuzz_opkey *k = &signer[(data[0] >> 1) & 1];
		crypto_sign_detached(sig, NULL, data + 1, size - 1, k->sk);
		wrapped.body.data = (uint8_t *)data + 1;
		wrapped.body.len = size - 1;
		wrapped.signature.data = sig;
		wrapped.signature.len = sizeof sig;
		wrapped.key_id = (char *)k->id;
		v = baton_opcmd_verify(&keys, &wrapped, FUZZ_NOW, &key, &b, err, sizeof err);
	} else {
		env = baton__signed_envelope__unpack(NULL, size - 1, data + 1);
		if (env == NULL)
			return 0;
		v = baton_opcmd_verify(&keys, env, FUZZ_NOW, &key, &b, err, sizeof err);
	}
	fuzz_check(&keys, v, key, b, err);
	if (b != NULL)
		baton__command_body__free_unpacked(b, NULL);
	if (env != NULL)
		baton__signed_envelope__free_unpacked(env, NULL);
	return 0;
}
