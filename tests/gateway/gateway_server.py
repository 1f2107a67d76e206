#!/usr/bin/python3
"""A test stand-in for the OpenClaw gateway: WebSocket (ws:// or wss://), JSON frames, protocol 4.

It checks what the real gateway checks (challenge nonce, closed connect
schema, token, device signature, chat.send params) and can misbehave on
purpose, chosen by --mode or at run time by a control file. Every connect and
chat.send is appended to the --record file as one JSON line, flushed at once,
so tests can read it while the server runs. The token is never logged or
recorded. Standard library plus python3-cryptography only.

Run `gateway_server.py --help` for the options; gateway_modes.py lists the modes.
"""

import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
import sys
import time
import uuid

import connect_check
from connect_check import ConnectRefusal
from gateway_modes import MALFORMED_VARIANTS, Mode
import websocket_server as ws

LOG = logging.getLogger("test-gateway")

# chat.send params (closed): the required fields with their types, then the
# optional ones of the real gateway, whose inner shape is not checked here.
CHAT_SEND_REQUIRED = {"sessionKey": str, "message": str, "idempotencyKey": str}
CHAT_SEND_OPTIONAL = {"deliver", "agentId", "sessionId", "mentions", "workContext", "intent",
	"thinking", "fastMode", "fastAutoOnSeconds", "queueMode", "originatingChannel",
	"originatingTo", "originatingAccountId", "originatingThreadId", "replyToId", "attachments",
	"toolBindings", "timeoutMs", "systemInputProvenance", "systemProvenanceReceipt",
	"suppressCommandInterpretation", "expectedLeafEntryId", "expectedSessionRoutingContract",
	"expectedPermissionMode", "expectedToolOverrides"}
SESSION_KEY_MAX_CHARS = 512
SEND_SCOPES = {"operator.write", "operator.admin"}
REQUEST_FRAME_FIELDS = {"type", "id", "method", "params", "traceparent", "expectedProfileId"}

# Before a connect succeeds the real gateway accepts client messages of at most
# 64 KiB, afterwards up to policy.maxPayload (25 MiB).
# NOTE: the close code for a message over these limits is 1009 here; the real
# gateway's code for that case was not observed.
PRE_CONNECT_MAX_MESSAGE_BYTES = 64 * 1024
UNAVAILABLE_RETRY_AFTER_MS = 500
TICK_INTERVAL_MS = 30000
METHODS = ["connect", "chat.send", "chat.history", "chat.abort", "sessions.list", "health", "status"]
EVENTS = ["connect.challenge", "tick", "agent", "chat", "presence", "shutdown"]
# The real hello-ok is about 16 KB because it lists every method. This one is
# padded to a similar size, so clients meet a frame with a 16-bit length.
HELLO_OK_FILLER_METHODS = [f"test.method.{number:03d}" for number in range(700)]


def now_ms():
	return int(time.time() * 1000)


class Recorder:
	"""Appends one JSON object per line to the record file, flushed per line."""

	def __init__(self, path):
		self.file = open(path, "a", buffering=1, encoding="utf-8") if path else None

	def write(self, record):
		if self.file is None:
			return
		record = dict(record, time=time.time())
		self.file.write(json.dumps(record, sort_keys=True) + "\n")
		self.file.flush()

	def close(self):
		if self.file is not None:
			self.file.close()


class Gateway:
	"""State shared by every connection: options, mode, remembered runs, records."""

	def __init__(self, options):
		self.options = options
		self.default_mode = Mode(options.mode)
		self.recorder = Recorder(options.record)
		self.connection_numbers = iter(range(1, 1 << 62))
		self.sessions = set()
		self.runs = {}
		self.mode_text = None
		self.unavailable_left = 0
		self.malformed_turn = 0

	def mode_for_new_connection(self):
		"""Return the mode in force, re-reading the control file; a changed mode restarts its counters."""
		mode = self.default_mode
		path = self.options.control
		if path and os.path.exists(path):
			try:
				with open(path, encoding="utf-8") as file:
					control = json.load(file)
				if not isinstance(control, dict) or not isinstance(control.get("mode"), str):
					raise ValueError('expected {"mode": "..."}')
				mode = Mode(control["mode"])
			except (OSError, ValueError) as error:
				LOG.error("control file %s is invalid, keeping mode %s: %s", path, mode.text, error)

		if mode.text != self.mode_text:
			LOG.info("mode is now %s", mode.text)
			self.mode_text = mode.text
			self.unavailable_left = mode.unavailable_count
			self.malformed_turn = 0
		return mode

	def take_unavailable(self):
		if self.unavailable_left <= 0:
			return False
		self.unavailable_left -= 1
		return True

	def next_malformed_variant(self, mode):
		if mode.fault_variant in MALFORMED_VARIANTS:
			return mode.fault_variant
		variant = MALFORMED_VARIANTS[self.malformed_turn % len(MALFORMED_VARIANTS)]
		self.malformed_turn += 1
		return variant

	def start_run(self, key):
		"""Return "started" for a new idempotency key, "in_flight" while its run lasts, then "ended".

		Runs last --run-seconds; keys are remembered for the life of the process."""
		now = time.monotonic()
		if key not in self.runs:
			self.runs[key] = now + self.options.run_seconds
			return "started"
		return "in_flight" if now < self.runs[key] else "ended"


class CloseSession(Exception):
	"""Ends a session: close the WebSocket with code and reason (code None: just end TCP)."""

	def __init__(self, code, reason=""):
		super().__init__(reason)
		self.code = code
		self.reason = reason


class Session:
	"""One client connection, from the upgrade to the close."""

	def __init__(self, gateway, reader, writer):
		self.gateway = gateway
		self.options = gateway.options
		self.reader = reader
		self.writer = writer
		self.number = next(gateway.connection_numbers)
		peer = writer.get_extra_info("peername") or ("?", 0)
		self.peer = f"{peer[0]}:{peer[1]}"
		self.mode = gateway.mode_for_new_connection()
		self.conn = None
		self.request = None
		self.nonce = None
		self.connected = False
		self.params = {}
		self.device_id = None
		self.seq = 0
		self.end_reason = "server-close"

	# -- top level -------------------------------------------------------

	async def run(self):
		try:
			if self.mode.fault_at("upgrade"):
				await self.wait_for_eof_raw()
				return
			if not await self.upgrade():
				return
			await self.serve()
		except CloseSession as close:
			await self.finish(close.code, close.reason)
		except ws.ProtocolViolation as violation:
			LOG.info("connection %d: client broke the protocol: %s", self.number, violation)
			self.end_reason = f"protocol-violation {violation.code}"
			await self.finish(violation.code, violation.reason)
		except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError) as error:
			self.end_reason = f"connection-error {type(error).__name__}"
			LOG.info("connection %d from %s failed: %s", self.number, self.peer, type(error).__name__)
		except asyncio.CancelledError:
			# The server is stopping: send close 1001 (going away) without waiting for the echo.
			self.end_reason = "server-stop"
			if self.conn is not None and not self.conn.close_sent:
				self.conn.close_sent = True
				self.writer.write(ws.frame_header(ws.OP_CLOSE, 2) + ws.CLOSE_GOING_AWAY.to_bytes(2, "big"))
			raise
		finally:
			if self.end_reason != "port-probe":
				self.record_close()
			if not self.writer.is_closing():
				self.writer.close()

	async def upgrade(self):
		"""Complete the HTTP upgrade; return False when the request was rejected or never came."""
		try:
			request = await asyncio.wait_for(ws.read_upgrade_request(self.reader),
				self.options.handshake_timeout)
		except asyncio.TimeoutError:
			LOG.info("connection %d from %s: upgrade request timed out", self.number, self.peer)
			self.end_reason = "upgrade-timeout"
			return False
		except ws.HandshakeError as error:
			LOG.info("connection %d: upgrade refused: %s", self.number, error)
			self.end_reason = f"upgrade-refused {error.status}"
			self.writer.write(ws.refusal_response(error))
			await self.writer.drain()
			return False
		if request is None:
			self.end_reason = "port-probe"
			return False

		LOG.info("connection %d from %s upgraded, mode %s", self.number, self.peer, self.mode.text)
		self.request = request
		self.writer.write(ws.upgrade_response(request))
		await self.writer.drain()
		self.conn = ws.Connection(self.reader, self.writer,
			min(PRE_CONNECT_MAX_MESSAGE_BYTES, self.options.max_message_bytes))
		return True

	async def serve(self):
		if self.mode.fault_at("open"):
			await self.wait_for_close()
			return
		if not self.mode.has("no-challenge"):
			self.nonce = str(uuid.uuid4())
			await self.send_event("connect.challenge", {"nonce": self.nonce, "ts": now_ms(),
				"capabilities": ["model-catalog-snapshot"]}, seq=False)

		first = await self.receive_request(self.options.handshake_timeout, before_connect=True)
		await self.handle_connect(first)
		self.conn.max_message_bytes = self.options.max_message_bytes
		while True:
			request = await self.receive_request(self.options.idle_timeout, before_connect=False)
			await self.dispatch(request)

	async def finish(self, code, reason):
		if self.conn is None:
			return
		if code is None:
			await self.conn.end_tcp()
			return
		LOG.info("connection %d: closing with %d %s", self.number, code, reason)
		await self.conn.close(code, reason)

	# -- receiving ---------------------------------------------------------

	async def receive_request(self, timeout, before_connect):
		"""Return the next request frame as a dict; raise CloseSession at the end of the session."""
		try:
			message = await asyncio.wait_for(self.conn.receive(), timeout)
		except asyncio.TimeoutError:
			self.end_reason = "timeout"
			raise CloseSession(ws.CLOSE_POLICY_VIOLATION, "handshake timeout" if before_connect else "idle timeout")
		if message is None:
			self.end_reason = "eof"
			raise CloseSession(None)
		if message[0] == "close":
			self.end_reason = "client-close"
			raise CloseSession(message[1], "")

		try:
			frame = json.loads(message[1])
		except ValueError:
			frame = None
		if not is_request_frame(frame):
			request_id = frame.get("id") if isinstance(frame, dict) else None
			if before_connect or not isinstance(request_id, str):
				self.end_reason = "invalid-request-frame"
				raise CloseSession(ws.CLOSE_POLICY_VIOLATION, "invalid request frame")
			await self.reply_error(request_id, connect_check.INVALID_REQUEST, "invalid request frame")
			return await self.receive_request(timeout, before_connect)
		return frame

	async def wait_for_close(self):
		"""Stall: read and drop client frames until the client closes or goes away."""
		while True:
			message = await self.conn.receive()
			if message is None:
				self.end_reason = "eof"
				return
			if message[0] == "close":
				self.end_reason = "client-close"
				raise CloseSession(message[1], "")

	async def wait_for_eof_raw(self):
		received = 0
		while True:
			data = await self.reader.read(65536)
			if not data:
				break
			received += len(data)
		self.end_reason = "eof" if received else "port-probe"

	# -- connect -----------------------------------------------------------

	async def handle_connect(self, frame):
		if frame["method"] != "connect":
			self.record_connect("refused", error_code=connect_check.INVALID_REQUEST)
			await self.reply_error(frame["id"], connect_check.INVALID_REQUEST,
				"invalid handshake: first request must be connect")
			self.end_reason = "refused"
			raise CloseSession(ws.CLOSE_POLICY_VIOLATION, "invalid handshake")
		self.params = frame.get("params") if isinstance(frame.get("params"), dict) else {}

		fault = self.mode.fault_at("connect")
		if fault:
			self.record_connect(fault)
			await self.apply_fault(fault, frame["id"])
			return

		try:
			signature = self.check_connect(frame.get("params"))
		except ConnectRefusal as refusal:
			answer = "unavailable" if refusal.code == connect_check.UNAVAILABLE else "refused"
			self.record_connect(answer, error_code=refusal.code,
				error_reason=(refusal.details or {}).get("code"))
			LOG.info("connection %d: connect %s: %s %s", self.number, answer, refusal.code, refusal.message)
			await self.reply(frame["id"], ok=False, error=refusal.error_object())
			self.end_reason = answer
			raise CloseSession(refusal.close_code, refusal.message[:100])

		self.connected = True
		self.record_connect("hello-ok", signature=signature)
		LOG.info("connection %d: hello-ok for client %s, device %s", self.number,
			self.params["client"]["id"], self.device_id or "none")
		await self.reply(frame["id"], payload=self.hello_ok())

	def check_connect(self, params):
		"""Apply every connect check; return the device signature version ("v1", "v2") or None.

		The real gateway's order is not fully known; this one checks the cheap
		things (start-up, schema, protocol) before the token and the device."""
		if self.gateway.take_unavailable():
			raise ConnectRefusal(connect_check.UNAVAILABLE, "gateway starting; retry shortly",
				{"reason": "startup-sidecars"}, close_code=connect_check.CLOSE_TRY_AGAIN_LATER,
				retryable=True, retry_after_ms=self.mode.unavailable_retry_after_ms)
		connect_check.check_connect_params(params, challenge_sent=self.nonce is not None)
		connect_check.check_control_ui(params, self.request.headers.get("origin"))
		if self.mode.has("refuse"):
			raise connect_check.refusal(connect_check.INVALID_REQUEST,
				"unauthorized: gateway token mismatch (this test gateway refuses every connect)",
				"AUTH_TOKEN_MISMATCH")
		connect_check.check_token(params, self.options.token)

		self.device_id, signature = connect_check.check_device(params, self.nonce, now_ms())
		if self.device_id is None and self.options.require_device:
			raise connect_check.refusal(connect_check.NOT_PAIRED, "device identity required",
				"DEVICE_IDENTITY_REQUIRED")
		return signature

	def hello_ok(self):
		auth = {"method": "token" if self.options.token else "none",
			"role": self.params.get("role", "operator"), "scopes": self.params.get("scopes", [])}
		if self.device_id:
			auth["recoveryScope"] = "operator.pairing"
		return {
			"type": "hello-ok",
			"protocol": connect_check.PROTOCOL_VERSION,
			"server": {"version": "test-gateway", "connId": f"conn-{self.number}"},
			"features": {"methods": METHODS + HELLO_OK_FILLER_METHODS, "events": EVENTS},
			"snapshot": {"sessionDefaults": {"defaultAgentId": "main", "mainKey": "main",
				"mainSessionKey": "agent:main:main"}},
			"auth": auth,
			"policy": {"maxPayload": self.options.max_message_bytes,
				"maxBufferedBytes": 2 * self.options.max_message_bytes,
				"tickIntervalMs": TICK_INTERVAL_MS},
		}

	# -- requests after connect ---------------------------------------------

	async def dispatch(self, frame):
		method = frame["method"]
		if method == "chat.send":
			await self.handle_chat_send(frame)
		elif method == "connect":
			await self.reply_error(frame["id"], connect_check.INVALID_REQUEST, "already connected")
		else:
			await self.reply_error(frame["id"], connect_check.INVALID_REQUEST, f"unknown method: {method}")

	async def handle_chat_send(self, frame):
		params = frame.get("params")
		problem = (chat_send_problem(params) or self.scope_problem()
			or unknown_agent_problem(params, self.options.agent_ids))
		if problem:
			self.record_send(params, "refused", error_code=connect_check.INVALID_REQUEST)
			LOG.info("connection %d: chat.send refused: %s", self.number, problem)
			await self.reply_error(frame["id"], connect_check.INVALID_REQUEST, problem)
			return

		fault = self.mode.fault_at("send")
		if fault:
			self.record_send(params, fault)
			await self.apply_fault(fault, frame["id"])
			return

		key = params["idempotencyKey"]
		if self.mode.has("refuse-send"):
			self.record_send(params, "refused", error_code=connect_check.INVALID_REQUEST)
			await self.reply_error(frame["id"], connect_check.INVALID_REQUEST,
				"chat.send refused by this test gateway (mode refuse-send)")
			return

		status = self.gateway.start_run(key)
		self.record_send(params, status)
		LOG.info("connection %d: chat.send %s, session %s, %d message bytes", self.number,
			status, params["sessionKey"], len(params["message"].encode("utf-8")))
		if status == "ended":
			await self.reply_ended_run(frame["id"], key)
		else:
			await self.reply(frame["id"], payload={"runId": key, "status": status})

	async def reply_ended_run(self, request_id, key):
		"""Reply to a repeated key whose run has ended, as the real gateway does after a failed run."""
		if self.options.run_outcome == "ok":
			await self.reply(request_id, payload={"runId": key, "status": "ok"})
			return
		summary = "Agent failed before reply: no model provider (test gateway)"
		await self.reply(request_id, ok=False, payload={"runId": key, "status": "error", "summary": summary},
			error={"code": connect_check.UNAVAILABLE, "message": summary})

	def scope_problem(self):
		if self.params.get("role", "operator") != "operator":
			return "unauthorized role: chat.send needs role operator"
		if not SEND_SCOPES & set(self.params.get("scopes", [])):
			return "missing scope: operator.write"
		return None

	# -- sending -----------------------------------------------------------

	async def send_json(self, value):
		fragments = 3 if self.mode.has("fragment-replies") else 1
		await self.conn.send_text(json.dumps(value), fragments=fragments)

	async def send_event(self, name, payload, seq=True):
		event = {"type": "event", "event": name, "payload": payload}
		if seq:
			self.seq += 1
			event["seq"] = self.seq
		await self.send_json(event)

	async def send_unrelated_events(self):
		run_id = str(uuid.uuid4())
		await self.send_event("tick", {"ts": now_ms()})
		await self.send_event("agent", {"runId": run_id, "stream": "lifecycle",
			"data": {"phase": "start"}, "ts": now_ms()})
		await self.send_event("chat", {"runId": run_id, "sessionKey": "agent:main:other",
			"state": "delta", "message": {"role": "assistant", "content": [{"type": "text", "text": "hi"}]}})

	async def reply(self, request_id, ok=True, payload=None, error=None):
		if self.mode.has("events-before-reply"):
			await self.send_unrelated_events()
		frame = {"type": "res", "id": request_id, "ok": ok}
		if self.mode.has("payload-and-error"):
			payload = payload if payload is not None else {"status": "error"}
			error = error or {"code": connect_check.UNAVAILABLE,
				"message": "informational error beside a successful payload"}
		if payload is not None:
			frame["payload"] = payload
		if error is not None:
			frame["error"] = error
		await self.send_json(frame)

	async def reply_error(self, request_id, code, message):
		await self.reply(request_id, ok=False, error={"code": code, "message": message})

	# -- faults ------------------------------------------------------------

	async def apply_fault(self, fault, request_id):
		"""Replace the reply to request_id by the fault; the session ends inside."""
		LOG.info("connection %d: fault %s instead of the reply", self.number, fault)
		self.end_reason = f"fault {fault}"
		if fault == "stall":
			await self.wait_for_close()
			raise CloseSession(None)
		if fault == "close-mid-frame":
			await self.send_cut_frame(request_id)
			raise CloseSession(None)
		if fault == "oversized-frame":
			await self.send_oversized(request_id)
		else:
			await self.send_malformed(request_id)
		await self.wait_for_close()
		raise CloseSession(None)

	async def send_cut_frame(self, request_id):
		"""Announce a text frame of N bytes, send fewer, and close TCP."""
		body = json.dumps({"type": "res", "id": request_id, "ok": True,
			"payload": {"padding": "x" * 400}}).encode("utf-8")
		await self.conn.send_raw(ws.frame_header(ws.OP_TEXT, len(body)) + body[:len(body) // 3])
		await self.conn.end_tcp()

	async def send_oversized(self, request_id):
		padding = "x" * self.options.oversized_bytes
		body = json.dumps({"type": "res", "id": request_id, "ok": True,
			"payload": {"type": "hello-ok", "protocol": 4, "padding": padding}})
		if self.mode.fault_variant == "fragmented":
			data = body.encode("utf-8")
			step = 65536
			for offset in range(0, len(data), step):
				opcode = ws.OP_TEXT if offset == 0 else ws.OP_CONTINUATION
				await self.conn.send_frame(opcode, data[offset:offset + step],
					fin=offset + step >= len(data))
		else:
			await self.conn.send_text(body)

	async def send_malformed(self, request_id):
		variant = self.gateway.next_malformed_variant(self.mode)
		self.end_reason = f"fault malformed-frame:{variant}"
		if variant == "not-json":
			data = b"this is not JSON {"
		elif variant == "not-object":
			data = json.dumps([{"type": "res", "id": request_id, "ok": True}]).encode()
		elif variant == "bad-utf8":
			data = b'{"type":"res","id":"' + request_id.encode() + b'","ok":true,"payload":"\xc3\x28"}'
		else:
			data = json.dumps({"type": "res", "id": request_id, "ok": "yes", "payload": 7}).encode()
		await self.conn.send_frame(ws.OP_TEXT, data)

	# -- records -----------------------------------------------------------

	def record_connect(self, answer, error_code=None, error_reason=None, signature=None):
		params = self.params
		client = params.get("client") if isinstance(params.get("client"), dict) else {}
		auth = params.get("auth") if isinstance(params.get("auth"), dict) else {}
		self.gateway.recorder.write({
			"event": "connect", "connection": self.number, "answer": answer,
			"error_code": error_code, "error_reason": error_reason,
			"client_id": text_or_none(client.get("id")), "client_mode": text_or_none(client.get("mode")),
			"role": text_or_none(params.get("role")), "scopes": params.get("scopes"),
			"min_protocol": params.get("minProtocol"), "max_protocol": params.get("maxProtocol"),
			"has_token": bool(auth.get("token")), "has_device": "device" in params,
			"device_id": self.device_id, "signature": signature,
			"challenge": self.nonce is not None, "path": self.request.path,
			"query_keys": self.request.query_keys})

	def record_send(self, params, answer, error_code=None):
		params = params if isinstance(params, dict) else {}
		client = self.params.get("client", {})
		self.gateway.recorder.write({
			"event": "chat.send", "connection": self.number, "answer": answer,
			"error_code": error_code,
			"sessionKey": params.get("sessionKey"), "message": params.get("message"),
			"idempotencyKey": params.get("idempotencyKey"), "deliver": params.get("deliver"),
			"device_id": self.device_id, "client_id": client.get("id")})

	def record_close(self):
		conn = self.conn
		self.gateway.recorder.write({
			"event": "close", "connection": self.number, "reason": self.end_reason,
			"upgraded": conn is not None, "connected": self.connected,
			"client_close_code": conn.client_close_code if conn else None,
			"pings_sent": conn.pings_sent if conn else 0,
			"pongs_received": conn.pongs_received if conn else 0})


def text_or_none(value):
	return value if isinstance(value, str) else None


def is_request_frame(frame):
	"""True for {"type": "req", "id": non-empty string, "method": non-empty string, "params"?}."""
	if not isinstance(frame, dict) or frame.get("type") != "req":
		return False
	if set(frame) - REQUEST_FRAME_FIELDS:
		return False
	return all(isinstance(frame.get(name), str) and frame[name] for name in ("id", "method"))


def chat_send_problem(params):
	"""Return why chat.send params are invalid, or None (closed schema of the real gateway)."""
	if not isinstance(params, dict):
		return "invalid chat.send params: at root: must be object"
	for name, kind in CHAT_SEND_REQUIRED.items():
		if name not in params:
			return f"invalid chat.send params: at root: must have required property '{name}'"
		if not isinstance(params[name], kind):
			return f"invalid chat.send params: at /{name}: must be string"
	unknown = sorted(set(params) - set(CHAT_SEND_REQUIRED) - CHAT_SEND_OPTIONAL)
	if unknown:
		return f"invalid chat.send params: at root: unexpected property '{unknown[0]}'"
	if "deliver" in params and not isinstance(params["deliver"], bool):
		return "invalid chat.send params: at /deliver: must be boolean"
	if not 1 <= len(params["sessionKey"]) <= SESSION_KEY_MAX_CHARS:
		return "invalid chat.send params: at /sessionKey: must have 1 to 512 characters"
	if not params["idempotencyKey"]:
		return "invalid chat.send params: at /idempotencyKey: must NOT have fewer than 1 characters"
	if not params["message"] and not params.get("attachments"):
		return "message or attachment required"
	return None


def unknown_agent_problem(params, agent_ids):
	"""Reject a key "agent:ID:..." whose ID is not configured; keys without the prefix go to "main"."""
	parts = params["sessionKey"].split(":")
	if len(parts) >= 3 and parts[0] == "agent" and parts[1] not in agent_ids:
		return f'Agent "{parts[1]}" no longer exists in configuration'
	return None


def parse_arguments(argv):
	parser = argparse.ArgumentParser(description="OpenClaw-compatible test gateway (loopback only).")
	parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
	parser.add_argument("--port", type=int, default=0, help="TCP port, 0 picks a free one (default 0)")
	parser.add_argument("--port-file", help="file that receives the chosen port once listening")
	parser.add_argument("--token", help="token that connect must carry in auth.token (default: none required)")
	parser.add_argument("--tls-cert", help="PEM certificate chain; with --tls-key serves wss://")
	parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
	parser.add_argument("--record", help="append one JSON line per connect, chat.send and close")
	parser.add_argument("--mode", default="normal", help="behaviour, see gateway_modes.py (default normal)")
	parser.add_argument("--control", help='JSON file {"mode": "..."} re-read on each connection; overrides --mode')
	parser.add_argument("--require-device", action="store_true", help="reject connects without a signed device")
	parser.add_argument("--log", help="log file (default: standard error)")
	parser.add_argument("--max-message-bytes", type=int, default=25 << 20,
		help="largest client message after connect, larger ones close with 1009 "
		"(default 26214400; before connect the limit is 65536)")
	parser.add_argument("--oversized-bytes", type=int, default=2 << 20,
		help="size of the oversized-frame reply in bytes (default 2097152)")
	parser.add_argument("--run-seconds", type=float, default=60.0,
		help="seconds a chat.send run stays active, so its key answers in_flight (default 60)")
	parser.add_argument("--run-outcome", choices=("error", "ok"), default="error",
		help="how a repeated key is answered once its run ended: error (ok:false, UNAVAILABLE, "
		"as the real gateway without a model provider) or ok (default error)")
	parser.add_argument("--agent-ids", type=lambda text: set(text.split(",")), default={"main"},
		help='comma-separated agent ids that session keys "agent:ID:..." may name (default main)')
	parser.add_argument("--handshake-timeout", type=float, default=10.0,
		help="seconds allowed for the upgrade and for the connect request (default 10)")
	parser.add_argument("--idle-timeout", type=float, default=120.0,
		help="seconds a connected client may stay silent before the server closes (default 120)")
	options = parser.parse_args(argv)

	if options.port_file is None and options.port == 0:
		parser.error("give --port N, or --port-file to learn the chosen port")
	if bool(options.tls_cert) != bool(options.tls_key):
		parser.error("--tls-cert and --tls-key go together")
	try:
		Mode(options.mode)
	except ValueError as error:
		parser.error(str(error))
	return options


def setup_logging(path):
	handler = logging.FileHandler(path) if path else logging.StreamHandler(sys.stderr)
	handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s test-gateway: %(message)s"))
	LOG.addHandler(handler)
	LOG.setLevel(logging.INFO)


def write_port_file(path, port):
	temporary = f"{path}.tmp"
	with open(temporary, "w", encoding="ascii") as file:
		file.write(f"{port}\n")
	os.replace(temporary, path)


async def serve(options):
	gateway = Gateway(options)
	tls = None
	if options.tls_cert:
		tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
		tls.load_cert_chain(options.tls_cert, options.tls_key)

	async def on_connection(reader, writer):
		session = Session(gateway, reader, writer)
		task = asyncio.current_task()
		gateway.sessions.add(task)
		try:
			await session.run()
		except asyncio.CancelledError:
			writer.close()
		except Exception:
			LOG.exception("connection %d: unexpected server error", session.number)
			writer.close()
		finally:
			gateway.sessions.discard(task)

	loop = asyncio.get_running_loop()
	loop.set_exception_handler(lambda loop, context: LOG.debug("asyncio: %s", context.get("message")))
	server = await asyncio.start_server(on_connection, options.host, options.port, ssl=tls,
		limit=ws.MAX_REQUEST_HEAD_BYTES)
	port = server.sockets[0].getsockname()[1]
	if options.port_file:
		write_port_file(options.port_file, port)
	LOG.info("listening on %s:%d (%s), mode %s, token %s, device %s", options.host, port,
		"wss" if tls else "ws", options.mode, "required" if options.token else "not required",
		"required" if options.require_device else "optional")

	stop = asyncio.Event()
	for number in (signal.SIGTERM, signal.SIGINT):
		loop.add_signal_handler(number, stop.set)
	await stop.wait()

	LOG.info("stopping: closing %d open connections", len(gateway.sessions))
	server.close()
	for task in list(gateway.sessions):
		task.cancel()
	await asyncio.gather(*gateway.sessions, return_exceptions=True)
	await server.wait_closed()
	gateway.recorder.close()
	LOG.info("stopped")


def main(argv=None):
	options = parse_arguments(argv if argv is not None else sys.argv[1:])
	setup_logging(options.log)
	try:
		asyncio.run(serve(options))
	except OSError as error:
		LOG.error("cannot listen on %s:%d: %s", options.host, options.port, error)
		return 1
	return 0


if __name__ == "__main__":
	sys.exit(main())
