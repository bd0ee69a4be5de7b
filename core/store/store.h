/* store.h — Postern's SQLite store (DESIGN.md §7).
 *
 * Messages as received (ciphertext stays ciphertext), the UIDLs already
 * fetched, and the outbox.  Message bytes are kept in chunks of at most
 * 256 KiB so that no message is ever held whole in memory, neither on the
 * way in nor on the way out.  The schema is versioned with PRAGMA
 * user_version and migrated on open.
 *
 * Thread safety: one PstStore may be used from several threads; each call
 * (and each writer, from begin to commit or free) runs under the store's
 * lock, so a writer is one transaction.  Commits are durable
 * (synchronous=FULL, WAL).
 */
#pragma once

#include <glib.h>
#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _PstStore PstStore;
typedef struct _PstStoreWriter PstStoreWriter;

/* Opens (creating or migrating) the database at @path; the file is made
 * 0600.  Transfer full. */
PstStore *pst_store_open (const char *path, GError **error);
void pst_store_free (PstStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstStore, pst_store_free)

/* ---- incoming messages ---- */

/* Whether @uidl of @account is already stored (or was stored and deleted). */
gboolean pst_store_uidl_seen (PstStore *store, const char *account, const char *uidl,
                              gboolean *seen_out, GError **error);

/* Starts storing a message fetched as @uidl.  Nothing is visible until
 * commit; the UIDL is marked seen in the same transaction.  Transfer full. */
PstStoreWriter *pst_store_message_begin (PstStore *store, const char *account, const char *uidl,
                                         GError **error);

/* ---- outbox ---- */

typedef enum {
  PST_OUTBOX_QUEUED,
  PST_OUTBOX_SENDING,
  PST_OUTBOX_SENT,
  PST_OUTBOX_FAILED,
  PST_OUTBOX_CANCELLED,
} PstOutboxState;

/* "queued", "sending", … */
const char *pst_outbox_state_to_string (PstOutboxState state);

/* Starts queueing a message for @account with envelope @reverse_path and
 * @recipients (NULL-terminated, at least one).  Transfer full. */
PstStoreWriter *pst_store_outbox_begin (PstStore *store, const char *account,
                                        const char *reverse_path, const char *const *recipients,
                                        GError **error);

/* ---- writers (both kinds) ---- */

gboolean pst_store_writer_write (PstStoreWriter *writer, const guint8 *data, gsize len,
                                 GError **error);
/* Commits in one durable transaction and frees nothing; @id_out gets the new
 * row's id.  After this (successful or not) only free() is valid. */
gboolean pst_store_writer_commit (PstStoreWriter *writer, gint64 *id_out, GError **error);
/* Frees the writer; an uncommitted writer is rolled back. */
void pst_store_writer_free (PstStoreWriter *writer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstStoreWriter, pst_store_writer_free)

/* ---- reading ---- */

/* A stream over the stored bytes of message @id (as received).  Unknown id:
 * PST_ERROR_FAILED "no message with id N".  Transfer full. */
GInputStream *pst_store_message_open (PstStore *store, gint64 id, GError **error);
/* The same for outbox entry @id (the encrypted message as queued). */
GInputStream *pst_store_outbox_open (PstStore *store, gint64 id, GError **error);

/* What list and show need, without the body. */
typedef struct {
  gint64 id;
  char *account;
  char *uidl;
  gint64 received_at;   /* unix seconds */
  gint64 size;
  char *from;           /* outer headers, as decoded for display; may be NULL */
  char *subject;
  char *date;
  char *crypto_json;    /* the status summary (DESIGN.md §4) as JSON, or NULL when not yet known */
  char *scan_verdict;   /* clean | infected | error | skipped, or NULL */
} PstMessageInfo;

void pst_message_info_free (PstMessageInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstMessageInfo, pst_message_info_free)

/* Sets what the agent learned from a stored message: display headers and
 * the crypto summary.  Any argument may be NULL (left as it is). */
gboolean pst_store_message_set_info (PstStore *store, gint64 id, const char *from,
                                     const char *subject, const char *date,
                                     const char *crypto_json, const char *scan_verdict,
                                     GError **error);

/* Transfer full.  Unknown id: PST_ERROR_FAILED. */
PstMessageInfo *pst_store_message_get_info (PstStore *store, gint64 id, GError **error);

/* Newest first; @account NULL = all; @limit 0 = no limit.  Returns a
 * GPtrArray of PstMessageInfo (transfer full, with free func). */
GPtrArray *pst_store_message_list (PstStore *store, const char *account, guint limit,
                                   GError **error);

typedef struct {
  gint64 id;
  char *account;
  char *reverse_path;
  char **recipients;    /* NULL-terminated */
  PstOutboxState state;
  guint attempts;
  char *last_reply;     /* the server's last reply, or NULL */
  gboolean in_doubt;    /* a crash may have come between the final dot and its reply */
  gint64 created_at;
} PstOutboxEntry;

void pst_outbox_entry_free (PstOutboxEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstOutboxEntry, pst_outbox_entry_free)

/* Entries of @account (NULL = all) in @state (or all states when @state is
 * -1), oldest first.  GPtrArray of PstOutboxEntry, transfer full. */
GPtrArray *pst_store_outbox_list (PstStore *store, const char *account, int state,
                                  GError **error);
PstOutboxEntry *pst_store_outbox_get (PstStore *store, gint64 id, GError **error);

/* Records a state change: SENDING increments attempts and sets in_doubt
 * until the next change; @reply may be NULL. Durable. */
gboolean pst_store_outbox_set_state (PstStore *store, gint64 id, PstOutboxState state,
                                     const char *reply, GError **error);

G_END_DECLS
