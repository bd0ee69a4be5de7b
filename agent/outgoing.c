/* outgoing.c — see outgoing.h. */
#include "outgoing.h"

#include "events.h"
#include "mime/sevenbit.h"
#include "net/lineproto.h"
#include "net/smtp.h"
#include "protect.h"
#include "scan/scan.h"
#include "util/addr.h"
#include "util/error.h"

void
pst_queued_free (PstQueued *queued)
{
  if (queued == NULL)
    return;
  g_free (queued->account);
  g_clear_pointer (&queued->ids, g_array_unref);
  g_strfreev (queued->missing);
  g_strfreev (queued->not_recommended);
  g_strfreev (queued->encrypted_to);
  g_free (queued);
}

PstAccount *
pst_outgoing_account (PstAgent *agent, const char *name, const char *from, GError **error)
{
  PstAccount *a = NULL;

  if (name != NULL)
    {
      if ((a = pst_agent_get_account (agent, name, error)) != NULL
          && !pst_addr_equal (a->address, from))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                       "the From address %s is not the address of account %s (%s)", from,
                       a->name, a->address);
          g_clear_pointer (&a, pst_account_free);
        }
      return a;
    }
  g_mutex_lock (&agent->config_lock);
  {
    GPtrArray *accounts = pst_config_get_accounts (agent->config);
    for (guint i = 0; i < accounts->len && a == NULL; i++)
      {
        PstAccount *c = g_ptr_array_index (accounts, i);
        if (pst_addr_equal (c->address, from))
          a = pst_account_copy (c);
      }
  }
  g_mutex_unlock (&agent->config_lock);
  if (a == NULL)
    g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                 "no account has the From address %s; the agent sends only for its own accounts",
                 from);
  return a;
}

/* Whether @account may queue one more message this hour. */
static gboolean
hour_allows (PstAgent *agent, const PstAccount *account, GError **error)
{
  guint max_hour = account->max_per_hour ? account->max_per_hour : PST_DEFAULT_MAX_PER_HOUR;
  guint queued = 0;

  if (!pst_store_outbox_count_since (agent->store, account->name,
                                     g_get_real_time () / G_USEC_PER_SEC - 3600, &queued, error))
    return FALSE;
  if (queued >= max_hour)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                   "account %s queued %u messages in the last hour, its limit "
                   "(max_messages_per_hour = %u); nothing was sent", account->name, queued,
                   max_hour);
      return FALSE;
    }
  return TRUE;
}

/* Limits, so that the agent cannot be made a relay by whatever can reach
 * its socket: recipients per message, messages per hour (checked again
 * at the commit: pst_outgoing_commit). */
gboolean
pst_outgoing_check_limits (PstAgent *agent, const PstAccount *account, guint n, GError **error)
{
  guint max_rcpt = account->max_recipients ? account->max_recipients : PST_DEFAULT_MAX_RECIPIENTS;

  if (n > max_rcpt)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                   "the message has %u recipients; account %s allows at most %u "
                   "(max_recipients); nothing was sent", n, account->name, max_rcpt);
      return FALSE;
    }
  return hour_allows (agent, account, error);
}

/* Outgoing mail is scanned before it is encrypted (DESIGN.md §11): after,
 * no one can. */
gboolean
pst_outgoing_scan (PstAgent *agent, GInputStream *in, GError **error)
{
  gboolean delivers = FALSE;
  PstScanner *scanner = pst_agent_get_scanner (agent, &delivers);
  g_autofree char *found = NULL;
  PstScanVerdict v;

  if (scanner == NULL)
    return TRUE;
  v = pst_scanner_scan_stream (scanner, in, &found);
  if (v == PST_SCAN_INFECTED)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_INFECTED,
                   "the message is infected with %s; nothing was sent", found);
      return FALSE;
    }
  if (v == PST_SCAN_ERROR && !delivers)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "the message could not be scanned (%s); nothing was sent "
                   "(on_scan_error = quarantine)", found);
      return FALSE;
    }
  if (v == PST_SCAN_ERROR)
    g_warning ("sending unscanned: %s (on_scan_error = deliver)", found);
  return TRUE;
}

static gboolean
scan (PstAgent *agent, GBytes *input, GError **error)
{
  g_autoptr (GInputStream) in = g_memory_input_stream_new_from_bytes (input);

  return pst_outgoing_scan (agent, in, error);
}

/* Writes one protected copy, with its 8-bit facts, into a new outbox
 * writer, uncommitted.  Transfer full. */
static PstStoreWriter *
enqueue (PstAgent *agent, const PstAccount *account, const char *from, const PstOutgoing *out,
         GError **error)
{
  g_autoptr (PstStoreWriter) writer = NULL;
  gboolean header_8bit = FALSE, any_8bit = pst_mime_has_8bit (out->data, &header_8bit);
  gsize len;
  const guint8 *data = g_bytes_get_data (out->data, &len);

  if (!(writer = pst_store_outbox_begin (agent->store, account->name, from,
                                         (const char *const *) out->envelope, error))
      || !pst_store_writer_write (writer, data, len, error)
      || !pst_store_writer_set_8bit (writer, any_8bit, header_8bit, error))
    return NULL;
  return g_steal_pointer (&writer);
}

/* Addresses SMTP cannot carry are refused now, not by the sender later. */
gboolean
pst_outgoing_check_paths (const PstPlainMessage *plain, GError **error)
{
  const char *bad = plain->from != NULL && !pst_smtp_path_is_valid (plain->from, TRUE)
                      ? plain->from : NULL;

  for (guint i = 0; bad == NULL && plain->recipients[i] != NULL; i++)
    if (!pst_smtp_path_is_valid (plain->recipients[i], FALSE))
      bad = plain->recipients[i];
  if (bad == NULL)
    return TRUE;
  {
    g_autofree char *shown = pst_lineproto_sanitize (bad, MIN (strlen (bad), 80));

    g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                 "\"%s%s\" cannot be an SMTP address (at most 255 bytes, no spaces or angle "
                 "brackets); nothing was queued", shown, strlen (bad) > 80 ? "…" : "");
  }
  return FALSE;
}

PstQueued *
pst_outgoing_commit (PstAgent *agent, const PstAccount *account, const PstPlainMessage *plain,
                     const PstProtected *prot, GPtrArray *writers, GError **error)
{
  /* The hour's count and the commit under one lock: sends that passed
   * pst_outgoing_check_limits together (a long streamed one, several at
   * once) cannot all be queued past the limit. */
  static GMutex commit_lock;
  g_autoptr (PstQueued) queued = NULL;
  gboolean ok;

  /* Every copy queued durably, in one go (one transaction: all or none),
   * before any network I/O (DESIGN.md §3). */
  g_mutex_lock (&commit_lock);
  ok = hour_allows (agent, account, error)
       && pst_store_writers_commit ((PstStoreWriter *const *) writers->pdata, writers->len, error);
  g_mutex_unlock (&commit_lock);
  if (!ok)
    return NULL;
  queued = g_new0 (PstQueued, 1);
  queued->account = g_strdup (account->name);
  queued->ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  queued->scheme = prot->scheme;
  queued->encrypted = prot->encrypted;
  queued->signed_ = prot->signed_;
  queued->missing = g_strdupv (prot->missing);
  queued->not_recommended = g_strdupv (prot->not_recommended);
  if (prot->encrypted && prot->scheme == PST_SCHEME_PGP)
    queued->encrypted_to = g_strdupv (plain->recipients);
  for (guint i = 0; i < writers->len; i++)
    {
      gint64 id = pst_store_writer_get_id (g_ptr_array_index (writers, i));
      JsonObject *p;

      g_array_append_val (queued->ids, id);
      p = json_object_new ();
      json_object_set_int_member (p, "id", id);
      json_object_set_string_member (p, "account", account->name);
      json_object_set_string_member (p, "state", "queued");
      pst_events_emit (agent->events, "outbox.changed", p);
      g_message ("outbox %" G_GINT64_FORMAT ": queued for %s (%s%s)", id, account->name,
                 prot->encrypted ? "encrypted" : "NOT encrypted", prot->signed_ ? ", signed" : "");
    }
  return g_steal_pointer (&queued);
}

gboolean
pst_outgoing_check (PstAgent *agent, PstPlainMessage *plain, const char *name,
                    const char *const *envelope, PstAccount **account_out, GError **error)
{
  g_autoptr (PstAccount) account = NULL;

  if ((envelope != NULL && !pst_plain_message_set_envelope (plain, envelope, error))
      || !pst_outgoing_check_paths (plain, error)
      || !(account = pst_outgoing_account (agent, name, plain->from, error))
      || !pst_outgoing_check_limits (agent, account, g_strv_length (plain->recipients), error))
    return FALSE;
  *account_out = g_steal_pointer (&account);
  return TRUE;
}

PstQueued *
pst_outgoing_queue (PstAgent *agent, GBytes *input, const char *name,
                    const char *const *envelope, const PstPolicySettings *overrides,
                    GError **error)
{
  g_autoptr (PstPlainMessage) plain = NULL;
  g_autoptr (PstAccount) account = NULL;
  g_autoptr (PstProtected) prot = NULL;
  g_autoptr (GPtrArray) writers =
    g_ptr_array_new_with_free_func ((GDestroyNotify) pst_store_writer_free);
  PstPolicySettings settings;

  if (!(plain = pst_plain_message_parse (input, error))
      || !pst_outgoing_check (agent, plain, name, envelope, &account, error)
      || !scan (agent, input, error))
    return NULL;
  settings = pst_protect_account_settings (account);
  if (!(prot = pst_protect_message (agent, plain, &settings, overrides, NULL, error)))
    return NULL;
  for (guint i = 0; i < prot->copies->len; i++)
    {
      PstStoreWriter *w = enqueue (agent, account, plain->from, g_ptr_array_index (prot->copies, i),
                                   error);
      if (w == NULL)
        return NULL;
      g_ptr_array_add (writers, w);
    }
  return pst_outgoing_commit (agent, account, plain, prot, writers, error);
}
