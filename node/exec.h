/* SPDX-License-Identifier: MIT */
/* The plan executor (leader only) and self-fence steps. */
#ifndef BATON_EXEC_H
#define BATON_EXEC_H

#include <stddef.h>

#include "baton.pb-c.h"

struct baton_node;

/* Fill @specs with the plan for moving the baton @from -> @to; returns the
 * number of steps. @specp[i] points at @specs[i]. */
size_t baton_node_plan_steps(struct baton_node *n, const char *from, const char *to, Baton__StepSpec *specs,
			     Baton__StepSpec **specp, size_t max);
/* The same for a transition of @kind (BATON__TRANSITION_KIND__*): steps whose
 * kinds: list excludes it are left out. */
size_t baton_node_plan_steps_for(struct baton_node *n, int kind, const char *from, const char *to, Baton__StepSpec *specs,
				 Baton__StepSpec **specp, size_t max);
/* Run this region's self-fence steps for group @g (on the fenced node itself). */
void baton_node_self_fence_steps(struct baton_node *n, unsigned g, const char *reason);
/* Lease granted again after the self-fence steps ran: run this region's unfence
 * steps (each only with its whole timeout of lease left). */
void baton_node_unfence_steps(struct baton_node *n, unsigned g);
/* Advance running transitions (leader only; called every tick). */
void baton_exec_tick(struct baton_node *n);
/* Run this region's rejoin steps when asked (every node, every tick). */
void baton_exec_rejoin_duties(struct baton_node *n);
/* Cancel every attempt in flight (leadership lost). */
void baton_exec_cancel_all(struct baton_node *n);
/* Shutdown: cancel everything; handles close asynchronously. */
void baton_exec_close(struct baton_node *n);
/* Push this region's health to the leader when it changed (health.c). */
void baton_node_health_duties(struct baton_node *n);

#endif
