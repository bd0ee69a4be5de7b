/* secret-schema.h — the Secret Service schema and label of account
 * passwords, shared by core/config/secret-service.c (the agent's lookup, the
 * GUI's store) and the command line's store (cli/secret-store.c), which
 * loads libsecret only when it runs.  Only libsecret's types are used here:
 * including this links nothing. */
#pragma once

#include <libsecret/secret.h>

static inline const SecretSchema *
pst_secret_password_schema (void)
{
  static const SecretSchema s = {
    "org.postern.Password", SECRET_SCHEMA_NONE,
    {
      { "account", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "user", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    },
    0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  };
  return &s;
}

/* The label an account's password is stored with, as the keyring shows it.
 * Transfer full. */
static inline char *
pst_secret_password_label (const char *account, const char *user)
{
  return g_strdup_printf ("Postern: %s (%s)", account, user);
}
