/* secret-store.c — `postern account password`'s one write to the Secret
 * Service, with libsecret loaded when that command runs rather than linked.
 *
 * Why not linked: every run of `postern` maps and relocates the libraries
 * it is linked with before main.  libsecret brings libgcrypt and its other
 * libraries; for the one command that uses them, that was about a sixth of
 * the start-up of every other (send, fetch, the sendmail interface of mail
 * programs, each a process per message).  The agent, which looks the
 * password up, links libsecret as usual (core/config/secret-service.c);
 * both use the same schema (core/config/secret-schema.h). */
#include <gmodule.h>

#include "cli.h"
#include "config/secret-schema.h"
#include "util/error.h"

/* The soname of libsecret-1 (>= 0.20, meson.build); the library's own
 * symbol, so its declaration checks the call. */
#define LIBSECRET_SONAME "libsecret-1.so.0"

gboolean
pst_cli_secret_store_password (const char *account, const char *user, const char *password,
                               GError **error)
{
  __typeof__ (secret_password_storev_sync) *storev = NULL;
  g_autoptr (GError) local = NULL;
  g_autoptr (GHashTable) attributes = NULL;
  g_autofree char *label = NULL;
  GModule *module;
  gboolean ok;

  module = g_module_open (LIBSECRET_SONAME, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  if (module == NULL || !g_module_symbol (module, "secret_password_storev_sync",
                                          (gpointer *) &storev))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "cannot store the password in the Secret Service: %s cannot be loaded (%s)",
                   LIBSECRET_SONAME, g_module_error ());
      if (module != NULL)
        g_module_close (module);
      return FALSE;
    }
  /* libsecret registers GObject types and keeps a D-Bus connection: it is
   * never unloaded. */
  g_module_make_resident (module);
  attributes = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (attributes, (gpointer) "account", (gpointer) account);
  g_hash_table_insert (attributes, (gpointer) "user", (gpointer) user);
  label = pst_secret_password_label (account, user);
  ok = storev (pst_secret_password_schema (), attributes, SECRET_COLLECTION_DEFAULT, label,
               password, NULL, &local);
  if (!ok)
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                 "cannot store the password in the Secret Service: %s",
                 local != NULL ? local->message : "no reason given");
  return ok;
}
