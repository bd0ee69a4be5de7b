/* fuzz-pop3-reply — the input is what a POP3 server says.  A driver plays the
 * fetch job: at the first READY it retrieves and deletes the first two
 * messages of the UIDL list, then quits; the server's bytes are fed line by
 * line up to a split point taken from the first input byte and the rest in
 * one burst.  Each input runs twice: with implicit TLS, and with STLS
 * required, where nothing but CAPA and STLS may go out before TLS.
 */
#include "fuzz-common.h"

#include "net/pop3.h"

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

typedef enum { EXPECT_RETR, EXPECT_DELE, EXPECT_QUIT } Expect;

typedef struct {
  Expect kind;
  guint msgno;
} Command;

static gsize
next_piece (const Feeder *f)
{
  const guint8 *nl;

  if (f->pos >= f->split)
    return f->len - f->pos;
  nl = memchr (f->in + f->pos, '\n', f->split - f->pos);
  return nl != NULL ? (gsize) (nl - (f->in + f->pos)) + 1 : f->split - f->pos;
}

/* Nothing may be buffered behind the +OK to STLS. */
static void
check_tls_point (const Feeder *f)
{
  gsize start;

  FUZZ_CHECK (f->pos > 0 && f->in[f->pos - 1] == '\n', "WANT_TLS with a partial line buffered");
  start = f->pos - 1;
  while (start > 0 && f->in[start - 1] != '\n')
    start--;
  FUZZ_CHECK (f->pos - start >= 4 && memcmp (f->in + start, "+OK", 3) == 0,
              "WANT_TLS, but the last line fed is not a +OK");
}

static void
check_before_tls (const GString *sent)
{
  g_auto(GStrv) lines = g_strsplit (sent->str, "\r\n", -1);

  FUZZ_CHECK (!fuzz_contains_nocase (sent->str, "USER") && !fuzz_contains_nocase (sent->str, "PASS"),
              "USER/PASS before TLS: \"%s\"", sent->str);
  FUZZ_CHECK (strstr (sent->str, PASSWORD) == NULL, "password before TLS");
  for (guint i = 0; lines[i] != NULL; i++)
    FUZZ_CHECK ((lines[i][0] == '\0' && lines[i + 1] == NULL) || g_str_equal (lines[i], "CAPA")
                || g_str_equal (lines[i], "STLS"),
                "sent before TLS: \"%s\"", lines[i]);
}

static void
drain (PstPop3Session *s, GString *before_tls)
{
  gsize n = 0;
  const guint8 *out = pst_pop3_session_get_output (s, &n);

  if (before_tls != NULL)
    g_string_append_len (before_tls, (const char *) out, n);
  pst_pop3_session_consume_output (s, n);
}

static void
check_uidls (const GArray *uidls)
{
  for (guint i = 0; i < uidls->len; i++)
    {
      const PstPop3Uidl *u = &g_array_index (uidls, PstPop3Uidl, i);
      gsize n = strlen (u->uidl);

      /* RFC 1939 §7: 1 to 70 characters 0x21 to 0x7E; they become keys
       * in the store. */
      FUZZ_CHECK (u->msgno > 0 && n > 0 && n <= 70, "UIDL %u \"%s\"", u->msgno, u->uidl);
      for (gsize j = 0; j < n; j++)
        FUZZ_CHECK (u->uidl[j] >= 0x21 && u->uidl[j] <= 0x7e, "UIDL \"%s\"", u->uidl);
    }
}

static void
queue_command (PstPop3Session *s, GQueue *expected, Expect kind, guint msgno)
{
  Command *c = g_new (Command, 1);

  c->kind = kind;
  c->msgno = msgno;
  g_queue_push_tail (expected, c);
  switch (kind)
    {
    case EXPECT_RETR: pst_pop3_session_retr (s, msgno); break;
    case EXPECT_DELE: pst_pop3_session_dele (s, msgno); break;
    case EXPECT_QUIT: pst_pop3_session_quit (s); break;
    }
}

static void
run_session (const guint8 *in, gsize len, gsize split, PstPop3TlsMode mode)
{
  g_autoptr(PstPop3Session) s = pst_pop3_session_new (mode);
  g_autoptr(GString) before_tls = g_string_new (NULL);
  GQueue expected = G_QUEUE_INIT;
  Feeder f = { in, len, split, 0 };
  gboolean tls = mode == PST_POP3_TLS_IMPLICIT, eof = FALSE, quit = FALSE, fetched = FALSE;
  guint steps;

  pst_pop3_session_set_auth (s, USER, PASSWORD);
  for (steps = 0; steps < MAX_STEPS; steps++)
    {
      PstPop3EventType ev;
      Command *head = g_queue_peek_head (&expected);

      drain (s, tls ? NULL : before_tls);
      ev = pst_pop3_session_next_event (s);
      if (trace)
        fprintf (stderr, "pop3 %s event %d at byte %zu\n", tls ? "tls" : "plain", ev, (size_t) f.pos);
      FUZZ_CHECK (!eof || ev != PST_POP3_EVENT_WANT_READ, "waiting for bytes after EOF");
      switch (ev)
        {
        case PST_POP3_EVENT_WANT_READ:
          if (f.pos < f.len)
            {
              g_autoptr(GError) error = NULL;
              gsize n = next_piece (&f);
              gboolean ok = pst_pop3_session_feed (s, f.in + f.pos, n, &error);

              FUZZ_CHECK (ok == (error == NULL), "feed: FALSE and an error, or TRUE");
              f.pos += n;
            }
          else
            {
              pst_pop3_session_feed_eof (s);
              eof = TRUE;
            }
          break;

        case PST_POP3_EVENT_WANT_TLS:
          FUZZ_CHECK (mode == PST_POP3_TLS_STLS && !tls, "WANT_TLS in implicit TLS or twice");
          check_tls_point (&f);
          check_before_tls (before_tls);
          pst_pop3_session_tls_started (s);
          tls = TRUE;
          break;

        case PST_POP3_EVENT_READY:
          {
            const GArray *uidls = pst_pop3_session_get_uidls (s);

            FUZZ_CHECK (tls, "READY before TLS");
            FUZZ_CHECK (head == NULL, "READY with commands outstanding");
            FUZZ_CHECK (!quit, "READY after QUIT");
            check_uidls (uidls);
            if (!fetched)
              for (guint i = 0; i < MIN (uidls->len, 2); i++)
                {
                  guint msgno = g_array_index (uidls, PstPop3Uidl, i).msgno;

                  queue_command (s, &expected, EXPECT_RETR, msgno);
                  queue_command (s, &expected, EXPECT_DELE, msgno);
                }
            if (fetched || uidls->len == 0)
              {
                queue_command (s, &expected, EXPECT_QUIT, 0);
                quit = TRUE;
              }
            fetched = TRUE;
          }
          break;

        case PST_POP3_EVENT_DATA:
          {
            gsize n = 0;
            const guint8 *chunk = pst_pop3_session_take_data (s, &n);

            FUZZ_CHECK (head != NULL && head->kind == EXPECT_RETR, "DATA without a RETR");
            FUZZ_CHECK (pst_pop3_session_get_msgno (s) == head->msgno, "DATA for message %u, not %u",
                        pst_pop3_session_get_msgno (s), head->msgno);
            FUZZ_CHECK (n > 0 && chunk != NULL, "an empty DATA chunk");
          }
          break;

        case PST_POP3_EVENT_RETR_DONE:
        case PST_POP3_EVENT_DELE_DONE:
          FUZZ_CHECK (head != NULL && head->kind == (ev == PST_POP3_EVENT_RETR_DONE ? EXPECT_RETR
                                                                                    : EXPECT_DELE),
                      "%s out of order", ev == PST_POP3_EVENT_RETR_DONE ? "RETR_DONE" : "DELE_DONE");
          FUZZ_CHECK (pst_pop3_session_get_msgno (s) == head->msgno, "done: message %u, not %u",
                      pst_pop3_session_get_msgno (s), head->msgno);
          g_free (g_queue_pop_head (&expected));
          break;

        case PST_POP3_EVENT_DONE:
          FUZZ_CHECK (head != NULL && head->kind == EXPECT_QUIT && head->msgno == 0,
                      "DONE without QUIT answered last");
          goto out;

        case PST_POP3_EVENT_ERROR:
          {
            const GError *error = pst_pop3_session_get_error (s);
            gsize n = 0;

            FUZZ_CHECK (error != NULL && error->message != NULL, "ERROR without an error");
            if (trace)
              fprintf (stderr, "error: %s\n", error->message);
            /* The server's own words may be quoted; the password only if it said it. */
            FUZZ_CHECK (strstr (error->message, PASSWORD) == NULL
                        || fuzz_bytes_contain (in, len, PASSWORD),
                        "the password in an error");
            FUZZ_CHECK (g_utf8_validate (error->message, -1, NULL), "error message: UTF-8");
            pst_pop3_session_get_output (s, &n);
            FUZZ_CHECK (n == 0, "a failed session still has %zu bytes to send", (size_t) n);
            FUZZ_CHECK (pst_pop3_session_next_event (s) == PST_POP3_EVENT_ERROR, "ERROR is final");
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
  g_queue_clear_full (&expected, g_free);
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
  run_session (data + 1, len, split, PST_POP3_TLS_IMPLICIT);
  run_session (data + 1, len, split, PST_POP3_TLS_STLS);
  return 0;
}
