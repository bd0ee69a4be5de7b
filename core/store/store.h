/* store.h — Postern's SQLite store (DESIGN.md §7).
 *
 * Messages as received (ciphertext stays ciphertext), the UIDLs already
 * fetched, and the outbox.  Message bytes are kept in chunks of at most
 * 256 KiB so that no message is ever held whole in memory, neither on the
 * way in nor on the way out.  The schema is versioned with PRAGMA
 * user_version and migrated on open.
 *
 * Thread safety: one PstStore may be used from several threads.  Each call
 * runs under the store's lock for as long as it takes and holds nothing
 * between calls; writers neither (see below), so a writer waiting for its
 * bytes (from the network, say) never stops other threads' calls.  Commits
 * are durable (synchronous=FULL, WAL).
 *
 * Writers: begin adds the row at once, flagged unfinished; full chunks go
 * in as they fill, each in a short transaction of its own; commit, in one
 * durable transaction, adds the last chunk, clears the flag and (for a
 * message) marks its UIDL seen.  Consequences:
 *  - every read (list, get_info, open, uidl_seen, outbox_list, outbox_get)
 *    and every change (set_info, set_state, set_next_try) ignores an
 *    unfinished row, as if it did not exist, on every thread;
 *  - any number of writers may be open at once, on any threads, and a
 *    thread holding one may make any other call, begin included;
 *  - a writer itself is not thread-safe: use it from one thread at a time;
 *  - a writer that is freed without commit, or whose write or commit fails,
 *    deletes its row and chunks at once; those left by a crash are deleted
 *    by the next pst_store_open(), before it returns.  The store must
 *    therefore be open in one place only (the agent).
 *
 * Errors are PST_ERROR_FAILED, with a message naming the store or the id.
 * A full disk (or the limit of pst_store_set_size_limit()) during a writer
 * fails that write or commit and leaves nothing of the writer.
 */
#pragma once

#include <glib.h>
#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _PstStore PstStore;
typedef struct _PstStoreWriter PstStoreWriter;

/* Opens (creating or migrating) the database at @path; the file (and the
 * -wal and -shm files SQLite makes next to it) is made 0600.  The directory
 * must exist: making it private is the caller's job.  A database with a
 * schema newer than this code is an error.  Deletes what writers left
 * unfinished (a crash), so open the file in one place at a time.  Transfer
 * full. */
PstStore *pst_store_open (const char *path, GError **error);
/* Releases the caller's reference.  Streams and writers hold their own, so
 * the database is closed when the last of them is freed too. */
void pst_store_free (PstStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstStore, pst_store_free)

/* Caps the database file at about @max_bytes (rounded down to whole pages,
 * never below its current size); 0 lifts the cap.  Writes beyond the cap
 * fail as a full disk would.  Lasts until the store is closed. */
gboolean pst_store_set_size_limit (PstStore *store, gint64 max_bytes, GError **error);

/* ---- incoming messages ---- */

/* Whether @uidl of @account is already stored (or was stored and deleted). */
gboolean pst_store_uidl_seen (PstStore *store, const char *account, const char *uidl,
                              gboolean *seen_out, GError **error);

/* The same, with the time (Unix seconds) the UIDL was first stored, for
 * keep_on_server retention. */
gboolean pst_store_uidl_seen_at (PstStore *store, const char *account, const char *uidl,
                                 gboolean *seen_out, gint64 *seen_at_out, GError **error);

/* Starts storing a message fetched as @uidl.  Nothing is visible until
 * commit; the UIDL is marked seen in the commit's transaction.  A UIDL
 * already seen is PST_ERROR_FAILED, here or, when another writer for the same
 * UIDL commits first, at commit: of two writers for one UIDL, only one
 * commit wins.  Holds no lock (see above).  Transfer full. */
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

/* "queued", "sending", …; static, never NULL ("unknown" out of range). */
const char *pst_outbox_state_to_string (PstOutboxState state);
/* The reverse; FALSE (and @state_out untouched) for an unknown name. */
gboolean pst_outbox_state_from_string (const char *name, PstOutboxState *state_out);

/* Starts queueing a message for @account with envelope @reverse_path ("" for
 * the null sender) and @recipients (NULL-terminated, at least one; copied).
 * The entry starts QUEUED with next_try 0 (now), once committed.  Holds no
 * lock (see above).  Transfer full. */
PstStoreWriter *pst_store_outbox_begin (PstStore *store, const char *account,
                                        const char *reverse_path, const char *const *recipients,
                                        GError **error);

/* ---- writers (both kinds) ---- */

/* Appends @len bytes.  At most one chunk (256 KiB) is buffered; each full
 * chunk goes to the database in a short transaction of its own, still
 * invisible.  On failure the writer is rolled back at once (its row and
 * chunks deleted) and only free() is valid. */
gboolean pst_store_writer_write (PstStoreWriter *writer, const guint8 *data, gsize len,
                                 GError **error);
/* Commits in one durable transaction and frees nothing; @id_out gets the new
 * row's id.  On failure (a UIDL seen meanwhile, a full disk) the writer is
 * rolled back.  After this (successful or not) only free() is valid. */
gboolean pst_store_writer_commit (PstStoreWriter *writer, gint64 *id_out, GError **error);
/* Commits several writers of one store in one durable transaction (one
 * fsync for all: the fetcher's group commit).  All or nothing: on failure
 * (PST_ERROR_FAILED) none is committed and each stays usable, so that the
 * caller can commit them one by one to find the one at fault.  Outbox
 * writers committed together are the copies of one message (its Bcc
 * recipients' own): pst_store_outbox_count_since counts them once. */
gboolean pst_store_writers_commit (PstStoreWriter *const *writers, guint n, GError **error);
/* Marks a message writer's message for delivery to another mail program:
 * its pending delivery row is written by the commit, in the same
 * transaction (deliveries.h). */
void pst_store_writer_set_deliver (PstStoreWriter *writer);
/* Marks a message writer's message as waiting for its seal
 * (PST_MESSAGE_FLAG_SEAL_PENDING), set by the commit in the same
 * transaction: seal_incoming's arrivals, until the seal or the analysis
 * that finds them encrypted. */
void pst_store_writer_set_seal_pending (PstStoreWriter *writer);
/* The row id of a committed writer. */
gint64 pst_store_writer_get_id (PstStoreWriter *writer);
/* Records, with an outbox writer's entry, whether the message has bytes
 * >= 0x80 (@eight_bit) and whether its header section has (@utf8_headers),
 * for the sender (PstOutboxEntry).  Before the commit; visible with it. */
gboolean pst_store_writer_set_8bit (PstStoreWriter *writer, gboolean eight_bit,
                                    gboolean utf8_headers, GError **error);
/* Frees the writer; an uncommitted writer is rolled back: its row and chunks
 * are deleted, in a short transaction. */
void pst_store_writer_free (PstStoreWriter *writer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstStoreWriter, pst_store_writer_free)

/* ---- reading ---- */

/* A stream over the stored bytes of message @id (as received).  Unknown id:
 * PST_ERROR_FAILED "no message with id N".  Each read takes the store's
 * lock briefly and reads from the current chunk, so the stream holds no
 * memory of its own beyond its state and keeps no statement open; it holds a
 * reference on the store.  Not seekable.  Transfer full. */
GInputStream *pst_store_message_open (PstStore *store, gint64 id, GError **error);
/* The same for outbox entry @id (the encrypted message as queued). */
GInputStream *pst_store_outbox_open (PstStore *store, gint64 id, GError **error);
/* A new stream from the start of the entry @stream (one of the two above)
 * reads, as it was when @stream was opened: reading it fails as reading
 * @stream would if the entry changed since (deleted or sealed), even when
 * it changed before this call.  Skipping on either stream looks up rows
 * without reading their bytes.  Transfer full. */
GInputStream *pst_store_stream_reopen (GInputStream *stream);

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
  char *scan_name;      /* what the scanner found (or its error), or NULL */
  gboolean quarantined; /* kept, but not listed and not opened */
  gboolean sealed;      /* the bytes are the arrival encrypted to the user (seal_incoming) */
  gboolean unread;      /* stored since schema 7 and not marked read */
  gint64 thread;        /* the lowest id of the messages of its thread (threads.c) */
  int reader_version;   /* the reading that wrote crypto_json (schema 11); 0: not known */
} PstMessageInfo;

#define PST_MESSAGE_FLAG_SEALED 1
/* seal_incoming: stored, not sealed yet (from its commit on, or noted when
 * its seal failed); every later fetch of its account seals it first
 * (agent/fetch-analysis.h), and the seal, or an analysis that finds it
 * arrived encrypted, clears it. */
#define PST_MESSAGE_FLAG_SEAL_PENDING 2

void pst_message_info_free (PstMessageInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstMessageInfo, pst_message_info_free)

/* Several set_info in one durable transaction (one fsync): what a fetch
 * learned of the messages it stored.  All or nothing. */
typedef struct {
  gint64 id;
  const char *from, *subject, *date, *crypto_json, *scan_verdict;
  const char *scan_name;  /* set together with scan_verdict (NULL clears it then) */
  int quarantine;         /* 1 to set, 0 for none, -1 to keep; a scan_verdict never lifts
                           * one set, nor replaces what it found unless it is "infected"
                           * over another verdict: only a release, without a verdict,
                           * lifts it */
  gboolean seal_not_needed; /* it arrived encrypted: PST_MESSAGE_FLAG_SEAL_PENDING goes */
  int reader_version;     /* with crypto_json: the reading that wrote it (0: not said) */
} PstMessageInfoUpdate;
gboolean pst_store_messages_set_info (PstStore *store, const PstMessageInfoUpdate *updates,
                                      guint n, GError **error);

/* Records a scan of the message @info describes (its verdict, what the
 * scanner named, and whether it quarantines the message), under the rule
 * above, and brings @info's scan_verdict, scan_name and quarantined to
 * what the store then holds: a quarantine recorded meanwhile stays in both. */
gboolean pst_store_message_record_scan (PstStore *store, PstMessageInfo *info,
                                        const char *verdict, const char *name,
                                        gboolean quarantine, GError **error);

/* Sets what the agent learned from a stored message: display headers and
 * the crypto summary.  Any argument may be NULL (left as it is). */
gboolean pst_store_message_set_info (PstStore *store, gint64 id, const char *from,
                                     const char *subject, const char *date,
                                     const char *crypto_json, const char *scan_verdict,
                                     GError **error);

/* Transfer full.  Unknown id: PST_ERROR_FAILED. */
PstMessageInfo *pst_store_message_get_info (PstStore *store, gint64 id, GError **error);

/* Newest first, by id: ids are given at begin, so this is the reverse of the
 * order in which the writers began (the order of commits when one writer
 * runs at a time); received_at is not consulted, so a clock going back does
 * not reorder.  @account NULL = all; @limit 0 = no limit.  Returns a
 * GPtrArray of PstMessageInfo (transfer full, with free func). */
GPtrArray *pst_store_message_list (PstStore *store, const char *account, guint limit,
                                   GError **error);
/* The same, of the messages whose stored From or Subject holds @query
 * anywhere, ignoring case (Unicode case folding) and taking every
 * character literally ('%', '_' and '\' are no wildcards).  @query NULL or
 * "" finds every message.  Quarantined messages are never found. */
GPtrArray *pst_store_message_search (PstStore *store, const char *account, const char *query,
                                     guint limit, GError **error);
/* The same, of the quarantined messages (@quarantined TRUE) or the others. */
GPtrArray *pst_store_message_list_full (PstStore *store, const char *account, guint limit,
                                        gboolean quarantined, GError **error);
/* A page of a list: the messages of @account (NULL: all) whose stored From
 * or Subject holds @query (as pst_store_message_search; NULL or "": every
 * message) or whose id is in @also (gint64, may be NULL; only with a
 * @query), quarantined ones only when @quarantined, with ids below @before
 * (0: no bound), newest first by id (unique, so the order is the same on
 * every call), the first @offset skipped, at most @limit (0: no limit).
 * Paging by @before (the last id of the page before) costs a page whatever
 * its depth; by @offset, the rows skipped too. */
typedef struct {
  const char *account;
  const char *query;
  const GArray *also;
  gint64 before;
  guint offset;
  guint limit;
  gboolean quarantined;
  gboolean unread;        /* the unread ones only */
} PstMessageQuery;
GPtrArray *pst_store_message_page (PstStore *store, const PstMessageQuery *query,
                                   GError **error);
/* Notes message @id (not sealed) as waiting for its seal, or no longer. */
gboolean pst_store_message_set_seal_pending (PstStore *store, gint64 id, gboolean pending,
                                             GError **error);
/* The ids (gint64) of @account's messages waiting for their seal, in order.
 * Transfer full. */
GArray *pst_store_messages_seal_pending (PstStore *store, const char *account, GError **error);
/* Whether message @id is stored (and finished), in *@exists_out. */
gboolean pst_store_message_exists (PstStore *store, gint64 id, gboolean *exists_out,
                                   GError **error);

/* Quarantines message @id or releases it.  Durable. */
gboolean pst_store_message_set_quarantined (PstStore *store, gint64 id, gboolean quarantined,
                                            GError **error);
/* A writer for the sealed bytes of message @id (its arrival, encrypted to
 * the user): they go into an invisible row as they come (memory does not
 * grow with them), and the writer's commit swaps them in for the message's
 * bytes, overwritten (secure_delete), and marks it sealed, in one durable
 * transaction.  A writer freed uncommitted leaves the message as it was.
 * The log still holds the old pages: pst_store_checkpoint. */
PstStoreWriter *pst_store_message_seal_begin (PstStore *store, gint64 id, GError **error);
/* Moves everything in the write-ahead log into the database and empties
 * the log (after sealing: the log still held the plaintext pages). */
gboolean pst_store_checkpoint (PstStore *store, GError **error);
/* Deletes message @id and its bytes; its UIDL stays seen (it is not fetched
 * again).  Unknown id: PST_ERROR_FAILED.  As pst_store_messages_delete(). */
gboolean pst_store_message_delete (PstStore *store, gint64 id, GError **error);
/* Deletes the @n messages @ids, all or none: an unknown id is
 * PST_ERROR_FAILED "no message with id N" and deletes nothing.  Their
 * chunks and delivery rows go with them, their UIDLs stay seen, the freed
 * pages are overwritten (secure_delete) and the write-ahead log is
 * checkpointed and emptied, so that their bytes are in neither file; a
 * failed checkpoint (a reader holds the log) is an error after the
 * deletion was committed. */
gboolean pst_store_messages_delete (PstStore *store, const gint64 *ids, guint n,
                                    GError **error);
/* Marks the @n messages @ids read (@unread FALSE) or unread, durably, all
 * or none (an unknown id: PST_ERROR_FAILED, nothing changed).  Messages
 * start unread when they are stored. */
gboolean pst_store_messages_mark (PstStore *store, const gint64 *ids, guint n, gboolean unread,
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
  /* added after the first draft of this header: */
  gint64 updated_at;    /* last state change, unix seconds */
  gint64 next_try;      /* unix seconds; 0 = as soon as possible */
  gint64 size;          /* bytes queued */
  /* Whether the message has bytes >= 0x80, and in its header section: 1
   * or 0, -1 when not known (queued by a version that did not record
   * them; pst_store_writer_set_8bit). */
  int eight_bit;
  int utf8_headers;
} PstOutboxEntry;

void pst_outbox_entry_free (PstOutboxEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstOutboxEntry, pst_outbox_entry_free)

/* Entries of @account (NULL = all) in @state (or all states when @state is
 * -1), oldest first.  GPtrArray of PstOutboxEntry, transfer full. */
GPtrArray *pst_store_outbox_list (PstStore *store, const char *account, int state,
                                  GError **error);
/* Transfer full.  Unknown id: PST_ERROR_FAILED "no outbox entry with id N". */
PstOutboxEntry *pst_store_outbox_get (PstStore *store, gint64 id, GError **error);

/* Records a state change, durably, before it returns:
 *  - SENDING: attempts + 1 and in_doubt set.  Call it before the final dot
 *    goes out; an entry found SENDING with in_doubt after a restart may or
 *    may not have been delivered.
 *  - any other state clears in_doubt (the outcome is known).
 *  - @reply, when not NULL, replaces last_reply; NULL keeps the previous one
 *    (so FAILED or QUEUED without a reply keep the server's last words).
 *  - SENT and CANCELLED are final: changing them is PST_ERROR_FAILED, so a
 *    sent message can never be queued or sent again.
 * Unknown id: PST_ERROR_FAILED. */
gboolean pst_store_outbox_set_state (PstStore *store, gint64 id, PstOutboxState state,
                                     const char *reply, GError **error);

typedef struct {
  gint64 id;
  PstOutboxState state;
  const char *reply;
  /* With QUEUED, from SENDING: that SENDING counted an attempt that never
   * began (the sender took it ahead, then its session ended): taken back.
   * From any other state it changes nothing. */
  gboolean not_begun;
} PstOutboxChange;

/* The @n changes of pst_store_outbox_set_state in one transaction: all or
 * none, and one sync to disk for all (the sender records a message sent and
 * the next one sending together). */
gboolean pst_store_outbox_set_states (PstStore *store, const PstOutboxChange *changes, guint n,
                                      GError **error);

/* How many messages of @account were queued at or after @since (unix s):
 * the copies of one, committed together by pst_store_writers_commit, count
 * once. */
gboolean pst_store_outbox_count_since (PstStore *store, const char *account, gint64 since,
                                       guint *count_out, GError **error);

/* Sets when the sender should try entry @id again (unix seconds; 0 = now),
 * for backoff that survives restarts.  Durable.  Unknown id: PST_ERROR_FAILED. */
gboolean pst_store_outbox_set_next_try (PstStore *store, gint64 id, gint64 next_try,
                                        GError **error);

G_END_DECLS
