/* fuzz-mime — the input is a message: parse it, ask it everything the agent
 * asks, and walk its MIME structure with the raw entity functions that the
 * crypto layers use.
 */
#include "fuzz-common.h"

#include "mime/html.h"
#include "mime/mime.h"

#define MAX_DEPTH 8

/* An addr-spec as pst_addr_extract promises one: a local part and a domain
 * around the last '@', no white space, control characters or angle brackets. */
static void
check_addr_spec (const char *addr)
{
  const char *at = strrchr (addr, '@');

  FUZZ_CHECK (at != NULL && at != addr && at[1] != '\0', "\"%s\"", addr);
  for (const char *p = addr; *p != '\0'; p++)
    FUZZ_CHECK ((guchar) *p > 0x20 && *p != 0x7f && *p != '<' && *p != '>', "\"%s\"", addr);
}

/* Same mailbox (DESIGN.md §4): local parts byte for byte, domains ignoring
 * ASCII case.  Written here again so as not to test pst_addr_equal with
 * itself. */
static gboolean
same_mailbox (const char *a, const char *b)
{
  const char *at_a = strrchr (a, '@'), *at_b = strrchr (b, '@');

  return at_a - a == at_b - b && memcmp (a, b, at_a - a) == 0
         && g_ascii_strcasecmp (at_a + 1, at_b + 1) == 0;
}

static void
check_message (const uint8_t *data, size_t size)
{
  static const char *const headers[] = { "From", "To", "Subject", "Date", "Content-Type" };
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_autoptr(PstMimeMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) from_error = NULL;
  g_autoptr(GPtrArray) attachments = NULL;
  g_autofree char *from = NULL;
  g_autofree char *text = NULL;
  g_auto(GStrv) recipients = NULL;

  message = pst_mime_message_parse (bytes, &error);
  FUZZ_CHECK ((message == NULL) != (error == NULL), "parse: a result or an error");
  if (message == NULL)
    return;

  from = pst_mime_message_get_from_address (message, &from_error);
  FUZZ_CHECK ((from == NULL) != (from_error == NULL), "From: an address or an error");
  if (from != NULL)
    check_addr_spec (from);

  recipients = pst_mime_message_get_recipients (message);
  FUZZ_CHECK (recipients != NULL, "recipients: never NULL");
  for (guint i = 0; recipients[i] != NULL; i++)
    {
      check_addr_spec (recipients[i]);
      for (guint j = 0; j < i; j++)
        FUZZ_CHECK (!same_mailbox (recipients[i], recipients[j]), "duplicate recipient \"%s\"",
                    recipients[i]);
    }

  for (guint i = 0; i < G_N_ELEMENTS (headers); i++)
    {
      g_autofree char *value = pst_mime_message_get_header (message, headers[i]);

      if (value != NULL)
        FUZZ_CHECK (g_utf8_validate (value, -1, NULL), "header %s: UTF-8", headers[i]);
    }

  {
    g_autofree char *html = pst_mime_message_get_html_as_text (message);
    if (html != NULL)
      FUZZ_CHECK (g_utf8_validate (html, -1, NULL), "HTML as text: UTF-8");
  }
  text = pst_mime_message_get_body_text (message);
  if (text != NULL)
    {
      FUZZ_CHECK (g_utf8_validate (text, -1, NULL), "body text: UTF-8");
      FUZZ_CHECK (strchr (text, '\r') == NULL, "body text: line ends made \\n");
    }

  attachments = pst_mime_message_get_attachments (message);
  FUZZ_CHECK (attachments != NULL, "attachments: never NULL");
  for (guint i = 0; i < attachments->len; i++)
    FUZZ_CHECK (strchr (attachments->pdata[i], '\t') != NULL, "attachment: \"name\\ttype\"");
}

/* The raw walk: header, Content-Type, multipart spans, recursively.  Every
 * span is a slice of the input and is walked as an entity in turn. */
static void
walk_entity (const char *data, gsize len, int depth)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autoptr(GArray) spans = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *type = NULL;
  const char *boundary;
  gboolean typed = FALSE;
  gsize body = 0;

  if (depth > MAX_DEPTH)
    return;
  if (!pst_mime_split_header (data, len, &fields, &body, &error))
    {
      FUZZ_CHECK (error != NULL, "split_header: FALSE without an error");
      return;
    }
  FUZZ_CHECK (fields->len > 0 && body <= len, "split_header: %u fields, body %zu of %zu",
              fields->len, (size_t) body, (size_t) len);

  for (guint i = 0; i < fields->len; i++)
    {
      const char *field = fields->pdata[i];
      g_autofree char *value = pst_mime_field_value (field);

      FUZZ_CHECK (field[0] != '\0' && field[0] != ' ' && field[0] != '\t', "field %u", i);
      FUZZ_CHECK (strpbrk (value, "\r\n") == NULL, "field value: unfolded");
      if (!typed && pst_mime_field_is (field, "Content-Type"))
        {
          typed = TRUE;
          type = pst_mime_parse_content_type (value, &params);
          FUZZ_CHECK (type == NULL || strchr (type, '/') != NULL, "content type \"%s\"", type);
        }
    }
  if (type == NULL || !g_str_has_prefix (type, "multipart/"))
    return;

  boundary = g_hash_table_lookup (params, "boundary");
  spans = pst_mime_split_multipart (data + body, len - body, boundary, &error);
  FUZZ_CHECK ((spans == NULL) != (error == NULL), "split_multipart: a result or an error");
  if (spans == NULL)
    return;
  for (guint i = 0; i < spans->len; i++)
    {
      const PstMimeSpan *span = &g_array_index (spans, PstMimeSpan, i);

      FUZZ_CHECK (span->offset <= len - body && span->length <= len - body - span->offset,
                  "span %u (%zu+%zu) outside the body of %zu bytes", i, (size_t) span->offset,
                  (size_t) span->length, (size_t) (len - body));
      if (i > 0)
        {
          const PstMimeSpan *prev = &g_array_index (spans, PstMimeSpan, i - 1);
          FUZZ_CHECK (span->offset >= prev->offset + prev->length, "spans overlap");
        }
      walk_entity (data + body + span->offset, span->length, depth + 1);
    }
}

static void
check_crlf (const uint8_t *data, size_t size)
{
  g_autoptr(GBytes) crlf = pst_mime_to_crlf ((const char *) data, size);
  gsize n = 0;
  const char *p = g_bytes_get_data (crlf, &n);

  for (gsize i = 0; i < n; i++)
    {
      if (p[i] == '\r')
        FUZZ_CHECK (i + 1 < n && p[i + 1] == '\n', "to_crlf: bare CR at %zu", (size_t) i);
      if (p[i] == '\n')
        FUZZ_CHECK (i > 0 && p[i - 1] == '\r', "to_crlf: bare LF at %zu", (size_t) i);
    }
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_make_criticals_fatal ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autoptr(GHashTable) params = NULL;
  g_autofree char *type = NULL;

  check_message (data, size);
  if (size > 0)
    walk_entity ((const char *) data, size, 0);
  check_crlf (data, size);

  /* The whole input as a Content-Type value, up to its first NUL. */
  type = pst_mime_parse_content_type (text, &params);
  return 0;
}
