/* bridge-creds.h — the local bridge's credentials (DESIGN.md §14): per
 * account a user name (the account's name) and a random password, made on
 * first use and kept in DATA/bridge/credentials (a key file, mode 0600 in
 * a 0700 directory; not in the Secret Service, so that the agent needs no
 * desktop session to serve a mail client). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The user and password of @account, made (and saved) when it has none.
 * Transfer full: wipe *@password_out with pst_secret_free.  Errors:
 * PST_ERROR_FAILED (the file). */
gboolean pst_bridge_credentials_get (const char *data_dir, const char *account, char **user_out,
                                     char **password_out, GError **error);

/* The account whose bridge credentials @user and @password are, or NULL.
 * The password is compared in constant time.  Transfer full. */
char *pst_bridge_credentials_check (const char *data_dir, const char *user,
                                    const char *password);

G_END_DECLS
