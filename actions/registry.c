/* SPDX-License-Identifier: MIT */
/* The table of action drivers (see action.h, registry.h). */
#include <string.h>

#include "driver.h"
#include "registry.h"

static const struct baton_action_driver *const drivers[] = {
	&baton_action_driver_postgres,
	&baton_action_driver_powerdns,
	&baton_action_driver_kubernetes,
	&baton_action_driver_route53,
	&baton_action_driver_http,
	&baton_action_driver_exec,
};

const struct baton_action_driver *baton_action_driver(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	return NULL;
}

const char *baton_action_driver_names(void)
{
	/* keep in the order of drivers[] (test_actions checks it) */
	return "postgres, powerdns, kubernetes, route53, http, exec";
}

bool baton_action_idempotent(const struct baton_action_driver *d,
			     const struct baton_action_params *p)
{
	bool v;

	if (d == NULL)
		return false;
	if (d->idempotent)
		return true;
	return action_parse_bool(baton_action_param(p, "idempotent"), &v) == 0 && v;
}
