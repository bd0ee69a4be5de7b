/* smtp-server.h — the server side of SMTP submission (RFC 5321, 6409,
 * 3207 STARTTLS, 4954 AUTH PLAIN/LOGIN, 2920 PIPELINING), sans I/O, for
 * the agent's local bridge (DESIGN.md §14).
 *
 * The driver feeds the bytes it read and writes what the session queues;
 * the session asks the driver two things through hooks, synchronously:
 * whether a user and password are good, and what becomes of a message
 * (the reply to its final dot).  It never reads or writes a socket itself.
 * Every complete command in the input is answered in order, so clients
 * that pipeline are served as those that do not.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The longest message (after dot-unstuffing) a session takes unless told
 * otherwise (pst_smtp_server_set_max_message): 552 past it. */
#define PST_SMTP_SERVER_MAX_MESSAGE (64u * 1024 * 1024)
/* With a spill hook, what a session holds of a message at most before it
 * hands it on. */
#define PST_SMTP_SERVER_SPILL (1024u * 1024)

typedef struct {
  /* Whether @user may log in with @password (compared in constant time by
   * the driver).  @mechanism is "PLAIN" or "LOGIN", for the log. */
  gboolean (*auth) (gpointer data, const char *mechanism, const char *user, const char *password);
  /* A message for @rcpts (NULL-terminated) from @from (the reverse path,
   * maybe "") submitted by @user: *@code_out (250, 4xx or 5xx) and
   * *@text_out (transfer full; "2.0.0 queued as 12", "5.7.1 …", one line)
   * are the reply to the final dot.  @spilled: the message began in what
   * @spill took, and @message is the rest. */
  void (*message) (gpointer data, const char *user, const char *from, char **rcpts,
                   GBytes *message, gboolean spilled, guint *code_out, char **text_out);
  /* Optional (NULL: the message is held whole): takes a message's text as
   * it comes, in pieces of PST_SMTP_SERVER_SPILL bytes or a line more
   * (@first: the first of a message).  Non-NULL (transfer full) is why a
   * piece could not be kept: the rest is not taken, and the final dot is
   * answered 451 with it.  The session wipes what it held once handed on.
   * @piece NULL: what was taken of the message will not be handed to
   * @message (too large, the transaction or the session ended): let it go. */
  char *(*spill) (gpointer data, const guint8 *piece, gsize len, gboolean first);
} PstSmtpServerHooks;

typedef struct _PstSmtpServer PstSmtpServer;

typedef enum {
  PST_SMTP_SERVER_CONTINUE,   /* write the output, read more */
  PST_SMTP_SERVER_START_TLS,  /* write the output (the 220), then handshake and call
                               * pst_smtp_server_tls_started (or close on failure) */
  PST_SMTP_SERVER_CLOSE,      /* write the output, then close the connection */
} PstSmtpServerAction;

/* A session that greets as @hostname; @tls_available: STARTTLS is offered.
 * The greeting is queued.  Transfer full. */
PstSmtpServer *pst_smtp_server_new (const char *hostname, gboolean tls_available,
                                    const PstSmtpServerHooks *hooks, gpointer data);
void pst_smtp_server_free (PstSmtpServer *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstSmtpServer, pst_smtp_server_free)

/* The cap on a message's size (default PST_SMTP_SERVER_MAX_MESSAGE). */
void pst_smtp_server_set_max_message (PstSmtpServer *s, gsize max);

/* Takes @len bytes read from the client and answers every complete
 * command in them.  Input after a STARTTLS command, up to the handshake, is
 * dropped (RFC 3207 §4.2: nothing sent in the clear may count after it). */
PstSmtpServerAction pst_smtp_server_feed (PstSmtpServer *s, const guint8 *data, gsize len);
/* The client closed the connection. */
void pst_smtp_server_feed_eof (PstSmtpServer *s);
/* The handshake succeeded: the session starts again (RFC 3207 §4.2),
 * waiting for EHLO, with what the client said before forgotten. */
void pst_smtp_server_tls_started (PstSmtpServer *s);
/* A 421 that ends the session (idle too long, the agent stopping). */
void pst_smtp_server_shutdown (PstSmtpServer *s, const char *why);

/* The bytes to write, valid until the next call on @s; after writing n of
 * them, consume_output (n).  Replies may hold nothing secret. */
const guint8 *pst_smtp_server_get_output (PstSmtpServer *s, gsize *len_out);
void pst_smtp_server_consume_output (PstSmtpServer *s, gsize n);

/* The user who logged in, or NULL.  Owned by @s. */
const char *pst_smtp_server_get_user (PstSmtpServer *s);

G_END_DECLS
