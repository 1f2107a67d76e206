/* Client address resolution behind reverse proxies; see client_ip.h for the
 * rules and their limits. */
#include "client_ip.h"
#include "log.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Hops kept from one header value. The walk starts at the right, so dropping
 * hops beyond this from the left only loses entries a client could forge. */
#define MAX_HOPS 64

typedef struct span {
	const char *start;
	size_t len;
} span;

static const unsigned char v4_mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

bool
edge_ip_parse(const char *text, size_t len, edge_ip *ip)
{
	char buf[EDGE_IP_TEXT_SIZE];

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, text, len);
	buf[len] = '\0';

	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, buf, ip->bytes) == 1) {
		ip->family = EDGE_IP_V4;
		return true;
	}
	if (inet_pton(AF_INET6, buf, ip->bytes) != 1)
		return false;

	/* An IPv4 client seen through a dual-stack socket is still that IPv4 client. */
	if (memcmp(ip->bytes, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
		memmove(ip->bytes, ip->bytes + 12, 4);
		memset(ip->bytes + 4, 0, 12);
		ip->family = EDGE_IP_V4;
		return true;
	}
	ip->family = EDGE_IP_V6;
	return true;
}

void
edge_ip_format(const edge_ip *ip, char *out)
{
	int af = ip->family == EDGE_IP_V4 ? AF_INET : AF_INET6;

	if (ip->family == EDGE_IP_NONE ||
	    inet_ntop(af, ip->bytes, out, EDGE_IP_TEXT_SIZE) == NULL)
		strcpy(out, "unknown");
}

void
edge_ip_rate_key(const edge_ip *ip, char *out)
{
	edge_ip network;
	size_t len;

	if (ip->family != EDGE_IP_V6) {
		edge_ip_format(ip, out);
		return;
	}
	network = *ip;
	memset(network.bytes + 8, 0, 8);
	edge_ip_format(&network, out);

	/* "xxxx:...:xxxx::" is at most 41 bytes, so "/64" always fits. */
	len = strlen(out);
	memcpy(out + len, "/64", 4);
}

static bool
cidr_parse(const char *text, size_t len, edge_cidr *cidr)
{
	const char *slash = memchr(text, '/', len);
	size_t address_len = slash != NULL ? (size_t)(slash - text) : len;
	unsigned max_bits, bits = 0;

	if (!edge_ip_parse(text, address_len, &cidr->network))
		return false;
	max_bits = cidr->network.family == EDGE_IP_V4 ? 32 : 128;
	if (slash == NULL) {
		cidr->prefix_bits = max_bits;
		return true;
	}

	/* At most three digits, so the value cannot overflow before the bound check. */
	if (len - address_len < 2 || len - address_len > 4)
		return false;
	for (const char *p = slash + 1; p < text + len; p++) {
		if (*p < '0' || *p > '9')
			return false;
		bits = bits * 10 + (unsigned)(*p - '0');
	}

	/* "::ffff:10.0.0.0/104" names an IPv4 network; its prefix loses the 96 mapped bits. */
	if (cidr->network.family == EDGE_IP_V4 &&
	    memchr(text, ':', address_len) != NULL) {
		if (bits < 96)
			return false;
		bits -= 96;
	}
	if (bits > max_bits)
		return false;
	cidr->prefix_bits = bits;
	return true;
}

static bool
cidr_contains(const edge_cidr *cidr, const edge_ip *ip)
{
	unsigned full_bytes = cidr->prefix_bits / 8, rest = cidr->prefix_bits % 8;

	if (cidr->network.family != ip->family)
		return false;
	if (memcmp(cidr->network.bytes, ip->bytes, full_bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (cidr->network.bytes[full_bytes] & mask) ==
	    (ip->bytes[full_bytes] & mask);
}

static span
trim_span(const char *start, size_t len)
{
	while (len > 0 && (*start == ' ' || *start == '\t')) {
		start++;
		len--;
	}
	while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '\t'))
		len--;
	return (span){ start, len };
}

edge_err
edge_proxy_list_parse(const char *spec, edge_proxy_list *list)
{
	size_t capacity = 1, position = 0;
	const char *p;

	list->items = NULL;
	list->count = 0;
	if (spec == NULL)
		return EDGE_OK;
	for (p = spec; *p != '\0'; p++)
		capacity += *p == ',';
	list->items = calloc(capacity, sizeof(*list->items));
	if (list->items == NULL)
		return EDGE_ERR_NOMEM;

	for (p = spec;; ) {
		size_t len = strcspn(p, ",");
		span entry = trim_span(p, len);

		position++;
		if (entry.len > 0) {
			if (cidr_parse(entry.start, entry.len,
			    &list->items[list->count]))
				list->count++;
			else
				edge_log(EDGE_LOG_WARNING, "config",
				    "TRUSTED_PROXIES entry %zu is not an IP "
				    "address or CIDR network; skipped", position);
		}
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	return EDGE_OK;
}

void
edge_proxy_list_free(edge_proxy_list *list)
{
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

bool
edge_proxy_list_contains(const edge_proxy_list *list, const edge_ip *ip)
{
	for (size_t i = 0; i < list->count; i++)
		if (cidr_contains(&list->items[i], ip))
			return true;
	return false;
}

/* Parses one hop's node ("192.0.2.1", "192.0.2.1:8080", "[2001:db8::1]:443",
 * "2001:db8::1"), already unquoted. */
static bool
node_parse(span node, edge_ip *ip)
{
	const char *colon;

	if (node.len > 0 && node.start[0] == '[') {
		const char *close = memchr(node.start, ']', node.len);
		size_t after;

		if (close == NULL)
			return false;
		after = node.len - (size_t)(close + 1 - node.start);
		if (after > 0 && close[1] != ':')
			return false;
		return edge_ip_parse(node.start + 1,
		    (size_t)(close - node.start - 1), ip);
	}

	/* A single colon can only separate an IPv4 address from its port. */
	colon = memchr(node.start, ':', node.len);
	if (colon != NULL &&
	    memchr(colon + 1, ':', node.len - (size_t)(colon + 1 - node.start)) == NULL)
		return edge_ip_parse(node.start, (size_t)(colon - node.start), ip);
	return edge_ip_parse(node.start, node.len, ip);
}

/* Removes one level of double quotes and backslash escapes into buf. */
static bool
unquote(span value, char *buf, size_t buf_size, span *out)
{
	size_t used = 0;

	if (value.len < 2 || value.start[0] != '"' ||
	    value.start[value.len - 1] != '"') {
		*out = value;
		return true;
	}
	for (size_t i = 1; i + 1 < value.len; i++) {
		char c = value.start[i];

		if (c == '\\') {
			if (i + 2 >= value.len)
				return false;
			c = value.start[++i];
		}
		if (used + 1 >= buf_size)
			return false;
		buf[used++] = c;
	}
	*out = (span){ buf, used };
	return true;
}

/* Splits value at every comma, keeping the last MAX_HOPS elements in a ring;
 * returns how many were seen in all. Quotes are not honoured: no address
 * contains a comma, and a client's unbalanced quote must not swallow the
 * hops that trusted proxies appended after it. */
static size_t
split_hops(const char *value, span hops[MAX_HOPS])
{
	size_t seen = 0;
	const char *start = value;

	for (const char *p = value;; p++) {
		if (*p != ',' && *p != '\0')
			continue;
		hops[seen % MAX_HOPS] = trim_span(start, (size_t)(p - start));
		seen++;
		if (*p == '\0')
			break;
		start = p + 1;
	}
	return seen;
}

/* Finds the for= parameter of one Forwarded element; false when absent. */
static bool
forwarded_for(span element, span *value)
{
	const char *p = element.start, *end = element.start + element.len;

	while (p < end) {
		const char *pair_end = p;
		bool quoted = false;

		while (pair_end < end && (*pair_end != ';' || quoted)) {
			if (*pair_end == '"')
				quoted = !quoted;
			pair_end++;
		}
		span pair = trim_span(p, (size_t)(pair_end - p));
		if (pair.len > 4 && strncasecmp(pair.start, "for=", 4) == 0) {
			*value = trim_span(pair.start + 4, pair.len - 4);
			return true;
		}
		p = pair_end + 1;
	}
	return false;
}

static bool
hop_parse(span hop, edge_forward_header header, edge_ip *ip)
{
	char unquoted[128];
	span node = hop;

	if (header == EDGE_FORWARD_FORWARDED && !forwarded_for(hop, &node))
		return false;
	if (!unquote(node, unquoted, sizeof(unquoted), &node))
		return false;

	/* "unknown" and "_obfuscated" identifiers hide the hop: no address to use. */
	return node_parse(node, ip);
}

void
edge_client_ip_resolve(const char *remote_addr, const char *header_value,
    edge_forward_header header, const edge_proxy_list *trusted, edge_ip *client)
{
	span hops[MAX_HOPS];
	size_t seen, kept;
	edge_ip hop_ip;

	if (remote_addr == NULL ||
	    !edge_ip_parse(remote_addr, strlen(remote_addr), client)) {
		memset(client, 0, sizeof(*client));
		return;
	}
	if (header_value == NULL || !edge_proxy_list_contains(trusted, client))
		return;

	/* Walk right to left; client is always the nearest trusted hop so far. */
	seen = split_hops(header_value, hops);
	kept = seen < MAX_HOPS ? seen : MAX_HOPS;
	for (size_t i = 0; i < kept; i++) {
		span hop = hops[(seen - 1 - i) % MAX_HOPS];

		if (!hop_parse(hop, header, &hop_ip))
			return;
		*client = hop_ip;
		if (!edge_proxy_list_contains(trusted, &hop_ip))
			return;
	}
}
