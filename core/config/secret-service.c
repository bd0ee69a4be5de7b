/* secret-service.c — account passwords in the Secret Service (libsecret), for
 * accounts with secret_service = true: looked up by the agent, stored by
 * the GUI's account form and `postern account password` (which loads
 * libsecret itself: cli/secret-store.c, with the same schema).  Nothing of
 * them reaches the configuration file or a log. */
#include "config/config.h"

#include <libsecret/secret.h>
#include <string.h>

#include "config/secret-schema.h"
#include "util/error.h"

char *
pst_secret_service_lookup (const PstAccount *a, GError **error)
{
  g_autoptr (GError) local = NULL;
  char *pw = secret_password_lookup_nonpageable_sync (pst_secret_password_schema (), NULL, &local,
                                                      "account", a->name, "user", a->user, NULL);
  char *copy;

  if (local != NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "account %s: the Secret Service cannot be reached (%s)", a->name,
                   local->message);
      return NULL;
    }
  if (pw == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "account %s: the Secret Service holds no password for it; store one with "
                   "`postern account password %s`", a->name, a->name);
      return NULL;
    }
  copy = g_strdup (pw);
  secret_password_free (pw);   /* wipes it */
  return copy;
}

gboolean
pst_secret_service_store (const char *account, const char *user, const char *password,
                          GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *label = pst_secret_password_label (account, user);

  if (!secret_password_store_sync (pst_secret_password_schema (), SECRET_COLLECTION_DEFAULT, label,
                                   password, NULL, &local, "account", account, "user", user, NULL))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "cannot store the password in the Secret Service: %s", local->message);
      return FALSE;
    }
  return TRUE;
}

gboolean
pst_secret_service_clear (const char *account, const char *user, GError **error)
{
  g_autoptr (GError) local = NULL;

  secret_password_clear_sync (pst_secret_password_schema (), NULL, &local, "account", account,
                              "user", user, NULL);
  if (local != NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "cannot remove the password from the Secret Service: %s", local->message);
      return FALSE;
    }
  return TRUE;
}

static const SecretSchema *
smime_key_schema (void)
{
  static const SecretSchema s = {
    "org.postern.SmimeKey", SECRET_SCHEMA_NONE,
    {
      { "fingerprint", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    },
    0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  };
  return &s;
}

char *
pst_secret_service_lookup_smime_key (const char *fingerprint, GError **error)
{
  g_autoptr (GError) local = NULL;
  char *key = secret_password_lookup_nonpageable_sync (smime_key_schema (), NULL, &local,
                                                       "fingerprint", fingerprint, NULL);
  char *copy;

  if (local != NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "the Secret Service cannot be reached (%s)",
                   local->message);
      return NULL;
    }
  if (key == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "the Secret Service holds no key for the S/MIME identity %s", fingerprint);
      return NULL;
    }
  copy = g_strdup (key);
  secret_password_free (key);   /* wipes it */
  return copy;
}

gboolean
pst_secret_service_store_smime_key (const char *fingerprint, const char *address, const char *key,
                                    GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *label = g_strdup_printf ("Postern: S/MIME key of %s", address);

  if (!secret_password_store_sync (smime_key_schema (), SECRET_COLLECTION_DEFAULT, label, key, NULL,
                                   &local, "fingerprint", fingerprint, NULL))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "the Secret Service cannot be reached (%s)",
                   local->message);
      return FALSE;
    }
  return TRUE;
}

gboolean
pst_secret_service_clear_smime_key (const char *fingerprint, GError **error)
{
  g_autoptr (GError) local = NULL;

  secret_password_clear_sync (smime_key_schema (), NULL, &local, "fingerprint", fingerprint, NULL);
  if (local != NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "cannot remove the S/MIME key from the Secret Service: %s", local->message);
      return FALSE;
    }
  return TRUE;
}
