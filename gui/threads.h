/* threads.h — the message list's threads: `list` gives each message the id
 * of its thread ("thread", issue 15); the window shows a thread of several
 * messages as one row over them. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Message @m's thread: its "thread", or its own "id" while it has none. */
gint64 pst_thread_of (JsonObject *m);

/* The messages of @messages (as `list` gives them: newest first) by thread:
 * an array of arrays of JsonObject (borrowed from @messages), the thread of
 * the newest message first, each thread's messages newest first.  What is
 * not an object is left out. */
GPtrArray *pst_threads_group (JsonArray *messages);

G_END_DECLS
