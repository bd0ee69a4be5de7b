/* open.h — opening a stored message for a reader outside the agent (show,
 * export, attachment, the delivery to other mail programs, the bridge):
 * analysed first when its analysis is missing or failed, scanned when it
 * never was, refused when it is quarantined. */
#pragma once

#include "agent.h"
#include "crypto/status.h"
#include "store/store.h"
#include "worker.h"

G_BEGIN_DECLS

/* Opens message @id (reader.h pst_reader_open: decrypted and verified in
 * the analysis worker) for a client.  @info_out gets its stored facts,
 * @plain_out the message to show (NULL when that is the message as stored:
 * pst_reader_open), @status_out its verdict, @view_out (may be
 * NULL) what show displays and attachment number @attachment (-1: none).
 * Errors: unknown id (the store's); PST_ERROR_INFECTED or PST_ERROR_FAILED
 * for a quarantined message; PST_ERROR_FAILED when the worker could not
 * analyse it ("…; it is kept as it arrived").  Transfer full. */
gboolean pst_open_message (PstAgent *agent, gint64 id, int attachment, PstMessageInfo **info_out,
                           GBytes **plain_out, PstStatus **status_out, PstView **view_out,
                           GError **error);

/* pst_open_message for a reader that needs no view (export, the delivery
 * to other mail programs): when the stored summary of message @id says
 * that its reading decrypts and verifies nothing (neither encrypted nor
 * signed, no warning, its analysis not failed), its plaintext is the
 * message as stored (*@plain_out NULL: pst_reader_arrived_to writes it, a
 * seal opened as it passes), admitted as pst_open_message admits, and no
 * worker reads it again.  Otherwise pst_open_message.  Transfer full. */
gboolean pst_open_message_content (PstAgent *agent, gint64 id, PstMessageInfo **info_out,
                                   GBytes **plain_out, PstStatus **status_out, GError **error);

G_END_DECLS
