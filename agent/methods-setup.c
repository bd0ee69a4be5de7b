/* methods-setup.c — keys.setup_export, keys.setup_import: the Autocrypt
 * Setup Message (Autocrypt Level 1), so that a second device gets the same
 * OpenPGP key.  The format is mime/autocrypt-setup.h's, the OpenPGP work
 * crypto/pgp-keys.h's; here they are put together, and the key's source
 * recorded. */
#include <string.h>

#include "crypto/pgp-keys.h"
#include "crypto/pgp.h"
#include "handlers.h"
#include "keycache.h"
#include "mime/autocrypt-setup.h"
#include "rpc/frame.h"
#include "store/keys.h"
#include "util/addr.h"
#include "util/error.h"
#include "util/secret.h"

/* A Setup Message is a few KiB; some clients wrap it in HTML. */
#define MAX_SETUP_MESSAGE ((gsize) 4 * 1024 * 1024)
#define MAX_SETUP_KEY ((gsize) 1024 * 1024)

/* keys.setup_export {address, fd, passphrase_fd?}: writes the Setup
 * Message of the secret key @address signs with to descriptor @fd.  Result
 * {address, fingerprint, setup_code, passphrase_begin}: the code is for the
 * user's eyes only and is not logged. */
JsonObject *
pst_method_keys_setup_export (PstCall *call, GError **error)
{
  static const char *const known[] = { "address", "fd", "passphrase_fd", NULL };
  const char *param;
  int fd, pfd;
  g_autofree char *address = NULL, *home = NULL, *fpr = NULL, *encrypted = NULL;
  g_autofree char *begin = NULL, *payload = NULL;
  g_autoptr (GBytes) passphrase = NULL, key = NULL, message = NULL;
  g_autoptr (PstPgp) pgp = NULL;
  g_autoptr (GDateTime) now = NULL;
  char *code = NULL;
  const guint8 *data;
  gsize len;
  JsonObject *r = NULL;

  if (!pst_call_check_members (call->params, known, error)
      || !pst_rpc_get_string (call->params, "address", TRUE, &param, error)
      || (fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0
      || (pfd = pst_call_get_fd (call, "passphrase_fd", FALSE, error)) == -1)
    return NULL;
  if (!(address = pst_addr_extract (param)))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "'%s' is not an e-mail address", param);
      return NULL;
    }
  if (pfd >= 0 && !(passphrase = pst_call_read_passphrase (pfd, error)))
    return NULL;
  home = pst_agent_get_gnupg_home (call->agent);
  /* The key the account signs with: pst_pgp_find_key's choice. */
  if (!(pgp = pst_pgp_new (home, error)) || !(fpr = pst_pgp_find_key (pgp, address, TRUE, error)))
    return NULL;
  if (!(key = pst_pgp_keys_export_secret (home, fpr, passphrase && g_bytes_get_size (passphrase)
                                                      ? g_bytes_get_data (passphrase, NULL) : NULL,
                                          error))
      || !(code = pst_setup_code_new (error)))
    return NULL;
  begin = pst_setup_code_begin (code);
  if (!(encrypted = pst_pgp_symmetric_encrypt (home, key, code, error))
      || !pst_setup_check_packets (encrypted, strlen (encrypted), TRUE, error)
      || !(payload = pst_setup_armor_add_headers (encrypted, begin, error)))
    goto out;
  now = g_date_time_new_now_local ();
  message = pst_setup_message_build (address, payload, begin, now);
  data = g_bytes_get_data (message, &len);
  if (!pst_fd_write_all (fd, data, len, error))
    goto out;
  g_message ("keys: wrote an Autocrypt Setup Message of OpenPGP key %s for %s", fpr, address);
  r = json_object_new ();
  json_object_set_string_member (r, "address", address);
  json_object_set_string_member (r, "fingerprint", fpr);
  json_object_set_string_member (r, "setup_code", code);
  json_object_set_string_member (r, "passphrase_begin", begin);
out:
  pst_secret_free (code);
  return r;
}

/* The one key of @keys, which must bind @address; FALSE (with the error)
 * otherwise. */
static gboolean
check_payload_keys (GPtrArray *keys, const char *address, GError **error)
{
  PstPgpKeyInfo *k;

  if (keys->len != 1)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "the Setup Message holds %u keys; it should hold one", keys->len);
      return FALSE;
    }
  k = g_ptr_array_index (keys, 0);
  if (!pst_addr_in_list (address, (const char *const *) k->emails))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "the key in the Setup Message (%s) has no user id with its address %s",
                   k->fingerprint, address);
      return FALSE;
    }
  return TRUE;
}

/* keys.setup_import {fd, code_fd}: reads a Setup Message from @fd and its
 * Setup Code from @code_fd, decrypts it and imports the secret key into the
 * agent's keyring.  Nothing is imported unless the code decrypts it and it
 * holds one key of its own address; an address that has another secret
 * key keeps it (the user removes it first).  Result {fingerprint,
 * address}. */
JsonObject *
pst_method_keys_setup_import (PstCall *call, GError **error)
{
  static const char *const known[] = { "fd", "code_fd", NULL };
  int fd, cfd;
  g_autoptr (GBytes) message = NULL, code_text = NULL, plain = NULL, key = NULL;
  g_autofree char *address = NULL, *armored = NULL, *begin = NULL, *home = NULL;
  g_autofree char *fpr = NULL, *current = NULL;
  g_autoptr (GPtrArray) keys = NULL, imported = NULL;
  g_autoptr (PstPgp) pgp = NULL;
  g_autoptr (GError) local = NULL;
  char *code = NULL;
  gboolean has_secret = FALSE;
  JsonObject *r = NULL;

  if (!pst_call_check_members (call->params, known, error)
      || (fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0
      || (cfd = pst_call_get_fd (call, "code_fd", TRUE, error)) < 0
      || !(message = pst_fd_read_all (fd, MAX_SETUP_MESSAGE, error))
      || !(code_text = pst_fd_read_all (cfd, 4096, error)))
    return NULL;
  if (!pst_setup_message_parse (message, &address, &armored, &begin, error)
      || !pst_setup_check_packets (armored, strlen (armored), FALSE, error))
    goto out;
  {
    gsize len;
    char *text = (char *) g_bytes_get_data (code_text, &len);

    code = pst_setup_code_parse (text, len, error);
    if (text != NULL)
      explicit_bzero (text, len);
  }
  if (code == NULL)
    goto out;
  if (begin != NULL && strncmp (code, begin, strlen (begin)) != 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO,
                   "wrong Setup Code: the code of this message begins with %.2s", begin);
      goto out;
    }
  home = pst_agent_get_gnupg_home (call->agent);
  if (!(plain = pst_pgp_symmetric_decrypt (home, armored, strlen (armored), code, MAX_SETUP_KEY,
                                           error))
      || !(key = pst_setup_payload_key (plain, error))
      || !(keys = pst_pgp_keys_inspect (home, key, error))
      || !check_payload_keys (keys, address, error))
    goto out;
  fpr = g_strdup (((PstPgpKeyInfo *) g_ptr_array_index (keys, 0))->fingerprint);
  if (!(pgp = pst_pgp_new (home, error)))
    goto out;
  current = pst_pgp_find_key (pgp, address, TRUE, &local);
  if (current == NULL && !g_error_matches (local, PST_ERROR, PST_ERROR_POLICY))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      goto out;
    }
  if (current != NULL && g_ascii_strcasecmp (current, fpr) != 0)
    {
      /* Two secret keys for one address: which would sign? */
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "%s already has an OpenPGP secret key, %s: remove it first (postern keys "
                   "remove %s) to use the one of the Setup Message, %s", address, current,
                   current, fpr);
      goto out;
    }
  if (!pst_pgp_keys_import (home, key, &imported, error))
    goto out;
  pst_key_cache_invalidate (call->agent->keys);
  pst_pgp_forget_keys ();
  for (guint i = 0; i < imported->len; i++)
    {
      PstPgpKeyInfo *k = g_ptr_array_index (imported, i);

      has_secret |= k->secret && g_ascii_strcasecmp (k->fingerprint, fpr) == 0;
    }
  if (!has_secret)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO,
                   "gpg imported key %s without its secret part", fpr);
      goto out;
    }
  if (!pst_store_key_learn (call->agent->store, "pgp", address, fpr, PST_KEY_SOURCE_IMPORTED, NULL,
                            g_get_real_time () / G_USEC_PER_SEC, NULL, error))
    goto out;
  g_message ("keys: imported OpenPGP secret key %s for %s from an Autocrypt Setup Message", fpr,
             address);
  r = json_object_new ();
  json_object_set_string_member (r, "fingerprint", fpr);
  json_object_set_string_member (r, "address", address);
out:
  pst_secret_free (code);
  return r;
}
