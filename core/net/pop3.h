/* pop3.h — a sans-I/O POP3 client engine (RFC 1939, RFC 2449, RFC 2595).
 *
 * Same shape as smtp.h: feed() bytes from the server, write out
 * get_output(), act on next_event().  Message data from RETR comes out
 * un-dot-stuffed, in chunks, so that no message is ever held whole.
 *
 * Security rules the engine enforces itself:
 *  - with PST_POP3_TLS_STLS, nothing but CAPA and STLS is sent before
 *    pst_pop3_session_tls_started(); no STLS in CAPA, or -ERR to STLS, is an
 *    error and USER/PASS are never queued;
 *  - bytes buffered behind the +OK to STLS fail the session (injection);
 *  - CAPA is sent again after TLS and the old capabilities are forgotten;
 *  - a server without UIDL is an error (nothing can be fetched safely).
 */
#pragma once

#include <glib.h>

#include "net/sasl.h"

G_BEGIN_DECLS

typedef struct _PstPop3Session PstPop3Session;

typedef enum {
  PST_POP3_TLS_STLS,       /* pop3://   plain connect, STLS required */
  PST_POP3_TLS_IMPLICIT,   /* pop3s://  the driver did TLS before the greeting */
} PstPop3TlsMode;

typedef enum {
  PST_POP3_EVENT_WANT_READ,   /* feed more bytes */
  PST_POP3_EVENT_WANT_TLS,    /* do the TLS handshake now, then tls_started() */
  PST_POP3_EVENT_READY,       /* logged in and the UIDL list is known: retr/dele/quit */
  PST_POP3_EVENT_DATA,        /* a chunk of the message being retrieved: take_data() */
  PST_POP3_EVENT_RETR_DONE,   /* the message ended (the terminating "." was seen) */
  PST_POP3_EVENT_DELE_DONE,   /* +OK to DELE */
  PST_POP3_EVENT_DONE,        /* QUIT answered (deletions are committed now) */
  PST_POP3_EVENT_ERROR,       /* see pst_pop3_session_get_error() */
} PstPop3EventType;

typedef struct {
  guint msgno;
  char *uidl;
} PstPop3Uidl;

/* Creates a session.  Transfer full. */
PstPop3Session *pst_pop3_session_new (PstPop3TlsMode mode);
/* Frees @session and wipes the credentials and queued bytes.  NULL is allowed. */
void pst_pop3_session_free (PstPop3Session *session);

/* Credentials (copied, wiped when freed): SASL (RFC 5034) with the
 * strongest mechanism in CAPA's SASL line that they allow, else USER/PASS.
 * They are required: a session without them fails after CAPA.  A line
 * break in the user name or password is refused for USER/PASS (error,
 * nothing sent).  set_auth is the user-and-password shorthand. */
void pst_pop3_session_set_credentials (PstPop3Session *session, const PstSaslCredentials *creds);
/* The TLS channel binding for SCRAM-SHA-256-PLUS, as in smtp.h: the only
 * way the engine takes it; before or after set_credentials. */
void pst_pop3_session_set_channel_binding (PstPop3Session *session, const char *type, GBytes *data);
void pst_pop3_session_set_auth (PstPop3Session *session, const char *user, const char *password);

/* Bytes read from the server (copied).  FALSE (and the next event is ERROR)
 * when the input is malformed or the session failed.  Limits: a status or
 * list line at most 4096 bytes, CAPA at most 256 lines, UIDL at most
 * 1,000,000 entries; message lines from RETR are streamed and have none. */
gboolean pst_pop3_session_feed (PstPop3Session *session, const guint8 *data, gsize len,
                                GError **error);
/* The server closed the connection: an error unless QUIT was answered. */
void pst_pop3_session_feed_eof (PstPop3Session *session);
/* Bytes to write, valid until the next call into the engine; after writing
 * n of them, consume_output(n). */
const guint8 *pst_pop3_session_get_output (PstPop3Session *session, gsize *len_out);
void pst_pop3_session_consume_output (PstPop3Session *session, gsize n);
/* What to do next.  DATA, RETR_DONE and DELE_DONE are reported once each, in
 * the order of the commands; READY means no command is outstanding.  ERROR
 * is final: once the session failed every call returns it. */
PstPop3EventType pst_pop3_session_next_event (PstPop3Session *session);
/* The TLS handshake is done and the server verified.  Only valid after
 * WANT_TLS (ignored in PST_POP3_TLS_IMPLICIT mode). */
void pst_pop3_session_tls_started (PstPop3Session *session);

/* After READY: the server's UIDL list, in order.  Array of PstPop3Uidl,
 * owned by the session. */
const GArray *pst_pop3_session_get_uidls (PstPop3Session *session);

/* Commands; valid from the first READY on, until quit().  They may be given
 * before the earlier ones are answered: the engine sends them together when
 * the server offers PIPELINING (RFC 2449), else one at a time, and reports
 * their events in order.  -ERR to RETR or DELE, or to QUIT (deletions not
 * committed), is an ERROR. */
void pst_pop3_session_retr (PstPop3Session *session, guint msgno);
void pst_pop3_session_dele (PstPop3Session *session, guint msgno);
void pst_pop3_session_quit (PstPop3Session *session);

/* After a DATA event: the chunk (un-dot-stuffed, line ends as the server
 * sent them).  Valid until the next call into the engine. */
const guint8 *pst_pop3_session_take_data (PstPop3Session *session, gsize *len_out);

/* The message number that the last DATA, RETR_DONE or DELE_DONE refers to. */
guint pst_pop3_session_get_msgno (PstPop3Session *session);

/* The last status line's text (after "+OK "/"-ERR "). Owned by the session. */
const char *pst_pop3_session_get_reply_text (PstPop3Session *session);
/* The error that ended the session (PST_ERROR_NETWORK), or NULL.  Owned by
 * the session.  Its message never holds the credentials. */
const GError *pst_pop3_session_get_error (PstPop3Session *session);
/* Whether the last CAPA (after TLS, if any) listed @name (e.g. "UIDL"). */
gboolean pst_pop3_session_has_capability (PstPop3Session *session, const char *name);
/* Its parameters ("PLAIN SCRAM-SHA-256" for SASL), or NULL.  Owned by the session. */
const char *pst_pop3_session_get_capability (PstPop3Session *session, const char *name);
/* LOGIN-DELAY from CAPA (RFC 2449): the seconds the server wants between
 * two logins, or 0. */
guint pst_pop3_session_get_login_delay (PstPop3Session *session);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstPop3Session, pst_pop3_session_free)

G_END_DECLS
