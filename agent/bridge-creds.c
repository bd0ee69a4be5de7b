/* bridge-creds.c — see bridge-creds.h. */
#include "bridge-creds.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <glib/gstdio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "bridge-tls.h"
#include "util/error.h"
#include "util/secret.h"

#define PASSWORD_LEN 32   /* from 62 characters: 190 bits */

/* The file is read and written under this lock. */
static GMutex creds_lock;

static char *
creds_path (const char *data_dir)
{
  g_autofree char *dir = pst_bridge_dir (data_dir);

  return g_build_filename (dir, "credentials", NULL);
}

/* A password of letters and digits (so that any client's configuration
 * takes it without quoting), from getrandom(2) by rejection sampling. */
static char *
new_password (GError **error)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  char *password = g_malloc0 (PASSWORD_LEN + 1);
  gsize n = 0;

  while (n < PASSWORD_LEN)
    {
      guint8 buf[64];
      ssize_t got = getrandom (buf, sizeof buf, 0);

      if (got < 0 && errno == EINTR)
        continue;
      if (got < 0)
        {
          pst_secret_free (password);
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "getrandom: %s", g_strerror (errno));
          return NULL;
        }
      for (ssize_t i = 0; i < got && n < PASSWORD_LEN; i++)
        if (buf[i] < 248)   /* 248 = 4 × 62: no bias */
          password[n++] = alphabet[buf[i] % 62];
      memset (buf, 0, sizeof buf);
    }
  return password;
}

static GKeyFile *
load (const char *path, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local = NULL;

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_KEEP_COMMENTS, &local)
      && !g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s: %s", path, local->message);
      return NULL;
    }
  return g_steal_pointer (&kf);
}

gboolean
pst_bridge_credentials_get (const char *data_dir, const char *account, char **user_out,
                            char **password_out, GError **error)
{
  g_autofree char *path = creds_path (data_dir);
  g_autofree char *dir = pst_bridge_dir (data_dir);
  g_autoptr (GKeyFile) kf = NULL;
  char *password = NULL;
  gboolean ok = TRUE;

  g_mutex_lock (&creds_lock);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "cannot make %s: %s", dir,
                   g_strerror (errno));
      ok = FALSE;
    }
  else if (!(kf = load (path, error)))
    ok = FALSE;
  else if (!(password = g_key_file_get_string (kf, account, "password", NULL))
           || strlen (password) < 24)
    {
      g_autofree char *data = NULL;
      gsize len = 0;

      pst_secret_free (password);
      if (!(password = new_password (error)))
        ok = FALSE;
      else
        {
          g_key_file_set_string (kf, account, "user", account);
          g_key_file_set_string (kf, account, "password", password);
          data = g_key_file_to_data (kf, &len, NULL);
          /* g_file_set_contents_full: a temporary file, fsync, rename; 0600. */
          ok = g_file_set_contents_full (path, data, (gssize) len,
                                         G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL);
          pst_secret_free_len (g_steal_pointer (&data), len);
          if (!ok)
            g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "cannot write %s", path);
          else
            g_message ("bridge: made credentials for account %s", account);
        }
    }
  g_mutex_unlock (&creds_lock);
  if (!ok)
    {
      pst_secret_free (password);
      return FALSE;
    }
  *user_out = g_strdup (account);
  *password_out = password;
  return TRUE;
}

/* SHA-256 of @text, so that passwords of any length compare in the same
 * time. */
static void
digest (const char *text, guint8 out[32])
{
  unsigned int len = 32;

  EVP_Digest (text, strlen (text), out, &len, EVP_sha256 (), NULL);
}

char *
pst_bridge_credentials_check (const char *data_dir, const char *user, const char *password)
{
  g_autofree char *path = creds_path (data_dir);
  g_autoptr (GKeyFile) kf = NULL;
  char *stored = NULL;
  guint8 a[32], b[32];
  gboolean match;

  g_mutex_lock (&creds_lock);
  kf = load (path, NULL);
  g_mutex_unlock (&creds_lock);
  /* The user is the account's name: a user with no password still takes a
   * comparison, so that the answer's time does not say which users exist. */
  if (kf != NULL)
    stored = g_key_file_get_string (kf, user, "password", NULL);
  digest (stored ? stored : "", a);
  digest (password, b);
  match = CRYPTO_memcmp (a, b, sizeof a) == 0 && stored != NULL && strlen (stored) >= 24;
  pst_secret_free (stored);
  OPENSSL_cleanse (a, sizeof a);
  OPENSSL_cleanse (b, sizeof b);
  return match ? g_strdup (user) : NULL;
}
