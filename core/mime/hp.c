/* hp.c — header protection (RFC 9788; see hp.h), shared by pgpmime.c and
 * smimemime.c. */
#include "mime/hp.h"

#include <string.h>

#include "mime/mime.h"
#include "util/addr.h"
#include "util/secret.h"

#define OBSCURED_SUBJECT_FIELD "Subject: ...\r\n"

/* --- Writing -------------------------------------------------------------- */

void
pst_hp_add_missing_fields (GPtrArray *fields, const char *sender)
{
  const char *at = sender != NULL ? strrchr (sender, '@') : NULL;

  if (pst_mime_find_field (fields, "Date", NULL) == NULL)
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_local ();
      g_autofree char *date = pst_mime_format_date (now);
      g_ptr_array_add (fields, g_strdup_printf ("Date: %s\r\n", date));
    }
  if (pst_mime_find_field (fields, "Message-ID", NULL) == NULL)
    {
      g_autofree char *token = pst_mime_random_token ();
      g_ptr_array_add (fields, g_strdup_printf ("Message-ID: <%s@%s>\r\n", token,
                                                at != NULL ? at + 1 : "localhost"));
    }
}

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
  /* Autocrypt-Gossip travels inside the encryption only (DESIGN.md §14). */
  for (guint i = 0; encrypt && i < fields->len; i++)
    if (pst_mime_field_is (fields->pdata[i], "Autocrypt-Gossip"))
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

GBytes *
pst_hp_payload (GPtrArray *fields, const char *body, gsize body_len, gboolean encrypt,
                gboolean seven_bit)
{
  g_autoptr(GPtrArray) protected = protected_fields (fields, encrypt);

  return pst_mime_build_entity (fields, body, body_len, seven_bit,
                                encrypt ? "hp=\"cipher\"" : "hp=\"clear\"", protected);
}

GBytes *
pst_hp_payload_head (GPtrArray *fields, gboolean encrypt, gboolean seven_bit,
                     const PstBodyScan *body, gboolean *qp_out)
{
  g_autoptr(GPtrArray) protected = protected_fields (fields, encrypt);

  return pst_mime_build_entity_head (fields, seven_bit, body,
                                     encrypt ? "hp=\"cipher\"" : "hp=\"clear\"", protected, qp_out);
}

GBytes *
pst_hp_outer_header (GPtrArray *fields, gboolean encrypt)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; i < fields->len; i++)
    {
      const char *f = fields->pdata[i];

      if (pst_mime_is_content_field (f) || pst_mime_field_is (f, "Bcc")
          || pst_mime_field_is (f, "Resent-Bcc") || pst_mime_field_is (f, "MIME-Version")
          || pst_mime_field_is (f, "Autocrypt-Gossip"))
        continue;
      if (encrypt && pst_mime_field_is (f, "Subject"))
        f = OBSCURED_SUBJECT_FIELD;
      pst_mime_append_field (out, f);
    }
  if (encrypt && pst_mime_find_field (fields, "Subject", NULL) == NULL)
    g_string_append (out, OBSCURED_SUBJECT_FIELD);
  g_string_append (out, "MIME-Version: 1.0\r\n");
  return pst_mime_to_crlf (out->str, out->len);
}

/* --- Reading -------------------------------------------------------------- */

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

  if (depth > 3 || !pst_mime_entity_split (entity, &fields, &body))
    return g_bytes_ref (entity);
  type = pst_mime_entity_content_type (fields, &params);
  if (g_str_equal (type, "text/plain") && g_hash_table_contains (params, "hp-legacy-display"))
    {
      const char *cte_field = pst_mime_find_field (fields, "Content-Transfer-Encoding", NULL);
      g_autofree char *cte = cte_field != NULL ? pst_mime_field_value (cte_field) : NULL;

      if (cte != NULL && g_ascii_strcasecmp (cte, "base64") == 0)
        return g_bytes_ref (entity);   /* not worth decoding: shown as it is */
      if (!strip_header_block (data + body, len - body, &skip))
        return g_bytes_ref (entity);
      return pst_secret_bytes_new (data, body, data + body + skip, len - body - skip);
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
      g_autoptr(GBytes) part = pst_mime_span_bytes (entity, body, &g_array_index (spans, PstMimeSpan, i));
      g_autoptr(GPtrArray) pfields = NULL;
      g_autoptr(GHashTable) pparams = NULL;
      g_autofree char *ptype = NULL;
      gsize pbody = 0;

      if (pst_mime_entity_split (part, &pfields, &pbody))
        {
          ptype = pst_mime_entity_content_type (pfields, &pparams);
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
  return pst_secret_bytes_from_gstring (out);
}

/* The embedded message of a payload root that is message/rfc822 with
 * forwarded="no" (draft-melnikov-lamps-header-protection, as notmuch's
 * corpus has it): the whole message wrapped, its header the protected
 * one.  A forwarded message (no such parameter) is content, never a
 * header.  NULL when @payload is not such a wrapper.  Transfer full. */
static GBytes *
wrapped_message (GBytes *payload)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autofree char *type = NULL;
  gsize body = 0;
  const char *forwarded;

  if (!pst_mime_entity_split (payload, &fields, &body))
    return NULL;
  type = pst_mime_entity_content_type (fields, &params);
  forwarded = g_hash_table_lookup (params, "forwarded");
  if (!g_str_equal (type, "message/rfc822") || forwarded == NULL
      || g_ascii_strcasecmp (forwarded, "no") != 0)
    return NULL;
  return g_bytes_new_from_bytes (payload, body, g_bytes_get_size (payload) - body);
}

/* The fields that say who wrote a message and to whom: without a good
 * signature that matches the protected From, the outer ones are shown,
 * since anyone can encrypt to the reader and only the outer ones were seen
 * by the provider's SPF/DKIM/DMARC. */
static const char *const address_names[] = { "From", "To", "Cc", "Reply-To", NULL };

/* The display values of every field of @fields named @name, joined by ", "
 * with runs of white space made one space; NULL when there is none.
 * Transfer full. */
static char *
joined_values (GPtrArray *fields, const char *name)
{
  g_autoptr(GString) s = NULL;

  for (guint i = 0; i < fields->len; i++)
    if (pst_mime_field_is (fields->pdata[i], name))
      {
        g_autofree char *v = pst_mime_field_display_value (fields->pdata[i]);
        g_auto(GStrv) words = g_strsplit_set (v, " \t\r\n", -1);
        gboolean first = TRUE;

        if (s == NULL)
          s = g_string_new (NULL);
        else
          g_string_append (s, ", ");
        for (char **w = words; *w != NULL; w++)
          if (**w != '\0')
            {
              g_string_append_printf (s, "%s%s", first ? "" : " ", *w);
              first = FALSE;
            }
      }
  return s != NULL ? g_string_free (g_steal_pointer (&s), FALSE) : NULL;
}

/* Records a header mismatch for each address field that the protected
 * @inner fields give and that differs from the outer one. */
static void
note_mismatches (PstStatus *status, GPtrArray *outer, GPtrArray *inner)
{
  for (const char *const *n = address_names; *n != NULL; n++)
    {
      g_autofree char *in = joined_values (inner, *n);
      g_autofree char *out = NULL;

      if (in == NULL)
        continue;   /* the inner header says nothing of it (the older draft's Subject alone) */
      out = joined_values (outer, *n);
      if (g_strcmp0 (in, out) != 0)
        pst_status_add_header_mismatch (status, *n, out, in);
    }
}

/* The Autocrypt-Gossip fields of @payload's header into @status. */
static void
collect_gossip (PstStatus *status, GBytes *payload)
{
  g_autoptr(GPtrArray) fields = NULL;
  gsize body = 0;

  if (!pst_mime_entity_split (payload, &fields, &body))
    return;
  for (guint i = 0; i < fields->len; i++)
    if (pst_mime_field_is (fields->pdata[i], "Autocrypt-Gossip"))
      {
        g_autofree char *value = pst_mime_field_value (fields->pdata[i]);
        pst_status_add_gossip (status, value);
      }
}

GPtrArray *
pst_hp_shown_fields (PstStatus *status, const char *const *good_signer, GPtrArray *outer_fields,
                     GBytes *message, GBytes **display)
{
  gboolean covered = (status->decryption == PST_DECRYPTION_OK
                      && status->encryption_covers == PST_COVERS_WHOLE)
                     || good_signer != NULL;
  GBytes *payload = *display != message ? *display : NULL;
  GPtrArray *shown = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) inner = NULL;   /* the protected fields, Content-* and HP-Outer left out */
  g_autoptr(GBytes) wrapped = NULL;
  gboolean promote = FALSE, subject_used = FALSE;
  HpKind hp = HP_NONE;

  /* Autocrypt-Gossip (DESIGN.md §14) only from a decryption that is the
   * whole message: what anyone could have put outside never counts. */
  if (payload != NULL && status->decryption == PST_DECRYPTION_OK
      && status->encryption_covers == PST_COVERS_WHOLE)
    collect_gossip (status, payload);
  if (covered && payload != NULL)
    {
      g_autoptr(GPtrArray) fields = NULL;
      g_autoptr(GHashTable) params = NULL;
      g_autofree char *type = NULL;
      gsize body = 0;

      wrapped = wrapped_message (payload);
      if (wrapped != NULL && pst_mime_entity_split (wrapped, &fields, &body))
        hp = HP_RFC9788;   /* a whole header, as RFC 9788's payload root carries */
      else if (wrapped == NULL && pst_mime_entity_split (payload, &fields, &body))
        {
          type = pst_mime_entity_content_type (fields, &params);
          hp = hp_kind (params);
        }
      if (fields != NULL)
        {
          inner = g_ptr_array_new_with_free_func (g_free);
          for (guint i = 0; i < fields->len; i++)
            if (!pst_mime_is_content_field (fields->pdata[i])
                && !pst_mime_field_is (fields->pdata[i], "HP-Outer")
                && !pst_mime_field_is (fields->pdata[i], "MIME-Version"))
              g_ptr_array_add (inner, g_strdup (fields->pdata[i]));
          if (inner->len == 0)
            hp = HP_NONE;
        }
      else
        hp = HP_NONE;
    }
  if (hp == HP_NONE)
    {
      for (guint i = 0; i < outer_fields->len; i++)
        if (!pst_mime_is_content_field (outer_fields->pdata[i]))
          g_ptr_array_add (shown, g_strdup (outer_fields->pdata[i]));
      status->protected_headers = FALSE;
      return shown;
    }
  if (wrapped != NULL)
    {
      g_bytes_unref (*display);
      *display = g_steal_pointer (&wrapped);
    }

  /* DESIGN.md §4: the protected header speaks for the message only from a
   * layer whose good signature covers it whole and is the protected From's
   * (and the outside has one From, as from_match asks). */
  if (good_signer != NULL)
    {
      g_autofree char *outer_from = pst_mime_single_from (outer_fields);
      g_autofree char *inner_from = pst_mime_single_from (inner);

      promote = outer_from != NULL && inner_from != NULL
                && pst_addr_in_list (inner_from, good_signer);
    }

  if (promote)
    {
      /* The protected fields in place of the outer ones of the same name
       * (in the outer order, so that a header whose two sides agree reads
       * the same signed or not: pgpstream.c relies on it); with RFC 9788
       * protection the other outer fields go, but for the trace fields. */
      g_autoptr(GPtrArray) used = g_ptr_array_new ();

      for (guint i = 0; i < outer_fields->len; i++)
        {
          const char *f = outer_fields->pdata[i];
          gboolean replaced = FALSE;

          if (pst_mime_is_content_field (f))
            continue;
          for (guint j = 0; j < inner->len; j++)
            if (same_field_name (f, inner->pdata[j]))
              {
                if (!g_ptr_array_find (used, inner->pdata[j], NULL))
                  {
                    g_ptr_array_add (shown, g_strdup (inner->pdata[j]));
                    g_ptr_array_add (used, inner->pdata[j]);
                  }
                replaced = TRUE;
              }
          if (!replaced && (hp == HP_LEGACY_V1 || is_trace_field (f)))
            g_ptr_array_add (shown, g_strdup (f));
        }
      for (guint j = 0; j < inner->len; j++)
        if (!g_ptr_array_find (used, inner->pdata[j], NULL))
          g_ptr_array_add (shown, g_strdup (inner->pdata[j]));
      status->protected_headers = TRUE;
      return shown;
    }

  /* Otherwise the outer header, but for the Subject, which may come from
   * inside (it names no one); differing address fields are said, never
   * silently preferred. */
  for (guint i = 0; i < outer_fields->len; i++)
    {
      const char *f = outer_fields->pdata[i];

      if (pst_mime_is_content_field (f))
        continue;
      if (pst_mime_field_is (f, "Subject") && pst_mime_find_field (inner, "Subject", NULL) != NULL)
        {
          if (!subject_used)
            for (guint j = 0; j < inner->len; j++)
              if (pst_mime_field_is (inner->pdata[j], "Subject"))
                g_ptr_array_add (shown, g_strdup (inner->pdata[j]));
          subject_used = TRUE;
          continue;
        }
      g_ptr_array_add (shown, g_strdup (f));
    }
  if (!subject_used)
    for (guint j = 0; j < inner->len; j++)
      if (pst_mime_field_is (inner->pdata[j], "Subject"))
        {
          g_ptr_array_add (shown, g_strdup (inner->pdata[j]));
          subject_used = TRUE;
        }
  note_mismatches (status, outer_fields, inner);
  status->protected_headers = subject_used;
  return shown;
}

char *
pst_hp_from_address (const PstStatus *status, GPtrArray *outer_fields, GPtrArray *shown)
{
  g_autofree char *outer = pst_mime_single_from (outer_fields);

  if (outer == NULL)
    return NULL;
  for (guint i = 0; i < status->header_mismatches->len; i++)
    if (g_str_equal (((PstHeaderMismatch *) status->header_mismatches->pdata[i])->field, "From"))
      return NULL;
  return pst_mime_single_from (shown);
}

GBytes *
pst_hp_finish (PstStatus *status, PstScheme scheme, const PstSignatureFacts *sig,
               PstCovers sig_covers, GPtrArray *outer_fields, GBytes *message, GBytes *display,
               PstSigStatus *verdict_out)
{
  g_autoptr(GPtrArray) shown = NULL;
  g_autoptr(GBytes) content = g_bytes_ref (display);
  g_autofree char *from = NULL;
  gboolean good_whole = sig != NULL && sig_covers == PST_COVERS_WHOLE
                        && pst_signature_verdict (sig) == PST_SIG_GOOD;
  const char *const none[] = { NULL };
  PstSigStatus verdict = PST_SIG_NONE;

  shown = pst_hp_shown_fields (status, !good_whole ? NULL
                                       : sig->addresses != NULL ? (const char *const *) sig->addresses
                                       : none,
                               outer_fields, message, &content);
  from = pst_hp_from_address (status, outer_fields, shown);
  if (sig != NULL)
    verdict = pst_status_set_signature (status, scheme, sig, sig_covers, from,
                                        pst_mime_fields_date (shown));
  if (verdict_out != NULL)
    *verdict_out = verdict;
  return pst_hp_plain_message (shown, message, content, status->protected_headers);
}

GBytes *
pst_hp_plain_message (GPtrArray *shown, GBytes *message, GBytes *display, gboolean is_protected)
{
  GString *all;
  g_autoptr(GBytes) content = NULL;
  g_autoptr(GPtrArray) fields = NULL;
  gsize len = 0, body = 0;
  const char *d;

  if (display == message)
    return g_bytes_ref (message);
  all = g_string_new (NULL);
  for (guint i = 0; i < shown->len; i++)
    pst_mime_append_field (all, shown->pdata[i]);
  content = is_protected ? strip_legacy_display (display, 0) : g_bytes_ref (display);
  d = g_bytes_get_data (content, &len);
  /* The payload's own Content-* fields, then its body. */
  if (pst_mime_entity_split (content, &fields, &body))
    {
      for (guint i = 0; i < fields->len; i++)
        if (pst_mime_is_content_field (fields->pdata[i]))
          pst_mime_append_field (all, fields->pdata[i]);
      g_string_append (all, "\r\n");
      g_string_append_len (all, d + body, len - body);
    }
  else
    {
      /* No header of its own: all of it is body, and the blank line keeps
       * its first lines from reading as more of the shown header (a From
       * of the sender's choosing among them: found by fuzz-smime). */
      g_string_append (all, "\r\n");
      g_string_append_len (all, d, len);
    }
  return pst_secret_bytes_from_gstring (all);
}
