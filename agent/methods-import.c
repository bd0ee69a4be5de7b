/* methods-import.c — import: existing mail (from an mbox or a Maildir,
 * split by the client) into the store, each message then taken in as a
 * fetched one is (fetcher.h: mail.new, analysis, Autocrypt, seal). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handlers.h"
#include "fetcher.h"
#include "crypto/sha256.h"
#include "mime/mbox.h"
#include "util/error.h"

/* The largest message import takes, as send does (the CLI's mbox reader
 * skips larger ones before they reach the agent). */
#define MAX_IMPORT_SIZE PST_MBOX_MAX_MESSAGE

/* The UIDL an imported message is recorded under: the SHA-256 of its
 * bytes, so that importing it again finds it seen (and a message deleted
 * since is not imported again, as a deleted fetched one is not fetched
 * again).  78 characters: longer than any POP3 UIDL may be (RFC 1939 §7:
 * at most 70), so that it never meets a fetched one. */
#define UIDL_PREFIX "import:sha256:"

/* The SHA-256 (hex) of what @fd holds from offset 0, @size bytes; with
 * @writer, the bytes are stored too.  Read with pread: the descriptor is a
 * regular file or a memfd, and a file never stalls. */
static char *
read_message (int fd, gsize size, PstStoreWriter *writer, GError **error)
{
  g_autoptr (PstSha256) sum = pst_sha256_new ();
  guint8 buf[65536];
  gsize done = 0;

  while (done < size)
    {
      ssize_t n = pread (fd, buf, MIN (sizeof buf, size - done), (off_t) done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "cannot read the message: %s",
                       n < 0 ? g_strerror (errno) : "it became shorter while it was read");
          return NULL;
        }
      pst_sha256_update (sum, buf, (gsize) n);
      if (writer != NULL && !pst_store_writer_write (writer, buf, (gsize) n, error))
        return NULL;
      done += (gsize) n;
    }
  return g_strdup (pst_sha256_get_string (sum));
}

typedef struct {
  JsonObject *result;       /* what the client is told of it */
  PstStoreWriter *writer;   /* to commit */
} Item;

static void
item_fail (Item *item, const char *why)
{
  json_object_set_string_member (item->result, "status", "failed");
  json_object_set_string_member (item->result, "error", why);
  g_clear_pointer (&item->writer, pst_store_writer_free);
}

/* Begins storing the message in @fd as @account's, unless it is stored
 * already (@uidls: the ones of this request so far). */
static void
begin_item (PstCall *call, const PstAccount *account, int fd, GHashTable *uidls, Item *item)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *sum = NULL, *uidl = NULL, *again = NULL;
  struct stat st;
  gboolean seen = FALSE;

  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      item_fail (item, "not a file: each message is passed as a regular file or a memfd");
      return;
    }
  if (st.st_size == 0)
    {
      item_fail (item, "the message is empty");
      return;
    }
  if ((guint64) st.st_size > MAX_IMPORT_SIZE)
    {
      g_autofree char *why = g_strdup_printf ("the message is larger than %" G_GSIZE_FORMAT " MiB (%"
                                              G_GINT64_FORMAT " bytes); not imported",
                                              MAX_IMPORT_SIZE >> 20,
                                              (gint64) st.st_size);
      item_fail (item, why);
      return;
    }
  if (!(sum = read_message (fd, (gsize) st.st_size, NULL, &error)))
    {
      item_fail (item, error->message);
      return;
    }
  uidl = g_strconcat (UIDL_PREFIX, sum, NULL);
  if (!pst_store_uidl_seen (call->agent->store, account->name, uidl, &seen, &error))
    {
      item_fail (item, error->message);
      return;
    }
  if (seen || g_hash_table_contains (uidls, uidl))
    {
      json_object_set_string_member (item->result, "status", "present");
      return;
    }
  if (!(item->writer = pst_store_message_begin (call->agent->store, account->name, uidl, &error)))
    {
      item_fail (item, error->message);
      return;
    }
  /* Noted from its commit on, until sealed (store.h). */
  if (account->seal_incoming)
    pst_store_writer_set_seal_pending (item->writer);
  /* Read again as it is stored: what is stored is what was summed. */
  if (!(again = read_message (fd, (gsize) st.st_size, item->writer, &error)))
    {
      item_fail (item, error->message);
      return;
    }
  if (strcmp (again, sum) != 0)
    {
      item_fail (item, "the message changed while it was read");
      return;
    }
  g_hash_table_add (uidls, g_steal_pointer (&uidl));
}

/* The account named by @name, or the only one.  Errors: PST_ERROR_USAGE
 * when no name is given and there is not exactly one. */
static PstAccount *
pick_account (PstAgent *agent, const char *name, GError **error)
{
  g_autofree char *only = NULL;
  guint n;

  if (name != NULL)
    return pst_agent_get_account (agent, name, error);
  g_mutex_lock (&agent->config_lock);
  {
    GPtrArray *accounts = pst_config_get_accounts (agent->config);

    n = accounts->len;
    if (n == 1)
      only = g_strdup (((PstAccount *) g_ptr_array_index (accounts, 0))->name);
  }
  g_mutex_unlock (&agent->config_lock);
  if (n == 0)
    g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                 "there is no account to import into (postern account add)");
  else if (n > 1)
    g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                 "there are %u accounts: name the one to import into with --account", n);
  return only ? pst_agent_get_account (agent, only, error) : NULL;
}

/* import {account?, messages: [fd index…]}: each descriptor (a regular file
 * or a memfd, read from offset 0) holds one RFC 5322 message, stored for
 * @account (default: the only one) as fetched mail is, then analysed as
 * fetched mail is.  Result {account, messages: [{status: imported, id} |
 * {status: present} | {status: failed, error}]}, one per descriptor, in
 * order, and unsealed (a string) when under seal_incoming a message could
 * not be sealed (it is stored as it arrived).  The request fails (nothing
 * stored) only when its parameters do. */
JsonObject *
pst_method_import (PstCall *call, GError **error)
{
  static const char *const known[] = { "account", "messages", NULL };
  const char *name;
  g_autoptr (PstAccount) account = NULL;
  g_autoptr (GHashTable) uidls = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GPtrArray) writers = g_ptr_array_new ();
  g_autoptr (GError) unsealed = NULL;
  JsonArray *messages, *out;
  Item items[PST_RPC_MAX_FDS] = { { 0 } };
  guint n;
  JsonObject *r;

  if (!pst_call_check_members (call->params, known, error)
      || !pst_rpc_get_string (call->params, "account", FALSE, &name, error))
    return NULL;
  if (!json_object_has_member (call->params, "messages")
      || !JSON_NODE_HOLDS_ARRAY (json_object_get_member (call->params, "messages")))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "parameter 'messages' must be an array of descriptor indices");
      return NULL;
    }
  messages = json_object_get_array_member (call->params, "messages");
  n = json_array_get_length (messages);
  if (n > call->fds->len || n > PST_RPC_MAX_FDS)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "parameter 'messages' names %u descriptors, but %u were passed", n,
                   call->fds->len);
      return NULL;
    }
  for (guint i = 0; i < n; i++)
    {
      JsonNode *e = json_array_get_element (messages, i);
      gint64 index = JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_INT64
                       ? json_node_get_int (e) : -1;

      if (index < 0 || index >= (gint64) call->fds->len)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                       "parameter 'messages' must name passed descriptors (0 to %u)",
                       call->fds->len - 1);
          return NULL;
        }
    }
  if (!(account = pick_account (call->agent, name, error))
      || !pst_fetchers_seal_key_ready (call->agent, account, "imported", error))
    return NULL;

  for (guint i = 0; i < n; i++)
    {
      int fd = g_array_index (call->fds, int, json_array_get_int_element (messages, i));

      items[i].result = json_object_new ();
      begin_item (call, account, fd, uidls, &items[i]);
      if (items[i].writer != NULL)
        g_ptr_array_add (writers, items[i].writer);
    }
  /* Together, with one fsync; one by one when that fails, so that one
   * message does not hold the others back (as the fetcher commits). */
  if (writers->len > 0
      && !pst_store_writers_commit ((PstStoreWriter *const *) writers->pdata, writers->len, NULL))
    for (guint i = 0; i < n; i++)
      {
        g_autoptr (GError) local = NULL;

        if (items[i].writer != NULL && !pst_store_writer_commit (items[i].writer, NULL, &local))
          item_fail (&items[i], local->message);
      }
  out = json_array_new ();
  for (guint i = 0; i < n; i++)
    {
      if (items[i].writer != NULL)
        {
          gint64 id = pst_store_writer_get_id (items[i].writer);

          g_array_append_val (ids, id);
          json_object_set_string_member (items[i].result, "status", "imported");
          json_object_set_int_member (items[i].result, "id", id);
          g_clear_pointer (&items[i].writer, pst_store_writer_free);
        }
      json_array_add_object_element (out, items[i].result);
    }
  if (ids->len > 0)
    {
      g_message ("account %s: imported %u messages", account->name, ids->len);
      if (!pst_fetchers_take_in (call->agent, account, ids, &unsealed))
        g_warning ("account %s: %s", account->name, unsealed->message);
    }
  r = json_object_new ();
  if (unsealed != NULL)
    json_object_set_string_member (r, "unsealed", unsealed->message);
  json_object_set_string_member (r, "account", account->name);
  json_object_set_array_member (r, "messages", out);
  return r;
}
