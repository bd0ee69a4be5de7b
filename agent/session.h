/* session.h — what the sender, the fetcher and the probe share: opening a
 * verified connection to an account's server, and the pump that moves an
 * SMTP or POP3 engine's bytes over it (each caller's loop acts on the
 * engine's other events itself). */
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

/* The byte-moving half of a protocol engine (net/smtp.h, net/pop3.h), so
 * that one pump serves both. */
typedef struct {
  const guint8 *(*get_output) (gpointer engine, gsize *len_out);
  void (*consume_output) (gpointer engine, gsize n);
  void (*feed) (gpointer engine, const guint8 *data, gsize len);
  void (*feed_eof) (gpointer engine);
  void (*set_channel_binding) (gpointer engine, const char *type, GBytes *data);
  void (*tls_started) (gpointer engine);
} PstEngineIo;

extern const PstEngineIo pst_smtp_engine_io;
extern const PstEngineIo pst_pop3_engine_io;

/* What the probe watches pass (the server's last line, whether a login
 * was sent); NULL for nothing. */
typedef struct {
  void (*sent) (gpointer data, const guint8 *bytes, gsize len);
  void (*received) (gpointer data, const guint8 *bytes, gsize len);
  gpointer data;
} PstSessionTap;

/* Writes what @engine has queued. */
gboolean pst_session_flush (PstConn *conn, const PstEngineIo *io, gpointer engine,
                            const PstSessionTap *tap, GError **error);
/* One read from @conn into @engine (end of stream fed as such): for the
 * engine's WANT_READ. */
gboolean pst_session_receive (PstConn *conn, const PstEngineIo *io, gpointer engine,
                              const PstSessionTap *tap, GError **error);
/* Hands the TLS channel binding of @conn to @engine: the one way it is
 * given (lineproto.h), by every driver after every handshake — after an
 * implicit-TLS connect, and in start_tls — before or after the engine's
 * credentials. */
void pst_session_bind_channel (PstConn *conn, const PstEngineIo *io, gpointer engine);
/* The engine's WANT_TLS: the handshake (verified), the channel binding,
 * then tls_started. */
gboolean pst_session_start_tls (PstConn *conn, const PstEngineIo *io, gpointer engine,
                                GError **error);

G_END_DECLS
