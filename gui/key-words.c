/* key-words.c — see key-words.h. */
#include "key-words.h"

#include <string.h>
#include <glib/gi18n.h>

#include "agent.h"
#include "util/addr.h"
#include "util/error.h"
#include "verdict.h"

const char *
pst_key_source_words (const char *source)
{
  static const struct { const char *source, *words; } table[] = {
    { "imported", N_("imported by you") },
    { "generated", N_("made with Postern") },
    { "autocrypt", N_("from their mail (Autocrypt)") },
    { "gossip", N_("passed on by another sender (Autocrypt-Gossip)") },
    { "wkd", N_("from the Web Key Directory of their domain") },
    { "harvested", N_("from a signed message") },
  };

  for (gsize i = 0; source != NULL && i < G_N_ELEMENTS (table); i++)
    if (strcmp (source, table[i].source) == 0)
      return _(table[i].words);
  return NULL;
}

char *
pst_key_fingerprint_grouped (const char *fpr)
{
  GString *s;

  if (fpr == NULL || strlen (fpr) != 40 || strspn (fpr, "0123456789ABCDEFabcdef") != 40)
    return pst_verdict_safe_text (fpr);
  s = g_string_sized_new (50);
  for (int i = 0; i < 40; i += 4)
    g_string_append_printf (s, "%s%.4s", i ? " " : "", fpr + i);
  return g_string_free (s, FALSE);
}

static char *
date_of (gint64 t)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_local (t);

  return dt ? g_date_time_format (dt, "%Y-%m-%d") : g_strdup ("?");
}

/* Whether keys.check refused an answer to encrypted mail for want of
 * recipients' keys (pst_key_reply_blocked_words). */
static gboolean
reply_blocked (JsonObject *check)
{
  return pst_json_bool (check, "reply_to_encrypted") && pst_json_str (check, "refused") != NULL;
}

static void
append_mark (GString *s, JsonObject *o, gboolean blocked)
{
  gboolean pgp = pst_json_bool (o, "pgp"), smime = pst_json_bool (o, "smime");
  const char *from = pgp ? pst_key_source_words (pst_json_str (o, "source")) : NULL;
  g_autofree char *address = pst_verdict_safe_text (pst_json_str (o, "address"));
  g_autofree char *problem = pst_json_str (o, "problem") ? pst_verdict_safe_text (pst_json_str (o, "problem")) : NULL;
  g_autofree char *line = NULL;

  if (pgp || smime)
    {
      const char *known = pgp && smime ? _("OpenPGP key and S/MIME certificate known")
                          : pgp ? _("OpenPGP key known") : _("S/MIME certificate known");

      if (from != NULL)
        line = g_markup_printf_escaped ("<span foreground=\"#1a6a1a\">✔</span> %s: %s (%s)", address, known, from);
      else
        line = g_markup_printf_escaped ("<span foreground=\"#1a6a1a\">✔</span> %s: %s", address, known);
    }
  else
    line = g_markup_printf_escaped ("<span foreground=\"" PST_KEY_PROBLEM_COLOUR "\">✘</span> %s: %s", address,
                                    problem ? problem : _("no key or certificate known"));
  g_string_append_printf (s, "%s%s", s->len ? "\n" : "", line);
  if (blocked && problem != NULL)
    {
      g_autofree char *blocks = g_markup_printf_escaped (
        " <span foreground=\"" PST_KEY_PROBLEM_COLOUR "\" weight=\"bold\">⚠ %s</span>",
        _("blocks Send: the answer to encrypted mail stays encrypted"));
      g_string_append (s, blocks);
    }
  if (pgp && pst_json_bool (o, "key_changed"))
    {
      g_autofree char *changed = g_markup_printf_escaped (
        " <span foreground=\"" PST_KEY_PROBLEM_COLOUR "\" weight=\"bold\">⚠ %s</span>",
        _("key changed: it is not the key this address had before"));
      g_string_append (s, changed);
    }
}

char *
pst_key_marks_markup (JsonObject *check)
{
  JsonArray *rcpts = pst_json_arr (check, "recipients");
  GString *s = g_string_new (NULL);

  for (guint i = 0; rcpts && i < json_array_get_length (rcpts); i++)
    {
      JsonNode *n = json_array_get_element (rcpts, i);
      if (JSON_NODE_HOLDS_OBJECT (n))
        append_mark (s, json_node_get_object (n), reply_blocked (check));
    }
  return g_string_free (s, FALSE);
}

char *
pst_key_reply_blocked_words (JsonObject *check, gboolean forward)
{
  JsonArray *rcpts = pst_json_arr (check, "recipients");
  g_autoptr (GString) names = g_string_new (NULL);

  if (!reply_blocked (check))
    return NULL;
  for (guint i = 0; rcpts && i < json_array_get_length (rcpts); i++)
    {
      JsonNode *n = json_array_get_element (rcpts, i);
      JsonObject *o = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
      g_autofree char *safe = NULL;

      if (o == NULL || pst_json_str (o, "problem") == NULL)
        continue;
      safe = pst_verdict_safe_text (pst_json_str (o, "address"));
      g_string_append_printf (names, "%s%s", names->len ? ", " : "", safe);
    }
  if (names->len == 0)   /* the sender's own key, say: the agent's words */
    return NULL;
  return g_strdup_printf (forward ? _("No key for %s: the forward of an encrypted message cannot go out in the clear.")
                                  : _("No key for %s: the reply to an encrypted message cannot go out in the clear."),
                          names->str);
}

const char *
pst_key_reply_clear_warning (gboolean forward)
{
  return forward ? _("This forwards a message that arrived encrypted. Sent without encryption, that message goes "
                     "out in the clear: the mail providers on the way can read it.")
                 : _("This answers a message that arrived encrypted. Sent without encryption, the text quoted from "
                     "it goes out in the clear: the mail providers on the way can read it.");
}

char *
pst_key_not_recommended_words (JsonObject *check)
{
  JsonArray *nr = pst_json_arr (check, "not_recommended");
  g_autoptr (GString) names = g_string_new (NULL);

  if (nr == NULL || pst_json_bool (check, "will_encrypt"))
    return NULL;
  for (guint i = 0; i < json_array_get_length (nr); i++)
    {
      JsonNode *n = json_array_get_element (nr, i);
      g_autofree char *safe = NULL;

      if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
        continue;
      safe = pst_verdict_safe_text (json_node_get_string (n));
      g_string_append_printf (names, "%s%s", names->len ? ", " : "", safe);
    }
  if (names->len == 0)
    return NULL;
  return g_strdup_printf (_("It will NOT be encrypted: Autocrypt does not recommend encrypting to %s."),
                          names->str);
}

static gboolean
has_address (JsonObject *key, const char *member, const char *address)
{
  JsonArray *a = pst_json_arr (key, member);

  for (guint i = 0; a && i < json_array_get_length (a); i++)
    {
      JsonNode *n = json_array_get_element (a, i);
      if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
          && pst_addr_equal (json_node_get_string (n), address))
        return TRUE;
    }
  return FALSE;
}

JsonObject *
pst_key_find_own (JsonObject *keys, const char *address)
{
  JsonArray *a = pst_json_arr (keys, "keys");

  for (guint i = 0; a && address && i < json_array_get_length (a); i++)
    {
      JsonNode *n = json_array_get_element (a, i);
      JsonObject *k = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
      const char *validity = pst_json_str (k, "validity") ? pst_json_str (k, "validity") : pst_json_str (k, "status");

      if (k != NULL && g_strcmp0 (pst_json_str (k, "scheme"), "pgp") == 0 && pst_json_bool (k, "secret")
          && g_strcmp0 (validity, "valid") == 0 && has_address (k, "addresses", address))
        return k;
    }
  return NULL;
}

static void
append_expiry (GString *s, gint64 expires)
{
  g_autofree char *date = expires > 0 ? date_of (expires) : NULL;

  g_string_append_c (s, '\n');
  if (date != NULL)
    g_string_append_printf (s, _("It expires on %s."), date);
  else
    g_string_append (s, _("It does not expire."));
}

char *
pst_key_describe_own (JsonObject *key, const char *address)
{
  g_autofree char *fpr = pst_key_fingerprint_grouped (pst_json_str (key, "fingerprint"));
  g_autofree char *addr = pst_verdict_safe_text (address);
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, _("%s has an OpenPGP key: %s."), addr, fpr);
  g_string_append_c (s, '\n');
  g_string_append (s, _("Mail from this address is signed with it."));
  append_expiry (s, pst_json_int (key, "expires"));
  return g_string_free (s, FALSE);
}

char *
pst_key_describe_generated (JsonObject *r)
{
  g_autofree char *fpr = pst_key_fingerprint_grouped (pst_json_str (r, "fingerprint"));
  g_autofree char *addr = pst_verdict_safe_text (pst_json_str (r, "address"));
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, _("Created the OpenPGP key %s for %s."), fpr, addr);
  g_string_append_c (s, '\n');
  g_string_append (s, _("Mail from this address is now signed with it."));
  g_string_append_c (s, '\n');
  g_string_append (s, _("Others get the key with every message you send (Autocrypt), so that they can write "
                        "to you encrypted."));
  append_expiry (s, pst_json_int (r, "expires"));
  return g_string_free (s, FALSE);
}

gboolean
pst_key_check_passphrase (const char *first, const char *again, gboolean none, GError **error)
{
  if (none)
    return TRUE;
  if (first == NULL || *first == '\0')
    g_set_error_literal (error, PST_ERROR, PST_ERROR_USAGE,
                         _("Type a passphrase twice, or tick “No passphrase”."));
  else if (g_strcmp0 (first, again) != 0)
    g_set_error_literal (error, PST_ERROR, PST_ERROR_USAGE,
                         _("The two passphrases differ: type the same passphrase in both fields."));
  else if (strpbrk (first, "\r\n") != NULL)
    g_set_error_literal (error, PST_ERROR, PST_ERROR_USAGE, _("The passphrase must be on one line."));
  else
    return TRUE;
  return FALSE;
}
