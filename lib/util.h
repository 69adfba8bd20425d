/* SPDX-License-Identifier: MIT */
/* Small helpers shared by every binary: clocks, ids, bounded string copy. */
#ifndef BATON_UTIL_H
#define BATON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BATON_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BATON_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* CLOCK_MONOTONIC in ms / ns. Not affected by wall-clock steps. */
uint64_t baton_mono_ms(void);
uint64_t baton_mono_ns(void);
/* CLOCK_REALTIME in ms since the epoch; for display and expiry of signed commands only. */
uint64_t baton_wall_ms(void);

/* Copy @src into @dst of size @n, always NUL-terminated. Returns false if truncated. */
bool baton_strlcpy(char *dst, const char *src, size_t n);

/* A new random command id: 32 lowercase hex chars (128 bits from libsodium). */
#define BATON_ID_LEN 33
void baton_random_id(char out[BATON_ID_LEN]);

/* Lowercase hex of @len bytes into @out (size >= 2*len+1). */
void baton_hex(char *out, const uint8_t *in, size_t len);

/* Parse "a.b.c.d:port" (IPv4 literal, as libraft 0.15 requires).
 * Returns 0 and fills @ret_host (>= 16 bytes) / @ret_port, or -EINVAL. */
int baton_parse_ipv4_port(const char *s, char *ret_host, size_t hostlen, int *ret_port);

/* Write @len bytes to @dir/@name so that a crash leaves the old file or the
 * new one, never a mix: a temporary file, fsync'd, renamed, then the
 * directory fsync'd. Call it only off the loop or before the loop runs.
 * Returns 0, or -errno with @err naming the file and the reason. */
int baton_write_file_atomic(const char *dir, const char *name, const void *buf, size_t len, char *err, size_t errlen);

#endif
