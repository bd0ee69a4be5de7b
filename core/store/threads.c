/* threads.c — which thread a stored message belongs to (DESIGN.md §6
 * "thread", schema 7 in schema.c).
 *
 * A union of threads over Message-IDs: table thread_ids maps every
 * Message-ID a stored message has or names (its Message-ID, In-Reply-To and
 * References) to a thread number, and messages.thread holds the number of
 * each message's thread.  A new message takes the lowest number among the
 * threads its ids already belong to (its own id when none), and the other
 * threads it names are renumbered to that one: so a reply stored before its
 * parent, or a thread delivered in reverse order, ends as one thread.  Each
 * step reads the thread_ids rows of the message's ids (primary key) and
 * renumbers the merged threads through indexes on the number, so a message
 * costs its ids plus the size of the threads it merges.
 *
 * The ids come from the outer header of the bytes as stored.  Encrypted
 * mail is threaded by its outer Message-ID, In-Reply-To and References
 * (protected headers are not read here: decrypted header values stay off
 * the disk).  A message sealed on arrival (seal_incoming) is threaded in its
 * commit, before the seal, by its plaintext header; one sealed before the
 * store had threads (schema 7) has no readable header left and is a
 * thread of its own.
 *
 * The header scanner is our own rather than pst_mime_split_header(): the
 * store sits below core/mime, a commit must never fail over a header that
 * does not parse, and only the <msg-id> tokens of three fields are needed.
 */
#include "store/threads.h"

#include <inttypes.h>
#include <string.h>

#include "util/error.h"

#include <glib/gi18n-lib.h>

/* A References field can be long; its last ids are the closest kin. */
#define MAX_IDS 64
#define MAX_ID_LEN 998

static gboolean
field_named (const char *line, gsize len, const char *name)
{
  gsize n = strlen (name);

  return len > n && g_ascii_strncasecmp (line, name, n) == 0
         && (line[n] == ':' || line[n] == ' ' || line[n] == '\t');
}

/* Adds the <…> tokens of @value (@len bytes) to @ids, each once (@seen
 * holds those added: a References of 30,000 ids checked against the list
 * one by one took seconds inside the store's commit). */
static void
add_tokens (GPtrArray *ids, GHashTable *seen, const char *value, gsize len)
{
  const char *end = value + len;

  for (const char *p = value; p < end; p++)
    {
      const char *close;

      if (*p != '<')
        continue;
      close = memchr (p, '>', (gsize) (end - p));
      if (close == NULL)
        return;
      if (close - p > 1 && close - p <= MAX_ID_LEN)
        {
          g_autofree char *id = g_strndup (p, (gsize) (close - p + 1));
          gboolean clean = TRUE;

          for (const char *c = id; *c != '\0'; c++)
            if ((guchar) *c <= ' ' || (guchar) *c >= 0x7f)
              clean = FALSE;
          /* (g_hash_table_add would put the new copy in place of the
           * one kept, and then free it) */
          if (clean && !g_hash_table_contains (seen, id))
            {
              g_hash_table_add (seen, id);
              g_ptr_array_add (ids, g_steal_pointer (&id));
            }
        }
      p = close;
    }
}

/* The Message-IDs of the header at the start of @data: a GPtrArray of
 * strings ("<…>"), at most MAX_IDS, the message's own first. */
static GPtrArray *
header_ids (const char *data, gsize len)
{
  static const char *const fields[] = { "Message-ID", "In-Reply-To", "References" };
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);   /* of ids' strings */
  const char *end = data + len, *p = data;

  /* An mbox "From " line is no field. */
  if (len >= 5 && memcmp (data, "From ", 5) == 0)
    {
      const char *nl = memchr (data, '\n', len);
      p = nl != NULL ? nl + 1 : end;
    }
  for (guint f = 0; f < G_N_ELEMENTS (fields); f++)
    {
      const char *q = p;

      while (q < end && *q != '\r' && *q != '\n')
        {
          const char *nl = memchr (q, '\n', (gsize) (end - q));
          const char *line_end = nl != NULL ? nl : end;

          /* The field runs on over continuation lines. */
          while (line_end < end && line_end + 1 < end && (line_end[1] == ' ' || line_end[1] == '\t'))
            {
              nl = memchr (line_end + 1, '\n', (gsize) (end - line_end - 1));
              line_end = nl != NULL ? nl : end;
            }
          if (field_named (q, (gsize) (line_end - q), fields[f]))
            add_tokens (ids, seen, q, (gsize) (line_end - q));
          q = line_end < end ? line_end + 1 : end;
        }
    }
  /* Keep the message's own id and the closest references. */
  if (ids->len > MAX_IDS)
    g_ptr_array_remove_range (ids, 1, ids->len - MAX_IDS);
  return ids;
}

static gboolean
step_done (PstStore *store, sqlite3_stmt *stmt, gint64 id, GError **error)
{
  if (sqlite3_step (stmt) == SQLITE_DONE)
    return TRUE;
  pst_store_set_db_error (store, error, _("cannot thread message %" PRId64 " in store %s"),
                          id, store->path);
  return FALSE;
}

/* The Message-IDs of stored message @id, from its first chunk. */
static gboolean
message_ids (PstStore *store, gint64 id, GPtrArray **ids_out, GError **error)
{
  g_autoptr (Stmt) stmt = pst_store_prepare (store,
                                             "SELECT c.data, m.flags FROM messages m"
                                             " LEFT JOIN message_chunks c"
                                             " ON c.message_id = m.id AND c.seq = 0"
                                             " WHERE m.id = ?1", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW && (sqlite3_column_int (stmt, 1) & PST_MESSAGE_FLAG_SEALED) == 0)
    *ids_out = header_ids (sqlite3_column_blob (stmt, 0),
                           (gsize) sqlite3_column_bytes (stmt, 0));
  else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
    *ids_out = g_ptr_array_new_with_free_func (g_free);
  else
    {
      pst_store_set_db_error (store, error, _("cannot read message %" PRId64
                                              " from store %s"), id, store->path);
      return FALSE;
    }
  return TRUE;
}

gboolean
pst_store_thread_message (PstStore *store, gint64 id, GError **error)
{
  g_autoptr (GPtrArray) ids = NULL;
  g_autoptr (GArray) threads = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (Stmt) find = NULL, move_ids = NULL, move_msgs = NULL, put = NULL, set = NULL;
  gint64 thread = id;

  if (!message_ids (store, id, &ids, error))
    return FALSE;
  if (ids->len > 0
      && !(find = pst_store_prepare (store, "SELECT thread FROM thread_ids WHERE msgid = ?1", error)))
    return FALSE;
  for (guint i = 0; i < ids->len; i++)
    {
      int rc;

      sqlite3_reset (find);
      sqlite3_bind_text (find, 1, g_ptr_array_index (ids, i), -1, SQLITE_STATIC);
      rc = sqlite3_step (find);
      if (rc == SQLITE_ROW)
        {
          gint64 t = sqlite3_column_int64 (find, 0);
          gboolean known = FALSE;

          for (guint j = 0; j < threads->len; j++)
            known = known || g_array_index (threads, gint64, j) == t;
          if (!known)
            g_array_append_val (threads, t);
        }
      else if (rc != SQLITE_DONE)
        return step_done (store, find, id, error);
    }
  /* The largest thread named stays and the others move into it (union by
   * size): always moving into the lowest number let a stream of messages
   * each naming a small thread and one large one rename the large one's
   * rows again and again.  Counting reads an index; moving rewrites rows.
   * (The number is a label: a list names a thread by its first message.) */
  if (threads->len > 0)
    {
      g_autoptr (Stmt) count = NULL;
      gint64 most = -1;

      if (threads->len > 1
          && !(count = pst_store_prepare (store, "SELECT count (*) FROM thread_ids"
                                                 " WHERE thread = ?1", error)))
        return FALSE;
      thread = g_array_index (threads, gint64, 0);
      for (guint j = 0; count != NULL && j < threads->len; j++)
        {
          gint64 t = g_array_index (threads, gint64, j), n;

          sqlite3_reset (count);
          sqlite3_bind_int64 (count, 1, t);
          if (sqlite3_step (count) != SQLITE_ROW)
            return step_done (store, count, id, error);
          n = sqlite3_column_int64 (count, 0);
          if (n > most || (n == most && t < thread))
            {
              most = n;
              thread = t;
            }
        }
    }
  /* The other threads named become this one. */
  for (guint j = 0; j < threads->len; j++)
    {
      gint64 t = g_array_index (threads, gint64, j);

      if (t == thread)
        continue;
      if (move_ids == NULL
          && (!(move_ids = pst_store_prepare (store, "UPDATE thread_ids SET thread = ?1"
                                                     " WHERE thread = ?2", error))
              || !(move_msgs = pst_store_prepare (store, "UPDATE messages SET thread = ?1"
                                                         " WHERE thread = ?2", error))))
        return FALSE;
      sqlite3_reset (move_ids);
      sqlite3_reset (move_msgs);
      sqlite3_bind_int64 (move_ids, 1, thread);
      sqlite3_bind_int64 (move_ids, 2, t);
      sqlite3_bind_int64 (move_msgs, 1, thread);
      sqlite3_bind_int64 (move_msgs, 2, t);
      if (!step_done (store, move_ids, id, error) || !step_done (store, move_msgs, id, error))
        return FALSE;
    }
  if (ids->len > 0
      && !(put = pst_store_prepare (store, "INSERT OR REPLACE INTO thread_ids (msgid, thread)"
                                           " VALUES (?1, ?2)", error)))
    return FALSE;
  for (guint i = 0; i < ids->len; i++)
    {
      sqlite3_reset (put);
      sqlite3_bind_text (put, 1, g_ptr_array_index (ids, i), -1, SQLITE_STATIC);
      sqlite3_bind_int64 (put, 2, thread);
      if (!step_done (store, put, id, error))
        return FALSE;
    }
  set = pst_store_prepare (store, "UPDATE messages SET thread = ?2 WHERE id = ?1", error);
  if (set == NULL)
    return FALSE;
  sqlite3_bind_int64 (set, 1, id);
  sqlite3_bind_int64 (set, 2, thread);
  return step_done (store, set, id, error);
}

gboolean
pst_store_thread_unthreaded (PstStore *store, GError **error)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (Stmt) stmt = NULL;
  int rc;

  stmt = pst_store_prepare (store, "SELECT id FROM messages WHERE thread IS NULL"
                                   " AND NOT unfinished ORDER BY id", error);
  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);
      g_array_append_val (ids, id);
    }
  if (rc != SQLITE_DONE)
    {
      pst_store_set_db_error (store, error, _("cannot list the messages in store %s"), store->path);
      return FALSE;
    }
  g_clear_pointer (&stmt, pst_store_stmt_release);
  if (ids->len == 0)
    return TRUE;
  if (!pst_store_txn_begin (store, error))
    return FALSE;
  for (guint i = 0; i < ids->len; i++)
    if (!pst_store_thread_message (store, g_array_index (ids, gint64, i), error))
      {
        pst_store_txn_rollback (store);
        return FALSE;
      }
  return pst_store_txn_commit (store, error);
}

gboolean
pst_store_thread_forget (PstStore *store, gint64 thread, GError **error)
{
  g_autoptr (Stmt) stmt = pst_store_prepare (store,
                                             "DELETE FROM thread_ids WHERE thread = ?1"
                                             " AND NOT EXISTS (SELECT 1 FROM messages"
                                             " WHERE thread = ?1)", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, thread);
  return step_done (store, stmt, thread, error);
}
