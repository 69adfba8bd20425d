/* SPDX-License-Identifier: MIT */
/* raft/opcmd.c: operator keys from config, the signed-envelope check the
 * leader and the FSM both run, operation names, and dangerous-op detection.
 *
 * The fixture is cluster "demo" (max validity 600 s, max skew 30 s) with two
 * keys from fixed seeds: alice may do everything, bob only freeze. A third key
 * (mallory) is not in the set. Commands are built with make_cmd() (a valid
 * failover --to us-east by alice, issued at NOW, valid 300 s), changed by the
 * test, then signed with sign() - or tampered with after signing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcmd.h"

#define NOW UINT64_C(1700000000000)
#define MAX_VALIDITY 600000
#define MAX_SKEW 30000

struct test_key {
	uint8_t pk[32], sk[64];
	char hex[65];
	char id[BATON_OPKEY_ID_LEN];
};

struct cmd {
	Baton__CommandBody body;
	Baton__CommandBody__ArgsEntry ents[4], *entp[4];
	uint8_t nonce[40];
	uint8_t *packed;
	uint8_t sig[crypto_sign_BYTES];
	Baton__SignedEnvelope env;
};

struct fixture {
	struct baton_opkeys keys;
	struct test_key alice, bob, mallory;
	struct cmd c;
	const struct baton_opkey *ret_key;
	Baton__CommandBody *ret_body;
	char err[512];
};

static void key_from_seed(struct test_key *k, uint8_t seed_byte)
{
	uint8_t seed[32];

	memset(seed, seed_byte, sizeof seed);
	assert_int_equal(crypto_sign_seed_keypair(k->pk, k->sk, seed), 0);
	sodium_bin2hex(k->hex, sizeof k->hex, k->pk, sizeof k->pk);
	baton_opkey_id(k->pk, k->id);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	assert_true(sodium_init() >= 0);
	key_from_seed(&f->alice, 1);
	key_from_seed(&f->bob, 2);
	key_from_seed(&f->mallory, 3);
	snprintf(f->keys.cluster_id, sizeof f->keys.cluster_id, "demo");
	f->keys.max_validity_ms = MAX_VALIDITY;
	f->keys.max_skew_ms = MAX_SKEW;
	assert_int_equal(baton_opkeys_add(&f->keys, "alice", f->alice.hex, "all", f->err, sizeof f->err), 0);
	assert_int_equal(baton_opkeys_add(&f->keys, "bob", f->bob.hex, "freeze", f->err, sizeof f->err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->ret_body != NULL)
		baton__command_body__free_unpacked(f->ret_body, NULL);
	free(f->c.packed);
	free(f);
	return 0;
}

static void set_arg(struct cmd *c, const char *key, const char *value)
{
	size_t i = c->body.n_args;

	assert_true(i < 4);
	baton__command_body__args_entry__init(&c->ents[i]);
	c->ents[i].key = (char *)key;
	c->ents[i].value = (char *)value;
	c->entp[i] = &c->ents[i];
	c->body.args = c->entp;
	c->body.n_args = i + 1;
}

/* failover --to us-east of group default, expecting epoch 1, by nobody yet. */
static void make_cmd(struct cmd *c)
{
	baton__command_body__init(&c->body);
	c->body.op = "failover";
	set_arg(c, "to", "us-east");
	c->body.issued_at_ms = NOW;
	c->body.expires_at_ms = NOW + 300000;
	for (size_t i = 0; i < sizeof c->nonce; i++)
		c->nonce[i] = (uint8_t)(0xa0 + i);
	c->body.nonce.data = c->nonce;
	c->body.nonce.len = 16;
	c->body.cluster_id = "demo";
	c->body.has_expect_epoch = true;
	c->body.expect_epoch = 1;
	c->body.group = "default";
}

/* Serialize the body and sign it with @signer; the envelope names @key_id. */
static void sign(struct cmd *c, const struct test_key *signer, const char *key_id)
{
	size_t len = baton__command_body__get_packed_size(&c->body);

	free(c->packed);
	c->packed = malloc(len + 1);
	assert_non_null(c->packed);
	baton__command_body__pack(&c->body, c->packed);
	crypto_sign_detached(c->sig, NULL, c->packed, len, signer->sk);
	baton__signed_envelope__init(&c->env);
	c->env.body.data = c->packed;
	c->env.body.len = len;
	c->env.signature.data = c->sig;
	c->env.signature.len = sizeof c->sig;
	c->env.key_id = (char *)key_id;
}

static int verify(struct fixture *f, uint64_t now)
{
	if (f->ret_body != NULL)
		baton__command_body__free_unpacked(f->ret_body, NULL);
	f->ret_body = NULL;
	f->ret_key = NULL;
	f->err[0] = '\0';
	return baton_opcmd_verify(&f->keys, &f->c.env, now, &f->ret_key, &f->ret_body, f->err, sizeof f->err);
}

/* A command signed by an authorized key, within its window, is OK; the
 * caller gets the key and the decoded body. */
static void a_good_command_is_accepted_with_its_key_and_body(void **state)
{
	struct fixture *f = *state;

	make_cmd(&f->c);
	sign(&f->c, &f->alice, f->alice.id);
	assert_int_equal(verify(f, NOW + 1000), BATON_OPCMD_OK);
	assert_non_null(f->ret_key);
	assert_string_equal(f->ret_key->name, "alice");
	assert_string_equal(f->ret_key->key_id, f->alice.id);
	assert_non_null(f->ret_body);
	assert_string_equal(f->ret_body->op, "failover");
	assert_string_equal(baton_op_arg(f->ret_body, "to"), "us-east");
	assert_null(baton_op_arg(f->ret_body, "force"));
	assert_int_equal(f->ret_body->expect_epoch, 1);
}

/* Signed by another key than the one the envelope names: bad signature,
 * and the message names the claimed key. */
static void a_signature_by_another_key_is_a_bad_signature(void **state)
{
	struct fixture *f = *state;

	make_cmd(&f->c);
	sign(&f->c, &f->mallory, f->alice.id);
	assert_int_equal(verify(f, NOW), BATON_OPCMD_BAD_SIGNATURE);
	assert_null(f->ret_body);
	assert_non_null(strstr(f->err, f->alice.id));
	assert_non_null(strstr(f->err, "alice"));
}

/* One flipped bit of the signature is enough to refuse it. */
static void a_flipped_signature_bit_is_a_bad_signature(void **state)
{
	struct fixture *f = *state;

	make_cmd(&f->c);
	sign(&f->c, &f->alice, f->alice.id);
	f->c.sig[17] ^= 0x01;
	assert_int_equal(verify(f, NOW), BATON_OPCMD_BAD_SIGNATURE);
}

/* A signature of the wrong length is a bad signature, not a crash. */
static void a_short_signature_is_a_bad_signature(void **state)
{
	struct fixture *f = *state;

	make_cmd(&f->c);
	sign(&f->c, &f->alice, f->alice.id);
	f->c.env.signature.len = 63;
	assert_int_equal(verify(f, NOW), BATON_OPCMD_BAD_SIGNATURE);
	f->c.env.signature.len = 0;
	assert_int_equal(verify(f, NOW), BATON_OPCMD_BAD_SIGNATURE);
}

/* Changing any signed field after signing (here the target region) breaks
 * the signature. */
static void a_body_changed_after_signing_is_a_bad_signature(void **state)
{
	struct fixture *f = *state;
	uint8_t *p;

	make_cmd(&f->c);
	sign(&f->c, &f->alice, f->alice.id);
	p = memmem(f->c.packed, f->c.env.body.len, "us-east", 7);
	assert_non_null(p);
	memcpy(p, "ap-sout", 7);
	assert_int_equal(verify(f, NOW), BATON_OPCMD_BAD_SIGNATURE);
}

/* A key id that is not in cluster.operators: unknown key, even with a
 * signature that would verify under that key. */
static void a_key_not_in_the_config_is_unknown(void **state)
{
	struct fixture *f = *state;

	make_cmd(&f->c);
	sign(&f->c, &f->mallory, f->mallory.id);
	assert_int_equal(verify(f, NOW), BATON_OPCMD_UNKNOWN_KEY);
	assert_non_null(strstr(f->err, f->mallory.id));
}

/* bob may only freeze: his valid failover is not authorized, his freeze is. */
static void a_key_may_do_only_its_operations(void **state)
{
	struct fixture *f = *state;

	make_cmd(&f->c);
	sign(&f->c, &f->bob, f->bob.id);
	assert_int_equal(verify(f, NOW), BATON_OPCMD_NOT_AUTHORIZED);
	assert_non_null(strstr(f->err, "bob"));
	assert_non_null(strstr(f->err, "failover"));

	make_cmd(&f->c);
	f->c.body.op = "freeze";
	sign(&f->c, &f->bob, f->bob.id);
	assert_int_equal(verify(f, NOW), BATON_OPCMD_OK);
}

/* A command signed for another cluster is refused, and the message names both. */
static void a_command_for_another_cluster_is_wrong_cluster(void **state)
{
	struct fixture *f = *state;

	make_cmd(&f->c);
	f->c.body.cluster_id = "staging";
	sign(&f->c, &f->alice, f->alice.id);
	assert_int_equal(verify(f, NOW), BATON_OPCMD_WRONG_CLUSTER);
	assert_non_null(strstr(f->err, "staging"));
	assert_non_null(strstr(f->err, "demo"));
}

/* After expires_at the command is expired; at expires_at exactly it is
 * still valid (the window is inclusive). */
static void a_command_past_its_expiry_is_expired(void **state)
{
	struct fixture *f = *state;

	make_cmd(&f->c);
	sign(&f->c, &f->alice, f->alice.id);
	assert_int_equal(verify(f, NOW + 300000), BATON_OPCMD_OK);
	assert_int_equal(verify(f, NOW + 300001), BATON_OPCMD_EXPIRED);
	assert_int_equal(verify(f, NOW + 3600000), BATON_OPCMD_EXPIRED);
	assert_non_null(strstr(f->err, "expired"));
}

/* Issued more than max_skew ahead of the verifier's clock: refused as
 * coming from the future; up to max_skew ahead is accepted. */
static void a_command_issued_beyond_the_skew_is_from_the_future(void **state)
{
	struct fixture *f = *state;

	make_cmd(&f->c);
	sign(&f->c, &f->alice, f->alice.id);
	assert_int_equal(verify(f, NOW - MAX_SKEW), BATON_OPCMD_OK);
	assert_int_equal(verify(f, NOW - MAX_SKEW - 1), BATON_OPCMD_FUTURE);
	assert_non_null(strstr(f->err, "clock"));
}

/* expires_at - issued_at above max_validity is refused whatever the clock;
 * exactly max_validity is fine. */
static void a_validity_above_the_maximum_is_too_long(void **state)
{
	struct fixture *f = *state;

	make_cmd(&f->c);
	f->c.body.expires_at_ms = NOW + MAX_VALIDITY;
	sign(&f->c, &f->alice, f->alice.id);
	assert_int_equal(verify(f, NOW), BATON_OPCMD_OK);

	make_cmd(&f->c);
	f->c.body.expires_at_ms = NOW + MAX_VALIDITY + 1;
	sign(&f->c, &f->alice, f->alice.id);
	assert_int_equal(verify(f, NOW), BATON_OPCMD_TOO_LONG);
	assert_non_null(strstr(f->err, "600 s"));
}

/* A command that expires before it is issued is refused too. */
static void an_expiry_before_the_issue_time_is_refused(void **state)
{
	struct fixture *f = *state;

	make_cmd(&f->c);
	f->c.body.expires_at_ms = NOW - 1;
	sign(&f->c, &f->alice, f->alice.id);
	assert_int_equal(verify(f, NOW - 10), BATON_OPCMD_TOO_LONG);
}

/* The nonce is 16..32 bytes: 15 and 33 are malformed, 16 and 32 are fine. */
static void a_nonce_outside_16_to_32_bytes_is_malformed(void **state)
{
	struct fixture *f = *state;
	static const struct {
		size_t len;
		int verdict;
	} cases[] = {
		{0, BATON_OPCMD_MALFORMED},  {15, BATON_OPCMD_MALFORMED}, {16, BATON_OPCMD_OK},
		{32, BATON_OPCMD_OK},        {33, BATON_OPCMD_MALFORMED},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		make_cmd(&f->c);
		f->c.body.nonce.len = cases[i].len;
		sign(&f->c, &f->alice, f->alice.id);
		assert_int_equal(verify(f, NOW), cases[i].verdict);
	}
}

/* An operation name the cluster does not know is refused by name. */
static void an_unknown_operation_is_refused(void **state)
{
	struct fixture *f = *state;

	make_cmd(&f->c);
	f->c.body.op = "self-destruct";
	sign(&f->c, &f->alice, f->alice.id);
	assert_int_equal(verify(f, NOW), BATON_OPCMD_UNKNOWN_OP);
	assert_non_null(strstr(f->err, "self-destruct"));
}

/* Validly signed bytes that are not a CommandBody are malformed. */
static void signed_garbage_is_malformed(void **state)
{
	struct fixture *f = *state;
	static uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};

	make_cmd(&f->c);
	sign(&f->c, &f->alice, f->alice.id);
	f->c.env.body.data = junk;
	f->c.env.body.len = sizeof junk;
	crypto_sign_detached(f->c.sig, NULL, junk, sizeof junk, f->alice.sk);
	assert_int_equal(verify(f, NOW), BATON_OPCMD_MALFORMED);
}

/* An envelope without a key id, or with a body over 64 KiB, is malformed
 * before any signature work. */
static void an_envelope_without_key_id_or_oversized_is_malformed(void **state)
{
	struct fixture *f = *state;

	make_cmd(&f->c);
	sign(&f->c, &f->alice, f->alice.id);
	f->c.env.key_id = NULL;
	assert_int_equal(verify(f, NOW), BATON_OPCMD_MALFORMED);
	f->c.env.key_id = f->alice.id;
	f->c.env.body.len = BATON_OPCMD_MAX_BYTES + 1;
	assert_int_equal(verify(f, NOW), BATON_OPCMD_MALFORMED);
}

/* failover --force and skip-step need a second operator; failover without
 * force (or with force other than "true"), switchover and freeze do not. */
static void dangerous_ops_are_forced_failover_and_skip_step(void **state)
{
	struct fixture *f = *state;

	make_cmd(&f->c);
	assert_false(baton_op_dangerous(&f->c.body));
	set_arg(&f->c, "force", "true");
	assert_true(baton_op_dangerous(&f->c.body));
	make_cmd(&f->c);
	set_arg(&f->c, "force", "false");
	assert_false(baton_op_dangerous(&f->c.body));
	make_cmd(&f->c);
	f->c.body.op = "skip-step";
	assert_true(baton_op_dangerous(&f->c.body));
	make_cmd(&f->c);
	f->c.body.op = "switchover";
	set_arg(&f->c, "force", "true");
	assert_false(baton_op_dangerous(&f->c.body));
	f->c.body.op = "freeze";
	assert_false(baton_op_dangerous(&f->c.body));
}

/* Every operation name parses back to itself; anything else is -1. */
static void operation_names_round_trip(void **state)
{
	(void)state;
	for (int i = 0; i < BATON_OP_NR; i++)
		assert_int_equal(baton_op_parse(baton_op_name(i)), i);
	assert_int_equal(baton_op_parse("Failover"), -1);
	assert_int_equal(baton_op_parse(""), -1);
	assert_int_equal(baton_op_parse(NULL), -1);
	assert_string_equal(baton_op_name(BATON_OP_NR), "?");
	assert_string_equal(baton_op_name(-1), "?");
	assert_string_equal(baton_opcmd_verdict_name(BATON_OPCMD_FUTURE), "issued-in-the-future");
	assert_string_equal(baton_opcmd_verdict_name(BATON_OPCMD_VERDICT_NR), "?");
}

/* The key id is hex of the first 8 bytes of SHA-256("baton-operator-key" NUL pk). */
static void the_key_id_is_a_tagged_sha256_prefix(void **state)
{
	struct fixture *f = *state;
	uint8_t msg[19 + 32], d[32];
	char want[17];

	memcpy(msg, "baton-operator-key", 19); /* with its NUL */
	memcpy(msg + 19, f->alice.pk, 32);
	crypto_hash_sha256(d, msg, sizeof msg);
	sodium_bin2hex(want, sizeof want, d, 8);
	assert_string_equal(f->alice.id, want);
	assert_string_not_equal(f->alice.id, f->bob.id);
}

/* A public key that is not 64 hex characters is refused with the operator's name. */
static void opkeys_add_refuses_a_bad_public_key(void **state)
{
	struct fixture *f = *state;
	char hex[80];

	snprintf(hex, sizeof hex, "%.63s", f->mallory.hex);
	assert_int_equal(baton_opkeys_add(&f->keys, "eve", hex, "all", f->err, sizeof f->err), -EINVAL);
	assert_non_null(strstr(f->err, "'eve'"));
	assert_non_null(strstr(f->err, "64 hex"));
	snprintf(hex, sizeof hex, "%s", f->mallory.hex);
	hex[10] = 'z';
	assert_int_equal(baton_opkeys_add(&f->keys, "eve", hex, "all", f->err, sizeof f->err), -EINVAL);
	snprintf(hex, sizeof hex, "%s00", f->mallory.hex);
	assert_int_equal(baton_opkeys_add(&f->keys, "eve", hex, "all", f->err, sizeof f->err), -EINVAL);
	assert_int_equal(f->keys.n, 2);
}

/* The same public key twice (under another name) is refused. */
static void opkeys_add_refuses_a_duplicate_key(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(baton_opkeys_add(&f->keys, "alice2", f->alice.hex, "freeze", f->err, sizeof f->err), -EINVAL);
	assert_non_null(strstr(f->err, "twice"));
	assert_int_equal(f->keys.n, 2);
}

/* An operation name that does not exist is refused and named. */
static void opkeys_add_refuses_an_unknown_operation(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(baton_opkeys_add(&f->keys, "carol", f->mallory.hex, "freeze,reboot", f->err, sizeof f->err),
			 -EINVAL);
	assert_non_null(strstr(f->err, "'reboot'"));
	assert_int_equal(f->keys.n, 2);
}

/* "freeze, unfreeze" (spaces allowed) grants exactly those two. */
static void opkeys_add_reads_a_list_of_operations(void **state)
{
	struct fixture *f = *state;
	const struct baton_opkey *k;

	assert_int_equal(baton_opkeys_add(&f->keys, "carol", f->mallory.hex, "freeze, unfreeze", f->err, sizeof f->err),
			 0);
	k = baton_opkeys_find(&f->keys, f->mallory.id);
	assert_non_null(k);
	assert_int_equal(k->ops, (1u << BATON_OP_FREEZE) | (1u << BATON_OP_UNFREEZE));
	assert_null(baton_opkeys_find(&f->keys, "0000000000000000"));
	assert_null(baton_opkeys_find(&f->keys, NULL));
}

/* At most BATON_OPCMD_MAX_KEYS keys. */
static void opkeys_add_refuses_more_than_the_maximum(void **state)
{
	struct fixture *f = *state;
	struct test_key k;
	unsigned added = f->keys.n;

	for (unsigned i = 0; added < BATON_OPCMD_MAX_KEYS; i++, added++) {
		key_from_seed(&k, (uint8_t)(10 + i));
		assert_int_equal(baton_opkeys_add(&f->keys, "many", k.hex, "all", f->err, sizeof f->err), 0);
	}
	key_from_seed(&k, 200);
	assert_int_equal(baton_opkeys_add(&f->keys, "one-more", k.hex, "all", f->err, sizeof f->err), -EINVAL);
	assert_int_equal(f->keys.n, BATON_OPCMD_MAX_KEYS);
}

/* ---------------------------------------------------------------- recover */

/* One half of a recovery: recover --voters @voters by @signer, nonce from @seed. */
static void make_recover(struct cmd *c, const char *op, const char *voters, const struct test_key *signer,
			 uint8_t seed)
{
	make_cmd(c);
	c->body.op = (char *)op;
	c->body.n_args = 0;
	c->body.has_expect_epoch = false;
	c->body.group = NULL;
	if (voters != NULL)
		set_arg(c, "voters", voters);
	for (size_t i = 0; i < sizeof c->nonce; i++)
		c->nonce[i] = (uint8_t)(seed + i);
	sign(c, signer, signer->id);
}

struct recovery {
	struct cmd a, b;
	Baton__SignedEnvelope *envs[2];
	struct test_key dave;
	char voters[128], by[160];
	uint8_t nonces[2][32];
	size_t nonce_lens[2];
};

/* alice (all) and dave (recover only) are the two operators. */
static struct recovery *recovery_new(struct fixture *f)
{
	struct recovery *r = calloc(1, sizeof *r);

	assert_non_null(r);
	key_from_seed(&r->dave, 4);
	assert_int_equal(baton_opkeys_add(&f->keys, "dave", r->dave.hex, "recover", f->err, sizeof f->err), 0);
	r->envs[0] = &r->a.env;
	r->envs[1] = &r->b.env;
	return r;
}

static int recovery_verify(struct fixture *f, struct recovery *r, uint64_t now)
{
	f->err[0] = '\0';
	return baton_recovery_verify(&f->keys, r->envs, 2, now, r->voters, sizeof r->voters, r->by, sizeof r->by,
				     r->nonces, r->nonce_lens, f->err, sizeof f->err);
}

static void recovery_free(struct recovery *r)
{
	free(r->a.packed);
	free(r->b.packed);
	free(r);
}

static void two_operators_naming_the_same_voters_make_a_recovery(void **state)
{
	struct fixture *f = *state;
	struct recovery *r = recovery_new(f);

	make_recover(&r->a, "recover", "eu-west,witness", &f->alice, 0x10);
	make_recover(&r->b, "recover", "eu-west,witness", &r->dave, 0x50);
	assert_int_equal(recovery_verify(f, r, NOW + 1000), BATON_OPCMD_OK);
	assert_string_equal(r->voters, "eu-west,witness");
	assert_string_equal(r->by, "alice+dave");
	assert_int_equal(r->nonce_lens[0], 16);
	assert_int_equal(r->nonces[0][0], 0x10);
	assert_int_equal(r->nonces[1][0], 0x50);
	recovery_free(r);
}

static void one_operator_cannot_sign_both_halves(void **state)
{
	struct fixture *f = *state;
	struct recovery *r = recovery_new(f);

	make_recover(&r->a, "recover", "eu-west", &f->alice, 0x10);
	make_recover(&r->b, "recover", "eu-west", &f->alice, 0x50);
	assert_int_equal(recovery_verify(f, r, NOW), BATON_OPCMD_MALFORMED);
	assert_non_null(strstr(f->err, "both recover commands are signed by key"));
	recovery_free(r);
}

static void halves_naming_different_voters_are_refused(void **state)
{
	struct fixture *f = *state;
	struct recovery *r = recovery_new(f);

	make_recover(&r->a, "recover", "eu-west,witness", &f->alice, 0x10);
	make_recover(&r->b, "recover", "eu-west", &r->dave, 0x50);
	assert_int_equal(recovery_verify(f, r, NOW), BATON_OPCMD_MALFORMED);
	assert_non_null(strstr(f->err, "different voters ('eu-west,witness' and 'eu-west')"));
	recovery_free(r);
}

static void a_half_by_a_key_not_allowed_to_recover_is_refused(void **state)
{
	struct fixture *f = *state;
	struct recovery *r = recovery_new(f);

	make_recover(&r->a, "recover", "eu-west", &f->alice, 0x10);
	make_recover(&r->b, "recover", "eu-west", &f->bob, 0x50); /* bob may only freeze */
	assert_int_equal(recovery_verify(f, r, NOW), BATON_OPCMD_NOT_AUTHORIZED);
	assert_non_null(strstr(f->err, "recover command 2: not-authorized"));
	recovery_free(r);
}

static void a_half_that_is_another_operation_or_names_no_voters_is_refused(void **state)
{
	struct fixture *f = *state;
	struct recovery *r = recovery_new(f);

	make_recover(&r->a, "freeze", "eu-west", &f->alice, 0x10);
	make_recover(&r->b, "recover", "eu-west", &r->dave, 0x50);
	assert_int_equal(recovery_verify(f, r, NOW), BATON_OPCMD_MALFORMED);
	assert_non_null(strstr(f->err, "recover command 1 is a signed 'freeze', not a 'recover'"));
	make_recover(&r->a, "recover", NULL, &f->alice, 0x10);
	assert_int_equal(recovery_verify(f, r, NOW), BATON_OPCMD_MALFORMED);
	assert_non_null(strstr(f->err, "recover command 1 names no voters"));
	recovery_free(r);
}

static void halves_are_checked_as_of_the_time_given(void **state)
{
	struct fixture *f = *state;
	struct recovery *r = recovery_new(f);

	make_recover(&r->a, "recover", "eu-west", &f->alice, 0x10);
	make_recover(&r->b, "recover", "eu-west", &r->dave, 0x50);
	assert_int_equal(recovery_verify(f, r, NOW + 300000), BATON_OPCMD_OK);
	assert_int_equal(recovery_verify(f, r, NOW + 300001), BATON_OPCMD_EXPIRED);
	assert_non_null(strstr(f->err, "recover command 1: expired"));
	/* Only one half, or the same nonce in both: not a recovery. */
	assert_int_equal(baton_recovery_verify(&f->keys, r->envs, 1, NOW, r->voters, sizeof r->voters, r->by,
					       sizeof r->by, r->nonces, r->nonce_lens, f->err, sizeof f->err),
			 BATON_OPCMD_MALFORMED);
	assert_non_null(strstr(f->err, "exactly two signed recover commands"));
	make_recover(&r->b, "recover", "eu-west", &r->dave, 0x10);
	assert_int_equal(recovery_verify(f, r, NOW), BATON_OPCMD_MALFORMED);
	assert_non_null(strstr(f->err, "share a nonce"));
	recovery_free(r);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(a_good_command_is_accepted_with_its_key_and_body),
		T(a_signature_by_another_key_is_a_bad_signature),
		T(a_flipped_signature_bit_is_a_bad_signature),
		T(a_short_signature_is_a_bad_signature),
		T(a_body_changed_after_signing_is_a_bad_signature),
		T(a_key_not_in_the_config_is_unknown),
		T(a_key_may_do_only_its_operations),
		T(a_command_for_another_cluster_is_wrong_cluster),
		T(a_command_past_its_expiry_is_expired),
		T(a_command_issued_beyond_the_skew_is_from_the_future),
		T(a_validity_above_the_maximum_is_too_long),
		T(an_expiry_before_the_issue_time_is_refused),
		T(a_nonce_outside_16_to_32_bytes_is_malformed),
		T(an_unknown_operation_is_refused),
		T(signed_garbage_is_malformed),
		T(an_envelope_without_key_id_or_oversized_is_malformed),
		T(dangerous_ops_are_forced_failover_and_skip_step),
		T(operation_names_round_trip),
		T(the_key_id_is_a_tagged_sha256_prefix),
		T(opkeys_add_refuses_a_bad_public_key),
		T(opkeys_add_refuses_a_duplicate_key),
		T(opkeys_add_refuses_an_unknown_operation),
		T(opkeys_add_reads_a_list_of_operations),
		T(opkeys_add_refuses_more_than_the_maximum),
		T(two_operators_naming_the_same_voters_make_a_recovery),
		T(one_operator_cannot_sign_both_halves),
		T(halves_naming_different_voters_are_refused),
		T(a_half_by_a_key_not_allowed_to_recover_is_refused),
		T(a_half_that_is_another_operation_or_names_no_voters_is_refused),
		T(halves_are_checked_as_of_the_time_given),
	};
#undef T
	return cmocka_run_group_tests_name("opcmd", tests, NULL, NULL);
}
