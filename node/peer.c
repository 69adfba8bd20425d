/* SPDX-License-Identifier: MIT */
/* Peer requests to the leader; see peer.h. */
#include "peer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fsm_pb.h"
#include "http_client.h"
#include "log.h"
#include "node.h"
#include "report.h"
#include "util.h"

#define PEER_MAX_BODY (64 * 1024)
#define PEER_SKEW_MS 10000
#define PEER_TIMEOUT_MS 2000

struct baton_peer_reply {
	/* exactly one of these */
	struct baton_http_exchange *ex;
	baton_peer_cb cb;
	void *data;
};

struct peer_call {
	baton_peer_cb cb;
	void *data;
};

#define PEER_SEQ_FILE "peer-seq"
#define PEER_SEQ_BOOT_GAP (1ull << 32)

/*
 * Where this boot's request sequence numbers start. The leader refuses a
 * request whose seq is not above the last it took from the sender (replay
 * protection), so seq must rise across restarts even when the wall clock
 * does not: a node that once ran with its clock stepped ahead (found by
 * jepsen/ with faketime +8 s) would otherwise be locked out, its lease
 * renewals refused, until real time caught up. So the base is the larger of
 * the wall clock in µs and the last boot's base plus 2^32 (no boot sends
 * 2^32 requests), and it is written to the data dir before the first
 * request. Within a boot seq is a counter, untouched by clock steps. A node
 * with a new data dir starts from the wall clock again. Failing to read or
 * write the file costs availability only, never safety, so it is a warning.
 */
static uint64_t peer_seq_base(const char *data_dir)
{
	char path[BATON_PATH_LEN + 32], buf[32], err[256];
	uint64_t base = baton_wall_ms() * 1000, last = 0;
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", data_dir, PEER_SEQ_FILE);
	f = fopen(path, "re");
	if (f != NULL) {
		char *end = NULL;
		bool ok = fgets(buf, sizeof buf, f) != NULL && buf[0] >= '0' && buf[0] <= '9';
		if (ok) {
			errno = 0;
			last = strtoull(buf, &end, 10);
			/* Far from overflow: a counter this boot adds to must not wrap. */
			ok = errno == 0 && (*end == '\n' || *end == '\0') && last <= UINT64_MAX / 2;
		}
		if (!ok)
			log_warn("peer", "ignoring the sequence file: not one decimal number below 2^63; requests "
				 "start from the wall clock", "path=%s", path);
		else if (last + PEER_SEQ_BOOT_GAP > base)
			base = last + PEER_SEQ_BOOT_GAP;
		fclose(f);
	}
	snprintf(buf, sizeof buf, "%" PRIu64 "\n", base);
	if (baton_write_file_atomic(data_dir, PEER_SEQ_FILE, buf, strlen(buf), err, sizeof err) != 0)
		log_warn("peer", "cannot record the request sequence base; after a restart with the clock set back the leader may refuse this node's requests for a while",
			 "error=\"%s\"", err);
	return base;
}

int baton_peer_init(struct baton_node *n, const char *key_file, char *errbuf, size_t errlen)
{
	n->peer_seq = peer_seq_base(n->cfg.node.data_dir);
	n->have_peer_key = false;
	if (key_file == NULL || key_file[0] == '\0') {
		log_warn("peer", "node.peer_key_file is not set: coordinator requests are unauthenticated", NULL);
		return 0;
	}
	if (baton_report_key_load(key_file, n->peer_key, errbuf, errlen) != 0)
		return -EINVAL;
	n->have_peer_key = true;
	return 0;
}

static void peer_mac(const struct baton_node *n, const uint8_t *body, size_t len, uint8_t out[32])
{
	crypto_auth_hmacsha256(out, body, len, n->peer_key);
}

/* ----------------------------------------------------------------- replies */

void baton_peer_reply(struct baton_peer_reply *r, const Baton__PeerResponse *resp)
{
	if (r->ex != NULL) {
		void *buf;
		size_t len;
		if (baton_pb_pack(&resp->base, &buf, &len) != 0) {
			baton_http_respond(r->ex, 500, "text/plain", "out of memory\n", 14, NULL);
		} else {
			baton_http_respond(r->ex, 200, "application/x-protobuf", buf, len, NULL);
			free(buf);
		}
	} else {
		r->cb(r->data, 0, resp);
	}
	free(r);
}

/* ------------------------------------------------------------------ client */

static void call_done(void *data, const struct baton_http_result *res)
{
	struct peer_call *c = data;
	Baton__PeerResponse *resp = NULL;
	int status = res->err;

	if (status == 0 && res->status != 200)
		status = -EPROTO;
	if (status == 0) {
		resp = baton__peer_response__unpack(NULL, res->body_len, (const uint8_t *)res->body);
		if (resp == NULL)
			status = -EPROTO;
	}
	c->cb(c->data, status, resp);
	if (resp != NULL)
		baton__peer_response__free_unpacked(resp, NULL);
	free(c);
}

int baton_peer_send(struct baton_node *n, Baton__PeerRequest *req, baton_peer_cb cb, void *data)
{
	const struct baton_member_config *leader;
	Baton__PeerEnvelope env = BATON__PEER_ENVELOPE__INIT;
	struct baton_http_call_opts o = {0};
	static const char *const headers[] = {"Content-Type: application/x-protobuf", NULL};
	uint8_t mac[32];
	char url[64];
	void *body = NULL, *wire = NULL;
	size_t blen, wlen;
	struct peer_call *c;
	int rv;

	req->from = n->cfg.node.id;
	req->seq = ++n->peer_seq;
	req->sent_at_ms = baton_wall_ms();
	if (baton_member_is_ready_leader(&n->member)) {
		struct baton_peer_reply *r = calloc(1, sizeof *r);
		if (r == NULL)
			return -ENOMEM;
		r->cb = cb;
		r->data = data;
		baton_coord_handle_peer(n, req, r);
		return 0;
	}
	leader = baton_node_leader(n);
	if (leader == NULL || leader->id == n->cfg.node.id)
		return -ENOTCONN;
	rv = baton_pb_pack(&req->base, &body, &blen);
	if (rv != 0)
		return rv;
	env.body.data = body;
	env.body.len = blen;
	if (n->have_peer_key) {
		peer_mac(n, body, blen, mac);
		env.has_mac = true;
		env.mac.data = mac;
		env.mac.len = sizeof mac;
	}
	rv = baton_pb_pack(&env.base, &wire, &wlen);
	free(body);
	if (rv != 0)
		return rv;
	c = calloc(1, sizeof *c);
	if (c == NULL) {
		free(wire);
		return -ENOMEM;
	}
	c->cb = cb;
	c->data = data;
	snprintf(url, sizeof url, "http://%s/v1/internal/peer", leader->api);
	o.method = "POST";
	o.url = url;
	o.headers = headers;
	o.body = wire;
	o.body_len = wlen;
	o.timeout_ms = PEER_TIMEOUT_MS;
	o.connect_timeout_ms = PEER_TIMEOUT_MS / 2;
	rv = baton_http_call(&n->http_client, &o, call_done, c, NULL);
	free(wire);
	if (rv != 0)
		free(c);
	return rv;
}

/* ------------------------------------------------------------------ server */

static void respond_error(struct baton_http_exchange *ex, int status, const char *msg)
{
	char body[256];
	int len = snprintf(body, sizeof body, "{\"error\":\"%s\"}\n", msg);
	baton_http_respond(ex, status, "application/json", body, (size_t)len, NULL);
}

void baton_peer_handle_http(struct baton_node *n, struct baton_http_exchange *ex, const struct baton_http_request *req)
{
	Baton__PeerEnvelope *env;
	Baton__PeerRequest *pr;
	struct baton_peer_reply *r;
	uint64_t now = baton_wall_ms();
	const char *why = NULL;

	if (req->body_len > PEER_MAX_BODY) {
		respond_error(ex, 413, "peer request too large");
		return;
	}
	env = baton__peer_envelope__unpack(NULL, req->body_len, req->body);
	if (env == NULL) {
		respond_error(ex, 400, "not a PeerEnvelope protobuf");
		return;
	}
	if (n->have_peer_key) {
		uint8_t mac[32];
		peer_mac(n, env->body.data, env->body.len, mac);
		if (!env->has_mac || env->mac.len != sizeof mac || sodium_memcmp(mac, env->mac.data, sizeof mac) != 0)
			why = "bad or missing MAC (is node.peer_key_file the same on every node?)";
	}
	pr = why == NULL ? baton__peer_request__unpack(NULL, env->body.len, env->body.data) : NULL;
	baton__peer_envelope__free_unpacked(env, NULL);
	if (why == NULL && pr == NULL)
		why = "not a PeerRequest protobuf";
	if (why == NULL && baton_config_member(&n->cfg.cluster, pr->from) == NULL)
		why = "sender is not a cluster member";
	if (why == NULL && (pr->sent_at_ms + PEER_SKEW_MS < now || pr->sent_at_ms > now + PEER_SKEW_MS))
		why = "sent_at outside the skew window (clocks more than 10 s apart, or a replay)";
	if (why == NULL && pr->seq <= n->peer_last_seq[pr->from])
		why = "replayed or reordered request (seq not newer than the last one)";
	if (why != NULL) {
		log_warn("peer", "request rejected", "from=%s reason=\"%s\"", req->remote_addr, why);
		if (pr != NULL)
			baton__peer_request__free_unpacked(pr, NULL);
		respond_error(ex, 403, why);
		return;
	}
	n->peer_last_seq[pr->from] = pr->seq;
	if (!baton_member_is_ready_leader(&n->member)) {
		baton__peer_request__free_unpacked(pr, NULL);
		respond_error(ex, 421, "not the leader");
		return;
	}
	r = calloc(1, sizeof *r);
	if (r == NULL) {
		baton__peer_request__free_unpacked(pr, NULL);
		respond_error(ex, 500, "out of memory");
		return;
	}
	r->ex = ex;
	baton_coord_handle_peer(n, pr, r);
	baton__peer_request__free_unpacked(pr, NULL);
}
