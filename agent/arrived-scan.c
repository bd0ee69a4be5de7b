/* arrived-scan.c — the scan of a stored message as it arrived, streamed
 * (arrived-scan.h). */
#include "arrived-scan.h"

#include <errno.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <glib-unix.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "crypto/pgp.h"
#include "util/error.h"

/* A seal opened into a pipe by a thread of its own, while the scanner reads
 * the other end: the plaintext passes through memory a pipe's worth at a
 * time and never reaches the disk. */
typedef struct {
  PstPgp *pgp;
  GInputStream *sealed;
  int fd;               /* the pipe's write end; closed by the thread */
  gboolean ok;
  GError *error;
  gint done;            /* atomic: ok and error are set, before the scanner's end of input */
} SealOpener;

static gpointer
open_seal (gpointer data)
{
  SealOpener *o = data;
  g_autoptr (GOutputStream) out = g_unix_output_stream_new (o->fd, TRUE);
  PstIntegrity integrity = PST_INTEGRITY_NONE;

  o->ok = pst_pgp_decrypt_stream (o->pgp, o->sealed, out, NULL, &integrity, &o->error)
          && integrity == PST_INTEGRITY_OK;
  if (!o->ok && o->error == NULL)
    g_set_error_literal (&o->error, PST_ERROR, PST_ERROR_CRYPTO, "its seal does not open whole");
  g_atomic_int_set (&o->done, 1);
  /* End of input for the scanner (or EPIPE here when it stopped early). */
  g_output_stream_close (out, NULL, NULL);
  return NULL;
}

/* The verdict on message @info's sealed bytes @sealed, opened as they are
 * scanned.  A seal that does not open is a scan error. */
static PstScanVerdict
scan_sealed (PstAgent *agent, PstScanner *scanner, const PstMessageInfo *info,
             GInputStream *sealed, char **name_out)
{
  g_autofree char *home = pst_agent_get_gnupg_home (agent);
  g_autoptr (GError) error = NULL;
  g_autoptr (PstPgp) pgp = pst_pgp_new (home, &error);
  g_autoptr (GInputStream) plain = NULL;
  SealOpener o = { 0 };
  GThread *thread;
  PstScanVerdict v;
  gboolean failed_first;
  int fds[2];

  if (pgp == NULL)
    {
      *name_out = g_strdup (error->message);
      return PST_SCAN_ERROR;
    }
  if (!g_unix_open_pipe (fds, FD_CLOEXEC, &error))
    {
      *name_out = g_strdup (error->message);
      return PST_SCAN_ERROR;
    }
  o.pgp = pgp;
  o.sealed = sealed;
  o.fd = fds[1];
  plain = g_unix_input_stream_new (fds[0], TRUE);
  thread = g_thread_new ("seal-scan", open_seal, &o);
  v = pst_scanner_scan_stream (scanner, plain, name_out);
  /* The seal failed before the scanner had its verdict: the scanner saw
   * an end that was not the message's.  After it, the failure is only the
   * opener's writes into a pipe the scanner stopped reading (EPIPE): the
   * scanner's verdict and reason stand (clamd's "size limit exceeded"). */
  failed_first = g_atomic_int_get (&o.done) && !o.ok;
  g_input_stream_close (plain, NULL, NULL);
  g_thread_join (thread);
  if (failed_first && v != PST_SCAN_INFECTED)
    {
      g_free (*name_out);
      *name_out = g_strdup_printf ("cannot open its seal: %s", o.error->message);
      v = PST_SCAN_ERROR;
    }
  g_clear_error (&o.error);
  return v;
}

gboolean
pst_arrived_scan_wanted (PstAgent *agent, const PstMessageInfo *info)
{
  return !info->quarantined && pst_agent_get_scanner (agent, NULL) != NULL
         && (info->scan_verdict == NULL || strcmp (info->scan_verdict, "skipped") == 0);
}

/* One scan of message @id as the store holds it now; *@sealed_out says
 * whether that was a seal. */
static PstScanVerdict
scan_once (PstAgent *agent, PstScanner *scanner, gint64 id, gboolean *sealed_out, char **name_out)
{
  g_autoptr (GInputStream) in = NULL;
  g_autoptr (PstMessageInfo) now = NULL;
  g_autoptr (GError) error = NULL;

  /* The stream, then what the message is: sealed since it was last
   * looked at, the stream holds the seal; sealed after, its reads fail
   * (store.h). */
  if (!(in = pst_store_message_open (agent->store, id, &error))
      || !(now = pst_store_message_get_info (agent->store, id, &error)))
    {
      *name_out = g_strdup (error->message);
      return PST_SCAN_ERROR;
    }
  *sealed_out = now->sealed;
  if (now->sealed)
    return scan_sealed (agent, scanner, now, in, name_out);
  return pst_scanner_scan_stream (scanner, in, name_out);
}

void
pst_arrived_scan (PstAgent *agent, const PstMessageInfo *info, PstArrivedScan *out)
{
  gboolean delivers = FALSE, sealed = info->sealed;
  PstScanner *scanner = pst_agent_get_scanner (agent, &delivers);
  g_autoptr (PstMessageInfo) now = NULL;
  PstScanVerdict v;

  out->verdict = "skipped";
  out->quarantine = FALSE;
  out->name = NULL;
  if (scanner == NULL)
    return;
  v = scan_once (agent, scanner, info->id, &sealed, &out->name);
  /* Sealed since @info was read, while it was read (its stream failed,
   * "changed while it was read"): no verdict of the scanner's, and no
   * quarantine for it.  Once more, the seal opened. */
  if (v == PST_SCAN_ERROR && !info->sealed
      && (now = pst_store_message_get_info (agent->store, info->id, NULL)) != NULL && now->sealed)
    {
      g_clear_pointer (&out->name, g_free);
      v = scan_once (agent, scanner, info->id, &sealed, &out->name);
    }
  out->verdict = pst_scan_verdict_name (v);
  out->quarantine = v == PST_SCAN_INFECTED || (v == PST_SCAN_ERROR && !delivers);
}

gboolean
pst_arrived_scan_quarantine (PstAgent *agent, PstMessageInfo *info, GError **error)
{
  PstArrivedScan r;
  gboolean ok = TRUE;

  pst_arrived_scan (agent, info, &r);
  /* Only a quarantine is kept: a clean verdict on the bytes as they
   * arrived says nothing of what decryption shows (ciphertext always
   * scans clean), which show scans when it opens the message; and a
   * verdict written now could undo one the fetch's analysis recorded
   * meanwhile. */
  if (r.quarantine)
    ok = pst_store_message_record_scan (agent->store, info, r.verdict, r.name, TRUE, error);
  g_free (r.name);
  return ok;
}
