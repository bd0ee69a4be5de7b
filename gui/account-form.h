/* account-form.h — what the account dialog and the first-run assistant
 * share about an account being set up: the account.add object made from
 * what was typed, and the rule for the servers' pins after an
 * account.test.  No GTK here. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* What the user typed.  @smtp_security "starttls" or "tls";
 * @pop3_security "tls" or "stls"; @password for the Secret Service (the
 * password never goes over the agent's socket), else @password_command;
 * @pins NULL or the pins the user confirmed. */
typedef struct {
  const char *name, *address, *user, *password, *password_command;
  const char *smtp_host, *smtp_security, *pop3_host, *pop3_security;
  int smtp_port, pop3_port;
  const char *encrypt, *pins;
} PstAccountForm;

/* The account as account.add takes it; NULL with the reason (one sentence
 * for the user, PST_ERROR_USAGE) when a field is missing.  For a test
 * (@test_name not NULL) the account is named @test_name and the password is
 * put in the Secret Service under that name, to be removed after the test
 * (pst_secret_service_clear): a test leaves no secret behind and never
 * replaces the password of an account that has the real name.  Transfer
 * full. */
JsonObject *pst_account_form_build (const PstAccountForm *form, const char *test_name, GError **error);

/* A fresh name for the account of a connection test of @name.  Transfer
 * full. */
char *pst_account_form_test_name (const char *name);

/* The pins to offer for trust after the account.test result @test, given
 * the pins offered before (@current, may be NULL): a new pin needs a new
 * confirmation (*@reset_out TRUE: untick the confirmation); when none is
 * offered, none is kept, unless it is the confirmed pin that made the
 * server trusted.  Transfer full; NULL when no pin is to be offered. */
char *pst_account_form_next_pins (JsonObject *test, const char *current, gboolean *reset_out);

G_END_DECLS
