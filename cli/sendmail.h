/* sendmail.h — what `postern sendmail` reads and adds before send takes
 * it (sendmail-input.c): sendmail's standard input, ended by a line with a
 * single dot unless -i, and the From, Date and Message-ID that programs
 * calling sendmail leave to it (msmtp adds them too). */
#pragma once

#include <stdio.h>

#include <glib.h>

G_BEGIN_DECLS

/* Reads @in to its end, or (unless @ignore_dots) to a line holding a
 * single "." (LF or CRLF), which is not part of the message; at most @max
 * bytes.  Errors (PST_ERROR_FAILED): larger than @max, a read error.
 * Transfer full. */
GBytes *pst_sendmail_read (FILE *in, gboolean ignore_dots, gsize max, GError **error);

/* The header of a message given to sendmail, as far as sendmail needs it. */
typedef struct {
  GPtrArray *fields;      /* the raw fields (char*), in order; empty when the message has no
                           * header section */
  gsize header_len;       /* where the last field ends (an mbox "From " line before the
                           * first is no part of the message) */
  char *from;             /* the addr-spec of its one From; NULL when it has none, or a
                           * local one */
  gboolean local_from;    /* its From names a local user only, no domain (cron's
                           * "root (Cron Daemon)"): it is replaced */
  gboolean has_date;
  gboolean has_message_id;
  gboolean any_from;      /* it has a From field */
  char **recipients;      /* the addr-specs of To, Cc and Bcc, NULL-terminated */
} PstSendmailHeader;

void pst_sendmail_header_free (PstSendmailHeader *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstSendmailHeader, pst_sendmail_header_free)

/* Reads the header of @message as text: its fields and where they end,
 * what it lacks; not its addresses (from and recipients stay empty: the
 * agent parses them, pst_sendmail_header_set_addresses).  Errors
 * (PST_ERROR_FAILED): not an RFC 5322 header section.  Transfer full. */
PstSendmailHeader *pst_sendmail_header_read (GBytes *message, GError **error);

/* Sets the addresses of @h from the agent's message.addresses answer for
 * its header section: @from, the addr-spec of its one From, or NULL with
 * @from_problem saying why there is none; @recipients, To, Cc and Bcc.
 * Errors (PST_ERROR_FAILED, @from_problem): a From field that is neither
 * one address nor a local user's. */
gboolean pst_sendmail_header_set_addresses (PstSendmailHeader *h, const char *from,
                                            const char *from_problem, char **recipients,
                                            GError **error);

/* @message with what it lacks, on top, in its own line ends: "From: @name
 * <@from>" when it has no From (or a local one, which goes), a Date (now)
 * and a Message-ID (random, at @from's domain).  Errors (PST_ERROR_USAGE):
 * @from or @name cannot be written as a From.  Transfer full. */
GBytes *pst_sendmail_complete (GBytes *message, const PstSendmailHeader *h, const char *from,
                               const char *name, GError **error);

G_END_DECLS
