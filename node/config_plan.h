/* SPDX-License-Identifier: MIT */
/* Plan and step validation of the batond configuration (config_plan.c); only
 * node/config.c calls it, from its cross-key checks. */
#ifndef BATON_NODE_CONFIG_PLAN_H
#define BATON_NODE_CONFIG_PLAN_H

#include "lib/conftab.h"
#include "node/config.h"

/* Check cluster.plan and every region's self_fence and rejoin; 0 or -EINVAL
 * with "<file>:<line>: <list>[<i>]: <problem>" written through @x. */
int baton_config_check_plans(struct baton_conf *x, const struct baton_cluster_config *c);

#endif
