#include "protect.h"

#include <string.h>

#include "crypto/pgp.h"
#include "locate.h"
#include "crypto/smime.h"
#include "mime/mime.h"
#include "mime/pgpmime.h"
#include "mime/smimemime.h"
#include "peers.h"
#include "util/addr.h"
#include "util/error.h"

void
pst_outgoing_free (PstOutgoing *out)
{
  if (out == NULL)
    return;
  g_strfreev (out->envelope);
  g_strfreev (out->protect_to);
  g_clear_pointer (&out->data, g_bytes_unref);
  g_free (out);
}

void
pst_protected_free (PstProtected *p)
{
  if (p == NULL)
    return;
  g_clear_pointer (&p->copies, g_ptr_array_unref);
  g_strfreev (p->missing);
  g_strfreev (p->not_recommended);
  g_free (p->sender);
  g_free (p);
}

PstPolicySettings
pst_protect_account_settings (const PstAccount *account)
{
  PstPolicySettings s = { .sign = PST_POLICY_SIGN_YES };

  switch (account->encrypt)
    {
    case PST_ENCRYPT_ALWAYS: s.encrypt = PST_POLICY_ENCRYPT_ALWAYS; break;
    case PST_ENCRYPT_NEVER: s.encrypt = PST_POLICY_ENCRYPT_NEVER; break;
    case PST_ENCRYPT_AUTO:
    default: s.encrypt = PST_POLICY_ENCRYPT_AUTO; break;
    }
  if (!account->scheme || !pst_policy_scheme_from_string (account->scheme, &s.scheme))
    s.scheme = PST_POLICY_SCHEME_AUTO;
  return s;
}

PstPlainMessage *
pst_plain_message_parse (GBytes *data, GError **error)
{
  static const char *const bcc[] = { "Bcc", NULL };
  g_autoptr (PstPlainMessage) plain = g_new0 (PstPlainMessage, 1);

  plain->data = g_bytes_ref (data);
  if (!(plain->mime = pst_mime_message_parse (data, error)))
    {
      g_prefix_error (error, "not an RFC 5322 message: ");
      return NULL;
    }
  if (!(plain->from = pst_mime_message_get_from_address (plain->mime, error)))
    return NULL;
  plain->recipients = pst_mime_message_get_recipients (plain->mime);
  plain->bcc = pst_mime_message_get_addresses (plain->mime, bcc);
  return g_steal_pointer (&plain);
}

gboolean
pst_plain_message_set_envelope (PstPlainMessage *plain, const char *const *envelope,
                                GError **error)
{
  static const char *const shown[] = { "To", "Cc", NULL };
  g_auto (GStrv) visible = pst_mime_message_get_addresses (plain->mime, shown);
  g_autoptr (GPtrArray) all = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) bcc = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (all, NULL);
  for (const char *const *e = envelope; e != NULL && *e != NULL; e++)
    {
      g_autofree char *spec = pst_addr_extract (*e);

      if (spec == NULL || strcmp (spec, *e) != 0)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                       "envelope: '%s' is not an address (local@domain)", *e);
          return FALSE;
        }
      if (pst_addr_in_list (spec, (const char *const *) all->pdata))
        continue;
      if (!pst_addr_in_list (spec, (const char *const *) visible))
        g_ptr_array_add (bcc, g_strdup (spec));
      g_ptr_array_insert (all, (gint) all->len - 1, g_steal_pointer (&spec));
    }
  g_ptr_array_add (bcc, NULL);
  g_strfreev (plain->recipients);
  g_strfreev (plain->bcc);
  plain->recipients = (char **) g_ptr_array_steal (all, NULL);
  plain->bcc = (char **) g_ptr_array_steal (bcc, NULL);
  return TRUE;
}

void
pst_plain_message_free (PstPlainMessage *plain)
{
  if (plain == NULL)
    return;
  g_bytes_unref (plain->data);
  g_clear_pointer (&plain->mime, pst_mime_message_free);
  g_free (plain->from);
  g_strfreev (plain->recipients);
  g_strfreev (plain->bcc);
  g_free (plain);
}

GBytes *
pst_protect_without_bcc (GBytes *input)
{
  gsize len, body = 0;
  const char *data = g_bytes_get_data (input, &len);
  g_autoptr (GPtrArray) fields = NULL;
  gsize header_len;
  GString *out;

  if (!pst_mime_split_header (data, len, &fields, &body, NULL))
    return g_bytes_ref (input);
  /* The fields follow an mbox "From " line, if any, which split_header
   * skips (and which does not go out either). */
  header_len = pst_mime_mbox_line_length (data, len);
  out = g_string_sized_new (len);
  for (guint i = 0; i < fields->len; i++)
    {
      const char *f = g_ptr_array_index (fields, i);
      header_len += strlen (f);
      if (!pst_mime_field_is (f, "Bcc"))
        g_string_append (out, f);
    }
  /* the empty line and the body, exactly as they were */
  if (header_len < len)
    g_string_append_len (out, data + header_len, (gssize) (len - header_len));
  return g_string_free_to_bytes (out);
}

/* @message with @field (a whole header field, CRLF included) on top;
 * @message's reference is taken.  Transfer full. */
static GBytes *
with_field (const char *field, GBytes *message)
{
  gsize len = 0;
  const char *data = g_bytes_get_data (message, &len);
  GString *s = g_string_sized_new (strlen (field) + len);

  g_string_append (s, field);
  g_string_append_len (s, data, (gssize) len);
  g_bytes_unref (message);
  return g_string_free_to_bytes (s);
}

typedef struct {
  PstAgent *agent;
  PstPgp *pgp;
  PstSmimeLease *lease;
  PstSmime *smime;
  PstKeyCache *cache;
  gboolean reply_to_encrypted;  /* the message replies to mail that arrived encrypted */
} Keys;

static gboolean
has_key (PstScheme scheme, const char *address, gpointer data)
{
  Keys *k = data;
  const char *one[] = { address, NULL };
  g_auto (GStrv) missing = NULL;
  int known = pst_key_cache_lookup (k->cache, scheme, address, FALSE);
  gboolean found;

  if (known >= 0)
    return known;
  if (scheme == PST_SCHEME_PGP)
    missing = pst_pgpmime_missing_keys (k->pgp, one, NULL);
  else if (scheme == PST_SCHEME_SMIME && k->smime)
    missing = pst_smime_missing_certs (k->smime, one, NULL);
  found = missing != NULL && missing[0] == NULL;
  pst_key_cache_store (k->cache, scheme, address, FALSE, found);
  return found;
}

static char *
why_no_key (PstScheme scheme, const char *address, gpointer data)
{
  Keys *k = data;

  return scheme == PST_SCHEME_PGP ? pst_pgp_key_problem (k->pgp, address) : NULL;
}

static gboolean
recommends (PstScheme scheme, const char *address, gpointer data)
{
  Keys *k = data;

  return scheme != PST_SCHEME_PGP
         || pst_peers_recommend (k->agent, address, TRUE, k->reply_to_encrypted)
              == PST_AUTOCRYPT_ENCRYPT;
}

static gboolean
has_identity (PstScheme scheme, const char *sender, gpointer data)
{
  Keys *k = data;
  g_autofree char *fpr = NULL;
  int known = pst_key_cache_lookup (k->cache, scheme, sender, TRUE);
  gboolean found;

  if (known >= 0)
    return known;
  if (scheme == PST_SCHEME_PGP)
    found = (fpr = pst_pgp_find_key (k->pgp, sender, TRUE, NULL)) != NULL;
  else
    found = scheme == PST_SCHEME_SMIME && k->smime && pst_smime_has_identity (k->smime, sender);
  pst_key_cache_store (k->cache, scheme, sender, TRUE, found);
  return found;
}

static void
keys_close (PstAgent *agent, Keys *k)
{
  if (k->lease != NULL)
    pst_key_cache_return_smime (agent->keys, k->lease);
  g_clear_pointer (&k->pgp, pst_pgp_free);
  memset (k, 0, sizeof *k);
}

/* The agent's keys, as every decision of the policy sees them. */
static gboolean
keys_open (PstAgent *agent, Keys *k, GError **error)
{
  g_autofree char *home = pst_agent_get_gnupg_home (agent);
  g_autofree char *smime_dir = g_build_filename (agent->paths->data_dir, "smime", NULL);

  memset (k, 0, sizeof *k);
  k->agent = agent;
  k->cache = agent->keys;
  if ((k->pgp = pst_pgp_new (home, error)) != NULL)
    pst_pgp_set_preferred_key (k->pgp, pst_peers_bound_key, agent);
  if (k->pgp == NULL
      || !(k->lease = pst_key_cache_take_smime (agent->keys, smime_dir, error)))
    {
      keys_close (agent, k);
      return FALSE;
    }
  k->smime = pst_smime_lease_get (k->lease);
  return TRUE;
}

/* Looks the recipients that have no OpenPGP key up in their Web Key
 * Directory (locate.h) before the policy decides, when the message may be
 * encrypted with OpenPGP at all; under scheme auto, not those that have an
 * S/MIME certificate.  Within the lookup's deadline; what it imports is
 * found by has_key afterwards, and a lookup that fails leaves the
 * recipient without a key, as before (so encrypt=always refuses). */
static void
locate_missing (PstAgent *agent, Keys *keys, const char *const *recipients,
                const PstPolicySettings *account_settings, const PstPolicySettings *overrides)
{
  PstPolicySettings effective = pst_policy_effective (account_settings, overrides);
  g_autoptr (GPtrArray) missing = g_ptr_array_new ();
  g_autoptr (GPtrArray) found = NULL;
  PstScheme order[2];
  guint n = pst_policy_schemes (account_settings, overrides, order);
  gboolean pgp = FALSE;

  for (guint i = 0; i < n; i++)
    pgp = pgp || order[i] == PST_SCHEME_PGP;
  if (!pgp || effective.encrypt == PST_POLICY_ENCRYPT_NEVER)
    return;
  for (const char *const *a = recipients; a != NULL && *a != NULL; a++)
    if (!has_key (PST_SCHEME_PGP, *a, keys) && (n == 1 || !has_key (PST_SCHEME_SMIME, *a, keys)))
      g_ptr_array_add (missing, (gpointer) *a);
  if (missing->len == 0)
    return;
  g_ptr_array_add (missing, NULL);
  found = pst_locator_run (agent, (const char *const *) missing->pdata, PST_LOCATE_SEND);
}

/* The decision for a message from @sender to @visible (To, Cc) and @bcc:
 * the one place where send, encrypt and keys.check ask the policy. */
static PstPolicyDecision *
decide (Keys *keys, const char *sender, const char *const *visible, const char *const *bcc,
        const PstPolicySettings *account_settings, const PstPolicySettings *overrides,
        GError **error)
{
  PstPolicyInput in = {
    .account = *account_settings, .message = *overrides, .sender = sender,
    .recipients = visible, .bcc = bcc, .has_key = has_key, .has_identity = has_identity,
    .why_no_key = why_no_key, .recommends = recommends, .user_data = keys,
    .reply_to_encrypted = keys->reply_to_encrypted,
  };

  return pst_policy_decide (&in, error);
}

/* What protect() makes: the protected copies, what pst_protect_decide
 * says, or what pst_protect_plan says. */
typedef enum { MODE_PROTECT, MODE_DECIDE, MODE_PLAN } Mode;

static PstProtected *
protect (PstAgent *agent, const PstPlainMessage *plain, const PstPolicySettings *account_settings,
         const PstPolicySettings *overrides, const char *const *recipients_override,
         Mode mode, GError **error)
{
  gboolean decide_only = mode != MODE_PROTECT;
  GBytes *input = plain->data;
  g_auto (GStrv) all = NULL, bcc = NULL;
  g_autoptr (GPtrArray) visible = g_ptr_array_new ();
  g_autoptr (PstPolicyDecision) decision = NULL;
  g_autoptr (PstProtected) p = g_new0 (PstProtected, 1);
  g_autofree char *autocrypt = NULL;
  Keys keys;

  p->sender = g_strdup (plain->from);
  if (recipients_override != NULL)
    {
      all = g_strdupv ((char **) recipients_override);
      bcc = g_new0 (char *, 1);
    }
  else
    {
      all = g_strdupv (plain->recipients);
      bcc = g_strdupv (plain->bcc);
    }
  for (char **a = all; a && *a; a++)
    if (!pst_addr_in_list (*a, (const char *const *) bcc))
      g_ptr_array_add (visible, *a);
  g_ptr_array_add (visible, NULL);
  if ((all == NULL || all[0] == NULL))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "the message has no recipients (To, Cc or Bcc)");
      return NULL;
    }

  if (!keys_open (agent, &keys, error))
    return NULL;
  {
    g_autofree char *in_reply_to = pst_mime_message_get_header (plain->mime, "In-Reply-To");
    g_autofree char *references = pst_mime_message_get_header (plain->mime, "References");
    keys.reply_to_encrypted = pst_peers_replies_to_encrypted (agent, in_reply_to, references);
  }
  locate_missing (agent, &keys, (const char *const *) all, account_settings, overrides);
  if (!(decision = decide (&keys, p->sender, (const char *const *) visible->pdata,
                           (const char *const *) bcc, account_settings, overrides, error)))
    {
      keys_close (agent, &keys);
      return NULL;
    }

  p->scheme = decision->scheme;
  p->encrypted = decision->encrypt;
  p->signed_ = decision->sign;
  p->missing = g_strdupv (decision->missing);
  p->not_recommended = g_strdupv (decision->not_recommended);
  p->copies = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_outgoing_free);
  if (!decide_only)
    autocrypt = pst_peers_outgoing_field (agent, keys.pgp, p->sender);
  for (guint i = 0; i < decision->copies->len; i++)
    {
      PstPolicyCopy *c = g_ptr_array_index (decision->copies, i);
      PstOutgoing *out = g_new0 (PstOutgoing, 1);
      const char *const *to = (const char *const *) (c->encrypt_to ? c->encrypt_to : c->envelope);

      out->envelope = g_strdupv (mode == MODE_DECIDE ? (char **) to : c->envelope);
      out->protect_to = g_strdupv ((char **) to);
      out->bcc = c->bcc;
      g_ptr_array_add (p->copies, out);
      if (decide_only)
        continue;
      if (!decision->encrypt && !decision->sign)
        out->data = pst_protect_without_bcc (input);
      else if (decision->scheme == PST_SCHEME_SMIME)
        out->data = pst_smimemime_protect (keys.smime, input, p->sender, to, decision->encrypt,
                                           decision->sign, error);
      else if (decision->encrypt && !c->bcc)
        {
          /* The keys of the others, inside, so that a reply to all can
           * be encrypted (Autocrypt-Gossip); never in a Bcc copy. */
          g_autoptr (GBytes) gossiped = pst_peers_with_gossip (agent, keys.pgp, input, p->sender,
                                                              (const char *const *) c->envelope);
          out->data = pst_pgpmime_protect (keys.pgp, gossiped, p->sender, to, TRUE,
                                           decision->sign, error);
        }
      else
        out->data = pst_pgpmime_protect (keys.pgp, input, p->sender, to, decision->encrypt,
                                         decision->sign, error);
      if (out->data == NULL)
        {
          keys_close (agent, &keys);
          return NULL;
        }
      if (autocrypt != NULL)
        out->data = with_field (autocrypt, out->data);
    }
  keys_close (agent, &keys);
  return g_steal_pointer (&p);
}

PstProtected *
pst_protect_message (PstAgent *agent, const PstPlainMessage *plain,
                     const PstPolicySettings *account_settings,
                     const PstPolicySettings *overrides, const char *const *recipients_override,
                     GError **error)
{
  return protect (agent, plain, account_settings, overrides, recipients_override, MODE_PROTECT,
                  error);
}

PstProtected *
pst_protect_decide (PstAgent *agent, const PstPlainMessage *plain,
                    const PstPolicySettings *account_settings,
                    const PstPolicySettings *overrides, const char *const *recipients_override,
                    GError **error)
{
  return protect (agent, plain, account_settings, overrides, recipients_override, MODE_DECIDE,
                  error);
}

PstProtected *
pst_protect_plan (PstAgent *agent, const PstPlainMessage *plain,
                  const PstPolicySettings *account_settings, const PstPolicySettings *overrides,
                  GError **error)
{
  return protect (agent, plain, account_settings, overrides, NULL, MODE_PLAN, error);
}

static void
recipient_check_free (PstRecipientCheck *r)
{
  g_free (r->address);
  g_free (r->problem);
  g_free (r);
}

void
pst_protect_check_free (PstProtectCheck *c)
{
  if (c == NULL)
    return;
  g_clear_pointer (&c->recipients, g_ptr_array_unref);
  g_strfreev (c->missing);
  g_strfreev (c->not_recommended);
  g_clear_error (&c->refusal);
  g_free (c);
}

/* Why nothing can encrypt to @address in the schemes @order: the key
 * problem the refusal would name, else which key is missing.  Transfer
 * full. */
static char *
recipient_problem (Keys *keys, const char *address, const PstScheme *order, guint n_order)
{
  for (guint i = 0; i < n_order; i++)
    {
      char *why = why_no_key (order[i], address, keys);
      if (why != NULL)
        return why;
    }
  if (n_order == 2)
    return g_strdup ("no OpenPGP key and no S/MIME certificate");
  return g_strdup (order[0] == PST_SCHEME_SMIME ? "no S/MIME certificate" : "no OpenPGP key");
}

PstProtectCheck *
pst_protect_check (PstAgent *agent, const char *sender, const char *const *recipients,
                   const PstPolicySettings *account_settings, const PstPolicySettings *overrides,
                   const char *in_reply_to, const char *references, GError **error)
{
  g_autoptr (PstProtectCheck) c = g_new0 (PstProtectCheck, 1);
  g_autoptr (PstPolicyDecision) decision = NULL;
  g_autoptr (GPtrArray) seen = g_ptr_array_new ();
  GError *local = NULL;
  PstScheme order[2];
  guint n_order;
  Keys keys;

  if (!keys_open (agent, &keys, error))
    return NULL;
  keys.reply_to_encrypted = pst_peers_replies_to_encrypted (agent, in_reply_to, references);
  locate_missing (agent, &keys, recipients, account_settings, overrides);
  decision = decide (&keys, sender, recipients, NULL, account_settings, overrides, &local);
  if (decision == NULL && !g_error_matches (local, PST_ERROR, PST_ERROR_POLICY))
    {
      keys_close (agent, &keys);
      g_propagate_error (error, local);
      return NULL;
    }
  c->effective = pst_policy_effective (account_settings, overrides);
  c->refusal = local;
  c->reply_to_encrypted = keys.reply_to_encrypted;
  if (decision != NULL)
    {
      c->scheme = decision->scheme;
      c->encrypt = decision->encrypt;
      c->sign = decision->sign;
      c->missing = g_strdupv (decision->missing);
      c->not_recommended = g_strdupv (decision->not_recommended);
    }
  else
    {
      c->missing = g_new0 (char *, 1);
      c->not_recommended = g_new0 (char *, 1);
    }
  n_order = pst_policy_schemes (account_settings, overrides, order);
  c->recipients = g_ptr_array_new_with_free_func ((GDestroyNotify) recipient_check_free);
  g_ptr_array_add (seen, NULL);
  for (const char *const *a = recipients; a != NULL && *a != NULL; a++)
    {
      PstRecipientCheck *r;
      gboolean covered = FALSE;

      if (pst_addr_in_list (*a, (const char *const *) seen->pdata))
        continue;
      g_ptr_array_insert (seen, seen->len - 1, (gpointer) *a);
      r = g_new0 (PstRecipientCheck, 1);
      r->address = g_strdup (*a);
      r->pgp = has_key (PST_SCHEME_PGP, *a, &keys);
      r->smime = has_key (PST_SCHEME_SMIME, *a, &keys);
      for (guint i = 0; i < n_order; i++)
        covered = covered || (order[i] == PST_SCHEME_PGP ? r->pgp : r->smime);
      if (!covered)
        r->problem = recipient_problem (&keys, *a, order, n_order);
      g_ptr_array_add (c->recipients, r);
    }
  keys_close (agent, &keys);
  return g_steal_pointer (&c);
}
