/* SPDX-License-Identifier: MIT */
/* Coordinator-to-leader requests: observations, health changes and lease
 * renewals (only the leader can propose to the raft log).
 *
 * Transport: POST /v1/internal/peer on the leader's API, a PeerEnvelope whose
 * body is a PeerRequest, authenticated with HMAC-SHA256 under the cluster peer
 * key (node.peer_key_file). The receiver checks the MAC, that sent_at is
 * within the skew window of its own clock, and that seq is newer than the last
 * one it accepted from that sender. When this node is itself the leader the
 * request is handled in-process, without HTTP. */
#ifndef BATON_PEER_H
#define BATON_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include "baton.pb-c.h"
#include "http_server.h"

struct baton_node;

/* status: 0 and @resp, or a negative errno (-ENOTCONN: no leader known,
 * -ETIMEDOUT, -ECONNREFUSED, -EPROTO: bad answer). */
typedef void (*baton_peer_cb)(void *data, int status, const Baton__PeerResponse *resp);

/* A request being answered; the handler calls baton_peer_reply once. */
struct baton_peer_reply;
void baton_peer_reply(struct baton_peer_reply *r, const Baton__PeerResponse *resp);

/* Load the peer key (or run unauthenticated when @key_file is ""). */
int baton_peer_init(struct baton_node *n, const char *key_file, char *errbuf, size_t errlen);
/* Send @req (from/seq/sent_at are filled in) to the current leader. */
int baton_peer_send(struct baton_node *n, Baton__PeerRequest *req, baton_peer_cb cb, void *data);
/* POST /v1/internal/peer */
void baton_peer_handle_http(struct baton_node *n, struct baton_http_exchange *ex, const struct baton_http_request *req);

/* Implemented by the node (coord.c): act on a verified request as leader. */
void baton_coord_handle_peer(struct baton_node *n, const Baton__PeerRequest *req, struct baton_peer_reply *reply);

#endif
