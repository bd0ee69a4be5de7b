/* smtp.h — a sans-I/O SMTP submission client engine (RFC 5321, RFC 6409, RFC 3207).
 *
 * The engine holds no socket.  The driver feeds it the bytes it read from the
 * server (pst_smtp_session_feed), writes out whatever the engine queued
 * (pst_smtp_session_get_output / pst_smtp_session_consume_output), and asks
 * it what to do next (pst_smtp_session_next_event).  It can therefore be fed
 * one byte at a time in tests.
 *
 * Security rules the engine enforces itself, whatever the server says:
 *  - with PST_SMTP_TLS_STARTTLS the engine sends nothing but EHLO and STARTTLS
 *    before the driver reports a verified TLS session; a server that does not
 *    offer STARTTLS, or refuses it, is an error and no credential is queued;
 *  - when the 220 reply to STARTTLS arrives with more bytes buffered behind it
 *    (response injection), the session fails;
 *  - after TLS the capabilities are forgotten and EHLO is sent again;
 *  - AUTH is never queued before pst_smtp_session_tls_started().
 */
#pragma once

#include <glib.h>

#include "net/sasl.h"

G_BEGIN_DECLS

typedef struct _PstSmtpSession PstSmtpSession;

typedef enum {
  PST_SMTP_TLS_STARTTLS,   /* smtp://   plain connect, STARTTLS required */
  PST_SMTP_TLS_IMPLICIT,   /* smtps://  the driver did TLS before the greeting */
} PstSmtpTlsMode;

typedef enum {
  PST_SMTP_EVENT_WANT_READ,     /* feed more bytes from the server */
  PST_SMTP_EVENT_WANT_TLS,      /* do the TLS handshake now, then call tls_started() */
  PST_SMTP_EVENT_READY,         /* authenticated, idle: begin a message or quit */
  PST_SMTP_EVENT_WANT_BODY,     /* envelope accepted: stream the body, then body_end() */
  PST_SMTP_EVENT_SENT,          /* the server accepted the final dot (reply in code/text) */
  PST_SMTP_EVENT_REJECTED,      /* the message was refused (code/text say why; idle again) */
  PST_SMTP_EVENT_DONE,          /* QUIT answered, or the server closed after QUIT */
  PST_SMTP_EVENT_ERROR,         /* the session failed: see pst_smtp_session_get_error() */
} PstSmtpEventType;

/* The name the agent gives in EHLO: an address literal that says nothing
 * about the machine or the user (RFC 5321 §4.1.4 allows a literal; a
 * submission server authenticates the user, not the name). */
#define PST_SMTP_EHLO_NAME "[127.0.0.1]"

/* Creates a session.  @helo_name is the name sent in EHLO: a domain or an
 * address literal in printable ASCII; anything else (or NULL) is replaced by
 * "localhost".  Transfer full. */
PstSmtpSession *pst_smtp_session_new (const char *helo_name, PstSmtpTlsMode mode);
/* Frees @session and wipes the credentials and queued bytes.  NULL is allowed. */
void pst_smtp_session_free (PstSmtpSession *session);

/* Credentials (copied; the engine wipes its copy when freed).  AUTH uses
 * the strongest mechanism that the server offers after TLS and the
 * credentials allow (pst_sasl_choose).  Without credentials the engine does
 * not authenticate.  set_auth is the user-and-password shorthand. */
void pst_smtp_session_set_credentials (PstSmtpSession *session, const PstSaslCredentials *creds);
void pst_smtp_session_set_auth (PstSmtpSession *session, const char *user, const char *password);
/* The TLS session's channel binding (pst_conn_get_channel_binding), for
 * SCRAM-SHA-256-PLUS: the only way the engine takes it (the credentials'
 * cb_type and cb_data are ignored).  Call before tls_started (implicit
 * TLS: before the first feed), before or after set_credentials. */
void pst_smtp_session_set_channel_binding (PstSmtpSession *session, const char *type, GBytes *data);

/* Hands the engine bytes read from the server (copied).  Returns FALSE (and
 * the next event is ERROR) when the input is malformed or the session
 * failed.  Bytes that arrive while the engine waits for the TLS handshake
 * fail the session (plaintext injection).  Limits: a reply line at most 4096
 * bytes, a reply at most 100 lines. */
gboolean pst_smtp_session_feed (PstSmtpSession *session, const guint8 *data, gsize len,
                                GError **error);
/* The server closed the connection. */
void pst_smtp_session_feed_eof (PstSmtpSession *session);

/* Bytes the driver must write to the server, in order.  The pointer is valid
 * until the next call into the engine.  After writing n of them, call
 * consume_output(n). */
const guint8 *pst_smtp_session_get_output (PstSmtpSession *session, gsize *len_out);
void pst_smtp_session_consume_output (PstSmtpSession *session, gsize n);

/* What the driver should do next (see PstSmtpEventType).  SENT and REJECTED
 * are reported once each; the following call returns the next state.  ERROR
 * is final: once the session failed every call returns it. */
PstSmtpEventType pst_smtp_session_next_event (PstSmtpSession *session);

/* The driver finished the TLS handshake and verified the server.  Only valid
 * after WANT_TLS (ignored in PST_SMTP_TLS_IMPLICIT mode). */
void pst_smtp_session_tls_started (PstSmtpSession *session);

/* Starts a transaction (MAIL FROM, RCPT TO..., DATA).  Only valid in READY.
 * @reverse_path may be "" (the null sender); @recipients is NULL-terminated
 * and not empty.  Addresses are sent inside <>; one holding a control
 * character, a space or '<'/'>', or longer than 256 bytes, is refused
 * (PST_ERROR_USAGE) before anything is queued.  With PIPELINING the commands
 * go out together (RFC 2920), else one at a time.  If MAIL is refused or
 * every RCPT is, the event is REJECTED (with the first refusal in
 * code/text), RSET is sent and the session is READY again; if only some
 * recipients are refused the transaction goes on (see
 * pst_smtp_session_get_rejected_recipients). */
gboolean pst_smtp_session_begin_message (PstSmtpSession *session, const char *reverse_path,
                                         const char *const *recipients, GError **error);
/* What the engine must know of a message to send it right: its size
 * (bytes as stored; 0 = unknown), whether its body has 8-bit bytes, and
 * whether its headers hold non-ASCII (UTF-8) text. */
typedef struct {
  guint64 size;
  gboolean eight_bit;
  gboolean utf8_headers;
} PstSmtpMessageInfo;

/* Whether @path can be a reverse path (@reverse: may be empty) or a
 * recipient in MAIL FROM / RCPT TO: printable ASCII or UTF-8, no space or
 * angle bracket, at most 255 bytes.  begin_message refuses the others. */
gboolean pst_smtp_path_is_valid (const char *path, gboolean reverse);

/* begin_message with what @info says: "SIZE=n" (RFC 1870), "BODY=8BITMIME"
 * (RFC 6152) and "SMTPUTF8" (RFC 6531) on MAIL when they apply.  A message
 * larger than the server's SIZE, with 8-bit content for a server without
 * 8BITMIME, or needing SMTPUTF8 that the server lacks, is REJECTED at once
 * (codes 552, 554, 553; nothing is sent).  @info may be NULL. */
gboolean pst_smtp_session_begin_message_with (PstSmtpSession *session, const char *reverse_path,
                                              const char *const *recipients,
                                              const PstSmtpMessageInfo *info, GError **error);

/* Message bytes, any chunking; bare LF (and bare CR) is sent as CRLF, lines
 * starting with '.' are dot-stuffed.  Only valid after WANT_BODY. */
void pst_smtp_session_body (PstSmtpSession *session, const guint8 *data, gsize len);
/* Ends the body (CRLF if needed, then "."). */
void pst_smtp_session_body_end (PstSmtpSession *session);
/* Sends QUIT.  Only valid in READY. */
void pst_smtp_session_quit (PstSmtpSession *session);

/* The last reply: code (e.g. 250) and text (all lines joined by '\n').
 * Owned by the session, valid until the next feed. */
guint pst_smtp_session_get_reply_code (PstSmtpSession *session);
const char *pst_smtp_session_get_reply_text (PstSmtpSession *session);

/* A recipient the server refused in the current (or last) transaction. */
typedef struct {
  char *recipient;   /* as given to begin_message */
  guint code;        /* the RCPT reply, e.g. 550 */
  char *text;
} PstSmtpRecipientError;

/* The recipients whose RCPT TO was refused (4xx/5xx) in the current or last
 * transaction, in order: array of PstSmtpRecipientError, owned by the
 * session, valid until the next begin_message.  Empty when all were
 * accepted, and when MAIL FROM itself was refused. */
const GArray *pst_smtp_session_get_rejected_recipients (PstSmtpSession *session);

/* The error that ended the session (PST_ERROR_NETWORK), or NULL.  Owned by the
 * session.  Its message never holds the credentials. */
const GError *pst_smtp_session_get_error (PstSmtpSession *session);

/* Whether the server (after TLS, if any) offered extension @name (e.g.
 * "PIPELINING", "AUTH"). */
gboolean pst_smtp_session_has_extension (PstSmtpSession *session, const char *name);
/* Its parameters ("PLAIN SCRAM-SHA-256" for AUTH), or NULL.  Owned by the session. */
const char *pst_smtp_session_get_extension (PstSmtpSession *session, const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstSmtpSession, pst_smtp_session_free)

G_END_DECLS
