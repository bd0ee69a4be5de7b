/* subjects.h — the decrypted Subjects of encrypted mail, in the agent's
 * memory only.  With header protection (RFC 9788) the real Subject travels
 * inside the encryption; DESIGN.md §3 keeps plaintext off the disk, so the
 * store keeps what the outside said ("...") unless the account says
 * store_decrypted_subject.  The agent learns the real one whenever it
 * decrypts a message (on arrival, and on every show or export) and keeps it
 * here, so that `list` can show it and a search can find it; an agent that
 * restarts knows them again as it reads the messages again. */
#pragma once

#include "agent.h"

G_BEGIN_DECLS

/* The Subjects one agent knows (agent->subjects). */
PstSubjects *pst_subjects_new (void);
void pst_subjects_free (PstSubjects *subjects);

/* Remembers @subject as the decrypted Subject of message @id of
 * @account.  Thread-safe. */
void pst_subjects_remember (PstSubjects *subjects, gint64 id, const char *account,
                            const char *subject);

/* The decrypted Subject of @id, or NULL when unknown.  Transfer full. */
char *pst_subjects_lookup (PstSubjects *subjects, gint64 id);

/* The ids (gint64, newest first) of messages of @account (NULL: any) whose
 * remembered Subject contains @query, compared case-folded.  At most
 * @limit.  Transfer full. */
GArray *pst_subjects_search (PstSubjects *subjects, const char *account, const char *query,
                             guint limit);

/* Forgets message @id (deleted). */
void pst_subjects_forget (PstSubjects *subjects, gint64 id);

G_END_DECLS
