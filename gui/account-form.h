/* account-form.h — what the account dialog and the first-run assistant
 * share about an account being set up: the account.add object made from
 * what was typed, the rule for the servers' pins after an account.test
 * and the test's report in words.  No GTK here. */
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

/* The servers of an account.test result: 0 the sending one ("smtp"), 1
 * the fetching one ("pop3"). */
#define PST_ACCOUNT_FORM_N_SERVERS 2

/* The pin to offer for trust for @server (0 or 1) after the account.test
 * result @test: its pin when nothing vouches for it, NULL when something
 * does, when it was not reached, or when it shows the same pin as server
 * 0, whose question covers both.  Owned by @test. */
const char *pst_account_form_offered_pin (JsonObject *test, int server);

/* The label of the check box that trusts @server by the pin offered for
 * it, the pin itself in it (naming both servers when they share it), and
 * in *@name_out the box's accessible name.  NULL (and NULL) when no pin is
 * offered for @server.  Transfer full. */
char *pst_account_form_pin_question (JsonObject *test, int server, char **name_out);

/* The pins to keep after the account.test result @test, of those sent
 * with it (@sent, ";"-separated, may be NULL): each that made a server
 * trusted.  A pin confirmed in one test stays for the next, and pins
 * confirmed in separate tests add up; one that no server shows any more,
 * or that an authority made unneeded, goes.  NULL when none.  Transfer
 * full. */
char *pst_account_form_kept_pins (JsonObject *test, const char *sent);

/* @pins (";"-separated, may be NULL) with @pin added when not in it yet.
 * Transfer full. */
char *pst_account_form_add_pin (const char *pins, const char *pin);

/* An account.test result in words, a paragraph per server: for each, its
 * pin and what vouches for it first, then the login, then what the server
 * says of itself (TLS, its certificate's subject and issuer, its refusal,
 * an error), each sanitized to one short line (pst_text_sanitize_short):
 * nothing a server chooses can add a line or stand where the pin is
 * looked for.  Transfer full. */
char *pst_account_form_describe_test (JsonObject *result);

G_END_DECLS
