"""Checks of an OpenClaw `connect` request, as the test gateway applies them.

Field lists, error codes, messages and close codes follow what the real
gateway (npm openclaw 2026.9.6) returned when run on loopback. The connect
params schema is closed, so an unknown key at any level is rejected.

A device identity is an Ed25519 key. Its id is the hex SHA-256 of the raw
32-byte public key, and key and signature travel as URL-safe base64 without
padding. The signature covers fields joined by "|". Version v2 ends with the
challenge nonce. Version v1 has no nonce, and only the no-challenge mode of
this test gateway accepts it.
"""

import base64
import binascii
import hashlib
import hmac

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PROTOCOL_VERSION = 4
SIGNATURE_MAX_SKEW_MS = 10 * 60 * 1000

# Error codes of the gateway protocol (error.code in a failed reply). Most
# rejected connects get INVALID_REQUEST, with the precise cause in
# error.details.code.
INVALID_REQUEST = "INVALID_REQUEST"
NOT_PAIRED = "NOT_PAIRED"
UNAVAILABLE = "UNAVAILABLE"

# WebSocket close codes after a failed connect.
CLOSE_POLICY_VIOLATION = 1008
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_TRY_AGAIN_LATER = 1013

CONTROL_UI_CLIENT = "openclaw-control-ui"
CLIENT_IDS = {"webchat-ui", CONTROL_UI_CLIENT, "openclaw-browser-copilot", "openclaw-tui",
	"webchat", "cli", "gateway-client", "openclaw-macos", "openclaw-linux", "openclaw-ios",
	"openclaw-watchos", "openclaw-android", "node-host", "openclaw-worker", "test",
	"fingerprint", "openclaw-probe"}
CLIENT_MODES = {"webchat", "cli", "ui", "backend", "node", "worker", "probe", "test"}
ROLES = {"operator", "node"}

STRING = "string"
NONEMPTY = "non-empty string"
INTEGER = "integer"
STRINGS = "array of strings"
FLAGS = "object of booleans"
OBJECT = "object"
ANY = "any value"

# Fields whose inner shape the real gateway checks but no test here needs
# (computerUse, workerRuns, modelCatalog) accept any value.
CONNECT_FIELDS = {"minProtocol": INTEGER, "maxProtocol": INTEGER, "client": OBJECT,
	"caps": STRINGS, "commands": STRINGS, "computerUse": ANY, "workerRuns": ANY,
	"permissions": FLAGS, "pathEnv": STRING, "role": NONEMPTY, "scopes": STRINGS,
	"modelCatalog": ANY, "device": OBJECT, "auth": OBJECT, "locale": STRING,
	"userAgent": STRING}
CONNECT_REQUIRED = ("minProtocol", "maxProtocol", "client")
CLIENT_FIELDS = {"id": NONEMPTY, "displayName": STRING, "version": NONEMPTY,
	"buildId": STRING, "platform": NONEMPTY, "deviceFamily": STRING,
	"modelIdentifier": STRING, "timeZone": STRING, "mode": NONEMPTY, "instanceId": STRING}
CLIENT_REQUIRED = ("id", "version", "platform", "mode")
DEVICE_FIELDS = {"id": NONEMPTY, "publicKey": NONEMPTY, "signature": NONEMPTY,
	"signedAt": INTEGER, "nonce": NONEMPTY}
DEVICE_REQUIRED = ("id", "publicKey", "signature", "signedAt", "nonce")
DEVICE_REQUIRED_WITHOUT_CHALLENGE = ("id", "publicKey", "signature", "signedAt")
AUTH_FIELDS = {"token": STRING, "bootstrapToken": STRING, "deviceToken": STRING,
	"password": STRING, "approvalRuntimeToken": STRING, "agentRuntimeIdentityToken": STRING}


class ConnectRefusal(Exception):
	"""A rejected connect: the gateway replies ok:false with this error, then closes."""

	def __init__(self, code, message, details=None, close_code=CLOSE_POLICY_VIOLATION,
			retryable=None, retry_after_ms=None):
		super().__init__(message)
		self.code = code
		self.message = message
		self.details = details
		self.close_code = close_code
		self.retryable = retryable
		self.retry_after_ms = retry_after_ms

	def error_object(self):
		error = {"code": self.code, "message": self.message}
		if self.details is not None:
			error["details"] = self.details
		if self.retryable is not None:
			error["retryable"] = self.retryable
		if self.retry_after_ms is not None:
			error["retryAfterMs"] = self.retry_after_ms
		return error


def type_matches(value, kind):
	if kind == STRING:
		return isinstance(value, str)
	if kind == NONEMPTY:
		return isinstance(value, str) and value != ""
	if kind == INTEGER:
		return isinstance(value, int) and not isinstance(value, bool)
	if kind == STRINGS:
		return isinstance(value, list) and all(isinstance(item, str) for item in value)
	if kind == FLAGS:
		return isinstance(value, dict) and all(isinstance(item, bool) for item in value.values())
	if kind == ANY:
		return True
	return isinstance(value, dict)


def check_object(value, fields, required, path):
	"""Raise ConnectRefusal for a missing, unknown or mistyped key of one object."""
	for name in required:
		if name not in value:
			raise invalid_params(path, f"must have required property '{name}'")
	for name, item in value.items():
		if name not in fields:
			raise invalid_params(path, f"unexpected property '{name}'")
		if not type_matches(item, fields[name]):
			raise invalid_params(f"{path}/{name}", f"must be {fields[name]}")


def invalid_params(path, problem):
	return ConnectRefusal(INVALID_REQUEST, f"invalid connect params: at {path or 'root'}: {problem}")


def refusal(code, message, detail_code, **extra):
	"""Return a refusal whose error.details.code names the precise cause."""
	return ConnectRefusal(code, message, {"code": detail_code}, **extra)


def check_connect_params(params, challenge_sent):
	"""Check the closed schema of connect params and the protocol range.

	Raises ConnectRefusal with INVALID_REQUEST and close code 1008 for a schema
	error. Raises it with INVALID_REQUEST, details.code PROTOCOL_MISMATCH and
	close code 1002 when the range excludes protocol 4. device.nonce is required
	when a challenge was sent."""
	if not isinstance(params, dict):
		raise invalid_params("", "must be object")
	check_object(params, CONNECT_FIELDS, CONNECT_REQUIRED, "")
	check_object(params["client"], CLIENT_FIELDS, CLIENT_REQUIRED, "/client")
	if "device" in params:
		required = DEVICE_REQUIRED if challenge_sent else DEVICE_REQUIRED_WITHOUT_CHALLENGE
		check_object(params["device"], DEVICE_FIELDS, required, "/device")
	if "auth" in params:
		check_object(params["auth"], AUTH_FIELDS, (), "/auth")

	if params["minProtocol"] < 1 or params["maxProtocol"] < 1:
		raise invalid_params("/minProtocol", "must be >= 1")
	if params["client"]["id"] not in CLIENT_IDS:
		raise invalid_params("/client/id", "must be equal to one of the allowed values")
	if params["client"]["mode"] not in CLIENT_MODES:
		raise invalid_params("/client/mode", "must be equal to one of the allowed values")
	if params.get("role", "operator") not in ROLES:
		raise invalid_params("/role", "must be equal to one of the allowed values")

	if not params["minProtocol"] <= PROTOCOL_VERSION <= params["maxProtocol"]:
		raise ConnectRefusal(INVALID_REQUEST, "protocol mismatch",
			{"code": "PROTOCOL_MISMATCH", "expectedProtocol": PROTOCOL_VERSION,
			 "minimumProbeProtocol": 3, "clientMinProtocol": params["minProtocol"],
			 "clientMaxProtocol": params["maxProtocol"]},
			close_code=CLOSE_PROTOCOL_ERROR)


def check_control_ui(params, origin):
	"""Reject a control UI connect that lacks an Origin header (sent by browsers) or a device."""
	if params["client"]["id"] != CONTROL_UI_CLIENT:
		return
	if not origin:
		raise refusal(INVALID_REQUEST, "origin not allowed (open the control UI from the gateway host)",
			"CONTROL_UI_ORIGIN_NOT_ALLOWED")
	if "device" not in params:
		raise refusal(NOT_PAIRED, "device identity required", "DEVICE_IDENTITY_REQUIRED")


def check_token(params, required_token):
	"""Compare auth.token with the gateway's token in constant time.

	When no token is configured, every connect passes. A connect with neither
	token nor device gets NOT_PAIRED, as from the real gateway."""
	if required_token is None:
		return
	supplied = params.get("auth", {}).get("token")
	if not supplied and "device" not in params:
		raise refusal(NOT_PAIRED, "device identity required", "DEVICE_IDENTITY_REQUIRED")
	if not supplied:
		raise refusal(INVALID_REQUEST, "unauthorized: gateway token missing (set auth.token)",
			"AUTH_TOKEN_MISSING")
	if not hmac.compare_digest(supplied.encode("utf-8"), required_token.encode("utf-8")):
		raise refusal(INVALID_REQUEST, "unauthorized: gateway token mismatch (check auth.token)",
			"AUTH_TOKEN_MISMATCH")


def b64url_decode(text):
	"""Decode URL-safe base64 without padding, and raise ValueError on any other form."""
	if "=" in text or any(c in text for c in "+/"):
		raise ValueError("not unpadded URL-safe base64")
	try:
		return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
	except binascii.Error as error:
		raise ValueError(str(error))


def signed_text(version, params, device, nonce):
	"""Return the text that a device signs: fields joined by '|', v2 ending with the nonce."""
	client = params["client"]
	fields = [version, device["id"], client["id"], client["mode"],
		params.get("role", "operator"), ",".join(params.get("scopes", [])),
		str(device["signedAt"]), params.get("auth", {}).get("token") or ""]
	if version == "v2":
		fields.append(nonce)
	return "|".join(fields)


def device_refusal(detail_code, message):
	return refusal(INVALID_REQUEST, message, detail_code)


def check_device(params, challenge_nonce, now_ms):
	"""Verify the signed device identity of a connect.

	Returns (device id, signature version), or (None, None) without a device.
	With a challenge the device must echo its nonce and sign v2. v1 is accepted
	only when no challenge was sent."""
	device = params.get("device")
	if device is None:
		return None, None

	try:
		raw_key = b64url_decode(device["publicKey"])
		signature = b64url_decode(device["signature"])
	except ValueError:
		# NOTE: a badly encoded signature is also reported as an invalid public
		# key. Whether the real gateway does the same is not checked.
		raise device_refusal("DEVICE_AUTH_PUBLIC_KEY_INVALID", "device public key invalid")
	if len(raw_key) != 32:
		raise device_refusal("DEVICE_AUTH_PUBLIC_KEY_INVALID", "device public key invalid")
	if not hmac.compare_digest(device["id"], hashlib.sha256(raw_key).hexdigest()):
		raise device_refusal("DEVICE_AUTH_DEVICE_ID_MISMATCH", "device identity mismatch")
	if abs(now_ms - device["signedAt"]) > SIGNATURE_MAX_SKEW_MS:
		raise device_refusal("DEVICE_AUTH_SIGNATURE_EXPIRED", "device signature expired")

	if challenge_nonce is not None:
		if not hmac.compare_digest(device["nonce"].encode("utf-8"), challenge_nonce.encode("utf-8")):
			raise device_refusal("DEVICE_AUTH_NONCE_MISMATCH", "device nonce mismatch")
		version = "v2"
	else:
		if "nonce" in device:
			raise device_refusal("DEVICE_AUTH_NONCE_MISMATCH", "device nonce mismatch (no challenge was sent)")
		version = "v1"

	try:
		Ed25519PublicKey.from_public_bytes(raw_key).verify(
			signature, signed_text(version, params, device, challenge_nonce).encode("utf-8"))
	except InvalidSignature:
		raise device_refusal("DEVICE_AUTH_SIGNATURE_INVALID", "device signature invalid")
	return device["id"], version
