/* SPDX-License-Identifier: MIT */
/* Conversion between the FSM's C state and its protobuf form (internal). */
#ifndef BATON_FSM_PB_H
#define BATON_FSM_PB_H

#include <stddef.h>

#include "fsm.h"

/* A bump allocator for the temporary protobuf trees built for packing. */
struct baton_arena {
	void **blocks;
	size_t n, cap;
};
void *baton_arena_alloc(struct baton_arena *a, size_t n);
void baton_arena_free(struct baton_arena *a);

/* Build a Snapshot message (without history/applied) pointing into @st;
 * everything it allocates comes from @a. */
Baton__Snapshot *baton_fsm_state_to_pb(const struct baton_fsm_state *st, struct baton_arena *a);
/* Fill @st from @snap (which must have passed protobuf validation). Returns 0
 * or -EINVAL with a reason in errbuf when a limit is exceeded. */
int baton_fsm_state_from_pb(struct baton_fsm_state *st, const Baton__Snapshot *snap, char *errbuf,
			    size_t errlen);

/* Pack @msg into a malloc'd buffer. */
int baton_pb_pack(const ProtobufCMessage *msg, void **ret_buf, size_t *ret_len);

#endif
