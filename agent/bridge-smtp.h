/* bridge-smtp.h — the local bridge's SMTP sessions (bridge-smtp.c). */
#pragma once

#include "bridge-conn.h"

G_BEGIN_DECLS

/* Serves SMTP on @conn (its peer checked) until the session ends. */
void pst_bridge_smtp_serve (PstBridgeConn *conn);

G_END_DECLS
