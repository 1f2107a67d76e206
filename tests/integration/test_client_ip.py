"""Client IP resolution behind trusted proxies, seen through the stored source_ip.

The addresses in forwarding headers come from the documentation ranges
(192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32). No traffic
goes to them.
"""

from harness import NULL_SECRET, expect, expect_equal
from stored import expect_one_delivery
from suite import Module

MODULE = Module("client ip", env={"RATE_LIMIT_WEBHOOK_INGEST": "1000/60",
                                  "TRUSTED_PROXIES": "127.0.0.1/32, 10.0.0.0/8"})


def deliver(t, ctx, headers, remote_addr="127.0.0.1"):
    """Send one accepted delivery and return the stored rows and the response."""
    world = ctx.world(secret=NULL_SECRET)
    options = {"remote_addr": remote_addr} if t.mode == "cgi" else {}
    response = t.send(path=world.path(), body=b"{}", headers=headers, **options)
    return expect_one_delivery(ctx.db, response, world.webhook), response


def stored_source_ip(t, ctx, headers, remote_addr="127.0.0.1"):
    return deliver(t, ctx, headers, remote_addr)[0].source_ip


@MODULE.both("direct peer stored without forwarding header")
def direct_peer(t, ctx):
    expect_equal(stored_source_ip(t, ctx, []), "127.0.0.1", "source_ip")


@MODULE.both("forwarded client stored as source_ip")
def forwarded_client(t, ctx):
    expect_equal(stored_source_ip(t, ctx, [("X-Forwarded-For", "203.0.113.9")]), "203.0.113.9",
                 "source_ip")


@MODULE.both("right-to-left walk skips trusted hops")
def right_to_left(t, ctx):
    # The left-most entry is the client's own claim and must not win.
    header = "198.51.100.1, 203.0.113.9, 10.1.2.3"
    expect_equal(stored_source_ip(t, ctx, [("X-Forwarded-For", header)]), "203.0.113.9", "source_ip")


@MODULE.both("repeated X-Forwarded-For headers walked as one list")
def repeated_header(t, ctx):
    headers = [("X-Forwarded-For", "198.51.100.1"), ("X-Forwarded-For", "203.0.113.44, 10.0.0.7")]
    expect_equal(stored_source_ip(t, ctx, headers), "203.0.113.44", "source_ip")


@MODULE.both("IPv6 forwarded client stored canonical")
def ipv6_forwarded(t, ctx):
    expect_equal(stored_source_ip(t, ctx, [("X-Forwarded-For", "2001:DB8:0:0:0:0:0:7")]),
                 "2001:db8::7", "source_ip")


@MODULE.both("IPv4-mapped client stored as IPv4")
def ipv4_mapped(t, ctx):
    expect_equal(stored_source_ip(t, ctx, [("X-Forwarded-For", "::ffff:203.0.113.5")]),
                 "203.0.113.5", "source_ip")


@MODULE.both("unparsable hop stops the walk")
def garbage_hop(t, ctx):
    # The nearest trusted hop is then taken as the client.
    header = "203.0.113.9, not-an-address"
    expect_equal(stored_source_ip(t, ctx, [("X-Forwarded-For", header)]), "127.0.0.1", "source_ip")


@MODULE.both("Forwarded header ignored by default")
def forwarded_ignored(t, ctx):
    expect_equal(stored_source_ip(t, ctx, [("Forwarded", "for=203.0.113.77")]), "127.0.0.1",
                 "source_ip")


@MODULE.both("untrusted peer's X-Forwarded-For ignored")
def untrusted_peer(t, ctx):
    with ctx.variant(t, {"TRUSTED_PROXIES": "10.0.0.0/8"}) as variant:
        source_ip = stored_source_ip(variant, ctx, [("X-Forwarded-For", "203.0.113.9")])
    expect_equal(source_ip, "127.0.0.1", "source_ip")


@MODULE.both("TRUSTED_PROXY_HEADER=forwarded reads Forwarded")
def forwarded_header(t, ctx):
    headers = [("X-Forwarded-For", "203.0.113.1"),
               ("Forwarded", 'for=198.51.100.3;proto=https, for="[2001:db8::9]:4711";by=10.0.0.1')]
    with ctx.variant(t, {"TRUSTED_PROXY_HEADER": "forwarded"}) as variant:
        source_ip = stored_source_ip(variant, ctx, headers)
    expect_equal(source_ip, "2001:db8::9", "source_ip")


@MODULE.both("invalid TRUSTED_PROXIES entry skipped")
def invalid_proxy_entry(t, ctx):
    proxies = "127.0.0.1/32,internal-lb-secretname,10.0.0.0/99"
    with ctx.variant(t, {"TRUSTED_PROXIES": proxies}) as variant:
        stored, response = deliver(variant, ctx, [("X-Forwarded-For", "203.0.113.21")])
        # A FastCGI process warns once at start, before any request.
        log = variant.log_text() if t.mode == "fcgi" else response.log
    expect_equal(stored.source_ip, "203.0.113.21", "source_ip")
    expect("TRUSTED_PROXIES entry 2" in log, "no warning names the position of the invalid entry")
    expect("TRUSTED_PROXIES entry 3" in log, "no warning for the invalid prefix length")
    expect("internal-lb-secretname" not in log, "the warning echoes the invalid value")


@MODULE.cgi("IPv6 peer stored as source_ip")
def ipv6_peer_cgi(t, ctx):
    expect_equal(stored_source_ip(t, ctx, [], remote_addr="2001:db8:4::1"), "2001:db8:4::1",
                 "source_ip")


@MODULE.cgi("missing REMOTE_ADDR stored as unknown")
def missing_peer(t, ctx):
    world = ctx.world(secret=NULL_SECRET)
    response = t.send(path=world.path(), body=b"{}", remote_addr=None,
                      headers=[("X-Forwarded-For", "203.0.113.9")])
    stored = expect_one_delivery(ctx.db, response, world.webhook)
    expect_equal(stored.source_ip, "unknown", "source_ip")


@MODULE.fcgi("IPv6 loopback peer stored as source_ip")
def ipv6_peer_fcgi(t, ctx):
    # lighttpd 1.4.69 reads an IPv6 server.bind only in brackets.
    with ctx.variant(t, {}, bind="[::1]") as variant:
        source_ip = stored_source_ip(variant, ctx, [])
    expect_equal(source_ip, "::1", "source_ip")


@MODULE.fcgi("EDGE_BIND=::1 serves on IPv6 loopback")
def ipv6_bind_unbracketed(t, ctx):
    # scripts/lighttpd-settings documents EDGE_BIND as an address and copies it as is.
    with ctx.variant(t, {}, bind="::1") as variant:
        source_ip = stored_source_ip(variant, ctx, [])
    expect_equal(source_ip, "::1", "source_ip")
