/* SPDX-License-Identifier: MIT */
/* Fuzz baton_report_verify() (lib/report.c), the first code a coordinator runs
 * on bytes from the network (POST /v1/health).
 *
 * Input: one mode byte, then the payload.
 *   mode even: the payload is the HTTP body as received (a HealthReport).
 *   mode odd:  the payload is a HealthReportBody; it is wrapped in an envelope
 *              with a correct MAC first, so the fuzzer reaches everything
 *              behind the MAC check without having to forge HMAC-SHA256.
 * The key, region ("eu-west"), clock and limits are fixed (see
 * gen_health_report_corpus.c, which writes seeds for them).
 *
 * Besides "no crash, no leak, no UB" it checks: the verdict is in range; the
 * message is one line and empty exactly on OK; an accepted report decodes to
 * this region and a valid reporter name, and the same bytes again are a
 * replay. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/report.h"

#define FUZZ_NOW UINT64_C(1700000000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_key(uint8_t key[BATON_REPORT_KEY_LEN])
{
	for (size_t i = 0; i < BATON_REPORT_KEY_LEN; i++)
		key[i] = (uint8_t)(0xa0 + i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct baton_report_verifier v;
	Baton__HealthReportBody *body = NULL;
	uint8_t key[BATON_REPORT_KEY_LEN];
	uint8_t *wrapped = NULL;
	const uint8_t *msg;
	size_t len;
	char err[512];
	int verdict;

	if (size < 1)
		return 0;
	fuzz_key(key);
	if (baton_report_verifier_init(&v, "eu-west", key, 10000, 2000) != 0)
		abort();
	msg = data + 1;
	len = size - 1;
	if (data[0] & 1) {
		Baton__HealthReport env = BATON__HEALTH_REPORT__INIT;
		uint8_t mac[crypto_auth_hmacsha256_BYTES];

		crypto_auth_hmacsha256(mac, msg, len, key);
		env.body.data = (uint8_t *)msg;
		env.body.len = len;
		env.mac.data = mac;
		env.mac.len = sizeof mac;
		env.key_id = "fuzz";
		wrapped = malloc(baton__health_report__get_packed_size(&env));
		if (wrapped == NULL)
			abort();
		len = baton__health_report__pack(&env, wrapped);
		msg = wrapped;
	}
	verdict = baton_report_verify(&v, msg, len, FUZZ_NOW, &body, err, sizeof err);
	if (verdict < 0 || verdict >= BATON_REPORT_VERDICT_NR || strchr(err, '\n') != NULL ||
	    (verdict == BATON_REPORT_OK) != (err[0] == '\0'))
		abort();
	if (verdict == BATON_REPORT_OK) {
		if (body == NULL || strcmp(body->region, "eu-west") != 0 ||
		    body->reporter[0] == '\0' || strlen(body->reporter) > BATON_REPORT_NAME_MAX)
			abort();
		baton__health_report_body__free_unpacked(body, NULL);
		if (baton_report_verify(&v, msg, len, FUZZ_NOW, NULL, err, sizeof err) !=
		    BATON_REPORT_REPLAY)
			abort();
	} else if (body != NULL) {
		abort(); /* *ret_body is written only on OK */
	}
	free(wrapped);
	baton_report_verifier_done(&v);
	return 0;
}
