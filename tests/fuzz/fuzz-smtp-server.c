/* fuzz-smtp-server — the input is what a client says to the bridge's SMTP
 * server (smtp-server.h), fed in pieces whose size comes from the first
 * byte.  Invariants: every reply line is "DDD" then space or dash and ends
 * with CRLF; no message is taken before a login succeeded, or with no
 * recipient, or past the size cap; the password never comes back; a
 * session that closed stays closed.  STARTTLS is "handshaken" at once. */
#include "fuzz-common.h"

#include "net/smtp-server.h"

#define USER "fuzz-user"
#define PASSWORD "fuzz-Secret-0xC0FFEE"
#define MAX_MESSAGE 4096

typedef struct {
  gboolean logged_in;
  guint messages;
} State;

static gboolean
on_auth (gpointer data, const char *mechanism, const char *user, const char *password)
{
  State *st = data;

  FUZZ_CHECK (g_str_equal (mechanism, "PLAIN") || g_str_equal (mechanism, "LOGIN"), "mechanism %s",
              mechanism);
  st->logged_in = g_str_equal (user, USER) && g_str_equal (password, PASSWORD);
  return st->logged_in;
}

static void
on_message (gpointer data, const char *user, const char *from, char **rcpts, GBytes *message,
            gboolean spilled, guint *code_out, char **text_out)
{
  State *st = data;

  FUZZ_CHECK (!spilled, "a message spilled without a spill hook");
  FUZZ_CHECK (st->logged_in && g_strcmp0 (user, USER) == 0, "a message without a login");
  FUZZ_CHECK (rcpts != NULL && rcpts[0] != NULL, "a message without a recipient");
  FUZZ_CHECK (g_bytes_get_size (message) <= MAX_MESSAGE, "a message past the cap");
  FUZZ_CHECK (from != NULL, "no reverse path");
  st->messages++;
  *code_out = st->messages % 2 ? 250 : 554;
  *text_out = g_strdup (st->messages % 2 ? "2.0.0 queued\r\nas 1" : "5.7.1 refused");
}

/* Checks the complete reply lines in @out (everything written so far). */
static void
check_replies (const GString *out)
{
  const char *p = out->str, *end = out->str + out->len;

  while (p < end)
    {
      const char *crlf = g_strstr_len (p, end - p, "\r\n");

      FUZZ_CHECK (crlf != NULL, "a reply without CRLF: \"%.*s\"", (int) (end - p), p);
      FUZZ_CHECK (crlf - p >= 4 && g_ascii_isdigit (p[0]) && g_ascii_isdigit (p[1])
                  && g_ascii_isdigit (p[2]) && (p[3] == ' ' || p[3] == '-'),
                  "not a reply line: \"%.*s\"", (int) (crlf - p), p);
      FUZZ_CHECK (memchr (p, '\n', crlf - p) == NULL && memchr (p, '\r', crlf - p) == NULL,
                  "a bare CR or LF inside a reply");
      p = crlf + 2;
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
  static const PstSmtpServerHooks hooks = { on_auth, on_message, NULL };
  State st = { FALSE, 0 };
  g_autoptr (PstSmtpServer) s = NULL;
  g_autoptr (GString) out = g_string_new (NULL);
  gsize piece, pos = 1;
  gboolean closed = FALSE;

  if (size == 0)
    return 0;
  piece = data[0] ? data[0] : 1;
  s = pst_smtp_server_new ("localhost", TRUE, &hooks, &st);
  pst_smtp_server_set_max_message (s, MAX_MESSAGE);
  while (pos < size)
    {
      gsize n = MIN (piece, size - pos), len = 0;
      PstSmtpServerAction a = pst_smtp_server_feed (s, data + pos, n);
      const guint8 *o = pst_smtp_server_get_output (s, &len);

      FUZZ_CHECK (!closed || (a == PST_SMTP_SERVER_CLOSE && len == 0), "a closed session spoke");
      g_string_append_len (out, (const char *) o, len);
      pst_smtp_server_consume_output (s, len);
      pos += n;
      if (a == PST_SMTP_SERVER_START_TLS)
        {
          pst_smtp_server_tls_started (s);
          st.logged_in = FALSE;
        }
      else if (a == PST_SMTP_SERVER_CLOSE)
        closed = TRUE;
    }
  if (!closed)
    {
      gsize len = 0;

      pst_smtp_server_shutdown (s, "fuzz end");
      pst_smtp_server_get_output (s, &len);
      g_string_append_len (out, (const char *) pst_smtp_server_get_output (s, &len), len);
    }
  check_replies (out);
  FUZZ_CHECK (strstr (out->str, PASSWORD) == NULL, "the password in a reply");
  return 0;
}
