/* SPDX-License-Identifier: MIT */
/* lib/report.c: region keys, signing, and the verifier a coordinator runs on
 * every POST /v1/health.
 *
 * The fixture is region eu-west with a fixed key, max_age 10 s, max_skew 2 s,
 * and a clock (NOW) the tests pass in; reports are built with make_report()
 * and then signed, tampered with or replayed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/report.h"

#define NOW UINT64_C(1700000000000)
#define MAX_AGE 10000
#define MAX_SKEW 2000

struct fixture {
	struct baton_report_verifier v;
	uint8_t key[BATON_REPORT_KEY_LEN];
	uint8_t other_key[BATON_REPORT_KEY_LEN];
	char key_id[BATON_REPORT_KEY_ID_LEN];
	char dir[64];
	char err[512];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	for (size_t i = 0; i < BATON_REPORT_KEY_LEN; i++) {
		f->key[i] = (uint8_t)(i * 7 + 1);
		f->other_key[i] = (uint8_t)(i * 7 + 2);
	}
	baton_report_key_id(f->key, f->key_id);
	assert_int_equal(baton_report_verifier_init(&f->v, "eu-west", f->key, MAX_AGE, MAX_SKEW), 0);
	snprintf(f->dir, sizeof f->dir, "/tmp/baton-test-report-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	baton_report_verifier_done(&f->v);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* A signed report of @reporter in @region; caller frees *ret. */
static size_t make_report(const uint8_t *key, const char *region, const char *reporter,
			  uint64_t seq, uint64_t sent_at_ms, uint8_t **ret)
{
	Baton__HealthReportBody body = BATON__HEALTH_REPORT_BODY__INIT;
	Baton__CheckResult c = BATON__CHECK_RESULT__INIT;
	Baton__CheckResult *checks[1] = { &c };
	char kid[BATON_REPORT_KEY_ID_LEN];
	void *buf;
	size_t len;

	c.name = "web";
	c.kind = "http";
	c.ok = true;
	c.has_critical = true;
	c.critical = true;
	body.region = (char *)region;
	body.reporter = (char *)reporter;
	body.seq = seq;
	body.sent_at_ms = sent_at_ms;
	body.n_checks = 1;
	body.checks = checks;
	body.has_critical = true;
	body.critical = false;
	baton_report_key_id(key, kid);
	assert_int_equal(baton_report_sign(&body, key, kid, &buf, &len), 0);
	*ret = buf;
	return len;
}

static int verify(struct fixture *f, const uint8_t *buf, size_t len, uint64_t now)
{
	return baton_report_verify(&f->v, buf, len, now, NULL, f->err, sizeof f->err);
}

/* Pack an envelope around arbitrary @body bytes with a correct MAC under @key. */
static size_t wrap_body(const uint8_t *key, const uint8_t *body, size_t blen, uint8_t **ret)
{
	Baton__HealthReport env = BATON__HEALTH_REPORT__INIT;
	uint8_t mac[32];
	size_t n;

	crypto_auth_hmacsha256(mac, body, blen, key);
	env.body.data = (uint8_t *)body;
	env.body.len = blen;
	env.mac.data = mac;
	env.mac.len = sizeof mac;
	n = baton__health_report__get_packed_size(&env);
	*ret = malloc(n);
	assert_non_null(*ret);
	baton__health_report__pack(&env, *ret);
	return n;
}

/* ------------------------------------------------------------------ verify */

/* A report signed with the region's key, on time, is accepted and decoded. */
static void a_good_report_is_accepted_and_decoded(void **state)
{
	struct fixture *f = *state;
	Baton__HealthReportBody *body = NULL;
	uint8_t *buf;
	size_t len = make_report(f->key, "eu-west", "app-eu-1", 5, NOW - 100, &buf);

	assert_int_equal(baton_report_verify(&f->v, buf, len, NOW, &body, f->err, sizeof f->err),
			 BATON_REPORT_OK);
	assert_string_equal(f->err, "");
	assert_non_null(body);
	assert_string_equal(body->reporter, "app-eu-1");
	assert_int_equal(body->seq, 5);
	assert_int_equal(body->n_checks, 1);
	assert_string_equal(body->checks[0]->name, "web");
	baton__health_report_body__free_unpacked(body, NULL);
	free(buf);
}

/* One flipped bit in the MAC is a bad MAC. */
static void a_flipped_mac_bit_is_a_bad_mac(void **state)
{
	struct fixture *f = *state;
	Baton__HealthReport *env;
	uint8_t *buf, *out;
	size_t len = make_report(f->key, "eu-west", "app-eu-1", 5, NOW, &buf);

	env = baton__health_report__unpack(NULL, len, buf);
	assert_non_null(env);
	env->mac.data[31] ^= 1;
	out = malloc(baton__health_report__get_packed_size(env));
	len = baton__health_report__pack(env, out);
	assert_int_equal(verify(f, out, len, NOW), BATON_REPORT_BAD_MAC);
	assert_non_null(strstr(f->err, "mac does not match"));
	baton__health_report__free_unpacked(env, NULL);
	free(out);
	free(buf);
}

/* A report MACed with another region's key is refused, and the message shows
 * both key ids so the operator sees the keys differ. */
static void a_report_signed_with_another_regions_key_is_a_bad_mac(void **state)
{
	struct fixture *f = *state;
	char other_id[BATON_REPORT_KEY_ID_LEN];
	uint8_t *buf;
	size_t len = make_report(f->other_key, "eu-west", "app-eu-1", 5, NOW, &buf);

	baton_report_key_id(f->other_key, other_id);
	assert_int_equal(verify(f, buf, len, NOW), BATON_REPORT_BAD_MAC);
	assert_non_null(strstr(f->err, other_id));
	assert_non_null(strstr(f->err, f->key_id));
	free(buf);
}

/* Changing a byte of the body after signing breaks the MAC. */
static void a_body_changed_after_signing_is_a_bad_mac(void **state)
{
	struct fixture *f = *state;
	Baton__HealthReport *env;
	uint8_t *buf, *out;
	size_t len = make_report(f->key, "eu-west", "app-eu-1", 5, NOW, &buf);
	uint8_t *p;

	env = baton__health_report__unpack(NULL, len, buf);
	assert_non_null(env);
	/* "critical: false" is the last field: make it true */
	p = env->body.data + env->body.len - 1;
	assert_int_equal(*p, 0);
	*p = 1;
	out = malloc(baton__health_report__get_packed_size(env));
	len = baton__health_report__pack(env, out);
	assert_int_equal(verify(f, out, len, NOW), BATON_REPORT_BAD_MAC);
	baton__health_report__free_unpacked(env, NULL);
	free(out);
	free(buf);
}

/* The same bytes sent twice: the second is a replay. */
static void the_same_report_twice_is_a_replay(void **state)
{
	struct fixture *f = *state;
	uint8_t *buf;
	size_t len = make_report(f->key, "eu-west", "app-eu-1", 5, NOW, &buf);

	assert_int_equal(verify(f, buf, len, NOW), BATON_REPORT_OK);
	assert_int_equal(verify(f, buf, len, NOW + 1), BATON_REPORT_REPLAY);
	assert_non_null(strstr(f->err, "app-eu-1"));
	assert_non_null(strstr(f->err, "seq 5"));
	free(buf);
}

/* After seq 9, seq 8 from the same reporter is refused (even though new bytes). */
static void an_older_seq_from_the_same_reporter_is_a_replay(void **state)
{
	struct fixture *f = *state;
	uint8_t *a, *b;
	size_t la = make_report(f->key, "eu-west", "app-eu-1", 9, NOW, &a);
	size_t lb = make_report(f->key, "eu-west", "app-eu-1", 8, NOW + 5, &b);

	assert_int_equal(verify(f, a, la, NOW), BATON_REPORT_OK);
	assert_int_equal(verify(f, b, lb, NOW + 5), BATON_REPORT_REPLAY);
	assert_non_null(strstr(f->err, "last accepted seq 9"));
	free(a);
	free(b);
}

/* A report older than max_age is stale; exactly max_age old is still fine. */
static void a_report_older_than_max_age_is_stale(void **state)
{
	struct fixture *f = *state;
	uint8_t *a, *b;
	size_t la = make_report(f->key, "eu-west", "app-eu-1", 1, NOW - MAX_AGE - 1, &a);
	size_t lb = make_report(f->key, "eu-west", "app-eu-1", 2, NOW - MAX_AGE, &b);

	assert_int_equal(verify(f, a, la, NOW), BATON_REPORT_STALE);
	assert_non_null(strstr(f->err, "10001 ms ago"));
	assert_int_equal(verify(f, b, lb, NOW), BATON_REPORT_OK);
	free(a);
	free(b);
}

/* A report dated more than max_skew ahead is from the future; at max_skew it passes. */
static void a_report_dated_beyond_the_skew_is_from_the_future(void **state)
{
	struct fixture *f = *state;
	uint8_t *a, *b;
	size_t la = make_report(f->key, "eu-west", "app-eu-1", 1, NOW + MAX_SKEW + 1, &a);
	size_t lb = make_report(f->key, "eu-west", "app-eu-1", 2, NOW + MAX_SKEW, &b);

	assert_int_equal(verify(f, a, la, NOW), BATON_REPORT_FUTURE);
	assert_non_null(strstr(f->err, "2001 ms in the future"));
	assert_int_equal(verify(f, b, lb, NOW), BATON_REPORT_OK);
	free(a);
	free(b);
}

/* More than 64 KiB is refused before anything is parsed. */
static void a_report_over_64_kib_is_oversized(void **state)
{
	struct fixture *f = *state;
	size_t len = BATON_REPORT_MAX_BYTES + 1;
	uint8_t *buf = calloc(1, len);

	assert_int_equal(verify(f, buf, len, NOW), BATON_REPORT_OVERSIZED);
	assert_non_null(strstr(f->err, "65537 bytes"));
	free(buf);
}

/* Bytes that are not a HealthReport envelope are malformed. */
static void garbage_is_a_malformed_envelope(void **state)
{
	struct fixture *f = *state;
	static const uint8_t junk[] = { 0x0a, 0xff, 0x01, 0x02 }; /* field 1, length past the end */

	assert_int_equal(verify(f, junk, sizeof junk, NOW), BATON_REPORT_MALFORMED);
	assert_non_null(strstr(f->err, "envelope"));
	assert_int_equal(verify(f, (const uint8_t *)"", 0, NOW), BATON_REPORT_MALFORMED);
}

/* An authentic envelope whose body is not a HealthReportBody is malformed,
 * and so is one whose body lacks required fields. */
static void an_authentic_envelope_with_a_broken_body_is_malformed(void **state)
{
	struct fixture *f = *state;
	static const uint8_t junk[] = { 0x0a, 0xff, 0x01, 0x02 };
	static const uint8_t only_region[] = { 0x0a, 0x02, 'e', 'u' };
	uint8_t *buf;
	size_t len;

	len = wrap_body(f->key, junk, sizeof junk, &buf);
	assert_int_equal(verify(f, buf, len, NOW), BATON_REPORT_MALFORMED);
	assert_non_null(strstr(f->err, "body"));
	free(buf);
	len = wrap_body(f->key, only_region, sizeof only_region, &buf);
	assert_int_equal(verify(f, buf, len, NOW), BATON_REPORT_MALFORMED);
	free(buf);
}

/* A reporter name outside [a-z0-9-] (here with a newline) is malformed, and
 * the message escapes it. */
static void a_reporter_name_outside_the_charset_is_malformed(void **state)
{
	struct fixture *f = *state;
	uint8_t *buf;
	size_t len = make_report(f->key, "eu-west", "app\nx", 1, NOW, &buf);

	assert_int_equal(verify(f, buf, len, NOW), BATON_REPORT_MALFORMED);
	assert_null(strchr(f->err, '\n'));
	assert_non_null(strstr(f->err, "app\\x0ax"));
	free(buf);
}

/* An authentic report naming another region is refused as wrong-region. */
static void a_report_for_another_region_is_wrong_region(void **state)
{
	struct fixture *f = *state;
	uint8_t *buf;
	size_t len = make_report(f->key, "us-east", "app-eu-1", 1, NOW, &buf);

	assert_int_equal(verify(f, buf, len, NOW), BATON_REPORT_WRONG_REGION);
	assert_non_null(strstr(f->err, "'us-east'"));
	free(buf);
}

/* Two reporters have independent seqs: interleaved reports are all accepted. */
static void two_reporters_interleaved_are_both_accepted(void **state)
{
	struct fixture *f = *state;

	for (uint64_t i = 1; i <= 5; i++) {
		uint8_t *a, *b;
		size_t la = make_report(f->key, "eu-west", "app-a", 1000 + i, NOW, &a);
		size_t lb = make_report(f->key, "eu-west", "app-b", 10 + i, NOW, &b);

		assert_int_equal(verify(f, a, la, NOW), BATON_REPORT_OK);
		assert_int_equal(verify(f, b, lb, NOW), BATON_REPORT_OK);
		free(a);
		free(b);
	}
}

/* A rejected report does not move the seq: a stale report with a high seq
 * does not block the fresh ones that follow. */
static void only_an_accepted_report_advances_the_seq(void **state)
{
	struct fixture *f = *state;
	uint8_t *a, *b;
	size_t la = make_report(f->key, "eu-west", "app-eu-1", 100, NOW - MAX_AGE - 1, &a);
	size_t lb = make_report(f->key, "eu-west", "app-eu-1", 50, NOW, &b);

	assert_int_equal(verify(f, a, la, NOW), BATON_REPORT_STALE);
	assert_int_equal(verify(f, b, lb, NOW), BATON_REPORT_OK);
	free(a);
	free(b);
}

/* When the table is full, the reporter accepted longest ago is forgotten;
 * recently seen reporters keep their replay protection. */
static void a_full_seq_table_forgets_the_oldest_reporter(void **state)
{
	struct fixture *f = *state;
	uint8_t *first, *recent, *buf;
	size_t lfirst, lrecent, len;
	char name[32];

	lfirst = make_report(f->key, "eu-west", "r-first", 7, NOW, &first);
	assert_int_equal(verify(f, first, lfirst, NOW), BATON_REPORT_OK);
	for (int i = 1; i < BATON_REPORT_SEQ_SLOTS; i++) {
		snprintf(name, sizeof name, "r-%d", i);
		len = make_report(f->key, "eu-west", name, 1, NOW, &buf);
		assert_int_equal(verify(f, buf, len, NOW), BATON_REPORT_OK);
		free(buf);
	}
	lrecent = make_report(f->key, "eu-west", "r-4095", 2, NOW, &recent);
	assert_int_equal(verify(f, recent, lrecent, NOW), BATON_REPORT_OK);
	assert_int_equal(verify(f, first, lfirst, NOW), BATON_REPORT_REPLAY); /* table full, still known */
	len = make_report(f->key, "eu-west", "r-new", 1, NOW, &buf);     /* evicts r-first */
	assert_int_equal(verify(f, buf, len, NOW), BATON_REPORT_OK);
	assert_int_equal(verify(f, first, lfirst, NOW), BATON_REPORT_OK); /* forgotten: evicts r-1 */
	assert_int_equal(verify(f, recent, lrecent, NOW), BATON_REPORT_REPLAY);
	free(buf);
	free(first);
	free(recent);
}

/* Verdict names are the metric labels. */
static void verdicts_have_stable_names(void **state)
{
	static const char *const want[] = { "ok",           "oversized", "malformed", "bad-mac",
					    "wrong-region", "replay",    "stale",     "future" };

	(void)state;
	for (int i = 0; i < BATON_REPORT_VERDICT_NR; i++)
		assert_string_equal(baton_report_verdict_name(i), want[i]);
	assert_string_equal(baton_report_verdict_name(-1), "unknown");
	assert_string_equal(baton_report_verdict_name(BATON_REPORT_VERDICT_NR), "unknown");
}

/* ------------------------------------------------------------------ sign, seq */

/* Signing refuses a body that would make a report over 64 KiB. */
static void signing_refuses_a_report_no_verifier_would_accept(void **state)
{
	struct fixture *f = *state;
	Baton__HealthReportBody body = BATON__HEALTH_REPORT_BODY__INIT;
	Baton__CheckResult c = BATON__CHECK_RESULT__INIT;
	Baton__CheckResult *checks[1] = { &c };
	char *big = malloc(BATON_REPORT_MAX_BYTES);
	void *buf = NULL;
	size_t len = 0;

	memset(big, 'x', BATON_REPORT_MAX_BYTES - 1);
	big[BATON_REPORT_MAX_BYTES - 1] = '\0';
	c.name = "web";
	c.kind = "http";
	c.detail = big;
	body.region = "eu-west";
	body.reporter = "app-eu-1";
	body.n_checks = 1;
	body.checks = checks;
	assert_int_equal(baton_report_sign(&body, f->key, NULL, &buf, &len), -EMSGSIZE);
	assert_null(buf);
	body.region = "";
	c.detail = NULL;
	assert_int_equal(baton_report_sign(&body, f->key, NULL, &buf, &len), -EINVAL);
	free(big);
}

/* seq follows the clock in microseconds but never repeats or goes back. */
static void seq_follows_the_clock_and_always_increases(void **state)
{
	uint64_t last = 0;

	(void)state;
	assert_int_equal(baton_report_next_seq(&last, 1000), 1000);
	assert_int_equal(baton_report_next_seq(&last, 1000), 1001); /* same microsecond */
	assert_int_equal(baton_report_next_seq(&last, 500), 1002);  /* clock stepped back */
	assert_int_equal(baton_report_next_seq(&last, 5000), 5000);
	assert_int_equal(last, 5000);
}

/* ------------------------------------------------------------------ key files */

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static const char HEX64[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1F";

/* A key file with 64 hex characters and surrounding whitespace loads. */
static void a_key_file_with_64_hex_chars_loads(void **state)
{
	struct fixture *f = *state;
	uint8_t key[BATON_REPORT_KEY_LEN];
	char path[128], text[128];

	snprintf(path, sizeof path, "%s/k", f->dir);
	snprintf(text, sizeof text, "  %s\n\n", HEX64);
	write_file(path, text, 0600);
	assert_int_equal(baton_report_key_load(path, key, f->err, sizeof f->err), 0);
	for (int i = 0; i < 31; i++)
		assert_int_equal(key[i], i);
	assert_int_equal(key[31], 0x1f);
}

/* A missing key file: -ENOENT and the path in the message. */
static void a_missing_key_file_names_the_path(void **state)
{
	struct fixture *f = *state;
	uint8_t key[BATON_REPORT_KEY_LEN];
	char path[128];

	snprintf(path, sizeof path, "%s/nope", f->dir);
	assert_int_equal(baton_report_key_load(path, key, f->err, sizeof f->err), -ENOENT);
	assert_non_null(strstr(f->err, path));
	assert_non_null(strstr(f->err, "No such file"));
}

/* A non-hex character is refused with its offset. */
static void a_key_file_with_a_non_hex_char_is_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t key[BATON_REPORT_KEY_LEN];
	char path[128], text[128];

	snprintf(path, sizeof path, "%s/k", f->dir);
	snprintf(text, sizeof text, "%s", HEX64);
	text[10] = 'g';
	write_file(path, text, 0600);
	assert_int_equal(baton_report_key_load(path, key, f->err, sizeof f->err), -EINVAL);
	assert_non_null(strstr(f->err, path));
	assert_non_null(strstr(f->err, "'g' at offset 10"));
}

/* 62 or 66 hex characters, or an empty file, are the wrong length. */
static void a_key_file_of_the_wrong_length_is_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t key[BATON_REPORT_KEY_LEN];
	char path[128], text[128];

	snprintf(path, sizeof path, "%s/k", f->dir);
	snprintf(text, sizeof text, "%.62s\n", HEX64);
	write_file(path, text, 0600);
	assert_int_equal(baton_report_key_load(path, key, f->err, sizeof f->err), -EINVAL);
	assert_non_null(strstr(f->err, "expected 64 hex characters (32 bytes), got 62"));
	snprintf(text, sizeof text, "%sabcd", HEX64);
	write_file(path, text, 0600);
	assert_int_equal(baton_report_key_load(path, key, f->err, sizeof f->err), -EINVAL);
	assert_non_null(strstr(f->err, "got 68"));
	write_file(path, "\n", 0600);
	assert_int_equal(baton_report_key_load(path, key, f->err, sizeof f->err), -EINVAL);
	assert_non_null(strstr(f->err, "keygen"));
}

/* Mode 0644 (or any group/other bit) is refused, with the mode and the fix. */
static void a_key_file_readable_by_others_is_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t key[BATON_REPORT_KEY_LEN];
	char path[128];

	snprintf(path, sizeof path, "%s/k", f->dir);
	write_file(path, HEX64, 0644);
	assert_int_equal(baton_report_key_load(path, key, f->err, sizeof f->err), -EPERM);
	assert_non_null(strstr(f->err, "mode 0644"));
	assert_non_null(strstr(f->err, "chmod 600"));
	write_file(path, HEX64, 0640);
	assert_int_equal(baton_report_key_load(path, key, f->err, sizeof f->err), -EPERM);
	write_file(path, HEX64, 0400);
	assert_int_equal(baton_report_key_load(path, key, f->err, sizeof f->err), 0);
}

/* A directory is not a key file. */
static void a_directory_is_not_a_key_file(void **state)
{
	struct fixture *f = *state;
	uint8_t key[BATON_REPORT_KEY_LEN];

	assert_int_equal(baton_report_key_load(f->dir, key, f->err, sizeof f->err), -EINVAL);
	assert_non_null(strstr(f->err, "not a regular file"));
}

/* keygen writes a 0600 key that loads, and never overwrites a file. */
static void keygen_writes_a_private_key_and_never_overwrites(void **state)
{
	struct fixture *f = *state;
	uint8_t k1[BATON_REPORT_KEY_LEN], k2[BATON_REPORT_KEY_LEN];
	char path[128], path2[128];
	struct stat st;

	snprintf(path, sizeof path, "%s/new.key", f->dir);
	snprintf(path2, sizeof path2, "%s/new2.key", f->dir);
	assert_int_equal(baton_report_key_generate(path, f->err, sizeof f->err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 65);
	assert_int_equal(baton_report_key_load(path, k1, f->err, sizeof f->err), 0);
	assert_int_equal(baton_report_key_generate(path, f->err, sizeof f->err), -EEXIST);
	assert_non_null(strstr(f->err, "refusing to overwrite"));
	assert_int_equal(baton_report_key_load(path, k2, f->err, sizeof f->err), 0);
	assert_memory_equal(k1, k2, sizeof k1);
	assert_int_equal(baton_report_key_generate(path2, f->err, sizeof f->err), 0);
	assert_int_equal(baton_report_key_load(path2, k2, f->err, sizeof f->err), 0);
	assert_memory_not_equal(k1, k2, sizeof k1);
}

/* The key id is stable for a key and differs between keys. */
static void key_ids_tell_keys_apart(void **state)
{
	struct fixture *f = *state;
	char a[BATON_REPORT_KEY_ID_LEN], b[BATON_REPORT_KEY_ID_LEN];

	baton_report_key_id(f->key, a);
	assert_string_equal(a, f->key_id);
	assert_int_equal(strlen(a), 16);
	baton_report_key_id(f->other_key, b);
	assert_string_not_equal(a, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(a_good_report_is_accepted_and_decoded),
		T(a_flipped_mac_bit_is_a_bad_mac),
		T(a_report_signed_with_another_regions_key_is_a_bad_mac),
		T(a_body_changed_after_signing_is_a_bad_mac),
		T(the_same_report_twice_is_a_replay),
		T(an_older_seq_from_the_same_reporter_is_a_replay),
		T(a_report_older_than_max_age_is_stale),
		T(a_report_dated_beyond_the_skew_is_from_the_future),
		T(a_report_over_64_kib_is_oversized),
		T(garbage_is_a_malformed_envelope),
		T(an_authentic_envelope_with_a_broken_body_is_malformed),
		T(a_reporter_name_outside_the_charset_is_malformed),
		T(a_report_for_another_region_is_wrong_region),
		T(two_reporters_interleaved_are_both_accepted),
		T(only_an_accepted_report_advances_the_seq),
		T(a_full_seq_table_forgets_the_oldest_reporter),
		T(verdicts_have_stable_names),
		T(signing_refuses_a_report_no_verifier_would_accept),
		T(seq_follows_the_clock_and_always_increases),
		T(a_key_file_with_64_hex_chars_loads),
		T(a_missing_key_file_names_the_path),
		T(a_key_file_with_a_non_hex_char_is_refused),
		T(a_key_file_of_the_wrong_length_is_refused),
		T(a_key_file_readable_by_others_is_refused),
		T(a_directory_is_not_a_key_file),
		T(keygen_writes_a_private_key_and_never_overwrites),
		T(key_ids_tell_keys_apart),
#undef T
	};
	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
