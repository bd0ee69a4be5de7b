/* Unit tests for core/net/smtp-server.c: whole sessions fed at once and one
 * byte at a time must give the same replies and the same messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "net/smtp-server.h"

#define PLAIN_OK "AGFsaWNlAHMzY3JldA=="   /* \0alice\0s3cret */

typedef struct {
  GString *messages;   /* "user|from|rcpt,rcpt|data" per message, then "\n" */
  guint logins;
  guint refuse;        /* reply 554 to this many messages first */
  GString *spilled;    /* what the spill hook took, of the message being read */
  guint pieces, firsts, spilled_messages, drops;
  guint fail_piece;    /* the spill hook fails on this piece (1-based; 0: never) */
} Hooks;

static gboolean
on_auth (gpointer data, const char *mechanism, const char *user, const char *password)
{
  Hooks *h = data;

  h->logins++;
  return strcmp (user, "alice") == 0 && strcmp (password, "s3cret") == 0;
}

static void
on_message (gpointer data, const char *user, const char *from, char **rcpts, GBytes *message,
            gboolean spilled, guint *code_out, char **text_out)
{
  Hooks *h = data;
  g_autofree char *joined = g_strjoinv (",", rcpts);
  gsize len = 0;
  const char *p = g_bytes_get_data (message, &len);

  g_string_append_printf (h->messages, "%s|%s|%s|", user, from, joined);
  assert_true (spilled == (h->spilled != NULL && h->spilled->len > 0));
  if (spilled)
    {
      /* What was spilled first, then the rest. */
      h->spilled_messages++;
      g_string_append_len (h->messages, h->spilled->str, h->spilled->len);
      g_string_truncate (h->spilled, 0);
    }
  g_string_append_len (h->messages, p, len);
  g_string_append_c (h->messages, '\n');
  if (h->refuse > 0)
    {
      h->refuse--;
      *code_out = 554;
      *text_out = g_strdup ("5.7.1 no key for: carol@example.org;\nnothing was sent");
      return;
    }
  *code_out = 250;
  *text_out = g_strdup ("2.0.0 queued as 7");
}

static char *
on_spill (gpointer data, const guint8 *piece, gsize len, gboolean first)
{
  Hooks *h = data;

  if (piece == NULL)
    {
      /* Not wanted after all: a message too large, or refused. */
      h->drops++;
      g_string_truncate (h->spilled, 0);
      return NULL;
    }
  assert_true (len >= PST_SMTP_SERVER_SPILL);
  h->pieces++;
  if (first)
    {
      h->firsts++;
      g_string_truncate (h->spilled, 0);
    }
  if (h->fail_piece == h->pieces)
    return g_strdup ("no room\nleft");
  g_string_append_len (h->spilled, (const char *) piece, len);
  return NULL;
}

/* Runs @input through a session, @step bytes at a time (0: all at once);
 * returns what the server wrote, and *@action_out the last action.  With
 * h->spilled, the session has a spill hook. */
static char *
run (const char *input, gsize step, Hooks *h, gsize max, PstSmtpServerAction *action_out)
{
  static const PstSmtpServerHooks hooks = { on_auth, on_message, NULL };
  static const PstSmtpServerHooks spilling = { on_auth, on_message, on_spill };
  g_autoptr (PstSmtpServer) s = pst_smtp_server_new ("localhost", TRUE,
                                                     h->spilled ? &spilling : &hooks, h);
  GString *out = g_string_new (NULL);
  gsize len = strlen (input), pos = 0;
  PstSmtpServerAction a = PST_SMTP_SERVER_CONTINUE;

  if (max)
    pst_smtp_server_set_max_message (s, max);
  do
    {
      gsize n = step ? MIN (step, len - pos) : len - pos, olen = 0;
      const guint8 *o;

      a = pst_smtp_server_feed (s, (const guint8 *) input + pos, n);
      pos += n;
      o = pst_smtp_server_get_output (s, &olen);
      g_string_append_len (out, (const char *) o, olen);
      pst_smtp_server_consume_output (s, olen);
      if (a == PST_SMTP_SERVER_START_TLS)
        {
          g_string_append (out, "<TLS>");
          pst_smtp_server_tls_started (s);
        }
    }
  while (pos < len && a != PST_SMTP_SERVER_CLOSE);
  if (action_out)
    *action_out = a;
  return g_string_free (out, FALSE);
}

/* The same replies and messages whole and byte by byte. */
static void
check_both (const char *input, const char *expect_out, const char *expect_messages)
{
  for (gsize step = 0; step <= 1; step++)
    {
      Hooks h = { .messages = g_string_new (NULL) };
      g_autofree char *out = run (input, step, &h, 0, NULL);

      assert_string_equal (out, expect_out);
      assert_string_equal (h.messages->str, expect_messages);
      g_string_free (h.messages, TRUE);
    }
}

static void
test_plain_session (void **state)
{
  check_both ("EHLO client\r\nAUTH PLAIN " PLAIN_OK "\r\nMAIL FROM:<alice@example.org> SIZE=99\r\n"
              "RCPT TO:<bob@example.org>\r\nRCPT TO:<carol@example.org>\r\nDATA\r\n"
              "Subject: hi\r\n\r\n..leading dot\r\nend\r\n.\r\nQUIT\r\n",
              "220 localhost ESMTP Postern bridge ready\r\n"
              "250-localhost\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
              "250-SIZE 67108864\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"
              "235 2.7.0 authentication succeeded\r\n250 2.1.0 sender ok\r\n"
              "250 2.1.5 recipient ok\r\n250 2.1.5 recipient ok\r\n"
              "354 end data with <CR><LF>.<CR><LF>\r\n250 2.0.0 queued as 7\r\n221 2.0.0 bye\r\n",
              "alice|alice@example.org|bob@example.org,carol@example.org|"
              "Subject: hi\r\n\r\n.leading dot\r\nend\r\n\n");
}

static void
test_login_and_lf (void **state)
{
  /* AUTH LOGIN in two steps; bare LF line ends; two transactions. */
  check_both ("EHLO c\nAUTH LOGIN\nYWxpY2U=\nczNjcmV0\nMAIL FROM:<>\nRCPT TO:<b@x>\nDATA\nx\n.\n"
              "MAIL FROM:<a@x>\nRCPT TO:<c@x>\nDATA\ny\n.\n",
              "220 localhost ESMTP Postern bridge ready\r\n"
              "250-localhost\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
              "250-SIZE 67108864\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"
              "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 2.7.0 authentication succeeded\r\n"
              "250 2.1.0 sender ok\r\n250 2.1.5 recipient ok\r\n"
              "354 end data with <CR><LF>.<CR><LF>\r\n250 2.0.0 queued as 7\r\n"
              "250 2.1.0 sender ok\r\n250 2.1.5 recipient ok\r\n"
              "354 end data with <CR><LF>.<CR><LF>\r\n250 2.0.0 queued as 7\r\n",
              "alice||b@x|x\r\n\nalice|a@x|c@x|y\r\n\n");
}

static void
test_auth_required_and_wrong (void **state)
{
  check_both ("EHLO c\r\nMAIL FROM:<a@x>\r\nAUTH PLAIN AGFsaWNlAHdyb25n\r\nAUTH PLAIN\r\n*\r\n"
              "AUTH CRAM-MD5\r\nAUTH PLAIN bm90IGJhc2U2NA\r\nAUTH PLAIN !!\r\n",
              "220 localhost ESMTP Postern bridge ready\r\n"
              "250-localhost\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
              "250-SIZE 67108864\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"
              "530 5.7.0 authentication required (AUTH PLAIN or LOGIN with the credentials of "
              "`postern bridge credentials`)\r\n"
              "535 5.7.8 authentication credentials invalid\r\n"
              "334 \r\n501 5.7.0 authentication cancelled\r\n"
              "504 5.5.4 mechanism not supported (PLAIN, LOGIN)\r\n"
              "501 5.5.2 a PLAIN response is authzid NUL user NUL password\r\n"
              "501 5.5.2 the response is not base64\r\n", "");
}

static void
test_three_failures_close (void **state)
{
  Hooks h = { .messages = g_string_new (NULL) };
  PstSmtpServerAction a;
  g_autofree char *out = run ("EHLO c\r\nAUTH PLAIN AGEAYg==\r\nAUTH PLAIN AGEAYg==\r\n"
                              "AUTH PLAIN AGEAYg==\r\nNOOP\r\n", 0, &h, 0, &a);

  assert_int_equal (a, PST_SMTP_SERVER_CLOSE);
  assert_int_equal (h.logins, 3);
  assert_non_null (strstr (out, "421 4.7.0 too many failed logins"));
  assert_null (strstr (out, "250 2.0.0 ok"));   /* the NOOP after it is not answered */
  g_string_free (h.messages, TRUE);
}

static void
test_refusal_one_line (void **state)
{
  Hooks h = { .messages = g_string_new (NULL), .refuse = 1 };
  g_autofree char *out = run ("EHLO c\r\nAUTH PLAIN " PLAIN_OK "\r\nMAIL FROM:<a@x>\r\n"
                              "RCPT TO:<carol@example.org>\r\nDATA\r\nx\r\n.\r\n", 0, &h, 0, NULL);

  assert_non_null (strstr (out, "\r\n554 5.7.1 no key for: carol@example.org; nothing was sent\r\n"));
  g_string_free (h.messages, TRUE);
}

static void
test_starttls_drops_injection (void **state)
{
  /* What follows STARTTLS in the same packet is dropped; after the
   * handshake the session starts again: EHLO first, STARTTLS no longer
   * offered, the login before it forgotten. */
  static const char ehlo[] = "250-localhost\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                             "250-ENHANCEDSTATUSCODES\r\n250-SIZE 67108864\r\n";
  Hooks h = { .messages = g_string_new (NULL) };
  g_autofree char *out = run ("EHLO c\r\nAUTH PLAIN " PLAIN_OK "\r\nSTARTTLS\r\nAUTH PLAIN "
                              PLAIN_OK "\r\n", 0, &h, 0, NULL);
  g_autofree char *expect = g_strconcat ("220 localhost ESMTP Postern bridge ready\r\n", ehlo,
                                         "250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"
                                         "235 2.7.0 authentication succeeded\r\n"
                                         "220 2.0.0 ready to start TLS\r\n<TLS>", NULL);
  g_autofree char *expect2 = g_strconcat ("220 localhost ESMTP Postern bridge ready\r\n"
                                          "220 2.0.0 ready to start TLS\r\n<TLS>"
                                          "503 5.5.1 EHLO first\r\n", ehlo,
                                          "250 AUTH PLAIN LOGIN\r\n530 5.7.0 authentication "
                                          "required (AUTH PLAIN or LOGIN with the credentials of "
                                          "`postern bridge credentials`)\r\n", NULL);

  assert_string_equal (out, expect);
  assert_int_equal (h.logins, 1);
  g_string_free (h.messages, TRUE);
  /* Byte by byte, this driver hands what follows over after the handshake,
   * as if sent over TLS. */
  h.messages = g_string_new (NULL);
  g_free (out);
  out = run ("STARTTLS\r\nMAIL FROM:<a@x>\r\nEHLO c\r\nMAIL FROM:<a@x>\r\n", 1, &h, 0, NULL);
  assert_string_equal (out, expect2);
  g_string_free (h.messages, TRUE);
}

static void
test_size_cap (void **state)
{
  Hooks h = { .messages = g_string_new (NULL) };
  g_autofree char *out = run ("EHLO c\r\nAUTH PLAIN " PLAIN_OK "\r\nMAIL FROM:<a@x> SIZE=200\r\n"
                              "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n"
                              "0123456789012345678901234567890123456789\r\n"
                              "0123456789012345678901234567890123456789\r\n.\r\nNOOP\r\n",
                              0, &h, 64, NULL);

  assert_non_null (strstr (out, "552 5.3.4 the message is larger than 64 bytes\r\n"));
  assert_non_null (strstr (out, "552 5.3.4 the message is larger than 64 bytes; nothing was sent"));
  assert_non_null (strstr (out, "250 2.0.0 ok\r\n"));
  assert_string_equal (h.messages->str, "");
  g_string_free (h.messages, TRUE);
}

/* With a spill hook, a large message goes to it in pieces as it comes and
 * the message hook gets the rest: together the message, dot-unstuffed.  A
 * small one after it is held whole; a piece the hook cannot keep refuses
 * its message (451, one line), and the session goes on. */
static void
test_spill (void **state)
{
  g_autoptr (GString) big = g_string_new (NULL);
  g_autoptr (GString) input = g_string_new (NULL);
  g_autoptr (GString) want = g_string_new (NULL);

  for (guint i = 0; big->len < 5 * PST_SMTP_SERVER_SPILL / 2; i++)
    {
      g_string_append_printf (big, "%s%06u ", i % 7 == 0 ? "." : "", i);
      for (guint k = 0; k < 99; k++)
        g_string_append (big, "0123456789");
      g_string_append (big, "\r\n");
    }
  g_string_append (input, "EHLO c\r\nAUTH PLAIN " PLAIN_OK "\r\n");
  g_string_append_printf (input, "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n%s.\r\n", big->str);
  g_string_append (input, "MAIL FROM:<a@x>\r\nRCPT TO:<c@x>\r\nDATA\r\nsmall\r\n.\r\n");
  g_string_append_printf (input, "MAIL FROM:<a@x>\r\nRCPT TO:<d@x>\r\nDATA\r\n%s.\r\nNOOP\r\n",
                          big->str);
  /* Past the cap once spilled: 552, and what was taken let go. */
  g_string_append_printf (input, "MAIL FROM:<a@x>\r\nRCPT TO:<e@x>\r\nDATA\r\n%s%s.\r\nNOOP\r\n",
                          big->str, big->str);
  /* The first message as the hooks see it: dot-unstuffed (a seventh of
   * the lines are stuffed on the wire). */
  for (const char *p = big->str; *p;)
    {
      const char *eol = strstr (p, "\r\n") + 2;

      g_string_append_len (want, p[0] == '.' ? p + 1 : p, eol - p - (p[0] == '.'));
      p = eol;
    }
  for (gsize step = 0; step <= 4096; step += 4096)
    {
      Hooks h = { .messages = g_string_new (NULL), .spilled = g_string_new (NULL), .fail_piece = 3 };
      g_autofree char *out = run (input->str, step, &h, 4u * 1024 * 1024, NULL);
      g_autofree char *first = g_strconcat ("alice|a@x|b@x|", want->str, "\n", NULL);

      assert_non_null (strstr (out, "250-SIZE 4194304\r\n"));
      assert_int_equal (h.spilled_messages, 1);
      assert_int_equal (h.firsts, 3);
      assert_int_equal (h.pieces, 6);
      assert_int_equal (h.drops, 2);
      assert_non_null (strstr (out, "552 5.3.4 the message is larger than 4194304 bytes; nothing was "
                                    "sent\r\n250 2.0.0 ok\r\n"));
      assert_true (g_str_has_prefix (h.messages->str, first));
      assert_string_equal (h.messages->str + strlen (first), "alice|a@x|c@x|small\r\n\n");
      assert_non_null (strstr (out, "250 2.0.0 queued as 7\r\n250 2.1.0 sender ok\r\n"));
      assert_non_null (strstr (out, "\r\n451 4.3.0 no room left\r\n250 2.0.0 ok\r\n"));
      g_string_free (h.messages, TRUE);
      g_string_free (h.spilled, TRUE);
    }
}

static void
test_sequence_errors (void **state)
{
  check_both ("MAIL FROM:<a@x>\r\nHELO\r\nHELO c\r\nRCPT TO:<b@x>\r\nDATA\r\nRSET\r\nVRFY x\r\n"
              "BOGUS\r\nAUTH PLAIN " PLAIN_OK "\r\nMAIL FROM:<a@x> FOO=1\r\nMAIL FROM:a@x\r\n"
              "MAIL FROM:<a@x>\r\nDATA\r\nRCPT TO:<nobody>\r\nQUIT\r\n",
              "220 localhost ESMTP Postern bridge ready\r\n"
              "503 5.5.1 EHLO first\r\n501 5.5.4 HELO needs a domain or address\r\n"
              "250 localhost\r\n503 5.5.1 MAIL first\r\n503 5.5.1 MAIL and RCPT first\r\n"
              "250 2.0.0 reset\r\n252 2.5.0 cannot verify; send and see\r\n"
              "500 5.5.1 unknown command\r\n235 2.7.0 authentication succeeded\r\n"
              "555 5.5.4 unknown MAIL parameter\r\n501 5.5.4 syntax: MAIL FROM:<address>\r\n"
              "250 2.1.0 sender ok\r\n554 5.5.1 no valid recipients\r\n"
              "501 5.1.3 syntax: RCPT TO:<address>\r\n221 2.0.0 bye\r\n", "");
}

static void
test_line_too_long (void **state)
{
  Hooks h = { .messages = g_string_new (NULL) };
  g_autofree char *line = g_strnfill (5000, 'A');
  g_autofree char *input = g_strconcat ("EHLO c\r\n", line, "\r\nNOOP\r\n", NULL);
  PstSmtpServerAction a;
  g_autofree char *out = run (input, 0, &h, 0, &a);

  assert_int_equal (a, PST_SMTP_SERVER_CLOSE);
  assert_true (g_str_has_suffix (out, "500 5.5.2 line too long; closing\r\n"));
  g_string_free (h.messages, TRUE);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_plain_session),
    cmocka_unit_test (test_login_and_lf),
    cmocka_unit_test (test_auth_required_and_wrong),
    cmocka_unit_test (test_three_failures_close),
    cmocka_unit_test (test_refusal_one_line),
    cmocka_unit_test (test_starttls_drops_injection),
    cmocka_unit_test (test_size_cap),
    cmocka_unit_test (test_spill),
    cmocka_unit_test (test_sequence_errors),
    cmocka_unit_test (test_line_too_long),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
