#include "mime/pgpmime.h"

#include <libetpan/libetpan.h>
#include <string.h>

#include "crypto/pgp.h"
#include "mime/mime.h"
#include "mime/pgpinline.h"
#include "util/addr.h"
#include "util/error.h"

#define MAX_DEPTH 16
/* How far a signature may lie in the future (clock skew between machines)
 * and how far from the Date header it may be (DESIGN.md §4: one hour). */
#define FUTURE_SKEW_SECONDS (5 * 60)
#define DATE_SKEW_SECONDS (60 * 60)

/* --- Small helpers -------------------------------------------------------- */

static gboolean
is_content_field (const char *field)
{
  return g_ascii_strncasecmp (field, "Content-", 8) == 0;
}

static const char *
find_field (GPtrArray *fields, const char *name, guint *count_out)
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

/* The header of an entity; a body part may have no header field at all. */
static gboolean
entity_split (GBytes *entity, GPtrArray **fields_out, gsize *body_out)
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

static char *
entity_content_type (GPtrArray *fields, GHashTable **params_out)
{
  const char *field = find_field (fields, "Content-Type", NULL);
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

static gboolean
param_is (GHashTable *params, const char *name, const char *value)
{
  const char *v = g_hash_table_lookup (params, name);

  return v != NULL && g_ascii_strcasecmp (v, value) == 0;
}

static GBytes *
span_bytes (GBytes *entity, gsize body_offset, const PstMimeSpan *span)
{
  return g_bytes_new_from_bytes (entity, body_offset + span->offset, span->length);
}

/* The body of @part (after its header).  Transfer full. */
static GBytes *
part_body (GBytes *part)
{
  g_autoptr(GPtrArray) fields = NULL;
  gsize body = 0;

  if (!entity_split (part, &fields, &body))
    return g_bytes_ref (part);
  return g_bytes_new_from_bytes (part, body, g_bytes_get_size (part) - body);
}

static char *
random_token (void)
{
  GString *s = g_string_new (NULL);

  for (int i = 0; i < 6; i++)
    g_string_append_printf (s, "%08x", g_random_int ());
  return g_string_free (s, FALSE);
}

static char *
format_date (GDateTime *dt)
{
  static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  gint64 offset = g_date_time_get_utc_offset (dt) / G_TIME_SPAN_MINUTE;
  gint64 abs_off = offset < 0 ? -offset : offset;

  return g_strdup_printf ("%s, %d %s %d %02d:%02d:%02d %c%02d%02d",
                          days[g_date_time_get_day_of_week (dt) - 1],
                          g_date_time_get_day_of_month (dt),
                          months[g_date_time_get_month (dt) - 1],
                          g_date_time_get_year (dt), g_date_time_get_hour (dt),
                          g_date_time_get_minute (dt), g_date_time_get_second (dt),
                          offset < 0 ? '-' : '+', (int) (abs_off / 60), (int) (abs_off % 60));
}

/* Seconds since the epoch of an RFC 5322 date, or 0. */
static gint64
parse_date (const char *value)
{
  struct mailimf_date_time *d = NULL;
  size_t idx = 0;
  gint64 t = 0;

  if (mailimf_date_time_parse (value, strlen (value), &idx, &d) != MAILIMF_NO_ERROR)
    return 0;
  if (d->dt_month >= 1 && d->dt_month <= 12 && d->dt_day >= 1 && d->dt_day <= 31
      && d->dt_year > 1900 && d->dt_year < 10000 && d->dt_hour < 24 && d->dt_min < 60
      && d->dt_sec <= 60)
    {
      g_autoptr(GDateTime) dt = g_date_time_new_utc (d->dt_year, d->dt_month, d->dt_day,
                                                     d->dt_hour, d->dt_min, MIN (d->dt_sec, 59));
      int zone = d->dt_zone < 0 ? -d->dt_zone : d->dt_zone;
      gint64 off = (zone / 100) * 3600 + (zone % 100) * 60;

      if (dt != NULL)
        t = g_date_time_to_unix (dt) - (d->dt_zone < 0 ? -off : off);
    }
  mailimf_date_time_free (d);
  return t;
}

/* The address of the one mailbox of the one From header, or NULL. */
static char *
single_from (GPtrArray *fields)
{
  struct mailimf_mailbox_list *list = NULL;
  g_autofree char *value = NULL;
  guint count;
  const char *field = find_field (fields, "From", &count);
  size_t idx = 0;
  char *addr = NULL;

  if (count != 1)
    return NULL;
  value = pst_mime_field_value (field);
  if (mailimf_mailbox_list_parse (value, strlen (value), &idx, &list) != MAILIMF_NO_ERROR)
    return NULL;
  if (clist_count (list->mb_list) == 1)
    addr = pst_addr_extract (((struct mailimf_mailbox *) clist_content (clist_begin (list->mb_list)))->mb_addr_spec);
  mailimf_mailbox_list_free (list);
  return addr;
}

/* --- Writing -------------------------------------------------------------- */

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

/* Whether @body (CRLF lines) would not survive as 7bit signed data. */
static gboolean
body_needs_qp (const char *body, gsize len)
{
  gsize pos = 0;

  while (pos < len)
    {
      const char *nl = g_strstr_len (body + pos, len - pos, "\r\n");
      gsize end = nl != NULL ? (gsize) (nl - body) : len;

      if (line_needs_qp (body + pos, end - pos))
        return TRUE;
      pos = nl != NULL ? end + 2 : len;
    }
  return FALSE;
}

static void
qp_encode (GString *out, const char *body, gsize len)
{
  gsize pos = 0;

  while (pos < len)
    {
      const char *nl = g_strstr_len (body + pos, len - pos, "\r\n");
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

/* The body entity of a message to protect: its Content-* fields and body,
 * CRLF line ends; with @seven_bit, a single part that is not 7bit-safe is
 * re-encoded as quoted-printable (RFC 3156 §3). */
static GBytes *
build_entity (GPtrArray *fields, const char *body, gsize body_len, gboolean seven_bit,
              const char *hp, GPtrArray *protected)
{
  g_autoptr(GBytes) crlf_body = pst_mime_to_crlf (body, body_len);
  gsize blen = 0;
  const char *b = g_bytes_get_data (crlf_body, &blen);
  const char *ct_field = find_field (fields, "Content-Type", NULL);
  const char *cte_field = find_field (fields, "Content-Transfer-Encoding", NULL);
  g_autofree char *type = entity_content_type (fields, NULL);
  g_autofree char *cte = cte_field != NULL ? pst_mime_field_value (cte_field) : NULL;
  gboolean eight_bit = FALSE, qp = FALSE;
  g_autoptr(GString) e = g_string_new (NULL);

  for (gsize i = 0; i < blen && !eight_bit; i++)
    eight_bit = (guchar) b[i] >= 0x80;
  if (seven_bit && !g_str_has_prefix (type, "multipart/") && !g_str_has_prefix (type, "message/")
      && (cte == NULL || g_ascii_strcasecmp (cte, "7bit") == 0
          || g_ascii_strcasecmp (cte, "8bit") == 0 || g_ascii_strcasecmp (cte, "binary") == 0))
    qp = body_needs_qp (b, blen);

  if (ct_field == NULL)
    g_string_append_printf (e, "Content-Type: text/plain; charset=%s%s%s%s\r\n",
                            eight_bit ? "utf-8" : "us-ascii", hp != NULL ? "; hp=\"" : "",
                            hp != NULL ? hp : "", hp != NULL ? "\"" : "");
  for (guint i = 0; i < fields->len; i++)
    {
      const char *f = fields->pdata[i];

      if (!is_content_field (f) || (qp && pst_mime_field_is (f, "Content-Transfer-Encoding")))
        continue;
      if (hp != NULL && f == ct_field)
        {
          gsize flen = strlen (f);

          while (flen > 0 && (f[flen - 1] == '\n' || f[flen - 1] == '\r'))
            flen--;
          g_string_append_len (e, f, flen);
          g_string_append_printf (e, ";\r\n hp=\"%s\"\r\n", hp);
          continue;
        }
      g_string_append (e, f);
      if (e->str[e->len - 1] != '\n')
        g_string_append (e, "\r\n");
    }
  /* RFC 9788: the protected header fields sit on the cryptographic payload root. */
  for (guint i = 0; protected != NULL && i < protected->len; i++)
    {
      const char *f = protected->pdata[i];

      g_string_append (e, f);
      if (e->str[e->len - 1] != '\n')
        g_string_append (e, "\r\n");
    }
  if (qp)
    g_string_append (e, "Content-Transfer-Encoding: quoted-printable\n");
  else if (cte_field == NULL && eight_bit)
    g_string_append (e, "Content-Transfer-Encoding: 8bit\n");
  /* Normalise the header part; the body is already CRLF. */
  {
    g_autoptr(GBytes) head = pst_mime_to_crlf (e->str, e->len);
    gsize hlen = 0;
    const char *h = g_bytes_get_data (head, &hlen);
    GString *all = g_string_new_len (h, hlen);

    if (hlen < 2 || h[hlen - 1] != '\n')
      g_string_append (all, "\r\n");
    g_string_append (all, "\r\n");
    if (qp)
      qp_encode (all, b, blen);
    else
      g_string_append_len (all, b, blen);
    return g_string_free_to_bytes (all);
  }
}

#define OBSCURED_SUBJECT_FIELD "Subject: ...\r\n"

/* The header fields that RFC 9788 header protection copies onto the
 * cryptographic payload root. */
static const char *const protected_names[] = {
  "From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "In-Reply-To", "References",
  NULL
};

static gboolean
is_protected_name (const char *field)
{
  for (const char *const *n = protected_names; *n != NULL; n++)
    if (pst_mime_field_is (field, *n))
      return TRUE;
  return FALSE;
}

/* The fields of @fields to protect, and with @encrypt an HP-Outer field
 * for each of them that goes outside (RFC 9788 §2.2.1), so that a reader
 * can tell what the outside said.  Transfer full. */
static GPtrArray *
protected_fields (GPtrArray *fields, gboolean encrypt)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < fields->len; i++)
    if (is_protected_name (fields->pdata[i]))
      g_ptr_array_add (out, g_strdup (fields->pdata[i]));
  if (encrypt)
    {
      gboolean subject = FALSE;

      for (guint i = 0; i < fields->len; i++)
        {
          const char *f = fields->pdata[i];

          if (!is_protected_name (f))
            continue;
          if (pst_mime_field_is (f, "Subject"))
            {
              if (!subject)
                g_ptr_array_add (out, g_strdup ("HP-Outer: " OBSCURED_SUBJECT_FIELD));
              subject = TRUE;
            }
          else
            g_ptr_array_add (out, g_strconcat ("HP-Outer: ", f, NULL));
        }
      if (!subject)
        g_ptr_array_add (out, g_strdup ("HP-Outer: " OBSCURED_SUBJECT_FIELD));
    }
  return out;
}

static gboolean
bytes_contain (GBytes *bytes, const char *needle)
{
  gsize len = 0;
  const char *p = g_bytes_get_data (bytes, &len);

  return p != NULL && g_strstr_len (p, len, needle) != NULL;
}

GBytes *
pst_pgpmime_protect (PstPgp *pgp, GBytes *message, const char *sender,
                     const char *const *recipients, gboolean encrypt, gboolean sign,
                     GError **error)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GBytes) entity = NULL;
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GPtrArray) protected = NULL;
  g_autofree char *boundary = NULL;
  g_autofree char *micalg = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  gsize len = 0, body_off = 0;
  const char *p = g_bytes_get_data (message, &len);
  const char *at;

  if (!encrypt && !sign)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "nothing to do: neither encryption nor signature asked for");
      return NULL;
    }
  if (p == NULL || !pst_mime_split_header (p, len, &fields, &body_off, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "not a message: it is empty");
      return NULL;
    }
  if (sender == NULL || (at = strrchr (sender, '@')) == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "no sender address");
      return NULL;
    }

  if (find_field (fields, "Date", NULL) == NULL)
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_local ();
      g_autofree char *date = format_date (now);
      g_ptr_array_add (fields, g_strdup_printf ("Date: %s\r\n", date));
    }
  if (find_field (fields, "Message-ID", NULL) == NULL)
    {
      g_autofree char *token = random_token ();
      g_ptr_array_add (fields, g_strdup_printf ("Message-ID: <%s@%s>\r\n", token, at + 1));
    }
  protected = protected_fields (fields, encrypt);
  entity = build_entity (fields, p + body_off, len - body_off, !encrypt,
                         encrypt ? "cipher" : "clear", protected);
  if (encrypt)
    {
      g_autoptr(GPtrArray) to = g_ptr_array_new ();

      for (const char *const *r = recipients; r != NULL && *r != NULL; r++)
        g_ptr_array_add (to, (gpointer) *r);
      g_ptr_array_add (to, (gpointer) sender);   /* encrypt to self; duplicates are merged */
      g_ptr_array_add (to, NULL);
      payload = pst_pgp_encrypt (pgp, entity, (const char *const *) to->pdata,
                                 sign ? sender : NULL, error);
    }
  else
    payload = pst_pgp_sign_detached (pgp, entity, sender, &micalg, error);
  if (payload == NULL)
    return NULL;

  do
    {
      g_autofree char *token = random_token ();
      g_autofree char *delim = NULL;

      g_free (boundary);
      boundary = g_strconcat ("=-pst-", token, NULL);
      delim = g_strconcat ("--", boundary, NULL);
      if (!bytes_contain (entity, delim) && !bytes_contain (payload, delim))
        break;
    }
  while (TRUE);

  /* The outer header: everything but Bcc, MIME-Version and Content-*; with
   * encryption the Subject says only "..." (DESIGN.md §10). */
  for (guint i = 0; i < fields->len; i++)
    {
      const char *f = fields->pdata[i];

      if (is_content_field (f) || pst_mime_field_is (f, "Bcc") || pst_mime_field_is (f, "Resent-Bcc")
          || pst_mime_field_is (f, "MIME-Version"))
        continue;
      if (encrypt && pst_mime_field_is (f, "Subject"))
        f = OBSCURED_SUBJECT_FIELD;
      g_string_append (out, f);
      if (out->len == 0 || out->str[out->len - 1] != '\n')
        g_string_append (out, "\n");
    }
  if (encrypt && find_field (fields, "Subject", NULL) == NULL)
    g_string_append (out, OBSCURED_SUBJECT_FIELD);
  g_string_append (out, "MIME-Version: 1.0\n");
  {
    g_autoptr(GBytes) head = pst_mime_to_crlf (out->str, out->len);
    gsize hlen = 0;
    const char *h = g_bytes_get_data (head, &hlen);

    g_string_truncate (out, 0);
    g_string_append_len (out, h, hlen);
  }

  if (encrypt)
    {
      g_autoptr(GBytes) armor = NULL;
      gsize alen = 0;
      const char *a;

      armor = pst_mime_to_crlf (g_bytes_get_data (payload, NULL), g_bytes_get_size (payload));
      a = g_bytes_get_data (armor, &alen);
      g_string_append_printf (out,
        "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";\r\n"
        " boundary=\"%s\"\r\n"
        "\r\n"
        "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n"
        "--%s\r\n"
        "Content-Type: application/pgp-encrypted\r\n"
        "Content-Description: PGP/MIME version identification\r\n"
        "\r\n"
        "Version: 1\r\n"
        "\r\n"
        "--%s\r\n"
        "Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n"
        "Content-Description: OpenPGP encrypted message\r\n"
        "Content-Disposition: inline; filename=\"encrypted.asc\"\r\n"
        "\r\n", boundary, boundary, boundary);
      g_string_append_len (out, a, alen);
      if (alen > 0 && a[alen - 1] != '\n')
        g_string_append (out, "\r\n");
      g_string_append_printf (out, "\r\n--%s--\r\n", boundary);
    }
  else
    {
      g_autoptr(GBytes) sig = pst_mime_to_crlf (g_bytes_get_data (payload, NULL),
                                                g_bytes_get_size (payload));
      gsize slen = 0, elen = 0;
      const char *s = g_bytes_get_data (sig, &slen);
      const char *e = g_bytes_get_data (entity, &elen);

      g_string_append_printf (out,
        "Content-Type: multipart/signed; micalg=%s;\r\n"
        " protocol=\"application/pgp-signature\"; boundary=\"%s\"\r\n"
        "\r\n"
        "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n"
        "--%s\r\n", micalg, boundary, boundary);
      g_string_append_len (out, e, elen);
      g_string_append_printf (out,
        "\r\n--%s\r\n"
        "Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n"
        "Content-Description: OpenPGP digital signature\r\n"
        "Content-Disposition: attachment; filename=\"signature.asc\"\r\n"
        "\r\n", boundary);
      g_string_append_len (out, s, slen);
      if (slen > 0 && s[slen - 1] != '\n')
        g_string_append (out, "\r\n");
      g_string_append_printf (out, "\r\n--%s--\r\n", boundary);
    }
  return g_string_free_to_bytes (g_steal_pointer (&out));
}

char **
pst_pgpmime_missing_keys (PstPgp *pgp, const char *const *recipients, GError **error)
{
  return pst_pgp_missing_keys (pgp, recipients, error);
}

/* --- Reading -------------------------------------------------------------- */

/* Decrypted text is wiped before its memory is freed. */
typedef struct {
  gsize len;
  char data[];
} SecretBuf;

static void
secret_buf_free (gpointer p)
{
  SecretBuf *sb = p;

  explicit_bzero (sb->data, sb->len);
  g_free (sb);
}

/* A copy of @len bytes at @data (and @tail) in wiped memory. */
static GBytes *
secret_bytes (const char *data, gsize len, const char *tail, gsize tail_len)
{
  SecretBuf *sb = g_malloc (sizeof (SecretBuf) + len + tail_len + 1);

  sb->len = len + tail_len;
  if (len > 0)
    memcpy (sb->data, data, len);
  if (tail_len > 0)
    memcpy (sb->data + len, tail, tail_len);
  sb->data[sb->len] = '\0';
  return g_bytes_new_with_free_func (sb->data, sb->len, secret_buf_free, sb);
}

/* @s as wiped bytes; @s is wiped and freed. */
static GBytes *
gstring_to_secret (GString *s)
{
  GBytes *b = secret_bytes (s->str, s->len, NULL, 0);

  explicit_bzero (s->str, s->len);
  g_string_free (s, TRUE);
  return b;
}

typedef struct {
  PstPgp *pgp;
  PstStatus *status;
  PstPgpSignature *sig;     /* the outermost signature layer */
  PstCovers sig_covers;
  GBytes *partial_plain;    /* the first decrypted part of a partially encrypted message */
} OpenCtx;

static void
record_signature (OpenCtx *c, PstPgpSignature *sig, PstCovers covers)
{
  if (c->sig != NULL)
    {
      /* Only the outermost layer speaks; a sibling in a multipart is no
       * more trusted than the first. */
      pst_status_add_warning (c->status, c->sig_covers == PST_COVERS_WHOLE ? "nested-signature"
                                                                          : "multiple-signatures");
      pst_pgp_signature_free (sig);
      return;
    }
  c->sig = sig;
  c->sig_covers = covers;
}

/* The signature verdict, against the From and Date the reader is shown
 * (the protected ones when they apply). */
static void
finish_signature (OpenCtx *c, const char *from, gint64 date)
{
  PstStatus *st = c->status;
  const PstPgpSignature *sig = c->sig;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  PstSigStatus verdict;
  const char *signer = NULL;

  if (sig == NULL)
    return;
  verdict = sig->status;
  if (sig->weak_digest)
    pst_status_add_warning (st, "weak-digest");
  if (sig->count > 1)
    pst_status_add_warning (st, "multiple-signatures");
  if (sig->created > 0 && verdict != PST_SIG_ERROR
      && (sig->created > now + FUTURE_SKEW_SECONDS
          || (date > 0 && ABS (sig->created - date) > DATE_SKEW_SECONDS)))
    {
      pst_status_add_warning (st, "date-mismatch");
      if (verdict == PST_SIG_GOOD)
        verdict = PST_SIG_BAD;
    }

  for (char **a = sig->addresses; a != NULL && *a != NULL; a++)
    if (from != NULL && pst_addr_equal (*a, from))
      signer = *a;
  st->from_match = signer != NULL;
  if (signer == NULL && sig->addresses != NULL)
    signer = sig->addresses[0];

  st->scheme = PST_SCHEME_PGP;
  st->sig_status = verdict;
  st->sig_covers = c->sig_covers;
  g_free (st->signer);
  st->signer = g_strdup (signer);
  g_free (st->fingerprint);
  st->fingerprint = g_strdup (sig->fingerprint);
}

static void
record_decryption (OpenCtx *c, gboolean ok, PstIntegrity integrity, PstCovers covers)
{
  PstStatus *st = c->status;

  st->scheme = PST_SCHEME_PGP;
  if (covers > st->encryption_covers)
    st->encryption_covers = covers;
  if (!ok)
    {
      st->decryption = PST_DECRYPTION_FAILED;
      if (integrity != PST_INTEGRITY_NONE || st->integrity == PST_INTEGRITY_OK)
        st->integrity = integrity;
    }
  else if (st->decryption != PST_DECRYPTION_FAILED)
    {
      st->decryption = PST_DECRYPTION_OK;
      if (st->integrity == PST_INTEGRITY_NONE)
        st->integrity = PST_INTEGRITY_OK;
    }
}

/* A decrypted part of a message that is not encrypted as a whole: kept to
 * be shown on its own (the first one only). */
static void
keep_partial (OpenCtx *c, GBytes *plain)
{
  if (c->partial_plain == NULL)
    c->partial_plain = g_bytes_ref (plain);
  else
    pst_status_add_warning (c->status, "several-encrypted-parts");
}

/* Inline PGP in a text/plain entity (read, never written).  It covers the
 * whole message only when the entity is the message body and the armored
 * block all of it; else a part, and then the opened text is shown alone,
 * like a decrypted part (encrypted), or not at all in place of the text
 * around it (signed: the entity is shown as received). */
static GBytes *
open_inline (OpenCtx *c, GBytes *entity, gboolean whole)
{
  PstPgpInlineResult r;
  PstCovers covers;
  GBytes *shown = NULL;

  if (!pst_pgpinline_open (c->pgp, entity, &r))
    return g_bytes_ref (entity);
  covers = whole && r.entire ? PST_COVERS_WHOLE : PST_COVERS_PART;
  pst_status_add_warning (c->status, "inline-pgp");
  if (r.kind == PST_PGP_INLINE_ENCRYPTED)
    {
      record_decryption (c, r.ok, r.integrity, covers);
      if (r.ok && covers == PST_COVERS_WHOLE)
        shown = g_bytes_ref (r.entity);
      else if (r.ok)
        keep_partial (c, r.entity);
    }
  else if (r.ok && covers == PST_COVERS_WHOLE)
    shown = g_bytes_ref (r.entity);
  if (r.sig != NULL && (r.sig->status != PST_SIG_NONE || r.kind == PST_PGP_INLINE_SIGNED))
    record_signature (c, g_steal_pointer (&r.sig), covers);
  pst_pgpinline_result_clear (&r);
  return shown != NULL ? shown : g_bytes_ref (entity);
}

/* What to display in place of @entity (transfer full; @entity itself when
 * nothing changes). */
static GBytes *
open_entity (OpenCtx *c, GBytes *entity, gboolean whole, int depth)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autoptr(GArray) spans = NULL;
  g_autofree char *type = NULL;
  PstCovers covers = whole ? PST_COVERS_WHOLE : PST_COVERS_PART;
  gsize body = 0, len = 0;
  const char *data = g_bytes_get_data (entity, &len);

  if (depth > MAX_DEPTH)
    {
      pst_status_add_warning (c->status, "too-deep");
      return g_bytes_ref (entity);
    }
  if (!entity_split (entity, &fields, &body))
    return g_bytes_ref (entity);
  type = entity_content_type (fields, &params);
  if (g_str_equal (type, "text/plain"))
    return open_inline (c, entity, whole);
  if (!g_str_has_prefix (type, "multipart/"))
    return g_bytes_ref (entity);
  spans = pst_mime_split_multipart (data + body, len - body, g_hash_table_lookup (params, "boundary"),
                                    NULL);
  if (spans == NULL)
    return g_bytes_ref (entity);

  if (g_str_equal (type, "multipart/encrypted")
      && param_is (params, "protocol", "application/pgp-encrypted") && spans->len >= 2)
    {
      g_autoptr(GBytes) part = span_bytes (entity, body, &g_array_index (spans, PstMimeSpan, 1));
      g_autoptr(GBytes) cipher = part_body (part);
      g_autoptr(GBytes) plain = NULL;
      PstPgpSignature *sig = NULL;
      g_autoptr(GError) err = NULL;
      PstIntegrity integrity = PST_INTEGRITY_NONE;
      gboolean ok;
      GBytes *inner;

      ok = pst_pgp_decrypt_verify (c->pgp, cipher, &plain, &sig, &integrity, &err);
      record_decryption (c, ok, integrity, covers);
      if (!ok)
        return g_bytes_ref (entity);
      if (sig->status != PST_SIG_NONE)
        record_signature (c, sig, covers);
      else
        pst_pgp_signature_free (sig);
      inner = open_entity (c, plain, whole, depth + 1);
      if (whole)
        return inner;
      keep_partial (c, inner);
      g_bytes_unref (inner);
      return g_bytes_ref (entity);
    }

  if (g_str_equal (type, "multipart/signed")
      && param_is (params, "protocol", "application/pgp-signature") && spans->len >= 2)
    {
      g_autoptr(GBytes) content = span_bytes (entity, body, &g_array_index (spans, PstMimeSpan, 0));
      g_autoptr(GPtrArray) cfields = NULL;
      g_autofree char *ctype = NULL;
      gsize cbody = 0;
      GBytes *inner;

      if (entity_split (content, &cfields, &cbody))
        ctype = entity_content_type (cfields, NULL);
      if (ctype != NULL && g_str_equal (ctype, "multipart/encrypted"))
        /* Encrypt-then-sign: the inner layers decide (DESIGN.md §4). */
        pst_status_add_warning (c->status, "outer-signature-ignored");
      else
        {
          g_autoptr(GBytes) part = span_bytes (entity, body, &g_array_index (spans, PstMimeSpan, 1));
          g_autoptr(GBytes) sigdata = part_body (part);
          g_autoptr(GBytes) canon = pst_mime_to_crlf (g_bytes_get_data (content, NULL),
                                                      g_bytes_get_size (content));

          record_signature (c, pst_pgp_verify_detached (c->pgp, canon, sigdata), covers);
        }
      inner = open_entity (c, content, whole, depth + 1);
      if (whole)
        return inner;
      g_bytes_unref (inner);
      return g_bytes_ref (entity);
    }

  /* Any other multipart: whatever is inside covers a part only, and is
   * never merged with its unprotected siblings for display. */
  for (guint i = 0; i < spans->len; i++)
    {
      g_autoptr(GBytes) part = span_bytes (entity, body, &g_array_index (spans, PstMimeSpan, i));
      g_autoptr(GBytes) inner = open_entity (c, part, FALSE, depth + 1);
    }
  return g_bytes_ref (entity);
}

/* --- Header protection (RFC 9788; draft-autocrypt-lamps-protected-headers) */

typedef enum { HP_NONE, HP_RFC9788, HP_LEGACY_V1 } HpKind;

static HpKind
hp_kind (GHashTable *params)
{
  if (g_hash_table_contains (params, "hp"))
    return HP_RFC9788;
  if (g_hash_table_contains (params, "protected-headers"))
    return HP_LEGACY_V1;
  return HP_NONE;
}

/* Trace fields of the outer header that stay with protected headers: they
 * say how the message travelled, never who wrote it or to whom. */
static gboolean
is_trace_field (const char *field)
{
  return pst_mime_field_is (field, "Received") || pst_mime_field_is (field, "Return-Path")
         || pst_mime_field_is (field, "Delivered-To") || pst_mime_field_is (field, "X-Original-To")
         || pst_mime_field_is (field, "MIME-Version");
}

static gboolean
same_field_name (const char *a, const char *b)
{
  const char *colon = strchr (b, ':');
  g_autofree char *name = NULL;

  if (colon == NULL)
    return FALSE;
  name = g_strstrip (g_strndup (b, colon - b));
  return pst_mime_field_is (a, name);
}

/* Removes the header block ("Subject: …" lines and the empty line after
 * them) that starts the body of a legacy display text part. */
static gboolean
strip_header_block (const char *body, gsize len, gsize *skip_out)
{
  gsize pos = 0;
  guint lines = 0;

  while (pos < len)
    {
      const char *nl = memchr (body + pos, '\n', len - pos);
      gsize end = nl != NULL ? (gsize) (nl - body) : len;
      gsize next = nl != NULL ? end + 1 : len;
      gsize stop = end > pos && body[end - 1] == '\r' ? end - 1 : end;

      if (stop == pos)
        {
          if (lines == 0)
            return FALSE;
          *skip_out = next;
          return TRUE;
        }
      if (body[pos] != ' ' && body[pos] != '\t')
        {
          gsize i = pos;

          while (i < stop && body[i] > 32 && body[i] < 127 && body[i] != ':')
            i++;
          if (i == pos || i >= stop || body[i] != ':')
            return FALSE;
        }
      lines++;
      pos = next;
    }
  return FALSE;
}

/* @entity without its legacy display elements: a text/rfc822-headers part
 * or a text part marked protected-headers among the children of the
 * payload root (the older draft), the leading header block of a text/plain
 * part marked hp-legacy-display (RFC 9788 §4.6).  Transfer full. */
static GBytes *
strip_legacy_display (GBytes *entity, int depth)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autofree char *type = NULL;
  g_autoptr(GArray) spans = NULL;
  gsize body = 0, len = 0, skip = 0;
  const char *data = g_bytes_get_data (entity, &len);
  const char *boundary;
  GString *out;

  if (depth > 3 || !entity_split (entity, &fields, &body))
    return g_bytes_ref (entity);
  type = entity_content_type (fields, &params);
  if (g_str_equal (type, "text/plain") && g_hash_table_contains (params, "hp-legacy-display"))
    {
      const char *cte_field = find_field (fields, "Content-Transfer-Encoding", NULL);
      g_autofree char *cte = cte_field != NULL ? pst_mime_field_value (cte_field) : NULL;

      if (cte != NULL && g_ascii_strcasecmp (cte, "base64") == 0)
        return g_bytes_ref (entity);   /* not worth decoding: shown as it is */
      if (!strip_header_block (data + body, len - body, &skip))
        return g_bytes_ref (entity);
      return secret_bytes (data, body, data + body + skip, len - body - skip);
    }
  if (!g_str_has_prefix (type, "multipart/") || g_str_equal (type, "multipart/signed")
      || g_str_equal (type, "multipart/encrypted"))
    return g_bytes_ref (entity);
  boundary = g_hash_table_lookup (params, "boundary");
  spans = pst_mime_split_multipart (data + body, len - body, boundary, NULL);
  if (spans == NULL)
    return g_bytes_ref (entity);

  out = g_string_new_len (data, body);
  for (guint i = 0; i < spans->len; i++)
    {
      g_autoptr(GBytes) part = span_bytes (entity, body, &g_array_index (spans, PstMimeSpan, i));
      g_autoptr(GPtrArray) pfields = NULL;
      g_autoptr(GHashTable) pparams = NULL;
      g_autofree char *ptype = NULL;
      gsize pbody = 0;

      if (entity_split (part, &pfields, &pbody))
        {
          ptype = entity_content_type (pfields, &pparams);
          if (depth == 0 && (g_str_equal (ptype, "text/rfc822-headers")
                             || (g_str_has_prefix (ptype, "text/")
                                 && g_hash_table_contains (pparams, "protected-headers"))))
            continue;
        }
      {
        g_autoptr(GBytes) stripped = strip_legacy_display (part, depth + 1);
        gsize slen = 0;
        const char *sdata = g_bytes_get_data (stripped, &slen);

        g_string_append_printf (out, "--%s\r\n", boundary);
        g_string_append_len (out, sdata, slen);
        g_string_append (out, "\r\n");
      }
    }
  g_string_append_printf (out, "--%s--\r\n", boundary);
  return gstring_to_secret (out);
}

/* Appends raw header field @f to @s with a line end. */
static void
append_field (GString *s, const char *f)
{
  g_string_append (s, f);
  if (s->len == 0 || s->str[s->len - 1] != '\n')
    g_string_append (s, "\r\n");
}

gboolean
pst_pgpmime_open (PstPgp *pgp, GBytes *message, GBytes **plain_out,
                  PstStatus **status_out, GError **error)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GPtrArray) shown = g_ptr_array_new ();   /* the header fields shown; not owned */
  g_autoptr(PstStatus) status = pst_status_new ();
  g_autoptr(GBytes) display = NULL;
  g_autoptr(GPtrArray) inner_fields = NULL;
  g_autoptr(GHashTable) inner_params = NULL;
  g_autofree char *from = NULL;
  g_autofree char *inner_type = NULL;
  gsize len = 0, body = 0, inner_body = 0;
  const char *p = g_bytes_get_data (message, &len);
  const char *date;
  HpKind hp = HP_NONE;
  gint64 date_value = 0;
  OpenCtx c = { 0 };

  if (p == NULL || !pst_mime_split_header (p, len, &fields, &body, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "not a message: it is empty");
      return FALSE;
    }
  c.pgp = pgp;
  c.status = status;

  display = open_entity (&c, message, TRUE, 0);
  if (c.partial_plain != NULL && status->encryption_covers != PST_COVERS_WHOLE)
    {
      /* Partially encrypted: the decrypted part alone, never next to the
       * unencrypted ones (EFAIL). */
      g_bytes_unref (display);
      display = g_bytes_ref (c.partial_plain);
    }

  if (display != message && entity_split (display, &inner_fields, &inner_body))
    {
      gboolean covered = (status->decryption == PST_DECRYPTION_OK
                          && status->encryption_covers == PST_COVERS_WHOLE)
                         || (c.sig != NULL && c.sig->status == PST_SIG_GOOD
                             && c.sig_covers == PST_COVERS_WHOLE);
      guint n = 0;

      inner_type = entity_content_type (inner_fields, &inner_params);
      for (guint i = 0; i < inner_fields->len; i++)
        if (!is_content_field (inner_fields->pdata[i]))
          n++;
      if (covered && n > 0)
        hp = hp_kind (inner_params);
    }

  /* The header fields shown: with RFC 9788 protection the protected ones
   * only (and the trace fields); with the older draft's, the protected
   * ones in place of the outer fields of the same name. */
  if (hp != HP_NONE)
    {
      status->protected_headers = TRUE;
      for (guint i = 0; i < fields->len; i++)
        {
          const char *f = fields->pdata[i];
          gboolean replaced = FALSE;

          if (is_content_field (f))
            continue;
          for (guint j = 0; j < inner_fields->len && !replaced; j++)
            replaced = same_field_name (f, inner_fields->pdata[j]);
          if (hp == HP_RFC9788 ? is_trace_field (f) : !replaced)
            g_ptr_array_add (shown, (gpointer) f);
        }
      for (guint j = 0; j < inner_fields->len; j++)
        {
          const char *f = inner_fields->pdata[j];

          if (!is_content_field (f) && !pst_mime_field_is (f, "HP-Outer"))
            g_ptr_array_add (shown, (gpointer) f);
        }
    }
  else
    for (guint i = 0; i < fields->len; i++)
      if (!is_content_field (fields->pdata[i]))
        g_ptr_array_add (shown, fields->pdata[i]);

  from = single_from (shown);
  date = find_field (shown, "Date", NULL);
  if (date != NULL)
    {
      g_autofree char *value = pst_mime_field_value (date);
      date_value = parse_date (value);
    }
  finish_signature (&c, from, date_value);

  if (plain_out != NULL)
    {
      if (display == message)
        *plain_out = g_bytes_ref (message);
      else
        {
          GString *all = g_string_new (NULL);
          g_autoptr(GBytes) content = NULL;
          gsize dlen = 0, dbody = 0;
          const char *d;
          g_autoptr(GPtrArray) dfields = NULL;

          for (guint i = 0; i < shown->len; i++)
            append_field (all, shown->pdata[i]);
          content = hp != HP_NONE ? strip_legacy_display (display, 0) : g_bytes_ref (display);
          d = g_bytes_get_data (content, &dlen);
          /* The entity's own Content-* fields, then its body. */
          if (entity_split (content, &dfields, &dbody))
            {
              for (guint i = 0; i < dfields->len; i++)
                if (is_content_field (dfields->pdata[i]))
                  append_field (all, dfields->pdata[i]);
              g_string_append (all, "\r\n");
              g_string_append_len (all, d + dbody, dlen - dbody);
            }
          else
            g_string_append_len (all, d, dlen);
          *plain_out = gstring_to_secret (all);
        }
    }
  g_clear_pointer (&c.sig, pst_pgp_signature_free);
  g_clear_pointer (&c.partial_plain, g_bytes_unref);
  if (status_out != NULL)
    *status_out = g_steal_pointer (&status);
  return TRUE;
}
