#include "reader.h"

#include <string.h>

#include "crypto/pgp.h"
#include "mime/mime.h"
#include "crypto/smime.h"
#include "mime/open.h"
#include "subjects.h"
#include "util/error.h"

/* The skeleton reads whole messages into memory for MIME parsing; this cap
 * keeps a hostile message from exhausting memory until parsing streams. */
#define MAX_MESSAGE_SIZE (256u * 1024 * 1024)

GBytes *
pst_reader_slurp (GInputStream *in, gsize max_size, GError **error)
{
  g_autoptr (GByteArray) data = g_byte_array_new ();
  guint8 buf[65536];
  gssize n;

  while ((n = g_input_stream_read (in, buf, sizeof buf, NULL, error)) > 0)
    {
      if (data->len + (gsize) n > max_size)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "message larger than %zu bytes",
                       max_size);
          return NULL;
        }
      g_byte_array_append (data, buf, (guint) n);
    }
  if (n < 0)
    return NULL;
  return g_byte_array_free_to_bytes (g_steal_pointer (&data));
}

/* pst_reader_open, and the message as stored (@raw_out) and its info. */
static gboolean
open_stored (PstAgent *agent, gint64 id, PstMessageInfo **info_out, GBytes **raw_out,
             GBytes **plain_out, PstStatus **status_out, GError **error)
{
  g_autoptr (GInputStream) in = pst_store_message_open (agent->store, id, error);
  g_autoptr (GBytes) raw = NULL, stored = NULL;
  g_autofree char *home = NULL;
  g_autoptr (PstPgp) pgp = NULL;
  g_autofree char *smime_dir = g_build_filename (agent->paths->data_dir, "smime", NULL);
  PstSmimeLease *lease;
  gboolean ok;

  g_autoptr (PstMessageInfo) info = pst_store_message_get_info (agent->store, id, error);

  if (info == NULL || in == NULL || !(raw = pst_reader_slurp (in, MAX_MESSAGE_SIZE, error)))
    return FALSE;
  stored = g_bytes_ref (raw);
  home = pst_agent_get_gnupg_home (agent);
  if (!(pgp = pst_pgp_new (home, error)))
    return FALSE;
  if (info->sealed)
    {
      /* Sealed on arrival (seal_incoming): open the seal, then read the
       * message as it arrived. */
      g_autoptr (GBytes) arrived = NULL;
      PstIntegrity integrity = PST_INTEGRITY_NONE;

      /* Sealed without compression: what it holds is at most its size. */
      pst_pgp_set_output_limit (pgp, MAX (PST_DECRYPTION_MAX_OUTPUT, g_bytes_get_size (raw)));
      if (!pst_pgp_decrypt_verify (pgp, raw, &arrived, NULL, &integrity, error)
          || integrity != PST_INTEGRITY_OK)
        {
          if (error != NULL && *error == NULL)
            g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO,
                         "message %" G_GINT64_FORMAT ": its seal does not open whole", id);
          else
            g_prefix_error (error, "message %" G_GINT64_FORMAT ": cannot open its seal: ", id);
          return FALSE;
        }
      g_bytes_unref (raw);
      raw = g_steal_pointer (&arrived);
    }
  if (!(lease = pst_key_cache_take_smime (agent->keys, smime_dir, error)))
    return FALSE;
  ok = pst_message_open (pgp, pst_smime_lease_get (lease), raw, plain_out, status_out, error);
  pst_key_cache_return_smime (agent->keys, lease);
  /* The status still says how it arrived; this says how it is kept. */
  if (ok && info->sealed)
    pst_status_add_warning (*status_out, "sealed-on-arrival");
  /* The Subject that came out of the encryption: for list and search, in
   * memory only (subjects.h). */
  if (ok && (*status_out)->decryption == PST_DECRYPTION_OK && (*status_out)->protected_headers)
    {
      g_autoptr (PstMimeMessage) shown = pst_mime_message_parse (*plain_out, NULL);
      g_autofree char *subject = shown ? pst_mime_message_get_header (shown, "Subject") : NULL;

      pst_subjects_remember (id, info->account, subject);
    }
  if (ok && info_out != NULL)
    *info_out = g_steal_pointer (&info);
  if (ok && raw_out != NULL)
    *raw_out = g_steal_pointer (&stored);
  return ok;
}

gboolean
pst_reader_open (PstAgent *agent, gint64 id, GBytes **plain_out, PstStatus **status_out,
                 GError **error)
{
  return open_stored (agent, id, NULL, NULL, plain_out, status_out, error);
}

/* The Subject to keep in the store for message @info.  The one shown
 * (@shown_msg's) when it travelled in the clear; when it came out of a
 * decrypted layer (RFC 9788 header protection), it is plaintext, which
 * DESIGN.md §3 keeps off the disk by default: then what the outside said
 * ("..."), unless the account says store_decrypted_subject.  Transfer
 * full, never NULL. */
static char *
subject_to_store (PstAgent *agent, const PstMessageInfo *info, GBytes *raw,
                  PstMimeMessage *shown_msg, const PstStatus *status)
{
  g_autoptr (PstAccount) account = NULL;
  g_autoptr (PstMimeMessage) outer = NULL;
  char *subject = NULL;

  if (status->decryption == PST_DECRYPTION_OK && status->protected_headers
      && !((account = pst_agent_get_account (agent, info->account, NULL))
           && account->store_decrypted_subject))
    {
      if ((outer = pst_mime_message_parse (raw, NULL)) != NULL)
        subject = pst_mime_message_get_header (outer, "Subject");
    }
  else if (shown_msg != NULL)
    subject = pst_mime_message_get_header (shown_msg, "Subject");
  return subject != NULL ? subject : g_strdup ("");
}

void
pst_analysis_clear (PstAnalysis *a)
{
  g_clear_pointer (&a->from, g_free);
  g_clear_pointer (&a->subject, g_free);
  g_clear_pointer (&a->date, g_free);
  g_clear_pointer (&a->crypto, g_free);
  g_clear_pointer (&a->scan_name, g_free);
}

void
pst_reader_scan (PstAgent *agent, GBytes *plain, PstAnalysis *a)
{
  PstScanVerdict v;

  a->scan_verdict = "skipped";
  a->quarantine = FALSE;
  if (agent->scanner == NULL)
    return;
  v = pst_scanner_scan (agent->scanner, plain, &a->scan_name);
  a->scan_verdict = pst_scan_verdict_name (v);
  a->quarantine = v == PST_SCAN_INFECTED || (v == PST_SCAN_ERROR && !agent->scan_error_delivers);
}

gboolean
pst_reader_analyze_to (PstAgent *agent, gint64 id, PstAnalysis *out, GError **error)
{
  g_autoptr (GBytes) plain = NULL, raw = NULL;
  g_autoptr (PstStatus) status = NULL;
  g_autoptr (PstMimeMessage) msg = NULL;
  g_autoptr (PstMessageInfo) info = NULL;

  memset (out, 0, sizeof *out);
  out->id = id;
  if (!open_stored (agent, id, &info, &raw, &plain, &status, error))
    return FALSE;
  msg = pst_mime_message_parse (plain, NULL);
  {
    /* From and Date as the outside says when the header shown came out of
     * a decrypted layer: decrypted header values stay off the disk, as the
     * Subject does (DESIGN.md §3, §4).  Without a matching signature the
     * reader shows the outer ones anyway (mime/hp.h). */
    g_autoptr (PstMimeMessage) outer = NULL;
    PstMimeMessage *src = msg;

    if (status->decryption == PST_DECRYPTION_OK && status->protected_headers
        && (outer = pst_mime_message_parse (raw, NULL)) != NULL)
      src = outer;
    if (src != NULL)
      {
        out->from = pst_mime_message_get_header (src, "From");
        out->date = pst_mime_message_get_header (src, "Date");
      }
  }
  out->subject = subject_to_store (agent, info, raw, msg, status);
  if (out->from == NULL)
    out->from = g_strdup ("");
  if (out->date == NULL)
    out->date = g_strdup ("");
  out->crypto = pst_status_to_json_string (status);
  out->arrived_plain = status->decryption == PST_DECRYPTION_NOT_ENCRYPTED;
  /* The decrypted message is what a client would show: scan that. */
  pst_reader_scan (agent, plain, out);
  return TRUE;
}

gboolean
pst_reader_analyze (PstAgent *agent, gint64 id, GError **error)
{
  PstAnalysis a;
  gboolean ok;

  if (!pst_reader_analyze_to (agent, id, &a, error))
    return FALSE;
  {
    PstMessageInfoUpdate u = { id, a.from, a.subject, a.date, a.crypto, a.scan_verdict,
                               a.scan_name, a.quarantine ? 1 : 0 };
    ok = pst_store_messages_set_info (agent->store, &u, 1, error);
  }
  pst_analysis_clear (&a);
  return ok;
}
