/* account-fields.h — the fields of an account being set up, as the account
 * dialog and the first-run assistant both show them, and what they both do
 * with them: the user name and the servers follow the address until the
 * user writes their own, a port follows the TLS choice, the account is
 * tested with the login (account.test, its password kept in the Secret
 * Service only for the test) and the result said in the same words, with
 * the same offer to trust a server by its pin.  The widgets belong to the
 * owner's template; this struct, a member of the owner, only points at
 * them (bound with PST_ACCOUNT_FIELDS_BIND). */
#pragma once

#include <gtk/gtk.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct {
  /* Bound from the template.  storage_combo, command_entry and
   * encrypt_combo may be NULL: the password then goes to the Secret
   * Service and encryption is "auto". */
  GtkWidget *name_entry, *address_entry, *user_entry, *password_entry, *storage_combo, *command_entry,
    *smtp_host_entry, *smtp_security_combo, *smtp_port_spin, *pop3_host_entry, *pop3_security_combo,
    *pop3_port_spin, *encrypt_combo, *result_label;
  GtkWidget *pin_checks[2];     /* "smtp_pin_check", "pop3_pin_check": trust the server by its pin */
  /* Owned. */
  char *auto_domain;            /* the domain the server fields were filled from */
  char *auto_address;           /* the address the user name was filled from */
  char *pins;                   /* the pins confirmed in earlier tests, kept */
  char *offered[2];             /* the pin each check box offers, or NULL */
  char *test_name, *test_user;  /* the Secret Service entry of a test in progress */
  JsonObject *tested;           /* the account.add object of the fields as last tested */
  char *tested_password;        /* … and its password, for the Secret Service (wiped when stored) */
} PstAccountFields;

/* Binds the template children of the same names to the PstAccountFields
 * member @member of @type (every one but storage_combo, command_entry and
 * encrypt_combo, which the owner binds when it has them). */
#define PST_ACCOUNT_FIELDS_BIND(widget_class, type, member)                                           \
  G_STMT_START {                                                                                      \
    static const char *const pst_names_[] = {                                                         \
      "name_entry", "address_entry", "user_entry", "password_entry", "smtp_host_entry",               \
      "smtp_security_combo", "smtp_port_spin", "pop3_host_entry", "pop3_security_combo",              \
      "pop3_port_spin", "result_label", "smtp_pin_check", "pop3_pin_check" };                         \
    const gssize pst_offsets_[] = {                                                                   \
      G_STRUCT_OFFSET (type, member.name_entry), G_STRUCT_OFFSET (type, member.address_entry),         \
      G_STRUCT_OFFSET (type, member.user_entry), G_STRUCT_OFFSET (type, member.password_entry),        \
      G_STRUCT_OFFSET (type, member.smtp_host_entry), G_STRUCT_OFFSET (type, member.smtp_security_combo), \
      G_STRUCT_OFFSET (type, member.smtp_port_spin), G_STRUCT_OFFSET (type, member.pop3_host_entry),   \
      G_STRUCT_OFFSET (type, member.pop3_security_combo), G_STRUCT_OFFSET (type, member.pop3_port_spin), \
      G_STRUCT_OFFSET (type, member.result_label), G_STRUCT_OFFSET (type, member.pin_checks[0]),       \
      G_STRUCT_OFFSET (type, member.pin_checks[1]) };                                                 \
    for (gsize pst_i_ = 0; pst_i_ < G_N_ELEMENTS (pst_names_); pst_i_++)                              \
      gtk_widget_class_bind_template_child_full (widget_class, pst_names_[pst_i_], FALSE,             \
                                                 pst_offsets_[pst_i_]);                               \
  } G_STMT_END

/* The "changed" handler of the address entry: the user name, the servers
 * (smtp.DOMAIN, pop.DOMAIN) and, when @name_follows, the account's name
 * (the domain's first label) follow it while they hold what was filled in
 * before. */
void pst_account_fields_address_changed (PstAccountFields *fields, gboolean name_follows);

/* The "changed" handler of a security combo: a default port follows the
 * choice, a port the user chose stays. */
void pst_account_fields_security_changed (PstAccountFields *fields, GtkComboBox *combo);

/* Shows @words in the result label, as an error when @error. */
void pst_account_fields_say (PstAccountFields *fields, const char *words, gboolean error);

/* The account as account.add takes it (account-form.h); NULL with the
 * reason when a field is missing.  Transfer full. */
JsonObject *pst_account_fields_build (PstAccountFields *fields, GError **error);

/* The params of account.test, the login tried: the account under a name of
 * its own, its password in the Secret Service until
 * pst_account_fields_test_done.  The same account under its own name, and
 * its password, are kept (pst_account_fields_take_tested): what is added is
 * what was tested, not what the fields say later.  NULL with the reason.
 * Transfer full. */
JsonObject *pst_account_fields_test_params (PstAccountFields *fields, GError **error);

/* The account.add object of the last test; NULL when there was none since
 * the last call.  Transfer full. */
JsonObject *pst_account_fields_take_tested (PstAccountFields *fields);

/* Whether the user can change the fields and the pin check boxes: not
 * while they are tested or the account added. */
void pst_account_fields_set_sensitive (PstAccountFields *fields, gboolean sensitive);

/* Hides the pin check boxes (the account is there). */
void pst_account_fields_hide_pins (PstAccountFields *fields);

/* Removes the test's password from the Secret Service, if any. */
void pst_account_fields_test_done (PstAccountFields *fields);

/* Says what the account.test result @result means, keeps the pins that
 * made a server trusted (pst_account_form_kept_pins) and offers, a check
 * box each with the pin in its label, the pins of the servers nothing
 * vouches for (unticked when the pin is new); returns whether both servers
 * are verified and took the login. */
gboolean pst_account_fields_show_test (PstAccountFields *fields, JsonObject *result);

/* After account.add answered @added (the account object): puts the
 * password of the tested account in the Secret Service under the
 * account's name when the account keeps it there, and wipes the copy.
 * Needs no widget: called also when the owner was closed meanwhile.  NULL
 * when done or not needed, else what went wrong and what to do, in a
 * sentence.  Transfer full. */
char *pst_account_fields_keep_password (PstAccountFields *fields, JsonObject *added);

/* Frees what the struct owns (and ends a test's Secret Service entry). */
void pst_account_fields_clear (PstAccountFields *fields);

G_END_DECLS
