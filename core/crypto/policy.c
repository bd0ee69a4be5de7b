#include "crypto/policy.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "util/addr.h"
#include "util/error.h"

static void
copy_free (gpointer p)
{
  PstPolicyCopy *copy = p;

  g_strfreev (copy->envelope);
  g_strfreev (copy->encrypt_to);
  g_free (copy);
}

void
pst_policy_decision_free (PstPolicyDecision *decision)
{
  if (decision == NULL)
    return;
  g_clear_pointer (&decision->copies, g_ptr_array_unref);
  g_strfreev (decision->missing);
  g_strfreev (decision->not_recommended);
  g_free (decision);
}

/* Appends @addr to @list (a NULL-terminated GPtrArray of char*) unless an
 * equal address is there. */
static void
add_unique (GPtrArray *list, const char *addr)
{
  if (addr == NULL || pst_addr_in_list (addr, (const char *const *) list->pdata))
    return;
  g_ptr_array_insert (list, list->len - 1, g_strdup (addr));
}

static GPtrArray *
strv_list_new (void)
{
  GPtrArray *list = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (list, NULL);
  return list;
}

static char **
strv_list_end (GPtrArray *list)
{
  return (char **) g_ptr_array_free (list, FALSE);
}

static const char *
scheme_key_words (PstScheme scheme)
{
  return scheme == PST_SCHEME_SMIME ? "S/MIME certificate" : "OpenPGP key";
}

static const char *
scheme_identity_words (PstScheme scheme)
{
  return scheme == PST_SCHEME_SMIME ? "S/MIME certificate with its private key"
                                    : "OpenPGP secret key";
}

/* The addresses of @all without a key in @scheme.  Transfer full. */
static char **
missing_in (const PstPolicyInput *in, PstScheme scheme, const char *const *all)
{
  GPtrArray *missing = strv_list_new ();

  for (; all != NULL && *all != NULL; all++)
    if (in->has_key == NULL || !in->has_key (scheme, *all, in->user_data))
      add_unique (missing, *all);
  return strv_list_end (missing);
}

/* Under auto: the addresses of @all but the sender whose key in @scheme
 * is not recommended.  Transfer full. */
static char **
not_recommended_in (const PstPolicyInput *in, PstScheme scheme, const char *const *all)
{
  GPtrArray *held = strv_list_new ();

  for (; in->recommends != NULL && all != NULL && *all != NULL; all++)
    if (!pst_addr_equal (*all, in->sender) && !in->recommends (scheme, *all, in->user_data))
      add_unique (held, *all);
  return strv_list_end (held);
}

static gboolean
has_identity (const PstPolicyInput *in, PstScheme scheme)
{
  return in->has_identity != NULL && in->has_identity (scheme, in->sender, in->user_data);
}

static PstPolicyCopy *
copy_new (GPtrArray *envelope, const char *const *encrypt_to, const char *sender, gboolean bcc)
{
  PstPolicyCopy *copy = g_new0 (PstPolicyCopy, 1);

  copy->envelope = g_strdupv ((char **) envelope->pdata);
  if (encrypt_to != NULL)
    {
      GPtrArray *to = strv_list_new ();

      for (; *encrypt_to != NULL; encrypt_to++)
        add_unique (to, *encrypt_to);
      add_unique (to, sender);
      copy->encrypt_to = strv_list_end (to);
    }
  copy->bcc = bcc;
  return copy;
}

static void
make_copies (PstPolicyDecision *d, const char *sender, GPtrArray *visible, GPtrArray *bcc)
{
  d->copies = g_ptr_array_new_with_free_func (copy_free);
  if (!d->encrypt)
    {
      g_autoptr(GPtrArray) all = strv_list_new ();

      for (guint i = 0; i + 1 < visible->len; i++)
        add_unique (all, visible->pdata[i]);
      for (guint i = 0; i + 1 < bcc->len; i++)
        add_unique (all, bcc->pdata[i]);
      g_ptr_array_add (d->copies, copy_new (all, NULL, sender, FALSE));
      return;
    }
  if (visible->len > 1)
    g_ptr_array_add (d->copies, copy_new (visible, (const char *const *) visible->pdata, sender,
                                          FALSE));
  for (guint i = 0; i + 1 < bcc->len; i++)
    {
      g_autoptr(GPtrArray) one = strv_list_new ();

      add_unique (one, bcc->pdata[i]);
      g_ptr_array_add (d->copies, copy_new (one, (const char *const *) one->pdata, sender, TRUE));
    }
}

static void
append_list (GString *s, char **list, const PstPolicyInput *in, PstScheme scheme)
{
  for (char **a = list; *a != NULL; a++)
    {
      g_autofree char *why = in->why_no_key ? in->why_no_key (scheme, *a, in->user_data) : NULL;

      if (a != list)
        g_string_append (s, ", ");
      g_string_append (s, *a);
      if (why != NULL)
        g_string_append_printf (s, " (%s)", why);
    }
}

gboolean
pst_policy_check_lowering (const PstPolicySettings *account, const PstPolicySettings *message,
                           GError **error)
{
  if (account->encrypt != PST_POLICY_ENCRYPT_ALWAYS
      || message->encrypt == PST_POLICY_ENCRYPT_UNSET
      || message->encrypt == PST_POLICY_ENCRYPT_ALWAYS)
    return TRUE;
  g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
               _("the account requires encryption (encrypt always) and a message cannot ask for "
                 "less (encrypt %s); to send in the clear, change the account's setting; nothing "
                 "was sent"),
               pst_policy_encrypt_to_string (message->encrypt));
  return FALSE;
}

PstPolicySettings
pst_policy_effective (const PstPolicySettings *account, const PstPolicySettings *message)
{
  PstPolicySettings s;

  s.encrypt = message->encrypt != PST_POLICY_ENCRYPT_UNSET ? message->encrypt
              : account->encrypt != PST_POLICY_ENCRYPT_UNSET ? account->encrypt
              : PST_POLICY_ENCRYPT_AUTO;
  s.sign = message->sign != PST_POLICY_SIGN_UNSET ? message->sign
           : account->sign != PST_POLICY_SIGN_UNSET ? account->sign
           : PST_POLICY_SIGN_YES;
  s.scheme = message->scheme != PST_POLICY_SCHEME_UNSET ? message->scheme
             : account->scheme != PST_POLICY_SCHEME_UNSET ? account->scheme
             : PST_POLICY_SCHEME_AUTO;
  return s;
}

guint
pst_policy_schemes (const PstPolicySettings *account, const PstPolicySettings *message,
                    PstScheme order_out[2])
{
  PstPolicyScheme scheme = pst_policy_effective (account, message).scheme;

  if (scheme == PST_POLICY_SCHEME_PGP || scheme == PST_POLICY_SCHEME_SMIME)
    {
      order_out[0] = scheme == PST_POLICY_SCHEME_PGP ? PST_SCHEME_PGP : PST_SCHEME_SMIME;
      return 1;
    }
  order_out[0] = account->scheme == PST_POLICY_SCHEME_SMIME ? PST_SCHEME_SMIME : PST_SCHEME_PGP;
  order_out[1] = order_out[0] == PST_SCHEME_PGP ? PST_SCHEME_SMIME : PST_SCHEME_PGP;
  return 2;
}

PstPolicyDecision *
pst_policy_decide (const PstPolicyInput *in, GError **error)
{
  g_autoptr(PstPolicyDecision) d = g_new0 (PstPolicyDecision, 1);
  g_autoptr(GPtrArray) visible = strv_list_new ();
  g_autoptr(GPtrArray) bcc = strv_list_new ();
  g_autoptr(GPtrArray) everyone = strv_list_new ();
  PstPolicySettings effective;
  PstPolicyEncrypt encrypt;
  gboolean sign;
  PstScheme order[2];
  guint n_order;
  char **missing[2] = { NULL, NULL };
  char **held[2] = { NULL, NULL };
  int covering = -1;

  if (in->sender == NULL || strchr (in->sender, '@') == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "the message has no sender address");
      return NULL;
    }
  for (const char *const *r = in->recipients; r != NULL && *r != NULL; r++)
    add_unique (visible, *r);
  for (const char *const *r = in->bcc; r != NULL && *r != NULL; r++)
    if (!pst_addr_in_list (*r, (const char *const *) visible->pdata))
      add_unique (bcc, *r);
  if (visible->len + bcc->len == 2)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "the message has no recipients (To, Cc or Bcc)");
      return NULL;
    }
  for (guint i = 0; i + 1 < visible->len; i++)
    add_unique (everyone, visible->pdata[i]);
  for (guint i = 0; i + 1 < bcc->len; i++)
    add_unique (everyone, bcc->pdata[i]);
  add_unique (everyone, in->sender);   /* encrypt-to-self */

  if (!pst_policy_check_lowering (&in->account, &in->message, error))
    return NULL;
  effective = pst_policy_effective (&in->account, &in->message);
  encrypt = effective.encrypt;
  sign = effective.sign == PST_POLICY_SIGN_YES;
  n_order = pst_policy_schemes (&in->account, &in->message, order);

  d->sign = sign;
  d->scheme = PST_SCHEME_NONE;
  if (encrypt != PST_POLICY_ENCRYPT_NEVER)
    {
      for (guint i = 0; i < n_order; i++)
        {
          missing[i] = missing_in (in, order[i], (const char *const *) everyone->pdata);
          held[i] = encrypt == PST_POLICY_ENCRYPT_AUTO && missing[i][0] == NULL
                    && !in->reply_to_encrypted
                    ? not_recommended_in (in, order[i], (const char *const *) everyone->pdata)
                    : g_new0 (char *, 1);
          if (missing[i][0] == NULL && held[i][0] == NULL
              && (covering < 0 || (sign && !has_identity (in, order[covering])
                                   && has_identity (in, order[i]))))
            covering = i;
        }
      if (covering >= 0)
        {
          d->encrypt = TRUE;
          d->scheme = order[covering];
        }
      else if (encrypt == PST_POLICY_ENCRYPT_ALWAYS || in->reply_to_encrypted)
        {
          g_autoptr(GString) msg = g_string_new (
            encrypt == PST_POLICY_ENCRYPT_ALWAYS
              ? "encryption is required but there is no "
              : "this message answers or forwards encrypted mail, which is not sent in the "
                "clear, but there is no ");

          g_string_append_printf (msg, "%s for: ", scheme_key_words (order[0]));
          append_list (msg, missing[0], in, order[0]);
          if (n_order > 1)
            {
              g_string_append_printf (msg, " and no %s for: ", scheme_key_words (order[1]));
              append_list (msg, missing[1], in, order[1]);
            }
          if (encrypt != PST_POLICY_ENCRYPT_ALWAYS)
            g_string_append (msg, "; to send it in the clear anyway, use --encrypt never");
          g_string_append (msg, "; nothing was sent");
          g_set_error_literal (error, PST_ERROR, PST_ERROR_POLICY, msg->str);
          g_strfreev (missing[0]);
          g_strfreev (missing[1]);
          g_strfreev (held[0]);
          g_strfreev (held[1]);
          return NULL;
        }
      if (d->encrypt)
        {
          d->missing = g_new0 (char *, 1);
          d->not_recommended = g_new0 (char *, 1);
        }
      else
        {
          d->missing = g_steal_pointer (&missing[0]);
          d->not_recommended = g_steal_pointer (&held[0]);
        }
      g_strfreev (missing[0]);
      g_strfreev (missing[1]);
      g_strfreev (held[0]);
      g_strfreev (held[1]);
    }
  else
    {
      d->missing = g_new0 (char *, 1);
      d->not_recommended = g_new0 (char *, 1);
    }

  if (sign)
    {
      if (d->scheme == PST_SCHEME_NONE)
        {
          d->scheme = order[0];
          if (n_order > 1 && !has_identity (in, order[0]) && has_identity (in, order[1]))
            d->scheme = order[1];
        }
      if (!has_identity (in, d->scheme))
        {
          /* Without encryption under auto, name the preferred scheme. */
          g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                       "signing is required but there is no %s for: %s; nothing was sent",
                       scheme_identity_words (d->encrypt ? d->scheme : order[0]), in->sender);
          return NULL;
        }
    }

  make_copies (d, in->sender, visible, bcc);
  return g_steal_pointer (&d);
}

gboolean
pst_policy_encrypt_from_string (const char *text, PstPolicyEncrypt *out)
{
  if (g_strcmp0 (text, "never") == 0)
    *out = PST_POLICY_ENCRYPT_NEVER;
  else if (g_strcmp0 (text, "auto") == 0)
    *out = PST_POLICY_ENCRYPT_AUTO;
  else if (g_strcmp0 (text, "always") == 0)
    *out = PST_POLICY_ENCRYPT_ALWAYS;
  else
    return FALSE;
  return TRUE;
}

gboolean
pst_policy_scheme_from_string (const char *text, PstPolicyScheme *out)
{
  if (g_strcmp0 (text, "auto") == 0)
    *out = PST_POLICY_SCHEME_AUTO;
  else if (g_strcmp0 (text, "pgp") == 0)
    *out = PST_POLICY_SCHEME_PGP;
  else if (g_strcmp0 (text, "smime") == 0)
    *out = PST_POLICY_SCHEME_SMIME;
  else
    return FALSE;
  return TRUE;
}

const char *
pst_policy_encrypt_to_string (PstPolicyEncrypt encrypt)
{
  switch (encrypt)
    {
    case PST_POLICY_ENCRYPT_NEVER: return "never";
    case PST_POLICY_ENCRYPT_AUTO: return "auto";
    case PST_POLICY_ENCRYPT_ALWAYS: return "always";
    case PST_POLICY_ENCRYPT_UNSET: break;
    }
  return "unset";
}

const char *
pst_policy_scheme_to_string (PstPolicyScheme scheme)
{
  switch (scheme)
    {
    case PST_POLICY_SCHEME_AUTO: return "auto";
    case PST_POLICY_SCHEME_PGP: return "pgp";
    case PST_POLICY_SCHEME_SMIME: return "smime";
    case PST_POLICY_SCHEME_UNSET: break;
    }
  return "unset";
}
