/* sasl.h — SASL client authentication for the SMTP and POP3 engines.
 *
 * Mechanisms run through libgsasl (PLAIN, LOGIN, SCRAM-SHA-256,
 * SCRAM-SHA-256-PLUS, EXTERNAL); XOAUTH2 and OAUTHBEARER are built here
 * because libgsasl 2.2 has neither.  The strongest mechanism that both the
 * server and the account's credentials allow is chosen; CRAM-MD5,
 * DIGEST-MD5, NTLM, ANONYMOUS (and APOP in POP3) are never used.  The
 * engines call this only on a verified TLS session.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *user;
  char *password;          /* or NULL */
  char *token;             /* OAuth2 access token, or NULL */
  gboolean client_cert;    /* a TLS client certificate is presented (EXTERNAL) */
  char *cb_type;           /* "tls-exporter" or "tls-unique", or NULL; the engines
                            * fill these from the TLS session (lineproto.h) */
  GBytes *cb_data;         /* its data */
  char *host;              /* the server, for OAUTHBEARER's host and port */
  guint16 port;
  char **allowed;          /* the account's `auth` list (upper case), or NULL: any */
} PstSaslCredentials;

/* Whether the account's `auth` list allows @mech (any when it has none). */
gboolean pst_sasl_allowed (const PstSaslCredentials *creds, const char *mech);

PstSaslCredentials *pst_sasl_credentials_copy (const PstSaslCredentials *creds);
/* Wipes the user name, the password and the token, and frees the rest. */
void pst_sasl_credentials_free (PstSaslCredentials *creds);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstSaslCredentials, pst_sasl_credentials_free)

/* The strongest mechanism in @offered (names separated by spaces, any case)
 * that @creds can use, or NULL with @error (PST_ERROR_NETWORK) saying what
 * the server offered.  Static string. */
const char *pst_sasl_choose (const char *offered, const PstSaslCredentials *creds, GError **error);

typedef struct _PstSasl PstSasl;

/* Starts @mech with @creds (copied). */
PstSasl *pst_sasl_new (const char *mech, const PstSaslCredentials *creds, GError **error);
void pst_sasl_free (PstSasl *sasl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstSasl, pst_sasl_free)

/* Whether the mechanism sends the first message (an initial response). */
gboolean pst_sasl_client_first (PstSasl *sasl);

typedef enum {
  PST_SASL_CONTINUE,       /* send *response_out and wait for the next challenge */
  PST_SASL_DONE,           /* the exchange is complete on our side: send *response_out
                            * (maybe empty) and wait for the server's verdict */
  PST_SASL_ERROR,          /* the server's message is wrong (e.g. a bad SCRAM signature):
                            * cancel and fail */
} PstSaslStep;

/* One step: @challenge_b64 is the server's base64 text (NULL for the
 * initial response).  *@response_out is base64 (may be "").  The server's
 * error challenge in XOAUTH2/OAUTHBEARER is answered as those require. */
PstSaslStep pst_sasl_step (PstSasl *sasl, const char *challenge_b64, char **response_out,
                           GError **error);

/* Whether the exchange finished with the server proven (SCRAM's server
 * signature checked; other mechanisms: their last step was taken).  The
 * engines refuse a success reply that comes before this. */
gboolean pst_sasl_complete (PstSasl *sasl);

const char *pst_sasl_mechanism (PstSasl *sasl);

/* The first line of the exchange, the same in SMTP and POP3: "AUTH MECH",
 * with the initial response when the mechanism sends one first ("=" when
 * it is empty), and CRLF.  Transfer full: wipe it after use (it may hold a
 * password). */
char *pst_sasl_auth_command (PstSasl *sasl, GError **error);

G_END_DECLS
