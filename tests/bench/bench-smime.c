/* bench-smime — a benchmark, not a test: in-process S/MIME sign+encrypt
 * (pst_smimemime_protect) of 4 KiB messages with one PstSmime, as the
 * agent's batch path does, against `openssl cms -sign | openssl cms
 * -encrypt` run once per message, in one run on this machine.  Also times
 * reading the messages back (decrypt + verify) with one PstSmime.
 *
 *   ninja -C BUILD tests/bench/bench-smime
 *   BUILD/tests/bench/bench-smime [N [TOOL_N]]     (default 1000 and 20)
 *
 * The fixtures (a test CA, alice@postern.test with RSA-3072, bob@ with EC
 * P-256) come from tests/harness/smime.sh in a temporary directory, removed
 * at the end. */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/smime.h"
#include "mime/smimemime.h"
#include "mime/reader.h"

#define ALICE "alice@postern.test"
#define BOB "bob@postern.test"

static char *dir;

static void
run (const char *cmd)
{
  const char *argv[] = { "bash", "-c", cmd, NULL };
  g_autoptr(GError) error = NULL;
  int status = 0;

  if (!g_spawn_sync (dir, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                     &status, &error)
      || !g_spawn_check_wait_status (status, &error))
    g_error ("%s: %s", cmd, error->message);
}

static GBytes *
read_file (const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;
  char *data = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &data, &len, &error))
    g_error ("%s", error->message);
  return g_bytes_new_take (data, len);
}

static void
import (PstSmime *smime, const char *name, const char *pass, gboolean anchor)
{
  g_autoptr(GBytes) bytes = read_file (name);
  g_autoptr(GError) error = NULL;

  if (!pst_smime_import (smime, bytes, pass, anchor, NULL, &error))
    g_error ("import %s: %s", name, error->message);
}

/* The value of "export NAME=VALUE" in DIR/env (smime.sh quotes nothing
 * that it writes for the passphrase: hex digits). */
static char *
env_value (const char *name)
{
  g_autoptr(GBytes) env = read_file ("env");
  g_autofree char *text = g_strndup (g_bytes_get_data (env, NULL), g_bytes_get_size (env));
  g_autofree char *key = g_strdup_printf ("export %s=", name);
  const char *p = strstr (text, key);

  if (p == NULL)
    g_error ("no %s in env", name);
  p += strlen (key);
  return g_strndup (p, strcspn (p, "\n"));
}

static double
now (void)
{
  return g_get_monotonic_time () / 1e6;
}

/* Messages per second of @n protect calls by @smime. */
static double
protect_rate (PstSmime *smime, GBytes *msg, const char *from, const char *to, gboolean encrypt,
              gboolean sign, guint n)
{
  const char *rcpts[] = { to, NULL };
  double t0 = now ();

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) out = pst_smimemime_protect (smime, msg, from, rcpts, encrypt, sign, &error);

      if (out == NULL)
        g_error ("protect: %s", error->message);
    }
  return n / (now () - t0);
}

int
main (int argc, char **argv)
{
  guint n = argc > 1 ? (guint) atoi (argv[1]) : 1000;
  guint tool_n = argc > 2 ? (guint) atoi (argv[2]) : 20;
  g_autofree char *pass = NULL;
  g_autofree char *adir = NULL;
  g_autofree char *bdir = NULL;
  g_autofree char *tool_cmd = NULL;
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GBytes) msg = NULL;
  g_autoptr(GPtrArray) outs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  const char *rcpts[] = { BOB, NULL };
  PstSmime *alice, *bob;
  double t0 = 0, t_first = 0, t_all, t_open, t_tool, rate, tool_rate;
  guint good = 0;

  dir = g_dir_make_tmp ("pst-bench-smime-XXXXXX", NULL);
  run (": > env && " SRCDIR "/../harness/smime.sh init . >/dev/null");
  pass = env_value ("SMIME_PASS");
  adir = g_build_filename (dir, "store-alice", NULL);
  bdir = g_build_filename (dir, "store-bob", NULL);
  alice = pst_smime_new (adir, NULL);
  bob = pst_smime_new (bdir, NULL);
  import (alice, "smime/ca.pem", NULL, TRUE);
  import (alice, "smime/alice.p12", pass, FALSE);
  import (alice, "smime/bob.pem", NULL, FALSE);
  import (bob, "smime/ca.pem", NULL, TRUE);
  import (bob, "smime/bob.p12", pass, FALSE);
  import (bob, "smime/alice.pem", NULL, FALSE);

  g_string_append (text, "From: " ALICE "\r\nTo: " BOB "\r\nSubject: bench\r\n\r\n");
  while (text->len < 4096)
    {
      gsize line = MIN (76, 4096 - text->len);

      for (gsize i = 0; i < line; i++)
        g_string_append_c (text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"[g_random_int_range (0, 64)]);
      g_string_append (text, "\r\n");
    }
  msg = g_bytes_new (text->str, text->len);
  {
    g_autofree char *path = g_build_filename (dir, "m.eml", NULL);

    g_file_set_contents (path, text->str, text->len, NULL);
  }

  /* In process, one PstSmime: the first message pays the one-time costs. */
  for (guint i = 0; i < n + 1; i++)
    {
      g_autoptr(GError) error = NULL;
      GBytes *out;

      if (i == 1)
        t_first = now () - t0;
      if (i <= 1)
        t0 = now ();
      out = pst_smimemime_protect (alice, msg, ALICE, rcpts, TRUE, TRUE, &error);
      if (out == NULL)
        g_error ("protect: %s", error->message);
      g_ptr_array_add (outs, out);
    }
  t_all = now () - t0;
  rate = n / t_all;

  t0 = now ();
  for (guint i = 1; i < outs->len; i++)
    {
      g_autoptr(PstStatus) st = NULL;
      g_autoptr(GBytes) plain = NULL;

      if (!pst_message_open (NULL, bob, outs->pdata[i], &plain, &st, NULL))
        g_error ("open failed");
      good += st->sig_status == PST_SIG_GOOD && st->decryption == PST_DECRYPTION_OK;
    }
  t_open = now () - t0;

  /* The command-line tools, once per message. */
  tool_cmd = g_strdup_printf (
    "for i in $(seq 1 %u); do openssl cms -sign -in m.eml -signer smime/alice.pem"
    " -inkey smime/alice.key -md sha256 | openssl cms -encrypt -aes256 -out t.p7m"
    " smime/bob.pem; done", tool_n);
  t0 = now ();
  if (tool_n > 0)
    run (tool_cmd);
  t_tool = now () - t0;
  tool_rate = tool_n > 0 ? tool_n / t_tool : 0;

  g_print ("S/MIME sign+encrypt, %zu-byte messages, RSA-3072 signer, EC P-256 recipient + self\n",
           text->len);
  g_print ("  first message (one-time costs)     %8.2f ms\n", t_first * 1e3);
  g_print ("  in process, %u messages           %8.1f msg/s  (%.3f ms each)\n", n, rate,
           t_all * 1e3 / n);
  g_print ("  sign only (RSA-3072)                %8.1f msg/s\n",
           protect_rate (alice, msg, ALICE, BOB, FALSE, TRUE, n / 4));
  g_print ("  encrypt only                        %8.1f msg/s\n",
           protect_rate (alice, msg, ALICE, BOB, TRUE, FALSE, n / 4));
  g_print ("  sign+encrypt by bob (EC P-256)      %8.1f msg/s\n",
           protect_rate (bob, msg, BOB, ALICE, TRUE, TRUE, n / 4));
  g_print ("  read back (decrypt+verify), %u     %8.1f msg/s  (%u good)\n", n, n / t_open, good);
  if (tool_n > 0)
    g_print ("  openssl cms sign | encrypt, %u     %8.1f msg/s\n  ratio                              %8.1fx\n",
             tool_n, tool_rate, rate / tool_rate);

  pst_smime_free (alice);
  pst_smime_free (bob);
  run ("rm -rf ./smime ./store-alice ./store-bob ./env ./m.eml ./t.p7m");
  g_rmdir (dir);
  g_free (dir);
  return good == n ? 0 : 1;
}
