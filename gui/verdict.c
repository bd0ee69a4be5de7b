/* verdict.c — see verdict.h. */
#include "verdict.h"

#include <string.h>
#include <glib/gi18n.h>

#include "agent.h"
#include "util/text.h"

static gboolean
is (const char *a, const char *b)
{
  return g_strcmp0 (a, b) == 0;
}

static void
add (GString *s, const char *sentence)
{
  if (s->len)
    g_string_append (s, " · ");
  g_string_append (s, sentence);
}

char *
pst_verdict_safe_text (const char *text)
{
  return pst_text_sanitize_line (text ? text : "", -1);
}

static const char *
warning_words (const char *w)
{
  if (is (w, "weak-digest"))
    return _("the signature uses a weak digest (SHA-1 or older)");
  if (is (w, "date-mismatch"))
    return _("the signature's time does not match the message's date");
  if (is (w, "nested-signature"))
    return _("another signature inside was not checked as the message's");
  if (is (w, "sealed-on-arrival"))
    return _("it arrived unencrypted and was sealed to your key on arrival");
  if (is (w, "date-differs"))
    return _("the signature was made long before or after the message's date");
  if (is (w, "header-mismatch"))
    return _("the encrypted part names another sender or recipients, unsigned: the outer ones are shown");
  if (is (w, "key-locked"))
    return _("your S/MIME key is locked: run postern keys unlock");
  if (is (w, "key-changed"))
    return _("the sender's key CHANGED since earlier mail: the signer may not be who wrote before");
  return NULL;
}

static gboolean
signature_good (JsonObject *sig)
{
  return is (pst_json_str (sig, "status"), "good") && pst_json_bool (sig, "from_match")
         && is (pst_json_str (sig, "covers"), "whole");
}

static void
describe_signature (GString *s, JsonObject *sig, gboolean *problem)
{
  const char *st = pst_json_str (sig, "status");
  const char *signer = pst_json_str (sig, "signer");
  g_autofree char *who = NULL;

  if (st == NULL || is (st, "none"))
    {
      add (s, _("not signed"));
      return;
    }
  /* Not an address (a certificate's subject, words made up to read as
   * the status): not shown, lest they be taken for Postern's. */
  if (!pst_text_is_plain_address (signer))
    signer = _("an unknown signer");
  if (is (st, "good"))
    who = g_strdup_printf (_("signed by %s"), signer);
  else if (is (st, "unknown-key"))
    who = g_strdup (_("signed with a key that is not known: NOT verified"));
  else if (is (st, "expired-key"))
    who = g_strdup_printf (_("signed by %s with an EXPIRED key or certificate"), signer);
  else if (is (st, "revoked-key"))
    who = g_strdup_printf (_("signed by %s with a REVOKED key or certificate"), signer);
  else if (is (st, "bad"))
    who = g_strdup_printf (_("signature by %s is NOT good"), signer);
  else
    who = g_strdup (_("the signature could not be checked"));
  add (s, who);
  if (!is (st, "unknown-key"))
    add (s, pst_json_bool (sig, "from_match") ? _("the signer is the sender")
                                               : _("the signer is NOT the sender"));
  if (!is (pst_json_str (sig, "covers"), "whole"))
    add (s, _("the signature covers only part of the message"));
  *problem |= !signature_good (sig);
}

char *
pst_verdict_describe (JsonObject *crypto, JsonObject *scan, PstVerdictLevel *level_out)
{
  g_autoptr (GString) s = g_string_new (NULL);
  const char *scheme = pst_json_str (crypto, "scheme");
  const char *dec = pst_json_str (crypto, "decryption");
  const char *integrity = pst_json_str (crypto, "integrity");
  const char *verdict = pst_json_str (scan, "verdict");
  JsonObject *sig = pst_json_obj (crypto, "signature");
  JsonArray *warnings = pst_json_arr (crypto, "warnings");
  gboolean problem = FALSE;

  add (s, is (scheme, "pgp") ? "OpenPGP" : is (scheme, "smime") ? "S/MIME" : _("no OpenPGP or S/MIME"));
  if (is (dec, "ok"))
    {
      gboolean whole = is (pst_json_str (crypto, "encryption_covers"), "whole");
      add (s, whole ? _("encrypted") : _("only PART of the message was encrypted"));
      problem |= !whole;
    }
  else if (is (dec, "failed"))
    {
      add (s, _("could NOT be decrypted"));
      problem = TRUE;
    }
  else if (is (dec, "too-large"))
    {
      add (s, _("NOT decrypted: its content expands past the decryption limit (a compression bomb?)"));
      problem = TRUE;
    }
  else
    add (s, _("not encrypted"));
  if (is (integrity, "missing"))
    {
      add (s, _("integrity protection is MISSING: the content is withheld"));
      problem = TRUE;
    }
  else if (is (integrity, "failed"))
    {
      add (s, _("the integrity check FAILED: the content is withheld"));
      problem = TRUE;
    }
  describe_signature (s, sig, &problem);
  for (guint i = 0; warnings && i < json_array_get_length (warnings); i++)
    {
      const char *w = json_array_get_string_element (warnings, i);
      const char *words = warning_words (w);

      if (words)
        add (s, words);
      else
        {
          /* A warning this client has no words for still counts. */
          g_autofree char *safe = pst_verdict_safe_text (w);
          g_autofree char *t = g_strdup_printf (_("also: %s"), safe);
          add (s, t);
        }
      /* Notes, not problems: how the message is kept, a layer not
       * promoted, and a signing time far from a Date the sender chose. */
      if (!is (w, "sealed-on-arrival") && !is (w, "nested-signature") && !is (w, "date-differs"))
        problem = TRUE;
    }
  if (is (verdict, "clean"))
    add (s, _("virus scan: clean"));
  else if (is (verdict, "infected"))
    {
      const char *found = pst_json_str (scan, "name");
      g_autofree char *name = pst_verdict_safe_text (found ? found : "?");
      g_autofree char *t = g_strdup_printf (_("virus scan: INFECTED with %s"), name);
      add (s, t);
      problem = TRUE;
    }
  else if (is (verdict, "error"))
    {
      add (s, _("virus scan: could not be scanned"));
      problem = TRUE;
    }
  else
    add (s, _("virus scan: not scanned"));
  /* Green only for an author's signature that holds: anyone can encrypt
   * to the user, so encryption alone says nothing of who wrote it. */
  *level_out = problem ? PST_VERDICT_PROBLEM
               : signature_good (sig) ? PST_VERDICT_GOOD : PST_VERDICT_NEUTRAL;
  return g_string_free (g_steal_pointer (&s), FALSE);
}

typedef enum { MARK_PLAIN, MARK_ENC, MARK_SIGNED, MARK_ENC_SIGNED, MARK_PROBLEM, MARK_ENC_PROBLEM,
               MARK_UNDECRYPTABLE, MARK_INTEGRITY, MARK_QUARANTINED, MARK_UNANALYSED } Mark;

static Mark
mark_of (JsonObject *crypto, JsonObject *scan)
{
  JsonObject *sig = pst_json_obj (crypto, "signature");
  const char *st = pst_json_str (sig, "status");
  const char *verdict = pst_json_str (scan, "verdict");
  gboolean enc = is (pst_json_str (crypto, "decryption"), "ok")
                 && is (pst_json_str (crypto, "encryption_covers"), "whole");
  gboolean signed_ = st != NULL && !is (st, "none");

  /* The analysis worker failed on it (agent/worker.h): no verdict yet. */
  if (is (pst_json_str (crypto, "analysis"), "failed"))
    return MARK_UNANALYSED;
  if (is (verdict, "infected") || is (verdict, "error"))
    return MARK_QUARANTINED;
  if (is (pst_json_str (crypto, "decryption"), "failed")
      || is (pst_json_str (crypto, "decryption"), "too-large"))
    return MARK_UNDECRYPTABLE;
  if (is (pst_json_str (crypto, "integrity"), "missing") || is (pst_json_str (crypto, "integrity"), "failed"))
    return MARK_INTEGRITY;
  if ((signed_ && !signature_good (sig)) || is (pst_json_str (crypto, "encryption_covers"), "part"))
    return enc ? MARK_ENC_PROBLEM : MARK_PROBLEM;
  if (signed_)
    return enc ? MARK_ENC_SIGNED : MARK_SIGNED;
  return enc ? MARK_ENC : MARK_PLAIN;
}

const char *
pst_verdict_mark (JsonObject *crypto, JsonObject *scan)
{
  switch (mark_of (crypto, scan))
    {
    case MARK_QUARANTINED: return _("quarantined");
    case MARK_UNANALYSED: return _("could not be analysed");
    case MARK_UNDECRYPTABLE: return _("cannot be decrypted");
    case MARK_INTEGRITY: return _("integrity problem: withheld");
    case MARK_ENC_PROBLEM: return _("encrypted, signature problem");
    case MARK_PROBLEM: return _("signature problem");
    case MARK_ENC_SIGNED: return _("encrypted, signed");
    case MARK_SIGNED: return _("signed");
    case MARK_ENC: return _("encrypted");
    case MARK_PLAIN: break;
    }
  return _("plain");
}

const char *
pst_verdict_icon (JsonObject *crypto, JsonObject *scan)
{
  switch (mark_of (crypto, scan))
    {
    case MARK_QUARANTINED: return "dialog-error-symbolic";
    case MARK_UNANALYSED:
    case MARK_UNDECRYPTABLE:
    case MARK_INTEGRITY:
    case MARK_ENC_PROBLEM:
    case MARK_PROBLEM: return "dialog-warning-symbolic";
    case MARK_ENC_SIGNED:
    case MARK_ENC: return "channel-secure-symbolic";
    case MARK_SIGNED: return "emblem-ok-symbolic";
    case MARK_PLAIN: break;
    }
  return NULL;
}
