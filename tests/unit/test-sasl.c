/* test-sasl — the client mechanisms of net/sasl.c against libgsasl's own
 * server side, in process: SCRAM-SHA-256 with and without channel
 * binding, PLAIN, LOGIN, EXTERNAL; wrong passwords and a binding that does
 * not match; the choice of mechanism; the XOAUTH2 and OAUTHBEARER
 * messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include <gsasl.h>

#include "net/sasl.h"

static const char *server_password = "secret";

static int
server_cb (Gsasl *ctx, Gsasl_session *s, Gsasl_property prop)
{
  if (prop == GSASL_PASSWORD)
    {
      gsasl_property_set (s, prop, server_password);
      return GSASL_OK;
    }
  if (prop == GSASL_VALIDATE_EXTERNAL)
    return GSASL_OK;
  if (prop == GSASL_VALIDATE_SIMPLE)
    {
      const char *pw = gsasl_property_fast (s, GSASL_PASSWORD);
      return pw && strcmp (pw, server_password) == 0 ? GSASL_OK : GSASL_AUTHENTICATION_ERROR;
    }
  return GSASL_NO_CALLBACK;
}

/* Runs @mech between PstSasl (client) and libgsasl (server) the way the
 * engines do.  Returns whether both sides finished with success. */
static gboolean
exchange (const char *mech, const PstSaslCredentials *creds, GBytes *server_cb_data,
          char **error_out)
{
  Gsasl *ctx = NULL;
  Gsasl_session *server = NULL;
  g_autoptr (PstSasl) client = NULL;
  g_autoptr (GError) error = NULL;
  char *to_server = NULL, *to_client = NULL;
  gboolean ok = FALSE;
  int rc = GSASL_NEEDS_MORE;
  PstSaslStep step = PST_SASL_CONTINUE;

  *error_out = NULL;
  assert_int_equal (gsasl_init (&ctx), GSASL_OK);
  gsasl_callback_set (ctx, server_cb);
  assert_int_equal (gsasl_server_start (ctx, mech, &server), GSASL_OK);
  if (server_cb_data != NULL)
    {
      g_autofree char *b64 = g_base64_encode (g_bytes_get_data (server_cb_data, NULL),
                                             g_bytes_get_size (server_cb_data));
      gsasl_property_set (server, GSASL_CB_TLS_EXPORTER, b64);
    }
  client = pst_sasl_new (mech, creds, &error);
  assert_non_null (client);

  if (pst_sasl_client_first (client))
    step = pst_sasl_step (client, NULL, &to_server, &error);
  else
    to_server = g_strdup ("");
  for (guint round = 0; round < 10 && step != PST_SASL_ERROR; round++)
    {
      g_free (to_client);
      to_client = NULL;
      rc = gsasl_step64 (server, to_server, &to_client);
      g_free (to_server);
      to_server = NULL;
      if (rc == GSASL_OK && pst_sasl_complete (client))
        {
          ok = TRUE;
          break;
        }
      if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE)
        {
          *error_out = g_strdup (gsasl_strerror (rc));
          break;
        }
      /* The server's message (its success data as a challenge, too). */
      step = pst_sasl_step (client, to_client, &to_server, &error);
      if (rc == GSASL_OK)
        {
          ok = step == PST_SASL_DONE && pst_sasl_complete (client);
          break;
        }
    }
  if (step == PST_SASL_ERROR)
    *error_out = g_strdup (error->message);
  g_free (to_server);
  gsasl_free (to_client);
  gsasl_finish (server);
  gsasl_done (ctx);
  return ok;
}

static PstSaslCredentials
password_creds (const char *password)
{
  PstSaslCredentials c = { .user = (char *) "alice@postern.test", .password = (char *) password };
  return c;
}

static void
test_scram (void **state)
{
  PstSaslCredentials c = password_creds ("secret");
  g_autofree char *error = NULL;

  assert_true (exchange ("SCRAM-SHA-256", &c, NULL, &error));
  assert_null (error);
}

static void
test_scram_wrong_password (void **state)
{
  PstSaslCredentials c = password_creds ("not the secret");
  g_autofree char *error = NULL;

  assert_false (exchange ("SCRAM-SHA-256", &c, NULL, &error));
  assert_non_null (error);
}

static void
test_scram_plus (void **state)
{
  guint8 cb[32];
  g_autoptr (GBytes) data = NULL;
  PstSaslCredentials c = password_creds ("secret");
  g_autofree char *error = NULL;

  memset (cb, 0x5a, sizeof cb);
  data = g_bytes_new (cb, sizeof cb);
  c.cb_type = (char *) "tls-exporter";
  c.cb_data = data;
  assert_true (exchange ("SCRAM-SHA-256-PLUS", &c, data, &error));
  assert_null (error);
}

/* A man in the middle terminates TLS twice: the bindings differ. */
static void
test_scram_plus_other_binding (void **state)
{
  guint8 a[32], b[32];
  g_autoptr (GBytes) mine = NULL, theirs = NULL;
  PstSaslCredentials c = password_creds ("secret");
  g_autofree char *error = NULL;

  memset (a, 0x5a, sizeof a);
  memset (b, 0xa5, sizeof b);
  mine = g_bytes_new (a, sizeof a);
  theirs = g_bytes_new (b, sizeof b);
  c.cb_type = (char *) "tls-exporter";
  c.cb_data = mine;
  assert_false (exchange ("SCRAM-SHA-256-PLUS", &c, theirs, &error));
  assert_non_null (error);
}

static void
test_plain_login_external (void **state)
{
  PstSaslCredentials c = password_creds ("secret");
  PstSaslCredentials cert = { .user = (char *) "alice@postern.test", .client_cert = TRUE };
  g_autofree char *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL;

  assert_true (exchange ("PLAIN", &c, NULL, &e1));
  assert_true (exchange ("LOGIN", &c, NULL, &e2));
  assert_true (exchange ("EXTERNAL", &cert, NULL, &e3));
  c.password = (char *) "wrong";
  assert_false (exchange ("PLAIN", &c, NULL, &e4));
}

static void
test_choose (void **state)
{
  guint8 cb[32] = { 0 };
  g_autoptr (GBytes) data = g_bytes_new (cb, sizeof cb);
  PstSaslCredentials pw = password_creds ("secret");
  PstSaslCredentials pw_cb = pw;
  PstSaslCredentials token = { .user = (char *) "alice@postern.test", .token = (char *) "tok" };
  PstSaslCredentials cert = { .user = (char *) "a", .password = (char *) "p", .client_cert = TRUE };
  g_autoptr (GError) error = NULL;

  pw_cb.cb_type = (char *) "tls-exporter";
  pw_cb.cb_data = data;
  assert_string_equal (pst_sasl_choose ("PLAIN LOGIN SCRAM-SHA-256", &pw, NULL), "SCRAM-SHA-256");
  assert_string_equal (pst_sasl_choose ("plain scram-sha-256-plus scram-sha-256", &pw, NULL),
                       "SCRAM-SHA-256");
  assert_string_equal (pst_sasl_choose ("PLAIN SCRAM-SHA-256-PLUS SCRAM-SHA-256", &pw_cb, NULL),
                       "SCRAM-SHA-256-PLUS");
  assert_string_equal (pst_sasl_choose ("LOGIN PLAIN", &pw, NULL), "PLAIN");
  assert_string_equal (pst_sasl_choose ("PLAIN XOAUTH2 OAUTHBEARER", &token, NULL), "OAUTHBEARER");
  assert_string_equal (pst_sasl_choose ("PLAIN XOAUTH2", &token, NULL), "XOAUTH2");
  assert_string_equal (pst_sasl_choose ("PLAIN EXTERNAL", &cert, NULL), "EXTERNAL");
  /* Never the weak ones, never a mechanism the credentials cannot serve. */
  assert_null (pst_sasl_choose ("CRAM-MD5 DIGEST-MD5 NTLM ANONYMOUS", &pw, &error));
  assert_non_null (strstr (error->message, "CRAM-MD5 DIGEST-MD5 NTLM ANONYMOUS"));
  g_clear_error (&error);
  assert_null (pst_sasl_choose ("PLAIN LOGIN", &token, &error));
  g_clear_error (&error);
  assert_null (pst_sasl_choose ("EXTERNAL", &pw, &error));
  g_clear_error (&error);
  assert_null (pst_sasl_choose ("", &pw, &error));
}

static char *
decode (const char *b64)
{
  gsize n = 0;
  g_autofree guchar *raw = g_base64_decode (b64, &n);
  return g_strndup ((const char *) raw, n);
}

static void
test_oauth_messages (void **state)
{
  PstSaslCredentials token = { .user = (char *) "a,b=c@x", .token = (char *) "ya29.tok",
                               .host = (char *) "mail.example", .port = 587 };
  g_autoptr (PstSasl) x = pst_sasl_new ("XOAUTH2", &token, NULL);
  g_autoptr (PstSasl) o = pst_sasl_new ("OAUTHBEARER", &token, NULL);
  g_autofree char *r1 = NULL, *r2 = NULL, *r3 = NULL, *t1 = NULL, *t2 = NULL;

  assert_true (pst_sasl_client_first (x));
  assert_int_equal (pst_sasl_step (x, NULL, &r1, NULL), PST_SASL_DONE);
  t1 = decode (r1);
  assert_string_equal (t1, "user=a,b=c@x\001auth=Bearer ya29.tok\001\001");
  assert_int_equal (pst_sasl_step (o, NULL, &r2, NULL), PST_SASL_DONE);
  t2 = decode (r2);
  assert_string_equal (t2, "n,a=a=2Cb=3Dc@x,\001host=mail.example\001port=587\001"
                           "auth=Bearer ya29.tok\001\001");
  /* The server's error challenge is answered with %x01, and the exchange
   * is not complete. */
  assert_int_equal (pst_sasl_step (o, "eyJzdGF0dXMiOiI0MDEifQ==", &r3, NULL), PST_SASL_DONE);
  assert_string_equal (r3, "AQ==");
  assert_false (pst_sasl_complete (o));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_scram),
    cmocka_unit_test (test_scram_wrong_password),
    cmocka_unit_test (test_scram_plus),
    cmocka_unit_test (test_scram_plus_other_binding),
    cmocka_unit_test (test_plain_login_external),
    cmocka_unit_test (test_choose),
    cmocka_unit_test (test_oauth_messages),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
