/* sevenbit-stream.c — see sevenbit-stream.h.  Written here for the reason
 * sevenbit.c is, and because libetpan's parser holds a message whole.
 *
 * The plan follows sevenbit.c's convert() an entity at a time as its bytes
 * pass, with the same splitting (an entity's header section ends at its
 * first empty line, pst_mime_entity_split; a multipart's parts are
 * partsplit.c's, pst_mime_split_multipart's rules).  Whether a leaf is
 * re-encoded depends on whether it holds an 8-bit byte, known only at its
 * end; so the plan counts a text leaf's quoted-printable size as it goes
 * (a base64 size follows from the length), and the second reading encodes
 * the leaves the first one chose.  convert() refuses only entities that
 * hold an 8-bit byte; so does the plan, whatever it could not parse. */
#include "mime/sevenbit-stream.h"

#include <string.h>

#include "mime/converters.h"
#include "mime/mime.h"
#include "mime/partsplit.h"
#include "mime/sevenbit.h"
#include "util/error.h"

#define PIECE 65536

typedef struct {
  guint64 start;   /* the leaf's first byte in the message */
  guint64 body;    /* its body's first byte */
  guint64 end;     /* after its last byte */
  gboolean text;   /* quoted-printable, else base64 */
  gboolean utf8;   /* its body is UTF-8 (pst_mime_7bit_leaf_header) */
} Edit;

struct _PstSevenBitPlan {
  GArray *edits;   /* Edit, in the message's order */
  guint64 size;
};

static guint64
count_8bit (const char *data, gsize len)
{
  guint64 n = 0;

  for (gsize i = 0; i < len; i++)
    n += (guchar) data[i] >> 7;
  return n;
}

/* ---- a leaf's encoder, written to memory ---------------------------------- */

typedef struct {
  GOutputStream *in;           /* what is written to */
  GMemoryOutputStream *mem;    /* what came out of it */
} Encoder;

static void
encoder_init (Encoder *enc, gboolean text)
{
  enc->mem = G_MEMORY_OUTPUT_STREAM (g_memory_output_stream_new_resizable ());
  if (text)
    {
      /* Quoted-printable works on CRLF lines (as convert_leaf). */
      g_autoptr (PstQpConverter) qp = pst_qp_converter_new (NULL);
      g_autoptr (PstCrlfConverter) crlf = pst_crlf_converter_new (NULL);
      g_autoptr (GOutputStream) qp_out =
        g_converter_output_stream_new (G_OUTPUT_STREAM (enc->mem), G_CONVERTER (qp));

      enc->in = g_converter_output_stream_new (qp_out, G_CONVERTER (crlf));
    }
  else
    {
      g_autoptr (PstBase64Converter) b64 = pst_base64_converter_new ();

      enc->in = g_converter_output_stream_new (G_OUTPUT_STREAM (enc->mem), G_CONVERTER (b64));
    }
}

static void
encoder_clear (Encoder *enc)
{
  g_clear_object (&enc->in);
  g_clear_object (&enc->mem);
}

/* Moves what came out so far to @out (may be NULL: dropped); its length. */
static gsize
encoder_take (Encoder *enc, GByteArray *out)
{
  gsize n = g_memory_output_stream_get_data_size (enc->mem);

  if (out != NULL && n > 0)
    g_byte_array_append (out, g_memory_output_stream_get_data (enc->mem), n);
  if (n > 0 && !g_output_stream_is_closed (G_OUTPUT_STREAM (enc->mem)))
    {
      g_seekable_seek (G_SEEKABLE (enc->mem), 0, G_SEEK_SET, NULL, NULL);
      g_seekable_truncate (G_SEEKABLE (enc->mem), 0, NULL, NULL);
    }
  return n;
}

/* Memory streams and these converters do not fail. */
static void
encoder_write (Encoder *enc, const char *data, gsize len)
{
  gboolean ok = g_output_stream_write_all (enc->in, data, len, NULL, NULL, NULL);

  g_assert (ok);
}

static void
encoder_close (Encoder *enc)
{
  gboolean ok = g_output_stream_close (enc->in, NULL, NULL);

  g_assert (ok);
}

/* append_base64's length for @n bytes: lines of 76, each with its CRLF. */
static guint64
base64_size (guint64 n)
{
  guint64 chars = (n + 2) / 3 * 4;

  return chars + 2 * ((chars + 75) / 76);
}

/* ---- UTF-8, judged in pieces: g_utf8_validate_len of the whole ---------------- */

typedef struct {
  gboolean bad;
  char carry[4];    /* a character begun at the end of the last piece */
  gsize carry_len;
} Utf8Check;

static void
utf8_feed (Utf8Check *u, const char *data, gsize len)
{
  const char *end = NULL;

  while (!u->bad && u->carry_len > 0 && len > 0)
    {
      gunichar c;

      u->carry[u->carry_len++] = *data++;
      len--;
      c = g_utf8_get_char_validated (u->carry, (gssize) u->carry_len);
      if (c == (gunichar) -2 && u->carry_len < 4)
        continue;
      /* g_utf8_validate_len takes NUL for invalid too. */
      u->bad = c == (gunichar) -1 || c == (gunichar) -2 || c == 0;
      u->carry_len = 0;
    }
  if (u->bad || len == 0 || g_utf8_validate_len (data, len, &end))
    return;
  len -= (gsize) (end - data);
  if (len < 4 && g_utf8_get_char_validated (end, (gssize) len) == (gunichar) -2)
    {
      memcpy (u->carry, end, len);
      u->carry_len = len;
    }
  else
    u->bad = TRUE;
}

static gboolean
utf8_end (const Utf8Check *u)
{
  return !u->bad && u->carry_len == 0;
}

/* ---- the plan ----------------------------------------------------------------- */

typedef enum { HEADER, MULTIPART, MESSAGE, LEAF, OPAQUE } State;

typedef struct Entity Entity;

struct _PstSevenBitPlanner {
  Entity *root;
  GArray *edits;
  guint64 len;        /* of the message so far */
  gint64 delta;       /* what the re-encoded leaves add */
  GError *error;      /* the first refusal */
};

struct Entity {
  PstSevenBitPlanner *p;
  guint depth;
  guint64 start;      /* its first byte in the message */
  guint64 pos;        /* after the last one seen */
  State state;
  guint64 eight;      /* 8-bit bytes in it so far */
  char *refusal;      /* OPAQUE, or a LEAF that cannot be re-encoded: why */
  GByteArray *head;   /* HEADER: its header section so far */
  gsize line;         /* HEADER: where the last line in head starts */
  /* MULTIPART: its parts; MESSAGE: the message in it */
  PstPartSplit *split;
  Entity *child;
  guint64 parts_eight;
  /* LEAF */
  gboolean text;
  guint64 body;
  GPtrArray *fields;  /* its header's */
  Utf8Check utf8;     /* its body's */
  Encoder enc;        /* text: its quoted-printable, counted */
  guint64 encoded;
};

static void entity_feed (Entity *e, const char *data, gsize len);
static void entity_end (Entity *e);

G_GNUC_PRINTF (2, 3) static void
refuse (PstSevenBitPlanner *p, const char *format, ...)
{
  va_list args;
  g_autofree char *why = NULL;

  if (p->error != NULL)
    return;
  va_start (args, format);
  why = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (&p->error, PST_ERROR, PST_ERROR_FAILED, "cannot make the message 7-bit: %s", why);
}

static Entity *
entity_new (PstSevenBitPlanner *p, guint depth, guint64 start)
{
  Entity *e = g_new0 (Entity, 1);

  e->p = p;
  e->depth = depth;
  e->start = e->pos = start;
  if (depth > PST_MIME_7BIT_MAX_DEPTH)
    {
      e->state = OPAQUE;
      e->refusal = g_strdup_printf ("MIME nesting deeper than %d", PST_MIME_7BIT_MAX_DEPTH);
    }
  else
    {
      e->state = HEADER;
      e->head = g_byte_array_new ();
    }
  return e;
}

static void
entity_free (Entity *e)
{
  if (e == NULL)
    return;
  if (e->head != NULL)
    g_byte_array_unref (e->head);
  g_clear_pointer (&e->split, pst_part_split_free);
  g_clear_pointer (&e->fields, g_ptr_array_unref);
  entity_free (e->child);
  encoder_clear (&e->enc);
  g_free (e->refusal);
  g_free (e);
}

/* From now on the entity is taken as it is: refused if it holds an 8-bit
 * byte (checked as its bytes come, entity_feed). */
static void
become_opaque (Entity *e, char *refusal)
{
  g_clear_pointer (&e->split, pst_part_split_free);
  g_clear_pointer (&e->child, entity_free);
  g_clear_pointer (&e->head, g_byte_array_unref);
  encoder_clear (&e->enc);
  g_free (e->refusal);
  e->refusal = refusal;
  e->state = OPAQUE;
}

static void
part_start (gpointer data, int index, guint64 offset)
{
  Entity *e = data;

  e->child = entity_new (e->p, e->depth + 1, offset);
}

static void
part_bytes (gpointer data, int index, const char *bytes, gsize len)
{
  entity_feed (((Entity *) data)->child, bytes, len);
}

static void
part_end (gpointer data, int index)
{
  Entity *e = data;

  entity_end (e->child);
  e->parts_eight += e->child->eight;
  g_clear_pointer (&e->child, entity_free);
}

static const PstPartSplitFuncs split_funcs = { part_start, part_bytes, part_end };

/* The header section in e->head is whole (it ends with its empty line):
 * what the entity is, as convert() decides. */
static void
header_done (Entity *e)
{
  g_autoptr (GBytes) head = g_bytes_new (e->head->data, e->head->len);
  g_autoptr (GPtrArray) fields = NULL;
  g_autoptr (GHashTable) params = NULL;
  g_autofree char *type = NULL;
  const char *boundary;
  gsize body_off = 0;

  e->body = e->start + e->head->len;
  if (!pst_mime_entity_split (head, &fields, &body_off))
    {
      become_opaque (e, g_strdup ("a MIME entity has no valid header"));
      return;
    }
  if (count_8bit ((const char *) e->head->data, body_off) > 0)
    {
      refuse (e->p, PST_MIME_7BIT_HEADER_REFUSAL);
      return;
    }
  g_clear_pointer (&e->head, g_byte_array_unref);
  type = pst_mime_entity_content_type (fields, &params);
  if (pst_mime_7bit_sealed_type (type))
    become_opaque (e, g_strdup_printf ("a %s part has 8-bit bytes and cannot be re-encoded "
                                       "without breaking it", type));
  else if (g_str_has_prefix (type, "multipart/")
           && (boundary = params ? g_hash_table_lookup (params, "boundary") : NULL) != NULL)
    {
      if (*boundary == '\0' || strlen (boundary) > 200)
        become_opaque (e, g_strdup ("multipart without a valid boundary"));
      else
        {
          e->state = MULTIPART;
          e->split = pst_part_split_new (boundary, e->body, &split_funcs, e);
        }
    }
  else if (strcmp (type, "message/rfc822") == 0)
    {
      e->state = MESSAGE;
      e->child = entity_new (e->p, e->depth + 1, e->body);
    }
  else
    {
      e->state = LEAF;
      e->text = g_str_has_prefix (type, "text/");
      e->refusal = pst_mime_7bit_leaf_refusal (fields, type);
      e->fields = g_steal_pointer (&fields);
      if (e->text)
        encoder_init (&e->enc, TRUE);
    }
}

/* Bytes of the entity's body (after its header section). */
static void
body_feed (Entity *e, const char *data, gsize len)
{
  switch (e->state)
    {
    case MULTIPART:
      if (!pst_part_split_feed (e->split, data, len) && e->p->error == NULL)
        become_opaque (e, g_strdup_printf ("a line of more than %d bytes may be a MIME delimiter",
                                           PST_PART_SPLIT_MAX_CANDIDATE));
      break;
    case MESSAGE:
      entity_feed (e->child, data, len);
      break;
    case LEAF:
      utf8_feed (&e->utf8, data, len);
      if (e->text)
        {
          encoder_write (&e->enc, data, len);
          e->encoded += encoder_take (&e->enc, NULL);
        }
      else
        e->encoded += len;   /* the body's length, until its end */
      break;
    case HEADER:
    case OPAQUE:
      break;
    }
}

/* Header bytes, up to the empty line that ends the section; what follows
 * it goes to the body. */
static void
header_feed (Entity *e, const char *data, gsize len)
{
  while (len > 0 && e->state == HEADER && e->p->error == NULL)
    {
      const char *nl = memchr (data, '\n', len);
      gsize n = nl != NULL ? (gsize) (nl - data) + 1 : len;
      gsize line_len;

      if (e->head->len + n > PST_MIME_7BIT_MAX_HEADER)
        {
          become_opaque (e, g_strdup_printf ("a header section is longer than %d bytes",
                                             PST_MIME_7BIT_MAX_HEADER));
          return;
        }
      g_byte_array_append (e->head, (const guint8 *) data, n);
      data += n;
      len -= n;
      if (nl == NULL)
        break;
      line_len = e->head->len - e->line;
      e->line = e->head->len;
      if (line_len == 1 || (line_len == 2 && e->head->data[e->head->len - 2] == '\r'))
        {
          header_done (e);
          if (len > 0 && e->p->error == NULL)
            body_feed (e, data, len);
          return;
        }
    }
}

static void
entity_feed (Entity *e, const char *data, gsize len)
{
  if (e->p->error != NULL)
    return;
  e->eight += count_8bit (data, len);
  e->pos += len;
  if (e->state == HEADER)
    header_feed (e, data, len);
  else
    body_feed (e, data, len);
  if (e->state == OPAQUE && e->eight > 0)
    refuse (e->p, "%s", e->refusal);
}

static void
entity_end (Entity *e)
{
  PstSevenBitPlanner *p = e->p;

  if (p->error != NULL)
    return;
  switch (e->state)
    {
    case HEADER:
      /* No empty line: all of it is header (pst_mime_split_header). */
      if (e->eight > 0)
        {
          g_autoptr (GBytes) head = g_bytes_new (e->head->data, e->head->len);
          g_autoptr (GPtrArray) fields = NULL;
          gsize body_off = 0;

          if (!pst_mime_entity_split (head, &fields, &body_off))
            refuse (p, "a MIME entity has no valid header");
          else
            refuse (p, PST_MIME_7BIT_HEADER_REFUSAL);
        }
      break;
    case MULTIPART:
      {
        gboolean ok = pst_part_split_end (e->split);

        g_assert (ok);   /* a failed splitter made the entity opaque */
        if (p->error != NULL || e->eight == 0)
          break;
        if (pst_part_split_parts (e->split) == 0 && !pst_part_split_closed (e->split))
          refuse (p, "multipart body without its boundary delimiter");
        else if (e->eight > e->parts_eight)
          refuse (p, "8-bit bytes outside the parts of a multipart (preamble or epilogue)");
      }
      break;
    case MESSAGE:
      entity_end (e->child);
      break;
    case LEAF:
      if (e->eight == 0)
        break;
      if (e->refusal != NULL)
        {
          refuse (p, "%s", e->refusal);
          break;
        }
      if (p->edits->len == PST_MIME_7BIT_MAX_LEAVES)
        {
          refuse (p, "more than %d parts to re-encode", PST_MIME_7BIT_MAX_LEAVES);
          break;
        }
      {
        Edit edit = { e->start, e->body, e->pos, e->text, utf8_end (&e->utf8) };
        g_autoptr (GString) head = g_string_new (NULL);

        if (e->text)
          {
            encoder_close (&e->enc);
            e->encoded += encoder_take (&e->enc, NULL);
          }
        else
          e->encoded = base64_size (e->encoded);
        pst_mime_7bit_leaf_header (e->fields, e->text, e->depth == 0, edit.utf8, head);
        g_array_append_val (p->edits, edit);
        p->delta += (gint64) (head->len + e->encoded) - (gint64) (e->pos - e->start);
      }
      break;
    case OPAQUE:
      break;
    }
}

PstSevenBitPlanner *
pst_mime_7bit_planner_new (void)
{
  PstSevenBitPlanner *p = g_new0 (PstSevenBitPlanner, 1);

  p->edits = g_array_new (FALSE, FALSE, sizeof (Edit));
  p->root = entity_new (p, 0, 0);
  return p;
}

void
pst_mime_7bit_planner_free (PstSevenBitPlanner *p)
{
  if (p == NULL)
    return;
  entity_free (p->root);
  g_array_unref (p->edits);
  g_clear_error (&p->error);
  g_free (p);
}

gboolean
pst_mime_7bit_planner_feed (PstSevenBitPlanner *p, const char *data, gsize len, GError **error)
{
  entity_feed (p->root, data, len);
  p->len += len;
  if (p->error != NULL)
    {
      g_propagate_error (error, g_error_copy (p->error));
      return FALSE;
    }
  return TRUE;
}

PstSevenBitPlan *
pst_mime_7bit_planner_finish (PstSevenBitPlanner *p, GError **error)
{
  PstSevenBitPlan *plan = NULL;

  entity_end (p->root);
  if (p->error != NULL)
    g_propagate_error (error, g_steal_pointer (&p->error));
  else
    {
      plan = g_new0 (PstSevenBitPlan, 1);
      plan->edits = g_array_ref (p->edits);
      plan->size = (guint64) ((gint64) p->len + p->delta);
    }
  pst_mime_7bit_planner_free (p);
  return plan;
}

PstSevenBitPlan *
pst_mime_7bit_plan (GInputStream *in, GCancellable *cancellable, GError **error)
{
  g_autoptr (PstSevenBitPlanner) p = pst_mime_7bit_planner_new ();
  g_autofree char *buf = g_malloc (PIECE);
  gssize n;

  while ((n = g_input_stream_read (in, buf, PIECE, cancellable, error)) > 0)
    if (!pst_mime_7bit_planner_feed (p, buf, (gsize) n, error))
      return NULL;
  if (n < 0)
    return NULL;
  return pst_mime_7bit_planner_finish (g_steal_pointer (&p), error);
}

guint64
pst_mime_7bit_plan_size (const PstSevenBitPlan *plan)
{
  return plan->size;
}

guint
pst_mime_7bit_plan_leaves (const PstSevenBitPlan *plan)
{
  return plan->edits->len;
}

void
pst_mime_7bit_plan_free (PstSevenBitPlan *plan)
{
  if (plan == NULL)
    return;
  g_array_unref (plan->edits);
  g_free (plan);
}

/* ---- the copy ------------------------------------------------------------------ */

typedef enum { COPY, HEAD, BODY } Phase;

#define PST_TYPE_SEVEN_BIT_INPUT (pst_seven_bit_input_get_type ())
G_DECLARE_FINAL_TYPE (PstSevenBitInput, pst_seven_bit_input, PST, SEVEN_BIT_INPUT, GInputStream)

struct _PstSevenBitInput {
  GInputStream parent;
  GInputStream *base;
  GArray *edits;
  guint64 size;       /* planned */
  guint next;         /* the next edit, or the one under way */
  guint64 pos;        /* in base */
  guint64 given;      /* bytes made so far */
  Phase phase;
  GByteArray *head;   /* HEAD: the leaf's header section */
  Encoder enc;        /* BODY */
  GByteArray *out;    /* made, not yet read */
  gsize out_at;
  char *buf;
  gboolean eof;
};

G_DEFINE_TYPE (PstSevenBitInput, pst_seven_bit_input, G_TYPE_INPUT_STREAM)

static void
give (PstSevenBitInput *self, const void *data, gsize len)
{
  g_byte_array_append (self->out, data, len);
  self->given += len;
}

static gboolean
changed (GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "the message is not the one its 7-bit copy was planned for");
  return FALSE;
}

/* The re-encoded header of the leaf whose header section is in self->head. */
static gboolean
give_head (PstSevenBitInput *self, const Edit *e, GError **error)
{
  g_autoptr (GBytes) head = g_bytes_new (self->head->data, self->head->len);
  g_autoptr (GPtrArray) fields = NULL;
  g_autoptr (GString) out = g_string_new (NULL);
  gsize body_off = 0;

  if (!pst_mime_entity_split (head, &fields, &body_off) || body_off != self->head->len)
    return changed (error);
  /* The message's own header is the one at its start. */
  pst_mime_7bit_leaf_header (fields, e->text, e->start == 0, e->utf8, out);
  give (self, out->str, out->len);
  g_byte_array_set_size (self->head, 0);
  return TRUE;
}

/* The next @len bytes of base (none: its end). */
static gboolean
process (PstSevenBitInput *self, const char *data, gsize len, GError **error)
{
  for (;;)
    {
      const Edit *e = self->next < self->edits->len
                        ? &g_array_index (self->edits, Edit, self->next) : NULL;
      gsize n;

      if (self->phase == COPY && e != NULL && self->pos == e->start)
        {
          self->phase = HEAD;
          continue;
        }
      if (self->phase == HEAD && self->pos == e->body)
        {
          if (!give_head (self, e, error))
            return FALSE;
          encoder_init (&self->enc, e->text);
          self->phase = BODY;
          continue;
        }
      if (self->phase == BODY && self->pos == e->end)
        {
          encoder_close (&self->enc);
          self->given += encoder_take (&self->enc, self->out);
          encoder_clear (&self->enc);
          self->next++;
          self->phase = COPY;
          continue;
        }
      if (len == 0)
        return TRUE;
      switch (self->phase)
        {
        case COPY:
          n = e != NULL ? (gsize) MIN ((guint64) len, e->start - self->pos) : len;
          give (self, data, n);
          break;
        case HEAD:
          n = (gsize) MIN ((guint64) len, e->body - self->pos);
          g_byte_array_append (self->head, (const guint8 *) data, n);
          break;
        case BODY:
        default:
          n = (gsize) MIN ((guint64) len, e->end - self->pos);
          encoder_write (&self->enc, data, n);
          self->given += encoder_take (&self->enc, self->out);
          break;
        }
      self->pos += n;
      data += n;
      len -= n;
    }
}

static gssize
seven_bit_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable,
                GError **error)
{
  PstSevenBitInput *self = PST_SEVEN_BIT_INPUT (stream);
  gsize n;

  while (self->out_at == self->out->len && !self->eof)
    {
      gssize got = g_input_stream_read (self->base, self->buf, PIECE, cancellable, error);

      g_byte_array_set_size (self->out, 0);
      self->out_at = 0;
      if (got < 0)
        return -1;
      if (got == 0)
        {
          self->eof = TRUE;
          if (!process (self, NULL, 0, error))
            return -1;
          if (self->phase != COPY || self->next != self->edits->len || self->given != self->size)
            {
              changed (error);
              return -1;
            }
        }
      else if (!process (self, self->buf, (gsize) got, error))
        return -1;
    }
  n = MIN (count, self->out->len - self->out_at);
  if (n == 0)
    return 0;
  memcpy (buffer, self->out->data + self->out_at, n);
  self->out_at += n;
  return (gssize) n;
}

static gboolean
seven_bit_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  return g_input_stream_close (PST_SEVEN_BIT_INPUT (stream)->base, cancellable, error);
}

static void
seven_bit_finalize (GObject *object)
{
  PstSevenBitInput *self = PST_SEVEN_BIT_INPUT (object);

  g_clear_object (&self->base);
  g_array_unref (self->edits);
  g_byte_array_unref (self->head);
  g_byte_array_unref (self->out);
  encoder_clear (&self->enc);
  g_free (self->buf);
  G_OBJECT_CLASS (pst_seven_bit_input_parent_class)->finalize (object);
}

static void
pst_seven_bit_input_class_init (PstSevenBitInputClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = seven_bit_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = seven_bit_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = seven_bit_close;
}

static void
pst_seven_bit_input_init (PstSevenBitInput *self)
{
  self->head = g_byte_array_new ();
  self->out = g_byte_array_new ();
  self->buf = g_malloc (PIECE);
}

GInputStream *
pst_mime_7bit_input_new (GInputStream *base, const PstSevenBitPlan *plan)
{
  PstSevenBitInput *self = g_object_new (PST_TYPE_SEVEN_BIT_INPUT, NULL);

  self->base = g_object_ref (base);
  self->edits = g_array_copy (plan->edits);
  self->size = plan->size;
  return G_INPUT_STREAM (self);
}
