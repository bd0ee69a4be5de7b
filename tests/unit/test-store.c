#define _GNU_SOURCE
#include "store/store.h"
#include "store/store-private.h"
#include "store/deliveries.h"
#include "store/drafts.h"
#include "store/keys.h"
#include "store/schema.h"
#include "store/writerstream.h"
#include "util/error.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#define CHUNK (256 * 1024)

typedef struct {
  char *dir;
  char *path;
} Fixture;

static int
setup (void **state)
{
  Fixture *f = g_new0 (Fixture, 1);

  f->dir = g_dir_make_tmp ("test-store-XXXXXX", NULL);
  assert_non_null (f->dir);
  f->path = g_build_filename (f->dir, "postern.db", NULL);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  Fixture *f = *state;
  GDir *dir = g_dir_open (f->dir, 0, NULL);
  const char *name;

  /* The database, its -wal and -shm, and any copies a test made. */
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *p = g_build_filename (f->dir, name, NULL);
      g_unlink (p);
    }
  if (dir != NULL)
    g_dir_close (dir);
  g_rmdir (f->dir);
  g_free (f->dir);
  g_free (f->path);
  g_free (f);
  return 0;
}

/* ---- helpers ---- */

static guint8 *
random_bytes (gsize len, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  guint8 *data = g_malloc (len);

  for (gsize i = 0; i < len; i++)
    data[i] = (guint8) g_rand_int (rand);
  return data;
}

/* Reads all of @stream in awkward sizes. */
static GByteArray *
read_all_odd (GInputStream *stream)
{
  static const gsize sizes[] = { 1, 7, 4093, 65537, 300001, 13, CHUNK, CHUNK + 1 };
  GByteArray *out = g_byte_array_new ();
  guint8 *buf = g_malloc (CHUNK + 1);

  for (guint i = 0;; i++)
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_input_stream_read (stream, buf, sizes[i % G_N_ELEMENTS (sizes)], NULL, &error);

      assert_null (error);
      assert_true (n >= 0);
      if (n == 0)
        break;
      g_byte_array_append (out, buf, (guint) n);
    }
  g_free (buf);
  return out;
}

static gint64
store_message (PstStore *store, const char *account, const char *uidl, const guint8 *data,
               gsize len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStoreWriter) w = pst_store_message_begin (store, account, uidl, &error);
  gint64 id = -1;

  assert_null (error);
  assert_non_null (w);
  assert_true (pst_store_writer_write (w, data, len, &error));
  assert_true (pst_store_writer_commit (w, &id, &error));
  assert_null (error);
  assert_true (id > 0);
  return id;
}

/* Reads up to @n bytes of @in into @buf, which must fail as a stream
 * whose entry changed under it fails; how many bytes it gave first. */
static gsize
read_refused (GInputStream *in, guint8 *buf, gsize n)
{
  g_autoptr (GError) error = NULL;
  gsize got = 0;

  assert_false (g_input_stream_read_all (in, buf, n, &got, NULL, &error));
  assert_non_null (error);
  if (strstr (error->message, "changed while it was read") == NULL)
    fail_msg ("%s", error->message);
  return got;
}

static void
assert_message_bytes (PstStore *store, gint64 id, const guint8 *data, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) in = pst_store_message_open (store, id, &error);
  g_autoptr (GByteArray) got = NULL;

  assert_null (error);
  assert_non_null (in);
  got = read_all_odd (in);
  assert_int_equal (got->len, len);
  assert_memory_equal (got->data, data, len);
}

static gboolean
uidl_seen (PstStore *store, const char *account, const char *uidl)
{
  g_autoptr (GError) error = NULL;
  gboolean seen = -1;

  assert_true (pst_store_uidl_seen (store, account, uidl, &seen, &error));
  assert_null (error);
  return seen;
}

static guint
message_count (PstStore *store, const char *account)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = pst_store_message_list (store, account, 0, &error);

  assert_null (error);
  assert_non_null (list);
  return list->len;
}

static sqlite3 *
raw_open (const char *path)
{
  sqlite3 *db = NULL;

  assert_int_equal (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                    SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  return db;
}

static gint64
raw_int (sqlite3 *db, const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  gint64 v;

  assert_int_equal (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), SQLITE_OK);
  assert_int_equal (sqlite3_step (stmt), SQLITE_ROW);
  v = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return v;
}

static void
raw_exec (sqlite3 *db, const char *sql)
{
  assert_int_equal (sqlite3_exec (db, sql, NULL, NULL, NULL), SQLITE_OK);
}

static void
assert_error_contains (const GError *error, const char *text)
{
  assert_non_null (error);
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_FAILED));
  if (strstr (error->message, text) == NULL)
    fail_msg ("error \"%s\" does not contain \"%s\"", error->message, text);
}

/* ---- tests ---- */

static void
test_create_reopen (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  static const guint8 body[] = "From: a@example.org\r\n\r\nhello\r\n";
  gint64 id;
  sqlite3 *db;
  guint applied = 99;

  {
    g_autoptr (PstStore) store = pst_store_open (f->path, &error);
    assert_null (error);
    assert_non_null (store);
    id = store_message (store, "acct", "u1", body, sizeof body - 1);
  }

  db = raw_open (f->path);
  assert_int_equal (raw_int (db, "PRAGMA user_version"), pst_store_schema_latest ());
  assert_int_equal (raw_int (db, "SELECT count(*) FROM messages"), 1);
  /* Migration is a no-op on an up-to-date database. */
  assert_true (pst_store_schema_migrate (db, f->path, &applied, &error));
  assert_int_equal (applied, 0);
  sqlite3_close (db);

  {
    g_autoptr (PstStore) store = pst_store_open (f->path, &error);
    g_autoptr (PstMessageInfo) info = NULL;

    assert_null (error);
    info = pst_store_message_get_info (store, id, &error);
    assert_null (error);
    assert_string_equal (info->account, "acct");
    assert_string_equal (info->uidl, "u1");
    assert_int_equal (info->size, sizeof body - 1);
    assert_true (uidl_seen (store, "acct", "u1"));
    assert_false (uidl_seen (store, "acct", "u2"));
    assert_false (uidl_seen (store, "other", "u1"));
    assert_message_bytes (store, id, body, sizeof body - 1);
  }
}

static void
test_migrate_fresh (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  sqlite3 *db = raw_open (f->path);
  guint applied = 0;

  assert_true (pst_store_schema_migrate (db, f->path, &applied, &error));
  assert_null (error);
  assert_int_equal (applied, pst_store_schema_latest ());
  assert_int_equal (raw_int (db, "PRAGMA user_version"), pst_store_schema_latest ());
  assert_true (pst_store_schema_migrate (db, f->path, &applied, &error));
  assert_int_equal (applied, 0);
  sqlite3_close (db);
}

static void
test_newer_schema (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = NULL;
  g_autofree char *sql = g_strdup_printf ("PRAGMA user_version = %d",
                                          pst_store_schema_latest () + 1);
  sqlite3 *db = raw_open (f->path);

  raw_exec (db, sql);
  sqlite3_close (db);

  store = pst_store_open (f->path, &error);
  assert_null (store);
  assert_error_contains (error, f->path);
  assert_error_contains (error, "newer Postern");
}

static void
test_not_a_database (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = NULL;
  g_autofree char *missing = g_build_filename (f->dir, "no", "such", "dir.db", NULL);

  assert_true (g_file_set_contents (f->path, "this is not an SQLite database, not at all......"
                                    "................................................", -1, NULL));
  store = pst_store_open (f->path, &error);
  assert_null (store);
  assert_error_contains (error, "cannot open store");
  assert_error_contains (error, f->path);
  g_clear_error (&error);

  store = pst_store_open (missing, &error);
  assert_null (store);
  assert_error_contains (error, "cannot open store");
}

static void
assert_mode_0600 (const char *path)
{
  struct stat st;

  assert_int_equal (g_stat (path, &st), 0);
  if ((st.st_mode & 0777) != 0600)
    fail_msg ("%s has mode %o", path, st.st_mode & 0777);
}

static void
test_file_mode (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (f->path, "-shm", NULL);
  mode_t old = umask (022);

  {
    g_autoptr (PstStore) store = pst_store_open (f->path, &error);

    assert_null (error);
    store_message (store, "a", "1", (const guint8 *) "x", 1);
    assert_mode_0600 (f->path);
    assert_mode_0600 (wal);
    assert_mode_0600 (shm);
  }

  /* A file left readable by someone else is tightened. */
  assert_int_equal (chmod (f->path, 0644), 0);
  {
    g_autoptr (PstStore) store = pst_store_open (f->path, &error);

    assert_null (error);
    assert_mode_0600 (f->path);
  }
  umask (old);
}

static void
test_chunks (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  const gsize len = 1024 * 1024 + 123;
  g_autofree guint8 *data = random_bytes (len, 42);
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  gint64 small_id, big_id, exact_id, empty_id;
  g_autoptr (PstMessageInfo) info = NULL;
  sqlite3 *db;

  assert_null (error);

  /* Many small writes of varying size. */
  {
    g_autoptr (PstStoreWriter) w = pst_store_message_begin (store, "a", "small", &error);
    gsize off = 0;

    assert_non_null (w);
    while (off < len)
      {
        gsize want = (gsize) g_rand_int_range (rand, 0, 9000);
        gsize n = MIN (len - off, want);

        assert_true (pst_store_writer_write (w, data + off, n, &error));
        off += n;
      }
    assert_true (pst_store_writer_commit (w, &small_id, &error));
    assert_null (error);
  }
  big_id = store_message (store, "a", "big", data, len);
  exact_id = store_message (store, "a", "exact", data, 2 * CHUNK);
  empty_id = store_message (store, "a", "empty", data, 0);

  assert_message_bytes (store, small_id, data, len);
  assert_message_bytes (store, big_id, data, len);
  assert_message_bytes (store, exact_id, data, 2 * CHUNK);
  assert_message_bytes (store, empty_id, data, 0);

  info = pst_store_message_get_info (store, big_id, &error);
  assert_int_equal (info->size, len);

  db = raw_open (f->path);
  assert_int_equal (raw_int (db, "SELECT max(length(data)) FROM message_chunks"), CHUNK);
  assert_int_equal (raw_int (db, "SELECT min(length(data)) FROM message_chunks"), 123);
  {
    g_autofree char *sql = g_strdup_printf (
        "SELECT count(*) FROM message_chunks WHERE message_id = %" G_GINT64_FORMAT, small_id);
    assert_int_equal (raw_int (db, sql), 5);
  }
  {
    g_autofree char *sql = g_strdup_printf (
        "SELECT count(*) FROM message_chunks WHERE message_id = %" G_GINT64_FORMAT, exact_id);
    assert_int_equal (raw_int (db, sql), 2);
  }
  sqlite3_close (db);
}

static void
test_stream_outlives_store (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  PstStore *store = pst_store_open (f->path, &error);
  g_autofree guint8 *data = random_bytes (300000, 3);
  g_autoptr (GInputStream) in = NULL;
  g_autoptr (GByteArray) got = NULL;
  gint64 id;

  id = store_message (store, "a", "1", data, 300000);
  in = pst_store_message_open (store, id, &error);
  assert_non_null (in);
  pst_store_free (store);
  got = read_all_odd (in);
  assert_int_equal (got->len, 300000);
  assert_memory_equal (got->data, data, 300000);
}

/* A stream read again from its start (pst_store_stream_reopen), moved on
 * without reading (skip), and refused when its entry changed since the
 * first stream opened, even before the second was made. */
static void
test_stream_reopen (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  const gsize len = 3 * CHUNK + 500;
  g_autofree guint8 *data = random_bytes (len, 11);
  g_autoptr (GInputStream) in = NULL, again = NULL, gone = NULL, gone_again = NULL;
  guint8 buf[1000];
  gsize got = 0;
  gint64 id, id2;

  id = store_message (store, "a", "1", data, len);
  id2 = store_message (store, "a", "2", data, 100);
  in = pst_store_message_open (store, id, &error);
  assert_non_null (in);
  assert_true (g_input_stream_read_all (in, buf, 10, &got, NULL, &error));
  again = pst_store_stream_reopen (in);
  assert_int_equal (g_input_stream_skip (again, CHUNK + 10, NULL, &error), CHUNK + 10);
  assert_true (g_input_stream_read_all (again, buf, sizeof buf, &got, NULL, &error));
  assert_int_equal (got, sizeof buf);
  assert_memory_equal (buf, data + CHUNK + 10, sizeof buf);
  /* Past the end: what was left, then nothing. */
  assert_int_equal (g_input_stream_skip (again, 2 * CHUNK, NULL, &error),
                    len - CHUNK - 10 - sizeof buf);
  assert_int_equal (g_input_stream_read (again, buf, sizeof buf, NULL, &error), 0);
  assert_null (error);

  gone = pst_store_message_open (store, id2, &error);
  assert_true (pst_store_message_delete (store, id2, &error));
  gone_again = pst_store_stream_reopen (gone);
  read_refused (gone_again, buf, sizeof buf);
  g_clear_object (&gone_again);
  gone_again = pst_store_stream_reopen (gone);
  assert_true (g_input_stream_skip (gone_again, 10, NULL, &error) < 0);
  assert_non_null (strstr (error->message, "changed while it was read"));
}

static void
test_uncommitted_invisible (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  g_autofree guint8 *data = random_bytes (600000, 5);
  PstStoreWriter *w;
  sqlite3 *other;
  gint64 id;

  assert_null (error);

  w = pst_store_message_begin (store, "a", "u1", &error);
  assert_non_null (w);
  assert_true (pst_store_writer_write (w, data, 600000, &error));
  /* The row and two full chunks are there, but unfinished: no read shows
   * them, and the UIDL is not seen yet. */
  other = raw_open (f->path);
  assert_int_equal (raw_int (other, "SELECT count(*) FROM messages WHERE unfinished"), 1);
  assert_int_equal (raw_int (other, "SELECT count(*) FROM messages WHERE NOT unfinished"), 0);
  assert_int_equal (raw_int (other, "SELECT count(*) FROM seen"), 0);
  assert_int_equal (raw_int (other, "SELECT count(*) FROM message_chunks"), 2);
  assert_int_equal (message_count (store, NULL), 0);
  assert_int_equal (message_count (store, "a"), 0);
  assert_false (uidl_seen (store, "a", "u1"));
  {
    gint64 unfinished = raw_int (other, "SELECT id FROM messages");

    assert_null (pst_store_message_get_info (store, unfinished, &error));
    assert_error_contains (error, "no message with id");
    g_clear_error (&error);
    assert_null (pst_store_message_open (store, unfinished, &error));
    assert_error_contains (error, "no message with id");
    g_clear_error (&error);
    assert_false (pst_store_message_set_info (store, unfinished, "x", NULL, NULL, NULL, NULL,
                                              &error));
    assert_error_contains (error, "no message with id");
    g_clear_error (&error);
  }
  pst_store_writer_free (w);

  /* Freed: row and chunks are gone. */
  assert_int_equal (message_count (store, NULL), 0);
  assert_false (uidl_seen (store, "a", "u1"));
  assert_int_equal (raw_int (other, "SELECT count(*) FROM messages"), 0);
  assert_int_equal (raw_int (other, "SELECT count(*) FROM message_chunks"), 0);

  /* Committed: visible and seen. */
  w = pst_store_message_begin (store, "a", "u1", &error);
  assert_true (pst_store_writer_write (w, data, 1000, &error));
  assert_int_equal (raw_int (other, "SELECT count(*) FROM seen"), 0);
  assert_true (pst_store_writer_commit (w, &id, &error));
  assert_int_equal (raw_int (other, "SELECT count(*) FROM seen"), 1);
  /* After commit only free() is valid. */
  assert_false (pst_store_writer_write (w, data, 10, &error));
  assert_error_contains (error, "already committed");
  g_clear_error (&error);
  assert_false (pst_store_writer_commit (w, NULL, &error));
  g_clear_error (&error);
  pst_store_writer_free (w);
  sqlite3_close (other);

  assert_true (uidl_seen (store, "a", "u1"));
  assert_int_equal (message_count (store, NULL), 1);

  /* The same UIDL again is refused, and the store stays usable. */
  w = pst_store_message_begin (store, "a", "u1", &error);
  assert_null (w);
  assert_error_contains (error, "already has UIDL u1");
  g_clear_error (&error);
  assert_int_equal (message_count (store, NULL), 1);
  id = store_message (store, "b", "u1", data, 10);
  assert_int_equal (message_count (store, NULL), 2);
}

static void
test_list (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  g_autoptr (GPtrArray) list = NULL;
  gint64 ids[6];
  sqlite3 *db;

  for (int i = 0; i < 6; i++)
    {
      g_autofree char *uidl = g_strdup_printf ("u%d", i);
      ids[i] = store_message (store, i % 2 ? "odd" : "even", uidl, (const guint8 *) "x", 1);
    }
  /* Commit order decides, not the clock: make the first two look newest. */
  db = raw_open (f->path);
  {
    g_autofree char *sql = g_strdup_printf (
        "UPDATE messages SET received_at = received_at + 3600 WHERE id IN (%" G_GINT64_FORMAT
        ", %" G_GINT64_FORMAT ")", ids[0], ids[1]);
    raw_exec (db, sql);
  }
  sqlite3_close (db);

  list = pst_store_message_list (store, NULL, 0, &error);
  assert_int_equal (list->len, 6);
  {
    gint64 expect[] = { ids[5], ids[4], ids[3], ids[2], ids[1], ids[0] };
    for (guint i = 0; i < 6; i++)
      assert_int_equal (((PstMessageInfo *) list->pdata[i])->id, expect[i]);
  }
  g_clear_pointer (&list, g_ptr_array_unref);

  list = pst_store_message_list (store, NULL, 3, &error);
  assert_int_equal (list->len, 3);
  assert_int_equal (((PstMessageInfo *) list->pdata[2])->id, ids[3]);
  g_clear_pointer (&list, g_ptr_array_unref);

  list = pst_store_message_list (store, "even", 0, &error);
  assert_int_equal (list->len, 3);
  assert_int_equal (((PstMessageInfo *) list->pdata[0])->id, ids[4]);
  assert_int_equal (((PstMessageInfo *) list->pdata[1])->id, ids[2]);
  assert_int_equal (((PstMessageInfo *) list->pdata[2])->id, ids[0]);
  assert_string_equal (((PstMessageInfo *) list->pdata[0])->account, "even");
  g_clear_pointer (&list, g_ptr_array_unref);

  list = pst_store_message_list (store, "odd", 1, &error);
  assert_int_equal (list->len, 1);
  assert_int_equal (((PstMessageInfo *) list->pdata[0])->id, ids[5]);
  g_clear_pointer (&list, g_ptr_array_unref);

  list = pst_store_message_list (store, "nobody", 0, &error);
  assert_non_null (list);
  assert_int_equal (list->len, 0);
}

/* The ids of a page, as "id,id,…". */
static char *
page_ids (PstStore *store, const PstMessageQuery *q)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) page = pst_store_message_page (store, q, &error);
  GString *s = g_string_new (NULL);

  assert_null (error);
  assert_non_null (page);
  for (guint i = 0; i < page->len; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? "," : "",
                            ((PstMessageInfo *) page->pdata[i])->id);
  return g_string_free (s, FALSE);
}

/* Pages by offset and by before join up with no gap and no overlap, with
 * an account, a query and ids found otherwise (also). */
static void
test_page (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  g_autoptr (GArray) also = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 ids[10];

  for (int i = 0; i < 10; i++)
    {
      g_autofree char *uidl = g_strdup_printf ("p%d", i);
      ids[i] = store_message (store, i % 2 ? "odd" : "even", uidl, (const guint8 *) "x", 1);
      assert_true (pst_store_message_set_info (store, ids[i], "someone@example.org",
                                               i % 3 == 0 ? "needle" : "hay", NULL, NULL, NULL,
                                               &error));
    }
  {
    PstMessageQuery q = { .limit = 3 };
    g_autofree char *first = page_ids (store, &q);
    g_autofree char *expect = g_strdup_printf ("%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
                                               ",%" G_GINT64_FORMAT, ids[9], ids[8], ids[7]);
    g_autofree char *by_offset = NULL, *by_before = NULL, *rest = NULL;

    assert_string_equal (first, expect);
    q.offset = 3;
    by_offset = page_ids (store, &q);
    q.offset = 0;
    q.before = ids[7];
    by_before = page_ids (store, &q);
    assert_string_equal (by_offset, by_before);
    q.before = ids[1];
    q.limit = 0;
    rest = page_ids (store, &q);
    g_free (expect);
    expect = g_strdup_printf ("%" G_GINT64_FORMAT, ids[0]);
    assert_string_equal (rest, expect);
    q.before = 0;
    q.offset = 100;
    g_free (rest);
    rest = page_ids (store, &q);
    assert_string_equal (rest, "");
  }
  {
    /* needle: 0, 3, 6, 9; of "even": 0, 6; ids[4] found otherwise. */
    PstMessageQuery q = { .account = "even", .query = "NEEDLE", .also = also, .limit = 2 };
    g_autofree char *first = NULL, *next = NULL, *expect = NULL;

    g_array_append_val (also, ids[4]);
    g_array_append_val (also, ids[5]);   /* of "odd": not listed for "even" */
    first = page_ids (store, &q);
    expect = g_strdup_printf ("%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT, ids[6], ids[4]);
    assert_string_equal (first, expect);
    q.before = ids[4];
    next = page_ids (store, &q);
    g_free (expect);
    expect = g_strdup_printf ("%" G_GINT64_FORMAT, ids[0]);
    assert_string_equal (next, expect);
  }
}

/* The ids found by searching for @query (newest first), as "id,id,…". */
static char *
search_ids (PstStore *store, const char *account, const char *query, guint limit)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) found = pst_store_message_search (store, account, query, limit, &error);
  GString *s = g_string_new (NULL);

  assert_null (error);
  assert_non_null (found);
  for (guint i = 0; i < found->len; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? "," : "",
                            ((PstMessageInfo *) found->pdata[i])->id);
  return g_string_free (s, FALSE);
}

static void
assert_search (PstStore *store, const char *account, const char *query, guint limit,
               const char *expect)
{
  g_autofree char *got = search_ids (store, account, query, limit);

  if (strcmp (got, expect) != 0)
    fail_msg ("search '%s' found '%s', expected '%s'", query, got, expect);
}

static void
test_search (void **state)
{
  static const char *const summaries[][2] = {
    { "Alice <alice@example.org>", "Quarterly report" },
    { "Bob Smith <bob@example.net>", "100% sure" },
    { "carol@example.com", "file_name and the REPORT" },
    { "Dörte <doerte@example.de>", "Grüße aus KÖLN" },
    { "eve@example.org", "back\\slash" },
    { "frank@example.org", NULL },
    { "gina@example.org", "Caf\xc3\xa9 cr\xc3\xa8me" },           /* precomposed */
    { "hugo@example.org", "Cafe\xcc\x81 STRASSE" },                 /* e + COMBINING ACUTE */
  };
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  gint64 ids[G_N_ELEMENTS (summaries)];
  char *e[G_N_ELEMENTS (summaries)];

  for (guint i = 0; i < G_N_ELEMENTS (summaries); i++)
    {
      g_autofree char *uidl = g_strdup_printf ("s%u", i);
      ids[i] = store_message (store, i < 3 ? "a" : "b", uidl, (const guint8 *) "x", 1);
      assert_true (pst_store_message_set_info (store, ids[i], summaries[i][0], summaries[i][1],
                                               NULL, NULL, NULL, &error));
      e[i] = g_strdup_printf ("%" G_GINT64_FORMAT, ids[i]);
    }

  /* In the Subject and in From, ignoring case, newest first. */
  {
    g_autofree char *both = g_strdup_printf ("%s,%s", e[2], e[0]);
    assert_search (store, NULL, "report", 0, both);
    assert_search (store, NULL, "RePoRt", 0, both);
    assert_search (store, NULL, "ALICE", 0, e[0]);
    assert_search (store, NULL, "example.net", 0, e[1]);
    assert_search (store, NULL, "Smith <bob", 0, e[1]);
    /* the limit counts what was found */
    assert_search (store, NULL, "report", 1, e[2]);
    /* and the account narrows it */
    assert_search (store, "b", "report", 0, "");
  }
  /* Non-ASCII: Unicode case folding, both ways. */
  assert_search (store, NULL, "köln", 0, e[3]);
  assert_search (store, NULL, "GRÜSSE", 0, e[3]);
  assert_search (store, NULL, "DÖRTE", 0, e[3]);
  {
    g_autofree char *cafes = g_strdup_printf ("%s,%s", e[7], e[6]);
    assert_search (store, NULL, "CAF\xc3\x89", 0, cafes);      /* É, precomposed */
    assert_search (store, NULL, "cafe\xcc\x81", 0, cafes);     /* é, decomposed */
    assert_search (store, NULL, "straße", 0, e[7]);
    assert_search (store, NULL, "CRÈME", 0, e[6]);
  }
  /* The wildcards and the escape character are taken literally. */
  assert_search (store, NULL, "%", 0, e[1]);
  assert_search (store, NULL, "100%", 0, e[1]);
  assert_search (store, NULL, "0% s", 0, e[1]);
  assert_search (store, NULL, "_", 0, e[2]);
  assert_search (store, NULL, "e_n", 0, e[2]);
  assert_search (store, NULL, "file name", 0, "");
  assert_search (store, NULL, "\\", 0, e[4]);
  assert_search (store, NULL, "k\\s", 0, e[4]);
  assert_search (store, NULL, "%report", 0, "");
  /* Words found nowhere, and quotes that would break a spliced query. */
  assert_search (store, NULL, "invoice", 0, "");
  assert_search (store, NULL, "' OR 1=1 --", 0, "");
  /* No query: everything, as list gives it. */
  {
    g_autofree char *all = g_strjoin (",", e[7], e[6], e[5], e[4], e[3], e[2], e[1], e[0], NULL);
    assert_search (store, NULL, NULL, 0, all);
    assert_search (store, NULL, "", 0, all);
  }
  /* A NULL Subject is no match, but its From still is. */
  assert_search (store, NULL, "frank", 0, e[5]);
  /* Quarantined messages are never found. */
  assert_true (pst_store_message_set_quarantined (store, ids[0], TRUE, &error));
  assert_search (store, NULL, "report", 0, e[2]);
  for (guint i = 0; i < G_N_ELEMENTS (e); i++)
    g_free (e[i]);
}

static void
test_info (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  g_autoptr (PstMessageInfo) info = NULL;
  gint64 before = g_get_real_time () / G_USEC_PER_SEC;
  gint64 id = store_message (store, "a", "1", (const guint8 *) "hello", 5);

  info = pst_store_message_get_info (store, id, &error);
  assert_null (error);
  assert_int_equal (info->id, id);
  assert_true (info->received_at >= before && info->received_at <= before + 5);
  assert_null (info->from);
  assert_null (info->subject);
  assert_null (info->crypto_json);
  assert_null (info->scan_verdict);
  g_clear_pointer (&info, pst_message_info_free);

  assert_true (pst_store_message_set_info (store, id, "Alice <a@example.org>", "Hi", NULL,
                                           NULL, NULL, &error));
  assert_true (pst_store_message_set_info (store, id, NULL, NULL, "Mon, 1 Jan 2024 10:00 +0000",
                                           "{\"encrypted\":true}", "clean", &error));
  assert_null (error);
  info = pst_store_message_get_info (store, id, &error);
  assert_string_equal (info->from, "Alice <a@example.org>");
  assert_string_equal (info->subject, "Hi");
  assert_string_equal (info->date, "Mon, 1 Jan 2024 10:00 +0000");
  assert_string_equal (info->crypto_json, "{\"encrypted\":true}");
  assert_string_equal (info->scan_verdict, "clean");
  assert_int_equal (info->size, 5);

  assert_false (pst_store_message_set_info (store, id, NULL, NULL, NULL, NULL, "dirty", &error));
  assert_error_contains (error, "dirty");
}

static void
test_unknown_ids (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);

  assert_null (pst_store_message_get_info (store, 42, &error));
  assert_error_contains (error, "no message with id 42");
  g_clear_error (&error);
  assert_null (pst_store_message_open (store, 42, &error));
  assert_error_contains (error, "no message with id 42");
  g_clear_error (&error);
  assert_false (pst_store_message_set_info (store, 42, "x", NULL, NULL, NULL, NULL, &error));
  assert_error_contains (error, "no message with id 42");
  g_clear_error (&error);
  assert_null (pst_store_outbox_get (store, 43, &error));
  assert_error_contains (error, "no outbox entry with id 43");
  g_clear_error (&error);
  assert_null (pst_store_outbox_open (store, 43, &error));
  assert_error_contains (error, "no outbox entry with id 43");
  g_clear_error (&error);
  assert_false (pst_store_outbox_set_state (store, 43, PST_OUTBOX_SENDING, NULL, &error));
  assert_error_contains (error, "no outbox entry with id 43");
  g_clear_error (&error);
  assert_false (pst_store_outbox_set_next_try (store, 43, 0, &error));
  assert_error_contains (error, "no outbox entry with id 43");
}

static gint64
queue (PstStore *store, const char *account, const char *const *rcpts, const guint8 *data,
       gsize len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStoreWriter) w = pst_store_outbox_begin (store, account, "me@example.org",
                                                         rcpts, &error);
  gint64 id = 0;

  assert_null (error);
  assert_true (pst_store_writer_write (w, data, len, &error));
  assert_true (pst_store_writer_commit (w, &id, &error));
  return id;
}

static PstOutboxEntry *
get_entry (PstStore *store, gint64 id)
{
  g_autoptr (GError) error = NULL;
  PstOutboxEntry *e = pst_store_outbox_get (store, id, &error);

  assert_null (error);
  assert_non_null (e);
  return e;
}

/* The 8-bit facts recorded with an entry are read back with it; an entry
 * queued without them says they are not known. */
static void
test_outbox_8bit_facts (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  const char *one[] = { "d@example.org", NULL };
  PstOutboxEntry *e;
  gint64 ids[3];

  for (int i = 0; i < 2; i++)
    {
      g_autoptr (PstStoreWriter) w = pst_store_outbox_begin (store, "work", "me@example.org",
                                                             one, &error);

      assert_true (pst_store_writer_write (w, (const guint8 *) "x", 1, &error));
      assert_true (pst_store_writer_set_8bit (w, TRUE, i == 1, &error));
      assert_true (pst_store_writer_commit (w, &ids[i], &error));
    }
  ids[2] = queue (store, "work", one, (const guint8 *) "y", 1);
  e = get_entry (store, ids[0]);
  assert_int_equal (e->eight_bit, 1);
  assert_int_equal (e->utf8_headers, 0);
  pst_outbox_entry_free (e);
  e = get_entry (store, ids[1]);
  assert_int_equal (e->eight_bit, 1);
  assert_int_equal (e->utf8_headers, 1);
  pst_outbox_entry_free (e);
  e = get_entry (store, ids[2]);
  assert_int_equal (e->eight_bit, -1);
  assert_int_equal (e->utf8_headers, -1);
  pst_outbox_entry_free (e);
}

/* The hour's count is of messages: the copies of one message, committed
 * together, count once; entries committed alone count each. */
static void
test_outbox_count_messages (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  const char *to[] = { "b@example.org", NULL };
  const char *bcc1[] = { "c@example.org", NULL };
  const char *bcc2[] = { "d@example.org", NULL };
  const char *const *rcpts[] = { to, bcc1, bcc2 };
  PstStoreWriter *w[3];
  guint count = 99;
  gint64 since = g_get_real_time () / G_USEC_PER_SEC - 10;

  assert_true (pst_store_outbox_count_since (store, "work", since, &count, &error));
  assert_int_equal (count, 0);
  /* One message, three copies. */
  for (guint i = 0; i < 3; i++)
    {
      w[i] = pst_store_outbox_begin (store, "work", "me@example.org", rcpts[i], &error);
      assert_non_null (w[i]);
      assert_true (pst_store_writer_write (w[i], (const guint8 *) "copy", 4, &error));
    }
  assert_true (pst_store_writers_commit (w, 3, &error));
  assert_true (pst_store_outbox_count_since (store, "work", since, &count, &error));
  assert_int_equal (count, 1);
  for (guint i = 0; i < 3; i++)
    pst_store_writer_free (w[i]);
  /* Two messages queued one by one, and one for another account. */
  queue (store, "work", to, (const guint8 *) "a", 1);
  queue (store, "work", to, (const guint8 *) "b", 1);
  queue (store, "home", to, (const guint8 *) "c", 1);
  assert_true (pst_store_outbox_count_since (store, "work", since, &count, &error));
  assert_int_equal (count, 3);
  assert_true (pst_store_outbox_count_since (store, "home", since, &count, &error));
  assert_int_equal (count, 1);
  /* None of them in a later hour. */
  assert_true (pst_store_outbox_count_since (store, "work", since + 3600, &count, &error));
  assert_int_equal (count, 0);
}

static void
test_outbox (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  const char *rcpts[] = { "b@example.org", "c@example.org", NULL };
  const char *one[] = { "d@example.org", NULL };
  const char *none[] = { NULL };
  g_autofree guint8 *data = random_bytes (700000, 9);
  g_autoptr (GPtrArray) list = NULL;
  PstOutboxEntry *e;
  gint64 id1, id2, id3;

  id1 = queue (store, "work", rcpts, data, 700000);
  id2 = queue (store, "home", one, data, 10);
  id3 = queue (store, "work", one, data, 20);

  e = get_entry (store, id1);
  assert_string_equal (e->account, "work");
  assert_string_equal (e->reverse_path, "me@example.org");
  assert_int_equal (g_strv_length (e->recipients), 2);
  assert_string_equal (e->recipients[0], "b@example.org");
  assert_string_equal (e->recipients[1], "c@example.org");
  assert_int_equal (e->state, PST_OUTBOX_QUEUED);
  assert_int_equal (e->attempts, 0);
  assert_false (e->in_doubt);
  assert_null (e->last_reply);
  assert_int_equal (e->size, 700000);
  assert_int_equal (e->next_try, 0);
  assert_true (e->created_at > 0);
  pst_outbox_entry_free (e);

  {
    g_autoptr (GInputStream) in = pst_store_outbox_open (store, id1, &error);
    g_autoptr (GByteArray) got = read_all_odd (in);

    assert_int_equal (got->len, 700000);
    assert_memory_equal (got->data, data, 700000);
  }

  /* SENDING: attempts + 1, in doubt. */
  assert_true (pst_store_outbox_set_state (store, id1, PST_OUTBOX_SENDING, NULL, &error));
  e = get_entry (store, id1);
  assert_int_equal (e->state, PST_OUTBOX_SENDING);
  assert_int_equal (e->attempts, 1);
  assert_true (e->in_doubt);
  pst_outbox_entry_free (e);

  /* Temporary failure: back to QUEUED with the reply, no longer in doubt. */
  assert_true (pst_store_outbox_set_state (store, id1, PST_OUTBOX_QUEUED,
                                           "451 4.3.0 try later", &error));
  assert_true (pst_store_outbox_set_next_try (store, id1, 12345, &error));
  e = get_entry (store, id1);
  assert_int_equal (e->state, PST_OUTBOX_QUEUED);
  assert_int_equal (e->attempts, 1);
  assert_false (e->in_doubt);
  assert_string_equal (e->last_reply, "451 4.3.0 try later");
  assert_int_equal (e->next_try, 12345);
  pst_outbox_entry_free (e);

  /* Second attempt, permanent failure without a new reply keeps the old. */
  assert_true (pst_store_outbox_set_state (store, id1, PST_OUTBOX_SENDING, NULL, &error));
  e = get_entry (store, id1);
  assert_int_equal (e->attempts, 2);
  assert_true (e->in_doubt);
  assert_string_equal (e->last_reply, "451 4.3.0 try later");
  pst_outbox_entry_free (e);
  assert_true (pst_store_outbox_set_state (store, id1, PST_OUTBOX_FAILED, NULL, &error));
  e = get_entry (store, id1);
  assert_int_equal (e->state, PST_OUTBOX_FAILED);
  assert_int_equal (e->attempts, 2);
  assert_false (e->in_doubt);
  assert_string_equal (e->last_reply, "451 4.3.0 try later");
  pst_outbox_entry_free (e);

  /* FAILED can be retried; SENT is final. */
  assert_true (pst_store_outbox_set_state (store, id1, PST_OUTBOX_QUEUED, NULL, &error));
  assert_true (pst_store_outbox_set_state (store, id1, PST_OUTBOX_SENDING, NULL, &error));
  assert_true (pst_store_outbox_set_state (store, id1, PST_OUTBOX_SENT, "250 2.0.0 Ok: queued",
                                           &error));
  assert_null (error);
  e = get_entry (store, id1);
  assert_int_equal (e->state, PST_OUTBOX_SENT);
  assert_int_equal (e->attempts, 3);
  assert_false (e->in_doubt);
  assert_string_equal (e->last_reply, "250 2.0.0 Ok: queued");
  pst_outbox_entry_free (e);
  assert_false (pst_store_outbox_set_state (store, id1, PST_OUTBOX_SENDING, NULL, &error));
  assert_error_contains (error, "already sent");
  g_clear_error (&error);

  assert_true (pst_store_outbox_set_state (store, id2, PST_OUTBOX_CANCELLED, NULL, &error));
  assert_false (pst_store_outbox_set_state (store, id2, PST_OUTBOX_QUEUED, NULL, &error));
  assert_error_contains (error, "already cancelled");
  g_clear_error (&error);

  /* Several changes at once: all or none (id1 is sent: nothing of id3's
   * change may stay), then both. */
  {
    PstOutboxChange bad[] = { { id3, PST_OUTBOX_SENDING, NULL, FALSE },
                              { id1, PST_OUTBOX_SENDING, NULL, FALSE } };
    PstOutboxChange good[] = { { id3, PST_OUTBOX_SENDING, NULL, FALSE },
                               { id3, PST_OUTBOX_SENT, "250 2.0.0 both", FALSE } };
    /* Taken ahead ("sending", an attempt counted), then put back before
     * it began: the attempt is taken back, never below 0. */
    PstOutboxChange ahead[] = { { id3, PST_OUTBOX_SENDING, NULL, FALSE } };
    PstOutboxChange back[] = { { id3, PST_OUTBOX_QUEUED, NULL, TRUE } };

    assert_false (pst_store_outbox_set_states (store, bad, 2, &error));
    assert_error_contains (error, "already sent");
    g_clear_error (&error);
    e = get_entry (store, id3);
    assert_int_equal (e->state, PST_OUTBOX_QUEUED);
    assert_int_equal (e->attempts, 0);
    pst_outbox_entry_free (e);
    assert_true (pst_store_outbox_set_states (store, ahead, 1, &error));
    e = get_entry (store, id3);
    assert_int_equal (e->attempts, 1);
    assert_true (e->in_doubt);
    pst_outbox_entry_free (e);
    assert_true (pst_store_outbox_set_states (store, back, 1, &error));
    e = get_entry (store, id3);
    assert_int_equal (e->state, PST_OUTBOX_QUEUED);
    assert_int_equal (e->attempts, 0);
    assert_false (e->in_doubt);
    pst_outbox_entry_free (e);
    assert_true (pst_store_outbox_set_states (store, back, 1, &error));
    e = get_entry (store, id3);
    assert_int_equal (e->attempts, 0);
    pst_outbox_entry_free (e);
    /* Only from SENDING: an entry queued again after a real attempt keeps it. */
    assert_true (pst_store_outbox_set_states (store, ahead, 1, &error));
    assert_true (pst_store_outbox_set_state (store, id3, PST_OUTBOX_QUEUED, "451 later", &error));
    assert_true (pst_store_outbox_set_states (store, back, 1, &error));
    e = get_entry (store, id3);
    assert_int_equal (e->attempts, 1);
    pst_outbox_entry_free (e);
    assert_true (pst_store_outbox_set_states (store, good, 2, &error));
    e = get_entry (store, id3);
    assert_int_equal (e->state, PST_OUTBOX_SENT);
    assert_int_equal (e->attempts, 2);
    assert_false (e->in_doubt);
    assert_string_equal (e->last_reply, "250 2.0.0 both");
    pst_outbox_entry_free (e);
  }

  /* Lists: oldest first, by account and state. */
  list = pst_store_outbox_list (store, NULL, -1, &error);
  assert_int_equal (list->len, 3);
  assert_int_equal (((PstOutboxEntry *) list->pdata[0])->id, id1);
  assert_int_equal (((PstOutboxEntry *) list->pdata[2])->id, id3);
  assert_string_equal (((PstOutboxEntry *) list->pdata[2])->recipients[0], "d@example.org");
  g_clear_pointer (&list, g_ptr_array_unref);
  list = pst_store_outbox_list (store, "work", -1, &error);
  assert_int_equal (list->len, 2);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = pst_store_outbox_list (store, "work", PST_OUTBOX_SENT, &error);
  assert_int_equal (list->len, 2);
  assert_int_equal (((PstOutboxEntry *) list->pdata[1])->id, id3);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = pst_store_outbox_list (store, NULL, PST_OUTBOX_CANCELLED, &error);
  assert_int_equal (list->len, 1);
  assert_int_equal (((PstOutboxEntry *) list->pdata[0])->id, id2);
  g_clear_pointer (&list, g_ptr_array_unref);
  assert_null (pst_store_outbox_list (store, NULL, 17, &error));
  assert_error_contains (error, "unknown outbox state");
  g_clear_error (&error);

  /* No recipients. */
  assert_null (pst_store_outbox_begin (store, "work", "me@example.org", none, &error));
  assert_error_contains (error, "without recipients");
  g_clear_error (&error);
  assert_null (pst_store_outbox_begin (store, "work", "me@example.org", NULL, &error));
  g_clear_error (&error);

  /* State names. */
  for (int s = PST_OUTBOX_QUEUED; s <= PST_OUTBOX_CANCELLED; s++)
    {
      PstOutboxState back;

      assert_true (pst_outbox_state_from_string (pst_outbox_state_to_string (s), &back));
      assert_int_equal (back, s);
    }
  assert_string_equal (pst_outbox_state_to_string (PST_OUTBOX_SENDING), "sending");
  assert_false (pst_outbox_state_from_string ("bogus", NULL));
}

/* A thread holding a writer may make any other call, begin included. */
static void
test_writers_independent (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  const char *rcpts[] = { "b@example.org", NULL };
  g_autoptr (PstStoreWriter) w = NULL;
  g_autoptr (PstStoreWriter) w2 = NULL;
  g_autoptr (PstStoreWriter) q = NULL;
  g_autofree guint8 *data = random_bytes (CHUNK + 10, 21);
  g_autoptr (PstMessageInfo) info = NULL;
  gint64 id, id2, qid, first, queued;

  first = store_message (store, "a", "0", (const guint8 *) "x", 1);
  queued = queue (store, "a", rcpts, (const guint8 *) "y", 1);

  w = pst_store_message_begin (store, "a", "1", &error);
  assert_non_null (w);
  assert_true (pst_store_writer_write (w, data, CHUNK + 10, &error));
  w2 = pst_store_message_begin (store, "a", "2", &error);
  assert_non_null (w2);
  q = pst_store_outbox_begin (store, "a", "a@example.org", rcpts, &error);
  assert_non_null (q);
  assert_true (pst_store_writer_write (q, data, 100, &error));
  assert_true (pst_store_writer_write (w2, data, 5, &error));

  /* Changes on this thread are their own, and stay when the writers go. */
  assert_true (pst_store_message_set_info (store, first, "x", NULL, NULL, NULL, NULL, &error));
  assert_true (pst_store_outbox_set_state (store, queued, PST_OUTBOX_SENDING, NULL, &error));
  assert_true (pst_store_outbox_set_next_try (store, queued, 99, &error));
  assert_null (error);
  /* Reads do not see the writers' rows. */
  assert_int_equal (message_count (store, NULL), 1);
  {
    g_autoptr (GPtrArray) list = pst_store_outbox_list (store, NULL, -1, &error);
    assert_int_equal (list->len, 1);
  }

  assert_true (pst_store_writer_commit (w2, &id2, &error));
  g_clear_pointer (&q, pst_store_writer_free);
  assert_true (pst_store_writer_commit (w, &id, &error));
  assert_null (error);
  g_clear_pointer (&w, pst_store_writer_free);
  g_clear_pointer (&w2, pst_store_writer_free);

  /* Ids are given at begin. */
  assert_true (first < id && id < id2);
  assert_message_bytes (store, id, data, CHUNK + 10);
  assert_message_bytes (store, id2, data, 5);
  assert_int_equal (message_count (store, NULL), 3);
  info = pst_store_message_get_info (store, first, &error);
  assert_string_equal (info->from, "x");
  {
    g_autoptr (PstOutboxEntry) e = get_entry (store, queued);
    g_autoptr (GPtrArray) list = pst_store_outbox_list (store, NULL, -1, &error);

    assert_int_equal (e->state, PST_OUTBOX_SENDING);
    assert_int_equal (e->next_try, 99);
    assert_int_equal (list->len, 1);
  }
  qid = queue (store, "a", rcpts, data, 3);
  assert_true (qid > queued);
}

/* Two writers for one UIDL: both begin, only the first commit wins. */
/* Group commit: several writers in one transaction, all or nothing; a
 * failed group leaves each writer usable, so that they can be committed
 * one by one. */
static void
test_writers_commit_group (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  g_autofree guint8 *data = random_bytes (CHUNK + 700, 41);
  PstStoreWriter *w[3];
  PstMessageInfoUpdate u[2];
  g_autoptr (PstMessageInfo) info = NULL;
  gint64 early = 0, seen_at = 0;
  gboolean seen = FALSE;

  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *uidl = g_strdup_printf ("g%u", i);
      w[i] = pst_store_message_begin (store, "a", uidl, &error);
      assert_non_null (w[i]);
      assert_true (pst_store_writer_write (w[i], data + i, CHUNK + 700 - i, &error));
    }
  assert_true (pst_store_writers_commit (w, 2, &error));
  assert_null (error);
  assert_true (uidl_seen (store, "a", "g0") && uidl_seen (store, "a", "g1"));
  assert_false (uidl_seen (store, "a", "g2"));
  assert_message_bytes (store, pst_store_writer_get_id (w[1]), data + 1, CHUNK + 699);
  assert_true (pst_store_uidl_seen_at (store, "a", "g1", &seen, &seen_at, &error));
  assert_true (seen && seen_at > 0);

  /* A group whose member lost its UIDL to another writer fails whole. */
  {
    PstStoreWriter *other = pst_store_message_begin (store, "a", "g2", &error);
    PstStoreWriter *pair[2];
    PstStoreWriter *w3 = pst_store_message_begin (store, "a", "g3", &error);

    assert_true (pst_store_writer_write (other, data, 10, &error));
    assert_true (pst_store_writer_commit (other, &early, &error));
    pair[0] = w3;
    pair[1] = w[2];
    assert_true (pst_store_writer_write (w3, data, 20, &error));
    assert_false (pst_store_writers_commit (pair, 2, &error));
    assert_error_contains (error, "already has UIDL g2");
    g_clear_error (&error);
    assert_false (uidl_seen (store, "a", "g3"));
    /* One by one: the good one goes in. */
    assert_true (pst_store_writer_commit (w3, NULL, &error));
    assert_message_bytes (store, pst_store_writer_get_id (w3), data, 20);
    pst_store_writer_free (other);
    pst_store_writer_free (w3);
  }
  for (guint i = 0; i < 3; i++)
    pst_store_writer_free (w[i]);

  /* Info of several messages in one transaction. */
  u[0] = (PstMessageInfoUpdate) { early, "A <a@x>", "one", NULL, "{}", "infected", "Eicar", 1, FALSE,
                                  3 };
  u[1] = (PstMessageInfoUpdate) { store_message (store, "a", "g4", data, 5), NULL, "two", NULL,
                                  NULL, NULL, NULL, -1, FALSE, 0 };
  assert_true (pst_store_messages_set_info (store, u, 2, &error));
  info = pst_store_message_get_info (store, early, &error);
  assert_string_equal (info->subject, "one");
  /* The reading that wrote the summary, with it (schema 11). */
  assert_int_equal (info->reader_version, 3);
  g_clear_pointer (&info, pst_message_info_free);
  info = pst_store_message_get_info (store, u[1].id, &error);
  assert_int_equal (info->reader_version, 0);
  g_clear_pointer (&info, pst_message_info_free);
  info = pst_store_message_get_info (store, early, &error);
  assert_string_equal (info->scan_verdict, "infected");
  assert_string_equal (info->scan_name, "Eicar");
  assert_true (info->quarantined);
  g_clear_pointer (&info, pst_message_info_free);
  /* A clean scan coming in later (one that raced the first) does not lift
   * it, nor replace what was found: only a release does. */
  {
    PstMessageInfoUpdate clean = { early, NULL, NULL, NULL, NULL, "clean", NULL, 0, FALSE, 0 };

    assert_true (pst_store_messages_set_info (store, &clean, 1, &error));
    info = pst_store_message_get_info (store, early, &error);
    assert_true (info->quarantined);
    assert_string_equal (info->scan_verdict, "infected");
    assert_string_equal (info->scan_name, "Eicar");
    /* No summary in it: the reading's version stays. */
    assert_int_equal (info->reader_version, 3);
    /* Recorded through record_scan by a reader that saw it unquarantined:
     * what it holds afterwards is the store's, quarantined. */
    info->quarantined = FALSE;
    g_clear_pointer (&info->scan_verdict, g_free);
    g_clear_pointer (&info->scan_name, g_free);
    assert_true (pst_store_message_record_scan (store, info, "clean", NULL, FALSE, &error));
    assert_true (info->quarantined);
    assert_string_equal (info->scan_verdict, "infected");
    assert_string_equal (info->scan_name, "Eicar");
    /* A scan error that quarantines too (a second scan timing out) does
     * not replace what the first found either. */
    assert_true (pst_store_message_record_scan (store, info, "error", "timed out", TRUE, &error));
    assert_true (info->quarantined);
    assert_string_equal (info->scan_verdict, "infected");
    assert_string_equal (info->scan_name, "Eicar");
    g_clear_pointer (&info, pst_message_info_free);
  }
  /* Quarantined messages are listed apart; released, they are back. */
  {
    g_autoptr (GPtrArray) normal = pst_store_message_list (store, "a", 0, &error);
    g_autoptr (GPtrArray) quarantined = pst_store_message_list_full (store, "a", 0, TRUE, &error);

    for (guint i = 0; i < normal->len; i++)
      assert_true (((PstMessageInfo *) normal->pdata[i])->id != early);
    assert_int_equal (quarantined->len, 1);
    assert_int_equal (((PstMessageInfo *) quarantined->pdata[0])->id, early);
  }
  info = pst_store_message_get_info (store, u[1].id, &error);
  assert_string_equal (info->subject, "two");
  /* All or nothing. */
  u[0].subject = "changed";
  u[1].scan_verdict = "dirty";
  assert_false (pst_store_messages_set_info (store, u, 2, &error));
  g_clear_error (&error);
  g_clear_pointer (&info, pst_message_info_free);
  info = pst_store_message_get_info (store, early, &error);
  assert_string_equal (info->subject, "one");
  g_clear_pointer (&info, pst_message_info_free);
  assert_true (pst_store_message_set_quarantined (store, early, FALSE, &error));
  info = pst_store_message_get_info (store, early, &error);
  assert_false (info->quarantined);
  assert_string_equal (info->scan_name, "Eicar");
  g_clear_pointer (&info, pst_message_info_free);
  /* record_scan on a message not quarantined: what it found, and the
   * quarantine, in the store and in the info; malware found after a scan
   * error replaces what the quarantine held. */
  info = pst_store_message_get_info (store, u[1].id, &error);
  assert_true (pst_store_message_record_scan (store, info, "error", "timed out", TRUE, &error));
  assert_true (info->quarantined);
  assert_string_equal (info->scan_verdict, "error");
  assert_true (pst_store_message_record_scan (store, info, "infected", "Test.Sig", TRUE, &error));
  assert_true (info->quarantined);
  assert_string_equal (info->scan_verdict, "infected");
  assert_string_equal (info->scan_name, "Test.Sig");
  g_clear_pointer (&info, pst_message_info_free);
  info = pst_store_message_get_info (store, u[1].id, &error);
  assert_true (info->quarantined);
  assert_string_equal (info->scan_name, "Test.Sig");
  /* Deleting a message keeps its UIDL seen. */
  assert_true (pst_store_message_delete (store, early, &error));
  assert_false (pst_store_message_delete (store, early, &error));
  g_clear_error (&error);
  assert_true (uidl_seen (store, "a", "g2"));
}

static void
test_same_uidl (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  g_autofree guint8 *data = random_bytes (CHUNK + 500, 23);
  PstStoreWriter *w1, *w2;
  gint64 id1 = 0, id2 = 0;
  sqlite3 *db;

  w1 = pst_store_message_begin (store, "a", "dup", &error);
  w2 = pst_store_message_begin (store, "a", "dup", &error);
  assert_non_null (w1);
  assert_non_null (w2);
  assert_null (error);
  assert_true (pst_store_writer_write (w1, data, CHUNK + 500, &error));
  assert_true (pst_store_writer_write (w2, data + 1, CHUNK + 499, &error));
  assert_true (pst_store_writer_commit (w2, &id2, &error));
  assert_false (pst_store_writer_commit (w1, &id1, &error));
  assert_error_contains (error, "already has UIDL dup");
  assert_int_equal (id1, 0);
  g_clear_error (&error);
  /* The loser's row and chunks are gone at once, before free. */
  db = raw_open (f->path);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM messages"), 1);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM message_chunks"), 2);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM seen"), 1);
  sqlite3_close (db);
  pst_store_writer_free (w1);
  pst_store_writer_free (w2);

  assert_int_equal (message_count (store, NULL), 1);
  assert_message_bytes (store, id2, data + 1, CHUNK + 499);
  /* And a third is refused at begin. */
  assert_null (pst_store_message_begin (store, "a", "dup", &error));
  assert_error_contains (error, "already has UIDL dup");
}

/* Another thread's calls, a whole writer included, complete while a writer
 * that has already stored chunks is open: nothing waits for its commit. */
typedef struct {
  PstStore *store;
  gint64 message_id;
  gint64 outbox_id;
  GMutex mutex;
  GCond cond;
  gboolean done;
} Bystander;

static gpointer
bystander_thread (gpointer data)
{
  Bystander *b = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) messages = pst_store_message_list (b->store, NULL, 0, &error);
  g_autoptr (GPtrArray) outbox = NULL;
  g_autoptr (PstMessageInfo) info = NULL;
  g_autoptr (PstStoreWriter) w = NULL;
  g_autoptr (GInputStream) in = NULL;
  gboolean seen = TRUE;
  char buf[16];

  g_assert_no_error (error);
  g_assert_cmpuint (messages->len, ==, 1);
  info = pst_store_message_get_info (b->store, b->message_id, &error);
  g_assert_no_error (error);
  g_assert_true (pst_store_message_set_info (b->store, b->message_id, "Bob", NULL, NULL, NULL,
                                             "clean", &error));
  g_assert_true (pst_store_uidl_seen (b->store, "a", "busy", &seen, &error));
  g_assert_false (seen);
  outbox = pst_store_outbox_list (b->store, NULL, PST_OUTBOX_QUEUED, &error);
  g_assert_cmpuint (outbox->len, ==, 1);
  g_assert_true (pst_store_outbox_set_state (b->store, b->outbox_id, PST_OUTBOX_SENDING, NULL,
                                             &error));
  g_assert_no_error (error);
  in = pst_store_message_open (b->store, b->message_id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_input_stream_read (in, buf, sizeof buf, NULL, &error), ==, 5);

  /* Another account's fetch. */
  w = pst_store_message_begin (b->store, "other", "o1", &error);
  g_assert_no_error (error);
  g_assert_true (pst_store_writer_write (w, (const guint8 *) "other", 5, &error));
  g_assert_true (pst_store_writer_commit (w, NULL, &error));
  g_assert_no_error (error);

  g_mutex_lock (&b->mutex);
  b->done = TRUE;
  g_cond_signal (&b->cond);
  g_mutex_unlock (&b->mutex);
  return NULL;
}

static void
test_writer_does_not_block (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  const char *rcpts[] = { "b@example.org", NULL };
  const gsize len = 2 * CHUNK + 7;
  g_autofree guint8 *data = random_bytes (len + 100, 31);
  Bystander b = { .store = store };
  PstStoreWriter *w;
  GThread *thread;
  gint64 deadline, id;
  gboolean done;
  sqlite3 *db;

  b.message_id = store_message (store, "a", "first", (const guint8 *) "hello", 5);
  b.outbox_id = queue (store, "a", rcpts, (const guint8 *) "abc", 3);
  g_mutex_init (&b.mutex);
  g_cond_init (&b.cond);

  w = pst_store_message_begin (store, "a", "busy", &error);
  assert_non_null (w);
  assert_true (pst_store_writer_write (w, data, len, &error));
  db = raw_open (f->path);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM message_chunks"), 1 + 2);
  sqlite3_close (db);

  /* The writer stays open, untouched, until the thread is done or the
   * deadline passes (which under the old lock it always would). */
  thread = g_thread_new ("bystander", bystander_thread, &b);
  deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  g_mutex_lock (&b.mutex);
  while (!b.done && g_cond_wait_until (&b.cond, &b.mutex, deadline))
    ;
  done = b.done;
  g_mutex_unlock (&b.mutex);
  if (!done)
    fail_msg ("another thread's store calls waited for an open writer");
  g_thread_join (thread);

  assert_true (pst_store_writer_write (w, data + len, 100, &error));
  assert_true (pst_store_writer_commit (w, &id, &error));
  pst_store_writer_free (w);
  assert_message_bytes (store, id, data, len + 100);
  assert_int_equal (message_count (store, NULL), 3);
  {
    g_autoptr (PstOutboxEntry) e = get_entry (store, b.outbox_id);
    g_autoptr (PstMessageInfo) info = pst_store_message_get_info (store, b.message_id, &error);

    assert_int_equal (e->state, PST_OUTBOX_SENDING);
    assert_string_equal (info->from, "Bob");
  }
  g_mutex_clear (&b.mutex);
  g_cond_clear (&b.cond);
}

static void
copy_file (const char *from, const char *to)
{
  g_autofree char *contents = NULL;
  gsize len = 0;

  assert_true (g_file_get_contents (from, &contents, &len, NULL));
  assert_true (g_file_set_contents (to, contents, (gssize) len, NULL));
}

/* A crash in the middle of two writers, taken as a copy of the files made
 * while they were open: after reopening, nothing of them is left. */
static void
test_crash_leftovers (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autofree char *copy = g_build_filename (f->dir, "crashed.db", NULL);
  g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);
  g_autofree char *copy_wal = g_strconcat (copy, "-wal", NULL);
  g_autofree guint8 *data = random_bytes (3 * CHUNK + 5, 37);
  const char *rcpts[] = { "b@example.org", "c@example.org", NULL };
  gint64 keep, queued, id;
  sqlite3 *db;

  {
    g_autoptr (PstStore) store = pst_store_open (f->path, &error);
    g_autoptr (PstStoreWriter) w = NULL;
    g_autoptr (PstStoreWriter) q = NULL;

    keep = store_message (store, "a", "keep", data, 1000);
    queued = queue (store, "a", rcpts, data, 10);
    w = pst_store_message_begin (store, "a", "crash", &error);
    q = pst_store_outbox_begin (store, "a", "me@example.org", rcpts, &error);
    assert_true (pst_store_writer_write (w, data, 3 * CHUNK + 5, &error));
    assert_true (pst_store_writer_write (q, data, CHUNK + 1, &error));
    assert_null (error);

    copy_file (f->path, copy);
    assert_true (g_file_test (wal, G_FILE_TEST_EXISTS));
    copy_file (wal, copy_wal);
  }

  /* The copy holds the unfinished rows and their chunks. */
  db = raw_open (copy);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM messages WHERE unfinished"), 1);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM outbox WHERE unfinished"), 1);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM message_chunks"), 1 + 3);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM outbox_chunks"), 1 + 1);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM outbox_recipients"), 2 + 2);
  sqlite3_close (db);

  {
    g_autoptr (PstStore) store = pst_store_open (copy, &error);
    g_autoptr (GPtrArray) outbox = NULL;

    assert_null (error);
    assert_non_null (store);
    db = raw_open (copy);
    assert_int_equal (raw_int (db, "SELECT count(*) FROM messages"), 1);
    assert_int_equal (raw_int (db, "SELECT count(*) FROM outbox"), 1);
    assert_int_equal (raw_int (db, "SELECT count(*) FROM message_chunks"), 1);
    assert_int_equal (raw_int (db, "SELECT count(*) FROM outbox_chunks"), 1);
    assert_int_equal (raw_int (db, "SELECT count(*) FROM outbox_recipients"), 2);
    sqlite3_close (db);

    assert_int_equal (message_count (store, NULL), 1);
    assert_false (uidl_seen (store, "a", "crash"));
    assert_message_bytes (store, keep, data, 1000);
    outbox = pst_store_outbox_list (store, NULL, -1, &error);
    assert_int_equal (outbox->len, 1);
    assert_int_equal (((PstOutboxEntry *) outbox->pdata[0])->id, queued);
    /* The message is fetched again, as if for the first time. */
    id = store_message (store, "a", "crash", data, 3 * CHUNK + 5);
    assert_message_bytes (store, id, data, 3 * CHUNK + 5);
  }

  /* The original store's writers were freed normally: nothing left either. */
  db = raw_open (f->path);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM messages"), 1);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM outbox"), 1);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM message_chunks"), 1);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM outbox_chunks"), 1);
  sqlite3_close (db);
}

/* Version 1 as it shipped (schema.c step 0), never to be changed here. */
static const char v1_schema[] =
  "CREATE TABLE messages ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  account TEXT NOT NULL,"
  "  uidl TEXT NOT NULL,"
  "  received_at INTEGER NOT NULL,"
  "  size INTEGER NOT NULL DEFAULT 0,"
  "  from_addr TEXT,"
  "  subject TEXT,"
  "  date TEXT,"
  "  crypto_json TEXT,"
  "  scan_verdict TEXT,"
  "  flags INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE INDEX messages_by_account ON messages (account, id DESC);"
  "CREATE TABLE message_chunks ("
  "  id INTEGER PRIMARY KEY,"
  "  message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,"
  "  seq INTEGER NOT NULL,"
  "  data BLOB NOT NULL,"
  "  UNIQUE (message_id, seq)"
  ");"
  "CREATE TABLE seen ("
  "  account TEXT NOT NULL,"
  "  uidl TEXT NOT NULL,"
  "  seen_at INTEGER NOT NULL,"
  "  PRIMARY KEY (account, uidl)"
  ") WITHOUT ROWID;"
  "CREATE TABLE outbox ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  account TEXT NOT NULL,"
  "  reverse_path TEXT NOT NULL,"
  "  state TEXT NOT NULL DEFAULT 'queued',"
  "  attempts INTEGER NOT NULL DEFAULT 0,"
  "  next_try INTEGER NOT NULL DEFAULT 0,"
  "  last_reply TEXT,"
  "  in_doubt INTEGER NOT NULL DEFAULT 0,"
  "  size INTEGER NOT NULL DEFAULT 0,"
  "  created_at INTEGER NOT NULL,"
  "  updated_at INTEGER NOT NULL"
  ");"
  "CREATE INDEX outbox_by_state ON outbox (state, next_try);"
  "CREATE INDEX outbox_by_account ON outbox (account, id);"
  "CREATE TABLE outbox_recipients ("
  "  outbox_id INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,"
  "  pos INTEGER NOT NULL,"
  "  address TEXT NOT NULL,"
  "  PRIMARY KEY (outbox_id, pos)"
  ") WITHOUT ROWID;"
  "CREATE TABLE outbox_chunks ("
  "  id INTEGER PRIMARY KEY,"
  "  outbox_id INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,"
  "  seq INTEGER NOT NULL,"
  "  data BLOB NOT NULL,"
  "  UNIQUE (outbox_id, seq)"
  ");";

/* A message writer marked for delivery, committed alone or in a group. */
static PstStoreWriter *
deliver_writer (PstStore *store, const char *account, const char *uidl)
{
  g_autoptr (GError) error = NULL;
  PstStoreWriter *w = pst_store_message_begin (store, account, uidl, &error);

  assert_non_null (w);
  pst_store_writer_set_deliver (w);
  assert_true (pst_store_writer_write (w, (const guint8 *) "x", 1, &error));
  return w;
}

static char *
delivery_state (PstStore *store, gint64 id)
{
  g_autoptr (GError) error = NULL;
  char *state = NULL;

  assert_true (pst_store_delivery_state (store, id, &state, &error));
  return state;
}

static void
test_deliveries (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  g_autoptr (GArray) pending = NULL;
  g_autofree char *token = NULL, *token2 = NULL, *other_path = NULL, *other_token = NULL;
  g_autofree char *s1 = NULL, *s2 = NULL, *s3 = NULL;
  PstStoreWriter *group[2];
  PstStoreWriter *dropped;
  gint64 plain, alone, id1, id2;

  assert_non_null (store);
  plain = store_message (store, "a", "plain", (const guint8 *) "p", 1);
  {
    g_autoptr (PstStoreWriter) w = deliver_writer (store, "a", "alone");
    assert_true (pst_store_writer_commit (w, &alone, &error));
  }
  group[0] = deliver_writer (store, "a", "g1");
  group[1] = deliver_writer (store, "a", "g2");
  assert_true (pst_store_writers_commit (group, 2, &error));
  id1 = pst_store_writer_get_id (group[0]);
  id2 = pst_store_writer_get_id (group[1]);
  pst_store_writer_free (group[0]);
  pst_store_writer_free (group[1]);
  /* Never committed: no row, no pending delivery. */
  dropped = deliver_writer (store, "a", "dropped");
  pst_store_writer_free (dropped);
  {
    g_autoptr (PstStoreWriter) w = deliver_writer (store, "b", "other account");
    assert_true (pst_store_writer_commit (w, NULL, &error));
  }

  s1 = delivery_state (store, plain);
  assert_null (s1);
  pending = pst_store_deliveries_pending (store, "a", &error);
  assert_non_null (pending);
  assert_int_equal (pending->len, 3);
  assert_int_equal (g_array_index (pending, PstDelivery, 0).id, alone);
  assert_int_equal (g_array_index (pending, PstDelivery, 1).id, id1);
  assert_int_equal (g_array_index (pending, PstDelivery, 2).id, id2);
  assert_true (g_array_index (pending, PstDelivery, 0).received_at > 0);
  g_clear_pointer (&pending, g_array_unref);

  /* Quarantined: held back until released. */
  assert_true (pst_store_message_set_quarantined (store, id1, TRUE, &error));
  assert_true (pst_store_delivery_done (store, alone, &error));
  pending = pst_store_deliveries_pending (store, "a", &error);
  assert_int_equal (pending->len, 1);
  assert_int_equal (g_array_index (pending, PstDelivery, 0).id, id2);
  g_clear_pointer (&pending, g_array_unref);
  assert_true (pst_store_message_set_quarantined (store, id1, FALSE, &error));
  pending = pst_store_deliveries_pending (store, "a", &error);
  assert_int_equal (pending->len, 2);
  g_clear_pointer (&pending, g_array_unref);

  s2 = delivery_state (store, alone);
  assert_string_equal (s2, "done");
  /* Done twice, or for a message deleted meanwhile: no error. */
  assert_true (pst_store_delivery_done (store, alone, &error));
  assert_true (pst_store_message_delete (store, id2, &error));
  assert_true (pst_store_delivery_done (store, id2, &error));
  s3 = delivery_state (store, id2);
  assert_null (s3);
  pending = pst_store_deliveries_pending (store, "a", &error);
  assert_int_equal (pending->len, 1);
  assert_int_equal (g_array_index (pending, PstDelivery, 0).id, id1);

  /* The token: 16 hex digits, the same after a reopen, another store's
   * another. */
  token = pst_store_delivery_token (store, &error);
  assert_non_null (token);
  assert_int_equal (strlen (token), 16);
  for (const char *p = token; *p; p++)
    assert_true (g_ascii_isxdigit (*p));
  g_clear_pointer (&store, pst_store_free);
  store = pst_store_open (f->path, &error);
  token2 = pst_store_delivery_token (store, &error);
  assert_string_equal (token, token2);
  other_path = g_build_filename (f->dir, "other.db", NULL);
  {
    g_autoptr (PstStore) other = pst_store_open (other_path, &error);
    assert_non_null (other);
    other_token = pst_store_delivery_token (other, &error);
  }
  assert_string_not_equal (token, other_token);
}

/* A new store has pages of 16 KiB (fewer system calls for a message's
 * chunks); one made with SQLite's default 4 KiB, in WAL mode or in the
 * default rollback journal, keeps them (page_size changes only an empty
 * database), and the message written there reads back. */
static void
test_page_size (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  const gsize len = CHUNK + 77;
  g_autofree guint8 *data = random_bytes (len, 5);
  sqlite3 *db;

  {
    g_autoptr (PstStore) store = pst_store_open (f->path, &error);

    assert_non_null (store);
    assert_message_bytes (store, store_message (store, "a", "new", data, len), data, len);
  }
  db = raw_open (f->path);
  assert_int_equal (raw_int (db, "PRAGMA page_size"), 16384);
  sqlite3_close (db);

  for (int wal = 0; wal < 2; wal++)
    {
      g_autofree char *old_path = g_build_filename (f->dir, wal ? "old-wal.db" : "old.db", NULL);

      db = raw_open (old_path);
      raw_exec (db, "PRAGMA page_size = 4096");
      if (wal)
        raw_exec (db, "PRAGMA journal_mode = WAL");
      raw_exec (db, "CREATE TABLE t (x)");
      sqlite3_close (db);
      {
        g_autoptr (PstStore) store = pst_store_open (old_path, &error);

        assert_null (error);
        assert_non_null (store);
        assert_message_bytes (store, store_message (store, "a", "old", data, len), data, len);
      }
      db = raw_open (old_path);
      assert_int_equal (raw_int (db, "PRAGMA page_size"), 4096);
      sqlite3_close (db);
    }
}

static void
test_migrate_v1 (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = NULL;
  g_autoptr (PstMessageInfo) info = NULL;
  g_autoptr (PstOutboxEntry) e = NULL;
  g_autoptr (GInputStream) in = NULL;
  g_autoptr (GByteArray) got = NULL;
  sqlite3 *db = raw_open (f->path);
  gint64 id;

  raw_exec (db, "PRAGMA journal_mode = WAL");
  raw_exec (db, v1_schema);
  raw_exec (db, "PRAGMA user_version = 1");
  raw_exec (db,
            "INSERT INTO messages (account, uidl, received_at, size, subject)"
            "  VALUES ('a', 'old', 1000, 5, 'Old');"
            "INSERT INTO message_chunks (message_id, seq, data) VALUES (1, 0, x'68656c6c6f');"
            "INSERT INTO seen (account, uidl, seen_at) VALUES ('a', 'old', 1000);"
            "INSERT INTO outbox (account, reverse_path, created_at, updated_at, size, state)"
            "  VALUES ('a', 'me@example.org', 1000, 1000, 3, 'failed');"
            "INSERT INTO outbox_recipients (outbox_id, pos, address)"
            "  VALUES (1, 0, 'b@example.org');"
            "INSERT INTO outbox_chunks (outbox_id, seq, data) VALUES (1, 0, x'616263');");
  sqlite3_close (db);

  store = pst_store_open (f->path, &error);
  assert_null (error);
  assert_non_null (store);

  db = raw_open (f->path);
  assert_int_equal (pst_store_schema_latest (), 11);
  assert_int_equal (raw_int (db, "PRAGMA user_version"), 11);
  /* The entry queued before has no message group: it counts alone. */
  assert_int_equal (raw_int (db, "SELECT count(*) FROM outbox WHERE message IS NULL"), 1);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                                 " AND name = 'messages_seal_pending'"), 1);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM sqlite_master WHERE name IN"
                                 " ('deliveries', 'store_info')"), 2);
  /* Mail stored before deliveries existed is never delivered. */
  assert_int_equal (raw_int (db, "SELECT count(*) FROM deliveries"), 0);
  assert_int_equal (raw_int (db, "SELECT length(value) FROM store_info WHERE key = 'delivery_token'"),
                    16);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM sqlite_master WHERE name IN"
                                 " ('key_sources', 'key_bindings', 'key_changes', 'autocrypt_peers')"), 4);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM pragma_table_info('outbox')"
                                 " WHERE name IN ('eight_bit', 'utf8_headers')"), 2);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM pragma_table_info('messages')"
                                 " WHERE name IN ('unfinished', 'scan_name', 'quarantined')"), 3);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM messages WHERE unfinished"), 0);
  sqlite3_close (db);

  /* The old rows read as before. */
  assert_int_equal (message_count (store, NULL), 1);
  assert_true (uidl_seen (store, "a", "old"));
  info = pst_store_message_get_info (store, 1, &error);
  assert_null (error);
  assert_string_equal (info->uidl, "old");
  assert_string_equal (info->subject, "Old");
  assert_int_equal (info->size, 5);
  assert_false (info->quarantined);
  assert_null (info->scan_name);
  assert_message_bytes (store, 1, (const guint8 *) "hello", 5);
  e = get_entry (store, 1);
  assert_int_equal (e->state, PST_OUTBOX_FAILED);
  assert_string_equal (e->recipients[0], "b@example.org");
  /* Queued before the 8-bit facts were recorded: not known. */
  assert_int_equal (e->eight_bit, -1);
  assert_int_equal (e->utf8_headers, -1);
  in = pst_store_outbox_open (store, 1, &error);
  got = read_all_odd (in);
  assert_int_equal (got->len, 3);
  assert_memory_equal (got->data, "abc", 3);
  assert_true (pst_store_outbox_set_state (store, 1, PST_OUTBOX_QUEUED, NULL, &error));

  /* And new ones follow. */
  assert_null (pst_store_message_begin (store, "a", "old", &error));
  assert_error_contains (error, "already has UIDL old");
  g_clear_error (&error);
  id = store_message (store, "a", "new", (const guint8 *) "new", 3);
  assert_true (id > 1);
  assert_int_equal (message_count (store, NULL), 2);
}


/* A message with header @header (its own line ends) and a short body. */
static gint64
store_mail (PstStore *store, const char *uidl, const char *header)
{
  g_autofree char *text = g_strdup_printf ("%sSubject: %s\r\n\r\nbody of %s\r\n", header, uidl, uidl);

  return store_message (store, "a", uidl, (const guint8 *) text, strlen (text));
}

static gint64
thread_of (PstStore *store, gint64 id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstMessageInfo) info = pst_store_message_get_info (store, id, &error);

  assert_non_null (info);
  return info->thread;
}

/* A store made at version 1 (as it shipped) and migrated to the latest,
 * then taken back to @version by @sql (which undoes the later steps):
 * the steps after it run as they would have then.  Returns it opened raw. */
static sqlite3 *
store_back_at (Fixture *f, int version, const char *sql)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *set = g_strdup_printf ("PRAGMA user_version = %d", version);
  sqlite3 *db = raw_open (f->path);

  raw_exec (db, "PRAGMA journal_mode = WAL");
  raw_exec (db, v1_schema);
  raw_exec (db, "PRAGMA user_version = 1");
  sqlite3_close (db);
  {
    g_autoptr (PstStore) latest = pst_store_open (f->path, &error);
    assert_non_null (latest);
  }
  db = raw_open (f->path);
  raw_exec (db, set);
  raw_exec (db, sql);
  return db;
}

/* Schema 6 → 7: the mail stored before is read, and threaded from the
 * headers of its stored bytes when the store opens. */
static void
test_migrate_v6_threads (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = NULL;
  g_autoptr (GPtrArray) unread = NULL;
  PstMessageQuery q = { .unread = TRUE };
  sqlite3 *db;
  gint64 id;

  db = store_back_at (f, 6, "ALTER TABLE messages DROP COLUMN reader_version;"
                            "ALTER TABLE outbox DROP COLUMN message;"
                            "DROP INDEX messages_seal_pending;"
                            "DROP INDEX messages_unread; DROP INDEX messages_unread_by_account;"
                            "DROP INDEX messages_by_thread;"
                            "DROP TABLE thread_ids;"
                            "DROP INDEX drafts_by_account; DROP TABLE drafts;"
                            "ALTER TABLE messages DROP COLUMN unread;"
                            "ALTER TABLE messages DROP COLUMN thread;");
  /* A reply stored before its parent, the parent, an unrelated message,
   * and one whose bytes are no header at all. */
  raw_exec (db,
            "INSERT INTO messages (account, uidl, received_at) VALUES"
            " ('a', 'reply', 1), ('a', 'root', 2), ('a', 'other', 3), ('a', 'junk', 4);"
            "INSERT INTO message_chunks (message_id, seq, data) VALUES"
            " (1, 0, CAST ('Message-ID: <r2@x>' || char(13, 10) || 'In-Reply-To:' || char(13, 10)"
            "  || ' <r1@x>' || char(13, 10) || char(13, 10) || 'b' AS BLOB)),"
            " (2, 0, CAST ('From: a@x' || char(10) || 'message-id: <r1@x>' || char(10, 10) AS BLOB)),"
            " (3, 0, CAST ('Message-ID: <o@x>' || char(10, 10) || 'References: <r1@x>' AS BLOB)),"
            " (4, 0, x'00ff3c723140783e');");
  sqlite3_close (db);

  store = pst_store_open (f->path, &error);
  assert_null (error);
  db = raw_open (f->path);
  assert_int_equal (raw_int (db, "PRAGMA user_version"), pst_store_schema_latest ());
  assert_int_equal (raw_int (db, "SELECT count(*) FROM messages WHERE unread OR thread IS NULL"), 0);
  sqlite3_close (db);
  /* Read, all of them; threaded: reply and root together, under the
   * lowest id; a References in the body is no header. */
  unread = pst_store_message_page (store, &q, &error);
  assert_int_equal (unread->len, 0);
  assert_int_equal (thread_of (store, 1), 1);
  assert_int_equal (thread_of (store, 2), 1);
  assert_int_equal (thread_of (store, 3), 3);
  assert_int_equal (thread_of (store, 4), 4);
  /* A new message is unread and joins the old thread by its References. */
  id = store_mail (store, "new", "References: <r1@x> <r2@x>\r\n");
  assert_int_equal (thread_of (store, id), 1);
  g_clear_pointer (&unread, g_ptr_array_unref);
  unread = pst_store_message_page (store, &q, &error);
  assert_int_equal (unread->len, 1);
}

/* Whether file @path holds the bytes @needle anywhere (a missing file
 * holds nothing). */
static gboolean
file_holds (const char *path, const char *needle)
{
  g_autofree char *data = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &data, &len, NULL))
    return FALSE;
  return memmem (data, len, needle, strlen (needle)) != NULL;
}

static GBytes *
bytes_of (const char *text)
{
  return g_bytes_new (text, strlen (text));
}

/* Schema 7 → 8: the drafts table comes, the mail stays; then drafts are
 * saved, replaced, listed by account, and deleted with their bytes gone
 * from the file and the log. */
static void
test_migrate_v7_drafts (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = NULL;
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (PstDraft) d = NULL;
  g_autoptr (GBytes) one = bytes_of ("SEALED-ONE-a1b2c3"), two = bytes_of ("SEALED-TWO-d4e5f6");
  g_autoptr (GBytes) other = bytes_of ("SEALED-OTHER-g7h8");
  g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);
  sqlite3 *db;
  gint64 id, id2;

  /* Back to version 7, with a message in it. */
  db = store_back_at (f, 7, "ALTER TABLE messages DROP COLUMN reader_version;"
                            "ALTER TABLE outbox DROP COLUMN message;"
                            "DROP INDEX messages_seal_pending;"
                            "DROP INDEX drafts_by_account; DROP TABLE drafts;"
                            "INSERT INTO messages (account, uidl, received_at) VALUES ('a', 'kept', 1);");
  sqlite3_close (db);

  store = pst_store_open (f->path, &error);
  assert_null (error);
  db = raw_open (f->path);
  assert_int_equal (raw_int (db, "PRAGMA user_version"), pst_store_schema_latest ());
  assert_int_equal (raw_int (db, "SELECT count(*) FROM drafts"), 0);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM messages WHERE uidl = 'kept'"), 1);
  /* Schema 11: its summary's reading is not known (NULL), so it is read
   * again rather than trusted (agent/open.c). */
  assert_int_equal (raw_int (db, "SELECT count(*) FROM messages WHERE uidl = 'kept'"
                                 " AND reader_version IS NULL"), 1);
  sqlite3_close (db);

  id = pst_store_draft_save (store, 0, "a", one, &error);
  assert_true (id > 0);
  id2 = pst_store_draft_save (store, 0, "b", other, &error);
  assert_true (id2 > id);
  /* Replaced in place: the same number, the new bytes. */
  assert_int_equal (pst_store_draft_save (store, id, "a", two, &error), id);
  d = pst_store_draft_get (store, id, &error);
  assert_non_null (d);
  assert_string_equal (d->account, "a");
  assert_true (g_bytes_equal (d->sealed, two));
  assert_true (d->updated_at >= d->created_at && d->created_at > 0);
  list = pst_store_draft_list (store, "a", &error);
  assert_int_equal (list->len, 1);
  g_clear_pointer (&list, g_ptr_array_unref);
  list = pst_store_draft_list (store, NULL, &error);
  assert_int_equal (list->len, 2);

  /* No such draft: an error, nothing changed or made. */
  assert_int_equal (pst_store_draft_save (store, 9999, "a", one, &error), 0);
  assert_error_contains (error, "no draft 9999");
  g_clear_error (&error);
  assert_null (pst_store_draft_get (store, 9999, &error));
  assert_error_contains (error, "no draft 9999");
  g_clear_error (&error);
  assert_false (pst_store_draft_delete (store, 9999, &error));
  assert_error_contains (error, "no draft 9999");
  g_clear_error (&error);

  assert_true (pst_store_draft_delete (store, id, &error));
  assert_null (pst_store_draft_get (store, id, &error));
  g_clear_error (&error);
  /* Gone for good: neither its bytes nor those it replaced are left in the
   * file or the log. */
  assert_false (file_holds (f->path, "SEALED-TWO-d4e5f6"));
  assert_false (file_holds (wal, "SEALED-TWO-d4e5f6"));
  assert_false (file_holds (f->path, "SEALED-ONE-a1b2c3"));
  assert_false (file_holds (wal, "SEALED-ONE-a1b2c3"));
  assert_true (file_holds (f->path, "SEALED-OTHER-g7h8") || file_holds (wal, "SEALED-OTHER-g7h8"));
}

/* Read state, threads out of order, and deletion all or none. */
static void
test_read_state (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  g_autoptr (GPtrArray) list = NULL;
  g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);
  PstMessageQuery q = { .unread = TRUE };
  gint64 ids[5], a, b, bridge, both[2], bad[2];
  GStatBuf st;
  sqlite3 *db;

  /* A thread of five stored newest first: each names all before it. */
  for (int i = 4; i >= 0; i--)
    {
      g_autoptr (GString) h = g_string_new (NULL);
      g_autofree char *uidl = g_strdup_printf ("t%d", i);

      g_string_append_printf (h, "Message-ID: <t%d@x>\r\n", i);
      if (i > 0)
        {
          g_string_append_printf (h, "In-Reply-To: <t%d@x>\r\nReferences:", i - 1);
          for (int j = 0; j < i; j++)
            g_string_append_printf (h, "\r\n <t%d@x>", j);
          g_string_append (h, "\r\n");
        }
      ids[i] = store_mail (store, uidl, h->str);
    }
  for (int i = 0; i < 5; i++)
    assert_int_equal (thread_of (store, ids[i]), ids[4]);
  /* Two threads, then one that names both: merged. */
  a = store_mail (store, "a", "Message-ID: <a@x>\r\n");
  b = store_mail (store, "b", "Message-ID: <b@x>\r\n");
  assert_int_equal (thread_of (store, a), a);
  assert_int_equal (thread_of (store, b), b);
  bridge = store_mail (store, "ab", "Message-ID: <ab@x>\r\nReferences: <b@x> <a@x>\r\n");
  assert_int_equal (thread_of (store, b), a);
  assert_int_equal (thread_of (store, bridge), a);

  /* New messages are unread; mark changes that, all or none. */
  list = pst_store_message_page (store, &q, &error);
  assert_int_equal (list->len, 8);
  g_clear_pointer (&list, g_ptr_array_unref);
  assert_true (pst_store_messages_mark (store, ids, 5, FALSE, &error));
  bad[0] = a;
  bad[1] = 999;
  assert_false (pst_store_messages_mark (store, bad, 2, FALSE, &error));
  assert_error_contains (error, "no message with id 999");
  g_clear_error (&error);
  list = pst_store_message_page (store, &q, &error);
  assert_int_equal (list->len, 3);
  g_clear_pointer (&list, g_ptr_array_unref);
  assert_true (pst_store_messages_mark (store, &ids[2], 1, TRUE, &error));
  list = pst_store_message_page (store, &q, &error);
  assert_int_equal (list->len, 4);
  assert_true (((PstMessageInfo *) list->pdata[3])->unread);
  g_clear_pointer (&list, g_ptr_array_unref);

  /* Delete: an unknown id deletes nothing. */
  bad[0] = ids[0];
  assert_false (pst_store_messages_delete (store, bad, 2, &error));
  assert_error_contains (error, "no message with id 999");
  g_clear_error (&error);
  assert_int_equal (message_count (store, NULL), 8);
  /* The thread's lowest id goes: the thread is named by the next one. */
  assert_true (pst_store_messages_delete (store, &ids[4], 1, &error));
  assert_int_equal (thread_of (store, ids[0]), ids[3]);
  assert_true (uidl_seen (store, "a", "t4"));
  /* A thread is named by its first message a list shows. */
  assert_true (pst_store_message_set_quarantined (store, ids[3], TRUE, &error));
  assert_int_equal (thread_of (store, ids[0]), ids[2]);
  assert_true (pst_store_message_set_quarantined (store, ids[3], FALSE, &error));
  /* The whole of a thread goes: its Message-IDs too. */
  both[0] = a;
  both[1] = b;
  assert_true (pst_store_messages_delete (store, both, 2, &error));
  assert_true (pst_store_message_delete (store, bridge, &error));
  db = raw_open (f->path);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM thread_ids WHERE msgid IN"
                                 " ('<a@x>', '<b@x>', '<ab@x>')"), 0);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM thread_ids WHERE msgid = '<t4@x>'"), 1);
  sqlite3_close (db);
  /* The log was emptied. */
  assert_int_equal (g_stat (wal, &st), 0);
  assert_int_equal (st.st_size, 0);
  assert_int_equal (message_count (store, NULL), 4);
}

/* Where keys came from, which key an address has, and what it replaced
 * (DESIGN.md §14). */
static void
test_key_records (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  g_autofree char *fpr = NULL, *replaces = NULL, *replaced = NULL;
  PstKeyRecord rec;
  gboolean changed = TRUE;

  assert_non_null (store);
  /* Unknown: no record, no binding, no error. */
  assert_false (pst_store_key_record (store, "pgp", "AAAA", &rec, &error));
  assert_null (error);
  assert_null (pst_store_key_binding (store, "pgp", "bob@example.org", NULL, &error));
  assert_null (error);

  /* First sighting, by Autocrypt, of an address the keyring knew nothing of. */
  assert_true (pst_store_key_learn (store, "pgp", "Bob@Example.org", "AAAA",
                                    PST_KEY_SOURCE_AUTOCRYPT, NULL, 100, &changed, &error));
  assert_false (changed);
  assert_true (pst_store_key_record (store, "pgp", "AAAA", &rec, &error));
  assert_int_equal (rec.source, PST_KEY_SOURCE_AUTOCRYPT);
  assert_int_equal (rec.first_seen, 100);
  fpr = pst_store_key_binding (store, "pgp", "bob@example.ORG", &replaces, &error);
  assert_string_equal (fpr, "AAAA");
  assert_null (replaces);
  g_clear_pointer (&fpr, g_free);

  /* Seen again later: last_seen moves, nothing changed. */
  assert_true (pst_store_key_learn (store, "pgp", "bob@example.org", "AAAA",
                                    PST_KEY_SOURCE_AUTOCRYPT, NULL, 200, &changed, &error));
  assert_false (changed);
  assert_true (pst_store_key_record (store, "pgp", "AAAA", &rec, &error));
  assert_int_equal (rec.first_seen, 100);
  assert_int_equal (rec.last_seen, 200);

  /* Another key by discovery: recorded as replacing the first. */
  assert_true (pst_store_key_learn (store, "pgp", "bob@example.org", "BBBB",
                                    PST_KEY_SOURCE_GOSSIP, NULL, 300, &changed, &error));
  assert_true (changed);
  fpr = pst_store_key_binding (store, "pgp", "bob@example.org", &replaces, &error);
  assert_string_equal (fpr, "BBBB");
  assert_string_equal (replaces, "AAAA");
  g_clear_pointer (&fpr, g_free);
  g_clear_pointer (&replaces, g_free);
  replaced = pst_store_key_replaced (store, "pgp", "BBBB", &error);
  assert_string_equal (replaced, "AAAA");
  g_clear_pointer (&replaced, g_free);
  /* Seeing it again by discovery keeps the warning. */
  assert_true (pst_store_key_learn (store, "pgp", "bob@example.org", "BBBB",
                                    PST_KEY_SOURCE_AUTOCRYPT, NULL, 400, &changed, &error));
  assert_false (changed);
  replaced = pst_store_key_replaced (store, "pgp", "BBBB", &error);
  assert_string_equal (replaced, "AAAA");
  g_clear_pointer (&replaced, g_free);
  /* The gossip source stays: discovery never overrides discovery's first word. */
  assert_true (pst_store_key_record (store, "pgp", "BBBB", &rec, &error));
  assert_int_equal (rec.source, PST_KEY_SOURCE_GOSSIP);

  /* The user imports it: the source is explicit now, and the change vouched for. */
  assert_true (pst_store_key_learn (store, "pgp", "bob@example.org", "BBBB",
                                    PST_KEY_SOURCE_IMPORTED, NULL, 500, &changed, &error));
  assert_false (changed);
  assert_true (pst_store_key_record (store, "pgp", "BBBB", &rec, &error));
  assert_int_equal (rec.source, PST_KEY_SOURCE_IMPORTED);
  assert_null (pst_store_key_replaced (store, "pgp", "BBBB", &error));
  assert_null (error);
  /* And a later discovery does not take the explicit source back. */
  assert_true (pst_store_key_learn (store, "pgp", "bob@example.org", "BBBB",
                                    PST_KEY_SOURCE_WKD, NULL, 600, &changed, &error));
  assert_true (pst_store_key_record (store, "pgp", "BBBB", &rec, &error));
  assert_int_equal (rec.source, PST_KEY_SOURCE_IMPORTED);

  /* No binding yet, but the keyring had another key for the address. */
  assert_true (pst_store_key_learn (store, "pgp", "carol@example.org", "CCCC",
                                    PST_KEY_SOURCE_AUTOCRYPT, "DDDD", 700, &changed, &error));
  assert_true (changed);
  replaced = pst_store_key_replaced (store, "pgp", "CCCC", &error);
  assert_string_equal (replaced, "DDDD");
  g_clear_pointer (&replaced, g_free);
  /* Schemes are apart. */
  assert_null (pst_store_key_binding (store, "smime", "carol@example.org", NULL, &error));

  /* … and the keyring's key (no source recorded: the user's) stays the one used. */
  fpr = pst_store_key_binding (store, "pgp", "carol@example.org", &replaces, &error);
  assert_string_equal (fpr, "DDDD");
  assert_null (replaces);
  g_clear_pointer (&fpr, g_free);

  /* Forgetting a key removes its record, bindings and changes. */
  assert_true (pst_store_key_forget (store, "pgp", "CCCC", &error));
  assert_false (pst_store_key_record (store, "pgp", "CCCC", &rec, &error));
  assert_null (pst_store_key_replaced (store, "pgp", "CCCC", &error));
  assert_null (error);

  /* A key the user imported stays the one used when a discovered one
   * comes for the address; the newcomer is flagged. */
  assert_true (pst_store_key_learn (store, "pgp", "dave@example.org", "EEEE",
                                    PST_KEY_SOURCE_IMPORTED, NULL, 800, &changed, &error));
  assert_true (pst_store_key_learn (store, "pgp", "dave@example.org", "FFFF",
                                    PST_KEY_SOURCE_AUTOCRYPT, NULL, 810, &changed, &error));
  assert_true (changed);
  fpr = pst_store_key_binding (store, "pgp", "dave@example.org", NULL, &error);
  assert_string_equal (fpr, "EEEE");
  g_clear_pointer (&fpr, g_free);
  replaced = pst_store_key_replaced (store, "pgp", "FFFF", &error);
  assert_string_equal (replaced, "EEEE");
  g_clear_pointer (&replaced, g_free);

  /* Sending the old key again does not take the flag off the newcomer. */
  assert_true (pst_store_key_learn (store, "pgp", "erin@example.org", "A1A1",
                                    PST_KEY_SOURCE_AUTOCRYPT, NULL, 900, &changed, &error));
  assert_true (pst_store_key_learn (store, "pgp", "erin@example.org", "B2B2",
                                    PST_KEY_SOURCE_AUTOCRYPT, NULL, 910, &changed, &error));
  assert_true (changed);
  assert_true (pst_store_key_learn (store, "pgp", "erin@example.org", "A1A1",
                                    PST_KEY_SOURCE_AUTOCRYPT, NULL, 920, &changed, &error));
  assert_false (changed);
  fpr = pst_store_key_binding (store, "pgp", "erin@example.org", &replaces, &error);
  assert_string_equal (fpr, "A1A1");
  assert_null (replaces);
  g_clear_pointer (&fpr, g_free);
  replaced = pst_store_key_replaced (store, "pgp", "B2B2", &error);
  assert_string_equal (replaced, "A1A1");
  g_clear_pointer (&replaced, g_free);
  assert_null (pst_store_key_replaced (store, "pgp", "A1A1", &error));
  /* Seeing a key the user imported by discovery is no change either. */
  assert_true (pst_store_key_learn (store, "pgp", "erin@example.org", "EEEE",
                                    PST_KEY_SOURCE_AUTOCRYPT, NULL, 930, &changed, &error));
  assert_false (changed);
  assert_null (error);
}

static void
test_autocrypt_peers (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  g_autoptr (PstAutocryptPeer) got = NULL;
  PstAutocryptPeer peer = {
    .addr = (char *) "Alice@Example.org", .last_seen = 10, .autocrypt_timestamp = 9,
    .fingerprint = (char *) "AAAA", .mutual = TRUE, .gossip_timestamp = 0,
  };

  assert_non_null (store);
  assert_null (pst_store_peer_get (store, "alice@example.org", &error));
  assert_null (error);
  peer.keydata = g_bytes_new_static ("\x99\x00key", 5);
  assert_true (pst_store_peer_put (store, &peer, &error));
  got = pst_store_peer_get (store, "ALICE@example.org", &error);
  assert_non_null (got);
  assert_string_equal (got->addr, "alice@example.org");
  assert_int_equal (got->last_seen, 10);
  assert_int_equal (got->autocrypt_timestamp, 9);
  assert_string_equal (got->fingerprint, "AAAA");
  assert_true (g_bytes_equal (got->keydata, peer.keydata));
  assert_true (got->mutual);
  assert_null (got->gossip_fingerprint);
  assert_null (got->gossip_keydata);
  g_bytes_unref (peer.keydata);
}

typedef struct {
  PstStore *store;
  const char *account;
  int n;
} ThreadArgs;

#define PER_THREAD 12

static gsize
thread_msg_len (int i)
{
  return 1000 + (gsize) i * 37000;
}

static gpointer
writer_thread (gpointer data)
{
  ThreadArgs *args = data;

  for (int i = 0; i < args->n; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *uidl = g_strdup_printf ("%s-%d", args->account, i);
      gsize len = thread_msg_len (i);
      g_autofree guint8 *body = random_bytes (len, g_str_hash (uidl));
      g_autoptr (PstStoreWriter) w = pst_store_message_begin (args->store, args->account, uidl,
                                                              &error);
      gsize off = 0;

      g_assert_no_error (error);
      while (off < len)
        {
          gsize n = MIN (len - off, 50000);

          g_assert_true (pst_store_writer_write (w, body + off, n, &error));
          off += n;
          g_thread_yield ();
        }
      g_assert_true (pst_store_writer_commit (w, NULL, &error));
      g_assert_no_error (error);
      /* Reads between writes, from the same connection. */
      {
        g_autoptr (GPtrArray) list = pst_store_message_list (args->store, args->account, 0,
                                                             &error);
        g_assert_no_error (error);
        g_assert_cmpuint (list->len, ==, (guint) i + 1);
      }
    }
  return NULL;
}

static void
test_threads (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  ThreadArgs a = { store, "alpha", PER_THREAD };
  ThreadArgs b = { store, "beta", PER_THREAD };
  const char *rcpts[] = { "x@example.org", NULL };
  g_autoptr (GPtrArray) list = NULL;
  GThread *ta, *tb;

  ta = g_thread_new ("store-a", writer_thread, &a);
  tb = g_thread_new ("store-b", writer_thread, &b);
  /* The main thread queues outbox entries meanwhile. */
  for (int i = 0; i < 5; i++)
    queue (store, "gamma", rcpts, (const guint8 *) "abc", 3);
  g_thread_join (ta);
  g_thread_join (tb);

  list = pst_store_message_list (store, NULL, 0, &error);
  assert_int_equal (list->len, 2 * PER_THREAD);
  for (guint i = 0; i < list->len; i++)
    {
      PstMessageInfo *info = list->pdata[i];
      int n = atoi (strrchr (info->uidl, '-') + 1);
      gsize len = thread_msg_len (n);
      g_autofree guint8 *body = random_bytes (len, g_str_hash (info->uidl));

      assert_int_equal (info->size, len);
      assert_message_bytes (store, info->id, body, len);
      assert_true (uidl_seen (store, info->account, info->uidl));
    }
  g_clear_pointer (&list, g_ptr_array_unref);
  list = pst_store_outbox_list (store, "gamma", -1, &error);
  assert_int_equal (list->len, 5);
}

static void
test_disk_full (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  g_autofree guint8 *data = random_bytes (4 * CHUNK, 11);
  const char *rcpts[] = { "x@example.org", NULL };
  PstStoreWriter *w;
  gboolean ok = TRUE;
  gint64 keep, id;
  sqlite3 *db;

  keep = store_message (store, "a", "keep", data, 1000);
  /* Room for half a chunk more than the store holds (with 16 KiB pages an
   * empty store is 512 KiB, more than a fixed limit of 256 KiB: the limit
   * would only have kept it from growing at all). */
  db = raw_open (f->path);
  assert_true (pst_store_set_size_limit (store, (gint64) raw_int (db, "PRAGMA page_count")
                                                  * raw_int (db, "PRAGMA page_size") + CHUNK / 2, &error));
  sqlite3_close (db);

  /* Full during write(). */
  w = pst_store_message_begin (store, "a", "big", &error);
  assert_non_null (w);
  for (int i = 0; i < 4 && ok; i++)
    ok = pst_store_writer_write (w, data + i * CHUNK, CHUNK, &error);
  assert_false (ok);
  assert_error_contains (error, "full");
  g_clear_error (&error);
  /* Nothing of the writer is left, even before free. */
  db = raw_open (f->path);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM messages"), 1);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM message_chunks"), 1);
  assert_false (pst_store_writer_commit (w, NULL, &error));
  g_clear_error (&error);
  pst_store_writer_free (w);
  assert_int_equal (message_count (store, NULL), 1);
  assert_false (uidl_seen (store, "a", "big"));

  /* Full at commit(): the last chunk is written then. */
  w = pst_store_outbox_begin (store, "a", "me@example.org", rcpts, &error);
  assert_non_null (w);
  assert_true (pst_store_writer_write (w, data, CHUNK - 1, &error));
  assert_false (pst_store_writer_commit (w, &id, &error));
  assert_error_contains (error, "full");
  g_clear_error (&error);
  pst_store_writer_free (w);
  {
    g_autoptr (GPtrArray) list = pst_store_outbox_list (store, NULL, -1, &error);
    assert_int_equal (list->len, 0);
  }
  assert_int_equal (raw_int (db, "SELECT count(*) FROM outbox"), 0);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM outbox_chunks"), 0);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM outbox_recipients"), 0);
  sqlite3_close (db);

  /* Lifted: everything works again, and the first message is intact. */
  assert_true (pst_store_set_size_limit (store, 0, &error));
  id = store_message (store, "a", "big", data, 4 * CHUNK);
  assert_message_bytes (store, id, data, 4 * CHUNK);
  assert_message_bytes (store, keep, data, 1000);
  assert_int_equal (message_count (store, NULL), 2);
}

/* Sealing through a writer: nothing changes until commit; then the bytes
 * are the sealed ones, the message is marked sealed, keeps its id and
 * info, and no staging row or chunk is left; an unknown id is refused. */
static void
test_seal_writer (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  const gsize len = 3 * CHUNK + 77, sealed_len = 2 * CHUNK + 5;
  g_autofree guint8 *plain = random_bytes (len, 3);
  g_autofree guint8 *sealed = random_bytes (sealed_len, 4);
  gint64 id = store_message (store, "a", "to-seal", plain, len);
  gint64 other = store_message (store, "a", "other", plain, 100);
  sqlite3 *db;

  assert_null (error);
  /* Freed uncommitted: the message as it was. */
  {
    g_autoptr (PstStoreWriter) w = pst_store_message_seal_begin (store, id, &error);

    assert_non_null (w);
    assert_true (pst_store_writer_write (w, sealed, sealed_len, &error));
  }
  assert_message_bytes (store, id, plain, len);
  {
    g_autoptr (PstMessageInfo) info = pst_store_message_get_info (store, id, &error);

    assert_non_null (info);
    assert_false (info->sealed);
  }
  /* Committed, written in small pieces through the stream; a reader that
   * began before is told, not given plaintext then sealed bytes. */
  {
    g_autoptr (GInputStream) before = pst_store_message_open (store, id, &error);
    g_autofree guint8 *buf = g_malloc (len);
    gsize got = 0;
    g_autoptr (PstStoreWriter) w = pst_store_message_seal_begin (store, id, &error);
    g_autoptr (GOutputStream) out = NULL;
    g_autoptr (PstMessageInfo) info = NULL;

    assert_non_null (w);
    out = pst_store_writer_stream_new (w);
    for (gsize off = 0; off < sealed_len; off += 1000)
      assert_true (g_output_stream_write_all (out, sealed + off, MIN (1000, sealed_len - off), NULL,
                                              NULL, &error));
    assert_true (g_input_stream_read_all (before, buf, 1000, &got, NULL, &error));
    assert_int_equal (got, 1000);
    assert_true (pst_store_writer_commit (w, NULL, &error));
    assert_null (error);
    read_refused (before, buf, len);
    assert_message_bytes (store, id, sealed, sealed_len);
    info = pst_store_message_get_info (store, id, &error);
    assert_true (info->sealed);
    assert_int_equal (info->size, sealed_len);
  }
  /* A reader that began while the seal's first chunks were written (so
   * that their rowids are older than it), at a chunk's end when the seal
   * is committed: told, not given the seal's next chunk after the
   * plaintext's first. */
  {
    gint64 id2 = store_message (store, "a", "to-seal-2", plain, len);
    g_autoptr (PstStoreWriter) w = pst_store_message_seal_begin (store, id2, &error);
    g_autoptr (GInputStream) during = NULL;
    g_autofree guint8 *buf = g_malloc (len);
    gsize got = 0;

    assert_non_null (w);
    assert_true (pst_store_writer_write (w, sealed, sealed_len, &error));
    during = pst_store_message_open (store, id2, &error);
    assert_non_null (during);
    assert_true (g_input_stream_read_all (during, buf, CHUNK, &got, NULL, &error));
    assert_int_equal (got, CHUNK);
    assert_memory_equal (buf, plain, CHUNK);
    assert_true (pst_store_writer_commit (w, NULL, &error));
    /* The next chunk's worth: none of it (the seal's second chunk, whose
     * rowid is older than the stream, would pass every other check). */
    assert_int_equal (read_refused (during, buf, CHUNK), 0);
    assert_message_bytes (store, id2, sealed, sealed_len);
  }
  /* A reader opened while the seal's first chunks were written, read only
   * after it was committed: not a byte of the seal as the message's. */
  {
    gint64 id3 = store_message (store, "a", "to-seal-3", plain, len);
    g_autoptr (GInputStream) early = NULL;
    g_autoptr (PstStoreWriter) w = pst_store_message_seal_begin (store, id3, &error);
    g_autofree guint8 *buf = g_malloc (len);

    assert_non_null (w);
    assert_true (pst_store_writer_write (w, sealed, sealed_len, &error));
    early = pst_store_message_open (store, id3, &error);
    assert_non_null (early);
    assert_true (pst_store_writer_commit (w, NULL, &error));
    assert_int_equal (read_refused (early, buf, 1000), 0);
  }
  assert_message_bytes (store, other, plain, 100);
  db = raw_open (f->path);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM messages"), 4);
  assert_int_equal (raw_int (db, "SELECT count(*) FROM message_chunks WHERE message_id NOT IN"
                                 " (SELECT id FROM messages)"), 0);
  sqlite3_close (db);
  /* No such message; one sealed already. */
  assert_null (pst_store_message_seal_begin (store, 9999, &error));
  assert_non_null (error);
  g_clear_error (&error);
  assert_null (pst_store_message_seal_begin (store, id, &error));
  assert_non_null (error);
}

/* What EXPLAIN QUERY PLAN says of @sql, its lines joined by "; ". */
static char *
query_plan (sqlite3 *db, const char *sql)
{
  g_autofree char *explain = g_strconcat ("EXPLAIN QUERY PLAN ", sql, NULL);
  sqlite3_stmt *stmt = NULL;
  GString *s = g_string_new (NULL);

  assert_int_equal (sqlite3_prepare_v2 (db, explain, -1, &stmt, NULL), SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_string_append_printf (s, "%s%s", s->len ? "; " : "", (const char *) sqlite3_column_text (stmt, 3));
  sqlite3_finalize (stmt);
  return g_string_free (s, FALSE);
}

/* The ids pst_store_messages_seal_pending gives for @account, as "1,2". */
static char *
pending_ids (PstStore *store, const char *account)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = pst_store_messages_seal_pending (store, account, &error);
  GString *s = g_string_new (NULL);

  assert_non_null (ids);
  for (guint i = 0; i < ids->len; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? "," : "", g_array_index (ids, gint64, i));
  return g_string_free (s, FALSE);
}

/* seal_incoming's note: set at a writer's commit, listed per account,
 * cleared by the seal and by an analysis that found the arrival encrypted,
 * set again by a failed seal; never on a sealed message. */
static void
test_seal_pending (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstStore) store = pst_store_open (f->path, &error);
  const guint8 data[] = "From: a@x\r\n\r\nplain\r\n";
  gint64 ids[3];
  gboolean exists = FALSE;

  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *uidl = g_strdup_printf ("p%u", i);
      g_autoptr (PstStoreWriter) w = pst_store_message_begin (store, i < 2 ? "a" : "b", uidl, &error);

      assert_true (pst_store_writer_write (w, data, sizeof data - 1, &error));
      pst_store_writer_set_seal_pending (w);
      assert_true (pst_store_writer_commit (w, &ids[i], &error));
    }
  {
    g_autofree char *want = g_strdup_printf ("%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT, ids[0], ids[1]);
    g_autofree char *got = pending_ids (store, "a");
    assert_string_equal (got, want);
  }
  /* Found arrived encrypted: no longer waiting. */
  {
    PstMessageInfoUpdate u = { ids[1], NULL, NULL, NULL, "{\"decryption\":\"ok\"}", NULL, NULL, -1, TRUE, 0 };
    g_autofree char *want = g_strdup_printf ("%" G_GINT64_FORMAT, ids[0]);
    g_autofree char *got = NULL;

    assert_true (pst_store_messages_set_info (store, &u, 1, &error));
    got = pending_ids (store, "a");
    assert_string_equal (got, want);
  }
  /* Sealed: the note goes with the plaintext; it cannot be set again. */
  {
    g_autoptr (PstStoreWriter) w = pst_store_message_seal_begin (store, ids[0], &error);
    g_autofree char *got = NULL;

    assert_true (pst_store_writer_write (w, data, 4, &error));
    assert_true (pst_store_writer_commit (w, NULL, &error));
    got = pending_ids (store, "a");
    assert_string_equal (got, "");
    assert_true (pst_store_message_set_seal_pending (store, ids[0], TRUE, &error));
    g_free (got);
    got = pending_ids (store, "a");
    assert_string_equal (got, "");
  }
  /* A failed seal notes it again; cleared by hand too. */
  {
    g_autofree char *want = g_strdup_printf ("%" G_GINT64_FORMAT, ids[1]);
    g_autofree char *got = NULL;

    assert_true (pst_store_message_set_seal_pending (store, ids[1], TRUE, &error));
    got = pending_ids (store, "a");
    assert_string_equal (got, want);
    assert_true (pst_store_message_set_seal_pending (store, ids[1], FALSE, &error));
    g_free (got);
    got = pending_ids (store, "a");
    assert_string_equal (got, "");
  }
  /* Others' untouched; a message deleted is no longer there. */
  {
    g_autofree char *want = g_strdup_printf ("%" G_GINT64_FORMAT, ids[2]);
    g_autofree char *got = pending_ids (store, "b");

    assert_string_equal (got, want);
  }
  /* Looked for through the partial index, not by a walk over all of the
   * account's mail (every fetch of a seal_incoming account asks). */
  {
    sqlite3 *db = raw_open (f->path);
    g_autofree char *plan = query_plan (db, PST_STORE_SEAL_PENDING_SQL);

    if (strstr (plan, "USING INDEX messages_seal_pending") == NULL)
      fail_msg ("the pending query does not use messages_seal_pending: %s", plan);
    sqlite3_close (db);
  }
  assert_true (pst_store_message_exists (store, ids[2], &exists, &error));
  assert_true (exists);
  assert_true (pst_store_message_delete (store, ids[2], &error));
  assert_true (pst_store_message_exists (store, ids[2], &exists, &error));
  assert_false (exists);
  {
    g_autofree char *got = pending_ids (store, "b");
    assert_string_equal (got, "");
  }
  assert_null (error);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_seal_pending, setup, teardown),
    cmocka_unit_test_setup_teardown (test_create_reopen, setup, teardown),
    cmocka_unit_test_setup_teardown (test_migrate_fresh, setup, teardown),
    cmocka_unit_test_setup_teardown (test_newer_schema, setup, teardown),
    cmocka_unit_test_setup_teardown (test_not_a_database, setup, teardown),
    cmocka_unit_test_setup_teardown (test_file_mode, setup, teardown),
    cmocka_unit_test_setup_teardown (test_chunks, setup, teardown),
    cmocka_unit_test_setup_teardown (test_page_size, setup, teardown),
    cmocka_unit_test_setup_teardown (test_stream_outlives_store, setup, teardown),
    cmocka_unit_test_setup_teardown (test_stream_reopen, setup, teardown),
    cmocka_unit_test_setup_teardown (test_uncommitted_invisible, setup, teardown),
    cmocka_unit_test_setup_teardown (test_writers_independent, setup, teardown),
    cmocka_unit_test_setup_teardown (test_writers_commit_group, setup, teardown),
    cmocka_unit_test_setup_teardown (test_outbox_count_messages, setup, teardown),
    cmocka_unit_test_setup_teardown (test_same_uidl, setup, teardown),
    cmocka_unit_test_setup_teardown (test_writer_does_not_block, setup, teardown),
    cmocka_unit_test_setup_teardown (test_crash_leftovers, setup, teardown),
    cmocka_unit_test_setup_teardown (test_migrate_v1, setup, teardown),
    cmocka_unit_test_setup_teardown (test_deliveries, setup, teardown),
    cmocka_unit_test_setup_teardown (test_migrate_v6_threads, setup, teardown),
    cmocka_unit_test_setup_teardown (test_read_state, setup, teardown),
    cmocka_unit_test_setup_teardown (test_migrate_v7_drafts, setup, teardown),
    cmocka_unit_test_setup_teardown (test_list, setup, teardown),
    cmocka_unit_test_setup_teardown (test_search, setup, teardown),
    cmocka_unit_test_setup_teardown (test_page, setup, teardown),
    cmocka_unit_test_setup_teardown (test_info, setup, teardown),
    cmocka_unit_test_setup_teardown (test_unknown_ids, setup, teardown),
    cmocka_unit_test_setup_teardown (test_outbox, setup, teardown),
    cmocka_unit_test_setup_teardown (test_outbox_8bit_facts, setup, teardown),
    cmocka_unit_test_setup_teardown (test_threads, setup, teardown),
    cmocka_unit_test_setup_teardown (test_key_records, setup, teardown),
    cmocka_unit_test_setup_teardown (test_autocrypt_peers, setup, teardown),
    cmocka_unit_test_setup_teardown (test_disk_full, setup, teardown),
    cmocka_unit_test_setup_teardown (test_seal_writer, setup, teardown),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
