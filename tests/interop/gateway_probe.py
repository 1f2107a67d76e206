"""A small OpenClaw gateway client for the interop run: readiness and direct checks.

It speaks just enough of RFC 6455 (client side, text frames, ping and close)
and of the gateway protocol (challenge, connect, one request) to query the
real gateway without mc-edge in between. It reports whether the gateway is
ready and prints its reply to a given connect or chat.send. The token
is read from a file and is never printed: every "token" field and every
occurrence of the token in a reply is masked.

    gateway_probe.py --port N --token-file F wait-ready [--timeout S]
    gateway_probe.py --port N --token-file F [--device] [--client-id ID]
        [--client-mode M] [--extra-connect JSON] [--extra-send JSON]
        send SESSION_KEY MESSAGE [KEY]
    gateway_probe.py --port N --token-file F [--device] hello

Standard library plus python3-cryptography (Ed25519) only.
"""

import argparse
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time
import uuid
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

OPCODE_CONTINUATION = 0x0
OPCODE_TEXT = 0x1
OPCODE_CLOSE = 0x8
OPCODE_PING = 0x9
OPCODE_PONG = 0xA

# Scopes that upstream Mission Control's backend client requests.
BACKEND_SCOPES = ["operator.read", "operator.admin", "operator.approvals", "operator.pairing"]


class ProbeError(Exception):
    """Raised when the exchange with the gateway fails. The message names the failed step."""


class WebSocketClient:
    """One client connection: upgrade, masked text frames out, frames in."""

    def __init__(self, host, port, timeout_s):
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.buffer = b""
        self.close_code = None
        self._upgrade(host, port)

    def _upgrade(self, host, port):
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ProbeError("connection closed during the upgrade")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        if " 101 " not in status_line + " ":
            raise ProbeError(f"upgrade rejected: {status_line}")

    def _read_exact(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ProbeError("connection closed mid-frame")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _send_frame(self, opcode, payload):
        header = bytes([0x80 | opcode])
        length = len(payload)
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", length)
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send_json(self, value):
        self._send_frame(OPCODE_TEXT, json.dumps(value).encode())

    def receive_json(self):
        """Return the next text message as JSON, or None once the server closed."""
        message = b""
        while True:
            first, second = self._read_exact(2)
            opcode = first & 0x0F
            length = second & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._read_exact(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._read_exact(8))[0]
            payload = self._read_exact(length)
            if opcode == OPCODE_PING:
                self._send_frame(OPCODE_PONG, payload)
                continue
            if opcode == OPCODE_CLOSE:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                return None
            if opcode in (OPCODE_TEXT, OPCODE_CONTINUATION):
                message += payload
                if first & 0x80:
                    return json.loads(message.decode())

    def close(self):
        try:
            self._send_frame(OPCODE_CLOSE, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()


def base64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_device(private_key, client_id, client_mode, role, scopes, token, nonce, signed_at):
    """Build the connect params' device object, signed as v2 with a nonce, else as v1."""
    public_raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    device_id = hashlib.sha256(public_raw).hexdigest()
    version = "v2" if nonce else "v1"
    fields = [version, device_id, client_id, client_mode, role, ",".join(scopes),
        str(signed_at), token or ""]
    if nonce:
        fields.append(nonce)
    signature = private_key.sign("|".join(fields).encode())
    device = {"id": device_id, "publicKey": base64url(public_raw),
        "signature": base64url(signature), "signedAt": signed_at}
    if nonce:
        device["nonce"] = nonce
    return device


def mask_secrets(value, token):
    """Return a copy of value with every token field and every occurrence of token masked."""
    if isinstance(value, dict):
        return {key: ("<masked>" if "token" in key.lower() and isinstance(item, str)
            else mask_secrets(item, token)) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_secrets(item, token) for item in value]
    if isinstance(value, str) and token and token in value:
        return value.replace(token, "<masked>")
    return value


def wait_for_response(client, request_id, events):
    """Return the reply frame for request_id, collecting the event names seen before it."""
    while True:
        frame = client.receive_json()
        if frame is None:
            raise ProbeError(f"closed before the reply (close code {client.close_code})")
        if frame.get("type") == "res" and frame.get("id") == request_id:
            return frame
        events.append(frame.get("event") or frame.get("type"))


@dataclass
class ConnectOptions:
    """How to present the client in the connect request."""

    port: int
    token: str = None
    device: bool = False
    client_id: str = "gateway-client"
    client_mode: str = "backend"
    min_protocol: int = 3
    max_protocol: int = 4
    extra_connect: dict = field(default_factory=dict)
    io_timeout: float = 10.0


def connect(options):
    """Open a connection, run the handshake and return (client, challenge, reply).

    The caller must close the client, also when the connect was rejected."""
    client = WebSocketClient("127.0.0.1", options.port, options.io_timeout)
    challenge = client.receive_json()
    nonce = None
    signed_at = int(time.time() * 1000)
    if challenge and challenge.get("event") == "connect.challenge":
        nonce = challenge["payload"].get("nonce")
        signed_at = challenge["payload"].get("ts", signed_at)

    params = {
        "minProtocol": options.min_protocol, "maxProtocol": options.max_protocol,
        "client": {"id": options.client_id, "version": "interop-probe",
            "platform": "linux", "mode": options.client_mode},
        "role": "operator", "scopes": BACKEND_SCOPES,
    }
    if options.token is not None:
        params["auth"] = {"token": options.token}
    if options.device:
        key = Ed25519PrivateKey.generate()
        params["device"] = signed_device(key, options.client_id, options.client_mode,
            "operator", BACKEND_SCOPES, options.token, nonce, signed_at)
    params.update(options.extra_connect)

    request_id = str(uuid.uuid4())
    client.send_json({"type": "req", "id": request_id, "method": "connect", "params": params})
    reply = wait_for_response(client, request_id, [])
    return client, challenge, reply


def chat_send(options, session_key, message, idempotency_key, extra_params=None):
    """Connect and send one chat.send. Return (connect reply, chat.send reply or None)."""
    client, _, reply = connect(options)
    try:
        if not reply.get("ok"):
            return reply, None
        request_id = str(uuid.uuid4())
        params = {"sessionKey": session_key, "message": message, "deliver": False,
            "idempotencyKey": idempotency_key}
        params.update(extra_params or {})
        client.send_json({"type": "req", "id": request_id, "method": "chat.send",
            "params": params})
        return reply, wait_for_response(client, request_id, [])
    finally:
        client.close()


def wait_ready(options, timeout_s):
    """Retry connect for up to timeout_s while the port is closed or the gateway
    marks its error retryable. Return ("ready", protocol), ("refused", reason)
    or ("timeout", last problem)."""
    deadline = time.monotonic() + timeout_s
    last = "no attempt"
    while time.monotonic() < deadline:
        try:
            client, _, reply = connect(options)
            client.close()
        except (OSError, ProbeError, ValueError) as error:
            last = str(error)
            time.sleep(0.2)
            continue
        if reply.get("ok"):
            return "ready", reply["payload"].get("protocol")
        error = reply.get("error") or {}
        last = f"{error.get('code')}: {error.get('message')}"
        if not error.get("retryable"):
            return "refused", last
        time.sleep(min(error.get("retryAfterMs") or 500, 2000) / 1000)
    return "timeout", last


def read_token(path):
    if path is None:
        return None
    with open(path, encoding="utf-8") as handle:
        return handle.read().strip()


def options_from(args, token):
    return ConnectOptions(port=args.port, token=token, device=args.device,
        client_id=args.client_id, client_mode=args.client_mode,
        min_protocol=args.min_protocol, max_protocol=args.max_protocol,
        extra_connect=json.loads(args.extra_connect or "{}"), io_timeout=args.io_timeout)


def command_wait_ready(args, token):
    outcome, detail = wait_ready(options_from(args, token), args.timeout)
    if outcome == "ready":
        print(f"ready protocol={detail}")
        return 0
    print(f"{outcome}: {mask_secrets(detail, token)}", file=sys.stderr)
    return 1


def command_hello(args, token):
    client, challenge, reply = connect(options_from(args, token))
    if not reply.get("ok"):
        # The gateway closes the connection after a rejected connect, so read
        # the close frame for its code.
        try:
            client.receive_json()
        except (OSError, ProbeError, ValueError):
            pass
    client.close()
    summary = {"challenge": challenge, "reply": reply, "close_code": client.close_code}
    print(json.dumps(mask_secrets(summary, token), indent=1))
    return 0 if reply.get("ok") else 1


def command_send(args, token):
    hello, send_reply = chat_send(options_from(args, token), args.session_key, args.message,
        args.idempotency_key or str(uuid.uuid4()), json.loads(args.extra_send or "{}"))
    printed = {"reply": send_reply} if send_reply is not None else {"connect": hello}
    print(json.dumps(mask_secrets(printed, token), indent=1))
    return 0 if send_reply is not None and send_reply.get("ok") else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True, help="gateway port on 127.0.0.1")
    parser.add_argument("--token-file",
        help="file containing the gateway token (without it, no token is sent)")
    parser.add_argument("--device", action="store_true", help="sign a fresh Ed25519 device identity")
    parser.add_argument("--client-id", default="gateway-client")
    parser.add_argument("--client-mode", default="backend")
    parser.add_argument("--min-protocol", type=int, default=3)
    parser.add_argument("--max-protocol", type=int, default=4)
    parser.add_argument("--extra-connect", help="JSON object merged into the connect params")
    parser.add_argument("--extra-send", help="JSON object merged into the chat.send params")
    parser.add_argument("--io-timeout", type=float, default=10.0,
        help="timeout of each socket read, in seconds")
    commands = parser.add_subparsers(dest="command", required=True)
    wait_ready = commands.add_parser("wait-ready", help="retry connect until hello-ok")
    wait_ready.add_argument("--timeout", type=float, default=60.0,
        help="seconds to keep retrying (default 60)")
    commands.add_parser("hello", help="connect once and print the challenge and reply")
    send = commands.add_parser("send", help="connect and send one chat.send")
    send.add_argument("session_key")
    send.add_argument("message")
    send.add_argument("idempotency_key", nargs="?")
    args = parser.parse_args()

    token = read_token(args.token_file)
    handlers = {"wait-ready": command_wait_ready, "hello": command_hello, "send": command_send}
    try:
        return handlers[args.command](args, token)
    except (OSError, ProbeError, ValueError) as error:
        print(f"probe failed: {mask_secrets(str(error), token)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
