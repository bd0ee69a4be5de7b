/* drafts.h — messages being written, kept for the user (issue 15).  The
 * store keeps a draft only as the caller gives it: sealed (the agent
 * encrypts it to the account's own OpenPGP key first, agent/methods-drafts.c);
 * in the clear are only its account and times.  Nothing here encrypts. */
#pragma once

#include "store/store.h"

G_BEGIN_DECLS

typedef struct {
  gint64 id;
  char *account;
  gint64 created_at, updated_at;   /* seconds since the epoch */
  GBytes *sealed;                  /* the draft as stored (encrypted) */
} PstDraft;

void pst_draft_free (PstDraft *draft);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstDraft, pst_draft_free)

/* Stores @sealed as a new draft of @account (@id 0) or in place of draft
 * @id (which keeps its number and created_at; its account becomes
 * @account).  Returns the draft's id, or 0 with @error set
 * (PST_ERROR_FAILED: no draft @id). */
gint64 pst_store_draft_save (PstStore *store, gint64 id, const char *account, GBytes *sealed,
                             GError **error);

/* The drafts of @account (NULL: all), last changed first (PstDraft,
 * transfer full). */
GPtrArray *pst_store_draft_list (PstStore *store, const char *account, GError **error);

/* Draft @id, or NULL (PST_ERROR_FAILED when there is none). Transfer full. */
PstDraft *pst_store_draft_get (PstStore *store, gint64 id, GError **error);

/* Deletes draft @id for good: its bytes overwritten (secure_delete) and
 * the write-ahead log emptied.  PST_ERROR_FAILED when there is none. */
gboolean pst_store_draft_delete (PstStore *store, gint64 id, GError **error);

G_END_DECLS
