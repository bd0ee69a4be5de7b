/* compose.c — writing a new message (compose.h).
 *
 * libetpan parses the addresses here (mailimf_mailbox_parse, then
 * pst_addr_extract checks the addr-spec), but the message is written by
 * hand, because libetpan's writers (mailimf_fields_write, mailmime_write)
 * do not serve for what this must produce:
 *  - they never RFC 2047-encode: a non-ASCII Subject or display name is
 *    written as raw 8-bit header bytes, which RFC 5322 does not allow;
 *  - they write every MIME parameter as a quoted-string, and an RFC 2231
 *    extended value (filename*=utf-8''%C3%A9…) must not be quoted;
 *  - their header folding breaks only at spaces it finds, and passes CR and
 *    LF in values through, so that refusing header injection and keeping
 *    lines within 78 columns would be ours anyway;
 *  - their quoted-printable is a second encoder (72 columns, other rules)
 *    beside pst_mime_qp_encode, which the signing paths use: one encoder
 *    keeps a composed body unchanged when send signs it.
 * What is written is plain: folded header lines (compose-header.c), a
 * text part, base64 parts.  tests/unit/test-compose.c parses every form
 * back with libetpan.
 */
#include "mime/compose.h"

#include <gio/gio.h>
#include <libetpan/libetpan.h>
#include <string.h>

#include "mime/compose-header-private.h"
#include "mime/mime.h"
#include "util/addr.h"
#include "util/error.h"

/* The Message-ID's length this writer takes */
#define MAX_MSG_ID 250
/* Characters of one RFC 2231 section's value, and of a quoted file name */
#define PARAM_SECTION 60

/* RFC 2045 token */
static gboolean
is_token (const char *s, gsize len)
{
  if (len == 0)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if ((guchar) s[i] <= 0x20 || (guchar) s[i] >= 0x7f || strchr ("()<>@,;:\\\"/[]?=", s[i]) != NULL)
      return FALSE;
  return TRUE;
}

/* "type/subtype" of tokens, then parameters that libetpan reads, all
 * printable ASCII: libetpan alone takes "not a type" as "not/unknown". */
static gboolean
valid_content_type (const char *value)
{
  const char *slash = strchr (value, '/'), *end = value + strcspn (value, ";");
  g_autofree char *type = NULL;

  if (!pst_compose_is_plain_ascii (value) || slash == NULL || slash > end)
    return FALSE;
  while (end > slash && g_ascii_isspace (end[-1]))
    end--;
  if (!is_token (value, slash - value) || !is_token (slash + 1, end - slash - 1))
    return FALSE;
  type = pst_mime_parse_content_type (value, NULL);
  return type != NULL;
}

/* ---- addresses ---- */

typedef struct {
  char *name;   /* display name, or NULL */
  char *spec;   /* addr-spec */
} Mailbox;

static void
mailbox_clear (Mailbox *m)
{
  g_clear_pointer (&m->name, g_free);
  g_clear_pointer (&m->spec, g_free);
}

/* Parses one "addr" or "Name <addr>" of field @field. */
static gboolean
parse_mailbox (const char *field, const char *text, Mailbox *out, GError **error)
{
  struct mailimf_mailbox *mb = NULL;
  size_t idx = 0, len;
  gboolean ok = FALSE;

  memset (out, 0, sizeof *out);
  if (!pst_compose_check_text (field, text, TRUE, error))
    return FALSE;
  len = strlen (text);
  if (mailimf_mailbox_parse (text, len, &idx, &mb) != MAILIMF_NO_ERROR)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "%s: '%s' is not an address", field, text);
      return FALSE;
    }
  while (idx < len && g_ascii_isspace (text[idx]))
    idx++;
  out->spec = pst_addr_extract (mb->mb_addr_spec);
  if (idx < len)
    g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                 "%s: '%s' is not one address (give each address on its own)", field, text);
  else if (out->spec == NULL || strchr (out->spec, '"') != NULL)
    g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "%s: '%s' is not an address", field, text);
  else if (!pst_compose_is_plain_ascii (out->spec) || strlen (out->spec) > MAX_ADDR_SPEC)
    g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                 "%s: '%s' is not an address this writer takes (ASCII, at most %d characters)",
                 field, text, MAX_ADDR_SPEC);
  else
    {
      if (mb->mb_display_name != NULL)
        out->name = g_strstrip (g_strdup (mb->mb_display_name));
      if (out->name != NULL && *out->name == '\0')
        g_clear_pointer (&out->name, g_free);
      ok = TRUE;
    }
  mailimf_mailbox_free (mb);
  if (!ok)
    mailbox_clear (out);
  return ok;
}

static void
header_add_mailbox (Header *h, const Mailbox *m, gboolean last)
{
  pst_compose_header_add_mailbox (h, m->name, m->spec, last);
}

/* Writes field @name with the addresses of @list; nothing when @list is
 * empty. */
static gboolean
write_address_field (GString *out, const char *name, const char *const *list, GError **error)
{
  g_autoptr (GArray) boxes = g_array_new (FALSE, TRUE, sizeof (Mailbox));
  Header h;
  gboolean ok = TRUE;

  g_array_set_clear_func (boxes, (GDestroyNotify) mailbox_clear);
  for (const char *const *a = list; ok && a != NULL && *a != NULL; a++)
    {
      Mailbox m;

      if ((ok = parse_mailbox (name, *a, &m, error)))
        g_array_append_val (boxes, m);
    }
  if (!ok || boxes->len == 0)
    return ok;
  pst_compose_header_begin (&h, out, name);
  for (guint i = 0; i < boxes->len; i++)
    header_add_mailbox (&h, &g_array_index (boxes, Mailbox, i), i + 1 == boxes->len);
  pst_compose_header_end (&h);
  return TRUE;
}

/* "<id@host>" from @text ("<id@host>" or "id@host"), or NULL. */
static char *
msg_id (const char *text)
{
  g_autofree char *id = g_strstrip (g_strdup (text));
  gsize len = strlen (id);
  const char *at;

  if (len >= 2 && id[0] == '<' && id[len - 1] == '>')
    {
      memmove (id, id + 1, len - 2);
      id[len - 2] = '\0';
    }
  at = strchr (id, '@');
  if (*id == '\0' || strlen (id) > MAX_MSG_ID || at == NULL || at == id || at[1] == '\0')
    return NULL;
  for (const char *p = id; *p != '\0'; p++)
    if ((guchar) *p <= 0x20 || (guchar) *p >= 0x7f || *p == '<' || *p == '>')
      return NULL;
  return g_strdup_printf ("<%s>", id);
}

/* The Message-IDs of @text ("<a@h> <b@h>…", or NULL: none), each
 * "<id@host>", at most MAX_REFERENCES of them (the last ones: the start of
 * a thread and what is nearest matter, and RFC 5322 §3.6.4 allows
 * shortening); NULL with PST_ERROR_USAGE when @text holds anything else.
 * Transfer full. */
#define MAX_REFERENCES 100
static GPtrArray *
parse_references (const char *text, GError **error)
{
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) words = NULL;

  if (text == NULL)
    return g_steal_pointer (&ids);
  if (!pst_compose_check_text ("References", text, TRUE, error))
    return NULL;
  words = g_strsplit_set (text, " \t", -1);
  for (char **w = words; *w != NULL; w++)
    {
      char *id;

      if (**w == '\0')
        continue;
      if (!(id = msg_id (*w)) || (*w)[0] != '<')
        {
          g_free (id);
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                       "References: '%s' is not a Message-ID (<id@host>)", *w);
          return NULL;
        }
      g_ptr_array_add (ids, id);
    }
  if (ids->len > MAX_REFERENCES)
    g_ptr_array_remove_range (ids, 1, ids->len - MAX_REFERENCES);
  return g_steal_pointer (&ids);
}

/* ---- body parts ---- */

/* The text part's header fields and body. */
static void
write_text_part (GString *out, const char *body)
{
  g_autoptr (GBytes) crlf = pst_mime_to_crlf (body, strlen (body));
  gsize len = 0;
  const char *text = g_bytes_get_data (crlf, &len);
  gboolean qp;

  if (text == NULL)
    text = "";
  qp = pst_mime_body_needs_qp (text, len);
  g_string_append (out, "Content-Type: text/plain; charset=utf-8\r\n");
  g_string_append_printf (out, "Content-Transfer-Encoding: %s\r\n\r\n",
                          qp ? "quoted-printable" : "7bit");
  if (qp)
    pst_mime_qp_encode (out, text, len);
  else
    g_string_append_len (out, text, len);
  /* the message ends with a line end, as every editor's text does */
  if (len > 0 && !g_str_has_suffix (out->str, "\r\n"))
    g_string_append (out, "\r\n");
}

/* A forwarded message as a message/rfc822 part: its bytes with CRLF line
 * ends, labelled 7bit, 8bit or binary as they are (RFC 2045 §2.7–2.9). */
static void
write_forward_part (GString *out, GBytes *message)
{
  gsize len = 0;
  const char *data = g_bytes_get_data (message, &len);
  g_autoptr (GBytes) crlf = pst_mime_to_crlf (data != NULL ? data : "", len);
  const char *p = g_bytes_get_data (crlf, &len);
  gboolean eight = FALSE, binary = FALSE;
  gsize line = 0;

  for (gsize i = 0; i < len; i++)
    {
      if (p[i] == '\0')
        binary = TRUE;
      else if ((guchar) p[i] >= 0x80)
        eight = TRUE;
      line = p[i] == '\n' ? 0 : line + 1;
      if (line > 998)
        binary = TRUE;
    }
  g_string_append (out, "Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n");
  g_string_append_printf (out, "Content-Transfer-Encoding: %s\r\n\r\n",
                          binary ? "binary" : eight ? "8bit" : "7bit");
  g_string_append_len (out, p, len);
  if (len > 0 && p[len - 1] != '\n')
    g_string_append (out, "\r\n");
}

/* RFC 2231 attr-char: what stands for itself in an extended value */
static gboolean
is_attr_char (char c)
{
  return g_ascii_isalnum (c) || (c != '\0' && strchr ("!#$&+-.^_`|~", c) != NULL);
}

/* "attachment" and the file name: filename="…" when it is short printable
 * ASCII with nothing to escape, else RFC 2231 (in sections when long). */
static void
write_disposition (GString *out, const char *filename)
{
  g_autoptr (GPtrArray) sections = g_ptr_array_new_with_free_func (g_free);
  GString *cur;

  g_string_append (out, "Content-Disposition: attachment");
  if (filename == NULL || *filename == '\0')
    {
      g_string_append (out, "\r\n");
      return;
    }
  if (pst_compose_is_plain_ascii (filename) && strlen (filename) <= PARAM_SECTION
      && strpbrk (filename, "\"\\\t") == NULL && strstr (filename, "=?") == NULL)
    {
      g_string_append_printf (out, ";\r\n filename=\"%s\"\r\n", filename);
      return;
    }
  cur = g_string_new ("utf-8''");
  for (const char *p = filename; *p != '\0'; p++)
    {
      char enc[4];

      if (is_attr_char (*p))
        enc[0] = *p, enc[1] = '\0';
      else
        g_snprintf (enc, sizeof enc, "%%%02X", (guchar) *p);
      if (cur->len + strlen (enc) > PARAM_SECTION)
        {
          g_ptr_array_add (sections, g_string_free (cur, FALSE));
          cur = g_string_new (NULL);
        }
      g_string_append (cur, enc);
    }
  g_ptr_array_add (sections, g_string_free (cur, FALSE));
  if (sections->len == 1)
    g_string_append_printf (out, ";\r\n filename*=%s", (char *) sections->pdata[0]);
  else
    for (guint i = 0; i < sections->len; i++)
      g_string_append_printf (out, ";\r\n filename*%u*=%s", i, (char *) sections->pdata[i]);
  g_string_append (out, "\r\n");
}

/* The content type to write for @a: its own, checked, or a guess.
 * Composite types are sent as application/octet-stream: a multipart needs
 * a boundary that matches its content, and message/rfc822 must not be
 * base64 (RFC 2046 §5.2.1), which every attachment here is.  Transfer
 * full. */
static char *
attachment_type (const PstComposeAttachment *a, guint n, GError **error)
{
  g_autofree char *field = g_strdup_printf ("the content type of attachment %u", n);
  g_autofree char *type = NULL;
  gsize len = 0;
  const guchar *data = a->data != NULL ? g_bytes_get_data (a->data, &len) : NULL;

  if (a->content_type != NULL)
    {
      if (!pst_compose_check_text (field, a->content_type, TRUE, error))
        return NULL;
      if (!valid_content_type (g_strstrip (type = g_strdup (a->content_type))))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "%s: '%s' is not a MIME type", field,
                       a->content_type);
          return NULL;
        }
      g_free (type);
      type = pst_mime_parse_content_type (a->content_type, NULL);
      if (!g_str_has_prefix (type, "multipart/") && !g_str_has_prefix (type, "message/"))
        return g_strstrip (g_strdup (a->content_type));
    }
  else
    {
      gboolean uncertain = FALSE;
      g_autofree char *guess = g_content_type_guess (a->filename, data, len, &uncertain);

      type = guess != NULL ? g_content_type_get_mime_type (guess) : NULL;
      if (type != NULL && valid_content_type (type)
          && !g_str_has_prefix (type, "multipart/") && !g_str_has_prefix (type, "message/"))
        return g_steal_pointer (&type);
    }
  return g_strdup ("application/octet-stream");
}

static void
write_base64 (GString *out, GBytes *data)
{
  gsize len = 0;
  const guchar *p = data != NULL ? g_bytes_get_data (data, &len) : NULL;

  /* 57 bytes make one 76-column line */
  for (gsize off = 0; off < len; off += 57)
    {
      g_autofree char *line = g_base64_encode (p + off, MIN (57, len - off));
      g_string_append (out, line);
      g_string_append (out, "\r\n");
    }
}

/* ---- the message ---- */

static gboolean
write_header (GString *out, const PstComposeFields *f, GError **error)
{
  Mailbox from = { 0 };
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *date = pst_mime_format_date (now);
  g_autofree char *token = pst_mime_random_token ();
  g_autofree char *reply = NULL;
  g_autoptr (GPtrArray) refs = NULL;
  Header h;

  if (!(refs = parse_references (f->references, error)))
    return FALSE;
  if (f->from == NULL || *f->from == '\0')
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "From: the sender's address is missing");
      return FALSE;
    }
  if ((f->from_name != NULL
       && !pst_compose_check_text ("the From display name", f->from_name, TRUE, error))
      || (f->subject != NULL && !pst_compose_check_text ("Subject", f->subject, TRUE, error)))
    return FALSE;
  if (f->in_reply_to != NULL
      && (!pst_compose_check_text ("In-Reply-To", f->in_reply_to, TRUE, error)
          || !(reply = msg_id (f->in_reply_to))))
    {
      if (error == NULL || *error == NULL)
        g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                     "In-Reply-To: '%s' is not a Message-ID (<id@host>)", f->in_reply_to);
      return FALSE;
    }
  if (!parse_mailbox ("From", f->from, &from, error))
    return FALSE;
  if (f->from_name != NULL)
    {
      g_free (from.name);
      from.name = *f->from_name != '\0' ? g_strdup (f->from_name) : NULL;
    }

  g_string_append_printf (out, "Date: %s\r\n", date);
  g_string_append_printf (out, "Message-ID: <%s@%s>\r\n", token, strrchr (from.spec, '@') + 1);
  pst_compose_header_begin (&h, out, "From");
  header_add_mailbox (&h, &from, TRUE);
  pst_compose_header_end (&h);
  mailbox_clear (&from);
  if (!write_address_field (out, "To", f->to, error)
      || !write_address_field (out, "Cc", f->cc, error)
      || !write_address_field (out, "Bcc", f->bcc, error))
    return FALSE;
  if (f->subject != NULL)
    {
      pst_compose_header_begin (&h, out, "Subject");
      pst_compose_header_add_text (&h, f->subject);
      pst_compose_header_end (&h);
    }
  if (reply != NULL)
    g_string_append_printf (out, "In-Reply-To: %s\r\n", reply);
  if (refs->len > 0 || reply != NULL)
    {
      pst_compose_header_begin (&h, out, "References");
      for (guint i = 0; i < refs->len; i++)
        pst_compose_header_add (&h, refs->pdata[i]);
      if (reply != NULL && !g_ptr_array_find_with_equal_func (refs, reply, g_str_equal, NULL))
        pst_compose_header_add (&h, reply);
      pst_compose_header_end (&h);
    }
  g_string_append (out, "MIME-Version: 1.0\r\n");
  return TRUE;
}

GBytes *
pst_compose_message (const PstComposeFields *f, GError **error)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GPtrArray) types = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GBytes) text_bytes = NULL;
  g_autofree char *boundary = NULL;
  const char *body = f->body != NULL ? f->body : "";

  if (!pst_compose_check_text ("the body", body, FALSE, error))
    return NULL;
  for (guint i = 0; i < f->n_attachments; i++)
    {
      const PstComposeAttachment *a = &f->attachments[i];
      g_autofree char *field = g_strdup_printf ("the file name of attachment %u", i);
      char *type;

      if (a->filename != NULL && !pst_compose_check_text (field, a->filename, TRUE, error))
        return NULL;
      if (!(type = attachment_type (a, i, error)))
        return NULL;
      g_ptr_array_add (types, type);
    }
  if (!write_header (out, f, error))
    return NULL;

  write_text_part (text, body);
  if (f->n_attachments == 0 && f->forward == NULL)
    {
      g_string_append_len (out, text->str, text->len);
      return g_string_free_to_bytes (g_steal_pointer (&out));
    }
  text_bytes = g_bytes_new (text->str, text->len);
  boundary = pst_mime_new_boundary (text_bytes, f->forward);
  g_string_append_printf (out, "Content-Type: multipart/mixed;\r\n boundary=\"%s\"\r\n\r\n",
                          boundary);
  g_string_append_printf (out, "--%s\r\n", boundary);
  g_string_append_len (out, text->str, text->len);
  /* the line end before a delimiter belongs to it (RFC 2046 §5.1.1): this
   * one keeps the text's last line end */
  g_string_append (out, "\r\n");
  if (f->forward != NULL)
    {
      g_string_append_printf (out, "--%s\r\n", boundary);
      write_forward_part (out, f->forward);
      g_string_append (out, "\r\n");
    }
  for (guint i = 0; i < f->n_attachments; i++)
    {
      g_string_append_printf (out, "--%s\r\n", boundary);
      g_string_append_printf (out, "Content-Type: %s\r\n", (char *) types->pdata[i]);
      write_disposition (out, f->attachments[i].filename);
      g_string_append (out, "Content-Transfer-Encoding: base64\r\n\r\n");
      write_base64 (out, f->attachments[i].data);
    }
  g_string_append_printf (out, "--%s--\r\n", boundary);
  return g_string_free_to_bytes (g_steal_pointer (&out));
}

char *
pst_compose_mailbox_field (const char *name, const char *addr, const char *display,
                           GError **error)
{
  Mailbox box = { 0 };
  GString *out;
  Header h;

  if ((display != NULL && !pst_compose_check_text ("the display name", display, TRUE, error))
      || !parse_mailbox (name, addr, &box, error))
    return NULL;
  if (display != NULL)
    {
      g_free (box.name);
      box.name = *display != '\0' ? g_strdup (display) : NULL;
    }
  out = g_string_new (NULL);
  pst_compose_header_begin (&h, out, name);
  header_add_mailbox (&h, &box, TRUE);
  pst_compose_header_end (&h);
  mailbox_clear (&box);
  return g_string_free (out, FALSE);
}
