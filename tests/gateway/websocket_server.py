"""Server side of the WebSocket protocol (RFC 6455) on asyncio streams, for the test gateway.

Written from the RFC rather than taken from a library, so that the gateway can
also break the protocol on purpose (a frame cut short, an oversized message,
a frame that is not JSON). No extension or subprotocol is ever negotiated, so
every reserved bit must be zero.
"""

import asyncio
import base64
import hashlib
import struct

# RFC 6455 section 1.3: appended to Sec-WebSocket-Key before hashing.
ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
KNOWN_OPCODES = {OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG}

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_NO_STATUS = 1005
CLOSE_INVALID_PAYLOAD = 1007
CLOSE_POLICY_VIOLATION = 1008
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011

# Close codes a peer may send (RFC 6455 section 7.4, plus 1012-1014 from the
# IANA registry); 1004-1006 and 1015 are reserved for local use only.
SENDABLE_CLOSE_CODES = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}

MAX_REQUEST_HEAD_BYTES = 16384
MAX_CONTROL_PAYLOAD = 125


class HandshakeError(Exception):
	"""An upgrade request rejected with an HTTP error status instead of 101."""

	def __init__(self, status, reason, headers=None):
		super().__init__(f"{status} {reason}")
		self.status = status
		self.reason = reason
		self.headers = headers or {}


class ProtocolViolation(Exception):
	"""A client frame that breaks RFC 6455; the connection closes with this code."""

	def __init__(self, code, reason):
		super().__init__(f"{code} {reason}")
		self.code = code
		self.reason = reason


class UpgradeRequest:
	"""The parsed HTTP request that asked for the upgrade."""

	def __init__(self, method, target, headers):
		self.method = method
		self.target = target
		self.headers = headers

	@property
	def path(self):
		return self.target.split("?", 1)[0]

	@property
	def query_keys(self):
		"""Names of the query parameters, without their values (which may hold secrets)."""
		if "?" not in self.target:
			return []
		query = self.target.split("?", 1)[1]
		return [part.split("=", 1)[0] for part in query.split("&") if part]


def compute_accept(key):
	"""Return the Sec-WebSocket-Accept value for a Sec-WebSocket-Key value."""
	digest = hashlib.sha1((key + ACCEPT_GUID).encode("ascii")).digest()
	return base64.b64encode(digest).decode("ascii")


def header_tokens(value):
	return {token.strip().lower() for token in value.split(",") if token.strip()}


async def read_upgrade_request(reader):
	"""Read and check one upgrade request; raise HandshakeError for a bad one.

	Returns None when the peer closed without sending a byte (a port probe);
	raises IncompleteReadError when it closed in the middle of the head."""
	try:
		head = await reader.readuntil(b"\r\n\r\n")
	except asyncio.LimitOverrunError:
		raise HandshakeError(431, "Request Header Fields Too Large")
	except asyncio.IncompleteReadError as error:
		if error.partial:
			raise
		return None
	if len(head) > MAX_REQUEST_HEAD_BYTES:
		raise HandshakeError(431, "Request Header Fields Too Large")

	try:
		text = head.decode("ascii")
	except UnicodeDecodeError:
		raise HandshakeError(400, "Bad Request")
	lines = text.split("\r\n")
	parts = lines[0].split(" ")
	if len(parts) != 3:
		raise HandshakeError(400, "Bad Request")
	method, target, version = parts
	if version != "HTTP/1.1":
		raise HandshakeError(505, "HTTP Version Not Supported")

	headers = {}
	for line in lines[1:]:
		if not line:
			continue
		if ":" not in line or line[0] in " \t":
			raise HandshakeError(400, "Bad Request")
		name, value = line.split(":", 1)
		name = name.strip().lower()
		value = value.strip()
		headers[name] = f"{headers[name]}, {value}" if name in headers else value

	check_upgrade_headers(method, headers)
	return UpgradeRequest(method, target, headers)


def check_upgrade_headers(method, headers):
	"""Apply the opening-handshake rules of RFC 6455 section 4.2.1."""
	if method != "GET":
		raise HandshakeError(405, "Method Not Allowed", {"Allow": "GET"})
	if "host" not in headers:
		raise HandshakeError(400, "Bad Request")
	if "websocket" not in header_tokens(headers.get("upgrade", "")):
		raise HandshakeError(426, "Upgrade Required", {"Upgrade": "websocket"})
	if "upgrade" not in header_tokens(headers.get("connection", "")):
		raise HandshakeError(400, "Bad Request")
	if headers.get("sec-websocket-version") != "13":
		raise HandshakeError(426, "Upgrade Required", {"Sec-WebSocket-Version": "13"})

	key = headers.get("sec-websocket-key", "")
	try:
		raw_key = base64.b64decode(key, validate=True)
	except ValueError:
		raw_key = b""
	if len(raw_key) != 16:
		raise HandshakeError(400, "Bad Request")


def upgrade_response(request):
	key = request.headers["sec-websocket-key"]
	return ("HTTP/1.1 101 Switching Protocols\r\n"
		"Upgrade: websocket\r\n"
		"Connection: Upgrade\r\n"
		f"Sec-WebSocket-Accept: {compute_accept(key)}\r\n"
		"\r\n").encode("ascii")


def refusal_response(error):
	body = f"{error.status} {error.reason}\n".encode("ascii")
	lines = [f"HTTP/1.1 {error.status} {error.reason}",
		"Content-Type: text/plain",
		f"Content-Length: {len(body)}",
		"Connection: close"]
	lines += [f"{name}: {value}" for name, value in error.headers.items()]
	return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


def frame_header(opcode, length, fin=True):
	"""Return the header of an unmasked (server-to-client) frame carrying length bytes."""
	first = (0x80 if fin else 0) | opcode
	if length < 126:
		return struct.pack("!BB", first, length)
	if length < 65536:
		return struct.pack("!BBH", first, 126, length)
	return struct.pack("!BBQ", first, 127, length)


def apply_mask(mask, data):
	"""XOR data with the 4-byte mask, as whole integers so that megabytes stay fast."""
	if not data:
		return data
	repeated = (mask * (len(data) // 4 + 1))[:len(data)]
	value = int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")
	return value.to_bytes(len(data), "big")


def parse_close_payload(payload):
	"""Return (code, reason) of a client close frame, or raise ProtocolViolation."""
	if not payload:
		return CLOSE_NO_STATUS, ""
	if len(payload) == 1:
		raise ProtocolViolation(CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload")
	code = struct.unpack("!H", payload[:2])[0]
	if code not in SENDABLE_CLOSE_CODES and not 3000 <= code <= 4999:
		raise ProtocolViolation(CLOSE_PROTOCOL_ERROR, f"invalid close code {code}")
	try:
		reason = payload[2:].decode("utf-8")
	except UnicodeDecodeError:
		raise ProtocolViolation(CLOSE_INVALID_PAYLOAD, "close reason is not UTF-8")
	return code, reason


class Connection:
	"""One upgraded connection: reads client messages, writes server frames.

	receive() replies to pings by itself and counts pongs, so callers see only
	whole text messages and the client's close."""

	def __init__(self, reader, writer, max_message_bytes):
		self.reader = reader
		self.writer = writer
		self.max_message_bytes = max_message_bytes
		self.close_sent = False
		self.client_close_code = None
		self.pings_sent = 0
		self.pongs_received = 0

	async def read_frame(self):
		"""Return (fin, opcode, payload) of the next client frame; raise ProtocolViolation."""
		first, second = await self.reader.readexactly(2)
		fin = bool(first & 0x80)
		opcode = first & 0x0F
		if first & 0x70:
			raise ProtocolViolation(CLOSE_PROTOCOL_ERROR, "reserved bits set without an extension")
		if opcode not in KNOWN_OPCODES:
			raise ProtocolViolation(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode:#x}")
		if not second & 0x80:
			raise ProtocolViolation(CLOSE_PROTOCOL_ERROR, "client frame is not masked")

		length = second & 0x7F
		if length == 126:
			length = struct.unpack("!H", await self.reader.readexactly(2))[0]
		elif length == 127:
			length = struct.unpack("!Q", await self.reader.readexactly(8))[0]
			if length >> 63:
				raise ProtocolViolation(CLOSE_PROTOCOL_ERROR, "frame length has its top bit set")
		if opcode >= OP_CLOSE and (not fin or length > MAX_CONTROL_PAYLOAD):
			raise ProtocolViolation(CLOSE_PROTOCOL_ERROR, "control frame fragmented or over 125 bytes")
		# Checked before reading the payload, so an oversized frame is never buffered.
		if opcode < OP_CLOSE and length > self.max_message_bytes:
			raise ProtocolViolation(CLOSE_MESSAGE_TOO_BIG, "message too big")

		mask = await self.reader.readexactly(4)
		payload = apply_mask(mask, await self.reader.readexactly(length))
		return fin, opcode, payload

	async def receive(self):
		"""Return the next client message as ("text", str) or ("close", code, reason).

		Returns None when the connection ends without a close frame. A binary
		message raises ProtocolViolation 1003: the gateway protocol is JSON text."""
		parts = []
		size = 0
		message_opcode = None
		while True:
			try:
				fin, opcode, payload = await self.read_frame()
			except (asyncio.IncompleteReadError, ConnectionError):
				return None

			if opcode == OP_PING:
				await self.send_frame(OP_PONG, payload)
				continue
			if opcode == OP_PONG:
				self.pongs_received += 1
				continue
			if opcode == OP_CLOSE:
				code, reason = parse_close_payload(payload)
				self.client_close_code = code
				return ("close", code, reason)

			if opcode == OP_CONTINUATION and message_opcode is None:
				raise ProtocolViolation(CLOSE_PROTOCOL_ERROR, "continuation frame without a message")
			if opcode != OP_CONTINUATION and message_opcode is not None:
				raise ProtocolViolation(CLOSE_PROTOCOL_ERROR, "new message inside a fragmented message")
			if opcode != OP_CONTINUATION:
				message_opcode = opcode
			size += len(payload)
			if size > self.max_message_bytes:
				raise ProtocolViolation(CLOSE_MESSAGE_TOO_BIG, "message too big")
			parts.append(payload)
			if not fin:
				continue

			if message_opcode == OP_BINARY:
				raise ProtocolViolation(CLOSE_UNSUPPORTED_DATA, "binary messages are not accepted")
			try:
				return ("text", b"".join(parts).decode("utf-8"))
			except UnicodeDecodeError:
				raise ProtocolViolation(CLOSE_INVALID_PAYLOAD, "text message is not valid UTF-8")

	async def send_raw(self, data):
		self.writer.write(data)
		await self.writer.drain()

	async def send_frame(self, opcode, payload, fin=True):
		await self.send_raw(frame_header(opcode, len(payload), fin) + payload)

	async def send_text(self, text, fragments=1):
		"""Send one text message, split into fragments with a ping between the first two."""
		data = text.encode("utf-8") if isinstance(text, str) else text
		if fragments <= 1 or len(data) < fragments:
			await self.send_frame(OP_TEXT, data)
			return

		step = -(-len(data) // fragments)
		chunks = [data[i:i + step] for i in range(0, len(data), step)]
		for index, chunk in enumerate(chunks):
			opcode = OP_TEXT if index == 0 else OP_CONTINUATION
			await self.send_frame(opcode, chunk, fin=index == len(chunks) - 1)
			if index == 0:
				# RFC 6455 section 5.4 allows control frames between fragments.
				self.pings_sent += 1
				await self.send_frame(OP_PING, b"mid-message")

	async def send_close(self, code, reason=""):
		if self.close_sent:
			return
		self.close_sent = True
		payload = b"" if code == CLOSE_NO_STATUS else struct.pack("!H", code) + reason.encode("utf-8")[:123]
		try:
			await self.send_frame(OP_CLOSE, payload)
		except ConnectionError:
			pass

	async def close(self, code, reason="", wait_s=2.0):
		"""Run the closing handshake from the server side, then end the TCP connection.

		Waits up to wait_s for the client's close frame (skipping any data it
		still sends), as RFC 6455 section 7.1.1 expects before the server closes."""
		await self.send_close(code, reason)
		if self.client_close_code is None:
			try:
				await asyncio.wait_for(self.drain_until_close(), wait_s)
			except (asyncio.TimeoutError, ProtocolViolation):
				pass
		await self.end_tcp()

	async def drain_until_close(self):
		while True:
			try:
				fin, opcode, payload = await self.read_frame()
			except (asyncio.IncompleteReadError, ConnectionError):
				return
			if opcode == OP_CLOSE:
				self.client_close_code = parse_close_payload(payload)[0]
				return

	async def end_tcp(self):
		"""Close the TCP connection (after TLS close_notify, for wss), without a close frame."""
		self.writer.close()
		try:
			await asyncio.wait_for(self.writer.wait_closed(), 5)
		except (asyncio.TimeoutError, ConnectionError, OSError):
			pass
