/* secret-store.c — `postern account password`'s one write to the Secret
 * Service, with libsecret loaded when that command runs rather than linked.
 *
 * Why not linked: every run of `postern` maps and relocates the libraries
 * it is linked with before main.  libsecret brings libgcrypt and its other
 * libraries; for the one command that uses them, every other paid for them
 * at each start (send, fetch, the sendmail interface of mail programs, each
 * a process per message): docs/performance.md.  The agent, which looks the
 * password up, links libsecret as usual (core/config/secret-service.c);
 * both use the same schema (core/config/secret-schema.h). */
#include <dlfcn.h>

#include "cli.h"
#include "config/secret-schema.h"
#include "util/error.h"

/* The soname of libsecret-1 (>= 0.20, meson.build).  dlopen, not
 * g_module_open: GModule also tries the name as a file relative to the
 * working directory (and a libtool .la there, which names a library to load
 * by its own path), which would let a file where the command runs put code
 * into the process that holds the password.  dlopen of a bare soname looks
 * only where the dynamic loader looks for the libraries it links. */
#define LIBSECRET_SONAME "libsecret-1.so.0"

gboolean
pst_cli_secret_store_password (const char *account, const char *user, const char *password,
                               GError **error)
{
  /* The library's own declaration checks the call. */
  __typeof__ (secret_password_storev_sync) *storev = NULL;
  g_autoptr (GError) local = NULL;
  g_autoptr (GHashTable) attributes = NULL;
  g_autofree char *label = NULL;
  void *library;
  gboolean ok;

  dlerror ();
  if ((library = dlopen (LIBSECRET_SONAME, RTLD_LAZY | RTLD_LOCAL)) == NULL)
    {
      const char *why = dlerror ();

      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "cannot store the password in the Secret Service: %s cannot be loaded (%s)",
                   LIBSECRET_SONAME, why != NULL ? why : "no reason given");
      return FALSE;
    }
  /* Never closed: libsecret registers GObject types and keeps a D-Bus
   * connection. */
  if ((storev = dlsym (library, "secret_password_storev_sync")) == NULL)
    {
      const char *why = dlerror ();

      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "cannot store the password in the Secret Service: %s has no "
                   "secret_password_storev_sync (%s)",
                   LIBSECRET_SONAME, why != NULL ? why : "no reason given");
      return FALSE;
    }
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
