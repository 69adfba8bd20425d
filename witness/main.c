/* SPDX-License-Identifier: MIT */
/* baton-witness: a voter in a fourth failure domain. It runs the same member
 * code as batond with no region and no actions: it votes, observes, and hands
 * leadership to an up-to-date region member the moment it is elected. */
#include "node.h"

int main(int argc, char **argv)
{
	return baton_node_main(argc, argv, true);
}
