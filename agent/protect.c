#include "protect.h"

#include <string.h>

#include "crypto/pgp.h"
#include "crypto/smime.h"
#include "mime/mime.h"
#include "mime/pgpmime.h"
#include "mime/smimemime.h"
#include "util/addr.h"
#include "util/error.h"

void
pst_outgoing_free (PstOutgoing *out)
{
  if (out == NULL)
    return;
  g_strfreev (out->envelope);
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

/* The addr-specs of the message's header fields named @name, parsed by the
 * MIME layer (a message holding just those fields as To). */
static char **
addresses_of (GBytes *input, const char *name)
{
  gsize len, body = 0;
  const char *data = g_bytes_get_data (input, &len);
  g_autoptr (GPtrArray) fields = NULL;
  g_autoptr (GString) fake = g_string_new (NULL);
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (PstMimeMessage) msg = NULL;

  if (!pst_mime_split_header (data, len, &fields, &body, NULL))
    return g_new0 (char *, 1);
  for (guint i = 0; i < fields->len; i++)
    {
      const char *f = g_ptr_array_index (fields, i);
      if (pst_mime_field_is (f, name))
        {
          g_autofree char *v = pst_mime_field_value (f);
          g_string_append_printf (fake, "To: %s\r\n", v);
        }
    }
  if (fake->len == 0)
    return g_new0 (char *, 1);
  g_string_append (fake, "\r\n");
  bytes = g_bytes_new (fake->str, fake->len);
  msg = pst_mime_message_parse (bytes, NULL);
  return msg ? pst_mime_message_get_recipients (msg) : g_new0 (char *, 1);
}

/* @input without its Bcc fields, for a copy that goes out unprotected. */
static GBytes *
without_bcc (GBytes *input)
{
  gsize len, body = 0;
  const char *data = g_bytes_get_data (input, &len);
  g_autoptr (GPtrArray) fields = NULL;
  gsize header_len = 0;
  GString *out;

  if (!pst_mime_split_header (data, len, &fields, &body, NULL))
    return g_bytes_ref (input);
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

typedef struct {
  PstPgp *pgp;
  PstSmime *smime;
  PstKeyCache *cache;
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

static PstProtected *
protect (PstAgent *agent, GBytes *input, const PstPolicySettings *account_settings,
         const PstPolicySettings *overrides, const char *const *recipients_override,
         gboolean decide_only, GError **error)
{
  g_autoptr (PstMimeMessage) msg = NULL;
  g_autofree char *home = NULL, *smime_dir = NULL;
  g_auto (GStrv) all = NULL, bcc = NULL;
  g_autoptr (GPtrArray) visible = g_ptr_array_new ();
  g_autoptr (PstPgp) pgp = NULL;
  PstSmimeLease *lease = NULL;
  PstSmime *smime;
  g_autoptr (PstPolicyDecision) decision = NULL;
  g_autoptr (PstProtected) p = g_new0 (PstProtected, 1);
  PstPolicyInput in = { 0 };
  Keys keys;

  if (!(msg = pst_mime_message_parse (input, error)))
    {
      g_prefix_error (error, "not an RFC 5322 message: ");
      return NULL;
    }
  if (!(p->sender = pst_mime_message_get_from_address (msg, error)))
    return NULL;
  if (recipients_override != NULL)
    {
      all = g_strdupv ((char **) recipients_override);
      bcc = g_new0 (char *, 1);
    }
  else
    {
      all = pst_mime_message_get_recipients (msg);
      bcc = addresses_of (input, "Bcc");
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

  home = pst_agent_get_gnupg_home (agent);
  smime_dir = g_build_filename (agent->paths->data_dir, "smime", NULL);
  if (!(pgp = pst_pgp_new (home, error))
      || !(lease = pst_key_cache_take_smime (agent->keys, smime_dir, error)))
    return NULL;
  smime = pst_smime_lease_get (lease);
  keys.pgp = pgp;
  keys.smime = smime;
  keys.cache = agent->keys;
  in.account = *account_settings;
  in.message = *overrides;
  in.sender = p->sender;
  in.recipients = (const char *const *) visible->pdata;
  in.bcc = (const char *const *) bcc;
  in.has_key = has_key;
  in.has_identity = has_identity;
  in.why_no_key = why_no_key;
  in.user_data = &keys;
  if (!(decision = pst_policy_decide (&in, error)))
    {
      pst_key_cache_return_smime (agent->keys, lease);
      return NULL;
    }

  p->scheme = decision->scheme;
  p->encrypted = decision->encrypt;
  p->signed_ = decision->sign;
  p->missing = g_strdupv (decision->missing);
  p->copies = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_outgoing_free);
  for (guint i = 0; i < decision->copies->len; i++)
    {
      PstPolicyCopy *c = g_ptr_array_index (decision->copies, i);
      PstOutgoing *out = g_new0 (PstOutgoing, 1);
      const char *const *to = (const char *const *) (c->encrypt_to ? c->encrypt_to : c->envelope);

      out->envelope = g_strdupv (decide_only ? (char **) to : c->envelope);
      g_ptr_array_add (p->copies, out);
      if (decide_only)
        continue;
      if (!decision->encrypt && !decision->sign)
        out->data = without_bcc (input);
      else if (decision->scheme == PST_SCHEME_SMIME)
        out->data = pst_smimemime_protect (smime, input, p->sender, to, decision->encrypt,
                                           decision->sign, error);
      else
        out->data = pst_pgpmime_protect (pgp, input, p->sender, to, decision->encrypt,
                                         decision->sign, error);
      if (out->data == NULL)
        {
          pst_key_cache_return_smime (agent->keys, lease);
          return NULL;
        }
    }
  pst_key_cache_return_smime (agent->keys, lease);
  return g_steal_pointer (&p);
}

PstProtected *
pst_protect_message (PstAgent *agent, GBytes *input, const PstPolicySettings *account_settings,
                     const PstPolicySettings *overrides, const char *const *recipients_override,
                     GError **error)
{
  return protect (agent, input, account_settings, overrides, recipients_override, FALSE, error);
}

PstProtected *
pst_protect_decide (PstAgent *agent, GBytes *header, const PstPolicySettings *account_settings,
                    const PstPolicySettings *overrides, const char *const *recipients_override,
                    GError **error)
{
  return protect (agent, header, account_settings, overrides, recipients_override, TRUE, error);
}
