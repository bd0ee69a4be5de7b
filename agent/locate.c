#include "locate.h"

#include <string.h>

#include "crypto/pgp-keys.h"
#include "crypto/pgp.h"
#include "store/keys.h"
#include "util/addr.h"
#include "util/error.h"

/* At most this many misses are remembered: past it, those out of date go
 * first, and if none is, all of them (a flood of new addresses must not
 * grow the agent without bound). */
#define MAX_MISSES 10000

/* A remembered miss. */
typedef struct {
  gint64 until;          /* monotonic, µs */
  gint64 at;             /* unix seconds */
  PstWkdMethod method;
  GError *error;
} Miss;

struct _PstLocator {
  GMutex lock;
  GHashTable *misses;    /* lower-cased address -> Miss* */
};

static void
miss_free (Miss *m)
{
  g_clear_error (&m->error);
  g_free (m);
}

PstLocator *
pst_locator_new (void)
{
  PstLocator *l = g_new0 (PstLocator, 1);

  g_mutex_init (&l->lock);
  l->misses = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) miss_free);
  return l;
}

void
pst_locator_free (PstLocator *l)
{
  if (l == NULL)
    return;
  g_hash_table_unref (l->misses);
  g_mutex_clear (&l->lock);
  g_free (l);
}

void
pst_located_free (PstLocated *r)
{
  if (r == NULL)
    return;
  g_free (r->address);
  g_free (r->fingerprint);
  g_free (r->replaced);
  g_clear_error (&r->error);
  g_free (r);
}

/* The remembered miss of @address into @r; FALSE when there is none (or
 * it is out of date). */
static gboolean
recall (PstLocator *l, const char *address, PstLocated *r)
{
  g_autofree char *key = g_ascii_strdown (address, -1);
  gboolean found = FALSE;
  Miss *m;

  if (l == NULL)
    return FALSE;
  g_mutex_lock (&l->lock);
  m = g_hash_table_lookup (l->misses, key);
  if (m != NULL && m->until > g_get_monotonic_time ())
    {
      r->from_cache = TRUE;
      r->at = m->at;
      r->method = m->method;
      r->error = g_error_copy (m->error);
      found = TRUE;
    }
  else if (m != NULL)
    g_hash_table_remove (l->misses, key);
  g_mutex_unlock (&l->lock);
  return found;
}

static void
remember (PstLocator *l, const PstLocated *r)
{
  Miss *m;

  if (l == NULL)
    return;
  g_mutex_lock (&l->lock);
  if (r->error == NULL)
    {
      g_autofree char *key = g_ascii_strdown (r->address, -1);

      g_hash_table_remove (l->misses, key);
    }
  else
    {
      gint64 ttl = g_error_matches (r->error, PST_ERROR, PST_ERROR_POLICY)
                     ? PST_LOCATE_MISS_TTL : PST_LOCATE_FAILURE_TTL;

      if (g_hash_table_size (l->misses) >= MAX_MISSES)
        {
          GHashTableIter it;
          gpointer value;
          gint64 now = g_get_monotonic_time ();

          g_hash_table_iter_init (&it, l->misses);
          while (g_hash_table_iter_next (&it, NULL, &value))
            if (((Miss *) value)->until <= now)
              g_hash_table_iter_remove (&it);
          if (g_hash_table_size (l->misses) >= MAX_MISSES)
            g_hash_table_remove_all (l->misses);
        }
      m = g_new0 (Miss, 1);
      m->until = g_get_monotonic_time () + ttl * G_USEC_PER_SEC;
      m->at = r->at;
      m->method = r->method;
      m->error = g_error_copy (r->error);
      g_hash_table_replace (l->misses, g_ascii_strdown (r->address, -1), m);
    }
  g_mutex_unlock (&l->lock);
}

/* Imports @key, the directory's answer for @r->address, and records it. */
static void
take_key (PstAgent *agent, PstPgp *pgp, const char *home, GBytes *key, PstLocated *r)
{
  g_autofree char *previous = NULL, *now_used = NULL;
  g_autoptr (GError) local = NULL;
  gboolean changed = FALSE;

  previous = pgp != NULL ? pst_pgp_find_key (pgp, r->address, FALSE, NULL) : NULL;
  r->fingerprint = pst_pgp_keys_import_for_address (home, key, r->address, &r->error);
  if (r->fingerprint == NULL)
    return;
  pst_pgp_forget_keys ();
  pst_key_cache_invalidate (agent->keys);
  if (!pst_store_key_learn (agent->store, "pgp", r->address, r->fingerprint, PST_KEY_SOURCE_WKD,
                            previous, r->at, &changed, &local))
    g_warning ("wkd: %s: key %s imported, but its source is not recorded: %s", r->address,
               r->fingerprint, local->message);
  if (previous != NULL && g_strcmp0 (previous, r->fingerprint) != 0)
    r->replaced = g_steal_pointer (&previous);
  /* Imported, but of no use to send (expired, revoked, no encryption
   * subkey): no key as far as the policy goes. */
  if (pgp != NULL && !(now_used = pst_pgp_find_key (pgp, r->address, FALSE, NULL)))
    {
      g_autofree char *why = pst_pgp_key_problem (pgp, r->address);

      g_set_error (&r->error, PST_ERROR, PST_ERROR_POLICY,
                   "the key found for %s in its Web Key Directory, %s, cannot be used: %s",
                   r->address, r->fingerprint, why ? why : "it cannot encrypt");
      g_clear_pointer (&r->fingerprint, g_free);
    }
}

GPtrArray *
pst_locator_run (PstAgent *agent, const char *const *addresses, PstLocateMode mode)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_located_free);
  g_autoptr (GPtrArray) ask = g_ptr_array_new ();
  g_autoptr (GPtrArray) asked = g_ptr_array_new ();
  g_autoptr (GPtrArray) answers = NULL;
  g_autoptr (PstPgp) pgp = NULL;
  g_autofree char *ca_file = NULL, *home = NULL;
  guint timeout_s = 0;
  gboolean enabled;
  PstWkdOptions options = { 0 };
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  g_mutex_lock (&agent->config_lock);
  enabled = pst_config_get_wkd (agent->config, &timeout_s);
  ca_file = g_strdup (pst_config_get_ca_file (agent->config));
  g_mutex_unlock (&agent->config_lock);
  if (mode == PST_LOCATE_SEND && !enabled)
    return out;

  for (const char *const *a = addresses; a != NULL && *a != NULL; a++)
    {
      PstLocated *r;
      gboolean seen = FALSE;

      for (guint i = 0; i < out->len && !seen; i++)
        seen = pst_addr_equal (((PstLocated *) out->pdata[i])->address, *a);
      if (seen)
        continue;
      r = g_new0 (PstLocated, 1);
      r->address = g_strdup (*a);
      r->at = now;
      g_ptr_array_add (out, r);
      if (mode == PST_LOCATE_SEND && recall (agent->locator, *a, r))
        continue;
      g_ptr_array_add (asked, r);
      g_ptr_array_add (ask, r->address);
    }
  if (ask->len == 0)
    return out;
  g_ptr_array_add (ask, NULL);
  options.ca_file = ca_file;
  options.timeout_ms = timeout_s * 1000;
  answers = pst_wkd_fetch ((const char *const *) ask->pdata, &options);

  home = pst_agent_get_gnupg_home (agent);
  for (guint i = 0; i < asked->len; i++)
    {
      PstLocated *r = g_ptr_array_index (asked, i);
      PstWkdAnswer *a = g_ptr_array_index (answers, i);

      r->method = a->method;
      if (a->key != NULL)
        {
          if (pgp == NULL)
            pgp = pst_pgp_new (home, NULL);
          take_key (agent, pgp, home, a->key, r);
        }
      else
        r->error = g_error_copy (a->error);
      if (r->fingerprint != NULL)
        g_message ("wkd: %s: imported key %s (%s method)%s%s", r->address, r->fingerprint,
                   pst_wkd_method_name (r->method), r->replaced ? ", replacing " : "",
                   r->replaced ? r->replaced : "");
      else
        g_message ("wkd: %s: %s", r->address, r->error->message);
      remember (agent->locator, r);
    }
  return out;
}
