/* SPDX-License-Identifier: MIT */
/* Adapter from libraft's struct raft_fsm (v1) to baton's FSM (fsm.h). */
#ifndef BATON_RSM_H
#define BATON_RSM_H

#include <raft.h>
#include <stdbool.h>

#include "fsm.h"

struct baton_rsm {
	struct raft_fsm fsm;       /* hand &fsm to raft_init / raft_fixture_grow */
	struct raft *raft;         /* set once the raft instance exists */
	struct baton_fsm *state;
	int fatal;                 /* non-zero: a storage failure; the node must exit */
	char errmsg[256];
};

void baton_rsm_init(struct baton_rsm *a, struct baton_fsm *state);

#endif
