#!/usr/bin/python3
"""Checks the test gateway itself with an independent client (reference_client.py).

Runs every mode, the connect checks, device signatures made with
python3-cryptography, the WebSocket framing rules, TLS and the process
helper. Prints one "ok - NAME" or "not ok - NAME: why" line per check and
exits 1 when any check failed. Usage: /usr/bin/python3 tests/gateway/selftest.py
"""

import json
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gateway_modes import Mode  # noqa: E402
from gateway_process import PYTHON, SERVER_SCRIPT, GatewayProcess, make_test_certificate  # noqa: E402
from reference_client import (Client, Device, UpgradeFailed, chat_send_params,  # noqa: E402
                              connect_params, open_session)
import websocket_server  # noqa: E402

TOKEN = "gateway-selftest-" + uuid.uuid4().hex
CHECKS = []
FAILURES = []


def check(function):
	"""Register a check; its name is the function's docstring."""
	CHECKS.append(function)
	return function


def expect(condition, message):
	if not condition:
		raise AssertionError(message)


def expect_equal(actual, expected, label):
	if actual != expected:
		raise AssertionError(f"{label}: expected {expected!r}, got {actual!r}")


class Servers:
	"""The gateway processes shared by the checks."""
	token = None		# token required, challenge sent
	device = None		# no token, --require-device
	small = None		# 1000-byte client messages, runs end after 0.5 s
	tls = None		# wss://, token required
	certificate = None


def with_mode(gateway, mode):
	"""Set the mode for the next connections of gateway; the check resets it to normal."""
	gateway.set_mode(mode)


def expect_rejected(reply, code, detail_code=None):
	expect_equal(reply.get("ok"), False, "reply ok")
	expect_equal(reply["error"]["code"], code, "error.code")
	if detail_code is not None:
		expect_equal(reply["error"].get("details", {}).get("code"), detail_code, "error.details.code")


def connect_raw(gateway, params, device=None, nonce_override=None, signature_version="v2",
		signed_at=None, device_id=None, token_in_signature=None):
	"""Open a session with full control over the device fields; return (client, reply)."""
	client = Client(gateway.url)
	nonce = client.recv_json()["payload"]["nonce"]
	if device is not None:
		signing = dict(params)
		if token_in_signature is not None:
			signing = dict(params, auth={"token": token_in_signature})
		signed = device.sign(signing, nonce_override or nonce, signature_version, signed_at, device_id)
		if signature_version == "v1":
			signed["nonce"] = nonce_override or nonce
		params["device"] = signed
	return client, client.recv_reply(client.request("connect", params))


def expect_connect_rejected(gateway, params, code, detail_code=None, close_code=1008, **device_options):
	client, reply = connect_raw(gateway, params, **device_options)
	expect_rejected(reply, code, detail_code)
	expect_equal(client.expect_close(), close_code, "close code")
	client.sock.close()
	return reply


def close_record(gateway, hello_ok):
	"""Wait for the close record of the connection that received hello_ok and return it."""
	number = int(hello_ok["payload"]["server"]["connId"].split("-")[1])
	records = gateway.wait_for_records(lambda r: any(
		x["event"] == "close" and x["connection"] == number for x in r))
	return [x for x in records if x["event"] == "close" and x["connection"] == number][0]


def connected_client(gateway, token=TOKEN, device=None, scopes=None):
	params = connect_params(token, scopes=scopes)
	client, challenge, reply = open_session(gateway.url, device=device, params=params)
	expect_equal(reply.get("ok"), True, f"connect reply {reply}")
	client.hello_ok = reply
	return client


# ---------------------------------------------------------------------------
# Upgrade
# ---------------------------------------------------------------------------

@check
def accept_key_rfc_example():
	"""Sec-WebSocket-Accept of the RFC 6455 example key"""
	expect_equal(websocket_server.compute_accept("dGhlIHNhbXBsZSBub25jZQ=="),
		"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "accept value")


@check
def upgrade_accepted():
	"""upgrade returns 101 and correct accept"""
	client = Client(Servers.token.url)
	expect_equal(client.recv_json()["event"], "connect.challenge", "first frame")
	client.close()


@check
def upgrade_rejections():
	"""invalid upgrade requests rejected"""
	cases = [({"Sec-WebSocket-Key": None}, 400), ({"Sec-WebSocket-Version": "8"}, 426),
		({"Upgrade": None}, 426), ({"Connection": "keep-alive"}, 400)]
	for headers, status in cases:
		try:
			Client(Servers.token.url, headers=headers)
			raise AssertionError(f"{headers} was upgraded")
		except UpgradeFailed as failure:
			expect_equal(failure.status, status, f"status for {headers}")
			if status == 426 and "Sec-WebSocket-Version" in headers:
				expect("Sec-WebSocket-Version: 13" in failure.head, "426 names version 13")

	with socket.create_connection(("127.0.0.1", Servers.token.port), timeout=5) as sock:
		sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
		expect(sock.recv(100).startswith(b"HTTP/1.1 405"), "POST answered 405")


# ---------------------------------------------------------------------------
# Connect
# ---------------------------------------------------------------------------

@check
def challenge_first():
	"""challenge is the first frame"""
	client = Client(Servers.token.url)
	frame = client.recv_json()
	client.close()
	expect_equal(frame["type"], "event", "frame type")
	expect_equal(frame["event"], "connect.challenge", "event name")
	uuid.UUID(frame["payload"]["nonce"])
	expect(abs(frame["payload"]["ts"] - time.time() * 1000) < 60000, "ts is current milliseconds")


@check
def connect_with_device():
	"""token and v2 device accepted"""
	device = Device()
	client, challenge, reply = open_session(Servers.token.url, token=TOKEN, device=device)
	client.close()
	expect_equal(reply["ok"], True, "ok")
	expect_equal(reply["payload"]["type"], "hello-ok", "payload.type")
	expect_equal(reply["payload"]["protocol"], 4, "protocol")
	expect(isinstance(reply["payload"]["policy"]["tickIntervalMs"], int), "policy.tickIntervalMs")
	expect(len(json.dumps(reply)) > 10000, "hello-ok is as large as the real one (about 16 KB)")

	records = Servers.token.wait_for_records(lambda r: any(
		x.get("device_id") == device.id and x["event"] == "connect" for x in r))
	record = [x for x in records if x.get("device_id") == device.id][0]
	expect_equal(record["answer"], "hello-ok", "recorded answer")
	expect_equal(record["signature"], "v2", "recorded signature version")
	expect_equal(record["has_token"], True, "recorded has_token")
	expect_equal(record["client_id"], "gateway-client", "recorded client id")
	expect_equal(record["query_keys"], [], "recorded query keys")


@check
def connect_token_only():
	"""token without device accepted"""
	client, challenge, reply = open_session(Servers.token.url, token=TOKEN)
	client.close()
	expect_equal(reply["ok"], True, "ok")


@check
def connect_token_refusals():
	"""wrong or missing token rejected"""
	expect_connect_rejected(Servers.token, connect_params("wrong-token"), "INVALID_REQUEST",
		"AUTH_TOKEN_MISMATCH")
	expect_connect_rejected(Servers.token, connect_params(None), "NOT_PAIRED", "DEVICE_IDENTITY_REQUIRED")
	expect_connect_rejected(Servers.token, connect_params(None), "INVALID_REQUEST", "AUTH_TOKEN_MISSING",
		device=Device())
	expect_connect_rejected(Servers.token, connect_params(TOKEN + "x"), "INVALID_REQUEST",
		"AUTH_TOKEN_MISMATCH")


@check
def connect_schema_closed():
	"""connect schema is closed"""
	cases = []
	params = connect_params(TOKEN)
	params["bogus"] = 1
	cases.append((params, "at root: unexpected property 'bogus'"))
	params = connect_params(TOKEN)
	params["client"]["color"] = "red"
	cases.append((params, "at /client: unexpected property 'color'"))
	cases.append((connect_params(TOKEN, client_id="mission-control"), "at /client/id"))
	cases.append((connect_params(TOKEN, mode="daemon"), "at /client/mode"))
	params = connect_params(TOKEN)
	params["auth"]["secret"] = "x"
	cases.append((params, "at /auth: unexpected property 'secret'"))
	params = connect_params(TOKEN)
	params["minProtocol"] = "3"
	cases.append((params, "at /minProtocol: must be integer"))
	params = connect_params(TOKEN)
	del params["client"]["version"]
	cases.append((params, "must have required property 'version'"))
	for params, text in cases:
		reply = expect_connect_rejected(Servers.token, params, "INVALID_REQUEST")
		expect(text in reply["error"]["message"], f"message {reply['error']['message']!r} names {text!r}")


@check
def connect_protocol_mismatch():
	"""protocol 3 only rejected, close 1002"""
	reply = expect_connect_rejected(Servers.token, connect_params(TOKEN, 3, 3), "INVALID_REQUEST",
		"PROTOCOL_MISMATCH", close_code=1002)
	expect_equal(reply["error"]["details"]["expectedProtocol"], 4, "details.expectedProtocol")
	client, challenge, reply = open_session(Servers.token.url, params=connect_params(TOKEN, 4, 4))
	client.close()
	expect_equal(reply["ok"], True, "protocol 4..4 accepted")


@check
def first_request_must_be_connect():
	"""first request must be connect"""
	client = Client(Servers.token.url)
	client.recv_json()
	reply = client.recv_reply(client.request("chat.send", chat_send_params()))
	expect_rejected(reply, "INVALID_REQUEST")
	expect_equal(client.expect_close(), 1008, "close code")

	client.sock.close()
	Servers.token.wait_for_records(lambda r: r[-1]["event"] == "close" and r[-1]["reason"] == "refused")

	client = Client(Servers.token.url)
	client.recv_json()
	client.send_frame(0x1, b"not json")
	expect_equal(client.expect_close(), 1008, "close code for a non-JSON first frame")
	client.sock.close()
	Servers.token.wait_for_records(
		lambda r: r[-1]["event"] == "close" and r[-1]["reason"] == "invalid-request-frame")


@check
def control_ui_needs_origin():
	"""control UI needs Origin"""
	expect_connect_rejected(Servers.token, connect_params(TOKEN, client_id="openclaw-control-ui", mode="ui"),
		"INVALID_REQUEST", "CONTROL_UI_ORIGIN_NOT_ALLOWED")


# ---------------------------------------------------------------------------
# Device signatures
# ---------------------------------------------------------------------------

@check
def device_signature_rejections():
	"""invalid device signatures rejected"""
	device = Device()
	expect_connect_rejected(Servers.token, connect_params(TOKEN), "INVALID_REQUEST",
		"DEVICE_AUTH_NONCE_MISMATCH", device=device, nonce_override=str(uuid.uuid4()))
	expect_connect_rejected(Servers.token, connect_params(TOKEN), "INVALID_REQUEST",
		"DEVICE_AUTH_DEVICE_ID_MISMATCH", device=device, device_id=Device().id)
	expect_connect_rejected(Servers.token, connect_params(TOKEN), "INVALID_REQUEST",
		"DEVICE_AUTH_SIGNATURE_EXPIRED", device=device, signed_at=int(time.time() * 1000) - 11 * 60000)
	expect_connect_rejected(Servers.token, connect_params(TOKEN), "INVALID_REQUEST",
		"DEVICE_AUTH_SIGNATURE_INVALID", device=device, token_in_signature="another-token")
	expect_connect_rejected(Servers.token, connect_params(TOKEN), "INVALID_REQUEST",
		"DEVICE_AUTH_SIGNATURE_INVALID", device=device, signature_version="v1")

	# A signature made by another key under this device's id and public key.
	client = Client(Servers.token.url)
	nonce = client.recv_json()["payload"]["nonce"]
	params = connect_params(TOKEN)
	forged = Device().sign(params, nonce)
	genuine = device.sign(params, nonce)
	params["device"] = dict(genuine, signature=forged["signature"])
	expect_rejected(client.recv_reply(client.request("connect", params)), "INVALID_REQUEST",
		"DEVICE_AUTH_SIGNATURE_INVALID")
	expect_equal(client.expect_close(), 1008, "close code")

	# The schema needs device.nonce once a challenge was sent.
	client = Client(Servers.token.url)
	client.recv_json()
	params = connect_params(TOKEN)
	params["device"] = device.sign(params, None, "v1")
	reply = client.recv_reply(client.request("connect", params))
	expect_rejected(reply, "INVALID_REQUEST")
	expect("required property 'nonce'" in reply["error"]["message"], "message names the nonce")


@check
def device_signed_at_within_window():
	"""signedAt 9 minutes old accepted"""
	client, reply = connect_raw(Servers.token, connect_params(TOKEN), device=Device(),
		signed_at=int(time.time() * 1000) - 9 * 60000)
	client.close()
	expect_equal(reply["ok"], True, "ok")


@check
def require_device():
	"""require-device rejects missing device"""
	expect_connect_rejected(Servers.device, connect_params(None), "NOT_PAIRED", "DEVICE_IDENTITY_REQUIRED")
	device = Device()
	client, challenge, reply = open_session(Servers.device.url, device=device)
	client.close()
	expect_equal(reply["ok"], True, "device connect ok")
	expect_equal(reply["payload"]["auth"]["method"], "none", "no token configured")


# ---------------------------------------------------------------------------
# chat.send and other methods
# ---------------------------------------------------------------------------

@check
def chat_send_started_then_in_flight():
	"""chat.send started then in_flight"""
	key = str(uuid.uuid4())
	device = Device()
	client = connected_client(Servers.token, device=device)
	first = client.recv_reply(client.request("chat.send", chat_send_params(key, "hi there")))
	second = client.recv_reply(client.request("chat.send", chat_send_params(key, "hi there")))
	client.close()
	expect_equal(first["payload"], {"runId": key, "status": "started"}, "first reply")
	expect_equal(second["payload"], {"runId": key, "status": "in_flight"}, "repeat reply")

	client = connected_client(Servers.token)
	third = client.recv_reply(client.request("chat.send", chat_send_params(key, "hi there")))
	client.close()
	expect_equal(third["payload"]["status"], "in_flight", "repeat on a new connection")

	sends = [s for s in Servers.token.sends() if s["idempotencyKey"] == key]
	expect_equal([s["answer"] for s in sends], ["started", "in_flight", "in_flight"], "recorded answers")
	expect_equal(sends[0]["message"], "hi there", "recorded message")
	expect_equal(sends[0]["sessionKey"], "agent:main:main", "recorded sessionKey")
	expect_equal(sends[0]["deliver"], False, "recorded deliver")
	expect_equal(sends[0]["device_id"], device.id, "recorded device id")
	expect_equal(sends[2]["device_id"], None, "no device recorded as null")


@check
def chat_send_invalid_params():
	"""invalid chat.send params rejected"""
	client = connected_client(Servers.token)
	cases = [(dict(chat_send_params(), bogus=1), "unexpected property 'bogus'"),
		(dict(chat_send_params(), deliver="no"), "at /deliver: must be boolean"),
		({"sessionKey": "agent:main:main", "message": "x"}, "required property 'idempotencyKey'"),
		(dict(chat_send_params(), message=""), "message or attachment required"),
		(dict(chat_send_params(), sessionKey=""), "at /sessionKey"),
		(dict(chat_send_params(), message=5), "at /message: must be string"),
		(chat_send_params(session_key="agent:nosuch:main"), 'Agent "nosuch" no longer exists')]
	for params, text in cases:
		reply = client.recv_reply(client.request("chat.send", params))
		expect_rejected(reply, "INVALID_REQUEST")
		expect(text in reply["error"]["message"], f"message {reply['error']['message']!r} names {text!r}")
	reply = client.recv_reply(client.request("chat.send", chat_send_params()))
	client.close()
	expect_equal(reply["payload"]["status"], "started", "valid send after refusals")


@check
def configured_agent_ids():
	"""chat.send to configured agent ids"""
	client = connected_client(Servers.small)
	worker = client.recv_reply(client.request("chat.send", chat_send_params(session_key="agent:worker:x")))
	plain = client.recv_reply(client.request("chat.send", chat_send_params(session_key="board-lead")))
	other = client.recv_reply(client.request("chat.send", chat_send_params(session_key="agent:other:x")))
	client.close()
	expect_equal(worker["ok"], True, "agent worker")
	expect_equal(plain["ok"], True, "key without the agent prefix")
	expect_rejected(other, "INVALID_REQUEST")


@check
def chat_send_needs_write_scope():
	"""chat.send needs write scope"""
	client = connected_client(Servers.token, scopes=["operator.read"])
	reply = client.recv_reply(client.request("chat.send", chat_send_params()))
	client.close()
	expect_rejected(reply, "INVALID_REQUEST")
	expect("operator.write" in reply["error"]["message"], "message names the scope")


@check
def unknown_method():
	"""unknown method rejected, connection kept"""
	client = connected_client(Servers.token)
	reply = client.recv_reply(client.request("sessions.nuke", {}))
	expect_rejected(reply, "INVALID_REQUEST")
	expect("unknown method" in reply["error"]["message"], "message says unknown method")
	again = client.recv_reply(client.request("connect", connect_params(TOKEN)))
	expect_rejected(again, "INVALID_REQUEST")
	reply = client.recv_reply(client.request("chat.send", chat_send_params()))
	client.close()
	expect_equal(reply["ok"], True, "still usable")


@check
def ended_run():
	"""repeat after run ended gets UNAVAILABLE"""
	key = str(uuid.uuid4())
	client = connected_client(Servers.small)
	first = client.recv_reply(client.request("chat.send", chat_send_params(key)))
	time.sleep(0.7)
	second = client.recv_reply(client.request("chat.send", chat_send_params(key)))
	client.close()
	expect_equal(first["payload"]["status"], "started", "first status")
	expect_rejected(second, "UNAVAILABLE")
	expect_equal(second["payload"]["status"], "error", "payload.status")
	expect("retryable" not in second["error"], "no retryable flag")
	expect_equal(Servers.small.sends()[-1]["answer"], "ended", "recorded answer")


# ---------------------------------------------------------------------------
# WebSocket framing rules for client frames
# ---------------------------------------------------------------------------

@check
def unmasked_client_frame():
	"""unmasked client frame closes 1002"""
	client = Client(Servers.token.url)
	client.recv_json()
	client.send_frame(0x1, json.dumps({"type": "req"}).encode(), masked=False)
	expect_equal(client.expect_close(), 1002, "close code")


@check
def reserved_bits_and_opcodes():
	"""bad client frame headers close 1002"""
	for options in ({"opcode": 0x1, "rsv": 0x40}, {"opcode": 0x3}, {"opcode": 0x9, "payload": b"p" * 126},
			{"opcode": 0x0}):
		client = Client(Servers.token.url)
		client.recv_json()
		client.send_frame(options["opcode"], options.get("payload", b"{}"), rsv=options.get("rsv", 0))
		expect_equal(client.expect_close(), 1002, f"close code for {options}")


@check
def oversized_client_messages():
	"""oversized client messages close 1009"""
	client = Client(Servers.token.url)
	client.recv_json()
	client.send_frame(0x1, b" " * (64 * 1024 + 1))
	expect_equal(client.expect_close(), 1009, "close code before connect")

	client = connected_client(Servers.small)
	client.send_frame(0x1, b" " * 1001)
	expect_equal(client.expect_close(), 1009, "close code after connect")

	client = connected_client(Servers.small)
	client.send_frame(0x1, b" " * 600, fin=False)
	client.send_frame(0x0, b" " * 600)
	expect_equal(client.expect_close(), 1009, "close code for fragments over the limit")


@check
def invalid_client_payloads():
	"""invalid UTF-8 closes 1007, binary closes 1003"""
	client = Client(Servers.token.url)
	client.recv_json()
	client.send_frame(0x1, b'{"type":"req","id":"\xc3\x28"}')
	expect_equal(client.expect_close(), 1007, "close code for invalid UTF-8")

	client = Client(Servers.token.url)
	client.recv_json()
	client.send_frame(0x2, b"{}")
	expect_equal(client.expect_close(), 1003, "close code for binary")


@check
def ping_and_fragments():
	"""ping gets pong, fragmented connect accepted"""
	client = Client(Servers.token.url)
	client.recv_json()
	client.send_frame(0x9, b"are you there")
	fin, opcode, payload = client.recv_frame()
	expect_equal((opcode, payload), (0xA, b"are you there"), "pong")

	request_id = str(uuid.uuid4())
	data = json.dumps({"type": "req", "id": request_id, "method": "connect",
		"params": connect_params(TOKEN)}).encode()
	client.send_frame(0x1, data[:10], fin=False)
	client.send_frame(0x9, b"between")
	client.send_frame(0x0, data[10:40], fin=False)
	client.send_frame(0x0, data[40:])
	fin, opcode, payload = client.recv_frame()
	expect_equal((opcode, payload), (0xA, b"between"), "pong between fragments")
	expect_equal(client.recv_reply(request_id)["ok"], True, "reassembled connect accepted")
	client.close()


@check
def close_handshake():
	"""client close 1000 echoed and recorded"""
	client = connected_client(Servers.token)
	client.send_frame(0x8, struct.pack("!H", 1000) + b"bye")
	expect_equal(client.expect_close(), 1000, "echoed code")
	client.sock.close()
	record = close_record(Servers.token, client.hello_ok)
	expect_equal(record["client_close_code"], 1000, "recorded close code")
	expect_equal(record["reason"], "client-close", "recorded reason")

	client = connected_client(Servers.token)
	client.send_frame(0x8, struct.pack("!H", 1004))
	expect_equal(client.expect_close(), 1002, "reserved close code 1004 answered 1002")


# ---------------------------------------------------------------------------
# Modes
# ---------------------------------------------------------------------------

@check
def mode_refuse():
	"""mode refuse rejects connect"""
	with_mode(Servers.token, "refuse")
	expect_connect_rejected(Servers.token, connect_params(TOKEN), "INVALID_REQUEST", "AUTH_TOKEN_MISMATCH")
	expect_equal(Servers.token.connects()[-1]["answer"], "refused", "recorded answer")


@check
def mode_refuse_send():
	"""mode refuse-send rejects chat.send"""
	with_mode(Servers.token, "refuse-send")
	client = connected_client(Servers.token)
	key = str(uuid.uuid4())
	reply = client.recv_reply(client.request("chat.send", chat_send_params(key)))
	client.close()
	expect_rejected(reply, "INVALID_REQUEST")
	expect_equal(Servers.token.sends()[-1]["answer"], "refused", "recorded answer")
	expect_equal(Servers.token.sends()[-1]["idempotencyKey"], key, "recorded key")


@check
def mode_stall():
	"""mode stall at each stage"""
	with_mode(Servers.token, "stall")
	client = Client(Servers.token.url)
	expect(client.wait_silence(1.0), "no challenge after the upgrade")
	client.close()

	with_mode(Servers.token, "stall:connect")
	client = Client(Servers.token.url)
	client.recv_json()
	client.request("connect", connect_params(TOKEN))
	expect(client.wait_silence(1.0), "no reply to connect")
	client.close()

	with_mode(Servers.token, "stall:send")
	client = connected_client(Servers.token)
	client.request("chat.send", chat_send_params())
	expect(client.wait_silence(1.0), "no reply to chat.send")
	client.close()
	expect_equal(Servers.token.sends()[-1]["answer"], "stall", "recorded answer")

	with_mode(Servers.token, "stall:upgrade")
	with socket.create_connection(("127.0.0.1", Servers.token.port), timeout=1.0) as sock:
		sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
		try:
			data = sock.recv(10)
		except socket.timeout:
			data = None
		expect_equal(data, None, "no answer to the upgrade")


def read_cut_frame(client):
	"""Return (announced length, bytes received) of a frame cut short by the server."""
	head = client.read_exact(2)
	length = head[1] & 0x7F
	if length == 126:
		length = struct.unpack("!H", client.read_exact(2))[0]
	elif length == 127:
		length = struct.unpack("!Q", client.read_exact(8))[0]
	received = len(client.buffer)
	client.buffer = b""
	while True:
		data = client.sock.recv(65536)
		if not data:
			return length, received
		received += len(data)


@check
def mode_close_mid_frame():
	"""mode close-mid-frame cuts a frame"""
	with_mode(Servers.token, "close-mid-frame")
	client = Client(Servers.token.url)
	client.recv_json()
	client.request("connect", connect_params(TOKEN))
	announced, received = read_cut_frame(client)
	expect(0 < received < announced, f"received {received} of {announced} bytes")

	with_mode(Servers.token, "close-mid-frame:send")
	client = connected_client(Servers.token)
	client.request("chat.send", chat_send_params())
	announced, received = read_cut_frame(client)
	expect(0 < received < announced, f"received {received} of {announced} bytes after chat.send")


@check
def mode_oversized_frame():
	"""mode oversized-frame exceeds 1 MiB"""
	with_mode(Servers.token, "oversized-frame")
	client = Client(Servers.token.url)
	client.recv_json()
	client.request("connect", connect_params(TOKEN))
	fin, opcode, payload = client.recv_frame()
	client.close()
	expect(fin and opcode == 0x1, "one text frame")
	expect(len(payload) > (1 << 20) + 1, f"payload of {len(payload)} bytes")

	with_mode(Servers.token, "oversized-frame:fragmented")
	client = Client(Servers.token.url)
	client.recv_json()
	client.request("connect", connect_params(TOKEN))
	frames = []
	while not frames or not frames[-1][0]:
		frames.append(client.recv_frame())
	client.close()
	expect(len(frames) > 1, "several frames")
	expect(all(len(f[2]) <= 65536 for f in frames), "each frame at most 64 KiB")
	expect(sum(len(f[2]) for f in frames) > (1 << 20) + 1, "message over 1 MiB")


@check
def mode_malformed_frame():
	"""mode malformed-frame rotates four variants"""
	with_mode(Servers.token, "malformed-frame")
	seen = []
	for _ in range(4):
		client = Client(Servers.token.url)
		client.recv_json()
		client.request("connect", connect_params(TOKEN))
		message = client.recv_message()
		client.close()
		expect_equal(message[0], "text", "a text frame")
		try:
			value = json.loads(message[1].decode("utf-8"))
			kind = "bad-fields" if isinstance(value, dict) else "not-object"
		except UnicodeDecodeError:
			kind = "bad-utf8"
		except ValueError:
			kind = "not-json"
		seen.append(kind)
	expect_equal(sorted(seen), ["bad-fields", "bad-utf8", "not-json", "not-object"], "variants")

	with_mode(Servers.token, "malformed-frame:send:not-json")
	client = connected_client(Servers.token)
	client.request("chat.send", chat_send_params())
	message = client.recv_message()
	client.close()
	expect_equal(message[1], b"this is not JSON {", "chat.send reply")


@check
def mode_unavailable():
	"""mode unavailable:2 then hello-ok"""
	with_mode(Servers.token, "unavailable:2")
	for attempt in range(2):
		reply = expect_connect_rejected(Servers.token, connect_params(TOKEN), "UNAVAILABLE", close_code=1013)
		expect_equal(reply["error"]["retryable"], True, "retryable")
		expect_equal(reply["error"]["retryAfterMs"], 500, "retryAfterMs")
	client, challenge, reply = open_session(Servers.token.url, token=TOKEN)
	client.close()
	expect_equal(reply["ok"], True, "third connect accepted")
	answers = [c["answer"] for c in Servers.token.connects()[-3:]]
	expect_equal(answers, ["unavailable", "unavailable", "hello-ok"], "recorded answers")

	with_mode(Servers.token, "unavailable:1:200")
	reply = expect_connect_rejected(Servers.token, connect_params(TOKEN), "UNAVAILABLE", close_code=1013)
	expect_equal(reply["error"]["retryAfterMs"], 200, "retryAfterMs set by the mode")


@check
def mode_no_challenge():
	"""mode no-challenge accepts v1 devices"""
	with_mode(Servers.token, "no-challenge")
	client = Client(Servers.token.url)
	expect(client.wait_silence(0.5), "server sends nothing first")
	device = Device()
	params = connect_params(TOKEN)
	params["device"] = device.sign(params, None, "v1")
	reply = client.recv_reply(client.request("connect", params))
	client.close()
	expect_equal(reply["ok"], True, f"v1 accepted: {reply}")
	expect_equal(Servers.token.connects()[-1]["signature"], "v1", "recorded signature version")

	client = Client(Servers.token.url)
	params = connect_params(TOKEN)
	params["device"] = device.sign(params, str(uuid.uuid4()), "v2")
	reply = client.recv_reply(client.request("connect", params))
	expect_rejected(reply, "INVALID_REQUEST", "DEVICE_AUTH_NONCE_MISMATCH")
	expect_equal(client.expect_close(), 1008, "close code")


@check
def mode_events_before_reply():
	"""mode events-before-reply sends three events"""
	with_mode(Servers.token, "events-before-reply,refuse-send")
	client = Client(Servers.token.url)
	client.recv_json()
	events = []
	reply = client.recv_reply(client.request("connect", connect_params(TOKEN)), events)
	expect_equal(reply["ok"], True, "connect ok")
	expect_equal([e["event"] for e in events], ["tick", "agent", "chat"], "events before hello-ok")
	events = []
	reply = client.recv_reply(client.request("chat.send", chat_send_params()), events)
	client.close()
	expect_equal([e["event"] for e in events], ["tick", "agent", "chat"], "events before the send reply")
	expect_equal(reply["ok"], False, "combined with refuse-send")
	expect([e["seq"] for e in events] == sorted(e["seq"] for e in events), "seq increases")


@check
def mode_payload_and_error():
	"""mode payload-and-error sends both"""
	with_mode(Servers.token, "payload-and-error")
	client = Client(Servers.token.url)
	client.recv_json()
	reply = client.recv_reply(client.request("connect", connect_params(TOKEN)))
	expect_equal(reply["ok"], True, "ok")
	expect("payload" in reply and "error" in reply, f"both present: {sorted(reply)}")
	reply = client.recv_reply(client.request("chat.send", chat_send_params()))
	client.close()
	expect_equal(reply["payload"]["status"], "started", "send payload")
	expect("error" in reply, "send error present")


@check
def mode_fragment_replies():
	"""mode fragment-replies with pings"""
	with_mode(Servers.token, "fragment-replies")
	client = Client(Servers.token.url)
	fin, opcode, payload = client.recv_frame()
	expect(not fin and opcode == 0x1, "challenge starts with a non-final text frame")
	client.buffer = b""
	client.sock.close()

	client = Client(Servers.token.url)
	client.recv_json()
	reply = client.recv_reply(client.request("connect", connect_params(TOKEN)))
	client.close()
	expect_equal(reply["ok"], True, "connect ok")
	expect(client.pings_received >= 2, f"pings received: {client.pings_received}")
	record = close_record(Servers.token, reply)
	expect(record["pongs_received"] >= 2, f"pongs recorded: {record}")


@check
def control_file_invalid_mode():
	"""invalid control file mode ignored"""
	with_mode(Servers.token, "no-such-mode")
	client, challenge, reply = open_session(Servers.token.url, token=TOKEN)
	client.close()
	expect_equal(reply["ok"], True, "normal behaviour")
	expect("control file" in Servers.token.log_text(), "log names the control file")


@check
def mode_parser():
	"""mode parser rejects invalid modes"""
	for text in ("bogus", "unavailable", "unavailable:x", "stall,close-mid-frame", "refuse:now",
			"stall:sideways", "normal,normal"):
		try:
			Mode(text)
			raise AssertionError(f"{text!r} accepted")
		except ValueError:
			pass
	mode = Mode("oversized-frame:send:fragmented,no-challenge")
	expect_equal((mode.fault, mode.fault_stage, mode.fault_variant),
		("oversized-frame", "send", "fragmented"), "parsed fault")
	result = subprocess.run([PYTHON, str(SERVER_SCRIPT), "--port", "0", "--port-file", "/dev/null",
		"--mode", "bogus"], capture_output=True, text=True, timeout=30)
	expect_equal(result.returncode, 2, "exit status for --mode bogus")


# ---------------------------------------------------------------------------
# TLS, records, process
# ---------------------------------------------------------------------------

@check
def tls_connect():
	"""wss verified against test CA"""
	client, challenge, reply = open_session(Servers.tls.url, token=TOKEN, ca_file=Servers.certificate.ca_file)
	client.close()
	expect_equal(reply["ok"], True, "connect over wss")
	client = Client(f"wss://localhost:{Servers.tls.port}", ca_file=Servers.certificate.ca_file)
	expect_equal(client.recv_json()["event"], "connect.challenge", "challenge over wss via localhost")
	client.close()
	try:
		Client(Servers.tls.url)
		raise AssertionError("a client without the test CA connected")
	except ssl.SSLCertVerificationError:
		pass


@check
def secrets_not_logged():
	"""token absent from logs and records"""
	for gateway in (Servers.token, Servers.tls, Servers.small):
		expect(TOKEN not in gateway.log_text(), f"token in {gateway.log_file}")
		expect(TOKEN not in gateway.record_file.read_text(), f"token in {gateway.record_file}")


@check
def sigterm_stops_cleanly():
	"""SIGTERM closes with 1001, exits 0"""
	gateway = GatewayProcess(token=TOKEN).start()
	try:
		client = connected_client(gateway)
		status = gateway.stop()
		expect_equal(client.expect_close(), 1001, "close code to the connected client")
		expect_equal(status, 0, "exit status")
		expect(not gateway.port_accepts(), "port closed")
		expect("stopped" in gateway.log_text(), "log says stopped")
	finally:
		gateway.cleanup()


@check
def kill_ends_server():
	"""kill ends the server at once"""
	gateway = GatewayProcess().start()
	try:
		gateway.kill()
		expect(not gateway.port_accepts(), "port closed")
	finally:
		gateway.cleanup()


def start_servers(scratch):
	Servers.certificate = make_test_certificate(Path(scratch) / "tls")
	Servers.token = GatewayProcess(token=TOKEN).start()
	Servers.device = GatewayProcess(require_device=True).start()
	Servers.small = GatewayProcess(token=TOKEN, extra_args=["--max-message-bytes", "1000",
		"--run-seconds", "0.5", "--agent-ids", "main,worker"]).start()
	Servers.tls = GatewayProcess(token=TOKEN, tls=Servers.certificate).start()


def stop_servers():
	for gateway in (Servers.token, Servers.device, Servers.small, Servers.tls):
		if gateway is not None:
			gateway.cleanup()


def main():
	passed = 0
	with tempfile.TemporaryDirectory(prefix="mc-edge-gateway-selftest-") as scratch:
		try:
			start_servers(scratch)
			for function in CHECKS:
				name = function.__doc__
				try:
					function()
					print(f"ok - gateway selftest: {name}", flush=True)
					passed += 1
				except Exception as error:
					FAILURES.append(name)
					print(f"not ok - gateway selftest: {name}: {error}", flush=True)
					traceback.print_exc(file=sys.stderr)
				finally:
					if Servers.token is not None:
						Servers.token.set_mode("normal")
		finally:
			stop_servers()
	print(f"# gateway selftest: {passed} passed, {len(FAILURES)} failed")
	return 1 if FAILURES else 0


if __name__ == "__main__":
	sys.exit(main())
