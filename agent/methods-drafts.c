/* methods-drafts.c — drafts.save, drafts.list, drafts.get, drafts.delete,
 * drafts.send: messages being written, kept for the user (issue 15).
 *
 * A draft is kept only encrypted to the own OpenPGP key of its account
 * (as seal_incoming seals mail, fetcher.c): the store holds the sealed
 * bytes and, in the clear, only the account and the times
 * (store/drafts.h).  Without such a key nothing is stored
 * (PST_ERROR_POLICY).  Its Subject and recipients stay inside the seal:
 * drafts.list opens each one to show them.  The text is the user's own,
 * from a client, and parsed here for its header as send parses what it
 * sends (outgoing.c); mail from others is parsed by the worker only. */
#include <string.h>

#include "crypto/pgp.h"
#include "events.h"
#include "handlers.h"
#include "methods-drafts.h"
#include "send-result.h"
#include "mime/mime.h"
#include "outgoing.h"
#include "store/drafts.h"
#include "util/error.h"

/* The largest draft kept: what send takes. */
#define MAX_DRAFT_SIZE (64u * 1024 * 1024)

gboolean
pst_drafts_get_id (PstCall *call, const char *name, gboolean required, gint64 *id_out,
                   GError **error)
{
  g_autoptr (PstDraft) d = NULL;
  gint64 id = 0;

  *id_out = 0;
  if (!pst_rpc_get_int (call->params, name, required, 0, &id, error))
    return FALSE;
  if (id == 0 && !required && (call->params == NULL || !json_object_has_member (call->params, name)))
    return TRUE;
  if (id <= 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "%s must be a draft id (1 or more)", name);
      return FALSE;
    }
  if (!(d = pst_store_draft_get (call->agent->store, id, error)))
    return FALSE;
  *id_out = id;
  return TRUE;
}

static void
emit (PstAgent *agent, const char *event, gint64 id, const char *account)
{
  JsonObject *p = json_object_new ();

  json_object_set_int_member (p, "id", id);
  if (account != NULL)
    json_object_set_string_member (p, "account", account);
  pst_events_emit (agent->events, event, p);
}

gboolean
pst_drafts_delete_sent (PstAgent *agent, gint64 id)
{
  g_autoptr (GError) error = NULL;
  gboolean deleted = pst_store_draft_delete (agent->store, id, &error);

  if (deleted)
    {
      g_message ("draft %" G_GINT64_FORMAT ": queued, deleted", id);
      emit (agent, "draft.deleted", id, NULL);
    }
  else
    g_warning ("draft %" G_GINT64_FORMAT ": queued, but not deleted: %s", id, error->message);
  return deleted;
}

/* Drafts being queued by drafts.send: one send of a draft at a time, so
 * that two calls for one draft cannot both queue it. */
G_LOCK_DEFINE_STATIC (claims);
static GHashTable *claims;   /* gint64* ids */

static gboolean
claim (gint64 id, GError **error)
{
  gboolean taken;

  G_LOCK (claims);
  if (claims == NULL)
    claims = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  taken = g_hash_table_contains (claims, &id);
  if (!taken)
    g_hash_table_add (claims, g_memdup2 (&id, sizeof id));
  G_UNLOCK (claims);
  if (taken)
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                 "draft %" G_GINT64_FORMAT " is being sent already", id);
  return !taken;
}

static void
unclaim (gint64 id)
{
  G_LOCK (claims);
  g_hash_table_remove (claims, &id);
  G_UNLOCK (claims);
}

/* The account a draft @message belongs to: account @name (NULL: the one
 * its From is, else the only account), which must have an OpenPGP key of
 * its own to seal it with.  Transfer full. */
static PstAccount *
draft_account (PstAgent *agent, const char *name, PstMimeMessage *message, PstPgp *pgp,
               GError **error)
{
  g_autofree char *from = pst_mime_message_get_from_address (message, NULL);
  g_autofree char *fpr = NULL;
  PstAccount *a = NULL;

  if (from != NULL)
    a = pst_outgoing_account (agent, name, from, error);
  else if (name != NULL)
    a = pst_agent_get_account (agent, name, error);
  else
    {
      g_mutex_lock (&agent->config_lock);
      {
        GPtrArray *accounts = pst_config_get_accounts (agent->config);

        if (accounts->len == 1)
          a = pst_account_copy (g_ptr_array_index (accounts, 0));
      }
      g_mutex_unlock (&agent->config_lock);
      if (a == NULL)
        g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                     "the draft has no From; name its account (account)");
    }
  if (a == NULL)
    return NULL;
  /* A key it can decrypt with: its secret key, which the draft comes back through. */
  if (!(fpr = pst_pgp_find_key (pgp, a->address, TRUE, NULL)))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                   "account %s has no OpenPGP key of its own (%s) to encrypt the draft to; "
                   "drafts are kept only encrypted, so nothing was stored", a->name, a->address);
      g_clear_pointer (&a, pst_account_free);
    }
  return a;
}

static PstPgp *
new_pgp (PstAgent *agent, GError **error)
{
  g_autofree char *home = pst_agent_get_gnupg_home (agent);

  return pst_pgp_new (home, error);
}

/* drafts.save {fd, account?, id?}: the draft (RFC 5322) in fd, encrypted
 * to the account's own key and stored, new or in place of draft id.
 * Result {id, account, updated_at}; event draft.saved {id, account}. */
JsonObject *
pst_method_drafts_save (PstCall *call, GError **error)
{
  static const char *const known[] = { "fd", "account", "id", NULL };
  g_autoptr (GBytes) text = NULL, sealed = NULL;
  g_autoptr (PstMimeMessage) message = NULL;
  g_autoptr (PstPgp) pgp = NULL;
  g_autoptr (PstAccount) account = NULL;
  const char *name = NULL;
  const char *self[2] = { NULL, NULL };
  gint64 id = 0;
  int fd;
  JsonObject *r;

  if (!pst_call_check_members (call->params, known, error)
      || !pst_rpc_get_string (call->params, "account", FALSE, &name, error)
      || !pst_drafts_get_id (call, "id", FALSE, &id, error)
      || (fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0
      || !(text = pst_fd_read_all (fd, MAX_DRAFT_SIZE, error)))
    return NULL;
  if (!(message = pst_mime_message_parse (text, error)))
    {
      g_prefix_error (error, "the draft is not an RFC 5322 message: ");
      goto out;
    }
  if (!(pgp = new_pgp (call->agent, error))
      || !(account = draft_account (call->agent, name, message, pgp, error)))
    goto out;
  self[0] = account->address;
  pst_pgp_prefer_own_keys (pgp);
  if (!(sealed = pst_pgp_encrypt (pgp, text, self, NULL, error))
      || !(id = pst_store_draft_save (call->agent->store, id, account->name, sealed, error)))
    goto out;
out:
  g_clear_pointer (&message, pst_mime_message_free);
  {
    gsize len = 0;
    /* The copy read from the client held the plaintext. */
    explicit_bzero ((gpointer) g_bytes_get_data (text, &len), len);
  }
  if (sealed == NULL || id == 0)
    return NULL;
  g_message ("draft %" G_GINT64_FORMAT ": saved for %s", id, account->name);
  emit (call->agent, "draft.saved", id, account->name);
  r = json_object_new ();
  json_object_set_int_member (r, "id", id);
  json_object_set_string_member (r, "account", account->name);
  json_object_set_int_member (r, "updated_at", g_get_real_time () / G_USEC_PER_SEC);
  return r;
}

/* Draft @d opened (transfer full; wiped when freed). */
static GBytes *
open_draft (PstPgp *pgp, const PstDraft *d, GError **error)
{
  g_autoptr (GBytes) plain = NULL;
  PstIntegrity integrity = PST_INTEGRITY_NONE;

  /* Sealed without compression: what it holds is at most its size. */
  pst_pgp_set_output_limit (pgp, MAX (PST_DECRYPTION_MAX_OUTPUT, g_bytes_get_size (d->sealed)));
  if (!pst_pgp_decrypt_verify (pgp, d->sealed, &plain, NULL, &integrity, error)
      || integrity != PST_INTEGRITY_OK)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO,
                     "draft %" G_GINT64_FORMAT ": its seal does not open whole", d->id);
      else
        g_prefix_error (error, "draft %" G_GINT64_FORMAT ": cannot decrypt it: ", d->id);
      return NULL;
    }
  return g_steal_pointer (&plain);
}

static void
set_header (JsonObject *o, const char *member, PstMimeMessage *m, const char *name)
{
  g_autofree char *v = m ? pst_mime_message_get_header (m, name) : NULL;

  if (v != NULL)
    json_object_set_string_member (o, member, v);
  else
    json_object_set_null_member (o, member);
}

/* drafts.list {account?}: {drafts: [{id, account, created_at, updated_at,
 * subject, to, cc, in_reply_to}]} newest change first, each opened for its
 * header; one that does not open has "error" instead. */
JsonObject *
pst_method_drafts_list (PstCall *call, GError **error)
{
  static const char *const known[] = { "account", NULL };
  g_autoptr (GPtrArray) drafts = NULL;
  g_autoptr (PstPgp) pgp = NULL;
  const char *account = NULL;
  JsonArray *a;
  JsonObject *r;

  if (!pst_call_check_members (call->params, known, error)
      || !pst_rpc_get_string (call->params, "account", FALSE, &account, error)
      || !(drafts = pst_store_draft_list (call->agent->store, account, error))
      || !(pgp = new_pgp (call->agent, error)))
    return NULL;
  a = json_array_new ();
  for (guint i = 0; i < drafts->len; i++)
    {
      const PstDraft *d = g_ptr_array_index (drafts, i);
      g_autoptr (GError) local = NULL;
      g_autoptr (GBytes) plain = open_draft (pgp, d, &local);
      g_autoptr (PstMimeMessage) m = plain ? pst_mime_message_parse (plain, &local) : NULL;
      JsonObject *o = json_object_new ();

      json_object_set_int_member (o, "id", d->id);
      json_object_set_string_member (o, "account", d->account);
      json_object_set_int_member (o, "created_at", d->created_at);
      json_object_set_int_member (o, "updated_at", d->updated_at);
      set_header (o, "subject", m, "Subject");
      set_header (o, "to", m, "To");
      set_header (o, "cc", m, "Cc");
      set_header (o, "in_reply_to", m, "In-Reply-To");
      if (m == NULL)
        json_object_set_string_member (o, "error", local->message);
      json_array_add_object_element (a, o);
    }
  r = json_object_new ();
  json_object_set_array_member (r, "drafts", a);
  return r;
}

/* Draft @id, opened.  Transfer full. */
static GBytes *
get_text (PstCall *call, gint64 id, PstDraft **draft_out, GError **error)
{
  g_autoptr (PstDraft) d = pst_store_draft_get (call->agent->store, id, error);
  g_autoptr (PstPgp) pgp = NULL;
  GBytes *plain;

  if (d == NULL || !(pgp = new_pgp (call->agent, error)) || !(plain = open_draft (pgp, d, error)))
    return NULL;
  if (draft_out != NULL)
    *draft_out = g_steal_pointer (&d);
  return plain;
}

/* drafts.get {id, fd}: the draft, decrypted, written to fd.  Result {id,
 * account, created_at, updated_at, size}. */
JsonObject *
pst_method_drafts_get (PstCall *call, GError **error)
{
  static const char *const known[] = { "id", "fd", NULL };
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (PstDraft) d = NULL;
  gint64 id;
  int fd;
  gsize len = 0;
  const guint8 *data;
  JsonObject *r;

  if (!pst_call_check_members (call->params, known, error)
      || !pst_drafts_get_id (call, "id", TRUE, &id, error)
      || (fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0
      || !(plain = get_text (call, id, &d, error)))
    return NULL;
  data = g_bytes_get_data (plain, &len);
  if (!pst_fd_write_all (fd, data, len, error))
    return NULL;
  r = json_object_new ();
  json_object_set_int_member (r, "id", d->id);
  json_object_set_string_member (r, "account", d->account);
  json_object_set_int_member (r, "created_at", d->created_at);
  json_object_set_int_member (r, "updated_at", d->updated_at);
  json_object_set_int_member (r, "size", (gint64) len);
  return r;
}

/* drafts.delete {id}: the draft goes for good (secure_delete, the log
 * emptied).  Result {deleted: ID}; event draft.deleted {id}. */
JsonObject *
pst_method_drafts_delete (PstCall *call, GError **error)
{
  static const char *const known[] = { "id", NULL };
  gint64 id;
  JsonObject *r;

  if (!pst_call_check_members (call->params, known, error)
      || !pst_drafts_get_id (call, "id", TRUE, &id, error)
      || !pst_store_draft_delete (call->agent->store, id, error))
    return NULL;
  g_message ("draft %" G_GINT64_FORMAT ": deleted", id);
  emit (call->agent, "draft.deleted", id, NULL);
  r = json_object_new ();
  json_object_set_int_member (r, "deleted", id);
  return r;
}

/* drafts.send {id, encrypt?, scheme?, sign?, wait?}: the draft sent as
 * send sends a message (from its account), then deleted once the outbox
 * has it.  Result: send's, with "draft" and "draft_deleted". */
JsonObject *
pst_method_drafts_send (PstCall *call, GError **error)
{
  static const char *const known[] = { "id", "encrypt", "scheme", "sign", "wait", NULL };
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (PstDraft) d = NULL;
  g_autoptr (PstQueued) queued = NULL;
  PstPolicySettings overrides;
  gboolean wait;
  gint64 id;
  JsonObject *r;

  gboolean deleted;

  if (!pst_call_check_members (call->params, known, error)
      || !pst_drafts_get_id (call, "id", TRUE, &id, error)
      || !pst_call_get_overrides (call, &overrides, error)
      || !pst_rpc_get_bool (call->params, "wait", FALSE, &wait, error)
      || !claim (id, error))
    return NULL;
  if (!(plain = get_text (call, id, &d, error))
      || !(queued = pst_outgoing_queue (call->agent, plain, d->account, NULL, &overrides, error)))
    {
      unclaim (id);
      return NULL;
    }
  /* Deleted as soon as the outbox has it, before any wait: a second send
   * of the same draft finds none. */
  deleted = pst_drafts_delete_sent (call->agent, id);
  unclaim (id);
  r = pst_send_result (call, queued, wait, error);
  if (r != NULL)
    {
      json_object_set_boolean_member (r, "draft_deleted", deleted);
      json_object_set_int_member (r, "draft", id);
    }
  return r;
}
