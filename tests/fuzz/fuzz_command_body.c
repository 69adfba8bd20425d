/* SPDX-License-Identifier: MIT */
/* Fuzz the decoding of a CommandBody and the lookups the leader and the FSM
 * do on it (raft/opcmd.c: baton_op_parse, baton_op_arg, baton_op_dangerous).
 *
 * Input: the bytes of a baton.CommandBody (the signed part of a command).
 * Besides "no crash, no leak, no UB" it checks: baton_op_arg(k) returns the
 * value of the first entry with key k; an operation that parses has that
 * name; dangerous means failover with force=true or skip-step; and a body
 * that decodes packs to the size it announces. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *fuzz_first_value(const Baton__CommandBody *b, const char *key)
{
	for (size_t i = 0; i < b->n_args; i++)
		if (b->args[i]->key != NULL && strcmp(b->args[i]->key, key) == 0)
			return b->args[i]->value;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = {"to", "force", "reason", "step", "transition", "id", ""};
	Baton__CommandBody *b;
	uint8_t *packed;
	size_t len;
	int op;
	bool dangerous;
	const char *force;

	if (size > BATON_OPCMD_MAX_BYTES)
		return 0;
	b = baton__command_body__unpack(NULL, size, data);
	if (b == NULL)
		return 0;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (baton_op_arg(b, keys[i]) != fuzz_first_value(b, keys[i]))
			abort();
	for (size_t i = 0; i < b->n_args; i++)
		if (b->args[i]->key != NULL && baton_op_arg(b, b->args[i]->key) != fuzz_first_value(b, b->args[i]->key))
			abort();
	op = baton_op_parse(b->op);
	if (op >= 0 && strcmp(baton_op_name(op), b->op) != 0)
		abort();
	force = baton_op_arg(b, "force");
	dangerous = baton_op_dangerous(b);
	if (dangerous != (op == BATON_OP_SKIP_STEP || (op == BATON_OP_FAILOVER && force != NULL && strcmp(force, "true") == 0)))
		abort();

	/* Packing what was decoded writes exactly the size it announces. (Decoding
	 * that again is not checked: libprotobuf-c 1.4 keeps unknown fields with
	 * number 0 inside map entries and then refuses its own output. baton never
	 * re-encodes a body: the signature covers the bytes as received.) */
	len = baton__command_body__get_packed_size(b);
	packed = malloc(len ? len : 1);
	if (packed == NULL)
		abort();
	if (baton__command_body__pack(b, packed) != len)
		abort();
	free(packed);
	baton__command_body__free_unpacked(b, NULL);
	return 0;
}
