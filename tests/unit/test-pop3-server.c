/* Unit tests for core/net/pop3-server.c: sessions fed whole and one byte at
 * a time give the same responses; messages go out dot-stuffed with CRLF;
 * deletions happen at QUIT only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "net/pop3-server.h"

static const char *const maildrop[] = {
  "Subject: one\r\n\r\n.dot\r\nbody\r\n",
  "Subject: two\n\nline 1\nline 2\n.\nline 4",
  NULL,   /* cannot be read */
};

typedef struct {
  GString *deleted;
  gboolean fail_commit;
} Hooks;

static PstPop3Login
on_auth (gpointer data, PstPop3Server *s, const char *user, const char *password)
{
  if (strcmp (user, "busy") == 0)
    return PST_POP3_LOGIN_IN_USE;
  if (strcmp (user, "bob") != 0 || strcmp (password, "pass word") != 0)
    return PST_POP3_LOGIN_REFUSED;
  pst_pop3_server_add_message (s, "u1", 30);
  pst_pop3_server_add_message (s, "u2", 40);
  pst_pop3_server_add_message (s, "u3", 50);
  return PST_POP3_LOGIN_OK;
}

static GBytes *
on_retrieve (gpointer data, guint index, GError **error)
{
  if (maildrop[index] == NULL)
    {
      g_set_error_literal (error, g_quark_from_static_string ("test"), 1,
                           "message 3 is quarantined");
      return NULL;
    }
  return g_bytes_new_static (maildrop[index], strlen (maildrop[index]));
}

static gboolean
on_commit (gpointer data, const guint *indices, guint n, GError **error)
{
  Hooks *h = data;

  for (guint i = 0; i < n; i++)
    g_string_append_printf (h->deleted, "%u ", indices[i]);
  if (h->fail_commit)
    {
      g_set_error_literal (error, g_quark_from_static_string ("test"), 1, "the store is full");
      return FALSE;
    }
  return TRUE;
}

static char *
run (const char *input, gsize step, Hooks *h, PstPop3ServerAction *action_out)
{
  static const PstPop3ServerHooks hooks = { on_auth, on_retrieve, on_commit };
  g_autoptr (PstPop3Server) s = pst_pop3_server_new (TRUE, &hooks, h);
  GString *out = g_string_new (NULL);
  gsize len = strlen (input), pos = 0;
  PstPop3ServerAction a = PST_POP3_SERVER_CONTINUE;

  do
    {
      gsize n = step ? MIN (step, len - pos) : len - pos, olen = 0;
      const guint8 *o;

      a = pst_pop3_server_feed (s, (const guint8 *) input + pos, n);
      pos += n;
      o = pst_pop3_server_get_output (s, &olen);
      g_string_append_len (out, (const char *) o, olen);
      pst_pop3_server_consume_output (s, olen);
      if (a == PST_POP3_SERVER_START_TLS)
        {
          g_string_append (out, "<TLS>");
          pst_pop3_server_tls_started (s);
        }
    }
  while (pos < len && a != PST_POP3_SERVER_CLOSE);
  if (action_out)
    *action_out = a;
  return g_string_free (out, FALSE);
}

static void
check_both (const char *input, const char *expect_out, const char *expect_deleted)
{
  for (gsize step = 0; step <= 1; step++)
    {
      Hooks h = { g_string_new (NULL), FALSE };
      g_autofree char *out = run (input, step, &h, NULL);

      assert_string_equal (out, expect_out);
      assert_string_equal (h.deleted->str, expect_deleted);
      g_string_free (h.deleted, TRUE);
    }
}

static void
test_session (void **state)
{
  check_both ("CAPA\r\nUSER bob\r\nPASS pass word\r\nSTAT\r\nLIST\r\nUIDL\r\nUIDL 2\r\n"
              "RETR 1\r\nRETR 2\r\nTOP 2 1\r\nRETR 3\r\nDELE 1\r\nDELE 1\r\nLIST 1\r\nSTAT\r\n"
              "QUIT\r\n",
              "+OK Postern bridge ready\r\n"
              "+OK capabilities follow\r\nTOP\r\nUIDL\r\nUSER\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
              "PIPELINING\r\nSTLS\r\nIMPLEMENTATION Postern-bridge\r\n.\r\n"
              "+OK\r\n+OK 3 messages (120 octets)\r\n+OK 3 120\r\n"
              "+OK\r\n1 30\r\n2 40\r\n3 50\r\n.\r\n"
              "+OK\r\n1 u1\r\n2 u2\r\n3 u3\r\n.\r\n+OK 2 u2\r\n"
              "+OK 28 octets\r\nSubject: one\r\n\r\n..dot\r\nbody\r\n.\r\n"
              "+OK 36 octets\r\nSubject: two\r\n\r\nline 1\r\nline 2\r\n..\r\nline 4\r\n.\r\n"
              "+OK 36 octets\r\nSubject: two\r\n\r\nline 1\r\n.\r\n"
              "-ERR message 3 is quarantined\r\n"
              "+OK message 1 deleted\r\n-ERR message 1 is deleted\r\n-ERR message 1 is deleted\r\n"
              "+OK 2 90\r\n+OK bye\r\n",
              "0 ");
}

static void
test_rset_and_no_quit (void **state)
{
  /* RSET undeletes; a connection that ends without QUIT deletes nothing. */
  check_both ("USER bob\r\nPASS pass word\r\nDELE 2\r\nRSET\r\nDELE 3\r\nQUIT\r\n",
              "+OK Postern bridge ready\r\n+OK\r\n+OK 3 messages (120 octets)\r\n"
              "+OK message 2 deleted\r\n+OK\r\n+OK message 3 deleted\r\n+OK bye\r\n", "2 ");
  check_both ("USER bob\r\nPASS pass word\r\nDELE 2\r\n",
              "+OK Postern bridge ready\r\n+OK\r\n+OK 3 messages (120 octets)\r\n"
              "+OK message 2 deleted\r\n", "");
}

static void
test_auth_failures (void **state)
{
  Hooks h = { g_string_new (NULL), FALSE };
  PstPop3ServerAction a;
  g_autofree char *out = run ("STAT\r\nPASS x\r\nUSER bob\r\nPASS wrong\r\nUSER bob\r\nPASS x\r\n"
                              "USER bob\r\nPASS y\r\nUSER bob\r\n", 0, &h, &a);

  assert_string_equal (out, "+OK Postern bridge ready\r\n"
                            "-ERR not allowed before login (USER, PASS, STLS, CAPA, QUIT)\r\n"
                            "-ERR USER first\r\n+OK\r\n-ERR [AUTH] invalid user name or password\r\n"
                            "+OK\r\n-ERR [AUTH] invalid user name or password\r\n"
                            "+OK\r\n-ERR [AUTH] too many failed logins; closing\r\n");
  assert_int_equal (a, PST_POP3_SERVER_CLOSE);
  g_string_free (h.deleted, TRUE);
}

static void
test_in_use (void **state)
{
  /* IN-USE is no failed login: three of them do not close the session. */
  check_both ("USER busy\r\nPASS x\r\nUSER busy\r\nPASS x\r\nUSER busy\r\nPASS x\r\n"
              "USER bob\r\nPASS pass word\r\n",
              "+OK Postern bridge ready\r\n"
              "+OK\r\n-ERR [IN-USE] the maildrop is in use by another session; try again later\r\n"
              "+OK\r\n-ERR [IN-USE] the maildrop is in use by another session; try again later\r\n"
              "+OK\r\n-ERR [IN-USE] the maildrop is in use by another session; try again later\r\n"
              "+OK\r\n+OK 3 messages (120 octets)\r\n", "");
}

static void
test_stls_drops_injection (void **state)
{
  Hooks h = { g_string_new (NULL), FALSE };
  /* Sent in one packet with STLS: dropped.  (Byte by byte, this driver
   * would hand them over after the handshake, as sent over TLS.) */
  g_autofree char *out = run ("STLS\r\nUSER bob\r\nPASS pass word\r\n", 0, &h, NULL);

  assert_string_equal (out, "+OK Postern bridge ready\r\n+OK begin TLS negotiation\r\n<TLS>");
  g_free (out);
  out = run ("STLS\r\nCAPA\r\nSTLS\r\n", 1, &h, NULL);
  assert_string_equal (out,
              "+OK Postern bridge ready\r\n+OK begin TLS negotiation\r\n<TLS>"
              "+OK capabilities follow\r\nTOP\r\nUIDL\r\nUSER\r\nRESP-CODES\r\n"
              "AUTH-RESP-CODE\r\nPIPELINING\r\nIMPLEMENTATION Postern-bridge\r\n.\r\n"
              "-ERR STLS not offered\r\n");
  g_string_free (h.deleted, TRUE);
}

static void
test_commit_failure (void **state)
{
  Hooks h = { g_string_new (NULL), TRUE };
  g_autofree char *out = run ("USER bob\r\nPASS pass word\r\nDELE 1\r\nDELE 3\r\nQUIT\r\n", 0, &h,
                              NULL);

  assert_true (g_str_has_suffix (out, "-ERR [SYS/TEMP] the store is full\r\n"));
  assert_string_equal (h.deleted->str, "0 2 ");
  g_string_free (h.deleted, TRUE);
}

static void
test_bad_numbers (void **state)
{
  check_both ("USER bob\r\nPASS pass word\r\nRETR\r\nRETR 0\r\nRETR 4\r\nRETR x\r\nTOP 1\r\n"
              "TOP 1 x\r\nNOOP\r\nFOO\r\n",
              "+OK Postern bridge ready\r\n+OK\r\n+OK 3 messages (120 octets)\r\n"
              "-ERR a message number is needed\r\n-ERR a message number is needed\r\n"
              "-ERR no message 4\r\n-ERR a message number is needed\r\n"
              "-ERR syntax: TOP MSG LINES\r\n-ERR syntax: TOP MSG LINES\r\n+OK\r\n"
              "-ERR unknown command\r\n", "");
}

/* A maildrop of one message of 600 KiB. */
static PstPop3Login
big_auth (gpointer data, PstPop3Server *s, const char *user, const char *password)
{
  pst_pop3_server_add_message (s, "big", 600 * 1024);
  return PST_POP3_LOGIN_OK;
}

static GBytes *
big_retrieve (gpointer data, guint index, GError **error)
{
  char *text = g_strnfill (600 * 1024, 'x');

  memcpy (text, "Subject: big\r\n\r\n", 16);
  return g_bytes_new_take (text, 600 * 1024);
}

static void
test_output_bounded (void **state)
{
  static const PstPop3ServerHooks hooks = { big_auth, big_retrieve, on_commit };
  Hooks h = { g_string_new (NULL), FALSE };
  g_autoptr (PstPop3Server) s = pst_pop3_server_new (FALSE, &hooks, &h);
  static const char input[] = "USER a\r\nPASS b\r\nRETR 1\r\nRETR 1\r\nRETR 1\r\nQUIT\r\n";
  gsize len = 0;
  guint rounds = 0, answers = 0;

  /* Pipelined: two answers fit before the output passes 1 MiB, then the
   * session waits for the driver to write them. */
  PstPop3ServerAction a = pst_pop3_server_feed (s, (const guint8 *) input, sizeof input - 1);

  assert_int_equal (a, PST_POP3_SERVER_CONTINUE);
  for (;;)
    {
      const char *out = (const char *) pst_pop3_server_get_output (s, &len);

      assert_true (len <= PST_POP3_SERVER_OUTPUT_HIGH + 700 * 1024);
      for (const char *p = out; p && (p = g_strstr_len (p, out + len - p, "+OK 614400 octets")); p++)
        answers++;
      pst_pop3_server_consume_output (s, len);
      if (a == PST_POP3_SERVER_CLOSE || !pst_pop3_server_stalled (s))
        break;
      rounds++;
      a = pst_pop3_server_feed (s, NULL, 0);
    }
  assert_int_equal (a, PST_POP3_SERVER_CLOSE);
  assert_int_equal (rounds, 1);
  assert_int_equal (answers, 3);
  g_string_free (h.deleted, TRUE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_session),
    cmocka_unit_test (test_rset_and_no_quit),
    cmocka_unit_test (test_auth_failures),
    cmocka_unit_test (test_in_use),
    cmocka_unit_test (test_output_bounded),
    cmocka_unit_test (test_stls_drops_injection),
    cmocka_unit_test (test_commit_failure),
    cmocka_unit_test (test_bad_numbers),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
