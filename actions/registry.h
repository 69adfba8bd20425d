/* SPDX-License-Identifier: MIT */
/* Registry helpers beyond action.h, for the executor and config loading. */
#ifndef BATON_ACTIONS_REGISTRY_H
#define BATON_ACTIONS_REGISTRY_H

#include <stdbool.h>

#include "action.h"

/* Whether a step may be run again after an attempt whose outcome is unknown:
 * the driver's own flag, or, for drivers that cannot know (http, exec), the
 * step's `idempotent` parameter ("true"). The executor should ask this rather
 * than read d->idempotent, which is the driver-wide default. */
bool baton_action_idempotent(const struct baton_action_driver *d,
			     const struct baton_action_params *p);

#endif
