/* lineproto.h — the shell that the line protocol engines (smtp.c, pop3.c)
 * share: what every sans-I/O client of a CRLF line protocol does the same
 * way, so that each engine holds only its protocol.
 *
 *  - input: the bytes the driver read, handed out as lines of at most a
 *    set length (a longer one fails the session), or as raw bytes for
 *    streamed data; the end of the stream is remembered;
 *  - output: one queue of bytes for the driver to write.  Once the session
 *    failed nothing more is queued: nothing may reach the server from a
 *    failed session;
 *  - failure: the first error wins and is kept (PST_ERROR_NETWORK); the
 *    queue is dropped at that moment;
 *  - server text in errors and replies goes through one sanitiser, so that
 *    no control character from the server reaches a message or a log;
 *  - credentials: copied in, wiped when replaced or freed (util/secret.h),
 *    and the TLS channel binding, which is the connection's and not the
 *    account's: it is given one way only, pst_lineproto_set_channel_binding,
 *    before or after the credentials;
 *  - SASL: the AUTH command and each response go straight into the output
 *    queue, whose bytes are wiped as they leave it (linebuf.h).
 *
 * Everything queued and everything taken is wiped as it leaves the buffers.
 */
#pragma once

#include <glib.h>

#include "net/linebuf.h"
#include "net/sasl.h"

G_BEGIN_DECLS

typedef struct _PstLineProto PstLineProto;

/* Creates a shell named @name ("SMTP", "POP3": only for traces) whose input
 * lines may be at most @max_line bytes long, without CRLF.  Transfer full. */
PstLineProto *pst_lineproto_new (const char *name, gsize max_line);
/* Frees @lp, wiping the credentials, the channel binding's copy and every
 * buffered byte.  NULL is allowed. */
void pst_lineproto_free (PstLineProto *lp);

/* --- Input ---------------------------------------------------------------- */

/* Appends bytes read from the server (copied).  Nothing is taken once the
 * session failed or was closed (pst_lineproto_close); FALSE then. */
gboolean pst_lineproto_feed (PstLineProto *lp, const guint8 *data, gsize len);
/* The server closed the connection. */
void pst_lineproto_feed_eof (PstLineProto *lp);
/* Whether feed_eof was called. */
gboolean pst_lineproto_at_eof (PstLineProto *lp);
/* The engine is done (QUIT answered): later input is ignored. */
void pst_lineproto_close (PstLineProto *lp);

/* Takes the next line, as pst_linebuf_take_line does: on PST_LINEBUF_LINE
 * *@line_out is the line without its terminator, NUL-terminated (it may
 * hold other NUL bytes: use *@len_out), owned by @lp and valid until the
 * next call on @lp.  PST_LINEBUF_TOO_LONG: the line at the head is longer
 * than max_line; the engine fails the session in its own words. */
PstLinebufResult pst_lineproto_take_line (PstLineProto *lp, const char **line_out,
                                          gsize *len_out);
/* The input not taken yet, complete lines and partial ones (e.g. a message
 * body streamed by the engine).  Owned by @lp, valid until the next call
 * that feeds, takes or consumes.  NULL (and 0) when empty. */
const guint8 *pst_lineproto_peek_input (PstLineProto *lp, gsize *len_out);
void pst_lineproto_consume_input (PstLineProto *lp, gsize n);
/* How many input bytes are buffered and not taken. */
gsize pst_lineproto_pending_input (PstLineProto *lp);

/* --- Output --------------------------------------------------------------- */

/* Queues one command line (formatted) and CRLF.  Not for secrets: the
 * formatted copy is not wiped (see send_secret_line). */
void pst_lineproto_send_line (PstLineProto *lp, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* Queues @line (a password, a SASL response) and CRLF with no copy made
 * on the way. */
void pst_lineproto_send_secret_line (PstLineProto *lp, const char *line);
/* Queues @len bytes as they are (message data, a BDAT chunk). */
void pst_lineproto_send (PstLineProto *lp, const void *data, gsize len);

/* Bytes the driver must write, in order; valid until the next call on @lp.
 * After writing n of them, consume_output(n). */
const guint8 *pst_lineproto_get_output (PstLineProto *lp, gsize *len_out);
void pst_lineproto_consume_output (PstLineProto *lp, gsize n);

/* --- Failure -------------------------------------------------------------- */

/* Fails the session with a PST_ERROR_NETWORK error, unless it had failed:
 * the first failure is the one reported.  Drops the queued output.  Server
 * text given in the arguments must have been sanitised. */
void pst_lineproto_fail (PstLineProto *lp, const char *format, ...) G_GNUC_PRINTF (2, 3);
gboolean pst_lineproto_failed (PstLineProto *lp);
/* The error that ended the session, or NULL.  Owned by @lp. */
const GError *pst_lineproto_get_error (PstLineProto *lp);
/* TRUE when the session has not failed; else FALSE with a copy of its
 * error in @error. */
gboolean pst_lineproto_check (PstLineProto *lp, GError **error);

/* Server text (@len bytes, which may hold NUL) made safe for a message or
 * a log: every control character becomes '?' (a tab a space), bytes that
 * are not UTF-8 are replaced.  Transfer full. */
char *pst_lineproto_sanitize (const char *text, gsize len);

/* Writes "NAME: state @state" to the debug log: the engines call it on
 * every change of state, so that a trace shows where a session went. */
void pst_lineproto_trace (PstLineProto *lp, const char *state);

/* --- Credentials and SASL ------------------------------------------------- */

/* Keeps a copy of @creds (NULL: none), wiping the copy it held.  Their
 * cb_type and cb_data are not taken: the channel binding is the TLS
 * session's, set with set_channel_binding. */
void pst_lineproto_set_credentials (PstLineProto *lp, const PstSaslCredentials *creds);
/* The TLS session's channel binding (pst_conn_get_channel_binding), for
 * the -PLUS mechanisms: any time before AUTH, in any order with the
 * credentials.  @data NULL clears it. */
void pst_lineproto_set_channel_binding (PstLineProto *lp, const char *type, GBytes *data);
/* The credentials with the channel binding, or NULL.  Owned by @lp, valid
 * until the next set_credentials or set_channel_binding. */
const PstSaslCredentials *pst_lineproto_get_credentials (PstLineProto *lp);

/* Starts SASL with @mech and queues the AUTH command.  FALSE when it could
 * not start (the session failed with why). */
gboolean pst_lineproto_auth_begin (PstLineProto *lp, const char *mech);
/* Answers the server's challenge (base64) with the next response.  FALSE
 * when the challenge is wrong (the session failed with why). */
gboolean pst_lineproto_auth_step (PstLineProto *lp, const char *challenge);
/* Whether the exchange finished with the server proven (pst_sasl_complete). */
gboolean pst_lineproto_auth_complete (PstLineProto *lp);
/* The mechanism in use, or NULL before auth_begin.  Owned by @lp. */
const char *pst_lineproto_auth_mechanism (PstLineProto *lp);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstLineProto, pst_lineproto_free)

G_END_DECLS
