"""Start and stop the test gateway (gateway_server.py) from Python tests, and read what it recorded.

    with GatewayProcess(token="t" * 40) as gateway:
        ... point the client at gateway.url ...
        assert gateway.sends()[0]["answer"] == "started"

make_test_certificate() writes a private CA and a server certificate for
127.0.0.1, ::1 and localhost, for the wss:// cases.
"""

import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_SCRIPT = Path(__file__).resolve().parent / "gateway_server.py"
PYTHON = "/usr/bin/python3"
START_TIMEOUT_S = 15
STOP_TIMEOUT_S = 10


@dataclass
class TestCertificate:
	"""PEM files of one private CA and of a server certificate that it signed."""
	ca_file: str
	cert_file: str
	key_file: str


def make_test_certificate(directory, hosts=("127.0.0.1", "::1", "localhost"), valid_days=30,
		expired=False):
	"""Write ca.pem, server.pem and server.key into directory and return their paths.

	hosts become the subject alternative names (IP addresses or DNS names).
	expired=True makes a server certificate whose validity ended yesterday."""
	directory = Path(directory)
	directory.mkdir(parents=True, exist_ok=True)
	now = datetime.datetime.now(datetime.timezone.utc)

	ca_key = ec.generate_private_key(ec.SECP256R1())
	ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mc-edge test CA")])
	ca_cert = (x509.CertificateBuilder()
		.subject_name(ca_name).issuer_name(ca_name)
		.public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
		.not_valid_before(now - datetime.timedelta(days=1))
		.not_valid_after(now + datetime.timedelta(days=valid_days))
		.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
		.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
			content_commitment=False, key_encipherment=False, data_encipherment=False,
			key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
		.sign(ca_key, hashes.SHA256()))

	server_key = ec.generate_private_key(ec.SECP256R1())
	names = []
	for host in hosts:
		try:
			names.append(x509.IPAddress(ipaddress.ip_address(host)))
		except ValueError:
			names.append(x509.DNSName(host))
	if expired:
		not_before, not_after = now - datetime.timedelta(days=10), now - datetime.timedelta(days=1)
	else:
		not_before, not_after = now - datetime.timedelta(days=1), now + datetime.timedelta(days=valid_days)
	server_cert = (x509.CertificateBuilder()
		.subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
		.issuer_name(ca_name)
		.public_key(server_key.public_key()).serial_number(x509.random_serial_number())
		.not_valid_before(not_before).not_valid_after(not_after)
		.add_extension(x509.SubjectAlternativeName(names), critical=False)
		.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
		.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
		.sign(ca_key, hashes.SHA256()))

	certificate = TestCertificate(str(directory / "ca.pem"), str(directory / "server.pem"),
		str(directory / "server.key"))
	write_file(certificate.ca_file, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
	write_file(certificate.cert_file, server_cert.public_bytes(serialization.Encoding.PEM), 0o644)
	write_file(certificate.key_file, server_key.private_bytes(serialization.Encoding.PEM,
		serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), 0o600)
	return certificate


def write_file(path, data, permissions):
	with open(path, "wb") as file:
		file.write(data)
	os.chmod(path, permissions)


class GatewayProcess:
	"""One gateway_server.py process on loopback, with its record, control, log and port files.

	tls is a TestCertificate (or a (cert_file, key_file) pair) for wss://.
	state_dir defaults to a new private folder under /tmp, removed by cleanup()."""

	def __init__(self, port=0, token=None, tls=None, mode="normal", require_device=False,
			state_dir=None, host="127.0.0.1", extra_args=()):
		self.port = port
		self.token = token
		self.tls = (tls.cert_file, tls.key_file) if isinstance(tls, TestCertificate) else tls
		self.mode = mode
		self.require_device = require_device
		self.host = host
		self.extra_args = list(extra_args)
		self.owns_state_dir = state_dir is None
		self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="mc-edge-gateway-"))
		self.state_dir.mkdir(parents=True, exist_ok=True)
		self.record_file = self.state_dir / "records.jsonl"
		self.control_file = self.state_dir / "control.json"
		self.log_file = self.state_dir / "gateway.log"
		self.port_file = self.state_dir / "port"
		self.process = None

	def command(self):
		command = [PYTHON, str(SERVER_SCRIPT), "--host", self.host, "--port", str(self.port),
			"--port-file", str(self.port_file), "--record", str(self.record_file),
			"--control", str(self.control_file), "--log", str(self.log_file), "--mode", self.mode]
		if self.token is not None:
			command += ["--token", self.token]
		if self.tls:
			command += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
		if self.require_device:
			command.append("--require-device")
		return command + self.extra_args

	def start(self):
		"""Start the server and wait until its port accepts connections; raise RuntimeError if it does not."""
		if self.port_file.exists():
			self.port_file.unlink()
		# The token is an argument: /proc/PID/cmdline shows it to local users, which
		# is acceptable for a test gateway on a test machine only.
		self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
			stdout=subprocess.DEVNULL, stderr=open(self.log_file, "ab"))
		deadline = time.monotonic() + START_TIMEOUT_S
		while time.monotonic() < deadline:
			if self.process.poll() is not None:
				raise RuntimeError(f"test gateway exited with status {self.process.returncode}: "
					f"{self.log_text()[-2000:]}")
			if self.port_file.exists():
				self.port = int(self.port_file.read_text().strip())
				if self.port_accepts():
					return self
			time.sleep(0.05)
		self.kill()
		raise RuntimeError(f"test gateway did not listen within {START_TIMEOUT_S} s")

	def port_accepts(self):
		try:
			with socket.create_connection((self.host, self.port), timeout=1):
				return True
		except OSError:
			return False

	def stop(self):
		"""Stop with SIGTERM (SIGKILL after STOP_TIMEOUT_S); return the exit status."""
		if self.process is None:
			return None
		if self.process.poll() is None:
			self.process.send_signal(signal.SIGTERM)
			try:
				self.process.wait(STOP_TIMEOUT_S)
			except subprocess.TimeoutExpired:
				self.process.kill()
				self.process.wait()
		return self.process.returncode

	def kill(self):
		"""End the server at once with SIGKILL, as a crash would."""
		if self.process is not None and self.process.poll() is None:
			self.process.kill()
			self.process.wait()

	def cleanup(self):
		self.stop()
		if self.owns_state_dir:
			shutil.rmtree(self.state_dir, ignore_errors=True)

	def __enter__(self):
		return self.start()

	def __exit__(self, *exc_info):
		self.cleanup()

	@property
	def url(self):
		scheme = "wss" if self.tls else "ws"
		host = f"[{self.host}]" if ":" in self.host else self.host
		return f"{scheme}://{host}:{self.port}"

	def set_mode(self, mode):
		"""Change the behaviour for the next connections (written atomically to the control file)."""
		temporary = self.control_file.with_suffix(".tmp")
		temporary.write_text(json.dumps({"mode": mode}))
		os.replace(temporary, self.control_file)

	def records(self):
		"""Return every record line so far as a dict (a half-written last line is skipped)."""
		if not self.record_file.exists():
			return []
		records = []
		for line in self.record_file.read_text(encoding="utf-8").splitlines():
			try:
				records.append(json.loads(line))
			except ValueError:
				continue
		return records

	def sends(self):
		return [record for record in self.records() if record.get("event") == "chat.send"]

	def connects(self):
		return [record for record in self.records() if record.get("event") == "connect"]

	def closes(self):
		return [record for record in self.records() if record.get("event") == "close"]

	def wait_for_records(self, predicate, timeout=5.0):
		"""Return records() once predicate(records) is true; raise TimeoutError after timeout seconds."""
		deadline = time.monotonic() + timeout
		while True:
			records = self.records()
			if predicate(records):
				return records
			if time.monotonic() >= deadline:
				raise TimeoutError(f"gateway records did not reach the expected state: {records[-5:]}")
			time.sleep(0.05)

	def log_text(self):
		return self.log_file.read_text(encoding="utf-8", errors="replace") if self.log_file.exists() else ""
