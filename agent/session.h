/* session.h — what the sender and the fetcher share: opening a verified
 * connection to an account's server, and moving an engine's output. */
#pragma once

#include "agent.h"
#include "net/sasl.h"
#include "net/transport.h"

G_BEGIN_DECLS

/* Connects to @url (smtp/smtps/pop3/pop3s) with the account's trust
 * settings; for the implicit-TLS kinds the handshake is done here.
 * @implicit_out says which. Transfer full. */
PstConn *pst_session_connect (const PstAccount *account, const char *url, gboolean *implicit_out,
                              GError **error);

/* The account's credentials for SASL: the password and token commands'
 * output, and whether a client certificate is presented.  Transfer full. */
PstSaslCredentials *pst_session_credentials (const PstAccount *account, const char *url,
                                             GError **error);

G_END_DECLS
