/* bridge-smtp.c — the bridge's SMTP sessions: a message submitted by a
 * logged-in account takes send's path (outgoing.h: limits, scan, policy,
 * encryption, signature, outbox), and its reply is the outcome.  A message
 * is kept as it comes in an unnamed file of the agent's once it passes
 * PST_SMTP_SERVER_SPILL, and queued from there as `postern send` queues a
 * file (outgoing-stream.h): memory does not grow with it. */
#include "bridge-smtp.h"

#include "call.h"

#include "net/smtp-server.h"
#include "outgoing-stream.h"
#include "sender.h"
#include "util/error.h"

typedef struct {
  PstBridgeConn *conn;
  PstOutgoingSpool *spool;   /* the message being read, past PST_SMTP_SERVER_SPILL */
} Session;

static gboolean
smtp_auth (gpointer data, const char *mechanism, const char *user, const char *password)
{
  Session *b = data;

  return pst_bridge_conn_login (b->conn, mechanism, user, password);
}

static char *
smtp_spill (gpointer data, const guint8 *piece, gsize len, gboolean first)
{
  Session *b = data;
  g_autoptr (GError) error = NULL;

  if (piece == NULL || first)
    g_clear_pointer (&b->spool, pst_outgoing_spool_free);
  if (piece == NULL)
    return NULL;
  if (first)
    b->spool = pst_outgoing_spool_new (b->conn->agent, &error);
  if (b->spool != NULL && pst_outgoing_spool_write (b->spool, piece, len, &error))
    return NULL;
  g_clear_pointer (&b->spool, pst_outgoing_spool_free);
  return g_strdup (error != NULL ? error->message
                                 : "the agent could not make a file to keep the message in");
}

/* The reply to a refusal: permanent for what the message or the policy
 * says, temporary for what may pass later (the store, the network). */
static void
refusal (const GError *error, guint *code_out, char **text_out)
{
  const char *enhanced = "4.3.0";

  *code_out = 451;
  if (error->domain == PST_ERROR)
    switch ((PstErrorCode) error->code)
      {
      case PST_ERROR_POLICY:
      case PST_ERROR_INFECTED:
        *code_out = 554;
        enhanced = "5.7.1";
        break;
      case PST_ERROR_FAILED:
      case PST_ERROR_USAGE:
        *code_out = 554;
        enhanced = "5.6.0";
        break;
      default:
        break;
      }
  *text_out = g_strdup_printf ("%s %s", enhanced, error->message);
}

static void
smtp_message (gpointer data, const char *user, const char *from, char **rcpts, GBytes *message,
              gboolean spilled, guint *code_out, char **text_out)
{
  Session *b = data;
  PstBridgeConn *conn = b->conn;
  PstPolicySettings overrides = { 0 };
  g_autoptr (PstQueued) queued = NULL;
  g_autoptr (PstOutgoingSpool) spool = g_steal_pointer (&b->spool);
  g_autoptr (GError) error = NULL;
  gint64 id;

  (void) from;   /* the envelope sender is the account's address, as with send */
  if (conn->account == NULL || g_strcmp0 (user, conn->account) != 0)
    {
      /* The engine's login and the connection's must be the same one. */
      *code_out = 451;
      *text_out = g_strdup ("4.7.0 log in again");
      return;
    }
  /* The RCPT TO list is the envelope, as sendmail's arguments are: those
   * not in To or Cc get a copy of their own, as a Bcc (outgoing.h). */
  if (!spilled)
    queued = pst_outgoing_queue (conn->agent, message, conn->account, (const char *const *) rcpts,
                                 &overrides, &error);
  else if (spool == NULL
           || !pst_outgoing_spool_write (spool, g_bytes_get_data (message, NULL),
                                         g_bytes_get_size (message), &error))
    {
      /* Kept in part: what may pass later. */
      *code_out = 451;
      *text_out = g_strdup_printf ("4.3.0 %s", error != NULL ? error->message
                                                              : "the message was not kept");
      return;
    }
  else
    queued = pst_outgoing_queue_spool (conn->agent, spool, conn->account,
                                       (const char *const *) rcpts, &overrides, &error);
  if (queued == NULL)
    {
      g_message ("bridge smtp: message from account %s refused: %s", conn->account,
                 error->message);
      refusal (error, code_out, text_out);
      return;
    }
  id = g_array_index (queued->ids, gint64, 0);
  g_message ("bridge smtp: account %s queued message %" G_GINT64_FORMAT " (%s%s)",
             conn->account, id, queued->encrypted ? "encrypted" : "not encrypted",
             queued->signed_ ? ", signed" : "");
  pst_senders_kick (conn->agent->senders, queued->account);
  *code_out = 250;
  *text_out = g_strdup_printf ("2.0.0 queued as %" G_GINT64_FORMAT " (%s%s%s%s)", id,
                               queued->encrypted ? "encrypted" : "not encrypted",
                               queued->signed_ ? ", signed" : "",
                               queued->scheme != PST_SCHEME_NONE ? ", " : "",
                               queued->scheme != PST_SCHEME_NONE
                                 ? pst_scheme_name (queued->scheme) : "");
}

static PstBridgeAction
feed (gpointer s, const guint8 *data, gsize len)
{
  return (PstBridgeAction) pst_smtp_server_feed (s, data, len);
}

static void
feed_eof (gpointer s)
{
  pst_smtp_server_feed_eof (s);
}

static void
tls_started (gpointer s)
{
  pst_smtp_server_tls_started (s);
}

static void
shutdown_session (gpointer s, const char *why)
{
  pst_smtp_server_shutdown (s, why);
}

static const guint8 *
get_output (gpointer s, gsize *len_out)
{
  return pst_smtp_server_get_output (s, len_out);
}

static void
consume_output (gpointer s, gsize n)
{
  pst_smtp_server_consume_output (s, n);
}

static const PstBridgeProto smtp_proto = {
  feed, feed_eof, tls_started, shutdown_session, get_output, consume_output, NULL,
};

void
pst_bridge_smtp_serve (PstBridgeConn *conn)
{
  /* Without unnamed files, a message is held whole (at most
   * PST_SMTP_SERVER_MAX_MESSAGE); with them, as send takes one. */
  static const PstSmtpServerHooks whole = { smtp_auth, smtp_message, NULL };
  static const PstSmtpServerHooks spooled = { smtp_auth, smtp_message, smtp_spill };
  gboolean spool = pst_outgoing_can_spool (conn->agent);
  Session b = { conn, NULL };
  g_autoptr (PstSmtpServer) s = pst_smtp_server_new ("localhost", conn->ctx != NULL,
                                                     spool ? &spooled : &whole, &b);

  G_STATIC_ASSERT ((int) PST_SMTP_SERVER_START_TLS == (int) PST_BRIDGE_START_TLS);
  G_STATIC_ASSERT ((int) PST_SMTP_SERVER_CLOSE == (int) PST_BRIDGE_CLOSE);
  if (spool)
    pst_smtp_server_set_max_message (s, (gsize) MIN (PST_OUTGOING_MAX_STREAM, G_MAXSIZE));
  pst_bridge_conn_run (conn, &smtp_proto, s);
  g_clear_pointer (&s, pst_smtp_server_free);
  pst_outgoing_spool_free (b.spool);
}
