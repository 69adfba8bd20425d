/* SPDX-License-Identifier: MIT */
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t baton_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t baton_mono_ms(void)
{
	return baton_mono_ns() / 1000000ull;
}

uint64_t baton_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

bool baton_strlcpy(char *dst, const char *src, size_t n)
{
	size_t len;

	if (n == 0)
		return false;
	len = src != NULL ? strlen(src) : 0;
	if (len >= n) {
		memcpy(dst, src, n - 1);
		dst[n - 1] = '\0';
		return false;
	}
	if (len > 0)
		memcpy(dst, src, len);
	dst[len] = '\0';
	return true;
}

void baton_hex(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

void baton_random_id(char out[BATON_ID_LEN])
{
	uint8_t raw[16];
	randombytes_buf(raw, sizeof raw);
	baton_hex(out, raw, sizeof raw);
}

int baton_parse_ipv4_port(const char *s, char *ret_host, size_t hostlen, int *ret_port)
{
	const char *colon;
	char host[INET_ADDRSTRLEN];
	struct in_addr a;
	char *end;
	long port;

	if (s == NULL || hostlen < INET_ADDRSTRLEN)
		return -EINVAL;
	colon = strrchr(s, ':');
	if (colon == NULL || (size_t)(colon - s) >= sizeof host || colon == s)
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (inet_pton(AF_INET, host, &a) != 1)
		return -EINVAL;
	if (colon[1] < '0' || colon[1] > '9') /* strtol would take " 7001" or "+7001" */
		return -EINVAL;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == colon + 1 || port < 1 || port > 65535)
		return -EINVAL;
	memcpy(ret_host, host, strlen(host) + 1);
	*ret_port = (int)port;
	return 0;
}

int baton_write_file_atomic(const char *dir, const char *name, const void *buf, size_t len, char *err, size_t errlen)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	int fd, dfd, rv = 0;

	if (snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name) >= (int)sizeof tmp ||
	    snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
		snprintf(err, errlen, "path '%s/%s' is too long", dir, name);
		return -ENAMETOOLONG;
	}
	errno = 0;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len || fsync(fd) != 0) {
		/* a short write with errno unset is a full disk */
		rv = errno != 0 ? -errno : -ENOSPC;
		snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(-rv));
	}
	if (fd >= 0)
		close(fd);
	if (rv == 0 && rename(tmp, path) != 0) {
		rv = -errno;
		snprintf(err, errlen, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
	}
	if (rv != 0)
		(void)unlink(tmp);
	if (rv == 0 && (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return rv;
}
