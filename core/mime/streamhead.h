/* streamhead.h — the header section of an entity gathered as its bytes
 * pass by, in writes of any size: opensink.c's decrypted entity and the
 * parts of its multipart, smimeread.c's entities.  Held up to and with
 * the empty line that ends it (pst_pgpstream_header_end, searched only
 * in what is new), never more than a bound plus one byte (a section of
 * max + 1 bytes is taken, as the readers it replaced took them); wiped
 * when wiped, reset or cleared, since it is plaintext. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  GByteArray *bytes;        /* gathered; once done, the header section */
  gsize max;
  gboolean done;
} PstStreamHead;

typedef enum {
  PST_STREAM_HEAD_MORE,       /* all the bytes given were taken; no end yet */
  PST_STREAM_HEAD_DONE,       /* the section ended within the bytes given */
  PST_STREAM_HEAD_TOO_LARGE,  /* no end within the first max + 1 bytes */
} PstStreamHeadState;

/* A head of at most @max + 1 bytes. */
void pst_stream_head_init (PstStreamHead *head, gsize max);
/* Wipes what was gathered, for the next entity. */
void pst_stream_head_reset (PstStreamHead *head);
/* Wipes what was gathered, once the caller is done with it (@head stays
 * done). */
void pst_stream_head_wipe (PstStreamHead *head);
/* Wipes and frees; the head may be cleared twice. */
void pst_stream_head_clear (PstStreamHead *head);

/* Takes bytes of the entity (@head not done): up to the end of the header
 * section when it ends within them (PST_STREAM_HEAD_DONE; @head->bytes is
 * then the section), else as many as fit in max + 1 (none once it is too
 * large).  *@used_out: how many of the @len bytes were taken (with DONE,
 * the rest are the body's). */
PstStreamHeadState pst_stream_head_feed (PstStreamHead *head, const char *data, gsize len,
                                         gsize *used_out);

/* The fields of the section (@head done), split as mime.h
 * pst_mime_entity_split does; NULL when it does not parse.  Transfer
 * full. */
GPtrArray *pst_stream_head_fields (PstStreamHead *head);

G_END_DECLS
