/* Unit tests for the POP3 engine (core/net/pop3.c).
 *
 * As in test-smtp.c: a scripted server (one flight per element), a small
 * driver that plays it and writes down the client's bytes ("[TLS]" marks the
 * handshake) and the events, each scenario fed whole, one byte at a time and
 * split at every point of every flight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "net/pop3.h"
#include "util/error.h"

typedef struct {
  PstPop3TlsMode mode;
  const char *user;
  const char *password;
  const char *const *server;
  gboolean eof;             /* the server closes after its last flight */
  const char *actions;      /* commands given at each READY: "R1 R2|D1|Q" */
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

static void
drain (PstPop3Session *s, GString *out)
{
  const guint8 *p;
  gsize len;

  while ((p = pst_pop3_session_get_output (s, &len)) != NULL && len > 0)
    {
      gsize n = MIN (len, 5);
      g_string_append_len (out, (const char *) p, n);
      pst_pop3_session_consume_output (s, n);
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

/* Gives the commands of one group of the action script. */
static void
act (Transcript *t, PstPop3Session *s, const char *group)
{
  g_auto (GStrv) words = g_strsplit (group, " ", -1);
  g_autoptr (GString) burst = g_string_new (NULL);

  for (int i = 0; words[i] != NULL; i++)
    {
      guint n = words[i][0] != '\0' ? (guint) atoi (words[i] + 1) : 0;

      switch (words[i][0])
        {
        case 'R': pst_pop3_session_retr (s, n); break;
        case 'D': pst_pop3_session_dele (s, n); break;
        case 'Q': pst_pop3_session_quit (s); break;
        default: break;
        }
    }
  /* What went out at once shows whether the commands were pipelined. */
  drain (s, burst);
  g_string_append (t->out, burst->str);
  g_string_replace (burst, "\r\n", "|", 0);
  event (t, ">%s", burst->str);
}

static Transcript
play (const Scenario *scn, GPtrArray *chunks)
{
  Transcript t = { g_string_new (NULL), g_string_new (NULL), NULL };
  g_autoptr (PstPop3Session) s = pst_pop3_session_new (scn->mode);
  g_auto (GStrv) groups = g_strsplit (scn->actions != NULL ? scn->actions : "", "|", -1);
  g_autoptr (GString) message = g_string_new (NULL);
  guint next_chunk = 0, next_group = 0, data_msgno = 0;
  gboolean eof_sent = FALSE, listed = FALSE;

  if (scn->user != NULL)
    pst_pop3_session_set_auth (s, scn->user, scn->password);

  for (guint guard = 0; guard < 100000; guard++)
    {
      PstPop3EventType ev = pst_pop3_session_next_event (s);

      drain (s, t.out);
      switch (ev)
        {
        case PST_POP3_EVENT_WANT_READ:
          if (next_chunk < chunks->len)
            {
              GBytes *b = chunks->pdata[next_chunk++];
              g_autoptr (GError) error = NULL;
              gsize n;
              const guint8 *p = g_bytes_get_data (b, &n);

              if (!pst_pop3_session_feed (s, p, n, &error))
                {
                  assert_non_null (error);
                  assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_ERROR);
                }
              else
                assert_null (error);
            }
          else if (scn->eof && !eof_sent)
            {
              eof_sent = TRUE;
              pst_pop3_session_feed_eof (s);
            }
          else
            {
              event (&t, "STALL");
              return t;
            }
          break;

        case PST_POP3_EVENT_WANT_TLS:
          event (&t, "TLS");
          g_string_append (t.out, "[TLS]");
          pst_pop3_session_tls_started (s);
          break;

        case PST_POP3_EVENT_READY:
          if (!listed)
            {
              const GArray *uidls = pst_pop3_session_get_uidls (s);

              listed = TRUE;
              event (&t, "READY{");
              for (guint i = 0; i < uidls->len; i++)
                {
                  const PstPop3Uidl *u = &g_array_index (uidls, PstPop3Uidl, i);
                  g_string_append_printf (t.events, "%s%u:%s", i > 0 ? " " : "", u->msgno,
                                          u->uidl);
                }
              g_string_append_c (t.events, '}');
            }
          else
            event (&t, "READY");
          if (groups[next_group] == NULL || groups[next_group][0] == '\0')
            return t;
          act (&t, s, groups[next_group++]);
          break;

        case PST_POP3_EVENT_DATA:
          {
            gsize n;
            const guint8 *p = pst_pop3_session_take_data (s, &n);

            assert_true (n > 0);
            if (message->len == 0 && data_msgno == 0)
              data_msgno = pst_pop3_session_get_msgno (s);
            assert_int_equal (pst_pop3_session_get_msgno (s), data_msgno);
            g_string_append_len (message, (const char *) p, n);
            break;
          }

        case PST_POP3_EVENT_RETR_DONE:
          if (data_msgno != 0)
            assert_int_equal (pst_pop3_session_get_msgno (s), data_msgno);
          event (&t, "MSG%u{%s}", pst_pop3_session_get_msgno (s), message->str);
          g_string_truncate (message, 0);
          data_msgno = 0;
          break;

        case PST_POP3_EVENT_DELE_DONE:
          event (&t, "DELE%u", pst_pop3_session_get_msgno (s));
          break;

        case PST_POP3_EVENT_DONE:
          event (&t, "DONE");
          return t;

        case PST_POP3_EVENT_ERROR:
          {
            const GError *error = pst_pop3_session_get_error (s);

            assert_non_null (error);
            assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_NETWORK));
            event (&t, "ERROR");
            t.error = g_strdup (error->message);
            assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_ERROR);
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
    print_error ("mode %s\nout:    %s\nevents: %s\nerror:  %s\n", mode, t->out->str,
                 t->events->str, t->error);
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

static void
check_scenario (const Scenario *scn)
{
  Transcript t;
  GPtrArray *chunks;

  chunks = make_chunks (scn->server, -1, WHOLE);
  t = play (scn, chunks);
  check_transcript (scn, &t, "whole");
  transcript_clear (&t);
  g_ptr_array_unref (chunks);

  chunks = make_chunks (scn->server, -1, BYTEWISE);
  t = play (scn, chunks);
  check_transcript (scn, &t, "bytewise");
  transcript_clear (&t);
  g_ptr_array_unref (chunks);

  for (int f = 0; scn->server[f] != NULL; f++)
    for (int k = 1; k < (int) strlen (scn->server[f]); k++)
      {
        g_autofree char *mode = g_strdup_printf ("flight %d split at %d", f, k);

        chunks = make_chunks (scn->server, f, k);
        t = play (scn, chunks);
        check_transcript (scn, &t, mode);
        transcript_clear (&t);
        g_ptr_array_unref (chunks);
      }
}

/* ---- the usual conversation ---- */

#define GREETING "+OK Dovecot ready.\r\n"
#define CAPA_PLAIN \
  "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nSTLS\r\nUSER\r\nSASL PLAIN\r\n.\r\n"
#define STLS_GO "+OK Begin TLS negotiation now.\r\n"
#define CAPA_TLS "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nUSER\r\n.\r\n"
#define CAPA_TLS_PIPE "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nUSER\r\n.\r\n"
#define USER_OK "+OK\r\n"
#define PASS_OK "+OK Logged in.\r\n"
#define UIDL_LIST "+OK\r\n1 000000015a1b2c3d\r\n2 000000025a1b2c3d\r\n.\r\n"
#define E_UIDLS "READY{1:000000015a1b2c3d 2:000000025a1b2c3d}"
#define BYE "+OK Logging out, messages deleted.\r\n"

#define C_LOGIN "USER user\r\nPASS secret\r\nUIDL\r\n"
#define C_HANDSHAKE "CAPA\r\nSTLS\r\n[TLS]CAPA\r\n" C_LOGIN

#define MSG1_WIRE "+OK 41 octets\r\nSubject: one\r\n\r\n..dotted\r\n...\r\n.\r\n"
#define MSG1 "Subject: one\r\n\r\n.dotted\r\n..\r\n"
#define MSG2_WIRE "+OK 25 octets\r\nSubject: two\r\n\r\nbody\r\n.\r\n"
#define MSG2 "Subject: two\r\n\r\nbody\r\n"

static void
test_fetch_lockstep (void **state)
{
  /* PIPELINING is offered only before TLS, so it is not used. */
  static const char *const server[] = {
    GREETING, CAPA_PLAIN, STLS_GO, CAPA_TLS, USER_OK, PASS_OK, UIDL_LIST,
    MSG1_WIRE, MSG2_WIRE, "+OK Marked to be deleted.\r\n", "+OK Marked to be deleted.\r\n",
    BYE, NULL,
  };
  const Scenario scn = {
    PST_POP3_TLS_STLS, "user", "secret", server, FALSE, "R1 R2|D1 D2|Q",
    C_HANDSHAKE "RETR 1\r\nRETR 2\r\nDELE 1\r\nDELE 2\r\nQUIT\r\n",
    "TLS " E_UIDLS " >RETR 1| MSG1{" MSG1 "} MSG2{" MSG2 "} READY >DELE 1|"
    " DELE1 DELE2 READY >QUIT| DONE",
    NULL,
  };

  check_scenario (&scn);
}

static void
test_fetch_pipelined (void **state)
{
  static const char *const server[] = {
    GREETING, CAPA_PLAIN, STLS_GO, CAPA_TLS_PIPE, USER_OK, PASS_OK, UIDL_LIST,
    MSG1_WIRE MSG2_WIRE "+OK Marked to be deleted.\r\n",
    "+OK\r\n" BYE, NULL,
  };
  const Scenario scn = {
    PST_POP3_TLS_STLS, "user", "secret", server, FALSE, "R1 R2 D1|D2 Q",
    C_HANDSHAKE "RETR 1\r\nRETR 2\r\nDELE 1\r\nDELE 2\r\nQUIT\r\n",
    "TLS " E_UIDLS " >RETR 1|RETR 2|DELE 1| MSG1{" MSG1 "} MSG2{" MSG2 "} DELE1"
    " READY >DELE 2|QUIT| DELE2 DONE",
    NULL,
  };

  check_scenario (&scn);
}

static void
test_implicit_tls (void **state)
{
  /* STLS offered over TLS is not used again. */
  static const char *const server[] = {
    GREETING, CAPA_PLAIN, PASS_OK, "+OK\r\n.\r\n", BYE, NULL,
  };
  const Scenario scn = {
    PST_POP3_TLS_IMPLICIT, "user", "secret", server, FALSE, "Q",
    "CAPA\r\nAUTH PLAIN AHVzZXIAc2VjcmV0\r\nUIDL\r\nQUIT\r\n", "READY{} >QUIT| DONE", NULL,
  };

  check_scenario (&scn);
}

static void
test_implicit_tls_no_capa (void **state)
{
  static const char *const server[] = {
    GREETING, "-ERR Unknown command.\r\n", USER_OK, PASS_OK, UIDL_LIST, NULL,
  };
  const Scenario scn = {
    PST_POP3_TLS_IMPLICIT, "user", "secret", server, FALSE, NULL,
    "CAPA\r\n" C_LOGIN, E_UIDLS, NULL,
  };

  check_scenario (&scn);
}

static void
test_capabilities (void **state)
{
  g_autoptr (PstPop3Session) s = pst_pop3_session_new (PST_POP3_TLS_STLS);
  static const char input[] = GREETING CAPA_PLAIN STLS_GO;
  static const char after[] = CAPA_TLS;

  assert_true (pst_pop3_session_feed (s, (const guint8 *) input, strlen (input), NULL));
  assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_WANT_TLS);
  assert_true (pst_pop3_session_has_capability (s, "stls"));
  assert_true (pst_pop3_session_has_capability (s, "PIPELINING"));
  assert_true (pst_pop3_session_has_capability (s, "SASL"));
  assert_string_equal (pst_pop3_session_get_reply_text (s), "Begin TLS negotiation now.");
  pst_pop3_session_tls_started (s);
  /* The old capabilities are gone at once. */
  assert_false (pst_pop3_session_has_capability (s, "STLS"));
  /* No credentials: the session cannot go on once CAPA is read. */
  assert_false (pst_pop3_session_feed (s, (const guint8 *) after, strlen (after), NULL));
  assert_false (pst_pop3_session_has_capability (s, "PIPELINING"));
  assert_true (pst_pop3_session_has_capability (s, "UIDL"));
  assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_ERROR);
  assert_string_equal (pst_pop3_session_get_error (s)->message,
                       "no credentials set for POP3; cannot log in");
}

/* SASL LOGIN: two "+ challenge" continuations (RFC 5034). */
static void
test_sasl_login (void **state)
{
  static const char *const server[] = {
    GREETING, "+OK\r\nCAPA\r\nUIDL\r\nSASL CRAM-MD5 LOGIN\r\n.\r\n", "+ VXNlcm5hbWU6\r\n",
    "+ UGFzc3dvcmQ6\r\n", PASS_OK, UIDL_LIST, NULL,
  };
  const Scenario scn = {
    PST_POP3_TLS_IMPLICIT, "user", "secret", server, FALSE, NULL,
    "CAPA\r\nAUTH LOGIN\r\ndXNlcg==\r\nc2VjcmV0\r\nUIDL\r\n", E_UIDLS, NULL,
  };

  check_scenario (&scn);
}

/* A refusal with a RESP-CODES code says what it means. */
static void
test_resp_code_in_use (void **state)
{
  static const char *const server[] = {
    GREETING, "+OK\r\nCAPA\r\nUIDL\r\nUSER\r\nRESP-CODES\r\n.\r\n", USER_OK,
    "-ERR [IN-USE] Mailbox locked\r\n", NULL,
  };
  const Scenario scn = {
    PST_POP3_TLS_IMPLICIT, "user", "secret", server, FALSE, NULL,
    "CAPA\r\n" "USER user\r\nPASS secret\r\n", "ERROR",
    "authentication failed: [IN-USE] Mailbox locked (the mailbox is in use by another session",
  };

  check_scenario (&scn);
}

/* ---- message bodies ---- */

typedef struct {
  const char *wire;
  const char *message;
} BodyCase;

static void
test_unstuffing (void **state)
{
  g_autofree char *long_line = g_strnfill (10000, 'z');
  g_autofree char *long_wire = g_strdup_printf ("+OK\r\n%s\r\n.\r\n", long_line);
  g_autofree char *long_msg = g_strdup_printf ("%s\r\n", long_line);
  const BodyCase cases[] = {
    { "+OK\r\n.\r\n", "" },
    { "+OK\r\n..\r\n.\r\n", ".\r\n" },
    { "+OK\r\n...\r\n.\r\n", "..\r\n" },
    { "+OK\r\n.x\r\n.\r\n", "x\r\n" },
    { "+OK\r\n. \r\n.\r\n", " \r\n" },
    { "+OK\r\na\r\n..\r\nb..\r\n\r\n..x\r\n.\r\n", "a\r\n.\r\nb..\r\n\r\n.x\r\n" },
    { "+OK\r\nbare\n..\nlf\n.\n", "bare\n.\nlf\n" },
    { "+OK\r\n.\rx\r\n.\r\n", "\rx\r\n" },
    { "+OK\r\n\r\n\r\n.\r\n", "\r\n\r\n" },
    { "+OK 3 octets\r\nno.\r\n.\r\n", "no.\r\n" },
    { long_wire, long_msg },
  };

  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      const char *const server[] = {
        GREETING, "-ERR\r\n", USER_OK, PASS_OK, "+OK\r\n1 a\r\n.\r\n", cases[c].wire,
        NULL,
      };
      g_autofree char *events = g_strdup_printf ("READY{1:a} >RETR 1| MSG1{%s} READY",
                                                 cases[c].message);
      const Scenario scn = {
        PST_POP3_TLS_IMPLICIT, "user", "secret", server, FALSE, "R1",
        "CAPA\r\n" C_LOGIN "RETR 1\r\n", events, NULL,
      };

      check_scenario (&scn);
    }
}

static void
test_data_streamed (void **state)
{
  /* Each feed's bytes come out at once, not at the end of the message. */
  g_autoptr (PstPop3Session) s = pst_pop3_session_new (PST_POP3_TLS_IMPLICIT);
  static const char input[] = GREETING "-ERR\r\n" USER_OK PASS_OK "+OK\r\n1 a\r\n.\r\n";
  const guint8 *p;
  gsize n;

  pst_pop3_session_set_auth (s, "user", "secret");
  assert_true (pst_pop3_session_feed (s, (const guint8 *) input, strlen (input), NULL));
  assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_READY);
  pst_pop3_session_retr (s, 1);
  assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_WANT_READ);
  assert_true (pst_pop3_session_feed (s, (const guint8 *) "+OK\r\nfirst line\r\nsec", 20, NULL));
  assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_DATA);
  p = pst_pop3_session_take_data (s, &n);
  assert_int_equal (n, 15);
  assert_memory_equal (p, "first line\r\nsec", 15);
  assert_int_equal (pst_pop3_session_get_msgno (s), 1);
  assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_WANT_READ);
  /* The terminator split over three feeds. */
  assert_true (pst_pop3_session_feed (s, (const guint8 *) "ond\r\n", 5, NULL));
  assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_DATA);
  p = pst_pop3_session_take_data (s, &n);
  assert_memory_equal (p, "ond\r\n", 5);
  assert_true (pst_pop3_session_feed (s, (const guint8 *) ".", 1, NULL));
  assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_WANT_READ);
  assert_true (pst_pop3_session_feed (s, (const guint8 *) "\r", 1, NULL));
  assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_WANT_READ);
  assert_true (pst_pop3_session_feed (s, (const guint8 *) "\n", 1, NULL));
  assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_RETR_DONE);
  assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_READY);
}

/* ---- STLS attacks and refusals ---- */

static void
test_stls_not_offered (void **state)
{
  static const char *const server[] = {
    GREETING, "+OK\r\nCAPA\r\nUIDL\r\nUSER\r\n.\r\n", NULL,
  };
  const Scenario scn = {
    PST_POP3_TLS_STLS, "user", "secret", server, FALSE, NULL,
    "CAPA\r\n", "ERROR",
    "server does not offer STLS; refusing to send credentials in the clear",
  };

  check_scenario (&scn);
}

static void
test_stls_no_capa (void **state)
{
  static const char *const server[] = { GREETING, "-ERR Unknown command\r\n", NULL };
  const Scenario scn = {
    PST_POP3_TLS_STLS, "user", "secret", server, FALSE, NULL,
    "CAPA\r\n", "ERROR",
    "server does not offer STLS; refusing to send credentials in the clear",
  };

  check_scenario (&scn);
}

static void
test_stls_refused (void **state)
{
  static const char *const server[] = {
    GREETING, CAPA_PLAIN, "-ERR [SYS/TEMP] TLS support isn't enabled.\r\n", NULL,
  };
  const Scenario scn = {
    PST_POP3_TLS_STLS, "user", "secret", server, FALSE, NULL,
    "CAPA\r\nSTLS\r\n", "ERROR",
    "server refused STLS: [SYS/TEMP] TLS support isn't enabled.; refusing to continue without TLS",
  };

  check_scenario (&scn);
}

static void
test_stls_injection (void **state)
{
  static const char flight[] = STLS_GO "+OK\r\nCAPA\r\nUSER\r\n.\r\n";
  gsize lf = strlen (STLS_GO) - 1;

  for (gsize k = 0; k <= lf; k++)
    {
      g_autoptr (PstPop3Session) s = pst_pop3_session_new (PST_POP3_TLS_STLS);
      g_autoptr (GError) error = NULL;
      g_autoptr (GString) out = g_string_new (NULL);
      static const char start[] = GREETING CAPA_PLAIN;

      pst_pop3_session_set_auth (s, "user", "secret");
      assert_true (pst_pop3_session_feed (s, (const guint8 *) start, strlen (start), NULL));
      drain (s, out);
      assert_string_equal (out->str, "CAPA\r\nSTLS\r\n");
      if (k > 0)
        {
          assert_true (pst_pop3_session_feed (s, (const guint8 *) flight, k, NULL));
          assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_WANT_READ);
        }
      assert_false (pst_pop3_session_feed (s, (const guint8 *) flight + k, strlen (flight) - k,
                                           &error));
      g_assert_error (error, PST_ERROR, PST_ERROR_NETWORK);
      assert_string_equal (error->message,
                           "plaintext injected after the STLS reply (possible attack); aborting");
      assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_ERROR);
      drain (s, out);
      assert_string_equal (out->str, "CAPA\r\nSTLS\r\n");
    }
}

static void
test_stls_bytes_before_handshake (void **state)
{
  g_autoptr (PstPop3Session) s = pst_pop3_session_new (PST_POP3_TLS_STLS);
  static const char start[] = GREETING CAPA_PLAIN STLS_GO;
  gsize len;

  pst_pop3_session_set_auth (s, "user", "secret");
  assert_true (pst_pop3_session_feed (s, (const guint8 *) start, strlen (start), NULL));
  assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_WANT_TLS);
  pst_pop3_session_consume_output (s, 1000);
  assert_false (pst_pop3_session_feed (s, (const guint8 *) "+", 1, NULL));
  assert_non_null (strstr (pst_pop3_session_get_error (s)->message, "plaintext injected"));
  assert_null (pst_pop3_session_get_output (s, &len));
}

/* ---- login ---- */

static void
test_wrong_password (void **state)
{
  static const char *const server[] = {
    GREETING, CAPA_PLAIN, STLS_GO, CAPA_TLS, USER_OK,
    "-ERR [AUTH] Authentication failed.\r\n", NULL,
  };
  const Scenario scn = {
    PST_POP3_TLS_STLS, "user", "secret", server, FALSE, NULL,
    "CAPA\r\nSTLS\r\n[TLS]CAPA\r\nUSER user\r\nPASS secret\r\n", "TLS ERROR",
    "authentication failed: [AUTH] Authentication failed.",
  };

  check_scenario (&scn);
}

static void
test_user_refused_in_use (void **state)
{
  static const char *const server[] = {
    GREETING, CAPA_TLS, "-ERR [IN-USE] Mailbox is locked by another session.\r\n", NULL,
  };
  const Scenario scn = {
    PST_POP3_TLS_IMPLICIT, "user", "secret", server, FALSE, NULL,
    "CAPA\r\nUSER user\r\n", "ERROR",
    "authentication failed: [IN-USE] Mailbox is locked by another session.",
  };

  check_scenario (&scn);
}

static void
test_line_break_in_credentials (void **state)
{
  static const char *const server[] = { GREETING, CAPA_TLS, NULL };
  const Scenario scn = {
    PST_POP3_TLS_IMPLICIT, "user", "sec\r\nDELE 1", server, FALSE, NULL,
    "CAPA\r\n", "ERROR",
    "the POP3 user name or password contains a line break; refusing to send it",
  };

  check_scenario (&scn);
}

/* ---- UIDL ---- */

static void
test_no_uidl (void **state)
{
  static const char *const server[] = {
    GREETING, CAPA_TLS, USER_OK, PASS_OK, "-ERR Unknown command: UIDL\r\n", NULL,
  };
  const Scenario scn = {
    PST_POP3_TLS_IMPLICIT, "user", "secret", server, FALSE, NULL,
    "CAPA\r\n" C_LOGIN, "ERROR",
    "server does not support UIDL; refusing to fetch (Unknown command: UIDL)",
  };

  check_scenario (&scn);
}

static void
test_uidl_edges (void **state)
{
  g_autofree char *longest = g_strnfill (70, '~');
  g_autofree char *list = g_strdup_printf ("+OK 3 messages\r\n1 !\r\n2   spaced  \r\n"
                                           "4294967295 %s\r\n.\r\n", longest);
  g_autofree char *events = g_strdup_printf ("READY{1:! 2:spaced 4294967295:%s}", longest);
  const char *const server[] = { GREETING, CAPA_TLS, USER_OK, PASS_OK, list, NULL };
  const Scenario scn = {
    PST_POP3_TLS_IMPLICIT, "user", "secret", server, FALSE, NULL,
    "CAPA\r\n" C_LOGIN, events, NULL,
  };

  check_scenario (&scn);
}

static void
test_uidl_malformed (void **state)
{
  g_autofree char *a71 = g_strnfill (71, 'a');
  g_autofree char *too_long = g_strdup_printf ("1 %s", a71);
  const char *bad[] = {
    "0 abc", "1", "1 ", "x abc", "-1 abc", "4294967296 abc", "1 a\x01" "b", "1 a\x7f",
    "1 caf\xc3\xa9", " 1 abc", too_long,
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *list = g_strdup_printf ("+OK\r\n2 good\r\n%s\r\n.\r\n", bad[i]);
      const char *const server[] = { GREETING, CAPA_TLS, USER_OK, PASS_OK, list, NULL };
      const Scenario scn = {
        PST_POP3_TLS_IMPLICIT, "user", "secret", server, FALSE, NULL,
        "CAPA\r\n" C_LOGIN, "ERROR", "malformed UIDL line from server",
      };

      check_scenario (&scn);
    }
}

/* ---- command failures ---- */

static void
test_retr_refused (void **state)
{
  static const char *const server[] = {
    GREETING, CAPA_TLS, USER_OK, PASS_OK, UIDL_LIST, "-ERR There's no message 3.\r\n", NULL,
  };
  const Scenario scn = {
    PST_POP3_TLS_IMPLICIT, "user", "secret", server, FALSE, "R3",
    "CAPA\r\n" C_LOGIN "RETR 3\r\n", E_UIDLS " >RETR 3| ERROR",
    "server refused to send message 3: There's no message 3.",
  };

  check_scenario (&scn);
}

static void
test_dele_refused (void **state)
{
  static const char *const server[] = {
    GREETING, CAPA_TLS, USER_OK, PASS_OK, UIDL_LIST, "-ERR\r\n", NULL,
  };
  const Scenario scn = {
    PST_POP3_TLS_IMPLICIT, "user", "secret", server, FALSE, "D2",
    "CAPA\r\n" C_LOGIN "DELE 2\r\n", E_UIDLS " >DELE 2| ERROR",
    "server refused to delete message 2: -ERR without a reason",
  };

  check_scenario (&scn);
}

static void
test_quit_refused (void **state)
{
  static const char *const server[] = {
    GREETING, CAPA_TLS, USER_OK, PASS_OK, UIDL_LIST, "+OK\r\n",
    "-ERR Some deleted messages were not removed\r\n", NULL,
  };
  const Scenario scn = {
    PST_POP3_TLS_IMPLICIT, "user", "secret", server, FALSE, "D1|Q",
    "CAPA\r\n" C_LOGIN "DELE 1\r\nQUIT\r\n", E_UIDLS " >DELE 1| DELE1 READY >QUIT| ERROR",
    "server did not commit the deletions: Some deleted messages were not removed",
  };

  check_scenario (&scn);
}

/* ---- broken servers and closed connections ---- */

static void
test_greeting_refused (void **state)
{
  static const char *const server[] = { "-ERR [SYS/TEMP] Too many connections\r\n", NULL };
  const Scenario scn = {
    PST_POP3_TLS_STLS, "user", "secret", server, FALSE, NULL, "", "ERROR",
    "server refused the connection: [SYS/TEMP] Too many connections",
  };

  check_scenario (&scn);
}

static void
test_malformed_status (void **state)
{
  static const char *const bad[] = {
    "OK\r\n", "+OKAY\r\n", "-ERROR\r\n", "+ok\r\n", "\r\n", "* OK\r\n", NULL,
  };

  for (int i = 0; bad[i] != NULL; i++)
    {
      const char *const server[] = { bad[i], NULL };
      const Scenario scn = {
        PST_POP3_TLS_STLS, "user", "secret", server, FALSE, NULL, "", "ERROR",
        "malformed reply from server",
      };

      check_scenario (&scn);
    }
}

static void
test_eof_mid_body (void **state)
{
  static const char *const server[] = {
    GREETING, CAPA_TLS, USER_OK, PASS_OK, UIDL_LIST, "+OK\r\nSubject: x\r\n\r\npart", NULL,
  };
  const Scenario scn = {
    PST_POP3_TLS_IMPLICIT, "user", "secret", server, TRUE, "R1",
    "CAPA\r\n" C_LOGIN "RETR 1\r\n", E_UIDLS " >RETR 1| ERROR",
    "connection closed in the middle of message 1",
  };

  check_scenario (&scn);
}

static void
test_eof_mid_terminator (void **state)
{
  static const char *const server[] = {
    GREETING, CAPA_TLS, USER_OK, PASS_OK, UIDL_LIST, "+OK\r\nx\r\n.\r", NULL,
  };
  const Scenario scn = {
    PST_POP3_TLS_IMPLICIT, "user", "secret", server, TRUE, "R1",
    "CAPA\r\n" C_LOGIN "RETR 1\r\n", E_UIDLS " >RETR 1| ERROR",
    "connection closed in the middle of message 1",
  };

  check_scenario (&scn);
}

static void
test_eof_mid_list (void **state)
{
  static const char *const server[] = {
    GREETING, CAPA_TLS, USER_OK, PASS_OK, "+OK\r\n1 abc\r\n", NULL,
  };
  const Scenario scn = {
    PST_POP3_TLS_IMPLICIT, "user", "secret", server, TRUE, NULL,
    "CAPA\r\n" C_LOGIN, "ERROR", "connection closed in the middle of a reply",
  };

  check_scenario (&scn);
}

static void
test_eof_mid_status (void **state)
{
  static const char *const server[] = { "+OK Dove", NULL };
  const Scenario scn = {
    PST_POP3_TLS_STLS, "user", "secret", server, TRUE, NULL, "", "ERROR",
    "connection closed in the middle of a reply",
  };

  check_scenario (&scn);
}

static void
test_eof_after_quit (void **state)
{
  static const char *const server[] = {
    GREETING, CAPA_TLS, USER_OK, PASS_OK, UIDL_LIST, NULL,
  };
  const Scenario scn = {
    PST_POP3_TLS_IMPLICIT, "user", "secret", server, TRUE, "Q",
    "CAPA\r\n" C_LOGIN "QUIT\r\n", E_UIDLS " >QUIT| ERROR",
    "connection closed before the server answered QUIT; deletions may not have been committed",
  };

  check_scenario (&scn);
}

static void
test_eof_after_done (void **state)
{
  static const char *const server[] = {
    GREETING, CAPA_TLS, USER_OK, PASS_OK, UIDL_LIST, BYE, NULL,
  };
  const Scenario scn = {
    PST_POP3_TLS_IMPLICIT, "user", "secret", server, TRUE, "Q",
    "CAPA\r\n" C_LOGIN "QUIT\r\n", E_UIDLS " >QUIT| DONE", NULL,
  };
  g_autoptr (PstPop3Session) s = pst_pop3_session_new (PST_POP3_TLS_IMPLICIT);
  static const char all[] = GREETING CAPA_TLS USER_OK PASS_OK UIDL_LIST;

  check_scenario (&scn);

  pst_pop3_session_set_auth (s, "user", "secret");
  assert_true (pst_pop3_session_feed (s, (const guint8 *) all, strlen (all), NULL));
  assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_READY);
  pst_pop3_session_quit (s);
  assert_true (pst_pop3_session_feed (s, (const guint8 *) BYE, strlen (BYE), NULL));
  pst_pop3_session_feed_eof (s);
  assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_DONE);
  assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_DONE);
}

static void
test_unexpected_data (void **state)
{
  /* A reply nobody asked for, behind the UIDL list or later, when idle. */
  static const char start[] = GREETING CAPA_TLS USER_OK PASS_OK UIDL_LIST;
  static const char extra[] = "-ERR autologout\r\n";

  for (int later = 0; later < 2; later++)
    {
      g_autoptr (PstPop3Session) s = pst_pop3_session_new (PST_POP3_TLS_IMPLICIT);
      g_autofree char *all = g_strconcat (start, extra, NULL);

      pst_pop3_session_set_auth (s, "user", "secret");
      if (later)
        {
          assert_true (pst_pop3_session_feed (s, (const guint8 *) start, strlen (start), NULL));
          assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_READY);
          for (gsize i = 0; i + 1 < strlen (extra); i++)
            assert_true (pst_pop3_session_feed (s, (const guint8 *) extra + i, 1, NULL));
          assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_READY);
          assert_false (pst_pop3_session_feed (s, (const guint8 *) "\n", 1, NULL));
        }
      else
        assert_false (pst_pop3_session_feed (s, (const guint8 *) all, strlen (all), NULL));
      assert_int_equal (pst_pop3_session_next_event (s), PST_POP3_EVENT_ERROR);
      assert_string_equal (pst_pop3_session_get_error (s)->message,
                           "server sent an unexpected reply: -ERR autologout");
    }
}

static void
test_oversized_status (void **state)
{
  g_autofree char *fill = g_strnfill (5000, 'x');
  g_autofree char *greeting = g_strdup_printf ("+OK %s\r\n", fill);
  g_autoptr (PstPop3Session) s = pst_pop3_session_new (PST_POP3_TLS_STLS);
  g_autoptr (GError) error = NULL;

  assert_false (pst_pop3_session_feed (s, (const guint8 *) greeting, strlen (greeting), &error));
  assert_string_equal (error->message, "server sent a line longer than 4096 bytes; aborting");
}

static void
test_oversized_capa (void **state)
{
  g_autoptr (GString) capa = g_string_new ("+OK\r\n");
  g_autoptr (PstPop3Session) s = pst_pop3_session_new (PST_POP3_TLS_STLS);
  g_autoptr (PstPop3Session) s2 = pst_pop3_session_new (PST_POP3_TLS_STLS);
  g_autofree char *fill = g_strnfill (4097, 'C');
  g_autofree char *long_capa = g_strdup_printf ("+OK\r\nSTLS\r\n%s\r\n.\r\n", fill);
  g_autoptr (GError) error = NULL;

  for (int i = 0; i < 300; i++)
    g_string_append_printf (capa, "X-CAP-%d\r\n", i);
  g_string_append (capa, ".\r\n");
  assert_true (pst_pop3_session_feed (s, (const guint8 *) GREETING, strlen (GREETING), NULL));
  assert_false (pst_pop3_session_feed (s, (const guint8 *) capa->str, capa->len, &error));
  assert_string_equal (error->message, "server sent more than 256 capabilities; aborting");
  g_clear_error (&error);

  assert_true (pst_pop3_session_feed (s2, (const guint8 *) GREETING, strlen (GREETING), NULL));
  assert_false (pst_pop3_session_feed (s2, (const guint8 *) long_capa, strlen (long_capa),
                                       &error));
  assert_string_equal (error->message, "server sent a line longer than 4096 bytes; aborting");
}

static void
test_control_chars_sanitized (void **state)
{
  g_autoptr (PstPop3Session) s = pst_pop3_session_new (PST_POP3_TLS_STLS);
  static const char input[] = "-ERR \033]0;owned\a\0x\r\n";

  assert_false (pst_pop3_session_feed (s, (const guint8 *) input, sizeof input - 1, NULL));
  assert_string_equal (pst_pop3_session_get_error (s)->message,
                       "server refused the connection: ?]0;owned??x");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_fetch_lockstep),
    cmocka_unit_test (test_fetch_pipelined),
    cmocka_unit_test (test_implicit_tls),
    cmocka_unit_test (test_implicit_tls_no_capa),
    cmocka_unit_test (test_capabilities),
    cmocka_unit_test (test_sasl_login),
    cmocka_unit_test (test_resp_code_in_use),
    cmocka_unit_test (test_unstuffing),
    cmocka_unit_test (test_data_streamed),
    cmocka_unit_test (test_stls_not_offered),
    cmocka_unit_test (test_stls_no_capa),
    cmocka_unit_test (test_stls_refused),
    cmocka_unit_test (test_stls_injection),
    cmocka_unit_test (test_stls_bytes_before_handshake),
    cmocka_unit_test (test_wrong_password),
    cmocka_unit_test (test_user_refused_in_use),
    cmocka_unit_test (test_line_break_in_credentials),
    cmocka_unit_test (test_no_uidl),
    cmocka_unit_test (test_uidl_edges),
    cmocka_unit_test (test_uidl_malformed),
    cmocka_unit_test (test_retr_refused),
    cmocka_unit_test (test_dele_refused),
    cmocka_unit_test (test_quit_refused),
    cmocka_unit_test (test_greeting_refused),
    cmocka_unit_test (test_malformed_status),
    cmocka_unit_test (test_eof_mid_body),
    cmocka_unit_test (test_eof_mid_terminator),
    cmocka_unit_test (test_eof_mid_list),
    cmocka_unit_test (test_eof_mid_status),
    cmocka_unit_test (test_eof_after_quit),
    cmocka_unit_test (test_eof_after_done),
    cmocka_unit_test (test_unexpected_data),
    cmocka_unit_test (test_oversized_status),
    cmocka_unit_test (test_oversized_capa),
    cmocka_unit_test (test_control_chars_sanitized),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
