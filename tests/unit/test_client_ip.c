/* Tests for client address resolution: address and CIDR parsing, the
 * trusted proxy list, and the right-to-left walk over X-Forwarded-For and
 * RFC 7239 Forwarded. Addresses come from the documentation ranges
 * (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) and the
 * private range 10.0.0.0/8 stands for the proxies. */
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "check.h"
#include "client_ip.h"
#include "log.h"

#define XFF EDGE_FORWARD_X_FORWARDED_FOR
#define FWD EDGE_FORWARD_FORWARDED

/* Resolves with the trusted list parsed from spec and returns the address
 * in text form (static storage, overwritten by the next call). */
static const char *
resolve(const char *spec, const char *peer, const char *header_value,
    edge_forward_header header)
{
	static char text[EDGE_IP_TEXT_SIZE];
	edge_proxy_list trusted;
	edge_ip client;

	if (edge_proxy_list_parse(spec, &trusted) != EDGE_OK) {
		strcpy(text, "parse failed");
		return text;
	}
	memset(&client, 0xa5, sizeof(client));
	edge_client_ip_resolve(peer, header_value, header, &trusted, &client);
	edge_ip_format(&client, text);
	edge_proxy_list_free(&trusted);
	return text;
}

/* Parses text as one address and returns its canonical form, or "invalid". */
static const char *
parse_format(const char *text)
{
	static char out[EDGE_IP_TEXT_SIZE];
	edge_ip ip;

	if (!edge_ip_parse(text, strlen(text), &ip))
		return "invalid";
	edge_ip_format(&ip, out);
	return out;
}

static const char *
rate_key(const char *text)
{
	static char out[EDGE_IP_TEXT_SIZE];
	edge_ip ip;

	memset(&ip, 0, sizeof(ip));
	if (text != NULL && !edge_ip_parse(text, strlen(text), &ip))
		return "invalid";
	edge_ip_rate_key(&ip, out);
	return out;
}

/* Returns whether spec's list contains the address text. */
static bool
list_contains(const char *spec, const char *text)
{
	edge_proxy_list list;
	edge_ip ip;
	bool found;

	if (edge_proxy_list_parse(spec, &list) != EDGE_OK ||
	    !edge_ip_parse(text, strlen(text), &ip))
		return false;
	found = edge_proxy_list_contains(&list, &ip);
	edge_proxy_list_free(&list);
	return found;
}

static void
test_ip_parse(void)
{
	edge_ip ip;

	CHECK(edge_ip_parse("192.0.2.1", 9, &ip), "ip parse IPv4 accepted");
	CHECK_INT_EQ(ip.family, EDGE_IP_V4, "ip parse IPv4 family");
	CHECK(edge_ip_parse("2001:db8::1", 11, &ip), "ip parse IPv6 accepted");
	CHECK_INT_EQ(ip.family, EDGE_IP_V6, "ip parse IPv6 family");
	CHECK(edge_ip_parse("::ffff:192.0.2.1", 16, &ip) &&
	    ip.family == EDGE_IP_V4, "ip parse mapped becomes IPv4");
	CHECK_MEM_EQ(ip.bytes, 4, "\xc0\x00\x02\x01", 4, "ip parse mapped bytes");
	CHECK(edge_ip_parse("192.0.2.10", 9, &ip), "ip parse honours length");
	CHECK_STR_EQ(parse_format("192.0.2.10"), "192.0.2.10", "ip format IPv4");
	CHECK_STR_EQ(parse_format("2001:0DB8:0:0:0:0:0:0001"), "2001:db8::1",
	    "ip format IPv6 canonical");
	CHECK_STR_EQ(parse_format("::ffff:10.0.0.1"), "10.0.0.1",
	    "ip format mapped as IPv4");
	CHECK_STR_EQ(parse_format("1.2.3.4:80"), "invalid", "ip parse rejects port");
	CHECK_STR_EQ(parse_format("[2001:db8::1]"), "invalid",
	    "ip parse rejects brackets");
	CHECK_STR_EQ(parse_format(""), "invalid", "ip parse rejects empty");
	CHECK_STR_EQ(parse_format("1.2.3"), "invalid", "ip parse rejects short IPv4");
	CHECK_STR_EQ(parse_format("256.1.1.1"), "invalid",
	    "ip parse rejects octet 256");
	CHECK_STR_EQ(parse_format("01.2.3.4"), "invalid",
	    "ip parse rejects leading zero");
	CHECK_STR_EQ(parse_format(" 1.2.3.4"), "invalid",
	    "ip parse rejects leading space");
	CHECK_STR_EQ(parse_format("fe80::1%eth0"), "invalid",
	    "ip parse rejects zone id");
	CHECK_STR_EQ(parse_format("unknown"), "invalid", "ip parse rejects unknown");
	CHECK_STR_EQ(parse_format("0000:0000:0000:0000:0000:0000:0000:0000:0"),
	    "invalid", "ip parse rejects overlong text");
	CHECK(!edge_ip_parse("1.2.3.4", 0, &ip), "ip parse rejects zero length");

	memset(&ip, 0, sizeof(ip));
	{
		char out[EDGE_IP_TEXT_SIZE];

		edge_ip_format(&ip, out);
		CHECK_STR_EQ(out, "unknown", "ip format none is unknown");
	}
}

static void
test_rate_key(void)
{
	CHECK_STR_EQ(rate_key("192.0.2.1"), "192.0.2.1", "rate key IPv4 address");
	CHECK_STR_EQ(rate_key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64",
	    "rate key IPv6 is /64");
	CHECK_STR_EQ(rate_key("2001:db8:1:2:ffff::1"), "2001:db8:1:2::/64",
	    "rate key same /64 shared");
	CHECK_STR_EQ(rate_key("2001:db8:1:3::1"), "2001:db8:1:3::/64",
	    "rate key other /64 differs");
	CHECK_STR_EQ(rate_key("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
	    "ffff:ffff:ffff:ffff::/64", "rate key longest IPv6 fits");
	CHECK_STR_EQ(rate_key("::1"), "::/64", "rate key loopback IPv6");
	CHECK_STR_EQ(rate_key("::ffff:192.0.2.9"), "192.0.2.9",
	    "rate key mapped as IPv4");
	CHECK_STR_EQ(rate_key(NULL), "unknown", "rate key no address");
}

static void
test_cidr_contains(void)
{
	CHECK(list_contains("0.0.0.0/0", "203.0.113.9"), "cidr /0 contains any IPv4");
	CHECK(!list_contains("0.0.0.0/0", "2001:db8::1"),
	    "cidr IPv4 /0 excludes IPv6");
	CHECK(list_contains("::/0", "2001:db8::1"), "cidr ::/0 contains IPv6");
	CHECK(!list_contains("::/0", "192.0.2.1"), "cidr ::/0 excludes IPv4");
	CHECK(list_contains("10.0.0.0/8", "10.255.255.255"), "cidr /8 upper bound");
	CHECK(!list_contains("10.0.0.0/8", "11.0.0.0"), "cidr /8 next network");
	CHECK(!list_contains("10.0.0.0/8", "9.255.255.255"),
	    "cidr /8 previous network");
	CHECK(list_contains("10.1.2.3/8", "10.9.9.9"), "cidr host bits ignored");
	CHECK(list_contains("192.168.1.0/25", "192.168.1.127"),
	    "cidr /25 last address");
	CHECK(!list_contains("192.168.1.0/25", "192.168.1.128"),
	    "cidr /25 excludes next");
	CHECK(list_contains("192.0.2.7/32", "192.0.2.7"), "cidr /32 exact match");
	CHECK(!list_contains("192.0.2.7/32", "192.0.2.6"), "cidr /32 excludes neighbour");
	CHECK(list_contains("192.0.2.7", "192.0.2.7"), "cidr bare address exact");
	CHECK(!list_contains("192.0.2.7", "192.0.2.8"), "cidr bare address only");
	CHECK(list_contains("2001:db8::1/128", "2001:db8::1"), "cidr /128 exact match");
	CHECK(!list_contains("2001:db8::1/128", "2001:db8::2"),
	    "cidr /128 excludes neighbour");
	CHECK(list_contains("2001:db8::/32", "2001:db8:ffff::1"),
	    "cidr IPv6 /32 contains");
	CHECK(!list_contains("2001:db8::/32", "2001:db9::"), "cidr IPv6 /32 excludes");
	CHECK(list_contains("2001:db8::/63", "2001:db8:0:1::5"), "cidr IPv6 /63 odd bits");
	CHECK(!list_contains("2001:db8::/63", "2001:db8:0:2::5"),
	    "cidr IPv6 /63 excludes");
	CHECK(list_contains("::ffff:10.0.0.0/104", "10.200.0.1"),
	    "cidr mapped network as IPv4");
	CHECK(list_contains("10.0.0.0/8", "::ffff:10.0.0.1"),
	    "cidr IPv4 matches mapped peer");
	CHECK(list_contains("192.0.2.1, 10.0.0.0/8", "10.3.3.3"),
	    "cidr second list entry");
	CHECK(!list_contains("", "10.3.3.3"), "cidr empty list contains nothing");
	CHECK(!list_contains(NULL, "10.3.3.3"), "cidr NULL list contains nothing");
}

static void
test_proxy_list_parse(void)
{
	edge_proxy_list list;
	stderr_capture *capture = malloc(sizeof(*capture));

	CHECK(edge_proxy_list_parse(" 10.0.0.0/8 ,\t192.168.1.1, 2001:db8::/32 ",
	    &list) == EDGE_OK, "proxy list parse succeeds");
	CHECK_INT_EQ(list.count, 3, "proxy list three entries");
	edge_proxy_list_free(&list);
	CHECK(list.items == NULL, "proxy list free releases items");
	CHECK_INT_EQ(list.count, 0, "proxy list free resets count");

	CHECK_INT_EQ(edge_proxy_list_parse(NULL, &list), EDGE_OK,
	    "proxy list NULL parses");
	CHECK_INT_EQ(list.count, 0, "proxy list NULL is empty");
	edge_proxy_list_free(&list);

	capture_begin(capture);
	CHECK_INT_EQ(edge_proxy_list_parse(",, ,", &list), EDGE_OK,
	    "proxy list blank entries parse");
	CHECK_INT_EQ(list.count, 0, "proxy list blank entries ignored");
	capture_end(capture);
	CHECK_INT_EQ(capture->len, 0, "proxy list blank entries silent");
	edge_proxy_list_free(&list);

	/* Eight invalid entries, each with a marker that must not reach the log. */
	edge_log_configure(EDGE_LOG_INFO, EDGE_LOG_TEXT);
	capture_begin(capture);
	CHECK(edge_proxy_list_parse("10.0.0.0/8,Secret-Host-1,1.2.3.4/33,"
	    "::/129,1.2.3.4/,1.2.3.4/abc,1.2.3.4/0008,/8,::ffff:10.0.0.0/95,"
	    "192.0.2.0/24", &list) == EDGE_OK, "proxy list invalid entries parse");
	capture_end(capture);
	edge_log_configure(EDGE_LOG_ERROR, EDGE_LOG_TEXT);
	CHECK_INT_EQ(list.count, 2, "proxy list invalid entries skipped");
	CHECK(list_contains("10.0.0.0/8,Secret-Host-1,192.0.2.0/24", "192.0.2.5"),
	    "proxy list entry after invalid");
	CHECK_INT_EQ(capture_line_count(capture), 8,
	    "proxy list one warning each");
	CHECKF(strstr(capture->text, "entry 2 ") != NULL,
	    "proxy list warning gives position", "log: %s", capture->text);
	CHECKF(strstr(capture->text, "Secret-Host") == NULL,
	    "proxy list warning hides text", "log: %s", capture->text);
	CHECKF(strstr(capture->text, "1.2.3.4") == NULL &&
	    strstr(capture->text, "/33") == NULL &&
	    strstr(capture->text, "/129") == NULL,
	    "proxy list warning hides CIDR", "log: %s", capture->text);
	CHECKF(strstr(capture->text, "WARNING") != NULL,
	    "proxy list warning level", "log: %s", capture->text);
	edge_proxy_list_free(&list);
	free(capture);
}

#define TRUSTED "10.0.0.0/8"

static void
test_resolve_x_forwarded_for(void)
{
	CHECK_STR_EQ(resolve(TRUSTED, "203.0.113.5", "198.51.100.7", XFF),
	    "203.0.113.5", "resolve untrusted peer ignores header");
	CHECK_STR_EQ(resolve("", "10.0.0.1", "198.51.100.7", XFF), "10.0.0.1",
	    "resolve empty trust list ignores header");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", NULL, XFF), "10.0.0.1",
	    "resolve trusted peer without header");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "198.51.100.7", XFF),
	    "198.51.100.7", "resolve trusted peer one hop");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "198.51.100.7, 10.0.0.2", XFF),
	    "198.51.100.7", "resolve client behind trusted proxy");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1",
	    "6.6.6.6, 192.0.2.66, 198.51.100.7, 10.0.0.2", XFF), "198.51.100.7",
	    "resolve forged left entries ignored");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "10.0.0.99, 198.51.100.7", XFF),
	    "198.51.100.7", "resolve forged trusted entry ignored");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "10.0.0.3, 10.0.0.2", XFF),
	    "10.0.0.3", "resolve all hops trusted");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "198.51.100.7,10.0.0.2", XFF),
	    "198.51.100.7", "resolve no space after comma");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", " \t198.51.100.7 ,\t10.0.0.2 ",
	    XFF), "198.51.100.7", "resolve spaces and tabs trimmed");

	/* Ports and brackets. */
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "1.2.3.4:80", XFF), "1.2.3.4",
	    "resolve IPv4 with port");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "[2001:db8::1]:443", XFF),
	    "2001:db8::1", "resolve bracketed IPv6 with port");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "[2001:db8::1]", XFF),
	    "2001:db8::1", "resolve bracketed IPv6 without port");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "2001:db8::1", XFF),
	    "2001:db8::1", "resolve bare IPv6");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "::ffff:198.51.100.7", XFF),
	    "198.51.100.7", "resolve mapped hop as IPv4");

	/* A malformed hop stops the walk at the nearest trusted hop. */
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "garbage", XFF), "10.0.0.1",
	    "resolve garbage falls back to peer");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1",
	    "198.51.100.7, garbage, 10.0.0.2", XFF), "10.0.0.2",
	    "resolve garbage stops at trusted hop");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "", XFF), "10.0.0.1",
	    "resolve empty header uses peer");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "198.51.100.7, ", XFF),
	    "10.0.0.1", "resolve trailing empty hop");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "198.51.100.7,,10.0.0.2", XFF),
	    "10.0.0.2", "resolve empty middle hop");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "300.1.1.1", XFF), "10.0.0.1",
	    "resolve invalid octet hop");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "[2001:db8::1", XFF), "10.0.0.1",
	    "resolve unclosed bracket hop");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "[2001:db8::1]x", XFF),
	    "10.0.0.1", "resolve bracket trailing junk");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "unknown", XFF), "10.0.0.1",
	    "resolve unknown hop uses peer");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "for=198.51.100.7", XFF),
	    "10.0.0.1", "resolve Forwarded syntax in XFF");

	/*
	 * Entries left of the nearest untrusted hop are the client's own text.
	 * An unbalanced quote there must not swallow the entries that trusted
	 * proxies appended.
	 */
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "\"abc, 198.51.100.7", XFF),
	    "198.51.100.7", "resolve client quote cannot hide hops");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1",
	    "\"abc, 198.51.100.7, 10.0.0.2", XFF), "198.51.100.7",
	    "resolve client quote two proxies");
}

static void
test_resolve_peer(void)
{
	CHECK_STR_EQ(resolve(TRUSTED, "::ffff:10.0.0.1", "198.51.100.7", XFF),
	    "198.51.100.7", "resolve mapped peer matches IPv4 CIDR");
	CHECK_STR_EQ(resolve(TRUSTED, "::ffff:203.0.113.5", "198.51.100.7", XFF),
	    "203.0.113.5", "resolve mapped untrusted peer");
	CHECK_STR_EQ(resolve("2001:db8::/64", "2001:db8::10", "2001:db8:1::99, "
	    "2001:db8::20", XFF), "2001:db8:1::99", "resolve IPv6 proxies");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "2001:db8::5, 198.51.100.7", XFF),
	    "198.51.100.7", "resolve IPv6 hop left of client");
	CHECK_STR_EQ(resolve(TRUSTED, NULL, "198.51.100.7", XFF), "unknown",
	    "resolve missing peer unknown");
	CHECK_STR_EQ(resolve(TRUSTED, "", "198.51.100.7", XFF), "unknown",
	    "resolve empty peer unknown");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1:4000", "198.51.100.7", XFF),
	    "unknown", "resolve peer with port unknown");
	CHECK_STR_EQ(resolve("0.0.0.0/0", "203.0.113.5", "198.51.100.7", XFF),
	    "198.51.100.7", "resolve all IPv4 trusted");
}

static void
test_resolve_forwarded(void)
{
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "for=198.51.100.7", FWD),
	    "198.51.100.7", "forwarded plain for value");
	CHECK_STR_EQ(resolve(TRUSTED, "203.0.113.5", "for=198.51.100.7", FWD),
	    "203.0.113.5", "forwarded untrusted peer ignored");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1",
	    "for=\"[2001:db8:cafe::17]:4711\"", FWD), "2001:db8:cafe::17",
	    "forwarded quoted IPv6 with port");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "for=\"198.51.100.7:8080\"", FWD),
	    "198.51.100.7", "forwarded quoted IPv4 with port");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "for=\"198.51.100.7\"", FWD),
	    "198.51.100.7", "forwarded quoted IPv4");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "For=198.51.100.7", FWD),
	    "198.51.100.7", "forwarded parameter name case");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1",
	    "for=198.51.100.7;proto=https;by=10.0.0.1", FWD), "198.51.100.7",
	    "forwarded several pairs for first");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1",
	    "proto=https;host=example.com;for=198.51.100.7", FWD), "198.51.100.7",
	    "forwarded several pairs for last");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1",
	    "for=192.0.2.60;proto=http;by=203.0.113.43, for=198.51.100.7;by=10.0.0.2",
	    FWD), "198.51.100.7", "forwarded two elements");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1",
	    "for=198.51.100.7, for=10.0.0.2;proto=https", FWD), "198.51.100.7",
	    "forwarded client behind proxy");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1",
	    "for=6.6.6.6, for=198.51.100.7, for=10.0.0.2", FWD), "198.51.100.7",
	    "forwarded forged left ignored");

	/* Hidden or malformed hops: the nearest trusted hop stands for the client. */
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "for=unknown", FWD), "10.0.0.1",
	    "forwarded unknown uses peer");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "for=_hidden", FWD), "10.0.0.1",
	    "forwarded obfuscated uses peer");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "for=\"_gazonk\"", FWD),
	    "10.0.0.1", "forwarded quoted obfuscated uses peer");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "for=198.51.100.7, for=unknown",
	    FWD), "10.0.0.1", "forwarded unknown hides left hops");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1",
	    "for=198.51.100.7, for=_hidden, for=10.0.0.2", FWD), "10.0.0.2",
	    "forwarded hidden stops at trusted");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "for=", FWD), "10.0.0.1",
	    "forwarded empty for value");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "by=10.0.0.1;proto=https", FWD),
	    "10.0.0.1", "forwarded element without for");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "198.51.100.7", FWD), "10.0.0.1",
	    "forwarded bare address rejected");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "for=[2001:db8::1]:80", FWD),
	    "2001:db8::1", "forwarded unquoted brackets accepted");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "for=\"198.51.100.7, 10.0.0.2\"",
	    FWD), "10.0.0.1", "forwarded comma inside quotes");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "for=\"198.51.100.7", FWD),
	    "10.0.0.1", "forwarded unclosed quote");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "for=\"\\1\\9\\8.51.100.7\"",
	    FWD), "198.51.100.7", "forwarded quoted pair escapes");

	/* As for X-Forwarded-For, a client's unbalanced quote must not reach
	 * into the elements that trusted proxies appended. */
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", "for=\", for=198.51.100.7", FWD),
	    "198.51.100.7", "forwarded client quote cannot hide hops");
}

/* Builds head, then count hops "<hop_prefix><n>, " with n from 1 to 250
 * (repeating), then tail. */
static char *
build_hops(const char *head, size_t count, const char *hop_prefix,
    const char *tail)
{
	size_t size = strlen(head) + count * (strlen(hop_prefix) + 5) +
	    strlen(tail) + 1;
	char *value = malloc(size), *p = value;

	p += sprintf(p, "%s", head);
	for (size_t i = 0; i < count; i++)
		p += sprintf(p, "%s%u, ", hop_prefix, (unsigned)(i % 250 + 1));
	strcpy(p, tail);
	return value;
}

static void
test_resolve_many_hops(void)
{
	char *value;

	value = build_hops("", 100, "203.0.113.",
	    "198.51.100.7, 10.0.0.2, 10.0.0.3");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", value, XFF), "198.51.100.7",
	    "resolve 100 forged hops ignored");
	free(value);

	value = build_hops("", 5000, "203.0.113.", "198.51.100.7");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", value, XFF), "198.51.100.7",
	    "resolve 5000 forged hops ignored");
	free(value);

	/* The client and 63 trusted hops: exactly 64 hops, all read. */
	value = build_hops("198.51.100.7, ", 62, "10.0.1.", "10.0.0.2");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", value, XFF), "198.51.100.7",
	    "resolve client at hop 64");
	free(value);

	/* The client and 70 trusted hops: the walk ends on the 64th hop from
	 * the right, a trusted proxy, never on a client-written entry. */
	value = build_hops("198.51.100.7, ", 69, "10.0.1.", "10.0.1.70");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", value, XFF), "10.0.1.7",
	    "resolve past 64 trusted hops");
	free(value);

	value = build_hops("", 200, "for=203.0.113.",
	    "for=198.51.100.7;proto=https");
	CHECK_STR_EQ(resolve(TRUSTED, "10.0.0.1", value, FWD), "198.51.100.7",
	    "forwarded 200 forged hops ignored");
	free(value);
}

int
main(void)
{
	/* Warnings of edge_proxy_list_parse are checked where they are expected. */
	edge_log_configure(EDGE_LOG_ERROR, EDGE_LOG_TEXT);

	test_ip_parse();
	test_rate_key();
	test_cidr_contains();
	test_proxy_list_parse();
	test_resolve_x_forwarded_for();
	test_resolve_peer();
	test_resolve_forwarded();
	test_resolve_many_hops();
	return check_summary();
}
