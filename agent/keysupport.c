/* keysupport.c — what the keys methods share (keysupport.h). */
#include "keysupport.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "util/error.h"

char *
pst_keys_smime_dir (PstAgent *agent)
{
  return g_build_filename (agent->paths->data_dir, "smime", NULL);
}

PstSmime *
pst_keys_smime_open (PstAgent *agent, GError **error)
{
  g_autofree char *dir = pst_keys_smime_dir (agent);
  PstSmime *smime = pst_smime_new (dir, error);

  if (smime != NULL)
    pst_smime_set_keyring (smime, pst_key_cache_get_keyring (agent->keys));
  return smime;
}

char *
pst_keys_random_wrap_key (GError **error)
{
  guint8 raw[32];
  char *hex = g_malloc (2 * sizeof raw + 1);

  if (getrandom (raw, sizeof raw, 0) != (ssize_t) sizeof raw)
    {
      g_free (hex);
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "no random bytes for a key: %s",
                   g_strerror (errno));
      return NULL;
    }
  for (gsize i = 0; i < sizeof raw; i++)
    g_snprintf (hex + 2 * i, 3, "%02x", raw[i]);
  explicit_bzero (raw, sizeof raw);
  return hex;
}
