/* nfq_delay: a userspace stand-in for `tc qdisc ... netem delay D J loss L`.
 *
 * The project's CI kernel has no sch_netem, so the jepsen harness sends the
 * bridged IPv4 traffic of its switch namespace to an NFQUEUE
 * (`iptables -A FORWARD -j NFQUEUE --queue-num Q --queue-bypass`) and this
 * program holds each packet for DELAY +- JITTER ms (uniform) before it gives
 * the kernel an ACCEPT verdict; LOSS percent are given DROP instead.
 *
 * Happy path: bind queue Q over libmnl, print "nfq_delay: ready ..." on
 * stdout, then loop: release every held packet whose time has come, sleep in
 * ppoll() until the next release or the next packet, queue new packets in a
 * binary heap keyed by (release time, arrival sequence).  The sequence number
 * breaks ties, so with -o (keep order: a release time is never earlier than
 * the previous one of the same link) packets leave in arrival order and TCP
 * sees no reordering.
 *
 * Failure modes and what happens:
 *  - the heap is full: the packet is accepted at once and counted (overflow);
 *  - the netlink socket overruns (ENOBUFS): the kernel has already dealt with
 *    the lost messages; we count them and go on;
 *  - SIGTERM/SIGINT or the lifetime runs out: every held packet is accepted
 *    (nothing is dropped on the way out), the queue is unbound, the stats go
 *    to stderr as one key=value line, exit 0;
 *  - this process dies: `--queue-bypass` makes the kernel fail open, so
 *    traffic flows undelayed; the harness health-checks us for that reason;
 *  - the queue is already bound by another process: exit 1 with the error.
 *
 * With -r SRC,DST,DELAY,JITTER (repeatable) packets from SRC to DST get their
 * own delay; the others get the default.  The IPv4 header is then copied to
 * userspace (first 20 bytes only).
 *
 * SIGUSR1 prints the stats line without stopping.
 *
 * Build: meson (jepsen/meson.build), or
 *   cc -O2 -Wall -Wextra -o nfq_delay nfq_delay.c -lnetfilter_queue -lmnl
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h> /* before linux/netfilter.h, or struct in_addr is redefined */
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define HELD_MAX       65536   /* packets held at once; more are accepted at once */
#define RULES_MAX      64      /* -r rules; rule 0 is the default */
#define KERNEL_QMAXLEN 8192    /* kernel-side queue length */
#define LIFETIME_MAX_S 86400.0 /* every run of the harness is bounded */
#define NS_PER_MS      1000000.0

struct held {
	uint64_t due_ns; /* CLOCK_MONOTONIC release time */
	uint64_t seq;	 /* arrival order: the tie-break */
	uint32_t id;	 /* nfqueue packet id */
};

struct rule {
	struct in_addr src, dst; /* unused for rule 0 */
	uint64_t delay_ns;
	uint64_t jitter_ns;
	uint64_t last_due_ns; /* for -o: releases on this link never go backwards */
	unsigned long packets;
};

struct stats {
	unsigned long received;
	unsigned long accepted;
	unsigned long dropped;
	unsigned long overflow;
	unsigned long enobufs;
	unsigned long verdict_errors;
	unsigned long max_held;
};

struct delayer {
	struct mnl_socket *nl;
	unsigned int portid;
	uint32_t queue;
	double loss_pct;
	bool keep_order;
	struct rule rules[RULES_MAX];
	int nrules; /* including the default rule 0 */
	struct held heap[HELD_MAX];
	int nheld;
	uint64_t seq;
	uint64_t rng;
	struct stats st;
};

static volatile sig_atomic_t nfqd_stop_signal;
static volatile sig_atomic_t nfqd_stats_wanted;

static void nfqd_stop_signal_fn(int sig)
{
	nfqd_stop_signal = sig;
}

static void nfqd_stats_signal_fn(int sig)
{
	(void)sig;
	nfqd_stats_wanted = 1;
}

static uint64_t nfqd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* splitmix64: small, seedable, good enough for jitter and loss. */
static uint64_t nfqd_rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double nfqd_rng_unit(uint64_t *s)
{
	return (double)(nfqd_rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static bool nfqd_held_before(const struct held *x, const struct held *y)
{
	return x->due_ns < y->due_ns || (x->due_ns == y->due_ns && x->seq < y->seq);
}

static void nfqd_heap_push(struct delayer *d, struct held h)
{
	int i = d->nheld++;

	while (i > 0) {
		int parent = (i - 1) / 2;

		if (!nfqd_held_before(&h, &d->heap[parent]))
			break;
		d->heap[i] = d->heap[parent];
		i = parent;
	}
	d->heap[i] = h;
	if ((unsigned long)d->nheld > d->st.max_held)
		d->st.max_held = (unsigned long)d->nheld;
}

static struct held nfqd_heap_pop(struct delayer *d)
{
	struct held top = d->heap[0];
	struct held last = d->heap[--d->nheld];
	int i = 0;

	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		const struct held *best = &last;

		if (l < d->nheld && nfqd_held_before(&d->heap[l], best)) {
			m = l;
			best = &d->heap[l];
		}
		if (r < d->nheld && nfqd_held_before(&d->heap[r], best))
			m = r;
		if (m == i)
			break;
		d->heap[i] = d->heap[m];
		i = m;
	}
	if (d->nheld > 0)
		d->heap[i] = last;
	return top;
}

static int nfqd_send_verdict(struct delayer *d, uint32_t id, int verdict)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, d->queue);
	nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
	if (mnl_socket_sendto(d->nl, nlh, nlh->nlmsg_len) < 0) {
		d->st.verdict_errors++;
		return -errno;
	}
	if (verdict == NF_ACCEPT)
		d->st.accepted++;
	else
		d->st.dropped++;
	return 0;
}

static void nfqd_print_stats(const struct delayer *d, const char *event, const char *reason)
{
	int i;

	fprintf(stderr,
		"nfq_delay: %s queue=%" PRIu32 " reason=%s received=%lu accepted=%lu"
		" dropped=%lu overflow=%lu enobufs=%lu verdict_errors=%lu max_held=%lu"
		" held=%d",
		event, d->queue, reason, d->st.received, d->st.accepted, d->st.dropped,
		d->st.overflow, d->st.enobufs, d->st.verdict_errors, d->st.max_held, d->nheld);
	for (i = 1; i < d->nrules; i++) {
		char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &d->rules[i].src, src, sizeof(src));
		inet_ntop(AF_INET, &d->rules[i].dst, dst, sizeof(dst));
		fprintf(stderr, " link_%s_%s=%lu", src, dst, d->rules[i].packets);
	}
	fprintf(stderr, " default_link=%lu\n", d->rules[0].packets);
	fflush(stderr);
}

static struct rule *nfqd_rule_for(struct delayer *d, const struct nlattr *payload)
{
	const unsigned char *ip;
	struct in_addr src, dst;
	int i;

	if (d->nrules == 1 || payload == NULL || mnl_attr_get_payload_len(payload) < 20)
		return &d->rules[0];
	ip = mnl_attr_get_payload(payload);
	if ((ip[0] >> 4) != 4)
		return &d->rules[0];
	memcpy(&src, ip + 12, sizeof(src));
	memcpy(&dst, ip + 16, sizeof(dst));
	for (i = 1; i < d->nrules; i++)
		if (d->rules[i].src.s_addr == src.s_addr && d->rules[i].dst.s_addr == dst.s_addr)
			return &d->rules[i];
	return &d->rules[0];
}

static void nfqd_handle_packet(struct delayer *d, const struct nlmsghdr *nlh)
{
	struct nlattr *attr[NFQA_MAX + 1] = { 0 };
	struct nfqnl_msg_packet_hdr *ph;
	struct rule *r;
	uint32_t id;
	uint64_t due;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == NULL)
		return; /* not a packet: ignore */
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	id = ntohl(ph->packet_id);
	d->st.received++;
	r = nfqd_rule_for(d, attr[NFQA_PAYLOAD]);
	r->packets++;

	if (d->loss_pct > 0 && nfqd_rng_unit(&d->rng) * 100.0 < d->loss_pct) {
		nfqd_send_verdict(d, id, NF_DROP);
		return;
	}
	if (d->nheld >= HELD_MAX) {
		d->st.overflow++;
		nfqd_send_verdict(d, id, NF_ACCEPT);
		return;
	}
	due = nfqd_now_ns();
	if (r->jitter_ns > 0) {
		/* delay + j with j uniform in [-jitter, +jitter], never below 0 */
		int64_t j = (int64_t)(nfqd_rng_next(&d->rng) % (2 * r->jitter_ns + 1)) -
			    (int64_t)r->jitter_ns;

		if (j >= 0 || (uint64_t)-j < r->delay_ns)
			due += (uint64_t)((int64_t)r->delay_ns + j);
	} else {
		due += r->delay_ns;
	}
	if (d->keep_order && due < r->last_due_ns)
		due = r->last_due_ns;
	r->last_due_ns = due;
	nfqd_heap_push(d, (struct held){ .due_ns = due, .seq = d->seq++, .id = id });
}

/* Send one config message and wait for the kernel's ack.  A packet that
 * arrives meanwhile (the harness's rule may already be in place) is held like
 * any other, so that it is never left without a verdict. */
static int nfqd_config_request(struct delayer *d, struct nlmsghdr *nlh, const char *what)
{
	static char buf[1 << 16];
	uint32_t seq = (uint32_t)nfqd_now_ns() | 1u;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(d->nl, nlh, nlh->nlmsg_len) < 0) {
		fprintf(stderr, "nfq_delay: %s: sendto: %s\n", what, strerror(errno));
		return -errno;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(d->nl, buf, sizeof(buf));
		const struct nlmsghdr *m = (const struct nlmsghdr *)buf;
		int len = (int)n;

		if (n < 0) {
			fprintf(stderr, "nfq_delay: %s: recv ack: %s\n", what, strerror(errno));
			return -errno;
		}
		for (; mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
			const struct nlmsgerr *err;

			if (m->nlmsg_type != NLMSG_ERROR) {
				if (m->nlmsg_type >= NLMSG_MIN_TYPE)
					nfqd_handle_packet(d, m);
				continue;
			}
			if (m->nlmsg_seq != seq)
				continue;
			err = mnl_nlmsg_get_payload(m);
			if (err->error == 0)
				return 0;
			fprintf(stderr, "nfq_delay: %s (queue %" PRIu32 "): %s%s\n", what, d->queue,
				strerror(-err->error),
				err->error == -EPERM ? " (is another process bound to this queue?)"
						     : "");
			return err->error;
		}
	}
}

static int nfqd_queue_bind(struct delayer *d, int rcvbuf)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	int fd, rv;

	d->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (d->nl == NULL) {
		fprintf(stderr, "nfq_delay: mnl_socket_open(NETLINK_NETFILTER): %s\n",
			strerror(errno));
		return -errno;
	}
	if (mnl_socket_bind(d->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		fprintf(stderr, "nfq_delay: mnl_socket_bind: %s\n", strerror(errno));
		return -errno;
	}
	d->portid = mnl_socket_get_portid(d->nl);
	fd = mnl_socket_get_fd(d->nl);
	/* SO_RCVBUFFORCE needs CAP_NET_ADMIN; fall back to the capped option. */
	if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0) {
		fprintf(stderr, "nfq_delay: setsockopt(SO_RCVBUF, %d): %s\n", rcvbuf,
			strerror(errno));
		return -errno;
	}

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, d->queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	rv = nfqd_config_request(d, nlh, "bind queue");
	if (rv != 0)
		return rv;

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, d->queue);
	if (d->nrules > 1)
		nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 20); /* IPv4 header only */
	else
		nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_META, 0);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, KERNEL_QMAXLEN);
	/* A full kernel queue accepts instead of dropping, like --queue-bypass. */
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_FAIL_OPEN));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
	return nfqd_config_request(d, nlh, "set queue params");
}

static void nfqd_queue_unbind(struct delayer *d)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, d->queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
	/* No ack wanted: packets may still be arriving on the socket. */
	mnl_socket_sendto(d->nl, nlh, nlh->nlmsg_len);
}

/* Packets go to nfqd_handle_packet(); an error (the kernel reports a failed verdict even
 * without NLM_F_ACK) is counted and must not stop the walk, or the packets
 * after it in the same buffer would never get a verdict. */
static void nfqd_handle_messages(struct delayer *d, const char *buf, int len)
{
	const struct nlmsghdr *m = (const struct nlmsghdr *)buf;

	for (; mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
		if (m->nlmsg_type == NLMSG_ERROR)
			d->st.verdict_errors++;
		else if (m->nlmsg_type >= NLMSG_MIN_TYPE)
			nfqd_handle_packet(d, m);
	}
}

static void nfqd_release_due(struct delayer *d, uint64_t t)
{
	while (d->nheld > 0 && d->heap[0].due_ns <= t) {
		struct held h = nfqd_heap_pop(d);

		nfqd_send_verdict(d, h.id, NF_ACCEPT);
	}
}

/* Returns the reason the loop stopped. */
static const char *nfqd_run(struct delayer *d, uint64_t end_ns, const sigset_t *waitmask)
{
	static char buf[1 << 17];
	int fd = mnl_socket_get_fd(d->nl);

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct timespec ts;
		uint64_t t = nfqd_now_ns(), wake = end_ns;
		int rv;

		if (nfqd_stop_signal)
			return nfqd_stop_signal == SIGINT ? "sigint" : "sigterm";
		if (nfqd_stats_wanted) {
			nfqd_stats_wanted = 0;
			nfqd_print_stats(d, "stats", "sigusr1");
		}
		if (t >= end_ns)
			return "lifetime";
		nfqd_release_due(d, t);
		if (d->nheld > 0 && d->heap[0].due_ns < wake)
			wake = d->heap[0].due_ns;
		t = nfqd_now_ns();
		wake = wake > t ? wake - t : 0;
		ts.tv_sec = (time_t)(wake / 1000000000ull);
		ts.tv_nsec = (long)(wake % 1000000000ull);
		rv = ppoll(&pfd, 1, &ts, waitmask); /* signals are delivered only here */
		if (rv < 0 && errno != EINTR) {
			fprintf(stderr, "nfq_delay: ppoll: %s\n", strerror(errno));
			return "error";
		}
		if (rv <= 0)
			continue;
		for (;;) {
			ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (n < 0) {
				if (errno == ENOBUFS) {
					d->st.enobufs++;
					continue;
				}
				break; /* EAGAIN: drained */
			}
			nfqd_handle_messages(d, buf, (int)n);
		}
	}
}

static void nfqd_usage(FILE *f)
{
	fprintf(f, "usage: nfq_delay [-q QUEUE] [-d DELAY_MS] [-j JITTER_MS] [-l LOSS_PCT] [-o]\n"
		   "                 [-t LIFETIME_S] [-s SEED] [-b RCVBUF_BYTES]\n"
		   "                 [-r SRC,DST,DELAY_MS,JITTER_MS]...\n"
		   "  -q  NFQUEUE number (default 0)\n"
		   "  -d  one-way delay in ms (default 0)\n"
		   "  -j  uniform jitter: delay +- this many ms (default 0)\n"
		   "  -l  drop this percentage of packets (default 0)\n"
		   "  -o  keep FIFO order per link (no reordering by jitter)\n"
		   "  -t  exit after this many seconds (default 3600, at most 86400)\n"
		   "  -s  random seed (default: from the clock)\n"
		   "  -b  netlink receive buffer in bytes\n"
		   "  -r  per-link delay for IPv4 packets from SRC to DST (repeatable)\n"
		   "Prints 'nfq_delay: ready ...' on stdout once the queue is bound.\n"
		   "SIGTERM/SIGINT: release held packets, print stats, exit 0. SIGUSR1: stats.\n");
}

static int nfqd_parse_double(const char *opt, const char *s, double min, double max, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < min || v > max) {
		fprintf(stderr, "nfq_delay: option %s: '%s' is not a number in [%g, %g]\n", opt, s,
			min, max);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

static int nfqd_parse_u64(const char *opt, const char *s, uint64_t max, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max) {
		fprintf(stderr,
			"nfq_delay: option %s: '%s' is not an integer in [0, %" PRIu64 "]\n", opt,
			s, max);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

static int nfqd_parse_rule(const char *s, struct rule *r)
{
	char copy[128], *fields[4], *save = NULL, *tok;
	double delay_ms, jitter_ms;
	int n = 0;

	if (strlen(s) >= sizeof(copy)) {
		fprintf(stderr, "nfq_delay: option -r: '%s' is too long\n", s);
		return -EINVAL;
	}
	memcpy(copy, s, strlen(s) + 1);
	for (tok = strtok_r(copy, ",", &save); tok != NULL && n < 4;
	     tok = strtok_r(NULL, ",", &save))
		fields[n++] = tok;
	if (n != 4 || tok != NULL) {
		fprintf(stderr, "nfq_delay: option -r: '%s' is not SRC,DST,DELAY_MS,JITTER_MS\n",
			s);
		return -EINVAL;
	}
	if (inet_pton(AF_INET, fields[0], &r->src) != 1 ||
	    inet_pton(AF_INET, fields[1], &r->dst) != 1) {
		fprintf(stderr, "nfq_delay: option -r: '%s': SRC and DST must be IPv4 addresses\n",
			s);
		return -EINVAL;
	}
	if (nfqd_parse_double("-r DELAY_MS", fields[2], 0, 60000, &delay_ms) != 0 ||
	    nfqd_parse_double("-r JITTER_MS", fields[3], 0, 60000, &jitter_ms) != 0)
		return -EINVAL;
	r->delay_ns = (uint64_t)(delay_ms * NS_PER_MS);
	r->jitter_ns = (uint64_t)(jitter_ms * NS_PER_MS);
	return 0;
}

static int nfqd_parse_args(int argc, char **argv, struct delayer *d, double *lifetime_s,
			   int *rcvbuf)
{
	double v;
	uint64_t u;
	bool seeded = false;
	int c;

	d->nrules = 1;
	*lifetime_s = 3600;
	*rcvbuf = 0;
	while ((c = getopt(argc, argv, "q:d:j:l:ot:s:b:r:h")) != -1) {
		switch (c) {
		case 'q':
			if (nfqd_parse_u64("-q", optarg, 65535, &u) != 0)
				return -EINVAL;
			d->queue = (uint32_t)u;
			break;
		case 'd':
			if (nfqd_parse_double("-d", optarg, 0, 60000, &v) != 0)
				return -EINVAL;
			d->rules[0].delay_ns = (uint64_t)(v * NS_PER_MS);
			break;
		case 'j':
			if (nfqd_parse_double("-j", optarg, 0, 60000, &v) != 0)
				return -EINVAL;
			d->rules[0].jitter_ns = (uint64_t)(v * NS_PER_MS);
			break;
		case 'l':
			if (nfqd_parse_double("-l", optarg, 0, 100, &d->loss_pct) != 0)
				return -EINVAL;
			break;
		case 'o':
			d->keep_order = true;
			break;
		case 't':
			if (nfqd_parse_double("-t", optarg, 0.001, LIFETIME_MAX_S, lifetime_s) != 0)
				return -EINVAL;
			break;
		case 's':
			if (nfqd_parse_u64("-s", optarg, UINT64_MAX, &d->rng) != 0)
				return -EINVAL;
			seeded = true;
			break;
		case 'b':
			if (nfqd_parse_u64("-b", optarg, 1 << 30, &u) != 0)
				return -EINVAL;
			*rcvbuf = (int)u;
			break;
		case 'r':
			if (d->nrules >= RULES_MAX) {
				fprintf(stderr, "nfq_delay: option -r: at most %d links\n",
					RULES_MAX - 1);
				return -EINVAL;
			}
			if (nfqd_parse_rule(optarg, &d->rules[d->nrules]) != 0)
				return -EINVAL;
			d->nrules++;
			break;
		case 'h':
			nfqd_usage(stdout);
			exit(0);
		default:
			nfqd_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "nfq_delay: unexpected argument '%s'\n", argv[optind]);
		nfqd_usage(stderr);
		return -EINVAL;
	}
	if (!seeded)
		d->rng = nfqd_now_ns() ^ ((uint64_t)getpid() << 32);
	return 0;
}

static int nfqd_install_signals(sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = nfqd_stop_signal_fn;
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return -errno;
	sa.sa_handler = nfqd_stats_signal_fn;
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		return -errno;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	/* Blocked everywhere except inside ppoll(): no lost wake-ups. */
	if (sigprocmask(SIG_BLOCK, &block, waitmask) < 0)
		return -errno;
	sigdelset(waitmask, SIGTERM);
	sigdelset(waitmask, SIGINT);
	sigdelset(waitmask, SIGUSR1);
	return 0;
}

int main(int argc, char **argv)
{
	static struct delayer d; /* the heap is large: keep it off the stack */
	sigset_t waitmask;
	double lifetime_s;
	const char *reason;
	int rcvbuf;

	if (nfqd_parse_args(argc, argv, &d, &lifetime_s, &rcvbuf) != 0)
		return 2;
	if (nfqd_install_signals(&waitmask) != 0) {
		fprintf(stderr, "nfq_delay: installing signal handlers: %s\n", strerror(errno));
		return 1;
	}
	if (nfqd_queue_bind(&d, rcvbuf) != 0) {
		if (d.nl != NULL)
			mnl_socket_close(d.nl);
		return 1;
	}
	printf("nfq_delay: ready queue=%" PRIu32 " pid=%ld delay_ms=%.3f jitter_ms=%.3f"
	       " loss_pct=%g keep_order=%d links=%d lifetime_s=%g\n",
	       d.queue, (long)getpid(), (double)d.rules[0].delay_ns / NS_PER_MS,
	       (double)d.rules[0].jitter_ns / NS_PER_MS, d.loss_pct, d.keep_order ? 1 : 0,
	       d.nrules - 1, lifetime_s);
	fflush(stdout);

	reason = nfqd_run(&d, nfqd_now_ns() + (uint64_t)(lifetime_s * 1e9), &waitmask);

	/* Nothing held is lost on the way out. */
	while (d.nheld > 0) {
		struct held h = nfqd_heap_pop(&d);

		nfqd_send_verdict(&d, h.id, NF_ACCEPT);
	}
	nfqd_queue_unbind(&d);
	nfqd_print_stats(&d, "exit", reason);
	mnl_socket_close(d.nl);
	return strcmp(reason, "error") == 0 ? 1 : 0;
}
