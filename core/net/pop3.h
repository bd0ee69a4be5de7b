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

PstPop3Session *pst_pop3_session_new (PstPop3TlsMode mode);
void pst_pop3_session_free (PstPop3Session *session);

/* USER/PASS credentials; copied and wiped on free. */
void pst_pop3_session_set_auth (PstPop3Session *session, const char *user, const char *password);

gboolean pst_pop3_session_feed (PstPop3Session *session, const guint8 *data, gsize len,
                                GError **error);
void pst_pop3_session_feed_eof (PstPop3Session *session);
const guint8 *pst_pop3_session_get_output (PstPop3Session *session, gsize *len_out);
void pst_pop3_session_consume_output (PstPop3Session *session, gsize n);
PstPop3EventType pst_pop3_session_next_event (PstPop3Session *session);
void pst_pop3_session_tls_started (PstPop3Session *session);

/* After READY: the server's UIDL list, in order.  Array of PstPop3Uidl,
 * owned by the session. */
const GArray *pst_pop3_session_get_uidls (PstPop3Session *session);

/* Commands; each only valid in READY. */
void pst_pop3_session_retr (PstPop3Session *session, guint msgno);
void pst_pop3_session_dele (PstPop3Session *session, guint msgno);
void pst_pop3_session_quit (PstPop3Session *session);

/* After a DATA event: the chunk (un-dot-stuffed, CRLF line ends kept).
 * Valid until the next call into the engine. */
const guint8 *pst_pop3_session_take_data (PstPop3Session *session, gsize *len_out);

/* The last status line's text (after "+OK "/"-ERR "). Owned by the session. */
const char *pst_pop3_session_get_reply_text (PstPop3Session *session);
const GError *pst_pop3_session_get_error (PstPop3Session *session);
gboolean pst_pop3_session_has_capability (PstPop3Session *session, const char *name);

G_END_DECLS
