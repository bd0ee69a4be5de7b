/* smimemime.c — S/MIME (RFC 8551) messages on top of crypto/smime.h: the
 * MIME structure around CMS objects, and the verdict of DESIGN.md §4 (see
 * smimemime.h for the choices made for S/MIME).
 *
 * The entity helpers at the top mirror the static ones of pgpmime.c; they
 * belong in mime.c once both schemes settle.
 */
#include "mime/smimemime.h"

#include <libetpan/libetpan.h>
#include <string.h>

#include "crypto/smime.h"
#include "mime/mime.h"
#include "util/addr.h"
#include "util/error.h"

#define MAX_DEPTH 16
#define FUTURE_SKEW_SECONDS (5 * 60)
#define DATE_SKEW_SECONDS (60 * 60)

/* --- Small helpers (as in pgpmime.c) ------------------------------------- */
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

static GBytes *
span_bytes (GBytes *entity, gsize body_offset, const PstMimeSpan *span)
{
  return g_bytes_new_from_bytes (entity, body_offset + span->offset, span->length);
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
build_entity (GPtrArray *fields, const char *body, gsize body_len, gboolean seven_bit)
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
    g_string_append_printf (e, "Content-Type: text/plain; charset=%s\r\n",
                            eight_bit ? "utf-8" : "us-ascii");
  for (guint i = 0; i < fields->len; i++)
    {
      const char *f = fields->pdata[i];

      if (!is_content_field (f) || (qp && pst_mime_field_is (f, "Content-Transfer-Encoding")))
        continue;
      g_string_append (e, f);
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

static gboolean
bytes_contain (GBytes *bytes, const char *needle)
{
  gsize len = 0;
  const char *p = g_bytes_get_data (bytes, &len);

  return p != NULL && g_strstr_len (p, len, needle) != NULL;
}

/* Base64 in lines of 76 characters, CRLF. */
static void
append_base64 (GString *out, GBytes *der)
{
  gsize len = 0;
  const guchar *p = g_bytes_get_data (der, &len);
  g_autofree char *b64 = g_base64_encode (p, len);
  gsize blen = strlen (b64);

  for (gsize i = 0; i < blen; i += 76)
    {
      g_string_append_len (out, b64 + i, MIN (76, blen - i));
      g_string_append (out, "\r\n");
    }
}

static char *
new_boundary (GBytes *a, GBytes *b)
{
  while (TRUE)
    {
      g_autofree char *token = random_token ();
      char *boundary = g_strconcat ("=-pst-", token, NULL);
      g_autofree char *delim = g_strconcat ("--", boundary, NULL);

      if (!bytes_contain (a, delim) && (b == NULL || !bytes_contain (b, delim)))
        return boundary;
      g_free (boundary);
    }
}

static GBytes *
signed_entity (GBytes *entity, GBytes *sig, const char *micalg)
{
  g_autofree char *boundary = new_boundary (entity, NULL);
  GString *s = g_string_new (NULL);
  gsize elen = 0;
  const char *e = g_bytes_get_data (entity, &elen);

  g_string_append_printf (s,
    "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\r\n"
    " micalg=%s; boundary=\"%s\"\r\n"
    "\r\n"
    "This is an S/MIME signed message (RFC 8551)\r\n"
    "--%s\r\n", micalg, boundary, boundary);
  g_string_append_len (s, e, elen);
  g_string_append_printf (s,
    "\r\n--%s\r\n"
    "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n"
    "Content-Description: S/MIME Cryptographic Signature\r\n"
    "\r\n", boundary);
  append_base64 (s, sig);
  g_string_append_printf (s, "\r\n--%s--\r\n", boundary);
  return g_string_free_to_bytes (s);
}

GBytes *
pst_smimemime_protect (PstSmime *smime, GBytes *message, const char *sender,
                       const char *const *recipients, gboolean encrypt, gboolean sign,
                       GError **error)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GBytes) entity = NULL;
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

  /* Every refusal before any work: recipients (and self) first, then the
   * signing identity. */
  if (encrypt)
    {
      g_autoptr(GPtrArray) to = g_ptr_array_new_null_terminated (0, NULL, TRUE);
      g_auto(GStrv) missing = NULL;

      for (const char *const *r = recipients; r != NULL && *r != NULL; r++)
        g_ptr_array_add (to, (gpointer) *r);
      g_ptr_array_add (to, (gpointer) sender);
      missing = pst_smime_missing_certs (smime, (const char *const *) to->pdata, error);
      if (missing == NULL)
        return NULL;
      if (missing[0] != NULL)
        {
          g_autofree char *list = g_strjoinv (", ", missing);

          g_set_error (error, PST_ERROR, PST_ERROR_POLICY, "no S/MIME certificate for: %s", list);
          return NULL;
        }
    }
  if (sign && !pst_smime_has_identity (smime, sender))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_POLICY, "no S/MIME identity for: %s", sender);
      return NULL;
    }

  entity = build_entity (fields, p + body_off, len - body_off, sign);
  if (sign)
    {
      g_autofree char *micalg = NULL;
      g_autoptr(GBytes) sig = pst_smime_sign (smime, entity, sender, &micalg, error);

      if (sig == NULL)
        return NULL;
      GBytes *signed_part = signed_entity (entity, sig, micalg);

      g_bytes_unref (entity);
      entity = signed_part;
    }
  if (encrypt)
    {
      g_autoptr(GPtrArray) to = g_ptr_array_new_null_terminated (0, NULL, TRUE);
      g_autoptr(GBytes) der = NULL;
      gboolean gcm = FALSE;
      GString *e;

      for (const char *const *r = recipients; r != NULL && *r != NULL; r++)
        g_ptr_array_add (to, (gpointer) *r);
      g_ptr_array_add (to, (gpointer) sender);   /* encrypt to self */
      der = pst_smime_encrypt (smime, entity, (const char *const *) to->pdata, &gcm, error);
      if (der == NULL)
        return NULL;
      e = g_string_new (NULL);
      g_string_append_printf (e,
        "Content-Type: application/pkcs7-mime; smime-type=%s;\r\n"
        " name=\"smime.p7m\"\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=\"smime.p7m\"\r\n"
        "Content-Description: S/MIME Encrypted Message\r\n"
        "\r\n", gcm ? "authEnveloped-data" : "enveloped-data");
      append_base64 (e, der);
      g_bytes_unref (entity);
      entity = g_string_free_to_bytes (e);
    }

  /* The outer header: everything but Bcc, MIME-Version and Content-*. */
  for (guint i = 0; i < fields->len; i++)
    {
      const char *f = fields->pdata[i];

      if (is_content_field (f) || pst_mime_field_is (f, "Bcc") || pst_mime_field_is (f, "Resent-Bcc")
          || pst_mime_field_is (f, "MIME-Version"))
        continue;
      g_string_append (out, f);
      if (out->len == 0 || out->str[out->len - 1] != '\n')
        g_string_append (out, "\n");
    }
  if (find_field (fields, "Date", NULL) == NULL)
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_local ();
      g_autofree char *date = format_date (now);
      g_string_append_printf (out, "Date: %s\n", date);
    }
  if (find_field (fields, "Message-ID", NULL) == NULL)
    {
      g_autofree char *token = random_token ();
      g_string_append_printf (out, "Message-ID: <%s@%s>\n", token, at + 1);
    }
  g_string_append (out, "MIME-Version: 1.0\n");
  {
    g_autoptr(GBytes) head = pst_mime_to_crlf (out->str, out->len);
    gsize hlen = 0, elen = 0;
    const char *h = g_bytes_get_data (head, &hlen);
    const char *e = g_bytes_get_data (entity, &elen);

    g_string_truncate (out, 0);
    g_string_append_len (out, h, hlen);
    g_string_append_len (out, e, elen);
  }
  return g_string_free_to_bytes (g_steal_pointer (&out));
}

/* --- Reading -------------------------------------------------------------- */

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

typedef struct {
  PstSmime *smime;
  PstStatus *status;
  char *from;
  gint64 date;
  gboolean sig_set;
} OpenCtx;

static gboolean
is_pkcs7_mime (const char *type)
{
  return g_str_equal (type, "application/pkcs7-mime") || g_str_equal (type, "application/x-pkcs7-mime");
}

static gboolean
is_pkcs7_signature (const char *value)
{
  return value != NULL && (g_ascii_strcasecmp (value, "application/pkcs7-signature") == 0
                           || g_ascii_strcasecmp (value, "application/x-pkcs7-signature") == 0);
}

/* The DER of a body part carrying CMS: base64 unless it says binary. */
static GBytes *
part_der (GPtrArray *fields, GBytes *entity, gsize body)
{
  const char *cte_field = find_field (fields, "Content-Transfer-Encoding", NULL);
  g_autofree char *cte = cte_field != NULL ? pst_mime_field_value (cte_field) : NULL;
  gsize len = 0;
  const char *p = g_bytes_get_data (entity, &len);

  if (cte != NULL && (g_ascii_strcasecmp (cte, "binary") == 0 || g_ascii_strcasecmp (cte, "8bit") == 0))
    return g_bytes_new_from_bytes (entity, body, len - body);
  {
    g_autofree char *text = g_strndup (p + body, len - body);
    gsize dlen = 0;
    guchar *der = g_base64_decode (text, &dlen);

    return g_bytes_new_take (der, dlen);
  }
}

/* Whether @entity is an S/MIME encryption layer. */
static gboolean
entity_is_encrypted (GBytes *entity)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GBytes) der = NULL;
  g_autofree char *type = NULL;
  PstSmimeCmsType t;
  gsize body = 0;

  if (!entity_split (entity, &fields, &body))
    return FALSE;
  type = entity_content_type (fields, NULL);
  if (g_str_equal (type, "multipart/encrypted"))
    return TRUE;
  if (!is_pkcs7_mime (type))
    return FALSE;
  der = part_der (fields, entity, body);
  t = pst_smime_cms_type (der);
  return t == PST_SMIME_CMS_ENVELOPED || t == PST_SMIME_CMS_AUTH_ENVELOPED;
}

static void
record_signature (OpenCtx *c, const PstSmimeSignature *sig, PstCovers covers)
{
  PstStatus *st = c->status;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  PstSigStatus verdict = sig->status;
  const char *signer = NULL;

  if (c->sig_set)
    {
      pst_status_add_warning (st, st->sig_covers == PST_COVERS_WHOLE ? "nested-signature"
                                                                     : "multiple-signatures");
      return;
    }
  c->sig_set = TRUE;

  if (sig->weak_digest)
    pst_status_add_warning (st, "weak-digest");
  if (sig->signer_count > 1)
    pst_status_add_warning (st, "multiple-signers");
  else if (sig->signer_count == 0 && verdict != PST_SIG_ERROR)
    pst_status_add_warning (st, "no-signer");
  if (sig->econtent_mismatch)
    pst_status_add_warning (st, "econtent-mismatch");
  if (sig->signing_time > 0 && verdict != PST_SIG_ERROR
      && (sig->signing_time > now + FUTURE_SKEW_SECONDS
          || (c->date > 0 && ABS (sig->signing_time - c->date) > DATE_SKEW_SECONDS)))
    {
      pst_status_add_warning (st, "date-mismatch");
      if (verdict == PST_SIG_GOOD)
        verdict = PST_SIG_BAD;
    }

  for (char **a = sig->addresses; a != NULL && *a != NULL; a++)
    if (signer == NULL && c->from != NULL && pst_addr_equal (*a, c->from))
      signer = *a;
  st->from_match = signer != NULL;
  if (signer == NULL && sig->addresses != NULL)
    signer = sig->addresses[0];

  st->scheme = PST_SCHEME_SMIME;
  st->sig_status = verdict;
  st->sig_covers = covers;
  g_free (st->signer);
  st->signer = g_strdup (signer);
  g_free (st->fingerprint);
  st->fingerprint = g_strdup (sig->fingerprint);
}

static GBytes *open_entity (OpenCtx *c, GBytes *entity, gboolean whole, int depth);

static GBytes *
open_enveloped (OpenCtx *c, GBytes *entity, GBytes *der, gboolean whole, int depth)
{
  PstStatus *st = c->status;
  PstCovers covers = whole ? PST_COVERS_WHOLE : PST_COVERS_PART;
  g_autoptr(GBytes) plain = NULL;
  g_autoptr(GError) err = NULL;
  gboolean auth = FALSE, signed_before = c->sig_set;
  GBytes *inner;

  st->scheme = PST_SCHEME_SMIME;
  if (covers > st->encryption_covers)
    st->encryption_covers = covers;
  if (!pst_smime_decrypt (c->smime, der, &plain, &auth, &err))
    {
      st->decryption = PST_DECRYPTION_FAILED;
      return g_bytes_ref (entity);
    }
  if (st->decryption != PST_DECRYPTION_FAILED)
    st->decryption = PST_DECRYPTION_OK;
  inner = open_entity (c, plain, whole, depth + 1);
  /* CBC has no MAC: only a good signature inside vouches for integrity. */
  if (st->integrity != PST_INTEGRITY_FAILED)
    {
      if (auth)
        st->integrity = PST_INTEGRITY_OK;
      else if (!signed_before && c->sig_set && st->sig_status == PST_SIG_GOOD)
        st->integrity = PST_INTEGRITY_OK;
      else if (st->integrity != PST_INTEGRITY_OK)
        st->integrity = PST_INTEGRITY_NONE;
    }
  if (whole)
    return inner;
  g_bytes_unref (inner);
  return g_bytes_ref (entity);
}

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

  if (is_pkcs7_mime (type))
    {
      g_autoptr(GBytes) der = part_der (fields, entity, body);
      PstSmimeCmsType t = pst_smime_cms_type (der);

      if (t == PST_SMIME_CMS_ENVELOPED || t == PST_SMIME_CMS_AUTH_ENVELOPED)
        return open_enveloped (c, entity, der, whole, depth);
      if (t == PST_SMIME_CMS_SIGNED)
        {
          g_autoptr(GBytes) econtent = NULL;
          g_autoptr(PstSmimeSignature) sig = pst_smime_verify (c->smime, der, NULL, &econtent);
          GBytes *inner;

          if (econtent == NULL)
            {
              record_signature (c, sig, covers);
              return g_bytes_ref (entity);
            }
          if (entity_is_encrypted (econtent))
            pst_status_add_warning (c->status, "outer-signature-ignored");
          else
            record_signature (c, sig, covers);
          inner = open_entity (c, econtent, whole, depth + 1);
          if (whole)
            return inner;
          g_bytes_unref (inner);
        }
      return g_bytes_ref (entity);
    }

  if (!g_str_has_prefix (type, "multipart/"))
    return g_bytes_ref (entity);
  spans = pst_mime_split_multipart (data + body, len - body, g_hash_table_lookup (params, "boundary"),
                                    NULL);
  if (spans == NULL)
    return g_bytes_ref (entity);

  if (g_str_equal (type, "multipart/signed")
      && is_pkcs7_signature (g_hash_table_lookup (params, "protocol")) && spans->len >= 2)
    {
      g_autoptr(GBytes) content = span_bytes (entity, body, &g_array_index (spans, PstMimeSpan, 0));
      GBytes *inner;

      if (entity_is_encrypted (content))
        pst_status_add_warning (c->status, "outer-signature-ignored");
      else
        {
          g_autoptr(GBytes) part = span_bytes (entity, body, &g_array_index (spans, PstMimeSpan, 1));
          g_autoptr(GPtrArray) sfields = NULL;
          g_autoptr(GBytes) der = NULL;
          g_autoptr(GBytes) canon = pst_mime_to_crlf (g_bytes_get_data (content, NULL),
                                                      g_bytes_get_size (content));
          g_autoptr(PstSmimeSignature) sig = NULL;
          gsize sbody = 0;

          if (entity_split (part, &sfields, &sbody))
            der = part_der (sfields, part, sbody);
          sig = pst_smime_verify (c->smime, der, canon, NULL);
          record_signature (c, sig, covers);
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

gboolean
pst_smimemime_open (PstSmime *smime, GBytes *message, GBytes **plain_out,
                    PstStatus **status_out, GError **error)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(PstStatus) status = pst_status_new ();
  g_autoptr(GBytes) display = NULL;
  g_autofree char *from = NULL;
  gsize len = 0, body = 0;
  const char *p = g_bytes_get_data (message, &len);
  const char *date;
  OpenCtx c = { 0 };

  if (p == NULL || !pst_mime_split_header (p, len, &fields, &body, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "not a message: it is empty");
      return FALSE;
    }
  from = single_from (fields);
  date = find_field (fields, "Date", NULL);
  if (date != NULL)
    {
      g_autofree char *value = pst_mime_field_value (date);
      c.date = parse_date (value);
    }
  c.smime = smime;
  c.status = status;
  c.from = from;

  display = open_entity (&c, message, TRUE, 0);

  if (plain_out != NULL)
    {
      if (display == message)
        *plain_out = g_bytes_ref (message);
      else
        {
          g_autoptr(GString) head = g_string_new (NULL);
          gsize dlen = 0;
          const char *d = g_bytes_get_data (display, &dlen);
          SecretBuf *sb;

          for (guint i = 0; i < fields->len; i++)
            if (!is_content_field (fields->pdata[i]))
              {
                g_string_append (head, fields->pdata[i]);
                if (head->str[head->len - 1] != '\n')
                  g_string_append (head, "\r\n");
              }
          sb = g_malloc (sizeof (SecretBuf) + head->len + dlen);
          sb->len = head->len + dlen;
          memcpy (sb->data, head->str, head->len);
          if (dlen > 0)
            memcpy (sb->data + head->len, d, dlen);
          *plain_out = g_bytes_new_with_free_func (sb->data, sb->len, secret_buf_free, sb);
        }
    }
  if (status_out != NULL)
    *status_out = g_steal_pointer (&status);
  return TRUE;
}
