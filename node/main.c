/* SPDX-License-Identifier: MIT */
/* batond: the region coordinator. */
#include "node.h"

int main(int argc, char **argv)
{
	return baton_node_main(argc, argv, false);
}
