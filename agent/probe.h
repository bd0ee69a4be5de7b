/* probe.h — what `account test` reports about one server (see probe.c). */
#pragma once

#include <json-glib/json-glib.h>

#include "config/config.h"

G_BEGIN_DECLS

/* Connects to @url of @account as far as TLS and the capabilities read
 * over it; with @login, then logs in with the account's credentials (only
 * when the server is verified) and quits, touching no mail.
 *
 * Returns {url, tls_version, cipher, subject, issuer, not_after, pin,
 * trusted, trusted_by, auth_mechanisms | error, login, login_error}:
 * login is "ok", "failed" (login_error: the server's refusal as it said
 * it, or the local reason) or "not-tried" (not asked, or the server was
 * not reached or not verified).  *@ok_out: TLS verified, the capabilities
 * read and, with @login, the login accepted.  Transfer full. */
JsonObject *pst_probe_server (const PstAccount *account, const char *url, gboolean login,
                              gboolean *ok_out);

G_END_DECLS
