/* SPDX-License-Identifier: MIT */
/* reportgen: health-report load generator for bench/extras throughput.
 *
 *   reportgen HOST PORT KEYFILE REGION CONNS SECONDS fresh|keepalive [CPU [NAMES]]
 *
 * Keeps CONNS connections busy for SECONDS, each sending one HealthReport at a
 * time (POST /v1/health, the wire format of lib/report.c: a HealthReportBody
 * with one postgres check, HMAC-SHA256 with the region key) and waiting for
 * the answer. "fresh": a new TCP connection and Connection: close per report,
 * as baton-reporter does; "keepalive": one connection per worker. NAMES
 * reporters (default CONNS; names g<i>) take turns on the connections, each
 * with a strictly increasing seq. Prints one
 * JSON line: ok, refused (non-200), errors, seconds. One thread, epoll. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	int idx;
	uint64_t seq;
	char out[1024];
	size_t out_len, out_off;
	char in[2048];
	size_t in_len;
};

static uint8_t key[32];
static const char *region;
static struct sockaddr_in addr;
static int ep, fresh, nconn, nnames;
static uint64_t gseq; /* one counter for every report: strictly increasing per reporter too */
static unsigned long n_ok, n_bad, n_err;

static uint64_t now_ms(int clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static size_t varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static size_t fbytes(uint8_t *p, int field, const void *b, size_t len)
{
	size_t n = varint(p, (uint64_t)field << 3 | 2);
	n += varint(p + n, len);
	memcpy(p + n, b, len);
	return n + len;
}

static size_t fvarint(uint8_t *p, int field, uint64_t v)
{
	size_t n = varint(p, (uint64_t)field << 3);
	return n + varint(p + n, v);
}

static void build(struct conn *c)
{
	uint8_t chk[64], body[256], env[400], mac[32];
	char name[16];
	size_t k = 0, b = 0, e = 0;

	k += fbytes(chk + k, 1, "db", 2);
	k += fbytes(chk + k, 2, "postgres", 8);
	k += fvarint(chk + k, 3, 1);
	k += fvarint(chk + k, 4, 1);
	k += fbytes(chk + k, 7, "primary", 7);
	/* connection i speaks for reporters i, i + CONNS, i + 2 CONNS, ... (< NAMES) in turn */
	int per = nnames > nconn ? (nnames + nconn - 1) / nconn : 1;
	int ni = c->idx + nconn * (int)(c->seq++ % (uint64_t)per);
	if (ni >= nnames && nnames > nconn)
		ni = c->idx;
	snprintf(name, sizeof name, "g%d", ni);
	b += fbytes(body + b, 1, region, strlen(region));
	b += fbytes(body + b, 2, name, strlen(name));
	b += fvarint(body + b, 3, ++gseq);
	b += fvarint(body + b, 4, now_ms(CLOCK_REALTIME));
	b += fbytes(body + b, 5, chk, k);
	b += fvarint(body + b, 6, 0);
	crypto_auth_hmacsha256(mac, body, b, key);
	e += fbytes(env + e, 1, body, b);
	e += fbytes(env + e, 2, mac, sizeof mac);
	int h = snprintf(c->out, sizeof c->out,
			 "POST /v1/health HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-protobuf\r\n"
			 "Content-Length: %zu\r\n%s\r\n",
			 e, fresh ? "Connection: close\r\n" : "");
	memcpy(c->out + h, env, e);
	c->out_len = (size_t)h + e;
	c->out_off = 0;
	c->in_len = 0;
}

static void arm(struct conn *c, uint32_t events, int op)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};
	epoll_ctl(ep, op, c->fd, &ev);
}

static void open_conn(struct conn *c)
{
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0 && errno != EINPROGRESS) {
		n_err++;
	}
	build(c);
	arm(c, EPOLLOUT, EPOLL_CTL_ADD);
}

static void restart(struct conn *c, int error)
{
	if (error)
		n_err++;
	if (fresh || error) {
		close(c->fd);
		open_conn(c);
	} else {
		build(c);
		arm(c, EPOLLOUT, EPOLL_CTL_MOD);
	}
}

/* A complete response in c->in? 1 and counts it; 0 if more is needed. */
static int parse(struct conn *c)
{
	c->in[c->in_len < sizeof c->in ? c->in_len : sizeof c->in - 1] = '\0';
	char *end = strstr(c->in, "\r\n\r\n");
	if (end == NULL)
		return 0;
	size_t clen = 0;
	char *cl = strcasestr(c->in, "content-length:");
	if (cl != NULL && cl < end)
		clen = strtoul(cl + 15, NULL, 10);
	if (c->in_len < (size_t)(end + 4 - c->in) + clen)
		return 0;
	if (strncmp(c->in, "HTTP/1.1 200", 12) == 0)
		n_ok++;
	else {
		if (n_bad++ < 3) {
			char *eol = strstr(c->in, "\r\n");
			char *body = end + 4;
			fprintf(stderr, "reportgen: refused: %.*s %.*s\n", (int)(eol - c->in), c->in, (int)clen, body);
		}
	}
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 8) {
		fprintf(stderr, "usage: %s HOST PORT KEYFILE REGION CONNS SECONDS fresh|keepalive [CPU [NAMES]]\n", argv[0]);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &addr.sin_addr);
	FILE *f = fopen(argv[3], "r");
	char hex[80] = "";
	if (f == NULL || fscanf(f, "%79s", hex) != 1 || sodium_hex2bin(key, sizeof key, hex, strlen(hex), NULL, NULL, NULL) != 0) {
		fprintf(stderr, "reportgen: cannot read the key from %s\n", argv[3]);
		return 1;
	}
	fclose(f);
	region = argv[4];
	nconn = atoi(argv[5]);
	double secs = atof(argv[6]);
	fresh = strcmp(argv[7], "fresh") == 0;
	if (argc > 8) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(atoi(argv[8]), &set);
		sched_setaffinity(0, sizeof set, &set);
	}
	nnames = argc > 9 ? atoi(argv[9]) : nconn;
	ep = epoll_create1(EPOLL_CLOEXEC);
	struct conn *cs = calloc((size_t)nconn, sizeof *cs);
	uint64_t seq0 = now_ms(CLOCK_REALTIME) * 1000u;
	for (int i = 0; i < nconn; i++) {
		cs[i].idx = i;
		cs[i].seq = 0;
		gseq = seq0;
		open_conn(&cs[i]);
	}
	uint64_t t0 = now_ms(CLOCK_MONOTONIC), end = t0 + (uint64_t)(secs * 1000);
	struct epoll_event evs[256];
	while (now_ms(CLOCK_MONOTONIC) < end) {
		int n = epoll_wait(ep, evs, 256, 100);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (evs[i].events & (EPOLLERR | EPOLLHUP) && c->out_off < c->out_len) {
				restart(c, 1);
				continue;
			}
			if (c->out_off < c->out_len) {
				ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
				if (w < 0) {
					if (errno != EAGAIN)
						restart(c, 1);
					continue;
				}
				c->out_off += (size_t)w;
				if (c->out_off == c->out_len)
					arm(c, EPOLLIN, EPOLL_CTL_MOD);
				continue;
			}
			ssize_t r = read(c->fd, c->in + c->in_len, sizeof c->in - 1 - c->in_len);
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r <= 0) {
				restart(c, 1);
				continue;
			}
			c->in_len += (size_t)r;
			if (parse(c))
				restart(c, 0);
		}
	}
	double el = (double)(now_ms(CLOCK_MONOTONIC) - t0) / 1000.0;
	printf("{\"ok\": %lu, \"refused\": %lu, \"errors\": %lu, \"seconds\": %.3f, \"conns\": %d, \"reporters\": %d, "
	       "\"mode\": \"%s\"}\n", n_ok, n_bad, n_err, el, nconn, nnames > nconn ? nnames : nconn,
	       fresh ? "fresh" : "keepalive");
	return 0;
}
