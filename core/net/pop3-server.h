/* pop3-server.h — the server side of POP3 (RFC 1939, 2449 CAPA, 2595
 * STLS), sans I/O, for the agent's local bridge (DESIGN.md §14).
 *
 * The driver feeds the bytes it read and writes what the session queues.
 * It answers the session through hooks: whether a user and password are
 * good (and then what the maildrop holds, given with add_message), the
 * text of a message, and the deletions to make at QUIT (RFC 1939's UPDATE
 * state).  Messages go out with CRLF line ends and dot-stuffed.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _PstPop3Server PstPop3Server;

typedef enum {
  PST_POP3_LOGIN_OK,        /* the maildrop's messages were given with add_message */
  PST_POP3_LOGIN_REFUSED,   /* wrong user or password */
  PST_POP3_LOGIN_IN_USE,    /* right, but another session holds the maildrop (RFC 2449 IN-USE) */
} PstPop3Login;

typedef struct {
  /* Whether @user may log in with @password (compared in constant time by
   * the driver); on PST_POP3_LOGIN_OK the driver has given the maildrop's
   * messages with pst_pop3_server_add_message. */
  PstPop3Login (*auth) (gpointer data, PstPop3Server *s, const char *user, const char *password);
  /* The message @index (0-based, in add_message's order), or NULL with
   * @error (its message is the -ERR text). */
  GBytes *(*retrieve) (gpointer data, guint index, GError **error);
  /* Deletes the @n messages @indices (QUIT after DELE); FALSE with @error
   * when it could not (then the -ERR says so). */
  gboolean (*commit) (gpointer data, const guint *indices, guint n, GError **error);
} PstPop3ServerHooks;

typedef enum {
  PST_POP3_SERVER_CONTINUE,   /* write the output, read more */
  PST_POP3_SERVER_START_TLS,  /* write the output (+OK), handshake, then tls_started */
  PST_POP3_SERVER_CLOSE,      /* write the output, then close */
} PstPop3ServerAction;

/* A session; @tls_available: STLS is offered.  The greeting is queued. */
PstPop3Server *pst_pop3_server_new (gboolean tls_available, const PstPop3ServerHooks *hooks,
                                    gpointer data);
void pst_pop3_server_free (PstPop3Server *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstPop3Server, pst_pop3_server_free)

/* For the auth hook: one message of the maildrop, its UIDL (1 to 70
 * printable characters, RFC 1939 §7) and its size in octets (as LIST and
 * STAT say; RETR sends what retrieve gives). */
void pst_pop3_server_add_message (PstPop3Server *s, const char *uidl, gsize size);

/* Takes @len bytes from the client (may be 0) and answers the complete
 * commands in them, in order, until the output holds more than
 * PST_POP3_SERVER_OUTPUT_HIGH bytes: a client that pipelines a thousand
 * RETRs is answered a few at a time.  Then pst_pop3_server_stalled says
 * so, and the driver writes the output and feeds nothing to go on.  Input
 * after STLS, up to the handshake, is dropped. */
PstPop3ServerAction pst_pop3_server_feed (PstPop3Server *s, const guint8 *data, gsize len);
#define PST_POP3_SERVER_OUTPUT_HIGH (1024 * 1024)
/* Whether the last feed stopped with commands left unanswered because the
 * output was full. */
gboolean pst_pop3_server_stalled (PstPop3Server *s);
void pst_pop3_server_feed_eof (PstPop3Server *s);
void pst_pop3_server_tls_started (PstPop3Server *s);
/* An -ERR that ends the session (idle too long, the agent stopping);
 * nothing is deleted. */
void pst_pop3_server_shutdown (PstPop3Server *s, const char *why);

const guint8 *pst_pop3_server_get_output (PstPop3Server *s, gsize *len_out);
void pst_pop3_server_consume_output (PstPop3Server *s, gsize n);

/* The user who logged in, or NULL.  Owned by @s. */
const char *pst_pop3_server_get_user (PstPop3Server *s);

G_END_DECLS
