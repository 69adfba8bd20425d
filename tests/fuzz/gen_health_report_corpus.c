/* SPDX-License-Identifier: MIT */
/* Writes the seed corpus of the health_report fuzz target (fuzz_health_report.c):
 *
 *   build-x/tests/fuzz/gen_health_report_corpus tests/fuzz/corpus/health_report
 *
 * Each file is the target's mode byte followed by a payload: 0x00 + a signed
 * HealthReport (accepted, or refused for one reason each), or 0x01 + a bare
 * HealthReportBody (the target adds a correct MAC). Key, region and clock
 * match the target's. Every seed is verified here too and its verdict
 * printed, so a seed that stopped meaning what its name says shows up. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/report.h"

#define GEN_NOW UINT64_C(1700000000000)

static void gen_die(const char *what)
{
	fprintf(stderr, "gen_health_report_corpus: %s\n", what);
	exit(1);
}

static void gen_write(const char *dir, const char *name, uint8_t mode, const void *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fputc(mode, f) == EOF || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		gen_die(path);
}

static void gen_key(uint8_t key[BATON_REPORT_KEY_LEN], uint8_t base)
{
	for (size_t i = 0; i < BATON_REPORT_KEY_LEN; i++)
		key[i] = (uint8_t)(base + i);
}

struct gen_report {
	const char *region, *reporter;
	uint64_t seq, sent_at_ms;
	bool critical, pg;
};

static void gen_body(Baton__HealthReportBody *b, Baton__CheckResult *c, Baton__CheckResult **cp,
		     const struct gen_report *r)
{
	baton__health_report_body__init(b);
	for (int i = 0; i < 3; i++) {
		baton__check_result__init(&c[i]);
		cp[i] = &c[i];
	}
	c[0].name = "web";
	c[0].kind = "http";
	c[0].ok = !r->critical;
	c[0].has_critical = true;
	c[0].critical = true;
	c[0].detail = r->critical ? "status 503, expected 200" : "status 200";
	c[0].has_latency_ms = true;
	c[0].latency_ms = 3;
	c[1].name = "db-port";
	c[1].kind = "tcp";
	c[1].ok = true;
	c[2].name = "db";
	c[2].kind = "postgres";
	c[2].ok = true;
	c[2].pg_role = "replica";
	c[2].has_lag_bytes = true;
	c[2].lag_bytes = 4096;
	c[2].has_lag_ms = true;
	c[2].lag_ms = 120;
	b->region = (char *)r->region;
	b->reporter = (char *)r->reporter;
	b->seq = r->seq;
	b->sent_at_ms = r->sent_at_ms;
	b->n_checks = r->pg ? 3 : 2;
	b->checks = cp;
	b->has_critical = true;
	b->critical = r->critical;
}

static void gen_signed(const char *dir, const char *name, const uint8_t *key,
		       const struct gen_report *r)
{
	uint8_t fk[BATON_REPORT_KEY_LEN];
	struct baton_report_verifier v;
	Baton__HealthReportBody b;
	Baton__CheckResult c[3], *cp[3];
	char kid[BATON_REPORT_KEY_ID_LEN], err[512];
	void *buf;
	size_t len;
	int verdict;

	gen_body(&b, c, cp, r);
	baton_report_key_id(key, kid);
	if (baton_report_sign(&b, key, kid, &buf, &len) != 0)
		gen_die("sign");
	gen_write(dir, name, 0, buf, len);
	gen_key(fk, 0xa0);
	if (baton_report_verifier_init(&v, "eu-west", fk, 10000, 2000) != 0)
		gen_die("verifier");
	verdict = baton_report_verify(&v, buf, len, GEN_NOW, NULL, err, sizeof err);
	printf("%-24s %4zu bytes  %-12s %s\n", name, len + 1, baton_report_verdict_name(verdict), err);
	baton_report_verifier_done(&v);
	free(buf);
}

static void gen_bare(const char *dir, const char *name, const struct gen_report *r)
{
	Baton__HealthReportBody b;
	Baton__CheckResult c[3], *cp[3];
	uint8_t buf[4096];
	size_t len;

	gen_body(&b, c, cp, r);
	len = baton__health_report_body__get_packed_size(&b);
	if (len > sizeof buf)
		gen_die("body too large");
	baton__health_report_body__pack(&b, buf);
	gen_write(dir, name, 1, buf, len);
	printf("%-24s %4zu bytes  (bare body, MAC added by the target)\n", name, len + 1);
}

int main(int argc, char **argv)
{
	uint8_t key[BATON_REPORT_KEY_LEN], other[BATON_REPORT_KEY_LEN];
	const char *dir;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	gen_key(key, 0xa0);   /* the target's key */
	gen_key(other, 0x10); /* another region's */
	gen_signed(dir, "signed_ok", key,
		   &(struct gen_report){ .region = "eu-west", .reporter = "app-eu-1", .seq = 1700000000000000, .sent_at_ms = GEN_NOW - 5 });
	gen_signed(dir, "signed_ok_pg_critical", key,
		   &(struct gen_report){ .region = "eu-west", .reporter = "db-eu-1", .seq = 42, .sent_at_ms = GEN_NOW, .critical = true, .pg = true });
	gen_signed(dir, "signed_other_key", other,
		   &(struct gen_report){ .region = "eu-west", .reporter = "app-eu-1", .seq = 1, .sent_at_ms = GEN_NOW });
	gen_signed(dir, "signed_wrong_region", key,
		   &(struct gen_report){ .region = "us-east", .reporter = "app-us-1", .seq = 1, .sent_at_ms = GEN_NOW });
	gen_signed(dir, "signed_stale", key,
		   &(struct gen_report){ .region = "eu-west", .reporter = "app-eu-1", .seq = 1, .sent_at_ms = GEN_NOW - 60000 });
	gen_signed(dir, "signed_future", key,
		   &(struct gen_report){ .region = "eu-west", .reporter = "app-eu-1", .seq = 1, .sent_at_ms = GEN_NOW + 60000 });
	gen_signed(dir, "signed_bad_reporter", key,
		   &(struct gen_report){ .region = "eu-west", .reporter = "App_EU", .seq = 1, .sent_at_ms = GEN_NOW });
	gen_bare(dir, "bare_ok", &(struct gen_report){ .region = "eu-west", .reporter = "app-eu-2", .seq = 7, .sent_at_ms = GEN_NOW, .critical = false, .pg = true });
	gen_bare(dir, "bare_critical", &(struct gen_report){ .region = "eu-west", .reporter = "app-eu-3", .seq = 8, .sent_at_ms = GEN_NOW, .critical = true });
	return 0;
}
