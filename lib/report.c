/* SPDX-License-Identifier: MIT */
/* Health report keys, signing and verification; see report.h.
 *
 * Verification order is part of the contract: cheap, unauthenticated checks
 * first (size, envelope), then the MAC, and only then is the body parsed and
 * its claims (region, time, seq) believed. Every failure is a verdict plus one
 * line of text; nothing here logs. */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

_Static_assert(BATON_REPORT_KEY_LEN == crypto_auth_hmacsha256_KEYBYTES, "key size");
_Static_assert(crypto_auth_hmacsha256_BYTES == 32, "mac size");

#define KEY_HEX_LEN (2 * BATON_REPORT_KEY_LEN)
#define KEY_FILE_MAX 1024 /* a key file is 64 chars; anything this big is not one */

static void report_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ keys */

static int report_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool report_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Parse the key file's text (@n bytes) into @key. */
static int report_key_parse(const char *path, const char *text, size_t n,
			    uint8_t key[BATON_REPORT_KEY_LEN], char *err, size_t errlen)
{
	uint8_t tmp[BATON_REPORT_KEY_LEN];
	size_t a = 0, b = n;

	while (a < b && report_is_space(text[a]))
		a++;
	while (b > a && report_is_space(text[b - 1]))
		b--;
	for (size_t i = a; i < b; i++) {
		if (report_hexval(text[i]) < 0) {
			unsigned char c = (unsigned char)text[i];

			if (c >= 0x21 && c < 0x7f)
				report_errf(err, errlen,
					    "%s: not a key: '%c' at offset %zu is not a hex digit "
					    "(expected %d hex characters)",
					    path, c, i, KEY_HEX_LEN);
			else
				report_errf(err, errlen,
					    "%s: not a key: byte 0x%02x at offset %zu is not a hex digit "
					    "(expected %d hex characters)",
					    path, c, i, KEY_HEX_LEN);
			return -EINVAL;
		}
	}
	if (b - a != KEY_HEX_LEN) {
		report_errf(err, errlen,
			    "%s: not a key: expected %d hex characters (32 bytes), got %zu%s", path,
			    KEY_HEX_LEN, b - a,
			    b == a ? " (the file is empty; create a key with 'baton-reporter keygen PATH')"
				   : "");
		return -EINVAL;
	}
	for (size_t i = 0; i < BATON_REPORT_KEY_LEN; i++)
		tmp[i] = (uint8_t)(report_hexval(text[a + 2 * i]) << 4 |
				   report_hexval(text[a + 2 * i + 1]));
	memcpy(key, tmp, sizeof tmp);
	sodium_memzero(tmp, sizeof tmp);
	return 0;
}

int baton_report_key_load(const char *path, uint8_t key[BATON_REPORT_KEY_LEN], char *err,
			  size_t errlen)
{
	char text[KEY_FILE_MAX + 1];
	struct stat st;
	size_t n = 0;
	int fd, rv;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rv = -errno;
		report_errf(err, errlen, "%s: cannot open key file: %s", path, strerror(errno));
		return rv;
	}
	/* fstat the open file, not the path: what we check is what we read. A
	 * symlink (Kubernetes secret volumes use them) is judged by its target. */
	if (fstat(fd, &st) != 0) {
		rv = -errno; /* UNTESTED */
		report_errf(err, errlen, "%s: cannot stat key file: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rv = -EINVAL;
		report_errf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		rv = -EPERM;
		report_errf(err, errlen,
			    "%s: key file mode %04o lets group or others access it; "
			    "refusing to use it (chmod 600 %s; this applies when running as root too)",
			    path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, text + n, sizeof text - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rv = -errno;
			report_errf(err, errlen, "%s: cannot read key file: %s", path,
				    strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == sizeof text) {
			rv = -EINVAL;
			report_errf(err, errlen,
				    "%s: not a key: larger than %d bytes (expected %d hex characters)",
				    path, KEY_FILE_MAX, KEY_HEX_LEN);
			goto out;
		}
	}
	rv = report_key_parse(path, text, n, key, err, errlen);
out:
	sodium_memzero(text, sizeof text);
	close(fd);
	return rv;
}

int baton_report_key_generate(const char *path, char *err, size_t errlen)
{
	uint8_t key[BATON_REPORT_KEY_LEN];
	char text[KEY_HEX_LEN + 2];
	size_t off = 0;
	int fd, rv = 0;

	if (sodium_init() < 0) {
		report_errf(err, errlen, "%s: libsodium failed to initialise", path); /* UNTESTED */
		return -EIO;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rv = -errno;
		if (rv == -EEXIST)
			report_errf(err, errlen, "%s: already exists; refusing to overwrite a key",
				    path);
		else
			report_errf(err, errlen, "%s: cannot create key file: %s", path,
				    strerror(errno));
		return rv;
	}
	randombytes_buf(key, sizeof key);
	baton_hex(text, key, sizeof key);
	text[KEY_HEX_LEN] = '\n';
	text[KEY_HEX_LEN + 1] = '\0';
	/* A umask cannot widen 0600, but fchmod makes the mode independent of it. */
	if (fchmod(fd, 0600) != 0) {
		rv = -errno; /* UNTESTED */
		report_errf(err, errlen, "%s: chmod: %s", path, strerror(errno));
	}
	while (rv == 0 && off < KEY_HEX_LEN + 1) {
		ssize_t w = write(fd, text + off, KEY_HEX_LEN + 1 - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rv = -errno; /* UNTESTED: disk full */
			report_errf(err, errlen, "%s: write: %s", path, strerror(errno));
			break;
		}
		off += (size_t)w;
	}
	if (rv == 0 && fsync(fd) != 0) {
		rv = -errno; /* UNTESTED */
		report_errf(err, errlen, "%s: fsync: %s", path, strerror(errno));
	}
	if (close(fd) != 0 && rv == 0) {
		rv = -errno; /* UNTESTED */
		report_errf(err, errlen, "%s: close: %s", path, strerror(errno));
	}
	if (rv != 0)
		(void)unlink(path); /* no half-written key left behind */
	sodium_memzero(key, sizeof key);
	sodium_memzero(text, sizeof text);
	return rv;
}

void baton_report_key_id(const uint8_t key[BATON_REPORT_KEY_LEN], char out[BATON_REPORT_KEY_ID_LEN])
{
	static const char label[] = "baton-report-key-id"; /* hashed with its NUL */
	uint8_t digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state st;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)label, sizeof label);
	crypto_hash_sha256_update(&st, key, BATON_REPORT_KEY_LEN);
	crypto_hash_sha256_final(&st, digest);
	baton_hex(out, digest, (BATON_REPORT_KEY_ID_LEN - 1) / 2);
}

/* ------------------------------------------------------------------ signing */

uint64_t baton_report_next_seq(uint64_t *last, uint64_t now_us)
{
	uint64_t seq = *last + 1 > now_us ? *last + 1 : now_us;

	*last = seq;
	return seq;
}

int baton_report_sign(const Baton__HealthReportBody *body, const uint8_t key[BATON_REPORT_KEY_LEN],
		      const char *key_id, void **ret_buf, size_t *ret_len)
{
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	Baton__HealthReport env = BATON__HEALTH_REPORT__INIT;
	uint8_t *bbuf, *out;
	size_t blen, olen;

	if (body->region == NULL || body->region[0] == '\0' || body->reporter == NULL ||
	    body->reporter[0] == '\0')
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO; /* UNTESTED */
	blen = baton__health_report_body__get_packed_size(body);
	if (blen > BATON_REPORT_MAX_BYTES)
		return -EMSGSIZE;
	bbuf = malloc(blen > 0 ? blen : 1);
	if (bbuf == NULL)
		return -ENOMEM;
	baton__health_report_body__pack(body, bbuf);
	crypto_auth_hmacsha256(mac, bbuf, blen, key);

	env.body.data = bbuf;
	env.body.len = blen;
	env.mac.data = mac;
	env.mac.len = sizeof mac;
	env.key_id = (char *)key_id;
	olen = baton__health_report__get_packed_size(&env);
	if (olen > BATON_REPORT_MAX_BYTES) {
		free(bbuf);
		return -EMSGSIZE;
	}
	out = malloc(olen);
	if (out == NULL) {
		free(bbuf);
		return -ENOMEM;
	}
	baton__health_report__pack(&env, out);
	free(bbuf);
	*ret_buf = out;
	*ret_len = olen;
	return 0;
}

/* ------------------------------------------------------------------ verifying */

const char *baton_report_verdict_name(int v)
{
	static const char *const names[BATON_REPORT_VERDICT_NR] = {
		[BATON_REPORT_OK] = "ok",
		[BATON_REPORT_OVERSIZED] = "oversized",
		[BATON_REPORT_MALFORMED] = "malformed",
		[BATON_REPORT_BAD_MAC] = "bad-mac",
		[BATON_REPORT_WRONG_REGION] = "wrong-region",
		[BATON_REPORT_REPLAY] = "replay",
		[BATON_REPORT_STALE] = "stale",
		[BATON_REPORT_FUTURE] = "future",
	};
	return v >= 0 && v < BATON_REPORT_VERDICT_NR ? names[v] : "unknown";
}

static bool report_valid_name(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; s[n] != '\0'; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (n >= BATON_REPORT_NAME_MAX)
			return false;
	}
	return n > 0;
}

/* @s (untrusted, possibly NULL) for a message: printable ASCII kept, other
 * bytes as \xNN, cut with "..." after 40 source bytes. */
static const char *report_quote(char *out, size_t outlen, const char *s)
{
	size_t o = 0, i;

	if (s == NULL)
		s = "";
	for (i = 0; s[i] != '\0' && i < 40 && o + 5 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
	}
	if (s[i] != '\0' && o + 4 < outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o < outlen ? o : outlen - 1] = '\0';
	return out;
}

int baton_report_verifier_init(struct baton_report_verifier *v, const char *region,
			       const uint8_t key[BATON_REPORT_KEY_LEN], uint64_t max_age_ms,
			       uint64_t max_skew_ms)
{
	if (!report_valid_name(region))
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO; /* UNTESTED */
	memset(v, 0, sizeof *v);
	v->slots = calloc(BATON_REPORT_SEQ_SLOTS, sizeof *v->slots);
	if (v->slots == NULL)
		return -ENOMEM;
	baton_strlcpy(v->region, region, sizeof v->region);
	memcpy(v->key, key, BATON_REPORT_KEY_LEN);
	baton_report_key_id(key, v->key_id);
	v->max_age_ms = max_age_ms;
	v->max_skew_ms = max_skew_ms;
	return 0;
}

void baton_report_verifier_done(struct baton_report_verifier *v)
{
	free(v->slots);
	v->slots = NULL;
	v->n_slots = 0;
	sodium_memzero(v->key, sizeof v->key);
}

static struct baton_report_seq_slot *report_slot_find(struct baton_report_verifier *v,
						      const char *reporter)
{
	for (size_t i = 0; i < v->n_slots; i++)
		if (strcmp(v->slots[i].reporter, reporter) == 0)
			return &v->slots[i];
	return NULL;
}

/* A slot for a reporter not in the table: a free one, else the one whose last
 * acceptance is oldest. */
static struct baton_report_seq_slot *report_slot_claim(struct baton_report_verifier *v,
						       const char *reporter)
{
	struct baton_report_seq_slot *s;

	if (v->n_slots < BATON_REPORT_SEQ_SLOTS) {
		s = &v->slots[v->n_slots++];
	} else {
		s = &v->slots[0];
		for (size_t i = 1; i < v->n_slots; i++)
			if (v->slots[i].used < s->used)
				s = &v->slots[i];
	}
	baton_strlcpy(s->reporter, reporter, sizeof s->reporter);
	s->seq = 0;
	return s;
}

int baton_report_verify(struct baton_report_verifier *v, const void *buf, size_t len,
			uint64_t now_wall_ms, Baton__HealthReportBody **ret_body, char *errbuf,
			size_t errlen)
{
	Baton__HealthReport *env;
	Baton__HealthReportBody *body = NULL;
	struct baton_report_seq_slot *slot;
	const uint8_t *bdata;
	char q1[200], q2[200];
	int verdict;

	report_errf(errbuf, errlen, "%s", "");
	if (len > BATON_REPORT_MAX_BYTES) {
		report_errf(errbuf, errlen, "report is %zu bytes, the limit is %d", len,
			    BATON_REPORT_MAX_BYTES);
		return BATON_REPORT_OVERSIZED;
	}
	env = baton__health_report__unpack(NULL, len, buf);
	if (env == NULL) {
		report_errf(errbuf, errlen,
			    "report (%zu bytes) is not a HealthReport envelope (protobuf decode failed)",
			    len);
		return BATON_REPORT_MALFORMED;
	}
	/* An empty body may come back as NULL: never hand NULL to libsodium. */
	bdata = env->body.data != NULL ? env->body.data : (const uint8_t *)"";
	if (env->mac.len != crypto_auth_hmacsha256_BYTES ||
	    crypto_auth_hmacsha256_verify(env->mac.data, bdata, env->body.len, v->key) != 0) {
		if (env->mac.len != crypto_auth_hmacsha256_BYTES)
			report_errf(errbuf, errlen, "mac is %zu bytes, expected %d (key_id '%s')",
				    env->mac.len, crypto_auth_hmacsha256_BYTES,
				    report_quote(q1, sizeof q1, env->key_id));
		else if (env->key_id != NULL && strcmp(env->key_id, v->key_id) != 0)
			report_errf(errbuf, errlen,
				    "mac does not match: signed with key_id '%s', this region's key is '%s' "
				    "(region %s: reporter and coordinator keys differ)",
				    report_quote(q1, sizeof q1, env->key_id), v->key_id, v->region);
		else
			report_errf(errbuf, errlen,
				    "mac does not match (key_id '%s'; body changed in transit, or a "
				    "different key)",
				    report_quote(q1, sizeof q1, env->key_id));
		verdict = BATON_REPORT_BAD_MAC;
		goto out;
	}
	body = baton__health_report_body__unpack(NULL, env->body.len, bdata);
	if (body == NULL) {
		report_errf(errbuf, errlen,
			    "authentic report, but its body (%zu bytes) is not a HealthReportBody "
			    "(protobuf decode failed)",
			    env->body.len);
		verdict = BATON_REPORT_MALFORMED;
		goto out;
	}
	if (!report_valid_name(body->reporter)) {
		report_errf(errbuf, errlen,
			    "authentic report, but reporter '%s' is not 1..%d chars of [a-z0-9-]",
			    report_quote(q1, sizeof q1, body->reporter), BATON_REPORT_NAME_MAX);
		verdict = BATON_REPORT_MALFORMED;
		goto out;
	}
	if (strcmp(body->region, v->region) != 0) {
		report_errf(errbuf, errlen,
			    "reporter %s seq %" PRIu64 " reports for region '%s', this is %s "
			    "(the MAC matched: is one key shared by two regions?)",
			    body->reporter, body->seq, report_quote(q2, sizeof q2, body->region),
			    v->region);
		verdict = BATON_REPORT_WRONG_REGION;
		goto out;
	}
	if (now_wall_ms > v->max_age_ms && body->sent_at_ms < now_wall_ms - v->max_age_ms) {
		report_errf(errbuf, errlen,
			    "reporter %s seq %" PRIu64 " was sent %" PRIu64 " ms ago, the limit is %" PRIu64
			    " ms (clocks apart, or the report was held back)",
			    body->reporter, body->seq, now_wall_ms - body->sent_at_ms, v->max_age_ms);
		verdict = BATON_REPORT_STALE;
		goto out;
	}
	if (body->sent_at_ms > now_wall_ms && body->sent_at_ms - now_wall_ms > v->max_skew_ms) {
		report_errf(errbuf, errlen,
			    "reporter %s seq %" PRIu64 " is dated %" PRIu64 " ms in the future, the limit "
			    "is %" PRIu64 " ms (check the clocks of reporter and coordinator)",
			    body->reporter, body->seq, body->sent_at_ms - now_wall_ms, v->max_skew_ms);
		verdict = BATON_REPORT_FUTURE;
		goto out;
	}
	slot = report_slot_find(v, body->reporter);
	if (slot != NULL && body->seq <= slot->seq) {
		report_errf(errbuf, errlen,
			    "reporter %s seq %" PRIu64 " is not above the last accepted seq %" PRIu64
			    " (%s)",
			    body->reporter, body->seq, slot->seq,
			    body->seq == slot->seq ? "the same report again"
						   : "an older report, or the reporter's clock went back");
		verdict = BATON_REPORT_REPLAY;
		goto out;
	}
	if (slot == NULL)
		slot = report_slot_claim(v, body->reporter);
	slot->seq = body->seq;
	slot->used = ++v->tick;
	verdict = BATON_REPORT_OK;
out:
	baton__health_report__free_unpacked(env, NULL);
	if (verdict == BATON_REPORT_OK && ret_body != NULL)
		*ret_body = body;
	else if (body != NULL)
		baton__health_report_body__free_unpacked(body, NULL);
	return verdict;
}
