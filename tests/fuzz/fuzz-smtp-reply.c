/* fuzz-smtp-reply — the input is what an SMTP server says.  A driver plays
 * the agent: it answers every event the way the sender job does (two
 * messages, then QUIT), feeding the server's bytes line by line up to a
 * split point taken from the first input byte and the rest in one burst.
 * Each input runs twice: with implicit TLS, and with STARTTLS required,
 * where nothing but EHLO and STARTTLS may go out before the TLS handshake.
 */
#include "fuzz-common.h"

#include "net/smtp.h"

#define USER "fuzz-user"
#define PASSWORD "fuzz-Secret-0xC0FFEE"
#define MAX_STEPS 100000

/* POSTERN_FUZZ_TRACE=1 prints the events, to check what a seed reaches. */
static gboolean trace;

typedef struct {
  const guint8 *in;
  gsize len;
  gsize split;
  gsize pos;
} Feeder;

/* Up to the end of the next line while before the split, else the rest. */
static gsize
next_piece (const Feeder *f)
{
  const guint8 *nl;

  if (f->pos >= f->split)
    return f->len - f->pos;
  nl = memchr (f->in + f->pos, '\n', f->split - f->pos);
  return nl != NULL ? (gsize) (nl - (f->in + f->pos)) + 1 : f->split - f->pos;
}

/* Nothing may be buffered behind the STARTTLS reply: the last bytes fed
 * are the final line of a 220 reply. */
static void
check_tls_point (const Feeder *f)
{
  gsize start;

  FUZZ_CHECK (f->pos > 0 && f->in[f->pos - 1] == '\n', "WANT_TLS with a partial line buffered");
  start = f->pos - 1;
  while (start > 0 && f->in[start - 1] != '\n')
    start--;
  FUZZ_CHECK (f->pos - start >= 4 && memcmp (f->in + start, "220", 3) == 0
              && (f->in[start + 3] == ' ' || f->in[start + 3] == '\r' || f->in[start + 3] == '\n'),
              "WANT_TLS, but the last line fed is not the end of a 220 reply");
}

/* Before TLS only "EHLO name" and "STARTTLS" lines. */
static void
check_before_tls (const GString *sent)
{
  g_auto(GStrv) lines = g_strsplit (sent->str, "\r\n", -1);

  FUZZ_CHECK (!fuzz_contains_nocase (sent->str, "AUTH"), "AUTH before TLS: \"%s\"", sent->str);
  FUZZ_CHECK (strstr (sent->str, PASSWORD) == NULL, "password before TLS");
  for (guint i = 0; lines[i] != NULL; i++)
    FUZZ_CHECK ((lines[i][0] == '\0' && lines[i + 1] == NULL)
                || g_str_equal (lines[i], "EHLO client.example")
                || g_str_equal (lines[i], "STARTTLS"),
                "sent before TLS: \"%s\"", lines[i]);
}

static void
drain (PstSmtpSession *s, GString *before_tls)
{
  gsize n = 0;
  const guint8 *out = pst_smtp_session_get_output (s, &n);

  if (before_tls != NULL)
    g_string_append_len (before_tls, (const char *) out, n);
  pst_smtp_session_consume_output (s, n);
}

static void
send_body (PstSmtpSession *s)
{
  static const char body[] =
    "Subject: fuzz\n\n.leading dot\r\n..two\rbare CR\nbare LF\r\n.\r\nno final newline";

  pst_smtp_session_body (s, (const guint8 *) body, 20);
  pst_smtp_session_body (s, (const guint8 *) body + 20, sizeof body - 1 - 20);
  pst_smtp_session_body_end (s);
}

static void
run_session (const guint8 *in, gsize len, gsize split, PstSmtpTlsMode mode)
{
  static const char *const rcpts[] = { "bob@example.org", "carol@example.net", NULL };
  g_autoptr(PstSmtpSession) s = pst_smtp_session_new ("client.example", mode);
  g_autoptr(GString) before_tls = g_string_new (NULL);
  Feeder f = { in, len, split, 0 };
  gboolean tls = mode == PST_SMTP_TLS_IMPLICIT, eof = FALSE, quit = FALSE, body_ended = FALSE;
  guint messages = 0, steps;

  pst_smtp_session_set_auth (s, USER, PASSWORD);
  for (steps = 0; steps < MAX_STEPS; steps++)
    {
      PstSmtpEventType ev;

      drain (s, tls ? NULL : before_tls);
      ev = pst_smtp_session_next_event (s);
      if (trace)
        fprintf (stderr, "smtp %s event %d at byte %zu\n", tls ? "tls" : "plain", ev, (size_t) f.pos);
      FUZZ_CHECK (!eof || ev != PST_SMTP_EVENT_WANT_READ, "waiting for bytes after EOF");
      switch (ev)
        {
        case PST_SMTP_EVENT_WANT_READ:
          if (f.pos < f.len)
            {
              g_autoptr(GError) error = NULL;
              gsize n = next_piece (&f);
              gboolean ok = pst_smtp_session_feed (s, f.in + f.pos, n, &error);

              FUZZ_CHECK (ok == (error == NULL), "feed: FALSE and an error, or TRUE");
              f.pos += n;
            }
          else
            {
              pst_smtp_session_feed_eof (s);
              eof = TRUE;
            }
          break;

        case PST_SMTP_EVENT_WANT_TLS:
          FUZZ_CHECK (mode == PST_SMTP_TLS_STARTTLS && !tls, "WANT_TLS in implicit TLS or twice");
          check_tls_point (&f);
          check_before_tls (before_tls);
          pst_smtp_session_tls_started (s);
          tls = TRUE;
          break;

        case PST_SMTP_EVENT_READY:
          FUZZ_CHECK (tls, "READY before TLS");
          FUZZ_CHECK (!quit, "READY after QUIT");
          if (messages < 2)
            {
              g_autoptr(GError) error = NULL;

              FUZZ_CHECK (pst_smtp_session_begin_message (s, messages == 0 ? "alice@example.com" : "",
                                                          rcpts, &error),
                          "begin_message in READY: %s", error->message);
              messages++;
              body_ended = FALSE;
            }
          else
            {
              pst_smtp_session_quit (s);
              quit = TRUE;
            }
          break;

        case PST_SMTP_EVENT_WANT_BODY:
          FUZZ_CHECK (!body_ended, "WANT_BODY twice in one transaction");
          send_body (s);
          body_ended = TRUE;
          break;

        case PST_SMTP_EVENT_SENT:
          FUZZ_CHECK (body_ended, "SENT before the body was sent");
          FUZZ_CHECK (pst_smtp_session_get_reply_code (s) / 100 == 2, "SENT with reply %u",
                      pst_smtp_session_get_reply_code (s));
          break;

        case PST_SMTP_EVENT_REJECTED:
          {
            const GArray *rejected = pst_smtp_session_get_rejected_recipients (s);

            FUZZ_CHECK (rejected->len <= G_N_ELEMENTS (rcpts) - 1, "more refusals than recipients");
          }
          break;

        case PST_SMTP_EVENT_DONE:
          FUZZ_CHECK (quit, "DONE without QUIT");
          goto out;

        case PST_SMTP_EVENT_ERROR:
          {
            const GError *error = pst_smtp_session_get_error (s);
            gsize n = 0;

            FUZZ_CHECK (error != NULL && error->message != NULL, "ERROR without an error");
            if (trace)
              fprintf (stderr, "error: %s\n", error->message);
            /* The server's own words may be quoted; the password only if it said it. */
            FUZZ_CHECK (strstr (error->message, PASSWORD) == NULL
                        || fuzz_bytes_contain (in, len, PASSWORD),
                        "the password in an error");
            FUZZ_CHECK (g_utf8_validate (error->message, -1, NULL), "error message: UTF-8");
            pst_smtp_session_get_output (s, &n);
            FUZZ_CHECK (n == 0, "a failed session still has %zu bytes to send", (size_t) n);
            FUZZ_CHECK (pst_smtp_session_next_event (s) == PST_SMTP_EVENT_ERROR, "ERROR is final");
          }
          goto out;
        }
    }
out:
  FUZZ_CHECK (steps < MAX_STEPS, "the session does not end");
  if (!tls)
    {
      drain (s, before_tls);
      check_before_tls (before_tls);
    }
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_make_criticals_fatal ();
  trace = g_getenv ("POSTERN_FUZZ_TRACE") != NULL;
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  gsize len, split;

  if (size == 0)
    return 0;
  len = size - 1;
  split = (gsize) data[0] * len / 255;
  run_session (data + 1, len, split, PST_SMTP_TLS_IMPLICIT);
  run_session (data + 1, len, split, PST_SMTP_TLS_STARTTLS);
  return 0;
}
