/* The gateway exchange over libwebsockets 4.1 (Debian 12); see gateway.h.
 *
 * Each connection attempt gets a client-only lws context of its own, driven
 * by lws_service() until the attempt ends. lws 4.1 ignores the timeout given
 * to lws_service() and sleeps until its next scheduled event. So a timer is
 * scheduled at the next moment this code must act: the deadline, the end of
 * the challenge wait or the end of the close linger. TCP, TLS, the upgrade,
 * every frame and every retry share one deadline, start + timeout_ms. */
#include "gateway.h"
#include "buf.h"
#include "gateway_device.h"
#include "gateway_frame.h"
#include "gateway_tls.h"
#include "gateway_url.h"
#include "log.h"
#include "uuid.h"

#include <errno.h>
#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROTOCOL_NAME "mc-edge-gateway"
/* Maximum time for the close handshake after the outcome is known. */
#define CLOSE_LINGER_US 250000u

typedef enum phase {
	PHASE_UPGRADING = 0,	/* TCP, TLS and the HTTP upgrade */
	PHASE_CHALLENGE,	/* upgraded: waiting for connect.challenge */
	PHASE_CONNECT,		/* connect sent: waiting for its reply */
	PHASE_SEND		/* chat.send sent: waiting for its reply */
} phase;

typedef struct exchange {
	const edge_gateway_settings *settings;
	const edge_gateway_target *target;
	edge_gateway_result *result;
	edge_gateway_device *device;	/* NULL without device pairing */
	edge_gateway_url url;
	SSL_CTX *tls;			/* NULL for ws:// */
	uint64_t deadline_us;
	char *send_frame;		/* the chat.send request; NULL for a probe */
	size_t send_frame_len;
	const char *idempotency_key;	/* of chat.send; "" for a probe */
	char send_id[EDGE_UUID_SIZE];
	char detail[200];		/* log-only detail of the failure */

	/* State of one connection attempt. */
	struct lws_context *context;
	struct lws *wsi;
	lws_sorted_usec_list_t timer;
	phase phase;
	uint64_t challenge_until_us;
	uint64_t linger_until_us;
	bool attempt_over;		/* the connection is gone */
	bool finished;			/* result contains the outcome of this attempt */
	bool retry;			/* a retryable refusal: wait, then connect again */
	char connect_id[EDGE_UUID_SIZE];
	edge_buf incoming;		/* the message being reassembled */
	unsigned char *outgoing;	/* LWS_PRE bytes of headroom, then the frame */
	size_t outgoing_len;
} exchange;

const char *
edge_gateway_status_str(edge_gateway_status status)
{
	switch (status) {
	case EDGE_GATEWAY_OK:
		return "ok";
	case EDGE_GATEWAY_UNREACHABLE:
		return "unreachable";
	case EDGE_GATEWAY_TIMEOUT:
		return "timeout";
	case EDGE_GATEWAY_REFUSED:
		return "refused";
	case EDGE_GATEWAY_PROTOCOL:
		return "protocol";
	case EDGE_GATEWAY_LOCAL:
		return "local";
	}
	return "unknown";
}

void
edge_gateway_settings_from_config(const edge_config *config,
    edge_gateway_settings *settings)
{
	settings->timeout_ms = config->gateway_timeout_ms;
	settings->ca_file = config->gateway_ca_file;
	settings->device_key_file = config->gateway_device_key_file;
}

/* Records the outcome of this attempt, unless one is recorded already. */
static void __attribute__((format(printf, 3, 4)))
finish(exchange *ex, edge_gateway_status status, const char *reason_fmt, ...)
{
	va_list args;

	if (ex->finished)
		return;
	ex->finished = true;
	ex->linger_until_us = edge_gateway_now_us() + CLOSE_LINGER_US;
	if (ex->linger_until_us > ex->deadline_us)
		ex->linger_until_us = ex->deadline_us;
	ex->result->status = status;
	va_start(args, reason_fmt);
	vsnprintf(ex->result->reason, sizeof(ex->result->reason), reason_fmt, args);
	va_end(args);
}

static void
set_detail(exchange *ex, const char *text)
{
	snprintf(ex->detail, sizeof(ex->detail), "%s", text != NULL ? text : "");
}

/* Routes lws warnings and errors to the suite's log. lws 4.1.6 prints no
 * URL, header or frame at these levels, and its lower levels stay off. */
static void
emit_lws_line(int level, const char *line)
{
	size_t len = strlen(line);

	(void)level;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	edge_log(EDGE_LOG_WARNING, "lws", "%.*s", (int)len, line);
}

/* Copies a frame into the headroom buffer and requests a writable callback. */
static bool
queue_frame(exchange *ex, const char *frame, size_t len)
{
	free(ex->outgoing);
	ex->outgoing = malloc(LWS_PRE + len);
	if (ex->outgoing == NULL) {
		finish(ex, EDGE_GATEWAY_LOCAL, "out of memory");
		return false;
	}
	memcpy(ex->outgoing + LWS_PRE, frame, len);
	ex->outgoing_len = len;
	lws_callback_on_writable(ex->wsi);
	return true;
}

/* Wall-clock milliseconds for the device signature. */
static long long
unix_time_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Signs the connect parameters with the device key into proof. */
static bool
sign_device(exchange *ex, const char *token, const char *nonce,
    char signature[EDGE_GATEWAY_SIGNATURE_SIZE],
    edge_gateway_device_proof *proof)
{
	char *text;
	bool signed_ok;

	proof->id = edge_gateway_device_id(ex->device);
	proof->public_key = edge_gateway_device_public_key(ex->device);
	proof->signature = signature;
	proof->signed_at_ms = unix_time_ms();
	proof->nonce = nonce;
	text = edge_gateway_device_signed_text(proof->id, EDGE_GATEWAY_CLIENT_ID,
	    EDGE_GATEWAY_CLIENT_MODE, EDGE_GATEWAY_ROLE,
	    EDGE_GATEWAY_SCOPES_JOINED, proof->signed_at_ms, token, nonce);
	if (text == NULL)
		return false;
	signed_ok = edge_gateway_device_sign(ex->device, text, signature);
	OPENSSL_cleanse(text, strlen(text));	/* it contains the token */
	free(text);
	return signed_ok;
}

/* Sends the connect request, signed over nonce when the gateway sent one. */
static bool
send_connect(exchange *ex, const char *nonce)
{
	const char *token = ex->target->token;
	char signature[EDGE_GATEWAY_SIGNATURE_SIZE], *frame = NULL;
	edge_gateway_device_proof proof, *device = NULL;
	size_t frame_len;
	edge_err err;
	bool queued;

	if (token != NULL && token[0] == '\0')
		token = NULL;
	if (ex->device != NULL) {
		if (!sign_device(ex, token, nonce, signature, &proof)) {
			finish(ex, EDGE_GATEWAY_LOCAL, "device signature failed");
			return false;
		}
		device = &proof;
	}
	if (!edge_uuid_generate(ex->connect_id)) {
		finish(ex, EDGE_GATEWAY_LOCAL, "random generator failed");
		return false;
	}
	err = edge_gateway_frame_connect(ex->connect_id, token, device, &frame,
	    &frame_len);
	if (err != EDGE_OK) {
		finish(ex, EDGE_GATEWAY_LOCAL, err == EDGE_ERR_INVALID ?
		    "gateway token is not valid UTF-8" : "out of memory");
		return false;
	}
	ex->phase = PHASE_CONNECT;
	queued = queue_frame(ex, frame, frame_len);
	OPENSSL_cleanse(frame, frame_len);	/* it contains the token */
	free(frame);
	return queued;
}

/* Keeps the gateway's error message for the log, unless it quotes the token. */
static void
keep_error_message(exchange *ex, const edge_gateway_frame *frame)
{
	const char *token = ex->target->token;

	if (token != NULL && token[0] != '\0' &&
	    strstr(frame->error_message, token) != NULL)
		set_detail(ex, "message withheld: it quotes the token");
	else
		set_detail(ex, frame->error_message);
}

/* Handles ok:false. A retryable UNAVAILABLE requests another attempt. */
static void
handle_refusal(exchange *ex, const edge_gateway_frame *frame,
    const char *method)
{
	edge_gateway_result *result = ex->result;

	snprintf(result->error_code, sizeof(result->error_code), "%s",
	    frame->error_code);
	result->retryable = frame->retryable;
	result->retry_after_ms = frame->has_retry_after ? frame->retry_after_ms : 0;
	keep_error_message(ex, frame);
	if (ex->phase == PHASE_SEND && frame->run_id[0] != '\0' &&
	    strcmp(frame->run_id, ex->idempotency_key) == 0) {
		result->run_known = true;
		snprintf(result->run_status, sizeof(result->run_status), "%s",
		    frame->status);
	}
	if (frame->retryable && strcmp(frame->error_code, "UNAVAILABLE") == 0)
		ex->retry = true;
	finish(ex, EDGE_GATEWAY_REFUSED, "gateway refused %s (%s)", method,
	    frame->error_code[0] != '\0' ? frame->error_code : "no error code");
}

/* Handles the reply to connect: hello-ok leads to chat.send or, for a probe, ends. */
static void
handle_connect_reply(exchange *ex, const edge_gateway_frame *frame)
{
	if (strcmp(frame->payload_type, "hello-ok") != 0) {
		finish(ex, EDGE_GATEWAY_PROTOCOL, "connect reply is not hello-ok");
		return;
	}
	if (frame->protocol < EDGE_GATEWAY_MIN_PROTOCOL ||
	    frame->protocol > EDGE_GATEWAY_MAX_PROTOCOL) {
		finish(ex, EDGE_GATEWAY_PROTOCOL,
		    "gateway chose protocol %d, outside %d to %d", frame->protocol,
		    EDGE_GATEWAY_MIN_PROTOCOL, EDGE_GATEWAY_MAX_PROTOCOL);
		return;
	}
	ex->result->protocol = frame->protocol;
	if (ex->send_frame == NULL) {
		finish(ex, EDGE_GATEWAY_OK, "connected");
		return;
	}
	ex->phase = PHASE_SEND;
	queue_frame(ex, ex->send_frame, ex->send_frame_len);
}

/* Handles one complete incoming message. Events other than the awaited
 * challenge are skipped, and so are replies to other request ids. */
static void
handle_message(exchange *ex, const char *text, size_t len)
{
	edge_gateway_frame frame;
	char why[80];
	const char *expected_id;

	if (edge_gateway_frame_parse(text, len, &frame, why, sizeof(why)) !=
	    EDGE_OK) {
		set_detail(ex, why);
		finish(ex, EDGE_GATEWAY_PROTOCOL, "invalid frame from the gateway");
		return;
	}
	if (frame.type == EDGE_GATEWAY_FRAME_EVENT) {
		if (ex->phase == PHASE_CHALLENGE &&
		    strcmp(frame.event, "connect.challenge") == 0)
			send_connect(ex, frame.nonce);
		return;
	}

	expected_id = ex->phase == PHASE_CONNECT ? ex->connect_id :
	    ex->phase == PHASE_SEND ? ex->send_id : NULL;
	if (expected_id == NULL || strcmp(frame.id, expected_id) != 0)
		return;
	if (!frame.ok) {
		handle_refusal(ex, &frame, ex->phase == PHASE_CONNECT ? "connect" :
		    "chat.send");
		return;
	}
	if (ex->phase == PHASE_CONNECT) {
		handle_connect_reply(ex, &frame);
		return;
	}
	snprintf(ex->result->run_status, sizeof(ex->result->run_status), "%s",
	    frame.status);
	finish(ex, EDGE_GATEWAY_OK, "sent");
}

/* Appends a received fragment and handles the message once it is complete. */
static void
receive_fragment(exchange *ex, struct lws *wsi, const void *data, size_t len)
{
	if (lws_frame_is_binary(wsi)) {
		finish(ex, EDGE_GATEWAY_PROTOCOL, "binary frame from the gateway");
		return;
	}
	if (lws_is_first_fragment(wsi))
		ex->incoming.len = 0;
	if (len > EDGE_GATEWAY_MAX_INCOMING - ex->incoming.len) {
		finish(ex, EDGE_GATEWAY_PROTOCOL,
		    "gateway message larger than %u bytes",
		    EDGE_GATEWAY_MAX_INCOMING);
		return;
	}
	edge_buf_append(&ex->incoming, data, len);
	if (ex->incoming.err != EDGE_OK) {
		finish(ex, EDGE_GATEWAY_LOCAL, "out of memory");
		return;
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
		return;
	handle_message(ex, ex->incoming.data, ex->incoming.len);
	ex->incoming.len = 0;
}

/* Names the stage at which lws gave up on a connection, from its text. */
static const char *
describe_connect_error(const char *text)
{
	if (text == NULL)
		return "connection failed";
	if (strstr(text, "HS:") != NULL || strstr(text, "upgrade") != NULL)
		return "WebSocket upgrade failed";
	if (strcasestr(text, "tls") != NULL || strcasestr(text, "ssl") != NULL ||
	    strcasestr(text, "cert") != NULL)
		return "TLS handshake or certificate check failed";
	return "TCP connection failed";
}

/* Writes the queued frame. */
static int
write_frame(exchange *ex, struct lws *wsi)
{
	int written;

	if (ex->outgoing == NULL)
		return 0;
	written = lws_write(wsi, ex->outgoing + LWS_PRE, ex->outgoing_len,
	    LWS_WRITE_TEXT);
	free(ex->outgoing);
	ex->outgoing = NULL;
	if (written < 0 || (size_t)written < ex->outgoing_len) {
		finish(ex, EDGE_GATEWAY_PROTOCOL, "sending to the gateway failed");
		return -1;
	}
	return 0;
}

static int
on_lws_event(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct lws_context *context = lws_get_context(wsi);
	exchange *ex = context != NULL ? lws_context_user(context) : NULL;

	if (ex == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
		/* user is the X509_STORE_CTX. Returning 0 keeps OpenSSL's verdict. */
		if (ex->target->allow_insecure_tls)
			X509_STORE_CTX_set_error((X509_STORE_CTX *)user, X509_V_OK);
		return 0;

	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		/* lws also reports a connection it drops at context destruction. */
		if (ex->finished) {
			ex->attempt_over = true;
			ex->wsi = NULL;
			return 0;
		}
		snprintf(ex->detail, sizeof(ex->detail), "%.*s",
		    in != NULL ? (int)(len < sizeof(ex->detail) ? len :
		    sizeof(ex->detail) - 1) : 0, in != NULL ? (const char *)in : "");
		finish(ex, EDGE_GATEWAY_UNREACHABLE, "%s",
		    describe_connect_error((const char *)in));
		ex->attempt_over = true;
		ex->wsi = NULL;
		return 0;

	case LWS_CALLBACK_CLIENT_ESTABLISHED: {
		uint64_t now = edge_gateway_now_us();
		uint64_t wait = (uint64_t)EDGE_GATEWAY_CHALLENGE_WAIT_MS * 1000u;

		if (now < ex->deadline_us && (ex->deadline_us - now) / 3 < wait)
			wait = (ex->deadline_us - now) / 3;
		ex->phase = PHASE_CHALLENGE;
		ex->challenge_until_us = now + wait;
		return 0;
	}

	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (ex->finished)
			return 0;
		receive_fragment(ex, wsi, in, len);
		if (!ex->finished)
			return 0;

		/* lws 4.1.6 overflows its receive buffer when this callback
		 * returns nonzero after lws_close_reason() and more frame bytes
		 * follow: it keeps parsing into the buffer while it waits for
		 * the close handshake. So a bad gateway gets its connection
		 * dropped without a close frame, and any other outcome closes
		 * from the writable callback, which leaves the parser alone. */
		if (ex->result->status == EDGE_GATEWAY_PROTOCOL)
			return -1;
		lws_callback_on_writable(wsi);
		return 0;

	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (ex->finished) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
			return -1;
		}
		return write_frame(ex, wsi);

	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		/* The gateway's error message, when one came, is more useful. */
		if (len >= 2 && ex->detail[0] == '\0') {
			const unsigned char *code = in;

			snprintf(ex->detail, sizeof(ex->detail), "close code %u",
			    (unsigned)code[0] << 8 | code[1]);
		}
		return 0;

	case LWS_CALLBACK_CLIENT_CLOSED:
		finish(ex, EDGE_GATEWAY_PROTOCOL,
		    "gateway closed the connection mid-exchange");
		ex->attempt_over = true;
		ex->wsi = NULL;
		return 0;

	case LWS_CALLBACK_WSI_DESTROY:
		ex->attempt_over = true;
		ex->wsi = NULL;
		return 0;

	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{ PROTOCOL_NAME, on_lws_event, 0, 4096, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* The timer only wakes lws_service(), and the loop checks the clock itself.
 * A timer that is already due when lws_service() starts runs before lws
 * computes its poll wait, and lws then sleeps until its own next event
 * (seconds away), so the callback also cancels that wait. */
static void
on_timer(lws_sorted_usec_list_t *timer)
{
	exchange *ex = lws_container_of(timer, exchange, timer);

	lws_cancel_service(ex->context);
}

static struct lws_context *
create_context(exchange *ex)
{
	struct lws_context_creation_info info;
	unsigned budget_s = ex->settings->timeout_ms / 1000u + 2u;

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	info.user = ex;
	/* lws's own timeouts must never fire before the deadline does. */
	info.timeout_secs = budget_s;
	info.connect_timeout_secs = budget_s;
	/* lws sizes its tables by this, and the default is the process's fd limit. */
	info.fd_limit_per_thread = 16;
	if (ex->tls != NULL) {
		info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.provided_client_ssl_ctx = ex->tls;
	}
	return lws_create_context(&info);
}

/* Starts the connection to address. */
static bool
start_connection(exchange *ex, const char *address)
{
	struct lws_client_connect_info info;

	memset(&info, 0, sizeof(info));
	info.context = ex->context;
	info.address = address;
	info.port = (int)ex->url.port;
	info.path = ex->url.path;
	info.host = ex->url.host_header;
	info.alpn = "http/1.1";
	info.local_protocol_name = PROTOCOL_NAME;
	info.pwsi = &ex->wsi;
	if (ex->url.tls) {
		/* The expected host is set on ex->tls, so lws's own check (which
		 * cannot handle a bracketed IPv6 host) is off.
		 * NOTE: lws 4.1.6 still sends the Host header cut at its first
		 * ':' as SNI, which is "[" for an IPv6 literal. Servers that
		 * select certificates by SNI may then pick their default one. */
		info.ssl_connection = LCCSCF_USE_SSL |
		    LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
		if (ex->target->allow_insecure_tls)
			info.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED |
			    LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
	}
	if (lws_client_connect_via_info(&info) == NULL) {
		/* lws can also reject the connection before any network step,
		 * for example when the URL's path does not fit its header buffer. */
		finish(ex, EDGE_GATEWAY_UNREACHABLE, "starting the connection failed");
		return false;
	}
	return true;
}

/* Returns when the next timed step is due. */
static uint64_t
next_wake_us(const exchange *ex)
{
	if (ex->finished)
		return ex->linger_until_us;
	if (ex->phase == PHASE_CHALLENGE && ex->challenge_until_us < ex->deadline_us)
		return ex->challenge_until_us;
	return ex->deadline_us;
}

static const char *
phase_waiting_for(phase current)
{
	switch (current) {
	case PHASE_UPGRADING:
		return "the connection";
	case PHASE_CHALLENGE:
		return "the challenge";
	case PHASE_CONNECT:
		return "the connect reply";
	case PHASE_SEND:
		return "the chat.send reply";
	}
	return "the gateway";
}

/* Runs one connection attempt to address until its outcome is known and
 * the connection is closed, or the close linger ends. */
static void
run_attempt(exchange *ex, const char *address)
{
	ex->phase = PHASE_UPGRADING;
	ex->attempt_over = ex->finished = ex->retry = false;
	ex->wsi = NULL;
	ex->incoming.len = 0;
	memset(&ex->timer, 0, sizeof(ex->timer));

	ex->context = create_context(ex);
	if (ex->context == NULL) {
		finish(ex, EDGE_GATEWAY_LOCAL, "creating the WebSocket context failed");
		return;
	}
	if (start_connection(ex, address)) {
		while (!ex->attempt_over) {
			uint64_t now = edge_gateway_now_us();

			if (ex->finished && now >= ex->linger_until_us)
				break;
			if (!ex->finished && now >= ex->deadline_us) {
				finish(ex, EDGE_GATEWAY_TIMEOUT,
				    "no reply within %u ms, waiting for %s",
				    ex->settings->timeout_ms,
				    phase_waiting_for(ex->phase));
				break;
			}
			if (!ex->finished && ex->phase == PHASE_CHALLENGE &&
			    now >= ex->challenge_until_us && !send_connect(ex, NULL))
				break;
			now = edge_gateway_now_us();
			lws_sul_schedule(ex->context, 0, &ex->timer, on_timer,
			    next_wake_us(ex) > now ?
			    (lws_usec_t)(next_wake_us(ex) - now) : 1);
			lws_service(ex->context, 0);
		}
	}
	lws_sul_cancel(&ex->timer);
	lws_context_destroy(ex->context);
	ex->context = NULL;
	ex->wsi = NULL;
	free(ex->outgoing);
	ex->outgoing = NULL;
}

static void
sleep_us(uint64_t us)
{
	struct timespec wait = { (time_t)(us / 1000000u),
	    (long)(us % 1000000u) * 1000 };

	while (nanosleep(&wait, &wait) != 0 && errno == EINTR)
		;
}

/* Runs attempts over the resolved addresses until one connects, and again
 * after each retryable refusal while the budget allows. */
static void
run_exchange(exchange *ex, char addresses[][INET6_ADDRSTRLEN], size_t count)
{
	size_t next = 0;

	for (;;) {
		uint64_t now, wait_us;

		run_attempt(ex, addresses[next]);
		now = edge_gateway_now_us();
		if (ex->retry) {
			wait_us = (uint64_t)(ex->result->retry_after_ms != 0 ?
			    ex->result->retry_after_ms :
			    EDGE_GATEWAY_DEFAULT_RETRY_MS) * 1000u;

			/* A retry that could not finish in time is not worth
			 * waiting for, so the refusal is the result. */
			if (now >= ex->deadline_us || wait_us >= ex->deadline_us - now)
				return;
			edge_log(EDGE_LOG_INFO, "gateway", "gateway %s unavailable, "
			    "retrying in %llu ms", ex->target->gateway_id,
			    (unsigned long long)(wait_us / 1000u));
			sleep_us(wait_us);
			continue;
		}
		if (ex->result->status == EDGE_GATEWAY_UNREACHABLE &&
		    next + 1 < count && now < ex->deadline_us) {
			next++;
			continue;
		}
		return;
	}
}

/* Logs the failure once: gateway id, host and port, never the URL. */
static void
log_failure(const exchange *ex)
{
	const edge_gateway_result *result = ex->result;

	edge_log(EDGE_LOG_ERROR, "gateway", "gateway %s at %s port %u: %s: %s%s%s",
	    ex->target->gateway_id != NULL ? ex->target->gateway_id : "(no id)",
	    ex->url.host[0] != '\0' ? ex->url.host : "(no host)", ex->url.port,
	    edge_gateway_status_str(result->status), result->reason,
	    ex->detail[0] != '\0' ? ": " : "", ex->detail);
}

/* Checks the inputs and prepares what every attempt shares: the URL, the
 * TLS context, the device key and the chat.send frame. */
static bool
prepare(exchange *ex, const char *session_key, const char *message,
    const char *idempotency_key)
{
	char why[80];
	edge_err err;

	if (ex->settings->timeout_ms == 0) {
		finish(ex, EDGE_GATEWAY_LOCAL, "gateway timeout is 0 ms");
		return false;
	}
	err = edge_gateway_url_parse(ex->target->url, &ex->url, why, sizeof(why));
	if (err != EDGE_OK) {
		finish(ex, EDGE_GATEWAY_LOCAL, err == EDGE_ERR_NOMEM ?
		    "out of memory" : "malformed gateway URL: %s", why);
		return false;
	}
	if (ex->url.tls) {
		ex->tls = edge_gateway_tls_context(ex->settings->ca_file,
		    ex->url.host, ex->url.ip_literal, ex->target->allow_insecure_tls);
		if (ex->tls == NULL) {
			finish(ex, EDGE_GATEWAY_LOCAL, "TLS setup failed");
			return false;
		}
	}
	if (!ex->target->disable_device_pairing && edge_gateway_device_load(
	    ex->settings->device_key_file, &ex->device) != EDGE_OK) {
		finish(ex, EDGE_GATEWAY_LOCAL, "gateway device key unusable");
		return false;
	}
	if (message == NULL)
		return true;

	if (session_key == NULL || session_key[0] == '\0' ||
	    idempotency_key == NULL || idempotency_key[0] == '\0') {
		finish(ex, EDGE_GATEWAY_LOCAL, "empty session or idempotency key");
		return false;
	}
	if (!edge_uuid_generate(ex->send_id)) {
		finish(ex, EDGE_GATEWAY_LOCAL, "random generator failed");
		return false;
	}
	ex->idempotency_key = idempotency_key;
	err = edge_gateway_frame_chat_send(ex->send_id, session_key, message,
	    idempotency_key, &ex->send_frame, &ex->send_frame_len);
	if (err != EDGE_OK) {
		finish(ex, EDGE_GATEWAY_LOCAL, err == EDGE_ERR_INVALID ?
		    "message or key is not valid UTF-8" : "out of memory");
		return false;
	}
	if (ex->send_frame_len > EDGE_GATEWAY_MAX_OUTGOING) {
		finish(ex, EDGE_GATEWAY_LOCAL, "message larger than %u bytes",
		    EDGE_GATEWAY_MAX_OUTGOING);
		return false;
	}
	return true;
}

static edge_gateway_status
exchange_with_gateway(const edge_gateway_settings *settings,
    const edge_gateway_target *target, const char *session_key,
    const char *message, const char *idempotency_key,
    edge_gateway_result *result)
{
	char addresses[EDGE_GATEWAY_MAX_ADDRESSES][INET6_ADDRSTRLEN];
	static bool lws_logs_routed;
	exchange ex;
	size_t count;
	edge_err err;

	memset(result, 0, sizeof(*result));
	memset(&ex, 0, sizeof(ex));
	ex.settings = settings;
	ex.target = target;
	ex.result = result;
	ex.deadline_us = edge_gateway_now_us() +
	    (uint64_t)settings->timeout_ms * 1000u;
	if (!lws_logs_routed) {
		lws_set_log_level(LLL_ERR | LLL_WARN, emit_lws_line);
		lws_logs_routed = true;
	}

	if (prepare(&ex, session_key, message, idempotency_key)) {
		err = edge_gateway_url_resolve(&ex.url, ex.deadline_us, addresses,
		    &count);
		if (err == EDGE_OK) {
			run_exchange(&ex, addresses, count);
		} else if (err == EDGE_ERR_TIMEOUT) {
			finish(&ex, EDGE_GATEWAY_TIMEOUT, "host name lookup timed out");
		} else if (err == EDGE_ERR_NOT_FOUND) {
			finish(&ex, EDGE_GATEWAY_UNREACHABLE, "host name not found");
		} else {
			finish(&ex, EDGE_GATEWAY_LOCAL, "out of memory");
		}
	}

	if (result->status == EDGE_GATEWAY_OK) {
		result->error_code[0] = '\0';
		result->retryable = false;
		result->retry_after_ms = 0;
	} else {
		log_failure(&ex);
	}
	edge_gateway_url_free(&ex.url);
	edge_gateway_device_free(ex.device);
	SSL_CTX_free(ex.tls);
	if (ex.send_frame != NULL) {
		OPENSSL_cleanse(ex.send_frame, ex.send_frame_len);
		free(ex.send_frame);
	}
	edge_buf_free(&ex.incoming);
	return result->status;
}

edge_gateway_status
edge_gateway_chat_send(const edge_gateway_settings *settings,
    const edge_gateway_target *target, const char *session_key,
    const char *message, const char *idempotency_key,
    edge_gateway_result *result)
{
	if (message == NULL)
		message = "";
	return exchange_with_gateway(settings, target, session_key, message,
	    idempotency_key, result);
}

edge_gateway_status
edge_gateway_probe(const edge_gateway_settings *settings,
    const edge_gateway_target *target, edge_gateway_result *result)
{
	return exchange_with_gateway(settings, target, NULL, NULL, NULL, result);
}
