/* SPDX-License-Identifier: MIT */
/* Fuzz the HTTP server's request parser (lib/http_server.c) with arbitrary
 * bytes, the way a connection would feed it: in chunks, request after
 * request (pipelining), until an error.
 *
 * Input layout: byte 0 picks the chunk size (0 = everything at once), byte 1
 * picks small or default limits; the rest is the stream. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

static void touch(const struct baton_http_request *q)
{
	size_t n = strlen(q->method) + strlen(q->path) + strlen(q->query);

	for (size_t i = 0; i < q->n_headers; i++)
		n += strlen(q->headers[i].name) + strlen(q->headers[i].value);
	for (size_t i = 0; i < q->body_len; i++)
		n += q->body[i];
	n += q->body[q->body_len];       /* NUL-terminated */
	if (baton_http_header(q, "content-length") != NULL)
		n++;
	sink += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct baton_http_parse *p;
	size_t chunk, off = 0;
	bool small;

	if (size < 2)
		return 0;
	chunk = data[0] % 64;
	small = data[1] & 1;
	data += 2;
	size -= 2;
	p = baton_http_parse_new(small ? 64 : 1024 * 1024, small ? 128 : 16 * 1024);
	if (p == NULL)
		return 0;
	while (off < size) {
		size_t n = chunk == 0 || size - off < chunk ? size - off : chunk;
		size_t used = 0;
		const char *msg;
		enum baton_http_parse_rv rv;

		rv = baton_http_parse_feed(p, (const char *)data + off, n, &used);
		if (used > n)
			__builtin_trap();
		off += used;
		if (rv == BATON_HTTP_PARSE_REQUEST) {
			touch(baton_http_parse_request(p));
			sink += baton_http_parse_keep_alive(p);
			baton_http_parse_next(p);
		} else if (rv == BATON_HTTP_PARSE_ERROR) {
			int status = baton_http_parse_error(p, &msg);

			if (status < 400 || status > 599 || msg[0] == '\0')
				__builtin_trap();
			break;
		} else if (used != n) {
			__builtin_trap();
		}
	}
	baton_http_parse_free(p);
	return 0;
}
