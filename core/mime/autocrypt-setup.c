#include "mime/autocrypt-setup.h"

#include <errno.h>
#include <libetpan/libetpan.h>
#include <string.h>
#include <sys/random.h>

#include "mime/mime.h"
#include "util/addr.h"
#include "util/error.h"
#include "util/secret.h"

#define BEGIN_MESSAGE "-----BEGIN PGP MESSAGE-----"
#define END_MESSAGE "-----END PGP MESSAGE-----"
#define BEGIN_KEY "-----BEGIN PGP PRIVATE KEY BLOCK-----"
#define END_KEY "-----END PGP PRIVATE KEY BLOCK-----"

/* OpenPGP packet tags (RFC 4880 §4.3, RFC 9580 §5). */
enum { TAG_PKESK = 1, TAG_SKESK = 3, TAG_SEIPD = 18, TAG_AEAD = 20 };
/* Symmetric algorithms and S2K types (RFC 4880 §9.2, §3.7.1). */
enum { CIPHER_AES128 = 7, CIPHER_AES256 = 9, S2K_ITERATED_SALTED = 3 };

char *
pst_setup_code_from_digits (const char *digits)
{
  char *code = g_malloc (PST_SETUP_CODE_LEN + 1);
  gsize n = 0;

  for (gsize i = 0; i < PST_SETUP_CODE_DIGITS; i++)
    {
      if (i > 0 && i % 4 == 0)
        code[n++] = '-';
      code[n++] = digits[i];
    }
  code[n] = '\0';
  return code;
}

char *
pst_setup_code_new (GError **error)
{
  char digits[PST_SETUP_CODE_DIGITS];
  guint8 pool[64];
  gsize have = 0;
  char *code;

  while (have < sizeof digits)
    {
      ssize_t got = getrandom (pool, sizeof pool, 0);

      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        {
          explicit_bzero (digits, sizeof digits);
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "no random bytes for a Setup Code: %s",
                       g_strerror (errno));
          return NULL;
        }
      /* 250 = 25 × 10: bytes from 250 up would make the digits 0 to 5
       * likelier than the others, so they are thrown away. */
      for (ssize_t i = 0; i < got && have < sizeof digits; i++)
        if (pool[i] < 250)
          digits[have++] = (char) ('0' + pool[i] % 10);
    }
  code = pst_setup_code_from_digits (digits);
  explicit_bzero (digits, sizeof digits);
  explicit_bzero (pool, sizeof pool);
  return code;
}

char *
pst_setup_code_parse (const char *text, gsize len, GError **error)
{
  char digits[PST_SETUP_CODE_DIGITS];
  gsize n = 0, i;
  char *code = NULL;

  for (i = 0; i < len; i++)
    {
      char c = text[i];

      if (g_ascii_isdigit (c))
        {
          if (n == sizeof digits)
            break;
          digits[n++] = c;
        }
      else if (c != '-' && c != ' ' && c != '\t' && c != '\r' && c != '\n')
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                       "not a Setup Code: it holds characters other than digits, dashes and "
                       "spaces");
          goto out;
        }
    }
  if (n != sizeof digits || i < len)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "not a Setup Code: it has %s digits; a Setup Code has 36 (nine blocks of four)",
                   i < len ? "more than 36" : n == 0 ? "no" : "fewer than 36");
      goto out;
    }
  code = pst_setup_code_from_digits (digits);
out:
  explicit_bzero (digits, sizeof digits);
  return code;
}

char *
pst_setup_code_begin (const char *code)
{
  return g_strndup (code, 2);
}

/* The next line of @p (to @end): its length without the line end; *@next
 * set past the line end. */
static gsize
next_line (const char *p, const char *end, const char **next)
{
  const char *nl = memchr (p, '\n', (gsize) (end - p));
  gsize len = nl ? (gsize) (nl - p) : (gsize) (end - p);

  *next = nl ? nl + 1 : end;
  if (len > 0 && p[len - 1] == '\r')
    len--;
  return len;
}

static gboolean
line_is (const char *line, gsize len, const char *what)
{
  gsize n = strlen (what);

  /* Trailing white space after an armor line is allowed (RFC 4880 §6.2). */
  if (len < n || memcmp (line, what, n) != 0)
    return FALSE;
  for (gsize i = n; i < len; i++)
    if (line[i] != ' ' && line[i] != '\t')
      return FALSE;
  return TRUE;
}

/* The first line of @data that is @what, or NULL. */
static const char *
find_line (const char *data, gsize len, const char *what)
{
  const char *p = data, *end = data + len, *next;

  while (p < end)
    {
      gsize n = next_line (p, end, &next);

      if (line_is (p, n, what))
        return p;
      p = next;
    }
  return NULL;
}

char *
pst_setup_armor_add_headers (const char *armored, const char *begin, GError **error)
{
  const char *end = armored + strlen (armored), *p = armored, *next;
  GString *out;

  if (!line_is (p, next_line (p, end, &next), BEGIN_MESSAGE))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "the encrypted key is not armored");
      return NULL;
    }
  out = g_string_new (BEGIN_MESSAGE "\r\n");
  g_string_append (out, "Passphrase-Format: numeric9x4\r\n");
  g_string_append_printf (out, "Passphrase-Begin: %s\r\n", begin);
  for (p = next; p < end; p = next)
    {
      gsize n = next_line (p, end, &next);

      g_string_append_len (out, p, (gssize) n);
      g_string_append (out, "\r\n");
    }
  return g_string_free (out, FALSE);
}

/* The armor headers and the decoded packets of the first armored PGP
 * MESSAGE in @data.  FALSE when there is none or its base64 is broken. */
static gboolean
dearmor (const char *data, gsize len, GPtrArray **headers_out, GBytes **packets_out)
{
  const char *start = find_line (data, len, BEGIN_MESSAGE), *end = data + len, *p, *next;
  g_autoptr (GPtrArray) headers = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) b64 = g_string_new (NULL);
  gboolean in_headers = TRUE, ended = FALSE;
  guchar *raw;
  gsize raw_len;

  if (start == NULL)
    return FALSE;
  next_line (start, end, &p);
  for (; p < end && !ended; p = next)
    {
      gsize n = next_line (p, end, &next);

      if (in_headers)
        {
          if (n == 0 || (n > 0 && memchr (p, ':', n) == NULL))
            in_headers = FALSE;
          else
            {
              g_ptr_array_add (headers, g_strndup (p, n));
              continue;
            }
          if (n == 0)
            continue;
        }
      if (line_is (p, n, END_MESSAGE))
        ended = TRUE;
      else if (n > 0 && p[0] == '=')
        continue;   /* the checksum, which gpg checks */
      else
        for (gsize i = 0; i < n; i++)
          {
            if (g_ascii_isalnum (p[i]) || p[i] == '+' || p[i] == '/' || p[i] == '=')
              g_string_append_c (b64, p[i]);
            else if (p[i] != ' ' && p[i] != '\t')
              return FALSE;
          }
    }
  if (!ended || b64->len == 0 || b64->len % 4 != 0)
    return FALSE;
  raw = g_base64_decode (b64->str, &raw_len);
  *packets_out = g_bytes_new_take (raw, raw_len);
  *headers_out = g_steal_pointer (&headers);
  return TRUE;
}

/* Reads the packet header at @p (@len bytes left): its tag, and where its
 * body starts and how long it is.  @partial_out: the length is partial or
 * indeterminate (the packet runs on), which only the encrypted data may be.
 * FALSE when the header is not one. */
static gboolean
packet_header (const guint8 *p, gsize len, guint *tag_out, gsize *hdr_out, gsize *body_out,
               gboolean *partial_out)
{
  gsize h, body = 0;

  *partial_out = FALSE;
  if (len < 2 || !(p[0] & 0x80))
    return FALSE;
  if (p[0] & 0x40)
    {
      *tag_out = p[0] & 0x3f;
      if (p[1] < 192)
        h = 2, body = p[1];
      else if (p[1] < 224)
        {
          if (len < 3)
            return FALSE;
          h = 3, body = ((gsize) (p[1] - 192) << 8) + p[2] + 192;
        }
      else if (p[1] == 255)
        {
          if (len < 6)
            return FALSE;
          h = 6, body = ((gsize) p[2] << 24) | ((gsize) p[3] << 16) | ((gsize) p[4] << 8) | p[5];
        }
      else
        h = 2, *partial_out = TRUE;
    }
  else
    {
      static const gsize sizes[] = { 1, 2, 4, 0 };
      gsize n = sizes[p[0] & 3];

      *tag_out = (p[0] >> 2) & 0x0f;
      if (n == 0)
        h = 1, *partial_out = TRUE;
      else
        {
          if (len < 1 + n)
            return FALSE;
          h = 1 + n;
          for (gsize i = 0; i < n; i++)
            body = (body << 8) | p[1 + i];
        }
    }
  *hdr_out = h;
  *body_out = body;
  return TRUE;
}

gboolean
pst_setup_check_packets (const char *armored, gsize len, gboolean strict, GError **error)
{
  g_autoptr (GPtrArray) headers = NULL;
  g_autoptr (GBytes) packets = NULL;
  const guint8 *p;
  gsize left, skesk = 0;

  if (!dearmor (armored, len, &headers, &packets))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "its encrypted part is not a readable "
                   "armored OpenPGP message");
      return FALSE;
    }
  p = g_bytes_get_data (packets, &left);
  while (left > 0)
    {
      guint tag;
      gsize hdr, body;
      gboolean partial;

      if (!packet_header (p, left, &tag, &hdr, &body, &partial))
        break;
      if (tag == TAG_SEIPD || tag == TAG_AEAD)
        {
          if (skesk == 0)
            break;
          return TRUE;
        }
      if (tag == TAG_PKESK)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "its key is encrypted to a public key, not under a Setup Code");
          return FALSE;
        }
      if (tag != TAG_SKESK || partial || body > left - hdr)
        break;
      if (strict && (body < 4 || p[hdr] != 4
                     || (p[hdr + 1] != CIPHER_AES128 && p[hdr + 1] != CIPHER_AES256)
                     || p[hdr + 2] != S2K_ITERATED_SALTED))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                       "the key is not encrypted with AES and an iterated and salted S2K");
          return FALSE;
        }
      skesk++;
      p += hdr + body;
      left -= hdr + body;
    }
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
               "its encrypted part is not a symmetrically encrypted OpenPGP message");
  return FALSE;
}

/* The text/plain part: what the message is and what to do with it. */
static const char *const description[] = {
  "This is an Autocrypt Setup Message. It holds your OpenPGP secret key,",
  "encrypted under a Setup Code that was shown to you when the message was",
  "made; the code is not in this message.",
  "",
  "To use the key on another device, import this message there:",
  "",
  "    postern keys setup-message import FILE",
  "",
  "or with any other Autocrypt-capable mail program, and type the Setup Code.",
  "Keep the message as a backup of your key if you wish: it is of no use",
  "without the code, so keep the code apart from it.",
  NULL,
};

GBytes *
pst_setup_message_build (const char *address, const char *payload, const char *begin,
                         GDateTime *date)
{
  GString *s = g_string_new (NULL);
  g_autofree char *date_text = pst_mime_format_date (date);
  g_autofree char *boundary = pst_mime_random_token ();
  g_autofree char *id = pst_mime_random_token ();
  const char *domain = strrchr (address, '@');

  g_string_append_printf (s, "From: <%s>\r\nTo: <%s>\r\n", address, address);
  g_string_append_printf (s, "Date: %s\r\n", date_text);
  g_string_append_printf (s, "Message-ID: <%s%s>\r\n", id, domain ? domain : "@postern.invalid");
  g_string_append (s, "Subject: Autocrypt Setup Message\r\n");
  g_string_append (s, "Autocrypt-Setup-Message: v1\r\n");
  g_string_append (s, "MIME-Version: 1.0\r\n");
  g_string_append_printf (s, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", boundary);
  g_string_append_printf (s, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n"
                          "Content-Transfer-Encoding: 7bit\r\n\r\n", boundary);
  for (guint i = 0; description[i] != NULL; i++)
    g_string_append_printf (s, "%s\r\n", description[i]);
  if (begin != NULL)
    g_string_append_printf (s, "\r\nIts Setup Code begins with %s.\r\n", begin);
  g_string_append_printf (s, "\r\n--%s\r\nContent-Type: application/autocrypt-setup\r\n"
                          "Content-Disposition: attachment; filename=\"autocrypt-setup-message.txt\"\r\n"
                          "Content-Transfer-Encoding: 7bit\r\n\r\n", boundary);
  g_string_append (s, payload);
  if (s->len < 2 || s->str[s->len - 1] != '\n')
    g_string_append (s, "\r\n");
  g_string_append_printf (s, "--%s--\r\n", boundary);
  return g_string_free_to_bytes (s);
}

static int
mechanism (GPtrArray *fields)
{
  const char *f = pst_mime_find_field (fields, "Content-Transfer-Encoding", NULL);
  g_autofree char *v = f ? pst_mime_field_value (f) : NULL;

  if (v != NULL && g_ascii_strcasecmp (v, "base64") == 0)
    return MAILMIME_MECHANISM_BASE64;
  if (v != NULL && g_ascii_strcasecmp (v, "quoted-printable") == 0)
    return MAILMIME_MECHANISM_QUOTED_PRINTABLE;
  return MAILMIME_MECHANISM_8BIT;
}

static gboolean
not_setup (GError **error, const char *why)
{
  g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "not an Autocrypt Setup Message: %s", why);
  return FALSE;
}

/* The To address of @message when it has exactly one, else NULL. */
static char *
single_to (GBytes *message)
{
  g_autoptr (PstMimeMessage) m = pst_mime_message_parse (message, NULL);
  static const char *const to[] = { "To", NULL };
  g_auto (GStrv) addrs = m ? pst_mime_message_get_addresses (m, to) : NULL;

  return addrs != NULL && addrs[0] != NULL && addrs[1] == NULL ? g_strdup (addrs[0]) : NULL;
}

gboolean
pst_setup_message_parse (GBytes *message, char **address_out, char **armored_out,
                         char **begin_out, GError **error)
{
  g_autoptr (GPtrArray) fields = NULL, part_fields = NULL, first_fields = NULL, headers = NULL;
  g_autoptr (GHashTable) params = NULL;
  g_autoptr (GArray) spans = NULL;
  g_autoptr (GBytes) part = NULL, first = NULL, decoded = NULL, packets = NULL;
  g_autofree char *version = NULL, *from = NULL, *to = NULL, *type = NULL, *part_type = NULL;
  g_autofree char *first_type = NULL, *begin = NULL;
  const char *field, *data, *block, *block_end, *boundary;
  gsize len, body, part_body, first_body, dlen;
  guint count = 0;

  data = g_bytes_get_data (message, &len);
  if (data == NULL || !pst_mime_split_header (data, len, &fields, &body, NULL))
    return not_setup (error, "it is no RFC 5322 message");
  field = pst_mime_find_field (fields, "Autocrypt-Setup-Message", &count);
  if (field == NULL)
    return not_setup (error, "it has no Autocrypt-Setup-Message header");
  version = pst_mime_field_value (field);
  if (count != 1 || strcmp (version, "v1") != 0)
    return not_setup (error, "its Autocrypt-Setup-Message header is not v1");
  if (!(from = pst_mime_single_from (fields)))
    return not_setup (error, "it has not exactly one From address");
  if (!(to = single_to (message)) || !pst_addr_equal (from, to))
    return not_setup (error, "its To is not its From address");
  type = pst_mime_entity_content_type (fields, &params);
  boundary = g_hash_table_lookup (params, "boundary");
  if (strcmp (type, "multipart/mixed") != 0 || boundary == NULL
      || !(spans = pst_mime_split_multipart (data + body, len - body, boundary, NULL))
      || spans->len < 2)
    return not_setup (error, "it is not multipart/mixed with a description and the key");
  first = pst_mime_span_bytes (message, body, &g_array_index (spans, PstMimeSpan, 0));
  part = pst_mime_span_bytes (message, body, &g_array_index (spans, PstMimeSpan, 1));
  if (!pst_mime_entity_split (first, &first_fields, &first_body)
      || !pst_mime_entity_split (part, &part_fields, &part_body))
    return not_setup (error, "its parts are not MIME entities");
  first_type = pst_mime_entity_content_type (first_fields, NULL);
  part_type = pst_mime_entity_content_type (part_fields, NULL);
  if (!g_str_has_prefix (first_type, "text/") && strcmp (first_type, "multipart/alternative") != 0)
    return not_setup (error, "its first part is no description");
  if (strcmp (part_type, "application/autocrypt-setup") != 0)
    return not_setup (error, "its second part is not application/autocrypt-setup");
  {
    gsize plen;
    const char *pdata = g_bytes_get_data (part, &plen);

    decoded = pst_mime_decode_transfer (pdata + part_body, plen - part_body, mechanism (part_fields));
  }
  if (decoded == NULL)
    return not_setup (error, "its key part cannot be decoded");
  data = g_bytes_get_data (decoded, &dlen);
  if (data == NULL || !(block = find_line (data, dlen, BEGIN_MESSAGE))
      || !(block_end = find_line (block, dlen - (gsize) (block - data), END_MESSAGE))
      || !dearmor (block, dlen - (gsize) (block - data), &headers, &packets))
    return not_setup (error, "its key part holds no armored OpenPGP message");
  for (guint i = 0; i < headers->len; i++)
    if (g_str_has_prefix (headers->pdata[i], "Passphrase-Begin:"))
      {
        g_free (begin);
        begin = g_strstrip (g_strdup ((char *) headers->pdata[i] + strlen ("Passphrase-Begin:")));
      }
  block_end += strlen (END_MESSAGE);
  *address_out = g_steal_pointer (&from);
  *armored_out = g_strdup_printf ("%.*s\n", (int) (block_end - block), block);
  if (begin_out)
    *begin_out = g_steal_pointer (&begin);
  return TRUE;
}

GBytes *
pst_setup_payload_key (GBytes *plain, GError **error)
{
  gsize len, skip = 0;
  const char *data = g_bytes_get_data (plain, &len), *end, *next;

  while (data != NULL && skip < len && g_ascii_isspace (data[skip]))
    skip++;
  if (data == NULL || len - skip < strlen (BEGIN_KEY)
      || memcmp (data + skip, BEGIN_KEY, strlen (BEGIN_KEY)) != 0
      || !(end = find_line (data + skip, len - skip, END_KEY)))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                   "the Setup Message decrypts to something other than an OpenPGP secret key");
      return NULL;
    }
  next_line (end, data + len, &next);
  return pst_secret_bytes_new (data + skip, (gsize) (next - (data + skip)), NULL, 0);
}
