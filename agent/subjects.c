/* subjects.c — see subjects.h. */
#include "subjects.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  char *account;
  char *subject;
  char *folded;
} Entry;

struct _PstSubjects {
  GMutex lock;
  GHashTable *entries;     /* gint64 * → Entry */
};

static void
entry_free (gpointer p)
{
  Entry *e = p;

  g_free (e->account);
  g_free (e->subject);
  g_free (e->folded);
  g_free (e);
}

PstSubjects *
pst_subjects_new (void)
{
  PstSubjects *subjects = g_new0 (PstSubjects, 1);

  g_mutex_init (&subjects->lock);
  subjects->entries = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, entry_free);
  return subjects;
}

void
pst_subjects_free (PstSubjects *subjects)
{
  if (subjects == NULL)
    return;
  g_hash_table_unref (subjects->entries);
  g_mutex_clear (&subjects->lock);
  g_free (subjects);
}

static char *
fold (const char *s)
{
  g_autofree char *n = g_utf8_normalize (s, -1, G_NORMALIZE_ALL_COMPOSE);
  return g_utf8_casefold (n ? n : "", -1);
}

void
pst_subjects_remember (PstSubjects *subjects, gint64 id, const char *account,
                       const char *subject)
{
  Entry *e;
  gint64 *key;

  if (subject == NULL || account == NULL || !g_utf8_validate (subject, -1, NULL))
    return;
  e = g_new0 (Entry, 1);
  e->account = g_strdup (account);
  e->subject = g_strdup (subject);
  e->folded = fold (subject);
  key = g_new (gint64, 1);
  *key = id;
  g_mutex_lock (&subjects->lock);
  g_hash_table_replace (subjects->entries, key, e);
  g_mutex_unlock (&subjects->lock);
}

char *
pst_subjects_lookup (PstSubjects *subjects, gint64 id)
{
  char *s = NULL;

  g_mutex_lock (&subjects->lock);
  {
    Entry *e = g_hash_table_lookup (subjects->entries, &id);
    s = e ? g_strdup (e->subject) : NULL;
  }
  g_mutex_unlock (&subjects->lock);
  return s;
}

static int
newest_first (const void *a, const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? 1 : x > y ? -1 : 0;
}

GArray *
pst_subjects_search (PstSubjects *subjects, const char *account, const char *query,
                     guint limit)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autofree char *q = fold (query ? query : "");
  GHashTableIter it;
  gpointer key, value;

  g_mutex_lock (&subjects->lock);
  g_hash_table_iter_init (&it, subjects->entries);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      Entry *e = value;
      if ((account == NULL || g_strcmp0 (account, e->account) == 0) && strstr (e->folded, q))
        g_array_append_val (ids, *(gint64 *) key);
    }
  g_mutex_unlock (&subjects->lock);
  if (ids->len > 1)
    qsort (ids->data, ids->len, sizeof (gint64), newest_first);
  if (ids->len > limit)
    g_array_set_size (ids, limit);
  return ids;
}

void
pst_subjects_forget (PstSubjects *subjects, gint64 id)
{
  g_mutex_lock (&subjects->lock);
  g_hash_table_remove (subjects->entries, &id);
  g_mutex_unlock (&subjects->lock);
}
