/* SPDX-License-Identifier: MIT */
/* The fixed world of the opcmd_verify fuzz target and its corpus generator:
 * cluster "demo", max validity 600 s, max skew 30 s, the clock at FUZZ_NOW,
 * and two operator keys from fixed seeds: alice (all operations) and bob
 * (freeze only). Shared so that generated seeds verify in the target. */
#ifndef BATON_TESTS_OPCMD_FUZZ_H
#define BATON_TESTS_OPCMD_FUZZ_H

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "opcmd.h"

#define FUZZ_NOW UINT64_C(1700000000000)
#define FUZZ_CLUSTER "demo"

struct fuzz_opkey {
	uint8_t pk[32], sk[64];
	char hex[65], id[BATON_OPKEY_ID_LEN];
};

/* @which: 0 alice, 1 bob, 2 mallory (not in the key set). */
static inline void fuzz_opkey(int which, struct fuzz_opkey *k)
{
	uint8_t seed[32];

	memset(seed, 0x11 * (which + 1), sizeof seed);
	if (sodium_init() < 0 || crypto_sign_seed_keypair(k->pk, k->sk, seed) != 0)
		abort();
	sodium_bin2hex(k->hex, sizeof k->hex, k->pk, sizeof k->pk);
	baton_opkey_id(k->pk, k->id);
}

static inline void fuzz_opkeys(struct baton_opkeys *keys)
{
	struct fuzz_opkey a, b;
	char err[256];

	memset(keys, 0, sizeof *keys);
	strcpy(keys->cluster_id, FUZZ_CLUSTER);
	keys->max_validity_ms = 600000;
	keys->max_skew_ms = 30000;
	fuzz_opkey(0, &a);
	fuzz_opkey(1, &b);
	if (baton_opkeys_add(keys, "alice", a.hex, "all", err, sizeof err) != 0 ||
	    baton_opkeys_add(keys, "bob", b.hex, "freeze", err, sizeof err) != 0)
		abort();
}

#endif
