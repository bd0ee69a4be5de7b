#include "mime/mime.h"

#include <glib/gi18n-lib.h>
#include <libetpan/libetpan.h>
#include <string.h>

#include "util/addr.h"
#include "util/error.h"
#include "util/secret.h"

struct _PstMimeMessage {
  GBytes *data;
  GPtrArray *fields;          /* raw header fields, char* */
  gsize body_offset;
  struct mailmime *mime;      /* the whole tree, parsed on first use */
  gboolean mime_parsed;
};

/* --- Entities ------------------------------------------------------------- */

static char *
content_type_string (struct mailmime_content *ct)
{
  const char *type = NULL;

  if (ct == NULL || ct->ct_type == NULL || ct->ct_subtype == NULL)
    return NULL;
  if (ct->ct_type->tp_type == MAILMIME_TYPE_DISCRETE_TYPE)
    {
      struct mailmime_discrete_type *d = ct->ct_type->tp_data.tp_discrete_type;

      switch (d->dt_type)
        {
        case MAILMIME_DISCRETE_TYPE_TEXT: type = "text"; break;
        case MAILMIME_DISCRETE_TYPE_IMAGE: type = "image"; break;
        case MAILMIME_DISCRETE_TYPE_AUDIO: type = "audio"; break;
        case MAILMIME_DISCRETE_TYPE_VIDEO: type = "video"; break;
        case MAILMIME_DISCRETE_TYPE_APPLICATION: type = "application"; break;
        default: type = d->dt_extension; break;
        }
    }
  else if (ct->ct_type->tp_type == MAILMIME_TYPE_COMPOSITE_TYPE)
    {
      struct mailmime_composite_type *c = ct->ct_type->tp_data.tp_composite_type;

      switch (c->ct_type)
        {
        case MAILMIME_COMPOSITE_TYPE_MESSAGE: type = "message"; break;
        case MAILMIME_COMPOSITE_TYPE_MULTIPART: type = "multipart"; break;
        default: type = c->ct_token; break;
        }
    }
  if (type == NULL)
    return NULL;
  {
    g_autofree char *joined = g_strconcat (type, "/", ct->ct_subtype, NULL);
    return g_ascii_strdown (joined, -1);
  }
}

char *
pst_mime_parse_content_type (const char *value, GHashTable **params_out)
{
  struct mailmime_content *ct = NULL;
  size_t idx = 0;
  char *type;

  if (mailmime_content_parse (value, strlen (value), &idx, &ct) != MAILIMF_NO_ERROR)
    return NULL;
  type = content_type_string (ct);
  if (type != NULL && params_out != NULL)
    {
      GHashTable *params = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

      for (clistiter *it = clist_begin (ct->ct_parameters); it != NULL; it = clist_next (it))
        {
          struct mailmime_parameter *p = clist_content (it);

          if (p->pa_name != NULL && p->pa_value != NULL)
            g_hash_table_replace (params, g_ascii_strdown (p->pa_name, -1), g_strdup (p->pa_value));
        }
      *params_out = params;
    }
  mailmime_content_free (ct);
  return type;
}

/* Whether @line (up to @end) is the delimiter "--boundary" or, with *close,
 * "--boundary--", followed only by white space. */
static gboolean
is_delimiter (const char *line, gsize len, const char *boundary, gsize blen, gboolean *close)
{
  gsize i;

  *close = FALSE;
  if (len < blen + 2 || line[0] != '-' || line[1] != '-' || memcmp (line + 2, boundary, blen) != 0)
    return FALSE;
  i = blen + 2;
  *close = len >= i + 2 && line[i] == '-' && line[i + 1] == '-';
  if (*close)
    i += 2;
  for (; i < len; i++)
    if (line[i] != ' ' && line[i] != '\t')
      return FALSE;
  return TRUE;
}

gboolean
pst_mime_is_delimiter (const char *line, gsize len, const char *boundary, gboolean *close_out)
{
  if (len > 0 && line[len - 1] == '\n')
    len--;
  if (len > 0 && line[len - 1] == '\r')
    len--;
  return is_delimiter (line, len, boundary, strlen (boundary), close_out);
}

GArray *
pst_mime_split_multipart (const char *body, gsize len, const char *boundary, GError **error)
{
  g_autoptr(GArray) spans = g_array_new (FALSE, FALSE, sizeof (PstMimeSpan));
  gsize blen = boundary != NULL ? strlen (boundary) : 0;
  gsize pos = 0, part_start = 0;
  gboolean in_part = FALSE, seen = FALSE;

  if (blen == 0 || blen > 200)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "multipart without a valid boundary");
      return NULL;
    }
  while (pos < len)
    {
      gsize next, end = pst_mime_line_end (body, len, pos, &next);
      gboolean close = FALSE;

      if (is_delimiter (body + pos, end - pos, boundary, blen, &close))
        {
          if (in_part)
            {
              /* The line end before the delimiter belongs to it. */
              gsize part_end = pos;
              if (part_end > part_start && body[part_end - 1] == '\n')
                part_end--;
              if (part_end > part_start && body[part_end - 1] == '\r')
                part_end--;
              g_array_append_val (spans, ((PstMimeSpan) { part_start, part_end - part_start }));
            }
          seen = TRUE;
          in_part = !close;
          part_start = next;
          if (close)
            break;
        }
      pos = next;
    }
  if (in_part && part_start < len)
    g_array_append_val (spans, ((PstMimeSpan) { part_start, len - part_start }));
  if (!seen)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "multipart body without its boundary delimiter");
      return NULL;
    }
  return g_steal_pointer (&spans);
}

GBytes *
pst_mime_to_crlf (const char *data, gsize len)
{
  GByteArray *out = g_byte_array_sized_new (len + len / 32 + 2);
  gsize i = 0;

  /* Runs of ordinary bytes are copied whole: a byte at a time cost a
   * twentieth of an S/MIME batch's time (docs/performance.md). */
  while (i < len)
    {
      gsize run = i;

      while (run < len && data[run] != '\r' && data[run] != '\n')
        run++;
      g_byte_array_append (out, (const guint8 *) data + i, (guint) (run - i));
      if (run == len)
        break;
      g_byte_array_append (out, (const guint8 *) "\r\n", 2);
      i = run + (data[run] == '\r' && run + 1 < len && data[run + 1] == '\n' ? 2 : 1);
    }
  return g_byte_array_free_to_bytes (out);
}

GBytes *
pst_mime_bytes_to_crlf (GBytes *bytes)
{
  gsize len = 0, crs = 0, lfs = 0;
  const char *data = g_bytes_get_data (bytes, &len);
  const char *p, *end = data + len;

  /* Each LF after a CR, and no other CR: CRLF only. */
  for (p = data; p != NULL && p < end && (p = memchr (p, '\n', (gsize) (end - p))) != NULL; p++)
    {
      if (p == data || p[-1] != '\r')
        return pst_mime_to_crlf (data, len);
      lfs++;
    }
  for (p = data; p != NULL && p < end && (p = memchr (p, '\r', (gsize) (end - p))) != NULL; p++)
    crs++;
  return crs == lfs ? g_bytes_ref (bytes) : pst_mime_to_crlf (data, len);
}

gboolean
pst_mime_is_content_field (const char *field)
{
  return g_ascii_strncasecmp (field, "Content-", 8) == 0;
}

const char *
pst_mime_find_field (GPtrArray *fields, const char *name, guint *count_out)
{
  const char *first = NULL;
  guint count = 0;

  for (guint i = 0; fields != NULL && i < fields->len; i++)
    if (pst_mime_field_is (fields->pdata[i], name))
      {
        if (first == NULL)
          first = fields->pdata[i];
        count++;
      }
  if (count_out != NULL)
    *count_out = count;
  return first;
}

void
pst_mime_append_field (GString *s, const char *field)
{
  g_string_append (s, field);
  if (s->len == 0 || s->str[s->len - 1] != '\n')
    g_string_append (s, "\r\n");
}

gboolean
pst_mime_entity_split (GBytes *entity, GPtrArray **fields_out, gsize *body_out)
{
  gsize len = 0;
  const char *p = g_bytes_get_data (entity, &len);

  if (len > 0 && (p[0] == '\n' || (len > 1 && p[0] == '\r' && p[1] == '\n')))
    {
      *fields_out = g_ptr_array_new_with_free_func (g_free);
      *body_out = p[0] == '\n' ? 1 : 2;
      return TRUE;
    }
  return p != NULL && pst_mime_split_header (p, len, fields_out, body_out, NULL);
}

char *
pst_mime_entity_content_type (GPtrArray *fields, GHashTable **params_out)
{
  const char *field = pst_mime_find_field (fields, "Content-Type", NULL);
  g_autofree char *value = NULL;
  char *type;

  if (field != NULL)
    {
      value = pst_mime_field_value (field);
      type = pst_mime_parse_content_type (value, params_out);
      if (type != NULL)
        return type;
    }
  if (params_out != NULL)
    *params_out = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return g_strdup ("text/plain");
}

GBytes *
pst_mime_span_bytes (GBytes *entity, gsize body_offset, const PstMimeSpan *span)
{
  return g_bytes_new_from_bytes (entity, body_offset + span->offset, span->length);
}

/* The one From address of @fields (DESIGN.md §4): exactly one From field
 * holding exactly one mailbox and nothing after it.  The only place that
 * says so: pst_mime_single_from and pst_mime_message_get_from_address
 * differ only in telling why not. */
static char *
one_from_address (GPtrArray *fields, const char **why_out)
{
  struct mailimf_mailbox_list *list = NULL;
  g_autofree char *value = NULL;
  guint count;
  const char *field = pst_mime_find_field (fields, "From", &count);
  size_t idx = 0;
  char *addr = NULL;

  if (count != 1)
    {
      *why_out = count == 0 ? N_("the message has no From header")
                            : N_("the message has several From headers");
      return NULL;
    }
  value = pst_mime_field_value (field);
  if (mailimf_mailbox_list_parse (value, strlen (value), &idx, &list) != MAILIMF_NO_ERROR)
    {
      *why_out = N_("the From header is not an address");
      return NULL;
    }
  /* libetpan stops at what it cannot read: "eve@evil.test bob@bank.test"
   * parses as one mailbox followed by junk. */
  while (idx < strlen (value) && g_ascii_isspace (value[idx]))
    idx++;
  if (clist_count (list->mb_list) != 1 || idx != strlen (value))
    *why_out = clist_count (list->mb_list) > 1 ? N_("the From header holds several addresses")
                                               : N_("the From header is not an address");
  else
    {
      struct mailimf_mailbox *mb = clist_content (clist_begin (list->mb_list));

      addr = pst_addr_extract (mb->mb_addr_spec);
      /* libetpan drops the white space in "eve@evil.test bob@bank.test",
       * making one "addr-spec" of two; a quoted local part aside, one
       * mailbox has one '@'. */
      if (addr != NULL && addr[0] != '"' && strchr (addr, '@') != strrchr (addr, '@'))
        g_clear_pointer (&addr, g_free);
      if (addr == NULL)
        *why_out = N_("the From header is not an address");
    }
  mailimf_mailbox_list_free (list);
  return addr;
}

char *
pst_mime_single_from (GPtrArray *fields)
{
  const char *why = NULL;

  return one_from_address (fields, &why);
}

GBytes *
pst_mime_signature_part (GBytes *entity, gsize body_offset, GArray *spans,
                         const char *const *types)
{
  g_autoptr(GBytes) part = NULL;
  g_autoptr(GPtrArray) fields = NULL;
  g_autofree char *type = NULL;
  gsize body = 0, len = 0;
  const char *p;

  if (spans == NULL || spans->len < 2)
    return NULL;
  part = pst_mime_span_bytes (entity, body_offset, &g_array_index (spans, PstMimeSpan, 1));
  if (!pst_mime_entity_split (part, &fields, &body))
    return NULL;
  type = pst_mime_entity_content_type (fields, NULL);
  if (!g_strv_contains (types, type))
    return NULL;
  p = g_bytes_get_data (part, &len);
  for (gsize i = body; i < len; i++)
    if (!g_ascii_isspace (p[i]))
      return g_bytes_new_from_bytes (part, body, len - body);
  return NULL;
}

gint64
pst_mime_parse_date (const char *value)
{
  struct mailimf_date_time *d = NULL;
  size_t idx = 0;
  gint64 t = 0;

  if (mailimf_date_time_parse (value, strlen (value), &idx, &d) != MAILIMF_NO_ERROR)
    return 0;
  /* The zone is "+hhmm" (RFC 5322 §3.3): libetpan gives whatever digits
   * there were, and a zone of more than four digits is no date (its
   * multiplication overflowed an int before: found by fuzz-smime). */
  if (d->dt_month >= 1 && d->dt_month <= 12 && d->dt_day >= 1 && d->dt_day <= 31
      && d->dt_year > 1900 && d->dt_year < 10000 && d->dt_hour < 24 && d->dt_min < 60
      && d->dt_sec <= 60 && d->dt_zone >= -9959 && d->dt_zone <= 9959)
    {
      g_autoptr(GDateTime) dt = g_date_time_new_utc (d->dt_year, d->dt_month, d->dt_day,
                                                     d->dt_hour, d->dt_min, MIN (d->dt_sec, 59));
      int zone = d->dt_zone < 0 ? -d->dt_zone : d->dt_zone;
      gint64 off = (gint64) (zone / 100) * 3600 + (gint64) (zone % 100) * 60;

      if (dt != NULL)
        t = g_date_time_to_unix (dt) - (d->dt_zone < 0 ? -off : off);
    }
  mailimf_date_time_free (d);
  return t;
}

gint64
pst_mime_fields_date (GPtrArray *fields)
{
  const char *field = pst_mime_find_field (fields, "Date", NULL);
  g_autofree char *value = field != NULL ? pst_mime_field_value (field) : NULL;

  return value != NULL ? pst_mime_parse_date (value) : 0;
}


static gboolean
bytes_contain (GBytes *bytes, const char *needle)
{
  gsize len = 0;
  const char *p = g_bytes_get_data (bytes, &len);

  return p != NULL && g_strstr_len (p, len, needle) != NULL;
}

char *
pst_mime_new_boundary (GBytes *a, GBytes *b)
{
  while (TRUE)
    {
      g_autofree char *token = pst_mime_random_token ();
      char *boundary = g_strconcat ("=-pst-", token, NULL);
      g_autofree char *delim = g_strconcat ("--", boundary, NULL);

      if ((a == NULL || !bytes_contain (a, delim)) && (b == NULL || !bytes_contain (b, delim)))
        return boundary;
      g_free (boundary);
    }
}

/* --- Writing entities ----------------------------------------------------- */

/* The first CRLF in @s, or NULL; a NUL does not end @s (g_strstr_len
 * stops at one, which made a body's CRLF after a NUL data). */
static const char *
find_crlf (const char *s, gsize len)
{
  const char *end = s + len;

  while ((s = memchr (s, '\r', (gsize) (end - s))) != NULL)
    {
      if (s + 1 < end && s[1] == '\n')
        return s;
      s++;
    }
  return NULL;
}

static gboolean
line_needs_qp (const char *line, gsize len)
{
  if (len > 998 || (len >= 5 && memcmp (line, "From ", 5) == 0))
    return TRUE;
  if (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
    return TRUE;
  for (gsize i = 0; i < len; i++)
    if ((guchar) line[i] >= 0x80 || line[i] == '\0' || line[i] == '\r')
      return TRUE;
  return FALSE;
}

gboolean
pst_mime_body_needs_qp (const char *body, gsize len)
{
  gsize pos = 0;

  while (pos < len)
    {
      const char *nl = find_crlf (body + pos, len - pos);
      gsize end = nl != NULL ? (gsize) (nl - body) : len;

      if (line_needs_qp (body + pos, end - pos))
        return TRUE;
      pos = nl != NULL ? end + 2 : len;
    }
  return FALSE;
}

void
pst_mime_qp_scan_init (PstQpScan *scan)
{
  memset (scan, 0, sizeof *scan);
}

static void
qp_scan_line_end (PstQpScan *scan)
{
  if (scan->col > 998 || (scan->col >= 5 && memcmp (scan->head, "From ", 5) == 0)
      || (scan->col > 0 && (scan->last == ' ' || scan->last == '\t')))
    scan->needs = TRUE;
  scan->col = 0;
}

void
pst_mime_qp_scan_feed (PstQpScan *scan, const char *data, gsize len)
{
  for (gsize i = 0; i < len && !(scan->needs && scan->eight_bit); i++)
    {
      char c = data[i];

      /* CR, LF and CRLF each end a line (pst_mime_to_crlf). */
      if (c == '\n' && scan->after_cr)
        {
          scan->after_cr = FALSE;
          continue;
        }
      scan->after_cr = c == '\r';
      if (c == '\r' || c == '\n')
        {
          qp_scan_line_end (scan);
          continue;
        }
      if (scan->col < sizeof scan->head)
        scan->head[scan->col] = c;
      scan->col++;
      scan->last = c;
      if ((guchar) c >= 0x80)
        scan->needs = scan->eight_bit = TRUE;
      else if (c == '\0')
        scan->needs = TRUE;
    }
}

gboolean
pst_mime_qp_scan_end (PstQpScan *scan)
{
  if (!scan->needs && scan->col > 0)
    qp_scan_line_end (scan);
  return scan->needs;
}

void
pst_mime_qp_encode (GString *out, const char *body, gsize len)
{
  gsize pos = 0;

  while (pos < len)
    {
      const char *nl = find_crlf (body + pos, len - pos);
      gsize end = nl != NULL ? (gsize) (nl - body) : len;
      gsize col = 0;

      for (gsize i = pos; i < end; i++)
        {
          guchar c = body[i];
          gboolean last = i + 1 == end;
          char enc[4];
          gsize n;

          if ((c == ' ' || c == '\t') && !last)
            enc[0] = c, n = 1;
          else if (c > 32 && c < 127 && c != '=' && !(i == pos && c == 'F' && end - pos >= 5
                                                        && memcmp (body + pos, "From ", 5) == 0))
            enc[0] = c, n = 1;
          else
            {
              g_snprintf (enc, sizeof enc, "=%02X", c);
              n = 3;
            }
          if (col + n > 75)
            {
              g_string_append (out, "=\r\n");
              col = 0;
            }
          g_string_append_len (out, enc, n);
          col += n;
        }
      if (nl != NULL)
        g_string_append (out, "\r\n");
      pos = nl != NULL ? end + 2 : len;
    }
}

/* The entity's header section and its empty line, CRLF: the Content-*
 * fields of @fields with @ct_param, @extra_fields, and the encoding the
 * body gets (@qp: quoted-printable; @eight_bit: 8bit when none is named). */
static GString *
entity_head (GPtrArray *fields, gboolean eight_bit, gboolean qp, const char *ct_param,
             GPtrArray *extra_fields)
{
  const char *ct_field = pst_mime_find_field (fields, "Content-Type", NULL);
  const char *cte_field = pst_mime_find_field (fields, "Content-Transfer-Encoding", NULL);
  g_autoptr(GString) e = g_string_new (NULL);
  g_autoptr(GBytes) head = NULL;
  gsize hlen = 0;
  const char *h;
  GString *all;

  if (ct_field == NULL)
    g_string_append_printf (e, "Content-Type: text/plain; charset=%s%s%s\r\n",
                            eight_bit ? "utf-8" : "us-ascii", ct_param != NULL ? "; " : "",
                            ct_param != NULL ? ct_param : "");
  for (guint i = 0; i < fields->len; i++)
    {
      const char *f = fields->pdata[i];

      if (!pst_mime_is_content_field (f) || (qp && pst_mime_field_is (f, "Content-Transfer-Encoding")))
        continue;
      if (ct_param != NULL && f == ct_field)
        {
          gsize flen = strlen (f);

          while (flen > 0 && (f[flen - 1] == '\n' || f[flen - 1] == '\r'))
            flen--;
          g_string_append_len (e, f, flen);
          g_string_append_printf (e, ";\r\n %s\r\n", ct_param);
          continue;
        }
      pst_mime_append_field (e, f);
    }
  for (guint i = 0; extra_fields != NULL && i < extra_fields->len; i++)
    pst_mime_append_field (e, extra_fields->pdata[i]);
  if (qp)
    g_string_append (e, "Content-Transfer-Encoding: quoted-printable\n");
  else if (cte_field == NULL && eight_bit)
    g_string_append (e, "Content-Transfer-Encoding: 8bit\n");
  /* Normalise the header part. */
  head = pst_mime_to_crlf (e->str, e->len);
  h = g_bytes_get_data (head, &hlen);
  all = g_string_new_len (h, hlen);
  if (hlen < 2 || h[hlen - 1] != '\n')
    g_string_append (all, "\r\n");
  g_string_append (all, "\r\n");
  return all;
}

/* Whether @fields' single part declared 7bit, 8bit or binary (or with no
 * encoding) may be re-encoded as quoted-printable. */
static gboolean
qp_allowed (GPtrArray *fields)
{
  const char *cte_field = pst_mime_find_field (fields, "Content-Transfer-Encoding", NULL);
  g_autofree char *type = pst_mime_entity_content_type (fields, NULL);
  g_autofree char *cte = cte_field != NULL ? pst_mime_field_value (cte_field) : NULL;

  return !g_str_has_prefix (type, "multipart/") && !g_str_has_prefix (type, "message/")
         && (cte == NULL || g_ascii_strcasecmp (cte, "7bit") == 0
             || g_ascii_strcasecmp (cte, "8bit") == 0 || g_ascii_strcasecmp (cte, "binary") == 0);
}

gboolean
pst_mime_entity_head_needs_body (GPtrArray *fields, gboolean seven_bit)
{
  return pst_mime_find_field (fields, "Content-Type", NULL) == NULL
         || pst_mime_find_field (fields, "Content-Transfer-Encoding", NULL) == NULL
         || (seven_bit && qp_allowed (fields));
}

/* The entity's header for a body that @body describes (may be NULL when
 * the header does not depend on it), and *@qp_out: whether the body is to
 * be quoted-printable.  The one decision of both pst_mime_build_entity and
 * pst_mime_build_entity_head. */
static GString *
entity_head_for (GPtrArray *fields, gboolean seven_bit, const PstBodyScan *body,
                 const char *ct_param, GPtrArray *extra_fields, gboolean *qp_out)
{
  *qp_out = seven_bit && qp_allowed (fields) && body != NULL && body->needs_qp;
  return entity_head (fields, body != NULL && body->eight_bit, *qp_out, ct_param, extra_fields);
}

GBytes *
pst_mime_build_entity_head (GPtrArray *fields, gboolean seven_bit, const PstBodyScan *body,
                            const char *ct_param, GPtrArray *extra_fields, gboolean *qp_out)
{
  g_return_val_if_fail (body != NULL || !pst_mime_entity_head_needs_body (fields, seven_bit), NULL);
  return g_string_free_to_bytes (entity_head_for (fields, seven_bit, body, ct_param, extra_fields,
                                                  qp_out));
}

GBytes *
pst_mime_build_entity (GPtrArray *fields, const char *body, gsize body_len, gboolean seven_bit,
                       const char *ct_param, GPtrArray *extra_fields)
{
  g_autoptr(GBytes) crlf_body = pst_mime_to_crlf (body, body_len);
  gsize blen = 0;
  const char *b = g_bytes_get_data (crlf_body, &blen);
  PstQpScan scan;
  PstBodyScan facts;
  gboolean qp = FALSE;
  GString *all;

  pst_mime_qp_scan_init (&scan);
  pst_mime_qp_scan_feed (&scan, b, blen);
  facts.needs_qp = pst_mime_qp_scan_end (&scan);
  facts.eight_bit = scan.eight_bit;
  all = entity_head_for (fields, seven_bit, &facts, ct_param, extra_fields, &qp);
  if (qp)
    pst_mime_qp_encode (all, b, blen);
  else
    g_string_append_len (all, b, blen);
  return g_string_free_to_bytes (all);
}

/* --- Messages ------------------------------------------------------------- */

#define QP_PAD 4

GBytes *
pst_mime_decode_transfer (const char *data, gsize len, int mechanism)
{
  g_autofree char *padded = g_malloc0 (len + QP_PAD);
  char *raw = NULL;
  size_t raw_len = 0, idx = 0;
  GBytes *out;

  /* libetpan's quoted-printable decoder reads the two bytes after a final
   * "=" even past the end (found by fuzzing): give it a copy with NUL bytes
   * behind. */
  memcpy (padded, data, len);
  if (mailmime_part_parse (padded, len, &idx, mechanism, &raw, &raw_len) != MAILIMF_NO_ERROR)
    return NULL;
  out = g_bytes_new (raw, raw_len);
  mailmime_decoded_part_free (raw);
  return out;
}

PstMimeMessage *
pst_mime_message_parse (GBytes *data, GError **error)
{
  g_autoptr(PstMimeMessage) message = g_new0 (PstMimeMessage, 1);
  gsize len = 0;
  const char *p = g_bytes_get_data (data, &len);

  if (p == NULL || len == 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "not a message: it is empty");
      return NULL;
    }
  if (!pst_mime_split_header (p, len, &message->fields, &message->body_offset, error))
    return NULL;
  message->data = g_bytes_ref (data);
  return g_steal_pointer (&message);
}

void
pst_mime_message_free (PstMimeMessage *message)
{
  if (message == NULL)
    return;
  if (message->mime != NULL)
    mailmime_free (message->mime);
  g_clear_pointer (&message->fields, g_ptr_array_unref);
  g_clear_pointer (&message->data, g_bytes_unref);
  g_free (message);
}

char *
pst_mime_message_get_from_address (PstMimeMessage *message, GError **error)
{
  const char *why = NULL;
  char *addr = one_from_address (message->fields, &why);

  if (addr == NULL)
    g_set_error_literal (error, PST_ERROR, PST_ERROR_FAILED, _(why));
  return addr;
}

/* What two addresses that pst_addr_equal finds equal have in common: the
 * local part as it is, the domain in lower case; NULL for an address
 * without "@", which it finds equal to none.  Transfer full. */
static char *
recipient_key (const char *addr)
{
  const char *at = strrchr (addr, '@');
  g_autofree char *domain = NULL;

  if (at == NULL)
    return NULL;
  domain = g_ascii_strdown (at + 1, -1);
  return g_strdup_printf ("%.*s@%s", (int) (at - addr), addr, domain);
}

/* Appends the addr-spec of @spec to @out unless @seen has it: a hash set,
 * so that a header of many thousand addresses costs no more than their
 * number (a list searched for each was quadratic). */
static void
add_recipient (GPtrArray *out, GHashTable *seen, const char *spec)
{
  g_autofree char *addr = pst_addr_extract (spec);
  char *key;

  if (addr == NULL)
    return;
  key = recipient_key (addr);
  if (key != NULL && !g_hash_table_add (seen, key))
    return;   /* (g_hash_table_add kept one of the two equal keys) */
  g_ptr_array_add (out, g_steal_pointer (&addr));
}

gboolean
pst_mime_header_addresses (GBytes *header, char **from_out, char **from_problem_out,
                           char ***recipients_out, GError **error)
{
  g_autoptr (PstMimeMessage) message = pst_mime_message_parse (header, error);
  g_autoptr (GError) problem = NULL;

  if (message == NULL)
    return FALSE;
  *from_out = pst_mime_message_get_from_address (message, &problem);
  *from_problem_out = problem != NULL ? g_strdup (problem->message) : NULL;
  *recipients_out = pst_mime_message_get_recipients (message);
  return TRUE;
}

char **
pst_mime_message_get_recipients (PstMimeMessage *message)
{
  static const char *const fields[] = { "To", "Cc", "Bcc", NULL };

  return pst_mime_message_get_addresses (message, fields);
}

/* Appends the addr-specs of raw address field @field to @out. */
static void
add_field_addresses (GPtrArray *out, GHashTable *seen, const char *field)
{
  struct mailimf_address_list *list = NULL;
  g_autofree char *value = pst_mime_field_value (field);
  size_t idx = 0;

  if (mailimf_address_list_parse (value, strlen (value), &idx, &list) != MAILIMF_NO_ERROR)
    return;
  for (clistiter *it = clist_begin (list->ad_list); it != NULL; it = clist_next (it))
    {
      struct mailimf_address *a = clist_content (it);

      if (a->ad_type == MAILIMF_ADDRESS_MAILBOX)
        add_recipient (out, seen, a->ad_data.ad_mailbox->mb_addr_spec);
      else if (a->ad_type == MAILIMF_ADDRESS_GROUP && a->ad_data.ad_group->grp_mb_list != NULL)
        for (clistiter *m = clist_begin (a->ad_data.ad_group->grp_mb_list->mb_list); m != NULL;
             m = clist_next (m))
          add_recipient (out, seen, ((struct mailimf_mailbox *) clist_content (m))->mb_addr_spec);
    }
  mailimf_address_list_free (list);
}

char **
pst_mime_message_get_addresses (PstMimeMessage *message, const char *const *names)
{
  GPtrArray *out = g_ptr_array_new ();
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < message->fields->len; i++)
    {
      const char *field = message->fields->pdata[i];
      gboolean wanted = FALSE;

      for (const char *const *n = names; *n != NULL && !wanted; n++)
        wanted = pst_mime_field_is (field, *n);
      if (wanted)
        add_field_addresses (out, seen, field);
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

char **
pst_mime_message_get_shown_addresses (PstMimeMessage *message, const char *const *names)
{
  GPtrArray *out = g_ptr_array_new ();
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (const char *const *n = names; *n != NULL; n++)
    {
      const char *field = pst_mime_find_field (message->fields, *n, NULL);

      if (field != NULL)
        add_field_addresses (out, seen, field);
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

static char *
decode_words (const char *value)
{
  char *decoded = NULL;
  size_t idx = 0;
  char *out;

  if (strstr (value, "=?") == NULL
      || mailmime_encoded_phrase_parse ("utf-8", value, strlen (value), &idx, "utf-8",
                                        &decoded) != MAILIMF_NO_ERROR)
    return g_utf8_make_valid (value, -1);
  out = g_utf8_make_valid (decoded, -1);
  free (decoded);
  return out;
}

char *
pst_mime_field_display_value (const char *field)
{
  g_autofree char *value = pst_mime_field_value (field);

  return decode_words (value);
}

char *
pst_mime_message_get_header (PstMimeMessage *message, const char *name)
{
  const char *field = pst_mime_find_field (message->fields, name, NULL);
  g_autofree char *value = NULL;

  if (field == NULL)
    return NULL;
  value = pst_mime_field_value (field);
  return decode_words (value);
}

static struct mailmime *
message_tree (PstMimeMessage *message)
{
  if (!message->mime_parsed)
    {
      gsize len = 0;
      const char *p = g_bytes_get_data (message->data, &len);
      size_t idx = 0;
      gsize skip = p != NULL ? pst_mime_mbox_line_length (p, len) : 0;

      message->mime_parsed = TRUE;
      if (mailmime_parse (p + skip, len - skip, &idx, &message->mime) != MAILIMF_NO_ERROR)
        message->mime = NULL;
    }
  return message->mime;
}

typedef struct {
  char *type;          /* "text/plain" */
  char *filename;      /* decoded, or NULL */
  gboolean attachment; /* Content-Disposition: attachment */
  const char *charset; /* owned by the tree */
  int encoding;
} PartInfo;

/* RFC 2231: the value of parameter @name spread over @params (a GPtrArray
 * of struct mailmime_parameter*) as "name*" (charset'language'%XX…) or as
 * sections "name*0", "name*1*"…, converted to UTF-8; NULL when there is
 * neither form. */
static char *
rfc2231_value (GPtrArray *params, const char *name)
{
  g_autoptr (GString) raw = g_string_new (NULL);
  g_autofree char *charset = NULL;
  gsize n = strlen (name);
  gboolean found = FALSE, alone = FALSE;
  char *utf8 = NULL;

  for (guint section = 0; section < 100 && !alone; section++)
    {
      struct mailmime_parameter *hit = NULL;
      gboolean encoded = FALSE;
      const char *v;

      for (guint i = 0; i < params->len && hit == NULL; i++)
        {
          struct mailmime_parameter *p = params->pdata[i];
          const char *rest;
          char *end = NULL;

          if (p->pa_name == NULL || p->pa_value == NULL
              || g_ascii_strncasecmp (p->pa_name, name, n) != 0 || p->pa_name[n] != '*')
            continue;
          rest = p->pa_name + n + 1;
          if (*rest == '\0')
            {
              /* "name*": the whole value, encoded */
              if (section == 0)
                hit = p, encoded = alone = TRUE;
              continue;
            }
          /* "name*N" or "name*N*", N without leading zeros */
          if (!g_ascii_isdigit (*rest) || (rest[0] == '0' && rest[1] != '\0' && rest[1] != '*'))
            continue;
          if (g_ascii_strtoull (rest, &end, 10) == section
              && (*end == '\0' || (end[0] == '*' && end[1] == '\0')))
            hit = p, encoded = *end == '*';
        }
      if (hit == NULL)
        break;
      found = TRUE;
      v = hit->pa_value;
      if (encoded && section == 0)
        {
          const char *q1 = strchr (v, '\''), *q2 = q1 != NULL ? strchr (q1 + 1, '\'') : NULL;

          if (q2 != NULL)
            {
              charset = g_strndup (v, q1 - v);
              v = q2 + 1;
            }
        }
      for (; *v != '\0'; v++)
        if (encoded && v[0] == '%' && g_ascii_isxdigit (v[1]) && g_ascii_isxdigit (v[2]))
          {
            g_string_append_c (raw, (char) (g_ascii_xdigit_value (v[1]) * 16
                                            + g_ascii_xdigit_value (v[2])));
            v += 2;
          }
        else
          g_string_append_c (raw, *v);
    }
  if (!found)
    return NULL;
  if (charset != NULL && *charset != '\0' && g_ascii_strcasecmp (charset, "utf-8") != 0
      && g_ascii_strcasecmp (charset, "us-ascii") != 0)
    utf8 = g_convert (raw->str, raw->len, "UTF-8", charset, NULL, NULL, NULL);
  return utf8 != NULL ? utf8 : g_utf8_make_valid (raw->str, raw->len);
}

/* The generic parameters of a Content-Disposition and of a Content-Type, as
 * struct mailmime_parameter* owned by the tree. */
static GPtrArray *
disposition_params (struct mailmime_disposition *d)
{
  GPtrArray *out = g_ptr_array_new ();

  for (clistiter *it = d != NULL ? clist_begin (d->dsp_parms) : NULL; it != NULL; it = clist_next (it))
    {
      struct mailmime_disposition_parm *p = clist_content (it);

      if (p->pa_type == MAILMIME_DISPOSITION_PARM_PARAMETER)
        g_ptr_array_add (out, p->pa_data.pa_parameter);
    }
  return out;
}

static GPtrArray *
content_params (struct mailmime_content *ct)
{
  GPtrArray *out = g_ptr_array_new ();

  for (clistiter *it = ct != NULL ? clist_begin (ct->ct_parameters) : NULL; it != NULL;
       it = clist_next (it))
    g_ptr_array_add (out, clist_content (it));
  return out;
}

/* A file name fit to show: control characters become '_'. */
static char *
clean_filename (char *name)
{
  for (char *p = name; p != NULL && *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      *p = '_';
  return name;
}

static void
part_info (struct mailmime *mime, PartInfo *info)
{
  struct mailmime_single_fields sf;
  g_autoptr (GPtrArray) dparams = NULL, cparams = NULL;
  const char *name;

  memset (info, 0, sizeof *info);
  mailmime_single_fields_init (&sf, mime->mm_mime_fields, mime->mm_content_type);
  info->type = content_type_string (mime->mm_content_type);
  if (info->type == NULL)
    info->type = g_strdup ("text/plain");
  /* RFC 2231 first (libetpan does not decode it), then the plain
   * parameters, RFC 2047 words decoded as many writers use them there. */
  dparams = disposition_params (sf.fld_disposition);
  cparams = content_params (mime->mm_content_type);
  name = sf.fld_disposition_filename != NULL ? sf.fld_disposition_filename : sf.fld_content_name;
  info->filename = rfc2231_value (dparams, "filename");
  if (info->filename == NULL && sf.fld_disposition_filename == NULL)
    info->filename = rfc2231_value (cparams, "name");
  if (info->filename == NULL)
    info->filename = name != NULL ? decode_words (name) : NULL;
  clean_filename (info->filename);
  info->attachment = sf.fld_disposition != NULL && sf.fld_disposition->dsp_type != NULL
                     && sf.fld_disposition->dsp_type->dsp_type == MAILMIME_DISPOSITION_TYPE_ATTACHMENT;
  info->charset = sf.fld_content_charset;
  info->encoding = sf.fld_encoding != NULL ? sf.fld_encoding->enc_type : MAILMIME_MECHANISM_8BIT;
}

static gboolean
is_attachment (const PartInfo *info)
{
  return info->attachment || info->filename != NULL || !g_str_has_prefix (info->type, "text/");
}

static char *
decode_text (struct mailmime *mime, const PartInfo *info)
{
  struct mailmime_data *body = mime->mm_data.mm_single;
  g_autoptr (GBytes) decoded = NULL;
  g_autofree char *utf8 = NULL;
  const char *raw;
  gsize raw_len = 0;
  GString *out;

  if (body == NULL || body->dt_type != MAILMIME_DATA_TEXT
      || !(decoded = pst_mime_decode_transfer (body->dt_data.dt_text.dt_data,
                                               body->dt_data.dt_text.dt_length, info->encoding)))
    return g_strdup ("");
  raw = g_bytes_get_data (decoded, &raw_len);
  if (raw == NULL)   /* an empty body */
    raw = "";
  if (info->charset != NULL && g_ascii_strcasecmp (info->charset, "utf-8") != 0
      && g_ascii_strcasecmp (info->charset, "us-ascii") != 0)
    utf8 = g_convert (raw, raw_len, "UTF-8", info->charset, NULL, NULL, NULL);
  if (utf8 == NULL)
    utf8 = g_utf8_make_valid (raw, raw_len);

  out = g_string_sized_new (strlen (utf8));
  for (const char *p = utf8; *p != '\0'; p++)
    {
      if (*p == '\r')
        {
          g_string_append_c (out, '\n');
          if (p[1] == '\n')
            p++;
        }
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

static char *
find_text (struct mailmime *mime, int depth, const char *type)
{
  if (mime == NULL || depth > 32)
    return NULL;
  switch (mime->mm_type)
    {
    case MAILMIME_MESSAGE:
      return depth == 0 ? find_text (mime->mm_data.mm_message.mm_msg_mime, depth + 1, type) : NULL;
    case MAILMIME_MULTIPLE:
      for (clistiter *it = clist_begin (mime->mm_data.mm_multipart.mm_mp_list); it != NULL;
           it = clist_next (it))
        {
          char *text = find_text (clist_content (it), depth + 1, type);
          if (text != NULL)
            return text;
        }
      return NULL;
    case MAILMIME_SINGLE:
      {
        PartInfo info;
        char *text = NULL;

        part_info (mime, &info);
        if (g_str_equal (info.type, type) && !info.attachment)
          text = decode_text (mime, &info);
        g_free (info.type);
        g_free (info.filename);
        return text;
      }
    default:
      return NULL;
    }
}

char *
pst_mime_message_get_body_text (PstMimeMessage *message)
{
  return find_text (message_tree (message), 0, "text/plain");
}

char *
pst_mime_message_get_text_part (PstMimeMessage *message, const char *type)
{
  return find_text (message_tree (message), 0, type);
}

static gboolean
is_protocol_part (struct mailmime *mime)
{
  struct mailmime *parent = mime->mm_parent;
  g_autofree char *ptype = NULL;
  g_autofree char *type = NULL;

  if (parent == NULL || parent->mm_type != MAILMIME_MULTIPLE)
    return FALSE;
  ptype = content_type_string (parent->mm_content_type);
  type = content_type_string (mime->mm_content_type);
  if (ptype == NULL || type == NULL)
    return FALSE;
  return (g_str_equal (ptype, "multipart/signed") && g_str_has_suffix (type, "-signature"))
         || (g_str_equal (ptype, "multipart/encrypted") && g_str_equal (type, "application/pgp-encrypted"));
}

/* The attachment parts of the tree, in document order, as struct mailmime*
 * owned by the tree. */
static void
collect_attachments (struct mailmime *mime, GPtrArray *out, int depth)
{
  if (mime == NULL || depth > 32)
    return;
  if (mime->mm_type == MAILMIME_MESSAGE && depth == 0)
    collect_attachments (mime->mm_data.mm_message.mm_msg_mime, out, depth + 1);
  else if (mime->mm_type == MAILMIME_MULTIPLE)
    for (clistiter *it = clist_begin (mime->mm_data.mm_multipart.mm_mp_list); it != NULL;
         it = clist_next (it))
      collect_attachments (clist_content (it), out, depth + 1);
  else if (depth > 0 && (mime->mm_type == MAILMIME_SINGLE || mime->mm_type == MAILMIME_MESSAGE))
    {
      PartInfo info;

      part_info (mime, &info);
      if ((mime->mm_type == MAILMIME_MESSAGE || is_attachment (&info)) && !is_protocol_part (mime))
        g_ptr_array_add (out, mime);
      g_free (info.type);
      g_free (info.filename);
    }
}

static GPtrArray *
attachment_parts (PstMimeMessage *message)
{
  GPtrArray *parts = g_ptr_array_new ();

  collect_attachments (message_tree (message), parts, 0);
  return parts;
}

GPtrArray *
pst_mime_message_get_attachments (PstMimeMessage *message)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) parts = attachment_parts (message);

  for (guint i = 0; i < parts->len; i++)
    {
      PartInfo info;

      part_info (parts->pdata[i], &info);
      g_ptr_array_add (out, g_strdup_printf ("%s\t%s", info.filename != NULL ? info.filename
                                                                            : "(unnamed)",
                                             info.type));
      g_free (info.type);
      g_free (info.filename);
    }
  return out;
}

GBytes *
pst_mime_message_get_attachment (PstMimeMessage *message, guint index, gsize max_size,
                                 char **name_out, char **type_out, GError **error)
{
  g_autoptr (GPtrArray) parts = attachment_parts (message);
  struct mailmime *part;
  struct mailmime_data *body;
  g_autoptr (GBytes) decoded = NULL;
  PartInfo info;
  gsize raw_len;

  if (index >= parts->len)
    {
      if (parts->len == 0)
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                     "there is no attachment %u: the message has no attachments", index);
      else
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                     "there is no attachment %u: the message has %u, numbered from 0 to %u",
                     index, parts->len, parts->len - 1);
      return NULL;
    }
  part = parts->pdata[index];
  body = part->mm_body;
  part_info (part, &info);
  raw_len = body != NULL && body->dt_type == MAILMIME_DATA_TEXT ? body->dt_data.dt_text.dt_length : 0;
  /* base64 shrinks by a quarter, nothing else grows: refuse before decoding */
  if ((info.encoding == MAILMIME_MECHANISM_BASE64 ? raw_len / 4 * 3 : raw_len) > max_size)
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                 "attachment %u is larger than %" G_GSIZE_FORMAT " bytes", index, max_size);
  else if (raw_len == 0)
    decoded = g_bytes_new (NULL, 0);
  else if (!(decoded = pst_mime_decode_transfer (body->dt_data.dt_text.dt_data, raw_len,
                                                 info.encoding)))
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                 "attachment %u cannot be decoded from its transfer encoding", index);
  else if (g_bytes_get_size (decoded) > max_size)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "attachment %u is larger than %" G_GSIZE_FORMAT " bytes", index, max_size);
      g_clear_pointer (&decoded, g_bytes_unref);
    }
  if (decoded != NULL && name_out != NULL)
    *name_out = info.filename != NULL ? g_steal_pointer (&info.filename) : g_strdup ("(unnamed)");
  if (decoded != NULL && type_out != NULL)
    *type_out = g_steal_pointer (&info.type);
  g_free (info.type);
  g_free (info.filename);
  return g_steal_pointer (&decoded);
}
