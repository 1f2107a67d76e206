"""Behaviour modes of the test gateway: parsing, and the queries the server makes of a mode.

A mode is a comma-separated list of words, each optionally followed by
":ARG" parts, for example "events-before-reply,refuse-send" or
"oversized-frame:send:fragmented". At most one fault word may appear.
"""

# Word -> allowed arguments. "N" stands for a non-negative integer.
BEHAVIOURS = {
	"normal": set(),
	"refuse": set(),		# connect answered ok:false, INVALID_REQUEST (auth)
	"refuse-send": set(),		# chat.send answered ok:false
	"unavailable": {"N"},		# first N connects answered UNAVAILABLE, retryable (unavailable:N[:MS])
	"no-challenge": set(),		# no connect.challenge; v1 device signatures then allowed
	"events-before-reply": set(),	# tick, agent and chat events before each reply
	"payload-and-error": set(),	# each reply carries both payload and error
	"fragment-replies": set(),	# replies split into continuation frames, a ping between
}

# Faults replace the reply of one stage. Stages: "upgrade" (before the HTTP
# response, stall only), "open" (after the upgrade, before any frame, stall
# only), "connect" (the reply to connect) and "send" (the reply to chat.send).
FAULTS = {
	"stall": {"upgrade", "open", "connect", "send"},
	"close-mid-frame": {"connect", "send"},
	"oversized-frame": {"connect", "send", "fragmented"},
	"malformed-frame": {"connect", "send", "not-json", "not-object", "bad-utf8", "bad-fields"},
}
DEFAULT_STAGE = {"stall": "open", "close-mid-frame": "connect",
	"oversized-frame": "connect", "malformed-frame": "connect"}
STAGES = {"upgrade", "open", "connect", "send"}
# retryAfterMs of the real gateway's start-up refusal (openclaw 2026.9.6).
DEFAULT_RETRY_AFTER_MS = 500
MALFORMED_VARIANTS = ("not-json", "not-object", "bad-utf8", "bad-fields")


class Mode:
	"""A parsed mode: its words with their arguments, and at most one fault."""

	def __init__(self, text):
		self.text = text
		self.words = {}
		self.fault = None
		self.fault_stage = None
		self.fault_variant = None
		self.unavailable_count = 0
		self.unavailable_retry_after_ms = DEFAULT_RETRY_AFTER_MS

		for item in text.split(","):
			parts = item.strip().split(":")
			word, args = parts[0], parts[1:]
			if not word:
				raise ValueError(f"invalid mode {text!r}: empty word")
			if word not in BEHAVIOURS and word not in FAULTS:
				raise ValueError(f"invalid mode {text!r}: unknown word {word!r}")
			if word in self.words:
				raise ValueError(f"invalid mode {text!r}: {word!r} given twice")
			self.words[word] = args
			if word in FAULTS:
				self.set_fault(word, args)
			elif word == "unavailable":
				self.set_unavailable(args)
			elif args:
				raise ValueError(f"invalid mode {text!r}: {word!r} takes no argument")

	def set_fault(self, word, args):
		if self.fault is not None:
			raise ValueError(f"invalid mode {self.text!r}: two faults ({self.fault}, {word})")
		self.fault = word
		self.fault_stage = DEFAULT_STAGE[word]
		for arg in args:
			if arg not in FAULTS[word]:
				raise ValueError(f"invalid mode {self.text!r}: {word!r} does not take {arg!r}")
			if arg in STAGES:
				self.fault_stage = arg
			else:
				self.fault_variant = arg

	def set_unavailable(self, args):
		if len(args) not in (1, 2) or not all(arg.isdigit() for arg in args):
			raise ValueError(f"invalid mode {self.text!r}: use unavailable:N or unavailable:N:MS")
		self.unavailable_count = int(args[0])
		if len(args) == 2:
			self.unavailable_retry_after_ms = int(args[1])

	def has(self, word):
		return word in self.words

	def fault_at(self, stage):
		"""Return the fault name when the mode breaks the given stage, else None."""
		return self.fault if self.fault_stage == stage else None
