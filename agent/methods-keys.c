/* methods-keys.c — keys.import, keys.list, keys.show, keys.remove: OpenPGP
 * keys in the agent's GnuPG home, X.509 certificates and PKCS#12 identities
 * in its S/MIME store. */
#include <string.h>

#include "crypto/pgp-keys.h"
#include "crypto/pgp.h"
#include "crypto/smime.h"
#include "methods-private.h"
#include "rpc/frame.h"
#include "util/addr.h"
#include "util/error.h"

#define MAX_KEY_FILE (16u * 1024 * 1024)

static JsonObject *
pgp_key_json (const PstPgpKeyInfo *k)
{
  JsonObject *o = json_object_new ();
  const char *status = k->revoked ? "revoked" : k->expired ? "expired" : k->disabled ? "disabled"
                     : k->invalid ? "invalid" : "valid";

  json_object_set_string_member (o, "type", "openpgp");
  json_object_set_string_member (o, "id", k->fingerprint);
  json_object_set_array_member (o, "uids", pst_json_strv (k->uids));
  json_object_set_array_member (o, "emails", pst_json_strv (k->emails));
  json_object_set_boolean_member (o, "secret", k->secret);
  json_object_set_string_member (o, "status", status);
  json_object_set_boolean_member (o, "can_encrypt", k->can_encrypt);
  json_object_set_boolean_member (o, "can_sign", k->can_sign);
  if (k->expires)
    json_object_set_int_member (o, "expires", k->expires);
  else
    json_object_set_null_member (o, "expires");
  return o;
}

static JsonObject *
cert_json (const PstSmimeCertInfo *c)
{
  JsonObject *o = json_object_new ();

  json_object_set_string_member (o, "type", "x509");
  json_object_set_string_member (o, "id", c->fingerprint);
  json_object_set_string_member (o, "subject", c->subject ? c->subject : "");
  json_object_set_string_member (o, "issuer", c->issuer ? c->issuer : "");
  json_object_set_array_member (o, "emails", pst_json_strv (c->emails));
  json_object_set_boolean_member (o, "secret", c->has_key);
  json_object_set_boolean_member (o, "trust_anchor", c->trust_anchor);
  json_object_set_boolean_member (o, "ca", c->is_ca);
  json_object_set_string_member (o, "status", c->expired ? "expired" : "valid");
  json_object_set_int_member (o, "expires", c->not_after);
  return o;
}

static char *
smime_dir (PstAgent *agent)
{
  return g_build_filename (agent->paths->data_dir, "smime", NULL);
}

/* The first line of what @fd holds. */
static char *
read_passphrase (int fd, GError **error)
{
  g_autoptr (GBytes) data = pst_fd_read_all (fd, 4096, error);
  gsize len;
  const char *p;
  char *line;

  if (data == NULL)
    return NULL;
  p = g_bytes_get_data (data, &len);
  line = g_strndup (p, len);
  line[strcspn (line, "\r\n")] = '\0';
  return line;
}

JsonObject *
pst_method_keys_import (PstCall *call, GError **error)
{
  g_autoptr (GBytes) data = NULL;
  g_autofree char *home = NULL, *dir = NULL;
  g_autoptr (GPtrArray) imported = NULL;
  g_autoptr (PstSmime) smime = NULL;
  char *passphrase = NULL;
  gboolean anchor = FALSE, ok;
  int fd, pfd;
  JsonArray *arr;
  JsonObject *r;

  if ((fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0
      || (pfd = pst_call_get_fd (call, "passphrase_fd", FALSE, error)) == -1
      || !pst_rpc_get_bool (call->params, "trust_anchor", FALSE, &anchor, error)
      || !(data = pst_fd_read_all (fd, MAX_KEY_FILE, error)))
    return NULL;
  arr = json_array_new ();
  if (pst_pgp_keys_looks_like_openpgp (data))
    {
      if (anchor)
        {
          json_array_unref (arr);
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                       "--trust-anchor applies to X.509 CA certificates, not to OpenPGP keys");
          return NULL;
        }
      home = pst_agent_get_gnupg_home (call->agent);
      if (!pst_pgp_keys_import (home, data, &imported, error))
        {
          json_array_unref (arr);
          return NULL;
        }
      for (guint i = 0; i < imported->len; i++)
        json_array_add_object_element (arr, pgp_key_json (g_ptr_array_index (imported, i)));
    }
  else
    {
      if (pfd >= 0 && !(passphrase = read_passphrase (pfd, error)))
        {
          json_array_unref (arr);
          return NULL;
        }
      dir = smime_dir (call->agent);
      smime = pst_smime_new (dir, error);
      ok = smime != NULL && pst_smime_import (smime, data, passphrase, anchor, &imported, error);
      if (passphrase)
        {
          explicit_bzero (passphrase, strlen (passphrase));
          g_free (passphrase);
        }
      if (!ok)
        {
          json_array_unref (arr);
          return NULL;
        }
      for (guint i = 0; i < imported->len; i++)
        json_array_add_object_element (arr, cert_json (g_ptr_array_index (imported, i)));
    }
  pst_key_cache_invalidate (call->agent->keys);
  pst_pgp_forget_keys ();
  r = json_object_new ();
  json_object_set_array_member (r, "imported", arr);
  return r;
}

/* Every key and certificate; with @address only those that bind it. */
static JsonObject *
list_keys (PstCall *call, const char *address, GError **error)
{
  g_autofree char *home = pst_agent_get_gnupg_home (call->agent);
  g_autofree char *dir = smime_dir (call->agent);
  g_autoptr (GPtrArray) pgp = pst_pgp_keys_list (home, address, error);
  g_autoptr (PstSmime) smime = NULL;
  g_autoptr (GPtrArray) certs = NULL;
  JsonArray *arr;
  JsonObject *r;

  if (pgp == NULL || !(smime = pst_smime_new (dir, error)))
    return NULL;
  certs = pst_smime_list (smime);
  arr = json_array_new ();
  for (guint i = 0; i < pgp->len; i++)
    {
      PstPgpKeyInfo *k = g_ptr_array_index (pgp, i);
      if (address == NULL || pst_addr_in_list (address, (const char *const *) k->emails))
        json_array_add_object_element (arr, pgp_key_json (k));
    }
  for (guint i = 0; certs && i < certs->len; i++)
    {
      PstSmimeCertInfo *c = g_ptr_array_index (certs, i);
      if (address == NULL || pst_addr_in_list (address, (const char *const *) c->emails))
        json_array_add_object_element (arr, cert_json (c));
    }
  r = json_object_new ();
  json_object_set_array_member (r, "keys", arr);
  return r;
}

JsonObject *
pst_method_keys_list (PstCall *call, GError **error)
{
  return list_keys (call, NULL, error);
}

JsonObject *
pst_method_keys_show (PstCall *call, GError **error)
{
  const char *address;
  JsonObject *r;

  if (!pst_rpc_get_string (call->params, "address", TRUE, &address, error))
    return NULL;
  r = list_keys (call, address, error);
  if (r != NULL && json_array_get_length (json_object_get_array_member (r, "keys")) == 0)
    {
      json_object_unref (r);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "no key or certificate for %s", address);
      return NULL;
    }
  return r;
}

JsonObject *
pst_method_keys_remove (PstCall *call, GError **error)
{
  const char *id;
  g_autofree char *home = NULL, *dir = NULL;
  g_autoptr (GError) pgp_error = NULL;
  g_autoptr (PstSmime) smime = NULL;
  JsonObject *r;

  if (!pst_rpc_get_string (call->params, "id", TRUE, &id, error))
    return NULL;
  home = pst_agent_get_gnupg_home (call->agent);
  r = json_object_new ();
  json_object_set_string_member (r, "id", id);
  /* OpenPGP fingerprints are 40 hex digits, X.509 ones (SHA-256) 64. */
  if (strlen (id) <= 40 && pst_pgp_keys_remove (home, id, &pgp_error))
    {
      json_object_set_string_member (r, "type", "openpgp");
      pst_key_cache_invalidate (call->agent->keys);
      pst_pgp_forget_keys ();
      return r;
    }
  if (pgp_error && pgp_error->code == PST_ERROR_CRYPTO)
    {
      json_object_unref (r);
      g_propagate_error (error, g_steal_pointer (&pgp_error));
      return NULL;
    }
  dir = smime_dir (call->agent);
  if ((smime = pst_smime_new (dir, error)) && pst_smime_remove (smime, id, error))
    {
      json_object_set_string_member (r, "type", "x509");
      pst_key_cache_invalidate (call->agent->keys);
      pst_pgp_forget_keys ();
      return r;
    }
  json_object_unref (r);
  if (error && *error && pgp_error && strstr ((*error)->message, "no ") != NULL)
    {
      g_clear_error (error);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "no key or certificate with id %s", id);
    }
  return NULL;
}
