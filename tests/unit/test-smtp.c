/* Unit tests for the SMTP engine (core/net/smtp.c).
 *
 * Each scenario is a scripted server: what it sends, one flight per element,
 * and what the client does when it is READY.  A small driver plays it against
 * the engine and writes down everything the client wrote ("[TLS]" marks the
 * handshake) and every event.  Each scenario runs with the server's bytes fed
 * whole, one byte at a time, and split in two at every point of every
 * flight; the transcript must be the expected one every time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "net/smtp.h"
#include "util/error.h"

typedef enum { ACT_END, ACT_MSG, ACT_QUIT } ActKind;

typedef struct {
  ActKind kind;
  const char *from;
  const char *const *rcpts;
  const char *body;
} Action;

typedef struct {
  PstSmtpTlsMode mode;
  const char *user;
  const char *password;
  const char *const *server;
  gboolean eof;             /* the server closes after its last flight */
  const Action *actions;    /* one per READY */
  const char *out;          /* every byte the client writes */
  const char *events;
  const char *error;        /* substring of the error message, or NULL */
} Scenario;

typedef struct {
  GString *out;
  GString *events;
  char *error;
} Transcript;

#define WHOLE (-1)
#define BYTEWISE (-2)

static void
transcript_clear (Transcript *t)
{
  g_string_free (t->out, TRUE);
  g_string_free (t->events, TRUE);
  g_free (t->error);
}

/* Takes the engine's output in small, uneven pieces. */
static void
drain (PstSmtpSession *s, GString *out)
{
  const guint8 *p;
  gsize len;

  while ((p = pst_smtp_session_get_output (s, &len)) != NULL && len > 0)
    {
      gsize n = MIN (len, 7);
      g_string_append_len (out, (const char *) p, n);
      pst_smtp_session_consume_output (s, n);
    }
}

static void
event (Transcript *t, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
event (Transcript *t, const char *format, ...)
{
  va_list ap;

  if (t->events->len > 0)
    g_string_append_c (t->events, ' ');
  va_start (ap, format);
  g_string_append_vprintf (t->events, format, ap);
  va_end (ap);
}

/* What the client wrote at once, CRLF shown as '|'. */
static void
event_burst (Transcript *t, PstSmtpSession *s)
{
  g_autoptr (GString) burst = g_string_new (NULL);

  drain (s, burst);
  g_string_append (t->out, burst->str);
  g_string_replace (burst, "\r\n", "|", 0);
  event (t, ">%s", burst->str);
}

static void
event_outcome (Transcript *t, PstSmtpSession *s, const char *what)
{
  const GArray *rej = pst_smtp_session_get_rejected_recipients (s);

  event (t, "%s:%u", what, pst_smtp_session_get_reply_code (s));
  for (guint i = 0; i < rej->len; i++)
    {
      const PstSmtpRecipientError *e = &g_array_index (rej, PstSmtpRecipientError, i);
      g_string_append_printf (t->events, "[%s=%u]", e->recipient, e->code);
    }
}

static GPtrArray *
make_chunks (const char *const *flights, int split_flight, int split)
{
  GPtrArray *chunks = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  for (int f = 0; flights[f] != NULL; f++)
    {
      gsize n = strlen (flights[f]);

      if (split == BYTEWISE)
        for (gsize i = 0; i < n; i++)
          g_ptr_array_add (chunks, g_bytes_new (flights[f] + i, 1));
      else if (f == split_flight)
        {
          g_ptr_array_add (chunks, g_bytes_new (flights[f], split));
          g_ptr_array_add (chunks, g_bytes_new (flights[f] + split, n - split));
        }
      else
        g_ptr_array_add (chunks, g_bytes_new (flights[f], n));
    }
  return chunks;
}

static void
send_body (PstSmtpSession *s, const char *body, int split)
{
  gsize n = strlen (body);

  if (split == BYTEWISE)
    for (gsize i = 0; i < n; i++)
      pst_smtp_session_body (s, (const guint8 *) body + i, 1);
  else if (split >= 0)
    {
      pst_smtp_session_body (s, (const guint8 *) body, split);
      pst_smtp_session_body (s, (const guint8 *) body + split, n - split);
    }
  else
    pst_smtp_session_body (s, (const guint8 *) body, n);
}

static Transcript
play (const Scenario *scn, GPtrArray *chunks, int body_split)
{
  Transcript t = { g_string_new (NULL), g_string_new (NULL), NULL };
  g_autoptr (PstSmtpSession) s = pst_smtp_session_new ("client.example", scn->mode);
  guint next_chunk = 0, next_act = 0;
  gboolean eof_sent = FALSE;

  if (scn->user != NULL)
    pst_smtp_session_set_auth (s, scn->user, scn->password);

  for (guint guard = 0; guard < 100000; guard++)
    {
      PstSmtpEventType ev = pst_smtp_session_next_event (s);
      const Action *act;

      drain (s, t.out);
      switch (ev)
        {
        case PST_SMTP_EVENT_WANT_READ:
          if (next_chunk < chunks->len)
            {
              GBytes *b = chunks->pdata[next_chunk++];
              g_autoptr (GError) error = NULL;
              gsize n;
              const guint8 *p = g_bytes_get_data (b, &n);

              if (!pst_smtp_session_feed (s, p, n, &error))
                {
                  assert_non_null (error);
                  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_ERROR);
                }
              else
                assert_null (error);
            }
          else if (scn->eof && !eof_sent)
            {
              eof_sent = TRUE;
              pst_smtp_session_feed_eof (s);
            }
          else
            {
              event (&t, "STALL");
              return t;
            }
          break;

        case PST_SMTP_EVENT_WANT_TLS:
          event (&t, "TLS");
          g_string_append (t.out, "[TLS]");
          pst_smtp_session_tls_started (s);
          break;

        case PST_SMTP_EVENT_READY:
          act = scn->actions != NULL ? &scn->actions[next_act] : NULL;
          if (act == NULL || act->kind == ACT_END)
            {
              event (&t, "READY");
              return t;
            }
          next_act++;
          if (act->kind == ACT_QUIT)
            {
              event (&t, "READY-QUIT");
              pst_smtp_session_quit (s);
            }
          else
            {
              g_autoptr (GError) error = NULL;

              if (!pst_smtp_session_begin_message (s, act->from, act->rcpts, &error))
                {
                  event (&t, "BEGIN-FAILED");
                  t.error = g_strdup (error->message);
                  return t;
                }
              event (&t, "READY-MSG");
              event_burst (&t, s);
            }
          break;

        case PST_SMTP_EVENT_WANT_BODY:
          event (&t, "BODY");
          act = &scn->actions[next_act - 1];
          send_body (s, act->body, body_split);
          pst_smtp_session_body_end (s);
          break;

        case PST_SMTP_EVENT_SENT:
          event_outcome (&t, s, "SENT");
          break;

        case PST_SMTP_EVENT_REJECTED:
          event_outcome (&t, s, "REJECTED");
          break;

        case PST_SMTP_EVENT_DONE:
          event (&t, "DONE");
          return t;

        case PST_SMTP_EVENT_ERROR:
          {
            const GError *error = pst_smtp_session_get_error (s);

            assert_non_null (error);
            assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_NETWORK));
            event (&t, "ERROR");
            t.error = g_strdup (error->message);
            /* ERROR is final, and nothing more is written. */
            assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_ERROR);
            drain (s, t.out);
            return t;
          }
        }
    }
  fail_msg ("the session did not finish");
  return t;
}

static void
check_transcript (const Scenario *scn, Transcript *t, const char *mode)
{
  if (strcmp (t->out->str, scn->out) != 0 || strcmp (t->events->str, scn->events) != 0)
    {
      print_error ("mode %s\nout:    %s\nevents: %s\nerror:  %s\n", mode, t->out->str,
                   t->events->str, t->error);
    }
  assert_string_equal (t->out->str, scn->out);
  assert_string_equal (t->events->str, scn->events);
  if (scn->error != NULL)
    {
      assert_non_null (t->error);
      if (strstr (t->error, scn->error) == NULL)
        fail_msg ("error \"%s\" does not contain \"%s\"", t->error, scn->error);
    }
  else if (t->error != NULL)
    fail_msg ("unexpected error: %s (mode %s)", t->error, mode);
  if (scn->password != NULL && t->error != NULL)
    assert_null (strstr (t->error, scn->password));
}

/* Plays @scn whole, one byte at a time and split at every point. */
static void
check_scenario (const Scenario *scn)
{
  Transcript t;
  GPtrArray *chunks;

  chunks = make_chunks (scn->server, -1, WHOLE);
  t = play (scn, chunks, WHOLE);
  check_transcript (scn, &t, "whole");
  transcript_clear (&t);
  g_ptr_array_unref (chunks);

  chunks = make_chunks (scn->server, -1, BYTEWISE);
  t = play (scn, chunks, BYTEWISE);
  check_transcript (scn, &t, "bytewise");
  transcript_clear (&t);
  g_ptr_array_unref (chunks);

  for (int f = 0; scn->server[f] != NULL; f++)
    for (int k = 1; k < (int) strlen (scn->server[f]); k++)
      {
        g_autofree char *mode = g_strdup_printf ("flight %d split at %d", f, k);

        chunks = make_chunks (scn->server, f, k);
        t = play (scn, chunks, WHOLE);
        check_transcript (scn, &t, mode);
        transcript_clear (&t);
        g_ptr_array_unref (chunks);
      }
}

/* ---- the usual conversation ---- */

#define GREETING "220 mx.example.net ESMTP\r\n"
#define EHLO_PLAIN \
  "250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n" \
  "250 8BITMIME\r\n"
#define TLS_GO "220 2.0.0 Ready to start TLS\r\n"
#define EHLO_TLS \
  "250-mx.example.net\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
#define AUTH_OK "235 2.7.0 Authentication successful\r\n"
#define BYE "221 2.0.0 Bye\r\n"

#define C_EHLO "EHLO client.example\r\n"
#define C_AUTH "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n"   /* \0user\0secret */
#define C_HANDSHAKE C_EHLO "STARTTLS\r\n[TLS]" C_EHLO C_AUTH
#define E_HANDSHAKE "TLS"

static const char *const two_rcpts[] = { "bob@example.net", "carol@example.net", NULL };
static const char *const one_rcpt[] = { "bob@example.net", NULL };

static void
test_send_pipelined (void **state)
{
  static const char *const server[] = {
    GREETING, EHLO_PLAIN, TLS_GO, EHLO_TLS, AUTH_OK,
    "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
    "250 2.0.0 Ok: queued as 4ABC\r\n",
    "250 2.0.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n",
    "250-2.0.0 Ok\r\n250 2.0.0 queued as 4ABD\r\n",
    BYE, NULL,
  };
  static const Action actions[] = {
    { ACT_MSG, "alice@example.org", two_rcpts, "Subject: hi\r\n\r\nHello.\r\n" },
    { ACT_MSG, "", one_rcpt, "Subject: again\n\nno newline at the end" },
    { ACT_QUIT, NULL, NULL, NULL },
    { ACT_END, NULL, NULL, NULL },
  };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, "user", "secret", server, FALSE, actions,
    C_HANDSHAKE
    "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\n"
    "RCPT TO:<carol@example.net>\r\nDATA\r\n"
    "Subject: hi\r\n\r\nHello.\r\n.\r\n"
    "MAIL FROM:<>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n"
    "Subject: again\r\n\r\nno newline at the end\r\n.\r\n"
    "QUIT\r\n",
    E_HANDSHAKE " READY-MSG >MAIL FROM:<alice@example.org>|RCPT TO:<bob@example.net>|"
    "RCPT TO:<carol@example.net>|DATA| BODY SENT:250"
    " READY-MSG >MAIL FROM:<>|RCPT TO:<bob@example.net>|DATA| BODY SENT:250 READY-QUIT DONE",
    NULL,
  };

  check_scenario (&scn);
}

static void
test_reply_accessors (void **state)
{
  g_autoptr (PstSmtpSession) s = pst_smtp_session_new ("client.example",
                                                       PST_SMTP_TLS_IMPLICIT);
  static const char input[] =
    "220-mx.example.net ESMTP\r\n220-second line\r\n220 third\r\n";
  static const char ehlo[] = "250-mx.example.net\r\n250-PIPELINING\r\n250-size 100\r\n250 DSN\r\n";

  assert_true (pst_smtp_session_feed (s, (const guint8 *) input, strlen (input), NULL));
  assert_int_equal (pst_smtp_session_get_reply_code (s), 220);
  assert_string_equal (pst_smtp_session_get_reply_text (s),
                       "mx.example.net ESMTP\nsecond line\nthird");
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_WANT_READ);
  assert_true (pst_smtp_session_feed (s, (const guint8 *) ehlo, strlen (ehlo), NULL));
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_READY);
  assert_true (pst_smtp_session_has_extension (s, "PIPELINING"));
  assert_true (pst_smtp_session_has_extension (s, "Size"));
  assert_true (pst_smtp_session_has_extension (s, "dsn"));
  assert_false (pst_smtp_session_has_extension (s, "mx.example.net"));
  assert_false (pst_smtp_session_has_extension (s, "STARTTLS"));
  assert_null (pst_smtp_session_get_error (s));
}

static void
test_implicit_tls (void **state)
{
  /* STARTTLS offered over TLS is not used again; no credentials, no AUTH. */
  static const char *const server[] = {
    GREETING, EHLO_PLAIN, "250 2.0.0 Bye\r\n", NULL,
  };
  static const Action actions[] = { { ACT_QUIT, NULL, NULL, NULL }, { ACT_END, NULL, NULL, NULL } };
  const Scenario scn = {
    PST_SMTP_TLS_IMPLICIT, NULL, NULL, server, FALSE, actions,
    C_EHLO "QUIT\r\n",
    "READY-QUIT DONE", NULL,
  };

  check_scenario (&scn);
}

static void
test_implicit_tls_auth (void **state)
{
  static const char *const server[] = { GREETING, EHLO_TLS, AUTH_OK, NULL };
  const Scenario scn = {
    PST_SMTP_TLS_IMPLICIT, "user", "secret", server, FALSE, NULL,
    C_EHLO C_AUTH, "READY", NULL,
  };

  check_scenario (&scn);
}

static void
test_ehlo_reply_without_text (void **state)
{
  /* "250" alone (no text, no extensions) once read past the end of the
   * split reply (found by fuzzing). */
  static const char *const server[] = { GREETING, "250\r\n", "221 Bye\r\n", NULL };
  static const Action actions[] = { { ACT_QUIT, NULL, NULL, NULL }, { ACT_END, NULL, NULL, NULL } };
  const Scenario scn = {
    PST_SMTP_TLS_IMPLICIT, NULL, NULL, server, FALSE, actions,
    C_EHLO "QUIT\r\n", "READY-QUIT DONE", NULL,
  };

  check_scenario (&scn);
}

static void
test_starttls_without_credentials (void **state)
{
  static const char *const server[] = { GREETING, EHLO_PLAIN, TLS_GO, EHLO_TLS, NULL };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, NULL, NULL, server, FALSE, NULL,
    C_EHLO "STARTTLS\r\n[TLS]" C_EHLO, "TLS READY", NULL,
  };

  check_scenario (&scn);
}

/* ---- STARTTLS attacks and refusals ---- */

static void
test_starttls_not_offered (void **state)
{
  static const char *const server[] = {
    GREETING, "250-mx.example.net\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n", NULL,
  };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, "user", "secret", server, FALSE, NULL,
    C_EHLO, "ERROR",
    "server does not offer STARTTLS; refusing to send credentials in the clear",
  };

  check_scenario (&scn);
}

static void
test_starttls_refused (void **state)
{
  static const char *const server[] = {
    GREETING, EHLO_PLAIN, "454 4.7.0 TLS not available due to local problem\r\n", NULL,
  };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, "user", "secret", server, FALSE, NULL,
    C_EHLO "STARTTLS\r\n", "ERROR",
    "server refused STARTTLS: 454 4.7.0 TLS not available due to local problem",
  };

  check_scenario (&scn);
}

static void
test_starttls_injection (void **state)
{
  static const char flight[] = TLS_GO "250-mx.example.net\r\n250 AUTH PLAIN\r\n";
  gsize lf = strlen (TLS_GO) - 1;

  /* The injected reply arrives with the 220, in the same read, or in the
   * same read as the 220's last bytes: every split up to the 220's LF. */
  for (gsize k = 0; k <= lf; k++)
    {
      g_autoptr (PstSmtpSession) s = pst_smtp_session_new ("client.example",
                                                           PST_SMTP_TLS_STARTTLS);
      g_autoptr (GError) error = NULL;
      g_autoptr (GString) out = g_string_new (NULL);

      pst_smtp_session_set_auth (s, "user", "secret");
      assert_true (pst_smtp_session_feed (s, (const guint8 *) GREETING, strlen (GREETING), NULL));
      assert_true (pst_smtp_session_feed (s, (const guint8 *) EHLO_PLAIN, strlen (EHLO_PLAIN),
                                          NULL));
      drain (s, out);
      assert_string_equal (out->str, C_EHLO "STARTTLS\r\n");
      if (k > 0)
        {
          assert_true (pst_smtp_session_feed (s, (const guint8 *) flight, k, NULL));
          assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_WANT_READ);
        }
      assert_false (pst_smtp_session_feed (s, (const guint8 *) flight + k, strlen (flight) - k,
                                           &error));
      g_assert_error (error, PST_ERROR, PST_ERROR_NETWORK);
      assert_string_equal (error->message,
                           "plaintext injected after the STARTTLS reply (possible attack); "
                           "aborting");
      assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_ERROR);
      drain (s, out);
      assert_string_equal (out->str, C_EHLO "STARTTLS\r\n");
    }
}

static void
test_starttls_bytes_before_handshake (void **state)
{
  /* The driver is told WANT_TLS but hands over more plaintext instead. */
  g_autoptr (PstSmtpSession) s = pst_smtp_session_new ("client.example", PST_SMTP_TLS_STARTTLS);
  g_autoptr (GError) error = NULL;
  gsize len;

  assert_true (pst_smtp_session_feed (s, (const guint8 *) GREETING EHLO_PLAIN TLS_GO,
                                      strlen (GREETING EHLO_PLAIN TLS_GO), NULL));
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_WANT_TLS);
  pst_smtp_session_consume_output (s, 1000);
  assert_false (pst_smtp_session_feed (s, (const guint8 *) "2", 1, &error));
  assert_non_null (strstr (error->message, "plaintext injected"));
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_ERROR);
  assert_null (pst_smtp_session_get_output (s, &len));
}

static void
test_caps_change_after_tls (void **state)
{
  /* Before TLS the server offers PIPELINING and AUTH PLAIN; after it, only
   * AUTH PLAIN.  The second EHLO decides: no pipelining. */
  static const char *const server[] = {
    GREETING,
    "250-mx.example.net\r\n250-PIPELINING\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n",
    TLS_GO,
    "250-mx.example.net\r\n250 AUTH PLAIN\r\n",
    AUTH_OK,
    "250 2.1.0 Ok\r\n", "250 2.1.5 Ok\r\n", "250 2.1.5 Ok\r\n", "354 go\r\n",
    "250 2.0.0 queued\r\n", NULL,
  };
  static const Action actions[] = {
    { ACT_MSG, "alice@example.org", two_rcpts, "x\r\n" },
    { ACT_END, NULL, NULL, NULL },
  };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, "user", "secret", server, FALSE, actions,
    C_HANDSHAKE "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\n"
    "RCPT TO:<carol@example.net>\r\nDATA\r\nx\r\n.\r\n",
    "TLS READY-MSG >MAIL FROM:<alice@example.org>| BODY SENT:250 READY", NULL,
  };

  check_scenario (&scn);
}

static void
test_auth_only_before_tls (void **state)
{
  /* AUTH PLAIN offered only in the clear is never used. */
  static const char *const server[] = {
    GREETING,
    "250-mx.example.net\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n",
    TLS_GO,
    "250-mx.example.net\r\n250 PIPELINING\r\n",
    NULL,
  };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, "user", "secret", server, FALSE, NULL,
    C_EHLO "STARTTLS\r\n[TLS]" C_EHLO, "TLS ERROR",
    "server does not offer authentication (no AUTH in its EHLO reply); cannot log in",
  };

  check_scenario (&scn);
}

static void
test_auth_plain_not_offered (void **state)
{
  static const char *const server[] = {
    GREETING, EHLO_PLAIN, TLS_GO,
    "250-mx.example.net\r\n250 AUTH CRAM-MD5 DIGEST-MD5\r\n", NULL,
  };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, "user", "secret", server, FALSE, NULL,
    C_EHLO "STARTTLS\r\n[TLS]" C_EHLO, "TLS ERROR",
    "no authentication mechanism in common: the server offers CRAM-MD5 DIGEST-MD5",
  };

  check_scenario (&scn);
}

/* LOGIN (server first, two challenges) when it is the best offered. */
static void
test_auth_login (void **state)
{
  static const char *const server[] = {
    GREETING, EHLO_PLAIN, TLS_GO,
    "250-mx.example.net\r\n250 AUTH LOGIN CRAM-MD5\r\n", "334 VXNlcm5hbWU6\r\n",
    "334 UGFzc3dvcmQ6\r\n", "235 2.7.0 ok\r\n", "221 bye\r\n", NULL,
  };
  static const Action actions[] = { { ACT_QUIT, NULL, NULL, NULL }, { ACT_END, NULL, NULL, NULL } };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, "user", "secret", server, TRUE, actions,
    C_EHLO "STARTTLS\r\n[TLS]" C_EHLO "AUTH LOGIN\r\ndXNlcg==\r\nc2VjcmV0\r\nQUIT\r\n",
    "TLS READY-QUIT DONE", NULL,
  };

  check_scenario (&scn);
}

/* A success reply that skips the server's SCRAM proof is refused. */
static void
test_auth_scram_without_server_proof (void **state)
{
  g_autoptr (PstSmtpSession) s = pst_smtp_session_new ("client.example", PST_SMTP_TLS_IMPLICIT);
  static const char head[] = GREETING "250-mx.example.net\r\n250 AUTH SCRAM-SHA-256 PLAIN\r\n";
  g_autofree char *first = NULL, *server_first = NULL, *server_first_b64 = NULL;
  const guint8 *out;
  gsize len;
  const char *nonce;

  pst_smtp_session_set_auth (s, "user", "secret");
  assert_true (pst_smtp_session_feed (s, (const guint8 *) head, strlen (head), NULL));
  out = pst_smtp_session_get_output (s, &len);
  first = g_strndup ((const char *) out, len);
  assert_true (g_str_has_prefix (first, "EHLO client.example\r\nAUTH SCRAM-SHA-256 "));
  pst_smtp_session_consume_output (s, len);
  {
    /* The client nonce, from "n,,n=user,r=NONCE". */
    g_autofree char *b64 = g_strndup (first + strlen ("EHLO client.example\r\nAUTH SCRAM-SHA-256 "),
                                      strcspn (first + strlen ("EHLO client.example\r\nAUTH SCRAM-SHA-256 "), "\r"));
    gsize n = 0;
    g_autofree guchar *msg = g_base64_decode (b64, &n);
    g_autofree char *text = g_strndup ((const char *) msg, n);

    nonce = strstr (text, "r=");
    assert_non_null (nonce);
    server_first = g_strdup_printf ("%sSERVERNONCE,s=c2FsdHNhbHQ=,i=4096", nonce);
  }
  server_first_b64 = g_base64_encode ((const guchar *) server_first, strlen (server_first));
  {
    g_autofree char *line = g_strdup_printf ("334 %s\r\n", server_first_b64);
    assert_true (pst_smtp_session_feed (s, (const guint8 *) line, strlen (line), NULL));
  }
  pst_smtp_session_consume_output (s, 1 << 20);
  /* 235 right after the client's proof, without the server's. */
  assert_false (pst_smtp_session_feed (s, (const guint8 *) "235 ok\r\n", 8, NULL));
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_ERROR);
  assert_non_null (strstr (pst_smtp_session_get_error (s)->message, "no server proof"));
}

/* SIZE, 8BITMIME and SMTPUTF8: MAIL parameters when they apply, and a
 * refusal before anything is sent when the server cannot take the message. */
static void
test_mail_parameters (void **state)
{
  static const char head[] = GREETING
    "250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n";
  const char *rcpts[] = { "bob@example.net", NULL };
  const char *utf8_rcpts[] = { "b\xc3\xb6" "b@example.net", NULL };
  PstSmtpMessageInfo big = { 1001, FALSE, FALSE }, eight = { 500, TRUE, FALSE };
  PstSmtpMessageInfo hdr = { 10, FALSE, TRUE };
  g_autoptr (PstSmtpSession) s = pst_smtp_session_new ("client.example", PST_SMTP_TLS_IMPLICIT);
  const guint8 *out;
  gsize len;

  assert_true (pst_smtp_session_feed (s, (const guint8 *) head, strlen (head), NULL));
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_READY);
  pst_smtp_session_get_output (s, &len);
  pst_smtp_session_consume_output (s, len);

  /* Too big for SIZE 1000: refused here, nothing written. */
  assert_true (pst_smtp_session_begin_message_with (s, "a@x", rcpts, &big, NULL));
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_REJECTED);
  assert_int_equal (pst_smtp_session_get_reply_code (s), 552);
  assert_non_null (strstr (pst_smtp_session_get_reply_text (s), "at most 1000 (SIZE)"));
  pst_smtp_session_get_output (s, &len);
  assert_int_equal (len, 0);
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_READY);

  /* No SMTPUTF8: non-ASCII addresses or headers are refused. */
  assert_true (pst_smtp_session_begin_message_with (s, "a@x", utf8_rcpts, NULL, NULL));
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_REJECTED);
  assert_int_equal (pst_smtp_session_get_reply_code (s), 553);
  assert_true (pst_smtp_session_begin_message_with (s, "a@x", rcpts, &hdr, NULL));
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_REJECTED);
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_READY);

  /* 8-bit content with 8BITMIME: SIZE and BODY on MAIL. */
  assert_true (pst_smtp_session_begin_message_with (s, "a@x", rcpts, &eight, NULL));
  out = pst_smtp_session_get_output (s, &len);
  assert_true (len > 0);
  {
    g_autofree char *text = g_strndup ((const char *) out, len);
    assert_true (g_str_has_prefix (text, "MAIL FROM:<a@x> SIZE=500 BODY=8BITMIME\r\n"));
  }
}

/* No 8BITMIME: 8-bit content is refused by the engine (the sender makes a
 * 7-bit copy first). */
static void
test_no_8bitmime (void **state)
{
  static const char head[] = GREETING "250-mx.example.net\r\n250 PIPELINING\r\n";
  const char *rcpts[] = { "bob@example.net", NULL };
  PstSmtpMessageInfo eight = { 500, TRUE, FALSE };
  g_autoptr (PstSmtpSession) s = pst_smtp_session_new ("client.example", PST_SMTP_TLS_IMPLICIT);
  gsize len;

  assert_true (pst_smtp_session_feed (s, (const guint8 *) head, strlen (head), NULL));
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_READY);
  pst_smtp_session_get_output (s, &len);
  pst_smtp_session_consume_output (s, len);
  assert_true (pst_smtp_session_begin_message_with (s, "a@x", rcpts, &eight, NULL));
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_REJECTED);
  assert_int_equal (pst_smtp_session_get_reply_code (s), 554);
  assert_non_null (strstr (pst_smtp_session_get_reply_text (s), "8BITMIME"));
}

static void
test_wrong_password (void **state)
{
  static const char *const server[] = {
    GREETING, EHLO_PLAIN, TLS_GO, EHLO_TLS,
    "535 5.7.8 Error: authentication failed: authentication failure\r\n", NULL,
  };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, "user", "secret", server, FALSE, NULL,
    C_HANDSHAKE, "TLS ERROR",
    "authentication failed (PLAIN): 535 5.7.8 Error: authentication failed: authentication failure",
  };

  check_scenario (&scn);
}

static void
test_secret_not_in_error (void **state)
{
  g_autoptr (PstSmtpSession) s = pst_smtp_session_new ("client.example", PST_SMTP_TLS_IMPLICIT);
  static const char input[] = GREETING EHLO_TLS "535-5.7.8 no\r\n535 5.7.8 sorry\r\n";
  const GError *error;

  pst_smtp_session_set_auth (s, "user", "secret");
  pst_smtp_session_set_auth (s, "user", "hunter2");
  assert_false (pst_smtp_session_feed (s, (const guint8 *) input, strlen (input), NULL));
  error = pst_smtp_session_get_error (s);
  assert_string_equal (error->message, "authentication failed (PLAIN): 535 5.7.8 no 5.7.8 sorry");
  assert_null (strstr (error->message, "hunter2"));
  assert_null (strstr (error->message, "AHVzZXIAaHVudGVyMg"));
}

/* ---- transactions ---- */

static const Action one_msg[] = {
  { ACT_MSG, "alice@example.org", two_rcpts, "x\r\n" },
  { ACT_QUIT, NULL, NULL, NULL },
  { ACT_END, NULL, NULL, NULL },
};

#define C_ENVELOPE "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\n" \
  "RCPT TO:<carol@example.net>\r\nDATA\r\n"
#define E_ENVELOPE ">MAIL FROM:<alice@example.org>|RCPT TO:<bob@example.net>|" \
  "RCPT TO:<carol@example.net>|DATA|"

static void
test_pipelined_all_rcpts_rejected (void **state)
{
  static const char *const server[] = {
    GREETING, EHLO_PLAIN, TLS_GO, EHLO_TLS, AUTH_OK,
    "250 2.1.0 Ok\r\n550 5.1.1 <bob@example.net>: Recipient address rejected\r\n"
    "450 4.2.0 <carol@example.net>: try later\r\n554 5.5.1 Error: no valid recipients\r\n",
    "250 2.0.0 Ok\r\n", BYE, NULL,
  };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, "user", "secret", server, FALSE, one_msg,
    C_HANDSHAKE C_ENVELOPE "RSET\r\nQUIT\r\n",
    "TLS READY-MSG " E_ENVELOPE " REJECTED:550[bob@example.net=550][carol@example.net=450]"
    " READY-QUIT DONE",
    NULL,
  };

  check_scenario (&scn);
}

#define EHLO_TLS_CHUNKING \
  "250-mx.example.net\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 AUTH PLAIN\r\n"
#define C_ENVELOPE_BDAT "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\n" \
  "RCPT TO:<carol@example.net>\r\n"
#define E_ENVELOPE_BDAT ">MAIL FROM:<alice@example.org>|RCPT TO:<bob@example.net>|" \
  "RCPT TO:<carol@example.net>|"

/* CHUNKING: envelope and body in one flight, no dot-stuffing. */
static void
test_bdat (void **state)
{
  static const Action dotted[] = {
    { ACT_MSG, "alice@example.org", two_rcpts, ".x\n..y\n" },
    { ACT_QUIT, NULL, NULL, NULL },
    { ACT_END, NULL, NULL, NULL },
  };
  static const char *const server[] = {
    GREETING, EHLO_PLAIN, TLS_GO, EHLO_TLS_CHUNKING, AUTH_OK,
    "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: queued\r\n", BYE, NULL,
  };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, "user", "secret", server, FALSE, dotted,
    C_EHLO "STARTTLS\r\n[TLS]" C_EHLO C_AUTH C_ENVELOPE_BDAT "BDAT 9 LAST\r\n.x\r\n..y\r\nQUIT\r\n",
    "TLS READY-MSG " E_ENVELOPE_BDAT " BODY SENT:250 READY-QUIT DONE", NULL,
  };

  check_scenario (&scn);
}

/* CHUNKING with every recipient refused: the BDAT reply does not make it
 * a success. */
static void
test_bdat_all_rcpts_rejected (void **state)
{
  static const char *const server[] = {
    GREETING, EHLO_PLAIN, TLS_GO, EHLO_TLS_CHUNKING, AUTH_OK,
    "250 2.1.0 Ok\r\n550 5.1.1 no bob\r\n550 5.1.1 no carol\r\n554 5.5.1 no valid recipients\r\n",
    "250 2.0.0 Ok\r\n", BYE, NULL,
  };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, "user", "secret", server, FALSE, one_msg,
    C_EHLO "STARTTLS\r\n[TLS]" C_EHLO C_AUTH C_ENVELOPE_BDAT "BDAT 3 LAST\r\nx\r\nRSET\r\nQUIT\r\n",
    "TLS READY-MSG " E_ENVELOPE_BDAT " BODY REJECTED:550[bob@example.net=550][carol@example.net=550]"
    " READY-QUIT DONE",
    NULL,
  };

  check_scenario (&scn);
}

static void
test_pipelined_some_rcpts_rejected (void **state)
{
  static const char *const server[] = {
    GREETING, EHLO_PLAIN, TLS_GO, EHLO_TLS, AUTH_OK,
    "250 2.1.0 Ok\r\n550 5.1.1 no such user\r\n250 2.1.5 Ok\r\n354 go ahead\r\n",
    "250 2.0.0 queued\r\n", BYE, NULL,
  };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, "user", "secret", server, FALSE, one_msg,
    C_HANDSHAKE C_ENVELOPE "x\r\n.\r\nQUIT\r\n",
    "TLS READY-MSG " E_ENVELOPE " BODY SENT:250[bob@example.net=550] READY-QUIT DONE",
    NULL,
  };

  check_scenario (&scn);
}

static void
test_pipelined_mail_rejected (void **state)
{
  static const char *const server[] = {
    GREETING, EHLO_PLAIN, TLS_GO, EHLO_TLS, AUTH_OK,
    "553 5.7.1 <alice@example.org>: Sender address rejected: not owned by user\r\n"
    "503 5.5.1 Error: need MAIL command\r\n503 5.5.1 Error: need MAIL command\r\n"
    "503 5.5.1 Error: need RCPT command\r\n",
    "250 2.0.0 Ok\r\n", BYE, NULL,
  };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, "user", "secret", server, FALSE, one_msg,
    C_HANDSHAKE C_ENVELOPE "RSET\r\nQUIT\r\n",
    "TLS READY-MSG " E_ENVELOPE " REJECTED:553 READY-QUIT DONE", NULL,
  };

  check_scenario (&scn);
}

static void
test_pipelined_354_without_recipients (void **state)
{
  /* A server that says 354 although no recipient was accepted gets an
   * empty message, never the body. */
  static const char *const server[] = {
    GREETING, EHLO_PLAIN, TLS_GO, EHLO_TLS, AUTH_OK,
    "250 Ok\r\n550 no\r\n550 no\r\n354 go ahead\r\n",
    "554 no valid recipients\r\n", "250 Ok\r\n", BYE, NULL,
  };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, "user", "secret", server, FALSE, one_msg,
    C_HANDSHAKE C_ENVELOPE ".\r\nRSET\r\nQUIT\r\n",
    "TLS READY-MSG " E_ENVELOPE " REJECTED:550[bob@example.net=550][carol@example.net=550]"
    " READY-QUIT DONE",
    NULL,
  };

  check_scenario (&scn);
}

static void
test_pipelined_data_refused (void **state)
{
  static const char *const server[] = {
    GREETING, EHLO_PLAIN, TLS_GO, EHLO_TLS, AUTH_OK,
    "250 Ok\r\n250 Ok\r\n250 Ok\r\n451 4.3.0 try again later\r\n",
    "250 Ok\r\n", BYE, NULL,
  };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, "user", "secret", server, FALSE, one_msg,
    C_HANDSHAKE C_ENVELOPE "RSET\r\nQUIT\r\n",
    "TLS READY-MSG " E_ENVELOPE " REJECTED:451 READY-QUIT DONE", NULL,
  };

  check_scenario (&scn);
}

#define EHLO_NOPIPE "250-mx.example.net\r\n250 AUTH PLAIN\r\n"

static void
test_lockstep_mail_rejected (void **state)
{
  static const char *const server[] = {
    GREETING, EHLO_PLAIN, TLS_GO, EHLO_NOPIPE, AUTH_OK,
    "553 5.7.1 sender rejected\r\n", "250 Ok\r\n", BYE, NULL,
  };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, "user", "secret", server, FALSE, one_msg,
    C_HANDSHAKE "MAIL FROM:<alice@example.org>\r\nRSET\r\nQUIT\r\n",
    "TLS READY-MSG >MAIL FROM:<alice@example.org>| REJECTED:553 READY-QUIT DONE", NULL,
  };

  check_scenario (&scn);
}

static void
test_lockstep_rcpts (void **state)
{
  static const char *const server[] = {
    GREETING, EHLO_PLAIN, TLS_GO, EHLO_NOPIPE, AUTH_OK,
    "250 Ok\r\n", "550 5.1.1 unknown\r\n", "550 5.1.1 unknown too\r\n",
    "250 Ok\r\n",
    "250 Ok\r\n", "250 Ok\r\n", "250 Ok\r\n", "354 go\r\n", "554 5.7.1 spam\r\n",
    BYE, NULL,
  };
  static const Action actions[] = {
    { ACT_MSG, "alice@example.org", two_rcpts, "x\r\n" },
    { ACT_MSG, "alice@example.org", two_rcpts, "y" },
    { ACT_QUIT, NULL, NULL, NULL },
    { ACT_END, NULL, NULL, NULL },
  };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, "user", "secret", server, FALSE, actions,
    C_HANDSHAKE "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\n"
    "RCPT TO:<carol@example.net>\r\nRSET\r\n" C_ENVELOPE "y\r\n.\r\nQUIT\r\n",
    "TLS READY-MSG >MAIL FROM:<alice@example.org>|"
    " REJECTED:550[bob@example.net=550][carol@example.net=550]"
    " READY-MSG >MAIL FROM:<alice@example.org>| BODY REJECTED:554 READY-QUIT DONE",
    NULL,
  };

  check_scenario (&scn);
}

static void
test_bad_addresses (void **state)
{
  g_autoptr (PstSmtpSession) s = pst_smtp_session_new ("client.example", PST_SMTP_TLS_IMPLICIT);
  static const char input[] = GREETING EHLO_PLAIN;
  static const char *const injected[] = { "bob@example.net>\r\nRCPT TO:<eve@example.com", NULL };
  static const char *const spaced[] = { "bob @example.net", NULL };
  static const char *const none[] = { NULL };
  g_autofree char *long_addr = g_strnfill (257, 'a');
  const char *const too_long[] = { long_addr, NULL };
  GError *error = NULL;
  gsize len;

  assert_true (pst_smtp_session_feed (s, (const guint8 *) input, strlen (input), NULL));
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_READY);
  pst_smtp_session_consume_output (s, 1000);

  assert_false (pst_smtp_session_begin_message (s, "a@example.org", injected, &error));
  g_assert_error (error, PST_ERROR, PST_ERROR_USAGE);
  g_clear_error (&error);
  assert_false (pst_smtp_session_begin_message (s, "a@example.org", spaced, &error));
  g_clear_error (&error);
  assert_false (pst_smtp_session_begin_message (s, "a@example.org", none, &error));
  g_clear_error (&error);
  assert_false (pst_smtp_session_begin_message (s, "a@example.org", too_long, &error));
  g_clear_error (&error);
  assert_false (pst_smtp_session_begin_message (s, "a@example.org\r\nRSET", one_rcpt, &error));
  g_clear_error (&error);
  assert_null (pst_smtp_session_get_output (s, &len));
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_READY);

  /* Not READY: refused too. */
  assert_true (pst_smtp_session_begin_message (s, "a@example.org", one_rcpt, NULL));
  assert_false (pst_smtp_session_begin_message (s, "a@example.org", one_rcpt, &error));
  g_clear_error (&error);
}

/* ---- the body ---- */

typedef struct {
  const char *in;
  const char *out;
} BodyCase;

static const BodyCase body_cases[] = {
  { "", ".\r\n" },
  { ".", "..\r\n.\r\n" },
  { ".\r\n", "..\r\n.\r\n" },
  { ".\n", "..\r\n.\r\n" },
  { "..\r\n", "...\r\n.\r\n" },
  { ".x\r\n", "..x\r\n.\r\n" },
  { "a\n.\nb", "a\r\n..\r\nb\r\n.\r\n" },
  { "a\r\n.\r\n..\r\n.x\r\nx.\r\n", "a\r\n..\r\n...\r\n..x\r\nx.\r\n.\r\n" },
  { "bare\nlf\n\nend\n", "bare\r\nlf\r\n\r\nend\r\n.\r\n" },
  { "no newline", "no newline\r\n.\r\n" },
  { "ends in CR\r", "ends in CR\r\n.\r\n" },
  { "bare\rcr\r\r\n.", "bare\r\ncr\r\n\r\n..\r\n.\r\n" },
  { "\r\n\r\n", "\r\n\r\n.\r\n" },
  { "\n.\r.\n", "\r\n..\r\n..\r\n.\r\n" },
  { "smuggle\n.\r\nMAIL FROM:<x>\r\n", "smuggle\r\n..\r\nMAIL FROM:<x>\r\n.\r\n" },
};

static PstSmtpSession *
session_at_body (void)
{
  PstSmtpSession *s = pst_smtp_session_new ("client.example", PST_SMTP_TLS_IMPLICIT);
  static const char input[] = GREETING EHLO_PLAIN "250 Ok\r\n250 Ok\r\n354 go\r\n";

  assert_true (pst_smtp_session_feed (s, (const guint8 *) input, strlen (GREETING EHLO_PLAIN),
                                      NULL));
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_READY);
  assert_true (pst_smtp_session_begin_message (s, "a@example.org", one_rcpt, NULL));
  assert_true (pst_smtp_session_feed (s, (const guint8 *) input + strlen (GREETING EHLO_PLAIN),
                                      strlen (input) - strlen (GREETING EHLO_PLAIN), NULL));
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_WANT_BODY);
  pst_smtp_session_consume_output (s, 10000);
  return s;
}

static char *
body_output (const char *body, int split)
{
  g_autoptr (PstSmtpSession) s = session_at_body ();
  GString *out = g_string_new (NULL);

  send_body (s, body, split);
  drain (s, out);
  pst_smtp_session_body_end (s);
  drain (s, out);
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_WANT_READ);
  assert_true (pst_smtp_session_feed (s, (const guint8 *) "250 Ok\r\n", 8, NULL));
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_SENT);
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_READY);
  return g_string_free (out, FALSE);
}

static void
test_body_stuffing (void **state)
{
  for (gsize c = 0; c < G_N_ELEMENTS (body_cases); c++)
    {
      const BodyCase *bc = &body_cases[c];
      g_autofree char *whole = body_output (bc->in, WHOLE);
      g_autofree char *bytewise = body_output (bc->in, BYTEWISE);

      assert_string_equal (whole, bc->out);
      assert_string_equal (bytewise, bc->out);
      for (int k = 0; k <= (int) strlen (bc->in); k++)
        {
          g_autofree char *split = body_output (bc->in, k);
          if (strcmp (split, bc->out) != 0)
            fail_msg ("body \"%s\" split at %d", bc->in, k);
        }
    }
}

static void
test_body_big (void **state)
{
  g_autoptr (PstSmtpSession) s = session_at_body ();
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GString) expect = g_string_new (NULL);

  for (guint i = 0; i < 5000; i++)
    {
      char line[64];
      int n = g_snprintf (line, sizeof line, "%s%u\n", i % 3 == 0 ? "." : "", i);

      pst_smtp_session_body (s, (const guint8 *) line, n);
      if (i % 100 == 0)
        drain (s, out);
      g_string_append_printf (expect, "%s%u\r\n", i % 3 == 0 ? ".." : "", i);
    }
  pst_smtp_session_body_end (s);
  drain (s, out);
  g_string_append (expect, ".\r\n");
  assert_string_equal (out->str, expect->str);
}

/* ---- broken servers and closed connections ---- */

static void
test_greeting_refused (void **state)
{
  static const char *const server[] = {
    "554-5.3.2 mx.example.net\r\n554 5.3.2 Service unavailable\r\n", NULL,
  };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, "user", "secret", server, FALSE, NULL, "", "ERROR",
    "server refused the connection: 554 5.3.2 mx.example.net 5.3.2 Service unavailable",
  };

  check_scenario (&scn);
}

static void
test_ehlo_refused (void **state)
{
  static const char *const server[] = { GREETING, "502 5.5.2 Error: command not recognized\r\n",
                                        NULL };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, NULL, NULL, server, FALSE, NULL, C_EHLO, "ERROR",
    "server refused EHLO: 502 5.5.2 Error: command not recognized",
  };

  check_scenario (&scn);
}

static void
test_421_closing (void **state)
{
  static const char *const server[] = {
    GREETING, "421 4.4.2 mx.example.net Error: timeout exceeded\r\n", NULL,
  };
  const Scenario scn = {
    PST_SMTP_TLS_IMPLICIT, NULL, NULL, server, TRUE, NULL, C_EHLO, "ERROR",
    "server is closing the session: 421 4.4.2 mx.example.net Error: timeout exceeded",
  };

  check_scenario (&scn);
}

static void
test_mixed_codes (void **state)
{
  static const char *const server[] = { GREETING, "250-mx.example.net\r\n251 PIPELINING\r\n",
                                        NULL };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, NULL, NULL, server, FALSE, NULL, C_EHLO, "ERROR",
    "malformed reply from server: a reply starting with 250 continues with 251",
  };

  check_scenario (&scn);
}

static void
test_malformed_lines (void **state)
{
  static const char *const bad[] = {
    "hello\r\n", "22\r\n", "220x\r\n", "620 no\r\n", "2a0 x\r\n", "\r\n", "290 x\r\n", NULL,
  };

  for (int i = 0; bad[i] != NULL; i++)
    {
      const char *const server[] = { bad[i], NULL };
      const Scenario scn = {
        PST_SMTP_TLS_STARTTLS, NULL, NULL, server, FALSE, NULL, "", "ERROR",
        "malformed reply from server",
      };

      check_scenario (&scn);
    }
}

static void
test_control_chars_sanitized (void **state)
{
  g_autoptr (PstSmtpSession) s = pst_smtp_session_new ("client.example", PST_SMTP_TLS_STARTTLS);
  static const char input[] = "554 \033[31mred\tand\0nul \xff\r\n";

  assert_false (pst_smtp_session_feed (s, (const guint8 *) input, sizeof input - 1, NULL));
  assert_string_equal (pst_smtp_session_get_error (s)->message,
                       "server refused the connection: 554 ?[31mred and?nul \xef\xbf\xbd");
}

static void
test_oversized_line (void **state)
{
  g_autofree char *fill = g_strnfill (5000, 'x');
  g_autofree char *ehlo = g_strdup_printf ("250-mx.example.net\r\n250-%s\r\n250 DSN\r\n", fill);
  g_autofree char *fits = g_strnfill (4092, 'y');
  g_autofree char *ehlo_ok = g_strdup_printf ("250-mx.example.net\r\n250-%s\r\n250 DSN\r\n",
                                              fits);
  g_autoptr (PstSmtpSession) s = pst_smtp_session_new ("client.example", PST_SMTP_TLS_IMPLICIT);
  g_autoptr (PstSmtpSession) s2 = pst_smtp_session_new ("client.example", PST_SMTP_TLS_IMPLICIT);
  g_autoptr (GError) error = NULL;

  assert_true (pst_smtp_session_feed (s, (const guint8 *) GREETING, strlen (GREETING), NULL));
  assert_false (pst_smtp_session_feed (s, (const guint8 *) ehlo, strlen (ehlo), &error));
  assert_string_equal (error->message,
                       "server sent a reply line longer than 4096 bytes; aborting");

  /* 4096 bytes exactly are fine. */
  assert_true (pst_smtp_session_feed (s2, (const guint8 *) GREETING, strlen (GREETING), NULL));
  assert_true (pst_smtp_session_feed (s2, (const guint8 *) ehlo_ok, strlen (ehlo_ok), NULL));
  assert_int_equal (pst_smtp_session_next_event (s2), PST_SMTP_EVENT_READY);
  assert_true (pst_smtp_session_has_extension (s2, "DSN"));
}

static void
test_oversized_line_no_newline (void **state)
{
  /* A server that never ends its line is stopped once the limit is passed. */
  g_autoptr (PstSmtpSession) s = pst_smtp_session_new ("client.example", PST_SMTP_TLS_IMPLICIT);
  gboolean ok = TRUE;
  guint fed = 0;

  assert_true (pst_smtp_session_feed (s, (const guint8 *) "220-", 4, NULL));
  while (ok && fed < 100000)
    {
      ok = pst_smtp_session_feed (s, (const guint8 *) "xxxxxxxxxxxxxxxx", 16, NULL);
      fed += 16;
    }
  assert_false (ok);
  assert_true (fed <= 4096 + 16);
}

static void
test_too_many_lines (void **state)
{
  g_autoptr (GString) ehlo = g_string_new ("250-mx.example.net\r\n");
  g_autoptr (PstSmtpSession) s = pst_smtp_session_new ("client.example", PST_SMTP_TLS_IMPLICIT);
  g_autoptr (GError) error = NULL;

  for (int i = 0; i < 150; i++)
    g_string_append_printf (ehlo, "250-X-EXT%d\r\n", i);
  g_string_append (ehlo, "250 DSN\r\n");
  assert_true (pst_smtp_session_feed (s, (const guint8 *) GREETING, strlen (GREETING), NULL));
  assert_false (pst_smtp_session_feed (s, (const guint8 *) ehlo->str, ehlo->len, &error));
  assert_string_equal (error->message, "server sent a reply of more than 100 lines; aborting");
}

static void
test_eof_mid_reply (void **state)
{
  static const char *const server[] = { GREETING, "250-mx.example.net\r\n250-PIPEL", NULL };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, NULL, NULL, server, TRUE, NULL, C_EHLO, "ERROR",
    "connection closed in the middle of a reply",
  };

  check_scenario (&scn);
}

static void
test_eof_before_greeting (void **state)
{
  static const char *const server[] = { NULL };
  const Scenario scn = {
    PST_SMTP_TLS_STARTTLS, NULL, NULL, server, TRUE, NULL, "", "ERROR",
    "server closed the connection before its greeting",
  };

  check_scenario (&scn);
}

static void
test_eof_after_dot (void **state)
{
  static const char *const server[] = {
    GREETING, EHLO_PLAIN, "250 Ok\r\n250 Ok\r\n250 Ok\r\n354 go\r\n", NULL,
  };
  const Scenario scn = {
    PST_SMTP_TLS_IMPLICIT, NULL, NULL, server, TRUE, one_msg,
    C_EHLO C_ENVELOPE "x\r\n.\r\n",
    "READY-MSG " E_ENVELOPE " BODY ERROR",
    "server closed the connection before confirming the message; it may or may not have "
    "been accepted",
  };

  check_scenario (&scn);
}

static void
test_eof_when_idle (void **state)
{
  g_autoptr (PstSmtpSession) s = pst_smtp_session_new ("client.example", PST_SMTP_TLS_IMPLICIT);

  assert_true (pst_smtp_session_feed (s, (const guint8 *) GREETING EHLO_PLAIN,
                                      strlen (GREETING EHLO_PLAIN), NULL));
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_READY);
  pst_smtp_session_feed_eof (s);
  assert_int_equal (pst_smtp_session_next_event (s), PST_SMTP_EVENT_ERROR);
  assert_string_equal (pst_smtp_session_get_error (s)->message,
                       "server closed the connection unexpectedly");
}

static void
test_eof_after_quit (void **state)
{
  /* The server closes without answering QUIT, or in the middle of its 221. */
  static const char *const server[] = { GREETING, EHLO_PLAIN, "221 2.0", NULL };
  static const char *const server2[] = { GREETING, EHLO_PLAIN, NULL };
  static const Action actions[] = { { ACT_QUIT, NULL, NULL, NULL }, { ACT_END, NULL, NULL, NULL } };
  const Scenario scn = {
    PST_SMTP_TLS_IMPLICIT, NULL, NULL, server, TRUE, actions,
    C_EHLO "QUIT\r\n", "READY-QUIT DONE", NULL,
  };
  const Scenario scn2 = {
    PST_SMTP_TLS_IMPLICIT, NULL, NULL, server2, TRUE, actions,
    C_EHLO "QUIT\r\n", "READY-QUIT DONE", NULL,
  };

  check_scenario (&scn);
  check_scenario (&scn2);
}

static void
test_unexpected_reply (void **state)
{
  g_autoptr (PstSmtpSession) s = pst_smtp_session_new ("client.example", PST_SMTP_TLS_IMPLICIT);
  static const char input[] = GREETING EHLO_PLAIN "250 surprise\r\n";

  assert_false (pst_smtp_session_feed (s, (const guint8 *) input, strlen (input), NULL));
  assert_string_equal (pst_smtp_session_get_error (s)->message,
                       "server sent an unexpected reply: 250 surprise");
}

static void
test_helo_name (void **state)
{
  g_autoptr (PstSmtpSession) s = pst_smtp_session_new ("bad name\r\nRSET", PST_SMTP_TLS_IMPLICIT);
  g_autoptr (PstSmtpSession) s2 = pst_smtp_session_new ("[192.0.2.1]", PST_SMTP_TLS_IMPLICIT);
  const guint8 *p;
  gsize len;

  assert_true (pst_smtp_session_feed (s, (const guint8 *) GREETING, strlen (GREETING), NULL));
  p = pst_smtp_session_get_output (s, &len);
  assert_int_equal (len, strlen ("EHLO localhost\r\n"));
  assert_memory_equal (p, "EHLO localhost\r\n", len);
  assert_true (pst_smtp_session_feed (s2, (const guint8 *) GREETING, strlen (GREETING), NULL));
  p = pst_smtp_session_get_output (s2, &len);
  assert_memory_equal (p, "EHLO [192.0.2.1]\r\n", len);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_send_pipelined),
    cmocka_unit_test (test_reply_accessors),
    cmocka_unit_test (test_implicit_tls),
    cmocka_unit_test (test_implicit_tls_auth),
    cmocka_unit_test (test_ehlo_reply_without_text),
    cmocka_unit_test (test_starttls_without_credentials),
    cmocka_unit_test (test_starttls_not_offered),
    cmocka_unit_test (test_starttls_refused),
    cmocka_unit_test (test_starttls_injection),
    cmocka_unit_test (test_starttls_bytes_before_handshake),
    cmocka_unit_test (test_caps_change_after_tls),
    cmocka_unit_test (test_auth_only_before_tls),
    cmocka_unit_test (test_auth_plain_not_offered),
    cmocka_unit_test (test_auth_login),
    cmocka_unit_test (test_auth_scram_without_server_proof),
    cmocka_unit_test (test_mail_parameters),
    cmocka_unit_test (test_no_8bitmime),
    cmocka_unit_test (test_wrong_password),
    cmocka_unit_test (test_secret_not_in_error),
    cmocka_unit_test (test_pipelined_all_rcpts_rejected),
    cmocka_unit_test (test_pipelined_some_rcpts_rejected),
    cmocka_unit_test (test_bdat),
    cmocka_unit_test (test_bdat_all_rcpts_rejected),
    cmocka_unit_test (test_pipelined_mail_rejected),
    cmocka_unit_test (test_pipelined_354_without_recipients),
    cmocka_unit_test (test_pipelined_data_refused),
    cmocka_unit_test (test_lockstep_mail_rejected),
    cmocka_unit_test (test_lockstep_rcpts),
    cmocka_unit_test (test_bad_addresses),
    cmocka_unit_test (test_body_stuffing),
    cmocka_unit_test (test_body_big),
    cmocka_unit_test (test_greeting_refused),
    cmocka_unit_test (test_ehlo_refused),
    cmocka_unit_test (test_421_closing),
    cmocka_unit_test (test_mixed_codes),
    cmocka_unit_test (test_malformed_lines),
    cmocka_unit_test (test_control_chars_sanitized),
    cmocka_unit_test (test_oversized_line),
    cmocka_unit_test (test_oversized_line_no_newline),
    cmocka_unit_test (test_too_many_lines),
    cmocka_unit_test (test_eof_mid_reply),
    cmocka_unit_test (test_eof_before_greeting),
    cmocka_unit_test (test_eof_after_dot),
    cmocka_unit_test (test_eof_when_idle),
    cmocka_unit_test (test_eof_after_quit),
    cmocka_unit_test (test_unexpected_reply),
    cmocka_unit_test (test_helo_name),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
