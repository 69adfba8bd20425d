/* SPDX-License-Identifier: MIT */
/* Writes the seed corpora of the opcmd_verify and command_body fuzz targets:
 *
 *   build-x/tests/fuzz/gen_opcmd_corpus tests/fuzz/corpus
 *
 * into corpus/opcmd_verify/ and corpus/command_body/ (which must exist).
 * opcmd_verify seeds are a mode byte and a payload (see fuzz_opcmd_verify.c):
 * 0x00 + a SignedEnvelope - valid commands of every operation, and one seed
 * per refusal - or 0x01/0x03 + a bare CommandBody the target signs as alice /
 * bob. command_body seeds are bare CommandBody bytes. Keys, cluster and clock
 * are the targets' (opcmd_fuzz.h). Every envelope seed is verified here and
 * must get the verdict its name says, so a seed that stopped meaning what its
 * name says fails the generator. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcmd_fuzz.h"

struct gen_cmd {
	const char *op;
	const char *args[6][2];
	uint64_t issued, expires;
	size_t nonce_len;
	const char *cluster;
	const char *group;
	const char *approves;
	int epoch; /* < 0: no expect_epoch */
};

static void gen_die(const char *what)
{
	fprintf(stderr, "gen_opcmd_corpus: %s\n", what);
	exit(1);
}

static void gen_write(const char *dir, const char *sub, const char *name, int mode, const void *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
	f = fopen(path, "wb");
	if (f == NULL || (mode >= 0 && fputc(mode, f) == EOF) || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		gen_die(path);
}

/* A CommandBody; *ret is malloc'd. */
static size_t gen_body(const struct gen_cmd *c, uint8_t **ret)
{
	Baton__CommandBody b = BATON__COMMAND_BODY__INIT;
	Baton__CommandBody__ArgsEntry ents[6], *entp[6];
	uint8_t nonce[40];
	size_t n = 0, len;

	for (size_t i = 0; i < 6 && c->args[i][0] != NULL; i++, n++) {
		baton__command_body__args_entry__init(&ents[i]);
		ents[i].key = (char *)c->args[i][0];
		ents[i].value = (char *)c->args[i][1];
		entp[i] = &ents[i];
	}
	for (size_t i = 0; i < sizeof nonce; i++)
		nonce[i] = (uint8_t)(0x5a ^ i ^ (uint8_t)strlen(c->op));
	b.op = (char *)c->op;
	b.n_args = n;
	b.args = entp;
	b.issued_at_ms = c->issued ? c->issued : FUZZ_NOW - 1000;
	b.expires_at_ms = c->expires ? c->expires : FUZZ_NOW + 299000;
	b.nonce.data = nonce;
	b.nonce.len = c->nonce_len ? c->nonce_len : 16;
	b.cluster_id = (char *)(c->cluster ? c->cluster : FUZZ_CLUSTER);
	b.has_expect_epoch = c->epoch >= 0;
	b.expect_epoch = c->epoch >= 0 ? (uint64_t)c->epoch : 0;
	b.group = (char *)c->group;
	b.approves = (char *)c->approves;
	len = baton__command_body__get_packed_size(&b);
	*ret = malloc(len);
	if (*ret == NULL)
		gen_die("out of memory");
	baton__command_body__pack(&b, *ret);
	return len;
}

/* Sign @body with key @signer, name key id @claimed in the envelope, check the
 * verdict, write the seed. @flip: flip a byte of the body after signing. */
static void gen_envelope(const char *dir, const char *name, const uint8_t *body, size_t body_len, int signer,
			 int claimed, bool flip_sig, bool flip_body, int want)
{
	struct baton_opkeys keys;
	struct fuzz_opkey s, c;
	Baton__SignedEnvelope env = BATON__SIGNED_ENVELOPE__INIT;
	Baton__CommandBody *out = NULL;
	const struct baton_opkey *key;
	uint8_t sig[crypto_sign_BYTES], *copy, *packed;
	char err[512], msg[700];
	size_t len;
	int v;

	fuzz_opkeys(&keys);
	fuzz_opkey(signer, &s);
	fuzz_opkey(claimed, &c);
	copy = malloc(body_len);
	if (copy == NULL)
		gen_die("out of memory");
	memcpy(copy, body, body_len);
	crypto_sign_detached(sig, NULL, copy, body_len, s.sk);
	if (flip_sig)
		sig[5] ^= 0x20;
	if (flip_body)
		copy[body_len / 2] ^= 0x01;
	env.body.data = copy;
	env.body.len = body_len;
	env.signature.data = sig;
	env.signature.len = sizeof sig;
	env.key_id = c.id;
	v = baton_opcmd_verify(&keys, &env, FUZZ_NOW, &key, &out, err, sizeof err);
	if (v != want) {
		snprintf(msg, sizeof msg, "seed %s: verdict %s, expected %s (%s)", name, baton_opcmd_verdict_name(v),
			 baton_opcmd_verdict_name(want), err);
		gen_die(msg);
	}
	printf("opcmd_verify/%-28s %s%s%s\n", name, baton_opcmd_verdict_name(v), v ? ": " : "", v ? err : "");
	if (out != NULL)
		baton__command_body__free_unpacked(out, NULL);
	len = baton__signed_envelope__get_packed_size(&env);
	packed = malloc(len);
	if (packed == NULL)
		gen_die("out of memory");
	baton__signed_envelope__pack(&env, packed);
	gen_write(dir, "opcmd_verify", name, 0x00, packed, len);
	free(packed);
	free(copy);
}

int main(int argc, char *argv[])
{
	static const struct {
		const char *name;
		struct gen_cmd c;
		int signer, claimed;
		bool flip_sig, flip_body;
		int want;
	} seeds[] = {
		{"ok_switchover", {.op = "switchover", .args = {{"to", "us-east"}}, .epoch = 1, .group = "default"}, 0, 0,
		 false, false, BATON_OPCMD_OK},
		{"ok_failover_force",
		 {.op = "failover", .args = {{"to", "us-east"}, {"force", "true"}, {"reason", "eu-west is gone"}}, .epoch = 3},
		 0, 0, false, false, BATON_OPCMD_OK},
		{"ok_failback", {.op = "failback", .epoch = 2, .nonce_len = 32}, 0, 0, false, false, BATON_OPCMD_OK},
		{"ok_freeze_by_bob", {.op = "freeze", .args = {{"reason", "db maintenance"}}, .epoch = 1}, 1, 1, false, false,
		 BATON_OPCMD_OK},
		{"ok_unfreeze", {.op = "unfreeze", .epoch = -1}, 0, 0, false, false, BATON_OPCMD_OK},
		{"ok_drill", {.op = "drill", .args = {{"to", "ap-south"}}, .epoch = 1}, 0, 0, false, false, BATON_OPCMD_OK},
		{"ok_retry_step",
		 {.op = "retry-step", .args = {{"step", "promote"}, {"transition", "op-0011223344556677"}}, .epoch = 2}, 0, 0,
		 false, false, BATON_OPCMD_OK},
		{"ok_skip_step", {.op = "skip-step", .args = {{"step", "dns"}}, .epoch = 2}, 0, 0, false, false,
		 BATON_OPCMD_OK},
		{"ok_approve",
		 {.op = "approve", .args = {{"id", "a1b2c3d4e5f60718"}}, .approves = "a1b2c3d4e5f60718", .epoch = 3}, 0, 0,
		 false, false, BATON_OPCMD_OK},
		{"bad_signature", {.op = "switchover", .args = {{"to", "us-east"}}, .epoch = 1}, 0, 0, true, false,
		 BATON_OPCMD_BAD_SIGNATURE},
		{"tampered_body", {.op = "switchover", .args = {{"to", "us-east"}}, .epoch = 1}, 0, 0, false, true,
		 BATON_OPCMD_BAD_SIGNATURE},
		{"signed_by_other_key", {.op = "freeze", .args = {{"reason", "x"}}, .epoch = 1}, 2, 0, false, false,
		 BATON_OPCMD_BAD_SIGNATURE},
		{"unknown_key", {.op = "freeze", .args = {{"reason", "x"}}, .epoch = 1}, 2, 2, false, false,
		 BATON_OPCMD_UNKNOWN_KEY},
		{"not_authorized", {.op = "failover", .args = {{"to", "us-east"}}, .epoch = 1}, 1, 1, false, false,
		 BATON_OPCMD_NOT_AUTHORIZED},
		{"wrong_cluster", {.op = "unfreeze", .cluster = "staging", .epoch = 1}, 0, 0, false, false,
		 BATON_OPCMD_WRONG_CLUSTER},
		{"expired", {.op = "unfreeze", .issued = FUZZ_NOW - 400000, .expires = FUZZ_NOW - 100000, .epoch = 1}, 0, 0,
		 false, false, BATON_OPCMD_EXPIRED},
		{"future", {.op = "unfreeze", .issued = FUZZ_NOW + 120000, .expires = FUZZ_NOW + 420000, .epoch = 1}, 0, 0,
		 false, false, BATON_OPCMD_FUTURE},
		{"too_long", {.op = "unfreeze", .issued = FUZZ_NOW, .expires = FUZZ_NOW + 3600000, .epoch = 1}, 0, 0, false,
		 false, BATON_OPCMD_TOO_LONG},
		{"short_nonce", {.op = "unfreeze", .nonce_len = 8, .epoch = 1}, 0, 0, false, false, BATON_OPCMD_MALFORMED},
		{"unknown_op", {.op = "reboot", .epoch = 1}, 0, 0, false, false, BATON_OPCMD_UNKNOWN_OP},
	};
	const char *dir;
	uint8_t *body;
	size_t len;
	char name[64];

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR (containing opcmd_verify/ and command_body/)\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
		len = gen_body(&seeds[i].c, &body);
		gen_envelope(dir, seeds[i].name, body, len, seeds[i].signer, seeds[i].claimed, seeds[i].flip_sig,
			     seeds[i].flip_body, seeds[i].want);
		/* The same bodies, bare: signed by the target (mode 1 alice, 3 bob). */
		if (strncmp(seeds[i].name, "ok_", 3) == 0 || strcmp(seeds[i].name, "not_authorized") == 0 ||
		    strcmp(seeds[i].name, "expired") == 0) {
			snprintf(name, sizeof name, "body_%s", seeds[i].name);
			gen_write(dir, "opcmd_verify", name, seeds[i].signer == 1 ? 0x03 : 0x01, body, len);
			gen_write(dir, "command_body", seeds[i].name, -1, body, len);
		}
		free(body);
	}
	/* command_body: repeated keys (the first wins), an empty map, force=false. */
	{
		struct gen_cmd dup = {.op = "failover",
				      .args = {{"to", "us-east"}, {"to", "ap-south"}, {"force", "false"}, {"", "empty-key"}},
				      .epoch = 1};
		len = gen_body(&dup, &body);
		gen_write(dir, "command_body", "repeated_keys", -1, body, len);
		free(body);
	}
	return 0;
}
