/* opensink.h — where a message decrypted as a stream goes (pgpstream.c,
 * smimestream.c): the decrypted entity's header section is held back
 * (bounded) until the header shown (hp.h) can be written in its place;
 * then everything passes through.  An entity that the in-memory reader
 * would look into (a multipart or text/plain, unless taken by
 * pst_open_sink_take_text; message/rfc822, another S/MIME layer), a
 * header section too large, or protected address fields that
 * differ from the outer ones (the header shown would then depend on a
 * signature known only at the end) set @fallback and fail the write
 * before anything was written: the caller reads the message in memory. */
#pragma once

#include <gio/gio.h>
#include "crypto/sha256.h"
#include "crypto/status.h"
#include "mime/inlinescan.h"
#include "mime/partsplit.h"
#include "mime/streamhead.h"

G_BEGIN_DECLS

#define PST_TYPE_OPEN_SINK (pst_open_sink_get_type ())
G_DECLARE_FINAL_TYPE (PstOpenSink, pst_open_sink, PST, OPEN_SINK, GOutputStream)

/* The fields are the sink's; callers read passing, fallback, too_large
 * and shown after the decryption. */
struct _PstOpenSink {
  GOutputStream parent;
  GOutputStream *out;
  GPtrArray *outer_fields;
  PstStreamHead head;       /* the decrypted entity's header section */
  gboolean passing;         /* the header was written */
  gboolean fallback;
  PstStatus *status;        /* decryption, encryption_covers, protected_headers set here */
  GPtrArray *shown;         /* the header fields shown */
  const guint64 *consumed;  /* input read so far, or NULL */
  guint64 passed;
  gboolean too_large;
  gboolean out_failed;      /* a write to @out failed: its error, not a verdict on the message */
  /* pst_open_sink_take_text: a text/plain entity passes too, when the
   * in-memory reader would pass it on as it is; body_sum is the SHA-256 of
   * all that came after the header section, and with @judging nothing is
   * written, and scan.found says whether a line of the body begins an
   * inline OpenPGP block (which the in-memory reader would open). */
  gboolean take_text;
  gboolean judge_text;      /* a text entity is judged; another leaf passes (written) */
  gboolean judging;         /* a text entity taken with judge_text, or one whose header shown
                             * depends on the signature: nothing is written */
  gboolean signer_known;    /* pst_open_sink_set_signer: the header shown is chosen with it */
  char **signer;
  PstInlineScan scan;       /* initialised, and so fed the body, for a text (or a text part) only */
  PstSha256 *body_sum;
  /* A multipart taken with take_text (parts, pst_open_sink_finish): its
   * parts looked at as they pass, and, when the header is protected,
   * written again part by part as the in-memory reader writes them
   * (hp.c strip_legacy_display: without preamble and epilogue). */
  PstPartSplit *parts;
  char *boundary;
  gboolean rebuild;
  PstStreamHead part_head;  /* the current part's header section */
  gboolean parts_for_memory;  /* a part the in-memory reader looks into, or one not judged here */
  GByteArray *rebuild_buf;  /* what the splitter hands on, a few bytes at a time, written in blocks */
  GError *rebuild_error;    /* of a write the splitter made */
};

/* A sink writing to @out (not owned) for the message whose outer header
 * fields are @outer_fields (not owned), setting @status (not owned).
 * With @consumed (not owned, may be NULL: no limit), the plaintext may not
 * exceed MAX (PST_DECRYPTION_MAX_OUTPUT, *@consumed): past it the write
 * fails and too_large says so (crypto/status.h).  Transfer full. */
PstOpenSink *pst_open_sink_new (GOutputStream *out, GPtrArray *outer_fields, PstStatus *status,
                                const guint64 *consumed);

/* Lets @self take a text/plain entity whose body the in-memory reader
 * passes on as it is: one Content-Type and at most one
 * Content-Transfer-Encoding, that none, 7bit, 8bit, binary, base64 or
 * quoted-printable (the last two decoded as they pass, only to be looked
 * at, as the reader decodes them to look for inline blocks), no
 * hp-legacy-display parameter (RFC 9788 §4.6: the reader strips a header
 * block from it).  Whether it holds an inline OpenPGP block is known only
 * at its end: with @judging a text entity is judged (judging set: nothing
 * written, inline blocks looked for; once one is seen the write fails with
 * @fallback set, nothing more being worth decrypting), so that the caller
 * writes it afterwards, from a copy it kept or decrypting it again
 * (pgpstream.c); any other leaf is written as without this.  A multipart
 * (not signed or encrypted, one boundary) is taken the same way, each part
 * looked at as it passes: a leaf, or a text as above, else @fallback; and
 * written, under a protected header, part by part as hp.c
 * strip_legacy_display writes it (pst_open_sink_finish). */
void pst_open_sink_take_text (PstOpenSink *self, gboolean judging);

/* The end of the plaintext, after the decryption succeeded.  For a
 * multipart taken by pst_open_sink_take_text: judged, FALSE with
 * @fallback set when a part or the end of the body is one the in-memory
 * reader reads otherwise (nothing was written); written again part by
 * part, its close delimiter written (FALSE: the output's error,
 * out_failed).  TRUE otherwise. */
gboolean pst_open_sink_finish (PstOpenSink *self, GError **error);

/* The signature is known (a first decryption judged the entity): the
 * header shown is the one a good signature by @signer's addresses gives
 * (hp.h pst_hp_shown_fields; NULL: no good signature covering it all).
 * Without this, an entity whose header shown would depend on the signature
 * is judged with take_text's @judging, else left to the in-memory reader. */
void pst_open_sink_set_signer (PstOpenSink *self, const char *const *signer);

G_END_DECLS
