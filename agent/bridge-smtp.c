/* bridge-smtp.c — the bridge's SMTP sessions: a message submitted by a
 * logged-in account takes send's path (outgoing.h: limits, scan, policy,
 * encryption, signature, outbox), and its reply is the outcome. */
#include "bridge-smtp.h"

#include "call.h"

#include "net/smtp-server.h"
#include "outgoing.h"
#include "sender.h"
#include "util/error.h"

static gboolean
smtp_auth (gpointer data, const char *mechanism, const char *user, const char *password)
{
  return pst_bridge_conn_login (data, mechanism, user, password);
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
              guint *code_out, char **text_out)
{
  PstBridgeConn *conn = data;
  PstPolicySettings overrides = { 0 };
  g_autoptr (PstQueued) queued = NULL;
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
  queued = pst_outgoing_queue (conn->agent, message, conn->account, (const char *const *) rcpts,
                               &overrides, &error);
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
  static const PstSmtpServerHooks hooks = { smtp_auth, smtp_message };
  g_autoptr (PstSmtpServer) s = pst_smtp_server_new ("localhost", conn->ctx != NULL, &hooks,
                                                     conn);

  G_STATIC_ASSERT ((int) PST_SMTP_SERVER_START_TLS == (int) PST_BRIDGE_START_TLS);
  G_STATIC_ASSERT ((int) PST_SMTP_SERVER_CLOSE == (int) PST_BRIDGE_CLOSE);
  pst_bridge_conn_run (conn, &smtp_proto, s);
}
