/* Fuzz target for client address resolution. Input: one flag byte (bit 0:
 * read Forwarded instead of X-Forwarded-For; bit 1: take the trusted list
 * from the input), then lines "peer\n[trusted list\n]header value". The
 * result must be the peer unless the peer is trusted, must format and parse
 * back to itself, and for X-Forwarded-For values without quotes must match
 * an independent right-to-left walk. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_ip.h"
#include "fuzz_input.h"
#include "log.h"

#define DEFAULT_TRUSTED "10.0.0.0/8, 192.168.0.0/16, 2001:db8::/48, ::1"
#define REFERENCE_MAX_HOPS 64

static int
same_ip(const edge_ip *a, const edge_ip *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, 16) == 0;
}

/* Parses one X-Forwarded-For entry: "a.b.c.d", "a.b.c.d:port",
 * "[v6]" or "[v6]:port", or a bare IPv6 address. */
static int
reference_node(const char *start, size_t len, edge_ip *ip)
{
	const char *colon;

	if (len > 0 && start[0] == '[') {
		const char *close = memchr(start, ']', len);

		if (close == NULL)
			return 0;
		if ((size_t)(close - start) + 1 < len && close[1] != ':')
			return 0;
		return edge_ip_parse(start + 1, (size_t)(close - start) - 1, ip);
	}
	colon = memchr(start, ':', len);
	if (colon != NULL && memchr(colon + 1, ':', len -
	    (size_t)(colon + 1 - start)) == NULL)
		return edge_ip_parse(start, (size_t)(colon - start), ip);
	return edge_ip_parse(start, len, ip);
}

/* Right-to-left walk over comma-separated entries, at most 64 of them. */
static void
reference_resolve(const edge_ip *peer, const char *value,
    const edge_proxy_list *trusted, edge_ip *client)
{
	const char *end = value + strlen(value);
	size_t hops = 0;

	*client = *peer;
	while (hops < REFERENCE_MAX_HOPS) {
		const char *start = end;
		edge_ip ip;

		while (start > value && start[-1] != ',')
			start--;
		{
			const char *a = start, *b = end;

			while (a < b && (*a == ' ' || *a == '\t'))
				a++;
			while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
				b--;
			if (!reference_node(a, (size_t)(b - a), &ip))
				return;
		}
		*client = ip;
		if (!edge_proxy_list_contains(trusted, &ip))
			return;
		hops++;
		if (start == value)
			return;
		end = start - 1;
	}
}

/* Copies the bytes up to the next '\n' (or the end) into a new string. */
static char *
take_line(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *newline = memchr(*p, '\n', (size_t)(end - *p));
	const uint8_t *stop = newline != NULL ? newline : end;
	char *line = fuzz_copy_text(*p, (size_t)(stop - *p));

	*p = newline != NULL ? newline + 1 : end;
	return line;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 1, *end = data + size;
	edge_forward_header header;
	edge_proxy_list trusted;
	edge_ip peer, client, back, expected;
	char *peer_text, *spec, *value, text[EDGE_IP_TEXT_SIZE], key[EDGE_IP_TEXT_SIZE];
	int peer_ok;

	if (size < 1)
		return 0;
	edge_log_configure(EDGE_LOG_ERROR, EDGE_LOG_TEXT);
	header = data[0] & 1 ? EDGE_FORWARD_FORWARDED : EDGE_FORWARD_X_FORWARDED_FOR;
	peer_text = take_line(&p, end);
	spec = data[0] & 2 ? take_line(&p, end) : NULL;
	value = take_line(&p, end);

	FUZZ_ASSERT(edge_proxy_list_parse(spec != NULL ? spec : DEFAULT_TRUSTED,
	    &trusted) == EDGE_OK);
	memset(&client, 0x5a, sizeof(client));
	edge_client_ip_resolve(peer_text, value, header, &trusted, &client);

	peer_ok = edge_ip_parse(peer_text, strlen(peer_text), &peer);
	if (!peer_ok) {
		FUZZ_ASSERT(client.family == EDGE_IP_NONE);
		goto done;
	}
	if (!edge_proxy_list_contains(&trusted, &peer))
		FUZZ_ASSERT(same_ip(&client, &peer));

	/* The result is a clean address that survives a text round trip. */
	FUZZ_ASSERT(client.family == EDGE_IP_V4 || client.family == EDGE_IP_V6);
	edge_ip_format(&client, text);
	FUZZ_ASSERT(strlen(text) < EDGE_IP_TEXT_SIZE);
	FUZZ_ASSERT(edge_ip_parse(text, strlen(text), &back));
	FUZZ_ASSERT(same_ip(&back, &client));
	edge_ip_rate_key(&client, key);
	FUZZ_ASSERT(strlen(key) < EDGE_IP_TEXT_SIZE);

	/* With no header, the peer is the client. */
	edge_client_ip_resolve(peer_text, NULL, header, &trusted, &back);
	FUZZ_ASSERT(same_ip(&back, &peer));

	if (header == EDGE_FORWARD_X_FORWARDED_FOR &&
	    edge_proxy_list_contains(&trusted, &peer) &&
	    strchr(value, '"') == NULL) {
		reference_resolve(&peer, value, &trusted, &expected);
		FUZZ_ASSERT(same_ip(&client, &expected));
	}
done:
	edge_proxy_list_free(&trusted);
	free(peer_text);
	free(spec);
	free(value);
	return 0;
}
