/* bridge-pop3.h — the local bridge's POP3 sessions (bridge-pop3.c). */
#pragma once

#include "bridge-conn.h"

G_BEGIN_DECLS

/* Serves POP3 on @conn (its peer checked) until the session ends. */
void pst_bridge_pop3_serve (PstBridgeConn *conn);

G_END_DECLS
