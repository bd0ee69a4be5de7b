/* Unit tests for the configuration: URLs, validation, load/save, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#include "config/config.h"
#include "config/paths.h"
#include "util/error.h"

static PstAccount *
sample (void)
{
  PstAccount *a = g_new0 (PstAccount, 1);

  a->name = g_strdup ("work");
  a->address = g_strdup ("me@example.org");
  a->smtp = g_strdup ("smtps://smtp.example.org");
  a->pop3 = g_strdup ("pop3://pop.example.org:1110");
  a->user = g_strdup ("me");
  a->password_command = g_strdup ("printf 'sec ret\\nsecond line\\n'");
  a->scheme = g_strdup ("pgp");
  return a;
}

static void
test_urls (void **state)
{
  static const struct { const char *url; PstUrlKind kind; const char *host; guint16 port; } good[] = {
    { "smtp://mail.example.org", PST_URL_SMTP, "mail.example.org", 587 },
    { "smtps://mail.example.org", PST_URL_SMTPS, "mail.example.org", 465 },
    { "pop3://127.0.0.1:1110", PST_URL_POP3, "127.0.0.1", 1110 },
    { "POP3S://[::1]:995/", PST_URL_POP3S, "::1", 995 },
  };
  static const char *bad[] = {
    "http://x", "smtp://", "smtp://user@host", "smtp://host/path", "smtp://host?x=1",
    "not a url", "", "smtp://host:99999",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      PstServerUrl u = { 0 };
      g_autoptr (GError) error = NULL;
      assert_true (pst_server_url_parse (good[i].url, &u, &error));
      assert_int_equal (u.kind, good[i].kind);
      assert_string_equal (u.host, good[i].host);
      assert_int_equal (u.port, good[i].port);
      pst_server_url_clear (&u);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      PstServerUrl u = { 0 };
      g_autoptr (GError) error = NULL;
      assert_false (pst_server_url_parse (bad[i], &u, &error));
      assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_USAGE));
      assert_null (u.host);
    }
}

static void
test_validate (void **state)
{
  g_autoptr (PstAccount) a = sample ();
  g_autoptr (GError) error = NULL;

  assert_true (pst_account_validate (a, &error));
  g_free (a->smtp);
  a->smtp = g_strdup ("pop3s://x");
  assert_false (pst_account_validate (a, &error));
  assert_non_null (strstr (error->message, "smtp"));
  g_clear_error (&error);
  g_free (a->smtp);
  a->smtp = g_strdup ("smtp://x");
  g_free (a->address);
  a->address = g_strdup ("Me <me@example.org>");
  assert_false (pst_account_validate (a, &error));
  assert_non_null (strstr (error->message, "not an e-mail address"));
  g_clear_error (&error);
  g_free (a->address);
  a->address = g_strdup ("me@example.org");
  g_free (a->name);
  a->name = g_strdup ("bad name");
  assert_false (pst_account_validate (a, &error));
  g_clear_error (&error);
  g_free (a->name);
  a->name = g_strdup ("w");
  a->ca_file = g_strdup ("/nonexistent/ca.pem");
  assert_false (pst_account_validate (a, &error));
  assert_non_null (strstr (error->message, "does not exist"));
}

static void
test_password_command (void **state)
{
  g_autoptr (PstAccount) a = sample ();
  g_autoptr (GError) error = NULL;
  char *pw = pst_account_get_password (a, &error);

  assert_string_equal (pw, "sec ret");
  pst_secret_free (pw);
  g_free (a->password_command);
  a->password_command = g_strdup ("exit 3");
  assert_null (pst_account_get_password (a, &error));
  assert_non_null (strstr (error->message, "password command failed"));
}

static void
test_save_and_load (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("pst-config-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "config", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PstConfig) c = pst_config_load (path, &error);   /* missing file: empty */
  g_autoptr (PstConfig) again = NULL;
  PstAccount *a, *work;
  struct stat st;

  assert_non_null (c);
  assert_int_equal (pst_config_get_accounts (c)->len, 0);
  a = sample ();
  a->keep_on_server = TRUE;
  a->keep_days = 14;
  a->encrypt = PST_ENCRYPT_ALWAYS;
  assert_true (pst_config_add_account (c, a, &error));
  assert_false (pst_config_add_account (c, sample (), &error));   /* duplicate */
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_USAGE));
  g_clear_error (&error);
  assert_true (pst_config_save (c, &error));
  assert_int_equal (g_stat (path, &st), 0);
  assert_int_equal (st.st_mode & 0777, 0600);

  again = pst_config_load (path, &error);
  assert_non_null (again);
  work = pst_config_find_account (again, "work");
  assert_non_null (work);
  assert_string_equal (work->pop3, "pop3://pop.example.org:1110");
  assert_true (work->keep_on_server);
  assert_int_equal (work->keep_days, 14);
  assert_int_equal (work->encrypt, PST_ENCRYPT_ALWAYS);
  assert_true (pst_config_remove_account (again, "work", &error));
  assert_false (pst_config_remove_account (again, "work", &error));
  g_clear_error (&error);
  assert_true (pst_config_save (again, &error));
  g_unlink (path);
  g_rmdir (dir);
}

static void
load_text (const char *text, const char *expect)
{
  g_autofree char *dir = g_dir_make_tmp ("pst-config-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "config", NULL);
  g_autoptr (GError) error = NULL;
  PstConfig *c;

  assert_true (g_file_set_contents (path, text, -1, NULL));
  c = pst_config_load (path, &error);
  assert_null (c);
  assert_non_null (error);
  assert_non_null (strstr (error->message, path));   /* names the file */
  if (strstr (error->message, expect) == NULL)
    fail_msg ("'%s' does not name '%s'", error->message, expect);
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_bad_files (void **state)
{
  load_text ("[account a]\naddress=a@b\n", "smtp");
  load_text ("[account a]\naddress=a@b\nsmtp=smtp://x\npop3=pop3://y\nuser=u\n"
             "password_command=true\nencrypt=sometimes\n", "encrypt");
  load_text ("[account a]\naddress=a@b\nsmtp=smtp://x\npop3=pop3://y\nuser=u\n"
             "password_command=true\nkeep_on_server=soon\n", "keep_on_server");
  load_text ("[weird]\nx=1\n", "unknown group [weird]");
  load_text ("this is not ini\n", "");
  /* The line: of the key, of the group when a key is missing, of a line
   * that is not INI. */
  load_text ("[general]\n\n[account a]\naddress=a@b\nsmtp=smtp://x\npop3=pop3://y\nuser=u\n"
             "password_command=true\nencrypt=sometimes\n", "config:9: [account a] encrypt:");
  load_text ("# comment\n[account a]\naddress=a@b\n", "config:2: [account a] smtp: missing");
  load_text ("[account a]\naddress=a@b\nsmtp=smtp://x\npop3=pop3://y\nuser=u\n"
             "password_command=true\ntimeout = 0\n", "config:7: [account a] timeout:");
  load_text ("[general]\nscan=antivirus\n", "config:2: [general] scan:");
  load_text ("[general]\nthis is not ini\n", "config:2: ");
  load_text ("[general]\nwkd=maybe\n", "config:2: [general] wkd: 'maybe' is not true or false");
  load_text ("[general]\nwkd_timeout=0\n", "config:2: [general] wkd_timeout:");
  load_text ("[general]\nwkd_timeout=31\n", "[general] wkd_timeout: '31' is not a number");
  load_text ("[general]\nca_file=/nonexistent/ca.pem\n", "config:2: [general] ca_file: cannot read");
#define ACCOUNT_A "[account a]\naddress=a@b\nsmtp=smtp://x\npop3=pop3://y\nuser=u\npassword_command=true\n"
  load_text (ACCOUNT_A "deliver=maildir:Mail\n",
             "config:7: [account a] deliver: 'Mail' is not an absolute path");
  load_text (ACCOUNT_A "deliver=maildir:\n", "config:7: [account a] deliver: '' is not an absolute path");
  load_text (ACCOUNT_A "deliver=mbox:/var/mail/u\n",
             "config:7: [account a] deliver: 'mbox:/var/mail/u' is not maildir:PATH or mda:COMMAND");
  load_text (ACCOUNT_A "deliver=mda:\n", "config:7: [account a] deliver: the MDA command cannot be read");
  load_text (ACCOUNT_A "deliver=mda:procmail 'x\n", "config:7: [account a] deliver: the MDA command");
  load_text (ACCOUNT_A "deliver_encrypted=maybe\n",
             "config:7: [account a] deliver_encrypted: 'maybe' is not true or false");
}

/* deliver: the forms it takes, "~/" under the home directory. */
static void
test_deliver_spec (void **state)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *target = NULL, *home_mail = NULL;
  g_auto (GStrv) argv = NULL;
  PstDeliverKind kind;

  assert_true (pst_deliver_spec_parse ("maildir:/var/mail//u/", &kind, &target, &argv, &error));
  assert_int_equal (kind, PST_DELIVER_MAILDIR);
  assert_string_equal (target, "/var/mail/u");
  assert_null (argv);
  g_clear_pointer (&target, g_free);
  assert_true (pst_deliver_spec_parse ("maildir:~/Mail", &kind, &target, NULL, &error));
  home_mail = g_build_filename (g_get_home_dir (), "Mail", NULL);
  assert_string_equal (target, home_mail);
  g_clear_pointer (&target, g_free);
  assert_true (pst_deliver_spec_parse ("mda:/usr/bin/procmail -d \"$USER x\" 'a b'", &kind, &target,
                                       &argv, &error));
  assert_int_equal (kind, PST_DELIVER_MDA);
  assert_null (target);
  assert_int_equal (g_strv_length (argv), 4);
  assert_string_equal (argv[2], "$USER x");   /* no shell: nothing expanded */
  assert_string_equal (argv[3], "a b");
  assert_false (pst_deliver_spec_parse ("maildir:relative", &kind, &target, NULL, &error));
  assert_int_equal (error->code, PST_ERROR_USAGE);
}

/* [general] wkd, wkd_timeout and ca_file (the Web Key Directory). */
static void
test_wkd_settings (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("pst-config-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "config", NULL);
  g_autofree char *ca = g_build_filename (dir, "ca.pem", NULL);
  g_autofree char *text = g_strdup_printf ("[general]\nwkd=false\nwkd_timeout=3\nca_file=%s\n", ca);
  g_autoptr (GError) error = NULL;
  g_autoptr (PstConfig) none = NULL, set = NULL;
  guint timeout = 0;

  assert_true (g_file_set_contents (ca, "", -1, NULL));
  assert_true (g_file_set_contents (path, "[general]\n", -1, NULL));
  none = pst_config_load (path, &error);
  assert_non_null (none);
  assert_true (pst_config_get_wkd (none, &timeout));
  assert_int_equal (timeout, PST_WKD_TIMEOUT_DEFAULT);
  assert_null (pst_config_get_ca_file (none));
  assert_true (g_file_set_contents (path, text, -1, NULL));
  set = pst_config_load (path, &error);
  assert_non_null (set);
  assert_int_equal (pst_config_get_warnings (set)->len, 0);
  assert_false (pst_config_get_wkd (set, &timeout));
  assert_int_equal (timeout, 3);
  assert_string_equal (pst_config_get_ca_file (set), ca);
  g_unlink (path);
  g_unlink (ca);
  g_rmdir (dir);
}

/* Keys this version does not know: kept, and reported with their line and
 * the known key they are closest to; booleans as GKeyFile reads them. */
static void
test_unknown_keys (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("pst-config-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "config", NULL);
  g_autofree char *expect = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstConfig) c = NULL;
  const GPtrArray *w;
  PstAccount *a;

  assert_true (g_file_set_contents (path,
                                    "[general]\nscan_timeot=5\n\n"
                                    "[account a]\naddress=a@b\nsmtp=smtp://x\npop3=pop3://y\n"
                                    "user=u\npassword_command=true\nfetch_intreval = 300\n"
                                    "seal_incoming=1\nzzz=1\n", -1, NULL));
  c = pst_config_load (path, &error);
  assert_non_null (c);
  w = pst_config_get_warnings (c);
  assert_int_equal (w->len, 3);
  expect = g_strdup_printf ("%s:2: [general] scan_timeot: unknown key, ignored (did you mean "
                            "scan_timeout?)", path);
  assert_string_equal (w->pdata[0], expect);
  g_free (expect);
  expect = g_strdup_printf ("%s:10: [account a] fetch_intreval: unknown key, ignored (did you mean "
                            "fetch_interval?)", path);
  assert_string_equal (w->pdata[1], expect);
  g_free (expect);
  expect = g_strdup_printf ("%s:12: [account a] zzz: unknown key, ignored", path);
  assert_string_equal (w->pdata[2], expect);
  a = pst_config_find_account (c, "a");
  assert_non_null (a);
  assert_int_equal (a->fetch_interval_s, 0);
  assert_true (a->seal_incoming);
  load_text ("[account a]\naddress=a@b\nsmtp=smtp://x\npop3=pop3://y\nuser=u\n"
             "password_command=true\nseal_incoming=yes\n",
             "config:7: [account a] seal_incoming: 'yes' is not true or false");
  g_unlink (path);
  g_rmdir (dir);
}

/* A file with a comment, a [general] key and two accounts, loaded. */
static PstConfig *
load_written (const char *path, const char *text)
{
  g_autoptr (GError) error = NULL;
  PstConfig *c;

  assert_true (g_file_set_contents (path, text, -1, NULL));
  c = pst_config_load (path, &error);
  if (c == NULL)
    fail_msg ("%s", error->message);
  return c;
}

static const char two_accounts[] =
  "# kept by hand\n"
  "[general]\ngnupg_home=/tmp/gnupg-x\n\n"
  "[account first]\naddress=a@example.org\nsmtp=smtp://x\npop3=pop3://y\nuser=a\n"
  "password_command=true\npin=sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
  "auth=PLAIN\nfetch_interval=60\nfuture_key=kept\n\n"
  "[account second]\naddress=b@example.org\nsmtp=smtp://x\npop3=pop3://y\nuser=b\n"
  "password_command=true\n";

static void
test_replace_account (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("pst-config-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "config", NULL);
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstConfig) c = load_written (path, two_accounts);
  g_autoptr (PstConfig) again = NULL;
  PstAccount *a = pst_account_copy (pst_config_find_account (c, "first"));
  PstAccount *bad, *first;

  g_clear_pointer (&a->pin, g_free);
  g_clear_pointer (&a->auth, g_free);
  a->fetch_interval_s = 0;
  a->max_recipients = 7;
  a->keep_on_server = TRUE;
  a->keep_days = 3;
  assert_true (pst_config_replace_account (c, a, &error));
  assert_true (pst_config_save (c, &error));

  assert_true (g_file_get_contents (path, &text, NULL, NULL));
  /* What the account no longer has is gone; the rest of the file stays. */
  assert_null (strstr (text, "pin="));
  assert_null (strstr (text, "auth="));
  assert_null (strstr (text, "fetch_interval="));
  assert_non_null (strstr (text, "# kept by hand"));
  assert_non_null (strstr (text, "future_key=kept"));
  assert_non_null (strstr (text, "gnupg_home=/tmp/gnupg-x"));
  assert_true (strstr (text, "[account first]") < strstr (text, "[account second]"));

  again = pst_config_load (path, &error);
  assert_non_null (again);
  assert_int_equal (pst_config_get_accounts (again)->len, 2);
  first = g_ptr_array_index (pst_config_get_accounts (again), 0);
  assert_string_equal (first->name, "first");
  assert_null (first->pin);
  assert_int_equal (first->max_recipients, 7);
  assert_true (first->keep_on_server);
  assert_int_equal (first->keep_days, 3);
  assert_int_equal (first->fetch_interval_s, 0);

  /* An account that does not validate, or that is not there, changes nothing. */
  bad = pst_account_copy (first);
  bad->fetch_interval_s = 5;
  assert_false (pst_config_replace_account (again, bad, &error));
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_USAGE));
  assert_non_null (strstr (error->message, "fetch_interval"));
  g_clear_error (&error);
  assert_int_equal (pst_config_find_account (again, "first")->fetch_interval_s, 0);
  bad = pst_account_copy (first);
  g_free (bad->name);
  bad->name = g_strdup ("third");
  assert_false (pst_config_replace_account (again, bad, &error));
  assert_non_null (strstr (error->message, "no account named third"));
  assert_null (pst_config_find_account (again, "third"));
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_set_scan (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("pst-config-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "config", NULL);
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstConfig) c = load_written (path, two_accounts);
  g_autoptr (PstConfig) again = NULL, cleared = NULL;
  gboolean delivers = FALSE;
  guint timeout = 0;

  assert_null (pst_config_get_scan (c, &delivers, &timeout));
  assert_true (pst_config_set_scan (c, "command:/usr/bin/scanner --stdin", TRUE, 30, &error));
  assert_string_equal (pst_config_get_scan (c, &delivers, &timeout), "command:/usr/bin/scanner --stdin");
  assert_true (delivers);
  assert_int_equal (timeout, 30);
  assert_true (pst_config_save (c, &error));
  assert_true (g_file_get_contents (path, &text, NULL, NULL));
  {
    /* In [general], beside what was there. */
    const char *general = strstr (text, "[general]\ngnupg_home=/tmp/gnupg-x\n");
    const char *next = strstr (text, "[account first]");
    const char *scan = strstr (text, "\nscan=command:/usr/bin/scanner --stdin\n"
                                     "on_scan_error=deliver\nscan_timeout=30\n");

    assert_non_null (general);
    assert_non_null (scan);
    assert_true (general < scan && scan < next);
  }
  assert_non_null (strstr (text, "# kept by hand"));

  again = pst_config_load (path, &error);
  assert_non_null (again);
  assert_string_equal (pst_config_get_scan (again, &delivers, &timeout),
                       "command:/usr/bin/scanner --stdin");
  assert_true (delivers);
  assert_int_equal (timeout, 30);
  assert_string_equal (pst_config_get_gnupg_home (again), "/tmp/gnupg-x");
  assert_int_equal (pst_config_get_accounts (again)->len, 2);

  /* A spec of another form, or a timeout out of range: refused, nothing changed. */
  assert_false (pst_config_set_scan (again, "antivirus", FALSE, 0, &error));
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_USAGE));
  assert_non_null (strstr (error->message, "is not clamd:SOCKET"));
  g_clear_error (&error);
  assert_false (pst_config_set_scan (again, "clamd:/run/clamd.ctl", FALSE, 3601, &error));
  assert_non_null (strstr (error->message, "scan_timeout"));
  g_clear_error (&error);
  assert_string_equal (pst_config_get_scan (again, &delivers, &timeout),
                       "command:/usr/bin/scanner --stdin");
  assert_true (delivers);

  /* "none" (or NULL) removes the scanner; 0 the timeout key. */
  assert_true (pst_config_set_scan (again, "none", FALSE, 0, &error));
  assert_null (pst_config_get_scan (again, &delivers, &timeout));
  assert_true (pst_config_save (again, &error));
  g_clear_pointer (&text, g_free);
  assert_true (g_file_get_contents (path, &text, NULL, NULL));
  assert_null (strstr (text, "scan="));
  assert_null (strstr (text, "scan_timeout"));
  assert_non_null (strstr (text, "on_scan_error=quarantine"));
  cleared = pst_config_load (path, &error);
  assert_non_null (cleared);
  assert_null (pst_config_get_scan (cleared, &delivers, &timeout));
  assert_false (delivers);
  assert_int_equal (timeout, 0);
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_scan_error_parse (void **state)
{
  g_autoptr (GError) error = NULL;
  gboolean delivers = TRUE;

  assert_true (pst_scan_error_parse ("quarantine", &delivers, &error));
  assert_false (delivers);
  assert_true (pst_scan_error_parse ("deliver", &delivers, &error));
  assert_true (delivers);
  assert_false (pst_scan_error_parse ("drop", &delivers, &error));
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_USAGE));
  assert_non_null (strstr (error->message, "'drop' is not quarantine or deliver"));
  assert_true (delivers);
}

static void
test_paths (void **state)
{
  g_autoptr (PstPaths) p = pst_paths_new ("/tmp/pst-home-test");

  assert_string_equal (p->socket_path, "/tmp/pst-home-test/run/agent.sock");
  assert_string_equal (p->db_path, "/tmp/pst-home-test/data/postern.db");
  assert_string_equal (p->config_file, "/tmp/pst-home-test/config");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_urls),
    cmocka_unit_test (test_validate),
    cmocka_unit_test (test_password_command),
    cmocka_unit_test (test_save_and_load),
    cmocka_unit_test (test_bad_files),
    cmocka_unit_test (test_deliver_spec),
    cmocka_unit_test (test_wkd_settings),
    cmocka_unit_test (test_unknown_keys),
    cmocka_unit_test (test_replace_account),
    cmocka_unit_test (test_set_scan),
    cmocka_unit_test (test_scan_error_parse),
    cmocka_unit_test (test_paths),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
