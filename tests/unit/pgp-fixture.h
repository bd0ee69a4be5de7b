/* pgp-fixture.h — the GnuPG fixture of the OpenPGP unit tests: throwaway
 * homes for alice and bob (keys made at test time, each holding the other's
 * public key), a gpg runner and small message helpers.  Included by one test
 * program each; everything is static. */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <glib/gstdio.h>

#include "crypto/pgp.h"
#include "mime/mime.h"
#include "mime/pgpmime.h"
#include "mime/reader.h"
#include "util/error.h"

#define ALICE "alice@postern.test"
#define BOB "bob@postern.test"

static struct {
  char *alice_home;
  char *bob_home;
  char *empty_home;
  char *alice_fpr;
  PstPgp *alice;
  PstPgp *bob;
} fx;

/* Runs gpg on @home; stdout (binary safe) into @out when not NULL. */
G_GNUC_UNUSED static gboolean
gpg (const char *home, char **out, gsize *out_len, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *stdout_buf = NULL;
  g_autofree char *stderr_buf = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;
  va_list ap;
  const char *arg;

  g_ptr_array_add (argv, "gpg");
  g_ptr_array_add (argv, "--homedir");
  g_ptr_array_add (argv, (char *) home);
  g_ptr_array_add (argv, "--batch");
  g_ptr_array_add (argv, "--no-tty");
  va_start (ap, out_len);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, (char *) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                     &stdout_buf, &stderr_buf, &status, &error))
    {
      g_printerr ("# cannot run gpg: %s\n", error->message);
      return FALSE;
    }
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_printerr ("# gpg failed: %s\n", stderr_buf);
      return FALSE;
    }
  if (out != NULL)
    {
      /* g_spawn_sync NUL-terminates but does not give the length. */
      if (out_len != NULL)
        *out_len = strlen (stdout_buf);
      *out = g_steal_pointer (&stdout_buf);
    }
  return TRUE;
}

G_GNUC_UNUSED static char *
make_home (void)
{
  /* Short path: the gpg-agent socket lives in it. */
  char *home = g_strdup ("/tmp/pst-XXXXXX");

  assert_non_null (g_mkdtemp_full (home, 0700));
  return home;
}

G_GNUC_UNUSED static char *
make_key (const char *home, const char *uid, const char *addr)
{
  g_autofree char *list = NULL;
  g_auto(GStrv) lines = NULL;
  char *fpr = NULL;
  gboolean can_encrypt = FALSE;

  assert_true (gpg (home, NULL, NULL, "--pinentry-mode", "loopback", "--passphrase", "",
                    "--quick-gen-key", uid, "future-default", "default", "never", NULL));
  assert_true (gpg (home, &list, NULL, "--with-colons", "--list-keys", addr, NULL));
  lines = g_strsplit (list, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    {
      g_auto(GStrv) f = g_strsplit (*l, ":", -1);
      if (f[0] == NULL)
        continue;
      if (g_str_equal (f[0], "fpr") && fpr == NULL && g_strv_length (f) > 9)
        fpr = g_strdup (f[9]);
      if (g_str_equal (f[0], "sub") && g_strv_length (f) > 11 && strchr (f[11], 'e') != NULL)
        can_encrypt = TRUE;
    }
  assert_non_null (fpr);
  if (!can_encrypt)
    assert_true (gpg (home, NULL, NULL, "--pinentry-mode", "loopback", "--passphrase", "",
                      "--quick-add-key", fpr, "cv25519", "encr", "never", NULL));
  return fpr;
}

G_GNUC_UNUSED static void
copy_public_key (const char *from_home, const char *to_home, const char *addr)
{
  g_autofree char *file = g_build_filename (from_home, "export.asc", NULL);

  assert_true (gpg (from_home, NULL, NULL, "--yes", "--armor", "--output", file, "--export", addr, NULL));
  assert_true (gpg (to_home, NULL, NULL, "--import", file, NULL));
  g_unlink (file);
}

G_GNUC_UNUSED static int
setup (void **state)
{
  g_autofree char *bob_fpr = NULL;

  fx.alice_home = make_home ();
  fx.bob_home = make_home ();
  fx.empty_home = make_home ();
  fx.alice_fpr = make_key (fx.alice_home, "Alice <" ALICE ">", ALICE);
  bob_fpr = make_key (fx.bob_home, "Bob <" BOB ">", BOB);
  copy_public_key (fx.alice_home, fx.bob_home, ALICE);
  copy_public_key (fx.bob_home, fx.alice_home, BOB);
  fx.alice = pst_pgp_new (fx.alice_home, NULL);
  fx.bob = pst_pgp_new (fx.bob_home, NULL);
  assert_non_null (fx.alice);
  assert_non_null (fx.bob);
  return 0;
}

G_GNUC_UNUSED static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

G_GNUC_UNUSED static void
kill_home (char *home)
{
  const char *argv[] = { "gpgconf", "--homedir", home, "--kill", "all", NULL };

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL
                | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, NULL, NULL);
  remove_tree (home);
  g_free (home);
}

G_GNUC_UNUSED static int
teardown (void **state)
{
  g_clear_pointer (&fx.alice, pst_pgp_free);
  g_clear_pointer (&fx.bob, pst_pgp_free);
  kill_home (fx.alice_home);
  kill_home (fx.bob_home);
  kill_home (fx.empty_home);
  g_free (fx.alice_fpr);
  return 0;
}

/* --- helpers ------------------------------------------------------------- */

G_GNUC_UNUSED static GBytes *
bytes (const char *s)
{
  return g_bytes_new (s, strlen (s));
}

G_GNUC_UNUSED static gboolean
contains (GBytes *b, const char *needle)
{
  gsize len = 0;
  const char *p = g_bytes_get_data (b, &len);

  return g_strstr_len (p, len, needle) != NULL;
}

/* The SEND path of the agent: parse, From, recipients, keys, protect. */
G_GNUC_UNUSED static GBytes *
send_message (PstPgp *pgp, const char *text, gboolean encrypt, gboolean sign, GError **error)
{
  g_autoptr(GBytes) msg = bytes (text);
  g_autoptr(PstMimeMessage) m = pst_mime_message_parse (msg, error);
  g_autofree char *from = NULL;
  g_auto(GStrv) rcpts = NULL;
  g_auto(GStrv) missing = NULL;

  if (m == NULL)
    return NULL;
  from = pst_mime_message_get_from_address (m, error);
  if (from == NULL)
    return NULL;
  rcpts = pst_mime_message_get_recipients (m);
  missing = pst_pgpmime_missing_keys (pgp, (const char *const *) rcpts, error);
  if (missing == NULL)
    return NULL;
  return pst_pgpmime_protect (pgp, msg, from, (const char *const *) rcpts, encrypt, sign, error);
}

/* Part @index of the top-level multipart of @message.  Transfer full. */
G_GNUC_UNUSED static GBytes *
top_part (GBytes *message, guint index, gboolean body_only)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autoptr(GArray) spans = NULL;
  g_autofree char *type = NULL;
  g_autofree char *ct = NULL;
  gsize len = 0, body = 0, pbody = 0;
  const char *p = g_bytes_get_data (message, &len);
  PstMimeSpan *s;
  g_autoptr(GPtrArray) pfields = NULL;

  assert_true (pst_mime_split_header (p, len, &fields, &body, NULL));
  for (guint i = 0; i < fields->len; i++)
    if (pst_mime_field_is (fields->pdata[i], "Content-Type"))
      ct = pst_mime_field_value (fields->pdata[i]);
  assert_non_null (ct);
  type = pst_mime_parse_content_type (ct, &params);
  spans = pst_mime_split_multipart (p + body, len - body, g_hash_table_lookup (params, "boundary"), NULL);
  assert_non_null (spans);
  assert_true (index < spans->len);
  s = &g_array_index (spans, PstMimeSpan, index);
  if (!body_only)
    return g_bytes_new (p + body + s->offset, s->length);
  assert_true (pst_mime_split_header (p + body + s->offset, s->length, &pfields, &pbody, NULL));
  return g_bytes_new (p + body + s->offset + pbody, s->length - pbody);
}

G_GNUC_UNUSED static void
open_message (PstPgp *pgp, GBytes *msg, GBytes **plain_out, PstStatus **status_out)
{
  g_autoptr(GError) error = NULL;

  assert_true (pst_message_open (pgp, NULL, msg, plain_out, status_out, &error));
  assert_null (error);
}

G_GNUC_UNUSED static char *
body_text (GBytes *plain)
{
  g_autoptr(PstMimeMessage) m = pst_mime_message_parse (plain, NULL);

  assert_non_null (m);
  return pst_mime_message_get_body_text (m);
}

G_GNUC_UNUSED static char *
header (GBytes *plain, const char *name)
{
  g_autoptr(PstMimeMessage) m = pst_mime_message_parse (plain, NULL);

  assert_non_null (m);
  return pst_mime_message_get_header (m, name);
}

G_GNUC_UNUSED static gboolean
has_warning (PstStatus *st, const char *word)
{
  for (guint i = 0; i < st->warnings->len; i++)
    if (g_str_equal (st->warnings->pdata[i], word))
      return TRUE;
  return FALSE;
}

G_GNUC_UNUSED static void
write_file (const char *home, const char *name, GBytes *data)
{
  g_autofree char *file = g_build_filename (home, name, NULL);

  assert_true (g_file_set_contents (file, g_bytes_get_data (data, NULL), g_bytes_get_size (data), NULL));
}


/* A PGP/MIME message from alice to bob with @outer header fields, whose
 * encrypted (and, with @sign, signed) payload is @entity as it is. */
G_GNUC_UNUSED static GBytes *
encrypt_entity (const char *outer, const char *entity, gboolean sign)
{
  const char *const to[] = { BOB, ALICE, NULL };
  g_autoptr(GBytes) in = bytes (entity);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) armor = pst_pgp_encrypt (fx.alice, in, to, sign ? ALICE : NULL, &error);
  g_autofree char *armor_text = NULL;

  assert_null (error);
  armor_text = g_strndup (g_bytes_get_data (armor, NULL), g_bytes_get_size (armor));
  g_autofree char *text = g_strdup_printf (
    "%sMIME-Version: 1.0\r\n"
    "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=b\r\n\r\n"
    "--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
    "--b\r\nContent-Type: application/octet-stream\r\n\r\n%s\r\n--b--\r\n", outer, armor_text);

  return bytes (text);
}

#define MSG \
  "From: Alice <" ALICE ">\r\n" \
  "To: Bob <" BOB ">\r\n" \
  "Bcc: " BOB "\r\n" \
  "Subject: Test\r\n" \
  "\r\n" \
  "Hello Bob, this is secret.\r\n"


/* Entity (Content-Type line + body) of the top level of @message. */
G_GNUC_UNUSED static char *
top_entity (GBytes *message)
{
  gsize len = 0, body = 0;
  const char *p = g_bytes_get_data (message, &len);
  g_autoptr(GPtrArray) fields = NULL;
  GString *s = g_string_new (NULL);

  assert_true (pst_mime_split_header (p, len, &fields, &body, NULL));
  for (guint i = 0; i < fields->len; i++)
    if (g_ascii_strncasecmp (fields->pdata[i], "Content-", 8) == 0)
      g_string_append (s, fields->pdata[i]);
  g_string_append (s, "\r\n");
  g_string_append_len (s, p + body, len - body);
  return g_string_free (s, FALSE);
}
