/* Client address resolution behind reverse proxies.
 *
 * The direct peer (REMOTE_ADDR) is the client unless it is a trusted proxy.
 * Then the configured forwarding header (X-Forwarded-For, or RFC 7239
 * Forwarded) is walked from the right, and the first address that is not a
 * trusted proxy is the client. Entries left of it were written by the client
 * and are never believed. Limits: only one header is read, so a proxy chain
 * that mixes both headers resolves to the nearest trusted hop; a hop that
 * hides its address ("unknown", "_obfuscated") or writes garbage stops the
 * walk at the nearest trusted hop, which then stands for the client. */
#ifndef EDGE_CLIENT_IP_H
#define EDGE_CLIENT_IP_H

#include <stdbool.h>
#include <stddef.h>

#include "edge_error.h"

/* Longest text form, "ffff:ffff:...:255.255.255.255" plus NUL, as INET6_ADDRSTRLEN. */
#define EDGE_IP_TEXT_SIZE 46

typedef enum edge_ip_family {
	EDGE_IP_NONE = 0,	/* no usable address (plain CGI from a shell) */
	EDGE_IP_V4,
	EDGE_IP_V6
} edge_ip_family;

/* An address; IPv4-mapped IPv6 addresses are stored as IPv4. */
typedef struct edge_ip {
	edge_ip_family family;
	unsigned char bytes[16];	/* network order; 4 used for IPv4 */
} edge_ip;

/* A network in CIDR form. */
typedef struct edge_cidr {
	edge_ip network;
	unsigned prefix_bits;
} edge_cidr;

typedef struct edge_proxy_list {
	edge_cidr *items;
	size_t count;
} edge_proxy_list;

typedef enum edge_forward_header {
	EDGE_FORWARD_X_FORWARDED_FOR = 0,
	EDGE_FORWARD_FORWARDED
} edge_forward_header;

/* Parses one address ("192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1").
 * Returns false for anything else, including ports and brackets. */
bool edge_ip_parse(const char *text, size_t len, edge_ip *ip);

/* Writes the canonical text form of ip into out (EDGE_IP_TEXT_SIZE bytes),
 * or "unknown" for EDGE_IP_NONE. */
void edge_ip_format(const edge_ip *ip, char *out);

/* Writes the rate-limit key of ip: the address for IPv4, its /64 network
 * ("2001:db8:1:2::/64") for IPv6, since one IPv6 host usually owns a whole
 * /64 and could otherwise rotate addresses to escape its limit. */
void edge_ip_rate_key(const edge_ip *ip, char *out);

/* Parses a comma-separated list of addresses and CIDR networks. Invalid
 * entries are skipped with a warning that gives their position, not their
 * text. Returns EDGE_OK or EDGE_ERR_NOMEM. */
edge_err edge_proxy_list_parse(const char *spec, edge_proxy_list *list);
void edge_proxy_list_free(edge_proxy_list *list);

/* Returns true when ip lies in one of the list's networks. */
bool edge_proxy_list_contains(const edge_proxy_list *list, const edge_ip *ip);

/* Resolves the client address from the direct peer and the configured
 * forwarding header's value (NULL when absent). Always succeeds: an unusable
 * peer yields EDGE_IP_NONE. */
void edge_client_ip_resolve(const char *remote_addr, const char *header_value,
	edge_forward_header header, const edge_proxy_list *trusted, edge_ip *client);

#endif
