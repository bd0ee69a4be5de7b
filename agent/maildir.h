/* maildir.h — one Maildir (https://cr.yp.to/proto/maildir.html) that an
 * account delivers into (deliver.h): its folders checked and made, what
 * this store delivered there before, and one message written into it.
 *
 * A message's file name is "RECEIVED.M<id>R<token>.HOST": the same at
 * every try, and the token (pst_store_delivery_token) makes it this
 * store's alone. */
#pragma once

#include <glib.h>

typedef struct {
  char *path;
  char *token;
  char *host;             /* the host name, '/' and ':' escaped as Maildir asks */
  GHashTable *present;    /* gint64* ids whose file is in new/ or cur/ */
} PstMaildir;

/* Opens the Maildir at @path for this store (@token): makes its folders
 * (0700) when missing; refuses it when the Maildir or its tmp, new or cur
 * folder is not owned by this user or is writable by group or others
 * (another user could put files there under our names); notes which
 * messages are in new/ or cur/ already; and removes every tmp/ file of
 * this store (an interrupted delivery: written again if the message is
 * still pending, plaintext left behind if not). */
gboolean pst_maildir_open (PstMaildir *m, const char *path, const char *token, GError **error);

/* Whether message @id is in new/ or cur/ (delivered by a run that ended
 * before it could say so). */
gboolean pst_maildir_has (const PstMaildir *m, gint64 id);

/* Writes @message to tmp/NAME (created, never an existing file), syncs it,
 * links it to new/NAME and syncs new/.  A new/NAME that is not the file
 * just written is an error: the message was not delivered. */
gboolean pst_maildir_deliver (PstMaildir *m, gint64 id, gint64 received_at, GBytes *message,
                              GError **error);

void pst_maildir_clear (PstMaildir *m);
