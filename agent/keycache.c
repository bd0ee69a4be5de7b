#include "keycache.h"

#include <string.h>

typedef struct {
  gboolean value;
  gint64 at;          /* monotonic µs */
} Answer;

struct _PstSmimeLease {
  PstSmime *smime;
  char *dir;
  guint generation;
  gint64 at;          /* when the store was opened */
};
typedef PstSmimeLease Pooled;

struct _PstKeyCache {
  GMutex lock;
  GHashTable *answers;     /* "scheme:identity:address" (address lower-cased) -> Answer */
  GPtrArray *pool;         /* of Pooled* */
  guint generation;        /* bumped by invalidate: older pooled stores are dropped */
  PstSmimeKeyring *keyring;
};

static void
pooled_free (Pooled *p)
{
  pst_smime_free (p->smime);
  g_free (p->dir);
  g_free (p);
}

PstKeyCache *
pst_key_cache_new (void)
{
  PstKeyCache *c = g_new0 (PstKeyCache, 1);

  g_mutex_init (&c->lock);
  c->answers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  c->pool = g_ptr_array_new_with_free_func ((GDestroyNotify) pooled_free);
  c->keyring = pst_smime_keyring_new ();
  return c;
}

void
pst_key_cache_free (PstKeyCache *c)
{
  if (c == NULL)
    return;
  g_hash_table_unref (c->answers);
  g_ptr_array_unref (c->pool);
  pst_smime_keyring_unref (c->keyring);
  g_mutex_clear (&c->lock);
  g_free (c);
}

void
pst_key_cache_invalidate (PstKeyCache *c)
{
  g_mutex_lock (&c->lock);
  g_hash_table_remove_all (c->answers);
  g_ptr_array_set_size (c->pool, 0);
  c->generation++;
  g_mutex_unlock (&c->lock);
}

/* The local part of an address is exact, the domain is not (DESIGN.md §4). */
static char *
key_for (PstScheme scheme, const char *address, gboolean identity)
{
  g_autofree char *folded = g_strdup (address);
  char *at = strrchr (folded, '@');

  for (char *p = at ? at : folded + strlen (folded); *p; p++)
    *p = g_ascii_tolower (*p);
  return g_strdup_printf ("%d:%d:%s", (int) scheme, identity ? 1 : 0, folded);
}

static gboolean
fresh (gint64 at)
{
  return g_get_monotonic_time () - at < (gint64) PST_KEY_CACHE_TTL * G_USEC_PER_SEC;
}

int
pst_key_cache_lookup (PstKeyCache *c, PstScheme scheme, const char *address, gboolean identity)
{
  g_autofree char *key = key_for (scheme, address, identity);
  Answer *a;
  int r = -1;

  g_mutex_lock (&c->lock);
  a = g_hash_table_lookup (c->answers, key);
  if (a != NULL && fresh (a->at))
    r = a->value ? 1 : 0;
  g_mutex_unlock (&c->lock);
  return r;
}

void
pst_key_cache_store (PstKeyCache *c, PstScheme scheme, const char *address, gboolean identity,
                     gboolean value)
{
  Answer *a = g_new0 (Answer, 1);

  a->value = value;
  a->at = g_get_monotonic_time ();
  g_mutex_lock (&c->lock);
  g_hash_table_replace (c->answers, key_for (scheme, address, identity), a);
  g_mutex_unlock (&c->lock);
}

PstSmimeLease *
pst_key_cache_take_smime (PstKeyCache *c, const char *dir, GError **error)
{
  Pooled *found = NULL;
  guint generation;

  g_mutex_lock (&c->lock);
  generation = c->generation;
  for (guint i = c->pool->len; i > 0 && found == NULL; i--)
    {
      Pooled *p = g_ptr_array_index (c->pool, i - 1);
      if (strcmp (p->dir, dir) != 0)
        continue;
      if (p->generation == c->generation && fresh (p->at))
        found = g_ptr_array_steal_index (c->pool, i - 1);
      else
        g_ptr_array_remove_index (c->pool, i - 1);
    }
  g_mutex_unlock (&c->lock);
  if (found == NULL)
    {
      PstSmime *s = pst_smime_new (dir, error);
      if (s == NULL)
        return NULL;
      pst_smime_set_keyring (s, c->keyring);
      found = g_new0 (Pooled, 1);
      found->smime = s;
      found->dir = g_strdup (dir);
      found->generation = generation;
      found->at = g_get_monotonic_time ();
    }
  return found;
}

PstSmimeKeyring *
pst_key_cache_get_keyring (PstKeyCache *c)
{
  return c->keyring;
}

PstSmime *
pst_smime_lease_get (PstSmimeLease *lease)
{
  return lease->smime;
}

void
pst_key_cache_return_smime (PstKeyCache *c, PstSmimeLease *lease)
{
  if (lease == NULL)
    return;
  g_mutex_lock (&c->lock);
  if (c->pool->len < 16 && lease->generation == c->generation && fresh (lease->at))
    {
      g_ptr_array_add (c->pool, lease);
      lease = NULL;
    }
  g_mutex_unlock (&c->lock);
  if (lease != NULL)
    pooled_free (lease);
}
