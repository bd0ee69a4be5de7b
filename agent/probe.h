/* probe.h — what `account test` reports about one server (see probe.c). */
#pragma once

#include <json-glib/json-glib.h>

#include "config/config.h"

G_BEGIN_DECLS

/* {url, tls_version, cipher, subject, issuer, not_after, pin, trusted,
 * trusted_by, auth_mechanisms | error}.  *@ok_out: TLS verified and the
 * capabilities read.  Transfer full. */
JsonObject *pst_probe_server (const PstAccount *account, const char *url, gboolean *ok_out);

G_END_DECLS
