#include "reader.h"

#include <malloc.h>
#include <string.h>

#include "crypto/pgp.h"
#include "mime/mime.h"
#include "crypto/smime.h"
#include "mime/reader.h"
#include "arrived-scan.h"
#include "peers.h"
#include "subjects.h"
#include "worker.h"
#include "util/error.h"

/* The skeleton reads whole messages into memory for MIME parsing; this cap
 * keeps a hostile message from exhausting memory until parsing streams. */
#define MAX_MESSAGE_SIZE (256u * 1024 * 1024)
G_STATIC_ASSERT ((MAX_MESSAGE_SIZE & (MAX_MESSAGE_SIZE - 1)) == 0);

/* The cap, MAX_MESSAGE_SIZE.  In test builds POSTERN_TEST_READ_CAP_MIB, a
 * power of two below it, lowers it: the sanitizer build's memory test
 * takes the paths above the cap with messages of 17 MiB instead of 272. */
static gsize
max_message_size (void)
{
#ifdef PST_WORKER_TEST_HOOKS
  const char *v = g_getenv ("POSTERN_TEST_READ_CAP_MIB");
  guint64 mib = v != NULL ? g_ascii_strtoull (v, NULL, 10) : 0;

  if (mib > 0 && mib < (MAX_MESSAGE_SIZE >> 20) && (mib & (mib - 1)) == 0)
    return (gsize) mib << 20;
#endif
  return MAX_MESSAGE_SIZE;
}

/* A seal is ASCII armor (4/3 of what it holds, in lines of 64) around the
 * packets: the largest a seal of a message of the cap can be. */
static gsize
max_sealed_size (void)
{
  return max_message_size () / 3 * 4 / 64 * 65 + 1024 * 1024;
}

/* A memory stream for a seal's plaintext: its growth (to the next power
 * of two) stopped at the cap, a power of two itself, so that a seal holding
 * more fails its write (G_IO_ERROR_NO_SPACE) before it takes twice the
 * cap; and every buffer it leaves wiped, as every plaintext the agent
 * holds is (util/sink.h): a realloc would leave the old one in the heap
 * as it was. */
static gpointer
wiping_realloc (gpointer data, gsize size)
{
  gsize old = data != NULL ? malloc_usable_size (data) : 0;
  gpointer grown;

  if (size > max_message_size ())
    return NULL;
  grown = g_malloc (size);
  if (data != NULL)
    {
      memcpy (grown, data, MIN (old, size));
      explicit_bzero (data, old);
      g_free (data);
    }
  return grown;
}

static void
wiping_free (gpointer data)
{
  if (data == NULL)
    return;
  explicit_bzero (data, malloc_usable_size (data));
  g_free (data);
}

/* Why message @id, whose plaintext passes the cap, is not read: the
 * words of a seal found (or known) to hold more than its size says.
 * Transfer full. */
static char *
holds_more_than_cap (gint64 id)
{
  return g_strdup_printf ("message %" G_GINT64_FORMAT " holds more than the %u MiB the agent reads "
                          "whole to analyse; `postern export --raw %" G_GINT64_FORMAT "` writes it "
                          "as it arrived", id, (guint) (max_message_size () >> 20), id);
}

/* Whether the agent does not read message @info whole (it is above the
 * cap by its stored size, or, sealed, by the size it arrived with, which
 * its analysis recorded: pst_reader_failed_summary), and then why, for
 * the user. */
static gboolean
too_large (const PstMessageInfo *info, char **why_out)
{
  g_autofree char *size = NULL;

  if ((guint64) info->size > (info->sealed ? max_sealed_size () : max_message_size ()))
    {
      size = g_format_size_full ((guint64) info->size, G_FORMAT_SIZE_IEC_UNITS);
      *why_out = g_strdup_printf ("message %" G_GINT64_FORMAT " is %s%s, more than the %u MiB the "
                                  "agent reads whole to analyse; `postern export --raw %" G_GINT64_FORMAT
                                  "` writes it as it arrived", info->id, info->sealed ? "sealed and " : "",
                                  size, (guint) (max_message_size () >> 20), info->id);
      return TRUE;
    }
  /* A seal smaller than the largest of a message within the cap (a text
   * compresses) is not opened to find it out again. */
  if (info->sealed && pst_reader_summary_arrived_size (info->crypto_json) > max_message_size ())
    {
      *why_out = holds_more_than_cap (info->id);
      return TRUE;
    }
  return FALSE;
}

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

/* FALSE with @error saying why message @id's seal did not open (gpg's
 * reason, or that its integrity was not confirmed). */
static gboolean
seal_failed (gint64 id, GError **error)
{
  if (error != NULL && *error == NULL)
    g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO,
                 "message %" G_GINT64_FORMAT ": its seal does not open whole", id);
  else
    g_prefix_error (error, "message %" G_GINT64_FORMAT ": cannot open its seal: ", id);
  return FALSE;
}

/* Whether message @id is quarantined; then @error says so. */
static gboolean
quarantined (const PstMessageInfo *info, gint64 id, GError **error)
{
  if (!info->quarantined)
    return FALSE;
  g_set_error (error, PST_ERROR, PST_ERROR_INFECTED,
               "message %" G_GINT64_FORMAT " is quarantined (%s); see `postern quarantine`",
               id, info->scan_name ? info->scan_name : "scan");
  return TRUE;
}

/* Message @id as it arrived (its seal, if any, opened with @pgp), and its
 * info.  Transfer full. */
static gboolean
load_arrived (PstAgent *agent, gint64 id, PstPgp *pgp, PstMessageInfo **info_out,
              GBytes **arrived_out, GError **error)
{
  g_autoptr (PstMessageInfo) info = pst_store_message_get_info (agent->store, id, error);
  g_autoptr (GInputStream) in = NULL;
  g_autoptr (GBytes) raw = NULL;

  g_autofree char *why = NULL;

  if (info == NULL)
    return FALSE;
  /* Larger than the cap by its stored size: refused before a byte is read,
   * so that the agent's memory does not grow to the cap only to find out
   * (a quarantined one says so: export --raw would refuse it). */
  if (too_large (info, &why))
    {
      if (!quarantined (info, id, error))
        g_set_error_literal (error, PST_ERROR, PST_ERROR_FAILED, why);
      return FALSE;
    }
  if (!(in = pst_store_message_open (agent->store, id, error)))
    return FALSE;
  if (info->sealed)
    {
      /* Sealed on arrival (seal_incoming): the seal opened as it is read
       * from the store, into memory: the message as it arrived, without
       * the armored seal beside it (4/3 of it). */
      g_autoptr (GOutputStream) out = g_memory_output_stream_new (NULL, 0, wiping_realloc,
                                                                  wiping_free);
      PstIntegrity integrity = PST_INTEGRITY_NONE;

      g_autoptr (GError) local = NULL;
      gboolean opened = pst_pgp_decrypt_stream (pgp, in, out, NULL, &integrity, &local)
                        && integrity == PST_INTEGRITY_OK && g_output_stream_close (out, NULL, &local);

      /* A seal just below the size that refuses it before reading may
       * still hold more than the cap: said as above. */
      if (g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (out)) > max_message_size ()
          || g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NO_SPACE))
        {
          g_autofree char *why_more = holds_more_than_cap (id);

          g_set_error_literal (error, PST_ERROR, PST_ERROR_FAILED, why_more);
          return FALSE;
        }
      if (!opened)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return seal_failed (id, error);
        }
      raw = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
    }
  else if (!(raw = pst_reader_slurp (in, max_message_size (), error)))
    return FALSE;
  *info_out = g_steal_pointer (&info);
  *arrived_out = g_steal_pointer (&raw);
  return TRUE;
}

gboolean
pst_reader_arrived (PstAgent *agent, gint64 id, GBytes **arrived_out, GError **error)
{
  g_autofree char *home = pst_agent_get_gnupg_home (agent);
  g_autoptr (PstPgp) pgp = pst_pgp_new (home, error);
  g_autoptr (PstMessageInfo) info = NULL;

  if (pgp == NULL || !load_arrived (agent, id, pgp, &info, arrived_out, error))
    return FALSE;
  if (quarantined (info, id, error))
    {
      g_clear_pointer (arrived_out, g_bytes_unref);
      return FALSE;
    }
  return TRUE;
}

gboolean
pst_reader_arrived_to (PstAgent *agent, gint64 id, GOutputStream *out, GError **error)
{
  g_autoptr (PstMessageInfo) info = pst_store_message_get_info (agent->store, id, error);
  g_autoptr (GInputStream) in = NULL;
  g_autofree char *home = NULL;
  g_autoptr (PstPgp) pgp = NULL;
  PstIntegrity integrity = PST_INTEGRITY_NONE;

  if (info == NULL)
    return FALSE;
  /* Not scanned yet (its fetch's analysis still running, a scanner added
   * since): scanned first as it arrived (DESIGN.md §11). */
  if (pst_arrived_scan_wanted (agent, info) && !pst_arrived_scan_quarantine (agent, info, error))
    return FALSE;
  /* The stream, then what the message is: sealed meanwhile (the fetch's
   * analysis, during the scan), the info says so; sealed after, the
   * stream fails (store.h). */
  if (!(in = pst_store_message_open (agent->store, id, error)))
    return FALSE;
  g_clear_pointer (&info, pst_message_info_free);
  if (!(info = pst_store_message_get_info (agent->store, id, error)) || quarantined (info, id, error))
    return FALSE;
  if (!info->sealed)
    return g_output_stream_splice (out, in, G_OUTPUT_STREAM_SPLICE_NONE, NULL, error) >= 0;
  /* Sealed on arrival: the seal opened as the bytes pass.  gpg checks its
   * integrity at the end; what was written before a failure is the
   * caller's to discard (the CLI removes its output file). */
  home = pst_agent_get_gnupg_home (agent);
  if (!(pgp = pst_pgp_new (home, error)))
    return FALSE;
  /* Sealed without compression: what it holds is at most its size. */
  pst_pgp_set_output_limit (pgp, MAX (PST_DECRYPTION_MAX_OUTPUT, (gsize) info->size));
  if (!pst_pgp_decrypt_stream (pgp, in, out, NULL, &integrity, error)
      || integrity != PST_INTEGRITY_OK)
    return seal_failed (id, error);
  return TRUE;
}

/* The stored message @in reads, from its start again, as it was when @in
 * opened (PstWorkerReopen). */
static GInputStream *
reopen_stored (gpointer in, GError **error)
{
#ifdef PST_WORKER_TEST_HOOKS
  /* A store that fails here, for tests/integration/test-worker.sh. */
  if (g_strcmp0 (g_getenv ("POSTERN_TEST_REOPEN_FAILS"), "1") == 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "test hook: the store cannot be read again");
      return NULL;
    }
#else
  (void) error;
#endif
  return pst_store_stream_reopen (in);
}

/* pst_reader_open, and the message's info. */
static gboolean
open_stored (PstAgent *agent, gint64 id, int attachment, PstMessageInfo **info_out,
             GBytes **plain_out, PstStatus **status_out, PstView **view_out, GError **error)
{
  g_autoptr (GBytes) raw = NULL;
  g_autoptr (GInputStream) in = NULL;
  g_autofree char *home = pst_agent_get_gnupg_home (agent);
  g_autoptr (PstPgp) pgp = NULL;
  g_autofree char *smime_dir = g_build_filename (agent->paths->data_dir, "smime", NULL);
  g_autoptr (PstView) view = NULL;
  g_autoptr (PstMessageInfo) info = NULL;
  g_autofree char *why = NULL;
  PstSmimeLease *lease;
  gboolean ok;

  /* The stream, then what the message is: sealed meanwhile, the info says
   * so; sealed after, the stream fails (store.h).  A message as it arrived
   * goes to the worker as it is read from the store, not held here; a
   * seal is opened into memory first, and one too large is refused, by
   * load_arrived. */
  if (!(pgp = pst_pgp_new (home, error)) || !(in = pst_store_message_open (agent->store, id, error))
      || !(info = pst_store_message_get_info (agent->store, id, error)))
    return FALSE;
  if (info->sealed || too_large (info, &why))
    {
      g_clear_object (&in);
      g_clear_pointer (&info, pst_message_info_free);
      if (!load_arrived (agent, id, pgp, &info, &raw, error))
        return FALSE;
    }
  if (!(lease = pst_key_cache_take_smime (agent->keys, smime_dir, error)))
    return FALSE;
  /* Read in the sandboxed worker; its decryptions and verifications are
   * done here, with this pgp and these S/MIME identities (worker.h). */
  if (raw != NULL)
    ok = pst_worker_open (agent->worker, pgp, pst_smime_lease_get (lease), raw, attachment,
                          plain_out, status_out, &view, error);
  else
    ok = pst_worker_open_stream (agent->worker, pgp, pst_smime_lease_get (lease), in,
                                 (guint64) info->size, reopen_stored, in, attachment, plain_out,
                                 status_out, &view, error);
  pst_key_cache_return_smime (agent->keys, lease);
  /* A good signature by a key that replaced another for its address. */
  if (ok)
    pst_peers_check_verdict (agent, *status_out);
  /* The status still says how it arrived; this says how it is kept. */
  if (ok && info->sealed)
    pst_status_add_warning (*status_out, "sealed-on-arrival");
  /* The Subject that came out of the encryption: for list and search, in
   * memory only (subjects.h). */
  if (ok && (*status_out)->decryption == PST_DECRYPTION_OK && (*status_out)->protected_headers)
    pst_subjects_remember (agent->subjects, id, info->account, view->subject);
  if (ok && info_out != NULL)
    *info_out = g_steal_pointer (&info);
  if (ok && view_out != NULL)
    *view_out = g_steal_pointer (&view);
  return ok;
}

gboolean
pst_reader_open (PstAgent *agent, gint64 id, int attachment, GBytes **plain_out,
                 PstStatus **status_out, PstView **view_out, GError **error)
{
  return open_stored (agent, id, attachment, NULL, plain_out, status_out, view_out, error);
}

/* The Subject to keep in the store for message @info.  The one shown
 * when it travelled in the clear; when it came out of a decrypted layer
 * (RFC 9788 header protection), it is plaintext, which DESIGN.md §3 keeps
 * off the disk by default: then what the outside said ("..."), unless the
 * account says store_decrypted_subject.  Transfer full, never NULL. */
static char *
subject_to_store (PstAgent *agent, const PstMessageInfo *info, const PstView *view,
                  const PstStatus *status)
{
  g_autoptr (PstAccount) account = NULL;
  const char *subject = view->subject;

  if (status->decryption == PST_DECRYPTION_OK && status->protected_headers
      && !((account = pst_agent_get_account (agent, info->account, NULL))
           && account->store_decrypted_subject))
    subject = view->outer_subject;
  return g_strdup (subject != NULL ? subject : "");
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
pst_reader_scan (PstAgent *agent, const PstMessageInfo *info, GBytes *plain, PstAnalysis *a)
{
  gboolean delivers = FALSE;
  PstScanner *scanner;
  PstScanVerdict v;

  if (plain == NULL)
    {
      /* The message as stored is what is shown: read again from there. */
      PstArrivedScan scan;

      pst_arrived_scan (agent, info, &scan);
      a->scan_verdict = scan.verdict;
      a->scan_name = scan.name;
      a->quarantine = scan.quarantine;
      return;
    }
  scanner = pst_agent_get_scanner (agent, &delivers);
  a->scan_verdict = "skipped";
  a->quarantine = FALSE;
  if (scanner == NULL)
    return;
  v = pst_scanner_scan (scanner, plain, &a->scan_name);
  a->scan_verdict = pst_scan_verdict_name (v);
  a->quarantine = v == PST_SCAN_INFECTED || (v == PST_SCAN_ERROR && !delivers);
}

PstMessageInfoUpdate
pst_analysis_update (const PstAnalysis *a)
{
  /* A failed analysis keeps the quarantine as it was, unless it scanned. */
  PstMessageInfoUpdate u = { a->id, a->from, a->subject, a->date, a->crypto, a->scan_verdict,
                             a->scan_name,
                             a->analysis_failed && a->scan_verdict == NULL ? -1 : a->quarantine ? 1 : 0,
                             /* arrived encrypted: seal_incoming has nothing to seal */
                             !a->arrived_plain && !a->analysis_failed, PST_READER_VERSION };
  return u;
}

char *
pst_reader_failed_summary (const char *reason, guint64 arrived_size)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "analysis");
  json_builder_add_string_value (b, "failed");
  json_builder_set_member_name (b, "reason");
  json_builder_add_string_value (b, reason);
  if (arrived_size > 0)
    {
      json_builder_set_member_name (b, "arrived_size");
      json_builder_add_int_value (b, (gint64) arrived_size);
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

gboolean
pst_reader_summary_failed (const char *crypto_json)
{
  return crypto_json != NULL && strstr (crypto_json, "\"analysis\":\"failed\"") != NULL;
}

guint64
pst_reader_summary_arrived_size (const char *crypto_json)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o;
  gint64 size;

  if (!pst_reader_summary_failed (crypto_json) || strstr (crypto_json, "\"arrived_size\"") == NULL)
    return 0;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, crypto_json, -1, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return 0;
  o = json_node_get_object (json_parser_get_root (parser));
  size = json_object_get_int_member_with_default (o, "arrived_size", 0);
  return size > 0 ? (guint64) size : 0;
}

/* A message too large to read whole: not analysed, but scanned from the
 * store as it arrived (a seal opened as it passes) unless it was scanned
 * already, so that the scanner's verdict and the quarantine hold for it
 * too. */
static void
analyze_too_large (PstAgent *agent, const PstMessageInfo *info, const char *why, PstAnalysis *out)
{
  PstArrivedScan scan;
  /* The size it arrived with (once sealed, known from the summary). */
  guint64 arrived = info->sealed ? pst_reader_summary_arrived_size (info->crypto_json) : (guint64) info->size;

  out->crypto = pst_reader_failed_summary (why, arrived);
  out->analysis_failed = TRUE;
  out->too_large = TRUE;
  out->scan_verdict = NULL;   /* the stored verdict stays */
  if (info->scan_verdict != NULL && strcmp (info->scan_verdict, "skipped") != 0)
    return;
  pst_arrived_scan (agent, info, &scan);
  out->scan_verdict = scan.verdict;
  out->scan_name = scan.name;
  out->quarantine = scan.quarantine;
}

gboolean
pst_reader_analyze_to (PstAgent *agent, gint64 id, PstAnalysis *out, GError **error)
{
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (PstStatus) status = NULL;
  g_autoptr (PstMessageInfo) info = NULL;
  g_autoptr (PstView) view = NULL;
  g_autoptr (GError) local = NULL;
  gboolean learned;

  memset (out, 0, sizeof *out);
  out->id = id;
  {
    g_autoptr (PstMessageInfo) first = pst_store_message_get_info (agent->store, id, error);
    g_autofree char *why = NULL;

    if (first == NULL)
      return FALSE;
    if (too_large (first, &why))
      {
        analyze_too_large (agent, first, why, out);
        return TRUE;
      }
  }
  if (!open_stored (agent, id, -1, &info, &plain, &status, &view, &local))
    {
      if (local->domain != PST_WORKER_ERROR)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      /* The worker failed on it: marked analysis-failed with the reason,
       * kept as it is, and analysed again when next opened
       * (methods-mail.c).  Nothing was scanned: the scan verdict and the
       * quarantine stay as they were (show scans it once it is read). */
      out->crypto = pst_reader_failed_summary (local->message, 0);
      out->scan_verdict = NULL;   /* what an earlier scan found stays */
      out->analysis_failed = TRUE;
      return TRUE;
    }
  /* What its Autocrypt header teaches (agent/peers.h).  A key that came
   * in with it may be the one it is signed with: read it again, once, so
   * that its verdict is the one the next reading shows. */
  g_mutex_lock (&agent->peers_lock);
  pst_peers_note_encrypted (agent, view, status);
  pst_peers_learn_harvested (agent, status);
  pst_peers_learn_gossip (agent, status, view->autocrypt_date,
                          (const char *const *) view->autocrypt_recipients);
  learned = pst_peers_learn (agent, view);
  g_mutex_unlock (&agent->peers_lock);
  if (learned && status->sig_status != PST_SIG_NONE)
    {
      g_autoptr (GBytes) plain2 = NULL;
      g_autoptr (PstStatus) status2 = NULL;
      g_autoptr (PstView) view2 = NULL;
      g_autoptr (PstMessageInfo) info2 = NULL;

      if (open_stored (agent, id, -1, &info2, &plain2, &status2, &view2, NULL))
        {
          g_clear_pointer (&plain, g_bytes_unref);
          g_clear_pointer (&status, pst_status_free);
          g_clear_pointer (&view, pst_view_free);
          g_clear_pointer (&info, pst_message_info_free);
          plain = g_steal_pointer (&plain2);
          status = g_steal_pointer (&status2);
          view = g_steal_pointer (&view2);
          info = g_steal_pointer (&info2);
        }
    }
  /* From and Date as the outside says when the header shown came out of
   * a decrypted layer: decrypted header values stay off the disk, as the
   * Subject does (DESIGN.md §3, §4).  Without a matching signature the
   * reader shows the outer ones anyway (mime/hp.h). */
  if (status->decryption == PST_DECRYPTION_OK && status->protected_headers)
    {
      out->from = g_strdup (view->outer_from ? view->outer_from : "");
      out->date = g_strdup (view->outer_date ? view->outer_date : "");
    }
  else
    {
      out->from = g_strdup (view->from ? view->from : "");
      out->date = g_strdup (view->date ? view->date : "");
    }
  out->subject = subject_to_store (agent, info, view, status);
  out->crypto = pst_status_to_json_string (status);
  /* Anything but a message encrypted whole (a part in the clear beside an
   * encrypted block is plaintext on the disk all the same). */
  out->arrived_plain = status->encryption_covers != PST_COVERS_WHOLE;
  /* The decrypted message is what a client would show: scan that. */
  pst_reader_scan (agent, info, plain, out);
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
    PstMessageInfoUpdate u = pst_analysis_update (&a);
    ok = pst_store_messages_set_info (agent->store, &u, 1, error);
  }
  /* Too large to analyse: recorded (and scanned); opening it says why. */
  if (ok && a.analysis_failed && !a.too_large)
    {
      g_autoptr (JsonNode) summary = json_from_string (a.crypto, NULL);

      g_set_error (error, PST_WORKER_ERROR, PST_WORKER_ERROR_FAILED, "%s",
                   json_object_get_string_member (json_node_get_object (summary), "reason"));
      ok = FALSE;
    }
  pst_analysis_clear (&a);
  return ok;
}
