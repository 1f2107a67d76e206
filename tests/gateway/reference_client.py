"""A small blocking WebSocket client that checks the test gateway from the outside.

It shares no code with the server (websocket_server.py, connect_check.py), so
that a mistake in one is not hidden by the same mistake in the other. It can
also send frames that a correct client never sends (unmasked, oversized,
invalid UTF-8), to check that the server rejects them.
"""

import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import time
import uuid
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

MAGIC = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
UPSTREAM_SCOPES = ["operator.read", "operator.admin", "operator.approvals", "operator.pairing"]


class UpgradeFailed(Exception):
	def __init__(self, status, head):
		super().__init__(f"upgrade answered {status}")
		self.status = status
		self.head = head


def unpadded_b64url(data):
	return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


class Device:
	"""An Ed25519 device identity as a gateway client keeps one."""

	def __init__(self, key=None):
		self.key = key or Ed25519PrivateKey.generate()
		self.raw_public = self.key.public_key().public_bytes(serialization.Encoding.Raw,
			serialization.PublicFormat.Raw)
		self.id = hashlib.sha256(self.raw_public).hexdigest()

	def sign(self, params, nonce, version="v2", signed_at=None, device_id=None):
		"""Return the device object for params, signing the v1 or v2 text."""
		signed_at = signed_at if signed_at is not None else int(time.time() * 1000)
		device_id = device_id or self.id
		client = params["client"]
		fields = [version, device_id, client["id"], client["mode"], params.get("role", "operator"),
			",".join(params.get("scopes", [])), str(signed_at),
			params.get("auth", {}).get("token") or ""]
		if version == "v2":
			fields.append(nonce or "")
		device = {"id": device_id, "publicKey": unpadded_b64url(self.raw_public),
			"signature": unpadded_b64url(self.key.sign("|".join(fields).encode("utf-8"))),
			"signedAt": signed_at}
		if nonce is not None:
			device["nonce"] = nonce
		return device


def connect_params(token=None, min_protocol=3, max_protocol=4, client_id="gateway-client",
		mode="backend", scopes=None):
	"""Return connect params as the suite's backend client sends them (device added by the caller)."""
	params = {"minProtocol": min_protocol, "maxProtocol": max_protocol,
		"client": {"id": client_id, "version": "1.0.0", "platform": "linux", "mode": mode},
		"role": "operator", "scopes": list(UPSTREAM_SCOPES if scopes is None else scopes),
		"caps": []}
	if token is not None:
		params["auth"] = {"token": token}
	return params


def chat_send_params(key=None, message="hello", session_key="agent:main:main"):
	return {"sessionKey": session_key, "message": message, "deliver": False,
		"idempotencyKey": key or str(uuid.uuid4())}


def mask_payload(mask, payload):
	"""XOR payload with the repeated 4-byte mask (RFC 6455 section 5.3)."""
	if not payload:
		return payload
	key = (mask * (len(payload) // 4 + 1))[:len(payload)]
	return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(len(payload), "big")


class Client:
	"""One WebSocket connection to a ws:// or wss:// URL, with raw frame access."""

	def __init__(self, url, ca_file=None, timeout=5.0, path="/", headers=None, server_hostname=None):
		parts = urlsplit(url)
		self.timeout = timeout
		self.pings_received = 0
		self.buffer = b""
		raw = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
		if parts.scheme == "wss":
			context = ssl.create_default_context(cafile=ca_file)
			raw = context.wrap_socket(raw, server_hostname=server_hostname or parts.hostname)
		self.sock = raw
		self.sock.settimeout(timeout)
		self.upgrade(f"{parts.hostname}:{parts.port}", path, headers)

	# -- handshake -----------------------------------------------------------

	def upgrade(self, host, path, headers):
		key = base64.b64encode(os.urandom(16)).decode("ascii")
		fields = {"Host": host, "Upgrade": "websocket", "Connection": "Upgrade",
			"Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
		fields.update(headers or {})
		lines = [f"GET {path} HTTP/1.1"] + [f"{name}: {value}" for name, value in fields.items()
			if value is not None]
		self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))

		head = self.read_until(b"\r\n\r\n").decode("latin-1")
		status = int(head.split(" ", 2)[1])
		if status != 101:
			raise UpgradeFailed(status, head)
		expected = base64.b64encode(hashlib.sha1(key.encode("ascii") + MAGIC).digest()).decode("ascii")
		accept = [line.split(":", 1)[1].strip() for line in head.split("\r\n")
			if line.lower().startswith("sec-websocket-accept:")]
		if accept != [expected]:
			raise UpgradeFailed(status, f"wrong Sec-WebSocket-Accept: {accept}")

	def read_until(self, marker):
		while marker not in self.buffer:
			data = self.sock.recv(65536)
			if not data:
				raise ConnectionError("closed during the upgrade")
			self.buffer += data
		head, self.buffer = self.buffer.split(marker, 1)
		return head

	def read_exact(self, count):
		while len(self.buffer) < count:
			data = self.sock.recv(max(65536, count - len(self.buffer)))
			if not data:
				raise EOFError(self.buffer)
			self.buffer += data
		data, self.buffer = self.buffer[:count], self.buffer[count:]
		return data

	# -- frames --------------------------------------------------------------

	def send_frame(self, opcode, payload, fin=True, masked=True, rsv=0, declared_length=None):
		length = len(payload) if declared_length is None else declared_length
		first = (0x80 if fin else 0) | rsv | opcode
		mask_bit = 0x80 if masked else 0
		if length < 126:
			head = struct.pack("!BB", first, mask_bit | length)
		elif length < 65536:
			head = struct.pack("!BBH", first, mask_bit | 126, length)
		else:
			head = struct.pack("!BBQ", first, mask_bit | 127, length)
		if masked:
			mask = os.urandom(4)
			payload = mask_payload(mask, payload)
			head += mask
		self.sock.sendall(head + payload)

	def send_json(self, value):
		self.send_frame(0x1, json.dumps(value).encode("utf-8"))

	def request(self, method, params):
		request_id = str(uuid.uuid4())
		self.send_json({"type": "req", "id": request_id, "method": method, "params": params})
		return request_id

	def recv_frame(self):
		"""Return (fin, opcode, payload) of one server frame; raise EOFError at end of stream."""
		first, second = self.read_exact(2)
		if second & 0x80:
			raise AssertionError("server frame is masked")
		length = second & 0x7F
		if length == 126:
			length = struct.unpack("!H", self.read_exact(2))[0]
		elif length == 127:
			length = struct.unpack("!Q", self.read_exact(8))[0]
		return bool(first & 0x80), first & 0x0F, self.read_exact(length)

	def recv_message(self):
		"""Return ("text", bytes), ("close", code, reason) or ("eof", None), replying to pings."""
		parts = []
		try:
			while True:
				fin, opcode, payload = self.recv_frame()
				if opcode == 0x9:
					self.pings_received += 1
					self.send_frame(0xA, payload)
					continue
				if opcode == 0x8:
					code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
					return ("close", code, payload[2:].decode("utf-8", "replace"))
				parts.append(payload)
				if fin:
					return ("text", b"".join(parts))
		except (EOFError, ConnectionError, ssl.SSLError):
			return ("eof", None)

	def recv_json(self):
		"""Return the next JSON frame; raise AssertionError for anything else."""
		message = self.recv_message()
		if message[0] != "text":
			raise AssertionError(f"expected a text frame, got {message}")
		return json.loads(message[1])

	def recv_reply(self, request_id, events=None):
		"""Return the res frame for request_id, collecting the events that came first."""
		while True:
			frame = self.recv_json()
			if frame.get("type") == "event":
				if events is not None:
					events.append(frame)
				continue
			if frame.get("type") == "res" and frame.get("id") == request_id:
				return frame
			raise AssertionError(f"unexpected frame {frame}")

	def expect_close(self):
		"""Read until the server's close frame or end of stream; return the close code or None."""
		while True:
			message = self.recv_message()
			if message[0] == "close":
				return message[1]
			if message[0] == "eof":
				return None

	def close(self, code=1000):
		try:
			self.send_frame(0x8, struct.pack("!H", code))
			self.expect_close()
		except OSError:
			pass
		self.sock.close()

	def wait_silence(self, seconds):
		"""Return True when the server sends nothing for the given seconds (and has not closed)."""
		self.sock.settimeout(seconds)
		try:
			data = self.sock.recv(1)
			if data:
				self.buffer += data
			return False
		except socket.timeout:
			return True
		finally:
			self.sock.settimeout(self.timeout)


def open_session(url, token=None, device=None, ca_file=None, params=None, signature_version="v2"):
	"""Open a connection, read the challenge, connect; return (client, challenge, reply)."""
	client = Client(url, ca_file=ca_file)
	challenge = client.recv_json()
	nonce = challenge["payload"]["nonce"]
	params = params or connect_params(token)
	if device is not None:
		params["device"] = device.sign(params, nonce if signature_version == "v2" else None,
			signature_version)
	reply = client.recv_reply(client.request("connect", params))
	return client, challenge, reply
