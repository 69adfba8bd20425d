/* SPDX-License-Identifier: MIT */
/* Authenticated health reports: what baton-reporter signs and what a
 * coordinator's `POST /v1/health` handler verifies. Pure functions (no clock,
 * no logging, no loop); the only I/O is reading or writing a key file.
 *
 * Wire format (proto/baton.proto):
 *
 *   HealthReport { body = serialized HealthReportBody, mac, key_id }
 *   mac = HMAC-SHA256(region key, body bytes)      (crypto_auth_hmacsha256)
 *
 * The MAC covers the body bytes exactly as sent; the verifier checks it before
 * it decodes the body, so nothing unauthenticated is ever parsed beyond the
 * envelope. key_id is outside the MAC: it only helps an operator see which
 * key a reporter used (baton_report_key_id()); it never selects a key.
 *
 * Keys: one 32-byte key per region, shared by the region's reporters and its
 * coordinators, stored as 64 hex characters in a file that only its owner can
 * read (mode 0600 or 0400).
 *
 * seq and restarts. A reporter keeps no state on disk. Its seq is its wall
 * clock in microseconds, forced strictly increasing within the process:
 * seq = max(last + 1, now_us) (baton_report_next_seq()). A restarted reporter
 * therefore continues above every seq it sent before, unless the host's clock
 * went back between the two runs by more than the restart took; its reports
 * are then refused as "replay" until the clock passes the old seq (the
 * verifier's message names both numbers). The verifier keeps the last
 * accepted seq per reporter name in memory only: after a coordinator restart
 * the first fresh report of each reporter is accepted, and a recorded report
 * could be replayed into it only while it is younger than max_age_ms. Each
 * coordinator has its own table; a report delivered to one coordinator can be
 * replayed to another of the same region within max_age_ms (it is a genuine,
 * recent report of that reporter, so it says nothing false).
 */
#ifndef BATON_REPORT_H
#define BATON_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "baton.pb-c.h"

#define BATON_REPORT_KEY_LEN 32                /* crypto_auth_hmacsha256_KEYBYTES */
#define BATON_REPORT_MAX_BYTES (64 * 1024)     /* a whole HealthReport, as sent */
#define BATON_REPORT_NAME_MAX 63               /* region and reporter names, [a-z0-9-] */
#define BATON_REPORT_SEQ_SLOTS 4096            /* reporters remembered per verifier */
#define BATON_REPORT_KEY_ID_LEN 17             /* 16 hex chars + NUL */

/* ------------------------------------------------------------------ keys */

/* Read the key in @path: 64 hex characters (either case), optionally
 * surrounded by whitespace. Refuses a file that is not a regular file or that
 * its group or others may read or write (mode & 077), whoever we run as.
 * Returns 0 and fills @key, or:
 *   -errno   cannot open/read (errno of open(), e.g. -ENOENT, -EACCES);
 *   -EPERM   mode allows group/others ("... mode 0644 lets group/others read it; chmod 600 ...");
 *   -EINVAL  not a regular file, not 64 hex characters, a non-hex character.
 * @err names the file and the problem. @key is untouched on failure. */
int baton_report_key_load(const char *path, uint8_t key[BATON_REPORT_KEY_LEN], char *err,
			  size_t errlen);

/* Write a fresh random key to @path (created with O_EXCL, mode 0600, 64 hex
 * characters and a newline, fsync'ed). Returns 0, -EEXIST if @path exists
 * (never overwritten), or another -errno; @err names the file. */
int baton_report_key_generate(const char *path, char *err, size_t errlen);

/* A short public name for @key: the first 8 bytes of SHA-256("baton-report-key-id\0" || key)
 * in hex. Safe to log; lets an operator tell two keys apart. */
void baton_report_key_id(const uint8_t key[BATON_REPORT_KEY_LEN], char out[BATON_REPORT_KEY_ID_LEN]);

/* ------------------------------------------------------------------ signing */

/* The next seq: max(*last + 1, now_us); stores it in *last and returns it. */
uint64_t baton_report_next_seq(uint64_t *last, uint64_t now_us);

/* Serialize @body, MAC it with @key and wrap both (and @key_id, may be NULL)
 * in a HealthReport. On success *ret_buf (malloc'ed, caller frees) holds
 * *ret_len bytes. Returns 0, -EINVAL (region or reporter empty), -EMSGSIZE
 * (the report would exceed BATON_REPORT_MAX_BYTES: no verifier would accept
 * it), -ENOMEM or -EIO (libsodium failed to initialise). */
int baton_report_sign(const Baton__HealthReportBody *body, const uint8_t key[BATON_REPORT_KEY_LEN],
		      const char *key_id, void **ret_buf, size_t *ret_len);

/* ------------------------------------------------------------------ verifying */

enum baton_report_verdict {
	BATON_REPORT_OK,
	BATON_REPORT_OVERSIZED,    /* more than BATON_REPORT_MAX_BYTES */
	BATON_REPORT_MALFORMED,    /* envelope or body is not valid protobuf / misses fields */
	BATON_REPORT_BAD_MAC,      /* wrong key, or bytes changed on the way */
	BATON_REPORT_WRONG_REGION, /* authentic, but names another region (key shared?) */
	BATON_REPORT_REPLAY,       /* seq not above the last one accepted from this reporter */
	BATON_REPORT_STALE,        /* sent_at older than now - max_age_ms */
	BATON_REPORT_FUTURE,       /* sent_at newer than now + max_skew_ms */
	BATON_REPORT_VERDICT_NR
};

/* "ok", "oversized", "malformed", "bad-mac", "wrong-region", "replay", "stale",
 * "future" (stable: metric labels); "unknown" outside the enum. */
const char *baton_report_verdict_name(int v);

struct baton_report_seq_slot {
	char reporter[BATON_REPORT_NAME_MAX + 1]; /* "" = free */
	uint64_t seq;                             /* last accepted */
	uint64_t used;                            /* verifier tick of that acceptance */
};

struct baton_report_verifier {
	char region[BATON_REPORT_NAME_MAX + 1];
	uint8_t key[BATON_REPORT_KEY_LEN];
	char key_id[BATON_REPORT_KEY_ID_LEN];
	uint64_t max_age_ms, max_skew_ms;
	/* private: BATON_REPORT_SEQ_SLOTS slots, heap-allocated; a lookup scans
	 * the @n_slots in use (one per reporter that ever got a report accepted,
	 * which only holders of the key can cause). When all are in use the one
	 * accepted longest ago is reused. */
	struct baton_report_seq_slot *slots;
	size_t n_slots;
	uint64_t tick;
};

/* Returns 0, -EINVAL (@region is not 1..63 chars of [a-z0-9-]), -ENOMEM or -EIO.
 * Copies @key. Release with baton_report_verifier_done(). */
int baton_report_verifier_init(struct baton_report_verifier *v, const char *region,
			       const uint8_t key[BATON_REPORT_KEY_LEN], uint64_t max_age_ms,
			       uint64_t max_skew_ms);

/* Frees the seq table and wipes the key. Safe on a zeroed struct, and twice. */
void baton_report_verifier_done(struct baton_report_verifier *v);

/* Verify the @len bytes at @buf as received at @now_wall_ms (the coordinator's
 * wall clock). Checks, in this order, and returns the first failure:
 *   size <= BATON_REPORT_MAX_BYTES           -> OVERSIZED
 *   envelope decodes                         -> MALFORMED
 *   mac is 32 bytes and matches (constant time, crypto_auth_hmacsha256_verify)
 *                                            -> BAD_MAC
 *   body decodes, reporter is 1..63 chars of [a-z0-9-]
 *                                            -> MALFORMED
 *   body.region == v->region                 -> WRONG_REGION
 *   sent_at_ms >= now - max_age_ms           -> STALE
 *   sent_at_ms <= now + max_skew_ms          -> FUTURE
 *   seq > last seq accepted from this reporter -> REPLAY
 * Only an OK report updates the seq table. On OK, *ret_body (if @ret_body is
 * not NULL) is the decoded body; free it with
 * baton__health_report_body__free_unpacked(body, NULL). @errbuf (may be NULL)
 * gets one line saying what was wrong, naming reporter, seq and ages where
 * known ("" on OK); untrusted strings in it are escaped and cut short. */
int baton_report_verify(struct baton_report_verifier *v, const void *buf, size_t len,
			uint64_t now_wall_ms, Baton__HealthReportBody **ret_body, char *errbuf,
			size_t errlen);

#endif
