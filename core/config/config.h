/* config.h — the INI configuration of DESIGN.md §8, read and written with
 * GKeyFile.  One [account NAME] group per account.  Passwords never live in
 * the file: password_command gives them.
 */
#pragma once

#include <glib.h>

#include "util/secret.h"

G_BEGIN_DECLS

typedef enum { PST_ENCRYPT_AUTO, PST_ENCRYPT_ALWAYS, PST_ENCRYPT_NEVER } PstEncryptMode;

typedef enum {
  PST_URL_SMTP,    /* smtp://host:port   STARTTLS required */
  PST_URL_SMTPS,   /* smtps://host:port  implicit TLS */
  PST_URL_POP3,    /* pop3://host:port   STLS required */
  PST_URL_POP3S,   /* pop3s://host:port  implicit TLS */
} PstUrlKind;

typedef struct {
  PstUrlKind kind;
  char *host;
  guint16 port;
} PstServerUrl;

typedef struct {
  char *name;
  char *address;
  char *smtp;              /* URL as written */
  char *pop3;
  char *user;
  char *password_command;  /* NULL when the account logs in by token or certificate */
  char *token_command;     /* prints an OAuth2 access token (XOAUTH2, OAUTHBEARER), or NULL */
  char *ca_file;           /* may be NULL: system store */
  char *pin;               /* "sha256//BASE64[;sha256//BASE64…]": SPKI pins instead of CA trust */
  char *client_cert;       /* PEM certificate for TLS client auth (SASL EXTERNAL), or NULL */
  char *client_key;        /* its PEM private key; NULL: in client_cert */
  guint timeout_s;         /* connect, handshake and each reply; 0 = the default (60 s) */
  char *auth;              /* SASL mechanisms allowed, e.g. "SCRAM-SHA-256 PLAIN", or NULL: any */
  guint fetch_interval_s;  /* fetch by itself this often (± jitter); 0 = only when asked */
  guint max_recipients;    /* per message; 0 = the default (100) */
  guint max_per_hour;      /* messages queued per hour; 0 = the default (500) */
  gboolean seal_incoming;  /* encrypt mail that arrived in plaintext to the account's own key */
  gboolean store_decrypted_subject;  /* keep the decrypted Subject of mail whose header was
                                      * protected (RFC 9788) in the local database, so that list
                                      * shows it and search finds it; FALSE: what the outside
                                      * said ("...") */
  gboolean secret_service; /* the password is in the Secret Service (libsecret) */
  gboolean keep_on_server;
  guint keep_days;         /* 0 = forever, when keep_on_server */
  PstEncryptMode encrypt;
  char *scheme;            /* "pgp", "smime" or "auto" (NULL: auto) */
  char *deliver;           /* "maildir:PATH" or "mda:COMMAND" as written, or NULL: fetched mail
                            * stays in the store only (pst_deliver_spec_parse) */
  gboolean deliver_encrypted;  /* deliver mail as it arrived, not decrypted */
} PstAccount;

#define PST_DEFAULT_MAX_RECIPIENTS 100
#define PST_DEFAULT_MAX_PER_HOUR 500

/* What an account's numbers may be (config.c's field table; the CLI and
 * the GUI check the same). */
#define PST_ACCOUNT_TIMEOUT_MAX 3600               /* timeout, seconds (from 1) */
#define PST_ACCOUNT_FETCH_INTERVAL_MAX (7 * 86400) /* fetch_interval, seconds (0: never) */
#define PST_ACCOUNT_LIMIT_MAX 1000000              /* max_recipients, max_messages_per_hour */
#define PST_ACCOUNT_KEEP_DAYS_MAX 36500            /* keep_on_server, days */

/* One setting of an account, as the configuration file, the socket API
 * (account.add, account.update, account.show) and the clients know it:
 * pst_account_fields() is the one table of them all. */
typedef enum {
  PST_ACCOUNT_FIELD_STRING,     /* char* */
  PST_ACCOUNT_FIELD_NUMBER,     /* guint from min to max; 0 when absent (the default) */
  PST_ACCOUNT_FIELD_FLAG,       /* gboolean: true or false */
  PST_ACCOUNT_FIELD_ENCRYPT,    /* PstEncryptMode: always, auto or never */
  PST_ACCOUNT_FIELD_SCHEME,     /* char*: pgp, smime or auto, written as auto when NULL */
  PST_ACCOUNT_FIELD_KEEP,       /* keep_on_server (gboolean), and keep_days next to it: in the
                                 * file true, false or a number of days; in JSON the flag
                                 * keep_on_server and the number keep_days (0 to max) */
} PstAccountFieldKind;

typedef struct {
  const char *key;            /* in the file, and the member in JSON */
  PstAccountFieldKind kind;
  gboolean required;          /* in the file, and by account.add */
  gboolean updatable;         /* account.update may change it */
  gboolean path;              /* a file name: made absolute as it comes over the socket */
  gsize offset;               /* in PstAccount */
  guint64 min, max;           /* NUMBER: the range in the file; over the socket 0 (the default)
                               * is allowed too; KEEP: max the days */
  guint shown_default;        /* NUMBER: what account.show says for 0 */
  const char *what;           /* NUMBER: "a number of seconds", for errors about the file */
  const char *range;          /* NUMBER, KEEP: the error over the socket outside the range */
} PstAccountField;

/* The account settings, in the order the file and account.show list them
 * (the account's name, its group, is not among them). */
const PstAccountField *pst_account_fields (gsize *n_out);

void pst_account_free (PstAccount *account);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstAccount, pst_account_free)
PstAccount *pst_account_copy (const PstAccount *account);

typedef enum { PST_DELIVER_MAILDIR, PST_DELIVER_MDA } PstDeliverKind;

/* Parses an account's deliver setting: "maildir:PATH" (an absolute path,
 * or "~/…" under the home directory) or "mda:COMMAND" (split as the shell
 * would, g_shell_parse_argv, but run without one).  @target_out gets the
 * Maildir's path (with "~/" expanded) or NULL, @argv_out (may be NULL) the
 * MDA's argument vector or NULL.  Errors: PST_ERROR_USAGE saying why, not
 * naming the key.  Transfer full. */
gboolean pst_deliver_spec_parse (const char *spec, PstDeliverKind *kind_out, char **target_out,
                                 char ***argv_out, GError **error);

/* Checks that every field of @account has a valid value (name, address,
 * URLs of the right kinds, password command, readable CA file…).  Errors:
 * PST_ERROR_USAGE naming the field. */
gboolean pst_account_validate (const PstAccount *account, GError **error);

/* Parses "smtp://host:port" and friends.  Port defaults: 587, 465, 110,
 * 995.  Transfer full into @out (free with pst_server_url_clear). */
gboolean pst_server_url_parse (const char *url, PstServerUrl *out, GError **error);
void pst_server_url_clear (PstServerUrl *url);

/* The SHA-256 digests (32 bytes each) of the pins in @pin ("sha256//BASE64",
 * several separated by ';').  NULL with @error (PST_ERROR_USAGE) when one is
 * malformed.  Transfer full: a GPtrArray of GBytes. */
GPtrArray *pst_pin_list_parse (const char *pin, GError **error);

/* The account's password from the Secret Service, or NULL with @error
 * saying whether the service is unreachable or holds none.  Transfer full;
 * wipe with pst_secret_free.  (secret.c) */
char *pst_secret_service_lookup (const PstAccount *account, GError **error);
/* Stores @password for @account (and @user) in the default collection.
 * (The command line has its own, cli/secret-store.c.) */
gboolean pst_secret_service_store (const char *account, const char *user, const char *password,
                                   GError **error);
/* Removes the password of @account and @user from the Secret Service (none
 * stored is no error). */
gboolean pst_secret_service_clear (const char *account, const char *user, GError **error);

/* The random key that seals the S/MIME private key of certificate
 * @fingerprint on disk (DESIGN.md §10), kept in the Secret Service under
 * schema org.postern.SmimeKey.  lookup: NULL with PST_ERROR_FAILED when the
 * service cannot be reached or holds none; transfer full, wipe with
 * pst_secret_free.  clear: none stored is no error.  (secret.c) */
char *pst_secret_service_lookup_smime_key (const char *fingerprint, GError **error);
gboolean pst_secret_service_store_smime_key (const char *fingerprint, const char *address,
                                             const char *key, GError **error);
gboolean pst_secret_service_clear_smime_key (const char *fingerprint, GError **error);

/* Runs the account's token_command, as pst_account_get_password does the
 * password command.  Transfer full; wipe with pst_secret_free. */
char *pst_account_get_token (const PstAccount *account, GError **error);

/* Runs the account's password_command (sh -c) and returns the first line
 * of its output.  Transfer full; wipe with pst_secret_free. */
char *pst_account_get_password (const PstAccount *account, GError **error);

const char *pst_encrypt_mode_to_string (PstEncryptMode mode);
gboolean pst_encrypt_mode_parse (const char *text, PstEncryptMode *mode_out, GError **error);

typedef struct _PstConfig PstConfig;

/* Loads @path; a missing file is an empty configuration.  Errors name the
 * file, and the group and key where they can (PST_ERROR_FAILED). */
PstConfig *pst_config_load (const char *path, GError **error);
void pst_config_free (PstConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstConfig, pst_config_free)

/* What loading found but did not refuse: keys this version does not know
 * ("PATH:LINE: [account main] fetch_intreval: unknown key, ignored (did you
 * mean fetch_interval?)"), kept in the file.  Owned by @config. */
const GPtrArray *pst_config_get_warnings (PstConfig *config);

/* Writes the file atomically, mode 0600. */
gboolean pst_config_save (PstConfig *config, GError **error);

/* The accounts, in file order: a GPtrArray of PstAccount owned by @config. */
GPtrArray *pst_config_get_accounts (PstConfig *config);
/* Owned by @config; NULL when unknown. */
PstAccount *pst_config_find_account (PstConfig *config, const char *name);
/* Takes @account (transfer full) after validating it; a duplicate name is an
 * error (PST_ERROR_USAGE). */
gboolean pst_config_add_account (PstConfig *config, PstAccount *account, GError **error);
gboolean pst_config_remove_account (PstConfig *config, const char *name, GError **error);
/* Takes @account (transfer full) after validating it, in place of the
 * account of the same name (PST_ERROR_USAGE when there is none): same
 * place in the file, its comments and unknown keys kept, the keys of
 * settings it no longer has removed. */
gboolean pst_config_replace_account (PstConfig *config, PstAccount *account, GError **error);

/* [general] gnupg_home, or NULL. Owned by @config. */
const char *pst_config_get_gnupg_home (PstConfig *config);
/* [general] scan (the scanner spec, or NULL: none), on_scan_error
 * (*@error_delivers_out: deliver rather than quarantine) and scan_timeout
 * (seconds, 0: the default).  Owned by @config. */
const char *pst_config_get_scan (PstConfig *config, gboolean *error_delivers_out,
                                 guint *timeout_s_out);
/* Sets [general] scan (NULL or "none": no scanner), on_scan_error and
 * scan_timeout (0: the default) in @config and its file (written by
 * pst_config_save).  Only the form of @spec is checked here (clamd:…,
 * command:…); pst_scanner_new checks the rest.  Errors: PST_ERROR_USAGE,
 * and nothing changes. */
gboolean pst_config_set_scan (PstConfig *config, const char *spec, gboolean error_delivers,
                              guint timeout_s, GError **error);

/* [general] ca_file: a PEM bundle of CAs trusted besides the system store
 * for the agent's own HTTPS lookups (the Web Key Directory), or NULL.  An
 * account's ca_file is that account's alone.  Owned by @config. */
const char *pst_config_get_ca_file (PstConfig *config);

/* [general] wkd: whether send looks recipients without a key up in their
 * Web Key Directory (default TRUE); @timeout_s_out (may be NULL) gets
 * [general] wkd_timeout, the deadline of one lookup in seconds (default
 * PST_WKD_TIMEOUT_DEFAULT). */
gboolean pst_config_get_wkd (PstConfig *config, guint *timeout_s_out);

/* The local bridge's listeners (DESIGN.md §14). */
typedef enum {
  PST_BRIDGE_SMTP = 0,
  PST_BRIDGE_POP3 = 1,
} PstBridgeKind;

/* [general] bridge_smtp or bridge_pop3 as written ("127.0.0.1:1587"), or
 * NULL: that listener is off.  Owned by @config. */
const char *pst_config_get_bridge (PstConfig *config, PstBridgeKind kind);
/* Sets it (NULL or "": off) in @config and its file.  Errors
 * (PST_ERROR_USAGE, nothing changes): not a loopback ADDRESS:PORT. */
gboolean pst_config_set_bridge (PstConfig *config, PstBridgeKind kind, const char *address,
                                GError **error);
/* A bridge address: 127.0.0.1:PORT, [::1]:PORT (or ::1:PORT) or
 * localhost:PORT (as 127.0.0.1); port 0 is any free port.  Anything not on
 * loopback is refused (PST_ERROR_USAGE, saying why).  @host_out (transfer
 * full) and @port_out may be NULL. */
gboolean pst_bridge_address_parse (const char *text, char **host_out, guint16 *port_out,
                                   GError **error);

#define PST_WKD_TIMEOUT_DEFAULT 5
#define PST_WKD_TIMEOUT_MAX 30

/* The longest scan_timeout, in seconds. */
#define PST_SCAN_TIMEOUT_MAX 3600

/* on_scan_error: "quarantine" or "deliver" (*@delivers_out).  Errors:
 * PST_ERROR_USAGE. */
gboolean pst_scan_error_parse (const char *text, gboolean *delivers_out, GError **error);

G_END_DECLS
