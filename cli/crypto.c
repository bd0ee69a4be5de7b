/* crypto.c — `postern encrypt|decrypt|verify` and `postern batch`. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "cli.h"
#include "util/error.h"
#include "util/text.h"

/* An output file is written under a temporary name and renamed on success,
 * so that a failure never leaves half a message behind.  What exists and is
 * no regular file (/dev/null, a FIFO, a terminal) is written in place:
 * renaming over it would replace the device itself (as root, /dev/null
 * became a file readable only by root). */
typedef struct {
  char *path;
  char *tmp;
  int fd;
} Output;

static gboolean
output_open (Output *o, const char *path, GError **error)
{
  o->path = g_strdup (path);
  if (path == NULL || strcmp (path, "-") == 0)
    {
      fflush (stdout);
      o->fd = dup (STDOUT_FILENO);
      return TRUE;
    }
  {
    struct stat st;

    if (stat (path, &st) == 0 && !S_ISREG (st.st_mode))
      {
        o->fd = open (path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (o->fd < 0)
          {
            g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: %s", path, g_strerror (errno));
            return FALSE;
          }
        return TRUE;
      }
  }
  o->tmp = g_strconcat (path, ".pst-XXXXXX", NULL);
  o->fd = g_mkstemp_full (o->tmp, O_WRONLY | O_CLOEXEC, 0600);
  if (o->fd < 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: %s", path, g_strerror (errno));
      g_clear_pointer (&o->tmp, g_free);
      return FALSE;
    }
  return TRUE;
}

static gboolean
output_close (Output *o, gboolean keep, GError **error)
{
  gboolean ok = TRUE;

  if (o->fd >= 0 && o->tmp != NULL && keep && fsync (o->fd) != 0)
    keep = ok = FALSE;
  if (o->fd >= 0)
    close (o->fd);
  o->fd = -1;
  if (o->tmp != NULL)
    {
      if (keep && g_rename (o->tmp, o->path) != 0)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: %s", o->path, g_strerror (errno));
          ok = FALSE;
        }
      if (!keep || !ok)
        g_unlink (o->tmp);
    }
  g_clear_pointer (&o->tmp, g_free);
  g_clear_pointer (&o->path, g_free);
  return ok;
}

static int
open_input (const char *command, const char *path)
{
  int fd;

  if (path == NULL || strcmp (path, "-") == 0)
    return dup (STDIN_FILENO);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fprintf (stderr, "postern: %s: %s: %s\n", command, path, g_strerror (errno));
  return fd;
}

static JsonObject *
obj_member (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

/* Exit status for a status object: 4 when decryption failed (decrypt) or
 * when the signature is not good (verify). */
static int
status_exit (JsonObject *crypto, gboolean need_signature)
{
  JsonObject *sig = obj_member (crypto, "signature");

  if (g_strcmp0 (json_object_get_string_member_with_default (crypto, "decryption", ""), "failed") == 0
      || g_strcmp0 (json_object_get_string_member_with_default (crypto, "decryption", ""), "too-large") == 0
      || g_strcmp0 (json_object_get_string_member_with_default (crypto, "integrity", ""), "missing") == 0)
    return PST_ERROR_CRYPTO;
  if (need_signature
      && g_strcmp0 (sig ? json_object_get_string_member_with_default (sig, "status", "") : "", "good") != 0)
    return PST_ERROR_CRYPTO;
  return 0;
}

static void
print_status_text (JsonObject *crypto, FILE *out)
{
  JsonObject *sig = obj_member (crypto, "signature");
  const char *signer = sig ? json_object_get_string_member_with_default (sig, "signer", NULL) : NULL;

  /* The signer comes from a key or a certificate: a plain address or
   * nothing, never words that could read as more of the line. */
  if (!pst_text_is_plain_address (signer))
    signer = signer ? _("an unknown signer") : "?";

  fprintf (out, "%s %s, %s %s\n", _("encryption:"),
           json_object_get_string_member_with_default (crypto, "decryption", "?"),
           _("covers"), json_object_get_string_member_with_default (crypto, "encryption_covers", "?"));
  if (sig)
    fprintf (out, "%s %s, %s %s, %s, %s %s\n", _("signature:"),
             json_object_get_string_member_with_default (sig, "status", "?"), _("by"), signer,
             json_object_get_boolean_member_with_default (sig, "from_match", FALSE)
               ? _("matches From") : _("DOES NOT match From"),
             _("covers"), json_object_get_string_member_with_default (sig, "covers", "?"));
}

int
pst_cli_cmd_encrypt (PstCli *cli, int argc, char **argv)
{
  g_auto (GStrv) to = NULL;
  g_autofree char *scheme = NULL, *out_path = NULL;
  gboolean sign = FALSE;
  GOptionEntry entries[] = {
    { "to", 0, 0, G_OPTION_ARG_STRING_ARRAY, &to, N_("Encrypt to ADDR (repeat)"), "ADDR" },
    { "sign", 0, 0, G_OPTION_ARG_NONE, &sign, N_("Sign too"), NULL },
    { "scheme", 0, 0, G_OPTION_ARG_STRING, &scheme, N_("pgp, smime or auto"), "SCHEME" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out_path, N_("Write to OUT"), "OUT" },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GError) error = NULL;
  Output out = { .fd = -1 };
  JsonObject *params, *r;
  int fds[2], status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc > 2)
    return pst_cli_usage ("encrypt", _("give at most one FILE"));
  if (to == NULL)
    return pst_cli_usage ("encrypt", _("--to ADDR is required"));
  if ((fds[0] = open_input ("encrypt", argc == 2 ? argv[1] : NULL)) < 0)
    return PST_ERROR_FAILED;
  if (!output_open (&out, out_path, &error))
    {
      close (fds[0]);
      return pst_cli_fail ("encrypt", error);
    }
  fds[1] = out.fd;
  params = json_object_new ();
  json_object_set_int_member (params, "fd", 0);
  json_object_set_int_member (params, "out_fd", 1);
  json_object_set_boolean_member (params, "sign", sign);
  if (scheme)
    json_object_set_string_member (params, "scheme", scheme);
  {
    JsonArray *a = json_array_new ();
    for (char **t = to; *t; t++)
      json_array_add_string_element (a, *t);
    json_object_set_array_member (params, "to", a);
  }
  r = pst_cli_call (cli, "encrypt", "encrypt", params, fds, 2, &status);
  close (fds[0]);
  if (!output_close (&out, r != NULL, &error))
    status = pst_cli_fail ("encrypt", error);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  json_object_unref (r);
  return status;
}

static int
decrypt_or_verify (PstCli *cli, const char *command, int argc, char **argv)
{
  gboolean verify = strcmp (command, "verify") == 0;
  g_autofree char *out_path = NULL;
  GOptionEntry decrypt_entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out_path, N_("Write to OUT"), "OUT" },
    G_OPTION_ENTRY_NULL,
  };
  GOptionEntry verify_entries[] = { G_OPTION_ENTRY_NULL };
  g_autoptr (GError) error = NULL;
  Output out = { .fd = -1 };
  JsonObject *params, *r, *crypto;
  int fds[2], status = 0, n = 1, rc;

  if (!pst_cli_parse (cli, verify ? verify_entries : decrypt_entries, &argc, &argv, &status))
    return status;
  if (argc > 2)
    return pst_cli_usage (command, _("give at most one FILE"));
  if ((fds[0] = open_input (command, argc == 2 ? argv[1] : NULL)) < 0)
    return PST_ERROR_FAILED;
  params = json_object_new ();
  json_object_set_int_member (params, "fd", 0);
  if (!verify)
    {
      /* With --json and no -o, stdout carries the status alone. */
      if (cli->json && out_path == NULL)
        fds[1] = open ("/dev/null", O_WRONLY | O_CLOEXEC);
      else if ((out_path == NULL || strcmp (out_path, "-") == 0) && pst_cli_refuse_terminal (command))
        {
          close (fds[0]);
          json_object_unref (params);
          return PST_ERROR_USAGE;
        }
      else if (output_open (&out, out_path, &error))
        fds[1] = out.fd;
      else
        {
          close (fds[0]);
          json_object_unref (params);
          return pst_cli_fail (command, error);
        }
      n = 2;
      json_object_set_int_member (params, "out_fd", 1);
    }
  r = pst_cli_call (cli, command, command, params, fds, (guint) n, &status);
  close (fds[0]);
  if (n == 2 && out.fd < 0)
    close (fds[1]);
  crypto = r ? obj_member (r, "crypto") : NULL;
  rc = r ? status_exit (crypto, verify) : status;
  if (out.fd >= 0 && !output_close (&out, r != NULL && rc == 0, &error))
    rc = pst_cli_fail (command, error);
  if (r == NULL)
    return rc;
  if (cli->json)
    {
      g_autoptr (JsonObject) c = json_object_ref (crypto);
      pst_cli_print_json (c);
    }
  else if (verify)
    print_status_text (crypto, stdout);
  if (rc == PST_ERROR_CRYPTO)
    fprintf (stderr, "postern: %s: %s\n", command,
             g_strcmp0 (json_object_get_string_member_with_default (crypto, "decryption", ""),
                        "too-large") == 0
               ? _("the content expands past the decryption limit (a compression bomb?); it is not decrypted")
               : verify ? _("the signature is not good") : _("the message cannot be decrypted"));
  json_object_unref (r);
  return rc;
}

int
pst_cli_cmd_decrypt (PstCli *cli, int argc, char **argv)
{
  return decrypt_or_verify (cli, "decrypt", argc, argv);
}

int
pst_cli_cmd_verify (PstCli *cli, int argc, char **argv)
{
  return decrypt_or_verify (cli, "verify", argc, argv);
}
